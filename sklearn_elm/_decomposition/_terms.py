"""The screened fit's design, made from the genotypes a block of samples at a time.

The screened fit's least squares has ``m`` centred columns: loci ``z_i - zbar_i``, products
``(z_i - zbar_i)(z_j - zbar_j)`` less their mean, and self terms (the square of a centred
input less its regression on it, centred).  As a float64 array the design takes ``8 n m``
bytes: 18 GB at ``n = 200,000`` and ``m = 11,500``.  :class:`Terms` holds only which loci and
pairs it has, and their means, and makes its rows from the kept genotypes
(:class:`~._codes.Codes`, a byte each) when a product reads them: ``X @ B``, ``X^T V``, the
Gram matrix ``X^T X`` and the products with another design's columns
(:meth:`Terms.cross`) are sums over blocks of rows, in memory ``O(b m)`` for blocks of ``b``
rows.  Where the whole design takes at most :data:`CACHE_BYTES` it is made once and kept,
so that small fits read it as an array.

Every product costs a pass over the samples, so the fit reads its design's products once
and works from them (:mod:`._lstsq`, :mod:`._screening`): the Gram matrix, ``X^T f`` and
``X^T y``; a residual is made only where the pair scans read it.
"""

import numpy as np
from sklearn.utils import Bunch

from ._codes import Codes

__all__ = ["BLOCK_ENTRIES", "CACHE_BYTES", "Terms", "gram_of"]

#: A design of at most this many bytes is made once and kept.
CACHE_BYTES = 2**28

#: Entries of a block of rows made at a time (64 MiB in float64).
BLOCK_ENTRIES = 2**23

#: Columns of the Gram matrix summed at a time (its upper triangle, block by block).
GRAM_COLUMNS = 1024


