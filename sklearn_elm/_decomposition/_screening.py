"""Screened least squares: the terms a network uses, fitted jointly, at any number of loci.

The full projection fits ``p`` additive and ``p (p + 1) / 2`` pairwise terms
and needs twice as many samples; past that the samples cannot determine it.
The network has learnt which few terms matter, and its genetic value ``f`` is
free of the trait's noise, so it is the screen: loci and pairs are chosen by
how much of ``f`` they explain, and the chosen terms are then fitted by least
squares, to ``f`` for the effects and to ``y`` for the trait's components.

Per output, with ``m_max = n / 2 - 1`` terms at most (the projection's
well-determined bound) of which ``t`` pairs:

1. *Loci*: every locus when the additive terms fit beside the pairs;
   otherwise forward screening of ``f`` in rounds (the loci most correlated
   with what the loci chosen so far leave of ``f``).
2. *Pairs from f*: two thirds of the ``t``: the pairs the network's pair path
   holds (their products are terms of ``f``; screened, a pair in linkage may be
   represented by copies of it, and what they leave of its product goes to the
   loci's effects), then forward screening of what the
   chosen terms leave of ``f``, in rounds, over every product
   ``(z_i - zbar_i)(z_j - zbar_j)`` and, for inputs with three values, the
   self terms: a scan of all ``p (p + 1) / 2`` products as blocks of a
   ``(Z - zbar)^T diag(r) (Z - zbar)`` matrix product, ``O(n p^2)`` time and
   ``O(p block)`` memory.  Screening conditionally on every locus, and again
   on the pairs already chosen, keeps loci in linkage with a QTL from
   standing in for it (phantom pairs).
3. *Pairs from y*: the other third, by the same forward scan of what all these
   terms leave of ``y``: pairs the network missed.  Where the loci are screened,
   those of the pairs join them, so that a product does not stand in for its
   own loci; a pair whose term is
   (numerically) a combination of the terms before it is left out.
4. *Fit*: the ``n x m`` design of the chosen terms, centred, and its
   ``m x m`` normal equations solved by Cholesky, ``O(n m^2 + m^3)``.  The
   design is made from the inputs a block of samples at a time
   (:class:`~._terms.Terms`); the fits read its Gram matrix and its products
   with ``f`` and ``y`` once, so no ``n x m`` array is held.

The effects are the least-squares coefficients of ``f`` (what the network
does, on the terms it uses), and of ``y`` for the pairs ``y`` proposed; the
sampling variances and the components are those of ``y``'s coefficients on
the same terms, each squared estimate corrected by the sampling noise it
adds (exactly, ``sigma^2 tr(X_A^T X_A (X^T X)^{-1}_AA)``, so linkage between
the chosen terms is accounted for).  A pair counts in the components only
where ``y``'s coefficient is significant at a family-wise :data:`ALPHA` over
every pair scanned, with the noise variance of the loci and the pairs
confirmed (:func:`~._selection._confirmed`), or where it enters the model of the
FDR-:data:`ALPHA` pair list (:func:`_pair_tests`): a pair the network chose for
noise it memorised, or a false proposal of ``y``'s scan, would otherwise add
that noise.  The components and their errors are those of that last model, so
that they count the pairs the list names.

Where the loci are chosen (more than the budget allows), choosing them by the
network's fit on the samples whose components they then give fits the noise the
network memorised (V_A high, V_AA low on sparse traits).  With ``crossfit`` the
components are cross-fitted there (:func:`~._crossfit.crossfit_components`):
each half of the samples chooses, by ``y`` alone, the loci and pairs whose
variances the other half estimates, and the two halves' components are averaged.
"""

import warnings
from functools import partial

import numpy as np
from sklearn.utils import Bunch

