"""Variance components: of a network's own parts, and of the trait (debiased).

:func:`variance_components` squares given effects over the sample's design,
less the sampling noise each squared estimate adds; :func:`debiased_components`
first corrects the network by the least-squares projection of its training
residuals, so that the components are those of the trait rather than of a
network that shrank its fit.
"""

import numpy as np

from .._blas import row_slices
from .._components import components_bunch
from ._inference import approximate_component_se, component_se_bunch
from ._projection import _design_apply, _symmetric

__all__ = ["debiased_components", "pairwise_part_variance", "variance_components"]


def variance_components(
    moments,
    design,
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
      self terms, see :attr:`Design.pair_var`) over the samples, ``V_AA =
      Var_n(AA_n) - sum_{i<=j} Var(E_ij) V_ij``: squaring an
      estimate adds its sampling variance, which summed over ``p (p - 1) / 2``
      mostly null pairs would inflate ``V_AA`` severalfold; it is subtracted
      per pair, with ``V_ij`` the variance of the pair term
      (:attr:`Design.pair_var`; the diagonal only counts for non-binary
      codings).  ``Var_n(AA_n)`` is ``pairwise_variance`` (see
      :func:`pairwise_part_variance`, which needs a pass over the samples);
      without it, its independent-pairs form ``sum_{i<=j} E_ij^2
      V_ij``, which ignores the sample covariances of the pair
      products (as ``V_A = a^T C a`` does not);
    * ``higher``: ``V_G - V_A - V_AA``, what neither part explains
      (higher-order interactions, and covariance between the parts);
    * ``phenotypic``: ``V_P``, given; ``residual``: ``V_P - V_G``;
      ``h2 = V_A / V_P`` and ``H2 = V_G / V_P``.

    Parameters
    ----------
    moments : Bunch
        Streamed sums.
    design : Design
        The fit's design (:func:`~sklearn_elm._decomposition.build_design`).
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
    >>> from sklearn_elm._decomposition import (
    ...     build_design, init_moments, update_moments, variance_components)
    >>> Z = np.array([[1.0, 1.0], [1.0, -1.0], [-1.0, 1.0], [-1.0, -1.0]])
    >>> S = np.array([[1.0, 0.0]])[None].repeat(4, 0)  # f = z_0
    >>> m = update_moments(init_moments(2, 1), Z, Z[:, :1], S)
    >>> E = np.zeros((1, 2, 2))
    >>> vc = variance_components(m, build_design(m), np.array([[1.0, 0.0]]), E, E,
    ...                          np.array([2.0]))
    >>> float(vc.additive[0]), float(vc.genetic[0]), float(vc.h2[0])
    (1.0, 1.0, 0.5)
    """
    n = moments.n
    if genetic is None:
        fbar = moments.f / n
        genetic = np.clip(moments.ff / n - fbar**2, 0.0, None)
    # a^T C a and the pair sums a block of rows at a time: no p x p array is made
    add = sum(np.einsum("ki,ij,kj->k", additive[:, rows], design.covariance_rows(rows),
                        additive) for rows in row_slices(design.zbar.size))
    if additive_variance is not None:
        add = add - additive_variance @ design.var
    if pairwise_variance is None:
        pairwise_variance = _upper_sum(epistasis, design, square=True)
    epi = pairwise_variance - _upper_sum(epistasis_variance, design)
    return components_bunch(add, epi, genetic, phenotypic)


def _upper_sum(A, design, square=False):
    """``sum_{i <= j} A[k, i, j] pair_var[i, j]`` (``A**2`` with ``square``), a block of
    rows at a time: no ``p x p`` temporary.  A NaN of ``A`` (the variance of a term a
    screened fit has none of, such as a haploid locus with itself) adds nothing."""
    p = design.zbar.size
    total = np.zeros(A.shape[0])
    for rows in row_slices(p):
        block = np.where(np.arange(p)[None, :] >= np.arange(rows.start, rows.stop)[:, None],
                         design.pair_var_rows(rows), 0.0)
        part = A[:, rows] ** 2 if square else np.nan_to_num(A[:, rows], nan=0.0)
        total += np.einsum("kij,ij->k", part, block)
    return total


def _pairwise_part(Zc, E, diagonal, gamma):
    """The centred pairwise part per sample, for centred inputs ``Zc``::

        sum_{i<j} E_ij zc_i zc_j + sum_i E_ii (zc_i^2 - gamma_i zc_i)

    for symmetric ``E`` with diagonal ``diagonal`` (k, p), up to a constant.
    """
    # one (n, p) product per output: no copy of E
    form = np.stack([np.einsum("nj,nj->n", Zc @ E_k, Zc) for E_k in E], axis=1)
    quadratic = 0.5 * (form + (Zc**2) @ diagonal.T)
    return quadratic - (Zc * gamma) @ diagonal.T


def pairwise_part_variance(batches, epistasis, design):
    """Variance over the samples of the pairwise part of the orthogonal decomposition.

    ``sum_{i<j} E_ij (z_i - zbar_i)(z_j - zbar_j)``, plus the self terms
    ``E_ii ((z_i - zbar_i)^2 - gamma_i (z_i - zbar_i))`` where the diagonal is
    not zero (see :class:`~sklearn_elm._decomposition.Design`).

    Parameters
    ----------
    batches : iterable of ndarray of shape (n_batch, p)
        The encoded samples, batch by batch.
    epistasis : ndarray of shape (k, p, p)
        Symmetric epistasis matrices (the diagonal holds the self terms).
    design : Design
        The design of the same samples
        (:func:`~sklearn_elm._decomposition.build_design`): its means
        ``zbar`` centre the inputs and its ``gamma`` gives the self terms.

    Returns
    -------
    V : ndarray of shape (k,)
        Population variance (divisor ``n``) of the pairwise part per output.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_elm._decomposition import (
    ...     build_design, init_moments, pairwise_part_variance, update_moments)
    >>> Z = np.array([[1.0, 1.0], [1.0, -1.0], [-1.0, 1.0], [-1.0, -1.0]])
    >>> design = build_design(update_moments(init_moments(2, 1), Z, Z[:, :1], Z[:, None]))
    >>> E = np.array([[[0.0, 0.5], [0.5, 0.0]]])
    >>> pairwise_part_variance([Z[:2], Z[2:]], E, design)
    array([0.25])
    """
    E = np.asarray(epistasis, dtype=np.float64)
    diagonal = np.einsum("kii->ki", E)
    n, total, squares = 0, 0.0, 0.0
    for Z in batches:
        # a block of samples at a time: each of the temporaries is a block x p
        for rows in row_slices(len(Z)):
            Zc = np.asarray(Z[rows], dtype=np.float64) - design.zbar
            values = _pairwise_part(Zc, E, diagonal, design.gamma)
            n += len(Zc)
            total = total + values.sum(axis=0)
            squares = squares + (values**2).sum(axis=0)
    mean = total / n
    return np.clip(squares / n - mean**2, 0.0, None)


def _upper(E):
    """Coefficients of ``z_i z_j``, ``i <= j``, of symmetric ``E`` (as :func:`_design_apply`)."""
    p = E.shape[-1]
    diag = np.arange(p)
    U = np.triu(E, 1)
    U[:, diag, diag] = E[:, diag, diag]
    return U


def debiased_components(moments, design, batches, network_fit, residual_fit, phenotypic, *,
                        return_se=False):
    """Variance components of the trait: the network corrected by its residuals' projection.

    With ``f`` the network's genetic value, ``r = y - mu - f`` its training
    residual, and ``c_f``, ``c_r`` the least-squares projections of ``f`` and
    ``r`` on the ``m`` centred additive and pairwise terms ``D``
    (:func:`~sklearn_elm._decomposition.projection_fit`), the coefficients
    are ``c = c_f + c_r`` (the least-squares fit of ``y`` on ``D``) and the
    corrected genetic value is ``g = f + D c_r``.  Squaring an estimate adds
    its sampling variance, which is subtracted::

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
    design : Design
        The fit's design (:func:`~sklearn_elm._decomposition.build_design`).
    batches : callable
        ``batches()`` returns an iterable of ``(Z, F, R)`` batches: inputs,
        genetic values and residuals, in the order of the fits.
    network_fit, residual_fit : Bunch
        :func:`~sklearn_elm._decomposition.projection_fit` of ``f`` and of
        ``r`` on the same samples.
    phenotypic : ndarray of shape (k,)
        Phenotypic variance ``V_P``.
    return_se : bool, default=False
        Also return the standard errors
        (:func:`~sklearn_elm._decomposition._inference.approximate_component_se`: the
        terms taken as orthogonal, ``sigma_D^2`` the noise of ``V_A`` and ``V_AA``,
        ``sigma^2`` that of ``V_G``).

    Returns
    -------
    components : Bunch
        As :func:`variance_components`, arrays of shape (k,).
    se : Bunch
        Only with ``return_se``: their standard errors, of the same keys (``higher``
        and ``phenotypic`` NaN).

    Examples
    --------
    A network that predicts half the genetic value ``z_0 + 0.5 z_1 z_2`` of
    a noisy trait (``V_G = 1.25``, ``V_A = 1``, ``V_AA = 0.25``):

    >>> import numpy as np
    >>> from sklearn_elm._decomposition import (
    ...     build_design, debiased_components, init_moments, projection_fit,
    ...     update_moments, with_target)
    >>> rng = np.random.default_rng(0)
    >>> Z = rng.choice([-1.0, 1.0], size=(20000, 3))
    >>> g = Z[:, :1] + 0.5 * Z[:, 1:2] * Z[:, 2:]
    >>> y = g + rng.normal(size=g.shape)
    >>> F, R = 0.5 * g, y - y.mean() - 0.5 * g
    >>> m = update_moments(init_moments(3, 1), Z, F, np.zeros((20000, 1, 3)))
    >>> design = build_design(m)
    >>> f_fit = projection_fit(m, design, lambda: [(Z, F)])
    >>> r_fit = projection_fit(with_target(m, R.sum(0), (R**2).sum(0)), design,
    ...                        lambda: [(Z, R)])
    >>> vc = debiased_components(m, design, lambda: [(Z, F, R)], f_fit, r_fit, y.var(0))
    >>> estimates = [vc[key][0] for key in ("additive", "epistatic", "genetic")]
    >>> bool(np.allclose(estimates, [1.0, 0.25, 1.25], atol=0.02))
    True
    """
    n = moments.n
    a = network_fit.additive + residual_fit.additive
    E = network_fit.epistasis + residual_fit.epistasis
    U, U_r = _upper(E), _upper(residual_fit.epistasis)
    diagonal = np.einsum("kii->ki", E)
    sums = {"genetic": [0.0, 0.0], "left": [0.0, 0.0], "pairwise": [0.0, 0.0]}
    for Z, F, R in batches():
        Z = np.asarray(Z, dtype=np.float64)
        F, R = np.asarray(F, dtype=np.float64), np.asarray(R, dtype=np.float64)
        values = {
            "genetic": F + _design_apply(design, Z, residual_fit.additive, U_r),
            # y - ybar - D c up to a constant; D is centred on the sample
            "left": F + R - _design_apply(design, Z, a, U),
            "pairwise": _pairwise_part(Z - design.zbar, E, diagonal, design.gamma),
        }
        for key, value in values.items():
            sums[key][0] = sums[key][0] + value.sum(axis=0)
            sums[key][1] = sums[key][1] + (value**2).sum(axis=0)
    var = {key: total2 / n - (total / n) ** 2 for key, (total, total2) in sums.items()}
    m = residual_fit.n_terms
    sigma2_design = var["left"] * n / (n - 1 - m)
    genetic = var["genetic"] - residual_fit.noise_variance * m / n
    n_loci = int(np.count_nonzero(design.var > 0))
    n_pairs = int(design.product_mask.sum())
    # the noise each part's variance takes in: its terms' number where they are orthogonal,
    # their effective number (variance inflation included) where the fit measured it
    effective = residual_fit.get("effective_terms") or (n_loci, n_pairs)
    inflation = [e / t if t else 1.0 for e, t in zip(effective, (n_loci, n_pairs), strict=True)]
    components = variance_components(
        moments,
        design,
        a,
        E,
        inflation[1] * sigma2_design[:, None, None] * _symmetric(design.inv_pair_var)[None] / n,
        phenotypic,
        var["pairwise"],
        additive_variance=inflation[0] * sigma2_design[:, None] * design.inv_var[None] / n,
        genetic=genetic,
    )
    if not return_se:
        return components
    terms = {"additive": effective[0], "epistatic": effective[1], "genetic": m, "all": m}
    errors = {key: np.empty(len(phenotypic)) for key in ("additive", "epistatic", "genetic")}
    for o in range(len(phenotypic)):
        noise = {"additive": sigma2_design[o], "epistatic": sigma2_design[o],
                 "genetic": residual_fit.noise_variance[o]}
        estimates = {key: float(components[key][o]) for key in errors}
        for key, value in approximate_component_se(estimates, terms, noise, n).items():
            errors[key][o] = value
    return components, component_se_bunch(errors, np.asarray(phenotypic, dtype=np.float64))
