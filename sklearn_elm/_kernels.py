"""Marker features and relationship kernels of the GBLUP baselines.

The VanRaden additive kernel ``K_A = W_A W_A^T`` of centred markers, and the
additive-by-additive kernel ``K_AA = K_A o K_A`` (Henderson) with its explicit
pairwise features, each scaled to mean diagonal 1 so that a variance ratio
means the same on any phenotype scale.

The markers may be a dask array, read a chunk at a time and never whole:
then the features are lazy dask arrays too, and every product of them that
the REML needs (:func:`gram`, :func:`computed`) is computed by dask, on the
active scheduler (a ``dask.distributed`` cluster where a ``Client`` is), as
a sum over chunks of the products of the chunks.
"""

import numpy as np

from ._blas import add_product, self_product
from ._inputs import is_dask

__all__ = ["additive_features", "computed", "epistatic_kernel", "gram", "mirror_lower",
           "pairwise_features"]


def computed(*arrays):
    """The arrays as ndarrays: dask arrays computed by one ``dask.compute``, the rest as given.

    One call computes them together, so that the chunks of ``X`` they share
    are read once.

    Parameters
    ----------
    *arrays : ndarray or dask array

    Returns
    -------
    arrays : tuple of ndarray

    Examples
    --------
    >>> import numpy as np
    >>> import dask.array as da
    >>> from sklearn_elm._kernels import computed
    >>> computed(np.ones(2), da.ones(3, chunks=2).sum())
    (array([1., 1.]), np.float64(3.0))
    """
    if not any(is_dask(array) for array in arrays):
        return arrays
    import dask

    return dask.compute(*arrays)


def mirror_lower(K, block=1024):
    """Copy the lower triangle of the square ``K`` onto its upper one, in place.

    A block of ``block`` rows at a time, so that no second ``n x n`` array is
    made.  A Gram matrix made of blocks (by dask) is symmetric only up to
    round-off; made exactly so, it is what one symmetric BLAS product gives.

    Parameters
    ----------
    K : ndarray of shape (n, n)
    block : int, default=1024

    Returns
    -------
    K : ndarray of shape (n, n)
        The same array, now symmetric.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_elm._kernels import mirror_lower
    >>> mirror_lower(np.arange(9.0).reshape(3, 3), block=2)
    array([[0., 3., 6.],
           [3., 4., 7.],
           [6., 7., 8.]])
    """
    n = K.shape[0]
    for start in range(0, n, block):
        stop = min(start + block, n)
        K[start:stop, stop:] = K[stop:, start:stop].T
        upper = np.triu_indices(stop - start, 1)
        diagonal = K[start:stop, start:stop]
        diagonal[upper] = diagonal.T[upper]
    return K


#: Bytes of the block of loci (every sample) read at a time for a dask kernel over loci.
BLOCK_BYTES = 2**27


def gram(W, *, over):
    """The Gram matrix of ``W`` summed over loci (``W W^T``) or over samples (``W^T W``).

    In memory, one symmetric BLAS product.  For a dask ``W`` over samples,
    dask's product of the chunks: each ``p x p`` output block is the sum over
    the sample chunks of the products of two chunks, computed on the active
    scheduler.  Over loci, the ``n x n`` kernel is summed here a block of
    loci at a time: each block of every sample (whole locus chunks, about
    :data:`BLOCK_BYTES` where the chunks are that narrow) is computed by the
    scheduler and its product added in place, so that memory is the kernel
    and one block; chunk ``W`` over loci too, or a block is all of it.  The
    result is then made exactly symmetric (:func:`mirror_lower`).

    Parameters
    ----------
    W : ndarray or dask array of shape (n_samples, n_features)
    over : {"loci", "samples"}
        The axis summed over.

    Returns
    -------
    G : ndarray of shape (n_samples, n_samples) or (n_features, n_features)

    Examples
    --------
    >>> import numpy as np
    >>> import dask.array as da
    >>> from sklearn_elm._kernels import gram
    >>> W = np.arange(12.0).reshape(4, 3)
    >>> bool(np.allclose(gram(da.from_array(W, chunks=(3, 2)), over="loci"), W @ W.T))
    True
    >>> gram(W, over="samples").shape
    (3, 3)
    """
    if not is_dask(W):
        return self_product(W if over == "loci" else W.T)
    if over == "samples":
        return mirror_lower(computed(W.T @ W)[0])
    n = W.shape[0]
    K = np.zeros((n, n))
    for _, block in _computed_blocks(W):
        add_product(K, block.T, block.T)  # K += block block^T
    return mirror_lower(K)


def in_memory(W):
    """``W`` as a float64 ndarray: a dask ``W`` computed a block of whole locus chunks at a
    time (about :data:`BLOCK_BYTES` where the chunks are that narrow) into one array made
    first, so that memory is that array and one block (``computed`` would hold every chunk
    and their concatenation at once).

    Examples
    --------
    >>> import numpy as np
    >>> import dask.array as da
    >>> from sklearn_elm._kernels import in_memory
    >>> W = np.arange(12.0).reshape(4, 3)
    >>> np.array_equal(in_memory(da.from_array(W, chunks=(3, 2))), W)
    True
    """
    if not is_dask(W):
        return W
    out = np.empty(W.shape)
    for cols, block in _computed_blocks(W):
        out[:, cols] = block
    return out


