"""Reader of PLINK 1 binary genotypes (.bed/.bim/.fam), matched to a phenotype table.

bed-reader decodes the ``.bed``; the sample and variant IDs are read here,
one a non-blank line, because the ``.bed`` does not store its own
dimensions: a ``.fam`` or ``.bim`` with a line too many or too few would
otherwise shift or truncate every genotype silently, or surface as an error
that names neither file.  The ``.bed``'s size and its padding bits are
checked against the two counts first, and a disagreement names the file and
the numbers.
"""

from pathlib import Path

import numpy as np
from sklearn.utils import Bunch

from ._tables import check_file, check_unique, match_samples, read_phenotype_table

__all__ = ["read_plink"]

#: The first two bytes of a PLINK 1 .bed file, then the mode byte of variant-major order.
_MAGIC, _VARIANT_MAJOR = b"\x6c\x1b", 1
#: What a line of each companion file holds; the ID is the second field of both.
_LAYOUT = {".fam": "FID IID father mother sex phenotype",
           ".bim": "chromosome ID cM position A1 A2"}


def _read_ids(path, *, families=None):
    """The second field of each non-blank line of a ``.fam`` (IIDs) or ``.bim`` (variant IDs);
    the first fields (a ``.fam``'s FIDs) appended to ``families`` where it is a list."""
    ids = []
    try:
        with open(path, encoding="utf-8") as f:
            for lineno, line in enumerate(f, start=1):
                fields = line.split()
                if not fields:
                    continue
                if len(fields) < 2:
                    raise ValueError(
                        f"{path}, line {lineno}: one field, but a {path.suffix} line holds "
                        f"{_LAYOUT[path.suffix]}."
                    )
                ids.append(fields[1])
                if families is not None:
                    families.append(fields[0])
    except UnicodeDecodeError as exc:
        raise ValueError(f"{path}: not UTF-8 text (byte {exc.start}: {exc.reason}).") from None
    if not ids:
        what = "samples" if path.suffix == ".fam" else "variants"
        raise ValueError(f"{path}: the file lists no {what}.")
    return np.array(ids)


