"""The regularisation path: a skorch callback that trains down decreasing penalties.

:class:`RegularizationPath` runs one cosine learning-rate cycle per penalty
strength, warm-starting each from the last, and keeps the step that held-out
data prefer.  Its helpers set the default first penalty
(:func:`auto_path_penalty`), split the epochs between the steps
(:func:`path_lengths`) and score a step on the validation data
(:func:`standard_error_of_mean` of the per-sample training criterion).
"""

import copy
import numbers
import warnings

import numpy as np
import torch
from skorch.callbacks import Callback

from ._chunks import chunked_base
from ._network import batch_loader


def standard_error_of_mean(losses):
    """Mean of per-sample losses and its standard error ``std / sqrt(n)``.

    Parameters
    ----------
    losses : ndarray of shape (n_samples,)
        Per-sample validation losses.

    Returns
    -------
    mean, se : float
        ``se`` is NaN for fewer than two losses.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_elm._path import standard_error_of_mean
    >>> standard_error_of_mean(np.array([1.0, 3.0, 1.0, 3.0]))
    (2.0, 0.5773...)
    """
    if len(losses) < 2:
        return float(losses.mean()), float("nan")
    return float(losses.mean()), float(losses.std(ddof=1) / np.sqrt(len(losses)))


def _validation_losses(net, dataset, batch_size):
    """Per-sample training criterion of ``net.module_`` on a validation dataset."""
    chunked = chunked_base(dataset) is not None  # a lazy X: read a chunk at a time
    if chunked:
        batches = batch_loader(dataset, batch_size=batch_size)
    else:
        if hasattr(dataset, "indices"):  # a torch Subset of the training data
            Xv, yv = dataset.dataset.X[dataset.indices], dataset.dataset.y[dataset.indices]
        else:
            Xv, yv = dataset.X, dataset.y
        batches = ((Xv[start : start + batch_size], yv[start : start + batch_size])
                   for start in range(0, len(Xv), batch_size))
    module = net.module_
    # the training criterion, per element: the selection judges what training minimises
    criterion = copy.copy(net.criterion_)  # its own settings (e.g. HuberLoss's delta)
    criterion.reduction = "none"
    was_training = module.training
    module.eval()
    losses = []
    with torch.no_grad():
        for Xb, yb in batches:
            pred = module(torch.as_tensor(Xb, device=net.device))
            target = torch.as_tensor(yb, device=net.device)
            loss = criterion(pred, target).reshape(len(pred), -1).mean(dim=1)
            losses.append(loss.cpu().numpy())
    module.train(was_training)
    return np.concatenate(losses)


def path_lengths(max_epochs, n_steps, first_fraction):
    """Epochs of each step of a regularisation path that lasts ``max_epochs``.

    The first step gets ``first_fraction`` of the epochs (it starts from the
    random initialisation); the others share the rest evenly, the earlier
    ones taking the remainder.  With fewer epochs than steps the path is
    cut to one epoch per step.

    Parameters
    ----------
    max_epochs : int
        Total number of epochs.
    n_steps : int
        Number of regularisation strengths on the path.
    first_fraction : float
        Share of the epochs given to the first step when there are several.

    Returns
    -------
    lengths : list of int
        Epochs per step; they add up to ``max_epochs``.

    Examples
    --------
    >>> from sklearn_elm._path import path_lengths
    >>> path_lengths(300, 7, 0.2)
    [60, 40, 40, 40, 40, 40, 40]
    >>> path_lengths(3, 7, 0.2)
    [1, 1, 1]
    """
    n_steps = max(1, min(n_steps, max_epochs))
    if n_steps == 1:
        return [max_epochs]
    first = min(max(1, round(max_epochs * first_fraction)), max_epochs - (n_steps - 1))
    rest, extra = divmod(max_epochs - first, n_steps - 1)
    return [first] + [rest + (i < extra) for i in range(n_steps - 1)]


