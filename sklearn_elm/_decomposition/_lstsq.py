"""Least squares on the screened design in bounded memory.

The screened fit's design ``X`` has up to ``m = n / 2`` centred columns (float64: 1.6 GB at
``n = 20,000``), its Gram matrix ``X^T X`` ``m^2`` numbers (0.8 GB at ``m = 10,000``).  Each
is made once and never copied whole:

* the design is Fortran-ordered, and terms are dropped by moving the kept columns forward
  in its own memory (:func:`compact_columns`);
* a fit of a subset of the columns reads the subset's block of the Gram matrix, computed
  once, and the design's products with its targets, never a copy of the subset's columns
  (:func:`least_squares`);
* the inverse is made in one copy of the Gram matrix (:func:`~sklearn_elm._blas.ridged_inverse`);
* while pairs are screened the loci stay fixed: their Gram matrix is factored once, and
  what the loci and the pairs leave of a target is what the pairs leave of what the loci
  leave, ``O(n s t)`` for ``s`` loci and ``t`` pairs, not ``O(n (s + t)^2)``
  (:func:`locus_basis`, :func:`residual_with`).

At the peak a fit holds the design, the Gram matrix, and one subset's block and inverse.
"""

import numpy as np
from scipy import linalg
from sklearn.utils import Bunch

from .._blas import ridged_inverse

__all__ = ["RIDGE", "append_columns", "compact_columns", "least_squares", "locus_basis",
           "residual_on", "residual_with"]

#: Ridge added to a Gram matrix's diagonal, relative to its mean: it keeps collinear
#: columns (complete linkage) solvable, their coefficients then shared.
RIDGE = 1e-10


def compact_columns(X, keep):
    """The columns ``keep`` of ``X``, moved forward in a Fortran-ordered ``X``'s own memory.

    Parameters
    ----------
    X : ndarray of shape (n, m)
        Overwritten where Fortran-ordered (copied otherwise).
    keep : ndarray of bool of shape (m,)

    Returns
    -------
    X_kept : ndarray of shape (n, keep.sum())
        A view of ``X``'s first columns.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_elm._decomposition._lstsq import compact_columns
    >>> X = np.asfortranarray(np.arange(8.0).reshape(2, 4))
    >>> compact_columns(X, np.array([True, False, True, True]))
    array([[0., 2., 3.],
           [4., 6., 7.]])
    """
    kept = np.flatnonzero(keep)
    if not X.flags.f_contiguous:
        return X[:, kept]
    for to, column in enumerate(kept):  # to <= column: nothing is overwritten before read
        if to != column:
            X[:, to] = X[:, column]
    return X[:, : kept.size]


def append_columns(X, columns):
    """``X`` with ``columns`` after its last: written into the room left after a
    Fortran-ordered ``X`` in the array whose first columns it is (after
    :func:`compact_columns`), else a new array.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_elm._decomposition._lstsq import append_columns, compact_columns
    >>> X = compact_columns(np.zeros((2, 3), order="F"), np.array([True, False, False]))
    >>> wider = append_columns(X, np.ones((2, 2)))
    >>> wider.shape, np.shares_memory(wider, X)
    ((2, 3), True)
    """
    base, (n, m), added = X.base, X.shape, columns.shape[1]
    if (X.flags.f_contiguous and isinstance(base, np.ndarray) and base.ndim == 2
            and base.flags.f_contiguous and base.shape[0] == n and base.dtype == X.dtype
            and base.ctypes.data == X.ctypes.data and base.shape[1] >= m + added):
        base[:, m : m + added] = columns
        return base[:, : m + added]
    return np.asfortranarray(np.hstack([X, columns]))


