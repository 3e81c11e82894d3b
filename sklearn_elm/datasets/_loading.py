"""Load a data set named by the user, in the format its path shows, and choose its traits.

:func:`load_data` is the one entry point from a path (or ``"qhaplo"``) to a
Bunch ready for the analysis; :func:`select_traits` keeps the traits asked
for and the samples that have all of them.  Bad input raises ``ValueError``
(``FileNotFoundError`` for a missing path) with a message that names the
file and the fix, which the command line reports as a usage error.
"""

import zlib
from pathlib import Path

import numpy as np

from ._plink import PLINK_SUFFIXES, read_plink
from ._ploidy import check_ploidy_option, resolve_ploidy
from ._qhaplo import load_qhaplo, read_qhaplo
from ._split import published_split
from ._tables import check_file, read_tables

__all__ = ["load_data", "select_traits"]

_BUNDLED_NAME = "qhaplo_64qtl_10000n_rep1"


def load_data(source="qhaplo", *, phenotypes=None, h2=None, random_state=None, ploidy="auto"):
    """Load the bundled data, or read ``source`` in the format its content shows.

    Parameters
    ----------
    source : str or path-like, default="qhaplo"
        ``"qhaplo"`` for the bundled data; a directory holding a qhaplo trio
        (``*_g.txt``, ``*_p.txt``, optional ``*_eff.txt``) or one PLINK
        ``.bed`` file set; a ``.bed`` file or its prefix; or a genotype table
        (``.csv``, ``.tsv``, ``.txt``, optionally ``.gz``).
    phenotypes : str or path-like, default=None
        Phenotype table; required for PLINK and genotype tables.  Genotyped
        samples without a row in it are left out (and counted); a sample in
        it that is not genotyped is an error.
    h2 : float, default=None
        Published noisy variant of the bundled data; bundled data only.
    random_state : int, default=None
        Seed of that noise.
    ploidy : {"auto", 1, 2}, default="auto"
        Ploidy of the genotypes.  ``"auto"`` infers it with
        :func:`infer_ploidy` (2 where any genotype is 2, with a warning where
        the 2s are suspiciously rare); 1 refuses a genotype 2; 2 is taken as
        given.  The allele frequencies the readers estimate use it.

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        The fields of :func:`~sklearn_elm.datasets.read_qhaplo`, plus

        name : str
            Short name of the data set (the file or directory name).
        description : str
            One sentence on where the data come from and the split.
        ploidy : int
            The ploidy used, 1 or 2.
        n_unphenotyped : int
            Genotyped samples left out because the phenotype file has no row
            for them (0 for the bundled data and qhaplo trios).
        n_ungenotyped : int
            Phenotyped samples left out because the genotype file does not hold
            them (0 for the bundled data and qhaplo trios).

    Raises
    ------
    FileNotFoundError
        If ``source`` or ``phenotypes`` does not exist (``"no such file:
        PATH"``), or a file of the PLINK set or the qhaplo trio is missing.
    ValueError
        For every other problem with the input: a malformed file (the message
        names the file and line), ``phenotypes`` that is a directory, missing
        or superfluous ``phenotypes``, ``h2`` without the bundled data,
        phenotyped samples without genotypes, a ``.fam`` or ``.bim`` that does
        not fit its ``.bed``, ``ploidy=1`` with a genotype 2, or a file that
        cannot be read (a damaged ``.gz``, no permission).
    ImportError
        If ``source`` is a PLINK file set and bed-reader is not installed.

    Warns
    -----
    UserWarning
        From :func:`infer_ploidy`, where ``ploidy="auto"`` meets a panel
        whose 2s are suspiciously rare.

    See Also
    --------
    select_traits : the next step: the traits to analyse.

    Examples
    --------
    >>> from sklearn_elm.datasets import load_data
    >>> data = load_data("qhaplo")
    >>> data.name, data.genotypes.shape, data.ploidy, data.n_unphenotyped
    ('qhaplo_64qtl_10000n_rep1', (10000, 64), 1, 0)
    """
    ploidy = check_ploidy_option(ploidy)
    if isinstance(source, str) and source == "qhaplo":
        if phenotypes is not None:
            raise ValueError(
                "phenotypes= (--phenotypes) does not apply to the bundled data."
            )
        return _load_bundled(h2, random_state, ploidy)
    if h2 is not None:
        raise ValueError(
            "h2= (--h2) makes the noisy variant of the bundled data; it needs "
            "source='qhaplo' (--data qhaplo)."
        )
    try:
        data, path, kind = _read_source(Path(source), phenotypes, ploidy)
    except FileNotFoundError:
        raise
    except (OSError, EOFError, zlib.error) as exc:  # e.g. no permission, a damaged .gz
        files = " and ".join(str(f) for f in (source, phenotypes) if f is not None)
        raise ValueError(f"could not read {files}: {exc or type(exc).__name__}") from exc
    data.setdefault("n_unphenotyped", 0)
    data.setdefault("n_ungenotyped", 0)
    data.name = path.stem if path.is_file() else path.name
    extra = f" with phenotypes from {phenotypes}" if phenotypes else ""
    truth = "; true effects known" if "additive_effects" in data else ""
    data.description = (
        f"{kind} read from {path}{extra}{truth}. Split: first 85% train, last 15% test."
    )
    return data


