"""The lasso paths' refit: after training, a lasso of the targets less the rest of the network.

:class:`~sklearn_elm.NeuralGPRegressor` trains two paths by the lasso: the pair path
(``GatedMLP(pair_path=...)``, at ``PAIR_WEIGHT`` times the path penalty) and, on a sparse trait,
its output's row of the linear path (``linear_lasso_``, at ``LASSO_WEIGHT`` times it).  AdamW's
l1 term leaves the weights of pairs and loci the data do not hold small but not 0.  After
training, each output's weights of both are refitted on every sample (the ones held out for
validation too) by coordinate descent: the lasso of the standardised target less the rest of the
network (its hidden units, and its linear path where that is ridge's) on the used slots'
products and the loci, at the l1 weights of the step the network keeps.  That is the training
loss's own minimum over these weights with the rest held, so a pair or a locus the data do not
hold gets exactly 0 and drops out of the equivalent linear map.  The loci's row is refitted where
the inputs are in memory and the float64 design fits in ``MAX_BYTES``; elsewhere it keeps the
weights training left and the pairs alone are refitted.
"""

import numpy as np
import torch
from sklearn.linear_model import Lasso

from ._chunks import RowChunks
from ._linear_path import LASSO_WEIGHT, MAX_BYTES
from ._network import eval_output, linear_skip_of, pair_path_of, pair_products

__all__ = ["PAIR_WEIGHT", "refit_lasso_paths"]

#: The pair path's l1 weight relative to the path norm's: a pair costs ``PAIR_WEIGHT
#: path_penalty_ |w|``.  The largest chance correlation among the ``p^2 / 2`` pairs a scan
#: ranks is ``sqrt(2)`` times that among the ``p`` loci, which the path penalty is scaled to,
#: and the path holds the scan's first pairs, chosen for their correlation; twice the penalty
#: predicted as well as once it on sparse traits with 200 and 1,000 loci, with fewer noise
#: pairs kept (``benchmarks/pair_path.py``).
PAIR_WEIGHT = 2.0


def _blocks(X, Y, batch):
    """``(x, y)`` blocks of consecutive samples of an array or of the chunks of a lazy input."""
    if isinstance(X, RowChunks):
        for c in range(len(X.bounds) - 1):
            chunk, rows = X.chunk(c), slice(X.bounds[c], X.bounds[c + 1])
            for start in range(0, len(chunk), batch):
                yield chunk[start:start + batch], X.Y[rows][start:start + batch]
    else:
        Y = np.asarray(Y).reshape(len(X), -1)
        for start in range(0, len(X), batch):
            yield X[start:start + batch], Y[start:start + batch]


def refit_lasso_paths(net, X, Y, batch=4096):
    """Refit each output's pair-path weights, and its linear path's row where that is the
    lasso's, by the lasso on every sample, the rest of the network held.

    Parameters
    ----------
    net : NeuralGPRegressor
        Trained (``module_``, ``path_penalty_`` and ``linear_lasso_`` set).
    X : ndarray of shape (n_samples, n_features) or RowChunks
        The training inputs (float32), or a lazy input's chunks (whose loci are not refitted).
    Y : ndarray of shape (n_samples, n_outputs) or None
        The standardised targets (None for :class:`~sklearn_elm._chunks.RowChunks`,
        which hold them).
    batch : int, default=4096
        Samples the network is evaluated on at a time.

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
    """
    module, penalty = net.module_, float(getattr(net, "path_penalty_", 0.0))
    pairs, skip = pair_path_of(module), linear_skip_of(module)
    used = (torch.nonzero(module.pair_used).ravel().cpu().numpy() if pairs is not None
            else np.zeros(0, dtype=np.intp))
    lasso = np.zeros(net.n_outputs_, dtype=bool)
    if skip is not None and getattr(net, "linear_lasso_", None) is not None:
        lasso[:] = net.linear_lasso_
    n, p = X.X.shape if isinstance(X, RowChunks) else X.shape
    if isinstance(X, RowChunks) or 8 * n * (p + used.size) > MAX_BYTES:
        lasso[:] = False  # the loci's design would not fit: their rows keep their weights
    if penalty <= 0 or not (used.size or lasso.any()):
        return False
    weight = next(module.parameters())
    # the design, once, in the column order coordinate descent reads: the loci over their l1
    # weight where a row is refitted, then the used pairs' products over theirs
    loci = p if lasso.any() else 0
    design, rest = np.empty((n, loci + used.size), order="F"), []
    with torch.no_grad():
        start = 0
        for x, y in _blocks(X, Y, batch):
            b = torch.as_tensor(np.asarray(x), dtype=weight.dtype, device=weight.device)
            stop = start + len(b)
            out = eval_output(module, b)
            if used.size:
                P = pair_products(module, b)
                out = out - P @ pairs.weight.T
                design[start:stop, loci:] = P[:, used].cpu().numpy() / PAIR_WEIGHT
            if loci:
                rows = torch.as_tensor(lasso, device=b.device)
                out[:, rows] = out[:, rows] - b @ skip.weight[rows].T
                design[start:stop, :loci] = b.cpu().numpy() / LASSO_WEIGHT
            # the target less what the rest of the network predicts
            rest.append(np.asarray(y, dtype=np.float64) - out.cpu().numpy())
            start = stop
    R = np.concatenate(rest)
    if not (np.isfinite(design).all() and np.isfinite(R).all()):  # diverged: fit reports it
        return False
    for k in range(R.shape[1]):
        # mean squared error + l1 (PAIR_WEIGHT |w_pairs| + LASSO_WEIGHT |w_loci|) is sklearn's
        # lasso at alpha = path_penalty / 2 on the columns divided by their weights
        cols = slice(0 if lasso[k] else loci, None)
        if design[:, cols].shape[1] == 0:
            continue
        fit = Lasso(alpha=penalty / 2, fit_intercept=False, max_iter=5000, tol=1e-6,
                    warm_start=True)
        parts = ([skip.weight[k].detach().cpu().double().numpy() * LASSO_WEIGHT]
                 if lasso[k] else [])
        if used.size:
            parts.append(pairs.weight[k, used].detach().cpu().double().numpy() * PAIR_WEIGHT)
        fit.coef_ = np.concatenate(parts)  # training's weights: the descent starts there
        c = fit.fit(design[:, cols], R[:, k]).coef_
        with torch.no_grad():
            if lasso[k]:
                skip.weight[k] = torch.as_tensor(c[:p] / LASSO_WEIGHT, dtype=weight.dtype,
                                                 device=weight.device)
            if used.size:
                pairs.weight[k, used] = torch.as_tensor(c[-used.size:] / PAIR_WEIGHT,
                                                        dtype=weight.dtype, device=weight.device)
    return True
