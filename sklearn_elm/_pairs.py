"""Pair matrices kept as their factors, ``E_k = Z^T diag(w_k) Z``, never formed.

GBLUP A+AA's pair effects are such a matrix (``Z`` the centred training genotypes over the
square root of the additive kernel's normaliser, ``w_k`` REML's dual coefficients scaled by
the pair variance).  Past ``p > n`` the factors take
``n p`` numbers against ``p^2`` for the matrix (a 50,000-locus panel: 20 GB dense, 0.8 GB
factored for 2,000 samples), and a product with ``Z`` is cheaper than with ``E``.
"""

import numpy as np

from ._resources import available_memory, gib

__all__ = ["FactoredPairMatrix", "dense_pairs"]

#: Float64 cells of the ``n x m`` temporaries read at a time (32 MiB).
CHUNK = 2**22

#: Loci per side of the tiles :meth:`FactoredPairMatrix.upper_tiles` computes.
TILE = 2048


class FactoredPairMatrix:
    """Symmetric pair matrices ``E_k = Z^T diag(w_k) Z``, held as ``Z`` and the ``w_k``.

    Reads like a float64 array of shape ``(p, p)`` (one matrix) or ``(k, p, p)``
    (one per trait) without ever forming it: ``E[i, j]`` with integer arrays
    (numpy's broadcasting) costs ``O(n)`` per entry, a block ``E[np.ix_(rows,
    cols)]`` or a row ``E[i]`` one matrix product, ``E[k]`` is trait ``k``'s
    matrix (factored), ``E[:, i, j]`` a pair in every trait, ``E.T`` the matrix
    itself, and :meth:`quadratic` gives ``z^T E z`` in ``O(n p)`` per sample.
    ``np.asarray(E)`` (or :meth:`toarray`) forms the dense matrices; it and every
    block are checked first against the memory available.

    :class:`~sklearn_elm.GBLUPRegressor` (``"additive+epistatic"``) keeps its
    ``epistasis_matrix_`` in this form past ``p > n``, where the factors are smaller
    than the matrix.

    Parameters
    ----------
    factor : ndarray of shape (n, p)
        ``Z``.
    weights : ndarray of shape (n,) or (k, n)
        ``w``: one matrix, or one row per matrix.

    Attributes
    ----------
    shape : tuple of int
        ``(p, p)`` or ``(k, p, p)``.
    ndim : int
    dtype : numpy.dtype
        float64.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_elm import FactoredPairMatrix
    >>> Z = np.array([[1.0, -1.0, 0.0], [-1.0, 1.0, 2.0]])
    >>> w = np.array([0.5, 2.0])
    >>> E = FactoredPairMatrix(Z, w)
    >>> E.shape, float(E[0, 1]), E[[0, 1], [2, 2]].tolist()
    ((3, 3), -2.5, [-4.0, 4.0])
    >>> np.allclose(np.asarray(E), Z.T @ np.diag(w) @ Z)
    True
    >>> E.quadratic(np.array([[1.0, 0.0, 1.0]])).tolist()  # z^T E z
    [2.5]
    """

    def __init__(self, factor, weights):
        factor = np.asarray(factor, dtype=np.float64)
        weights = np.asarray(weights, dtype=np.float64)
        if factor.ndim != 2:
            raise ValueError(f"factor must be 2-D (samples x loci), got shape {factor.shape}.")
        if weights.ndim not in (1, 2) or weights.shape[-1] != factor.shape[0]:
            raise ValueError(
                f"weights must have shape ({factor.shape[0]},) or (k, {factor.shape[0]}): one "
                f"per row of factor, got shape {weights.shape}.")
        self.factor, self.weights = factor, weights
        p = factor.shape[1]
        self.shape = (p, p) if weights.ndim == 1 else (weights.shape[0], p, p)

    ndim = property(lambda self: len(self.shape), doc="2 or 3.")
    dtype = np.dtype(np.float64)

    def __len__(self):
        return self.shape[0]

    def __repr__(self):
        n, p = self.factor.shape
        return f"FactoredPairMatrix(shape={self.shape}, factor of {n} x {p})"

    def __getitem__(self, key):
        key = key if isinstance(key, tuple) else (key,)
        if self.ndim == 3:
            # E[k] or E[k, ...]: the trait's matrix, kept factored
            whole = len(key) == 1 or (len(key) == 2 and key[1] is Ellipsis)
            key = _full_key(key, 3)
            first, rest = key[0], key[1:]
            if isinstance(first, int | np.integer) and not isinstance(first, bool | np.bool_):
                one = FactoredPairMatrix(self.factor, self.weights[first])
                return one if whole else one[rest]
            traits = np.arange(self.shape[0])[first]  # a slice or an array of traits
            if traits.ndim != 1:
                raise IndexError("index the traits of a stack of pair matrices with an integer, "
                                 "a slice or a 1-D array.")
            if not isinstance(first, slice) and any(
                    not isinstance(k, slice) and np.ndim(k) > 0 for k in rest):
                return self._entries(traits, rest)  # arrays of traits and loci: broadcast
            # whole matrices: formed as toarray forms them, after its memory check
            if all(isinstance(k, slice) and k == slice(None) for k in rest):
                return FactoredPairMatrix(self.factor, self.weights[traits]).toarray()
            blocks = (FactoredPairMatrix(self.factor, self.weights[t])[rest] for t in traits)
            block = next(blocks, None)
            if block is None:  # no trait
                return np.empty((0, *np.shape(FactoredPairMatrix(self.factor,
                                                                 self.weights[0])[rest])))
            _check_fits((traits.size, *np.shape(block)), 0)  # the stack, checked as a whole
            out = np.empty((traits.size, *np.shape(block)))
            out[0] = block
            for t, other in enumerate(blocks, start=1):
                out[t] = other
            return out
        rows, cols = _broadcast_loci(*_full_key(key, 2), self.shape[-1])
        if rows.ndim == 2 and rows.shape[1] == 1 and cols.ndim == 2 and cols.shape[0] == 1:
            _check_fits((rows.shape[0], cols.shape[1]), self.factor.shape[0])
            Z = self.factor  # an outer block, np.ix_(rows, cols): one product
            return Z[:, rows[:, 0]].T @ (self.weights[:, None] * Z[:, cols[0]])
        i, j = np.broadcast_arrays(rows, cols)
        shape, i, j = i.shape, i.ravel(), j.ravel()
        out = np.empty(i.size)
        step = max(1, CHUNK // max(self.factor.shape[0], 1))
        for start in range(0, i.size, step):
            stop = start + step
            out[start:stop] = self.weights @ (self.factor[:, i[start:stop]]
                                              * self.factor[:, j[start:stop]])
        return float(out[0]) if shape == () else out.reshape(shape)

    def _entries(self, traits, loci):
        """``E[t, i, j]`` for the integer arrays ``traits`` and ``loci`` broadcast together,
        as numpy's advanced indexing reads them (no slice among them)."""
        if any(isinstance(k, slice) for k in loci):
            raise IndexError("a stack indexed by arrays of traits and of loci with a slice "
                             "among them: index one trait at a time (E[k][...]), or without "
                             "slices (numpy's broadcasting).")
        p = self.shape[-1]
        t, i, j = np.broadcast_arrays(traits, *(np.arange(p)[_integers(k)] for k in loci))
        shape, t, i, j = t.shape, t.ravel(), i.ravel(), j.ravel()
        out = np.empty(t.size)
        step = max(1, CHUNK // max(self.factor.shape[0], 1))
        for start in range(0, t.size, step):
            cut = slice(start, start + step)
            out[cut] = np.einsum("ms,sm,sm->m", self.weights[t[cut]], self.factor[:, i[cut]],
                                 self.factor[:, j[cut]])
        return out.reshape(shape)

    @property
    def T(self):  # noqa: N802 (numpy's name)
        """The transpose: the matrix itself, which is symmetric (one matrix only)."""
        if self.ndim != 2:
            raise ValueError("transpose one trait's matrix (E[k].T): a stack's .T would put the "
                             "traits last.")
        return self

    def quadratic(self, Z):
        """``z^T E_k z`` for each row ``z`` of ``Z``, ``O(n p)`` per row.

        Parameters
        ----------
        Z : ndarray of shape (m, p)

        Returns
        -------
        values : ndarray of shape (m,) or (m, k)

        Examples
        --------
        >>> import numpy as np
        >>> from sklearn_elm import FactoredPairMatrix
        >>> E = FactoredPairMatrix(np.eye(2), np.array([[1.0, 2.0], [3.0, 0.0]]))
        >>> E.quadratic(np.array([[1.0, 1.0]])).tolist()
        [[3.0, 3.0]]
        """
        Z = np.asarray(Z, dtype=np.float64)
        out = np.empty((Z.shape[0], *self.weights.shape[:-1]))
        step = max(1, CHUNK // max(self.factor.shape[0], 1))
        for start in range(0, Z.shape[0], step):
            inner = Z[start:start + step] @ self.factor.T
            out[start:start + step] = (inner * inner) @ self.weights.T
        return out

    def upper_tiles(self):
        """Trait matrix ``E``'s pairs ``i < j``, a tile of ``TILE x TILE`` loci at a time.

        ``O(n p^2)`` multiply-adds in all, ``O(TILE^2)`` memory at a time.

        Yields
        ------
        i, j : ndarray of int
            The pairs of the tile, ``i < j``.
        values : ndarray
            ``E[i, j]``.

        Examples
        --------
        >>> import numpy as np
        >>> from sklearn_elm import FactoredPairMatrix
        >>> E = FactoredPairMatrix(np.array([[1.0, 2.0, 3.0]]), np.array([1.0]))
        >>> [(i.tolist(), j.tolist(), e.tolist()) for i, j, e in E.upper_tiles()]
        [([0, 0, 1], [1, 2, 2], [2.0, 3.0, 6.0])]
        """
        if self.ndim != 2:
            raise ValueError("upper_tiles reads one matrix: take a trait's first (E[k]).")
        p = self.shape[-1]
        for row in range(0, p, TILE):
            for col in range(row, p, TILE):
                rows, cols = np.arange(row, min(row + TILE, p)), np.arange(col, min(col + TILE, p))
                block = self[np.ix_(rows, cols)]
                i, j = np.nonzero(rows[:, None] < cols[None, :])
                yield rows[i], cols[j], block[i, j]

    def toarray(self):
        """The dense matrices, checked against the memory available first.

        Raises
        ------
        MemoryError
            Naming the size needed, where they would not fit.

        Examples
        --------
        >>> import numpy as np
        >>> from sklearn_elm import FactoredPairMatrix
        >>> FactoredPairMatrix(np.ones((1, 2)), np.array([2.0])).toarray().tolist()
        [[2.0, 2.0], [2.0, 2.0]]
        """
        n, p = self.factor.shape
        # and w Z, and a block of columns of the product being made with its diagonal block
        _check_fits(self.shape, 0, 8 * (n * p + 2 * p * min(p, 1024)))
        from ._reml import _weighted_gram

        out = np.empty(self.shape)
        for matrix, w in zip(out.reshape(-1, p, p), np.atleast_2d(self.weights), strict=True):
            _weighted_gram(self.factor, w, out=matrix)  # in place, trait by trait
        return out

    def __array__(self, dtype=None, copy=None):
        if copy is False:
            raise ValueError("a FactoredPairMatrix has no dense array to share: copy=False "
                             "cannot be honoured.")
        out = self.toarray()
        return out if dtype is None else out.astype(dtype, copy=False)


def _check_fits(shape, n, extra=0):
    """Raise a MemoryError naming the size where a float64 array of ``shape`` (a block of
    ``n`` samples' products too, and ``extra`` bytes) would not fit in the memory available."""
    needed = 8 * (int(np.prod(shape, dtype=np.int64)) + n * shape[-1]) + extra
    available = available_memory()
    if available is not None and needed > available:
        raise MemoryError(
            f"the dense pair matrices {tuple(shape)} need {gib(needed)} of memory, but "
            f"{gib(available)} is available; read pairs with E[i, j], blocks with "
            "E[np.ix_(rows, cols)], or the largest through the report's epistasis_pairs.csv.")


def _full_key(key, ndim):
    """An index tuple with its Ellipsis expanded and missing trailing axes as full slices
    (numpy's rule); too many indices are an IndexError."""
    if any(k is Ellipsis for k in key):
        at = next(n for n, k in enumerate(key) if k is Ellipsis)
        key = key[:at] + (slice(None),) * max(ndim - len(key) + 1, 0) + key[at + 1:]
    if len(key) > ndim:
        raise IndexError(f"too many indices: a {ndim}-D pair matrix, {len(key)} indices.")
    return key + (slice(None),) * (ndim - len(key))


def _broadcast_loci(rows, cols, p):
    """Two locus indices as integer arrays that broadcast as numpy's indexing does: integer
    arrays broadcast together, a slice against a 1-D array or a slice makes an outer block."""
    sliced = [isinstance(index, slice) for index in (rows, cols)]
    rows, cols = (np.arange(p)[index] if is_slice else np.arange(p)[_integers(index)]
                  for index, is_slice in zip((rows, cols), sliced, strict=True))
    if any(sliced) and max(rows.ndim, cols.ndim) > 1:
        raise IndexError("a slice with a multi-dimensional index array: index a "
                         "FactoredPairMatrix with integer arrays, np.ix_ or two slices.")
    if any(sliced) and rows.ndim == 1 and cols.ndim == 1:
        return rows[:, None], cols[None, :]
    return rows, cols


def _integers(index):
    """An index as an integer array (an empty list is no float array)."""
    index = np.asarray(index)
    return index.astype(np.intp) if index.size == 0 and index.dtype == float else index


def dense_pairs(matrix):
    """Pair matrices as a dense float64 ndarray: an ndarray as it is, a scipy sparse array
    densified, a sequence of matrices (one per trait) stacked, a
    :class:`FactoredPairMatrix` formed (:meth:`~FactoredPairMatrix.toarray`).

    Examples
    --------
    >>> import numpy as np
    >>> from scipy import sparse
    >>> from sklearn_elm._pairs import dense_pairs
    >>> dense_pairs([sparse.csr_array(np.eye(2)), np.zeros((2, 2))]).shape
    (2, 2, 2)
    """
    from scipy import sparse

    if isinstance(matrix, list | tuple):  # filled a matrix at a time: no second copy
        out = np.empty((len(matrix), *matrix[0].shape)) if len(matrix) else np.empty((0, 0, 0))
        for n, one in enumerate(matrix):
            out[n] = one.toarray() if sparse.issparse(one) else dense_pairs(one)
        return out
    if sparse.issparse(matrix):
        return np.asarray(matrix.todense(), dtype=np.float64)
    if isinstance(matrix, FactoredPairMatrix):
        return matrix.toarray()
    return np.asarray(matrix, dtype=np.float64)
