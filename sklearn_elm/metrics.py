"""Recovery metrics: how well estimated genetic effects match a known truth.

Pure numpy functions, used by the command line report and by the benchmarks
on simulated or reference data whose generative effects are known.  Every
estimate is compared on the scale of the truth, the encoded genotypes ``z``
of the model ``y = mu + sum_i a_i z_i + sum_{i<j} e_ij z_i z_j + eps``.
"""

import numpy as np
from sklearn.utils import Bunch

from ._components import components_bunch, orthogonal_parts

__all__ = [
    "effect_recovery",
    "pair_recovery",
    "true_average_effects",
    "true_variance_components",
    "variance_component_errors",
]


def _line_fit(estimated, true):
    """Least-squares line of ``estimated`` on ``true`` and their correlation.

    slope = cov(est, true) / var(true), intercept = mean(est) - slope mean(true),
    r = cov(est, true) / sqrt(var(est) var(true)); NaN where a variance is 0.
    """
    x = true - true.mean()
    y = estimated - estimated.mean()
    sxx, syy, sxy = x @ x, y @ y, x @ y
    slope = sxy / sxx if sxx > 0 else np.nan
    intercept = estimated.mean() - slope * true.mean()
    r = sxy / np.sqrt(sxx * syy) if sxx > 0 and syy > 0 else np.nan
    return float(slope), float(intercept), float(r)


def _paired(estimated, true):
    estimated = np.asarray(estimated, dtype=np.float64)
    true = np.asarray(true, dtype=np.float64)
    if estimated.shape != true.shape:
        raise ValueError(
            f"estimated and true effects differ in shape: {estimated.shape} != {true.shape}."
        )
    if estimated.size < 2:
        raise ValueError(f"at least 2 effects are needed to fit a line, got {estimated.size}.")
    return estimated, true


def effect_recovery(estimated, true):
    """Regression of estimated effects on the true effects.

    ``slope`` is the least-squares slope of the estimates on the truth, so
    that 1 means unbiased and below 1 means shrinkage towards zero;
    ``r`` is their Pearson correlation (how well the effects are ranked).

    Parameters
    ----------
    estimated : array-like of shape (n_effects,)
        Estimated effects, e.g. the additive effects of one trait.
    true : array-like of shape (n_effects,)
        True effects on the same scale.

    Returns
    -------
    recovery : :class:`~sklearn.utils.Bunch`
        ``slope``, ``intercept`` and ``r``, floats; ``slope`` and ``r`` are
        NaN when the true effects are all equal (nothing to regress on).

    Raises
    ------
    ValueError
        If the shapes differ or fewer than two effects are given.

    See Also
    --------
    pair_recovery : the same for the pairwise epistatic effects.

    Examples
    --------
    >>> from sklearn_elm.metrics import effect_recovery
    >>> rec = effect_recovery([0.5, 0.0, -0.5], [1.0, 0.0, -1.0])
    >>> rec.slope, rec.intercept, rec.r
    (0.5, 0.0, 1.0)
    """
    estimated, true = _paired(estimated, true)
    slope, intercept, r = _line_fit(estimated.ravel(), true.ravel())
    return Bunch(slope=slope, intercept=intercept, r=r)


