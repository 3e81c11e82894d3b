"""p x p helpers: products with a transpose in row blocks past a size where BLAS fails,
sums of products in place, in-place symmetrisation and the pseudo-inverse."""

import numpy as np
import pytest

from sklearn_elm import _blas
from sklearn_elm._kernels import gram


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_blocked_self_product_equals_the_plain_one(monkeypatch, dtype):
    """Past ROWS rows the product is made in blocks, equal to A A^T (of rows and of a
    transposed view), and the kernels' Gram matrices use it."""
    monkeypatch.setattr(_blas, "ROWS", 4)
    A = np.random.default_rng(0).normal(size=(11, 7)).astype(dtype)
    np.testing.assert_allclose(_blas.self_product(A), A @ A.T, rtol=1e-5)
    np.testing.assert_allclose(_blas.self_product(A.T), A.T @ A, rtol=1e-5)
    np.testing.assert_allclose(gram(A, over="loci"), A @ A.T, rtol=1e-5)
    np.testing.assert_allclose(gram(A, over="samples"), A.T @ A, rtol=1e-5)


def test_add_product_sums_in_place():
    rng = np.random.default_rng(0)
    A, B = rng.normal(size=(30, 7)), rng.normal(size=(30, 5))
    for out in (rng.normal(size=(7, 5)), rng.normal(size=(7, 5)).astype(np.float32),
                np.asfortranarray(rng.normal(size=(7, 5)))):
        expected = out + A.T @ B
        result = _blas.add_product(out, A, B)
        assert result is out
        np.testing.assert_allclose(out, expected, rtol=1e-5)
    # strided operands (an output's coefficients of a 3-D array)
    S = rng.normal(size=(30, 2, 5))
    out = np.zeros((7, 5))
    _blas.add_product(out, A, S[:, 1])
    np.testing.assert_allclose(out, A.T @ S[:, 1])


@pytest.mark.parametrize("p, block", [(7, 3), (6, 6), (5, 1)])
def test_symmetrise_sum_in_place(p, block):
    A = np.random.default_rng(1).normal(size=(p, p))
    expected = A + A.T
    assert _blas.symmetrise_sum(A, block=block) is A
    np.testing.assert_allclose(A, expected)


def test_psd_pinv_is_pinvh_with_its_rank(monkeypatch):
    from scipy import linalg

    rng = np.random.default_rng(2)
    Z = rng.normal(size=(40, 9))
    Z[:, 8] = Z[:, 0] - Z[:, 3]  # rank 8
    Z[:, 5] = 0.0  # rank 7
    C = np.cov(Z.T)
    monkeypatch.setattr(_blas, "ROWS", 4)  # the product in blocks too
    C_pinv, rank = _blas.psd_pinv(C)
    expected, expected_rank = linalg.pinvh(C, return_rank=True)
    assert rank == expected_rank == 7
    np.testing.assert_allclose(C_pinv, expected, atol=1e-10)
    # an indefinite matrix: pinvh's product
    M = np.diag([2.0, -1.0, 0.0])
    np.testing.assert_allclose(_blas.psd_pinv(M)[0], linalg.pinvh(M))


def test_psd_inverse_where_well_conditioned_else_none():
    from scipy import linalg

    rng = np.random.default_rng(3)
    C = np.cov(rng.normal(size=(200, 30)).T)
    np.testing.assert_allclose(_blas.psd_inverse(C), linalg.pinvh(C), rtol=1e-10, atol=1e-12)
    work = C.copy()
    inverse = _blas.psd_inverse(work, overwrite=True)
    assert np.shares_memory(inverse, work)
    np.testing.assert_allclose(inverse, linalg.pinvh(C), rtol=1e-10, atol=1e-12)
    # singular (a duplicated input) or barely invertible: left to the pseudo-inverse
    Z = rng.normal(size=(200, 30))
    Z[:, 7] = Z[:, 2]
    assert _blas.psd_inverse(np.cov(Z.T)) is None
    Z[:, 7] += 1e-9 * rng.normal(size=200)
    assert _blas.psd_inverse(np.cov(Z.T)) is None
    assert _blas.psd_inverse(-np.eye(3)) is None


def test_add_product_with_an_operand_in_out_and_pinv_of_nan():
    rng = np.random.default_rng(4)
    out = rng.normal(size=(70, 70))
    expected = out + out.T @ out
    np.testing.assert_allclose(_blas.add_product(out, out, out), expected, rtol=1e-10)
    with pytest.raises(ValueError, match="infs or NaNs"):
        _blas.psd_pinv(np.array([[1.0, np.nan], [np.nan, 1.0]]))


def test_psd_inverse_sets_inputs_of_zero_variance_aside():
    from scipy import linalg

    rng = np.random.default_rng(5)
    Z = rng.normal(size=(100, 8))
    Z[:, [2, 6]] = 3.0
    C = np.cov(Z.T)
    work = C.copy()
    inverse = _blas.psd_inverse(work, overwrite=True)
    np.testing.assert_allclose(inverse, linalg.pinvh(C), atol=1e-12)
    assert not inverse[[2, 6]].any() and not inverse[:, [2, 6]].any()
    assert _blas.psd_inverse(np.zeros((3, 3))) is None


@pytest.mark.parametrize("m", [0, 1, 300, 1100])
def test_ridged_inverse_is_the_inverse_of_the_ridged_matrix(m):
    """(G + r I)^{-1} with r relative to G's mean diagonal, symmetric to the bit, also past
    the 1024-row blocks its triangle is mirrored in."""
    rng = np.random.default_rng(m)
    X = rng.normal(size=(m + 20, m))
    G = X.T @ X
    inverse = _blas.ridged_inverse(G, 1e-6)
    assert inverse.shape == (m, m) and np.array_equal(inverse, inverse.T)
    if m:
        ridged = G + 1e-6 * np.trace(G) / m * np.eye(m)
        np.testing.assert_allclose(inverse @ ridged, np.eye(m), atol=1e-8)


def test_ridged_inverse_refuses_nan():
    with pytest.raises(np.linalg.LinAlgError, match="not positive definite"):
        _blas.ridged_inverse(np.array([[1.0, np.nan], [np.nan, 1.0]]), 1e-10)
