"""Readers of genotype and phenotype tables, and the matching of their samples.

Each reader returns the fields of :func:`~sklearn_elm.datasets.read_qhaplo`,
with the samples of the genotype and phenotype files matched by ID.  A file
that is missing, a malformed value, or a phenotyped sample without genotypes
is an error naming the file and the offending value: a model fitted to
mismatched samples would be silently wrong.  Genotyped samples without a
phenotype row are left out and counted (a PLINK ``.fam`` often lists samples
that were never phenotyped).
"""

import csv
import gzip
import warnings
import zlib
from pathlib import Path

import numpy as np
from sklearn.utils import Bunch

from ._ploidy import resolve_ploidy
from ._split import published_split

__all__ = ["read_genotype_table", "read_phenotype_table", "read_tables"]

#: Spellings of a missing value, in genotype and phenotype files alike.
MISSING = frozenset({"", "NA", "na", "NaN", "nan", "N/A", "."})
#: PLINK's missing phenotype, in ``FID IID`` phenotype files.
PLINK_MISSING = -9.0

# Columns that hold identifiers in PLINK-style phenotype files (FID IID trait ...).
_PLINK_ID_COLUMNS = ("fid", "iid")
# The columns that follow them in a PLINK .raw genotype file, before the loci.
_PLINK_RAW_COLUMNS = ("PAT", "MAT", "SEX", "PHENOTYPE")


def check_file(path):
    """Refuse a path that is not an existing file, saying which it is."""
    path = Path(path)
    if path.is_dir():
        raise ValueError(f"{path} is a directory, not a file.")
    if not path.is_file():
        raise FileNotFoundError(f"no such file: {path}")
    return path


def _open_text(path):
    path = check_file(path)
    # UTF-8 whatever the locale; utf-8-sig drops the byte-order mark that some
    # spreadsheet exports put before the first header field
    if path.suffix == ".gz":
        return gzip.open(path, "rt", newline="", encoding="utf-8-sig")
    return open(path, newline="", encoding="utf-8-sig")


def _delimiter(path):
    """The delimiter of ``path`` by its extension (``.gz`` aside): None for whitespace."""
    path = Path(path)
    suffix = Path(path.stem).suffix if path.suffix == ".gz" else path.suffix
    return {".csv": ",", ".tsv": "\t", ".tab": "\t"}.get(suffix.lower())


def _rows(path):
    """Yield ``(line_number, fields)`` of a delimited text file.

    The delimiter follows the extension (``.gz`` aside): comma for ``.csv``,
    tab for ``.tsv`` / ``.tab``, any whitespace otherwise (PLINK ``.phen``,
    ``.txt``).  Blank lines are skipped.
    """
    path = Path(path)
    delimiter = _delimiter(path)
    with _open_text(path) as f:
        if delimiter is None:
            lines = ((n, line.split()) for n, line in enumerate(f, start=1))
        else:
            lines = _csv_records(f, delimiter, path)
        try:
            for n, fields in lines:
                fields = [field.strip() for field in fields]
                if any(fields):
                    yield n, fields
        except UnicodeDecodeError as exc:
            raise ValueError(
                f"{path}: not UTF-8 text (byte {exc.start}: {exc.reason}); save it as UTF-8."
            ) from None
        except (gzip.BadGzipFile, EOFError, zlib.error) as exc:  # only .gz files raise these
            raise ValueError(
                f"{path}: not a readable gzip file ({exc or type(exc).__name__}); is it "
                "damaged, truncated, or plain text named .gz?"
            ) from None


def _csv_records(f, delimiter, path):
    """Yield ``(line_number, fields)`` of each CSV record, numbered by the line it starts on
    (a quoted field may span lines); a malformed record is a ValueError naming that line."""
    reader = csv.reader(f, delimiter=delimiter)
    start = 1
    while True:
        try:
            fields = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            if "field limit" in str(exc):
                hint = (": a field that opens with a quote (\") runs on to the next quote, "
                        "so an unmatched quote swallows the rest of the file; remove it or "
                        "close it")
            elif "NUL" in str(exc):
                hint = ": is it a binary file rather than delimited text?"
            else:
                hint = ""
            raise ValueError(f"{path}, line {start}: malformed delimited text ({exc}){hint}.") \
                from None
        yield start, fields
        start = reader.line_num + 1


