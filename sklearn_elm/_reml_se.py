"""Standard errors of the GBLUP variance components from REML's expected information.

The variance parameters ``sigma = (s2_B, [s2_A,] s2_E)`` of
``V = sum_k s2_k K_k + s2_E I`` have the expected (Fisher) information of the
restricted likelihood of the ``n - 1`` error contrasts

    I_kl = tr(P K_k P K_l) / 2,   K_E = I,

with ``P`` the REML projection (``V^{-1}`` on the complement of the intercept,
which both kernels annihilate).  Its inverse is the asymptotic covariance of
the REML estimates, carried to every component by the delta method
(:func:`component_standard_errors`).

The traces are read off the eigenbasis that the fit already holds
(:func:`spectral_traces`): with one kernel, ``P`` is diagonal there, ``O(r)``
for ``r`` eigenvalues; with a second kernel ``W W^T`` of ``q`` features (the
Woodbury form of :func:`~sklearn_elm._reml.reml_objective`), every trace is one
of q x q matrices, ``O(r q^2 + q^3)``, the cost of one likelihood evaluation.
On n x n kernels (:mod:`sklearn_elm._kernel_reml`) the traces are those of the
last Newton step's exact Hessian, at no extra cost.  No path reads the markers
again.
"""

import numpy as np
from scipy import linalg
from sklearn.utils import Bunch

from ._blas import self_product
from ._components import COMPONENTS

__all__ = ["component_standard_errors", "spectral_traces", "variance_covariance"]

#: Smallest eigenvalue of the information, relative to its largest once the
#: diagonal is scaled to 1, below which it is treated as singular.
_SINGULAR = 1e-10


