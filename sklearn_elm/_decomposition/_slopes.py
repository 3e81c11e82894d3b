"""ELM-slope estimators: additive and pairwise effects from the network's coefficients.

Each ELM coefficient ``s_i`` is regressed on all inputs, over the samples
where ``z_i != 0`` (elsewhere it multiplies 0 and the network leaves it
arbitrary).  :func:`conditional_slopes` computes the regression once per fit
(one ``p x p`` pseudo-inverse); :func:`average_effects` and
:func:`epistasis_regression` read it.  :func:`epistasis_contrast` is the
four-genotype-class contrast of the same coefficients for -1/+1 codings.
"""

import warnings

import numpy as np
from sklearn.utils import Bunch

from .._blas import psd_inverse, psd_pinv, row_slices, symmetrise_sum
from ._moments import sum_diagonal, sum_rows

__all__ = ["average_effects", "conditional_slopes", "epistasis_contrast", "epistasis_regression"]


class PartnerMeans:
    """``zbar_w[i, j]``, the mean of ``z_j`` over the samples where ``z_i != 0``, a block
    at a time from the sums ``nzz`` and ``nz`` (no ``p x p`` array is made); for an input
    without zeros, the plain means ``zbar_j``.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_elm._decomposition import init_moments, update_moments
    >>> from sklearn_elm._decomposition._slopes import PartnerMeans
    >>> Z = np.array([[1.0, 2.0], [0.0, 4.0]])  # input 0 is 0 on the second sample
    >>> m = update_moments(init_moments(2, 1), Z, Z[:, :1], Z[:, None])
    >>> PartnerMeans(m).rows(slice(0, 2))  # input 0: the first sample; 1: both
    array([[1. , 2. ],
           [0.5, 3. ]])
    """

    def __init__(self, moments):
        self.nz = np.maximum(moments.nz, 1.0)
        self.zbar = moments.z / max(moments.n, 1)
        self.everywhere = moments.nz == moments.n
        # inputs without zeros: the plain means, to the bit (and no sum to keep)
        self.nzz = None if self.everywhere.all() else moments.nzz

    def rows(self, rows):
        """``zbar_w[rows]``, of shape ``(len(rows), p)``."""
        if self.nzz is None:
            return np.broadcast_to(self.zbar, (rows.stop - rows.start, self.zbar.size))
        block = sum_rows(self, "nzz", rows)
        block /= self.nz[rows, None]
        block[self.everywhere[rows]] = self.zbar
        return block

    def columns(self, cols):
        """``zbar_w[:, cols]``, of shape ``(p, len(cols))``."""
        if self.nzz is None:
            return np.broadcast_to(self.zbar[cols], (self.zbar.size, cols.stop - cols.start))
        block = np.asarray(self.nzz[:, cols], dtype=np.float64) / self.nz[:, None]
        block[self.everywhere] = self.zbar[cols]
        return block

    def __getitem__(self, key):  # sum_rows reads the sum by name
        return getattr(self, key)


def _informative(moments, *, overwrite=False):
    """Means and covariances of the ELM coefficients over the samples that determine them.

    For input ``i`` those are the samples where ``z_i != 0`` (``nz_i`` of
    them).  Returns ``nz`` (p,), ``sbar`` (k, p), their mean coefficients,
    ``zbar_w`` (:class:`PartnerMeans`), with ``zbar_w[i, j]`` the mean of ``z_j`` over
    input ``i``'s samples, and ``cov`` (k, p, p) with ``cov[k, j, i]`` the
    covariance of ``z_j`` and ``s_ki`` over them.  Without zeros these are
    the plain means and covariances.  With ``overwrite``, ``cov`` is made in place
    of ``moments.zs``, which is removed from ``moments`` with ``moments.nzz`` (then
    held by ``zbar_w`` alone).
    """
    nz = np.maximum(moments.nz, 1.0)
    sbar = moments.s / nz
    zbar_w = PartnerMeans(moments)
    if overwrite:  # nothing else reads nzz
        moments.pop("nzz")
    cov = moments.pop("zs") if overwrite else moments.zs.copy()
    for rows in row_slices(nz.size):  # rows of z_j
        partners = zbar_w.columns(rows).T
        for k in range(cov.shape[0]):
            cov[k, rows] /= nz
            cov[k, rows] -= partners * sbar[k]
    return nz, sbar, zbar_w, cov


