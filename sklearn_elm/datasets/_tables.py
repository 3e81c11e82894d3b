"""Readers for real inputs: genotype and phenotype tables, and PLINK 1 binary files.

Each reader returns the fields of :func:`~sklearn_elm.datasets.read_qhaplo`,
with the samples of the genotype and phenotype files matched by ID.  A file
that is missing, a malformed value, or a sample that is in one file and not
the other is an error naming the file and the offending value: a model
fitted to mismatched samples would be silently wrong.
"""

import csv
import gzip
from pathlib import Path

import numpy as np
from sklearn.utils import Bunch

__all__ = ["read_genotype_table", "read_phenotype_table", "read_plink", "read_tables"]

#: Spellings of a missing value, in genotype and phenotype files alike.
MISSING = frozenset({"", "NA", "na", "NaN", "nan", "N/A", "."})
#: PLINK's missing phenotype, in ``FID IID`` phenotype files.
PLINK_MISSING = -9.0

# Columns that hold identifiers in PLINK-style phenotype files (FID IID trait ...).
_PLINK_ID_COLUMNS = ("fid", "iid")
# The columns that follow them in a PLINK .raw genotype file, before the loci.
_PLINK_RAW_COLUMNS = ("PAT", "MAT", "SEX", "PHENOTYPE")


def _open_text(path):
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"missing file: {path}")
    # UTF-8 whatever the locale; utf-8-sig drops the byte-order mark that some
    # spreadsheet exports put before the first header field
    if path.suffix == ".gz":
        return gzip.open(path, "rt", newline="", encoding="utf-8-sig")
    return open(path, newline="", encoding="utf-8-sig")


def _rows(path):
    """Yield ``(line_number, fields)`` of a delimited text file.

    The delimiter follows the extension (``.gz`` aside): comma for ``.csv``,
    tab for ``.tsv`` / ``.tab``, any whitespace otherwise (PLINK ``.phen``,
    ``.txt``).  Blank lines are skipped.
    """
    path = Path(path)
    suffix = Path(path.stem).suffix if path.suffix == ".gz" else path.suffix
    delimiter = {".csv": ",", ".tsv": "\t", ".tab": "\t"}.get(suffix.lower())
    with _open_text(path) as f:
        if delimiter is None:
            lines = ((n, line.split()) for n, line in enumerate(f, start=1))
        else:
            lines = enumerate(csv.reader(f, delimiter=delimiter), start=1)
        try:
            for n, fields in lines:
                fields = [field.strip() for field in fields]
                if any(fields):
                    yield n, fields
        except UnicodeDecodeError as exc:
            raise ValueError(
                f"{path}: not UTF-8 text (byte {exc.start}: {exc.reason}); save it as UTF-8."
            ) from None


def _to_float(fields, path, lineno, sample, columns, *, plink_missing=False):
    """Parse one row of values, missing spellings (and with ``plink_missing`` the number
    -9) to NaN; name the first bad value."""
    values = ["nan" if field in MISSING else field for field in fields]
    try:
        parsed = np.array(values, dtype=np.float64)
    except ValueError:
        for field, column in zip(fields, columns, strict=True):
            try:
                float("nan" if field in MISSING else field)
            except ValueError:
                raise ValueError(
                    f"{path}, line {lineno}: non-numeric value {field!r} for sample "
                    f"{sample!r} in column {column!r}."
                ) from None
        raise
    if plink_missing:  # -9, -9.0, ...: PLINK compares the number
        parsed[parsed == PLINK_MISSING] = np.nan
    if np.isinf(parsed).any():
        column = columns[int(np.flatnonzero(np.isinf(parsed))[0])]
        raise ValueError(
            f"{path}, line {lineno}: infinite value for sample {sample!r} in column {column!r}."
        )
    return parsed


