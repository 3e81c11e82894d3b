"""The main job's network: trained, or several trained and averaged, and summarised.

:func:`sklearn_elm.workflow.analyse` trains the network through :func:`train_network` (one
encoding of the genotypes, in float32, for every network it trains) and records it with
:func:`network_summary`, what the report's settings show.
"""

import inspect
from numbers import Integral

import numpy as np

__all__ = ["check_n_estimators", "hidden_sizes_of", "network_summary", "train_network"]


def check_n_estimators(n_estimators):
    """``n_estimators`` as an int of at least 1, with a clear error otherwise.

    Parameters
    ----------
    n_estimators : int
        Networks to train and average.

    Returns
    -------
    n_estimators : int

    Raises
    ------
    ValueError
        Where ``n_estimators`` is not an integer (a bool is not) of at least 1.

    Examples
    --------
    >>> from sklearn_elm._training import check_n_estimators
    >>> check_n_estimators(3)
    3
    >>> check_n_estimators(0)
    Traceback (most recent call last):
    ...
    ValueError: n_estimators must be an integer of at least 1 (networks averaged), got 0.
    """
    if isinstance(n_estimators, bool) or not isinstance(n_estimators, Integral) or (
            n_estimators < 1):
        raise ValueError("n_estimators must be an integer of at least 1 (networks averaged), "
                         f"got {n_estimators!r}.")
    return int(n_estimators)


def hidden_sizes_of(regressor):
    """The hidden layer widths of a ``NeuralGPRegressor``: ``module__hidden_sizes`` where
    set (``()`` for a linear network), else its module's default.

    Parameters
    ----------
    regressor : NeuralGPRegressor

    Returns
    -------
    sizes : tuple of int

    Examples
    --------
    >>> from sklearn_elm import NeuralGPRegressor
    >>> from sklearn_elm._training import hidden_sizes_of
    >>> hidden_sizes_of(NeuralGPRegressor(module__hidden_sizes=(8, 4)))
    (8, 4)
    >>> hidden_sizes_of(NeuralGPRegressor(module__hidden_sizes=()))
    ()
    """
    sizes = regressor.get_params().get("module__hidden_sizes")
    if sizes is None:
        sizes = inspect.signature(regressor.module).parameters["hidden_sizes"].default
    return tuple(sizes)


def network_summary(members):
    """The trained network as the report's run line shows it.

    Parameters
    ----------
    members : list of NeuralGPRegressor
        The fitted network, or the networks averaged into it.

    Returns
    -------
    summary : dict
        ``hidden_sizes``, ``max_epochs``, ``epochs_trained``, ``path_penalty`` and
        ``linear_path`` (per trait, ``"ridge"``, ``"lasso"`` or ``"none"``).  Of several
        members: ``networks``, their number, ``epochs_trained_per_network`` and
        ``path_penalty_per_network`` in place of the two, and per trait the linear paths'
        kinds that occur among them (``"ridge/lasso"``).

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_elm import NeuralGPRegressor
    >>> from sklearn_elm._training import network_summary
    >>> X = np.random.default_rng(0).choice([-1.0, 1.0], size=(100, 3))
    >>> nets = [NeuralGPRegressor(module__hidden_sizes=(8,), max_epochs=epochs,
    ...                           random_state=0).fit(X, X[:, 0]) for epochs in (2, 3)]
    >>> summary = network_summary(nets[:1])
    >>> summary["hidden_sizes"], summary["epochs_trained"]
    ('8', 2)
    >>> summary = network_summary(nets)
    >>> summary["networks"], summary["epochs_trained_per_network"], "epochs_trained" in summary
    (2, [2, 3], False)
    """
    each = []
    for reg in members:
        ridge = getattr(reg, "linear_penalty_", None)
        lasso = getattr(reg, "linear_lasso_", None)
        if ridge is None:
            kinds = []
        else:
            lasso = np.zeros(len(ridge), bool) if lasso is None else lasso
            kinds = ["ridge" if np.isfinite(r) else "lasso" if l1 else "none"
                     for r, l1 in zip(ridge, lasso, strict=True)]
        each.append({"hidden_sizes": " x ".join(map(str, hidden_sizes_of(reg))),
                     "max_epochs": reg.max_epochs, "epochs_trained": len(reg.history_),
                     "path_penalty": float(reg.path_penalty_), "linear_path": kinds})
    if len(each) == 1:
        return each[0]
    summary = {key: value for key, value in each[0].items()
               if key not in ("epochs_trained", "path_penalty")}
    return {**summary, "networks": len(each),
            **{f"{key}_per_network": [s[key] for s in each]
               for key in ("epochs_trained", "path_penalty")},
            "linear_path": ["/".join(dict.fromkeys(kinds))
                            for kinds in zip(*(s["linear_path"] for s in each), strict=True)]}


