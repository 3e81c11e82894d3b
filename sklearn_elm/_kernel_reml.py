"""REML of the two-kernel GBLUP model on n x n kernels: exact derivatives, Newton's method.

With more markers than a third of the samples the additive kernel ``K_A`` no
longer has a small factor, and both kernels are held as n x n matrices in the
eigenbasis of the epistatic one (see :func:`~sklearn_elm._reml.spectral_form`).
Each evaluation of the REML deviance is then one Cholesky factorisation of an
n x n matrix (``n^3 / 3`` flops); with its inverse and one matrix product
(about ``3 n^3`` flops in all) it also gives the exact gradient and Hessian
(:func:`kernel_reml_objective`).  A trust-region Newton iteration on the
variances (:func:`_newton_reml`) from the best point of a 5 x 5 grid of ratios
reaches the optimum in 2 to 11 such evaluations (about 5 on simulated panels
of 150 to 2,000 samples), so one fit costs ``O(n^3)``: at n = 2,000, 26
factorisations and about 5 evaluations with derivatives take a few seconds.

Why so: on the log variance ratios, where the Woodbury form works, the
deviance has flat tails (``f ~ f_0 + k theta`` as a ratio goes to 0, and
likewise as the residual does) and curved valleys, and Newton there needed
20 to 60 evaluations; the variances themselves make every boundary a face of
the box ``s2 >= 0``.  Starting instead from the one-kernel optimum, which the
eigenbasis of ``K_AA`` gives almost for free, missed the grid's basin on
simulated panels (a deviance up to 3e-4 higher, one component at 0 instead
of 0.2), so the grid stays: its points need the deviance only.
"""

import numpy as np
from scipy import linalg
from scipy.optimize import minimize

__all__ = ["kernel_reml_objective", "maximise_kernel_reml"]


def kernel_reml_objective(variances, eigvals, cross, rotated_y, *, derivatives=True,
                          constant=None):
    """REML deviance of the two-kernel model on n x n kernels, with its derivatives.

    ``V = s2_B K_B + s2_A K_A + s2_E I`` for ``variances = (s2_B, s2_A, s2_E)``.
    In the eigenbasis ``U`` (all n eigenvectors) of the epistatic kernel
    ``K_B = U diag(eigvals) U^T``, ``V = U M U^T`` with
    ``M = s2_B diag(eigvals) + s2_A C + s2_E I`` and ``C = U^T K_A U``.
    Both kernels annihilate the constant vector, an eigenvector of ``M`` with
    eigenvalue ``s2_E`` that the REML likelihood does not see, so minus twice
    the restricted log-likelihood is, up to a constant,

        f(s2) = log det(M) - log(s2_E) + c^T M^{-1} c,   c = U^T y.

    With ``G = M^{-1}`` (one Cholesky factorisation and its inverse),
    ``a = G c``, ``P_k = dM/ds2_k`` (``diag(eigvals)``, ``C``, ``I``) and
    ``X_k = G P_k``::

        df/ds2_k        = tr(X_k) - a^T P_k a  (- 1 / s2_E for k = E)
        d2f/ds2_k ds2_l = 2 a^T P_k G P_l a - tr(X_k X_l)  (+ 1 / s2_E^2 for k = l = E)

    ``X_B`` is ``G`` with scaled columns, ``X_E = G`` and ``X_A = G C`` one
    matrix product, so an evaluation costs about ``3 n^3`` flops with
    derivatives and ``n^3 / 3`` without.  Its minimum over ``s2 >= 0`` is
    that of the profiled deviance of :func:`reml_objective` at
    ``theta_k = s2_k / s2_E``.

    Parameters
    ----------
    variances : array-like of shape (3,)
        ``s2_B`` (epistatic kernel), ``s2_A`` (additive) and ``s2_E > 0``.
    eigvals : ndarray of shape (n,)
        All eigenvalues of ``K_B`` (zeros included).
    cross : ndarray of shape (n, n)
        ``C = U^T K_A U``.
    rotated_y : ndarray of shape (n,)
        ``c = U^T y`` for the centred target ``y``.
    derivatives : bool, default=True
        Whether to return the gradient and Hessian.
    constant : ndarray of shape (n,), default=None
        ``u = U^T 1 / sqrt(n)``, the constant direction in the eigenbasis.
        When given (with ``derivatives``), the traces
        ``T_kl = tr(P K_k P K_l)`` over the error contrasts, twice the
        expected information of the variances, are returned too: those of
        the Hessian with ``G`` projected off ``u``,
        ``P = (I - u u^T) G (I - u u^T)``, by rank-one updates of ``G``
        and ``X_A`` (:func:`_contrast_traces`), ``O(n^2)`` more.  The
        projection, rather than the ``1 / s2_E^2`` of ``G``'s eigenvalue
        along ``u`` subtracted from ``T_EE``, keeps the traces exact where
        ``s2_E`` is orders of magnitude below the other variances.

    Returns
    -------
    f : float
        The deviance.
    grad : ndarray of shape (3,)
        Its gradient (only with ``derivatives``).
    hess : ndarray of shape (3, 3)
        Its Hessian (only with ``derivatives``).
    traces : ndarray of shape (3, 3)
        ``T`` (only with ``constant``).

    Examples
    --------
    With ``K_B`` the centring projector (eigenvalues 0, 1, 1) and ``K_A = 0``,
    ``f = 2 log(s2_B + s2_E) + y^T y / (s2_B + s2_E)``, minimal where
    ``s2_B + s2_E = y^T y / 2 = 3``:

    >>> import numpy as np
    >>> from sklearn_elm._kernel_reml import kernel_reml_objective
    >>> eigvals, U = np.linalg.eigh(np.eye(3) - 1 / 3)
    >>> y = np.array([1.0, -2.0, 1.0])
    >>> f, grad, hess = kernel_reml_objective(
    ...     [2.0, 0.0, 1.0], np.clip(eigvals, 0, None), np.zeros((3, 3)), U.T @ y)
    >>> bool(np.isclose(f, 2 * np.log(3.0) + y @ y / 3))
    True
    >>> bool(np.allclose(grad[[0, 2]], 0.0))
    True
    """
    lam, C, c = eigvals, cross, rotated_y
    s2 = np.asarray(variances, dtype=float)
    M = s2[1] * C
    M[np.diag_indices_from(M)] += s2[0] * lam + s2[2]
    chol = linalg.cho_factor(M, lower=True, overwrite_a=True, check_finite=False)
    a = linalg.cho_solve(chol, c, check_finite=False)
    f = 2.0 * np.sum(np.log(np.diag(chol[0]))) - np.log(s2[2]) + c @ a
    if not derivatives:
        return f
    pa = np.stack([lam * a, C @ a, a])  # P_k a
    q2 = pa @ linalg.cho_solve(chol, pa.T, check_finite=False)  # a^T P_k G P_l a
    G = linalg.lapack.dpotri(chol[0], lower=1, overwrite_c=1)[0]
    G = np.tril(G)
    G += np.tril(G, -1).T
    X = [G * lam, G @ C, G]
    tr2 = np.array([[np.vdot(X_k, X_l.T) for X_l in X] for X_k in X])
    grad = np.array([np.trace(X_k) for X_k in X]) - pa @ a
    hess = 2.0 * q2 - tr2
    grad[2] -= 1.0 / s2[2]
    hess[2, 2] += 1.0 / s2[2] ** 2
    if constant is None:
        return f, grad, hess
    return f, grad, hess, _contrast_traces(G, X[1], C, lam, constant)


