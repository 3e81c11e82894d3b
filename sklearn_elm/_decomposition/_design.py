"""The centred design of a fit: its additive and pairwise terms, made from the streamed sums.

:func:`build_design` turns the input sums (:mod:`._moments`) into the :class:`Design` that
every estimator of a fit shares: the additive and pairwise terms of the orthogonal
decomposition of quantitative genetics, which are the inputs centred on their sample means
``z_i - zbar_i``, their products ``(z_i - zbar_i)(z_j - zbar_j)`` and, for inputs with more
than two values, the self term ``(z_i - zbar_i)^2`` less its regression on ``z_i`` (a
dominance deviation).  Its two ``p x p`` matrices are made from the sums on first use, or
read a block of rows at a time.
"""

from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
from sklearn.utils import Bunch

from .._blas import row_slices
from ._moments import sum_diagonal, sum_rows

__all__ = ["Design", "build_design"]


@dataclass(frozen=True, eq=False)
class Design:
    """The centred additive and pairwise terms of a fit, computed once from its sums.

    Every estimator of a fit reads the same centring, covariance and term
    variances; :func:`build_design` computes them from the input sums and the
    estimators receive this object.  The two ``p x p`` matrices, ``C`` and
    ``pair_var``, are made from the sums on first use and kept; a caller that
    needs a few rows reads them with :meth:`covariance_rows` and
    :meth:`pair_var_rows`, which make no ``p x p`` array.

    Attributes
    ----------
    n : int
        Number of samples.
    zbar : ndarray of shape (p,)
        Input means.
    var : ndarray of shape (p,)
        Input variances, the diagonal of ``C``.
    gamma : ndarray of shape (p,)
        Self-term slopes ``E[(z_i - zbar_i)^3] / Var(z_i)`` (0 for a
        monomorphic input), so that the self term ``(z_i - zbar_i)^2 -
        gamma_i (z_i - zbar_i)`` is uncorrelated with ``z_i``.
    self_terms : ndarray of shape (p,), dtype bool
        Inputs with at least three distinct values, whose square is not
        affine in the input: only there is a self term ``d z_i^2`` defined
        apart from the additive term.
    inv_var : ndarray of shape (p,)
        ``1 / Var(z_i)``, 0 for a monomorphic input.
    C : ndarray of shape (p, p)
        Input covariance, ``sum z z^T / n - zbar zbar^T`` (exactly symmetric; 0 in the
        row and column of an input constant to round-off).  Made on first use.
    pair_var : ndarray of shape (p, p)
        Variance of each pairwise term: off the diagonal
        ``Var((z_i - zbar_i)(z_j - zbar_j))``; on it, for self terms, the
        variance of ``(z_i - zbar_i)^2`` left after its regression on ``z_i``,
        and 0 for two-valued inputs.  Made on first use.
    product_mask : ndarray of shape (p, p), dtype bool
        The pairwise terms that enter the model: ``i < j`` for inputs that
        both vary, plus ``i == j`` for self terms, each of non-zero variance
        (a product with a monomorphic input is a constant or a multiple of the
        other input, already in the model).  Made on first use.
    n_terms : int
        Number ``m`` of independent terms of the projection: the rank of
        ``C`` (duplicated or monomorphic inputs count once or not at all)
        plus the entries of ``product_mask``.  Products that are collinear
        only through complete linkage between inputs are still counted.
        Computed on first use: the rank takes an eigendecomposition of
        ``C`` that the slope estimators do not need.
    inv_pair_var : ndarray of shape (p, p)
        ``1 / pair_var`` on ``product_mask``, 0 elsewhere.  Computed on first use (the
        slope estimators do not need it).

    See Also
    --------
    build_design : computes it from the streamed sums.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_elm._decomposition import build_design, init_moments, update_moments
    >>> Z = np.array([[1.0, 1.0], [1.0, -1.0], [-1.0, 1.0], [-1.0, -1.0]])
    >>> design = build_design(update_moments(init_moments(2, 1), Z, Z[:, :1], Z[:, None]))
    >>> design.C
    array([[1., 0.],
           [0., 1.]])
    >>> design.n_terms  # two inputs and their product
    3
    """

    n: int
    zbar: np.ndarray
    var: np.ndarray
    gamma: np.ndarray
    self_terms: np.ndarray
    inv_var: np.ndarray
    #: the sums ``C`` and ``pair_var`` are made from (``n``, ``z``, ``zz``, ``z2z2``,
    #: ``z2z``), the ``z2z2`` and ``z2z`` dropped once ``pair_var`` is made
    sums: Bunch = field(repr=False)
    #: ``pair_var``'s diagonal
    self_variance: np.ndarray = field(repr=False)
    #: inputs constant to round-off, whose row and column of ``C`` are 0
    constant: np.ndarray = field(repr=False)
    #: make ``pair_var`` in the memory of a float64 ``z2z2`` (see :func:`build_design`)
    overwrite: bool = field(default=False, repr=False)

    @cached_property
    def C(self):
        """The input covariance (see the class docstring), made on first use."""
        p = self.zbar.size
        C = np.empty((p, p))
        for rows in row_slices(p):
            C[rows] = self.covariance_rows(rows)
        return C

    def covariance_rows(self, rows):
        """Rows ``rows`` (a slice) of :attr:`C`, a new array, without making the whole matrix."""
        rows = slice(*rows.indices(self.zbar.size))
        if "C" in self.__dict__:
            return self.C[rows].copy()
        zz = self.sums.zz
        # (zz + zz^T) / 2: exactly symmetric where the sums of non-integer codes made by
        # gemm differ from their transpose at round-off (the inverses read one triangle)
        block = np.add(zz[rows], zz[:, rows].T, dtype=np.float64)
        block /= 2 * self.n
        block -= self.zbar[rows, None] * self.zbar
        block[:, self.constant] = 0.0
        inside = self.constant[(self.constant >= rows.start) & (self.constant < rows.stop)]
        block[inside - rows.start] = 0.0
        return block

    def release_covariance(self):
        """Free :attr:`C` (made again from the sums where it is read after)."""
        self.__dict__.pop("C", None)

    @cached_property
    def pair_var(self):
        """The variance of each pairwise term (see the class docstring), made on first use."""
        sums = self.sums
        in_place = self.overwrite and sums.z2z2.dtype == np.float64
        V = sums.z2z2 if in_place else np.empty(sums.z2z2.shape)
        for rows in row_slices(self.zbar.size):  # each block of z2z2 read before written
            V[rows] = self.pair_var_rows(rows)
        # only pair_var reads them
        sums.pop("z2z2")
        sums.pop("z2z")
        return V

    def pair_var_rows(self, rows):
        """Rows ``rows`` (a slice) of :attr:`pair_var`, a new array, without making the whole
        matrix."""
        rows = slice(*rows.indices(self.zbar.size))
        if "pair_var" in self.__dict__:
            return self.pair_var[rows].copy()
        return _pair_variance_rows(self.sums, self.zbar, self.self_variance, rows)

    @cached_property
    def product_mask(self):
        """The pairwise terms that enter the model (see the class docstring)."""
        varies = self.var > 0
        mask = np.triu(np.outer(varies, varies), 1)
        mask[np.diag_indices(varies.size)] = self.self_terms
        mask &= self.pair_var > 0
        return mask

    @cached_property
    def inv_pair_var(self):
        """``1 / pair_var`` on ``product_mask``, 0 elsewhere (computed on first use)."""
        mask = self.product_mask
        return np.where(mask, 1.0 / np.where(mask, self.pair_var, 1.0), 0.0)

    @cached_property
    def n_terms(self):
        """Rank of ``C`` plus the products that enter (see the class docstring)."""
        rank = np.linalg.matrix_rank(self.C, hermitian=True) if self.C.any() else 0
        return int(rank) + int(self.product_mask.sum())


