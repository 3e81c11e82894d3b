"""ELMDecomposer: a fitted network read back as quantitative genetics.

Orchestration only: the equivalent linear map lives in :mod:`sklearn_elm._elm`
and the formulas in :mod:`sklearn_elm._decomposition`.  ``fit`` is a fixed
sequence of named steps; the effect and component estimators are looked up by
name in the tables ``EFFECT_ESTIMATORS`` and ``COMPONENT_ESTIMATORS`` of the decomposition.
"""

from numbers import Integral

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin, _fit_context, is_regressor
from sklearn.metrics import r2_score
from sklearn.utils import get_tags
from sklearn.utils._param_validation import HasMethods, Interval, StrOptions
from sklearn.utils.validation import check_is_fitted

from ._decomposer_steps import (
    default_estimator,
    fit_state,
    input_names,
    resolve_estimator,
    set_fitted,
    set_member_spread,
    stream_samples,
    target_outputs,
)
from ._decomposition import COMPONENT_ESTIMATORS, EFFECT_ESTIMATORS, resolve
from ._decomposition._inference import significant_pairs_table
from ._elm import elm_steps, io_sizes
from ._inputs import is_lazy, passed_on, validate_fit
from ._lazy import lazy_predict, transform_in_blocks
from ._streaming import check_exact, first_step_tags, split_network