def _read_table(path, what):
    """Header, sample IDs and numeric values of a samples-in-rows table."""
    rows = _rows(path)
    try:
        _, header = next(rows)
    except StopIteration:
        raise ValueError(f"{path}: the {what} file is empty.") from None
    id_column, plink_missing = 0, False
    if len(header) >= 2 and (header[0].lstrip("#").lower(), header[1].lower()) == _PLINK_ID_COLUMNS:
        # FID IID ... (#FID in PLINK 2): samples are known by their IID, and -9 is
        # PLINK's missing phenotype
        id_column = 1
        plink_missing = what == "phenotype"
    first = id_column + 1
    raw = [h.upper() for h in header[2:6]] == list(_PLINK_RAW_COLUMNS)
    if what == "genotype" and id_column == 1 and raw:
        first = 6  # plink --recode A (.raw): FID IID PAT MAT SEX PHENOTYPE, then the loci
    columns = header[first:]
    if "" in columns:
        raise ValueError(
            f"{path}: the header has an empty column name (column {columns.index('') + first + 1})."
        )
    if not columns:
        raise ValueError(f"{path}: the header names no {what} columns after the sample ID.")
    _check_unique(columns, path, "column")
    ids, values = [], []
    for lineno, fields in rows:
        if len(fields) != len(header):
            raise ValueError(
                f"{path}, line {lineno}: {len(fields)} fields, but the header has {len(header)}."
            )
        sample = fields[id_column]
        ids.append(sample)
        values.append(
            _to_float(fields[first:], path, lineno, sample, columns, plink_missing=plink_missing)
        )
    if not ids:
        raise ValueError(f"{path}: the {what} file has a header but no samples.")
    _check_unique(ids, path, "sample ID")
    return np.array(columns), np.array(ids), np.stack(values)


def _check_unique(names, path, what):
    seen = set()
    for name in names:
        if name in seen:
            raise ValueError(f"{path}: duplicate {what} {str(name)!r}.")
        seen.add(name)


def _check_genotypes(G, path, sample_ids, locus_names):
    """Genotypes must be allele counts 0, 1 or 2 (or missing); name the first that is not."""
    bad = ~(np.isnan(G) | np.isin(G, (0.0, 1.0, 2.0)))
    if bad.any():
        row, col = np.argwhere(bad)[0]
        raise ValueError(
            f"{path}: genotype {float(G[row, col])!r} of sample {str(sample_ids[row])!r} at "
            f"locus {str(locus_names[col])!r} is not an allele count (0, 1 or 2, or missing)."
        )
    # int8 keeps large panels small; NaN needs floats
    return G if np.isnan(G).any() else G.astype(np.int8)


def read_genotype_table(path):
    """Read a genotype table: one row per sample, one column per locus.

    Parameters
    ----------
    path : str or path-like
        Delimited text with a header: the first column holds the sample IDs
        (any header name), the others are loci named in the header, with
        allele counts 0/1 (haploid) or 0/1/2 (diploid).  Comma-separated for
        ``.csv``, tab-separated for ``.tsv``, whitespace otherwise; ``.gz``
        files are decompressed.  Empty cells, ``NA``, ``NaN`` and ``.`` mark
        missing genotypes.  A PLINK ``.raw`` file (``plink --recode A``:
        ``FID IID PAT MAT SEX PHENOTYPE`` then the loci) is read with the IID
        as sample ID and the four pedigree and phenotype columns left out.

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        Dictionary-like object with the fields below.

        genotypes : ndarray of shape (n_samples, n_loci)
            int8, or float64 with NaN where genotypes are missing.
        feature_names : ndarray of shape (n_loci,), str
            Locus names, in column order.
        sample_ids : ndarray of shape (n_samples,), str
            Sample identifiers, in row order.

    Raises
    ------
    FileNotFoundError
        If the file does not exist.
    ValueError
        If a genotype is not a number or not an allele count, a row has the
        wrong length, or a sample or locus name is duplicated; the message
        names the file, the sample and the locus.

    See Also
    --------
    read_tables : genotypes and phenotypes, matched by sample.

    Examples
    --------
    >>> import pathlib, tempfile
    >>> from sklearn_elm.datasets import read_genotype_table
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "genotypes.csv"
    >>> _ = path.write_text("id,snp1,snp2\\ns1,0,2\\ns2,1,NA\\n")
    >>> data = read_genotype_table(path)
    >>> data.genotypes
    array([[ 0.,  2.],
           [ 1., nan]])
    >>> data.feature_names.tolist(), data.sample_ids.tolist()
    (['snp1', 'snp2'], ['s1', 's2'])
    """
    loci, ids, G = _read_table(path, "genotype")
    return Bunch(genotypes=_check_genotypes(G, path, ids, loci), feature_names=loci, sample_ids=ids)


