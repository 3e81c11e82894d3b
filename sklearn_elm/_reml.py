"""REML for the GBLUP baselines: the likelihood, its maximisation and the BLUP solution.

One eigendecomposition per fit (:func:`spectral_form`) serves every REML
iteration: a kernel ``K = W W^T`` has the spectrum of ``W^T W``, so the
likelihood is evaluated in the smaller of the two eigenbases.  A second
kernel with few features (the additive one, ``p <= n / 3`` markers for ``n``
samples) enters through a p x p Schur complement (Woodbury identity,
:func:`reml_objective`, ``O(n p^2)`` per evaluation).

With more markers, the two kernels are n x n matrices: ``Z Z^T`` in
``O(n^2 p)`` (one BLAS product) gives ``K_A`` and ``K_AA``; one
eigendecomposition of ``K_AA`` and the rotation of ``K_A`` into its
eigenbasis cost ``O(n^3)``; the REML optimum takes about 25 Cholesky
factorisations and 2 to 11 evaluations with exact derivatives, each
``O(n^3)`` (:mod:`sklearn_elm._kernel_reml`); the marker effects cost
``O(n p)`` and the p x p pairwise matrix ``O(n p^2)``.  A fit with the
epistatic kernel and ``p > n / 3`` markers costs ``O(n^2 p + n p^2 + n^3)``
time and ``O(n^2 + n p + p^2)`` memory in all; at n = 2,000 and p = 12,000
the pairwise matrix (``n p^2 / 2`` multiply-adds, 1.2 GB) dominates.

The markers may be a dask array (:mod:`sklearn_elm._kernels`): every product
with them (the Gram matrices, ``U^T W``, ``W^T y``, the back-solves
``Z^T alpha`` and ``Z^T diag(w) Z``) is then computed by dask, a sum over
chunks, and the REML itself runs in memory on the n x n or p x p results.

Each output's fit also gives the covariance of its variance estimates, the
inverse of REML's expected information, from the same eigenbasis
(:mod:`sklearn_elm._reml_se`): ``O(r)`` with one kernel, ``O(r p^2 + p^3)``
in the Woodbury form, and from the Newton steps' Hessians on n x n kernels.
"""

import numpy as np
from scipy import linalg
from scipy.optimize import minimize, root
from sklearn.utils import Bunch
from threadpoolctl import threadpool_limits

from ._inputs import is_dask
from ._kernel_reml import maximise_kernel_reml
from ._kernels import computed, epistatic_kernel, gram, mirror_lower, pairwise_features
from ._reml_se import spectral_traces, variance_covariance

__all__ = ["fit_output", "reml_objective", "spectral_form"]

# Search range of the variance ratios s2_k / s2_E; kernels have mean diagonal 1, so 1e-8
# means "no variance" and 1e8 "no noise" for any phenotype scale.
_LOG_THETA_BOUNDS = (np.log(1e-8), np.log(1e8))
_LOG_THETA_GRID = np.log(10.0 ** np.arange(-3.0, 3.1, 1.5))