from .._components import components_bunch
from ._codes import take_rows
from ._crossfit import ROUNDS, crossfit_components, screen_loci, split_halves
from ._inference import (
    N_PAIR_TESTS,
    bh_qvalues,
    component_se_bunch,
    locus_tests,
    marginal_tests,
    pair_tests,
    screened_component_se,
)
from ._jackknife import (
    JACKKNIFE_BLOCKS,
    JACKKNIFE_FLOPS,
    JACKKNIFE_MIN_SAMPLES,
    fit_flops,
    jackknife_groups,
    jackknife_se,
)
from ._joint import joint_pvalues
from ._lstsq import least_squares, locus_basis, residual_on, residual_with
from ._scan import (
    MAX_TERMS,
    _genotypes,
    _scan_basis,
    _scan_pairs,
    _scanned_loci,
    check_budget,
    pair_scan_size,
    term_budget,
)
from ._selection import (
    ALPHA,
    _confirmed,
    _forward,
    _genetic,
    _independent,
    _parts,
    _step,
)
from ._terms import Terms

__all__ = ["pair_scan_size", "screened_fit", "term_budget"]


def _screen(G, scan, Fc, Yc, n_loci, n_pairs, held=()):
    """Loci and two thirds of the pairs screened on ``Fc`` (the pairs ``held`` first), the
    other pairs on what they leave of ``Yc``; the loci of the pairs join the loci.  Returns
    the loci (those screened, then those the pairs add), the pairs, the design of their terms
    (loci first, :class:`~._terms.Terms`), its Gram matrix and which pairs ``y`` proposed."""
    loci, loci_gram = screen_loci(G, Fc, n_loci)
    s = loci.size
    L = Terms(G, loci)
    if loci_gram is None:
        loci_gram = L.gram()
    # the loci are fixed while pairs are screened: their Gram matrix is factored once
    basis = locus_basis(L, loci_gram)
    left = residual_on(basis, np.column_stack([Fc, Yc]))
    left_f, left_y = left[:, 0].copy(), left[:, 1].copy()
    from_f = n_pairs - n_pairs // 3
    pairs = list(held)
    for r in range(1, ROUNDS + 1):
        take = from_f * r // ROUNDS - len(pairs)
        residual = residual_with(basis, left_f, Terms(G, [], pairs))
        pairs += _scan_pairs(scan, residual, set(pairs), take)
    n_f = len(pairs)
    # y's rounds too: in linkage, the copies of a pair would otherwise fill its share
    for r in range(1, ROUNDS + 1):
        take = n_f + (n_pairs - n_f) * r // ROUNDS - len(pairs)
        residual = residual_with(basis, left_y, Terms(G, [], pairs))
        pairs += _scan_pairs(scan, residual, set(pairs), take)
    basis = None
    pairs = np.array(pairs, dtype=np.intp).reshape(-1, 2)
    # a pair's loci join the loci, so that its product does not stand in for them (as
    # many as leave y's noise degrees of freedom)
    new = pairs.ravel()[np.sort(np.unique(pairs.ravel(), return_index=True)[1])]
    new = new[~np.isin(new, loci)][: max(len(G.Z) - 2 - len(pairs) - s, 0)]
    loci = np.concatenate([loci, new])
    X = Terms(G, loci, pairs)
    gram = X.gram(known=loci_gram)  # the loci's block is known
    return loci, pairs, X, gram, np.arange(len(pairs)) >= n_f


def _held(held, norms, most):
    """The pairs ``held`` of distinct varying loci, as a list of tuples ``(i, j)``, ``i < j``,
    at most ``most``."""
    if held is None:
        return []
    held = [(int(i), int(j)) for i, j in np.sort(np.asarray(held, dtype=np.intp).reshape(-1, 2))]
    return [(i, j) for i, j in dict.fromkeys(held) if i < j and norms[i] > 0
            and norms[j] > 0][:most]


