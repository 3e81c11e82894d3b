"""The cross-validated relaxed lasso of the lasso paths' refit (:mod:`._pair_path`).

Coordinate descent (scikit-learn's ``lasso_path`` and ``Lasso``) along a grid of penalties and
relaxations; the folds' fits, those of several targets and the bag's (:func:`fit_cells`) run
in threads (:func:`_workers`), each on its own data and start, so that one thread and several
give the same weights to the bit.
"""

import warnings
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import torch
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import Lasso, lasso_path
from sklearn.model_selection import KFold

__all__ = ["REFIT_FACTORS", "REFIT_FOLDS", "REFIT_RELAX", "SWEEPS", "fit_cells", "folds",
           "refit"]

#: The refit's penalties, in multiples of the path penalty, and its relaxations, in multiples
#: of the penalty: the grid its cross-validation chooses from.  The path's step is chosen on a
#: tenth of the samples, and at 1,000 loci its lasso keeps 150-450 loci for 40 QTL; the
#: relaxed fit of a penalty 1.4-4 times it predicted better on every sparse panel of
#: ``benchmarks/pair_path.py`` (``docs/benchmarks.rst``).
REFIT_FACTORS = (1.0, 2**0.5, 2.0, 2 * 2**0.5, 4.0)
REFIT_RELAX = (1.0, 0.5, 0.25, 0.125)
#: Folds of the refit's cross-validation, and the fewest samples a fold may hold (with fewer,
#: the refit stays at the path penalty, unrelaxed).  Five folds chose better than three on
#: every sparse panel of ``benchmarks/pair_path.py`` at data seeds 0 and 1 (the refit of one
#: trained network, ``docs/benchmarks.rst``), at a few seconds more.
REFIT_FOLDS = 5
MIN_FOLD = 20


#: Coordinate descent's sweeps per fit.  The loci's codes are not centred (the network has no
#: bias), so on loci in linkage, whose common allele most samples share, the columns are close
#: to collinear and the lasso converges slowly: on 1,000 msprime loci 5,000 sweeps leave its
#: objective within 0.05 % of the minimum that 45,000 reach.
SWEEPS = 5000

#: The coordinate descent's seed.  scikit-learn's draws one from numpy's global generator
#: unless given one, even in the cyclic order these fits use, which never reads it: a fit would
#: move the caller's ``np.random`` stream.
CYCLIC_SEED = 0


def _path(D, r, alphas, start, tol):
    """Lasso coefficients of ``r`` on ``D`` at each of ``alphas`` (descending), from ``start``
    (which coordinate descent overwrites), and whether each converged; its convergence
    warnings are :func:`refit`'s to silence."""
    gram = D.shape[1] <= D.shape[0]  # coordinate descent on the Gram matrix where it is small
    _, coefs, _, sweeps = lasso_path(D, r, alphas=alphas, coef_init=start, precompute=gram,
                                     tol=tol, max_iter=SWEEPS, copy_X=False, return_n_iter=True,
                                     random_state=CYCLIC_SEED)
    return coefs, np.asarray(sweeps) < SWEEPS


def _relax(D, r, alpha, coef, tol):
    """The lasso at ``alpha`` on the columns where ``coef`` is non-zero (0 elsewhere), and
    whether it converged."""
    kept = np.flatnonzero(coef)
    out = np.zeros_like(coef)
    if not kept.size:
        return out, True
    fit = Lasso(alpha=alpha, fit_intercept=False, max_iter=SWEEPS, tol=tol, warm_start=True,
                precompute=kept.size <= D.shape[0], random_state=CYCLIC_SEED)
    fit.coef_ = coef[kept].copy()
    out[kept] = fit.fit(D[:, kept], r).coef_
    return out, fit.n_iter_ < SWEEPS


def _fit_cell(D, r, alpha, relax, start):
    """The relaxed lasso of ``r`` on ``D`` at ``alpha`` (relaxed by ``relax``) from ``start``
    (left unchanged), and whether it converged."""
    coefs, converged = _path(D, r, np.array([alpha]), start.copy(), 1e-6)
    if relax == 1:
        return coefs[:, -1], bool(converged[-1])
    return _relax(D, r, alpha * relax, coefs[:, -1], 1e-6)


