"""A PLINK 1 .bed read lazily: a read-only genotype array that reads samples on demand.

The ``.bed`` is checked against its ``.fam`` and ``.bim`` once, when it is
opened (as :func:`read_plink` checks it); indexing then reads only the
samples (and loci) asked for, through bed-reader.  The array holds the file's
path and counts, so it pickles in a few hundred bytes whatever the panel's
size: a dask array built over it (:meth:`PlinkArray.to_dask`) sends each
worker the path, and each worker reads its own block of samples.
"""

import os
from functools import cached_property
from pathlib import Path

import numpy as np

from ._plink import _checked_panel, _read_ids, _read_map, _require_bed_reader

__all__ = ["PlinkArray", "open_plink"]


def _axis_index(key, size, axis):
    """One axis of a key as ``(int array of positions, whether the axis is dropped)``."""
    name = ("sample", "locus")[axis]
    if isinstance(key, slice):
        return np.arange(*key.indices(size), dtype=np.intp), False
    if isinstance(key, (int, np.integer)) and not isinstance(key, (bool, np.bool_)):
        position = int(key) + size if key < 0 else int(key)
        if not 0 <= position < size:
            raise IndexError(f"{name} index {key} is out of bounds for {size} {name}s.")
        return np.array([position], dtype=np.intp), True
    index = np.asarray(key)
    if index.ndim != 1:
        raise IndexError(
            f"a {name} index must be an integer, a slice or a 1-D array of integers or "
            f"booleans; got an array of shape {index.shape}."
        )
    if index.dtype.kind == "b":
        if index.size != size:
            raise IndexError(f"a boolean {name} index has {index.size} entries, not {size}.")
        return np.flatnonzero(index), False
    if index.size and not np.issubdtype(index.dtype, np.integer):
        raise IndexError(f"{name} indices must be integers or booleans, got {index.dtype}.")
    index = index.astype(np.intp)
    if index.size and (index.min() < -size or index.max() >= size):
        raise IndexError(f"a {name} index is out of bounds for {size} {name}s.")
    return np.where(index < 0, index + size, index), False


def _split_key(key):
    """``(rows, cols)`` of an index key: one key, or a tuple of up to two, with ``...``."""
    if not isinstance(key, tuple):
        key = (key,)
    if any(part is Ellipsis for part in key):
        at = next(i for i, part in enumerate(key) if part is Ellipsis)
        fill = (slice(None),) * (3 - len(key))
        key = key[:at] + fill + key[at + 1 :]
    if len(key) > 2 or any(part is None for part in key):
        raise IndexError(
            "a genotype array takes a (samples, loci) key of integers, slices and 1-D index "
            f"arrays; got {key!r}."
        )
    return key + (slice(None),) * (2 - len(key))