def _own_moments(moments, nz):
    """Mean and variance of each input over its own samples (where it is not 0).

    Zeros add nothing to ``sum z_i`` or ``sum z_i^2``, so the plain sums serve.
    """
    mean = moments.z / nz
    return mean, sum_diagonal(moments, "zz") / nz - mean**2


def conditional_slopes(moments, design, *, overwrite=False):
    """Multiple-regression slopes of every ELM coefficient on every input.

    ``B_k = C^+ Cov(z, s_k)`` with ``C`` the input covariance (pseudo-inverse,
    so monomorphic inputs get slope 0): ``B[k, j, i]`` is the slope of
    ``s_ki`` on ``z_j`` holding the other inputs fixed, over the samples
    where ``z_i != 0``.  For independent inputs it equals the marginal slope
    ``Cov(z_j, s_ki) / Var(z_j)``.  Where an input has zeros, its slope on
    itself is taken over its own samples (see
    :func:`_self_slopes_on_own_samples`).

    Parameters
    ----------
    moments : Bunch
        Streamed sums.
    design : Design
        The fit's design (:func:`~sklearn_elm._decomposition.build_design`).
    overwrite : bool, default=False
        Work in place of the sums ``moments.zs`` and ``moments.nzz`` (removed
        from ``moments``) and of ``design.C`` (released after, made again from the
        sums where it is read): ``B`` takes the memory of ``zs``, and ``cov`` is not
        returned (None).  Two ``p x p`` arrays fewer (one per output), for a caller
        done with the sums.

    Returns
    -------
    slopes : Bunch
        ``B`` (k, p, p), the slopes; ``C_pinv_diag`` (p,), the diagonal of the
        pseudo-inverse of ``C``, and ``rank``, the rank of ``C``; and the
        moments of the coefficients over the samples that determine them:
        ``nz`` (p,), their number, ``sbar`` (k, p), the mean coefficients,
        ``zbar_w`` (:class:`PartnerMeans`), ``zbar_w[i, j]`` the mean of ``z_j`` over
        input ``i``'s samples, and ``cov`` (k, p, p), ``cov[k, j, i]`` the
        covariance of ``z_j`` and ``s_ki`` over them; ``explained`` (k, p),
        ``Cov(z, s_ki)^T B[k, :, i]``, for the slopes' variances.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_elm._decomposition import (
    ...     build_design, conditional_slopes, init_moments, update_moments)
    >>> Z = np.array([[1.0, 1.0], [1.0, -1.0], [-1.0, 1.0], [-1.0, -1.0]])
    >>> S = (0.5 * Z[:, ::-1])[:, None, :]  # s_i = z_j / 2, from f = z_0 z_1
    >>> m = update_moments(init_moments(2, 1), Z, Z[:, :1] * Z[:, 1:], S)
    >>> conditional_slopes(m, build_design(m)).B[0]
    array([[0. , 0.5],
           [0.5, 0. ]])
    """
    # Cov(z_j, s_ki) over the samples that determine s_ki (z_i != 0)
    nz, sbar, zbar_w, cov_zs = _informative(moments, overwrite=overwrite)
    # the inverse by Cholesky where it is the pseudo-inverse, else one eigendecomposition
    # gives both the pseudo-inverse and the rank; with overwrite either works in C's own
    # memory, which the design then releases (made again from the sums if read after)
    C_pinv, rank = psd_inverse(design.C, overwrite=overwrite), nz.size
    if C_pinv is None:
        if overwrite:  # lost to the Cholesky attempt
            design.release_covariance()
        C_pinv, rank = psd_pinv(design.C, overwrite=overwrite)
    if overwrite:
        design.release_covariance()
    diag = np.arange(nz.size)
    cov_diag = cov_zs[:, diag, diag].copy()
    # B[k, j, i] = sum_l C+[j, l] Cov(z_l, s_ki), and Cov(z, s_ki)^T B[k, :, i] for the
    # slopes' variances; with overwrite B is made in place of the covariances, a block of
    # columns at a time
    B = cov_zs if overwrite else np.empty_like(cov_zs)
    explained = np.empty(sbar.shape)
    for k in range(B.shape[0]):
        for cols in row_slices(nz.size):
            block = C_pinv @ cov_zs[k][:, cols]
            explained[k, cols] = np.einsum("ji,ji->i", cov_zs[k][:, cols], block)
            B[k][:, cols] = block
    C_pinv_diag = np.diag(C_pinv).copy()
    del C_pinv
    before = B[:, diag, diag].copy()
    _self_slopes_on_own_samples(moments, B, nz, zbar_w, cov_diag)
    explained += cov_diag * (B[:, diag, diag] - before)
    return Bunch(B=B, C_pinv_diag=C_pinv_diag, rank=rank, nz=nz, sbar=sbar, zbar_w=zbar_w,
                 cov=None if overwrite else cov_zs, explained=explained)