def pair_recovery(estimated, true, *, k=None):
    """Recovery of pairwise epistatic effects over all pairs ``i < j``.

    Both matrices are read above their diagonal only (``e_ij`` for
    ``i < j``).  ``slope``, ``intercept`` and ``r`` are those of
    :func:`effect_recovery` over all ``p (p - 1) / 2`` pairs, ``r2 = r ** 2``,
    and ``precision`` is the top-k precision: the fraction of the ``k``
    pairs with the largest ``|estimated|`` that have a non-zero true effect.

    Parameters
    ----------
    estimated : array-like, scipy sparse array or FactoredPairMatrix of shape (p, p)
        Estimated epistasis matrix (``epistasis_matrix_`` in any of its forms).
    true : array-like of shape (p, p)
        True epistasis matrix.
    k : int, default=None
        Number of top-ranked pairs; the number of truly non-zero pairs when
        None, so that a perfect ranking has precision 1.

    Returns
    -------
    recovery : :class:`~sklearn.utils.Bunch`
        ``slope``, ``intercept``, ``r``, ``r2``, ``precision`` (floats) and
        ``k`` (int).  ``precision`` is NaN when ``k`` is 0, ``slope`` and
        ``r`` when every true pair effect is equal.

    Raises
    ------
    ValueError
        If the matrices are not square of the same shape, or ``k`` is out of
        ``0 .. p (p - 1) / 2``.

    See Also
    --------
    effect_recovery : the same for additive effects.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_elm.metrics import pair_recovery
    >>> true = np.zeros((3, 3))
    >>> true[0, 1] = true[1, 0] = 1.0
    >>> est = np.array([[0.0, 0.8, 0.1], [0.8, 0.0, 0.0], [0.1, 0.0, 0.0]])
    >>> rec = pair_recovery(est, true)
    >>> round(rec.slope, 3), rec.precision, rec.k
    (0.75, 1.0, 1)
    """
    from ._pairs import dense_pairs

    # a decomposer's sparse or GBLUP's factored matrix, as the dense one it stands for
    estimated, true = _paired(dense_pairs(estimated), dense_pairs(true))
    if estimated.ndim != 2 or estimated.shape[0] != estimated.shape[1]:
        raise ValueError(f"epistasis matrices must be square, got shape {estimated.shape}.")
    iu = np.triu_indices(estimated.shape[0], k=1)
    est, tru = estimated[iu], true[iu]
    if est.size < 2:
        raise ValueError("at least 3 loci (2 pairs) are needed to assess pair recovery.")
    slope, intercept, r = _line_fit(est, tru)
    nonzero = tru != 0
    k = int(nonzero.sum()) if k is None else int(k)
    if not 0 <= k <= est.size:
        raise ValueError(f"k must lie in 0 .. {est.size} (the number of pairs), got {k}.")
    # stable order, so that ties keep the pair order and the result is deterministic
    top = np.argsort(-np.abs(est), kind="stable")[:k]
    precision = float(nonzero[top].mean()) if k else np.nan
    return Bunch(slope=slope, intercept=intercept, r=r, r2=r**2, precision=precision, k=k)


def true_average_effects(Z, additive_effects, epistasis):
    """Average effects of known effects under the sample's genotype frequencies.

    The additive effects that :class:`~sklearn_elm.ELMDecomposer` estimates:
    for ``g = sum_i a_i z_i + sum_{i<j} e_ij z_i z_j``, the coefficients of
    ``z_i - zbar_i`` in its orthogonal decomposition, ``alpha_i = a_i +
    sum_{j != i} e_ij zbar_j`` with ``zbar`` the sample means (equal to ``a``
    where the genotypes are centred).

    Parameters
    ----------
    Z : array-like of shape (n_samples, p)
        Genotypes on the encoded scale of the effects.
    additive_effects : array-like of shape (p,) or (n_traits, p)
        True additive coefficients ``a``.
    epistasis : array-like of shape (p, p) or (n_traits, p, p)
        True symmetric pairwise effects; the diagonal is ignored.

    Returns
    -------
    alpha : ndarray of shape (p,) or (n_traits, p)
        Like ``additive_effects``.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_elm.metrics import true_average_effects
    >>> Z = np.array([[1, 1], [-1, 1], [1, 1], [-1, -1]])  # mean of z_1: 0.5
    >>> E = np.array([[0.0, 2.0], [2.0, 0.0]])
    >>> true_average_effects(Z, [1.0, 0.0], E)
    array([2., 0.])
    """
    a = np.asarray(additive_effects, dtype=np.float64)
    E = np.asarray(epistasis, dtype=np.float64)
    single = a.ndim == 1
    a, E = np.atleast_2d(a), E.reshape(-1, *E.shape[-2:])
    alpha = np.stack([orthogonal_parts(Z, a_t, E_t)[2] for a_t, E_t in zip(a, E, strict=True)])
    return alpha[0] if single else alpha