def least_squares(X, Fc, Yc, gram=None, keep=None):
    """Least squares of ``f`` and ``y`` on the columns ``keep`` of ``X``.

    ``coef = (G + r I)^{-1} X^T [f, y]`` with ``G = X^T X`` over the kept columns and the
    relative ridge :data:`RIDGE`; the effective number of terms ``tr(G G^{-1})`` (the rank,
    where loci in complete linkage duplicate columns) and ``y``'s noise variance on the
    residual degrees of freedom.

    Parameters
    ----------
    X : ndarray of shape (n, m)
        Centred columns.
    Fc, Yc : ndarray of shape (n,)
        Centred targets.
    gram : ndarray of shape (m, m), default=None
        ``X^T X`` where already known (``O(n m^2)`` saved); computed otherwise.
    keep : ndarray of bool of shape (m,), default=None
        The columns to fit (all by default); the rest are left out, not copied out.

    Returns
    -------
    fit : Bunch
        ``f`` and ``y`` (coefficients of the kept columns), ``G`` (their Gram matrix, a
        view of ``gram`` where every column is kept), ``G_inv``, ``df`` and ``sigma2``.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_elm._decomposition._lstsq import least_squares
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(200, 3))
    >>> y = X @ [1.0, 0.0, -2.0] + 0.1 * rng.normal(size=200)
    >>> fit = least_squares(X, y, y, keep=np.array([True, False, True]))
    >>> np.round(fit.y, 2), round(fit.df, 6)
    (array([ 0.99, -1.99]), 2.0)
    """
    n, m = X.shape
    keep = np.ones(m, dtype=bool) if keep is None else np.asarray(keep, dtype=bool)
    G = X.T @ X if gram is None else gram
    if not keep.all():
        G = G[np.ix_(keep, keep)]
    G_inv = ridged_inverse(G, RIDGE)
    coef = G_inv @ (X.T @ np.column_stack([Fc, Yc]))[keep]
    df = float(np.vdot(G, G_inv))
    full = np.zeros(m)
    full[keep] = coef[:, 1]
    left = Yc - X @ full
    return Bunch(f=coef[:, 0], y=coef[:, 1], G=G, G_inv=G_inv, df=df,
                 sigma2=left @ left / (n - 1 - df))


def locus_basis(L):
    """The loci's centred columns ``L`` (n, s) with the Cholesky factor of ``L^T L + r I``,
    for residuals on them (:func:`residual_on`) without refactoring.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_elm._decomposition._lstsq import locus_basis, residual_on
    >>> L = np.array([[1.0], [-1.0], [0.0]])
    >>> residual_on(locus_basis(L), np.array([2.0, 0.0, 1.0]))
    array([1., 1., 1.])
    """
    s = L.shape[1]
    if s == 0:
        return Bunch(L=L, factor=None)
    A = L.T @ L
    A[np.diag_indices(s)] += RIDGE * max(np.trace(A) / s, 1e-300)
    return Bunch(L=L, factor=linalg.cho_factor(A, lower=True, overwrite_a=True,
                                               check_finite=False))


def residual_on(basis, T):
    """``T`` (n,) or (n, q) less its least-squares fit on the loci of ``basis``."""
    if basis.factor is None:
        return T
    return T - basis.L @ linalg.cho_solve(basis.factor, basis.L.T @ T, check_finite=False)


def residual_with(basis, target_left, P):
    """What least squares on the loci and the columns ``P`` (n, t) leave of a target, given
    ``target_left``, what the loci leave of it: the residual of ``target_left`` on
    ``P``'s residuals on the loci (Frisch-Waugh-Lovell), ``O(n s t)``.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_elm._decomposition._lstsq import (locus_basis, residual_on,
    ...                                                residual_with)
    >>> rng = np.random.default_rng(0)
    >>> L, P, y = rng.normal(size=(50, 3)), rng.normal(size=(50, 2)), rng.normal(size=50)
    >>> basis = locus_basis(L)
    >>> both = np.hstack([L, P])
    >>> direct = y - both @ np.linalg.lstsq(both, y, rcond=None)[0]
    >>> bool(np.allclose(residual_with(basis, residual_on(basis, y), P), direct))
    True
    """
    if P.shape[1] == 0:
        return target_left
    P_left = residual_on(basis, P)
    A = P_left.T @ P_left
    # the ridge relative to P's own squares: a column the loci explain has none left
    A[np.diag_indices_from(A)] += RIDGE * max(np.einsum("ij,ij->", P, P) / P.shape[1], 1e-300)
    factor = linalg.cho_factor(A, lower=True, overwrite_a=True, check_finite=False)
    return target_left - P_left @ linalg.cho_solve(factor, P_left.T @ target_left,
                                                   check_finite=False)