def _self_slopes_on_own_samples(moments, B, nz, zbar_w, cov_diag):
    """Put the slope of ``s_i`` on ``z_i`` over the samples where ``z_i != 0`` into ``B``.

    Where an input has zeros, ``C^+`` weighs the slope of ``s_i`` on its own
    input with the variance of ``z_i`` over all samples, but the slope is
    taken over the others.  There, ``B_ii = (Cov'(z_i, s_i) - sum_{j != i}
    B_ji Cov'(z_i, z_j)) / Var'(z_i)`` with the primed moments over the
    samples where ``z_i != 0``, and 0 where ``z_i`` takes a single non-zero
    value (raw 0/1 codings: no slope to take).  In place.
    """
    n = moments.n
    has_zeros = moments.nz < n
    if not has_zeros.any():
        return
    own_mean, var_own = _own_moments(moments, nz)
    diag = np.arange(len(nz))
    # sum_{j != i} B_ji Cov'(z_i, z_j), a block of inputs i at a time; [i, j] of cov_own is
    # Cov'(z_i, z_j) (zeros of z_i add nothing to sum z_i z_j)
    explained = np.empty((B.shape[0], len(nz)))
    for rows in row_slices(len(nz)):
        cov_own = (sum_rows(moments, "zz", rows) / nz[rows, None]
                   - own_mean[rows, None] * zbar_w.rows(rows))
        explained[:, rows] = np.einsum("kji,ij->ki", B[:, :, rows], cov_own)
        explained[:, rows] -= B[:, diag[rows], diag[rows]] * cov_own[np.arange(len(cov_own)),
                                                                      diag[rows]]
    scale = np.maximum(sum_diagonal(moments, "zz") / nz, np.finfo(float).tiny)
    slope = np.where(var_own > 1e-12 * scale,
                     (cov_diag - explained) / np.where(var_own > 0, var_own, 1.0),
                     0.0)
    B[:, diag, diag] = np.where(has_zeros, slope, B[:, diag, diag])