def read_phenotype_table(path):
    """Read a phenotype table: one row per sample, one column per trait.

    Parameters
    ----------
    path : str or path-like
        Delimited text with a header: the sample ID in the first column (or,
        PLINK-style, ``FID IID`` in the first two, the IID naming the sample),
        then one numeric column per trait, named in the header (PLINK 2's
        ``#FID`` too).  Delimiters and missing values as in
        :func:`read_genotype_table`; in ``FID IID`` files ``-9`` is missing
        as well, PLINK's convention.

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        Dictionary-like object with the fields below.

        phenotypes : ndarray of shape (n_samples, n_traits), float64
            NaN where a phenotype is missing.
        target_names : ndarray of shape (n_traits,), str
            Trait names, in column order.
        sample_ids : ndarray of shape (n_samples,), str
            Sample identifiers, in row order.

    Raises
    ------
    FileNotFoundError
        If the file does not exist.
    ValueError
        If a value is not a number, a row has the wrong length, or a sample
        or trait name is duplicated.

    Examples
    --------
    >>> import pathlib, tempfile
    >>> from sklearn_elm.datasets import read_phenotype_table
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "traits.tsv"
    >>> _ = path.write_text("FID\\tIID\\theight\\nf1\\ts1\\t1.5\\nf1\\ts2\\tNA\\n")
    >>> data = read_phenotype_table(path)
    >>> data.phenotypes.ravel(), data.target_names.tolist(), data.sample_ids.tolist()
    (array([1.5, nan]), ['height'], ['s1', 's2'])
    """
    traits, ids, Y = _read_table(path, "phenotype")
    return Bunch(phenotypes=Y, target_names=traits, sample_ids=ids)


def _describe(ids, limit=5):
    shown = ", ".join(repr(str(i)) for i in ids[:limit])
    return f"{shown} and {len(ids) - limit} more" if len(ids) > limit else shown


def _match(genotypes, phenotypes, genotype_source, phenotype_source):
    """Join genotypes and phenotypes on the sample IDs, in genotype-file order."""
    position = {sample: n for n, sample in enumerate(phenotypes.sample_ids)}
    missing_pheno = [s for s in genotypes.sample_ids if s not in position]
    if missing_pheno:
        raise ValueError(
            f"{len(missing_pheno)} sample(s) of {genotype_source} have no row in "
            f"{phenotype_source}: {_describe(missing_pheno)}."
        )
    genotyped = set(genotypes.sample_ids)
    missing_geno = [s for s in phenotypes.sample_ids if s not in genotyped]
    if missing_geno:
        raise ValueError(
            f"{len(missing_geno)} sample(s) of {phenotype_source} are not in "
            f"{genotype_source}: {_describe(missing_geno)}."
        )
    order = np.array([position[s] for s in genotypes.sample_ids], dtype=np.intp)
    G = genotypes.genotypes
    ploidy = 2 if np.nanmax(G, initial=0) > 1 else 1
    n_samples = len(order)
    return Bunch(
        genotypes=G,
        phenotypes=phenotypes.phenotypes[order],
        feature_names=genotypes.feature_names,
        target_names=phenotypes.target_names,
        sample_ids=genotypes.sample_ids,
        # the published convention: the first 85 % of samples train, the rest test
        train=np.arange(n_samples) < int(round(0.85 * n_samples)),
        allele_frequencies=np.nanmean(G, axis=0) / ploidy,
    )