def reml_objective(log_theta, eigvals, rotated_y, yy, df, cross=None, gram=None, proj_y=None):
    """Profiled REML deviance of a one- or two-kernel model, and its gradient.

    With variance ratios ``theta_k = s2_k / s2_E`` and, on the ``df``
    dimensional complement of the intercept,
    ``V = I + theta_B U diag(eigvals) U^T + theta_A W W^T``, the restricted
    likelihood maximised over ``s2_E`` (at ``s2_E = Q / df``) is, up to an
    additive constant, ``-f / 2`` with

        f(theta) = df * log(Q) + log det(V),   Q = y^T V^{-1} y.

    ``H = I + theta_B U diag(eigvals) U^T`` is diagonal in the eigenbasis; the
    second kernel ``W W^T`` enters by the Woodbury identity through the q x q
    matrix ``S = I + theta_A W^T H^{-1} W``::

        log det(V) = sum log(1 + theta_B eigvals) + log det(S)
        Q          = y^T H^{-1} y - theta_A a^T S^{-1} a,   a = W^T H^{-1} y

    and ``df/dtheta_k = -df * y^T V^{-1} K_k V^{-1} y / Q + trace(V^{-1} K_k)``.
    Each evaluation costs O(r q^2) for r eigenvalues, O(r) with one kernel.

    Parameters
    ----------
    log_theta : array-like of shape (1,) or (2,)
        ``log(theta_B)`` and, with a second kernel, ``log(theta_A)``.
    eigvals : ndarray of shape (r,)
        Non-zero eigenvalues of the first kernel ``K_B = U diag(eigvals) U^T``.
    rotated_y : ndarray of shape (r,)
        ``U^T y`` for the centred target ``y``.
    yy : float
        ``y^T y`` of the centred target.
    df : int
        Residual degrees of freedom, ``n_samples - 1``.
    cross : ndarray of shape (r, q), default=None
        ``U^T W`` for the second kernel ``K_A = W W^T``; None for one kernel.
    gram : ndarray of shape (q, q), default=None
        ``W^T W``.
    proj_y : ndarray of shape (q,), default=None
        ``W^T y``.

    Returns
    -------
    f : float
        The deviance ``f(theta)``.
    grad : ndarray of shape (len(log_theta),)
        Its gradient with respect to ``log_theta``.

    Examples
    --------
    With ``K = I`` (one eigenvalue 1 per dimension), ``V = (1 + theta) I``:

    >>> import numpy as np
    >>> from sklearn_elm._reml import reml_objective
    >>> y = np.array([1.0, -2.0, 0.5])
    >>> f, grad = reml_objective([0.0], np.ones(3), y, y @ y, 3)
    >>> bool(np.isclose(f, 3 * np.log(y @ y / 2) + 3 * np.log(2)))
    True
    >>> bool(np.isclose(grad[0], 0.0))
    True
    """
    lam = eigvals
    theta_b = np.exp(log_theta[0])
    h = 1.0 + theta_b * lam
    d = theta_b * lam / h
    c = rotated_y
    yhy = yy - np.dot(d, c * c)
    logdet = np.sum(np.log(h))
    if cross is None:
        q_form = yhy
        v = c / h  # U^T V^{-1} y
        quad_b = np.dot(lam, v * v)
        tr_b = np.sum(lam / h)
        f = df * np.log(q_form) + logdet
        return f, np.array([theta_b * (-df * quad_b / q_form + tr_b)])

    theta_a = np.exp(log_theta[1])
    A = cross
    N = gram - A.T @ (d[:, None] * A)  # W^T H^{-1} W
    a = proj_y - A.T @ (d * c)  # W^T H^{-1} y
    S = theta_a * N
    S[np.diag_indices_from(S)] += 1.0
    chol = linalg.cho_factor(S, lower=True, check_finite=False)
    s_a = linalg.cho_solve(chol, a, check_finite=False)  # W^T V^{-1} y = S^{-1} a
    q_form = yhy - theta_a * np.dot(a, s_a)
    logdet += 2.0 * np.sum(np.log(np.diag(chol[0])))
    quad_a = np.dot(s_a, s_a)
    tr_a = np.trace(linalg.cho_solve(chol, N, check_finite=False))
    v = (c - theta_a * (A @ s_a)) / h
    quad_b = np.dot(lam, v * v)
    A_h = A / h[:, None]  # U^T H^{-1} W
    tr_b = np.sum(lam / h) - theta_a * np.trace(
        linalg.cho_solve(chol, A_h.T @ (lam[:, None] * A_h), check_finite=False)
    )
    f = df * np.log(q_form) + logdet
    grad = np.array(
        [theta_b * (-df * quad_b / q_form + tr_b), theta_a * (-df * quad_a / q_form + tr_a)]
    )
    return f, grad


