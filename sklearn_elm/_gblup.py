"""Linear baselines: GBLUP by REML with an additive and an additive-by-additive kernel.

The model, per output, is the linear mixed model

    y = mu 1 + g_A + g_AA + e,   g_A ~ N(0, s2_A K_A),  g_AA ~ N(0, s2_AA K_AA),  e ~ N(0, s2_E I)

with the VanRaden relationship matrix K_A from centred markers and its Hadamard square
K_AA = K_A o K_A (Henderson's additive-by-additive kernel), both centred and scaled to mean
diagonal 1 so that every s2 is a variance on the phenotype's scale.

Everything rests on one identity: a kernel K = W W^T with W of shape (n, m) has the same
non-zero spectrum as the m x m Gram matrix W^T W.  When m < n, the REML likelihood is evaluated
in the m-dimensional eigenbasis of W^T W (the low-rank marker-space form, O(n m^2) once);
otherwise in the eigenbasis of the n x n kernel (O(n^3) once).  The second kernel, W_A of
q = p columns, enters through a q x q Schur complement (Woodbury identity), so one
eigendecomposition serves every REML iteration, each of which then costs O(r q^2) for r
eigenvalues (O(r) with one kernel).
"""

import numpy as np
from scipy import linalg
from scipy.optimize import minimize
from sklearn.base import BaseEstimator, RegressorMixin, _fit_context
from sklearn.utils import Bunch
from sklearn.utils._param_validation import StrOptions
from sklearn.utils.validation import check_is_fitted, validate_data
from threadpoolctl import threadpool_limits

from ._components import components_bunch

__all__ = [
    "GBLUPRegressor",
    "additive_features",
    "epistatic_kernel",
    "pairwise_features",
    "reml_objective",
]

# Search range of the variance ratios s2_k / s2_E; kernels have mean diagonal 1, so 1e-8
# means "no variance" and 1e8 "no noise" for any phenotype scale.
_LOG_THETA_BOUNDS = (np.log(1e-8), np.log(1e8))
_LOG_THETA_GRID = np.log(10.0 ** np.arange(-3.0, 3.1, 1.5))


def additive_features(X, *, mean=None, scale=None):
    """Centred markers scaled so that their kernel has mean diagonal one.

    ``W = (X - mean) / sqrt(c)`` with ``c = sum_j var(X_j)``, so that
    ``K_A = W W^T = Z Z^T / c`` (``Z = X - mean``) and ``trace(K_A) / n = 1``
    on the data that defined ``mean`` and ``c``.  For diploid 0/1/2 dosages
    ``mean = 2 p`` and ``c = 2 sum p (1 - p)`` up to departures from
    Hardy-Weinberg proportions, i.e. VanRaden's first relationship matrix;
    any coding of a haploid locus (0/1, doubled dosage 0/2, or -1/+1) gives
    the same ``K_A``, because ``c`` follows the coding.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_markers)
        Marker dosages (any numeric coding).
    mean : ndarray of shape (n_markers,), default=None
        Column means to subtract; those of ``X`` when None.
    scale : float, default=None
        The normaliser ``c``; that of ``X`` when None.

    Returns
    -------
    W : ndarray of shape (n_samples, n_markers)
        Scaled centred markers.
    mean : ndarray of shape (n_markers,)
        The subtracted means.
    scale : float
        The normaliser ``c``.

    Raises
    ------
    ValueError
        If every column of ``X`` is constant (``c = 0``).

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_elm._gblup import additive_features
    >>> X = np.array([[0, 1], [1, 1], [1, 0], [0, 0]])
    >>> W, mean, c = additive_features(X)
    >>> mean, c
    (array([0.5, 0.5]), 0.5)
    >>> round(float(np.trace(W @ W.T)) / len(X), 12)
    1.0
    """
    X = np.asarray(X, dtype=np.float64)
    if mean is None:
        mean = X.mean(axis=0)
    Z = X - mean
    if scale is None:
        scale = float(np.einsum("ij,ij->", Z, Z) / X.shape[0])
    if not scale > 0:
        raise ValueError("every marker in X is constant: the relationship matrix is zero.")
    return Z / np.sqrt(scale), mean, scale