def read_tables(genotype_path, phenotype_path):
    """Read a genotype table and a phenotype table, matched by sample ID.

    Parameters
    ----------
    genotype_path : str or path-like
        Samples x loci table, see :func:`read_genotype_table`.
    phenotype_path : str or path-like
        Samples x traits table, see :func:`read_phenotype_table`.

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        The fields of :func:`~sklearn_elm.datasets.read_qhaplo` without the
        true effects: ``genotypes``, ``phenotypes`` (rows in the order of the
        genotype file), ``feature_names``, ``target_names``, ``sample_ids``,
        ``train`` (the first 85 % of samples) and ``allele_frequencies``
        (estimated).

    Raises
    ------
    FileNotFoundError
        If a file does not exist.
    ValueError
        If the two files do not hold the same samples (the message names
        them), or a value is malformed.

    See Also
    --------
    read_plink : the same with PLINK 1 binary genotypes.

    Examples
    --------
    >>> import pathlib, tempfile
    >>> from sklearn_elm.datasets import read_tables
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (folder / "g.csv").write_text("id,snp1,snp2\\ns1,0,1\\ns2,1,1\\n")
    >>> _ = (folder / "p.csv").write_text("id,yield\\ns2,3.0\\ns1,2.0\\n")
    >>> data = read_tables(folder / "g.csv", folder / "p.csv")
    >>> data.phenotypes.ravel()
    array([2., 3.])
    """
    return _match(
        read_genotype_table(genotype_path),
        read_phenotype_table(phenotype_path),
        str(genotype_path),
        str(phenotype_path),
    )


def read_plink(path, phenotype_path):
    """Read PLINK 1 binary genotypes (.bed/.bim/.fam) and a phenotype table.

    Needs the optional dependency ``bed-reader`` (``pip install
    sklearn-elm[plink]``).  Genotypes are counts of the A1 allele; samples
    are matched on the IID of the ``.fam`` file.

    Parameters
    ----------
    path : str or path-like
        The ``.bed`` file, or its prefix (``data/cohort`` for
        ``data/cohort.bed``); the ``.bim`` and ``.fam`` files sit beside it.
    phenotype_path : str or path-like
        Samples x traits table keyed by IID (or ``FID IID``), see
        :func:`read_phenotype_table`.

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        As :func:`read_tables`; ``genotypes`` is int8, or float64 with NaN
        where calls are missing.

    Raises
    ------
    ImportError
        If bed-reader is not installed.
    FileNotFoundError
        If the ``.bed``, ``.bim`` or ``.fam`` file or the phenotype table is
        missing.
    ValueError
        If the samples do not match, or an ID is duplicated.

    Examples
    --------
    >>> import pathlib, tempfile
    >>> import numpy as np
    >>> from bed_reader import to_bed  # doctest: +SKIP
    >>> from sklearn_elm.datasets import read_plink
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> to_bed(folder / "toy.bed", np.array([[0, 2], [1, 1]], dtype=np.int8),
    ...        properties={"iid": ["a", "b"], "sid": ["snp1", "snp2"]})  # doctest: +SKIP
    >>> _ = (folder / "traits.csv").write_text("iid,bmi\\nb,21.0\\na,25.5\\n")
    >>> read_plink(folder / "toy", folder / "traits.csv").phenotypes.ravel()  # doctest: +SKIP
    array([25.5, 21. ])
    """
    try:
        from bed_reader import open_bed
    except ImportError as exc:
        raise ImportError(
            "reading PLINK .bed files needs the optional dependency bed-reader: "
            "pip install 'sklearn-elm[plink]'"
        ) from exc
    path = Path(path)
    bed = path if path.suffix == ".bed" else path.with_name(path.name + ".bed")
    for companion in (bed, bed.with_suffix(".bim"), bed.with_suffix(".fam")):
        if not companion.is_file():
            raise FileNotFoundError(f"missing file: {companion}")
    with open_bed(bed) as reader:
        # int8 marks a missing call with -127
        G = reader.read(dtype="int8", order="C")
        ids = np.asarray(reader.iid, dtype=str)
        loci = np.asarray(reader.sid, dtype=str)
    _check_unique(ids, bed.with_suffix(".fam"), "sample ID (IID)")
    _check_unique(loci, bed.with_suffix(".bim"), "variant ID")
    missing = G == -127
    if missing.any():
        G = np.where(missing, np.nan, G.astype(np.float64))
    genotypes = Bunch(genotypes=G, feature_names=loci, sample_ids=ids)
    return _match(genotypes, read_phenotype_table(phenotype_path), str(bed), str(phenotype_path))