def _slope_variances(moments, slopes):
    """Sampling variance of each slope, ``Var(B[k, j, i]) = sigma2_ki (C^+)_jj / n_i``.

    ``sigma2_ki = (Var(s_ki) - Cov(z, s_ki)^T B[k, :, i]) n_i / (n_i - r - 1)``
    is the residual variance of the regression of ``s_ki`` on ``z`` (``r``
    the rank of ``C``) over the ``n_i`` samples where ``z_i != 0``; a self
    slope taken over them has ``sigma2_ki / (n_i Var'(z_i))``.
    """
    nz, sbar = slopes.nz, slopes.sbar
    var_s = moments.ss / nz - sbar**2
    explained = slopes.explained  # Cov(z, s_ki)^T B[k, :, i]
    rank = slopes.rank
    few = (moments.nz > 0) & (moments.nz - rank - 1 < 1)
    if few.any():
        warnings.warn(
            f"{int(few.sum())} input(s) (e.g. input {int(np.flatnonzero(few)[0])}) are "
            f"non-zero on as few as {int(moments.nz[few].min())} samples, fewer than the "
            f"{rank + 2} that a regression on {rank} inputs needs: their ELM slopes, the "
            "pairs they enter and the sampling variances reported for them are unreliable. "
            "Code genotypes without zeros at the common allele (GenotypeEncoder) or use "
            "epistasis='projection'.",
            UserWarning,
            stacklevel=3,
        )
    dof = np.maximum(nz - rank - 1, 1)
    sigma2 = np.clip(var_s - explained, 0.0, None) * nz / dof
    V = (sigma2 / nz)[:, None, :] * slopes.C_pinv_diag[None, :, None]
    has_zeros = moments.nz < moments.n
    if has_zeros.any():  # the self slopes are over the samples where z_i != 0
        _, var_own = _own_moments(moments, nz)
        diag = np.arange(len(nz))
        self_var = sigma2 / (nz * np.where(var_own > 0, var_own, np.inf))
        V[:, diag, diag] = np.where(has_zeros, self_var, V[:, diag, diag])
    return V


def average_effects(moments, design, slopes):
    """Average effects: the mean ELM coefficient plus what partners' means add.

    With ``beta_ij`` the conditional slope of ``s_i`` on ``z_j``
    (:func:`conditional_slopes`), ``zbar`` the input means and ``kappa_i =
    Cov(z_i, z_i^2) / Var(z_i)``::

        a_i = m_i + sum_{j != i} beta_ji zbar_j + beta_ii (kappa_i - zbar_i)

    An ELM may split a pairwise term ``e z_i z_j`` between the two loci in
    any proportion, ``s_i = beta_ij z_j`` and ``s_j = beta_ji z_i`` with
    ``beta_ij + beta_ji = e``; the mean of ``s_i`` then holds only
    ``beta_ij zbar_j`` of the average effect ``e zbar_j`` of locus ``i``, and
    the second term adds the rest (the third does the same for a self term
    ``d z_i^2``, whose average effect is ``d kappa_i``).  ``m_i`` is the
    mean of ``s_i`` over all samples, ``mean_n s_ni`` for codings without
    zeros; where ``z_i`` is 0 the coefficient is arbitrary, so ``m_i`` is
    the mean over the other samples carried to all of them by the slopes,
    ``m_i = sbar_i + sum_{j != i} beta_ij (zbar_j - zbar_j^(i)) + beta_ii
    (zbar_i - zbar_i^(i))`` (``^(i)``: means over the samples where ``z_i !=
    0``).  For an additive and pairwise network on independent loci this is
    the average effect of quantitative genetics, the slope of the genetic
    value on ``z_i``; where all inputs are centred and binary it is the mean
    ELM coefficient ``sbar_i``.

    Parameters
    ----------
    moments : Bunch
        Streamed sums.
    design : Design
        The fit's design (:func:`~sklearn_elm._decomposition.build_design`).
    slopes : Bunch
        :func:`conditional_slopes` of the same sums.

    Returns
    -------
    a : ndarray of shape (k, p)

    Examples
    --------
    The ELM ``s_0 = z_1``, ``s_1 = 0`` of ``f = z_0 z_1`` at ``zbar_1 = 1/3``:
    the average effect of locus 0 is ``zbar_1``, that of locus 1 is
    ``zbar_0 = 0``.

    >>> import numpy as np
    >>> from sklearn_elm._decomposition import (
    ...     average_effects, build_design, conditional_slopes, init_moments, update_moments)
    >>> Z = np.array([[1.0, 1.0], [-1.0, 1.0], [1.0, 1.0], [-1.0, 1.0], [1.0, -1.0], [-1.0, -1.0]])
    >>> S = np.stack([Z[:, 1], np.zeros(6)], axis=1)[:, None, :]
    >>> m = update_moments(init_moments(2, 1), Z, Z[:, :1] * Z[:, 1:], S)
    >>> design = build_design(m)
    >>> average_effects(m, design, conditional_slopes(m, design)).round(6)
    array([[0.333333, 0.      ]])
    """
    B = slopes.B
    zbar, var = design.zbar, design.var
    n = moments.n
    cov_z_z2 = moments.z3 / n - zbar * sum_diagonal(moments, "zz") / n
    kappa = np.where(var > 0, cov_z_z2 / np.where(var > 0, var, 1.0), 0.0)
    diag = np.arange(zbar.size)
    beta_self = B[:, diag, diag]
    # the mean of s_i over all samples: over those where z_i != 0, carried to all
    # by the slopes (nothing to carry for codings without zeros); the partners j != i
    own = slopes.sbar.copy()
    if not (moments.nz == moments.n).all():
        for rows in row_slices(zbar.size):
            shift = zbar[None, :] - slopes.zbar_w.rows(rows)  # [i, j]
            own[:, rows] += np.einsum("kji,ij->ki", B[:, :, rows], shift)
            own[:, rows] -= beta_self[:, rows] * shift[np.arange(len(shift)), diag[rows]]
    zbar_own, _ = _own_moments(moments, slopes.nz)
    # B[k, i, j] is the slope of s_kj on z_i, beta_ji
    return own + (B @ zbar - beta_self * zbar) + beta_self * (kappa - zbar_own)