def train_network(network, X, Y, n_estimators=1, log=None):
    """Fit the pipeline ``network`` (encoder, then regressor) on ``X`` and ``Y`` as its
    ``fit`` does, the encoded genotypes handed to the regressor in float32, the precision it
    trains in: no float64 copy of them is held while it trains (a Pipeline's ``fit`` keeps
    the encoder's output alive beside the regressor's float32 copy).

    With ``n_estimators > 1`` the regressor is trained that many times on the same encoded
    genotypes, one after another, with the seeds ``ELMDecomposer(n_estimators=...)``
    derives from its ``random_state`` (so the same members; each run's callbacks, such as a
    progress display or an interrupt, are the regressor's own), and the pipeline's last
    step becomes the members' average as one network
    (:func:`~sklearn_elm._ensemble.average_networks`).  Each member but the last is a copy,
    without its optimizer's state; the average's attributes other than its network (its
    linear paths' penalties, its history) are the first member's.

    Parameters
    ----------
    network : Pipeline
        An encoder, then a :class:`~sklearn_elm.NeuralGPRegressor`.
    X : array-like of shape (n_samples, n_loci)
        Genotypes.
    Y : array-like of shape (n_samples,) or (n_samples, n_traits)
        Phenotypes.
    n_estimators : int, default=1
        Networks to train and average.
    log : callable, default=None
        Called with a message before each member's training (``n_estimators > 1``).

    Returns
    -------
    network : Pipeline
        ``network``, fitted.
    members : list of NeuralGPRegressor
        The members (``[regressor]`` where ``n_estimators`` is 1).

    Examples
    --------
    >>> from sklearn.pipeline import make_pipeline
    >>> from sklearn_elm import GenotypeEncoder, NeuralGPRegressor
    >>> from sklearn_elm.datasets import make_epistatic_phenotypes
    >>> from sklearn_elm._training import train_network
    >>> data = make_epistatic_phenotypes(200, 5, random_state=0)
    >>> net = make_pipeline(GenotypeEncoder(), NeuralGPRegressor(
    ...     module__hidden_sizes=(8,), max_epochs=2, random_state=0))
    >>> net, members = train_network(net, data.genotypes, data.phenotypes, n_estimators=2)
    >>> net.predict(data.genotypes).shape, len(members), net[-1].module_.layers[0].out_features
    ((200, 1), 2, 16)
    """
    from copy import deepcopy

    from ._ensemble import average_networks, member_seeds

    encoder, regressor = network[0], network[-1]
    Z = encoder.fit_transform(X).astype(np.float32)  # the float64 encoding goes here
    if n_estimators == 1:
        regressor.fit(Z, Y)
        return network, [regressor]
    members = []
    seeds = member_seeds(regressor.random_state, n_estimators)
    for i, seed in enumerate(seeds):
        if log is not None:
            log(f"Network {i + 1} of {n_estimators} (random_state={seed}):")
        regressor.set_params(random_state=seed).fit(Z, Y)
        regressor.optimizer_.state.clear()  # Adam's moments: twice the weights, not needed
        members.append(regressor if i == len(seeds) - 1 else deepcopy(regressor))
    network.steps[-1] = (network.steps[-1][0], average_networks(members))
    return network, members