def build_design(moments, *, overwrite=False, self_terms=True):
    """The :class:`Design` of the streamed sums: centring, covariance and term variances.

    ``C = sum z z^T / n - zbar zbar^T``; the variances of the pairwise terms
    are expanded in the raw streamed moments (``sum z_i^2 z_j^2``, ``sum
    z_i^2 z_j``, ``sum z_i z_j``), so no second pass over the samples is
    needed.  Both are made on first use, or a block of rows at a time (see
    :class:`Design`).

    Parameters
    ----------
    moments : Bunch
        Streamed sums (:func:`update_moments`); only the input sums are read.
    overwrite : bool, default=False
        Remove the sums that only the design reads (``z2z2``, ``z2z``) from
        ``moments``, for a caller done with them: the design frees them once it has made
        ``pair_var`` (in the memory of ``z2z2`` where that is float64).  The design reads
        the sums when it makes its matrices: add no samples to them after building it.
    self_terms : bool, default=True
        Whether an input of three values or more has a self term; False for haploid codes,
        whose missing calls, imputed between -1 and +1, would make one of their pattern.

    Returns
    -------
    design : Design

    Raises
    ------
    ValueError
        With fewer than 2 samples.

    Examples
    --------
    A diploid input (-1/0/+1) has a self term, a haploid one (-1/+1) does not:

    >>> import numpy as np
    >>> from sklearn_elm._decomposition import build_design, init_moments, update_moments
    >>> Z = np.array([[-1.0, 1.0], [0.0, -1.0], [1.0, 1.0], [0.0, -1.0]])
    >>> design = build_design(update_moments(init_moments(2, 1), Z, Z[:, :1], Z[:, None]))
    >>> design.self_terms
    array([ True, False])
    >>> design.pair_var
    array([[0.25, 0.5 ],
           [0.5 , 0.  ]])
    """
    if moments.n < 2:
        raise ValueError(f"The decomposition needs at least 2 samples, got {moments.n}.")
    n = moments.n
    zbar = moments.z / n
    sums = Bunch(n=n, zz=moments.zz, z2z2=moments.z2z2, z2z=moments.z2z)
    if overwrite:  # the design holds them now
        del moments["z2z2"], moments["z2z"]
    self_residual = _self_residual(moments, sums)
    self_terms = _self_terms(moments, sums, self_residual) & bool(self_terms)
    m2, m3 = sum_diagonal(sums, "zz") / n, moments.z3 / n
    var = m2 - zbar**2
    # within the sums' round-off (n eps E[z^2]) an input is constant: a constant whose
    # value binary fractions do not hold (1.3) keeps a variance of round-off, ~1e-14,
    # which a pseudo-inverse would blow up
    constant = np.flatnonzero(var <= n * np.finfo(np.float64).eps * m2)
    var = np.clip(var, 0.0, None)
    var[constant] = 0.0
    third = m3 - 3 * zbar * m2 + 2 * zbar**3
    gamma = np.where(var > 0, third / np.where(var > 0, var, 1.0), 0.0)
    return Design(
        n=n,
        zbar=zbar,
        var=var,
        gamma=gamma,
        self_terms=self_terms,
        inv_var=np.where(var > 0, 1.0 / np.where(var > 0, var, 1.0), 0.0),
        sums=sums,
        self_variance=np.where(self_terms, self_residual, 0.0),
        constant=constant,
        overwrite=overwrite,
    )