def _load_bundled(h2, random_state, ploidy):
    data = load_qhaplo(h2=h2, random_state=random_state)
    data.ploidy = resolve_ploidy(data.genotypes, ploidy, sample_ids=data.sample_ids,
                                 feature_names=data.feature_names, source=_BUNDLED_NAME)
    data.n_unphenotyped = data.n_ungenotyped = 0
    data.name = _BUNDLED_NAME
    noise = "" if h2 is None else f"; noisy variant with H2 = {h2}"
    data.description = (
        "Bundled reference data: haploid population simulated with AlphaSimR by "
        "Arcadia Science (MIT licence), 5 traits of increasing epistasis, "
        f"H2 = 0.999{noise}. Published split: first 85% train, last 15% test."
    )
    return data


def _read_source(path, phenotypes, ploidy):
    """Read ``path`` as a qhaplo trio, PLINK files or a genotype table, whichever it is;
    returns the data, the path read and the name of its format."""
    if not path.exists() and not path.with_name(path.name + ".bed").is_file():
        raise FileNotFoundError(f"no such file: {path}")
    if path.is_dir() and any(path.glob("*_g.txt")):
        if phenotypes is not None:
            raise ValueError(f"{path} holds a qhaplo trio, which has its own phenotypes "
                             "(*_p.txt); phenotypes= (--phenotypes) does not apply.")
        return read_qhaplo(path, ploidy=ploidy), path, "qhaplo text files"
    if path.is_dir():
        beds = sorted(path.glob("*.bed"))
        if len(beds) != 1:
            raise ValueError(
                f"{path} holds no qhaplo trio (*_g.txt) and {len(beds)} PLINK .bed "
                "files; give the genotype file itself."
            )
        path = beds[0]
    plink = path.suffix in PLINK_SUFFIXES or not path.exists()
    if phenotypes is None:
        kind = "PLINK" if plink else "table"
        raise ValueError(
            f"{path}: a {kind} genotype file needs phenotypes=FILE (--phenotypes FILE)."
        )
    check_file(phenotypes)  # before the genotypes, which may take long to read
    if plink:
        return read_plink(path, phenotypes, ploidy=ploidy), path, "PLINK 1 binary genotypes"
    return read_tables(path, phenotypes, ploidy=ploidy), path, "genotype table"


def select_traits(data, traits=None):
    """Keep the named traits (all when None) and the samples with all of them measured.

    Parameters
    ----------
    data : :class:`~sklearn.utils.Bunch`
        As returned by :func:`load_data`; modified in place.
    traits : sequence of str, default=None
        Trait names; comma-separated lists are split, except where a name
        with a comma in it exists whole.

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        ``phenotypes``, ``target_names`` and the true effects restricted to
        the traits; samples with a missing phenotype removed (from
        ``genotypes``, ``phenotypes``, ``sample_ids`` and ``train``: the published split,
        the first 85 % of the samples, is made again on the samples kept, as where those
        removed had no phenotype row; another keeps each remaining sample's side), with

        n_dropped : int
            The number of samples removed.

    Raises
    ------
    ValueError
        If a trait name does not exist (the message lists those that do), or
        a trait has no measured value.

    Examples
    --------
    >>> from sklearn_elm.datasets import load_data, select_traits
    >>> data = select_traits(load_data("qhaplo"), ["Trait2,Trait5"])
    >>> data.target_names.tolist(), data.epistasis.shape, data.n_dropped
    (['Trait2', 'Trait5'], (2, 64, 64), 0)
    """
    names = [str(t) for t in data.target_names]
    if traits is not None:
        if isinstance(traits, str):
            traits = [traits]
        bad = [t for t in traits if not isinstance(t, str)]
        if bad:
            raise ValueError(f"traits are chosen by name, got {bad[0]!r}; the phenotypes "
                             f"name: {', '.join(names)}.")
        # a name that exists is taken whole, even with a comma in it; "a, b" is a and b
        split = (t for item in traits for t in (
            [item] if item in names else
            [part if part in names else part.strip() for part in item.split(",")]))
        requested = list(dict.fromkeys(t for t in split if t))
        if not requested:
            raise ValueError(f"traits names no trait, got {traits!r}; the phenotypes name: "
                             f"{', '.join(names)}.")
        unknown = [t for t in requested if t not in names]
        if unknown:
            raise ValueError(
                f"unknown trait {unknown[0]!r}; the phenotypes name: {', '.join(names)}."
            )
        index = [names.index(t) for t in requested]
        data.phenotypes = data.phenotypes[:, index]
        data.target_names = np.asarray(data.target_names)[index]
        for key in ("additive_effects", "epistasis", "epistatic_pairs", "epistatic_ratios"):
            if key in data:
                data[key] = data[key][index]
    empty = np.isnan(data.phenotypes).all(axis=0)
    if empty.any():
        name = np.asarray(data.target_names)[np.flatnonzero(empty)[0]]
        raise ValueError(
            f"trait {str(name)!r} has no measured value; leave it out with traits= "
            "(--traits)."
        )
    measured = ~np.isnan(data.phenotypes).any(axis=1)
    data.n_dropped = int((~measured).sum())
    if data.n_dropped:
        # the first 85 % stays the first 85 % of the samples kept, as where the samples
        # dropped had no row; another split keeps each sample's side
        first = "train" in data and np.array_equal(data.train, published_split(len(measured)))
        for key in ("genotypes", "phenotypes", "sample_ids", "train"):
            if key in data:
                data[key] = data[key][measured]
        if first:
            data.train = published_split(int(measured.sum()))
    return data
