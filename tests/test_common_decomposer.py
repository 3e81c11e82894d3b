"""scikit-learn's common estimator checks for ELMDecomposer."""

from sklearn.utils.estimator_checks import parametrize_with_checks

from sklearn_elm import NeuralGPRegressor
from sklearn_elm._decomposer import ELMDecomposer

_FAST_DECOMPOSER = ELMDecomposer(
    NeuralGPRegressor(module__hidden_sizes=(8,), max_epochs=5, random_state=0)
)

EXPECTED_FAILURES = {}


def _expected(estimator):
    return EXPECTED_FAILURES


@parametrize_with_checks([_FAST_DECOMPOSER], expected_failed_checks=_expected)
def test_sklearn_compatible(estimator, check):
    check(estimator)
