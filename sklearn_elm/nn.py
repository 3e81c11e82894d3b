"""The torch pieces of :class:`~sklearn_elm.NeuralGPRegressor`, for use on their own.

The regressor trains :class:`GatedMLP`, a bias-free multilayer perceptron
whose equivalent linear map is exact, penalised by its
:func:`l1_path_norm` along a :class:`RegularizationPath` (a skorch
callback) from hidden units partly set to the pairs a scan of the targets
finds (:class:`PairSeeding`, another callback), with mini-batches drawn by
:func:`batch_loader`.  Import them
from here to build, penalise or train such a network another way, e.g. in
a plain skorch net or a torch training loop.

Examples
--------
>>> import torch
>>> from sklearn_elm.nn import GatedMLP, l1_path_norm
>>> net = GatedMLP(10, 1, hidden_sizes=(8,))
>>> bool(l1_path_norm(net) > 0)
True
"""

from ._network import GatedMLP, batch_loader, l1_path_norm
from ._path import RegularizationPath
from ._seeding import PairSeeding

__all__ = ["GatedMLP", "PairSeeding", "RegularizationPath", "batch_loader", "l1_path_norm"]
