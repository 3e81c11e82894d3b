"""Training and prediction on a lazy ``X``, read a chunk of consecutive samples at a time.

A PLINK ``.bed`` is variant-major: a mini-batch of scattered samples would read every
variant's record, the whole file, for each batch.  So a lazy ``X`` (a
:class:`~sklearn_elm.datasets.PlinkArray`, a dask array, or an encoded view of one) is cut into
chunks of consecutive samples, of :data:`CHUNK_BYTES` as float32; an epoch visits the chunks
in a random order and draws its batches from within each chunk, shuffled there
(:class:`ChunkBatches`), and at most two chunks are held at a time (:class:`RowChunks`).  The
genotypes are read twice per epoch (training and the validation loss), and memory stays
bounded by the chunks whatever ``n``.
"""

import numpy as np
import torch
from torch.utils.data import Dataset, Sampler, Subset

from ._streaming import is_dask

__all__ = ["CHUNK_BYTES", "ChunkBatches", "EncodedRows", "RowChunks", "chunk_rows",
           "read_rows", "row_blocks", "row_bounds", "target_correlations"]

#: Bytes of one chunk of samples as float32.
CHUNK_BYTES = 128 * 2**20


def chunk_rows(n_features, batch_size):
    """Samples per chunk: :data:`CHUNK_BYTES` of float32 rows, a whole number of batches.

    Examples
    --------
    >>> from sklearn_elm._chunks import chunk_rows
    >>> chunk_rows(10_000, 1024), chunk_rows(100, 1024)
    (3072, 334848)
    """
    batch_size = max(int(batch_size), 1)
    rows = max(CHUNK_BYTES // (4 * max(int(n_features), 1)), batch_size)
    return rows // batch_size * batch_size


def row_bounds(X, size):
    """Where the chunks of ``X``'s samples start, and ``n_samples`` last.

    Chunks of ``size`` consecutive samples; for a dask array, whole dask chunks
    grouped up to ``size`` samples (one dask chunk larger than ``size`` is a chunk on its
    own), so that no dask chunk is computed twice to read a chunk of samples.

    Examples
    --------
    >>> import dask.array as da
    >>> import numpy as np
    >>> from sklearn_elm._chunks import row_bounds
    >>> row_bounds(np.zeros((10, 2)), 4).tolist()
    [0, 4, 8, 10]
    >>> row_bounds(da.zeros((10, 2), chunks=((3, 3, 3, 1), 2)), 7).tolist()
    [0, 6, 10]
    """
    n, size = int(X.shape[0]), max(int(size), 1)
    if not is_dask(X):
        return np.append(np.arange(0, n, size), n)
    bounds, rows = [0], 0
    for rows_in in X.chunks[0]:
        if rows and rows + rows_in > size:
            bounds.append(bounds[-1] + rows)
            rows = 0
        rows += rows_in
    return np.asarray(bounds + [n], dtype=np.intp)


def read_rows(X, rows):
    """Samples ``rows`` (a slice or sorted index array) of a lazy ``X`` as a float32 ndarray."""
    block = X[rows]
    if is_dask(block):
        block = block.compute()
    return np.asarray(block, dtype=np.float32)


def row_blocks(X, Y, batch, rows=None):
    """``(x, y)`` blocks of at most ``batch`` samples, in order: of the chunks of a lazy input
    (a :class:`RowChunks`, whose own targets replace ``Y``), else of the rows ``rows`` of the
    array ``X`` (all where None), ``Y`` holding one row per sample taken.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_elm._chunks import row_blocks
    >>> X = np.arange(10.0).reshape(5, 2)
    >>> [(x[:, 0].tolist(), y.tolist()) for x, y in row_blocks(X, [7, 8, 9], 2, rows=[4, 0, 2])]
    [([8.0, 0.0], [[7], [8]]), ([4.0], [[9]])]
    """
    if isinstance(X, RowChunks):
        if rows is not None:
            raise ValueError("row_blocks reads every sample of a RowChunks: rows must be None.")
        for c in range(len(X.bounds) - 1):
            chunk, part = X.chunk(c), slice(X.bounds[c], X.bounds[c + 1])
            for start in range(0, len(chunk), batch):
                yield chunk[start:start + batch], X.Y[part][start:start + batch]
        return
    rows = None if rows is None else np.asarray(rows)
    n = len(X) if rows is None else len(rows)
    Y = np.asarray(Y)
    Y = Y.reshape(len(Y), -1)
    if len(Y) != n:
        raise ValueError(f"Y has {len(Y)} rows for {n} samples: give the targets of the "
                         "samples taken (Y[rows] where rows are given).")
    for start in range(0, n, batch):
        take = slice(start, start + batch)
        yield (X[take] if rows is None else X[rows[take]]), Y[take]


def target_correlations(X, Y, batch, outputs=None, rows=None):
    """Per locus, the largest absolute correlation of its codes with a target, 0 for a
    constant locus or target.

    One pass over the samples (:func:`row_blocks`) in blocks of at most ``batch`` rows and
    128 MiB in float64, summing each block's products in float64 about the first sample's
    values (so that a large mean costs no precision and a constant sums exactly to 0):
    ``O(n p k)`` time for ``k`` targets and ``O(p k)`` memory beside a block.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features) or RowChunks
        The codes, or a lazy input's chunks (which hold their targets).
    Y : array-like of shape (n_taken, n_targets) or (n_taken,), or None
        The targets of the samples taken: of ``rows`` where given (``Y[rows]``), else of
        every sample; None for a :class:`RowChunks`.
    batch : int
        Samples per block at most.
    outputs : ndarray of bool of shape (n_targets,), default=None
        The targets scored (all where None).
    rows : array-like of int, default=None
        The samples of an array ``X`` read (all where None).

    Returns
    -------
    ndarray of shape (n_features,)
        Per locus, the largest absolute correlation with a target.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_elm._chunks import target_correlations
    >>> X = np.array([[0.0, 1.0, 2.0], [1.0, 1.0, 0.0], [2.0, 1.0, 1.0]])
    >>> target_correlations(X, X[:, :1], batch=2).round(3).tolist()
    [1.0, 0.0, 0.5]
    """
    p = X.X.shape[1] if isinstance(X, RowChunks) else X.shape[1]
    batch = max(1, min(int(batch), 2**27 // (8 * max(p, 1))))
    count, origin = 0, None
    for x, y in row_blocks(X, Y, batch, rows):
        x = np.asarray(x, dtype=np.float64)
        y = np.asarray(y, dtype=np.float64)
        if outputs is not None:
            y = y[:, outputs]
        if origin is None:  # the sums are about the first sample's values
            origin = x[0].copy(), y[0].copy()
            sx, sxx, sxy = np.zeros(p), np.zeros(p), np.zeros((p, y.shape[1]))
            sy, syy = np.zeros(y.shape[1]), np.zeros(y.shape[1])
        x, y = x - origin[0], y - origin[1]
        count += len(x)
        sx += x.sum(axis=0)
        sxx += np.einsum("ij,ij->j", x, x)
        sy += y.sum(axis=0)
        syy += np.einsum("ij,ij->j", y, y)
        sxy += x.T @ y
    if not count or not sy.size:
        return np.zeros(p)
    # sums of squares less n mean^2: a column near constant leaves round-off, set to 0
    var_x = sxx - sx**2 / count
    var_x[var_x <= 1e-9 * sxx] = 0.0
    var_y = syy - sy**2 / count
    var_y[var_y <= 1e-9 * syy] = 0.0
    scale = np.sqrt(np.outer(var_x, var_y))
    with np.errstate(divide="ignore", invalid="ignore"):
        r = np.where(scale > 0, np.abs(sxy - np.outer(sx, sy) / count) / scale, 0.0)
    return r.max(axis=1)


class EncodedRows:
    """A lazy array's samples passed through a fitted transformer where they are read.

    What :meth:`GenotypeEncoder.transform <sklearn_elm.GenotypeEncoder.transform>` returns
    for a lazy array that is not a dask array (a dask array gets ``map_blocks``): indexing it
    reads those samples and encodes them, so that a pipeline hands the network a lazy input.

    Parameters
    ----------
    X : lazy array of shape (n_samples, n_features_in)
        Read where indexed, e.g. a :class:`~sklearn_elm.datasets.PlinkArray`.
    transformer : fitted transformer
        Its ``transform`` encodes a block of samples.
    n_features : int
        Columns of the transformer's output.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_elm import GenotypeEncoder
    >>> from sklearn_elm._chunks import EncodedRows
    >>> G = np.array([[0.0, 2.0], [1.0, 1.0], [2.0, 0.0]])
    >>> view = EncodedRows(G, GenotypeEncoder(ploidy=2).fit(G), 2)
    >>> view.shape, view[1:]
    ((3, 2), array([[ 0.,  0.],
           [ 1., -1.]]))
    """

    ndim = 2
    dtype = np.dtype(np.float64)

    def __init__(self, X, transformer, n_features):
        self.X, self.transformer = X, transformer
        self.shape = (X.shape[0], int(n_features))

    def __len__(self):
        return self.shape[0]

    def __repr__(self):
        return f"EncodedRows({self.X!r}, {type(self.transformer).__name__}, shape={self.shape})"

    def __getitem__(self, key):
        key = key if isinstance(key, tuple) else (key,)
        if len(key) > 2:
            raise IndexError(f"too many indices for a 2-D array: {len(key)} were given")
        rows, cols = (*key, slice(None))[:2]
        n = self.shape[0]
        if isinstance(rows, (int, np.integer)):
            if not -n <= rows < n:
                raise IndexError(f"index {rows} is out of bounds for axis 0 with size {n}")
            rows = int(rows) % n
            return self[rows : rows + 1, cols][0]
        if np.arange(n)[rows].size == 0:  # nothing to read or encode
            return np.empty((0, self.shape[1]), dtype=self.dtype)[:, cols]
        block = self.transformer.transform(read_rows(self.X, rows))
        return np.asarray(block, dtype=self.dtype)[:, cols]

    def __array__(self, dtype=None, copy=None):
        block = self[:]
        return block if dtype is None else block.astype(dtype, copy=False)

    def to_dask(self, chunks="auto"):
        """A dask array of the encoded samples (the lazy array's own, encoded per chunk)."""
        base = self.X if is_dask(self.X) else self.X.to_dask(chunks=chunks)
        return base.map_blocks(self.transformer.transform, dtype=self.dtype,
                               chunks=(base.chunks[0], (self.shape[1],)),
                               meta=np.empty((0, 0), dtype=self.dtype))


class RowChunks(Dataset):
    """Samples of a lazy ``X`` and their targets, read a chunk of consecutive rows at a time.

    Indexed with an array of sample indices (as
    :func:`~sklearn_elm.nn.batch_loader` indexes), it returns ``(X, y)`` float32 tensors,
    reading the chunks that hold them; the last two chunks read are kept.  A non-finite
    input is an error that names the chunk.  The chunks are :func:`row_bounds`'s, so a
    dask array is read whole dask chunks at a time.

    Parameters
    ----------
    X : lazy array of shape (n_samples, n_features)
        The network's inputs (e.g. encoded genotypes).
    Y : ndarray of shape (n_samples, n_outputs)
        The (standardised) targets, in memory.
    chunk_size : int
        Samples per chunk (whole dask chunks up to as many, for a dask array).

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_elm._chunks import RowChunks
    >>> data = RowChunks(np.arange(12.0).reshape(6, 2), np.zeros((6, 1)), chunk_size=4)
    >>> X, y = data[np.array([5, 0])]
    >>> X.tolist(), sorted(data._cache)
    ([[10.0, 11.0], [0.0, 1.0]], [0, 1])
    """

    def __init__(self, X, Y, chunk_size):
        self.X, self.Y, self.chunk_size = X, np.asarray(Y, dtype=np.float32), int(chunk_size)
        self.bounds = row_bounds(X, chunk_size)
        self._cache = {}

    def __len__(self):
        return self.X.shape[0]

    def chunk(self, index):
        """The samples of chunk ``index``, float32, read now or kept from before."""
        if index not in self._cache:
            if len(self._cache) >= 2:
                self._cache.pop(next(iter(self._cache)))
            start, stop = self.bounds[index], self.bounds[index + 1]
            block = read_rows(self.X, slice(start, stop))
            if not np.isfinite(block).all():
                raise ValueError(
                    f"X contains NaN or infinity in samples {start}-{start + len(block) - 1}: "
                    "encode the genotypes first, e.g. in a pipeline after GenotypeEncoder, "
                    "which imputes missing calls."
                )
            self._cache[index] = block
        return self._cache[index]

    def chunk_of(self, index):
        """The chunk that holds each sample of ``index``."""
        return np.searchsorted(self.bounds, index, side="right") - 1

    def __getitem__(self, index):
        index = np.atleast_1d(np.asarray(index, dtype=np.intp))
        chunks = self.chunk_of(index)
        out = np.empty((index.size, self.X.shape[1]), dtype=np.float32)
        for c in np.unique(chunks):
            here = chunks == c
            out[here] = self.chunk(int(c))[index[here] - self.bounds[c]]
        return torch.from_numpy(out), torch.from_numpy(self.Y[index])

    def __getstate__(self):
        state = self.__dict__.copy()
        state["_cache"] = {}  # not pickled with the estimator
        return state


class ChunkBatches(Sampler):
    """Batches of positions in a dataset over :class:`RowChunks`, drawn chunk by chunk.

    With ``shuffle`` the chunks come in a random order and the positions in
    a random order within each (drawn from torch's global generator, which
    ``fit`` seeds); without, in the order of the samples.  A batch may span
    the end of one chunk and the start of the next.

    Parameters
    ----------
    rows : ndarray of int
        The sample each position of the dataset reads (a ``Subset``'s indices).
    chunks : ndarray of int
        The chunk of :class:`RowChunks` that holds each of ``rows``
        (:meth:`RowChunks.chunk_of`).
    batch_size : int
        Positions per batch.
    shuffle : bool
        Random order of chunks and of positions within each.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_elm._chunks import ChunkBatches
    >>> rows = np.array([7, 1, 4, 0])
    >>> [b.tolist() for b in ChunkBatches(rows, rows // 4, 2, shuffle=False)]
    [[3, 1], [2, 0]]
    """

    def __init__(self, rows, chunks, batch_size, shuffle):
        self.rows, self.chunks = np.asarray(rows, dtype=np.intp), np.asarray(chunks)
        self.batch_size, self.shuffle = int(batch_size), bool(shuffle)

    def __len__(self):
        return -(-self.rows.size // self.batch_size)

    def __iter__(self):
        if not self.shuffle:
            order = np.argsort(self.rows, kind="stable")
        else:
            chunks = self.chunks
            labels = np.unique(chunks)
            visit = labels[torch.randperm(labels.size).numpy()]
            parts = []
            for c in visit:
                positions = np.flatnonzero(chunks == c)
                parts.append(positions[torch.randperm(positions.size).numpy()])
            order = np.concatenate(parts) if parts else np.empty(0, dtype=np.intp)
        for start in range(0, order.size, self.batch_size):
            yield order[start : start + self.batch_size]


def chunked_base(dataset):
    """``(RowChunks, rows)`` where ``dataset`` is one or a ``Subset`` of one, else None."""
    rows = None
    if isinstance(dataset, Subset):
        dataset, rows = dataset.dataset, np.asarray(dataset.indices, dtype=np.intp)
    if not isinstance(dataset, RowChunks):
        return None
    return dataset, np.arange(len(dataset)) if rows is None else rows
