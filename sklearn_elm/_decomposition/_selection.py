"""Which terms of the screened fit count, from their Gram matrix: tests and selection.

The screened fit (:mod:`._screening`) reads its design's Gram matrix ``X^T X`` and its
products with ``f`` and ``y`` once; everything here works from them, with no pass over the
samples: which pair terms duplicate the terms before them (:func:`_independent`), which pairs
``y`` confirms at a family-wise :data:`ALPHA` (:func:`_confirmed`, by forward-backward
selection), forward selection of candidate columns given a model (:func:`_forward`, a sweep of
their Gram matrix given the model), and the components of a fit less their sampling noise
(:func:`_parts`, :func:`_genetic`).
"""

import numpy as np
from scipy import linalg, stats

from ._inference import _score
from ._lstsq import least_squares

#: Family-wise error rate of the tests that admit a screened term to the components.
ALPHA = 0.05


#: Rounds of the forward-backward selection of the pairs that count in the components.
MAX_ROUNDS = 20


#: Share of a pair term's sum of squares that must be independent of the terms before it
#: for the term to be fitted (below it the term duplicates them, e.g. the product of a
#: two-valued locus with a copy of itself is that locus).
INDEPENDENT = 1e-6


def _independent(gram, s):
    """Which columns of the design to fit, from its Gram matrix ``gram``: every locus (the
    first ``s``; loci in complete linkage share their effect through the ridge of
    :func:`~._lstsq.least_squares`), and the pairs whose term keeps more than
    :data:`INDEPENDENT` of its sum of squares once the columns before it are fitted: the
    diagonal of the Cholesky factor of ``X^T X``, in column order."""
    d = np.diag(gram).copy()
    work = np.array(gram, order="F")
    work[np.diag_indices_from(work)] += 1e-10 * max(d.mean() if d.size else 0.0, 1e-300)
    L = linalg.cholesky(work, lower=True, overwrite_a=True, check_finite=False)
    keep = np.diag(L) ** 2 > INDEPENDENT * d
    keep[:s] = True
    return keep


def _parts(X, s, fit):
    """``V_A`` and ``V_AA`` of ``y``'s coefficients on the first ``s`` and the other columns
    of ``X`` (of Gram matrix ``fit.G``), each less the sampling noise that squaring adds."""
    n, m = X.shape
    parts = {}
    for key, cols in (("additive", slice(0, s)), ("epistatic", slice(s, m))):
        b, G = fit.y[cols], fit.G[cols, cols]
        noise = fit.sigma2 * np.sum(G * fit.G_inv[cols, cols]) / n
        parts[key] = b @ (G @ b) / n - noise
    return parts


def _genetic(X, fit):
    """``V_G``: the variance of ``y``'s fit on ``X``, less its sampling noise.

    What the network fits beyond the terms is left out: fitted on the same samples, it
    cannot be told apart from noise the network memorised (an overfitted network makes it
    large on a purely additive trait)."""
    n = X.shape[0]
    return fit.y @ (fit.G @ fit.y) / n - fit.sigma2 * fit.df / n


def _threshold(n_candidates, alpha=ALPHA):
    """The two-sided z a term must pass: Bonferroni over ``n_candidates``."""
    return stats.norm.isf(alpha / (2 * max(n_candidates, 1)))


def _added(gram, Xy, keep, final, threshold, n):
    """The pairs not in ``keep`` to add: those whose score test against ``y``'s fit on the
    kept columns passes ``threshold``, chosen one at a time (:func:`_forward`), so that a
    copy in linkage of a pair taken does not enter beside it.  ``gram`` and ``Xy`` are
    ``X^T X`` and ``X^T y`` (``n`` samples): the tests need no pass over the samples."""
    rest = np.flatnonzero(~keep)
    if rest.size == 0:
        return rest
    coef = np.zeros(len(keep))
    coef[keep] = final.y
    Xr = Xy[rest] - gram[rest] @ coef  # the columns' products with the residual
    estimate, se, _ = _score(gram[np.ix_(keep, rest)], np.diag(gram)[rest], Xr,
                             final.G_inv, final.sigma2)
    z = np.abs(estimate) / np.where(se > 0, se, np.inf)
    passing = rest[z > threshold]
    if passing.size == 0:
        return passing
    cross = gram[np.ix_(keep, passing)]
    partial = gram[np.ix_(passing, passing)] - cross.T @ (final.G_inv @ cross)
    df = n - 1 - final.df
    chosen = _forward(partial, Xr[z > threshold], np.diag(gram)[passing],
                      final.sigma2 * df, df, lambda k: threshold)
    return passing[chosen]


