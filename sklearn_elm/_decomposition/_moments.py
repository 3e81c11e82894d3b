"""Streamed sums of the equivalent linear map, and the centred design they define.

For every sample ``n`` the network's equivalent linear map gives, per output
``k``, coefficients ``s_nk`` (a row of ``J(x_n)``) with ``f_k(x_n) = s_nk .
z_n`` on the network's input scale ``z``.  Everything downstream needs only
sums over samples, accumulated batch by batch by :func:`update_moments`, so
memory is ``O(n_outputs p^2)`` whatever the number of samples::

    n, sum z, sum z z^T, sum (z*z)(z*z)^T, sum (z*z) z^T, sum f, sum f^2, sum z f^T,
    sum s, sum s*s, sum z s^T   (and, for the contrast, genotype-class sums).

The sums of ``s_ni`` leave out the samples where ``z_ni = 0``: there the
coefficient multiplies 0, so the network's output does not depend on it, and a
network may route it in any way (a ReLU unit that reads only that input has
its gate shut there).  ``nz`` counts the samples each input is non-zero on and
``nzz`` the sums of the other inputs over them, so that the ELM-slope
estimators regress each coefficient on the samples that determine it.  For
codings without zeros (haploid -1/+1) nothing is left out.

:func:`~._design.build_design` turns the input sums into the design every estimator of a
fit shares.
"""

import numpy as np
from sklearn.utils import Bunch

from .._blas import add_product, row_slices

__all__ = ["add_moments", "init_moments", "sum_diagonal", "sum_rows", "update_moments",
           "with_target"]


def init_moments(n_features, n_outputs, *, contrast=False, pairwise=True):
    """Zeroed sums for :func:`update_moments`.

    Parameters
    ----------
    n_features : int
        Number of network inputs ``p``.
    n_outputs : int
        Number of network outputs ``k``.
    contrast : bool, default=False
        Also allocate the genotype-class sums of
        :func:`~sklearn_elm._decomposition.epistasis_contrast` (``4 k p^2``
        more numbers).
    pairwise : bool, default=True
        Allocate the ``p x p`` sums (``zz``, ``z2z2``, ``z2z``, ``nzz`` and
        ``zs``) that the design, the slopes and the projection read; without
        them only the ``O(k p)`` sums are kept, for estimators that read the
        samples themselves (``"screened"``).

    Returns
    -------
    moments : Bunch
        ``n`` (samples seen), ``z`` (p,), ``z2`` (p,) (sum of squares), ``zz`` (p, p),
        ``z2z2`` (p, p),
        ``z2z`` (p, p) (``sum z_i^2 z_j``), ``z3`` (p,) (sum of cubes),
        ``f`` (k,), ``ff`` (k,), ``zf`` (p, k),
        ``s`` (k, p), ``ss`` (k, p), ``zs`` (k, p, p) with ``zs[k, j, i] =
        sum_n z_nj s_nki`` (each over the samples where ``z_ni != 0``),
        ``nz`` (p,) (the number of those samples) and ``nzz`` (p, p) with
        ``nzz[i, j] = sum_{n: z_ni != 0} z_nj``, and with ``contrast``,
        ``class_n`` (2, 2, p, p) and ``class_s`` (k, 2, 2, p, p).  ``zz``, ``z2z2``,
        ``z2z`` and ``nzz`` start in float32 (see the module docstring; read them with
        :func:`sum_rows`), with ``code_max`` the largest absolute code seen.

    Examples
    --------
    >>> from sklearn_elm._decomposition import init_moments
    >>> m = init_moments(3, 2)
    >>> m.n, m.zs.shape, m.zz.dtype
    (0, (2, 3, 3), dtype('float32'))
    """
    p, k = int(n_features), int(n_outputs)
    moments = Bunch(
        n=0,
        z=np.zeros(p),
        z2=np.zeros(p),
        f=np.zeros(k),
        ff=np.zeros(k),
        zf=np.zeros((p, k)),
        s=np.zeros((k, p)),
        ss=np.zeros((k, p)),
        z3=np.zeros(p),
        nz=np.zeros(p),
    )
    if pairwise:
        # integer sums while the codes are (see the module docstring); nzz is z2z's array
        # while z^2 is the indicator of z != 0
        for key in INTEGER_SUMS[:3]:
            moments[key] = np.zeros((p, p), dtype=np.float32)
        moments.nzz = moments.z2z
        moments.code_max = 0.0
        moments.zs = np.zeros((k, p, p))
    if contrast:
        moments.class_n = np.zeros((2, 2, p, p))
        moments.class_s = np.zeros((k, 2, 2, p, p))
    return moments


