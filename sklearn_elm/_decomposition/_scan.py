"""The scans of the screened fit: every pair's product against a residual, in blocks.

The genotypes are kept once in float32 (the network's own precision) with their float64
means, from which the design's columns are centred exactly; the scans read float32 centred
copies of the loci they range over, all ``p`` or, past :data:`SCAN_FLOPS`, those the network
uses most (:func:`pair_scan_size`).
"""

import numbers
import warnings

import numpy as np
from sklearn.utils import Bunch

from ._codes import Codes, transposed_product
from ._codes import columns as code_columns

__all__ = ["BLOCK_BYTES", "MAX_TERMS", "SCAN_BLOCK_BYTES", "SCAN_FLOPS", "check_budget",
           "pair_scan_size", "term_budget"]

#: Bytes of a temporary block of columns of every sample (32 MiB): fewer columns a block
#: the more samples, so that no temporary grows as ``n x 1024``.
BLOCK_BYTES = 2**25

#: Bytes of the scan's scaled block of columns, wider for the matrix product's sake.
SCAN_BLOCK_BYTES = 2**28


#: Terms a screened fit chooses at most, whatever the samples, before the loci of its pairs
#: join them (up to twice its pairs more): its ``m x m`` matrices take 1.15 GB each at
#: 12,000, and its Gram matrix ``n m^2 / 2`` multiply-adds (minutes of BLAS on two cores at
#: ``n = 200,000``).
MAX_TERMS = 12_000

#: Multiply-adds one scan of pairs may take, ``n L^2`` for ``L`` loci scanned (about a minute
#: of BLAS on two cores): past it the pairs are scanned among the ``L`` loci the network uses most.
SCAN_FLOPS = 2e12


def pair_scan_size(n_samples, n_inputs):
    """How many loci the scans of pairs range over: all ``p``, or past :data:`SCAN_FLOPS`
    the ``L = sqrt(SCAN_FLOPS / n)`` loci the network uses most.

    Examples
    --------
    >>> from sklearn_elm._decomposition._screening import pair_scan_size
    >>> pair_scan_size(2000, 12000), pair_scan_size(20000, 50000)
    (12000, 10000)
    """
    return int(min(n_inputs, max(2, np.sqrt(SCAN_FLOPS / max(n_samples, 1)))))


