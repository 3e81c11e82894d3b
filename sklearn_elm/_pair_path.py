"""The lasso paths' refit: after training, a relaxed lasso of the targets less the rest of the
network, its penalty chosen by cross-validation.

:class:`~sklearn_elm.NeuralGPRegressor` trains two paths by the lasso: the pair path
(``GatedMLP(pair_path=...)``, at ``PAIR_WEIGHT`` times the path penalty) and, on a sparse trait,
its output's row of the linear path (``linear_lasso_``, at ``LASSO_WEIGHT`` times it).  AdamW's
l1 term leaves the weights of pairs and loci the data do not hold small but not 0, and the step
the network keeps is chosen on the tenth of the samples held out for validation.  After
training, each output's weights of both are refitted on every sample (the held-out tenth too)
by coordinate descent, the rest of the network (its hidden units, and its linear path where
that is ridge's) held: the lasso of the standardised target less the rest on the used slots'
products and the loci (the pairs at ``REFIT_PAIR_WEIGHT`` times the loci's l1 weight), so that
a pair or a locus the data do not hold gets exactly 0 and drops out of the equivalent linear
map.  A lasso row's refit has a constant, which goes into ``intercept_`` (the network has no
bias), and drops the hidden units' output unless it earns its place (:func:`_keeps_units`).
Its penalty, ``REFIT_FACTORS`` times the path penalty, and its relaxation (Meinshausen's
relaxed lasso: the lasso again on the terms kept, at ``REFIT_RELAX`` times that penalty, which
shrinks them less) are chosen by ``REFIT_FOLDS``-fold cross-validation of the squared error,
each fold with the pairs a scan of its own training samples ranks first in the slots' places
(where the pair path was filled by :class:`~sklearn_elm.nn.PairSeeding`'s scan of in-memory
inputs): the penalty is chosen for the scan and the lasso together.  A lasso at the penalty that
predicts best keeps many terms of noise, each shrunk; the relaxed fit keeps the support of a
larger penalty and shrinks it less (``benchmarks/pair_path.py``).  The loci's row is refitted
on every locus where the float64 design and a copy of it for the folds fit in ``MAX_BYTES`` (a
lazy input's chunks are read into it); past that, on as many as fit, taken in turn from the
loci of largest training weight and those that correlate most with the target, the others
dropping out of the row, with a warning (:func:`_refitted_loci`).  A lasso row's refit is then
bagged over the folds' scans (:func:`_bag`): its cell fitted again on every sample with each
fold's pairs in the slots' places, the network holding the average of the six fits (the
pairs of smallest weight past its slots replaced by their mean, :func:`_hold_bags`).
"""

import warnings
from functools import partial

import numpy as np
import torch
from sklearn.exceptions import ConvergenceWarning

from . import _relaxed_lasso
from ._chunks import RowChunks, row_blocks, target_correlations
from ._linear_path import LASSO_WEIGHT, MAX_BYTES
from ._network import eval_output, linear_skip_of, pair_path_of, pair_products
from ._relaxed_lasso import REFIT_FACTORS, REFIT_FOLDS, REFIT_RELAX

__all__ = ["PAIR_WEIGHT", "REFIT_FACTORS", "REFIT_FOLDS", "REFIT_PAIR_WEIGHT", "REFIT_RELAX",
           "refit_lasso_paths"]

#: The pair path's l1 weight relative to the path norm's: a pair costs ``PAIR_WEIGHT
#: path_penalty_ |w|``.  The largest chance correlation among the ``p^2 / 2`` pairs a scan
#: ranks is ``sqrt(2)`` times that among the ``p`` loci, which the path penalty is scaled to,
#: and the path holds the scan's first pairs, chosen for their correlation; twice the penalty
#: predicted as well as once it on sparse traits with 200 and 1,000 loci, with fewer noise
#: pairs kept (``benchmarks/pair_path.py``).
PAIR_WEIGHT = 2.0

