"""Products of a matrix with its transpose, made in row blocks past a size where BLAS fails."""

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
