"""Reader for the qhaplo text trio and the bundled reference data set."""

import warnings
from importlib import resources
from pathlib import Path

import numpy as np
from sklearn.utils import Bunch, check_random_state
from sklearn.utils._param_validation import validate_params

from .._seeds import refuses_generators
from ._ploidy import resolve_ploidy
from ._split import published_split
from ._tables import MISSING, check_file, check_unique, to_float

_BUNDLED = "qhaplo_64qtl_10000n_rep1"

_DESCR = """\
qhaplo_64qtl_10000n_rep1
------------------------

Simulated haploid population (AlphaSimR) from Arcadia Science, MIT licence
(see the LICENSE file shipped beside the data, Copyright (c) 2024 Arcadia
Science).

* 10000 individuals, 64 independent loci coded 0/1, allele frequency ~0.5.
* 5 traits with V_G = 1 and broad-sense H2 = 0.999.  Trait 1 is purely
  additive; traits 2-5 have increasing pairwise epistasis (true
  V_A / V_G = 1, 0.787, 0.505, 0.403, 0.122).
* Generative model per trait, with z = 2 g - 1:
  y = mu + sum_i a_i z_i + sum_{i<j} E_ij z_i z_j + eps.  Each locus has
  exactly one epistatic partner per trait (32 pairs, redrawn per trait).
* Published split: the first 85 % of individuals train, the last 15 % test.

With ``h2`` set, the phenotypes are the published noisy variant
P' = sqrt(h2) P + N(0, 1 - h2) and the true effects are scaled by sqrt(h2).
"""


def _read_genotypes(path):
    """Read a loci-in-rows genotype file into an (n_individuals, n_loci) array.

    The header is ``qtl <id_1> ... <id_n>``; each further row is a locus name
    followed by one allele count (0, 1 or 2) per individual, or a missing
    value spelled as the table readers accept it (``NA``, ``NaN``, ``.``).
    The array is int8, or float64 with NaN where any genotype is missing.
    """
    try:
        with open(path, "rb") as f:
            header = f.readline().decode().split()
            if len(header) < 2:
                raise ValueError(f"{path}: the header names no individuals.")
            names, rows = [], []
            for lineno, line in enumerate(f, start=2):
                fields = line.decode().split()
                if fields:
                    names.append(fields[0])
                    rows.append(_genotype_row(fields, len(header), path, lineno))
    except UnicodeDecodeError as exc:
        raise ValueError(f"{path}: not UTF-8 text (byte {exc.start}: {exc.reason}).") from None
    if not rows:
        raise ValueError(f"{path}: no loci after the header.")
    return np.ascontiguousarray(np.stack(rows).T), np.array(names), np.array(header[1:])


def _genotype_row(fields, n_header, path, lineno):
    """One locus: the allele counts after its name, int8, or float64 with NaN where one is
    missing; refused where one is neither missing nor 0, 1 or 2."""
    if len(fields) != n_header:
        raise ValueError(
            f"{path}, line {lineno}: {len(fields) - 1} genotypes for "
            f"{n_header - 1} individuals named in the header."
        )
    try:
        row = np.array(fields[1:], dtype=np.int8)
    except (ValueError, OverflowError):
        bad = next((f for f in fields[1:] if f not in MISSING and not _is_small_int(f)), None)
        if bad is not None:
            raise ValueError(
                f"{path}, line {lineno} (locus {fields[0]}): non-integer genotype {bad!r} "
                "(genotypes are allele counts 0, 1 or 2, or missing: NA, NaN or .)."
            ) from None
        row = np.array([np.nan if f in MISSING else int(f) for f in fields[1:]])
    not_counts = ~(np.isin(row, (0, 1, 2)) | np.isnan(row))
    if not_counts.any():
        bad = int(row[not_counts][0])
        raise ValueError(
            f"{path}, line {lineno} (locus {fields[0]}): genotype {bad} is not an "
            "allele count (0, 1 or 2)."
        )
    return row


