"""PairSeeding: start some hidden units on the pairs a scan of the training targets finds.

A pair ``z_i z_j`` with no marginal effect gives the gradient of a randomly initialised
network almost nothing to follow: among the ``p (p - 1) / 2`` pairs of a panel the network
finds the additive loci and few of the pairs.  Before the first epoch this callback scans
every pair's centred product against each standardised training target (the scan PLINK's
``--epistasis`` runs), less its GBLUP prediction where
:class:`~sklearn_elm.NeuralGPRegressor` has fitted GBLUP to choose its linear path, and sets
four hidden units of a one-hidden-layer ReLU network to each of the pairs that correlate
most, with the pair's penalised slope as a start.  Under linkage the product of two loci
in LD is close to a linear function of either (for a 0/1 code, exactly so where they are
copies), so that a scan of the target itself ranks first phantom pairs of the loci near a
large additive QTL; the residual of the additive fit does not hold them.  For codes
-1/0/+1 the four units represent the product exactly::

    z_i z_j = (|z_i + z_j| - |z_i - z_j|) / 2,   |u| = relu(u) + relu(-u)

Where the network has a pair path (``GatedMLP(pair_path=...)``), its slots get the pairs too,
each with its lasso slope as a start.

Training then keeps, moves or prunes these units like any other (the path-norm penalty
removes the false ones), so the seeds are a starting point, not a constraint.
"""

import numbers

import numpy as np
import torch
from sklearn.utils import Bunch
from skorch.callbacks import Callback
from torch import nn

from . import _chunks
from ._chunks import chunked_base, read_rows, target_correlations
from ._decomposition._joint import COPY_R
from ._decomposition._scan import BLOCK_BYTES, _genotypes, _scan_basis, _scan_pairs
from ._network import pair_path_of
from ._pair_path import PAIR_WEIGHT

__all__ = ["PairSeeding", "fold_scan", "scan_pairs"]

#: Multiply-adds the scan may take, ``n L^2`` (a few seconds on two cores): past it the pairs
#: are scanned among the ``L`` loci that correlate most with the targets.
SEED_FLOPS = 2e11

#: Samples the scan reads at most (evenly spaced over the training split).
SEED_SAMPLES = 20_000

#: Hidden units per seeded pair.
UNITS_PER_PAIR = 4

#: Pairs the scan ranks per pair it keeps, from which the copies are left out
#: (:func:`_distinct`).
CANDIDATES_PER_PAIR = 8


