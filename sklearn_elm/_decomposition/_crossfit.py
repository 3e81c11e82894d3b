"""The loci a screened fit chooses, and its components cross-fitted over two halves.

Past the loci budget (more loci than half the samples can fit beside the pairs) the loci
must be chosen.  :func:`screen_loci` chooses them by forward screening of a target, and
:func:`crossfit_components` gives the trait's components with each half of the samples
choosing the terms whose variances the other half estimates, so that the choice does not fit
the noise that those variances are then read from.  What the loci left out carry is a moment
estimate (:mod:`._rest`).
"""

import numpy as np
from scipy import stats
from sklearn.utils import Bunch

from ._codes import take_rows
from ._inference import screened_component_se
from ._lstsq import least_squares, locus_basis, residual_on
from ._rest import add_left_out, rest_variance, tagging
from ._scan import _genotypes, _scan_basis, _scan_pairs, _transposed_product, term_budget
from ._selection import ALPHA, _confirmed, _genetic, _independent, _parts
from ._terms import Terms

__all__ = ["ROUNDS", "crossfit_components", "screen_loci", "split_halves"]

#: Forward-screening rounds for loci and for pairs.
ROUNDS = 3


#: Level of the marginal test by which a half of the samples keeps a pair that the whole
#: sample's tests propose for the components it chooses terms for
#: (:func:`crossfit_components`).
PROPOSED = 0.05


#: How much more of the other loci's variance than their share of the samples the loci of a
#: half's full budget must fit (:func:`~._rest.tagging`) for the half to fix them all: below
#: it it fixes only the loci its ``y`` shows.  In linkage equilibrium the ratio is 1 within
#: about 0.02 (fitted loci are random directions to the others); msprime panels give 1.8-2.2.
TAGGED = 1.1