def _is_small_int(text):
    try:
        return -128 <= int(text) <= 127
    except ValueError:
        return False


def _read_phenotypes(path):
    """Read an ``ind Trait1 ... TraitK`` table into ids, trait names, values.

    Missing values (``NA``, ``NaN``, ``.``, as in the table readers) are NaN.
    """
    rows = []
    try:
        with open(path, encoding="utf-8-sig") as f:
            header = f.readline().split()
            rows = [(n, line.split()) for n, line in enumerate(f, start=2) if line.split()]
    except UnicodeDecodeError as exc:
        raise ValueError(f"{path}: not UTF-8 text (byte {exc.start}: {exc.reason}).") from None
    if len(header) < 2:
        raise ValueError(f"{path}: the header names no traits after the individual column.")
    if not rows:
        raise ValueError(f"{path}: the phenotype file has a header but no individuals.")
    values = []
    for lineno, fields in rows:
        if len(fields) != len(header):
            raise ValueError(
                f"{path}, line {lineno}: {len(fields)} columns but {len(header)} in the header."
            )
        values.append(to_float(fields[1:], path, lineno, fields[0], header[1:]))
    ids = np.array([fields[0] for _, fields in rows])
    check_unique(ids, path, "individual")
    return ids, np.array(header[1:]), np.stack(values)