def auto_path_penalty(n_train, n_features):
    """The path's default starting penalty, ``sqrt(log(max(n_features, 2)) / (2 n_train))``.

    Half of ``sqrt(2 log(n_features) / n_train)``, the order of the largest
    correlation a locus has with a standardised target by chance, which is
    the scale of a lasso's penalty.  The path starts at half that scale
    because a network warm-started from an over-regularised one regrows the
    effects the penalty removed only slowly.

    Parameters
    ----------
    n_train : int
        Number of samples the network is trained on (after the validation
        split); at least 1 is used.
    n_features : int
        Number of input features (loci); at least 2 is used.

    Returns
    -------
    penalty : float
        Weight of the l1 path norm per output at the first step.

    Examples
    --------
    >>> from sklearn_elm._path import auto_path_penalty
    >>> round(auto_path_penalty(7650, 64), 4)
    0.0165
    """
    return float(np.sqrt(np.log(max(n_features, 2)) / (2 * max(n_train, 1))))


class RegularizationPath(Callback):
    """Train down a path of decreasing regularisation; keep the step validation prefers.

    The regularisation starts at the net's ``path_penalty_`` as it stands at
    the first epoch of ``fit`` (the weight of the
    :func:`~sklearn_elm.nn.l1_path_norm` penalty, which
    :class:`~sklearn_elm.NeuralGPRegressor` sets from its ``path_penalty``
    and the size of the training split; 0 for a net without one) and at the
    optimizer's ``weight_decay``, and both are multiplied by ``factor`` at
    each of ``n_steps`` steps.  Each step runs a cosine learning-rate cycle
    from ``net.lr`` to 0 with fresh optimizer moments, starting from the
    weights the previous step ended with (a warm-started regularisation
    path, as in glmnet).  The first step gets ``first_fraction`` of
    ``max_epochs``, the others share the rest.

    With validation data, the weights at the end of each step are scored by
    the per-sample training criterion (without the penalty).  A step becomes
    the best only if it beats the best so far by more than one standard
    error of the paired per-sample difference, so that on noisy data the
    more regularised network wins ties; the path stops after ``patience``
    steps without such an improvement, and the best step's weights are
    restored.  Strong regularisation suits a noisy trait, weak
    regularisation a strong signal: the path lets the data choose.  Without
    validation data (``train_split=None``) the whole path runs and the last
    step is kept.

    Each param group's own learning rate and weight decay (stored in the
    group as ``initial_lr`` and ``initial_weight_decay``) are scaled, so
    per-group settings keep their ratios to the net's ``lr`` and
    ``optimizer__weight_decay``, also when these are changed by
    ``set_params`` between warm-started fits (where the net-wide value is 0,
    the group's own value as first seen is kept).  Every ``fit`` runs the
    path anew, from its first (strongest) step; with ``warm_start=True`` it
    starts from the fitted weights, which that step shrinks first.
    Epochs beyond ``max_epochs`` (``fit(X, y, epochs=n)``) train at a
    learning rate of 0, with a warning.

    Parameters
    ----------
    n_steps : int, default=17
        Number of regularisation strengths; 1 trains at the net's
        ``path_penalty`` and ``weight_decay`` throughout, on one cosine cycle.
    factor : float, default=0.5 ** 0.5
        Ratio of successive strengths, in (0, 1].
    first_fraction : float, default=5/21
        Share of ``max_epochs`` spent on the first step.
    patience : int, default=2
        Steps without a significant validation improvement before the path
        stops.
    batch_size : int, default=4096
        Samples per forward pass when scoring the validation set.

    Attributes
    ----------
    steps_ : list of dict
        One record per completed step: ``path_penalty`` and ``weight_decay``
        (the strengths of that step), ``epochs`` (its length), ``valid_loss``
        and ``valid_se`` (standard error of the per-sample losses; NaN
        without validation data).
    best_step_ : int
        Index into ``steps_`` of the step whose weights the network keeps.
        0, the most regularised step, on a trait that is not pure noise
        suggests that the path started too low: raise ``path_penalty``.
    restored_ : bool
        Whether the best step's weights were restored at the end (because
        training went on past that step).
    path_penalties_, weight_decays_ : list of float
        The strengths of every step of the path, run or not.

    See Also
    --------
    sklearn_elm.NeuralGPRegressor : the regressor that trains with this callback by default.

    Examples
    --------
    The regressor runs the path by default, as its ``regularization_path``
    callback; replace it to change the settings:

    >>> import numpy as np
    >>> from sklearn_elm import NeuralGPRegressor
    >>> from sklearn_elm.nn import RegularizationPath
    >>> rng = np.random.default_rng(0)
    >>> X = rng.choice([-1.0, 1.0], size=(400, 8))
    >>> y = X[:, 0] - X[:, 1] * X[:, 2]
    >>> reg = NeuralGPRegressor(module__hidden_sizes=(32,), max_epochs=90, batch_size=64,
    ...                         path_penalty=0.08,
    ...                         callbacks__regularization_path=RegularizationPath(n_steps=9),
    ...                         random_state=0).fit(X, y)
    >>> path = dict(reg.callbacks_)["regularization_path"]
    >>> [round(step["path_penalty"], 3) for step in path.steps_][:4]
    [0.08, 0.057, 0.04, 0.028]
    >>> bool(path.steps_[-1]["valid_loss"] < path.steps_[0]["valid_loss"])
    True
    """

    def __init__(self, n_steps=17, factor=0.5**0.5, first_fraction=5 / 21, patience=2,
                 batch_size=4096):
        self.n_steps = n_steps
        self.factor = factor
        self.first_fraction = first_fraction
        self.patience = patience
        self.batch_size = batch_size

    def initialize(self):
        """Check the settings and forget any earlier run of the path."""
        if not (isinstance(self.n_steps, numbers.Integral) and self.n_steps >= 1):
            raise ValueError(f"n_steps must be a positive integer, got {self.n_steps!r}.")
        if not 0 < self.factor <= 1:
            raise ValueError(f"factor must be in (0, 1], got {self.factor!r}.")
        if not 0 < self.first_fraction < 1:
            raise ValueError(f"first_fraction must be in (0, 1), got {self.first_fraction!r}.")
        self.steps_, self.best_step_, self.restored_ = [], None, False
        self._best_losses = self._best_state = None
        return self

    def get_params(self, deep=True):
        """The constructor's parameters (skorch's default takes every attribute whose name
        does not end in ``_``, which would list the path's bookkeeping after a fit)."""
        return {key: value for key, value in super().get_params(deep=deep).items()
                if not key.startswith("_")}

    def on_train_begin(self, net, **kwargs):
        """Lay out the steps and anchor each param group's settings to the net's."""
        self.initialize()
        start = net.get_params_for("optimizer").get("weight_decay", 0.0)
        self.weight_decays_ = [start * self.factor**i for i in range(self.n_steps)]
        self.path_penalties_ = []  # set at the first epoch, from the net's path_penalty_
        self._lengths = path_lengths(net.max_epochs, self.n_steps, self.first_fraction)
        self._ends = np.cumsum(self._lengths).tolist()
        self._begun, self._misses = 0, 0
        _anchor_param_groups(net.optimizer_.param_groups, net.lr, start)

    def on_epoch_begin(self, net, **kwargs):
        """Set the step's penalty, weight decay and point on the cosine cycle."""
        epoch, self._begun = self._begun, self._begun + 1
        if epoch == 0:
            # the net resolves its path_penalty_ once the training split is known (in
            # NeuralGPRegressor.get_split_datasets): the path starts there
            start = getattr(net, "path_penalty_", 0.0)
            self.path_penalties_ = [start * self.factor**i for i in range(self.n_steps)]
        optimizer = net.optimizer_
        step = int(np.searchsorted(self._ends, epoch, side="right"))
        if step == len(self._ends):  # fit(..., epochs=n) with n > max_epochs
            if epoch == self._ends[-1]:
                warnings.warn(
                    f"The regularisation path ends after max_epochs={net.max_epochs} epochs; "
                    "further epochs train with a learning rate of 0.  Raise max_epochs instead.",
                    UserWarning,
                    stacklevel=2,
                )
            for group in optimizer.param_groups:
                group["lr"] = 0.0
            return
        net.path_penalty_ = self.path_penalties_[step]
        t = epoch - (self._ends[step - 1] if step else 0)
        if t == 0:
            optimizer.state.clear()  # fresh Adam moments for each cycle
        rate = 0.5 * (1 + np.cos(np.pi * t / self._lengths[step]))
        for group in optimizer.param_groups:
            group["lr"] = group["initial_lr"] * rate
            group["weight_decay"] = group["initial_weight_decay"] * self.factor**step

    def on_epoch_end(self, net, dataset_valid=None, **kwargs):
        """At the end of a step, score it on the validation data; stop the path if it is done."""
        step = len(self.steps_)
        if step >= len(self._ends) or self._begun != self._ends[step]:
            return
        record = {"path_penalty": self.path_penalties_[step],
                  "weight_decay": self.weight_decays_[step], "epochs": self._lengths[step],
                  "valid_loss": np.nan, "valid_se": np.nan}
        self.steps_.append(record)
        if dataset_valid is None:
            self.best_step_ = step
            return
        losses = _validation_losses(net, dataset_valid, self.batch_size)
        record["valid_loss"], record["valid_se"] = standard_error_of_mean(losses)
        if self._best_losses is not None:
            gain, se = standard_error_of_mean(self._best_losses - losses)
            if not gain > (se if np.isfinite(se) else 0.0):  # one validation sample: no SE
                self._misses += 1
                if self._misses >= self.patience and step + 1 < len(self._ends):
                    if net.verbose:
                        print(f"Stopping the regularisation path: {self._misses} steps without "
                              f"a significant validation improvement over step "
                              f"{self.best_step_ + 1}.")
                    raise KeyboardInterrupt
                return
        self.best_step_, self._best_losses, self._misses = step, losses, 0
        self._best_state = {k: v.detach().clone() for k, v in net.module_.state_dict().items()}

    def on_train_end(self, net, **kwargs):
        """Restore the best step's weights and leave its penalty in ``net.path_penalty_``."""
        # the weights are not the best step's own once training has gone on past it: later
        # steps, or an interruption (even within the epoch after the best step)
        if self._best_state is not None and self._begun != self._ends[self.best_step_]:
            net.module_.load_state_dict(self._best_state)
            self.restored_ = True
        if self.best_step_ is not None:
            net.path_penalty_ = self.path_penalties_[self.best_step_]
        self._best_state = self._best_losses = None  # not kept in the pickled estimator


def _anchor_param_groups(groups, lr, weight_decay):
    """Store each group's starting ``initial_lr`` and ``initial_weight_decay`` for the path.

    The schedule overwrites a group's ``lr`` and ``weight_decay``, so its own
    settings are kept as ratios to the net-wide ``lr`` and ``weight_decay``
    the first time it is seen (across warm-started fits) and re-applied to
    the net-wide values of this fit, which follow ``set_params``.  A ratio to
    a net-wide value of 0 is undefined: the group's own value stays.
    """
    for group in groups:
        if "lr_ratio" not in group:
            group["initial_lr"] = group["lr"]
            group["lr_ratio"] = group["lr"] / lr if lr else None
            group["initial_weight_decay"] = group.get("weight_decay", 0.0)
            group["weight_decay_ratio"] = (
                group["initial_weight_decay"] / weight_decay if weight_decay else None
            )
        if group["lr_ratio"] is not None:
            group["initial_lr"] = lr * group["lr_ratio"]
        if group["weight_decay_ratio"] is not None:
            group["initial_weight_decay"] = weight_decay * group["weight_decay_ratio"]