def fit_cells(D, r, alpha, relax, blocks, budget):
    """The relaxed lasso at one cell of :func:`refit`'s grid (penalty ``alpha``, relaxed by
    ``relax``) once per item of ``blocks``: callables that return the columns to fit in the
    place of ``D``'s last ones (as many), the coefficients the fit starts from, and something
    to hand back with the fit.  The fits run in :func:`_workers` threads, each on its own copy
    of ``D`` within ``budget`` bytes; with one thread, on ``D`` itself, its last columns
    restored after.

    A start near the solution (the cell's fit on other columns in those places) saves most of
    the sweeps: on the 1,700 x 12,064 design of a 2,000 x 12,000 msprime panel the bag's five
    fits took 1.9 s in one thread, against 6.0 s down the grid's penalties from training's
    weights, and the report's figures moved in the seventh digit (``docs/benchmarks.rst``).

    Returns per block the coefficients, whether the fit converged, and the block's third
    value.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_elm._relaxed_lasso import fit_cells
    >>> rng = np.random.default_rng(0)
    >>> D, b = rng.normal(size=(200, 4)), rng.normal(size=(200, 1))
    >>> r = D[:, 0] + 2 * b[:, 0]
    >>> before = D.copy()
    >>> fits = fit_cells(D, r, 0.01, 1.0, [lambda: (b, np.zeros(4), "b")], 2**30)
    >>> np.round(fits[0][0], 1).tolist(), fits[0][1:], np.array_equal(D, before)
    ([1.0, 0.0, 0.0, 2.0], (True, 'b'), True)
    """
    width = D.shape[1]
    workers = _workers(len(D), width, len(blocks), budget)

    def fit(block, into):
        columns, start, extra = block()
        held = into[:, width - columns.shape[1]:].copy() if into is D else None
        into[:, width - columns.shape[1]:] = columns
        coef, converged = _fit_cell(into, r, alpha, relax, start)
        if held is not None:
            D[:, width - columns.shape[1]:] = held
        return coef, converged, extra

    # the filter is set here, for the threads' fits too (catch_warnings is not thread-safe);
    # convergence is returned, for the caller to report
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        if workers == 1:
            return [fit(block, D) for block in blocks]
        with ThreadPoolExecutor(workers) as pool:
            return list(pool.map(lambda block: fit(block, np.array(D, order="F")), blocks))


def folds(n, seed):
    """The refit's cross-validation folds of ``n`` samples (none with too few)."""
    if n < REFIT_FOLDS * MIN_FOLD:
        return []
    return list(KFold(REFIT_FOLDS, shuffle=True, random_state=seed).split(np.empty((n, 1))))


