"""The vocabulary of variance components, shared by every estimator and the report.

The bottom of the package's import graph: it imports numpy and sklearn's
``Bunch`` only.  The decomposition, GBLUP, the recovery metrics, the simulator
and the report all speak of the same components, by the same keys, assembled
by :func:`components_bunch`; :func:`orthogonal_parts` is the orthogonal
decomposition of known effects that the simulator scales and the metrics score
against.
"""

import numpy as np
from sklearn.utils import Bunch

__all__ = ["COMPONENTS", "SMALLEST_VARIANCE", "check_scale", "check_varies", "components_bunch",
           "constant_columns", "orthogonal_parts", "pairwise_values"]

#: The variance components, in table order, with their short names.
COMPONENTS = {
    "additive": "V_A",
    "epistatic": "V_AA",
    "higher": "V_higher",
    "genetic": "V_G",
    "residual": "V_E",
    "phenotypic": "V_P",
    "h2": "h2",
    "H2": "H2",
}


def constant_columns(Y):
    """Columns of ``Y`` that do not vary: no variance to decompose.

    A column is constant where its range is at most ``1e-12`` times its largest
    absolute value, so that a trait measured as the same number up to float
    round-off counts as constant, and a trait that varies counts as varying,
    whatever its scale.  One rule for every estimator and check.

    Parameters
    ----------
    Y : ndarray of shape (n_samples, n_outputs)

    Returns
    -------
    columns : ndarray of int
        Indices of the constant columns.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_elm._components import constant_columns
    >>> constant_columns(np.array([[1.0, 5.0], [2.0, 5.0]]))
    array([1])
    >>> constant_columns(np.array([[1e-15, 0.0], [2e-15, 0.0]]))  # a small scale varies
    array([1])
    """
    Y = np.asarray(Y, dtype=np.float64)
    return np.flatnonzero(np.ptp(Y, axis=0) <= 1e-12 * np.abs(Y).max(axis=0, initial=0.0))


#: The smallest variance of a trait the estimators take.  Their standard errors go through
#: squares of variances (REML's of the residual variance, the decomposer's sums of the targets'
#: fourth powers), which underflow float64 below a variance of about 1e-154; the bound leaves a
#: wide margin for a component that is a small share of the trait's variance (a trait scaled
#: to a variance of about 1e-160 gave the decomposer's standard errors wrong in the third digit).
SMALLEST_VARIANCE = 1e-70


def check_scale(Y):
    """A clear error where an output of ``Y`` (n_samples, n_outputs) that varies has a
    variance below :data:`SMALLEST_VARIANCE`, naming the fix (rescale it).

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_elm._components import check_scale
    >>> check_scale(np.array([[1e-30, 0.0], [2e-30, 0.0]]))
    >>> check_scale(np.array([[1e-40], [2e-40]]))
    Traceback (most recent call last):
    ...
    ValueError: y is too small: the variance of output 0 is 2.5e-81, below 1e-70, ...
    """
    variance = np.asarray(Y, dtype=np.float64).var(axis=0)
    small = np.setdiff1d(np.flatnonzero(variance < SMALLEST_VARIANCE), constant_columns(Y))
    if small.size:
        raise ValueError(
            f"y is too small: the variance of output {int(small[0])} is "
            f"{variance[small[0]]:.3g}, below {SMALLEST_VARIANCE:g}, where the standard errors "
            "of its components underflow float64.  Rescale y, e.g. multiply it by a power of "
            "10.")


def check_varies(y):
    """A clear error where an output of ``y`` is constant (:func:`constant_columns`), or
    varies on too small a scale (:func:`check_scale`).

    Parameters
    ----------
    y : ndarray of shape (n_samples,) or (n_samples, n_outputs), or None
        The target; None (no target) passes.

    Raises
    ------
    ValueError
        Naming the first constant output, or the first of too small a variance.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_elm._components import check_varies
    >>> check_varies(np.array([1.0, 2.0]))
    >>> check_varies(np.array([[1.0, 3.0], [2.0, 3.0]]))
    Traceback (most recent call last):
    ...
    ValueError: y is constant (output 1): it has no variance to decompose ...
    """
    if y is None:
        return
    Y = y.reshape(len(y), -1)
    if len(Y) < 2:  # one sample is constant by definition: the sample count is the problem
        return
    constant = constant_columns(Y)
    if constant.size:
        raise ValueError(
            f"y is constant (output {int(constant[0])}): it has no variance to decompose "
            "into genetic and residual parts. Pass a trait that varies across the samples."
        )
    check_scale(Y)