def _computed_blocks(W):
    """``(cols, W[:, cols])`` of a dask ``W``, each block of whole locus chunks (about
    :data:`BLOCK_BYTES`, :func:`_locus_blocks`) computed by the scheduler, in float64."""
    for cols in _locus_blocks(W.chunks[1], BLOCK_BYTES // (8 * max(W.shape[0], 1))):
        yield cols, np.asarray(computed(W[:, cols])[0], dtype=np.float64)


def _locus_blocks(chunks, width):
    """Slices of whole consecutive locus chunks, each ``width`` loci or fewer where a
    chunk allows it: a block never cuts a chunk, which dask would otherwise compute once
    per block it meets."""
    start = stop = 0
    for size in chunks:
        if stop > start and stop - start + size > width:
            yield slice(start, stop)
            start = stop
        stop += size
    if stop > start:
        yield slice(start, stop)


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

    A dask ``X`` gives a lazy dask ``W`` of the same chunks; ``mean`` and
    ``c`` are then computed first, by one pass of dask reductions over the
    chunks (the column means and variances).

    Raises
    ------
    ValueError
        If every column of ``X`` is constant (``c = 0``), or if a dask ``X``
        holds NaN or infinite values.

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
    if is_dask(X):
        return _lazy_additive_features(X, mean, scale)
    X = np.asarray(X, dtype=np.float64)
    if mean is None:
        mean = X.mean(axis=0)
    Z = X - mean
    if scale is None:
        scale = float(np.einsum("ij,ij->", Z, Z) / X.shape[0])
    if not scale > 0:
        raise ValueError("every marker in X is constant: the relationship matrix is zero.")
    Z /= np.sqrt(scale)  # in place: Z is this function's own array
    return Z, mean, scale


def nonfinite_error(column):
    """The ValueError of markers holding NaN or infinite values, first at ``column``."""
    return ValueError(
        f"X holds NaN or infinite values (first at locus {column}): a missing call must "
        "be imputed before GBLUP, e.g. with GenotypeEncoder or SimpleImputer."
    )


def check_finite(X):
    """Raise :func:`nonfinite_error` where the in-memory ``X`` holds NaN or infinite values.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_elm._kernels import check_finite
    >>> check_finite(np.array([[0.0, np.nan]]))  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: X holds NaN or infinite values (first at locus 1): a missing call must be ...
    """
    finite = np.isfinite(X)
    if not finite.all():
        raise nonfinite_error(int(np.flatnonzero(~finite.all(axis=0))[0]))


def _lazy_additive_features(X, mean, scale):
    """:func:`additive_features` of a dask ``X``: the statistics computed, ``W`` lazy."""
    X = X.astype(np.float64)
    if mean is None:  # dask's variance is one pass, with the means of the chunks combined
        mean, variances = computed(X.mean(axis=0), X.var(axis=0))
        scale = float(np.sum(variances)) if scale is None else scale
    elif scale is None:
        scale = float(np.sum(computed(((X - mean) ** 2).mean(axis=0))[0]))
    mean = np.asarray(mean, dtype=np.float64)
    bad = np.flatnonzero(~np.isfinite(mean))
    if bad.size or not np.isfinite(scale):
        raise nonfinite_error(int(bad[0]) if bad.size else "?")
    if not scale > 0:
        raise ValueError("every marker in X is constant: the relationship matrix is zero.")
    return (X - mean) / np.sqrt(scale), mean, scale


def pairwise_features(Z):
    """Explicit feature map of the Hadamard square of a linear kernel.

    With ``F[:, (i, i)] = z_i^2`` and ``F[:, (i, j)] = sqrt(2) z_i z_j`` for
    ``i < j`` (``p (p + 1) / 2`` columns, ordered as ``np.triu_indices``),
    ``F F^T = (Z Z^T) o (Z Z^T)`` exactly, because
    ``(z^T z')^2 = sum_i z_i^2 z_i'^2 + 2 sum_{i<j} z_i z_j z_i' z_j'``.

    Parameters
    ----------
    Z : ndarray or dask array of shape (n_samples, p)
        Centred markers.

    Returns
    -------
    F : ndarray or dask array of shape (n_samples, p * (p + 1) // 2)
        For a dask ``Z``, a dask array made a sample chunk at a time.

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
    if is_dask(Z):
        return Z.rechunk({1: -1}).map_blocks(
            pairwise_features, chunks=(Z.chunks[0], (p * (p + 1) // 2,)), dtype=np.float64,
            meta=np.empty((0, 0)),
        )
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
        K = Z @ Z.T if is_dask(Z) else self_product(Z)
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
