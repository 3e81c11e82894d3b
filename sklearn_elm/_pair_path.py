"""The pair path's refit: after training, a lasso of the targets less the rest of the network.

:class:`~sklearn_elm.NeuralGPRegressor` trains the pair path
(``GatedMLP(pair_path=...)``) with AdamW, whose l1 term leaves the weights of pairs the data
do not hold small but not 0.  After training, each output's weights are refitted on every
sample (the ones held out for validation too) by coordinate descent: the lasso of the
standardised target less the rest of the network (its hidden units and linear path) on the
used slots' products, at the l1 weight of the step the network keeps.  That is the training
loss's own minimum over these weights with the rest held, so a pair the data do not hold gets
exactly 0 and drops out of the equivalent linear map.
"""

import numpy as np
import torch
from sklearn.linear_model import Lasso

from ._chunks import RowChunks
from ._network import eval_output, pair_path_of, pair_products

__all__ = ["PAIR_WEIGHT", "refit_pair_path"]

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


def refit_pair_path(net, X, Y, batch=4096):
    """Refit each output's pair-path weights by the lasso on every sample, the rest held.

    Parameters
    ----------
    net : NeuralGPRegressor
        Trained (``module_`` with a pair path, ``path_penalty_`` set).
    X : ndarray of shape (n_samples, n_features) or RowChunks
        The training inputs (float32), or a lazy input's chunks.
    Y : ndarray of shape (n_samples, n_outputs) or None
        The standardised targets (None for :class:`~sklearn_elm._chunks.RowChunks`,
        which hold them).
    batch : int, default=4096
        Samples the network is evaluated on at a time.

    Returns
    -------
    refitted : bool
        Whether the path was refitted: False without a pair path or a used slot.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_elm import NeuralGPRegressor
    >>> from sklearn_elm._pair_path import refit_pair_path
    >>> X = np.random.default_rng(0).choice([-1.0, 1.0], size=(300, 6)).astype(np.float32)
    >>> y = X[:, 0] * X[:, 1] + 0.1 * X[:, 2]
    >>> net = NeuralGPRegressor(module__hidden_sizes=(8,), max_epochs=3, random_state=0,
    ...                         pair_path=4).fit(X, y)
    >>> refit_pair_path(net, X, ((y - y.mean()) / y.std())[:, None].astype(np.float32))
    True
    """
    module = net.module_
    pairs = pair_path_of(module)
    if pairs is None or not bool(module.pair_used.any()):
        return False
    weight = pairs.weight
    used = torch.nonzero(module.pair_used).ravel()
    products, rest = [], []
    with torch.no_grad():
        for x, y in _blocks(X, Y, batch):
            b = torch.as_tensor(np.asarray(x), dtype=weight.dtype, device=weight.device)
            P = pair_products(module, b)
            # the target less what the rest of the network predicts (output less the path's)
            rest.append(np.asarray(y, dtype=np.float64)
                        - (eval_output(module, b) - P @ weight.T).cpu().numpy())
            products.append(P[:, used].cpu().numpy())
    P, R = np.concatenate(products).astype(np.float64), np.concatenate(rest)
    if not (np.isfinite(P).all() and np.isfinite(R).all()):  # diverged: fit reports it
        return False
    penalty = float(getattr(net, "path_penalty_", 0.0))
    coef = np.zeros((R.shape[1], used.numel()))
    for k in range(R.shape[1]):
        if penalty > 0:  # mean squared error + l1 |w|_1 is sklearn's alpha = l1 / 2
            lasso = Lasso(alpha=PAIR_WEIGHT * penalty / 2, fit_intercept=False, max_iter=5000,
                          tol=1e-6)
            coef[k] = lasso.fit(P, R[:, k]).coef_
        else:
            coef[k] = np.linalg.lstsq(P, R[:, k], rcond=None)[0]
    with torch.no_grad():
        weight[:, used] = torch.as_tensor(coef, dtype=weight.dtype, device=weight.device)
    return True
