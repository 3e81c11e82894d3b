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
eigenvalues (O(r) with one kernel).  With more than n / 3 markers, K_A is instead rotated
into the eigenbasis of K_AA and each iteration is an n x n Cholesky factorisation, O(n^3),
with exact derivatives for Newton's method (``_kernel_reml.py``).

Markers out of memory (a dask array, or a lazy PLINK array read through its
dask array) are never read whole: the kernels and the back-solves are sums
over chunks computed by dask, and predictions are made a block of samples at
a time.  What the additive-by-additive fit keeps is in memory: its ``p x p``
pair matrices, or past more markers than samples their factors, the ``n x p``
centred markers (smaller than the matrices; checked against the memory
available before the fit).
"""

import warnings

import numpy as np
from sklearn.base import BaseEstimator, RegressorMixin, _fit_context
from sklearn.utils import Bunch
from sklearn.utils._param_validation import StrOptions
from sklearn.utils.validation import (
    _check_y,
    check_consistent_length,
    check_is_fitted,
    validate_data,
)
from threadpoolctl import threadpool_limits

from ._components import check_scale, components_bunch, constant_columns
from ._inputs import check_lazy, is_dask, is_lazy
from ._kernels import additive_features, check_finite, in_memory
from ._lazy import lazy_predict
from ._pairs import FactoredPairMatrix
from ._reml import fit_output, spectral_form
from ._reml_se import component_standard_errors
from ._resources import available_memory, gib

__all__ = ["GBLUPRegressor"]

#: Genotypes per block where the blocks are GBLUP's to choose (the sample chunks of a lazy
#: array's dask array, the blocks a lazy array is predicted in): 32 MiB as float32.
_BLOCK_VALUES = 2**23


def _block_rows(n_features):
    """Samples per block of :data:`_BLOCK_VALUES` genotypes (at least one)."""
    return max(1, _BLOCK_VALUES // n_features)


def _check_pair_memory(n, p, n_out, *, factored, lazy):
    """Raise a MemoryError naming the size where the pair effects an additive-by-additive fit
    keeps would not fit: ``n_out`` dense ``p x p`` matrices, or (``factored``) the ``n x p``
    centred markers of a lazy ``X``, which are then computed in memory (an in-memory ``X``'s
    are there already)."""
    if factored and not lazy:
        return
    needed = 8 * (n * p + n_out * n if factored else n_out * p * p)
    available = available_memory()
    if available is not None and needed > available:
        matrices = "matrix" if n_out == 1 else "matrices"
        held = (f"its pair effects as their factors, the {n} x {p} centred markers"
                if factored else f"{n_out} dense {p} x {p} pair {matrices}")
        raise MemoryError(
            f"GBLUPRegressor('additive+epistatic') on {p} markers keeps {held} in memory: "
            f"{gib(needed)}, but {gib(available)} is available.  Fit kernel='additive', or "
            "fewer markers (pruned by linkage, e.g. plink --indep-pairwise).")


def _check_feature_solver(n, m, kernel):
    """Where ``solver="features"`` has more features ``m`` than samples ``n``: a MemoryError
    naming the size where its ``m x m`` Gram matrix, eigenvectors and LAPACK's workspace
    beside the ``n x m`` features would not fit, else a warning that the kernel solver gives
    the same fit at less cost (``O(m^3)`` against ``O(n^3)``)."""
    if m <= n:
        return
    needed, available = 8 * (n * m + 3 * m * m), available_memory()
    what = (f"GBLUPRegressor(kernel={kernel!r}, solver='features') eigendecomposes the {m} x "
            f"{m} Gram matrix of its {m} features, more than the {n} samples")
    fix = (f"solver='kernel' (or 'auto', which chooses it here) gives the same fit on the {n} x "
           f"{n} kernel")
    if available is not None and needed > available:
        raise MemoryError(f"{what}: {gib(needed)}, but {gib(available)} is available; {fix}.")
    warnings.warn(f"{what}, in O(m^3) operations; {fix}, in O(n^3).", UserWarning,
                  stacklevel=4)  # past fit and scikit-learn's wrapper of it


def _validate_lazy(estimator, X, y):
    """``(X as a dask array, y as an ndarray)`` for ``fit`` on a lazy ``X``.

    ``X`` is checked by its shape and dtype (:func:`~sklearn_elm._inputs.check_lazy`,
    which reads nothing and sets ``n_features_in_``).  A dask ``X`` keeps its
    chunks (over samples and loci: the kernels are sums over the chunks), rather
    than the whole samples ``check_lazy`` would make of them; a lazy array is
    read through :meth:`to_dask`, in blocks of :data:`_BLOCK_VALUES` genotypes.
    """
    check_lazy(estimator, X, reset=True)
    if X.shape[0] < 2:
        raise ValueError(
            f"Found array with {X.shape[0]} sample(s) (shape={tuple(X.shape)}) while a "
            "minimum of 2 is required by GBLUPRegressor."
        )
    y = _check_y(np.asarray(y), multi_output=True, y_numeric=True, estimator=estimator)
    check_consistent_length(X, y)
    if not is_dask(X):
        X = X.to_dask(chunks=_block_rows(X.shape[1]))
    return X, y


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
        for ``"additive+epistatic"``), O(n m^2 + m^3).  ``"kernel"``: in the
        eigenbasis of the n x n kernel, O(n^2 p + n^3).  ``"auto"`` picks
        ``"features"`` when ``m <= n_samples``.  Both give the same fit;
        ``"features"`` with ``m > n_samples`` warns (and raises a MemoryError
        where its m x m matrices would not fit).

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
    variance_components_se_ : :class:`~sklearn.utils.Bunch`
        Standard errors of ``variance_components_``, the same keys and
        shapes: the inverse of REML's expected information of the variances
        ``(V_A, V_AA, V_E)``, carried to ``V_G``, ``V_P``, ``h2`` and ``H2``
        by the delta method with their covariances (see Notes).  NaN for
        ``epistatic`` with ``kernel="additive"``, for ``higher`` (0 by
        construction, not estimated), and for every key of an output whose
        information is singular.
    coef_ : ndarray of shape (`n_features_in_`,) or (n_outputs, `n_features_in_`)
        BLUP marker effects of the additive part, in units of ``X`` (the
        rrBLUP effects): the additive genetic value of ``x`` is
        ``(x - X_mean_) @ coef_``.
    epistasis_matrix_ : ndarray or :class:`~sklearn_elm.FactoredPairMatrix` of shape \
            (`n_features_in_`, `n_features_in_`) or (n_outputs, `n_features_in_`, \
            `n_features_in_`)
        Symmetric pairwise effects of the epistatic part, in units of the
        centred markers ``z = x - X_mean_``: the epistatic genetic value is
        ``z @ epistasis_matrix_ @ z`` minus its training mean, i.e.
        ``2 * epistasis_matrix_[i, j]`` is the effect of ``z_i z_j`` and the
        diagonal that of ``z_i^2``.  Only with ``kernel="additive+epistatic"``.
        Past more markers than samples, a
        :class:`~sklearn_elm.FactoredPairMatrix`: the BLUP is
        ``W^T diag(w) W`` for the centred training markers scaled by the
        kernel's normaliser, ``W = Z / sqrt(kernel_scale_)``, kept as ``W`` and
        ``w`` (``n p`` numbers, not ``p^2``; a 50,000-marker panel would need
        20 GB dense); index it as an array, or form it with ``np.asarray``.
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
    enters each likelihood evaluation through a p x p Schur complement, and
    the deviance ``reml_objective`` (``sklearn_elm/_reml.py``) and its
    analytic gradient are minimised over the log variance ratios with
    scipy's L-BFGS-B.  With more than ``n_samples / 3`` markers both kernels
    are n x n matrices and a trust-region Newton iteration with the exact
    Hessian (``sklearn_elm/_kernel_reml.py``) finds the optimum in a few
    ``O(n^3)`` steps, so the fit costs ``O(n^2 p + n^3)``.  The epistatic
    kernel's pairwise effects (``epistasis_matrix_``) are kept as factors
    past more markers than samples (``n p`` numbers per output); with fewer,
    they are a p x p matrix per output, ``O(n p^2)`` more.

    **Out of core.**  ``X`` may be a dask array, chunked over samples and
    loci, or a lazy PLINK array (:func:`~sklearn_elm.datasets.open_plink`,
    read through its dask array in blocks of samples); it is then never read
    whole.  The marker means and variances are dask reductions, the n x n
    kernels (or the p x p Gram matrix, with fewer markers than samples) sums
    over chunks of the products of chunks, and the marker effects
    ``Z^T alpha`` (and ``Z^T diag(w) Z`` for the pairwise effects) dask
    products, all computed by the active dask scheduler (a
    ``dask.distributed`` cluster where a ``Client`` is).  The REML runs in
    memory, on the n x n or p x p matrices, so memory is theirs plus a few
    chunks per worker.  The fit equals the in-memory one to float round-off.

    **Standard errors.**  ``variance_components_se_`` is what GCTA and GEMMA
    report: the asymptotic covariance of the REML estimates of
    ``sigma = (V_A, V_AA, V_E)`` is the inverse of the expected (Fisher)
    information ``I_kl = tr(P K_k P K_l) / 2`` of the restricted likelihood
    (``K_E = I``, ``P`` the REML projection), evaluated at the estimates;
    ``h2 = V_A / V_P`` and ``H2 = V_G / V_P`` have delta-method variances
    ``g^T I^{-1} g`` with the gradients ``g`` of the ratios, so that the
    covariances of numerator and denominator count.  The expected information
    rather than GCTA's average information (``y^T P K_k P K_l P y / 2``,
    equal to it in expectation): it depends on the data only through the
    kernels' spectrum and the estimates, so that it is read off the
    eigendecomposition the fit already holds, ``O(r)`` with one kernel and
    ``O(r p^2 + p^3)`` (one likelihood evaluation) with two, and from the
    exact Hessian of the Newton steps on n x n kernels (``O(n^2)`` more per
    step), without another pass over the markers of a dask array; and it is
    positive semi-definite at any point.  On 500 data sets of 300 samples and
    50 loci drawn from the additive model (``h2 = 0.5``), the mean SE of
    ``h2`` was 0.065 for a spread of the estimates of 0.066, and 95 % Wald
    intervals covered the truth in 94 % of them; the asymptotics are slower
    for ``V_A`` with few loci (12 loci and ``V_AA`` in the model: 87 %).  A
    variance estimated at 0 (on a bound of the parameter space) keeps its SE
    from the information there, but the law of the estimate then has an atom
    at 0 and a Wald interval should be cut at 0.  Where the information is
    singular, its diagonal scaled to 1 having an eigenvalue below ``1e-10``
    of the largest, the kernels cannot be told apart (e.g. one marker per
    sample, which makes ``K_A`` the identity on the error contrasts) and
    every SE of that output is NaN.

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
    >>> se = model.variance_components_se_
    >>> bool(0.0 < se.h2 < 0.2), bool(np.isnan(se.epistatic))
    (True, True)
    >>> model.predict(X[:2]).shape
    (2,)

    The same fit from a dask array, chunked over samples and loci:

    >>> import dask.array as da
    >>> lazy = GBLUPRegressor().fit(da.from_array(X, chunks=(100, 20)), y)
    >>> bool(np.allclose(lazy.coef_, model.coef_, rtol=1e-10))
    True
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
        X : array-like, lazy array or dask array of shape (n_samples, n_features)
            Marker dosages (0/1, 0/1/2 or any numeric coding).  A dask array
            or a lazy array (:func:`~sklearn_elm.datasets.open_plink`) is read
            a chunk at a time, by dask, and never whole (needs dask).
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
            Phenotypes; each output is fitted separately on the shared
            eigendecomposition.

        Returns
        -------
        self : GBLUPRegressor
            The fitted estimator.
        """
        if is_lazy(X):
            X, y = _validate_lazy(self, X, y)
        else:
            X, y = validate_data(
                self, X, y, multi_output=True, y_numeric=True, dtype=np.float64,
                ensure_min_samples=2, ensure_all_finite=False,
            )
            check_finite(X)  # naming the locus and the fix
        Y = y.reshape(len(y), -1).astype(np.float64)
        y_mean = Y.mean(axis=0)
        Yc = Y - y_mean
        with np.errstate(over="ignore"):
            overflow = np.flatnonzero(~np.isfinite(y_mean + np.einsum("ij,ij->j", Yc, Yc)))
        if overflow.size:
            raise ValueError(
                f"y is too large for REML: the mean or variance of output(s) {overflow.tolist()} "
                f"overflows float64 (largest |y| = {np.abs(Y).max():.3g}).  Rescale y, e.g. "
                "divide it by a power of 10.")
        constant = constant_columns(Y)
        if constant.size:
            raise ValueError(
                f"y is constant (output {int(constant[0])}): REML cannot separate a "
                "genetic and a residual variance of zero."
            )
        check_scale(Y)
        n, p = X.shape
        epistatic = self.kernel == "additive+epistatic"
        variances = 3 if epistatic else 2  # V_A (and V_AA) and V_E
        if n - 1 < variances:  # REML's n - 1 error contrasts cannot separate them
            raise ValueError(
                f"{n} samples: REML estimates {variances} variances from the n - 1 = {n - 1} "
                f"error contrasts of the samples, and needs at least {variances + 1} samples "
                f"for kernel={self.kernel!r}.")
        W_a, x_mean, c_a = additive_features(X)
        m = p * (p + 1) // 2 if epistatic else p
        use_features = self.solver == "features" or (self.solver == "auto" and m <= n)
        if use_features:
            _check_feature_solver(n, m, self.kernel)
        if epistatic:
            _check_pair_memory(n, p, Y.shape[1], factored=not use_features and p > n,
                               lazy=is_dask(W_a))
        spec = spectral_form(W_a, c_a, Yc, epistatic=epistatic, use_features=use_features)

        n_out = Y.shape[1]
        coef = np.empty((n_out, p))
        epi = None
        if epistatic:  # the pair matrices, or past p > n the weights of their factored form
            epi = np.zeros((n_out, n) if spec.factored else (n_out, p, p))
        intercept = np.empty(n_out)
        comps = np.zeros((n_out, 3))  # V_A, V_AA, V_E
        cov = np.empty((n_out, 3, 3))
        loglik = np.empty(n_out)
        # the likelihood works on matrices too small to gain from BLAS threads, which
        # thrash on a loaded machine
        with threadpool_limits(limits=1, user_api="blas"):
            for k in range(n_out):
                comps[k], loglik[k], coef[k], E, offset, cov[k] = fit_output(
                    spec, k, Yc[:, k], epistatic
                )
                if epistatic:
                    epi[k] = E
                # offset: the mean pairwise value of the training samples
                intercept[k] = y_mean[k] - x_mean @ coef[k] - offset

        v_a, v_aa, v_e = comps.T
        v_g = v_a + v_aa
        v_p = v_g + v_e
        squeeze = (lambda a: float(a[0])) if y.ndim == 1 else (lambda a: a)
        # the same keys as ELMDecomposer's; higher-order variance is 0 by construction
        parts = components_bunch(v_a, v_aa, v_g, v_p)
        # exact, not the round-off of the differences they would otherwise be read from
        parts.higher, parts.residual = np.zeros_like(v_a), v_e
        self.variance_components_ = Bunch(**{key: squeeze(val) for key, val in parts.items()})
        se = component_standard_errors(comps, cov, epistatic)
        self.variance_components_se_ = Bunch(**{key: squeeze(val) for key, val in se.items()})
        self.coef_ = coef[0] if y.ndim == 1 else coef
        self.intercept_ = squeeze(intercept)
        if epistatic:
            epi = epi[0] if y.ndim == 1 else epi
            self.epistasis_matrix_ = (FactoredPairMatrix(in_memory(spec.W_a), epi)
                                      if spec.factored else epi)
        self.log_likelihood_ = squeeze(loglik)
        self.X_mean_ = x_mean
        self.kernel_scale_ = c_a
        return self

    def predict(self, X):
        """Predict phenotypes as BLUPs of the genetic values of new genotypes.

        Parameters
        ----------
        X : array-like, lazy array or dask array of shape (n_samples, n_features)
            Marker dosages coded as in ``fit``.

        Returns
        -------
        y_pred : ndarray or dask array of shape (n_samples,) or (n_samples, n_outputs)
            ``intercept_ + X @ coef_`` plus, for the epistatic kernel,
            ``z @ epistasis_matrix_ @ z`` with ``z = X - X_mean_``.  For a
            dask ``X``, a dask array (one task per sample chunk); for a lazy
            array, an ndarray predicted a block of samples at a time.
        """
        check_is_fitted(self)
        if is_lazy(X):
            X = check_lazy(self, X, reset=False)  # a dask X: whole samples per chunk
            return lazy_predict(self, X, _block_rows(X.shape[1]))
        X = validate_data(self, X, reset=False, dtype=np.float64, ensure_all_finite=False)
        check_finite(X)
        pred = X @ np.atleast_2d(self.coef_).T + self.intercept_
        if hasattr(self, "epistasis_matrix_"):
            Z = X - self.X_mean_
            if isinstance(self.epistasis_matrix_, FactoredPairMatrix):
                pred += self.epistasis_matrix_.quadratic(Z).reshape(len(Z), -1)
                return pred[:, 0] if np.ndim(self.coef_) == 1 else pred
            E = self.epistasis_matrix_.reshape(-1, *self.epistasis_matrix_.shape[-2:])
            for k, E_k in enumerate(E):
                pred[:, k] += np.sum((Z @ E_k) * Z, axis=1)
        return pred[:, 0] if np.ndim(self.coef_) == 1 else pred

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        return tags