def _no_genotypes(bed, fam, bim, n_samples, n_variants, held):
    """The error for a .bed with no genotype bytes: the counts say how long it should be."""
    need = 3 + n_variants * -(-n_samples // 4)
    return ValueError(
        f"{bed}: the .bed holds no genotypes ({held}), but the {n_samples} samples of {fam} "
        f"and the {n_variants} variants of {bim} need {need} bytes: is it truncated?"
    )


def _read_map(path):
    """Chromosome and base-pair position of each variant of a ``.bim``, in file order."""
    chromosomes, positions = [], []
    with open(path, encoding="utf-8") as f:
        for lineno, line in enumerate(f, start=1):
            fields = line.split()
            if not fields:
                continue
            try:
                position = int(fields[3])
            except (IndexError, ValueError):
                raise ValueError(
                    f"{path}, line {lineno}: no integer base-pair position in the fourth field "
                    f"(a .bim line holds {_LAYOUT['.bim']})."
                ) from None
            chromosomes.append(fields[0])
            positions.append(position)
    return np.array(chromosomes), np.array(positions, dtype=np.int64)


def _check_size(bed, fam, bim, n_samples, n_variants):
    """The .bed holds ``3 + n_variants * ceil(n_samples / 4)`` bytes; say which count is off."""
    per_variant = -(-n_samples // 4)
    size = bed.stat().st_size - 3
    if size == n_variants * per_variant:
        return
    if size == 0:  # the counts are at least 1, so no count of lines fits
        raise _no_genotypes(bed, fam, bim, n_samples, n_variants, "only its 3-byte header")
    message = (
        f"{bed} holds {size} bytes of genotypes, which do not fit the {n_samples} samples "
        f"of {fam} and the {n_variants} variants of {bim}: that is ceil({n_samples} / 4) = "
        f"{per_variant} bytes per variant, {n_variants * per_variant} bytes in all."
    )
    causes = []
    if size % per_variant == 0:
        causes.append(f"with {n_samples} samples the .bed holds {size // per_variant} "
                      f"variants, but {bim} lists {n_variants}")
    if size % n_variants == 0:
        low, high = 4 * (size // n_variants) - 3, 4 * (size // n_variants)
        causes.append(f"with {n_variants} variants it holds {low} to {high} samples, "
                      f"but {fam} lists {n_samples}")
    if len(causes) == 2:
        message += f" Either {causes[0]}; or {causes[1]}."
    elif causes:
        message += f" {causes[0][0].upper()}{causes[0][1:]}."
    else:
        message += f" No count of lines fits: is {bed} truncated or damaged?"
    raise ValueError(message)


def _check_padding(bed, fam, n_samples, n_variants):
    """PLINK zeroes the bits after the last sample of each variant: set bits there mean
    the ``.fam`` lists fewer samples than the ``.bed`` holds (a line lost within the
    same 4-sample byte, which the file size cannot show)."""
    used = n_samples % 4
    if used == 0:
        return
    per_variant = -(-n_samples // 4)
    blocks = np.memmap(bed, dtype=np.uint8, mode="r", offset=3, shape=(n_variants, per_variant))
    last = np.bitwise_or.reduce(blocks[:, -1])
    del blocks  # release the mapping before the file is read again
    spare = [k for k in range(used, 4) if (int(last) >> (2 * k)) & 3]
    if spare:
        at_least = 4 * (per_variant - 1) + max(spare) + 1
        raise ValueError(
            f"{fam} lists {n_samples} samples, but {bed} holds genotypes for at least "
            f"{at_least}: the bits after the last sample of each variant, zero in a PLINK "
            f"file, are set. Is a line missing from {fam}?"
        )


def _check_bed(bed, fam, bim, n_samples, n_variants):
    """Refuse a .bed that is empty, not variant-major PLINK 1, or does not fit the counts."""
    with open(bed, "rb") as f:
        head = f.read(3)
    if len(head) < 3 and (_MAGIC + bytes([_VARIANT_MAJOR])).startswith(head):
        held = "the file is empty" if not head else f"only {len(head)} of its 3 header bytes"
        raise _no_genotypes(bed, fam, bim, n_samples, n_variants, held)
    if len(head) < 3 or head[:2] != _MAGIC:
        raise ValueError(f"{bed}: not a PLINK 1 .bed file (it does not begin with the bytes "
                         "6c 1b 01).")
    if head[2] != _VARIANT_MAJOR:
        raise ValueError(f"{bed}: a sample-major .bed file (mode byte {head[2]:02x}, not 01); "
                         "rewrite it variant-major with plink --make-bed.")
    _check_size(bed, fam, bim, n_samples, n_variants)
    _check_padding(bed, fam, n_samples, n_variants)


def _require_bed_reader():
    """bed-reader's ``open_bed``, or an ImportError that names the extra to install."""
    try:
        from bed_reader import open_bed
    except ImportError as exc:
        raise ImportError(
            "reading PLINK .bed files needs the optional dependency bed-reader: "
            "pip install 'sklearn-elm[plink]'"
        ) from exc
    return open_bed


#: The suffixes of a PLINK 1 binary file set: any of them names the set.
PLINK_SUFFIXES = (".bed", ".bim", ".fam")


def _bed_paths(path):
    """The ``.bed``, ``.fam`` and ``.bim`` of a path given as any of the three or their
    prefix."""
    path = Path(path)
    bed = (path.with_suffix(".bed") if path.suffix in PLINK_SUFFIXES
           else path.with_name(path.name + ".bed"))
    return bed, bed.with_suffix(".fam"), bed.with_suffix(".bim")


def _checked_panel(path, families=None):
    """The ``.bed``, ``.fam`` and ``.bim`` paths and the sample and variant IDs, each file
    present, the IDs unique, and the ``.bed``'s size and padding agreeing with their counts;
    the FIDs appended to ``families`` where it is a list."""
    bed, fam, bim = _bed_paths(path)
    for companion in (bed, bim, fam):
        check_file(companion)
    ids, loci = _read_ids(fam, families=families), _read_ids(bim)
    check_unique(ids, fam, "sample ID (IID)")
    check_unique(loci, bim, "variant ID")
    _check_bed(bed, fam, bim, len(ids), len(loci))
    return bed, fam, bim, ids, loci


def read_plink(path, phenotype_path, *, ploidy="auto"):
    """Read PLINK 1 binary genotypes (.bed/.bim/.fam) and a phenotype table.

    Needs the optional dependency ``bed-reader`` (``pip install
    sklearn-elm[plink]``).  Genotypes are counts of the A1 allele; samples
    are matched on the IID of the ``.fam`` file (where the phenotype file
    has FIDs too, a warning names the IIDs whose FIDs differ).  The ``.fam`` and ``.bim``
    hold one sample or variant a line (blank lines are skipped); their
    counts are checked against the size of the ``.bed`` and its padding
    bits before it is read.

    Parameters
    ----------
    path : str or path-like
        The ``.bed`` file (or its ``.bim`` or ``.fam``), or its prefix
        (``data/cohort`` for ``data/cohort.bed``); the ``.bim`` and ``.fam``
        files sit beside it.
    phenotype_path : str or path-like
        Samples x traits table keyed by IID (or ``FID IID``), see
        :func:`read_phenotype_table`.  Samples of the ``.fam`` without a row
        in it are left out and counted.
    ploidy : {"auto", 1, 2}, default="auto"
        As in :func:`read_tables`.

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        As :func:`read_tables` (with ``ploidy``, ``n_unphenotyped`` and
        ``n_ungenotyped``: phenotyped samples not in the ``.fam`` are left out and
        counted);
        ``genotypes`` is int8, or float64 with NaN where calls are missing;
        and, from the ``.bim``, ``chromosomes`` (str) and ``positions``
        (base pairs, int64) of shape (n_loci,).

    Raises
    ------
    ImportError
        If bed-reader is not installed.
    FileNotFoundError
        If the ``.bed``, ``.bim`` or ``.fam`` file or the phenotype table is
        missing.
    ValueError
        If the ``.fam`` or ``.bim`` has a number of lines that does not fit
        the ``.bed`` (the message names the file, its count and the count the
        ``.bed`` implies) or a ``.bim`` line has no integer position, the
        ``.bed`` is empty or not a variant-major PLINK 1
        file, no sample is in both files, an ID is duplicated, or
        ``ploidy=1`` meets a genotype 2.

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
    >>> data = read_plink(folder / "toy", folder / "traits.csv")  # doctest: +SKIP
    >>> data.phenotypes.ravel(), data.ploidy  # doctest: +SKIP
    (array([25.5, 21. ]), 2)
    """
    open_bed = _require_bed_reader()
    families = []
    bed, fam, bim, ids, loci = _checked_panel(path, families)
    phenotypes = read_phenotype_table(phenotype_path)
    # the counts are given, so that bed-reader reads neither the .fam nor the .bim again
    with open_bed(bed, iid_count=len(ids), sid_count=len(loci)) as reader:
        G = reader.read(dtype="int8", order="C")  # int8 marks a missing call with -127
    missing = G == -127
    if missing.any():
        G = np.where(missing, np.nan, G.astype(np.float64))
    genotypes = Bunch(genotypes=G, feature_names=loci, sample_ids=ids,
                      family_ids=np.array(families))
    data = match_samples(genotypes, phenotypes, str(bed), str(phenotype_path), ploidy)
    data.chromosomes, data.positions = _read_map(bim)
    return data
