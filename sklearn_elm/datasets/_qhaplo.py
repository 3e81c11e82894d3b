"""Reader for the qhaplo text trio and the bundled reference data set."""

import warnings
from importlib import resources
from pathlib import Path

import numpy as np
from sklearn.utils import Bunch, check_random_state

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
    """Read a loci-in-rows genotype file into (n_individuals, n_loci) int8.

    The header is ``qtl <id_1> ... <id_n>``; each further row is a locus name
    followed by one integer per individual.
    """
    with open(path, "rb") as f:
        header = f.readline().split()
        if len(header) < 2:
            raise ValueError(f"{path}: the header names no individuals.")
        names, rows = [], []
        for lineno, line in enumerate(f, start=2):
            fields = line.split()
            if not fields:
                continue
            if len(fields) != len(header):
                raise ValueError(
                    f"{path}, line {lineno}: {len(fields) - 1} genotypes for "
                    f"{len(header) - 1} individuals named in the header."
                )
            names.append(fields[0].decode())
            try:
                row = np.array(fields[1:], dtype=np.int8)
            except (ValueError, OverflowError) as exc:
                raise ValueError(
                    f"{path}, line {lineno} (locus {names[-1]}): non-integer genotype."
                ) from exc
            if not np.isin(row, (0, 1, 2)).all():
                bad = int(row[~np.isin(row, (0, 1, 2))][0])
                raise ValueError(
                    f"{path}, line {lineno} (locus {names[-1]}): genotype {bad} is not an "
                    "allele count (0, 1 or 2)."
                )
            rows.append(row)
    sample_ids = np.array([h.decode() for h in header[1:]])
    return np.ascontiguousarray(np.stack(rows).T), np.array(names), sample_ids


def _read_phenotypes(path):
    """Read an ``ind Trait1 ... TraitK`` table into ids, trait names, values."""
    with open(path, encoding="utf-8-sig") as f:
        header = f.readline().split()
    table = np.loadtxt(path, skiprows=1, dtype=str, ndmin=2, encoding="utf-8-sig")
    if table.shape[1] != len(header):
        raise ValueError(f"{path}: {table.shape[1]} columns but {len(header)} in the header.")
    ids = table[:, 0]
    unique, counts = np.unique(ids, return_counts=True)
    if (counts > 1).any():
        raise ValueError(f"{path}: duplicate individual {str(unique[counts > 1][0])!r}.")
    try:
        values = table[:, 1:].astype(np.float64)
    except ValueError as exc:
        raise ValueError(f"{path}: non-numeric phenotype ({exc}).") from None
    if not np.isfinite(values).all():
        raise ValueError(f"{path}: phenotypes must be finite numbers (missing values included).")
    return ids, np.array(header[1:]), values


def _read_effects(path, n_traits, n_loci):
    """Read the ``trait locus add_eff epi_loc epi_eff sfs`` table (1-based).

    Returns additive effects (n_traits, n_loci), the symmetric epistasis
    matrices (n_traits, n_loci, n_loci) with ``E[i, j] = E[j, i] = epi_eff``,
    and the allele frequencies (n_loci,).
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # "no data": the error below says more
        eff = np.loadtxt(path, skiprows=1, ndmin=2)
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
    additive = np.zeros((n_traits, n_loci))
    epistasis = np.zeros((n_traits, n_loci, n_loci))
    frequencies = np.zeros(n_loci)
    additive[trait, locus] = eff[:, 2]
    epistasis[trait, locus, partner] = eff[:, 4]
    frequencies[locus] = eff[:, 5]
    if not np.allclose(epistasis, epistasis.transpose(0, 2, 1)):
        raise ValueError(f"{path}: epistatic effects are not listed symmetrically.")
    return additive, epistasis, frequencies


def read_qhaplo(directory, *, prefix=None):
    """Read a qhaplo text trio (``*_g.txt``, ``*_p.txt``, ``*_eff.txt``).

    Parameters
    ----------
    directory : str or path-like
        Folder holding ``<prefix>_g.txt`` and ``<prefix>_p.txt``, and
        optionally ``<prefix>_eff.txt`` with the true effects.
    prefix : str, default=None
        File prefix; inferred from the single ``*_g.txt`` file when None.

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        Same fields as :func:`load_qhaplo` (``additive_effects``,
        ``epistasis`` and ``allele_frequencies`` only when the effects file
        exists; ``allele_frequencies`` is otherwise estimated from the
        genotypes), without ``DESCR``.

    Raises
    ------
    FileNotFoundError
        If a required file is missing.
    ValueError
        If the files disagree on the individuals or a value is malformed.

    Examples
    --------
    >>> from importlib import resources
    >>> from sklearn_elm.datasets import read_qhaplo
    >>> data = read_qhaplo(resources.files("sklearn_elm.datasets") / "data")
    >>> data.genotypes.shape, data.phenotypes.shape
    ((10000, 64), (10000, 5))
    """
    directory = Path(directory)
    if prefix is None:
        found = sorted(directory.glob("*_g.txt"))
        if len(found) != 1:
            raise FileNotFoundError(
                f"expected exactly one *_g.txt genotype file in {directory}, "
                f"found {len(found)}."
            )
        prefix = found[0].name[: -len("_g.txt")]
    paths = {kind: directory / f"{prefix}_{kind}.txt" for kind in ("g", "p", "eff")}
    for kind in ("g", "p"):
        if not paths[kind].is_file():
            raise FileNotFoundError(f"missing file: {paths[kind]}")
    genotypes, loci, geno_ids = _read_genotypes(paths["g"])
    pheno_ids, traits, phenotypes = _read_phenotypes(paths["p"])
    # The genotype header may carry a ``_1`` haplotype suffix: ``17_1`` is individual 17.
    geno_keys = np.array([i.rsplit("_", 1)[0] if "_" in i else i for i in geno_ids])
    unique, counts = np.unique(geno_keys, return_counts=True)
    if (counts > 1).any():
        raise ValueError(f"{paths['g']}: duplicate individual {str(unique[counts > 1][0])!r}.")
    if len(geno_keys) != len(pheno_ids) or np.any(geno_keys != pheno_ids):
        missing = sorted(set(pheno_ids) ^ set(geno_keys))[:5]
        if missing:
            raise ValueError(
                f"genotype and phenotype files name different individuals, e.g. {missing}."
            )
        order = {k: n for n, k in enumerate(geno_keys)}
        genotypes = genotypes[[order[k] for k in pheno_ids]]
    n_samples, n_loci = genotypes.shape
    data = Bunch(
        genotypes=genotypes,
        phenotypes=phenotypes,
        feature_names=loci,
        target_names=traits,
        sample_ids=pheno_ids,
        train=np.arange(n_samples) < int(round(0.85 * n_samples)),
    )
    if paths["eff"].is_file():
        additive, epistasis, frequencies = _read_effects(paths["eff"], len(traits), n_loci)
        data.update(additive_effects=additive, epistasis=epistasis, allele_frequencies=frequencies)
    else:
        data.allele_frequencies = genotypes.mean(axis=0)
    return data


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