def spectral_traces(theta, eigvals, df, cross=None, gram=None):
    """``T_kl = tr(P~ K_k P~ K_l)`` at the variance ratios ``theta`` (``s2_E = 1``).

    With ``h = 1 + theta_B eigvals`` and ``P~ = s2_E P`` (the projection of
    ``V / s2_E``), one kernel ``K_B = U diag(eigvals) U^T`` gives

        T_BB = sum (eigvals / h)^2,  T_BE = sum eigvals / h^2,
        T_EE = (df - r) + sum 1 / h^2

    (the ``df - r`` contrasts outside the kernel's range have ``h = 1``).  A
    second kernel ``K_A = W W^T`` enters through ``A = U^T W``,
    ``N_j = W^T H^{-j} W`` and ``S = I + theta_A N_1``:
    ``P~ W = H^{-1} W S^{-1}`` and ``W^T P~ W = S^{-1} N_1``, so that with
    ``J_1 = A^T diag(eigvals / h^2) A``, ``J_2 = A^T diag(eigvals^2 / h^3) A``
    and ``J_3 = A^T diag(eigvals / h^3) A``::

        T_AA = tr((S^-1 N_1)^2)          T_AB = tr(S^-2 J_1)
        T_AE = tr(S^-2 N_2)
        T_BB = sum (eigvals / h)^2 - 2 theta_A tr(S^-1 J_2) + theta_A^2 tr((S^-1 J_1)^2)
        T_BE = sum eigvals / h^2 - 2 theta_A tr(S^-1 J_3) + theta_A^2 tr(S^-1 N_2 S^-1 J_1)
        T_EE = (df - r) + sum 1 / h^2 - 2 theta_A tr(S^-1 N_3) + theta_A^2 tr((S^-1 N_2)^2)

    every one a trace of q x q matrices, ``O(r q^2 + q^3)`` in all.  In the
    units of the variances, ``tr(P K_k P K_l) = T_kl / s2_E^2``.

    Parameters
    ----------
    theta : array-like of shape (1,) or (2,)
        ``theta_B = s2_B / s2_E`` and, with a second kernel, ``theta_A``.
    eigvals : ndarray of shape (r,)
        Non-zero eigenvalues of ``K_B``, whose eigenvectors are orthogonal to
        the constant vector.
    df : int
        Number of error contrasts, ``n_samples - 1``.
    cross : ndarray of shape (r, q), default=None
        ``U^T W`` for the second kernel; None for one kernel.
    gram : ndarray of shape (q, q), default=None
        ``W^T W``, with ``W`` centred over the samples.

    Returns
    -------
    traces : ndarray of shape (2, 2) or (3, 3)
        ``T`` over ``(B, E)`` or ``(B, A, E)``.

    Examples
    --------
    A kernel with one eigenvalue 2 among 3 contrasts, at ``theta_B = 1``
    (``h = 3``): ``T_BB = (2/3)^2``, ``T_BE = 2/9``, ``T_EE = 1/9 + 2``:

    >>> import numpy as np
    >>> from sklearn_elm._reml_se import spectral_traces
    >>> T = spectral_traces([1.0], np.array([2.0]), 3)
    >>> bool(np.allclose(T, [[4 / 9, 2 / 9], [2 / 9, 1 / 9 + 2]]))
    True
    """
    lam = np.asarray(eigvals, dtype=float)
    h = 1.0 + theta[0] * lam
    t_bb, t_be = np.sum((lam / h) ** 2), np.sum(lam / h**2)
    # the contrasts outside the kernel's range contribute 1 each (a sum of 1 - 1/h^2
    # subtracted from df would lose every digit where theta_B is large)
    t_ee = (df - lam.size) + np.sum(1.0 / h**2)
    if cross is None:
        return np.array([[t_bb, t_be], [t_be, t_ee]])
    theta_a, A = theta[1], cross

    def sandwich(weights):  # A^T diag(weights) A
        return A.T @ (weights[:, None] * A)

    # N_j = W^T (I - U U^T) W + A^T diag(h^-j) A: the first term is exactly 0 where U
    # spans every contrast, and as a difference it would swamp the second at large h
    outside = np.zeros_like(gram) if lam.size >= df else gram - self_product(A.T)
    N1, N2, N3 = (outside + sandwich(h**-j) for j in (1, 2, 3))
    J1, J2, J3 = sandwich(lam / h**2), sandwich(lam**2 / h**3), sandwich(lam / h**3)
    S = theta_a * N1
    S[np.diag_indices_from(S)] += 1.0
    chol = linalg.cho_factor(S, lower=True, check_finite=False)
    SN1, SN2, SJ1, SJ2, SJ3, SN3 = (linalg.cho_solve(chol, M, check_finite=False)
                                    for M in (N1, N2, J1, J2, J3, N3))
    S_inv = linalg.cho_solve(chol, np.eye(len(S)), check_finite=False)

    def tr_prod(X, Y):  # tr(X Y)
        return np.sum(X * Y.T)

    t_aa = tr_prod(SN1, SN1)
    t_ab = tr_prod(S_inv, SJ1)
    t_ae = tr_prod(S_inv, SN2)
    t_bb += -2.0 * theta_a * np.trace(SJ2) + theta_a**2 * tr_prod(SJ1, SJ1)
    t_be += -2.0 * theta_a * np.trace(SJ3) + theta_a**2 * tr_prod(SN2, SJ1)
    t_ee += -2.0 * theta_a * np.trace(SN3) + theta_a**2 * tr_prod(SN2, SN2)
    return np.array([[t_bb, t_ab, t_be], [t_ab, t_aa, t_ae], [t_be, t_ae, t_ee]])


def variance_covariance(traces, s2_e, epistatic):
    """Asymptotic covariance of the REML estimates of ``(V_A, V_AA, V_E)``.

    The inverse of the expected information ``I = T / (2 s2_E^2)``.  ``T`` is
    ordered as the fit's variance ratios: ``(A, E)`` for the additive model,
    ``(AA, A, E)`` for the epistatic one.  ``V_AA`` of the additive model is
    not estimated: its row and column are 0 (a constant in the delta method).
    Where ``I``, its diagonal scaled to 1, has an eigenvalue below ``1e-10``
    of its largest (kernels that the data cannot tell apart from each other or
    from the identity, or a ratio on its search bound that leaves ``s2_E`` or
    a kernel's variance undetermined), the covariance is NaN.

    Parameters
    ----------
    traces : ndarray of shape (2, 2) or (3, 3)
        ``T_kl = tr(P~ K_k P~ K_l)`` (:func:`spectral_traces`).
    s2_e : float
        The REML residual variance.
    epistatic : bool
        Whether ``traces`` is over ``(AA, A, E)``.

    Returns
    -------
    covariance : ndarray of shape (3, 3)
        Over ``(V_A, V_AA, V_E)``.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_elm._reml_se import variance_covariance
    >>> cov = variance_covariance(np.array([[2.0, 0.0], [0.0, 8.0]]), 1.0, False)
    >>> np.diag(cov)
    array([1.  , 0.  , 0.25])
    >>> bool(np.isnan(variance_covariance(np.ones((2, 2)), 1.0, False)).all())
    True
    """
    info = np.asarray(traces, dtype=float) / (2.0 * s2_e**2)
    scale = np.sqrt(np.diag(info))
    covariance = np.full((3, 3), np.nan)
    if not (np.all(np.isfinite(info)) and np.all(scale > 0)):
        return covariance
    R = info / np.outer(scale, scale)
    w, Q = np.linalg.eigh(R)
    if not w[0] > _SINGULAR * w[-1]:
        return covariance
    inverse = (Q / w) @ Q.T / np.outer(scale, scale)
    order = [1, 0, 2] if epistatic else [0, None, 1]  # rows of (V_A, V_AA, V_E) in T
    for i, ki in enumerate(order):
        for j, kj in enumerate(order):
            covariance[i, j] = 0.0 if ki is None or kj is None else inverse[ki, kj]
    return covariance