def _block(n, itemsize=8, budget=None):
    """Columns of ``n`` samples a temporary of ``budget`` bytes (:data:`BLOCK_BYTES` by
    default) holds: 1 to 1024."""
    budget = BLOCK_BYTES if budget is None else budget
    return int(max(1, min(1024, budget // max(n * itemsize, 1))))


def _genotypes(Z, overwrite):
    """The inputs kept compact (:class:`~._codes.Codes`, read as they are; an int8 or
    float32 array as it is with ``overwrite``; else a float32 copy, the network's own
    precision) and their float64 means and centred norms: the design's columns are
    centred in float64 from these, exactly."""
    if not isinstance(Z, Codes) and not (overwrite and np.asarray(Z).dtype in (np.int8,
                                                                               np.float32)):
        Z = np.array(Z, dtype=np.float32)
    n, p = Z.shape
    mean, squares = np.empty(p), np.empty(p)
    block = _block(n)
    for c0 in range(0, p, block):  # float64 a block of loci at a time, not an n x p copy
        cols = slice(c0, c0 + block)
        z = code_columns(Z, cols)
        mean[cols] = z.mean(axis=0)
        squares[cols] = np.einsum("ij,ij->j", z, z) - n * mean[cols] ** 2
    norms = np.sqrt(np.maximum(squares, 0.0))
    # a constant column has a norm of round-off: 0 below float32's resolution of its values
    norms[norms <= 1e-6 * np.sqrt(n) * np.abs(mean)] = 0.0
    return Bunch(Z=Z, mean=mean, norms=norms)


def _transposed_product(G, V):
    """``Z^T V`` (float32) of the inputs, without a float copy of them
    (:func:`~._codes.transposed_product`)."""
    return transposed_product(G.Z, V)


def _locus_columns(G, loci):
    """Centred float64 columns of ``loci``."""
    return code_columns(G.Z, loci) - G.mean[loci]


def _self_terms(Zc):
    """The self term ``w = zc^2 - gamma zc - mean`` of each centred input ``zc`` (its square
    less its regression on ``zc``, centred): ``gamma``, ``mean``, ``norm`` (of ``w``) and
    ``has`` (the input has three values or more, and so a term).

    The moments and the test of a self term are in float64 (a block of loci at a time):
    for a two-valued input the term is constant, and float32 sums of 10^4 samples would
    leave it a residual variance as large as the test's tolerance."""
    n, p = Zc.shape
    block = _block(n)
    terms = Bunch(gamma=np.zeros(p), mean=np.zeros(p), norm=np.zeros(p),
                  has=np.zeros(p, dtype=bool))
    for c0 in range(0, p, block):
        cols = slice(c0, c0 + block)
        z = Zc[:, cols].astype(np.float64)
        var = (z**2).mean(axis=0)
        gamma = np.where(var > 0, (z**3).mean(axis=0) / np.where(var > 0, var, 1.0), 0.0)
        w = z**2 - gamma * z
        terms.mean[cols] = w.mean(axis=0)
        w -= terms.mean[cols]
        squares = (w**2).mean(axis=0)
        scale = np.maximum((z**4).mean(axis=0), var**2)
        terms.has[cols] = squares > 1e-9 * np.where(scale > 0, scale, 1.0)
        terms.gamma[cols], terms.norm[cols] = gamma, np.sqrt(n * squares)
    return terms


def _self_columns(Zc):
    """Self terms of the centred float64 columns ``Zc`` (:func:`_self_terms`), and which
    inputs have one."""
    terms = _self_terms(Zc)
    return Zc**2 - terms.gamma * Zc - terms.mean, terms.has


def _top(scores, rows, cols, take, best):
    """Merge the ``take`` largest ``scores`` (with their ``rows``, ``cols``) into ``best``."""
    if take < scores.size:
        keep = np.argpartition(-scores, take)[:take]
        scores, rows, cols = scores[keep], rows[keep], cols[keep]
    merged = [np.concatenate([b, new]) for b, new in zip(best, (scores, rows, cols), strict=True)]
    if merged[0].size > take:
        keep = np.argpartition(-merged[0], take)[:take]
        merged = [m[keep] for m in merged]
    return merged


def _scan_basis(G, candidates, self_terms=True):
    """What the scans of pairs read: the candidate loci's centred columns in float32, their
    norms, (unless ``self_terms`` is False) the moments of their self terms, which a scan
    makes a block at a time from the columns (:func:`_self_terms`), and where each locus
    sits among them (-1 for loci not scanned)."""
    columns = np.empty((len(G.Z), candidates.size), dtype=np.float32)
    block = _block(len(G.Z))
    for c0 in range(0, candidates.size, block):
        columns[:, c0 : c0 + block] = _locus_columns(G, candidates[c0 : c0 + block])
    terms = _self_terms(columns) if self_terms else None
    where = np.full(G.Z.shape[1], -1, dtype=np.intp)
    where[candidates] = np.arange(candidates.size)
    return Bunch(loci=candidates, Zc=columns, norms=G.norms[candidates], self_terms=terms,
                 where=where)


def _scan_pairs(scan, residual, taken, take):
    """The ``take`` pairs ``i <= j`` of scanned loci whose centred products (or self terms,
    where ``scan`` has them) are most correlated with ``residual``, leaving out ``taken``
    (a set of ``(i, j)``)."""
    if take <= 0:
        return []
    Zc, norms, L = scan.Zc, scan.norms, scan.loci.size
    # |x . r| / |x| for every term x: for a product |x| = |zc_i| |zc_j| / sqrt(n)
    inv = np.where(norms > 0, 1.0 / np.where(norms > 0, norms, 1.0), 0.0) * Zc.shape[0] ** 0.25
    inv = inv.astype(Zc.dtype)
    weight = residual.astype(Zc.dtype)[:, None]
    best = [np.empty(0), np.empty(0, dtype=np.intp), np.empty(0, dtype=np.intp)]
    rows = np.arange(L)
    block = _block(len(Zc), Zc.itemsize, SCAN_BLOCK_BYTES)
    for j0 in range(0, L, block):
        j1 = min(j0 + block, L)
        # the products' correlation with r times |r|, exactly so for loci in linkage
        # equilibrium; only the rows i < j1 hold pairs i < j (a block scaled by r, not
        # a scaled copy of every column), scaled in place
        S = Zc[:, :j1].T @ (Zc[:, j0:j1] * weight)
        np.abs(S, out=S)
        S *= inv[:j1, None]
        S *= inv[None, j0:j1]
        square = S[j0:j1]  # the rows i >= j0, where pairs i >= j lie
        square[rows[: j1 - j0, None] >= rows[None, : j1 - j0]] = -1.0
        flat = S.ravel()
        # only the cells above the take-th score so far can enter: one pass picks them,
        # and only they are partitioned
        floor = best[0].min() if best[0].size >= take else 0.0
        cells = np.flatnonzero(flat >= floor) if floor > 0 else np.flatnonzero(flat > 0)
        if take < cells.size:
            cells = cells[np.argpartition(-flat[cells], take)[:take]]
        i, j = np.divmod(cells, j1 - j0)
        best = _top(flat[cells].astype(np.float64), i, j + j0, take, best)
    if scan.self_terms is not None:
        terms, covariance = scan.self_terms, np.empty(L)
        block = _block(len(Zc), Zc.itemsize)
        for c0 in range(0, L, block):  # w^T r, with w made a block at a time
            zc, gamma = Zc[:, c0 : c0 + block], terms.gamma[c0 : c0 + block].astype(Zc.dtype)
            covariance[c0 : c0 + block] = (zc * zc - gamma * zc).T @ weight[:, 0]
        covariance -= terms.mean * float(weight.sum(dtype=np.float64))
        self_score = np.where(terms.has, np.abs(covariance)
                              / np.where(terms.has, terms.norm, 1.0), -1.0)
        i = np.flatnonzero(self_score > 0)
        best = _top(self_score[i], i, i, take, best)
    # largest first; equal scores (float32 products tie often) by their loci, so that the
    # order does not depend on the blocks or the partitions
    order = np.lexsort((best[2], best[1], -best[0]))
    pairs = [(int(a), int(b)) for a, b in zip(scan.loci[best[1][order]],
                                              scan.loci[best[2][order]], strict=True)
             if (int(a), int(b)) not in taken]
    return pairs[:take]


def _scanned_loci(G, F, usage, stacklevel):
    """The loci the scans of pairs range over: all, or past :func:`pair_scan_size` half of
    largest ``usage`` and the rest of largest correlation with ``f`` (where the network
    learnt no interaction, ``usage`` is round-off), with a warning."""
    (n, p), norms = G.Z.shape, G.norms
    size = pair_scan_size(n, p)
    if size >= p:
        return np.arange(p)
    Fc = (F - F.mean(axis=0)).astype(np.float32)
    marginal = np.abs(_transposed_product(G, Fc) - np.outer(G.mean, Fc.sum(axis=0)))
    marginal = marginal.sum(axis=1)
    marginal = np.where(norms > 0, marginal / np.where(norms > 0, norms, 1.0), -np.inf)
    if usage is None:
        return _warn_scanned(np.argpartition(-marginal, size - 1)[:size], n, p, stacklevel)
    usage = np.where(norms > 0, usage, -np.inf)
    chosen = np.argpartition(-usage, size // 2 - 1)[: size // 2]
    marginal[chosen] = -np.inf
    rest = np.argpartition(-marginal, size - chosen.size - 1)[: size - chosen.size]
    return _warn_scanned(np.concatenate([chosen, rest]), n, p, stacklevel)


def _warn_scanned(loci, n, p, stacklevel):
    """``loci``, sorted, with the warning that pairs of other loci are not tested."""
    size = loci.size
    warnings.warn(
        f"{p} loci and {n} samples: pairs are scanned among the {size} loci the network "
        f"uses most, not all {p} (a scan of every pair would take {n * p * p:.1e} "
        "multiply-adds); pairs of other loci are not tested.",
        UserWarning,
        stacklevel=stacklevel,
    )
    return np.sort(loci)


def term_budget(n_samples, n_inputs):
    """How many additive and pairwise terms a screened fit may choose.

    At most ``m_max = n / 2 - 1`` terms in all, the bound under which the
    least-squares problem is well determined, and at most :data:`MAX_TERMS`; a
    tenth of them (at least 10, at most 500) are pairs, and every locus enters
    when the rest allows it (otherwise the loci are screened).

    Parameters
    ----------
    n_samples, n_inputs : int
        Samples ``n`` and network inputs ``p``.

    Returns
    -------
    n_loci, n_pairs : int
        Additive terms and pairwise terms to choose.

    Raises
    ------
    ValueError
        Where the samples are too few for a single locus and pair.

    Examples
    --------
    >>> from sklearn_elm._decomposition._scan import term_budget
    >>> term_budget(5000, 2000), term_budget(2000, 12000), term_budget(200_000, 50_000)
    ((2000, 249), (900, 99), (11500, 500))
    """
    m_max = min(n_samples // 2 - 1, MAX_TERMS)
    if m_max < 2:
        raise ValueError(
            f"components='screened' fits at least one locus and one pair, which needs at "
            f"least 6 samples; got {n_samples}. Use components='network'."
        )
    n_pairs = min(max(10, m_max // 10), 500, m_max - 1)
    return min(n_inputs, m_max - n_pairs), n_pairs


def check_budget(n_loci, n_pairs, n, varying):
    """The numbers of terms to choose, checked: integers >= 0 (pairs >= 1) that leave
    ``y``'s noise variance residual degrees of freedom."""
    for name, value, low in (("n_loci", n_loci, 0), ("n_pairs", n_pairs, 1)):
        if not isinstance(value, numbers.Integral) or value < low:
            raise ValueError(f"{name} must be an integer >= {low}, got {value!r}.")
    terms = min(n_loci, varying) + n_pairs
    if terms > n - 2:
        raise ValueError(
            f"n_loci={n_loci} and n_pairs={n_pairs} fit {terms} terms on {n} samples, which "
            f"leaves no degrees of freedom for the noise; choose fewer (the default is "
            f"{term_budget(n, varying)})."
        )