def _contrast_traces(G, GC, C, lam, u):
    """``T_kl = tr(P P_k P P_l)`` with ``P = Pi G Pi``, ``Pi = I - u u^T``.

    ``P = G - u w^T - v u^T`` with ``w = G u`` and ``v = w - (u^T w) u`` (two
    rank-one updates, made in place on ``G``, and on ``GC`` for
    ``Y = P C``).  With ``Q = P o P`` (elementwise) and ``P`` symmetric,
    ``T_EE = sum Q``, ``T_BE = 1^T Q lam``, ``T_BB = lam^T Q lam``,
    ``T_AE = sum Y o P``, ``T_AB = lam^T (Y o P) 1`` and ``T_AA = tr(Y Y)``:
    a few passes over n x n arrays.
    """
    w = G @ u
    v = w - (u @ w) * u
    GC -= u[:, None] * (C @ w)
    GC -= v[:, None] * (C @ u)
    G -= u[:, None] * w
    G -= v[:, None] * u
    Q = np.multiply(G, G)
    q_lam = Q @ lam
    t_ee, t_be, t_bb = Q.sum(), q_lam.sum(), lam @ q_lam
    np.multiply(GC, G, out=Q)
    t_ae, t_ab = Q.sum(), lam @ Q.sum(axis=1)
    t_aa = np.vdot(GC, GC.T)
    return np.array([[t_bb, t_ab, t_be], [t_ab, t_aa, t_ae], [t_be, t_ae, t_ee]])