def components_bunch(additive, epistatic, genetic, phenotypic):
    """Assemble the variance-component Bunch shared by every estimator.

    ``higher = genetic - additive - epistatic``, ``residual = phenotypic -
    genetic``, ``h2 = additive / phenotypic`` and ``H2 = genetic /
    phenotypic`` (NaN where the phenotypic variance is unknown).

    Parameters
    ----------
    additive, epistatic, genetic, phenotypic : ndarray of shape (k,)
        ``V_A``, ``V_AA``, ``V_G`` and ``V_P`` per output.

    Returns
    -------
    components : Bunch
        The keys of :data:`COMPONENTS`, in that order.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_elm._components import components_bunch
    >>> vc = components_bunch(np.array([0.5]), np.array([0.25]), np.array([1.0]), np.array([2.0]))
    >>> float(vc.higher[0]), float(vc.residual[0]), float(vc.h2[0]), float(vc.H2[0])
    (0.25, 1.0, 0.25, 0.5)
    """
    phenotypic = np.asarray(phenotypic, dtype=np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        return Bunch(
            additive=additive,
            epistatic=epistatic,
            higher=genetic - additive - epistatic,
            genetic=genetic,
            residual=phenotypic - genetic,
            phenotypic=phenotypic,
            h2=additive / phenotypic,
            H2=genetic / phenotypic,
        )


def pairwise_values(Z, epistasis):
    """Pairwise genetic values ``sum_{i<j} E_ij z_i z_j`` for every sample.

    For any square ``E`` this is ``sum_{i != j} E_ij z_i z_j / 2`` (the pair
    ``i < j`` weighs ``(E_ij + E_ji) / 2``), computed one of two ways with the
    same result up to float round-off: as ``(z^T E z - sum_i E_ii z_i^2) / 2``
    by one matrix product, ``O(n p^2)`` time; or, where few pairs have an
    effect (at most ``max(p, p^2 / 512)``, where the product would be slower), as
    a sum over those pairs, ``O(n)`` each, taken ``p`` pairs at a time.  Either
    way the memory beyond ``Z`` and ``E`` is ``O(n p)``.

    Parameters
    ----------
    Z : ndarray of shape (n_samples, n_loci)
        Encoded genotypes.
    epistasis : ndarray of shape (n_loci, n_loci)
        Symmetric pairwise effects; the diagonal is ignored.

    Returns
    -------
    values : ndarray of shape (n_samples,)

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_elm.datasets import pairwise_values
    >>> E = np.array([[0.0, 2.0], [2.0, 0.0]])
    >>> pairwise_values(np.array([[1.0, -1.0], [1.0, 1.0]]), E)
    array([-2.,  2.])
    """
    Z = np.asarray(Z, dtype=np.float64)
    E = np.asarray(epistasis, dtype=np.float64)
    p = E.shape[-1]
    # entries off the diagonal, counted without a p x p temporary: two per symmetric pair
    n_entries = np.count_nonzero(E) - np.count_nonzero(np.diagonal(E))
    if n_entries > 2 * max(p, p * p // 512):
        ZE = Z @ E
        diagonal = np.diagonal(E)
        if diagonal.any():
            ZE -= Z * diagonal
        return 0.5 * np.einsum("ni,ni->n", ZE, Z)
    i, j = np.nonzero(E)
    off = i != j
    # each pair once, i < j, whichever triangle holds it
    pairs = np.unique(np.minimum(i[off], j[off]) * p + np.maximum(i[off], j[off]))
    i, j = np.divmod(pairs, p)
    Zt = np.ascontiguousarray(Z.T)  # a pair's two loci are then two contiguous rows
    values = np.zeros(len(Z))
    for start in range(0, i.size, max(p, 1)):
        a, b = i[start:start + p], j[start:start + p]
        values += (0.5 * (E[a, b] + E[b, a])) @ (Zt[a] * Zt[b])
    return values


def orthogonal_parts(Z, additive, epistasis):
    """Additive and pairwise parts of ``sum a_i z_i + sum_{i<j} E_ij z_i z_j``, orthogonalised.

    With ``zc = z - zbar`` (sample means), the genetic value is, up to a
    constant, ``sum_i alpha_i zc_i + sum_{i<j} E_ij zc_i zc_j`` with average
    effects ``alpha = a + E zbar`` (diagonal of ``E`` ignored).  For
    independent loci the two parts are uncorrelated in expectation at any
    allele frequencies.

    Parameters
    ----------
    Z : array-like of shape (n_samples, n_loci)
        Encoded genotypes.
    additive : ndarray of shape (n_loci,)
        Additive coefficients ``a``.
    epistasis : ndarray of shape (n_loci, n_loci)
        Symmetric pairwise effects ``E``.

    Returns
    -------
    A, AA : ndarray of shape (n_samples,)
        The additive and pairwise parts per sample, each of mean 0.
    alpha : ndarray of shape (n_loci,)
        The average effects.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_elm._components import orthogonal_parts
    >>> Z = np.array([[1.0, 1.0], [-1.0, 1.0], [1.0, 1.0], [-1.0, -1.0]])
    >>> E = np.array([[0.0, 2.0], [2.0, 0.0]])
    >>> A, AA, alpha = orthogonal_parts(Z, np.array([1.0, 0.0]), E)
    >>> alpha
    array([2., 0.])
    """
    Z = np.asarray(Z, dtype=np.float64)
    zbar = Z.mean(axis=0)
    alpha = additive + epistasis @ zbar - np.diag(epistasis) * zbar
    Zc = Z - zbar
    pairwise = pairwise_values(Zc, epistasis)
    return Zc @ alpha, pairwise - pairwise.mean(), alpha
