"""NeuralGPRegressor's helpers: its settings and targets checked, torch's random state, errors."""

import inspect
import numbers
import threading

import numpy as np
import torch
from skorch import NeuralNet

from ._path import auto_path_penalty
from ._seeds import check_seed

#: torch's random generator is global to the process: fits (which seed it) and predictions
#: (whose DataLoader draws from it) in threads of one process take turns, so that each fit
#: draws the stream its seed gives.  Worker processes run in parallel.
_TORCH_RANDOM = threading.RLock()


def _cuda_devices(device):
    """The CUDA devices whose random state a fit on ``device`` changes (none on the CPU)."""
    if device is None:  # skorch's "leave the module where it is"
        return []
    device = torch.device(device)
    if device.type != "cuda":
        return []
    return [device.index if device.index is not None else torch.cuda.current_device()]


def _callback_params(net, deep):
    """The callbacks' parameters, as ``get_params`` lists them: ``callbacks__NAME`` and
    ``callbacks__NAME__PARAM``, the settings ``fit`` uses.

    skorch's own listing puts a fresh instance of each default callback after the net's, so
    that a default's value replaces one set on the net (``callbacks__NAME__PARAM`` given to
    ``__init__`` or ``set_params`` was reported as the default's, before and after ``fit``;
    skorch-dev/skorch#969), and lists the net's own callbacks only once ``fit`` has made
    them.  Here the callbacks are those ``fit`` makes, in its order (a default callback as a
    fresh instance: its parameters, not the state ``fit`` leaves in the net's copy), then
    those set on the net by name, then the parameters set by name, which ``fit`` applies
    last; a callback set to None lists no parameters, and ``callbacks="disable"`` none.
    """
    prefix = "callbacks__"
    if not deep or (isinstance(net.callbacks, str) and net.callbacks == "disable"):
        return {}
    named = {key[len(prefix):]: value for key, value in vars(net).items()
             if key.startswith(prefix)}
    try:
        callbacks = dict(net._uniquely_named_callbacks())
    except ValueError:  # names that fit refuses: list what skorch lists
        callbacks = dict([*getattr(net, "callbacks_", []), *net._default_callbacks])
    callbacks.update((name, value) for name, value in named.items() if "__" not in name)
    params = {}
    for name, callback in callbacks.items():
        params[prefix + name] = callback
        if callback is not None and not isinstance(callback, type):
            params.update((f"{prefix}{name}__{key}", value)
                          for key, value in callback.get_params().items())
    params.update((prefix + name, value) for name, value in named.items()
                  if "__" in name and callbacks.get(name.split("__")[0]) is not None)
    return params


#: skorch's settings and their defaults, which NeuralGPRegressor's own signature leaves to it
_SKORCH_DEFAULTS = {name: parameter.default for name, parameter
                    in inspect.signature(NeuralNet.__init__).parameters.items()
                    if parameter.default is not inspect.Parameter.empty}


def _public_params(net, params, deep):
    """``params`` (skorch's ``get_params``) less ``_params_to_validate``, skorch's record of
    the keyword arguments, which ``__init__`` makes again from them; with ``deep=False``
    (what ``clone`` and a repr read) also less skorch's settings that are not in the
    estimator's signature and hold their defaults, which ``__init__`` restores: so that a
    repr names the settings that were set, as scikit-learn's estimators' do."""
    params.pop("_params_to_validate", None)
    if not deep:
        own = inspect.signature(type(net).__init__).parameters
        for name, default in _SKORCH_DEFAULTS.items():
            value = params.get(name, inspect.Parameter.empty)
            if name not in own and (value is default or (
                    type(value) is type(default) and value == default)):
                del params[name]
    return params


def _check_path_penalty(path_penalty):
    """Raise a ValueError unless ``path_penalty`` is ``"auto"`` or a finite number >= 0."""
    if isinstance(path_penalty, str) and path_penalty == "auto":
        return
    if not (isinstance(path_penalty, numbers.Real) and not isinstance(path_penalty, bool)
            and np.isfinite(path_penalty) and path_penalty >= 0):
        raise ValueError(
            f"path_penalty must be 'auto' or a finite number >= 0, got {path_penalty!r}."
        )


def _check_settings(net):
    """Raise a ValueError naming the setting where ``path_penalty`` is not ``"auto"`` or a
    finite number >= 0, ``max_epochs`` is not a positive integer (skorch would train
    no epoch and return the initial weights), or ``random_state`` is not a seed."""
    check_seed(net.random_state)
    _check_path_penalty(net.path_penalty)
    epochs = net.max_epochs
    if not (isinstance(epochs, numbers.Integral) and not isinstance(epochs, bool) and epochs > 0):
        raise ValueError(f"max_epochs must be a positive integer, got {epochs!r}.")


def _start_path_penalty(path_penalty, n_train, n_features):
    """The penalty at the first step of the path, for ``n_train`` training samples."""
    _check_path_penalty(path_penalty)
    if isinstance(path_penalty, str):
        return auto_path_penalty(n_train, n_features)
    return float(path_penalty)