def component_standard_errors(components, covariance, epistatic):
    """Delta-method standard errors of every component, the keys of ``components_bunch``.

    With ``V_P = V_A + V_AA + V_E``, the gradients over ``(V_A, V_AA, V_E)``
    are ``(1, 1, 0)`` for ``V_G``, ``(1, 1, 1)`` for ``V_P``,
    ``((1 - h2), -h2, -h2) / V_P`` for ``h2 = V_A / V_P`` and
    ``((1 - H2), (1 - H2), -H2) / V_P`` for ``H2 = V_G / V_P``; the variance
    of each is ``g^T Sigma g`` with the full covariance ``Sigma``, so that
    the ratios carry the covariance of numerator and denominator.
    ``epistatic`` for the additive model and ``higher`` (0 by construction:
    the kernels hold no higher-order term) are not estimated: NaN.

    Parameters
    ----------
    components : ndarray of shape (n_outputs, 3)
        ``(V_A, V_AA, V_E)`` per output.
    covariance : ndarray of shape (n_outputs, 3, 3)
        Their covariance (:func:`variance_covariance`).
    epistatic : bool
        Whether ``V_AA`` was estimated.

    Returns
    -------
    se : Bunch
        ``additive``, ``epistatic``, ``higher``, ``genetic``, ``residual``,
        ``phenotypic``, ``h2`` and ``H2``, each an ndarray of shape (n_outputs,).

    Examples
    --------
    Independent ``V_A`` and ``V_E`` of variance 0.01 each, at ``V_A = V_E = 1``:
    ``h2 = 1/2`` has gradient ``(1/4, -1/4)``, hence SE ``sqrt(2 * 0.01 / 16)``:

    >>> import numpy as np
    >>> from sklearn_elm._reml_se import component_standard_errors
    >>> cov = np.diag([0.01, 0.0, 0.01])[None]
    >>> se = component_standard_errors(np.array([[1.0, 0.0, 1.0]]), cov, False)
    >>> bool(np.isclose(se.h2[0], np.sqrt(0.02) / 4)), bool(np.isnan(se.epistatic[0]))
    (True, True)
    """
    v_a, v_aa, v_e = np.asarray(components, dtype=float).T
    v_g = v_a + v_aa
    v_p = v_g + v_e
    h2, big_h2 = v_a / v_p, v_g / v_p
    ones, zeros = np.ones_like(v_a), np.zeros_like(v_a)
    gradients = {
        "additive": (ones, zeros, zeros),
        "epistatic": (zeros, ones, zeros),
        "genetic": (ones, ones, zeros),
        "residual": (zeros, zeros, ones),
        "phenotypic": (ones, ones, ones),
        "h2": ((1.0 - h2) / v_p, -h2 / v_p, -h2 / v_p),
        "H2": ((1.0 - big_h2) / v_p, (1.0 - big_h2) / v_p, -big_h2 / v_p),
    }
    se = Bunch()
    for key in COMPONENTS:
        if key == "higher" or (key == "epistatic" and not epistatic):
            se[key] = np.full_like(v_a, np.nan)
            continue
        g = np.stack(gradients[key], axis=-1)  # (n_outputs, 3)
        variance = np.einsum("oi,oij,oj->o", g, covariance, g)
        se[key] = np.sqrt(np.clip(variance, 0.0, None))
    return se