class Terms:
    """Centred columns of ``loci`` and of ``pairs`` (``i == j`` a self term) of the inputs
    ``G.Z`` (:func:`~._scan._genotypes`), made a block of rows at a time.

    Parameters
    ----------
    G : Bunch
        The kept inputs ``Z`` (an int8 or float32 array, or :class:`~._codes.Codes`) with
        their float64 ``mean``.
    loci : array-like of int of shape (s,)
        The additive terms, in column order (first).
    pairs : array-like of int of shape (t, 2), default=None
        The pairwise terms, after the loci.

    Attributes
    ----------
    shape : tuple
        ``(n, s + t)``.
    s : int
        Number of loci.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.utils import Bunch
    >>> from sklearn_elm._decomposition._terms import Terms
    >>> Z = np.array([[1.0, 0.0], [-1.0, 1.0], [1.0, 1.0], [-1.0, 0.0]])
    >>> X = Terms(Bunch(Z=Z, mean=Z.mean(0)), [0], [(0, 1)])
    >>> X @ np.eye(2)
    array([[ 1. , -0.5],
           [-1. , -0.5],
           [ 1. ,  0.5],
           [-1. ,  0.5]])
    >>> X.gram()
    array([[4., 0.],
           [0., 1.]])
    """

    def __init__(self, G, loci, pairs=None, *, _moments=None):
        self.G = G
        self.loci = np.asarray(loci, dtype=np.intp).reshape(-1)
        self.pairs = np.asarray([] if pairs is None else pairs, dtype=np.intp).reshape(-1, 2)
        self.s = self.loci.size
        n = len(G.Z)
        self.shape = (n, self.s + len(self.pairs))
        self._refs, where = np.unique(np.concatenate([self.loci, self.pairs.ravel()]),
                                      return_inverse=True)
        self._at_loci = where[: self.s]
        self._at_i, self._at_j = where[self.s :].reshape(-1, 2).T
        self._own = self.pairs[:, 0] == self.pairs[:, 1]
        self._corrections = _corrections(G)
        if self._corrections[0].size:  # where each input sits among those referenced
            self._place = np.full(G.Z.shape[1], -1, dtype=np.intp)
            self._place[self._refs] = np.arange(self._refs.size)
        self._dense = None
        if _moments is None:
            _moments = self._moments()
        self._pair_mean, self._gamma = _moments
        if 8 * n * self.shape[1] <= CACHE_BYTES:  # made a block at a time, then kept
            dense = np.empty(self.shape, order="F")
            for r0, r1 in self.row_blocks():
                dense[r0:r1] = self._rows(r0, r1)
            self._dense = dense

    def __len__(self):
        return self.shape[0]

    @property
    def T(self):  # noqa: N802 (the transpose, as numpy names it)
        return _Transposed(self)

    def __matmul__(self, B):
        return self.dot(B)

    # --- making rows -------------------------------------------------------------------

    def _centred(self, r0, r1):
        """The referenced inputs of rows ``r0:r1``, centred, float64."""
        Z, refs = self.G.Z, self._refs
        if isinstance(Z, Codes):
            z = Z.codes[r0:r1][:, refs].astype(np.float64)
            rows, cols, delta = self._corrections
            if rows.size:
                a, b = np.searchsorted(rows, [r0, r1])
                place = self._place[cols[a:b]]
                hit = place >= 0
                z[rows[a:b][hit] - r0, place[hit]] += delta[a:b][hit]
        else:
            z = np.asarray(Z[r0:r1])[:, refs].astype(np.float64)
        z -= self.G.mean[refs]
        return z

    def _rows(self, r0, r1, z=None):
        """The design's rows ``r0:r1``, float64."""
        if self._dense is not None:
            return self._dense[r0:r1]
        z = self._centred(r0, r1) if z is None else z
        out = np.empty((len(z), self.shape[1]), order="F")  # contiguous column blocks
        out[:, : self.s] = z[:, self._at_loci]
        if len(self.pairs):
            out[:, self.s :] = self._products(z)
        return out

    def _products(self, z):
        """The pair columns of centred inputs ``z``, uncentred, then less their means."""
        P = z[:, self._at_i] * z[:, self._at_j]
        if self._own.any():
            zo = z[:, self._at_i[self._own]]
            P[:, self._own] = zo * zo - self._gamma[self._own] * zo
        P -= self._pair_mean
        return P

    def _moments(self):
        """The pair columns' means and the self terms' ``gamma`` (the slope of a centred
        input's square on it), from one pass over the samples."""
        t = len(self.pairs)
        gamma = np.zeros(t)
        if t == 0:
            return np.zeros(0), gamma
        n = self.shape[0]
        sums, own = np.zeros(t), self._own
        powers = np.zeros((3, int(own.sum())))
        for r0, r1 in self.row_blocks():
            z = self._centred(r0, r1)
            zo = z[:, self._at_i[own]]
            powers += [zo.sum(axis=0), (zo * zo).sum(axis=0), (zo**3).sum(axis=0)]
            sums += (z[:, self._at_i] * z[:, self._at_j]).sum(axis=0)
        var = powers[1] / n
        gamma[own] = np.where(var > 0, powers[2] / n / np.where(var > 0, var, 1.0), 0.0)
        mean = sums / n
        mean[own] = (powers[1] - gamma[own] * powers[0]) / n
        return mean, gamma

    def entries_per_row(self):
        """Float64 numbers a row of a block takes while it is made: the centred inputs, the
        row and the products' temporaries."""
        return self._refs.size + self.shape[1] + 3 * len(self.pairs)

    def row_blocks(self, extra=0):
        """``(r0, r1)`` of the blocks of rows a pass makes, about :data:`BLOCK_ENTRIES`
        numbers each (``extra`` more a row made beside the design's)."""
        n = self.shape[0]
        if self._dense is not None and extra == 0:
            return [(0, n)]
        rows = max(1, BLOCK_ENTRIES // max(self.entries_per_row() + extra, 1))
        return [(r0, min(r0 + rows, n)) for r0 in range(0, n, rows)]

    # --- products ----------------------------------------------------------------------

    def dot(self, B):
        """``X @ B`` of ``B`` of shape (m,) or (m, q)."""
        B = np.asarray(B, dtype=np.float64)
        out = np.empty((self.shape[0], *B.shape[1:]))
        for r0, r1 in self.row_blocks():
            out[r0:r1] = self._rows(r0, r1) @ B
        return out

    def tdot(self, V):
        """``X^T V`` of ``V`` of shape (n,) or (n, q)."""
        V = np.asarray(V, dtype=np.float64)
        out = np.zeros((self.shape[1], *V.shape[1:]))
        for r0, r1 in self.row_blocks():
            out += self._rows(r0, r1).T @ V[r0:r1]
        return out

    def gram(self, known=None):
        """``X^T X``; where ``known`` (the Gram matrix of the first ``known.shape[0]``
        columns) is given, only the other columns' blocks are summed.

        The upper triangle is summed ``GRAM_COLUMNS`` columns at a time (``n m^2 / 2``
        multiply-adds, each an ordinary matrix product) and mirrored."""
        m = self.shape[1]
        k = 0 if known is None else known.shape[0]
        out = np.zeros((m, m))
        if k:
            out[:k, :k] = known
        starts = range(k, m, GRAM_COLUMNS)
        for r0, r1 in self.row_blocks():
            Xb = self._rows(r0, r1)
            for c0 in starts:
                c1 = min(c0 + GRAM_COLUMNS, m)
                out[:c1, c0:c1] += Xb[:, :c1].T @ Xb[:, c0:c1]
        # the blocks below the diagonal's, from those above it
        out[k:, :k] = out[:k, k:].T
        for c0 in starts:
            c1 = min(c0 + GRAM_COLUMNS, m)
            out[c1:, c0:c1] = out[c0:c1, c1:].T
        return out

    def cross(self, other, V=None, full=True):
        """Products with ``other``'s columns ``C`` (a :class:`Terms` of the same inputs) in
        one pass: ``XC = X^T C``, ``CC = C^T C`` (its diagonal only where ``full`` is
        False), and, with ``V`` of shape (n,) or (n, q), ``CV = C^T V`` and ``XV = X^T V``."""
        m, c = self.shape[1], other.shape[1]
        out = Bunch(XC=np.zeros((m, c)), CC=np.zeros((c, c) if full else c))
        if V is not None:
            V = np.asarray(V, dtype=np.float64)
            out.CV = np.zeros((c, *V.shape[1:]))
            out.XV = np.zeros((m, *V.shape[1:]))
        for r0, r1 in self.row_blocks(extra=other.entries_per_row()):
            Xb, Cb = self._rows(r0, r1), other._rows(r0, r1)
            out.XC += Xb.T @ Cb
            out.CC += Cb.T @ Cb if full else np.einsum("ij,ij->j", Cb, Cb)
            if V is not None:
                out.CV += Cb.T @ V[r0:r1]
                out.XV += Xb.T @ V[r0:r1]
        return out

    def columns(self, cols=None):
        """The columns ``cols`` (all by default) as an ``n x len(cols)`` array."""
        X = self if cols is None else self.select(cols)
        return np.concatenate([X._rows(r0, r1) for r0, r1 in X.row_blocks()])

    # --- other designs -----------------------------------------------------------------

    def select(self, keep):
        """The design of the columns ``keep`` (a boolean mask or indices, loci first)."""
        cols = np.arange(self.shape[1])[keep]
        loci, pair_cols = cols[cols < self.s], cols[cols >= self.s] - self.s
        return Terms(self.G, self.loci[loci], self.pairs[pair_cols],
                     _moments=(self._pair_mean[pair_cols], self._gamma[pair_cols]))

    def extend(self, pairs):
        """This design with the columns of ``pairs`` after its own."""
        added = Terms(self.G, [], pairs)
        return Terms(self.G, self.loci, np.vstack([self.pairs, added.pairs]),
                     _moments=(np.concatenate([self._pair_mean, added._pair_mean]),
                               np.concatenate([self._gamma, added._gamma])))


class _Transposed:
    """``X.T`` of a :class:`Terms`: ``X.T @ V`` is :meth:`Terms.tdot` (the Gram matrix is
    :func:`gram_of`)."""

    def __init__(self, X):
        self.X = X

    def __matmul__(self, V):
        return self.X.tdot(V)


def gram_of(X):
    """``X^T X`` of an array or :class:`Terms`."""
    return X.gram() if isinstance(X, Terms) else X.T @ X


def _corrections(G):
    """The corrections of :class:`~._codes.Codes` ``G.Z`` sorted by row (rows, columns,
    corrections), made once and kept in ``G``: every design reads the same copy."""
    Z = G.Z
    if not isinstance(Z, Codes) or Z.delta.size == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.intp), np.zeros(0)
    if "row_corrections" not in G:
        order = np.argsort(Z.rows, kind="stable")
        G.row_corrections = (Z.rows[order], Z.cols[order], Z.delta[order])
    return G.row_corrections
