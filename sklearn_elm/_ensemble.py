"""Ensembles of networks: members trained with derived seeds, averaged into one network.

The average of ``k`` bias-free networks of the same architecture is itself one bias-free
network: its hidden layers are the members' side by side (block-diagonal weights) and its
output layer is theirs divided by ``k``.  Its equivalent linear map is the average of the
members' maps, exactly, so the ensemble is decomposed, predicted and explained as any single
network is.
"""

from copy import deepcopy
from numbers import Integral

import numpy as np
import torch
from joblib import Parallel, delayed
from sklearn.base import clone
from sklearn.pipeline import Pipeline
from sklearn.utils import check_random_state

from ._network import GatedMLP, linear_skip_of, pair_path_of
from ._seeds import check_seed

__all__ = ["average_networks", "fit_members", "member_seeds", "member_spread"]


def _network_step(estimator):
    """The network step of an estimator or of a pipeline ending in one, and its name."""
    if isinstance(estimator, Pipeline):
        return estimator.steps[-1][1], f"{estimator.steps[-1][0]}__"
    return estimator, ""


def member_seeds(random_state, n_estimators):
    """``n_estimators`` independent seeds derived from ``random_state``.

    An integer gives the same seeds on every call (``numpy.random.SeedSequence``), a
    ``RandomState`` draws the root from its stream, and None draws fresh entropy.

    Examples
    --------
    >>> from sklearn_elm._ensemble import member_seeds
    >>> member_seeds(0, 3) == member_seeds(0, 3), len(set(member_seeds(0, 3)))
    (True, 3)
    """
    check_seed(random_state)
    if random_state is None or isinstance(random_state, Integral):
        root = np.random.SeedSequence(random_state)
    else:
        root = np.random.SeedSequence(
            int(check_random_state(random_state).randint(np.iinfo(np.int32).max)))
    return [int(child.generate_state(1)[0] % np.iinfo(np.int32).max)
            for child in root.spawn(n_estimators)]


def _fit_member(estimator, prefix, seed, X, y):
    member = clone(estimator)
    member.set_params(**{f"{prefix}random_state": seed})
    return member.fit(X, y)


def fit_members(estimator, X, y, n_estimators, n_jobs=None):
    """Clones of ``estimator`` fitted on ``(X, y)`` with seeds derived from its network's
    ``random_state`` (:func:`member_seeds`), in parallel with joblib.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_elm import NeuralGPRegressor
    >>> from sklearn_elm._ensemble import fit_members
    >>> X = np.random.default_rng(0).choice([-1.0, 1.0], size=(200, 3))
    >>> members = fit_members(NeuralGPRegressor(module__hidden_sizes=(8,), max_epochs=5,
    ...                                         random_state=0), X, X[:, 0], 2)
    >>> [m.random_state for m in members] == [m.random_state for m in fit_members(
    ...     NeuralGPRegressor(module__hidden_sizes=(8,), max_epochs=5, random_state=0),
    ...     X, X[:, 0], 2)]
    True
    """
    net, prefix = _network_step(estimator)
    if "random_state" not in net.get_params():
        raise ValueError(
            f"n_estimators > 1 trains members with derived seeds, but the network "
            f"{type(net).__name__} has no random_state parameter."
        )
    seeds = member_seeds(net.get_params()["random_state"], n_estimators)
    return Parallel(n_jobs=n_jobs)(
        delayed(_fit_member)(estimator, prefix, seed, X, y) for seed in seeds)


def _linears(module):
    return [m for m in module.layers if isinstance(m, torch.nn.Linear)]