def _standardise_targets(y):
    """Centre and scale each target column: ``Y = (y - intercept) / scale``.

    Returns the column means, the standard deviations (1 where one is 0, so
    that a constant column stays 0) and ``Y`` as float32, of shape
    (n_samples, n_outputs).  A mean or standard deviation that overflows
    float64 is an error: the network would train on NaN.
    """
    Y = np.asarray(y, dtype=np.float64).reshape(len(y), -1)
    with np.errstate(over="ignore", invalid="ignore"):  # overflow is reported below
        intercept = Y.mean(axis=0)
        scale = Y.std(axis=0)
    overflow = np.flatnonzero(~(np.isfinite(intercept) & np.isfinite(scale)))
    if overflow.size:
        raise ValueError(
            f"y is too large to standardise: the mean or standard deviation of column(s) "
            f"{overflow.tolist()} overflows float64 (largest |y| = {np.abs(Y).max():.3g}).  "
            "Rescale y, e.g. divide it by a power of 10."
        )
    scale = np.where(scale > 0, scale, 1.0)
    return intercept, scale, ((Y - intercept) / scale).astype(np.float32)


def _divergence(epoch, problem, lr):
    """The ValueError that ends a diverged ``fit``, with the fixes to try."""
    return ValueError(
        f"Training diverged at epoch {epoch}: {problem}.  Lower lr (now {lr!r}), standardise "
        "the inputs (e.g. with GenotypeEncoder) or check the criterion."
    )


def _unavailable(reason):
    """An ``available_if`` check that hides a method; ``reason`` is the error's cause."""

    def check(estimator):
        raise AttributeError(reason)

    return check


def _check_linear_penalty(linear_penalty, skip):
    """Raise a ValueError unless ``linear_penalty`` is ``"auto"``, None or a finite number
    >= 0, or where a number is given for a module without a linear path ``skip``."""
    if linear_penalty is None or (isinstance(linear_penalty, str) and linear_penalty == "auto"):
        return
    if not (isinstance(linear_penalty, numbers.Real) and not isinstance(linear_penalty, bool)
            and np.isfinite(linear_penalty) and linear_penalty >= 0):
        raise ValueError(
            f"linear_penalty must be 'auto', None or a finite number >= 0, got "
            f"{linear_penalty!r}."
        )
    if skip is None:
        raise ValueError(
            f"linear_penalty={linear_penalty!r} weighs the module's linear path, but the module "
            "has none: use GatedMLP (module__linear_skip=True) or a module with a bias-free "
            "nn.Linear `skip`, or set linear_penalty=None."
        )


def _pair_path_kwargs(net, kwargs):
    """``kwargs`` with a GatedMLP's ``pair_path`` set to ``net.pair_path`` slots per output,
    unless the user set it; a ValueError unless ``pair_path`` is an integer >= 0."""
    from ._network import GatedMLP

    slots = net.pair_path
    if not (isinstance(slots, numbers.Integral) and not isinstance(slots, bool) and slots >= 0):
        raise ValueError(f"pair_path must be an integer >= 0, got {slots!r}.")
    if isinstance(net.module, type) and issubclass(net.module, GatedMLP):
        kwargs.setdefault("pair_path", int(slots) * int(kwargs["n_outputs"]))
    return kwargs


def _penalties(net):
    """What training adds to the criterion: ``(path_penalty_ (l1_path_norm + PAIR_WEIGHT
    |pairs|_1 + LASSO_WEIGHT |lasso rows of skip|_1) + ridge term) / n_outputs_``."""
    from ._linear_path import lasso_term, ridge_term
    from ._network import l1_path_norm, pair_path_of
    from ._pair_path import PAIR_WEIGHT

    module, penalty = net.module_, getattr(net, "path_penalty_", 0.0)
    norm = 0.0
    if penalty:
        pairs = pair_path_of(module)
        norm = (l1_path_norm(module) + lasso_term(module, getattr(net, "linear_lasso_", None))
                + (0.0 if pairs is None else PAIR_WEIGHT * pairs.weight.abs().sum()))
    ridge = ridge_term(module, getattr(net, "linear_penalty_", None))
    return (penalty * norm + ridge) / net.n_outputs_


def _check_output_width(net, X):
    """A clear error where the module's outputs do not match the targets' columns."""
    from ._network import eval_output

    # a copy of the row: torch warns of a read-only array (a pandas 3 frame's values)
    out = eval_output(net.module_, torch.as_tensor(np.array(X, dtype=np.float32),
                                                   device=net.device))
    width = out.shape[-1] if out.ndim == 2 else None
    if width != net.n_outputs_:
        raise ValueError(
            f"The module returns outputs of shape {tuple(out.shape)} for one sample, but "
            f"y has {net.n_outputs_} column(s): set module__n_outputs={net.n_outputs_} "
            "(or leave it unset to infer it)."
        )


def _check_epoch(net):
    """A ValueError where a loss of the epoch's batches or a weight at its end is not
    finite."""
    epoch = net.history[-1]
    for batch in epoch["batches"]:
        for key, name in (("train_loss", "training"), ("valid_loss", "validation")):
            if not np.isfinite(batch.get(key, 0.0)):
                problem = f"the {name} loss became {batch[key]}"
                raise _divergence(epoch["epoch"], problem, net.lr)
    if not all(bool(torch.isfinite(p).all()) for p in net.module_.parameters()):
        raise _divergence(epoch["epoch"], "the network's weights became non-finite", net.lr)
