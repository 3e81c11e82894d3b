"""The effect and component estimators of a fit, by name, over one streamed sample.

:class:`~sklearn_elm.ELMDecomposer` streams the network over the samples once
into a :class:`FitState` and looks its estimators up by name:
:data:`EFFECT_ESTIMATORS` (``epistasis``) gives the additive effects and the
epistasis matrix, :data:`COMPONENT_ESTIMATORS` (``components``) the variance
components.  The state carries what several estimators read, so that each is
computed at most once per fit: the :class:`~sklearn_elm._decomposition.Design`,
and the projection of the network's genetic value, which ``"projection"``
effects and ``"debiased"`` components share.
"""

import warnings
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

import numpy as np
from scipy import sparse
from sklearn.utils import Bunch

from .._resources import DENSE_PAIRS_BYTES
from ._codes import Codes, join
from ._design import Design
from ._moments import with_target
from ._pair_matrices import dense_pairs, sparse_pairs
from ._projection import projection_fit
from ._screening import screened_fit
from ._slopes import average_effects, conditional_slopes, epistasis_contrast, epistasis_regression
from ._variance import debiased_components, pairwise_part_variance, variance_components

__all__ = [
    "COMPONENT_ESTIMATORS",
    "EFFECT_ESTIMATORS",
    "LEAST_SQUARES",
    "NEED_Y",
    "FitState",
    "check_inputs_vary",
    "check_terms",
    "needs_pairwise_sums",
    "resolve",
]


@dataclass
class FitState:
    """One streamed sample, as the estimators of a fit read it.

    Attributes
    ----------
    moments : Bunch
        The streamed sums of the samples.
    design : Design
        Their design (:func:`~sklearn_elm._decomposition.build_design`).
    kept : list of tuple
        ``(Z, F, R)`` per batch: inputs, genetic values and residuals ``y -
        intercept - f`` (None without ``y``), kept where a projection passes
        over the samples once per iteration; empty otherwise.
    inputs : callable
        ``inputs()`` yields the input batches ``Z`` once more (read where
        they were not kept).
    phenotypic : ndarray of shape (k,)
        Phenotypic variance ``V_P`` (NaN without ``y``).
    network_fit : Bunch or None
        The projection of ``f``, set by the first estimator that needs it.
    screened : Bunch or None
        The screened fit (:func:`~sklearn_elm._decomposition._screening.screened_fit`),
        set by the first estimator that needs it.
    crossfit : bool
        Whether the screened fit cross-fits its components where it chooses the loci
        (``components="crossfit"``).
    component_se : str
        The screened fit's ``component_se`` (``"model"``, ``"jackknife"`` or ``"auto"``).
    held_pairs : list of ndarray or None
        The pairs the network's pair path holds per output
        (:func:`~sklearn_elm._network.held_pairs`), which the screened fit takes first.
    self_terms : bool
        Whether inputs of three values or more have self terms (False for haploid codes).
    n_iter : int
        Conjugate-gradient passes made so far.
    inference : Bunch or None
        The trait's tests and standard errors, set by the component estimators that fit
        ``y`` (``"debiased"``, ``"screened"``): ``additive_estimate``, ``additive_se``,
        ``additive_p`` (shape (k, p)), ``pair_tests`` (a list of Bunch per output) and
        ``components_se``.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_elm._decomposition import (
    ...     EFFECT_ESTIMATORS, FitState, build_design, init_moments, update_moments)
    >>> Z = np.array([[1.0, 1.0], [1.0, -1.0], [-1.0, 1.0], [-1.0, -1.0]])
    >>> S = (0.5 * Z[:, ::-1])[:, None, :]  # the ELM of f = z_0 z_1
    >>> m = update_moments(init_moments(2, 1), Z, Z[:, :1] * Z[:, 1:], S)
    >>> state = FitState(m, build_design(m), [], lambda: [Z], np.array([1.0]))
    >>> additive, E, E_var = EFFECT_ESTIMATORS["regression"](state)
    >>> E[0]
    array([[0., 1.],
           [1., 0.]])
    """

    moments: Bunch
    design: Design
    kept: list
    inputs: Callable
    phenotypic: np.ndarray
    network_fit: Bunch = None
    screened: Bunch = None
    n_iter: int = 0
    inference: Bunch = None
    crossfit: bool = False
    component_se: str = "model"
    held_pairs: list = None
    self_terms: bool = True
    auto_components: bool = False
    components_used: str = None