def epistasis_regression(moments, design, slopes, *, return_variance=False, overwrite=False):
    """Pairwise epistasis from the conditional slopes of the ELM coefficients.

    ``E_ij = B_ji + B_ij`` (``B[j, i]``: slope of ``s_i`` on ``z_j``), the
    **sum** of the two directions: a bias-free network is positively
    homogeneous of degree 1, so an ELM that routes a pairwise term
    ``e z_i z_j`` through the two loci only splits it as ``s_i = (e / 2) z_j``
    and ``s_j = (e / 2) z_i``.  Trained networks may route part of it through
    other loci, which biases this estimator (see Notes of
    :class:`~sklearn_elm.ELMDecomposer`;
    :func:`~sklearn_elm._decomposition.projection_fit` reads the function
    whatever its routing).  The diagonal is 0 where ``z_i^2`` is affine in
    ``z_i`` (two-valued codings such as haploid -1/+1, where a "self
    interaction" is not defined apart from the additive term); elsewhere
    (e.g. diploid -1/0/1) it is the dominance-like self term ``E_ii = B_ii``,
    the coefficient ``d`` of ``d z_i^2``, whose ELM is ``s_i = d z_i``.

    Parameters
    ----------
    moments : Bunch
        Streamed sums.
    design : Design
        The fit's design (:func:`~sklearn_elm._decomposition.build_design`).
    slopes : Bunch
        :func:`conditional_slopes` of the same sums.
    return_variance : bool, default=False
        Also return the sampling variance of each entry,
        ``Var(E_ij) = Var(B_ji) + Var(B_ij)`` (``Var(B_ii)`` on the diagonal).
    overwrite : bool, default=False
        Make ``E`` in place of ``slopes.B``, and remove that and ``slopes.zbar_w``
        from ``slopes`` first: ``k + 1`` ``p x p`` arrays fewer, for a caller done
        with the slopes (their average effects computed).

    Returns
    -------
    E : ndarray of shape (k, p, p)
        Symmetric epistasis matrices.
    E_var : ndarray of shape (k, p, p)
        Only with ``return_variance=True``.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_elm._decomposition import (
    ...     build_design, conditional_slopes, epistasis_regression, init_moments,
    ...     update_moments)
    >>> Z = np.array([[1.0, 1.0], [1.0, -1.0], [-1.0, 1.0], [-1.0, -1.0]])
    >>> S = (0.5 * Z[:, ::-1])[:, None, :]  # ELM of f = z_0 z_1
    >>> m = update_moments(init_moments(2, 1), Z, Z[:, :1] * Z[:, 1:], S)
    >>> design = build_design(m)
    >>> epistasis_regression(m, design, conditional_slopes(m, design))[0]
    array([[0., 1.],
           [1., 0.]])
    """
    if overwrite:  # read by the average effects and the self slopes alone, both done
        slopes.pop("zbar_w")
    V = _slope_variances(moments, slopes) if return_variance else None
    E = slopes.pop("B") if overwrite else slopes.B.copy()
    diag = np.arange(E.shape[1])
    for A in (E,) if V is None else (E, V):  # in place: A + A^T, the diagonal as it was
        own = A[:, diag, diag].copy()
        for k in range(A.shape[0]):
            symmetrise_sum(A[k])
        A[:, diag, diag] = np.where(design.self_terms, own, 0.0)
    return E if V is None else (E, V)