#: The pairs' l1 weight in the refit, relative to the loci's: ``sqrt(2)``, the ratio of the
#: largest chance correlation among the ``p^2 / 2`` pairs of a scan to that among the ``p``
#: loci (``sqrt(2 log(p^2)) / sqrt(2 log p)``).  In training the path's pairs are the scan's
#: first, chosen on the very samples the penalty is chosen on, and ``PAIR_WEIGHT`` holds their
#: chance correlation back; the refit's folds scan their own samples (``scan``), so that the
#: chance correlation no longer carries over and the weight the argument gives suffices.  On
#: the sparse panel of 1,000 independent loci of ``benchmarks/pair_path.py`` (data seeds 0-3)
#: the refit at ``PAIR_WEIGHT`` kept 65-76 loci for 40 QTL, trading noise loci for the weaker
#: true pairs, and predicted 0.912-0.938 of the ceiling against 0.935-0.965 at this weight.
REFIT_PAIR_WEIGHT = 2**0.5


#: Whether a lasso row's refit is bagged over its folds' scans (:func:`_bag`); off, the refit
#: is the chosen cell's fit as built, which the tests and benchmarks compare it with.
BAG = True

#: The fewest loci a refit of the lasso rows takes (fewer: the rows keep training's weights).
MIN_REFIT_LOCI = 64