def _forward(partial, products, squares, rss, df, threshold):
    """Forward selection of candidate columns given a model, from their products alone.

    ``partial`` is the Gram matrix of what the model leaves of the candidates, ``products``
    their products with its residual, ``squares`` their own sums of squares, ``rss`` and
    ``df`` the model's residual sum of squares and degrees of freedom.  At each step the
    candidate of largest score statistic ``|t|`` enters where ``|t|`` passes
    ``threshold(k)`` (``k`` taken before it); the others are then taken on what it leaves
    of them (a sweep of ``partial``).  A copy in linkage of a column taken, of which it
    leaves (numerically) nothing, never enters beside it: two such copies in one model
    would share, and each weaken, the other's effect.  Returns the indices taken, in order.
    """
    partial = np.array(partial, dtype=np.float64)
    products = np.array(products, dtype=np.float64)
    chosen = []
    while df - len(chosen) > 1 and rss > 0:  # else the model fits the target exactly
        left = np.diag(partial).copy()
        usable = left > 1e-6 * squares  # else the column is (numerically) the model's
        usable[chosen] = False
        if not usable.any():
            break
        sigma2 = rss / (df - len(chosen))
        t = np.where(usable, products / np.sqrt(sigma2 * np.where(usable, left, 1.0)), 0.0)
        best = int(np.argmax(np.abs(t)))
        if not abs(t[best]) > threshold(len(chosen)):
            break
        chosen.append(best)
        pivot = partial[:, best].copy()
        rss -= products[best] ** 2 / pivot[best]
        products -= pivot * (products[best] / pivot[best])
        partial -= np.outer(pivot, pivot / pivot[best])
    return np.array(chosen, dtype=np.intp)


def _confirmed(X, s, Fc, Yc, n_candidates, gram, products):
    """Which columns of ``X`` count in the components, and ``y``'s fit on them.

    Every locus counts (a polygenic trait spreads over many loci, none of them
    significant alone); a pair counts where ``y`` confirms it at a family-wise
    :data:`ALPHA` over every pair scanned, by forward-backward selection: a pair
    enters where its score test against the pairs confirmed so far passes, and
    leaves where its Wald test in the fit of them no longer does.  The network was
    trained on this ``y``, so its choice of pairs is a scan of ``y`` as much as
    ``y``'s own, and a pair it chose for noise it memorised would fit that noise
    again here: the noise variance of the tests is that of the loci and the pairs
    confirmed, never that of every pair chosen, which such pairs deflate.  Tested
    one against the confirmed ones, a pair's copies in linkage do not share (and
    dilute) its effect.  ``gram`` and ``products`` are ``X^T X`` and ``X^T [f, y]``.
    """
    threshold = _threshold(n_candidates)
    keep = np.zeros(X.shape[1], dtype=bool)
    keep[:s] = True
    for _ in range(MAX_ROUNDS):
        final = None  # the last round's m x m arrays are freed before the next are made
        final = least_squares(X, Fc, Yc, gram, keep, products)
        wald = np.abs(final.y[s:]) / np.sqrt(final.sigma2 * np.diag(final.G_inv)[s:])
        left = np.flatnonzero(keep)[s:][wald <= threshold]
        added = _added(gram, products[:, 1], keep, final, threshold, X.shape[0])
        if left.size == 0 and added.size == 0:
            return keep, final
        keep[left], keep[added] = False, True
    final = None
    return keep, least_squares(X, Fc, Yc, gram, keep, products)


def _step(k, found, n_candidates, df):
    """The ``|t|`` the ``k``-th pair (from 0) a round adds must pass, past ``found`` listed
    pairs in the model: Benjamini-Hochberg's ``ALPHA (found + k + 1) / n_candidates``
    two-sided, on ``df - k`` degrees of freedom; the first pair (a listed one) always."""
    if k == 0:
        return -np.inf
    return stats.t.isf(ALPHA * min(found + k + 1, n_candidates) / n_candidates / 2, df - k)