def _newton_reml(fun, x0, bounds, *, radius=0.25, max_iter=100):
    """Minimise ``fun`` over a box by trust-region Newton steps.

    ``fun(x)`` returns ``(f, grad, hess)``.  A coordinate at a bound whose
    gradient points out of the box is held there; the step on the others
    minimises the quadratic model within the trust radius
    (:func:`_trust_region_step`).  A coordinate that this step would carry
    out of the box is set on its bound and the step of the others solved
    again with it held there, so that a move along a valley is not cut off
    in one coordinate only.  The radius shrinks when ``f`` falls by less than
    a quarter of the predicted fall and grows when the model predicts well.
    It stops when a full Newton step would lower ``f`` by less than
    ``1e-14 |f|`` (the Newton decrement ``g^T |H|^{-1} g / 2``, scale-free,
    where a gradient test depends on the units).  Returns
    ``(x, f, converged)``; ``converged`` is False when the iteration limit
    stopped it.
    """
    lo, hi = bounds

    def held_at_bound(x, g):
        return ((x <= lo) & (g > 0)) | ((x >= hi) & (g < 0))

    x = np.clip(np.asarray(x0, dtype=float), lo, hi)
    f, g, H = fun(x)
    for _ in range(max_iter):
        held = held_at_bound(x, g)
        if held.all():
            return x, f, True
        w, Q = np.linalg.eigh(H[np.ix_(~held, ~held)])
        curvature = np.maximum(np.abs(w), 1e-12 * np.abs(w).max() + 1e-300)
        decrement = 0.5 * np.sum((Q.T @ g[~held]) ** 2 / curvature)
        if decrement < 1e-14 * max(1.0, abs(f)):
            return x, f, True
        s = np.zeros_like(x)
        while not held.all():
            free = ~held
            g_free = g[free] + H[np.ix_(free, held)] @ s[held]
            s[free] = _trust_region_step(g_free, H[np.ix_(free, free)], radius)
            out = free & ((x + s < lo) | (x + s > hi))
            if not out.any():
                break
            s[out] = np.clip(x + s, lo, hi)[out] - x[out]
            held |= out
        predicted = g @ s + 0.5 * s @ H @ s
        new = fun(x + s)
        ratio = (new[0] - f) / predicted if predicted < 0 else -1.0
        if ratio < 0.25:
            radius = 0.25 * np.linalg.norm(s)
        elif ratio > 0.75 and np.linalg.norm(s) > 0.9 * radius:
            radius *= 2.0
        # within the round-off of f, a step that flattens the projected gradient is taken too
        flatter = (np.linalg.norm(np.where(held_at_bound(x + s, new[1]), 0.0, new[1]))
                   < np.linalg.norm(np.where(held_at_bound(x, g), 0.0, g)))
        if new[0] < f or (new[0] <= f + 1e-13 * abs(f) and flatter):
            x, (f, g, H) = x + s, new
        elif np.linalg.norm(s) < 1e-15 * max(1.0, np.linalg.norm(x)):
            return x, f, True
    return x, f, False


def _trust_region_step(g, H, radius):
    """The step ``d`` minimising ``g^T d + d^T H d / 2`` with ``|d| <= radius`` (nearly).

    ``(H + mu I) d = -g`` with the smallest ``mu >= 0`` that makes
    ``H + mu I`` positive definite and ``d`` short enough (bisection on
    ``mu``), so a saddle or a concave region is left downhill.
    """
    w, Q = np.linalg.eigh(H)
    gq = Q.T @ g
    low = max(0.0, -w[0]) + 1e-12 * max(1.0, np.abs(w).max())
    mu = low
    if np.linalg.norm(gq / (w + low)) > radius:
        high = low + np.linalg.norm(gq) / radius
        for _ in range(100):
            mu = 0.5 * (low + high)
            low, high = (mu, high) if np.linalg.norm(gq / (w + mu)) > radius else (low, mu)
        mu = high
    return -Q @ (gq / (w + mu))