def _project_network(state):
    """The projection of the network's genetic value ``f``, computed once per fit."""
    if state.network_fit is None:
        kept = state.kept
        state.network_fit = projection_fit(
            state.moments, state.design, lambda: ((Z, F) for Z, F, _ in kept)
        )
        state.n_iter += state.network_fit.n_iter
    return state.network_fit


def _projection_effects(state):
    """``epistasis="projection"``: the least-squares projection of ``f``."""
    fit = _project_network(state)
    return fit.additive, fit.epistasis, fit.epistasis_variance


def _screened_fit(state):
    """The screened fit of ``f`` and ``y`` on the kept samples, computed once per fit."""
    if state.screened is None:
        F, R = (np.concatenate(part) for part in list(zip(*state.kept, strict=True))[1:])
        batches = [Z for Z, _, _ in state.kept]
        compact = isinstance(batches[0], Codes) or batches[0].dtype == np.float32
        if compact:  # kept for the screened fit alone: joined and fitted in place
            state.kept = None
            Z = join(batches)
        else:
            Z = np.concatenate(batches)
        # the loci whose ELM coefficients vary most across samples are those the network
        # uses in interactions: the variance of s_i where z_i != 0, summed over outputs
        m = state.moments
        seen = np.maximum(m.nz, 1)
        usage = (m.ss / seen - (m.s / seen) ** 2).sum(axis=0)
        # the warnings name the caller of ELMDecomposer.fit
        state.screened = screened_fit(Z, F, R, state.phenotypic, usage=usage,
                                      pairs=state.held_pairs, overwrite_z=compact,
                                      crossfit=state.crossfit,
                                      component_se=state.component_se,
                                      self_terms=state.self_terms, stacklevel=6)
    return state.screened


def _screened_effects(state):
    """``epistasis="screened"``: ``f`` fitted on the loci and pairs it uses; the pairs as
    dense ``(k, p, p)`` arrays where they take at most :data:`DENSE_PAIRS_BYTES`, else sparse."""
    fit = _screened_fit(state)
    k, p = fit.additive.shape
    to_matrix = dense_pairs if 2 * 8 * k * p * p <= DENSE_PAIRS_BYTES else sparse_pairs
    return (fit.additive, *to_matrix(fit, p))


def _tests(screened, components_se):
    """The trait's tests of a screened fit, with the components' standard errors."""
    return Bunch(additive_estimate=screened.additive_estimate, additive_se=screened.additive_se,
                 additive_p=screened.additive_p, marginal_p=screened.marginal_p,
                 pair_tests=screened.pair_tests, components_se=components_se)


def _screened_components(state, additive, E, E_var):
    """``components="screened"`` (or ``"crossfit"``): ``y`` fitted on the loci and pairs the
    network uses (cross-fitted over two halves of the samples where the loci are chosen)."""
    fit = _screened_fit(state)
    state.inference = _tests(fit, fit.components_se)
    return fit.components


def _slope_effects(state, *, contrast=False):
    """``epistasis="regression"`` (or ``"contrast"``): from the ELM slopes, computed once."""
    # the slopes' covariances in place of the sums zs, E in place of the slopes: nothing
    # reads them after (memory: see docs/scaling.rst)
    slopes = conditional_slopes(state.moments, state.design, overwrite=True)
    additive = average_effects(state.moments, state.design, slopes)
    E, E_var = epistasis_regression(state.moments, state.design, slopes, return_variance=True,
                                    overwrite=True)
    del slopes
    if contrast:  # the class contrast in place of the slopes; their variances stay
        E = epistasis_contrast(state.moments)
    return additive, E, E_var


