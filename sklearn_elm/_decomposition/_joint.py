"""Each candidate pair tested beside the pairs that compete with it: proxies of several pairs.

In linkage a product ``z_k z_l`` can correlate with the products of several true pairs at
once (each of its loci in partial linkage with a locus of each).  Where those pairs are not in
``y``'s fit, the proxy takes their signal, and its test given the fit, which is all the fit can
condition on, lists it: on the msprime panels of ``benchmarks/calibration.py`` a pair listed at
q 5e-28 had a t of -0.8 beside the true pairs, whose own tests fell below the list's threshold
once it was in the model.  Its copies in linkage (products correlated with its own at
``|r| >= COPY_R``) stand for the same pair, and the report names them beside it; the pairs
between, correlated at ``|r|`` in ``[COMPETING_R, COPY_R)``, compete with it for the signal.

:func:`joint_pvalues` tests each pair of the FDR lists a user may ask for (BH q at most
:data:`JOINT_Q`) beside its competitors, the :data:`N_COMPETING` of largest score: the Wald
test of its coefficient in ``y``'s fit on the final model (less the pair itself) and them.  A
true pair keeps most of its signal there, a proxy loses it to the pairs it stands for.
:meth:`~sklearn_elm.ELMDecomposer.significant_pairs` keeps a listed pair where that p-value
passes Benjamini-Hochberg's step among the listed pairs.  Everything is read from the final
model's Gram algebra and one pass over the samples for the products of the ``c`` pairs
kept: ``O(n (m + c) c + m^2 c)`` time and ``O((m + c) c)`` memory for ``m`` model terms (``c``
at most :data:`~._inference.N_PAIR_TESTS` beside the model's pairs: 16 MB at ``m = c = 1,000``),
beside the products' own columns, which :class:`~._terms.Terms` keeps while they take at most
:data:`~._terms.CACHE_BYTES` (as for the pair tests' blocks of candidates).
"""

import numpy as np

from ._inference import two_sided
from ._terms import Terms

__all__ = ["COMPETING_R", "COPY_R", "JOINT_Q", "N_COMPETING", "joint_pvalues"]

#: Correlation of two residualised products at which one competes with the other for the
#: signal, and at which it is the other's copy (which the data cannot tell apart from it).
COMPETING_R = 0.3
COPY_R = 0.9

#: Pairs beside which a listed pair is tested (those of largest score).
N_COMPETING = 20

#: The listed pairs tested jointly: BH q at most ``JOINT_Q`` (the FDR lists a user may ask
#: for), at most ``N_JOINT`` of them.  Their competitors are drawn from every pair tested
#: and kept (:data:`~._inference.N_PAIR_TESTS` of largest score, and the model's): the pairs
#: whose signal a proxy took have no small p-value given a model that holds it (beside the
#: competitors found among the 200 pairs of smallest p-value alone, the proxy of the module's
#: note had a p-value of 0; beside those of every pair kept, 0.0097).
JOINT_Q = 0.5
N_JOINT = 200

#: Share of a product's sum of squares left once the model is fitted, below which the
#: product is in the model (or spanned by it) and competes with nothing.
SPANNED = 1e-6

#: Columns of the pairs' Gram matrix residualised at a time.
BLOCK = 256