def _fit_output(G, scan, Fc, Rc, n_loci, n_pairs, halves=None, values=False, joint=True,
                held=None):
    """The screened fit of one output (see :func:`screened_fit`)."""
    L = scan.loci.size
    held = _held(held, G.norms, n_pairs - n_pairs // 3)
    scanned = np.zeros(len(G.norms), dtype=bool)
    scanned[scan.loci] = True
    # the tests range over the pairs scanned and those held beside them
    selfs = 0 if scan.self_terms is None else int(scan.self_terms.has.sum())
    n_candidates = L * (L - 1) // 2 + selfs + sum(not (scanned[i] and scanned[j]) for i, j in held)
    Yc = Fc + Rc
    loci, pairs, X, gram, by_y = _screen(G, scan, Fc, Yc, n_loci, n_pairs, held)
    s = loci.size
    # the Gram matrix and the products with the targets are read once: the fits below
    # need no other pass over the samples (:mod:`._lstsq`)
    independent = _independent(gram, s)
    if not independent.all():
        pairs, by_y = pairs[independent[s:]], by_y[independent[s:]]
        X, gram = X.select(independent), gram[np.ix_(independent, independent)]
    products = X.T @ np.column_stack([Fc, Yc])
    fit = least_squares(X, Fc, Yc, gram, products=products)
    # the effects: the network's for the pairs it chose, and y's for the pairs it missed
    # that y confirms
    f_coef, y_coef, scale = fit.f, fit.y, np.diag(fit.G_inv)[s:].copy()
    fit = None
    keep, final = _confirmed(X, s, Fc, Yc, n_candidates, gram, products)
    gram = None
    every = keep[s:]
    X, Xy = X.select(keep), products[keep, 1]
    pair_coef = np.where(by_y, np.where(every, y_coef[s:], 0.0), f_coef[s:])
    pair_variance = final.sigma2 * scale
    inference = _inference(G, scan, (X, Xy), s, final, Yc, (loci, pairs[every], n_candidates),
                           values, joint)
    if halves is not None:  # the loci were chosen: the components are cross-fitted
        inference.parts, inference.component_se = crossfit_components(
            G, halves, scan.loci, Yc, inference.pair_tests.pairs, scan.self_terms is not None)
    return Bunch(loci=loci, pairs=pairs, additive_coef=f_coef[:s], pair_coef=pair_coef,
                 pair_variance=pair_variance, inference=inference, **inference.parts)


def _inference(G, scan, design, s, final, Yc, model, values=False, joint=True):
    """Tests of every locus and of the pairs of largest score, from ``y``'s fit ``final`` on
    ``design`` (its :class:`~._terms.Terms` and their products with ``y``) and on the pairs
    of the FDR list that :func:`_pair_tests` adds to it; the components and their errors
    from that last model (:mod:`._inference`)."""
    loci, confirmed, n_candidates = model
    tests, X, fit, residual = _pair_tests(G, scan, design, s, final, Yc, confirmed,
                                          n_candidates)
    if joint:
        tests.p_joint = joint_pvalues(G, X, fit, residual, tests,
                                      bh_qvalues(tests.p_value, tests.n_tests))
    parts = _parts(X, s, fit)
    parts["genetic"] = _genetic(X, fit)
    variance = fit.sigma2 * np.diag(fit.G_inv)
    locus_coef, locus_se, locus_p = locus_tests(G, loci, fit.y[:s], variance[:s], residual,
                                                fit.sigma2, len(X) - 1 - fit.df)
    inference = Bunch(locus_coef=locus_coef, locus_se=locus_se, locus_p=locus_p, pair_tests=tests,
                      component_se=screened_component_se(X, s, fit), parts=parts,
                      marginal_p=marginal_tests(G, Yc))
    if values:  # the fit's additive and pairwise parts per sample (one more pass over X)
        additive = X @ np.where(np.arange(len(fit.y)) < s, fit.y, 0.0)
        inference.part_values = {"additive": additive, "epistatic": Yc - residual - additive}
    return inference


def _pair_tests(G, scan, design, s, fit, Yc, pairs, n_candidates):
    """The pairs' tests, conditional on the loci, the confirmed pairs and, in rounds, the
    pairs of the FDR-:data:`ALPHA` list: a copy in linkage of a listed pair is then tested
    for what it adds to that pair, not counted for it.  Each round's new listed pairs enter
    one at a time (:func:`~._selection._forward`), the ``k``-th past the ``found`` listed
    pairs already in the model where its test given them passes Benjamini-Hochberg's step
    ``ALPHA (found + k) / n_candidates`` (the first always: it is listed), so that the
    copies of one pair, which the list counts as many discoveries, neither relax the
    threshold for the others nor share that pair's effect.  Returns the tests, the model's
    design, its fit and its residual; where a round adds pairs, ``fit``'s ``m x m`` arrays
    are released (set to None) and the design extended by the listed pairs."""
    X, Xy = design
    for r in range(ROUNDS + 1):
        residual = Yc - X @ fit.y

        def products_of(chunk, X=X, residual=residual):
            c = X.cross(Terms(G, [], chunk), residual, full=False)
            return c.XC, c.CC, c.CV

        taken = {(int(i), int(j)) for i, j in pairs}
        candidates = np.array(_scan_pairs(scan, residual, taken, N_PAIR_TESTS),
                              dtype=np.intp).reshape(-1, 2)
        tests = pair_tests(products_of, candidates, fit, (pairs, s + np.arange(len(pairs))),
                           n_candidates, len(X))
        listed = tests.pairs[bh_qvalues(tests.p_value, n_candidates) <= ALPHA]
        new = np.array([(int(i), int(j)) not in taken for i, j in listed], dtype=bool)
        if not new.any() or r == ROUNDS:
            return tests, X, fit, residual
        found, listed = int(np.count_nonzero(~new)), listed[new]
        c = X.cross(Terms(G, [], listed), Yc)
        df = len(X) - 1 - fit.df
        chosen = _forward(c.CC - c.XC.T @ (fit.G_inv @ c.XC), c.CV - c.XC.T @ fit.y,
                          np.diag(c.CC), fit.sigma2 * df, df,
                          lambda k, found=found, df=df: _step(k, found, n_candidates, df))
        if chosen.size == 0:
            return tests, X, fit, residual
        cross = c.XC[:, chosen]  # the Gram matrix grows by these columns' blocks alone
        gram = np.block([[fit.G, cross], [cross.T, c.CC[np.ix_(chosen, chosen)]]])
        fit.G = fit.G_inv = None  # what the caller reads of the fit it gave is sigma2
        X, Xy = X.extend(listed[chosen]), np.concatenate([Xy, c.CV[chosen]])
        pairs = np.vstack([pairs.reshape(-1, 2), listed[chosen]])
        fit = least_squares(X, Yc, Yc, gram, products=np.column_stack([Xy, Xy]))


def screened_fit(Z, F, R, phenotypic=None, *, n_loci=None, n_pairs=None, usage=None,
                 pairs=None, overwrite_z=False, crossfit=False, component_se="model", joint=True,
                 self_terms=True, stacklevel=2):
    """Effects and variance components from the terms the network uses, at any ``p``.

    The loci and two thirds of the pairs are screened from the network's
    genetic value ``f``, the other third from what the chosen terms leave of
    ``y`` (pairs the network missed); the loci of a chosen pair are among the
    additive terms, and a pair whose term duplicates the terms before it
    (complete linkage) is left out.  The components count the loci and the
    pairs that ``y``'s own coefficients confirm, by two-sided z-tests at a
    family-wise :data:`ALPHA` over every pair scanned, and the pairs of the
    FDR-:data:`ALPHA` list (Benjamini-Hochberg over the same pairs).

    Parameters
    ----------
    Z : ndarray of shape (n, p) or Codes
        Network inputs.
    F : ndarray of shape (n, k)
        The network's genetic values ``f``.
    R : ndarray of shape (n, k)
        Its residuals ``y - intercept - f``.
    phenotypic : ndarray of shape (k,), default=None
        Phenotypic variance ``V_P``, for ``h2`` and ``H2`` (NaN when None).
    n_loci, n_pairs : int, default=None
        Additive and pairwise terms to choose per output; None takes
        :func:`term_budget`.  ``min(n_loci, p) + n_pairs`` must stay below
        ``n - 1``.
    usage : ndarray of shape (p,), default=None
        How much the network uses each locus; where a scan of every pair would
        take more than ``SCAN_FLOPS`` multiply-adds (:func:`pair_scan_size`),
        the pairs are scanned among the loci of largest usage and of largest
        correlation with ``f`` (half each); None takes the correlation alone.
    pairs : list of ndarray of shape (m, 2), default=None
        Per output, pairs that ``f`` is known to hold (a network's pair path,
        :func:`~sklearn_elm._network.held_pairs`): the first of the pairs from ``f``, ahead
        of the scan (at most two thirds of ``n_pairs``).  Screened instead, a pair in
        linkage may be represented by copies of it, and what they leave of its product goes
        to the loci's effects.
    overwrite_z : bool, default=False
        Use an int8 or float32 ``Z`` as it is rather than a float32 copy (``n
        p`` float32 less memory; ``Z`` is not changed either way).  ``Z`` may
        also be :class:`~._codes.Codes`, always used as it is.
    crossfit : bool, default=False
        Where the loci are chosen (``n_loci`` below the varying loci), cross-fit the
        components over two halves of the samples
        (:func:`~._crossfit.crossfit_components`) rather than fit them on the loci that the
        network's fit chose.
    component_se : {"model", "jackknife", "auto"}, default="model"
        The components' standard errors: ``"model"``, those of the final model given
        its terms (:func:`~._inference.screened_component_se`, or the cross-fit's);
        ``"jackknife"``, a delete-a-group jackknife of the whole fit, the choice of its
        pairs included (:mod:`._jackknife`, 20 refits with the same term budget), where
        every locus is fitted (else the model's, with a warning); ``"auto"``, the jackknife
        where every locus is fitted, the samples are at least ``JACKKNIFE_MIN_SAMPLES``
        and the refits take at most ``JACKKNIFE_FLOPS`` multiply-adds, else (or where a
        refit fails, with a warning) the model's.
    joint : bool, default=True
        Test the pairs a list may name beside the pairs competing with them (``p_joint``
        of the pair tests, :mod:`._joint`); the jackknife's refits, which read only the
        components, leave it out.
    self_terms : bool, default=True
        Whether a locus of three values or more has a self term (False for haploid codes).
    stacklevel : int, default=2
        Stack level of the warnings (2 names the caller).

    Returns
    -------
    fit : Bunch
        * ``additive``, ndarray of shape (k, p): least-squares coefficients
          of ``f`` on the chosen terms (average effects), 0 for loci not chosen;
        * ``pairs``: list of ndarray of shape (t, 2), the chosen pairs per
          output (``i <= j``; ``i == j`` a self term);
        * ``pair_effects``: list of ndarray of shape (t,), the coefficients
          of ``f`` of the pairs screened from ``f``, and of ``y`` for the
          pairs ``y`` proposed and confirms (0 for those it does not);
        * ``pair_variances``: list of ndarray of shape (t,), the sampling
          variance of ``y``'s coefficient on each pair
          (:func:`dense_pairs` and :func:`sparse_pairs` make matrices of them);
        * ``components``, Bunch of arrays of shape (k,): ``V_A``, ``V_AA`` and ``V_G`` of
          ``y``'s fit on the loci, the confirmed pairs and those of the FDR list,
          noise-corrected, and the rest of :func:`~sklearn_elm._components.components_bunch`;
        * ``additive_estimate``, ``additive_se``, ``additive_p`` (k, p): ``locus_tests``';
        * ``n_scanned``: the number of loci the scans of pairs ranged over;
        * ``component_se``: ``"model"`` or ``"jackknife"``, the errors given.

    Examples
    --------
    Sixty loci, one additive QTL and one pair, read from a network that
    learnt half of the genetic value:

    >>> import numpy as np
    >>> from sklearn_elm._decomposition._screening import screened_fit
    >>> rng = np.random.default_rng(0)
    >>> Z = rng.choice([-1.0, 1.0], size=(4000, 60))
    >>> g = Z[:, :1] + 0.5 * Z[:, 1:2] * Z[:, 2:3]
    >>> y = g + rng.normal(size=g.shape)
    >>> fit = screened_fit(Z, 0.5 * g, y - y.mean() - 0.5 * g)
    >>> fit.pairs[0][0].tolist(), round(float(fit.pair_effects[0][0]), 2)
    ([1, 2], 0.25)
    >>> vc = fit.components
    >>> bool(np.allclose([vc.additive[0], vc.epistatic[0], vc.genetic[0]],
    ...                  [1.0, 0.25, 1.25], atol=0.06))
    True
    """
    if component_se not in ("model", "jackknife", "auto"):
        raise ValueError(f"component_se must be 'model', 'jackknife' or 'auto'; got "
                         f"{component_se!r}.")
    n, p = np.shape(Z)
    default_loci, default_pairs = term_budget(n, p)
    n_loci = default_loci if n_loci is None else n_loci
    n_pairs = default_pairs if n_pairs is None else n_pairs
    # float32 halves the memory and the time of the scans; the fits are in float64
    G = _genotypes(Z, overwrite_z)
    varying = int(np.count_nonzero(G.norms))
    check_budget(n_loci, n_pairs, n, varying)
    # cross-fitted components where the loci are chosen (and each half can take a pair)
    crossfit = crossfit and n_loci < varying and n >= 12
    if n_loci < varying:
        warnings.warn(
            f"{varying} loci and {n} samples: a fit takes at most half as many terms as "
            f"samples, and at most {MAX_TERMS}. "
            + ("The trait's components are cross-fitted: each half of the samples chooses "
               "the loci and pairs whose variances the other half estimates, and what the "
               "loci left out carry is estimated by moments; V_AA counts only the pairs a "
               "half finds, a lower bound where pairs are weak for half the samples. The "
               "tests are fitted on the "
               if crossfit else "The trait's components and tests are fitted on the ")
            + f"{n_loci} loci that explain most of the network's genetic value and the loci "
            "of the pairs chosen, and do not account for that choice"
            + ("." if crossfit else "; V_A and V_G count only those loci, which carry the "
               "noise the network memorised (components='crossfit', the default, cross-fits "
               "them)."),
            UserWarning,
            stacklevel=stacklevel,
        )
    F = np.asarray(F, dtype=np.float64)
    R = np.asarray(R, dtype=np.float64)
    held = pairs
    if held is not None and len(held) != F.shape[1]:
        raise ValueError(f"pairs holds {len(held)} lists of pairs for {F.shape[1]} outputs.")
    scan = _scan_basis(G, _scanned_loci(G, F, usage, stacklevel), self_terms)
    halves = split_halves(G) if crossfit else None
    k = F.shape[1]
    asked = component_se
    component_se = _resolve_se(component_se, n_loci < varying, n,
                               JACKKNIFE_BLOCKS * fit_flops(n, n_loci + n_pairs,
                                                            scan.loci.size, k), stacklevel + 1)
    jackknife = component_se == "jackknife"
    additive = np.zeros((k, p))
    parts = {"additive": np.zeros(k), "epistatic": np.zeros(k), "genetic": np.zeros(k)}
    errors = {key: np.zeros(k) for key in (*parts, "higher")}
    pairs, effects, variances, tests = [], [], [], []
    locus_coef, locus_se, locus_p, marginal_p = (np.empty((k, p)) for _ in range(4))
    values = {key: np.empty((n, k)) for key in ("additive", "epistatic")} if jackknife else {}
    for o in range(k):
        out = _fit_output(G, scan, F[:, o] - F[:, o].mean(),
                          R[:, o] - R[:, o].mean(), n_loci, n_pairs, halves,
                          values=jackknife, joint=joint,
                          held=None if held is None else held[o])
        tested = out.inference
        additive[o, out.loci] = out.additive_coef
        for key in parts:
            parts[key][o] = out[key]
        for key in errors:
            errors[key][o] = tested.component_se[key]
        pairs.append(out.pairs)
        effects.append(out.pair_coef)
        variances.append(out.pair_variance)
        tests.append(tested.pair_tests)
        locus_coef[o], locus_se[o], locus_p[o] = tested.locus_coef, tested.locus_se, tested.locus_p
        marginal_p[o] = tested.marginal_p
        for key in values:
            values[key][:, o] = tested.part_values[key]
    if jackknife:
        refit = partial(_refit_rows, G.Z, F, R, dict(n_loci=n_loci, n_pairs=n_pairs, usage=usage,
                                                     pairs=held, self_terms=self_terms))
        component_se, errors = _jackknife_errors(refit, values, errors, n, asked == "auto",
                                                 stacklevel + 1)
    # V_AA exactly 0: no pair confirmed, 0 by the choice of terms, not estimated
    errors["epistatic"][parts["epistatic"] == 0] = np.nan
    phenotypic = np.full(k, np.nan) if phenotypic is None else phenotypic
    components = components_bunch(parts["additive"], parts["epistatic"], parts["genetic"],
                                  phenotypic)
    return Bunch(additive=additive, pairs=pairs, pair_effects=effects,
                 pair_variances=variances, components=components, n_scanned=scan.loci.size,
                 additive_estimate=locus_coef, additive_se=locus_se, additive_p=locus_p,
                 marginal_p=marginal_p, pair_tests=tests, component_se=component_se,
                 components_se=component_se_bunch(errors, phenotypic))


def _resolve_se(component_se, chosen, n, cost, stacklevel):
    """What :func:`screened_fit`'s ``component_se`` gives: the jackknife only where every
    locus is fitted (where the loci are ``chosen`` the components may be cross-fitted, and
    the full fit's parts are not what they estimate; ``"jackknife"`` then warns), and for
    ``"auto"`` only with ``JACKKNIFE_MIN_SAMPLES`` samples and a ``cost`` of at most
    ``JACKKNIFE_FLOPS``."""
    if component_se == "jackknife" and chosen:
        warnings.warn("component_se='jackknife' needs every locus fitted, and the loci are "
                      "chosen here: the components' errors are the model's.", UserWarning,
                      stacklevel=stacklevel)
    if component_se == "auto":
        cheap = n >= JACKKNIFE_MIN_SAMPLES and cost <= JACKKNIFE_FLOPS
        return "jackknife" if cheap and not chosen else "model"
    return "model" if chosen else component_se


def _jackknife_errors(refit, values, errors, n, auto, stacklevel):
    """The jackknife's errors and ``"jackknife"``; where a refit fails, an error, or with
    ``auto`` the model's ``errors`` and ``"model"``, with a warning."""
    blocks = min(JACKKNIFE_BLOCKS, n)
    try:
        return "jackknife", jackknife_se(refit, values, jackknife_groups(n, blocks))
    except ValueError as exc:
        message = (f"component_se='jackknife': a refit without one of {blocks} groups of the "
                   f"{n} samples failed ({exc})")
        if not auto:
            raise ValueError(f"{message}; use component_se='model'.") from exc
        warnings.warn(f"{message}: the components' errors are the model's.", UserWarning,
                      stacklevel=stacklevel)
        return "model", errors


def _refit_rows(Z, F, R, budget, keep):
    """The components of :func:`screened_fit` on the samples ``keep``, with the full fit's
    term budget (every locus) and its pairs chosen again there: the jackknife's refits.
    Their warnings repeat the full fit's and are not shown (``warnings.catch_warnings``,
    which is not thread-safe: fits in threads may lose each other's warnings meanwhile)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return screened_fit(take_rows(Z, keep), F[keep], R[keep], overwrite_z=True,
                            component_se="model", joint=False, **budget).components