def _debiased_components(state, additive, E, E_var):
    """``components="debiased"``: ``f`` corrected by the projection of its residuals."""
    network_fit = _project_network(state)
    kept = state.kept
    total = sum(R.sum(axis=0) for _, _, R in kept)
    squares = sum((R**2).sum(axis=0) for _, _, R in kept)
    residual_fit = projection_fit(
        with_target(state.moments, total, squares),
        state.design,
        lambda: ((Z, R) for Z, _, R in kept),
    )
    state.n_iter += residual_fit.n_iter
    components, errors = debiased_components(
        state.moments, state.design, lambda: kept, network_fit, residual_fit, state.phenotypic,
        return_se=True,
    )
    inflation = _noise_inflation(state.design, residual_fit)
    if inflation > MAX_INFLATION:
        linked = ("The loci's centred products are nearly linear in the loci (loci in strong "
                  "linkage, or alleles so rare that few samples carry two together): the "
                  "projection's split of the trait's variance into additive and pairwise parts "
                  f"takes in {inflation:.0f} times the noise that chance correlation among its "
                  "terms would.")
        if not state.auto_components:
            warnings.warn(f"{linked} The debiased components rest on too little information; "
                          "components='screened' fits y on every locus and the pairs it "
                          "confirms.", UserWarning, stacklevel=4)
        else:
            warnings.warn(f"{linked} The components are those of y's least squares on every "
                          "locus and the pairs it confirms (components='screened').",
                          UserWarning, stacklevel=4)
            state.components_used = "screened"
            return _screened_components(state, additive, E, E_var)
    # the tests are the screened fit's (y on every locus and the pairs it confirms)
    state.inference = _tests(_screened_fit(state), errors)
    return components


#: Largest noise inflation of the debiased components beyond chance (:func:`_noise_inflation`)
#: at which ``components="auto"`` keeps them; past it, it takes the screened fit's.
MAX_INFLATION = 2.0


def _noise_inflation(design, fit):
    """The factor by which correlated terms inflate the noise in the additive or the
    pairwise part of a projection ``fit`` beyond what chance correlation does, the larger of
    the two: ``tr(G_BB G^-_BB)`` (:func:`~sklearn_elm._decomposition.projection_fit`) over
    the block's ``m_B`` terms times ``(n - 1) / (n - 1 - m_O)``, its value for random terms
    beside the other block's ``m_O`` (which the block's terms correlate with by chance:
    about 2 for the loci of a projection at its bound, ``m = n / 2``, on independent loci);
    1 where the fit did not measure it."""
    effective = fit.get("effective_terms")
    if effective is None:
        return 1.0
    counts = (np.count_nonzero(design.var > 0), int(design.product_mask.sum()))
    df = design.n - 1
    return max(e / c * (df - other) / df
               for e, c, other in zip(effective, counts, counts[::-1], strict=True) if c)


#: How far the network's parts may exceed its genetic variance before a warning.
PARTS_TOLERANCE = 0.05


def _network_components(state, additive, E, E_var):
    """``components="network"``: the variances of the network's own parts."""
    if sparse.issparse(E):
        raise ValueError(
            "components='network' needs the dense p x p pair matrix, which the screened fit "
            "keeps sparse at this many loci; use components='screened' (the trait's "
            "components) or epistasis='regression'."
        )
    inputs = (Z for Z, _, _ in state.kept) if state.kept else state.inputs()
    pairwise = pairwise_part_variance(inputs, E, state.design)
    components = variance_components(
        state.moments, state.design, additive, E, E_var, state.phenotypic, pairwise
    )
    warn_parts_exceed_whole(components)
    return components