class PlinkArray:
    """Genotypes of a PLINK 1 .bed, read from disk only where indexed.

    Made by :func:`open_plink`.  A read-only 2-D array of shape (n_samples,
    n_loci) of A1 allele counts as float32 (0, 1, 2; NaN for a missing
    call), so a block's dtype is known before it is read.  ``X[rows]`` and
    ``X[rows, cols]`` read only those samples and loci, and return an
    ndarray; ``np.asarray(X)`` reads everything.

    Parameters
    ----------
    bed : path-like
        The checked ``.bed`` file.
    sample_ids, variant_ids : ndarray of str
        The IIDs of the ``.fam`` and the variant IDs of the ``.bim``.
    chromosomes : ndarray of str
        Chromosome of each variant.
    positions : ndarray of int64
        Base-pair position of each variant.
    num_threads : int or None, default=None
        Threads bed-reader decodes with (None: all cores).

    Attributes
    ----------
    path : pathlib.Path
        The ``.bed`` file.
    shape : tuple of int
        ``(n_samples, n_loci)``.
    ndim : int
        2.
    dtype : numpy.dtype
        float32.
    sample_ids, variant_ids, chromosomes, positions : ndarray
        As given; after unpickling read again from the ``.fam`` and ``.bim``
        when first used.

    See Also
    --------
    open_plink : checks the files and makes the array.
    read_plink : reads a panel into memory, matched to a phenotype table.

    Notes
    -----
    Index arrays on both axes select the outer product of samples and loci
    (as bed-reader and dask index), not numpy's pointwise pairs.  The ``.bed``
    is variant-major: a block of samples is read from every variant's record,
    so reading sample blocks of a few thousand keeps the reads large.

    Examples
    --------
    >>> import pathlib, tempfile
    >>> import numpy as np
    >>> from bed_reader import to_bed
    >>> from sklearn_elm.datasets import open_plink
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "toy.bed"
    >>> to_bed(path, np.array([[0, 2], [1, -127], [2, 1]], dtype=np.int8))
    >>> X = open_plink(path)
    >>> X
    PlinkArray('.../toy.bed', shape=(3, 2), dtype=float32)
    >>> X[1:]
    array([[ 1., nan],
           [ 2.,  1.]], dtype=float32)
    """

    ndim = 2
    dtype = np.dtype(np.float32)

    def __init__(self, bed, *, sample_ids, variant_ids, chromosomes, positions,
                 num_threads=None):
        self.path = Path(bed).resolve()  # workers may run in another directory
        self.shape = (len(sample_ids), len(variant_ids))
        self.num_threads = num_threads
        self.sample_ids, self.variant_ids = sample_ids, variant_ids
        self.chromosomes, self.positions = chromosomes, positions

    def __getstate__(self):
        # the path and counts only: the IDs and map are read again where used
        names = ("sample_ids", "variant_ids", "chromosomes", "positions")
        return {key: value for key, value in self.__dict__.items() if key not in names}

    # set by __init__; an unpickled copy (a dask worker's) reads them again on first use
    @cached_property
    def sample_ids(self):
        """IIDs of the samples, from the ``.fam``."""
        return _read_ids(self.path.with_suffix(".fam"))

    @cached_property
    def variant_ids(self):
        """Variant IDs, from the ``.bim``."""
        return _read_ids(self.path.with_suffix(".bim"))

    @cached_property
    def chromosomes(self):
        """Chromosome of each variant, from the ``.bim``."""
        return _read_map(self.path.with_suffix(".bim"))[0]

    @cached_property
    def positions(self):
        """Base-pair position of each variant, from the ``.bim``."""
        return _read_map(self.path.with_suffix(".bim"))[1]

    @property
    def size(self):
        """Number of genotypes, ``n_samples * n_loci``."""
        return self.shape[0] * self.shape[1]

    @property
    def nbytes(self):
        """Bytes the whole array takes once read (float32)."""
        return self.size * self.dtype.itemsize

    def __len__(self):
        return self.shape[0]

    def __repr__(self):
        return f"PlinkArray('{self.path}', shape={self.shape}, dtype={self.dtype})"

    def __getitem__(self, key):
        rows, cols = _split_key(key)
        rows, drop_rows = _axis_index(rows, self.shape[0], 0)
        cols, drop_cols = _axis_index(cols, self.shape[1], 1)
        block = self._read(rows, cols)
        if drop_rows or drop_cols:
            block = block[(0 if drop_rows else slice(None), 0 if drop_cols else slice(None))]
        return block

    def _read(self, rows, cols):
        """Samples ``rows`` at loci ``cols`` (int arrays), float32 with NaN where missing."""
        if rows.size == 0 or cols.size == 0:
            return np.empty((rows.size, cols.size), dtype=self.dtype)
        from bed_reader import open_bed

        # the counts are given, so that bed-reader reads neither the .fam nor the .bim
        with open_bed(self.path, iid_count=self.shape[0], sid_count=self.shape[1],
                      num_threads=self.num_threads) as reader:
            return reader.read(index=(rows, cols), dtype="float32", order="C",
                               num_threads=self.num_threads)

    def __array__(self, dtype=None, copy=None):
        # a read is a new array whatever ``copy`` asks
        block = self[:, :]
        return block if dtype is None else block.astype(dtype, copy=False)

    def __dask_tokenize__(self):
        stat = os.stat(self.path)
        return ("PlinkArray", str(self.path.resolve()), stat.st_size, stat.st_mtime_ns,
                self.shape)

    def to_dask(self, chunks="auto"):
        """A dask array over the file: sample chunks by all loci, read by the task that needs them.

        Needs the optional dependency dask (``pip install 'sklearn-elm[dask]'``).

        Parameters
        ----------
        chunks : int or "auto", default="auto"
            Samples per chunk; ``"auto"`` lets dask choose (chunks of about
            dask's ``array.chunk-size``, 128 MiB by default).

        Returns
        -------
        array : dask.array.Array of shape (n_samples, n_loci), dtype float32
            One chunk of loci; each task opens the ``.bed`` and reads its
            samples.

        Examples
        --------
        >>> import pathlib, tempfile
        >>> import numpy as np
        >>> from bed_reader import to_bed
        >>> from sklearn_elm.datasets import open_plink
        >>> path = pathlib.Path(tempfile.mkdtemp()) / "toy.bed"
        >>> to_bed(path, np.array([[0, 2], [1, 1], [2, 1]], dtype=np.int8))
        >>> X = open_plink(path).to_dask(chunks=2)
        >>> X.chunks, X.sum().compute()
        (((2, 1), (2,)), np.float32(7.0))
        """
        try:
            import dask.array as da
        except ImportError as exc:
            raise ImportError(
                "PlinkArray.to_dask needs the optional dependency dask: "
                "pip install 'sklearn-elm[dask]'"
            ) from exc
        meta = np.empty((0, 0), dtype=self.dtype)
        return da.from_array(self, chunks=(chunks, -1), asarray=True, meta=meta)