def average_networks(members):
    """One fitted estimator whose network is the average of the members' networks.

    Parameters
    ----------
    members : list of estimator
        Fitted :class:`~sklearn_elm.NeuralGPRegressor` (or pipelines ending in one) of the
        same architecture and preprocessing, trained on the same targets (so that their
        target scales agree; their intercepts, which hold their lasso rows' constants,
        are averaged).

    Returns
    -------
    estimator : estimator
        A copy of the first member whose ``module_`` is the average network
        (``module__hidden_sizes`` the members' widths added up, its optimizer fresh): its
        predictions are the average of the members'.

    Raises
    ------
    ValueError
        Where the members' networks are not :class:`~sklearn_elm.nn.GatedMLP` of one
        architecture, or their target scalings differ.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_elm import NeuralGPRegressor
    >>> from sklearn_elm._ensemble import average_networks, fit_members
    >>> X = np.random.default_rng(0).choice([-1.0, 1.0], size=(200, 3))
    >>> members = fit_members(NeuralGPRegressor(module__hidden_sizes=(8,), max_epochs=5,
    ...                                         random_state=0), X, X[:, 0], 3)
    >>> average = average_networks(members)
    >>> average.module_.layers[0].weight.shape
    torch.Size([24, 3])
    >>> bool(np.allclose(average.predict(X), np.mean([m.predict(X) for m in members], 0),
    ...                  atol=1e-5))
    True
    """
    nets = [_network_step(m)[0] for m in members]
    modules = [net.module_ for net in nets]
    if not all(type(m) is GatedMLP for m in modules):
        raise ValueError("average_networks averages GatedMLP networks (NeuralGPRegressor's).")
    shapes = {(tuple(tuple(layer.weight.shape) for layer in _linears(m)),
               linear_skip_of(m) is None, _slots(m)) for m in modules}
    scalings = {np.asarray(n.target_scale_).tobytes() for n in nets}
    if len(shapes) != 1 or len(scalings) != 1:
        raise ValueError(
            "average_networks needs members of one architecture trained on the same targets; "
            f"got {len(shapes)} architecture(s) and {len(scalings)} target scaling(s).")
    k = len(modules)
    layers = list(zip(*(_linears(m) for m in modules), strict=True))
    average = deepcopy(members[0])
    net = _network_step(average)[0]
    # skorch re-initialises the module (and its optimizer) on a changed module parameter;
    # the caller's torch random stream is left as it was
    with torch.random.fork_rng(devices=[]):
        net.set_params(module__hidden_sizes=tuple(k * layer[0].weight.shape[0]
                                                  for layer in layers[:-1]),
                       module__pair_path=k * _slots(modules[0]))
    with torch.no_grad():
        for target, parts in zip(_linears(net.module_), layers, strict=True):
            weights = [part.weight.detach().to(target.weight.device) for part in parts]
            if len(layers) == 1:  # a linear network: the members' average
                value = torch.stack(weights).mean(dim=0)
            elif parts is layers[0]:
                value = torch.cat(weights, dim=0)
            elif parts is layers[-1]:
                value = torch.cat(weights, dim=1) / k
            else:
                value = torch.block_diag(*weights)
            target.weight.copy_(value)
        skips = [linear_skip_of(m) for m in modules]
        if skips[0] is not None:  # the linear paths add up: their average is the average's
            linear_skip_of(net.module_).weight.copy_(torch.stack(
                [skip.weight.detach().to(target.weight.device) for skip in skips]).mean(dim=0))
        if _slots(modules[0]):  # the pair paths' slots side by side, their weights over k
            for name in ("pair_index", "pair_used"):
                getattr(net.module_, name).copy_(torch.cat([getattr(m, name) for m in modules]))
            pair_path_of(net.module_).weight.copy_(torch.cat(
                [pair_path_of(m).weight.detach() for m in modules], dim=1) / k)
    net.intercept_ = np.mean([n.intercept_ for n in nets], axis=0)
    if all(hasattr(n, "hidden_kept_") for n in nets):
        net.hidden_kept_ = np.any([n.hidden_kept_ for n in nets], axis=0)
    if all(hasattr(n, "refit_bagged_") for n in nets):
        net.refit_bagged_ = np.any([n.refit_bagged_ for n in nets], axis=0)
    net.module_.eval()
    return average


def _slots(module):
    """The pair path's slots (0 without one)."""
    pairs = pair_path_of(module)
    return 0 if pairs is None else pairs.in_features


def _decompose_member(decomposer, member, X, y):
    import warnings

    with warnings.catch_warnings():  # the ensemble's own decomposition has warned already
        warnings.simplefilter("ignore")
        return clone(decomposer).set_params(estimator=member).fit(X, y)


def member_spread(decomposer, members, X, y, n_jobs=None):
    """The standard deviation across ``members`` of their additive effects and variance
    components, each member decomposed as ``decomposer`` (an unfitted, prefit
    ``ELMDecomposer``) would, in parallel with joblib.

    Returns
    -------
    additive_std : ndarray
        Of the shape of ``additive_effects_``.
    components_std : dict
        Component name to its standard deviation (float or ndarray per output).

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_elm import ELMDecomposer, NeuralGPRegressor
    >>> from sklearn_elm._ensemble import fit_members, member_spread
    >>> rng = np.random.default_rng(0)
    >>> X = rng.choice([-1.0, 1.0], size=(400, 3))
    >>> y = X[:, 0] + rng.normal(size=400)
    >>> members = fit_members(NeuralGPRegressor(module__hidden_sizes=(8,), max_epochs=5,
    ...                                         random_state=0), X, y, 2)
    >>> std, _ = member_spread(ELMDecomposer(prefit=True), members, X, y)
    >>> std.shape
    (3,)
    """
    fits = Parallel(n_jobs=n_jobs)(
        delayed(_decompose_member)(decomposer, member, X, y) for member in members)
    additive = np.std([fit.additive_effects_ for fit in fits], axis=0, ddof=1)
    components = {key: np.std([fit.variance_components_[key] for fit in fits], axis=0, ddof=1)
                  for key in fits[0].variance_components_}
    return additive, components
