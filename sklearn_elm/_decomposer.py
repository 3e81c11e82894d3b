"""ELMDecomposer: a fitted network read back as quantitative genetics.

Orchestration only: the equivalent linear map lives in :mod:`sklearn_elm._elm`
and the formulas in :mod:`sklearn_elm._decomposition`.
"""

from copy import deepcopy
from numbers import Integral

import numpy as np
import torch
from sklearn.base import BaseEstimator, TransformerMixin, _fit_context, clone
from sklearn.exceptions import NotFittedError
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.utils import Bunch, get_tags
from sklearn.utils._param_validation import HasMethods, Interval, StrOptions
from sklearn.utils.validation import _check_feature_names_in, check_is_fitted, validate_data

from ._decomposition import (
    average_effects,
    debiased_components,
    epistasis_contrast,
    epistasis_regression,
    init_moments,
    pairwise_part_variance,
    projection_fit,
    projection_terms,
    update_moments,
    variance_components,
    with_target,
)
from ._elm import _elm_batches, _elm_steps, _io_sizes, elm_residual


def _first_step_tags(estimator):
    """Tags of the estimator that first sees the input (a pipeline's first real step)."""
    while isinstance(estimator, Pipeline):
        steps = [step for _, step in estimator.steps if step not in (None, "passthrough")]
        if not steps:
            break
        estimator = steps[0]
    return get_tags(estimator)


def _check_exact(residual, peak, rtol=1e-3):
    """A clear error where ``f(x) = J(x) x`` fails beyond float round-off."""
    bad = residual > rtol * peak + 1e-12
    if bad.any():
        k = int(np.flatnonzero(bad)[0])
        raise ValueError(
            f"The equivalent linear map is not exact for this network: max |f(x) - J(x) x| "
            f"= {residual[k]:.3g} on output {k}, against max |f(x)| = {peak[k]:.3g}. The "
            "decomposition would be wrong; the network must be a bias-free stack of "
            "supported layers."
        )


def _default_estimator():
    # imported here so that the decomposer does not depend on their import order
    from ._encoding import GenotypeEncoder
    from ._regressor import NeuralGPRegressor

    return make_pipeline(GenotypeEncoder(), NeuralGPRegressor())


def _split_network(estimator):
    """Split a fitted estimator into ``(preprocessing or None, network step)``."""
    if isinstance(estimator, Pipeline):
        preprocessing = estimator[:-1] if len(estimator) > 1 else None
        net = estimator[-1]
    else:
        preprocessing, net = None, estimator
    if not isinstance(getattr(net, "module_", None), torch.nn.Module):
        raise TypeError(
            "ELMDecomposer decomposes a fitted skorch NeuralNet (such as "
            "NeuralGPRegressor) whose `module_` is a bias-free gated network, or a "
            f"Pipeline ending in one; got {type(net).__name__}, which has no torch "
            "module `module_`."
        )
    return preprocessing, net