def warn_parts_exceed_whole(components, tolerance=PARTS_TOLERANCE):
    """Warn where the additive and pairwise parts exceed the genetic variance they divide.

    ``V_A + V_AA > (1 + tolerance) V_G`` (``V_higher`` clearly negative, or
    ``h2 > H2``) cannot hold of a trait: the parts were read from the
    network's coefficients apart from its fit, and are too noisy to be read
    as the trait's components.

    Parameters
    ----------
    components : Bunch
        Arrays of shape (k,) with ``additive``, ``epistatic`` and ``genetic``.
    tolerance : float, default=0.05
        Relative excess allowed (round-off and sampling noise).

    Examples
    --------
    >>> import warnings
    >>> import numpy as np
    >>> from sklearn.utils import Bunch
    >>> from sklearn_elm._decomposition._estimators import warn_parts_exceed_whole
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always")
    ...     warn_parts_exceed_whole(Bunch(additive=np.array([0.35]), epistatic=np.array([0.0]),
    ...                                   genetic=np.array([0.26])))
    >>> "do not add up" in str(caught[0].message)
    True
    """
    parts = components.additive + components.epistatic
    bad = np.flatnonzero(parts > (1 + tolerance) * np.abs(components.genetic) + 1e-12)
    if bad.size:
        k = int(bad[0])
        warnings.warn(
            f"components='network': on output {k} the network's additive and pairwise parts "
            f"do not add up (V_A {components.additive[k]:.3g} + V_AA "
            f"{components.epistatic[k]:.3g} > V_G {components.genetic[k]:.3g}): they are read "
            "from its coefficients apart from its fit, and with few samples per term they are "
            "too noisy to be the trait's. For the trait's, fit with y and components='auto' "
            "('debiased', or 'crossfit' past the projection's bound).",
            UserWarning,
            stacklevel=5,  # the caller of ELMDecomposer.fit
        )


#: Effect estimators by name: ``FitState -> (additive, E, E_var)``, of shapes
#: (k, p), (k, p, p) and (k, p, p).
EFFECT_ESTIMATORS = {
    "projection": _projection_effects,
    "regression": _slope_effects,
    "contrast": partial(_slope_effects, contrast=True),
    "screened": _screened_effects,
}

#: Component estimators by name: ``(FitState, additive, E, E_var) -> components``,
#: a Bunch of arrays of shape (k,) (:func:`~sklearn_elm._components.components_bunch`).
COMPONENT_ESTIMATORS = {
    "debiased": _debiased_components,
    "screened": _screened_components,
    "crossfit": _screened_components,
    "network": _network_components,
}

#: The estimators that read the samples with the network's residuals ``y - f``.
NEED_Y = {"epistasis": ("screened",), "components": ("debiased", "screened", "crossfit")}

#: The estimators that solve a least-squares projection, by parameter: they need
#: the samples kept between passes and more samples than terms.
LEAST_SQUARES = {"epistasis": "projection", "components": "debiased"}


def resolve(epistasis, components, n_inputs, n_samples, has_y):
    """The estimators that ``"auto"`` stands for.

    The least-squares projection fits ``p`` inputs and at most ``p (p + 1) /
    2`` products; ``"auto"`` chooses it (``"projection"``, and
    ``"debiased"`` where ``y`` is given) only where it is well determined,
    ``p (p + 3) / 2 <= n / 2``.  Past that bound, with ``y``, it chooses the
    least squares on the terms the network uses (``"screened"``), which takes
    no more terms than the samples determine, with components cross-fitted
    where the loci must be chosen (``"crossfit"``: loci chosen by the network's
    fit carry the noise it memorised); without ``y`` nothing can be fitted to the
    trait, and it reads the network's ELM slopes (``"regression"``,
    ``"network"``).

    Parameters
    ----------
    epistasis, components : str
        The requested estimators, names in :data:`EFFECT_ESTIMATORS` and
        :data:`COMPONENT_ESTIMATORS` or ``"auto"``.
    n_inputs, n_samples : int
        Network inputs ``p`` and samples ``n``.
    has_y : bool
        Whether a target is given.

    Returns
    -------
    epistasis, components : str
        Names in :data:`EFFECT_ESTIMATORS` and :data:`COMPONENT_ESTIMATORS`.

    Examples
    --------
    >>> from sklearn_elm._decomposition import resolve
    >>> resolve("auto", "auto", 5, 40, True), resolve("auto", "auto", 5, 39, True)
    (('projection', 'debiased'), ('screened', 'crossfit'))
    >>> resolve("auto", "auto", 5, 40, False), resolve("auto", "auto", 5, 39, False)
    (('projection', 'network'), ('regression', 'network'))
    """
    well_determined = n_inputs * (n_inputs + 3) / 2 <= n_samples / 2
    if epistasis == "auto":
        epistasis = "projection" if well_determined else "screened" if has_y else "regression"
    if components == "auto":
        components = ("debiased" if well_determined else "crossfit") if has_y else "network"
    return epistasis, components


