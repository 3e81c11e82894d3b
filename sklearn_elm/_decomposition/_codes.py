"""Genotype codes in a byte each: the inputs the screened fit keeps between its passes.

The screened fit keeps every sample's network inputs ``z`` (``n x p``: 4 GB in float32 at
``n = 20,000``, ``p = 50,000``).  Genotype codes are small integers, held exactly in int8, a
byte each; the few inputs that are not (missing calls, which
:class:`~sklearn_elm.GenotypeEncoder` imputes with the locus mean) are kept beside them as
corrections to the nearest code.  Inputs of another kind (more than :data:`MAX_INEXACT` of
them off the integers) are kept in float32, the network's own precision.

Everything the screened fit reads of the inputs goes through :func:`columns` (some
columns in float, corrections applied) and :func:`transposed_product` (``Z^T V``), never a
float copy of all of them.
"""

from dataclasses import dataclass

import numpy as np

__all__ = ["MAX_INEXACT", "Codes", "columns", "compact", "join", "take_rows",
           "transposed_product"]

#: Share of a batch's inputs that may be off the integers (a missing-call rate) for the
#: batch to be kept as int8 codes with corrections, at most 3 bytes an input then; past it
#: the batch is kept in float32 (4 bytes), and the joined inputs with it.
MAX_INEXACT = 0.125


@dataclass
class Codes:
    """Inputs as int8 ``codes`` plus ``delta`` at (``rows``, ``cols``): ``z = codes`` but
    ``z[rows, cols] = codes[rows, cols] + delta`` (16 bytes a correction).  The corrections
    are sorted by column, ``colptr[j]:colptr[j + 1]`` those of column ``j``."""

    codes: np.ndarray
    rows: np.ndarray
    cols: np.ndarray
    delta: np.ndarray

    def __post_init__(self):
        if np.any(np.diff(self.cols) < 0):
            order = np.argsort(self.cols, kind="stable")
            self.rows, self.cols, self.delta = (self.rows[order], self.cols[order],
                                                self.delta[order])
        self.colptr = np.searchsorted(self.cols, np.arange(self.codes.shape[1] + 1))

    @property
    def shape(self):
        return self.codes.shape

    @property
    def nbytes(self):
        return self.codes.nbytes + self.rows.nbytes + self.cols.nbytes + self.delta.nbytes

    def __len__(self):
        return len(self.codes)


def compact(Z):
    """A batch of inputs in the least memory that holds it exactly: :class:`Codes` where
    all but :data:`MAX_INEXACT` of them are integers in int8's range, else float32.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_elm._decomposition._codes import compact
    >>> kept = compact(np.array([[-1.0, 0.0, 2.0]] * 49 + [[0.4, 1.0, 0.0]]))
    >>> kept.codes.dtype, kept.delta.tolist()
    (dtype('int8'), [0.4])
    >>> compact(np.array([[0.5, 0.25]])).dtype
    dtype('float32')
    """
    Z = np.asarray(Z)
    if _inexact(Z) <= MAX_INEXACT * Z.size:
        return _as_codes(Z)
    return Z.astype(np.float32)


def _inexact(Z):
    """How many inputs are off the integers (the size of ``Z`` where some value is not
    finite or is out of int8's range)."""
    rounded = np.rint(Z)
    if not (np.isfinite(Z).all() and rounded.min(initial=0) >= -128
            and rounded.max(initial=0) <= 127):
        return Z.size
    return int(np.count_nonzero(Z != rounded))


def _as_codes(Z):
    """``Z`` (finite, within int8's range) as :class:`Codes`, whatever its share of inexact
    inputs (sorted by column, as ``np.nonzero`` of the transpose gives them)."""
    rounded = np.rint(Z)
    cols, rows = np.nonzero((Z != rounded).T)
    return Codes(rounded.astype(np.int8), rows.astype(np.int32), cols.astype(np.int32),
                 Z[rows, cols] - rounded[rows, cols])