def true_variance_components(Z, additive_effects, epistasis, phenotypes=None):
    """Variance components of known effects, realised in a sample.

    The orthogonal decomposition of the genetic value ``g = sum_i a_i z_i +
    sum_{i<j} e_ij z_i z_j``: with ``zc = z - zbar`` (sample means), ``g =
    const + A + AA``, ``A = sum_i alpha_i zc_i`` with the average effects
    ``alpha = a + e zbar``, and ``AA = sum_{i<j} e_ij zc_i zc_j``.  Per
    trait: ``additive = Var(A)``, ``epistatic = Var(AA)``, ``genetic =
    Var(g)``, ``higher = genetic - additive - epistatic`` (twice the sample
    covariance of the two parts, which vanishes in expectation for
    independent loci at any allele frequencies),
    and, when the phenotypes are given, ``phenotypic = Var(y)``,
    ``residual = phenotypic - genetic``, ``h2 = additive / phenotypic`` and
    ``H2 = genetic / phenotypic`` (NaN otherwise).  Population variances
    (divisor ``n``).

    Parameters
    ----------
    Z : array-like of shape (n_samples, p)
        Genotypes on the encoded scale of the effects.
    additive_effects : array-like of shape (p,) or (n_traits, p)
        True additive effects.
    epistasis : array-like of shape (p, p) or (n_traits, p, p)
        True symmetric pairwise effects; the diagonal is ignored.
    phenotypes : array-like of shape (n_samples,) or (n_samples, n_traits), default=None
        Observed phenotypes of the same samples.

    Returns
    -------
    components : :class:`~sklearn.utils.Bunch`
        ``additive``, ``epistatic``, ``higher``, ``genetic``, ``residual``,
        ``phenotypic``, ``h2``, ``H2``: floats for a single trait given as
        1-D effects, arrays of shape (n_traits,) otherwise.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_elm.metrics import true_variance_components
    >>> Z = np.array([[1, 1], [1, -1], [-1, 1], [-1, -1]])
    >>> E = np.array([[0.0, 0.5], [0.5, 0.0]])
    >>> vc = true_variance_components(Z, [1.0, 0.0], E, phenotypes=[2.0, 0.0, -1.0, -1.0])
    >>> vc.additive, vc.epistatic, vc.genetic, vc.h2
    (1.0, 0.25, 1.25, 0.6666666666666666)
    """
    Z = np.asarray(Z, dtype=np.float64)
    a = np.asarray(additive_effects, dtype=np.float64)
    E = np.asarray(epistasis, dtype=np.float64)
    single = a.ndim == 1
    a, E = np.atleast_2d(a), E.reshape(-1, *E.shape[-2:])
    parts = [orthogonal_parts(Z, a_t, E_t)[:2] for a_t, E_t in zip(a, E, strict=True)]
    A = np.stack([part[0] for part in parts], axis=1)
    AA = np.stack([part[1] for part in parts], axis=1)
    additive, epistatic, genetic = A.var(axis=0), AA.var(axis=0), (A + AA).var(axis=0)
    if phenotypes is None:
        phenotypic = np.full_like(genetic, np.nan)
    else:
        phenotypic = np.asarray(phenotypes, dtype=np.float64).reshape(len(Z), -1).var(axis=0)
    parts = components_bunch(additive, epistatic, genetic, phenotypic)
    if single:
        return Bunch(**{key: float(value[0]) for key, value in parts.items()})
    return parts


def variance_component_errors(estimated, true, *, keys=None):
    """Errors of estimated variance components against the truth.

    For each component ``c``: ``error = estimated[c] - true[c]`` and
    ``relative_error = error / true[c]`` (NaN where the truth is 0).

    Parameters
    ----------
    estimated : mapping of str to float or ndarray
        Estimated components, e.g. ``ELMDecomposer().variance_components_``.
    true : mapping of str to float or ndarray
        True components with the same keys, e.g. from
        :func:`true_variance_components`.
    keys : sequence of str, default=None
        Components to compare; every key present in both when None.

    Returns
    -------
    errors : :class:`~sklearn.utils.Bunch`
        ``error`` and ``relative_error``, each a Bunch keyed by component,
        with floats or arrays as given.

    Raises
    ------
    KeyError
        If a requested component is missing from either mapping.

    Examples
    --------
    >>> from sklearn_elm.metrics import variance_component_errors
    >>> err = variance_component_errors({"additive": 0.9, "epistatic": 0.3},
    ...                                 {"additive": 1.0, "epistatic": 0.0})
    >>> round(err.error.additive, 6), round(err.relative_error.additive, 6)
    (-0.1, -0.1)
    >>> err.relative_error.epistatic
    nan
    """
    if keys is None:
        keys = [key for key in estimated if key in true]
    missing = [key for key in keys if key not in estimated or key not in true]
    if missing:
        raise KeyError(f"variance component {missing[0]!r} is missing from the estimate or truth.")
    error, relative = Bunch(), Bunch()
    for key in keys:
        est = np.asarray(estimated[key], dtype=np.float64)
        tru = np.asarray(true[key], dtype=np.float64)
        diff = est - tru
        with np.errstate(invalid="ignore", divide="ignore"):
            rel = np.where(tru != 0, diff / np.where(tru != 0, tru, 1.0), np.nan)
        scalar = diff.ndim == 0
        error[key] = float(diff) if scalar else diff
        relative[key] = float(rel) if scalar else rel
    return Bunch(error=error, relative_error=relative)