def needs_pairwise_sums(epistasis, components):
    """Whether a fit needs the ``p x p`` streamed sums and their design.

    Only the screened least squares reads the samples alone; every other
    estimator reads the sums (:func:`~sklearn_elm._decomposition.init_moments`).

    Parameters
    ----------
    epistasis, components : str
        The chosen estimators (as :func:`resolve` returns them).

    Returns
    -------
    bool

    Examples
    --------
    >>> from sklearn_elm._decomposition import needs_pairwise_sums
    >>> needs_pairwise_sums("screened", "screened"), needs_pairwise_sums("screened", "network")
    (False, True)
    """
    return not (epistasis == "screened" and components in ("screened", "crossfit"))


def check_inputs_vary(moments):
    """A clear error where no input varies over the samples the streamed sums ``moments``
    (:func:`~sklearn_elm._decomposition.init_moments`) hold: there is nothing to decompose.

    An input is constant where its variance is at most ``1e-12`` times its mean square.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_elm._decomposition import check_inputs_vary, init_moments, update_moments
    >>> Z = np.ones((4, 2))
    >>> check_inputs_vary(update_moments(init_moments(2, 1, pairwise=False), Z, Z[:, :1],
    ...                                  Z[:, None]))
    Traceback (most recent call last):
    ...
    ValueError: every input is constant over the 4 samples (every locus monomorphic): ...
    """
    n = max(moments.n, 1)
    mean, square = moments.z / n, moments.z2 / n
    if not np.any(square - mean * mean > 1e-12 * square):
        raise ValueError(
            f"every input is constant over the {moments.n} samples (every locus monomorphic): "
            "there are no genotype differences to decompose.  Check that the genotypes were "
            "read as intended."
        )


def check_terms(design, epistasis, components):
    """A clear error where a chosen least-squares projection has too few samples.

    The projection needs more samples than terms plus one, ``n - 1 >
    n_terms`` (:attr:`~sklearn_elm._decomposition.Design.n_terms`); fewer
    would give a minimum-norm solution read as effects.

    Parameters
    ----------
    design : Design
        The fit's design.
    epistasis, components : str
        The chosen estimators (as :func:`resolve` returns them).

    Raises
    ------
    ValueError
        Naming the option that needs the projection, and what to use instead.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_elm._decomposition import (
    ...     build_design, check_terms, init_moments, update_moments)
    >>> Z = np.array([[1.0, 1.0], [1.0, -1.0], [-1.0, 1.0], [-1.0, -1.0]])
    >>> design = build_design(update_moments(init_moments(2, 1), Z, Z[:, :1], Z[:, None]))
    >>> check_terms(design, "regression", "network")  # no projection: nothing to check
    >>> check_terms(design, "projection", "network")
    Traceback (most recent call last):
    ...
    ValueError: epistasis='projection' fits 3 additive and pairwise terms by least squares, ...
    """
    chosen = {"epistasis": epistasis, "components": components}
    methods = [f"{name}='{value}'" for name, value in LEAST_SQUARES.items()
               if chosen[name] == value]
    if methods and design.n - 1 <= design.n_terms:
        raise ValueError(
            f"{methods[0]} fits {design.n_terms} additive and pairwise terms by least "
            f"squares, more than {design.n} samples allow; with y, use epistasis='screened' "
            "and components='crossfit' (what 'auto' chooses then: the terms the network "
            "uses, screened), or epistasis='regression' and components='network' for what "
            "the network itself learnt."
        )