def _maximise_reml(args):
    """Minimise :func:`reml_objective` by L-BFGS-B from the best point of a coarse grid.

    The grid only guards against starting in the wrong basin of a likelihood
    that can be multimodal; the optimum is scipy's, refined by
    :func:`_gradient_root`.
    """
    n_par = 1 if args[4] is None else 2
    grid = np.stack(np.meshgrid(*[_LOG_THETA_GRID] * n_par), axis=-1).reshape(-1, n_par)
    start = grid[np.argmin([reml_objective(x, *args)[0] for x in grid])]
    res = minimize(
        reml_objective,
        start,
        args=args,
        jac=True,
        method="L-BFGS-B",
        bounds=[_LOG_THETA_BOUNDS] * n_par,
        options={"ftol": 1e-12, "gtol": 1e-7, "maxiter": 500},
    )
    return _gradient_root(args, res.x, res.fun)


def _gradient_root(args, x, f):
    """The zero of the deviance's gradient next to L-BFGS-B's optimum ``x``, off the bounds.

    L-BFGS-B stops where the deviance falls by no more than its round-off,
    which leaves the log ratios determined to about ``sqrt(eps)`` (1e-7): any
    round-off in the inputs (another order of the loci, sums over dask's
    chunks) moves the fit by as much.  The analytic gradient still points the
    way there, so MINPACK's hybrid root finder on it (``scipy.optimize.root``)
    takes the coordinates inside the bounds to the round-off of the gradient.
    A root further than 1e-3 away, out of bounds or with a higher deviance is
    not taken.
    """
    low, high = _LOG_THETA_BOUNDS
    free = (x > low + 1e-6) & (x < high - 1e-6)
    if not free.any():
        return x, f

    def at(z):
        full = x.copy()
        full[free] = z
        return full

    def gradient(z):
        return reml_objective(at(z), *args)[1][free]

    # xtol below round-off: it stops where no step improves, which it reports as a failure
    polished = at(root(gradient, x[free], method="hybr", options={"xtol": 1e-15}).x)
    if not (np.all(np.abs(polished - x) < 1e-3) and np.all((polished > low) & (polished < high))
            and np.linalg.norm(gradient(polished[free])) < np.linalg.norm(gradient(x[free]))):
        return x, f
    f_polished = reml_objective(polished, *args)[0]
    return (polished, f_polished) if f_polished <= f + 1e-12 * abs(f) else (x, f)


def spectral_form(W_a, c_a, Yc, *, epistatic, use_features):
    """Everything the REML likelihood needs, from one eigendecomposition.

    The eigen block ``K_B`` is ``K_AA`` for the epistatic kernel and ``K_A``
    otherwise.  With ``use_features``, ``K_B = F F^T`` for the m explicit
    features ``F`` and ``eigh(F^T F) = V diag(eigvals) V^T`` gives the
    eigenvectors ``U = F V diag(eigvals)^(-1/2)`` of ``K_B`` implicitly;
    otherwise ``eigh(K_B) = U diag(eigvals) U^T`` directly.  The additive
    block then enters through ``cross = U^T W_a`` (Woodbury form) or, for the
    epistatic kernel with more than ``n / 3`` markers on the kernel path
    (``spec.dense``), through the n x n ``cross = U^T K_A U``.
    """
    n, p = W_a.shape
    spec = Bunch(
        n=n,
        W_a=W_a,
        c_a=c_a,
        c_aa=None,
        epistatic=epistatic,
        use_features=use_features,
        dense=epistatic and not use_features and p > n / 3,
        # past p > n the pair matrix is kept as its factors W_a (FactoredPairMatrix)
        factored=epistatic and not use_features and p > n,
        V=None,
        U=None,
        cross=None,
        gram=None,
        proj_Y=None,
        second_moments=None,
        pair_means=None,
        constant=None,
    )
    if use_features:
        _feature_basis(spec, Yc)
    else:
        _kernel_basis(spec, Yc)
    spec.yy = np.einsum("ij,ij->j", Yc, Yc)
    if epistatic and not spec.dense:
        # Woodbury form: the additive kernel W_a W_a^T enters through W_a itself
        spec.gram = gram(W_a, over="samples")
        spec.proj_Y, spec.cross = computed(
            W_a.T @ Yc, spec.cross if use_features else spec.U.T @ W_a
        )
        spec.second_moments = spec.gram * (c_a / n)  # Z^T Z / n

    def reml_args(k):
        if spec.dense:
            return (spec.eigvals, spec.cross, spec.rotated_Y[:, k], n - 1)
        proj_y = None if spec.proj_Y is None else spec.proj_Y[:, k]
        return (spec.eigvals, spec.rotated_Y[:, k], spec.yy[k], n - 1, spec.cross, spec.gram,
                proj_y)

    spec.reml_args = reml_args
    return spec