def joint_pvalues(G, X, fit, residual, tests, q_values):
    """P-values of the first :data:`N_JOINT` pairs of ``tests`` with ``q_values <= JOINT_Q``,
    each beside the pairs that compete with it; NaN for the others.

    Parameters
    ----------
    G : Bunch
        The kept inputs (as :class:`~._terms.Terms` reads them).
    X : Terms
        The final model, its pairs after its ``s`` loci.
    fit : Bunch
        ``y``'s least-squares fit on ``X`` (``y``, ``G_inv``, ``df``: every column fitted).
    residual : ndarray of shape (n,)
        ``y``'s residual of that fit.
    tests : Bunch
        :func:`~._inference.pair_tests`' tests, smallest p-value first.
    q_values : ndarray
        Their BH q-values.

    Returns
    -------
    p_joint : ndarray of the shape of ``tests.p_value``

    Examples
    --------
    Two pairs, (0, 3) and (1, 2), and a third in partial linkage with both, (2, 3), in the
    model (a proxy): beside them its coefficient is not significant.

    >>> import numpy as np
    >>> from sklearn.utils import Bunch
    >>> from sklearn_elm._decomposition._joint import joint_pvalues
    >>> from sklearn_elm._decomposition._lstsq import least_squares
    >>> from sklearn_elm._decomposition._terms import Terms
    >>> rng = np.random.default_rng(0)
    >>> Z = rng.choice([-1.0, 1.0], size=(4000, 4))
    >>> Z[:, 2] = np.where(rng.random(4000) < 0.8, Z[:, 0], -Z[:, 0])  # 2 links 0
    >>> Z[:, 3] = np.where(rng.random(4000) < 0.8, Z[:, 1], -Z[:, 1])  # 3 links 1
    >>> y = Z[:, 0] * Z[:, 3] + Z[:, 2] * Z[:, 1] + rng.normal(size=4000)
    >>> G = Bunch(Z=Z, mean=Z.mean(axis=0))
    >>> X = Terms(G, np.arange(4), np.array([[2, 3]]))  # the proxy in the model
    >>> Yc = y - y.mean()
    >>> fit = least_squares(X, Yc, Yc)
    >>> residual = Yc - X @ fit.y
    >>> tests = Bunch(pairs=np.array([[2, 3], [0, 3], [1, 2]]), p_value=np.array([0.0, 0.5,
    ...               0.5]))
    >>> bool(joint_pvalues(G, X, fit, residual, tests, np.array([0.0, 0.9, 0.9]))[0] > 0.01)
    True
    """
    p_joint = np.full(tests.p_value.shape, np.nan)
    targets = np.flatnonzero(q_values <= JOINT_Q)[:N_JOINT]
    if not targets.size or len(fit.y) != X.shape[1]:
        return p_joint
    # the pairs' products with X, y's residual and one another, in one pass; their Gram
    # matrix once X is fitted, in place, a block of columns at a time: O(c (m + c)) memory
    c = X.cross(Terms(G, [], tests.pairs), residual)
    XC, R = c.XC, c.CC
    scale = np.maximum(np.diag(R).copy(), np.finfo(np.float64).tiny)
    for b0 in range(0, R.shape[1], BLOCK):
        R[:, b0:b0 + BLOCK] -= XC.T @ (fit.G_inv @ XC[:, b0:b0 + BLOCK])
    fitted = np.diag(R).copy()
    in_model = {(int(i), int(j)): X.s + k for k, (i, j) in enumerate(X.pairs.reshape(-1, 2))}
    n, rr = len(residual), float(residual @ residual)
    for k in targets:
        col = in_model.get(tuple(int(v) for v in tests.pairs[k]))
        d, column, score, ss, df, e = fitted, R[:, k], c.CV, rr, fit.df, None
        if col is not None:  # the pair's own column leaves X: X less it is the model
            # e^T x for each pair's product x, e the pair's residual on X less it
            g, b = fit.G_inv[col, col], fit.y[col]
            e = (fit.G_inv[col] @ XC) / g
            d, column = fitted + g * e**2, e.copy()
            d[k] = column[k] = 1.0 / g
            score = c.CV + e * b
            score[k] = b / g
            ss, df = rr + b * b / g, fit.df - 1
        free = d > SPANNED * scale
        if not free[k]:
            continue
        r = column / np.sqrt(np.where(free, d, 1.0) * d[k])
        competing = free & (np.abs(r) >= COMPETING_R) & (np.abs(r) < COPY_R)
        competing[k] = False
        chosen = np.flatnonzero(competing)
        chosen = chosen[np.argsort(-score[chosen] ** 2 / d[chosen], kind="stable")]
        terms = np.append(chosen[:N_COMPETING], k)
        gram = R[np.ix_(terms, terms)]
        if e is not None:
            gram += g * np.outer(e[terms], e[terms])
            gram[-1, :] = gram[:, -1] = column[terms]
        inv = np.linalg.pinv(gram, hermitian=True)
        coef = inv @ score[terms]
        left = n - 1 - df - terms.size
        if left < 1:
            continue
        sigma2 = max(ss - score[terms] @ coef, 0.0) / left
        p_joint[k] = two_sided(coef[-1] / np.sqrt(max(sigma2 * inv[-1, -1], 1e-300)), left)
    return p_joint