def update_moments(moments, Z, F, S):
    """Add one batch to the streamed sums, in float64.

    Parameters
    ----------
    moments : Bunch
        Sums from :func:`init_moments`, updated in place.
    Z : ndarray of shape (n_batch, p)
        Network inputs ``z``.
    F : ndarray of shape (n_batch, k)
        Genetic values ``f(z)`` (network outputs on the target scale,
        without intercept).
    S : ndarray of shape (n_batch, k, p)
        ELM coefficients, ``F[n, k] = S[n, k] @ Z[n]``; those of inputs that
        are 0 are left out of the sums.

    Returns
    -------
    moments : Bunch
        The same object.

    Raises
    ------
    ValueError
        When class sums are kept (``contrast=True``) and ``Z`` is not coded
        -1 / +1.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_elm._decomposition import init_moments, update_moments
    >>> Z = np.array([[1.0, -1.0], [-1.0, -1.0]])
    >>> S = np.ones((2, 1, 2))
    >>> m = update_moments(init_moments(2, 1), Z, (S[:, 0] * Z).sum(1)[:, None], S)
    >>> m.n, m.f
    (2, array([-2.]))
    """
    Z = np.asarray(Z, dtype=np.float64)
    F = np.asarray(F, dtype=np.float64)
    S = np.asarray(S, dtype=np.float64)
    b, p = Z.shape
    k = F.shape[1]
    moments.n += b
    moments.z += Z.sum(axis=0)
    Z2 = Z * Z
    moments.z2 += Z2.sum(axis=0)
    moments.f += F.sum(axis=0)
    moments.ff += (F * F).sum(axis=0)
    moments.zf += Z.T @ F
    # a coefficient that multiplies 0 does not reach the output: leave it out
    nonzero = Z != 0
    moments.nz += nonzero.sum(axis=0)
    S = np.where(nonzero[:, None, :], S, 0.0)
    moments.s += S.sum(axis=0)
    moments.ss += np.einsum("nkp,nkp->kp", S, S)  # no temporary of S's size
    moments.z3 += np.einsum("np,np->p", Z2, Z)
    if "zz" in moments:  # the p x p sums (see init_moments' pairwise)
        _add_input_products(moments, Z, Z2, nonzero)
        for out in range(k):  # zs[k, j, i] = sum_n z_nj s_nki, in place
            add_product(moments.zs[out], Z, S[:, out])
    if "class_n" in moments:
        _update_class_sums(moments, Z, S)
    return moments


#: Largest batch whose products of codes in -2..2 are integers float32 holds exactly.
EXACT_FLOAT32_ROWS = 2**24 // 16

#: The input sums that are integers for integer codes (float32 while they fit it exactly).
INTEGER_SUMS = ("zz", "z2z2", "z2z", "nzz")

#: Integers up to this bound are exact in float32.
EXACT_FLOAT32 = 2**24


def _add_input_products(moments, Z, Z2, nonzero):
    """Add a batch's ``zz``, ``z2z2``, ``z2z`` and ``nzz`` to the sums, in place.

    Integer codes in ``-2..2`` (GenotypeEncoder's default codes, without imputed
    values) have products that float32 holds exactly, batch sums included: there the
    products are float32 BLAS, twice as fast, added a block of rows at a time, to the bit
    the float64 products.  The sums stay float32 while every ``|sum| <= n code_max^4``
    is below ``2**24``; past it, or at the first other code, they turn float64 (for good).
    Where ``z^2`` is the indicator of ``z != 0`` (codes -1/0/+1) ``z2z`` and ``nzz`` are
    one product, and one array until a batch where they differ.  Other codes take float64
    products made in place (:func:`~sklearn_elm._blas.add_product`).
    """
    shared = np.array_equal(Z2, nonzero)  # z^2 is the indicator of z != 0
    if moments.nzz is moments.z2z and not shared:  # equal so far, apart from here on
        moments.nzz = moments.z2z.copy()
    largest = float(np.abs(Z).max(initial=0.0))
    exact = (len(Z) <= EXACT_FLOAT32_ROWS and largest <= 2
             and np.array_equal(Z, np.rint(Z)))
    moments.code_max = max(moments.get("code_max", 0.0), largest)
    if moments.zz.dtype == np.float32 and not (
            exact and moments.n * max(moments.code_max, 1.0) ** 4 < EXACT_FLOAT32):
        _to_float64(moments)
    if not exact:
        add_product(moments.zz, Z, Z)
        add_product(moments.z2z2, Z2, Z2)
        add_product(moments.z2z, Z2, Z)
        if moments.nzz is not moments.z2z:
            add_product(moments.nzz, nonzero.astype(np.float64), Z)
        return
    Z, Z2 = Z.astype(np.float32), Z2.astype(np.float32)
    indicator = None if moments.nzz is moments.z2z else nonzero.astype(np.float32)
    for rows in row_slices(Z.shape[1], 1024):
        moments.zz[rows] += Z[:, rows].T @ Z
        moments.z2z2[rows] += Z2[:, rows].T @ Z2
        block = Z2[:, rows].T @ Z
        moments.z2z[rows] += block
        if indicator is not None:
            moments.nzz[rows] += block if shared else indicator[:, rows].T @ Z


