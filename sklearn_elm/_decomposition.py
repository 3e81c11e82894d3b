"""Quantitative genetics from streamed equivalent-linear-map statistics.

Pure numpy.  For every sample ``n`` the network's equivalent linear map gives,
per output ``k``, coefficients ``s_nk`` (a row of ``J(x_n)``) with
``f_k(x_n) = s_nk . z_n`` on the network's input scale ``z``.  Everything
downstream needs only sums over samples, accumulated batch by batch by
:func:`update_moments`, so memory is ``O(n_outputs p^2)`` whatever the
number of samples:

    n, sum z, sum z z^T, sum (z*z)(z*z)^T, sum (z*z) z^T, sum f, sum f^2, sum z f^T,
    sum s, sum s*s, sum z s^T   (and, for the contrast, genotype-class sums).

The sums of ``s_ni`` leave out the samples where ``z_ni = 0``: there the
coefficient multiplies 0, so the network's output does not depend on it, and a
network may route it in any way (a ReLU unit that reads only that input has
its gate shut there).  ``nz`` counts the samples each input is non-zero on and
``nzz`` the sums of the other inputs over them, so that the ELM-slope
estimators regress each coefficient on the samples that determine it.  For
codings without zeros (haploid -1/+1) nothing is left out.

The functions below turn these sums into additive effects, the epistasis
matrix and variance components; each docstring states its formula.

The additive and pairwise terms are those of the orthogonal decomposition of
quantitative genetics: the inputs centred on their sample means,
``z_i - zbar_i``, their products ``(z_i - zbar_i)(z_j - zbar_j)``, and for
inputs with more than two values the self term ``(z_i - zbar_i)^2`` less its
regression on ``z_i`` (a dominance deviation).  So the additive effects are
average effects under the sample's allele frequencies, and for independent
loci the additive and pairwise parts are uncorrelated whatever the coding
(``GenotypeEncoder(center="mid")`` leaves ``zbar != 0`` where allele
frequencies are not 1/2).  The pairwise coefficients are those of
``z_i z_j``, unchanged by the centring.
:func:`projection_fit` adds the least-squares projection of the genetic value
on additive and pairwise terms, solved by conjugate gradients with one streamed
pass over the inputs per iteration (same memory bound).
"""

import warnings

import numpy as np
from scipy import linalg
from scipy.sparse import linalg as sparse_linalg
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils import Bunch

from ._components import components_bunch

__all__ = [
    "additive_effects",
    "debiased_components",
    "projection_fit",
    "projection_terms",
    "conditional_slopes",
    "epistasis_contrast",
    "epistasis_regression",
    "init_moments",
    "update_moments",
    "variance_components",
    "with_target",
]


def init_moments(n_features, n_outputs, *, contrast=False):
    """Zeroed sums for :func:`update_moments`.

    Parameters
    ----------
    n_features : int
        Number of network inputs ``p``.
    n_outputs : int
        Number of network outputs ``k``.
    contrast : bool, default=False
        Also allocate the genotype-class sums of :func:`epistasis_contrast`
        (``4 k p^2`` more numbers).

    Returns
    -------
    moments : Bunch
        ``n`` (samples seen), ``z`` (p,), ``zz`` (p, p), ``z2z2`` (p, p),
        ``z2z`` (p, p) (``sum z_i^2 z_j``), ``z3`` (p,) (sum of cubes),
        ``f`` (k,), ``ff`` (k,), ``zf`` (p, k),
        ``s`` (k, p), ``ss`` (k, p), ``zs`` (k, p, p) with ``zs[k, j, i] =
        sum_n z_nj s_nki`` (each over the samples where ``z_ni != 0``),
        ``nz`` (p,) (the number of those samples) and ``nzz`` (p, p) with
        ``nzz[i, j] = sum_{n: z_ni != 0} z_nj``, and with ``contrast``,
        ``class_n`` (2, 2, p, p) and ``class_s`` (k, 2, 2, p, p).

    Examples
    --------
    >>> m = init_moments(3, 2)
    >>> m.n, m.zs.shape
    (0, (2, 3, 3))
    """
    p, k = int(n_features), int(n_outputs)
    moments = Bunch(
        n=0,
        z=np.zeros(p),
        zz=np.zeros((p, p)),
        z2z2=np.zeros((p, p)),
        z2z=np.zeros((p, p)),
        f=np.zeros(k),
        ff=np.zeros(k),
        zf=np.zeros((p, k)),
        s=np.zeros((k, p)),
        ss=np.zeros((k, p)),
        zs=np.zeros((k, p, p)),
        z3=np.zeros(p),
        nz=np.zeros(p),
        nzz=np.zeros((p, p)),
    )
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
    moments.zz += Z.T @ Z
    Z2 = Z * Z
    moments.z2z2 += Z2.T @ Z2
    moments.z2z += Z2.T @ Z
    moments.f += F.sum(axis=0)
    moments.ff += (F * F).sum(axis=0)
    moments.zf += Z.T @ F
    # a coefficient that multiplies 0 does not reach the output: leave it out
    nonzero = Z != 0
    moments.nz += nonzero.sum(axis=0)
    moments.nzz += nonzero.T.astype(np.float64) @ Z
    S = np.where(nonzero[:, None, :], S, 0.0)
    moments.s += S.sum(axis=0)
    moments.ss += (S * S).sum(axis=0)
    # zs[k, j, i] = sum_n z_nj s_nki: one (p, b) x (b, k p) product
    moments.zs += (Z.T @ S.reshape(b, k * p)).reshape(p, k, p).transpose(1, 0, 2)
    moments.z3 += (Z2 * Z).sum(axis=0)
    if "class_n" in moments:
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
                for out in range(k):
                    moments.class_s[out, a, c] += (S[:, out] * ind[a]).T @ ind[c]
    return moments


