"""The least-squares projection of a genetic value on the centred additive and pairwise terms.

Solved by conjugate gradients, one streamed pass over the inputs per
iteration, so the memory stays ``O(n_outputs p^2)`` beside the samples
themselves.  The design matrix ``D`` is never formed: :func:`_design_apply`
computes ``D c`` and :func:`_design_adjoint` ``D^T r`` batch by batch from the
:class:`~sklearn_elm._decomposition.Design` of the fit.  Where the terms are
few enough that their Gram matrix is cheap (:data:`DIRECT_FLOPS`), or where
conjugate gradients do not converge (loci in strong linkage make the normal
equations ill-conditioned) and the Gram matrix fits in :data:`DIRECT_BYTES`,
the normal equations are solved directly instead (:func:`_direct_solve`).
"""

import warnings

import numpy as np
from scipy import linalg
from scipy.sparse import linalg as sparse_linalg
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils import Bunch

__all__ = ["projection_fit"]


def _symmetric(upper):
    """The symmetric matrix whose upper triangle (diagonal included) is ``upper``."""
    return upper + np.swapaxes(np.triu(upper, 1), -1, -2)


def _design_apply(design, Z, a, U):
    """Centred design times coefficients, per sample and output::

        (z - zbar) . a_k + zc^T U_k zc - <U_k, C> - sum_i U_kii gamma_i zc_i

    with ``zc = z - zbar``: the additive terms, the products of centred
    inputs and the self terms less their regression on the input.
    """
    b, p = Z.shape
    k = a.shape[0]
    Zc = Z - design.zbar
    diagonal = np.einsum("kii->ki", U)
    linear = Zc @ a.T - (Zc * design.gamma) @ diagonal.T
    T = (Zc @ U.transpose(1, 0, 2).reshape(p, k * p)).reshape(b, k, p)
    quadratic = np.einsum("bkj,bj->bk", T, Zc) - np.einsum("kij,ij->k", U, design.C)
    return linear + quadratic


def _design_adjoint(design, Z, R):
    """Transposed centred design times residuals ``R`` (b, k): gradients for ``a`` and ``U``."""
    b, p = Z.shape
    k = R.shape[1]
    Zc = Z - design.zbar
    grad_a = (Zc.T @ R).T
    # sum_n R_nk zc_ni zc_nj, one (k p, b) x (b, p) product
    G = ((Zc[:, None, :] * R[:, :, None]).reshape(b, k * p).T @ Zc).reshape(k, p, p)
    G -= R.sum(axis=0)[:, None, None] * design.C
    diag = np.arange(p)
    G[:, diag, diag] -= grad_a * design.gamma
    return grad_a, np.where(design.product_mask, G, 0.0)


#: Multiply-adds of the Gram matrix ``n m^2`` (``m`` terms) below which the normal equations
#: are solved directly: about a second of BLAS on two cores.
DIRECT_FLOPS = 2e10

#: Largest Gram matrix (bytes, float64) of a direct solve, where conjugate gradients did not
#: converge: ``m <= 4096`` terms; the solve holds about five such matrices at its peak.
DIRECT_BYTES = 128 * 2**20

#: Eigenvalues of the design's correlation matrix below this (times the largest) are dropped
#: by the direct solve: their directions are copies in the sample.
COPY_TOLERANCE = 1e-10

#: Bytes of the design's rows made at a time by the direct solve.
DIRECT_BLOCK_BYTES = 32 * 2**20


def _design_columns(design, Z, cells):
    """The centred design's columns for the samples ``Z``: the ``p`` additive terms, then the
    pairwise terms ``cells`` (flat indices into ``p x p``, upper triangle: ``zc_i zc_j - C_ij``
    for ``i < j``, ``zc_i^2 - gamma_i zc_i - C_ii`` for a self term), as :func:`_design_apply`
    reads them."""
    p = Z.shape[1]
    Zc = Z - design.zbar
    i, j = np.divmod(cells, p)
    D = np.empty((len(Z), p + cells.size))
    D[:, :p] = Zc
    np.multiply(Zc[:, i], Zc[:, j], out=D[:, p:])
    D[:, p:] -= design.C[i, j]
    self_terms = i == j
    if self_terms.any():
        D[:, p:][:, self_terms] -= Zc[:, i[self_terms]] * design.gamma[i[self_terms]]
    return D


def _pinv(gram):
    """The pseudo-inverse of a symmetric positive semi-definite matrix of unit diagonal (a
    correlation matrix) and its rank: directions the other columns explain to ``1 -
    COPY_TOLERANCE`` are dropped, as copies in these samples."""
    if gram.size == 0:
        return np.zeros_like(gram), 0
    values, vectors = linalg.eigh(gram, driver="evd")
    keep = values > COPY_TOLERANCE * max(values[-1], 1.0)
    vectors = vectors[:, keep]
    return (vectors / values[keep]) @ vectors.T, int(keep.sum())