def maximise_kernel_reml(eigvals, cross, rotated_y, df, log_theta_grid, constant):
    """REML variance ratios of the two-kernel model on n x n kernels.

    Minimises :func:`kernel_reml_objective` over the variances themselves
    (``y`` scaled to unit variance), a box ``s2_k >= 0`` on which
    :func:`_newton_reml` runs, with ``s2_E >= 1e-8`` (the ratios
    ``s2_k / s2_E`` bounded by about ``1e8``).  Newton starts from the best
    point of the grid ``log_theta_grid`` x ``log_theta_grid`` of log ratios,
    evaluated for the profiled deviance alone (one Cholesky factorisation
    each): the grid guards against starting in the wrong basin of a
    likelihood that can be multimodal.  Should Newton stop short, L-BFGS-B
    takes over from where it stopped.  The traces ``tr(P K_k P K_l)`` of the
    expected information at the optimum are those of Newton's last
    evaluation there (one more evaluation where L-BFGS-B moved it).

    Parameters
    ----------
    eigvals : ndarray of shape (n,)
        All eigenvalues of the epistatic kernel ``K_B = U diag(eigvals) U^T``.
    cross : ndarray of shape (n, n)
        ``C = U^T K_A U``.
    rotated_y : ndarray of shape (n,)
        ``U^T y`` for the centred target ``y``.
    df : int
        Residual degrees of freedom, ``n_samples - 1``.
    log_theta_grid : ndarray of shape (g,)
        Log variance ratios ``log(s2_k / s2_E)`` of the start grid.
    constant : ndarray of shape (n,)
        ``U^T 1 / sqrt(n)``, for the traces (:func:`kernel_reml_objective`).

    Returns
    -------
    theta : ndarray of shape (2,)
        ``(s2_B / s2_E, s2_A / s2_E)`` at the optimum.
    deviance : float
        The profiled deviance ``df log(Q) + log det(V)`` there, as
        :func:`~sklearn_elm._reml.reml_objective` defines it.
    traces : ndarray of shape (3, 3)
        ``tr(P K_k P K_l) s2_E^2`` over ``(B, A, E)`` there: the traces of
        :func:`kernel_reml_objective` at ``s2_E = 1``, as
        :func:`~sklearn_elm._reml_se.spectral_traces` gives them.

    Examples
    --------
    ``y`` drawn with ``s2_B = 0`` and ``s2_A = s2_E``:

    >>> import numpy as np
    >>> from sklearn_elm._kernel_reml import maximise_kernel_reml
    >>> rng = np.random.default_rng(1)
    >>> n = 200
    >>> Z = rng.standard_normal((n, 400))
    >>> Z -= Z.mean(axis=0)
    >>> K_a = Z @ Z.T / 400
    >>> K_b = K_a**2
    >>> K_b -= K_b.mean(axis=0) + K_b.mean(axis=1)[:, None] - K_b.mean()
    >>> eigvals, U = np.linalg.eigh(K_b / np.trace(K_b) * n)
    >>> y = Z @ rng.standard_normal(400) / 20 + rng.standard_normal(n)
    >>> theta, dev, traces = maximise_kernel_reml(
    ...     np.clip(eigvals, 0, None), U.T @ K_a @ U, U.T @ (y - y.mean()), n - 1,
    ...     np.log(10.0 ** np.arange(-3.0, 3.1, 1.5)), U.T @ np.ones(n) / np.sqrt(n))
    >>> theta.round(2)
    array([0.  , 1.79])
    """
    C = cross
    c = rotated_y / np.sqrt(rotated_y @ rotated_y / df)
    traces = {}  # the traces at every point evaluated with derivatives, at s2_E = 1

    def fun(s2, derivatives=True):
        if not derivatives:
            return kernel_reml_objective(s2, eigvals, C, c, derivatives=False)
        f, grad, hess, T = kernel_reml_objective(s2, eigvals, C, c, constant=constant)
        traces[np.asarray(s2, dtype=float).tobytes()] = T * s2[2] ** 2
        return f, grad, hess

    grid = np.exp(np.stack(np.meshgrid(log_theta_grid, log_theta_grid), -1).reshape(-1, 2))
    values = [_profiled_deviance(t, eigvals, C, c, df) for t in grid]
    best = np.argmin([dev for dev, _ in values])
    theta, s2_e = grid[best], values[best][1] / df
    bounds = (np.array([0.0, 0.0, 1e-8]), np.full(3, np.inf))
    s2, f, converged = _newton_reml(fun, [*(theta * s2_e), s2_e], bounds)
    if not converged:
        res = minimize(lambda s: fun(s)[:2], s2, jac=True, method="L-BFGS-B",
                       bounds=list(zip(*bounds, strict=True)),
                       options={"ftol": 1e-12, "gtol": 1e-7, "maxiter": 500})
        if res.fun < f:
            s2 = res.x
    theta = s2[:2] / s2[2]
    T = traces.get(np.asarray(s2, dtype=float).tobytes())
    if T is None:
        T = kernel_reml_objective([*theta, 1.0], eigvals, C, c, constant=constant)[3]
    return theta, _profiled_deviance(theta, eigvals, C, rotated_y, df)[0], T


def _profiled_deviance(theta, eigvals, C, c, df):
    """``f`` of :func:`reml_objective` at ``theta`` and ``Q``, from one Cholesky factorisation."""
    M = theta[1] * C
    M[np.diag_indices_from(M)] += theta[0] * eigvals + 1.0
    chol = linalg.cho_factor(M, lower=True, overwrite_a=True, check_finite=False)
    q_form = c @ linalg.cho_solve(chol, c, check_finite=False)
    return df * np.log(q_form) + 2.0 * np.sum(np.log(np.diag(chol[0]))), q_form