def _to_float64(moments):
    """Turn the integer sums into float64, one at a time (``nzz`` kept one with ``z2z``)."""
    shared = moments.nzz is moments.z2z
    for key in INTEGER_SUMS[:3] if shared else INTEGER_SUMS:
        moments[key] = moments[key].astype(np.float64)
    if shared:
        moments.nzz = moments.z2z


def sum_rows(sums, key, rows=slice(None)):
    """Rows of the streamed sum ``sums[key]``, a new float64 array (the integer sums may
    be float32).

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_elm._decomposition import init_moments, update_moments
    >>> from sklearn_elm._decomposition._moments import sum_rows
    >>> Z = np.array([[1.0, 0.0], [-1.0, 1.0]])
    >>> m = update_moments(init_moments(2, 1), Z, Z[:, :1], Z[:, None])
    >>> sum_rows(m, "zz", slice(0, 1))
    array([[ 2., -1.]])
    """
    return np.array(sums[key][rows], dtype=np.float64)


def sum_diagonal(sums, key):
    """The diagonal of the streamed sum ``sums[key]``, in float64."""
    return np.diagonal(sums[key]).astype(np.float64)


def add_moments(first, second):
    """The sums of two sets of samples (:func:`update_moments`) as those of both.

    The integer sums stay float32 while their total fits it exactly (see
    :func:`_add_input_products`), else they are added in float64; ``nzz`` stays
    ``z2z``'s array where it is in both.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_elm._decomposition import init_moments, update_moments
    >>> from sklearn_elm._decomposition._moments import add_moments
    >>> Z = np.array([[1.0, 0.0], [-1.0, 1.0]])
    >>> m = update_moments(init_moments(2, 1), Z, Z[:, :1], Z[:, None])
    >>> both = add_moments(m, m)
    >>> both.n, both.zz.dtype, both.nzz is both.z2z
    (4, dtype('float32'), True)
    """
    n = first.n + second.n
    code_max = max(first.get("code_max", 0.0), second.get("code_max", 0.0))
    exact = n * max(code_max, 1.0) ** 4 < EXACT_FLOAT32
    shared = all("nzz" in m and m.nzz is m.z2z for m in (first, second))
    total = Bunch()
    for key, value in first.items():
        if key == "code_max":
            total[key] = code_max
        elif key == "nzz" and shared:
            total[key] = total.z2z
        elif key in INTEGER_SUMS and not exact:
            total[key] = np.add(value, second[key], dtype=np.float64)
        else:
            total[key] = value + second[key]
    return total


def _update_class_sums(moments, Z, S):
    """Add the four genotype classes of every pair of -1/+1 inputs to the class sums."""
    if not np.isin(Z, (-1.0, 1.0)).all():
        bad = np.unique(Z[~np.isin(Z, (-1.0, 1.0))])[:5]
        raise ValueError(
            "epistasis='contrast' needs binary genotypes coded -1/+1 (haploid, "
            f"e.g. GenotypeEncoder(center='mid')); found values {bad.tolist()}. "
            "Use epistasis='regression' for other codings."
        )
    # class indicators: index 0 is z = -1, index 1 is z = +1
    ind = np.stack([Z < 0, Z > 0]).astype(np.float64)
    for a in range(2):
        for c in range(2):
            moments.class_n[a, c] += ind[a].T @ ind[c]
            for out in range(S.shape[1]):
                moments.class_s[out, a, c] += (S[:, out] * ind[a]).T @ ind[c]


def with_target(moments, total, squares):
    """The streamed sums with the target ``f`` replaced, e.g. by a residual ``r``.

    :func:`~sklearn_elm._decomposition.projection_fit` reads only the input
    sums (through the :class:`Design`) and ``sum f``, ``sum f^2``, so
    projecting another target of the same samples needs those two sums and
    nothing else.

    Parameters
    ----------
    moments : Bunch
        Streamed sums of the samples.
    total, squares : ndarray of shape (k,)
        ``sum_n r_n`` and ``sum_n r_n^2`` of the new target.

    Returns
    -------
    moments : Bunch
        A shallow copy; ``f``, ``ff`` replaced and the sums that involve the
        old target (``zf``, ``s``, ``ss``, ``zs``) dropped.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_elm._decomposition import init_moments, update_moments, with_target
    >>> Z = np.array([[1.0], [-1.0]])
    >>> m = update_moments(init_moments(1, 1), Z, Z, Z[:, None])
    >>> r = with_target(m, np.array([3.0]), np.array([5.0]))
    >>> r.f, r.ff, "zs" in r
    (array([3.]), array([5.]), False)
    """
    skip = {"f", "ff", "zf", "s", "ss", "zs", "class_n", "class_s"}
    kept = {key: value for key, value in moments.items() if key not in skip}
    total = np.asarray(total, dtype=np.float64)
    return Bunch(**kept, f=total, ff=np.asarray(squares, dtype=np.float64))