def open_plink(path, *, num_threads=None):
    """Open PLINK 1 binary genotypes (.bed/.bim/.fam) without reading them.

    Needs the optional dependency ``bed-reader`` (``pip install
    sklearn-elm[plink]``).  The ``.fam`` and ``.bim`` are read and checked
    against the ``.bed``'s size and padding bits, as by :func:`read_plink`;
    the genotypes are read only where the array is indexed, so a panel larger
    than memory can be decomposed in sample blocks (pass the array, or its
    :meth:`~PlinkArray.to_dask`, to :class:`~sklearn_elm.ELMDecomposer`).

    Parameters
    ----------
    path : str or path-like
        The ``.bed`` file, or its prefix (``data/cohort`` for
        ``data/cohort.bed``); the ``.bim`` and ``.fam`` files sit beside it.
    num_threads : int or None, default=None
        Threads bed-reader decodes with (None: all cores; 1 inside a dask
        worker that has a thread per core).

    Returns
    -------
    genotypes : PlinkArray of shape (n_samples, n_loci)
        A1 allele counts as float32, NaN for a missing call; with
        ``sample_ids`` (IIDs), ``variant_ids``, ``chromosomes`` (str) and
        ``positions`` (base pairs, int64).

    Raises
    ------
    ImportError
        If bed-reader is not installed.
    FileNotFoundError
        If the ``.bed``, ``.bim`` or ``.fam`` file is missing.
    ValueError
        If the ``.fam`` or ``.bim`` does not fit the ``.bed``, a ``.bim`` line
        has no integer position, the ``.bed`` is empty or not a variant-major
        PLINK 1 file, or an ID is duplicated.

    See Also
    --------
    read_plink : reads the genotypes into memory, matched to phenotypes.

    Examples
    --------
    >>> import pathlib, tempfile
    >>> import numpy as np
    >>> from bed_reader import to_bed
    >>> from sklearn_elm.datasets import open_plink
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "toy.bed"
    >>> to_bed(path, np.array([[0, 2], [1, -127], [2, 1]], dtype=np.int8),
    ...        properties={"iid": ["a", "b", "c"], "sid": ["snp1", "snp2"]})
    >>> X = open_plink(path)
    >>> X.shape, X.sample_ids.tolist(), X.variant_ids.tolist()
    ((3, 2), ['a', 'b', 'c'], ['snp1', 'snp2'])
    >>> X[[2, 0], 1]
    array([1., 2.], dtype=float32)
    """
    _require_bed_reader()
    bed, _, bim, ids, loci = _checked_panel(path)
    chromosomes, positions = _read_map(bim)
    return PlinkArray(bed, sample_ids=ids, variant_ids=loci, chromosomes=chromosomes,
                      positions=positions, num_threads=num_threads)
