"""scikit-learn's common estimator checks for GBLUPRegressor (to merge into test_common.py)."""

from sklearn.utils.estimator_checks import parametrize_with_checks

from sklearn_elm._gblup import GBLUPRegressor

EXPECTED_FAILED_CHECKS = {}


@parametrize_with_checks(
    [GBLUPRegressor(), GBLUPRegressor("additive+epistatic")],
    expected_failed_checks=lambda est: EXPECTED_FAILED_CHECKS,
)
def test_sklearn_compatible_estimator(estimator, check):
    check(estimator)
