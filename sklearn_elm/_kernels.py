"""Marker features and relationship kernels of the GBLUP baselines.

The VanRaden additive kernel ``K_A = W_A W_A^T`` of centred markers, and the
additive-by-additive kernel ``K_AA = K_A o K_A`` (Henderson) with its explicit
pairwise features, each scaled to mean diagonal 1 so that a variance ratio
means the same on any phenotype scale.
"""

import numpy as np

__all__ = ["additive_features", "epistatic_kernel", "pairwise_features"]


def additive_features(X, *, mean=None, scale=None):
    """Centred markers scaled so that their kernel has mean diagonal one.

    ``W = (X - mean) / sqrt(c)`` with ``c = sum_j var(X_j)``, so that
    ``K_A = W W^T = Z Z^T / c`` (``Z = X - mean``) and ``trace(K_A) / n = 1``
    on the data that defined ``mean`` and ``c``.  For diploid 0/1/2 dosages
    ``mean = 2 p`` and ``c = 2 sum p (1 - p)`` up to departures from
    Hardy-Weinberg proportions, i.e. VanRaden's first relationship matrix;
    any coding of a haploid locus (0/1, doubled dosage 0/2, or -1/+1) gives
    the same ``K_A``, because ``c`` follows the coding.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_markers)
        Marker dosages (any numeric coding).
    mean : ndarray of shape (n_markers,), default=None
        Column means to subtract; those of ``X`` when None.
    scale : float, default=None
        The normaliser ``c``; that of ``X`` when None.

    Returns
    -------
    W : ndarray of shape (n_samples, n_markers)
        Scaled centred markers.
    mean : ndarray of shape (n_markers,)
        The subtracted means.
    scale : float
        The normaliser ``c``.

    Raises
    ------
    ValueError
        If every column of ``X`` is constant (``c = 0``).

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_elm._kernels import additive_features
    >>> X = np.array([[0, 1], [1, 1], [1, 0], [0, 0]])
    >>> W, mean, c = additive_features(X)
    >>> mean, c
    (array([0.5, 0.5]), 0.5)
    >>> round(float(np.trace(W @ W.T)) / len(X), 12)
    1.0
    """
    X = np.asarray(X, dtype=np.float64)
    if mean is None:
        mean = X.mean(axis=0)
    Z = X - mean
    if scale is None:
        scale = float(np.einsum("ij,ij->", Z, Z) / X.shape[0])
    if not scale > 0:
        raise ValueError("every marker in X is constant: the relationship matrix is zero.")
    return Z / np.sqrt(scale), mean, scale


def pairwise_features(Z):
    """Explicit feature map of the Hadamard square of a linear kernel.

    With ``F[:, (i, i)] = z_i^2`` and ``F[:, (i, j)] = sqrt(2) z_i z_j`` for
    ``i < j`` (``p (p + 1) / 2`` columns, ordered as ``np.triu_indices``),
    ``F F^T = (Z Z^T) o (Z Z^T)`` exactly, because
    ``(z^T z')^2 = sum_i z_i^2 z_i'^2 + 2 sum_{i<j} z_i z_j z_i' z_j'``.

    Parameters
    ----------
    Z : ndarray of shape (n_samples, p)
        Centred markers.

    Returns
    -------
    F : ndarray of shape (n_samples, p * (p + 1) // 2)

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_elm._kernels import pairwise_features
    >>> Z = np.array([[1.0, -1.0, 0.5], [0.0, 2.0, 1.0]])
    >>> F = pairwise_features(Z)
    >>> F.shape
    (2, 6)
    >>> bool(np.allclose(F @ F.T, (Z @ Z.T) ** 2))
    True
    """
    n, p = Z.shape
    F = np.empty((n, p * (p + 1) // 2))
    start = 0
    for i in range(p):  # one block of columns (i, i), (i, i + 1), ..., (i, p - 1) per locus
        block = F[:, start : start + p - i]
        np.multiply(Z[:, i : i + 1], Z[:, i:], out=block)
        block[:, 1:] *= np.sqrt(2.0)
        start += p - i
    return F


def epistatic_kernel(Z, *, gram=None):
    """Centred additive-by-additive kernel with mean diagonal one.

    ``K_AA = P (K o K) P / c_AA`` with ``K = Z Z^T``, the centring projector
    ``P = I - 1 1^T / n`` and ``c_AA = trace(P (K o K) P) / n``.  It is the
    kernel of the pairwise features of :func:`pairwise_features` after
    centring their columns and dividing by ``sqrt(c_AA)``.  Centring changes
    neither the REML likelihood (which only sees the complement of the
    intercept) nor the predictions up to the intercept; it makes ``s2_AA``
    the variance of ``g_AA`` in the sample.

    Parameters
    ----------
    Z : ndarray of shape (n_samples, p)
        Centred markers.
    gram : ndarray of shape (n_samples, n_samples), default=None
        ``Z Z^T`` when it is already at hand (it is left unchanged); else
        it is computed, in ``O(n^2 p)``.

    Returns
    -------
    K_AA : ndarray of shape (n_samples, n_samples)
    scale : float
        The normaliser ``c_AA``.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_elm._kernels import epistatic_kernel, pairwise_features
    >>> Z = np.random.default_rng(0).standard_normal((5, 3))
    >>> K, c = epistatic_kernel(Z)
    >>> F = pairwise_features(Z)
    >>> F -= F.mean(axis=0)
    >>> bool(np.allclose(K, F @ F.T / c)), round(float(np.trace(K)) / 5, 12)
    (True, 1.0)
    >>> bool(np.array_equal(epistatic_kernel(Z, gram=Z @ Z.T)[0], K))
    True
    """
    if gram is None:
        K = Z @ Z.T
        K *= K
    else:
        K = gram * gram
    row = K.mean(axis=1)
    K -= row[:, None]
    K -= row[None, :]
    K += row.mean()
    scale = float(np.trace(K) / K.shape[0])
    if scale > 0:
        K /= scale
    return K, scale