def _training_arrays(dataset):
    """``(X, y, rows)`` of a skorch ``Dataset`` or a ``Subset`` of one; for a lazy ``X``
    (:class:`~sklearn_elm._chunks.RowChunks`) a sample of the rows of at most
    :data:`~sklearn_elm._chunks.CHUNK_BYTES`, read now; None where the arrays are not
    numpy arrays."""
    chunked = chunked_base(dataset)
    if chunked is not None:
        base, rows = chunked
        size = min(rows.size, SEED_SAMPLES, max(3, _chunks.CHUNK_BYTES // (4 * base.X.shape[1])))
        rows = np.sort(rows[np.linspace(0, rows.size - 1, size).astype(np.intp)])
        return read_rows(base.X, rows), base.Y[rows], np.arange(size)
    rows = None
    if isinstance(dataset, torch.utils.data.Subset):
        dataset, rows = dataset.dataset, np.asarray(dataset.indices)
    X, y = getattr(dataset, "X", None), getattr(dataset, "y", None)
    if not (isinstance(X, np.ndarray) and isinstance(y, np.ndarray)) or X.ndim != 2:
        return None
    if rows is None:
        rows = np.arange(len(X))
    return X, y.reshape(len(y), -1), rows


def _lasso_slope(x, y, l1):
    """``(slope, shrunk)``: the least-squares slope of ``y`` on ``x`` without intercept, and
    the minimiser of ``mean((y - b x)^2) + l1 |b|``, the slope moved ``l1 / (2 mean(x^2))``
    towards 0 (0 where it would cross, and for a constant 0 ``x``)."""
    var = x @ x / len(x)
    if not var > 0:
        return 0.0, 0.0
    slope = (x @ y) / len(x) / var
    return slope, np.sign(slope) * max(abs(slope) - l1 / (2.0 * var), 0.0)


def _fill_pair_path(module, X, rows, y, pairs, k, first, penalty):
    """Fill the pair path's slots from ``first`` on with ``pairs`` for target ``k``, each
    weight at its lasso slope on its own: the least-squares slope (without intercept) of ``y``
    on ``x = x_i x_j`` moved ``PAIR_WEIGHT penalty / (2 mean(x^2))`` towards 0 (and 0 where
    it would cross).  The other targets' weights of those slots start at 0."""
    weight = module.pairs.weight
    for m, (i, j) in enumerate(pairs):
        x = X[rows, i].astype(np.float64) * X[rows, j]
        start = _lasso_slope(x, y, PAIR_WEIGHT * penalty)[1]
        slot = first + m
        module.pair_index[slot] = torch.tensor([int(i), int(j)])
        module.pair_used[slot] = 1.0
        weight[:, slot] = 0.0
        weight[k, slot] = float(start) if np.isfinite(start) else 0.0


def _less_additive(X, rows, Y, additive):
    """``Y`` (the targets of ``rows``) less the centred additive fit ``X[rows] @ additive.T``
    (``X`` read in blocks of rows of at most :data:`BLOCK_BYTES` in float64); ``Y`` itself
    where ``additive`` is None."""
    if additive is None:
        return Y
    fit = np.empty_like(Y)
    block = max(1, BLOCK_BYTES // (8 * X.shape[1]))
    for start in range(0, len(rows), block):
        part = rows[start:start + block]
        fit[start:start + block] = np.asarray(X[part], dtype=np.float64) @ additive.T
    return Y - (fit - fit.mean(axis=0))


def _seedable_layers(module):
    """The two linear layers and the ``|u|`` scale of a one-hidden-layer ReLU or leaky-ReLU
    network (``relu(u) + relu(-u) = s |u|``), or None for any other module; of a module
    with a ``layers`` stack, the stack's (a linear skip path beside it takes no pair)."""
    stack = module.layers if isinstance(getattr(module, "layers", None), nn.Module) else module
    layers = [m for m in stack.modules() if isinstance(m, nn.Linear)]
    acts = [m for m in stack.modules() if isinstance(m, (nn.ReLU, nn.LeakyReLU, nn.SiLU,
                                                         nn.GELU))]
    if len(layers) != 2 or len(acts) != 1 or any(m.bias is not None for m in layers):
        return None
    if isinstance(acts[0], nn.ReLU):
        return layers[0], layers[1], 1.0
    if isinstance(acts[0], nn.LeakyReLU) and acts[0].negative_slope < 1:
        return layers[0], layers[1], 1.0 - acts[0].negative_slope
    return None


def _candidate_loci(X, rows, Y, size):
    """The ``size`` loci of largest absolute correlation with any target column over the
    samples ``rows`` of ``X`` (``Y`` holds theirs), all loci where ``size`` covers them."""
    p = X.shape[1]
    if size >= p:
        return np.arange(p)
    score = target_correlations(X, Y, len(rows), rows=rows)
    return np.sort(np.argsort(-score, kind="stable")[:size])


def _distinct(Zc, pairs, take):
    """The first ``take`` of ``pairs`` (columns of the centred ``Zc``, best first) whose centred
    products correlate below ``COPY_R`` with those of every pair kept before them, shape
    (m, 2).

    Under linkage the pairs a scan ranks first are mostly copies of a few strong pairs (their
    loci's neighbours, whose products correlate 0.97-1.0 with the pair's own): on 1,000 msprime
    loci the first 32 pairs of a scan were copies of 4-5 pairs.  A copy is what the library
    reports as the same pair (:data:`~sklearn_elm._decomposition._joint.COPY_R`).
    """
    kept, columns = [], np.empty((len(Zc), take))
    for a, b in pairs:
        if len(kept) == take:
            break
        x = Zc[:, a].astype(np.float64) * Zc[:, b]
        x -= x.mean()
        norm = np.sqrt(x @ x)
        if not norm > 0:
            continue
        x /= norm
        if kept and np.max(np.abs(columns[:, :len(kept)].T @ x)) >= COPY_R:
            continue
        columns[:, len(kept)] = x
        kept.append((a, b))
    return np.array(kept, dtype=np.intp).reshape(-1, 2)


def scan_pairs(X, rows, Y, additive, take):
    """The scan that :class:`PairSeeding` seeds from, on the samples ``rows`` of ``X``.

    Reads at most :data:`SEED_SAMPLES` of ``rows`` (evenly spaced), and where the scan of
    every pair would cost more than :data:`SEED_FLOPS` multiply-adds, the pairs of the loci
    that correlate most with any target.  Each target is scanned less its centred additive
    fit ``X @ additive.T`` (the target itself where ``additive`` is None), and of the
    ``CANDIDATES_PER_PAIR * take`` pairs ranked first a copy in linkage of a pair ranked
    before it is left out (:func:`_distinct`).

    Returns a Bunch: ``rows`` (those read), ``loci`` (those scanned), ``G`` (their
    genotypes), ``R`` (the targets of ``rows`` less the additive fit, float64) and ``pairs``
    (per target, the at most ``take`` pairs ranked first, none a copy of another, as indices
    into ``loci``, shape (m, 2)).

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_elm._seeding import scan_pairs
    >>> X = np.random.default_rng(0).choice([-1.0, 1.0], size=(500, 10)).astype(np.float32)
    >>> found = scan_pairs(X, np.arange(500), (X[:, 2] * X[:, 7])[:, None], None, 1)
    >>> found.loci[found.pairs[0]].tolist()
    [[2, 7]]
    """
    if len(rows) > SEED_SAMPLES:
        rows = rows[np.linspace(0, len(rows) - 1, SEED_SAMPLES).astype(np.intp)]
    Y = Y[rows].astype(np.float64)
    size = int(min(X.shape[1], max(2, np.sqrt(SEED_FLOPS / len(rows)))))
    loci = _candidate_loci(X, rows, Y, size)
    R = _less_additive(X, rows, Y, additive)
    G = _genotypes(X[np.ix_(rows, loci)], overwrite=True)
    basis = _scan_basis(G, np.arange(loci.size), self_terms=False)
    pairs = [_distinct(basis.Zc, _scan_pairs(basis, R[:, k] - R[:, k].mean(), set(),
                                             CANDIDATES_PER_PAIR * take), take)
             for k in range(Y.shape[1])]
    return Bunch(rows=rows, loci=loci, G=G, R=R, pairs=pairs)


def fold_scan(net, X, Y):
    """The scan of :class:`PairSeeding` as a function of the samples it reads, for the
    refit's folds (:func:`~sklearn_elm._pair_path.refit_lasso_paths`'s ``scan``): ``rows ->``
    per target, the pairs (locus indices) ranked first among those of ``rows``.  None where
    this fit's pair path was not filled by that scan of in-memory inputs.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_elm import NeuralGPRegressor
    >>> from sklearn_elm._seeding import fold_scan
    >>> X = np.random.default_rng(0).choice([-1.0, 1.0], size=(400, 8)).astype(np.float32)
    >>> y = X[:, 1] * X[:, 4]
    >>> net = NeuralGPRegressor(module__hidden_sizes=(8,), max_epochs=2, pair_path=2,
    ...                         random_state=0).fit(X, y)
    >>> scan = fold_scan(net, X, ((y - y.mean()) / y.std())[:, None])
    >>> scan(np.arange(200))[0][0].tolist()  # the first pair among the first 200 samples
    [1, 4]
    """
    seeding = [cb for _, cb in getattr(net, "callbacks_", []) if isinstance(cb, PairSeeding)]
    if (not seeding or not seeding[0].seeded_ or pair_path_of(net.module_) is None
            or not isinstance(X, np.ndarray) or Y is None):
        return None
    Y = np.asarray(Y).reshape(len(X), -1)
    additive, slots = getattr(net, "_additive_fit_", None), net.module_.pairs.in_features
    slots //= Y.shape[1]

    def scan(rows):
        found = scan_pairs(X, rows, Y, additive, slots)
        return [found.loci[pairs] for pairs in found.pairs]

    return scan


class PairSeeding(Callback):
    """Start hidden units on the pairs that a scan of the training targets ranks first.

    At the first epoch of a fit from fresh weights (not a warm start), the
    centred product of every pair of loci is scanned against each
    standardised training target, less its GBLUP prediction (centred) where
    the regressor's ``linear_penalty="auto"`` has fitted GBLUP on the
    training split (so that loci in linkage with an additive QTL do not
    rank first as a phantom pair), and for each target the ``n_pairs`` pairs
    of largest correlation, none a copy in linkage of a pair ranked before it
    (centred products correlated at ``|r| >= 0.9``), get four hidden units each, which together
    compute ``b z_i z_j`` (exactly for codes -1/0/+1); their other weights
    are 0.  The rest of the units keep their random initialisation.  ``b``
    is the pair's slope shrunk as the first step of the path would shrink
    it on its own: the least-squares slope of the target (less GBLUP's
    prediction, as scanned) on ``x = z_i z_j``
    (without intercept, as the network has none) moved ``2 path_penalty_ /
    mean(x^2)`` towards 0 (divided by ``1 - negative_slope`` for a leaky
    ReLU, whose units cost more path norm), so that noise pairs start near
    0.  Only the training split is read.  Where the module has a pair
    path (``GatedMLP(pair_path=...)``, as
    :class:`~sklearn_elm.NeuralGPRegressor` builds it), its slots are
    filled too, evenly per target, with the pairs ranked first: a slot's
    weight starts at its lasso slope, the least-squares slope of the target
    on ``x_i x_j`` moved ``PAIR_WEIGHT path_penalty_ / (2 mean(x^2))``
    towards 0 (see :class:`~sklearn_elm.NeuralGPRegressor`'s ``pair_path``).

    A randomly initialised network finds pairs that have no marginal effect
    slowly, if at all, among the ``p (p - 1) / 2`` of a panel; seeded, it
    starts from the pairs the data point to and the path-norm penalty prunes
    those that do not hold.  Where the scan would cost more than
    :data:`SEED_FLOPS` multiply-adds, pairs are scanned among the loci that
    correlate most with the targets, on at most :data:`SEED_SAMPLES`
    samples.

    Parameters
    ----------
    n_pairs : "auto" or int, default="auto"
        Pairs seeded per target in hidden units.  ``"auto"`` is ``min(32,
        units // (8 * n_outputs))``, so that at most half of the hidden units
        are seeded.  0 seeds no unit (a pair path is still filled; build the
        module with ``pair_path=0`` to have none).

    Attributes
    ----------
    pairs_ : list of ndarray of shape (n_seeded, 2)
        Per target, the locus indices of the seeded pairs (in units or in the
        pair path), best first (empty where nothing was seeded).
    seeded_ : bool
        Whether the last fit seeded its network.  It does not for a
        warm-started fit, nor for ``n_pairs=0`` or a module that is not a
        one-hidden-layer bias-free ReLU (or leaky ReLU) network such as the
        default :class:`~sklearn_elm.nn.GatedMLP`, unless the module has a
        pair path to fill.

    See Also
    --------
    sklearn_elm.NeuralGPRegressor : trains with this callback by default.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_elm import NeuralGPRegressor
    >>> rng = np.random.default_rng(0)
    >>> X = rng.choice([-1.0, 1.0], size=(400, 30))
    >>> y = X[:, 3] * X[:, 7] + 0.3 * rng.standard_normal(400)
    >>> reg = NeuralGPRegressor(module__hidden_sizes=(32,), max_epochs=60,
    ...                         callbacks__pair_seeding__n_pairs=2,
    ...                         random_state=0).fit(X, y)
    >>> seeding = dict(reg.callbacks_)["pair_seeding"]
    >>> seeding.pairs_[0][0].tolist()
    [3, 7]
    >>> bool(reg.score(X, y) > 0.8)
    True
    """

    def __init__(self, n_pairs="auto"):
        self.n_pairs = n_pairs

    def initialize(self):
        """Check ``n_pairs`` and forget the last fit's seeds."""
        if not (self.n_pairs == "auto" or (isinstance(self.n_pairs, numbers.Integral)
                                           and not isinstance(self.n_pairs, bool)
                                           and self.n_pairs >= 0)):
            raise ValueError(f"n_pairs must be 'auto' or an integer >= 0, got {self.n_pairs!r}.")
        self.pairs_, self.seeded_ = [], False
        return self

    def on_train_begin(self, net, **kwargs):
        """Forget the last fit's seeds."""
        self.pairs_, self.seeded_ = [], False

    def on_epoch_begin(self, net, dataset_train=None, **kwargs):
        """Seed the network at the first epoch of its history (a fit from fresh weights)."""
        fresh = getattr(net, "_fresh_init_", True)  # set by NeuralGPRegressor.fit
        if len(net.history) != 1 or not fresh or dataset_train is None:
            return
        found = _seedable_layers(net.module_) if self.n_pairs != 0 else None
        path = pair_path_of(net.module_)
        arrays = _training_arrays(dataset_train)
        if (found is None and path is None) or arrays is None:
            return
        X, Y, rows = arrays
        n_outputs = Y.shape[1]
        per_output = 0
        if found is not None:
            units = found[0].out_features
            per_output = (min(32, units // (8 * n_outputs)) if self.n_pairs == "auto"
                          else int(self.n_pairs))
            per_output = min(per_output, units // (UNITS_PER_PAIR * n_outputs))
        slots = 0 if path is None else path.in_features // n_outputs
        if max(per_output, slots) < 1 or X.shape[1] < 2 or len(rows) < 3:
            return
        scan = scan_pairs(X, rows, Y, getattr(net, "_additive_fit_", None),
                          max(per_output, slots))
        penalty = float(getattr(net, "path_penalty_", 0.0))
        with torch.no_grad():
            for k, pairs in enumerate(scan.pairs):
                if per_output:
                    hidden, output, scale = found
                    self._seed(hidden, output, scale, scan.G, scan.R[:, k],
                               pairs[:per_output], scan.loci, k,
                               k * per_output * UNITS_PER_PAIR, penalty)
                if slots:
                    _fill_pair_path(net.module_, X, scan.rows, scan.R[:, k],
                                    scan.loci[pairs[:slots]], k, k * slots, penalty)
                self.pairs_.append(scan.loci[pairs[:max(per_output, slots)]])
        self.seeded_ = True

    @staticmethod
    def _seed(hidden, output, scale, G, y, pairs, loci, k, first, penalty):
        """Set four units per pair from ``first`` on to ``b z_i z_j`` for target ``k``.

        ``b`` is the pair's slope under the first step's penalty, on its own: the four units
        cost ``4 |b| / s`` of path norm (``s`` is 1 for a ReLU, ``1 - negative_slope`` for a
        leaky ReLU), so the mean squared error plus ``penalty`` times that is least at the
        least-squares slope (without intercept, of what the units compute, ``x``) moved ``2
        penalty / (s mean(x^2))`` towards 0 (and 0 where it would cross).  A unit whose
        output weight starts at 0 still reads its pair and grows where the data hold it."""
        signs = torch.tensor([[1.0, 1.0], [-1.0, -1.0], [1.0, -1.0], [-1.0, 1.0]])
        out_signs = torch.tensor([1.0, 1.0, -1.0, -1.0])
        W1, W2 = hidden.weight, output.weight
        for m, (i, j) in enumerate(pairs):
            # the slope, without intercept (the network has none), of what the units
            # compute: (|z_i + z_j| - |z_i - z_j|) / 2, which is z_i z_j for codes -1/0/+1
            zi, zj = G.Z[:, i].astype(np.float64), G.Z[:, j].astype(np.float64)
            product = (np.abs(zi + zj) - np.abs(zi - zj)) / 2.0
            # four units cost 4 |b| / s of path norm
            slope, shrunk = _lasso_slope(product, y, 4.0 * penalty / scale)
            if not np.isfinite(slope):  # inputs too large for float64 sums
                continue
            # balance the two layers (|w2| = |w1|_2), as the penalty is indifferent to it
            c = float(np.sqrt(max(abs(slope), 1e-3) / (2.0 * np.sqrt(2.0))))
            units = slice(first + UNITS_PER_PAIR * m, first + UNITS_PER_PAIR * (m + 1))
            W1[units] = 0.0
            W1[units, int(loci[i])] = (c * signs[:, 0]).to(W1)
            W1[units, int(loci[j])] = (c * signs[:, 1]).to(W1)
            W2[:, units] = 0.0
            W2[k, units] = (shrunk / (2.0 * c * scale) * out_signs).to(W2)
