"""Loci in linkage with given loci: what a listed pair could equally be.

On a panel with linkage disequilibrium a pair ``(i, j)`` listed as significant stands for
every pair ``(i', j')`` whose loci are near copies of ``i`` and ``j``: the data single out the
region, not the marker (as PLINK's ``--clump`` reports the markers of a clump).  The report
gives, beside each listed pair, the loci at ``r^2 >= LINKED_R2`` with each of its loci.
"""

import numpy as np

__all__ = ["LINKED_R2", "linked_loci"]

#: Squared correlation at which a locus counts as a copy of another (PLINK's and
#: ``benchmarks/calibration.py``'s convention for "in linkage").
LINKED_R2 = 0.8

#: Cells of the ``loci x p`` cross-products held at a time (a few arrays of this size,
#: 40 MB each in float64): more loci are read in further passes over the samples.
MAX_CELLS = 5_000_000


def linked_loci(Z, loci, threshold=LINKED_R2, block=4096):
    """The other loci whose squared correlation with each of ``loci`` is at least ``threshold``.

    One pass over the samples per group of loci, ``O(n p)`` per locus; ``Z`` (in memory or
    lazy) is read a block of samples at a time, of at most ``CHUNK_BYTES`` in float64, and
    never copied whole.  A constant locus is linked to none.

    Parameters
    ----------
    Z : array-like or lazy array of shape (n_samples, n_loci)
        The (encoded) genotypes, one column per locus.
    loci : array-like of int
        Locus indices.
    threshold : float, default=LINKED_R2
        Squared correlation, in (0, 1].
    block : int, default=4096
        Samples read at a time at most.

    Returns
    -------
    linked : dict of int to ndarray of int
        For each distinct locus of ``loci``, the sorted indices of the loci linked to it
        (itself excluded).

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_elm._linkage import linked_loci
    >>> Z = np.array([[0, 0, 1, 2], [1, 1, 0, 2], [2, 2, 1, 2], [1, 1, 2, 2]])
    >>> {k: v.tolist() for k, v in linked_loci(Z, [0, 3]).items()}
    {0: [1], 3: []}
    """
    from ._chunks import CHUNK_BYTES, read_rows, row_bounds  # torch, only when called

    loci = np.unique(np.asarray(loci, dtype=np.intp))
    n, p = Z.shape
    block = max(1, min(int(block), CHUNK_BYTES // (8 * max(p, 1))))
    lazy = not isinstance(Z, np.ndarray)
    bounds = row_bounds(Z, block) if lazy else np.append(np.arange(0, n, block), n)
    linked = {}
    step = max(1, MAX_CELLS // max(p, 1))
    for first in range(0, loci.size, step):
        group = loci[first:first + step]
        cross, total, squares = np.zeros((group.size, p)), np.zeros(p), np.zeros(p)
        for start, stop in zip(bounds[:-1], bounds[1:], strict=True):
            rows = slice(int(start), int(stop))
            B = (read_rows(Z, rows) if lazy else Z[rows]).astype(np.float64)
            total += B.sum(axis=0)
            squares += np.einsum("ij,ij->j", B, B)
            cross += B[:, group].T @ B
        mean = total / n
        var = np.maximum(squares / n - mean**2, 0.0)
        varies = var > 1e-10 * np.maximum(squares / n, np.finfo(np.float64).tiny)
        cov = cross / n - np.outer(mean[group], mean)
        for row, locus in enumerate(group):
            if not varies[locus]:
                linked[int(locus)] = np.zeros(0, dtype=np.intp)
                continue
            r2 = np.zeros(p)
            r2[varies] = cov[row, varies] ** 2 / (var[locus] * var[varies])
            hits = np.flatnonzero(r2 >= threshold * (1 - 1e-9))
            linked[int(locus)] = hits[hits != locus]
    return linked