def _refitted_loci(X, Y, rows, outputs, n_pairs, batch):
    """The loci the lasso rows' refit takes: every one where the float64 design of the ``n``
    samples of ``X`` and a copy of it for the folds fit in ``MAX_BYTES``, else as many as fit,
    taken in turn from two rankings, the loci of largest training weight (over the rows
    ``rows``, those of ``outputs``) and those of largest absolute correlation with any of those
    outputs' standardised targets (:func:`~sklearn_elm._chunks.target_correlations`), with a
    warning; the others drop out of the rows (their weights set to 0).

    Training's weights hold what the network found, which is much where it trained on fewer
    loci than samples and noise far past that; the correlation with the target is Fan and Lv's
    sure independence screening ("Sure independence screening for ultrahigh dimensional
    feature space", *JRSS B* 70, 2008), which under linkage fills a small budget with the
    neighbours of the largest QTL.  Taken in turn, the two lost at most 0.024 of the full
    refit's test r2 on three msprime panels of 1,500 to 50,000 loci where either alone lost up
    to 0.12 (``docs/benchmarks.rst``)."""
    n, p = X.X.shape if isinstance(X, RowChunks) else X.shape
    fit = int(MAX_BYTES // (2 * 8 * max(n, 1))) - n_pairs  # columns the budget holds
    if fit >= p:
        return np.arange(p)
    kept = np.zeros(0, dtype=np.intp)
    if fit >= MIN_REFIT_LOCI:  # else no refit: no pass over the samples to screen them
        weights = rows.detach().abs().amax(dim=0).cpu().numpy()
        rankings = np.empty(2 * p, dtype=np.intp)
        rankings[0::2] = np.argsort(-weights, kind="stable")
        rankings[1::2] = np.argsort(-target_correlations(X, Y, batch, outputs), kind="stable")
        _, first = np.unique(rankings, return_index=True)  # each locus where it first comes
        kept = np.sort(rankings[np.sort(first)][:fit])
    warnings.warn(
        f"The linear path's lasso rows are refitted on the {max(kept.size, fit, 0)} of {p} loci "
        f"of largest training weight or correlation with the target: the float64 design of {n} "
        f"samples x {p} loci and a copy of it for the folds would take "
        f"{2 * 8 * n * (p + n_pairs) / 2**30:.1f} GiB, past {MAX_BYTES / 2**30:.0f} GiB; the "
        "other loci drop out of the rows"
        + ("" if kept.size else
           " (too few to refit: the rows keep the weights training left, without a constant)")
        + ".  Train on fewer loci (pruned by linkage) to refit them all.",
        UserWarning, stacklevel=4)
    return kept


def _has_units(module):
    """Whether ``module`` has hidden units: its ``layers`` hold more than one linear map."""
    layers = getattr(module, "layers", None)
    return layers is not None and sum(isinstance(m, torch.nn.Linear) for m in layers) > 1


def _keeps_units(kept, dropped):
    """Whether the hidden units earn their place in an output whose paths are the lasso's:
    the refit's cross-validated error with their output held, ``kept``, is below that without
    it, ``dropped``, by more than the standard error of ``kept`` (each a ``(mean squared
    error, standard error)``).

    The one-standard-error rule (Hastie, Tibshirani and Friedman, *The Elements of
    Statistical Learning*, 7.10), with the simpler model the one without hidden units.  The
    units were trained on the samples the folds hold out, so their gain there is optimistic;
    on sparse traits in linkage they add nothing to the test r2 and noise to the additive
    effects (``benchmarks/hidden_units.py``), and where the paths predict as well without
    them the network reads more simply as loci and pairs alone.
    """
    return bool(dropped[0] > kept[0] + kept[1])


def _slot_pairs(used, per_output, pairs):
    """The pair a fold's scan puts in each used slot (``used``, of ``per_output`` slots per
    output; ``pairs`` per output, best first): ``(i, j)``, or None where it found fewer."""
    places = (divmod(int(slot), per_output) for slot in used)
    return [tuple(map(int, pairs[output][rank])) if rank < len(pairs[output]) else None
            for output, rank in places]


def _fold_products(X, used, per_output, pairs):
    """The products of a fold's pairs in the used slots' places (:func:`_slot_pairs`), over
    ``REFIT_PAIR_WEIGHT``, float64; 0 where the fold's scan found fewer pairs."""
    P = np.zeros((len(X), used.size))
    for c, pair in enumerate(_slot_pairs(used, per_output, pairs)):
        if pair is not None:
            np.multiply(X[:, pair[0]], X[:, pair[1]], out=P[:, c], dtype=np.float64)
    return P / REFIT_PAIR_WEIGHT


def _bag(design, means, loci, target, cell, alpha, own, variants, budget):
    """The relaxed lasso at the chosen cell, averaged over the refit as built and its
    ``variants``: per fold of the refit, the pairs its scan put in the used slots and a
    callable that makes their products (:func:`_slot_pairs`, :func:`_fold_products`), fitted
    on every sample in the place of the design's pair columns, in threads whose copies of the
    design take at most ``budget`` bytes (:func:`._relaxed_lasso.fit_cells`), each from the
    fit as built.

    ``design`` is centred (its column ``means``), ``target`` not; ``cell`` is the built fit's
    coefficients, penalty factor and relaxation; ``own`` the slots' own pairs.  The folds'
    scans differ in their weaker pairs, and so do the lassos on them: their average (the
    constants and each fit's terms over the number of fits) predicted 0.002 of the ceiling more
    than the fit as built on twelve msprime panels, as three networks averaged do
    (``docs/benchmarks.rst``, "Three networks averaged").

    Returns the loci's coefficients, ``{pair: weight}`` (design units), the constant, and
    whether every fit converged.
    """
    coef, factor, relax = cell
    held = {tuple(sorted(pair)): w for pair, w in zip(own, coef[loci:], strict=True)}

    def centred(pairs, products):
        P = products()
        offset = P.mean(axis=0)
        # each fit starts from the fit as built: its loci's weights, and its pairs' where
        # the fold's scan put the same pair in a slot
        start = np.concatenate([coef[:loci], [0.0 if pair is None else
                                              held.get(tuple(sorted(pair)), 0.0)
                                              for pair in pairs]])
        return P - offset, start, (offset, pairs)

    fits, done = [(coef, means[loci:], own)], True
    for c, converged, (offset, pairs) in _relaxed_lasso.fit_cells(
            design, target - target.mean(), alpha * factor, relax,
            [partial(centred, *variant) for variant in variants], budget):
        fits.append((c, offset, pairs))
        done &= converged
    loci_coef = np.mean([c[:loci] for c, _, _ in fits], axis=0)
    constant = target.mean() - means[:loci] @ loci_coef
    weights = {}
    for c, offset, pairs in fits:
        constant -= offset @ c[loci:] / len(fits)
        for pair, w in zip(pairs, c[loci:], strict=True):
            if pair is not None and w != 0:
                key = tuple(sorted(pair))
                weights[key] = weights.get(key, 0.0) + w / len(fits)
    return loci_coef, weights, constant, done


def _hold_bags(module, bags):
    """Put the bagged outputs' pairs (``bags``: output -> ``{pair: weight}``) in the pair
    path's slots, beside those the other outputs hold with a non-zero weight: each output's
    in its own block where there is room, largest first, else in any slot free.  A bagged
    output's pairs that find no slot, those of smallest weight, are left out: returns them
    per output, for the caller to put their mean in the constant.  The slots left over keep
    the pairs they held, at weight 0, for a later fit to train.

    Examples
    --------
    >>> import torch
    >>> from sklearn_elm._network import GatedMLP, held_pairs
    >>> from sklearn_elm._pair_path import _hold_bags
    >>> net = GatedMLP(4, hidden_sizes=(2,), pair_path=2)
    >>> _hold_bags(net, {0: {(0, 1): 0.5, (2, 3): -1.0, (1, 2): 0.1}})
    {0: {(1, 2): 0.1}}
    >>> [pairs.tolist() for pairs in held_pairs(net)], net.pairs.weight.tolist()
    ([[[2, 3], [0, 1]]], [[-1.0, 0.5]])
    """
    path = pair_path_of(module)
    index = module.pair_index.detach().cpu().numpy()
    used = module.pair_used.detach().cpu().numpy() > 0
    W = path.weight.detach().cpu().double().numpy()
    wanted = []
    for k, row in enumerate(W):
        held = bags.get(k)
        if held is None:  # an output refitted as built keeps what it holds
            held = {}
            for slot in np.flatnonzero(used & (row != 0)):
                pair = tuple(sorted(map(int, index[slot])))
                held[pair] = held.get(pair, 0.0) + row[slot]
        wanted.append(held)
    # the outputs not bagged first: their pairs held slots, and all find one again; each
    # output's pairs in its own block of slots where there is room, largest first, as the
    # seeding put them, then in any slot free; a pair two outputs hold takes one slot
    per_output, place, slots = W.shape[1] // len(W), {}, W.shape[1]
    for k in sorted(range(len(W)), key=lambda k: k in bags):
        held = wanted[k]
        for pair in sorted(held, key=lambda pair: -abs(held[pair])):
            if pair not in place:
                taken = set(place.values())
                own = range(k * per_output, (k + 1) * per_output)
                slot = next((s for s in (*own, *range(slots)) if s not in taken), None)
                if slot is None:
                    break
                place[pair] = slot
    weights = np.zeros_like(W)
    for k, held in enumerate(wanted):
        for pair, w in held.items():
            if pair in place:
                weights[k, place[pair]] = w
    left = {k: {pair: w for pair, w in wanted[k].items() if pair not in place} for k in bags}
    # the slots left keep the pairs they held, at weight 0, for a later fit to train
    taken = set(place.values())
    for slot in np.flatnonzero(used):
        pair = tuple(sorted(map(int, index[slot])))
        if pair not in place and len(taken) < slots:
            place[pair] = slot if slot not in taken else min(set(range(slots)) - taken)
            taken.add(place[pair])
    with torch.no_grad():
        module.pair_index.zero_()
        module.pair_used.zero_()
        for pair, slot in place.items():
            module.pair_index[slot] = torch.as_tensor(pair).to(module.pair_index)
            module.pair_used[slot] = 1.0
        path.weight.copy_(torch.as_tensor(weights).to(path.weight))
    return left


def refit_lasso_paths(net, X, Y, batch=4096, scan=None):
    """Refit each output's pair-path weights, and its linear path's row where that is the
    lasso's, by the relaxed lasso on every sample, the rest of the network held.

    Where the row is the lasso's, the refit has a constant, which goes into ``net.intercept_``:
    the network has no bias, and the loci's codes are not centred, so without one the row
    carries the targets' mean in its weights and the hidden units learn to cancel it (on
    msprime panels the row's training mean was up to 1.6 standard deviations, the units'
    -1.8), which the equivalent linear map reads as additive effects.  The refit is then
    cross-validated again with the hidden units' output dropped, and the units are dropped
    (their output weights set to 0) unless they earn their place by the one-standard-error
    rule (:func:`_keeps_units`).

    Sets ``net.lasso_refit_``, of shape (n_outputs, 2): per output, the penalty of the refit
    in multiples of ``path_penalty_`` and its relaxation (1: the lasso itself; NaN: not
    refitted); and ``net.hidden_kept_``, of shape (n_outputs,): False where the hidden units'
    output was dropped.

    Parameters
    ----------
    net : NeuralGPRegressor
        Trained (``module_``, ``path_penalty_`` and ``linear_lasso_`` set).
    X : ndarray of shape (n_samples, n_features) or RowChunks
        The training inputs (float32), or a lazy input's chunks (read into the design).
    Y : ndarray of shape (n_samples, n_outputs) or None
        The standardised targets (None for :class:`~sklearn_elm._chunks.RowChunks`,
        which hold them).
    batch : int, default=4096
        Samples the network is evaluated on at a time.
    scan : callable or None, default=None
        The scan that filled the pair path, ``rows -> `` per output the pairs (locus
        indices) it ranks first among the samples ``rows`` of ``X``
        (:func:`~sklearn_elm._seeding.fold_scan`).  Where given, each fold of the
        cross-validation scans its own training samples and holds the pairs it finds in the
        slots' places, so that the penalty is chosen for the scan and the lasso together:
        a noise pair the scan ranked first for its chance correlation with the targets does
        not keep that correlation in the folds it was not chosen on.

    Returns
    -------
    refitted : bool
        Whether anything was refitted: False without a used pair slot or a lasso row that
        fits in memory, or with a path penalty of 0.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_elm import NeuralGPRegressor
    >>> from sklearn_elm._pair_path import refit_lasso_paths
    >>> X = np.random.default_rng(0).choice([-1.0, 1.0], size=(300, 6)).astype(np.float32)
    >>> y = X[:, 0] * X[:, 1] + 0.1 * X[:, 2]
    >>> net = NeuralGPRegressor(module__hidden_sizes=(8,), max_epochs=3, random_state=0,
    ...                         pair_path=4).fit(X, y)
    >>> refit_lasso_paths(net, X, ((y - y.mean()) / y.std())[:, None].astype(np.float32))
    True
    >>> net.lasso_refit_.shape, net.hidden_kept_.shape
    ((1, 2), (1,))
    """
    module, penalty = net.module_, float(getattr(net, "path_penalty_", 0.0))
    net.lasso_refit_ = np.full((net.n_outputs_, 2), np.nan)
    net.hidden_kept_ = np.ones(net.n_outputs_, dtype=bool)
    net.refit_bagged_ = np.zeros(net.n_outputs_, dtype=bool)
    pairs, skip = pair_path_of(module), linear_skip_of(module)
    used = (torch.nonzero(module.pair_used).ravel().cpu().numpy() if pairs is not None
            else np.zeros(0, dtype=np.intp))
    lasso = np.zeros(net.n_outputs_, dtype=bool)
    if skip is not None and getattr(net, "linear_lasso_", None) is not None:
        lasso[:] = net.linear_lasso_
    n, p = X.X.shape if isinstance(X, RowChunks) else X.shape
    kept = np.arange(p)  # the loci refitted
    if lasso.any() and penalty > 0:
        kept = _refitted_loci(X, Y, skip.weight[torch.as_tensor(lasso, device=skip.weight.device)],
                              lasso, used.size, batch)
    if kept.size < min(p, MIN_REFIT_LOCI):  # too few loci fit: the rows keep their weights
        lasso[:] = False
    if penalty <= 0 or not (used.size or lasso.any()):
        return False
    weight = next(module.parameters())
    # the design, once, in the column order coordinate descent reads: the loci over their l1
    # weight where a row is refitted, then the used pairs' products over theirs
    loci = kept.size if lasso.any() else 0
    columns = torch.as_tensor(kept, device=weight.device)
    design, rest = np.empty((n, loci + used.size), order="F"), []
    units = [] if loci and _has_units(module) else None  # the hidden units' output
    with torch.no_grad():
        start = 0
        for x, y in row_blocks(X, Y, batch):
            b = torch.as_tensor(np.asarray(x), dtype=weight.dtype, device=weight.device)
            stop = start + len(b)
            out = eval_output(module, b)
            if units is not None:
                units.append(eval_output(module.layers, b).cpu().numpy().astype(np.float64))
            if used.size:
                P = pair_products(module, b)
                out = out - P @ pairs.weight.T
                design[start:stop, loci:] = P[:, used].cpu().numpy() / REFIT_PAIR_WEIGHT
            if loci:
                rows = torch.as_tensor(lasso, device=b.device)
                out[:, rows] = out[:, rows] - b @ skip.weight[rows].T
                design[start:stop, :loci] = (b if loci == p else b[:, columns]).cpu().numpy() \
                    / LASSO_WEIGHT
            # the target less what the rest of the network predicts
            rest.append(np.asarray(y, dtype=np.float64) - out.cpu().numpy())
            start = stop
    R = np.concatenate(rest)
    if not (np.isfinite(design).all() and np.isfinite(R).all()):  # diverged: fit reports it
        return False
    units = None if units is None else np.concatenate(units)
    folds = _relaxed_lasso.folds(n, getattr(net, "_seed_", 0))
    fold_pairs = None
    if scan is not None and used.size and folds:
        found = [scan(train) for train, _ in folds]  # per fold, per output: its pairs
        per_output = pairs.in_features // net.n_outputs_

        def fold_pairs(f):
            return _fold_products(X, used, per_output, found[f])
        own = [tuple(pair) for pair in module.pair_index[torch.as_tensor(used)].tolist()]
        variants = [(_slot_pairs(used, per_output, found[f]), partial(fold_pairs, f))
                    for f in range(len(folds))]
    means, bags = None, {}
    budget = MAX_BYTES - design.nbytes  # for the refit's copies of it, beside it
    net.intercept_ = np.array(net.intercept_, dtype=np.float64)  # the constants go here
    # the outputs whose pairs alone are refitted first: they read the design uncentred
    for k in sorted(range(R.shape[1]), key=lambda k: bool(lasso[k])):
        # mean squared error + l1 (REFIT_PAIR_WEIGHT |w_pairs| + LASSO_WEIGHT |w_loci|) is
        # sklearn's lasso at alpha = path_penalty / 2 on the columns divided by their weights
        cols = slice(0 if lasso[k] else loci, None)
        if design[:, cols].shape[1] == 0:
            continue
        parts = ([skip.weight[k, columns].detach().cpu().double().numpy() * LASSO_WEIGHT]
                 if lasso[k] else [])
        if used.size:
            parts.append(pairs.weight[k, used].detach().cpu().double().numpy()
                         * REFIT_PAIR_WEIGHT)
        start = np.concatenate(parts)  # training's weights: the descent starts there
        if not lasso[k]:
            c, factor, relax, done, _ = _relaxed_lasso.refit(
                design[:, cols], [R[:, k]], penalty / 2, start, folds, budget, fold_pairs)[0]
            constant = 0.0
        else:
            if means is None:  # centred in place: the constant is the lasso's intercept
                means = design.mean(axis=0)
                design -= means
            targets = [R[:, k]]
            if units is not None and folds:  # the hidden units' output dropped from the rest
                targets.append(R[:, k] + units[:, k])
            fits = _relaxed_lasso.refit(design, [r - r.mean() for r in targets], penalty / 2,
                                        start, folds, budget, fold_pairs, True)
            drop = len(fits) > 1 and not _keeps_units(fits[0][4], fits[1][4])
            c, factor, relax, done, _ = fits[drop]
            constant = targets[drop].mean() - means @ c
            if fold_pairs is not None and BAG:  # the cell fitted again on each fold's pairs
                bags[k] = (constant, *_bag(design, means, loci, targets[drop],
                                           (c, factor, relax), penalty / 2, own,
                                           variants, budget))
                done &= bags[k][-1]
            if drop:
                net.hidden_kept_[k] = False
                with torch.no_grad():
                    module.layers[-1].weight[k] = 0.0
        net.lasso_refit_[k] = factor, relax
        net.intercept_[k] += net.target_scale_[k] * constant
        if not done:
            warnings.warn(
                f"The refit of output {k}'s lasso paths stopped after {_relaxed_lasso.SWEEPS} "
                "sweeps of coordinate descent before its tolerance (loci in strong linkage slow "
                "it): "
                "its weights are those of the last sweep.",
                ConvergenceWarning, stacklevel=2)
        with torch.no_grad():
            if lasso[k]:  # the loci not refitted (past the memory budget) drop out
                skip.weight[k] = 0.0
                skip.weight[k, columns] = torch.as_tensor(c[:loci] / LASSO_WEIGHT,
                                                          dtype=weight.dtype,
                                                          device=weight.device)
            if used.size:
                pairs.weight[k, used] = torch.as_tensor(c[-used.size:] / REFIT_PAIR_WEIGHT,
                                                        dtype=weight.dtype, device=weight.device)
    held = {k: {pair: w / REFIT_PAIR_WEIGHT for pair, w in bag[2].items()}
            for k, bag in bags.items()}
    left = _hold_bags(module, held) if bags else {}
    for k, (built, loci_coef, _, constant, _) in bags.items():
        with torch.no_grad():
            skip.weight[k, columns] = torch.as_tensor(loci_coef / LASSO_WEIGHT,
                                                      dtype=weight.dtype, device=weight.device)
        # a pair left out of the slots adds its mean over the samples to the constant
        constant += sum(w * np.mean(X[:, i] * X[:, j], dtype=np.float64)
                        for (i, j), w in left[k].items())
        net.intercept_[k] += net.target_scale_[k] * (constant - built)
        net.refit_bagged_[k] = True
    return True
