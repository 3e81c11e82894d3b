"""Products of a matrix with its own transpose, safe at any size, and p x p work in place.

The decomposition's ``p x p`` matrices are the largest arrays it holds (0.8 GB each at
``p = 10,000``), so the helpers here update them in place or a block of rows at a time rather
than through whole temporaries.

numpy hands ``A @ A.T`` to BLAS's symmetric rank-k update (``syrk``); the OpenBLAS that numpy
2.4 bundles writes out of bounds there past about 12,000 rows (a segmentation fault at 16,000
x 1,000 on this project's machines).  Past :data:`ROWS` rows the product is therefore made in
row blocks, each an ordinary matrix product of two different operands (``gemm``).
"""

import numpy as np
from scipy.linalg import blas

__all__ = ["ROWS", "ROW_BLOCK", "add_product", "psd_inverse", "psd_pinv", "row_slices",
           "self_product", "symmetrise_sum"]

#: Rows past which ``A @ A.T`` is made in blocks of this many rows.
ROWS = 8192

#: Rows of a p x p matrix computed at a time where the whole one would be a temporary.
ROW_BLOCK = 256


def self_product(A, out=None):
    """``A @ A.T`` for an in-memory ``A`` of any number of rows.

    Parameters
    ----------
    A : ndarray of shape (m, k)
    out : ndarray of shape (m, m), default=None
        Where to write the product (not overlapping ``A``).

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
    if m <= ROWS and out is None:
        return A @ A.T
    P = np.empty((m, m), dtype=np.result_type(A.dtype, np.float32)) if out is None else out
    for start in range(0, m, ROWS):
        np.matmul(A[start : start + ROWS], A.T, out=P[start : start + ROWS])
    return P


def add_product(out, A, B):
    """``out += A.T @ B`` in place, without a temporary the size of ``out``.

    A float64 C-ordered ``out`` is updated by BLAS's ``gemm`` (``out.T``, Fortran-ordered, is
    ``beta = 1`` times itself plus ``B.T @ A``, always two operands, never ``syrk``); any other
    ``out`` by numpy.

    Parameters
    ----------
    out : ndarray of shape (p, q)
        The sum, updated in place.
    A : ndarray of shape (m, p)
    B : ndarray of shape (m, q)

    Returns
    -------
    out : ndarray of shape (p, q)
        The same array.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_elm._blas import add_product
    >>> out = np.ones((2, 2))
    >>> add_product(out, np.array([[1.0, 2.0]]), np.array([[3.0, 4.0]]))
    array([[4., 5.],
           [7., 9.]])
    """
    overlap = np.shares_memory(out, A) or np.shares_memory(out, B)  # BLAS forbids it
    if out.dtype == np.float64 and out.flags.c_contiguous and out.size and not overlap:
        A = np.asarray(A, dtype=np.float64)
        B = np.asarray(B, dtype=np.float64)
        result = blas.dgemm(1.0, B.T, A.T, beta=1.0, c=out.T, trans_b=True, overwrite_c=True)
        if np.shares_memory(result, out):
            return out
        out[...] = result.T  # BLAS worked on a copy (an operand it could not take as is)
        return out
    out += A.T @ B
    return out


def row_slices(p, block=ROW_BLOCK):
    """Slices of ``block`` consecutive rows covering ``range(p)``.

    Examples
    --------
    >>> from sklearn_elm._blas import row_slices
    >>> row_slices(5, 2)
    [slice(0, 2, None), slice(2, 4, None), slice(4, 5, None)]
    """
    return [slice(start, min(start + block, p)) for start in range(0, p, block)]


def symmetrise_sum(A, block=1024):
    """``A + A.T`` in place of ``A`` (its diagonal doubled), a pair of blocks at a time.

    Parameters
    ----------
    A : ndarray of shape (p, p)
        Overwritten.
    block : int, default=1024
        Rows and columns per block: the temporaries are ``block x block``.

    Returns
    -------
    A : ndarray of shape (p, p)
        The same array.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_elm._blas import symmetrise_sum
    >>> symmetrise_sum(np.array([[1.0, 2.0], [0.0, 3.0]]), block=1)
    array([[2., 2.],
           [2., 6.]])
    """
    slices = row_slices(A.shape[0], block)
    for a, rows in enumerate(slices):
        A[rows, rows] += A[rows, rows].T.copy()
        for cols in slices[a + 1 :]:
            total = A[rows, cols] + A[cols, rows].T
            A[rows, cols] = total
            A[cols, rows] = total.T
    return A


def psd_pinv(C, overwrite=False):
    """Pseudo-inverse and rank of a symmetric positive semi-definite ``C``, as
    :func:`scipy.linalg.pinvh` computes them, faster and with fewer ``p x p`` temporaries.

    The eigenvalues at most ``p eps max|w|`` are taken as 0, as ``pinvh`` takes them; the
    eigenvectors of the others are scaled in place by ``w^(-1/2)``, so that the
    pseudo-inverse is their product with their own transpose (a negative eigenvalue past
    that bound, of a matrix that is not semi-definite, falls back to ``pinvh``'s product).
    The eigendecomposition is LAPACK's divide and conquer (``syevd``): a covariance of
    fewer samples than inputs has as many eigenvalues at 0 as the difference, a cluster
    that made ``pinvh``'s default (``syevr``) six times slower at ``p = 6,000`` (119 s against
    20 s); it takes ``2 p^2`` floats of workspace while it runs.

    Parameters
    ----------
    C : ndarray of shape (p, p)
        Symmetric positive semi-definite (a covariance matrix).
    overwrite : bool, default=False
        Find the eigenvectors in ``C``'s memory (its contents are lost): one
        ``p x p`` temporary fewer.

    Returns
    -------
    C_pinv : ndarray of shape (p, p)
    rank : int

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_elm._blas import psd_pinv
    >>> C_pinv, rank = psd_pinv(np.array([[2.0, 0.0], [0.0, 0.0]]))
    >>> C_pinv, rank
    (array([[0.5, 0. ],
           [0. , 0. ]]), 1)
    """
    from scipy import linalg

    # C is symmetric: its transpose, Fortran-ordered, is itself, and LAPACK can overwrite it
    w, U = linalg.eigh(C.T if overwrite else C, overwrite_a=overwrite, driver="evd")
    above = np.abs(w) > np.max(np.abs(w), initial=0.0) * max(C.shape) * np.finfo(w.dtype).eps
    rank = int(above.sum())
    if (w[above] < 0).any():  # not semi-definite: pinvh's product
        return (U[:, above] / w[above]) @ U[:, above].T, rank
    U *= np.where(above, 1.0 / np.sqrt(np.where(above, w, 1.0)), 0.0)
    return self_product(U), rank


#: A covariance is inverted by Cholesky where LAPACK's estimate of its reciprocal condition
#: number (1-norm) passes ``WELL_CONDITIONED p eps``: then no eigenvalue is within ``p eps``
#: of the largest, which :func:`psd_pinv` (and ``pinvh``) would drop, and the inverse is the
#: pseudo-inverse.  A symmetric matrix's 2-norm condition number is at most its 1-norm one,
#: and LAPACK's estimate of the norm of the inverse is a lower bound, usually within a factor
#: of 3: the factor 100 covers it.
WELL_CONDITIONED = 100.0


def psd_inverse(C, overwrite=False):
    """The inverse of a symmetric positive definite ``C`` by Cholesky, where it is well
    conditioned enough to equal the pseudo-inverse; None elsewhere.  Rows and columns of
    zeros (inputs of zero variance) are 0 in the result, as in the pseudo-inverse.

    Several times faster than the eigendecomposition of :func:`psd_pinv` (``p^3``
    multiply-adds in all), and with ``overwrite`` made in ``C``'s own memory.

    Parameters
    ----------
    C : ndarray of shape (p, p)
        Symmetric (a covariance matrix).
    overwrite : bool, default=False
        Work in ``C``'s memory and return the inverse there; where None is returned
        ``C``'s contents are lost too.

    Returns
    -------
    C_inv : ndarray of shape (p, p) or None
        None where ``C`` is not positive definite or not well conditioned
        (:data:`WELL_CONDITIONED`): use :func:`psd_pinv` there.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_elm._blas import psd_inverse
    >>> psd_inverse(np.array([[2.0, 1.0], [1.0, 2.0]])) * 3
    array([[ 2., -1.],
           [-1.,  2.]])
    >>> psd_inverse(np.array([[1.0, 1.0], [1.0, 1.0]])) is None
    True
    """
    from scipy.linalg import lapack

    p = C.shape[0]
    if p == 0 or not all(np.isfinite(C[rows]).all() for rows in row_slices(p)):
        return None
    # inputs of zero variance (their rows and columns 0) are set aside: the mean variance
    # on their diagonal while C is inverted, 0 in the inverse's rows and columns after,
    # which is the pseudo-inverse
    diagonal = np.diag(C).copy()
    aside = np.flatnonzero(diagonal == 0)
    if aside.size and (np.abs(C[aside]).max() > 0 or aside.size == p):
        return None
    stand_in = diagonal.sum() / (p - aside.size)
    anorm = max(float(np.abs(C[rows]).sum(axis=1).max()) for rows in row_slices(p))
    anorm = max(anorm, stand_in) if aside.size else anorm
    # C is symmetric: its transpose, Fortran-ordered, is itself, and LAPACK works in place
    work = C.T if overwrite else np.array(C, order="F")
    work[aside, aside] = stand_in
    factor, info = lapack.dpotrf(work, lower=False, clean=False, overwrite_a=True)
    if info != 0:
        return None
    rcond, info = lapack.dpocon(factor, anorm, uplo="U")
    if info != 0 or not rcond > WELL_CONDITIONED * p * np.finfo(np.float64).eps:
        return None
    inverse, info = lapack.dpotri(factor, lower=False, overwrite_c=True)
    if info != 0:
        return None
    out = _mirror_lower(inverse.T)  # C-ordered; its lower triangle (`inverse`'s upper)
    out[aside, :] = 0.0
    out[:, aside] = 0.0
    return out


def _mirror_lower(out):
    """Copy the lower triangle of a square ``out`` to its upper, in place, a block at a
    time (no temporary of ``out``'s size)."""
    p = out.shape[0]
    for a, rows in enumerate(row_slices(p, 1024)):
        for cols in row_slices(p, 1024)[a:]:
            if cols == rows:
                block = out[rows, rows]
                upper = np.triu_indices(block.shape[0], 1)
                block[upper] = block.T[upper]
            else:
                out[rows, cols] = out[cols, rows].T
    return out


def ridged_inverse(G, ridge):
    """``(G + r I)^{-1}`` of a symmetric positive semi-definite ``G``, ``r = ridge tr(G) /
    m``, by Cholesky (LAPACK ``potrf`` and ``potri``) in the memory of one copy of ``G``.

    The relative ridge keeps collinear columns (loci in complete linkage) solvable: their
    coefficients are then shared.  ``m^3`` multiply-adds, a third of solving for the
    identity's columns, and no ``m x m`` identity.

    Parameters
    ----------
    G : ndarray of shape (m, m)
        Symmetric positive semi-definite (a Gram matrix); not changed.
    ridge : float
        Added to the diagonal, relative to its mean.

    Returns
    -------
    G_inv : ndarray of shape (m, m)

    Raises
    ------
    numpy.linalg.LinAlgError
        Where ``G + r I`` is not positive definite (``G`` not semi-definite, or NaN).

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_elm._blas import ridged_inverse
    >>> ridged_inverse(np.array([[2.0, 1.0], [1.0, 2.0]]), 0.0) * 3
    array([[ 2., -1.],
           [-1.,  2.]])
    """
    from scipy.linalg import lapack

    m = G.shape[0]
    if m == 0:
        return np.zeros((0, 0))
    work = np.array(G, dtype=np.float64, order="F")
    work[np.diag_indices(m)] += ridge * max(np.trace(G) / m, 1e-300)
    info = -1
    if np.isfinite(work).all():
        factor, info = lapack.dpotrf(work, lower=False, clean=False, overwrite_a=True)
    if info == 0:
        inverse, info = lapack.dpotri(factor, lower=False, overwrite_c=True)
    if info != 0:
        raise np.linalg.LinAlgError(
            f"The Gram matrix of the least-squares design is not positive definite "
            f"(LAPACK info {info}): a column is NaN or infinite, or the design is not real."
        )
    # the upper triangle of the Fortran-ordered inverse is the lower of its C-ordered
    # transpose, which is the same matrix
    return _mirror_lower(inverse.T)