def _feature_basis(spec, Yc):
    """The eigenbasis of the m x m Gram matrix of the explicit features (``O(n m^2 + m^3)``)."""
    n, W_a = spec.n, spec.W_a
    if spec.epistatic:
        F = pairwise_features(W_a * np.sqrt(spec.c_a))  # Z: few loci here (m <= n)
        F -= computed(F.mean(axis=0))[0]  # in place in memory; a dask F is then centred lazily
        spec.c_aa = float(computed(np.einsum("ij,ij->", F, F))[0] / n)
        _check_epistatic_scale(spec.c_aa)
        F /= np.sqrt(spec.c_aa)
    else:
        F = W_a
    eigvals, V = linalg.eigh(gram(F, over="samples"), driver="evd", check_finite=False)
    keep = eigvals > eigvals[-1] * max(F.shape) * np.finfo(float).eps
    spec.eigvals, spec.V = eigvals[keep], V[:, keep]
    rot = spec.V / np.sqrt(spec.eigvals)  # U^T = rot^T F^T
    FtY, *FtW = computed(F.T @ Yc, *([F.T @ W_a] if spec.epistatic else []))
    spec.rotated_Y = rot.T @ FtY
    spec.cross = rot.T @ FtW[0] if spec.epistatic else None


def _kernel_basis(spec, Yc):
    """The eigenbasis of the n x n kernel ``K_B`` (``O(n^2 p)`` to build it, ``O(n^3)`` after).

    ``Z Z^T`` is formed once (one symmetric BLAS product) and gives both
    kernels.  In the dense form every eigenvector is kept (round-off negative
    eigenvalues read as 0), so ``U`` is a complete basis for ``C = U^T K_A U``.
    """
    n = spec.n
    if spec.epistatic:
        linear = gram(spec.W_a, over="loci")
        linear *= spec.c_a  # Z Z^T, with no n x p copy Z = W_a sqrt(c_a)
        K, spec.c_aa = epistatic_kernel(spec.W_a, gram=linear)
        _check_epistatic_scale(spec.c_aa)
    else:
        K = gram(spec.W_a, over="loci")
    # one thread: LAPACK's threads spin against each other on a loaded machine (on the two
    # shared cores here, 2,000 x 2,000 took 1.5 s on one thread and 4 to 15 s on two)
    with threadpool_limits(limits=1, user_api="blas"):
        eigvals, U = linalg.eigh(K, driver="evd", check_finite=False, overwrite_a=True)
    if spec.dense:
        spec.eigvals, spec.U = np.clip(eigvals, 0.0, None), U
        spec.pair_means = np.einsum("ij,ij->j", linear, linear) / n
        linear /= spec.c_a  # K_A
        spec.cross = U.T @ linear @ U
        spec.constant = U.sum(axis=0) / np.sqrt(n)  # U^T 1 / sqrt(n)
    else:
        keep = eigvals > eigvals[-1] * n * np.finfo(float).eps
        spec.eigvals, spec.U = eigvals[keep], U[:, keep]
    spec.rotated_Y = spec.U.T @ Yc


