"""Least squares on the screened design in bounded memory.

The screened fit's design ``X`` (:class:`~._terms.Terms`) has up to ``m`` centred columns,
never held whole where it would be large: each product with it is a pass over the samples.
So the fits here work from the design's products, read once:

* a fit of a subset of the columns reads the subset's block of the Gram matrix ``X^T X``
  and of ``X^T [f, y]``, never the subset's columns, and its residual sum of squares is
  ``|y|^2 - 2 b^T X^T y + b^T X^T X b`` (a pass over the samples only where that leaves
  less than :data:`CANCELLED` of the size of its terms) (:func:`least_squares`);
* the inverse is made in one copy of the Gram matrix (:func:`~sklearn_elm._blas.ridged_inverse`);
* while pairs are screened the loci stay fixed: their Gram matrix is factored once, and
  what the loci and the pairs leave of a target is what the pairs leave of what the loci
  leave, from the pairs' products with the loci, ``O(n s t)`` for ``s`` loci and ``t``
  pairs, not ``O(n (s + t)^2)`` (:func:`locus_basis`, :func:`residual_with`).

Every function takes a :class:`~._terms.Terms` or an array as its design.  At the peak a
fit holds the Gram matrix, one subset's block and its inverse.
"""

import numpy as np
from scipy import linalg
from sklearn.utils import Bunch

from .._blas import ridged_inverse
from ._terms import Terms, gram_of

__all__ = ["CANCELLED", "RIDGE", "least_squares", "locus_basis", "residual_on",
           "residual_with"]

#: Ridge added to a Gram matrix's diagonal, relative to its mean: it keeps collinear
#: columns (complete linkage) solvable, their coefficients then shared.
RIDGE = 1e-10

#: Share of the terms it is the difference of (``|y|^2``, ``2 |b|^T |X^T y|`` and a bound
#: on ``|b|^T |G| |b|``) below which a residual sum of squares from the Gram matrix has lost
#: too many digits to cancellation, and is summed from the residual itself.
CANCELLED = 1e-8


def least_squares(X, Fc, Yc, gram=None, keep=None, products=None):
    """Least squares of ``f`` and ``y`` on the columns ``keep`` of ``X``.

    ``coef = (G + r I)^{-1} X^T [f, y]`` with ``G = X^T X`` over the kept columns and the
    relative ridge :data:`RIDGE`; the effective number of terms ``tr(G G^{-1})`` (the rank,
    where loci in complete linkage duplicate columns) and ``y``'s noise variance on the
    residual degrees of freedom.

    Parameters
    ----------
    X : ndarray of shape (n, m) or Terms
        Centred columns.
    Fc, Yc : ndarray of shape (n,)
        Centred targets.
    gram : ndarray of shape (m, m), default=None
        ``X^T X`` where already known (``O(n m^2)`` saved); computed otherwise.
    keep : ndarray of bool of shape (m,), default=None
        The columns to fit (all by default); the rest are left out, not copied out.
    products : ndarray of shape (m, 2), default=None
        ``X^T [Fc, Yc]`` where already known (a pass over the samples saved).

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
    G = gram_of(X) if gram is None else gram
    if products is None:
        products = X.T @ np.column_stack([Fc, Yc])
    if not keep.all():
        G = G[np.ix_(keep, keep)]
    G_inv = ridged_inverse(G, RIDGE)
    coef = G_inv @ products[keep]
    df = float(np.vdot(G, G_inv))
    b, squares, Xy = coef[:, 1], float(Yc @ Yc), products[keep, 1]
    left = squares - 2.0 * b @ Xy + b @ (G @ b)
    # the round-off of that difference is eps times its terms' size: |G_ij| <= sqrt(G_ii G_jj)
    size = squares + 2.0 * np.abs(b) @ np.abs(Xy) + (np.abs(b) @ np.sqrt(np.diag(G))) ** 2
    if left <= CANCELLED * size:
        full = np.zeros(m)
        full[keep] = b
        residual = Yc - X @ full
        left = float(residual @ residual)
    return Bunch(f=coef[:, 0], y=b, G=G, G_inv=G_inv, df=df, sigma2=left / (n - 1 - df))


def locus_basis(L, gram=None):
    """The loci's centred columns ``L`` (n, s) with the Cholesky factor of ``L^T L + r I``,
    for residuals on them (:func:`residual_on`) without refactoring.

    Parameters
    ----------
    L : ndarray of shape (n, s) or Terms
        The loci's centred columns.
    gram : ndarray of shape (s, s), default=None
        ``L^T L`` where already known (not changed).

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
    A = np.array(gram_of(L) if gram is None else gram, order="F")
    A[np.diag_indices(s)] += RIDGE * max(np.trace(A) / s, 1e-300)
    return Bunch(L=L, factor=linalg.cho_factor(A, lower=True, overwrite_a=True,
                                               check_finite=False))


def residual_on(basis, T):
    """``T`` (n,) or (n, q) less its least-squares fit on the loci of ``basis`` (two passes
    over the samples where they are :class:`~._terms.Terms`)."""
    if basis.factor is None:
        return T
    return T - basis.L @ linalg.cho_solve(basis.factor, basis.L.T @ T, check_finite=False)


def _cross(L, P, V):
    """``L^T P``, ``P^T P``, ``P^T V`` and ``L^T V``, in one pass where ``L`` is
    :class:`~._terms.Terms`."""
    if isinstance(L, Terms):
        return L.cross(P, V)
    P = P.columns() if isinstance(P, Terms) else P
    return Bunch(XC=L.T @ P, CC=P.T @ P, CV=P.T @ V, XV=L.T @ V)


def residual_with(basis, target_left, P):
    """What least squares on the loci and the columns ``P`` (n, t) leave of a target, given
    ``target_left``, what the loci leave of it: the residual of ``target_left`` on
    ``P``'s residuals on the loci (Frisch-Waugh-Lovell), from ``P``'s products with the
    loci, ``O(n s t)``; the residuals themselves are never formed.

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
    t = P.shape[1]
    if t == 0:
        return target_left
    c = _cross(basis.L, P, target_left)
    # P_perp^T P_perp and P_perp^T target_left, P_perp = P - L (L^T L + r I)^{-1} L^T P
    solved = (np.zeros((0, t)) if basis.factor is None
              else linalg.cho_solve(basis.factor, c.XC, check_finite=False))
    A = c.CC - c.XC.T @ solved
    rhs = c.CV - solved.T @ c.XV
    # the ridge relative to P's own squares: a column the loci explain has none left
    A[np.diag_indices(t)] += RIDGE * max(np.trace(c.CC) / t, 1e-300)
    try:
        sol = linalg.cho_solve(linalg.cho_factor(A, lower=True, check_finite=False), rhs,
                               check_finite=False)
    except linalg.LinAlgError:  # round-off made a column the loci explain negative
        sol = linalg.pinvh(A) @ rhs
    out = target_left - P @ sol
    if basis.factor is not None:
        out += basis.L @ (solved @ sol)
    return out