def _check_samples(moments):
    if moments.n < 2:
        raise ValueError(f"The decomposition needs at least 2 samples, got {moments.n}.")


def covariance(moments):
    """Covariance of the inputs: ``C = sum z z^T / n - zbar zbar^T``.

    Parameters
    ----------
    moments : Bunch
        Streamed sums.

    Returns
    -------
    C : ndarray of shape (p, p)

    Examples
    --------
    >>> import numpy as np
    >>> Z = np.array([[1.0], [-1.0]])
    >>> covariance(update_moments(init_moments(1, 1), Z, Z, Z[:, None]))
    array([[1.]])
    """
    _check_samples(moments)
    zbar = moments.z / moments.n
    return moments.zz / moments.n - np.outer(zbar, zbar)


def _centring(moments):
    """Means ``zbar``, covariance ``C`` and self-term slopes ``gamma`` of the inputs.

    ``gamma_i = E[(z_i - zbar_i)^3] / Var(z_i)`` (0 for a monomorphic input),
    so that the self term ``(z_i - zbar_i)^2 - gamma_i (z_i - zbar_i)`` is
    uncorrelated with ``z_i``.
    """
    n = moments.n
    zbar = moments.z / n
    C = covariance(moments)
    var = np.diag(C)
    m2, m3 = np.diag(moments.zz) / n, moments.z3 / n
    third = m3 - 3 * zbar * m2 + 2 * zbar**3
    gamma = np.where(var > 0, third / np.where(var > 0, var, 1.0), 0.0)
    return zbar, C, gamma


def _informative(moments):
    """Means and covariances of the ELM coefficients over the samples that determine them.

    For input ``i`` those are the samples where ``z_i != 0`` (``nz_i`` of
    them).  Returns ``nz`` (p,), ``sbar`` (k, p), their mean coefficients,
    ``zbar_w`` (p, p), with ``zbar_w[i, j]`` the mean of ``z_j`` over input
    ``i``'s samples, and ``cov`` (k, p, p) with ``cov[k, j, i]`` the
    covariance of ``z_j`` and ``s_ki`` over them.  Without zeros these are
    the plain means and covariances.
    """
    nz = np.maximum(moments.nz, 1.0)
    sbar = moments.s / nz
    # inputs without zeros: the plain means, to the bit
    everywhere = (moments.nz == moments.n)[:, None]
    zbar_w = np.where(everywhere, moments.z / max(moments.n, 1), moments.nzz / nz[:, None])
    cov = moments.zs / nz[None, None, :] - zbar_w.T[None, :, :] * sbar[:, None, :]
    return nz, sbar, zbar_w, cov


def _own_moments(moments, nz):
    """Mean and variance of each input over its own samples (where it is not 0).

    Zeros add nothing to ``sum z_i`` or ``sum z_i^2``, so the plain sums serve.
    """
    mean = moments.z / nz
    return mean, np.diag(moments.zz) / nz - mean**2


def additive_effects(moments):
    """The mean ELM coefficient, ``a_ki = sum_n s_nki / n_i``.

    The mean is over the ``n_i`` samples where ``z_i != 0`` (all of them for
    codings without zeros, such as haploid -1/+1): elsewhere the coefficient
    multiplies 0 and the network leaves it arbitrary.  On centred binary
    inputs (allele frequencies 1/2) the average effect of ``z_i``; elsewhere
    a pair's share of the average effect depends on how the ELM splits it
    between the partners, which :func:`average_effects` corrects.

    Parameters
    ----------
    moments : Bunch
        Streamed sums.

    Returns
    -------
    a : ndarray of shape (k, p)

    Examples
    --------
    >>> import numpy as np
    >>> Z = np.array([[1.0, 1.0], [-1.0, 1.0]])
    >>> S = np.array([[[2.0, 0.0]], [[4.0, 0.0]]])
    >>> additive_effects(update_moments(init_moments(2, 1), Z, (S[:, 0] * Z).sum(1)[:, None], S))
    array([[3., 0.]])
    """
    _check_samples(moments)
    return _informative(moments)[1]