def _check_epistatic_scale(c_aa):
    if not c_aa > 0:
        raise ValueError(
            "the additive-by-additive kernel is constant on X (every product of "
            "centred markers is): use kernel='additive'."
        )


def _blup_effects(spec, theta, v, s_a, y):
    """BLUP marker effects (in units of X) and pairwise matrix of one output.

    ``u_k = theta_k F_k^T V^{-1} y`` for the (scaled) features of kernel k.
    In the feature form ``F_B^T V^{-1} y = V sqrt(eigvals) v``; in the kernel
    form the dual coefficients ``alpha = V^{-1} y`` give
    ``coef = theta_A Z^T alpha / c_A`` and the pairwise matrix
    ``E = theta_AA Z^T diag(alpha) Z / c_AA`` (``alpha`` sums to zero, so the
    centring of the pairwise features drops out), both read from
    ``W_a = Z / sqrt(c_A)``, or only the weights ``theta_AA c_A alpha / c_AA`` of
    ``E = W_a^T diag(w) W_a`` where ``spec.factored``.
    """
    W, c_a, c_aa, p = spec.W_a, spec.c_a, spec.c_aa, spec.W_a.shape[1]
    coef = theta[1] * s_a / np.sqrt(c_a) if s_a is not None else None
    if spec.use_features:
        w = theta[0] * (spec.V @ (np.sqrt(spec.eigvals) * v))
        if not spec.epistatic:
            return w / np.sqrt(c_a), None
        # z^T E z = w . F(z) / sqrt(c_aa): E_ii = w_ii, E_ij = E_ji = w_ij / sqrt(2)
        i, j = np.triu_indices(p)
        E = np.zeros((p, p))
        E[i, j] = w * np.where(i == j, 1.0, np.sqrt(0.5)) / np.sqrt(c_aa)
        return coef, E + np.triu(E, 1).T
    U, lam = spec.U, spec.eigvals
    if spec.dense:  # U is a complete basis and v = U^T V^{-1} y
        alpha = U @ v
    else:  # alpha = H^{-1} (y - theta_A W_a s_a), H^{-1} r = r - U (d * U^T r)
        r = y - theta[1] * computed(spec.W_a @ s_a)[0] if spec.epistatic else y
        alpha = r - U @ (theta[0] * lam / (1.0 + theta[0] * lam) * (U.T @ r))
    if not spec.epistatic:
        return theta[0] * computed(W.T @ alpha)[0] / np.sqrt(c_a), None
    if coef is None:
        coef = theta[1] * computed(W.T @ alpha)[0] / np.sqrt(c_a)
    if spec.factored:  # E's weights: E = W_a^T diag(w) W_a
        return coef, theta[0] * c_a / c_aa * alpha
    return coef, _weighted_gram(W, theta[0] * c_a / c_aa * alpha)


def _weighted_gram(Z, w, block=1024, out=None):
    """``Z^T diag(w) Z``, symmetric, from its blocks on and above the diagonal (into
    ``out``, a float64 ``p x p`` array, where given).

    One BLAS product per block of columns: about half the ``2 n p^2`` flops
    of the full product (``w`` has both signs, so no ``syrk``).  For a dask
    ``Z``, dask's product ``Z^T (w Z)``, p x p blocks summed over the sample
    chunks, made exactly symmetric.
    """
    if is_dask(Z):
        return mirror_lower(computed(Z.T @ (Z * w[:, None]))[0])
    p = Z.shape[1]
    B = w[:, None] * Z
    out = np.empty((p, p)) if out is None else out
    for start in range(0, p, block):
        stop = min(start + block, p)
        out[:stop, start:stop] = Z[:, :stop].T @ B[:, start:stop]
        out[start:stop, :start] = out[:start, start:stop].T
        diagonal = out[start:stop, start:stop]  # symmetric up to round-off: made exactly so
        diagonal += diagonal.T.copy()
        diagonal *= 0.5
    return out