def pairwise_features(Z):
    """Explicit feature map of the Hadamard square of a linear kernel.

    With ``F[:, (i, i)] = z_i^2`` and ``F[:, (i, j)] = sqrt(2) z_i z_j`` for
    ``i < j`` (``p (p + 1) / 2`` columns, ordered as ``np.triu_indices``),
    ``F F^T = (Z Z^T) o (Z Z^T)`` exactly, because
    ``(z^T z')^2 = sum_i z_i^2 z_i'^2 + 2 sum_{i<j} z_i z_j z_i' z_j'``.

    Parameters
    ----------
    Z : ndarray of shape (n_samples, p)
        Centred markers.

    Returns
    -------
    F : ndarray of shape (n_samples, p * (p + 1) // 2)

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_elm._gblup import pairwise_features
    >>> Z = np.array([[1.0, -1.0, 0.5], [0.0, 2.0, 1.0]])
    >>> F = pairwise_features(Z)
    >>> F.shape
    (2, 6)
    >>> bool(np.allclose(F @ F.T, (Z @ Z.T) ** 2))
    True
    """
    n, p = Z.shape
    F = np.empty((n, p * (p + 1) // 2))
    start = 0
    for i in range(p):  # one block of columns (i, i), (i, i + 1), ..., (i, p - 1) per locus
        block = F[:, start : start + p - i]
        np.multiply(Z[:, i : i + 1], Z[:, i:], out=block)
        block[:, 1:] *= np.sqrt(2.0)
        start += p - i
    return F


def epistatic_kernel(Z):
    """Centred additive-by-additive kernel with mean diagonal one.

    ``K_AA = P (K o K) P / c_AA`` with ``K = Z Z^T``, the centring projector
    ``P = I - 1 1^T / n`` and ``c_AA = trace(P (K o K) P) / n``.  It is the
    kernel of the pairwise features of :func:`pairwise_features` after
    centring their columns and dividing by ``sqrt(c_AA)``.  Centring changes
    neither the REML likelihood (which only sees the complement of the
    intercept) nor the predictions up to the intercept; it makes ``s2_AA``
    the variance of ``g_AA`` in the sample.

    Parameters
    ----------
    Z : ndarray of shape (n_samples, p)
        Centred markers.

    Returns
    -------
    K_AA : ndarray of shape (n_samples, n_samples)
    scale : float
        The normaliser ``c_AA``.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_elm._gblup import epistatic_kernel, pairwise_features
    >>> Z = np.random.default_rng(0).standard_normal((5, 3))
    >>> K, c = epistatic_kernel(Z)
    >>> F = pairwise_features(Z)
    >>> F -= F.mean(axis=0)
    >>> bool(np.allclose(K, F @ F.T / c)), round(float(np.trace(K)) / 5, 12)
    (True, 1.0)
    """
    K = Z @ Z.T
    K *= K
    row = K.mean(axis=1)
    K -= row[:, None]
    K -= row[None, :]
    K += row.mean()
    scale = float(np.trace(K) / K.shape[0])
    if scale > 0:
        K /= scale
    return K, scale


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
    >>> from sklearn_elm._gblup import reml_objective
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
    that can be multimodal; the optimum is scipy's.
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
    return res.x, res.fun


class GBLUPRegressor(RegressorMixin, BaseEstimator):
    """Genomic BLUP with variance components estimated by REML.

    Fits, for each output, the linear mixed model
    ``y = mu + g_A (+ g_AA) + e`` with ``g_A ~ N(0, s2_A K_A)`` (VanRaden
    genomic relationship matrix of the centred markers), optionally
    ``g_AA ~ N(0, s2_AA K_A o K_A)`` (additive-by-additive epistasis, the
    Hadamard square), and ``e ~ N(0, s2_E I)``.  ``mu`` is a fixed effect
    (REML), the variance components maximise the restricted likelihood, and
    predictions for new genotypes are BLUPs.

    Parameters
    ----------
    kernel : {"additive", "additive+epistatic"}, default="additive"
        Genetic covariance: ``K_A`` alone, or ``K_A`` plus ``K_A o K_A``.
    solver : {"auto", "features", "kernel"}, default="auto"
        Where the REML likelihood is evaluated.  ``"features"``: in the
        eigenbasis of the m x m Gram matrix of the explicit feature map (m
        markers for ``"additive"``, the ``p (p + 1) / 2`` pairwise products
        for ``"additive+epistatic"``), O(n m^2).  ``"kernel"``: in the
        eigenbasis of the n x n kernel, O(n^3).  ``"auto"`` picks
        ``"features"`` when ``m <= n_samples``.  Both give the same fit.

    Attributes
    ----------
    variance_components_ : :class:`~sklearn.utils.Bunch`
        ``additive`` (V_A), ``epistatic`` (V_AA, 0.0 for
        ``kernel="additive"``), ``higher`` (0.0: the
        kernels hold no higher-order term), ``genetic`` (V_A + V_AA),
        ``residual`` (V_E),
        ``phenotypic`` (V_G + V_E), ``h2`` (V_A / V_P) and ``H2``
        (V_G / V_P); floats for 1-D ``y``, arrays of shape (n_outputs,) for
        2-D ``y``.
    coef_ : ndarray of shape (`n_features_in_`,) or (n_outputs, `n_features_in_`)
        BLUP marker effects of the additive part, in units of ``X`` (the
        rrBLUP effects): the additive genetic value of ``x`` is
        ``(x - X_mean_) @ coef_``.
    epistasis_matrix_ : ndarray of shape (`n_features_in_`, `n_features_in_`) or \
            (n_outputs, `n_features_in_`, `n_features_in_`)
        Symmetric pairwise effects of the epistatic part, in units of the
        centred markers ``z = x - X_mean_``: the epistatic genetic value is
        ``z @ epistasis_matrix_ @ z`` minus its training mean, i.e.
        ``2 * epistasis_matrix_[i, j]`` is the effect of ``z_i z_j`` and the
        diagonal that of ``z_i^2``.  Only with ``kernel="additive+epistatic"``.
    intercept_ : float or ndarray of shape (n_outputs,)
        Constant of the prediction ``intercept_ + X @ coef_ (+ z @ E @ z)``;
        the REML estimate of ``mu`` is the mean of ``y``.
    X_mean_ : ndarray of shape (`n_features_in_`,)
        Marker means of the training data (``2 p`` for diploid dosages).
    kernel_scale_ : float
        The VanRaden normaliser ``c = sum_j var(X_j)`` of ``K_A = Z Z^T / c``.
    log_likelihood_ : float or ndarray of shape (n_outputs,)
        Maximised restricted log-likelihood, that of ``n - 1`` orthonormal
        error contrasts (the textbook REML form plus ``log(n) / 2``).
    n_features_in_ : int
        Number of markers seen in ``fit``.
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Marker names, when ``X`` has string column names.

    See Also
    --------
    sklearn.linear_model.Ridge : Ridge regression; additive GBLUP is ridge
        regression on the centred markers with ``alpha = c s2_E / s2_A``.
    sklearn_elm.ELMDecomposer : The same variance components read out of a
        neural network.

    Notes
    -----
    **Markers and kernels.**  ``X`` holds marker dosages in any numeric
    coding; columns are centred by their training means (``2 p`` for diploid
    0/1/2 data) and ``K_A = Z Z^T / c`` with ``c = sum_j var(X_j)``, which
    makes the mean diagonal of ``K_A`` exactly 1.  For diploid data under
    Hardy-Weinberg proportions ``c ~ 2 sum p (1 - p)``, VanRaden's
    normaliser.  A haploid 0/1 locus may be given as 0/1, as a doubled dosage
    0/2 (the project's convention) or as -1/+1: ``K_A`` is the same, whereas
    VanRaden's ``2 sum p (1 - p)`` would give it a mean diagonal of 2/3 (0/1
    read as dosages) or 2 (0/2) and shift ``s2_A`` by that factor.  The
    epistatic kernel is ``K_A o K_A`` centred (``P K P``, which the REML
    likelihood does not see) and scaled to mean diagonal 1.

    **Scale of the variance components.**  They are realised-scale
    variances: ``s2`` times the mean diagonal of the centred kernel, which is
    1 here, so ``additive`` is the variance of ``g_A`` in the sample expected
    under the model, on the phenotype's scale.  With few loci the variance
    of one particular ``g_A`` differs from that expectation by the sampling
    covariances between loci (e.g. by 3 % with 64 loci and 8500 samples).

    **Computation.**  One eigendecomposition per fit, shared by all outputs
    and all REML iterations: of the m x m Gram matrix of the additive markers
    (m = p) or of the pairwise features (m = p (p + 1) / 2) when m <= n, else
    of the n x n kernel; for ``"additive+epistatic"`` the additive kernel
    enters each likelihood evaluation through a p x p Schur complement.  The
    deviance :func:`~sklearn_elm._gblup.reml_objective` and its analytic
    gradient are minimised over the log variance ratios with scipy's
    L-BFGS-B.  The epistatic
    kernel stores a p x p matrix per output, so it suits marker panels of up
    to a few thousand loci.

    **rrBLUP.**  Additive GBLUP predictions equal those of ridge regression
    on ``Z`` with ``alpha = c s2_E / s2_A`` (``coef_`` is that ridge
    solution); ``"additive+epistatic"`` is ridge regression on the stacked
    features ``[W_A sqrt(s2_A), W_AA sqrt(s2_AA)]`` with ``alpha = s2_E``.

    References
    ----------
    .. [1] VanRaden, P. M. (2008). Efficient methods to compute genomic
       predictions. Journal of Dairy Science 91, 4414-4423.
    .. [2] Henderson, C. R. (1985). Best linear unbiased prediction of
       nonadditive genetic merits. Journal of Animal Science 60, 111-117.
    .. [3] Endelman, J. B. (2011). Ridge regression and other kernels for
       genomic selection with R package rrBLUP. The Plant Genome 4, 250-255.
    .. [4] Lippert, C. et al. (2011). FaST linear mixed models for
       genome-wide association studies. Nature Methods 8, 833-835.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_elm import GBLUPRegressor
    >>> rng = np.random.default_rng(0)
    >>> X = rng.integers(0, 3, size=(300, 40)).astype(float)
    >>> y = (X - X.mean(axis=0)) @ rng.normal(scale=0.2, size=40) + rng.normal(size=300)
    >>> model = GBLUPRegressor().fit(X, y)
    >>> sorted(model.variance_components_)
    ['H2', 'additive', 'epistatic', 'genetic', 'h2', 'higher', 'phenotypic', 'residual']
    >>> bool(0.2 < model.variance_components_.h2 < 0.8)
    True
    >>> model.predict(X[:2]).shape
    (2,)
    """

    _parameter_constraints: dict = {
        "kernel": [StrOptions({"additive", "additive+epistatic"})],
        "solver": [StrOptions({"auto", "features", "kernel"})],
    }

    def __init__(self, kernel="additive", *, solver="auto"):
        self.kernel = kernel
        self.solver = solver

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y):
        """Estimate the variance components by REML and the BLUP effects.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Marker dosages (0/1, 0/1/2 or any numeric coding).
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
            Phenotypes; each output is fitted separately on the shared
            eigendecomposition.

        Returns
        -------
        self : GBLUPRegressor
            The fitted estimator.
        """
        X, y = validate_data(
            self,
            X,
            y,
            multi_output=True,
            y_numeric=True,
            dtype=np.float64,
            ensure_min_samples=2,
        )
        Y = y.reshape(len(y), -1).astype(np.float64)
        y_mean = Y.mean(axis=0)
        Yc = Y - y_mean
        constant = np.flatnonzero(np.ptp(Y, axis=0) <= 1e-12 * np.maximum(1.0, np.abs(y_mean)))
        if constant.size:
            raise ValueError(
                f"y is constant (output {int(constant[0])}): REML cannot separate a "
                "genetic and a residual variance of zero."
            )
        n, p = X.shape
        W_a, x_mean, c_a = additive_features(X)
        epistatic = self.kernel == "additive+epistatic"
        m = p * (p + 1) // 2 if epistatic else p
        use_features = self.solver == "features" or (self.solver == "auto" and m <= n)
        spec = _spectral_form(W_a, c_a, Yc, epistatic=epistatic, use_features=use_features)

        n_out = Y.shape[1]
        coef = np.empty((n_out, p))
        epi = np.zeros((n_out, p, p)) if epistatic else None
        intercept = np.empty(n_out)
        comps = np.zeros((n_out, 3))  # V_A, V_AA, V_E
        loglik = np.empty(n_out)
        # the likelihood works on matrices too small to gain from BLAS threads, which
        # thrash on a loaded machine
        with threadpool_limits(limits=1, user_api="blas"):
            for k in range(n_out):
                args = spec.reml_args(k)
                log_theta, dev = _maximise_reml(args)
                theta = np.exp(log_theta)
                v, s_a = _dual_solution(theta, *args)
                s2_e = _residual_quadratic(theta, v, s_a, args) / (n - 1)
                # profiled restricted log-likelihood of the n - 1 error contrasts
                loglik[k] = -0.5 * (dev + (n - 1) * (1.0 + np.log(2 * np.pi / (n - 1))))
                theta_a, theta_aa = (theta[1], theta[0]) if epistatic else (theta[0], 0.0)
                comps[k] = theta_a * s2_e, theta_aa * s2_e, s2_e
                coef[k], E = _blup_effects(spec, theta, v, s_a, Yc[:, k])
                offset = 0.0
                if epistatic:
                    epi[k] = E
                    offset = np.einsum("ij,ij->", E, spec.second_moments)
                intercept[k] = y_mean[k] - x_mean @ coef[k] - offset

        v_a, v_aa, v_e = comps.T
        v_g = v_a + v_aa
        v_p = v_g + v_e
        squeeze = (lambda a: float(a[0])) if y.ndim == 1 else (lambda a: a)
        # the same keys as ELMDecomposer's; higher-order variance is 0 by construction
        parts = components_bunch(v_a, v_aa, v_g, v_p)
        self.variance_components_ = Bunch(**{key: squeeze(val) for key, val in parts.items()})
        self.coef_ = coef[0] if y.ndim == 1 else coef
        self.intercept_ = squeeze(intercept)
        if epistatic:
            self.epistasis_matrix_ = epi[0] if y.ndim == 1 else epi
        self.log_likelihood_ = squeeze(loglik)
        self.X_mean_ = x_mean
        self.kernel_scale_ = c_a
        return self

    def predict(self, X):
        """Predict phenotypes as BLUPs of the genetic values of new genotypes.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Marker dosages coded as in ``fit``.

        Returns
        -------
        y_pred : ndarray of shape (n_samples,) or (n_samples, n_outputs)
            ``intercept_ + X @ coef_`` plus, for the epistatic kernel,
            ``z @ epistasis_matrix_ @ z`` with ``z = X - X_mean_``.
        """
        check_is_fitted(self)
        X = validate_data(self, X, reset=False, dtype=np.float64)
        pred = X @ np.atleast_2d(self.coef_).T + self.intercept_
        if hasattr(self, "epistasis_matrix_"):
            Z = X - self.X_mean_
            E = self.epistasis_matrix_.reshape(-1, *self.epistasis_matrix_.shape[-2:])
            for k, E_k in enumerate(E):
                pred[:, k] += np.sum((Z @ E_k) * Z, axis=1)
        return pred[:, 0] if np.ndim(self.coef_) == 1 else pred

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        return tags


def _spectral_form(W_a, c_a, Yc, *, epistatic, use_features):
    """Everything the REML likelihood needs, from one eigendecomposition.

    The eigen block ``K_B`` is ``K_AA`` for the epistatic kernel and ``K_A``
    otherwise.  With ``use_features``, ``K_B = F F^T`` for the m explicit
    features ``F`` and ``eigh(F^T F) = V diag(eigvals) V^T`` gives the
    eigenvectors ``U = F V diag(eigvals)^(-1/2)`` of ``K_B`` implicitly;
    otherwise ``eigh(K_B) = U diag(eigvals) U^T`` directly.  The additive
    block ``W_a`` then enters through ``cross = U^T W_a``.
    """
    n = W_a.shape[0]
    Z = W_a * np.sqrt(c_a)
    spec = Bunch(
        n=n,
        Z=Z,
        W_a=W_a,
        c_a=c_a,
        c_aa=None,
        epistatic=epistatic,
        use_features=use_features,
        V=None,
        U=None,
    )
    if use_features:
        if epistatic:
            F = pairwise_features(Z)
            F -= F.mean(axis=0)
            spec.c_aa = float(np.einsum("ij,ij->", F, F) / n)
            _check_epistatic_scale(spec.c_aa)
            F /= np.sqrt(spec.c_aa)
        else:
            F = W_a
        eigvals, V = linalg.eigh(F.T @ F, driver="evd", check_finite=False)
        keep = eigvals > eigvals[-1] * max(F.shape) * np.finfo(float).eps
        eigvals, spec.V = eigvals[keep], V[:, keep]
        rot = spec.V / np.sqrt(eigvals)  # U^T = rot^T F^T
        FtY = F.T @ (np.hstack([Yc, W_a]) if epistatic else Yc)
        spec.rotated_Y = rot.T @ FtY[:, : Yc.shape[1]]
        spec.cross = rot.T @ FtY[:, Yc.shape[1] :] if epistatic else None
    else:
        if epistatic:
            K, spec.c_aa = epistatic_kernel(Z)
            _check_epistatic_scale(spec.c_aa)
        else:
            K = W_a @ W_a.T
        eigvals, U = linalg.eigh(K, driver="evd", check_finite=False, overwrite_a=True)
        keep = eigvals > eigvals[-1] * n * np.finfo(float).eps
        eigvals, spec.U = eigvals[keep], U[:, keep]
        spec.rotated_Y = spec.U.T @ Yc
        spec.cross = spec.U.T @ W_a if epistatic else None
    spec.eigvals = eigvals
    spec.yy = np.einsum("ij,ij->j", Yc, Yc)
    if epistatic:
        spec.gram = W_a.T @ W_a
        spec.proj_Y = W_a.T @ Yc
        spec.second_moments = Z.T @ Z / n
    else:
        spec.gram = spec.proj_Y = None

    def reml_args(k):
        proj_y = None if spec.proj_Y is None else spec.proj_Y[:, k]
        return (eigvals, spec.rotated_Y[:, k], spec.yy[k], n - 1, spec.cross, spec.gram, proj_y)

    spec.reml_args = reml_args
    return spec


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
    centring of the pairwise features drops out).
    """
    Z, c_a, c_aa, p = spec.Z, spec.c_a, spec.c_aa, spec.Z.shape[1]
    coef = theta[1] * s_a / np.sqrt(c_a) if spec.epistatic else None
    if spec.use_features:
        w = theta[0] * (spec.V @ (np.sqrt(spec.eigvals) * v))
        if not spec.epistatic:
            return w / np.sqrt(c_a), None
        # z^T E z = w . F(z) / sqrt(c_aa): E_ii = w_ii, E_ij = E_ji = w_ij / sqrt(2)
        i, j = np.triu_indices(p)
        E = np.zeros((p, p))
        E[i, j] = w * np.where(i == j, 1.0, np.sqrt(0.5)) / np.sqrt(c_aa)
        return coef, E + np.triu(E, 1).T
    # alpha = H^{-1} (y - theta_A W_a s_a), H^{-1} r = r - U (d * U^T r)
    U, lam = spec.U, spec.eigvals
    r = y - theta[1] * (spec.W_a @ s_a) if spec.epistatic else y
    alpha = r - U @ (theta[0] * lam / (1.0 + theta[0] * lam) * (U.T @ r))
    if not spec.epistatic:
        return theta[0] * (Z.T @ alpha) / c_a, None
    return coef, theta[0] / c_aa * (Z.T @ (alpha[:, None] * Z))


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