def _workers(n, columns, n_jobs, budget):
    """Fits the refit runs at once: at most torch's threads (the thread budget
    :class:`~sklearn_elm.NeuralGPRegressor` trains with, ``--threads`` in the CLI) and
    ``n_jobs``, and as many as the ``budget`` bytes hold each fold's float64 copy of the design
    (``8 n columns``, the rows it fits and those it predicts) and, where the columns are fewer
    than the samples, its Gram matrix (``8 columns^2``); at least 1.

    Coordinate descent runs on one core, outside the GIL, and each fit is on its own: the
    threads give the same weights as one (on the network of a 1,700 x 12,000 msprime panel,
    two threads refitted in 57 s what one did in 88 s)."""
    n, columns = max(int(n), 1), max(int(columns), 1)
    each = 8 * n * columns + (8 * columns * columns if columns <= n else 0)
    return int(max(1, min(n_jobs, torch.get_num_threads(), budget // each)))


def _fold_squares(D, r, alpha, alphas, start, fold, pairs, centre):
    """The squared errors on fold ``fold``'s held-out rows of every penalty and relaxation of
    the grid, fitted on its training rows, shape (factors, relaxations, held-out rows);
    ``pairs``, where given, the design's last columns as the fold's own scan chose them."""
    train, test = fold
    # the fold's rows, in the solver's order, and the rows it predicts: one copy of D
    Dt = np.empty((len(train), D.shape[1]), order="F")
    np.take(D, train, axis=0, out=Dt, mode="clip")
    Dv = D[test]
    if pairs is not None:
        Dt[:, D.shape[1] - pairs.shape[1]:], Dv[:, D.shape[1] - pairs.shape[1]:] = (
            pairs[train], pairs[test])
    rt, rv = r[train], r[test]
    if centre:
        mean, level = Dt.mean(axis=0), rt.mean()
        Dt -= mean
        Dv -= mean
        rt, rv = rt - level, rv - level
    # a fold's fits only choose: they stop at a looser tolerance
    path = _path(Dt, rt, alphas, start.copy(), 1e-4)[0][:, ::-1]
    squares = np.empty((len(REFIT_FACTORS), len(REFIT_RELAX), len(test)))
    for a, factor in enumerate(REFIT_FACTORS):
        for b, relax in enumerate(REFIT_RELAX):
            coef = (path[:, a] if relax == 1 else
                    _relax(Dt, rt, alpha * factor * relax, path[:, a], 1e-4)[0])
            squares[a, b] = (rv - Dv @ coef) ** 2
    return squares


def refit(D, targets, alpha, start, folds, budget, fold_pairs=None, centre=False):
    """The relaxed lasso of each of ``targets`` on ``D`` whose penalty and relaxation
    cross-validate best over ``folds``, each fit from ``start`` (left unchanged);
    ``fold_pairs(f)``, where given, is the design's last columns (the pairs' products) as fold
    ``f``'s own scan chose them.  With ``centre``, the fits have a constant: ``D``'s columns and
    the targets come centred, and each fold centres its training rows (and the rows it
    predicts by their means).  The fits, and the folds of every target, run in
    :func:`_workers` threads, whose copies of ``D`` take at most ``budget`` bytes (one thread
    whatever it is).

    Returns per target the coefficients, the chosen penalty (in units of ``alpha``) and
    relaxation, whether the fit of those coefficients converged, and the cross-validated mean
    squared error of the choice with its standard error over the samples (None without
    folds).
    """
    alphas = alpha * np.asarray(REFIT_FACTORS)[::-1]  # descending: each fit starts the next
    workers = _workers(len(D), D.shape[1], max(len(folds), 1) * len(targets), budget)
    # the fits say nothing of their convergence: the fit kept is checked by the caller.  The
    # filter is set here, in the calling thread, for the threads' fits too (catch_warnings is
    # not thread-safe: the threads must not enter it themselves)
    with warnings.catch_warnings(), ThreadPoolExecutor(workers) as pool:
        warnings.simplefilter("ignore", ConvergenceWarning)
        return _cross_validated(D, targets, alpha, alphas, start, folds, fold_pairs, centre,
                                pool.map if workers > 1 else map)


def _cross_validated(D, targets, alpha, alphas, start, folds, fold_pairs, centre, run):
    """:func:`refit`'s fits, each call of ``run`` (``map``, or a thread pool's) over the
    targets, then over every fold of every target."""
    fulls = [(coefs[:, ::-1], converged[::-1])  # ascending again, as REFIT_FACTORS
             for coefs, converged in run(lambda r: _path(D, r, alphas, start.copy(), 1e-6),
                                         targets)]
    if not folds:
        return [(full[:, 0], 1.0, 1.0, converged[0], None) for full, converged in fulls]
    jobs = [(t, f) for t in range(len(targets)) for f in range(len(folds))]
    parts = list(run(lambda job: _fold_squares(
        D, targets[job[0]], alpha, alphas, fulls[job[0]][0][:, -1], folds[job[1]],
        None if fold_pairs is None else fold_pairs(job[1]), centre), jobs))

    def choose(t):
        squares = np.zeros((len(REFIT_FACTORS), len(REFIT_RELAX), len(targets[t])))
        for f, (_, test) in enumerate(folds):
            squares[:, :, test] = parts[t * len(folds) + f]
        a, b = np.unravel_index(np.argmin(squares.sum(axis=2)), squares.shape[:2])
        factor, relax = REFIT_FACTORS[a], REFIT_RELAX[b]
        full, converged = fulls[t]
        coef, done = ((full[:, a], converged[a]) if relax == 1 else
                      _relax(D, targets[t], alpha * factor * relax, full[:, a], 1e-6))
        chosen = squares[a, b]
        return coef, factor, relax, done, (chosen.mean(), chosen.std() / np.sqrt(chosen.size))

    return list(run(choose, range(len(targets))))