def _dual_solution(theta, eigvals, c, yy, df, cross, gram, proj_y):
    """``v = U^T V^{-1} y`` and ``s_a = W^T V^{-1} y`` at the REML optimum (see reml_objective)."""
    h = 1.0 + theta[0] * eigvals
    if cross is None:
        return c / h, None
    d = theta[0] * eigvals / h
    S = theta[1] * (gram - cross.T @ (d[:, None] * cross))
    S[np.diag_indices_from(S)] += 1.0
    s_a = linalg.solve(S, proj_y - cross.T @ (d * c), assume_a="pos")
    return (c - theta[1] * (cross @ s_a)) / h, s_a


def _residual_quadratic(theta, v, s_a, args):
    """``Q = y^T V^{-1} y`` from the dual solution."""
    eigvals, c, yy = args[0], args[1], args[2]
    # y^T V^{-1} y = yy - sum over kernels of theta_k y^T K_k V^{-1} y
    q_form = yy - theta[0] * np.dot(eigvals * c, v)
    if s_a is not None:
        q_form -= theta[1] * np.dot(args[6], s_a)
    return q_form


def fit_output(spec, k, y, epistatic):
    """REML variance components and BLUP effects of output ``k``.

    Parameters
    ----------
    spec : Bunch
        From :func:`spectral_form`.
    k : int
        The output.
    y : ndarray of shape (n_samples,)
        Its centred phenotypes.
    epistatic : bool
        Whether the model has the additive-by-additive kernel.

    Returns
    -------
    components : tuple of float
        ``(V_A, V_AA, V_E)``.
    log_likelihood : float
        The profiled restricted log-likelihood of the ``n - 1`` error contrasts.
    coef : ndarray of shape (p,)
        Marker effects.
    E : ndarray of shape (p, p) or (n,), or None
        Pairwise effects (epistatic kernel only); where ``spec.factored``, the
        weights ``w`` of ``E = W_a^T diag(w) W_a``.
    offset : float
        The mean pairwise value ``z^T E z`` of the training samples (0.0
        without the epistatic kernel).
    covariance : ndarray of shape (3, 3)
        Asymptotic covariance of ``(V_A, V_AA, V_E)``, the inverse of REML's
        expected information (:mod:`sklearn_elm._reml_se`).
    """
    n = len(y)
    args = spec.reml_args(k)
    if spec.dense:
        theta, dev, traces = maximise_kernel_reml(*args, _LOG_THETA_GRID, spec.constant)
        M = theta[1] * spec.cross
        M[np.diag_indices_from(M)] += 1.0 + theta[0] * spec.eigvals
        c = args[2]
        v, s_a = linalg.solve(M, c, assume_a="pos", overwrite_a=True), None
        s2_e = (c @ v) / (n - 1)
    else:
        log_theta, dev = _maximise_reml(args)
        theta = np.exp(log_theta)
        v, s_a = _dual_solution(theta, *args)
        s2_e = _residual_quadratic(theta, v, s_a, args) / (n - 1)
        traces = spectral_traces(theta, args[0], n - 1, *args[4:6])
    log_likelihood = -0.5 * (dev + (n - 1) * (1.0 + np.log(2 * np.pi / (n - 1))))
    theta_a, theta_aa = (theta[1], theta[0]) if epistatic else (theta[0], 0.0)
    coef, E = _blup_effects(spec, theta, v, s_a, y)
    if not epistatic:
        offset = 0.0
    elif spec.dense:  # mean_m z_m^T E z_m = theta_AA / c_AA sum_i alpha_i mean_m (z_m . z_i)^2
        offset = theta[0] / spec.c_aa * (spec.pair_means @ (spec.U @ v))
    else:
        offset = np.einsum("ij,ij->", E, spec.second_moments)
    covariance = variance_covariance(traces, s2_e, epistatic)
    return (theta_a * s2_e, theta_aa * s2_e, s2_e), log_likelihood, coef, E, offset, covariance