class ELMDecomposer(TransformerMixin, BaseEstimator):
    """Additive effects, epistasis and variance components of a neural network.

    Fits a clone of ``estimator`` (or, with ``prefit=True``, uses a fitted one) and
    decomposes the network by its exact per-sample equivalent linear map ``f(x) = J(x) z``
    on the samples given to ``fit``, batch by batch (see Notes for memory).

    Parameters
    ----------
    estimator : estimator or None, default=None
        A :class:`~sklearn_elm.NeuralGPRegressor` (or any skorch ``NeuralNet`` whose
        ``module_`` is, or holds as ``layers``, an ``nn.Sequential`` of bias-free
        ``nn.Linear`` layers and ReLU / LeakyReLU / SiLU / GELU activations), or a
        :class:`~sklearn.pipeline.Pipeline` whose last step
        is one; the network's input ``z`` is then the output of the preceding steps.  None
        means ``make_pipeline(GenotypeEncoder(), NeuralGPRegressor())``: ELM coefficients
        are allele effects on the coded genotype scale.
    prefit : bool, default=False
        Use ``estimator`` as already fitted (a deep copy of it is stored)
        instead of fitting a clone; ``y`` is then optional (without it there
        is no phenotypic variance and nothing to debias with).
    batch_size : int or None, default=1024
        Samples per batch of the map; None processes all at once.
    n_estimators : int, default=1
        Networks to train (not with ``prefit``): clones of ``estimator`` with seeds
        derived from its network's ``random_state``, averaged into one network (their
        hidden units side by side: its map is exactly the members' average) and
        decomposed; each member is decomposed too, for the spread across members.
    n_jobs : int or None, default=None
        Members trained and decomposed in parallel (joblib; None is 1).
    pairs_dtype : {"float64", "float32"}, default="float64"
        dtype of the ``p x p`` ``epistasis_matrix_`` and ``epistasis_variance_`` (0.8 GB
        each per output in float64 at ``p = 10,000``): ``"float32"`` halves what the fitted
        decomposer holds, the values float64's rounded (the fit works in float64).
    epistasis : {"auto", "projection", "screened", "regression", "contrast"}, default="auto"
        How additive and pairwise effects are read off the network.
        ``"auto"`` is ``"projection"`` when its least-squares problem is well
        determined, ``p (p + 3) / 2 <= n / 2`` for ``p`` network inputs and
        ``n`` samples (up to 90 inputs for 8500 samples), else ``"screened"``
        when ``y`` is given, else ``"regression"``:

        * ``"projection"``: the joint least-squares projection of the network's genetic
          value ``f`` on the additive terms ``z_i`` and the products of centred inputs
          ``(z_i - zbar_i)(z_j - zbar_j)`` (its orthogonal decomposition; the ``a_i`` are
          average effects), by streamed conjugate gradients.  Needs more samples than
          terms plus one.
        * ``"screened"``: the projection restricted to the terms the network uses, at any
          ``p``: every locus (past ``n / 2``, those that explain most of ``f`` and those
          of the pairs), the pairs most correlated with what the loci leave of ``f``
          (forward rounds over all ``p (p + 1) / 2``) and a third more from what they
          leave of ``y``, kept where ``y`` confirms them (``_decomposition/_screening.py``).
          Pairs not chosen are 0, with a NaN ``epistasis_variance_``.  Needs ``y``.
        * ``"regression"``: average effects from the mean ELM coefficients
          (``average_effects`` in ``_decomposition/_slopes.py``) and ``e_ij =
          B_ji + B_ij`` with ``B`` the multiple-regression slopes of the ELM
          coefficients on the inputs, each ``s_i`` read where ``z_i != 0``.
        * ``"contrast"``: additive effects as for ``"regression"``, and the published
          four-genotype-class contrast of the ELM coefficients in place of
          the slopes (-1/+1 codings only).
    components : {"auto", "debiased", "screened", "crossfit", "network"}, default="auto"
        What ``variance_components_`` estimates.  ``"auto"`` is ``"debiased"`` when ``y`` is
        given and the projection is well determined (as for ``epistasis``; ``"screened"``,
        with a warning, where linkage inflates its noise past twice chance), ``"crossfit"`` when
        ``y`` is given and it is not, and ``"network"`` without ``y``:

        * ``"debiased"``: the trait's components.  The network's genetic value ``f`` is
          corrected by the least-squares projection of its training residuals ``y - f`` on
          the additive and pairwise terms, and each variance is corrected for the sampling
          noise of the coefficients it squares (see Notes).  Needs ``y``, and more samples
          than additive and pairwise terms plus one.
        * ``"screened"``: the trait's components from ``y``'s least-squares fit on the
          loci and the confirmed pairs of ``epistasis="screened"``.  Needs ``y``; at any
          ``p``.  Past ``n / 2`` loci, the network's fit chooses the loci: on sparse
          traits V_A is then high and V_AA low.
        * ``"crossfit"``: as ``"screened"``, but past ``n / 2`` loci each half of the
          samples chooses by ``y`` the terms whose variances the other estimates, and what
          the loci left out carry is estimated by moments.
        * ``"network"``: the variances of the network's own parts (of
          ``additive_effects_``, ``epistasis_matrix_`` and ``f``), what the
          network has learnt.  A network that predicts a noisy trait well
          shrinks its fit, and these variances with it.
    component_se : {"auto", "jackknife", "model"}, default="auto"
        The standard errors of ``"screened"`` and ``"crossfit"`` components.
        ``"model"``: those of the final fit given its terms.  ``"jackknife"``: a
        delete-a-group jackknife (20 groups of samples) of the whole fit of ``y``, the
        choice of its pairs included, whose errors count a pair found in some samples and
        missed in others.  ``"auto"``: the jackknife where every locus is fitted and its
        20 refits are cheap (see ``docs/science.rst``), the model's elsewhere.

    Attributes
    ----------
    estimator_ : estimator
        The fitted estimator that was decomposed (with ``n_estimators > 1``, the
        members' average as one network).
    estimators_ : list of estimator
        The members, with ``n_estimators > 1``.
    additive_effects_std_, variance_components_std_ : ndarray and Bunch
        With ``n_estimators > 1``: the standard deviation across members of their own
        additive effects and variance components (the instability of one network's
        read-out from seed to seed; that of the average is about ``1 / sqrt(k)`` of it).
    additive_effects_ : ndarray of shape (n_features_z,) or (n_outputs, n_features_z)
        Additive effect ``a_i`` of each network input: its average effect
        under the sample's genotype frequencies, the coefficient of ``z_i -
        zbar_i`` in the orthogonal decomposition of ``f``.
    epistasis_matrix_ : ndarray of shape (n_features_z, n_features_z) or \
            (n_outputs, n_features_z, n_features_z)
        Symmetric pairwise effects, ``epistasis_matrix_[i, j] = e_ij`` in
        ``f = ... + sum_{i<j} e_ij z_i z_j``; the diagonal is 0 for binary
        codings (``z_i^2`` constant) and the dominance-like self term ``d_i``
        of ``d_i z_i^2`` otherwise (e.g. diploid -1/0/1).  For ``"screened"``,
        where the dense matrix and its variance would take more than 4 GiB
        together, a :class:`scipy.sparse.coo_array` of the same shape that
        stores the chosen pairs (both triangles).  float64, or float32 with
        ``pairs_dtype="float32"``.
    epistasis_variance_ : ndarray of the same shape as ``epistasis_matrix_``
        Sampling variance of each entry (from the residual variance of the
        projection, or of the regressions of the ELM coefficients; for
        ``"screened"``, of ``y``'s coefficient, and NaN where not chosen, or
        sparse with the matrix, absent where not chosen).
    variance_components_ : Bunch
        ``additive``, ``epistatic``, ``higher``, ``genetic``, ``residual``,
        ``phenotypic``, ``h2`` and ``H2``: floats, or arrays of shape
        (n_outputs,) for 2-D ``y`` (see ``components``).  ``residual``,
        ``phenotypic``, ``h2`` and ``H2`` are NaN when ``prefit=True`` and no
        ``y`` is given (``components="network"``).
    variance_components_se_ : Bunch
        Standard errors of ``variance_components_`` (same keys) given the genotypes,
        ``h2`` and ``H2`` over the observed ``V_P``; NaN for ``phenotypic``, for
        ``higher`` with ``"debiased"``, and with ``components="network"``.
    additive_estimates_, additive_se_, additive_pvalues_ : ndarray, shaped as ``additive_effects_``
        ``y``'s additive effect of each input, its standard error and two-sided p-value, in
        ``y``'s least-squares fit on every locus and the confirmed pairs (the screened fit's
        final model; a locus left out of it: the slope of the model's residual on it, and its
        score test): the trait's, not shrunk as the network's ``additive_effects_`` are.  NaN
        with ``components="network"``.  Joint: a locus with a near copy has little to test.
    marginal_pvalues_ : ndarray of the shape of ``additive_effects_``
        One locus at a time, as a genome-wide scan (a Manhattan plot) reports it: the
        p-value of each input's slope on ``y`` alone; in linkage a QTL's neighbours
        share its signal.
    pair_tests_ : Bunch, list of Bunch (per output) or None
        Tests of pairs: ``pairs`` (shape (t, 2), ``i <= j``, ``i == j`` a self term),
        ``estimate`` (``y``'s effect of the pair added to the final model), ``std_error``,
        ``p_value`` (smallest first), ``p_joint`` (beside the pairs competing with it, for
        the first 200 of q up to 0.5; else NaN, kept by the list) and ``n_tests``, the pairs
        tested, of which the ``t`` of smallest p-value are kept; None for "network" components.
    intercept_ : float or ndarray of shape (n_outputs,)
        The network's intercept: ``predict(X) = intercept_ + transform(X)``
        summed over the inputs.
    elm_residual_ : float or ndarray of shape (n_outputs,)
        Exactness residual ``max_n |f(x_n) - J(x_n) z_n|`` over the samples
        decomposed (float round-off).
    epistasis_ : str
        The estimator ``epistasis`` resolved to (never ``"auto"``).
    component_se_ : str or None
        The errors ``variance_components_se_`` holds: ``"jackknife"`` or ``"model"``
        (also for ``"debiased"``); None with ``components="network"``.
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
    target_names_ : ndarray of shape (`n_outputs_`,)
        The traits' names, when ``y`` is a DataFrame with string column names (or a
        named Series); every per-output result is in their order.

    See Also
    --------
    sklearn_elm.NeuralGPRegressor : the default network.
    sklearn_elm.GenotypeEncoder : the default input coding.
    sklearn_elm.equivalent_linear_map : the per-sample map itself.

    Notes
    -----
    Write ``s_n = J(x_n)`` (one row per output), so ``f(x_n) = s_n . z_n``
    exactly, and ``transform`` returns the contributions ``s_ni z_ni``.

    Why the projection reads a pair whatever the network's routing of it
    (Euler's theorem shares every term of a bias-free network among the
    coefficients of several loci), and the formulas of both kinds of
    components, are on the science page of the documentation
    (``docs/science.rst``) and in
    ``variance_components`` and ``debiased_components`` of
    ``sklearn_elm/_decomposition/_variance.py``.

    *Memory and out of core.*  The ELM statistics are sums over samples accumulated
    batch by batch: ``3.5`` to ``max(5 + k, 3 + 2 k)`` float64 ``p x p`` arrays at the peak
    (``k = n_outputs``; not the screened estimator), and the projection, debiased and
    screened estimators keep the encoded inputs, ``O(n (p + 2 k))``.  A fit that would not
    fit in memory is refused before anything is read.  ``X`` may be a lazy array
    (:func:`~sklearn_elm.datasets.open_plink`) or a dask array, never read whole.  The costs
    of each estimator are in ``docs/scaling.rst``.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.pipeline import make_pipeline
    >>> from sklearn_elm import ELMDecomposer, GenotypeEncoder, NeuralGPRegressor
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
        "epistasis": [StrOptions({"auto", *EFFECT_ESTIMATORS})],
        "components": [StrOptions({"auto", *COMPONENT_ESTIMATORS})],
        "n_estimators": [Interval(Integral, 1, None, closed="left")],
        "n_jobs": [Integral, None],
        "pairs_dtype": [StrOptions({"float64", "float32"})],
        "component_se": [StrOptions({"auto", "jackknife", "model"})],
    }

    def __init__(
        self,
        estimator=None,
        *,
        prefit=False,
        batch_size=1024,
        epistasis="auto",
        components="auto",
        n_estimators=1,
        n_jobs=None,
        pairs_dtype="float64",
        component_se="auto",
    ):
        self.estimator = estimator
        self.prefit = prefit
        self.batch_size = batch_size
        self.epistasis = epistasis
        self.components = components
        self.n_estimators = n_estimators
        self.n_jobs = n_jobs
        self.pairs_dtype = pairs_dtype
        self.component_se = component_se

    def _get_estimator(self):
        return default_estimator() if self.estimator is None else self.estimator

    @_fit_context(prefer_skip_nested_validation=False)
    def fit(self, X, y=None):
        """Fit the estimator (unless prefit) and decompose it on ``X``.

        Parameters
        ----------
        X : array-like, lazy array or dask array of shape (n_samples, n_features)
            Training inputs (genotypes with the default estimator).  A lazy
            array (:func:`~sklearn_elm.datasets.open_plink`) or a dask array
            is decomposed in sample blocks without being read whole (see
            Notes); a network fitted here (``prefit=False``) is trained on
            it as its estimator reads it.
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
            Targets; required unless ``prefit=True``.

        Returns
        -------
        self : ELMDecomposer
            The fitted decomposer.

        Raises
        ------
        ValueError
            If ``y`` is missing (unless ``prefit=True``) or constant, if the
            network's map is not exact, if a least-squares projection has
            more terms than the samples allow, if the ``p x p`` sums would not
            fit in the memory available, or if a lazy ``X``'s kept samples would
            take more than half of it.
        """
        X, y = validate_fit(self, X, y)
        for name in ("estimators_", "additive_effects_std_", "variance_components_std_"):
            self.__dict__.pop(name, None)  # an ensemble's, from an earlier fit
        self.estimator_ = resolve_estimator(self, X, y)
        preprocessing, net = split_network(self.estimator_)
        n_inputs, self.n_outputs_ = io_sizes(elm_steps(net.module_))
        self.epistasis_, self.components_ = resolve(
            self.epistasis, self.components, n_inputs, X.shape[0], y is not None
        )
        stream = stream_samples(self, X, target_outputs(self, y), preprocessing, net)
        check_exact(stream.residual, stream.peak)
        state = fit_state(self, stream, X, preprocessing, net)
        stream.kept = None  # the state holds the samples alone, so that it can free them
        effects = EFFECT_ESTIMATORS[self.epistasis_](state)
        components = COMPONENT_ESTIMATORS[self.components_](state, *effects)
        set_fitted(self, state, stream, effects, components)
        if self.n_estimators > 1:
            set_member_spread(self, X, y)
        return self

    def significant_pairs(self, fdr=0.05, *, as_frame=True):
        """The pairs whose interaction is significant at a false discovery rate.

        Benjamini-Hochberg over every pair tested (``pair_tests_.n_tests``) on the
        p-values of ``pair_tests_``, each pair's test of what it adds to ``y``'s fit on
        every locus and the confirmed pairs (and the pairs of the 5 % list), so that a
        pair in linkage with a fitted term is not counted for it; less the pairs whose
        test beside the pairs competing with them (``p_joint``) fails the step at ``fdr``
        among those listed: a proxy of pairs missing from the fit (``docs/science.rst``).

        Parameters
        ----------
        fdr : float, default=0.05
            False discovery rate, in (0, 1).
        as_frame : bool, default=True
            Return a pandas DataFrame (pandas must be installed), else a dict of
            column arrays.

        Returns
        -------
        table : DataFrame or dict
            Columns ``output`` (and ``trait``, its name, where ``target_names_`` is set),
            ``i``, ``j`` (input indices, ``i <= j``; ``i == j`` a self term), ``locus_i``,
            ``locus_j`` (input names), ``estimate``, ``std_error``, ``p_value``,
            ``q_value``, ``p_joint``; by output, then p-value.

        Examples
        --------
        >>> import numpy as np
        >>> from sklearn_elm import ELMDecomposer, NeuralGPRegressor
        >>> rng = np.random.default_rng(0)
        >>> Z = rng.choice([-1.0, 1.0], size=(2000, 6))
        >>> y = Z[:, 0] + 0.5 * Z[:, 1] * Z[:, 2] + rng.normal(size=2000)
        >>> net = NeuralGPRegressor(module__hidden_sizes=(32,), max_epochs=30,
        ...                         random_state=0)
        >>> table = ELMDecomposer(net).fit(Z, y).significant_pairs(as_frame=False)
        >>> table["i"].tolist(), table["j"].tolist()
        ([1], [2])
        """
        check_is_fitted(self)
        if self.pair_tests_ is None:
            raise ValueError(
                f"significant_pairs needs the trait's tests, which a fit with y computes "
                f"for components 'auto', 'debiased', 'screened' and 'crossfit'; this "
                f"decomposer has components_={self.components_!r}."
            )
        tests = [self.pair_tests_] if self._single_output else self.pair_tests_
        return significant_pairs_table(tests, fdr, input_names(self), as_frame,
                                       getattr(self, "target_names_", None))

    def transform(self, X):
        """Per-sample contributions ``J(x)_i z_i`` of every input.

        Parameters
        ----------
        X : array-like, lazy array or dask array of shape (n_samples, n_features)
            Inputs as in ``fit``.

        Returns
        -------
        contributions : ndarray or dask array of shape (n_samples, n_features_z) or \
                (n_samples, n_outputs * n_features_z)
            Output-major for multi-output ``y``; with the intercept they add
            up to the prediction.  A dask array (one task per sample chunk)
            for a dask ``X``; else made a batch of samples at a time.
        """
        check_is_fitted(self)
        preprocessing, net = split_network(self.estimator_)
        with passed_on(self, X) as X:
            return transform_in_blocks(X, preprocessing, net, self.batch_size, self.n_outputs_,
                                       self.n_features_z_)

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
            The network's input names (``<trait>_<name>`` for multi-output, the trait
            named by ``target_names_``, else ``y<k>``).
        """
        check_is_fitted(self)
        names = input_names(self, input_features)
        if self._single_output:
            return names
        traits = getattr(self, "target_names_", [f"y{k}" for k in range(self.n_outputs_)])
        return np.array([f"{trait}_{name}" for trait in traits for name in names], dtype=object)

    def predict(self, X):
        """Predict with the decomposed estimator.

        Parameters
        ----------
        X : array-like, lazy array or dask array of shape (n_samples, n_features)
            Inputs as in ``fit``.

        Returns
        -------
        y_pred : ndarray or dask array of shape (n_samples,) or (n_samples, n_outputs)
            ``estimator_.predict(X)``: for a lazy ``X``, a batch of samples at
            a time, and for a dask ``X`` a dask array (one task per chunk).
        """
        check_is_fitted(self)
        with passed_on(self, X) as X:
            if is_lazy(X):
                return lazy_predict(self.estimator_, X, self.batch_size)
            return self.estimator_.predict(X)

    def score(self, X, y, sample_weight=None):
        """Score of the decomposed estimator (R^2 for regressors).

        Parameters
        ----------
        X : array-like, lazy array or dask array of shape (n_samples, n_features)
            Inputs as in ``fit`` (predicted a block at a time where lazy).
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
        weights = {} if sample_weight is None else {"sample_weight": sample_weight}
        with passed_on(self, X) as X:
            if is_lazy(X) and is_regressor(self.estimator_):
                # RegressorMixin.score's R^2, from predictions made block by block
                y_pred = np.asarray(lazy_predict(self.estimator_, X, self.batch_size))
                return float(r2_score(np.asarray(y), y_pred, **weights))
            return self.estimator_.score(X, y, **weights)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        inner = get_tags(self._get_estimator())
        tags.target_tags.required = not self.prefit
        tags.input_tags.allow_nan = first_step_tags(self._get_estimator()).input_tags.allow_nan
        tags.non_deterministic = inner.non_deterministic
        return tags