def average_effects(moments):
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
    ELM coefficient (:func:`additive_effects`).

    Parameters
    ----------
    moments : Bunch
        Streamed sums.

    Returns
    -------
    a : ndarray of shape (k, p)

    Examples
    --------
    The ELM ``s_0 = z_1``, ``s_1 = 0`` of ``f = z_0 z_1`` at ``zbar_1 = 1/3``:
    the average effect of locus 0 is ``zbar_1``, that of locus 1 is
    ``zbar_0 = 0``.

    >>> import numpy as np
    >>> Z = np.array([[1.0, 1.0], [-1.0, 1.0], [1.0, 1.0], [-1.0, 1.0], [1.0, -1.0], [-1.0, -1.0]])
    >>> S = np.stack([Z[:, 1], np.zeros(6)], axis=1)[:, None, :]
    >>> m = update_moments(init_moments(2, 1), Z, Z[:, :1] * Z[:, 1:], S)
    >>> average_effects(m).round(6)
    array([[0.333333, 0.      ]])
    """
    _check_samples(moments)
    B, _ = conditional_slopes(moments)
    zbar, C, _ = _centring(moments)
    var = np.diag(C)
    n = moments.n
    cov_z_z2 = moments.z3 / n - zbar * np.diag(moments.zz) / n
    kappa = np.where(var > 0, cov_z_z2 / np.where(var > 0, var, 1.0), 0.0)
    diag = np.arange(zbar.size)
    beta_self = B[:, diag, diag]
    partners = B.copy()
    partners[:, diag, diag] = 0.0
    nz, sbar, zbar_w, _ = _informative(moments)
    # the mean of s_i over all samples: over those where z_i != 0, carried to all
    # by the slopes (nothing to carry for codings without zeros)
    own = sbar + np.einsum("kji,ij->ki", partners, zbar[None, :] - zbar_w)
    zbar_own, _ = _own_moments(moments, nz)
    # B[k, i, j] is the slope of s_kj on z_i, beta_ji
    return own + partners @ zbar + beta_self * (kappa - zbar_own)


def conditional_slopes(moments):
    """Multiple-regression slopes of every ELM coefficient on every input.

    ``B_k = C^+ Cov(z, s_k)`` with ``C`` the input covariance (pseudo-inverse,
    so monomorphic inputs get slope 0): ``B[k, j, i]`` is the slope of
    ``s_ki`` on ``z_j`` holding the other inputs fixed.  For independent
    inputs it equals the marginal slope ``Cov(z_j, s_ki) / Var(z_j)``.

    Parameters
    ----------
    moments : Bunch
        Streamed sums.

    Returns
    -------
    B : ndarray of shape (k, p, p)
    C_pinv : ndarray of shape (p, p)
        The pseudo-inverse of the input covariance.

    Examples
    --------
    >>> import numpy as np
    >>> Z = np.array([[1.0, 1.0], [1.0, -1.0], [-1.0, 1.0], [-1.0, -1.0]])
    >>> S = (0.5 * Z[:, ::-1])[:, None, :]  # s_i = z_j / 2, from f = z_0 z_1
    >>> B, _ = conditional_slopes(update_moments(init_moments(2, 1), Z, Z[:, :1] * Z[:, 1:], S))
    >>> B[0]
    array([[0. , 0.5],
           [0.5, 0. ]])
    """
    C = covariance(moments)
    # Cov(z_j, s_ki) over the samples that determine s_ki (z_i != 0)
    nz, _, zbar_w, cov_zs = _informative(moments)
    C_pinv = linalg.pinvh(C)
    B = np.einsum("jl,kli->kji", C_pinv, cov_zs)
    _self_slopes_on_own_samples(moments, B, nz, zbar_w, cov_zs)
    return B, C_pinv


def _self_slopes_on_own_samples(moments, B, nz, zbar_w, cov_zs):
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
    # [i, j]: Cov'(z_i, z_j) (zeros of z_i add nothing to sum z_i z_j)
    cov_own = moments.zz / nz[:, None] - own_mean[:, None] * zbar_w
    diag = np.arange(len(nz))
    others = B.copy()
    others[:, diag, diag] = 0.0
    explained = np.einsum("kji,ij->ki", others, cov_own)
    scale = np.maximum(np.diag(moments.zz) / nz, np.finfo(float).tiny)
    slope = np.where(var_own > 1e-12 * scale,
                     (cov_zs[:, diag, diag] - explained) / np.where(var_own > 0, var_own, 1.0),
                     0.0)
    B[:, diag, diag] = np.where(has_zeros, slope, B[:, diag, diag])


def _slope_variances(moments, B, C_pinv):
    """Sampling variance of each slope, ``Var(B[k, j, i]) = sigma2_ki (C^+)_jj / n_i``.

    ``sigma2_ki = (Var(s_ki) - Cov(z, s_ki)^T B[k, :, i]) n_i / (n_i - r - 1)``
    is the residual variance of the regression of ``s_ki`` on ``z`` (``r``
    the rank of ``C``) over the ``n_i`` samples where ``z_i != 0``; a self
    slope taken over them has ``sigma2_ki / (n_i Var'(z_i))``.
    """
    nz, sbar, zbar_w, cov_zs = _informative(moments)
    var_s = moments.ss / nz - sbar**2
    explained = np.einsum("kji,kji->ki", cov_zs, B)
    rank = np.linalg.matrix_rank(C_pinv, hermitian=True)
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
    V = sigma2[:, None, :] * np.diag(C_pinv)[None, :, None] / nz[None, None, :]
    has_zeros = moments.nz < moments.n
    if has_zeros.any():  # the self slopes are over the samples where z_i != 0
        _, var_own = _own_moments(moments, nz)
        diag = np.arange(len(nz))
        self_var = sigma2 / (nz * np.where(var_own > 0, var_own, np.inf))
        V[:, diag, diag] = np.where(has_zeros, self_var, V[:, diag, diag])
    return V


def _self_terms(moments):
    """Inputs with at least three distinct values, whose square is not affine in the input.

    Only there is a self term ``d z_i^2`` defined apart from the additive
    term: for two values (haploid -1/+1, raw 0/1, a diploid locus with two
    genotypes) ``z_i^2`` is ``alpha + beta z_i``.  The test is that the
    residual variance of ``z^2`` regressed on ``z``, ``Var(z^2) - Cov(z,
    z^2)^2 / Var(z)``, is not zero.
    """
    n = moments.n
    m2, m4 = np.diag(moments.zz) / n, np.diag(moments.z2z2) / n
    var = m2 - (moments.z / n) ** 2
    scale = np.maximum(m4 - m2**2, m2**2)
    return (var > 0) & (_self_residual(moments) > 1e-9 * scale)


def _self_residual(moments):
    """``Var(z^2) - Cov(z, z^2)^2 / Var(z)`` per input (``Var(z^2)`` where ``z`` is constant)."""
    n = moments.n
    m1, m2 = moments.z / n, np.diag(moments.zz) / n
    m3, m4 = moments.z3 / n, np.diag(moments.z2z2) / n
    var, var2, cov = m2 - m1**2, m4 - m2**2, m3 - m1 * m2
    return var2 - np.where(var > 0, cov**2 / np.where(var > 0, var, 1.0), var2)


def epistasis_regression(moments, *, return_variance=False):
    """Pairwise epistasis from the conditional slopes of the ELM coefficients.

    ``E_ij = B_ji + B_ij`` (``B[j, i]``: slope of ``s_i`` on ``z_j``), the
    **sum** of the two directions: a bias-free network is positively
    homogeneous of degree 1, so an ELM that routes a pairwise term
    ``e z_i z_j`` through the two loci only splits it as ``s_i = (e / 2) z_j``
    and ``s_j = (e / 2) z_i``.  Trained networks may route part of it through
    other loci, which biases this estimator (see Notes of
    :class:`~sklearn_elm.ELMDecomposer`; :func:`projection_fit` is exact).  The diagonal is 0
    where ``z_i^2`` is constant (binary codings such as haploid -1/+1, where a
    "self interaction" is a constant); elsewhere (e.g. diploid -1/0/1) it is
    the dominance-like self term ``E_ii = B_ii``, the coefficient ``d`` of
    ``d z_i^2``, whose ELM is ``s_i = d z_i``.

    Parameters
    ----------
    moments : Bunch
        Streamed sums.
    return_variance : bool, default=False
        Also return the sampling variance of each entry,
        ``Var(E_ij) = Var(B_ji) + Var(B_ij)`` (``Var(B_ii)`` on the diagonal).

    Returns
    -------
    E : ndarray of shape (k, p, p)
        Symmetric epistasis matrices.
    E_var : ndarray of shape (k, p, p)
        Only with ``return_variance=True``.

    Examples
    --------
    >>> import numpy as np
    >>> Z = np.array([[1.0, 1.0], [1.0, -1.0], [-1.0, 1.0], [-1.0, -1.0]])
    >>> S = (0.5 * Z[:, ::-1])[:, None, :]  # ELM of f = z_0 z_1
    >>> E = epistasis_regression(update_moments(init_moments(2, 1), Z, Z[:, :1] * Z[:, 1:], S))
    >>> E[0]
    array([[0., 1.],
           [1., 0.]])
    """
    B, C_pinv = conditional_slopes(moments)
    E = B + B.transpose(0, 2, 1)
    diag = np.arange(B.shape[1])
    E[:, diag, diag] = np.where(_self_terms(moments), B[:, diag, diag], 0.0)
    if not return_variance:
        return E
    V = _slope_variances(moments, B, C_pinv)
    E_var = V + V.transpose(0, 2, 1)
    E_var[:, diag, diag] = np.where(_self_terms(moments), V[:, diag, diag], 0.0)
    return E, E_var


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


def pair_variances(moments):
    """Variance of each pairwise term of the orthogonal decomposition.

    Off the diagonal, ``Var((z_i - zbar_i)(z_j - zbar_j))``; on it, for
    inputs with a self term (:func:`_self_terms`), the variance of
    ``(z_i - zbar_i)^2`` left after its regression on ``z_i``, and 0 for
    binary codings, whose square is affine in the input.  Computed from the
    raw streamed moments.

    Parameters
    ----------
    moments : Bunch
        Streamed sums.

    Returns
    -------
    V : ndarray of shape (p, p)

    Examples
    --------
    >>> import numpy as np
    >>> Z = np.array([[1.0, 1.0], [1.0, -1.0], [-1.0, 1.0], [-1.0, -1.0]])
    >>> pair_variances(update_moments(init_moments(2, 1), Z, Z[:, :1], Z[:, None]))
    array([[0., 1.],
           [1., 0.]])
    """
    _check_samples(moments)
    n = moments.n
    zbar, C, _ = _centring(moments)
    M = moments.zz / n
    Q = moments.z2z / n  # Q[i, j] = E[z_i^2 z_j]
    M2 = np.diag(M)
    zi, zj = zbar[:, None], zbar[None, :]
    # E[(z_i - zbar_i)^2 (z_j - zbar_j)^2], expanded in raw moments
    fourth = (
        moments.z2z2 / n
        - 2 * Q * zj
        - 2 * Q.T * zi
        + 4 * zi * zj * M
        + zj**2 * M2[:, None]
        + zi**2 * M2[None, :]
        - 3 * zi**2 * zj**2
    )
    V = np.clip(fourth - C**2, 0.0, None)
    diag = np.arange(zbar.size)
    V[diag, diag] = np.where(_self_terms(moments), _self_residual(moments), 0.0)
    return V


def variance_components(
    moments,
    additive,
    epistasis,
    epistasis_variance,
    phenotypic,
    pairwise_variance=None,
    *,
    additive_variance=None,
    genetic=None,
):
    """Variance components of given effects and genetic value, per output.

    * ``genetic``: ``V_G = Var_n f(z_n)`` (the intercept plays no role),
      unless given;
    * ``additive``: ``V_A = a^T C a``, the variance of ``sum_i a_i z_i``,
      less ``sum_i C_ii Var(a_i)`` when the sampling variances
      ``additive_variance`` are given (squaring an estimate adds its
      sampling variance);
    * ``epistatic``: noise-corrected variance of the pairwise part
      ``AA_n = sum_{i<j} E_ij (z_ni - zbar_i)(z_nj - zbar_j)`` (plus the
      self terms, see :func:`pair_variances`) over the samples, ``V_AA =
      Var_n(AA_n) - sum_{i<=j} Var(E_ij) V_ij``: squaring an
      estimate adds its sampling variance, which summed over ``p (p - 1) / 2``
      mostly null pairs would inflate ``V_AA`` severalfold; it is subtracted
      per pair, with ``V_ij`` the variance of the pair term (:func:`pair_variances`;
      the diagonal only counts for non-binary codings).
      ``Var_n(AA_n)`` is ``pairwise_variance`` (see
      :func:`pairwise_part_variance`, which needs a pass over the samples);
      without it, its independent-pairs form ``sum_{i<=j} E_ij^2
      V_ij``, which ignores the sample covariances of the pair
      products (like ``V_A = a^T C a`` does not);
    * ``higher``: ``V_G - V_A - V_AA``, what neither part explains
      (higher-order interactions, and covariance between the parts);
    * ``phenotypic``: ``V_P``, given; ``residual``: ``V_P - V_G``;
      ``h2 = V_A / V_P`` and ``H2 = V_G / V_P``.

    Parameters
    ----------
    moments : Bunch
        Streamed sums.
    additive : ndarray of shape (k, p)
        Additive effects.
    epistasis : ndarray of shape (k, p, p)
        Symmetric epistasis matrices.
    epistasis_variance : ndarray of shape (k, p, p)
        Sampling variance of each entry of ``epistasis``.
    phenotypic : ndarray of shape (k,)
        Phenotypic variance ``V_P`` (NaN when unknown).
    pairwise_variance : ndarray of shape (k,), default=None
        ``Var_n(AA_n)`` from :func:`pairwise_part_variance`; None uses the
        independent-pairs form.
    additive_variance : ndarray of shape (k, p), default=None
        Sampling variance of each additive effect; None means no correction
        (the effects of a fitted network are not noisy estimates of
        themselves).
    genetic : ndarray of shape (k,), default=None
        ``V_G`` when it is not the variance of the streamed ``f`` (see
        :func:`debiased_components`).

    Returns
    -------
    components : Bunch
        ``additive``, ``epistatic``, ``higher``, ``genetic``, ``residual``,
        ``phenotypic``, ``h2``, ``H2``: arrays of shape (k,).

    Examples
    --------
    >>> import numpy as np
    >>> Z = np.array([[1.0, 1.0], [1.0, -1.0], [-1.0, 1.0], [-1.0, -1.0]])
    >>> S = np.array([[1.0, 0.0]])[None].repeat(4, 0)  # f = z_0
    >>> m = update_moments(init_moments(2, 1), Z, Z[:, :1], S)
    >>> E = np.zeros((1, 2, 2))
    >>> vc = variance_components(m, additive_effects(m), E, E, np.array([2.0]))
    >>> float(vc.additive[0]), float(vc.genetic[0]), float(vc.h2[0])
    (1.0, 1.0, 0.5)
    """
    C = covariance(moments)
    n = moments.n
    if genetic is None:
        fbar = moments.f / n
        genetic = np.clip(moments.ff / n - fbar**2, 0.0, None)
    add = np.einsum("ki,ij,kj->k", additive, C, additive)
    if additive_variance is not None:
        add = add - additive_variance @ np.diag(C)
    upper = np.triu(pair_variances(moments))
    if pairwise_variance is None:
        pairwise_variance = np.einsum("kij,ij->k", epistasis**2, upper)
    epi = pairwise_variance - np.einsum("kij,ij->k", epistasis_variance, upper)
    return components_bunch(add, epi, genetic, phenotypic)


def _pairwise_part(Zc, E, diagonal, gamma):
    """The centred pairwise part per sample, for centred inputs ``Zc``::

        sum_{i<j} E_ij zc_i zc_j + sum_i E_ii (zc_i^2 - gamma_i zc_i)

    for symmetric ``E`` with diagonal ``diagonal`` (k, p), up to a constant.
    """
    quadratic = 0.5 * (np.einsum("ni,kij,nj->nk", Zc, E, Zc, optimize=True) + (Zc**2) @ diagonal.T)
    return quadratic - (Zc * gamma) @ diagonal.T


def pairwise_part_variance(batches, epistasis, moments=None):
    """Variance over the samples of the pairwise part of the orthogonal decomposition.

    ``sum_{i<j} E_ij (z_i - zbar_i)(z_j - zbar_j)``, plus the self terms
    ``E_ii ((z_i - zbar_i)^2 - gamma_i (z_i - zbar_i))`` where the diagonal is
    not zero (see :func:`pair_variances`).

    Parameters
    ----------
    batches : iterable of ndarray of shape (n_batch, p)
        The encoded samples, batch by batch.
    epistasis : ndarray of shape (k, p, p)
        Symmetric epistasis matrices (the diagonal holds the self terms).
    moments : Bunch, default=None
        Streamed sums of the same samples, whose means centre the inputs;
        None takes the inputs as centred (``zbar = 0``, no self-term
        slope).

    Returns
    -------
    V : ndarray of shape (k,)
        Population variance (divisor ``n``) of the pairwise part per output.

    Examples
    --------
    >>> import numpy as np
    >>> Z = np.array([[1.0, 1.0], [1.0, -1.0], [-1.0, 1.0], [-1.0, -1.0]])
    >>> E = np.array([[[0.0, 0.5], [0.5, 0.0]]])
    >>> pairwise_part_variance([Z[:2], Z[2:]], E)
    array([0.25])
    """
    E = np.asarray(epistasis, dtype=np.float64)
    diagonal = np.einsum("kii->ki", E)
    if moments is None:
        zbar, gamma = 0.0, np.zeros(E.shape[-1])
    else:
        zbar, _, gamma = _centring(moments)
    n, total, squares = 0, 0.0, 0.0
    for Z in batches:
        Zc = np.asarray(Z, dtype=np.float64) - zbar
        values = _pairwise_part(Zc, E, diagonal, gamma)
        n += len(Zc)
        total = total + values.sum(axis=0)
        squares = squares + (values**2).sum(axis=0)
    mean = total / n
    return np.clip(squares / n - mean**2, 0.0, None)


def with_target(moments, total, squares):
    """The streamed sums with the target ``f`` replaced, e.g. by a residual ``r``.

    :func:`projection_fit` reads only the input sums and ``sum f``,
    ``sum f^2``, so projecting another target of the same samples needs
    those two sums and nothing else.

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


def _upper(E):
    """Coefficients of ``z_i z_j``, ``i <= j``, of symmetric ``E`` (as :func:`_design_apply`)."""
    p = E.shape[-1]
    diag = np.arange(p)
    U = np.triu(E, 1)
    U[:, diag, diag] = E[:, diag, diag]
    return U


def debiased_components(moments, batches, network_fit, residual_fit, phenotypic):
    """Variance components of the trait: the network corrected by its residuals' projection.

    With ``f`` the network's genetic value, ``r = y - mu - f`` its training
    residual, and ``c_f``, ``c_r`` the least-squares projections of ``f`` and
    ``r`` on the ``m`` centred additive and pairwise terms ``D``
    (:func:`projection_fit`), the coefficients are ``c = c_f + c_r`` (the
    least-squares fit of ``y`` on ``D``) and the corrected genetic value is
    ``g = f + D c_r``.  Squaring an estimate adds its sampling variance,
    which is subtracted::

        V_A  = a^T C a - sigma_D^2 sum_i C_ii / (n Var(z_i))
        V_AA = Var_n(AA) - sigma_D^2 n_pairs / n
        V_G  = Var_n(g) - sigma^2 m / n

    with ``AA`` the pairwise part of ``c`` per sample (products of centred
    inputs and self terms, as in :func:`pairwise_part_variance`) and
    ``sigma_D^2 = |y - ybar - D c|^2 / (n - 1 - m)`` the noise of ``c``:
    everything ``D`` does not explain, genetic variance of higher order
    included (its in-sample projection on ``D`` is noise to ``c``).
    ``sigma^2`` (``residual_fit.noise_variance``) is what neither the network
    nor ``D`` explains, the noise left in ``g``.  So ``V_A`` and ``V_AA`` do
    not depend on the network; ``V_G``, and ``V_higher = V_G - V_A - V_AA``,
    hold as long as the network's fit beyond ``D`` is genetic rather than
    memorised noise.  Like every moment estimator these can come out
    negative for a component near zero; they are not clipped, which would
    bias them.

    Parameters
    ----------
    moments : Bunch
        Streamed sums of the samples (inputs and ``f``).
    batches : callable
        ``batches()`` returns an iterable of ``(Z, F, R)`` batches: inputs,
        genetic values and residuals, in the order of the fits.
    network_fit, residual_fit : Bunch
        :func:`projection_fit` of ``f`` and of ``r`` on the same samples.
    phenotypic : ndarray of shape (k,)
        Phenotypic variance ``V_P``.

    Returns
    -------
    components : Bunch
        As :func:`variance_components`, arrays of shape (k,).

    Examples
    --------
    A network that predicts half the genetic value ``z_0 + 0.5 z_1 z_2`` of
    a noisy trait (``V_G = 1.25``, ``V_A = 1``, ``V_AA = 0.25``):

    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> Z = rng.choice([-1.0, 1.0], size=(20000, 3))
    >>> g = Z[:, :1] + 0.5 * Z[:, 1:2] * Z[:, 2:]
    >>> y = g + rng.normal(size=g.shape)
    >>> F, R = 0.5 * g, y - y.mean() - 0.5 * g
    >>> m = update_moments(init_moments(3, 1), Z, F, np.zeros((20000, 1, 3)))
    >>> f_fit = projection_fit(m, lambda: [(Z, F)])
    >>> r_fit = projection_fit(with_target(m, R.sum(0), (R**2).sum(0)), lambda: [(Z, R)])
    >>> vc = debiased_components(m, lambda: [(Z, F, R)], f_fit, r_fit, y.var(0))
    >>> estimates = [vc[key][0] for key in ("additive", "epistatic", "genetic")]
    >>> bool(np.allclose(estimates, [1.0, 0.25, 1.25], atol=0.02))
    True
    """
    n = moments.n
    zbar, C, gamma = _centring(moments)
    a = network_fit.additive + residual_fit.additive
    E = network_fit.epistasis + residual_fit.epistasis
    U, U_r = _upper(E), _upper(residual_fit.epistasis)
    diagonal = np.einsum("kii->ki", E)
    sums = {"genetic": [0.0, 0.0], "left": [0.0, 0.0], "pairwise": [0.0, 0.0]}
    for Z, F, R in batches():
        Z = np.asarray(Z, dtype=np.float64)
        F, R = np.asarray(F, dtype=np.float64), np.asarray(R, dtype=np.float64)
        values = {
            "genetic": F + _design_apply(Z, zbar, C, gamma, residual_fit.additive, U_r),
            # y - ybar - D c up to a constant; D is centred on the sample
            "left": F + R - _design_apply(Z, zbar, C, gamma, a, U),
            "pairwise": _pairwise_part(Z - zbar, E, diagonal, gamma),
        }
        for key, value in values.items():
            sums[key][0] = sums[key][0] + value.sum(axis=0)
            sums[key][1] = sums[key][1] + (value**2).sum(axis=0)
    var = {key: total2 / n - (total / n) ** 2 for key, (total, total2) in sums.items()}
    m = residual_fit.n_terms
    sigma2_design = var["left"] * n / (n - 1 - m)
    mask = _product_mask(moments)
    inv_a, inv_U = _inverse_term_variances(moments, mask)
    genetic = var["genetic"] - residual_fit.noise_variance * m / n
    return variance_components(
        moments,
        a,
        E,
        sigma2_design[:, None, None] * _symmetric(inv_U)[None] / n,
        phenotypic,
        var["pairwise"],
        additive_variance=sigma2_design[:, None] * inv_a[None] / n,
        genetic=genetic,
    )


def additive_projection_variance(moments):
    """Variance of the least-squares projection of ``f`` on ``z``: ``Cov(z, f)^T C^+ Cov(z, f)``.

    The statistical additive variance of the genetic value, an alternative to
    ``a^T C a``: it also credits to the loci the average effects that
    interactions with non-centred partners induce.

    Parameters
    ----------
    moments : Bunch
        Streamed sums.

    Returns
    -------
    V : ndarray of shape (k,)

    Examples
    --------
    >>> import numpy as np
    >>> Z = np.array([[1.0, 1.0], [1.0, -1.0], [-1.0, 1.0], [-1.0, -1.0]])
    >>> m = update_moments(init_moments(2, 1), Z, 2 * Z[:, :1], np.zeros((4, 1, 2)))
    >>> additive_projection_variance(m)
    array([4.])
    """
    C = covariance(moments)
    n = moments.n
    cov_zf = moments.zf / n - np.outer(moments.z / n, moments.f / n)
    return np.einsum("ik,ij,jk->k", cov_zf, linalg.pinvh(C), cov_zf)


def _product_mask(moments):
    """Pairwise products that enter the model: ``i < j``, plus ``i == j`` for self terms.

    A product with a monomorphic input is left out: it is a constant, or a
    multiple of the other input (``z_i z_j = c z_i``), already in the model.
    """
    varies = np.diag(covariance(moments)) > 0
    mask = np.triu(np.outer(varies, varies), 1)
    mask[np.diag_indices(varies.size)] = _self_terms(moments)
    return mask & (pair_variances(moments) > 0)


def projection_terms(moments):
    """Number ``m`` of independent terms that :func:`projection_fit` fits.

    The rank of the input covariance (duplicated or monomorphic inputs count
    once or not at all) plus the pairwise products and self terms that enter
    (:func:`_product_mask`).  Products that are collinear only through
    complete linkage between inputs are still counted.

    Parameters
    ----------
    moments : Bunch
        Streamed sums.

    Returns
    -------
    m : int

    Examples
    --------
    >>> import numpy as np
    >>> Z = np.array([[1.0, 1.0, 1.0], [1.0, -1.0, -1.0], [-1.0, 1.0, -1.0], [-1.0, -1.0, 1.0]])
    >>> projection_terms(update_moments(init_moments(3, 1), Z, Z[:, :1], Z[:, None]))
    6
    """
    C = covariance(moments)
    rank = np.linalg.matrix_rank(C, hermitian=True) if C.any() else 0
    return int(rank) + int(_product_mask(moments).sum())


def _inverse_term_variances(moments, mask):
    """``1 / Var(z_i)`` and, on ``mask``, ``1 / Var(zc_i zc_j)`` (0 elsewhere)."""
    var_z = np.diag(covariance(moments))
    inv_a = np.where(var_z > 0, 1.0 / np.where(var_z > 0, var_z, 1.0), 0.0)
    var_zz = pair_variances(moments)
    return inv_a, np.where(mask, 1.0 / np.where(mask, var_zz, 1.0), 0.0)


def _symmetric(upper):
    """The symmetric matrix whose upper triangle (diagonal included) is ``upper``."""
    return upper + np.swapaxes(np.triu(upper, 1), -1, -2)


def _design_apply(Z, zbar, C, gamma, a, U):
    """Centred design times coefficients, per sample and output::

        (z - zbar) . a_k + zc^T U_k zc - <U_k, C> - sum_i U_kii gamma_i zc_i

    with ``zc = z - zbar``: the additive terms, the products of centred
    inputs and the self terms less their regression on the input.
    """
    b, p = Z.shape
    k = a.shape[0]
    Zc = Z - zbar
    diagonal = np.einsum("kii->ki", U)
    linear = Zc @ a.T - (Zc * gamma) @ diagonal.T
    T = (Zc @ U.transpose(1, 0, 2).reshape(p, k * p)).reshape(b, k, p)
    quadratic = np.einsum("bkj,bj->bk", T, Zc) - np.einsum("kij,ij->k", U, C)
    return linear + quadratic


def _design_adjoint(Z, zbar, C, gamma, R, mask):
    """Transposed centred design times residuals ``R`` (b, k): gradients for ``a`` and ``U``."""
    b, p = Z.shape
    k = R.shape[1]
    Zc = Z - zbar
    grad_a = (Zc.T @ R).T
    # sum_n R_nk zc_ni zc_nj, one (k p, b) x (b, p) product
    G = ((Zc[:, None, :] * R[:, :, None]).reshape(b, k * p).T @ Zc).reshape(k, p, p)
    G -= R.sum(axis=0)[:, None, None] * C
    diag = np.arange(p)
    G[:, diag, diag] -= grad_a * gamma
    return grad_a, np.where(mask, G, 0.0)


def projection_fit(moments, batches, *, tol=1e-8, max_iter=500):
    """Least-squares projection of the genetic value on additive and pairwise terms.

    Solves, per output, ::

        min_{a, e} sum_n (f_n - fbar - sum_i a_i zc_ni
                          - sum_{i<j} e_ij (zc_ni zc_nj - C_ij))^2

    with ``zc = z - zbar`` the inputs centred on the sample and ``C`` their
    covariance (and, for inputs whose square is not affine in them, self
    terms ``e_ii (zc_i^2 - gamma_i zc_i - C_ii)``, uncorrelated with
    ``z_i``): the orthogonal decomposition of the network's genetic value into
    additive and pairwise parts on the sample.  The ``a_i`` are average
    effects, and the ``e_ij`` are the coefficients of ``z_i z_j`` (the same
    whatever the centring).  The normal equations of all outputs are solved
    together by :func:`scipy.sparse.linalg.cg`, preconditioned with the
    column variances; every iteration is one pass over the ``batches``.  On
    independent loci the design is nearly orthogonal, at any allele
    frequencies, and a handful of iterations suffice.

    Parameters
    ----------
    moments : Bunch
        Streamed sums of the same samples.
    batches : callable
        ``batches()`` returns an iterable of ``(Z, F)`` batches (inputs and
        genetic values) covering the samples, each time in the same order.
    tol : float, default=1e-8
        Relative tolerance of the conjugate-gradient solve: stop when the
        residual norm of the normal equations falls below ``tol`` times that
        of their right-hand side.
    max_iter : int, default=500
        Upper bound on the number of passes.

    Returns
    -------
    fit : Bunch
        * ``additive``, ndarray of shape (k, p): additive coefficients;
        * ``additive_variance``, ndarray of shape (k, p): their sampling
          variance, ``sigma^2 / (n Var(z_i))``;
        * ``epistasis``, ndarray of shape (k, p, p): symmetric pairwise
          coefficients (self terms on the diagonal);
        * ``epistasis_variance``, ndarray of shape (k, p, p): their sampling
          variance, ``sigma^2 / (n Var(zc_i zc_j))``;
        * ``noise_variance``, ndarray of shape (k,): ``sigma^2``, the
          residual variance (divisor ``n - 1 - n_terms``);
        * ``n_terms``: the number of terms fitted (inputs that vary and
          pairwise products that enter);
        * ``n_iter``: the passes over the batches made by the solver.

        The variances are the diagonal of ``sigma^2 (D^T D)^{-1}`` for a
        design ``D`` with orthogonal columns (independent loci);
        correlated columns make them slight underestimates.

    Raises
    ------
    ValueError
        If there are not more samples than terms plus one (``n - 1 <= m``,
        :func:`projection_terms`): the least-squares problem then has no
        unique solution and no residual degrees of freedom.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> Z = rng.choice([-1.0, 1.0], size=(2000, 4))
    >>> F = (0.5 * Z[:, 0] + 0.3 * Z[:, 1] * Z[:, 2])[:, None]
    >>> m = update_moments(init_moments(4, 1), Z, F, np.zeros((2000, 1, 4)))
    >>> fit = projection_fit(m, lambda: [(Z, F)])
    >>> float(fit.additive[0, 0].round(6)), float(fit.additive[0, 3].round(6))
    (0.5, 0.0)

    Loci 1 and 2 have the average effects that the pair gives them through
    the partner's sample mean:

    >>> bool(np.allclose(fit.additive[0, 1:3], 0.3 * Z[:, [2, 1]].mean(axis=0)))
    True
    >>> float(fit.epistasis[0, 1, 2].round(6))
    0.3
    """
    _check_samples(moments)
    n = moments.n
    n_terms = projection_terms(moments)
    if n - 1 <= n_terms:
        raise ValueError(
            f"The projection on additive and pairwise terms fits {n_terms} terms to {n} "
            "samples; it needs more samples than terms plus one (and is well determined "
            "with at least twice as many)."
        )
    p = moments.z.shape[0]
    k = moments.f.shape[0]
    zbar, C, gamma = _centring(moments)
    fbar = moments.f / n
    mask = _product_mask(moments)
    inv_a, inv_U = _inverse_term_variances(moments, mask)

    def normal_matvec(a, U, with_rhs=False):
        """``A^T A x / n``, or with ``with_rhs`` the right-hand side ``A^T (f - fbar) / n``."""
        out_a, out_U = np.zeros((k, p)), np.zeros((k, p, p))
        for Z, F in batches():
            Z = np.asarray(Z, dtype=np.float64)
            if with_rhs:
                R = np.asarray(F, dtype=np.float64) - fbar
            else:
                R = _design_apply(Z, zbar, C, gamma, a, U)
            ga, gU = _design_adjoint(Z, zbar, C, gamma, R, mask)
            out_a += ga
            out_U += gU
        return out_a / n, out_U / n

    def dot(a1, U1, a2, U2):
        return (a1 * a2).sum(axis=1) + (U1 * U2).sum(axis=(1, 2))

    # the k outputs share the design, so their normal equations form one
    # block-diagonal system: one streamed pass per iteration serves them all
    cells = np.flatnonzero(mask)
    size = k * (p + cells.size)

    def pack(a, U):
        return np.concatenate([a, U.reshape(k, p * p)[:, cells]], axis=1).ravel()

    def unpack(x):
        x = x.reshape(k, p + cells.size)
        U = np.zeros((k, p * p))
        U[:, cells] = x[:, p:]
        return x[:, :p], U.reshape(k, p, p)

    n_passes = [0]

    def matvec(x):
        n_passes[0] += 1
        return pack(*normal_matvec(*unpack(x)))

    normal = sparse_linalg.LinearOperator((size, size), matvec=matvec, dtype=np.float64)
    # Jacobi preconditioner: the inverse column variances
    inv_diag = pack(np.broadcast_to(inv_a, (k, p)), np.broadcast_to(inv_U, (k, p, p)))
    precond = sparse_linalg.LinearOperator(
        (size, size), matvec=lambda x: inv_diag * x.ravel(), dtype=np.float64
    )
    ba, bU = normal_matvec(np.zeros((k, p)), np.zeros((k, p, p)), with_rhs=True)
    x, info = sparse_linalg.cg(normal, pack(ba, bU), rtol=tol, maxiter=max_iter, M=precond)
    if info != 0:
        warnings.warn(
            f"The projection did not converge in {max_iter} iterations (relative "
            f"tolerance {tol}); the effects may be inaccurate.",
            ConvergenceWarning,
            stacklevel=2,
        )
    a, U = unpack(x)
    n_iter = n_passes[0]
    # residual sum of squares at the solution: |y|^2 - x^T A^T y
    var_f = moments.ff / n - fbar**2
    rss = np.clip(var_f - dot(a, U, ba, bU), 0.0, None) * n
    sigma2 = rss / (n - 1 - n_terms)
    E = U + U.transpose(0, 2, 1)
    diag = np.arange(p)
    E[:, diag, diag] = U[:, diag, diag]
    # Var(a_i) = sigma^2 / (n Var(z_i)), Var(e_ij) = sigma^2 / (n Var(zc_i zc_j)):
    # the diagonal of the preconditioner
    inv_sym = _symmetric(inv_U)
    return Bunch(
        additive=a,
        additive_variance=sigma2[:, None] * inv_a[None] / n,
        epistasis=E,
        epistasis_variance=sigma2[:, None, None] * inv_sym[None] / n,
        noise_variance=sigma2,
        n_terms=n_terms,
        n_iter=n_iter,
    )
