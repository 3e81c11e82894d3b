"""Which pairs of loci the report lists: the scored pairs, largest first, read by blocks.

Every table, file and figure of the report that lists pairs lists them from
:func:`rank_pairs`, so that they all agree on which pairs a method scored and
in which order.
"""

import numpy as np

from .._pairs import FactoredPairMatrix

__all__ = ["RANK_BLOCK", "rank_pairs"]

#: Cells of a pair matrix read at a time by :func:`rank_pairs` (8 MiB of float64).
RANK_BLOCK = 2**20


def rank_pairs(epistasis, *, top=None):
    """Pairs ``i < j`` with a non-zero estimate, ranked by decreasing ``|e_ij|``.

    A pair whose estimate is exactly 0 is left out: a screened fit
    (``ELMDecomposer(epistasis="screened")``) scores only the pairs it
    chose and leaves every other pair at exactly 0, not estimated, so
    ranking those would list untested pairs beside scored ones.  Every
    table, file and figure of the report that lists pairs lists them from
    here: at most ``top`` of them, fewer (or none) where fewer are scored.
    Pairs of equal ``|e_ij|`` keep their order in the matrix (row by row);
    NaN estimates come last.

    The matrix is read a block of rows at a time (a factored one computed a
    tile at a time, ``O(n p^2)``) and only the candidates for the first
    ``top`` pairs are kept, so ranking the top pairs of a ``12,000 x 12,000``
    matrix needs tens of MiB beyond it, not gigabytes.

    Parameters
    ----------
    epistasis : ndarray, scipy sparse array or FactoredPairMatrix of shape (p, p)
        Symmetric pair effects; only the upper triangle is read.
    top : int, default=None
        Keep the first ``top`` pairs; all scored pairs when None.

    Returns
    -------
    i, j : ndarray of int
        Locus indices of each pair, ``i < j``.
    estimate : ndarray of float
        ``epistasis[i, j]``, none of them 0.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_elm._report import rank_pairs
    >>> E = np.array([[0.0, 0.1, -0.5], [0.1, 0.0, 0.2], [-0.5, 0.2, 0.0]])
    >>> i, j, e = rank_pairs(E)
    >>> i.tolist(), j.tolist(), e.tolist()
    ([0, 1, 0], [2, 2, 1], [-0.5, 0.2, 0.1])

    A pair at exactly 0 (here ``(0, 1)``) is not scored, and not listed:

    >>> E[0, 1] = E[1, 0] = 0.0
    >>> rank_pairs(E)[2].tolist()
    [-0.5, 0.2]
    """
    from scipy import sparse

    if sparse.issparse(epistasis):
        i, j, values = _sparse_upper(epistasis)
        order = np.argsort(-_magnitude(values), kind="stable")[:top]
        return i[order], j[order], values[order]
    p = epistasis.shape[-1]
    kept = [(np.empty(0, dtype=np.int64), np.empty(0))]
    for flat, values in _upper_blocks(epistasis):
        kept.append((flat, values))
        if top is not None:  # only candidates for the first top pairs go on
            kept = [_candidates(*(np.concatenate(a) for a in zip(*kept, strict=True)), top)]
    flat, values = (np.concatenate(a) for a in zip(*kept, strict=True))
    del kept
    if isinstance(epistasis, FactoredPairMatrix):  # read by tiles: row by row for the ties
        in_matrix = np.argsort(flat, kind="stable")
        flat, values = flat[in_matrix], values[in_matrix]
    order = np.argsort(-_magnitude(values), kind="stable")[:top]
    i, j = np.divmod(flat[order], p)
    return i.astype(np.intp, copy=False), j.astype(np.intp, copy=False), values[order]


def _upper_blocks(epistasis):
    """The non-zero pairs ``i < j`` of a dense or factored matrix, a block at a time, each
    pair as one index ``i p + j`` (half the memory of ``(i, j)``), with its value."""
    p = epistasis.shape[-1]
    if isinstance(epistasis, FactoredPairMatrix):  # computed a tile at a time
        for i, j, values in epistasis.upper_tiles():
            scored = values != 0
            yield i[scored].astype(np.int64) * p + j[scored], values[scored]
        return
    E = np.asarray(epistasis)
    rows = max(1, RANK_BLOCK // max(p, 1))
    for start in range(0, p, rows):
        block = np.triu(E[start:start + rows], start + 1)  # the pairs i < j of these rows
        flat = np.flatnonzero(block)
        yield flat + start * p, block.ravel()[flat]


def _magnitude(values):
    """``|values|``, NaN as -1: the sort key that puts NaN last."""
    magnitude = np.abs(values)
    magnitude[np.isnan(magnitude)] = -1.0
    return magnitude


def _candidates(flat, values, top):
    """The pairs that may be among the first ``top``: every one at least as large as the
    ``top``-th largest (ties included, so the stable order decides among them), in order."""
    if values.size <= top:
        return flat, values
    magnitude = _magnitude(values)
    keep = magnitude >= np.partition(magnitude, values.size - top)[values.size - top]
    return flat[keep], values[keep]


def _sparse_upper(epistasis):
    """The non-zero entries ``i < j`` of a sparse matrix, row by row."""
    from scipy import sparse

    coo = sparse.coo_array(epistasis)
    coo.sum_duplicates()
    i, j, values = coo.row, coo.col, coo.data
    upper = (i < j) & (values != 0)
    i, j, values = i[upper].astype(np.intp), j[upper].astype(np.intp), values[upper]
    order = np.lexsort((j, i))
    return i[order], j[order], values[order]
