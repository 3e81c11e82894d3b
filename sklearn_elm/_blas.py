"""Products of a matrix with its own transpose, safe at any size.

numpy hands ``A @ A.T`` to BLAS's symmetric rank-k update (``syrk``); the OpenBLAS that numpy
2.4 bundles writes out of bounds there past about 12,000 rows (a segmentation fault at 16,000
x 1,000 on this project's machines).  Past :data:`ROWS` rows the product is therefore made in
row blocks, each an ordinary matrix product of two different operands (``gemm``).
"""

import numpy as np

__all__ = ["ROWS", "self_product"]

#: Rows past which ``A @ A.T`` is made in blocks of this many rows.
ROWS = 8192


def self_product(A):
    """``A @ A.T`` for an in-memory ``A`` of any number of rows.

    Parameters
    ----------
    A : ndarray of shape (m, k)

    Returns
    -------
    P : ndarray of shape (m, m)
        ``A @ A.T``, in blocks of :data:`ROWS` rows past that many (twice the multiply-adds
        of the symmetric product there, the same memory).

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_elm import _blas
    >>> A = np.arange(12.0).reshape(4, 3)
    >>> _blas.ROWS, saved = 3, _blas.ROWS
    >>> bool(np.array_equal(_blas.self_product(A), A @ A.T))
    True
    >>> _blas.ROWS = saved
    """
    m = A.shape[0]
    if m <= ROWS:
        return A @ A.T
    P = np.empty((m, m), dtype=np.result_type(A.dtype, np.float32))
    for start in range(0, m, ROWS):
        P[start : start + ROWS] = A[start : start + ROWS] @ A.T
    return P