def _read_effects(path, n_traits, n_loci):
    """Read the ``trait locus add_eff epi_loc epi_eff sfs`` table (1-based).

    Returns additive effects (n_traits, n_loci), the symmetric epistasis
    matrices (n_traits, n_loci, n_loci) with ``E[i, j] = E[j, i] = epi_eff``,
    and the allele frequencies (n_loci,).
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # "no data": the error below says more
        try:
            eff = np.loadtxt(path, skiprows=1, ndmin=2)
        except ValueError as exc:  # numpy's message names the row, not the file
            raise ValueError(f"{path}: {exc}") from None
    if eff.shape[0] == 0 or eff.shape[1] != 6:
        raise ValueError(
            f"{path}: expected rows of 6 columns (trait locus add_eff epi_loc epi_eff sfs)."
        )
    trait = eff[:, 0].astype(int) - 1
    locus = eff[:, 1].astype(int) - 1
    partner = eff[:, 3].astype(int) - 1
    for values, what, size in ((trait, "trait", n_traits), (locus, "locus", n_loci),
                               (partner, "epi_loc", n_loci)):
        if values.min(initial=0) < 0 or values.max(initial=0) >= size:
            raise ValueError(
                f"{path}: {what} numbers must run from 1 to {size} (1-based), found "
                f"{int(values.min()) + 1}..{int(values.max()) + 1}."
            )
    pairs = trait * n_loci + locus
    if np.unique(pairs).size != pairs.size:
        raise ValueError(f"{path}: a (trait, locus) row is listed more than once.")
    if pairs.size != n_traits * n_loci:  # a row left out is not an effect of 0
        listed = np.zeros((n_traits, n_loci), dtype=bool)
        listed[trait, locus] = True
        t, j = np.argwhere(~listed)[0]
        raise ValueError(
            f"{path}: {n_traits * n_loci - pairs.size} of the {n_traits} x {n_loci} (trait, "
            f"locus) rows are missing, the first trait {t + 1}, locus {j + 1}: the true effects "
            "need a row for every trait and locus (remove the file to analyse without them).")
    additive = np.zeros((n_traits, n_loci))
    epistasis = np.zeros((n_traits, n_loci, n_loci))
    frequencies = np.zeros(n_loci)
    additive[trait, locus] = eff[:, 2]
    epistasis[trait, locus, partner] = eff[:, 4]
    frequencies[locus] = eff[:, 5]
    if not np.allclose(epistasis, epistasis.transpose(0, 2, 1)):
        raise ValueError(f"{path}: epistatic effects are not listed symmetrically.")
    return additive, epistasis, frequencies


def read_qhaplo(directory, *, prefix=None, ploidy="auto"):
    """Read a qhaplo text trio (``*_g.txt``, ``*_p.txt``, ``*_eff.txt``).

    Parameters
    ----------
    directory : str or path-like
        Folder holding ``<prefix>_g.txt`` and ``<prefix>_p.txt``, and
        optionally ``<prefix>_eff.txt`` with the true effects.
    prefix : str, default=None
        File prefix; inferred from the single ``*_g.txt`` file when None.
    ploidy : {"auto", 1, 2}, default="auto"
        Ploidy of the genotypes; ``"auto"`` infers it with
        :func:`infer_ploidy`.

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        Same fields as :func:`load_qhaplo` (``additive_effects`` and
        ``epistasis`` only when the effects file exists, which also gives
        ``allele_frequencies``; they are otherwise estimated from the
        genotypes as mean count / ploidy over the genotyped individuals),
        without ``DESCR``.  Missing values (``NA``, ``NaN``, ``.``, as in
        :func:`read_genotype_table` and :func:`read_phenotype_table`) are
        NaN; ``genotypes`` is int8, or float64 where any is missing.

    Raises
    ------
    FileNotFoundError
        If the directory, or its genotype or phenotype file, is missing.
    ValueError
        If ``directory`` is a file or holds several ``*_g.txt`` files (pass
        ``prefix``), the files disagree on the individuals, ``ploidy=1``
        meets a genotype 2, or a value is malformed; every message names the
        file.

    Examples
    --------
    >>> from importlib import resources
    >>> from sklearn_elm.datasets import read_qhaplo
    >>> data = read_qhaplo(resources.files("sklearn_elm.datasets") / "data")
    >>> data.genotypes.shape, data.phenotypes.shape
    ((10000, 64), (10000, 5))
    """
    paths = _trio_paths(directory, prefix)
    genotypes, loci, geno_ids = _read_genotypes(paths["g"])
    pheno_ids, traits, phenotypes = _read_phenotypes(paths["p"])
    genotypes = _match_individuals(genotypes, geno_ids, pheno_ids, paths)
    ploidy = resolve_ploidy(genotypes, ploidy, sample_ids=pheno_ids, feature_names=loci,
                            source=str(paths["g"]))
    n_samples, n_loci = genotypes.shape
    data = Bunch(
        genotypes=genotypes,
        phenotypes=phenotypes,
        feature_names=loci,
        target_names=traits,
        sample_ids=pheno_ids,
        train=published_split(n_samples),
        ploidy=ploidy,
    )
    if paths["eff"].is_file():
        additive, epistasis, frequencies = _read_effects(paths["eff"], len(traits), n_loci)
        data.update(additive_effects=additive, epistasis=epistasis, allele_frequencies=frequencies)
    else:
        data.allele_frequencies = np.nanmean(genotypes, axis=0) / ploidy
    return data


def _trio_paths(directory, prefix):
    """The ``g``, ``p`` and ``eff`` paths of a trio; the first two must exist."""
    directory = Path(directory)
    if directory.is_file():
        raise ValueError(f"{directory} is a file, not a directory holding a qhaplo trio.")
    if not directory.is_dir():
        raise FileNotFoundError(f"no such directory: {directory}")
    if prefix is None:
        found = sorted(directory.glob("*_g.txt"))
        if not found:
            raise FileNotFoundError(f"no *_g.txt genotype file in {directory}.")
        if len(found) > 1:
            raise ValueError(
                f"{directory} holds {len(found)} *_g.txt genotype files "
                f"({', '.join(f.name for f in found[:3])}{', ...' if len(found) > 3 else ''}); "
                "give the prefix of one."
            )
        prefix = found[0].name[: -len("_g.txt")]
    paths = {kind: directory / f"{prefix}_{kind}.txt" for kind in ("g", "p", "eff")}
    check_file(paths["g"])
    check_file(paths["p"])
    return paths


def _match_individuals(genotypes, geno_ids, pheno_ids, paths):
    """The genotype rows in phenotype-file order; the two files must name the same
    individuals.  The genotype header may carry a ``_1`` haplotype suffix: ``17_1`` is
    individual 17, unless the phenotype file names ``17_1`` (IDs with ``_`` of their own)."""
    geno_keys = np.asarray(geno_ids)
    stripped = np.array([i.rsplit("_", 1)[0] if "_" in i else i for i in geno_ids])
    if not set(geno_keys.tolist()) <= set(np.asarray(pheno_ids).tolist()) and (
            len(set(stripped.tolist())) == len(stripped) or len(set(geno_ids)) < len(geno_ids)):
        geno_keys = stripped
    check_unique(geno_keys, paths["g"], "individual")
    if len(geno_keys) == len(pheno_ids) and np.all(geno_keys == pheno_ids):
        return genotypes
    differ = sorted(set(np.asarray(pheno_ids).tolist()) ^ set(geno_keys.tolist()))
    if differ:
        raise ValueError(
            f"{paths['g']} and {paths['p']} name different individuals: "
            f"{len(differ)} are in one file only, e.g. {differ[:5]}."
        )
    order = {k: n for n, k in enumerate(geno_keys)}
    return genotypes[[order[k] for k in pheno_ids]]


@refuses_generators
@validate_params({"random_state": ["random_state"]}, prefer_skip_nested_validation=True)
def load_qhaplo(*, h2=None, random_state=None):
    """Load the bundled qhaplo_64qtl_10000n_rep1 reference data set.

    Parameters
    ----------
    h2 : float in (0, 1], default=None
        If given, return the published noisy variant
        ``P' = sqrt(h2) P + N(0, 1 - h2)`` and scale the true effects by
        ``sqrt(h2)``; None returns the original phenotypes (H2 = 0.999).
    random_state : int, RandomState instance or None, default=None
        Seed of the added noise; only used when ``h2`` is given.

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        Dictionary-like object with the fields below.

        genotypes : ndarray of shape (10000, 64), int8
            Haploid genotypes coded 0/1, individuals in rows.
        phenotypes : ndarray of shape (10000, 5)
            The five traits.
        additive_effects : ndarray of shape (5, 64)
            True additive effects on the ``z = 2 g - 1`` scale.
        epistasis : ndarray of shape (5, 64, 64)
            True pairwise effects, symmetric with zero diagonal, so that
            ``y = mu + z @ a + sum_{i<j} E[i, j] z_i z_j``.
        allele_frequencies : ndarray of shape (64,)
            Frequency of allele 1 in the simulation.
        feature_names, target_names, sample_ids : ndarray of str
            Locus, trait and individual names.
        train : ndarray of shape (10000,), bool
            The published split: the first 85 % of individuals.
        ploidy : int
            1: the population is haploid.
        DESCR : str
            Description and attribution.

    Examples
    --------
    >>> from sklearn_elm.datasets import load_qhaplo
    >>> data = load_qhaplo()
    >>> data.genotypes.shape, data.phenotypes.shape, int(data.train.sum())
    ((10000, 64), (10000, 5), 8500)
    >>> noisy = load_qhaplo(h2=0.25, random_state=0)
    >>> bool(abs(noisy.phenotypes.var(axis=0).mean() - 1) < 0.05)
    True
    """
    if h2 is not None and not 0 < h2 <= 1:
        raise ValueError(f"h2 must be in (0, 1], got {h2!r}.")
    data = read_qhaplo(resources.files(__package__) / "data", prefix=_BUNDLED)
    data.DESCR = _DESCR
    if h2 is not None:
        rng = check_random_state(random_state)
        scale = np.sqrt(h2)
        noise = rng.normal(scale=np.sqrt(1 - h2), size=data.phenotypes.shape)
        data.phenotypes = scale * data.phenotypes + noise
        data.additive_effects = scale * data.additive_effects
        data.epistasis = scale * data.epistasis
    return data
