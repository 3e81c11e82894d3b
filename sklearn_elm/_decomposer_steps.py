"""The steps of :meth:`ELMDecomposer.fit <sklearn_elm.ELMDecomposer.fit>`, as functions of
the decomposer: which network is decomposed, the one pass over the samples, the state the
estimators share, and the fitted attributes."""

import warnings
from copy import deepcopy
from functools import partial

import numpy as np
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.utils import Bunch
from sklearn.utils.validation import _check_feature_names_in, check_is_fitted

from ._components import check_varies
from ._decomposition import (
    NEED_Y,
    FitState,
    build_design,
    check_inputs_vary,
    check_terms,
    needs_pairwise_sums,
)
from ._decomposition._codes import compact as compact_inputs
from ._elm import elm_steps, io_sizes
from ._ensemble import average_networks, fit_members
from ._inputs import is_dask, is_lazy
from ._lazy import check_kept_memory, check_pairwise_memory, check_worker_memory, dask_stream
from ._network import held_pairs
from ._resources import release_freed_memory
from ._streaming import iter_inputs, split_network, stream

__all__ = [
    "default_estimator",
    "fit_state",
    "input_names",
    "resolve_estimator",
    "set_fitted",
    "set_member_spread",
    "squeeze",
    "stream_samples",
    "target_outputs",
]


def default_estimator():
    """The network decomposed where none is given: ``GenotypeEncoder`` then
    ``NeuralGPRegressor``, both with their defaults."""
    # imported here so that the decomposer does not depend on their import order
    from ._encoding import GenotypeEncoder
    from ._regressor import NeuralGPRegressor

    return make_pipeline(GenotypeEncoder(), NeuralGPRegressor())


def resolve_estimator(decomposer, X, y):
    """A clone of ``estimator`` fitted on ``(X, y)``, or with ``prefit`` a copy of it."""
    if not decomposer.prefit:
        check_varies(y)
        if decomposer.n_estimators == 1:
            return clone(decomposer._get_estimator()).fit(X, y)
        decomposer.estimators_ = fit_members(decomposer._get_estimator(), X, y,
                                             decomposer.n_estimators, decomposer.n_jobs)
        return average_networks(decomposer.estimators_)
    if decomposer.n_estimators > 1:
        raise ValueError(
            f"n_estimators={decomposer.n_estimators} trains the members, and prefit=True "
            "decomposes a network already trained; use prefit=False, or n_estimators=1."
        )
    if decomposer.estimator is None:
        raise ValueError(
            "prefit=True needs a fitted estimator, but estimator is None; pass the "
            "fitted network (or pipeline) or use prefit=False."
        )
    try:
        check_is_fitted(decomposer.estimator)
    except NotFittedError as exc:
        raise NotFittedError(
            "prefit=True needs a fitted estimator; fit it first or use prefit=False."
        ) from exc
    check_varies(y)
    return deepcopy(decomposer._get_estimator())


def target_outputs(decomposer, y):
    """``y`` as (n_samples, n_outputs), checked against the network; None stays None.
    Sets ``decomposer._single_output``, whether the attributes drop the output axis."""
    decomposer._single_output = (y.ndim == 1) if y is not None else decomposer.n_outputs_ == 1
    if y is None:
        return None
    Y = y.reshape(len(y), -1)
    if Y.shape[1] != decomposer.n_outputs_:
        raise ValueError(
            f"y has {Y.shape[1]} outputs but the network has {decomposer.n_outputs_}."
        )
    return Y


def stream_samples(decomposer, X, Y, preprocessing, net):
    """Stream the network over ``X`` once (:func:`~sklearn_elm._streaming.stream`)."""
    # the projections pass over (z, f) once per solver iteration: keep the
    # encoded inputs and genetic values (the size of X and y) rather than
    # re-encoding and re-running the network on every pass
    residuals = decomposer.epistasis_ in NEED_Y["epistasis"] or (
        decomposer.components_ in NEED_Y["components"])
    keep = residuals or decomposer.epistasis_ == "projection"
    # the screened fit alone keeps the inputs compact (int8 genotype codes), and scans them
    compact = decomposer.epistasis_ == "screened" and decomposer.components_ in (
        "screened", "crossfit", "network")
    if keep and is_lazy(X):  # an X in memory is already as large as what is kept
        check_kept_memory(X.shape[0], io_sizes(elm_steps(net.module_))[0],
                          decomposer.n_outputs_, epistasis=decomposer.epistasis_,
                          components=decomposer.components_, debiased=residuals,
                          z_bytes=_kept_input_bytes(X, preprocessing) if compact else 8)
    pairwise = needs_pairwise_sums(decomposer.epistasis_, decomposer.components_)
    if pairwise:
        check_pairwise_memory(io_sizes(elm_steps(net.module_))[0], decomposer.n_outputs_,
                              epistasis=decomposer.epistasis_,
                              components=decomposer.components_)
        if is_dask(X):
            check_worker_memory(io_sizes(elm_steps(net.module_))[0], decomposer.n_outputs_,
                                epistasis=decomposer.epistasis_,
                                components=decomposer.components_)
    run = dask_stream if is_dask(X) else stream
    return run(X, Y, preprocessing, net, batch_size=decomposer.batch_size,
               n_outputs=decomposer.n_outputs_, keep=keep, debiased=residuals,
               contrast=decomposer.epistasis_ == "contrast",
               pairwise=pairwise,
               keep_compact=compact)