def _direct_solve(system):
    """The normal equations of every output solved directly: ``x`` packed as
    :meth:`_NormalEquations.pack` packs it, the effective numbers of additive and of
    pairwise terms, ``tr(G_BB Cov_BB) / sigma^2`` over each block ``B`` of the Gram matrix
    ``G`` and of the coefficients' covariance (the noise that the block's part of the fit
    takes in, in units of ``sigma^2``: the number of the block's terms where the design's
    columns are orthogonal, more where they are correlated), and the design's rank.

    The Gram matrix ``D^T D`` (``m x m``, shared by the outputs) and ``D^T (F - fbar)`` are
    summed over the batches, ``D`` made a block of rows at a time, scaled to unit diagonal,
    and solved by blocks, the loci first: the pairs' coefficients are those of the pairs'
    columns less their regression on the loci (the Schur complement ``S = G_PP - G_PA G_AA^+
    G_AP``), and the loci's those of what the pairs leave.  Where the design is full rank
    that is the least-squares solution; where it is not (loci that are copies in these
    samples, or rare loci seen together in no sample, whose centred product is then affine
    in them), a pair's column that the loci explain gets no coefficient, so that the loci's
    average effects keep what they explain, and the fitted values are the projection's."""
    design, p, cells = system.design, system.p, system.cells
    m = p + cells.size
    gram, rhs = np.zeros((m, m)), np.zeros((m, system.k))
    step = max(1, DIRECT_BLOCK_BYTES // (8 * m))
    for Z, F in system.batches():
        Z = np.asarray(Z, dtype=np.float64)
        F = np.asarray(F, dtype=np.float64) - system.fbar
        for start in range(0, len(Z), step):
            D = _design_columns(design, Z[start : start + step], cells)
            gram += D.T @ D
            rhs += D.T @ F[start : start + step]
    system.n_passes += 1
    scale = np.sqrt(np.maximum(np.diag(gram), 0.0))
    scale[scale == 0] = 1.0
    gram /= scale[:, None] * scale[None, :]  # unit diagonal: the tolerances read as correlations
    rhs /= scale[:, None]
    A, P = slice(0, p), slice(p, m)
    inv_AA, rank_A = _pinv(gram[A, A])
    W = inv_AA @ gram[A, P]  # the pairs' columns regressed on the loci
    schur = gram[P, P] - gram[P, A] @ W
    inv_S, rank_S = _pinv((schur + schur.T) / 2)
    coef = np.empty_like(rhs)
    coef[P] = inv_S @ (rhs[P] - W.T @ rhs[A])
    coef[A] = inv_AA @ (rhs[A] - gram[A, P] @ coef[P])
    coef /= scale[:, None]
    # Cov(c) / sigma^2 by blocks: inv_AA + W inv_S W^T for the loci, inv_S for the pairs
    effective = (float(np.sum(gram[A, A] * inv_AA) + np.sum((gram[A, A] @ W) * (W @ inv_S))),
                 float(np.sum(gram[P, P] * inv_S)))
    return coef.T.ravel(), effective, rank_A + rank_S


class _NormalEquations:
    """The normal equations ``D^T D c / n = D^T (f - fbar) / n`` of all outputs at once.

    The ``k`` outputs share the design, so their normal equations form one
    block-diagonal system: one streamed pass per iteration serves them all.
    The unknowns are packed as ``k`` rows of ``p`` additive coefficients and
    the pairwise coefficients on the design's ``product_mask``.
    """

    def __init__(self, design, batches, fbar):
        self.design, self.batches, self.fbar = design, batches, fbar
        self.k, self.p = fbar.shape[0], design.zbar.shape[0]
        self.cells = np.flatnonzero(design.product_mask)
        self.size = self.k * (self.p + self.cells.size)
        self.n_passes = 0

    def pack(self, a, U):
        return np.concatenate([a, U.reshape(self.k, self.p * self.p)[:, self.cells]],
                              axis=1).ravel()

    def unpack(self, x):
        x = x.reshape(self.k, self.p + self.cells.size)
        U = np.zeros((self.k, self.p * self.p))
        U[:, self.cells] = x[:, self.p :]
        return x[:, : self.p], U.reshape(self.k, self.p, self.p)

    def _adjoint_sum(self, residual):
        """``D^T r / n`` over the batches, with ``r = residual(Z, F)`` per batch."""
        k, p, n = self.k, self.p, self.design.n
        out_a, out_U = np.zeros((k, p)), np.zeros((k, p, p))
        for Z, F in self.batches():
            Z = np.asarray(Z, dtype=np.float64)
            ga, gU = _design_adjoint(self.design, Z, residual(Z, F))
            out_a += ga
            out_U += gU
        return out_a / n, out_U / n

    def apply(self, a, U):
        """``D^T D c / n`` for the coefficients ``c = (a, U)``."""
        return self._adjoint_sum(lambda Z, F: _design_apply(self.design, Z, a, U))

    def rhs(self):
        """The right-hand side ``D^T (f - fbar) / n``."""
        return self._adjoint_sum(lambda Z, F: np.asarray(F, dtype=np.float64) - self.fbar)

    def operator(self):
        def matvec(x):
            self.n_passes += 1
            return self.pack(*self.apply(*self.unpack(x)))

        return sparse_linalg.LinearOperator((self.size,) * 2, matvec=matvec, dtype=np.float64)

    def preconditioner(self):
        """Jacobi preconditioner: the inverse column variances."""
        k, p = self.k, self.p
        inv_diag = self.pack(np.broadcast_to(self.design.inv_var, (k, p)),
                             np.broadcast_to(self.design.inv_pair_var, (k, p, p)))
        return sparse_linalg.LinearOperator(
            (self.size,) * 2, matvec=lambda x: inv_diag * x.ravel(), dtype=np.float64
        )


def projection_fit(moments, design, batches, *, tol=1e-8, max_iter=500):
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
        Streamed sums of the same samples; only ``f`` and ``ff`` are read
        here (:func:`~sklearn_elm._decomposition.with_target` replaces them
        to project another target).
    design : Design
        The fit's design (:func:`~sklearn_elm._decomposition.build_design`).
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
          pairwise products that enter, :attr:`Design.n_terms`; the design's
          rank where that is less and the equations were solved directly);
        * ``effective_terms``: where the equations were solved directly, the
          effective numbers of additive and of pairwise terms
          (``tr(G_BB G^-_BB)`` per block ``B`` of the Gram matrix ``G`` and
          the generalized inverse the solve uses, ``G^{-1}`` where the design
          is full rank: the noise each part's variance takes in, in units of
          ``sigma^2``), else None;
        * ``n_iter``: the passes over the batches made by the solver.

        The variances are the diagonal of ``sigma^2 (D^T D)^{-1}`` for a
        design ``D`` with orthogonal columns (independent loci);
        correlated columns make them slight underestimates.

    Raises
    ------
    ValueError
        If there are not more samples than terms plus one (``n - 1 <= m``):
        the least-squares problem then has no unique solution and no residual
        degrees of freedom.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_elm._decomposition import (
    ...     build_design, init_moments, projection_fit, update_moments)
    >>> rng = np.random.default_rng(0)
    >>> Z = rng.choice([-1.0, 1.0], size=(2000, 4))
    >>> F = (0.5 * Z[:, 0] + 0.3 * Z[:, 1] * Z[:, 2])[:, None]
    >>> m = update_moments(init_moments(4, 1), Z, F, np.zeros((2000, 1, 4)))
    >>> fit = projection_fit(m, build_design(m), lambda: [(Z, F)])
    >>> float(fit.additive[0, 0].round(6)), abs(float(fit.additive[0, 3].round(6)))
    (0.5, 0.0)

    Loci 1 and 2 have the average effects that the pair gives them through
    the partner's sample mean:

    >>> bool(np.allclose(fit.additive[0, 1:3], 0.3 * Z[:, [2, 1]].mean(axis=0)))
    True
    >>> float(fit.epistasis[0, 1, 2].round(6))
    0.3
    """
    n, n_terms = design.n, design.n_terms
    if n - 1 <= n_terms:
        raise ValueError(
            f"The projection on additive and pairwise terms fits {n_terms} terms to {n} "
            "samples; it needs more samples than terms plus one (and is well determined "
            "with at least twice as many)."
        )
    fbar = moments.f / n
    system = _NormalEquations(design, batches, fbar)
    ba, bU = system.rhs()
    m = system.p + system.cells.size
    direct = n * m * m <= DIRECT_FLOPS
    if not direct:
        operator, precond = system.operator(), system.preconditioner()
        x, info = sparse_linalg.cg(operator, system.pack(ba, bU), rtol=tol, maxiter=max_iter,
                                   M=precond)
        direct = info != 0 and 8 * m * m <= DIRECT_BYTES
        if info != 0 and not direct:
            warnings.warn(
                f"The projection did not converge in {max_iter} iterations (relative "
                f"tolerance {tol}), and its {m} x {m} normal equations are too large to solve "
                "directly; the effects may be inaccurate.",
                ConvergenceWarning,
                stacklevel=2,
            )
    effective = None
    if direct:
        x, effective, rank = _direct_solve(system)
        n_terms = min(n_terms, rank)
    a, U = system.unpack(x)
    # residual sum of squares at the solution: |y|^2 - x^T A^T y
    var_f = moments.ff / n - fbar**2
    explained = (a * ba).sum(axis=1) + (U * bU).sum(axis=(1, 2))
    sigma2 = np.clip(var_f - explained, 0.0, None) * n / (n - 1 - n_terms)
    E = U + U.transpose(0, 2, 1)
    diag = np.arange(system.p)
    E[:, diag, diag] = U[:, diag, diag]
    # Var(a_i) = sigma^2 / (n Var(z_i)), Var(e_ij) = sigma^2 / (n Var(zc_i zc_j)):
    # the diagonal of the preconditioner
    return Bunch(
        additive=a,
        additive_variance=sigma2[:, None] * design.inv_var[None] / n,
        epistasis=E,
        epistasis_variance=sigma2[:, None, None] * _symmetric(design.inv_pair_var)[None] / n,
        noise_variance=sigma2,
        n_terms=n_terms,
        effective_terms=effective,
        n_iter=system.n_passes,
    )