class ELMDecomposer(TransformerMixin, BaseEstimator):
    """Additive effects, epistasis and variance components of a neural network.

    Fits a clone of ``estimator`` (or, with ``prefit=True``, uses a fitted
    one) and decomposes the network by its exact per-sample equivalent linear
    map ``f(x) = J(x) z`` on the samples given to ``fit``.  The statistics are
    accumulated batch by batch (see Notes for memory).

    Parameters
    ----------
    estimator : estimator or None, default=None
        A :class:`~sklearn_elm.NeuralGPRegressor` (or any skorch ``NeuralNet``
        whose ``module_`` is a bias-free network of ``nn.Linear`` layers and
        ReLU / LeakyReLU / SiLU / GELU activations, with optional
        ``intercept_`` and ``target_scale_``), or a :class:`~sklearn.pipeline.Pipeline`
        whose last step is one; the network's input ``z`` is then the output
        of the preceding steps.  None means
        ``make_pipeline(GenotypeEncoder(), NeuralGPRegressor())``: the
        decomposition is on the scale of the network's input, and ELM
        coefficients are allele-substitution effects only on the coded
        genotype scale, so genotypes are encoded first (a deliberate
        difference from a bare ``NeuralGPRegressor()``).
    prefit : bool, default=False
        Use ``estimator`` as already fitted (a deep copy of it is stored)
        instead of fitting a clone; ``y`` is then optional (without it there
        is no phenotypic variance and nothing to debias with).
    batch_size : int or None, default=1024
        Samples per batch of the map; None processes all at once.
    epistasis : {"auto", "projection", "regression", "contrast"}, default="auto"
        How additive and pairwise effects are read off the network.
        ``"auto"`` is ``"projection"`` when its least-squares problem is well
        determined, ``p (p + 3) / 2 <= n / 2`` for ``p`` network inputs and
        ``n`` samples (up to 90 inputs for 8500 samples), and
        ``"regression"`` otherwise:

        * ``"projection"``: the least-squares projection of the network's
          genetic value ``f`` on the additive terms ``z_i`` and the pairwise
          products of centred inputs ``(z_i - zbar_i)(z_j - zbar_j)``
          jointly (the network's own orthogonal additive-by-additive
          decomposition: its ``a_i`` are average effects), solved by
          streamed conjugate gradients.  The most accurate; see Notes.  Needs more samples
          than terms plus one (an error otherwise).
        * ``"regression"``: additive effects are the mean ELM coefficients,
          plus, where inputs are not centred, the average effect that
          interactions with partners of non-zero mean add
          (:func:`~sklearn_elm._decomposition.average_effects`), and
          ``e_ij = B_ji + B_ij`` with ``B`` the multiple-regression slopes of
          the ELM coefficients on the inputs (any coding, robust to LD), each
          coefficient ``s_i`` taken from the samples where ``z_i != 0``
          (elsewhere it multiplies 0 and the network leaves it arbitrary).
        * ``"contrast"``: additive effects as for ``"regression"``, and the published
          four-genotype-class contrast of the ELM coefficients in place of
          the slopes (-1/+1 codings only).
    components : {"auto", "debiased", "network"}, default="auto"
        What ``variance_components_`` estimates.  ``"auto"`` is
        ``"debiased"`` when ``y`` is given and the projection is well
        determined (as for ``epistasis``), and ``"network"`` otherwise:

        * ``"debiased"``: the trait's components.  The network's genetic
          value ``f`` is corrected by the least-squares projection of its
          training residuals ``y - f`` on the additive and pairwise terms,
          and each variance is corrected for the sampling noise of the
          coefficients it squares (see Notes).  Needs ``y``, and more
          samples than additive and pairwise terms plus one.
        * ``"network"``: the variances of the network's own parts (of
          ``additive_effects_``, ``epistasis_matrix_`` and ``f``), what the
          network has learnt.  A network that predicts a noisy trait well
          shrinks its fit, and these variances with it.

    Attributes
    ----------
    estimator_ : estimator
        The fitted estimator that was decomposed.
    additive_effects_ : ndarray of shape (n_features_z,) or (n_outputs, n_features_z)
        Additive effect ``a_i`` of each network input: its average effect
        under the sample's genotype frequencies, the coefficient of ``z_i``
        in the orthogonal decomposition ``f = mu + sum_i a_i (z_i - zbar_i)
        + sum_{i<j} e_ij (z_i - zbar_i)(z_j - zbar_j) + ...`` (at ``zbar =
        0`` simply the coefficient of ``z_i``).
    epistasis_matrix_ : ndarray of shape (n_features_z, n_features_z) or \
            (n_outputs, n_features_z, n_features_z)
        Symmetric pairwise effects, ``epistasis_matrix_[i, j] = e_ij`` in
        ``f = ... + sum_{i<j} e_ij z_i z_j``; the diagonal is 0 for binary
        codings (``z_i^2`` constant) and the dominance-like self term ``d_i``
        of ``d_i z_i^2`` otherwise (e.g. diploid -1/0/1).
    epistasis_variance_ : ndarray of the same shape as ``epistasis_matrix_``
        Sampling variance of each entry (from the residual variance of the
        projection, or of the regressions of the ELM coefficients).
    variance_components_ : Bunch
        ``additive``, ``epistatic``, ``higher``, ``genetic``, ``residual``,
        ``phenotypic``, ``h2`` and ``H2``: floats, or arrays of shape
        (n_outputs,) for 2-D ``y`` (see ``components``).  ``residual``,
        ``phenotypic``, ``h2`` and ``H2`` are NaN when ``prefit=True`` and no
        ``y`` is given (``components="network"``).
    intercept_ : float or ndarray of shape (n_outputs,)
        The network's intercept: ``predict(X) = intercept_ + transform(X)``
        summed over the inputs.
    elm_residual_ : float or ndarray of shape (n_outputs,)
        Exactness residual ``max_n |f(x_n) - J(x_n) z_n|`` over the samples
        decomposed (float round-off).
    epistasis_ : str
        The estimator ``epistasis`` resolved to (never ``"auto"``).
    components_ : str
        What ``components`` resolved to (never ``"auto"``).
    n_iter_ : int
        Conjugate-gradient passes of the projections (of the network and, for
        ``components="debiased"``, of its residuals).
    n_outputs_ : int
        Number of network outputs.
    n_features_z_ : int
        Number of network inputs ``z``.
    n_features_in_ : int
        Number of features seen in ``fit``.
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Feature names, when ``X`` has string column names.

    See Also
    --------
    sklearn_elm.NeuralGPRegressor : the default network.
    sklearn_elm.GenotypeEncoder : the default input coding.
    sklearn_elm.equivalent_linear_map : the per-sample map itself.

    Notes
    -----
    Write ``s_n = J(x_n)`` (one row per output), so ``f(x_n) = s_n . z_n``
    exactly, and ``transform`` returns the contributions ``s_ni z_ni``.

    *Why a bias-free network needs care with pairs.*  The network is
    positively homogeneous of degree 1, ``f(c z) = c f(z)``, so Euler's
    theorem ``f = sum_i z_i df/dz_i`` shares every term of ``f`` among the
    coefficients.  A pairwise term ``e z_i z_j`` can be represented on
    -1/+1 inputs by ``e (|z_i + z_j| - |z_i - z_j|) / 2``, whose map is
    ``s_i = (e / 2) z_j`` and ``s_j = (e / 2) z_i``: each direction carries
    half of ``e``, and the slope estimator must add the two directions
    (``"regression"``, exact for such networks).  How much of a pair a
    trained network routes through the two partners' coefficients is a
    property of the network, not of the function: the rest is carried, with
    the opposite sign, by all other loci (``s_k`` terms in ``z_i z_j z_k``).
    On the reference data, networks of one architecture trained on the same
    data gave summed slopes of 0.82-0.92 times the truth in one run and
    1.6-1.75 in another (whose halves, 0.8-0.87, match the published ~0.86).
    Exactly, for independent balanced loci,
    ``e_ij = E[f z_i z_j] = E[s_i z_j] + E[s_j z_i] + sum_{k != i, j} E[s_k z_k z_i z_j]``:
    summing every locus's share is the projection of ``f`` on ``z_i z_j``,
    which reads the function whatever its routing, and doing it jointly for
    all pairs and loci (``"projection"``) removes the sampling noise that the
    other pairs add to a marginal projection.  The joint projection also
    gives the additive effects (on the reference data r >= 0.9999 against the
    true average effects on every trait, ``benchmarks/decomposition.py``).

    *Variance components of the network* (``components="network"``), per
    output: ``V_G = Var_n f(x_n)`` (intercept irrelevant), ``V_A = a^T
    Cov(z) a`` (the variance of ``sum_i a_i z_i``), ``V_AA`` the variance
    of ``sum_{i<j} e_ij (z_i - zbar_i)(z_j - zbar_j)`` less ``sum_{i<=j}
    Var(e_ij) Var((z_i - zbar_i)(z_j - zbar_j))``,
    the estimation noise that the ``p (p - 1) / 2`` mostly null pairs would
    otherwise add, ``V_higher = V_G - V_A - V_AA``, ``V_E = V_P - V_G`` with
    ``V_P`` the variance of ``y``, ``h2 = V_A / V_P`` and ``H2 = V_G / V_P``.

    *Variance components of the trait* (``components="debiased"``, which
    ``"auto"`` chooses when it can).  A network trained on a noisy trait
    must shrink its fit to predict well, so the variances of its parts
    underestimate the trait's (at h2 = 0.25 on the reference data V_AA came
    out at half its true value).  The one-step correction of debiased estimation adds to the
    network what its training residuals ``r = y - f`` still hold: with
    ``c_f`` and ``c_r`` the least-squares projections of ``f`` and ``r`` on
    the ``m`` centred terms ``zc_i`` and ``zc_i zc_j`` (design ``D``), the
    coefficients are ``c = c_f + c_r`` and the genetic value ``g = f + D
    c_r``.  Then ``V_A = a^T Cov(z) a - sum_i Var(z_i) Var(a_i)`` and
    ``V_AA`` as above, with the sampling variances ``sigma_D^2 / (n
    Var(term))`` of ``c`` (``sigma_D^2`` the variance of what ``D`` leaves
    of ``y``, higher-order genetic variance included), and ``V_G = Var_n(g)
    - sigma^2 m / n`` with ``sigma^2`` the variance of what neither the
    network nor ``D`` explains (:func:`~sklearn_elm._decomposition.debiased_components`).
    In-sample, ``c_f + c_r`` is the least-squares fit of ``y`` on the
    additive and pairwise terms whatever the network: ``V_A`` and ``V_AA``
    are the noise-corrected moment (fixed-effect) estimates, unbiased for
    homoscedastic noise, and need ``m`` well below ``n``.  The network
    contributes ``V_higher``, the part of its fit that no such term
    explains, which it may have shrunk or, if it memorised noise, inflated:
    ``V_G`` is unbiased as far as that part is.  A component near zero can
    come out negative, as moment estimates do (it is not clipped, which
    would bias it).  ``additive_effects_`` and ``epistasis_matrix_`` stay
    the network's (shrunk, as BLUP effects are, and better predictors of
    new samples).

    *Memory.*  The ELM statistics are sums over samples accumulated batch by
    batch, ``O(n_outputs p^2 + batch_size n_outputs width)``; the ELM-slope
    estimators need nothing more.  The projection and the debiased
    components pass over the samples once per conjugate-gradient iteration
    and keep the encoded inputs, genetic values and residuals for it,
    ``O(n (p + 2 n_outputs))`` more.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.pipeline import make_pipeline
    >>> from sklearn_elm import GenotypeEncoder, NeuralGPRegressor
    >>> from sklearn_elm import ELMDecomposer
    >>> rng = np.random.default_rng(0)
    >>> G = rng.integers(0, 2, size=(2000, 4))  # haploid genotypes 0/1
    >>> Z = 2.0 * G - 1
    >>> y = Z[:, 0] + 0.5 * Z[:, 1] * Z[:, 2] + 3.0
    >>> net = NeuralGPRegressor(module__hidden_sizes=(64,), max_epochs=40,
    ...                         random_state=0)
    >>> dec = ELMDecomposer(make_pipeline(GenotypeEncoder(), net)).fit(G, y)
    >>> dec.additive_effects_.round(1) + 0.0
    array([1., 0., 0., 0.])
    >>> dec.epistasis_matrix_.round(1) + 0.0
    array([[0. , 0. , 0. , 0. ],
           [0. , 0. , 0.5, 0. ],
           [0. , 0.5, 0. , 0. ],
           [0. , 0. , 0. , 0. ]])
    >>> vc = dec.variance_components_
    >>> round(vc.additive, 1), round(vc.epistatic, 2), round(vc.h2, 1)  # true 1, 0.25, 0.8
    (1.0, 0.25, 0.8)
    >>> contributions = dec.transform(G)
    >>> bool(np.allclose(contributions.sum(1) + dec.intercept_, dec.predict(G)))
    True
    """

    _parameter_constraints = {
        "estimator": [HasMethods(["fit", "predict"]), None],
        "prefit": ["boolean"],
        "batch_size": [Interval(Integral, 1, None, closed="left"), None],
        "epistasis": [StrOptions({"auto", "projection", "regression", "contrast"})],
        "components": [StrOptions({"auto", "debiased", "network"})],
    }

    def __init__(
        self,
        estimator=None,
        *,
        prefit=False,
        batch_size=1024,
        epistasis="auto",
        components="auto",
    ):
        self.estimator = estimator
        self.prefit = prefit
        self.batch_size = batch_size
        self.epistasis = epistasis
        self.components = components

    def _get_estimator(self):
        return _default_estimator() if self.estimator is None else self.estimator

    @_fit_context(prefer_skip_nested_validation=False)
    def fit(self, X, y=None):
        """Fit the estimator (unless prefit) and decompose it on ``X``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training inputs (genotypes with the default estimator).
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
            Targets; required unless ``prefit=True``.

        Returns
        -------
        self : ELMDecomposer
            The fitted decomposer.
        """
        if y is None:
            if not self.prefit:
                raise ValueError(
                    "ELMDecomposer requires y to be passed, but the target y is None: "
                    "y is needed to fit the estimator (or pass a fitted one with "
                    "prefit=True)."
                )
            if self.components == "debiased":
                raise ValueError(
                    "components='debiased' corrects the network by its residuals y - f(x) "
                    "and needs y; pass y, or components='network' for the components of "
                    "the network alone."
                )
            X = self._passed_on(
                X, validate_data(self, X, ensure_all_finite=self._finite(self._get_estimator()))
            )
        else:
            checked, y = validate_data(
                self,
                X,
                y,
                ensure_all_finite=self._finite(self._get_estimator()),
                multi_output=True,
                y_numeric=True,
            )
            X = self._passed_on(X, checked)
            y = np.asarray(y, dtype=np.float64)
        if self.prefit:
            if self.estimator is None:
                raise ValueError(
                    "prefit=True needs a fitted estimator, but estimator is None; pass the "
                    "fitted network (or pipeline) or use prefit=False."
                )
            try:
                check_is_fitted(self.estimator)
            except NotFittedError as exc:
                raise NotFittedError(
                    "prefit=True needs a fitted estimator; fit it first or use prefit=False."
                ) from exc
            self.estimator_ = deepcopy(self._get_estimator())
        else:
            self.estimator_ = clone(self._get_estimator()).fit(X, y)
        preprocessing, net = _split_network(self.estimator_)
        module = net.module_
        n_inputs, n_outputs = _io_sizes(_elm_steps(module))
        self.n_outputs_ = n_outputs
        self._resolve_auto(n_inputs, X.shape[0], y is not None)
        if y is not None:
            Y = y.reshape(len(y), -1)
            if Y.shape[1] != n_outputs:
                raise ValueError(f"y has {Y.shape[1]} outputs but the network has {n_outputs}.")
            phenotypic = Y.var(axis=0)
        else:
            phenotypic = np.full(n_outputs, np.nan)
        self._single_output = (y.ndim == 1) if y is not None else n_outputs == 1

        debiased = self.components_ == "debiased"
        # the projections pass over (z, f) once per solver iteration: keep the
        # encoded inputs and genetic values (the size of X and y) rather than
        # re-encoding and re-running the network on every pass
        keep = self.epistasis_ == "projection" or debiased
        intercept = self._net_intercept(net, n_outputs)
        moments, residual, kept, start = None, np.zeros(n_outputs), [], 0
        peak = np.zeros(n_outputs)
        for Z, F, S, r in self._iter_decomposition(X, preprocessing, net):
            if moments is None:
                moments = init_moments(
                    Z.shape[1], n_outputs, contrast=self.epistasis_ == "contrast"
                )
            update_moments(moments, Z, F, S)
            residual = np.maximum(residual, r)
            peak = np.maximum(peak, np.abs(F).max(axis=0, initial=0.0))
            if keep:
                # residual of the network's prediction, intercept + f
                R = Y[start : start + len(Z)] - intercept - F if debiased else None
                kept.append((Z, F, R))
            start += len(Z)
        if moments is None or moments.n < 2:
            raise ValueError("ELMDecomposer needs at least 2 samples to decompose.")
        _check_exact(residual, peak)
        network_fit = None
        self.n_iter_ = 0
        if keep:
            self._check_terms(moments)
            network_fit = projection_fit(moments, lambda: ((Z, F) for Z, F, _ in kept))
            self.n_iter_ = network_fit.n_iter
        if self.epistasis_ == "projection":
            additive, E = network_fit.additive, network_fit.epistasis
            E_var = network_fit.epistasis_variance
        else:
            additive = average_effects(moments)
            E, E_var = epistasis_regression(moments, return_variance=True)
            if self.epistasis_ == "contrast":
                E = epistasis_contrast(moments)
        if debiased:
            components = self._debiased_components(moments, kept, network_fit, phenotypic)
        else:
            batches = (
                (Z for Z, _, _ in kept)
                if kept
                else (Zb for _, Zb in self._iter_inputs(X, preprocessing))
            )
            pairwise = pairwise_part_variance(batches, E, moments)
            components = variance_components(moments, additive, E, E_var, phenotypic, pairwise)
        self.n_features_z_ = moments.z.shape[0]

        squeeze = self._squeeze
        self.additive_effects_ = squeeze(additive)
        self.epistasis_matrix_ = squeeze(E)
        self.epistasis_variance_ = squeeze(E_var)
        self.variance_components_ = Bunch(
            **{name: squeeze(value) for name, value in components.items()}
        )
        self.intercept_ = squeeze(intercept)
        self.elm_residual_ = squeeze(residual)
        return self

    def _resolve_auto(self, n_inputs, n_samples, has_y):
        """Set ``epistasis_`` and ``components_``: least squares on the ``p`` inputs and
        at most ``p (p + 1) / 2`` products only where twice the samples are there."""
        well_determined = n_inputs * (n_inputs + 3) / 2 <= n_samples / 2
        self.epistasis_ = self.epistasis
        if self.epistasis == "auto":
            self.epistasis_ = "projection" if well_determined else "regression"
        self.components_ = self.components
        if self.components == "auto":
            self.components_ = "debiased" if has_y and well_determined else "network"

    def _check_terms(self, moments):
        """A clear error where the least-squares projection has more terms than samples."""
        m = projection_terms(moments)
        if moments.n - 1 <= m:
            method = (
                "epistasis='projection'" if self.epistasis_ == "projection"
                else "components='debiased'"
            )
            raise ValueError(
                f"{method} fits {m} additive and pairwise terms by least squares, more than "
                f"{moments.n} samples allow; use epistasis='regression' and "
                "components='network' (or 'auto', which chooses them when the samples are "
                "too few)."
            )

    def _debiased_components(self, moments, kept, network_fit, phenotypic):
        """Components of ``f`` corrected by the projection of its residuals (see Notes)."""
        total = sum(R.sum(axis=0) for _, _, R in kept)
        squares = sum((R**2).sum(axis=0) for _, _, R in kept)
        residual_fit = projection_fit(
            with_target(moments, total, squares), lambda: ((Z, R) for Z, _, R in kept)
        )
        self.n_iter_ += residual_fit.n_iter
        return debiased_components(moments, lambda: kept, network_fit, residual_fit, phenotypic)

    @staticmethod
    def _finite(estimator):
        """Let NaN through only to an estimator that handles it (e.g. GenotypeEncoder,
        also as the first step of a pipeline)."""
        return "allow-nan" if _first_step_tags(estimator).input_tags.allow_nan else True

    @staticmethod
    def _passed_on(X, checked):
        """What the inner estimator gets: a DataFrame as such (its column names may select
        columns in a pipeline), anything else as the validated array."""
        return X if hasattr(X, "iloc") else checked

    def _validate_passed_on(self, X):
        checked = validate_data(
            self, X, ensure_all_finite=self._finite(self.estimator_), reset=False
        )
        return self._passed_on(X, checked)

    def _squeeze(self, value):
        """Drop the output axis (or return a float) for single-output ``y``."""
        if not self._single_output:
            return value
        value = value[0]
        return float(value) if np.ndim(value) == 0 else value

    @staticmethod
    def _net_scale(net, n_outputs):
        scale = getattr(net, "target_scale_", None)
        return np.ones(n_outputs) if scale is None else np.broadcast_to(scale, n_outputs)

    @staticmethod
    def _net_intercept(net, n_outputs):
        intercept = getattr(net, "intercept_", None)
        if intercept is None:
            return np.zeros(n_outputs)
        return np.broadcast_to(np.asarray(intercept, dtype=np.float64), n_outputs).copy()

    def _iter_inputs(self, X, preprocessing):
        """Yield ``(start, z)``: the network's inputs, batch by batch."""
        n = X.shape[0]
        step = max(n, 1) if self.batch_size is None else self.batch_size
        for start in range(0, n, step):
            Xb = X.iloc[start : start + step] if hasattr(X, "iloc") else X[start : start + step]
            Zb = Xb if preprocessing is None else preprocessing.transform(Xb)
            Zb = np.asarray(Zb, dtype=np.float64)
            if not np.isfinite(Zb).all():
                raise ValueError("The network's input contains NaN or infinity.")
            yield start, Zb

    def _iter_decomposition(self, X, preprocessing, net):
        """Yield ``(z, f, s, residual)`` per batch, on the target scale, in float64."""
        module = net.module_
        scale = self._net_scale(net, self.n_outputs_).astype(np.float64)
        for start, Zb in self._iter_inputs(X, preprocessing):
            for z, f, J in _elm_batches(module, Zb, batch_size=None, check_forward=start == 0):
                r = elm_residual(f, J, z).cpu().numpy().astype(np.float64) * np.abs(scale)
                yield (
                    z.cpu().numpy().astype(np.float64),
                    f.cpu().numpy().astype(np.float64) * scale,
                    J.cpu().numpy().astype(np.float64) * scale[None, :, None],
                    r,
                )

    def transform(self, X):
        """Per-sample contributions ``J(x)_i z_i`` of every input.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Inputs as in ``fit``.

        Returns
        -------
        contributions : ndarray of shape (n_samples, n_features_z) or \
                (n_samples, n_outputs * n_features_z)
            Output-major for multi-output ``y``; with the intercept they add
            up to the prediction.
        """
        check_is_fitted(self)
        X = self._validate_passed_on(X)
        preprocessing, net = _split_network(self.estimator_)
        blocks = [
            (S * Z[:, None, :]).reshape(len(Z), -1)
            for Z, _, S, _ in self._iter_decomposition(X, preprocessing, net)
        ]
        if not blocks:
            return np.zeros((0, self.n_outputs_ * self.n_features_z_))
        return np.concatenate(blocks)

    def get_feature_names_out(self, input_features=None):
        """Names of the contributions returned by ``transform``.

        Parameters
        ----------
        input_features : array-like of str or None, default=None
            Input feature names; defaults to ``feature_names_in_`` or
            ``x0, x1, ...``.

        Returns
        -------
        feature_names_out : ndarray of str objects
            The network's input names (``<output>_<name>`` for multi-output).
        """
        check_is_fitted(self)
        input_features = _check_feature_names_in(self, input_features)
        preprocessing, _ = _split_network(self.estimator_)
        names = input_features
        if preprocessing is not None and hasattr(preprocessing, "get_feature_names_out"):
            names = preprocessing.get_feature_names_out(input_features)
        if len(names) != self.n_features_z_:
            names = np.array([f"z{i}" for i in range(self.n_features_z_)], dtype=object)
        names = np.asarray(names, dtype=object)
        if self._single_output:
            return names
        return np.array(
            [f"y{k}_{name}" for k in range(self.n_outputs_) for name in names], dtype=object
        )

    def predict(self, X):
        """Predict with the decomposed estimator.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Inputs as in ``fit``.

        Returns
        -------
        y_pred : ndarray of shape (n_samples,) or (n_samples, n_outputs)
            ``estimator_.predict(X)``.
        """
        check_is_fitted(self)
        X = self._validate_passed_on(X)
        return self.estimator_.predict(X)

    def score(self, X, y, sample_weight=None):
        """Score of the decomposed estimator (R^2 for regressors).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Inputs as in ``fit``.
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
            True targets.
        sample_weight : array-like of shape (n_samples,), default=None
            Sample weights.

        Returns
        -------
        score : float
            ``estimator_.score(X, y)``.
        """
        check_is_fitted(self)
        X = self._validate_passed_on(X)
        if sample_weight is None:
            return self.estimator_.score(X, y)
        return self.estimator_.score(X, y, sample_weight=sample_weight)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        inner = get_tags(self._get_estimator())
        tags.target_tags.required = not self.prefit
        tags.input_tags.allow_nan = _first_step_tags(self._get_estimator()).input_tags.allow_nan
        tags.non_deterministic = inner.non_deterministic
        return tags