def epistasis_contrast(moments):
    """Pairwise epistasis from the four genotype classes (the published estimator).

    For binary -1/+1 inputs, let ``m_i(a, b)`` be the mean of ``s_i`` over the
    samples with ``z_i = a`` and ``z_j = b``.  The contrast of ``s_i`` between
    the two genotypes of ``j``, averaged with equal weights over the two
    genotypes of ``i``, is::

        c_ij = [m_i(+,+) - m_i(+,-) + m_i(-,+) - m_i(-,-)] / 4

    and ``E_ij = c_ij + c_ji`` (diagonal 0).  On balanced data (all four
    classes equally frequent, loci uncorrelated) ``c_ij`` equals the slope of
    ``s_i`` on ``z_j``, so this agrees with :func:`epistasis_regression`.

    Parameters
    ----------
    moments : Bunch
        Streamed sums with class sums (``init_moments(..., contrast=True)``).

    Returns
    -------
    E : ndarray of shape (k, p, p)
        Symmetric epistasis matrices.

    Raises
    ------
    ValueError
        If the class sums were not kept, or a pair has an empty genotype class.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_elm._decomposition import epistasis_contrast, init_moments, update_moments
    >>> Z = np.array([[1.0, 1.0], [1.0, -1.0], [-1.0, 1.0], [-1.0, -1.0]])
    >>> S = (0.5 * Z[:, ::-1])[:, None, :]
    >>> m = update_moments(init_moments(2, 1, contrast=True), Z, Z[:, :1] * Z[:, 1:], S)
    >>> epistasis_contrast(m)[0]
    array([[0., 1.],
           [1., 0.]])
    """
    if "class_n" not in moments:
        raise ValueError("The moments were accumulated without class sums (contrast=False).")
    counts = moments.class_n
    p = counts.shape[-1]
    off = ~np.eye(p, dtype=bool)
    empty = (counts == 0) & off
    if empty.any():
        a, b, i, j = np.argwhere(empty)[0]
        raise ValueError(
            f"Loci {i} and {j} have no sample with genotypes "
            f"({2 * a - 1:+d}, {2 * b - 1:+d}): the four-class contrast is undefined; "
            "use epistasis='regression'."
        )
    with np.errstate(invalid="ignore", divide="ignore"):
        means = moments.class_s / counts  # (k, a, b, i, j): mean s_i | z_i = a, z_j = b
    c = (means[:, 1, 1] - means[:, 1, 0] + means[:, 0, 1] - means[:, 0, 0]) / 4
    c = np.where(off, c, 0.0)
    return c + c.transpose(0, 2, 1)