def to_float(fields, path, lineno, sample, columns, *, plink_missing=False):
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
    """Header, sample IDs, numeric values and family IDs (None without a ``FID`` column) of a
    samples-in-rows table."""
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
        trailing = columns.index("") == len(columns) - 1
        raise ValueError(
            f"{path}: the header has an empty column name (column {columns.index('') + first + 1})"
            + (": does each line end with a delimiter?" if trailing else ".")
        )
    if not columns:
        other = next((d for d in ";,\t|" if d in header[0]), None)
        raise ValueError(
            f"{path}: the header names no {what} columns after the sample ID"
            + (f" (it is one field holding {other!r}: a .csv is read comma-separated, a .tsv "
               "or .tab tab-separated and other files by whitespace: save it so, or name it to "
               "match)" if other else "."))
    check_unique(columns, path, "column")
    ids, families, values = [], [], []
    for lineno, fields in rows:
        if len(fields) != len(header):
            hint = ""
            if any("\n" in field for field in fields):
                hint = " (a quoted field runs over several lines: is a quote unmatched?)"
            elif len(fields) == len(header) + 1 and fields[-1] == "":
                hint = " (does each line but the header end with a delimiter?)"
            elif len(fields) == len(header) + 1:
                hint = (" (a header without a name for the sample ID column, as R's "
                        "write.table writes by default? Name it.)")
            elif len(fields) < len(header) and _delimiter(path) is None:
                hint = (" (whitespace-separated, empty cells vanish: write missing calls as NA, "
                        "or name a tab-separated file .tsv)")
            raise ValueError(
                f"{path}, line {lineno}: {len(fields)} fields, but the header has "
                f"{len(header)}{hint}."
            )
        sample = fields[id_column]
        ids.append(sample)
        families.append(fields[0])
        values.append(
            to_float(fields[first:], path, lineno, sample, columns, plink_missing=plink_missing)
        )
    if not ids:
        raise ValueError(f"{path}: the {what} file has a header but no samples.")
    check_unique(ids, path, "sample ID")
    values = np.stack(values)
    if what == "phenotype" and not plink_missing and (values == PLINK_MISSING).any():
        warnings.warn(
            f"{path}: {int((values == PLINK_MISSING).sum())} phenotype value(s) are -9, "
            "PLINK's missing phenotype, read as values in a table with one sample ID column: "
            "write them as NA if they are missing (or name the ID columns FID IID).",
            UserWarning, stacklevel=4)
    families = np.array(families) if id_column == 1 else None
    return np.array(columns), np.array(ids), values, families


def _called_means(G):
    """Per locus the mean of the called genotypes, NaN where none is (check_data names it)."""
    called = np.sum(~np.isnan(G), axis=0)
    return np.nansum(G, axis=0) / np.where(called > 0, called, np.nan)