def _kept_input_bytes(X, preprocessing, rows=256, blocks=8):
    """Bytes an input kept compact takes (:func:`~sklearn_elm._decomposition._codes.compact`),
    as in ``rows`` samples read in ``blocks`` runs spread evenly over ``X`` (a panel whose
    later samples have more missing calls is seen): about 1 for genotype codes (more with
    missing calls), else 4."""
    n = X.shape[0]
    size = max(1, -(-min(rows, n) // blocks))
    starts = np.unique(np.linspace(0, max(n - size, 0), blocks).astype(int))
    sample = np.concatenate([next(iter_inputs(X[start : start + size], preprocessing, None))
                             for start in starts])
    return compact_inputs(sample).nbytes / sample.size


def haploid_codes(preprocessing):
    """Whether the network's inputs are :class:`~sklearn_elm.GenotypeEncoder`'s haploid codes
    (-1/+1), which have no self terms: ``z^2`` is 1, and where a missing call is imputed
    between the two it would mark the call as missing, not a dominance deviation.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.pipeline import Pipeline, make_pipeline
    >>> from sklearn_elm import GenotypeEncoder
    >>> from sklearn_elm._decomposer_steps import haploid_codes
    >>> G = np.array([[0, 1], [1, np.nan], [1, 0]])
    >>> haploid_codes(make_pipeline(GenotypeEncoder()).fit(G)), haploid_codes(None)
    (True, False)
    """
    from ._encoding import GenotypeEncoder

    last = preprocessing[-1] if isinstance(preprocessing, Pipeline) else preprocessing
    return isinstance(last, GenotypeEncoder) and getattr(last, "ploidy_", None) == 1


def fit_state(decomposer, stream, X, preprocessing, net):
    """What the estimators share: the sums, their design (computed here, once), the
    kept samples, a way to encode the inputs again where they were not kept, and the pairs
    ``net``'s pair path holds."""
    # the batches' buffers, freed, back to the system before the p x p work
    release_freed_memory()
    check_inputs_vary(stream.moments)
    design, self_terms = None, not haploid_codes(preprocessing)
    if needs_pairwise_sums(decomposer.epistasis_, decomposer.components_):
        # the p x p sums that only the design reads are freed as it is built
        design = build_design(stream.moments, overwrite=True, self_terms=self_terms)
        check_terms(design, decomposer.epistasis_, decomposer.components_)
    # read again for the network's pairwise part alone, whose temporaries are a few
    # batches x p: small batches keep them beside the p x p arrays held then
    batch = decomposer.batch_size
    inputs = partial(iter_inputs, X, preprocessing, None if batch is None else min(batch, 256))
    screened = decomposer.components_ in ("screened", "crossfit")
    return FitState(stream.moments, design, stream.kept, inputs, stream.phenotypic,
                    crossfit=decomposer.components_ == "crossfit",
                    component_se=decomposer.component_se if screened else "model",
                    held_pairs=held_pairs(net.module_), self_terms=self_terms,
                    auto_components=decomposer.components == "auto")


def set_fitted(decomposer, state, stream, effects, components):
    """Store the results, without the output axis for single-output ``y``."""
    drop = partial(squeeze, decomposer)
    additive, E, E_var = effects
    decomposer.n_features_z_ = state.moments.z.shape[0]
    decomposer.n_iter_ = state.n_iter
    if state.components_used:  # "auto" resolved again once the fit measured the design
        decomposer.components_ = state.components_used
    decomposer.additive_effects_ = drop(additive)
    if decomposer.pairs_dtype == "float32":  # the fit is float64 throughout
        E, E_var = E.astype(np.float32), E_var.astype(np.float32)
    decomposer.epistasis_matrix_ = drop(E)
    decomposer.epistasis_variance_ = drop(E_var)
    decomposer.variance_components_ = Bunch(
        **{name: drop(value) for name, value in components.items()}
    )
    decomposer.intercept_ = drop(stream.intercept)
    decomposer.elm_residual_ = drop(stream.residual)
    tests = state.inference
    # the screened fit resolves "auto" (the debiased components ask it for "model")
    decomposer.component_se_ = None if tests is None else state.screened.component_se
    if decomposer.component_se == "jackknife" and decomposer.component_se_ != "jackknife":
        warnings.warn(
            f"component_se='jackknife' applies to the screened and crossfit components; "
            f"those of components='{decomposer.components_}' have "
            + ("no standard errors (nothing is fitted to y)." if tests is None else
               f"the {decomposer.component_se_} standard errors."), UserWarning, stacklevel=4)
    if tests is None:  # the network's own components: nothing fitted to y
        nan = np.full(np.shape(additive), np.nan)
        tests = Bunch(additive_estimate=nan, additive_se=nan, additive_p=nan, marginal_p=nan,
                      pair_tests=None, components_se={name: nan[:, 0] for name in components})
    decomposer.additive_estimates_ = drop(tests.additive_estimate)
    decomposer.additive_se_ = drop(tests.additive_se)
    decomposer.additive_pvalues_ = drop(tests.additive_p)
    decomposer.marginal_pvalues_ = drop(tests.marginal_p)
    decomposer.variance_components_se_ = Bunch(
        **{name: drop(value) for name, value in tests.components_se.items()}
    )
    if state.inference is not None:  # the network's own parts warn of themselves
        warn_out_of_range(components, tests.components_se, state.moments.n)
    pairs = tests.pair_tests
    decomposer.pair_tests_ = pairs[0] if pairs is not None and decomposer._single_output else pairs


def warn_out_of_range(components, se, n):
    """Warn where the trait's heritabilities cannot both hold of a trait (``h2 > H2``, or
    either outside [0, 1]) by more than their sampling error explains.

    The components are moment estimates, unbiased and not clipped (clipping would bias
    them), so that where a component is near 0 or the samples are few they can come out of
    range: by less than twice the smaller of the two standard errors (``se``, arrays of shape
    (k,)), that is sampling noise, which the errors shown beside them say (``h2`` a little
    above ``H2`` where V_AA is 0); by more, the warning names both.

    Examples
    --------
    >>> import warnings
    >>> import numpy as np
    >>> from sklearn_elm._decomposer_steps import warn_out_of_range
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always")
    ...     warn_out_of_range({"h2": np.array([1.04, 0.70]), "H2": np.array([0.94, 0.697])},
    ...                       {"h2": np.array([0.05, 0.05]), "H2": np.array([0.04, 0.05])}, 500)
    >>> len(caught), "On output 0" in str(caught[0].message)
    (1, True)
    """
    h2, H2 = np.asarray(components["h2"]), np.asarray(components["H2"])
    se_h2, se_H2 = (np.asarray(se[key], dtype=np.float64) for key in ("h2", "H2"))
    excess = np.max([h2 - H2, -np.minimum(h2, H2), np.maximum(h2, H2) - 1], axis=0)
    noise = np.nan_to_num(np.fmin(se_h2, se_H2))
    # 1e-6: round-off (a noise-free trait fitted in float32 has H2 = 1 + 1e-7)
    bad = np.flatnonzero((excess > 1e-6) & (excess > 2 * noise))
    if bad.size:
        k = int(bad[0])
        warnings.warn(
            f"On output {k} the trait's h2 {h2[k]:.3f} (standard error {se_h2[k]:.3f}) and H2 "
            f"{H2[k]:.3f} ({se_H2[k]:.3f}) cannot both hold of a trait, by more than twice "
            "their errors: the components are unbiased moment estimates, not clipped, and at "
            f"{n} samples they rest on too little information to be read one by one. More "
            "samples, or GBLUPRegressor (REML keeps its estimates in range), give usable "
            "numbers.",
            UserWarning, stacklevel=5)  # the caller of ELMDecomposer.fit


def squeeze(decomposer, value):
    """Drop the output axis (or return a float) for single-output ``y``."""
    if not decomposer._single_output:
        return value
    value = value[0]
    return float(value) if np.ndim(value) == 0 else value


def set_member_spread(decomposer, X, y):
    """With ``n_estimators > 1``, the spread across the members of their own read-outs
    (:func:`~sklearn_elm._ensemble.member_spread`), each decomposed as the average was."""
    from ._ensemble import member_spread

    settings = {"prefit": True, "epistasis": decomposer.epistasis_,
                "components": decomposer.components_, "n_estimators": 1, "n_jobs": None,
                "component_se": "model"}  # the members' components alone are read
    additive, spread = member_spread(clone(decomposer).set_params(**settings),
                                     decomposer.estimators_, X, y, decomposer.n_jobs)
    decomposer.additive_effects_std_ = additive
    decomposer.variance_components_std_ = Bunch(
        **{key: float(v) if np.ndim(v) == 0 else v for key, v in spread.items()})


def input_names(decomposer, input_features=None):
    """The network inputs' names: the preprocessing's output names, else ``z<i>``."""
    input_features = _check_feature_names_in(decomposer, input_features)
    preprocessing, _ = split_network(decomposer.estimator_)
    names = input_features
    if preprocessing is not None and hasattr(preprocessing, "get_feature_names_out"):
        names = preprocessing.get_feature_names_out(input_features)
    if len(names) != decomposer.n_features_z_:
        names = np.array([f"z{i}" for i in range(decomposer.n_features_z_)], dtype=object)
    return np.asarray(names, dtype=object)