def join(batches):
    """The kept batches as one :class:`Codes` or float32 array, each batch freed once copied
    where nothing else holds it: the peak is the result and one batch, not twice the result.

    The inputs are codes where all but :data:`MAX_INEXACT` of them are integers in int8's
    range, taken over every batch: a batch kept in float32 (a short one, with a few missing
    calls among few inputs) is made codes here rather than making every batch float32.
    ``batches`` (a list) is emptied.
    """
    n = sum(len(batch) for batch in batches)
    p = batches[0].shape[1]
    inexact = sum(batch.delta.size if isinstance(batch, Codes) else _inexact(batch)
                  for batch in batches)
    if inexact > MAX_INEXACT * n * p:
        return _join_floats(batches, n, p)
    # the corrections are placed by column as they are copied: counted first, then filled
    counts = sum(np.diff(batch.colptr) if isinstance(batch, Codes)
                 else np.count_nonzero(batch != np.rint(batch), axis=0) for batch in batches)
    colptr = np.concatenate([[0], np.cumsum(counts)])
    rows = np.empty(colptr[-1], dtype=np.int32)
    cols = np.repeat(np.arange(p, dtype=np.int32), counts)
    delta = np.empty(colptr[-1])
    filled = colptr[:-1].copy()
    Z = np.empty((n, p), dtype=np.int8)
    start = 0
    batches.reverse()
    while batches:
        batch = batches.pop()
        if not isinstance(batch, Codes):
            batch = _as_codes(batch)
        Z[start : start + len(batch)] = batch.codes
        runs = np.diff(batch.colptr)
        at = np.repeat(filled - batch.colptr[:-1], runs) + np.arange(batch.delta.size)
        rows[at], delta[at] = batch.rows + start, batch.delta
        filled += runs
        start += len(batch)
    return Codes(Z, rows, cols, delta)


def _join_floats(batches, n, p):
    """:func:`join`'s float32 array."""
    Z = np.empty((n, p), dtype=np.float32)
    start = 0
    batches.reverse()
    while batches:
        batch = batches.pop()
        if isinstance(batch, Codes):
            Z[start : start + len(batch)] = batch.codes
            Z[batch.rows + start, batch.cols] += batch.delta
        else:
            Z[start : start + len(batch)] = batch
        start += len(batch)
    return Z


def take_rows(Z, rows):
    """The inputs of the samples ``rows`` (increasing indices), of the same kind: a copy
    of the array's rows, or :class:`Codes` with the corrections of those samples.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_elm._decomposition._codes import Codes, take_rows
    >>> Z = Codes(np.array([[0, 1], [1, 0], [1, 1]], dtype=np.int8), np.array([2]),
    ...           np.array([0]), np.array([-0.5]))
    >>> half = take_rows(Z, np.array([0, 2]))
    >>> half.codes.tolist(), half.rows.tolist(), half.delta.tolist()
    ([[0, 1], [1, 1]], [1], [-0.5])
    """
    rows = np.asarray(rows, dtype=np.intp)
    if not isinstance(Z, Codes):
        return Z[rows]
    where = np.full(len(Z), -1, dtype=Z.rows.dtype)  # the corrections' own index type
    where[rows] = np.arange(rows.size)
    kept = where[Z.rows] >= 0
    return Codes(Z.codes[rows], where[Z.rows[kept]], Z.cols[kept], Z.delta[kept])


def columns(Z, cols, dtype=np.float64):
    """The columns ``cols`` (a slice or an index array) of ``Z`` (an array or
    :class:`Codes`) in ``dtype``, corrections applied."""
    if not isinstance(Z, Codes):
        return Z[:, cols].astype(dtype)
    out = Z.codes[:, cols].astype(dtype)
    picked = np.arange(Z.shape[1])[cols]
    starts, stops = Z.colptr[picked], Z.colptr[picked + 1]
    counts = stops - starts
    if counts.sum():
        where = np.repeat(starts - np.cumsum(counts) + counts, counts) + np.arange(counts.sum())
        out[Z.rows[where], np.repeat(np.arange(picked.size), counts)] += Z.delta[where]
    return out


def transposed_product(Z, V, entries=2**22):
    """``Z^T V`` (float32) of inputs ``Z`` (an array or :class:`Codes`) and ``V`` of shape
    (n,) or (n, k), without a float copy of ``Z``: int8 codes are converted about
    ``entries`` at a time, and the corrections added."""
    V = np.asarray(V, dtype=np.float32)
    if not isinstance(Z, Codes) and Z.dtype == np.float32:
        return Z.T @ V
    codes = Z.codes if isinstance(Z, Codes) else Z
    rows = max(1, entries // max(codes.shape[1], 1))
    out = np.zeros((codes.shape[1], *V.shape[1:]))
    for r0 in range(0, len(codes), rows):
        out += codes[r0 : r0 + rows].astype(np.float32).T @ V[r0 : r0 + rows]
    if isinstance(Z, Codes) and Z.delta.size:
        np.add.at(out, Z.cols, Z.delta.reshape(-1, *[1] * (V.ndim - 1)) * V[Z.rows])
    return out.astype(np.float32)