def screen_loci(G, target, n_loci, level=None):
    """At most ``n_loci`` loci by forward screening of ``target``.

    In :data:`ROUNDS` rounds, each taking up to a further ``n_loci / ROUNDS`` loci, those of
    largest ``|corr(z_j, r)|`` with what the loci chosen before leave of ``target``, ``r``.
    With ``level``, a round takes only the loci whose z-score ``sqrt(n) |corr(z_j, r)|``
    passes Bonferroni's bound at ``level`` over the varying loci, and screening stops at a
    round where none does.

    Parameters
    ----------
    G : Bunch
        The samples' inputs (``Z``, ``mean``, ``norms``, as from ``_genotypes``).
    target : ndarray of shape (n,)
        The centred target.
    n_loci : int
        The most loci to take.
    level : float, default=None
        Family-wise level of the loci taken; None takes ``n_loci`` loci.

    Returns
    -------
    loci : ndarray of int
        The loci, sorted (every varying locus where they fit and ``level`` is None).
    gram : ndarray of shape (s, s) or None
        Their centred columns' Gram matrix (None where every varying locus was taken
        without screening).

    Examples
    --------
    One locus of large effect among 50 on 200 samples:

    >>> import numpy as np
    >>> from sklearn_elm._decomposition._crossfit import screen_loci
    >>> from sklearn_elm._decomposition._scan import _genotypes
    >>> rng = np.random.default_rng(0)
    >>> Z = rng.choice([-1.0, 1.0], size=(200, 50))
    >>> y = Z[:, 7] + rng.normal(size=200)
    >>> G = _genotypes(Z, False)
    >>> screen_loci(G, y - y.mean(), 2, level=0.05)[0]
    array([7])
    >>> screen_loci(G, y - y.mean(), 6)[0].size
    6
    """
    norms = G.norms
    varying = np.flatnonzero(norms > 0)
    if level is None and varying.size <= n_loci:
        return varying, None
    n_loci = min(n_loci, varying.size)
    critical = 0.0 if level is None else stats.norm.isf(level / (2 * varying.size))
    chosen, gram = np.empty(0, dtype=np.intp), np.empty((0, 0))
    residual = target
    for r in range(1, ROUNDS + 1):
        # Zc^T r from the uncentred Z: Z^T r - zbar sum(r)
        covariance = _transposed_product(G, residual) - G.mean * residual.sum()
        score = np.abs(covariance) / np.where(norms > 0, norms, np.inf)
        score[norms == 0] = -1.0
        score[chosen] = -1.0
        take = max(n_loci * r // ROUNDS - chosen.size, 0)
        if level is not None:  # a z-score is the score over the residual's spread
            spread = np.sqrt(residual @ residual / len(residual))
            passing = int(np.count_nonzero(score > critical * spread))
            if passing == 0:
                break
            take = min(max(take, 1), passing, n_loci - chosen.size)
        if take == 0:
            continue
        chosen = np.concatenate([chosen, np.argpartition(-score, take)[:take]])
        L = Terms(G, chosen)
        gram = L.gram(known=gram)
        if r < ROUNDS:
            residual = residual_on(locus_basis(L, gram), target)
    order = np.argsort(chosen)
    return chosen[order], gram[np.ix_(order, order)]


def split_halves(G):
    """The inputs of the even and of the odd samples, each with its own means and norms.

    Alternate samples, so that samples stored in groups (families, populations) are split
    between the halves.

    Parameters
    ----------
    G : Bunch
        The samples' inputs (:func:`~._scan._genotypes`).

    Returns
    -------
    list of Bunch
        The even samples' inputs and the odd samples'.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_elm._decomposition._crossfit import split_halves
    >>> from sklearn_elm._decomposition._scan import _genotypes
    >>> even, odd = split_halves(_genotypes(np.arange(10.0).reshape(5, 2), False))
    >>> even.Z.tolist(), odd.mean.tolist()
    ([[0.0, 1.0], [4.0, 5.0], [8.0, 9.0]], [4.0, 5.0])
    """
    n = len(G.Z)
    return [_genotypes(take_rows(G.Z, np.arange(h, n, 2)), True) for h in (0, 1)]


def _shown(G, y, pairs):
    """The ``pairs`` whose centred products the samples of ``G`` show on their own: a
    marginal two-sided test of ``y`` at :data:`PROPOSED` (a pair that the whole sample
    proposed for the other half's noise alone rarely passes)."""
    if not pairs:
        return []
    c = Terms(G, []).cross(Terms(G, [], pairs), y, full=False)
    z = np.abs(c.CV) / np.sqrt(np.maximum(c.CC, 1e-300) * (y @ y) / len(y))
    return [pair for pair, shown in zip(pairs, z > stats.norm.isf(PROPOSED / 2), strict=True)
            if shown]


def _half_loci(A, yA, n_loci):
    """The loci half ``A`` fixes for the other half, and whether they are in linkage
    equilibrium with the rest (None where every locus is fixed)."""
    loci, gram = screen_loci(A, yA, n_loci)
    if gram is None:
        return loci, None
    if tagging(A, loci, gram) >= TAGGED:
        return loci, False
    return screen_loci(A, yA, n_loci, level=ALPHA)[0], True


def crossfit_components(G, halves, scan_loci, Yc, tested, self_terms=True):
    """The components of ``y`` cross-fitted over two halves of the samples.

    Where there are more loci than half the samples allow, the loci must be chosen, and
    choosing them on the samples whose components they then give fits those samples'
    noise: ``V_A`` comes out high, and a trait's noise that the chosen terms absorb leaves
    the pairs' tests too lenient or too strict.  Each half instead chooses the terms of the
    other: the loci by forward screening of its ``y`` (:func:`screen_loci`), the pairs of
    largest score in a marginal scan of its ``y`` (products of loci in linkage equilibrium
    are uncorrelated with the loci; a scan after hundreds of loci fitted to half the
    samples would read what they left of its noise) and the first pairs of the whole
    sample's tests ``tested`` (pairs of rare alleles, which a half's scan misses, that the
    network found).  On the other half those terms are fitted by least squares, a pair
    counting where that half confirms it at a family-wise :data:`ALPHA` over the pairs
    proposed (:func:`~._selection._confirmed`; the proposal is independent of the half's
    noise but for the whole sample's tests), each variance less its sampling noise.  The
    two halves' components are averaged, and their errors combined as independent.

    ``V_A`` and ``V_G`` then add what the loci left out carry (a polygenic trait spreads
    over more loci than a half can fit; :func:`~._rest.rest_variance`).  How many loci a
    half fixes depends on linkage (:func:`~._rest.tagging`): where the loci of its full
    budget stand for the others (linkage; ratio at least :data:`TAGGED`) it fixes them all,
    and the loci left out, a remainder of what they tag, are estimated on each half from
    what its fit leaves of its ``y``; where they do not (linkage equilibrium), each locus
    fixed costs a degree of freedom and buys only its own effect, so a half fixes only the
    loci its ``y`` shows at a family-wise :data:`ALPHA`, and where both halves do, the loci
    left out are estimated on all the samples, given each half's terms (the moment
    estimate's precision grows as the square of the samples; the terms were chosen on the
    other half's ``y``, whose noise the few loci passing Bonferroni's bound fit little of).
    The two estimates share their samples, so their error is their mean error; it is
    combined with the halves' components' as independent.

    Parameters
    ----------
    G : Bunch
        All the samples' inputs (:func:`~._scan._genotypes`).
    halves : list of Bunch
        The two halves' inputs (:func:`split_halves`).
    scan_loci : ndarray of int
        The loci whose pairs are scanned.
    Yc : ndarray of shape (n,)
        The centred target.
    tested : ndarray of shape (t, 2)
        The whole sample's tested pairs, by decreasing score.
    self_terms : bool, default=True
        Whether the halves' scans have self terms (False for haploid codes).

    Returns
    -------
    part, error : dict
        The components (``additive``, ``epistatic``, ``genetic``) and their errors.

    Examples
    --------
    Every one of 400 independent loci additive, on 600 samples (300 a half): the halves fix
    few loci, and what the others carry is estimated on all the samples.

    >>> import numpy as np
    >>> from sklearn_elm._decomposition._crossfit import crossfit_components, split_halves
    >>> from sklearn_elm._decomposition._scan import _genotypes
    >>> rng = np.random.default_rng(0)
    >>> Z = rng.choice([-1.0, 0.0, 1.0], size=(600, 400))
    >>> g = Z @ rng.normal(scale=0.05, size=400)
    >>> y = g + rng.normal(size=600)
    >>> G = _genotypes(Z, False)
    >>> part, error = crossfit_components(G, split_halves(G), np.arange(400), y - y.mean(),
    ...                                   np.empty((0, 2), dtype=np.intp))
    >>> bool(abs(part["additive"] - g.var()) < 2 * error["additive"]), part["epistatic"]
    (True, np.float64(0.0))
    """
    ys = [Yc[k::2] - Yc[k::2].mean() for k in (0, 1)]
    budgets = [term_budget(len(B.Z), int(np.count_nonzero(B.norms))) for B in halves]
    # the loci each half fixes for the other; whether the loci left out are estimated on
    # all the samples (both halves in linkage equilibrium) or on each half
    fixed = [_half_loci(halves[1 - k], ys[1 - k], budgets[k][0]) for k in (0, 1)]
    shared = all(unlinked for _, unlinked in fixed)
    parts, errors, left, designs = [], [], [], []
    for k in (0, 1):
        A, B, yA, yB = halves[1 - k], halves[k], ys[1 - k], ys[k]
        n_pairs = budgets[k][1]
        loci = fixed[k][0][B.norms[fixed[k][0]] > 0]
        pairs = _scan_pairs(_scan_basis(A, scan_loci, self_terms), yA, set(), n_pairs)
        taken = set(pairs)
        proposed = [pair for pair in map(tuple, tested[: n_pairs // 2].tolist())
                    if pair not in taken]
        pairs += _shown(A, yA, proposed)
        pairs = np.array(pairs, dtype=np.intp).reshape(-1, 2)
        new = pairs.ravel()[np.sort(np.unique(pairs.ravel(), return_index=True)[1])]
        new = new[~np.isin(new, loci) & (B.norms[new] > 0)]
        s = loci.size + min(new.size, max(len(B.Z) - 2 - len(pairs) - loci.size, 0))
        X = Terms(B, np.concatenate([loci, new])[:s], pairs)
        gram = X.gram()
        independent = _independent(gram, s)
        if not independent.all():
            X, gram = X.select(independent), gram[np.ix_(independent, independent)]
        products = X.T @ np.column_stack([yB, yB])
        keep, final = _confirmed(X, s, yB, yB, max(X.shape[1] - s, 1), gram, products)
        gram = None
        X = X.select(keep)
        part = _parts(X, s, final)
        part["genetic"] = _genetic(X, final)
        parts.append(part)
        errors.append(screened_component_se(X, s, final))
        if shared:
            designs.append((X.loci, X.pairs))
        else:
            left.append(rest_variance(B, X, final, yB))
    part = Bunch(**{key: (parts[0][key] + parts[1][key]) / 2 for key in parts[0]})
    error = {key: np.hypot(errors[0][key], errors[1][key]) / 2 for key in errors[0]}
    for loci, pairs in designs:
        X = Terms(G, loci, pairs)
        left.append(rest_variance(G, X, least_squares(X, Yc, Yc), Yc))
    return add_left_out(part, error, left, shared=shared)
