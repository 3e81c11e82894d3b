"""The pairs of a screened fit as ``(k, p, p)`` matrices: dense where they fit in memory,
sparse (COO, both triangles) past that."""

import numpy as np
from scipy import sparse

__all__ = ["dense_pairs", "sparse_pairs"]


def dense_pairs(fit, n_features):
    """The pairs of a screened fit as dense ``(k, p, p)`` arrays: the symmetric effects
    (0 for pairs not chosen) and their sampling variances (NaN where not chosen).

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.utils import Bunch
    >>> from sklearn_elm._decomposition._pair_matrices import dense_pairs
    >>> fit = Bunch(pairs=[np.array([[0, 2]])], pair_effects=[np.array([0.5])],
    ...             pair_variances=[np.array([0.01])])
    >>> E, E_var = dense_pairs(fit, 3)
    >>> E[0, 2, 0], E_var[0, 2, 0], bool(np.isnan(E_var[0, 0, 1]))
    (np.float64(0.5), np.float64(0.01), True)
    """
    k, p = len(fit.pairs), n_features
    E, E_var = np.zeros((k, p, p)), np.full((k, p, p), np.nan)
    for o, (pairs, effects, variances) in enumerate(
            zip(fit.pairs, fit.pair_effects, fit.pair_variances, strict=True)):
        i, j = pairs.T
        E[o, i, j] = E[o, j, i] = effects
        E_var[o, i, j] = E_var[o, j, i] = variances
    return E, E_var


def sparse_pairs(fit, n_features):
    """The pairs of a screened fit as sparse ``(k, p, p)`` COO arrays, both triangles
    stored: the effects and their sampling variances (pairs not chosen are
    absent, i.e. not tested).

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.utils import Bunch
    >>> from sklearn_elm._decomposition._pair_matrices import sparse_pairs
    >>> fit = Bunch(pairs=[np.array([[0, 2]])], pair_effects=[np.array([0.5])],
    ...             pair_variances=[np.array([0.01])])
    >>> E, E_var = sparse_pairs(fit, 3)
    >>> E.shape, E.nnz, float(E.todense()[0, 2, 0])
    ((1, 3, 3), 2, 0.5)
    """
    k, p = len(fit.pairs), n_features
    coords, effects, variances = [[], [], []], [], []
    for o, pairs in enumerate(fit.pairs):
        i, j = pairs.T
        off = i != j
        for axis, values in enumerate((np.full(i.size + off.sum(), o),
                                       np.concatenate([i, j[off]]),
                                       np.concatenate([j, i[off]]))):
            coords[axis].append(values)
        effects.append(np.concatenate([fit.pair_effects[o], fit.pair_effects[o][off]]))
        variances.append(np.concatenate([fit.pair_variances[o], fit.pair_variances[o][off]]))
    coords = tuple(np.concatenate(axis).astype(np.intp) for axis in coords)
    return (sparse.coo_array((np.concatenate(effects), coords), shape=(k, p, p)),
            sparse.coo_array((np.concatenate(variances), coords), shape=(k, p, p)))