def check_unique(names, path, what):
    """Refuse a repeated name, naming the file, the kind of name and the first repeat."""
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
        value = float(G[row, col])
        hint = ""
        if value == PLINK_MISSING:
            hint = " -9 for missing? Write NA or '.'."
        elif value == -1 and np.isin(G[~np.isnan(G)], (-1.0, 0.0, 1.0)).all():
            hint = " -1/0/1 codes? Add 1 to make them allele counts 0/1/2."
        raise ValueError(
            f"{path}: genotype {value!r} of sample {str(sample_ids[row])!r} at locus "
            f"{str(locus_names[col])!r} is not an allele count (0, 1 or 2, or missing: NA, '.' "
            f"or empty).{hint}"
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
        If the path is a directory, the text is malformed (not UTF-8, an
        unmatched quote), a genotype is not a number or not an allele count,
        a row has the wrong length, or a sample or locus name is duplicated;
        the message names the file, the line, the sample and the locus.

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
    loci, ids, G, families = _read_table(path, "genotype")
    data = Bunch(genotypes=_check_genotypes(G, path, ids, loci), feature_names=loci,
                 sample_ids=ids)
    if families is not None:
        data.family_ids = families
    return data


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
        family_ids : ndarray of shape (n_samples,), str
            The FIDs of a PLINK-style ``FID IID`` file (absent otherwise).

    Raises
    ------
    FileNotFoundError
        If the file does not exist.
    ValueError
        If the path is a directory, the text is malformed, a value is not a
        number, a row has the wrong length, or a sample or trait name is
        duplicated; the message names the file and the line.

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
    traits, ids, Y, families = _read_table(path, "phenotype")
    data = Bunch(phenotypes=Y, target_names=traits, sample_ids=ids)
    if families is not None:
        data.family_ids = families
    return data


def _warn_family_mismatch(genotypes, phenotypes, position, genotype_source, phenotype_source):
    """Warn where a sample's IID is in both files under different FIDs (matched anyway)."""
    if "family_ids" not in genotypes or "family_ids" not in phenotypes:
        return
    differ = [(iid, fid, phenotypes.family_ids[position[iid]])
              for iid, fid in zip(genotypes.sample_ids, genotypes.family_ids, strict=True)
              if iid in position and phenotypes.family_ids[position[iid]] != fid]
    if differ:
        shown = ", ".join(f"{str(iid)!r} ({str(a)!r} and {str(b)!r})" for iid, a, b in differ[:3])
        warnings.warn(
            f"{len(differ)} sample(s) have the same IID but different FIDs in "
            f"{genotype_source} and {phenotype_source}: {shown}"
            f"{' and more' if len(differ) > 3 else ''}.  Samples are matched on the IID alone, "
            "as PLINK --pheno does by default; check that the files describe the same samples.",
            UserWarning, stacklevel=3)


def _describe(ids, limit=5):
    shown = ", ".join(repr(str(i)) for i in ids[:limit])
    return f"{shown} and {len(ids) - limit} more" if len(ids) > limit else shown


def match_samples(genotypes, phenotypes, genotype_source, phenotype_source, ploidy="auto"):
    """Join genotypes and phenotypes on the sample IDs, in genotype-file order.

    The samples in both files are kept, as PLINK and GCTA keep them: genotyped samples
    without a phenotype row are left out and counted in ``n_unphenotyped``, phenotyped
    samples without genotypes in ``n_ungenotyped``; no sample in both is an error (the sign
    of a wrong file).  The published split (the first 85 % of the samples kept train) and the
    ploidy are those of the samples kept.  Samples are matched on the IID alone; where both
    sides give FIDs (``family_ids``) and a shared IID's differ, a warning names them.
    """
    position = {sample: n for n, sample in enumerate(phenotypes.sample_ids)}
    _warn_family_mismatch(genotypes, phenotypes, position, genotype_source, phenotype_source)
    genotyped = set(genotypes.sample_ids)
    missing_geno = [s for s in phenotypes.sample_ids if s not in genotyped]
    if len(missing_geno) == len(phenotypes.sample_ids):
        transposed = set(missing_geno) & set(genotypes.feature_names.tolist())
        raise ValueError(
            f"none of the {len(missing_geno)} sample(s) of {phenotype_source} is in "
            f"{genotype_source} ({_describe(missing_geno)}): "
            + (f"its header names {len(transposed)} of them: samples go in rows, loci in "
               "columns (transpose it)." if transposed else
               "is it the phenotype file of these genotypes?")
        )
    phenotyped = np.array([s in position for s in genotypes.sample_ids], dtype=bool)
    G, ids = genotypes.genotypes, genotypes.sample_ids
    if not phenotyped.all():
        G, ids = G[phenotyped], ids[phenotyped]
    order = np.array([position[s] for s in ids], dtype=np.intp)
    ploidy = resolve_ploidy(G, ploidy, sample_ids=ids, feature_names=genotypes.feature_names,
                            source=genotype_source)
    return Bunch(
        genotypes=G,
        phenotypes=phenotypes.phenotypes[order],
        feature_names=genotypes.feature_names,
        target_names=phenotypes.target_names,
        sample_ids=ids,
        train=published_split(len(order)),
        allele_frequencies=_called_means(G) / ploidy,
        ploidy=ploidy,
        n_unphenotyped=int((~phenotyped).sum()),
        n_ungenotyped=len(missing_geno),
    )


def read_tables(genotype_path, phenotype_path, *, ploidy="auto"):
    """Read a genotype table and a phenotype table, matched by sample ID.

    Parameters
    ----------
    genotype_path : str or path-like
        Samples x loci table, see :func:`read_genotype_table`.
    phenotype_path : str or path-like
        Samples x traits table, see :func:`read_phenotype_table`.
    ploidy : {"auto", 1, 2}, default="auto"
        Ploidy of the genotypes; ``"auto"`` infers it from the samples kept
        with :func:`infer_ploidy` (2 where any genotype is 2, with a warning
        where the 2s are suspiciously rare).

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        The fields of :func:`~sklearn_elm.datasets.read_qhaplo` without the
        true effects: ``genotypes``, ``phenotypes`` (rows in the order of the
        genotype file), ``feature_names``, ``target_names``, ``sample_ids``,
        ``train`` (the first 85 % of the samples kept) and
        ``allele_frequencies`` (estimated: mean count / ploidy); and

        ploidy : int
            The ploidy used, 1 or 2.
        n_unphenotyped : int
            Genotyped samples left out because the phenotype file has no row
            for them.
        n_ungenotyped : int
            Phenotyped samples left out because the genotype file does not hold
            them.

    Raises
    ------
    FileNotFoundError
        If a file does not exist.
    ValueError
        If a path is a directory, a sample of the phenotype file is not
        genotyped (the message names it), ``ploidy=1`` meets a genotype 2,
        or a value is malformed.

    Warns
    -----
    UserWarning
        With ``ploidy="auto"``, where the genotype 2s are suspiciously rare
        (see :func:`infer_ploidy`).

    See Also
    --------
    read_plink : the same with PLINK 1 binary genotypes.

    Examples
    --------
    >>> import pathlib, tempfile
    >>> from sklearn_elm.datasets import read_tables
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (folder / "g.csv").write_text("id,snp1,snp2\\ns1,0,1\\ns2,1,1\\ns3,0,0\\n")
    >>> _ = (folder / "p.csv").write_text("id,yield\\ns2,3.0\\ns1,2.0\\n")
    >>> data = read_tables(folder / "g.csv", folder / "p.csv")
    >>> data.phenotypes.ravel(), data.ploidy, data.n_unphenotyped
    (array([2., 3.]), 1, 1)
    """
    return match_samples(
        read_genotype_table(genotype_path),
        read_phenotype_table(phenotype_path),
        str(genotype_path),
        str(phenotype_path),
        ploidy,
    )