def _self_terms(moments, sums, self_residual):
    """Inputs whose square is not affine in the input (at least three distinct values).

    For two values (haploid -1/+1, raw 0/1, a diploid locus with two
    genotypes) ``z_i^2`` is ``alpha + beta z_i``.  The test is that the
    residual variance of ``z^2`` regressed on ``z``, ``Var(z^2) - Cov(z,
    z^2)^2 / Var(z)``, is not zero relative to the scale of ``z^2``.
    """
    n = moments.n
    m2, m4 = sum_diagonal(sums, "zz") / n, sum_diagonal(sums, "z2z2") / n
    var = m2 - (moments.z / n) ** 2
    scale = np.maximum(m4 - m2**2, m2**2)
    return (var > 0) & (self_residual > 1e-9 * scale)


def _self_residual(moments, sums):
    """``Var(z^2) - Cov(z, z^2)^2 / Var(z)`` per input (``Var(z^2)`` where ``z`` is constant)."""
    n = moments.n
    m1, m2 = moments.z / n, sum_diagonal(sums, "zz") / n
    m3, m4 = moments.z3 / n, sum_diagonal(sums, "z2z2") / n
    var, var2, cov = m2 - m1**2, m4 - m2**2, m3 - m1 * m2
    return var2 - np.where(var > 0, cov**2 / np.where(var > 0, var, 1.0), var2)


def _pair_variance_rows(sums, zbar, self_variance, rows):
    """Rows ``rows`` of :attr:`Design.pair_var` from the raw moments, in three
    temporaries of ``len(rows) x p``.

    ``E[(z_i - zbar_i)^2 (z_j - zbar_j)^2]`` expanded in raw moments, less the square of
    the covariance: ``E[z_i^2 z_j^2] - 2 zbar_j E[z_i^2 z_j] - 2 zbar_i E[z_j^2 z_i] + 4
    zbar_i zbar_j E[z_i z_j] + zbar_j^2 E[z_i^2] + zbar_i^2 E[z_j^2] - 3 zbar_i^2
    zbar_j^2 - C_ij^2``.
    """
    n = sums.n
    M2 = sum_diagonal(sums, "zz") / n
    zj = zbar[None, :]
    zi = zbar[rows, None]
    V = sum_rows(sums, "z2z2", rows)
    V /= n
    T = sum_rows(sums, "z2z", rows)  # n E[z_i^2 z_j]
    T *= zj * (2 / n)
    V -= T
    T[:] = sums.z2z[:, rows].T  # n E[z_j^2 z_i]
    T *= zi * (2 / n)
    V -= T
    M = sum_rows(sums, "zz", rows)
    M /= n  # E[z_i z_j]
    np.multiply(M, zj, out=T)
    T *= 4 * zi
    V += T
    np.multiply(zj**2, M2[rows, None], out=T)
    V += T
    np.multiply(zi**2, M2[None, :], out=T)
    V += T
    np.multiply(zi**2, zj**2, out=T)
    T *= 3
    V -= T
    np.multiply(zi, zj, out=T)
    M -= T  # the rows of the covariance
    np.square(M, out=M)
    V -= M
    np.clip(V, 0.0, None, out=V)
    local = np.arange(V.shape[0])
    V[local, local + rows.start] = self_variance[rows]
    return V
