"""The screened fit's least squares in bounded memory (sklearn_elm._decomposition._lstsq)."""

import numpy as np
import pytest

from sklearn_elm._decomposition._lstsq import (
    RIDGE,
    least_squares,
    locus_basis,
    residual_on,
    residual_with,
)


@pytest.fixture
def design():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 12))
    X -= X.mean(axis=0)
    f = X @ rng.normal(size=12)
    y = f + rng.normal(size=300)
    return X, f - f.mean(), y - y.mean()


def test_least_squares_of_kept_columns_equals_the_fit_of_their_copy(design):
    """Fitting the columns ``keep`` through the full design's Gram matrix, without copying
    them, gives numpy's least squares on the copied columns: coefficients, the inverse of
    their Gram matrix, the number of terms and the noise variance."""
    X, f, y = design
    keep = np.ones(X.shape[1], dtype=bool)
    keep[[2, 7, 8]] = False
    fit = least_squares(X, f, y, X.T @ X, keep)
    copy = X[:, keep]
    coef = np.linalg.lstsq(copy, np.column_stack([f, y]), rcond=None)[0]
    np.testing.assert_allclose(fit.f, coef[:, 0], rtol=1e-8)
    np.testing.assert_allclose(fit.y, coef[:, 1], rtol=1e-8)
    np.testing.assert_allclose(fit.G_inv, np.linalg.inv(copy.T @ copy), rtol=1e-7)
    assert fit.df == pytest.approx(keep.sum())
    left = y - copy @ coef[:, 1]
    assert fit.sigma2 == pytest.approx(left @ left / (len(y) - 1 - keep.sum()))


def test_least_squares_shares_collinear_columns_through_the_ridge(design):
    """A column twice (complete linkage) is fitted, its coefficient shared between the
    copies, and counted once in the effective number of terms."""
    X, f, y = design
    doubled = np.hstack([X, X[:, :1]])
    fit = least_squares(doubled, f, y)
    single = least_squares(X, f, y)
    assert fit.y[0] == pytest.approx(fit.y[-1], rel=1e-4)
    assert fit.y[0] + fit.y[-1] == pytest.approx(single.y[0], rel=1e-6)
    assert fit.df == pytest.approx(X.shape[1], abs=1e-4)


def test_residual_with_added_columns_equals_the_joint_residual(design):
    """What the loci and added columns leave of a target, from the loci's factor alone,
    equals the residual of least squares on all of them, also where an added column is a
    combination of the loci (it then adds nothing)."""
    X, f, y = design
    L, P = X[:, :8], X[:, 8:].copy()
    P[:, 0] = L[:, 0] - 2 * L[:, 3]
    basis = locus_basis(L)
    for target in (f, y):
        both = np.hstack([L, P])
        direct = target - both @ np.linalg.lstsq(both, target, rcond=None)[0]
        np.testing.assert_allclose(residual_with(basis, residual_on(basis, target), P),
                                   direct, atol=1e-6 * np.abs(target).max())
    empty = locus_basis(np.zeros((len(f), 0)))
    np.testing.assert_array_equal(residual_on(empty, f), f)


def test_ridge_is_relative():
    """The ridge is a fixed share of the Gram matrix's mean diagonal, so that rescaling
    the design rescales the fit exactly."""
    rng = np.random.default_rng(1)
    X = rng.normal(size=(50, 3))
    y = X @ [1.0, 2.0, -1.0] + rng.normal(size=50)
    small, large = least_squares(X, y, y), least_squares(1e6 * X, y, y)
    np.testing.assert_allclose(large.y * 1e6, small.y, rtol=1e-9)
    assert RIDGE < 1e-8
