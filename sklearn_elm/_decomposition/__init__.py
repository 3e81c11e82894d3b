"""Quantitative genetics from streamed equivalent-linear-map statistics.

Pure numpy and scipy, one module per concept, in the order a fit uses them:

* :mod:`._moments`: the sums over samples streamed batch by batch (memory
  ``O(n_outputs p^2)`` whatever the number of samples);
* :mod:`._design`: the :class:`Design` they define, computed once per fit and
  passed to every estimator;
* :mod:`._slopes`: additive effects and the epistasis matrix from the
  regression of the ELM coefficients on the inputs (computed once per fit);
* :mod:`._projection`: the least-squares projection of the genetic value on
  the additive and pairwise terms, by streamed conjugate gradients;
* :mod:`._variance`: variance components of the network's parts, and of the
  trait (debiased by the projection of the network's residuals);
* :mod:`._screening`: least squares on the loci and pairs the network uses,
  for any number of loci;
* :mod:`._estimators`: the effect and component estimators by name, reading
  one streamed sample (what ``ELMDecomposer`` chooses from).

The additive and pairwise terms are those of the orthogonal decomposition of
quantitative genetics on the inputs centred on their sample means, so the
additive effects are average effects under the sample's allele frequencies,
and for independent loci the additive and pairwise parts are uncorrelated
whatever the coding (``GenotypeEncoder(center="mid")`` leaves ``zbar != 0``
where allele frequencies are not 1/2).  The pairwise coefficients are those of
``z_i z_j``, unchanged by the centring.
"""

from ._design import Design, build_design
from ._estimators import (
    COMPONENT_ESTIMATORS,
    EFFECT_ESTIMATORS,
    LEAST_SQUARES,
    NEED_Y,
    FitState,
    check_inputs_vary,
    check_terms,
    needs_pairwise_sums,
    resolve,
)
from ._moments import add_moments, init_moments, update_moments, with_target
from ._projection import projection_fit
from ._slopes import average_effects, conditional_slopes, epistasis_contrast, epistasis_regression
from ._variance import debiased_components, pairwise_part_variance, variance_components

__all__ = [
    "COMPONENT_ESTIMATORS",
    "Design",
    "EFFECT_ESTIMATORS",
    "FitState",
    "LEAST_SQUARES",
    "NEED_Y",
    "add_moments",
    "average_effects",
    "build_design",
    "check_inputs_vary",
    "check_terms",
    "conditional_slopes",
    "debiased_components",
    "epistasis_contrast",
    "epistasis_regression",
    "init_moments",
    "needs_pairwise_sums",
    "pairwise_part_variance",
    "projection_fit",
    "resolve",
    "update_moments",
    "variance_components",
    "with_target",
]
