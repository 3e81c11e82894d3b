"""NeuralGPRegressor: a skorch regressor with defaults for genomic prediction."""

import copy
import numbers
import warnings

import numpy as np
import torch
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted, validate_data
from skorch import NeuralNetRegressor
from skorch.callbacks import Callback
from skorch.dataset import ValidSplit
from torch.utils.data import BatchSampler, DataLoader, RandomSampler, SequentialSampler

from ._network import GatedMLP, eval_output, l1_path_norm


def batch_loader(dataset, batch_size=128, shuffle=False, **kwargs):
    """DataLoader that indexes the dataset once per mini-batch, not once per sample.

    skorch's default DataLoader fetches and collates samples one by one, which
    on small networks costs several times the arithmetic of the training step.
    Indexing the in-memory arrays with a whole batch of indices gives the same
    batches at a fraction of the cost.

    Parameters
    ----------
    dataset : skorch.dataset.Dataset
        Dataset whose ``__getitem__`` accepts an array of indices.
    batch_size : int, default=128
        Mini-batch size; the last batch may be smaller.
    shuffle : bool, default=False
        Draw the batches in a random order (from the global torch generator).
    **kwargs
        Passed to :class:`torch.utils.data.DataLoader`.

    Returns
    -------
    loader : torch.utils.data.DataLoader

    Examples
    --------
    >>> import numpy as np
    >>> from skorch.dataset import Dataset
    >>> from sklearn_elm._regressor import batch_loader
    >>> data = Dataset(np.arange(10.0).reshape(5, 2), np.arange(5.0))
    >>> [tuple(X.shape) for X, y in batch_loader(data, batch_size=2)]
    [(2, 2), (2, 2), (1, 2)]
    """
    order = RandomSampler(dataset) if shuffle else SequentialSampler(dataset)
    sampler = _IndexArrayBatches(order, batch_size=batch_size, drop_last=False)
    return DataLoader(dataset, batch_size=None, sampler=sampler, **kwargs)


class _IndexArrayBatches(BatchSampler):
    # an index array, not a list: sklearn's indexing inspects every list element
    def __iter__(self):
        for batch in super().__iter__():
            yield np.asarray(batch)


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
    >>> from sklearn_elm._regressor import standard_error_of_mean
    >>> standard_error_of_mean(np.array([1.0, 3.0, 1.0, 3.0]))
    (2.0, 0.5773...)
    """
    if len(losses) < 2:
        return float(losses.mean()), float("nan")
    return float(losses.mean()), float(losses.std(ddof=1) / np.sqrt(len(losses)))


def _validation_losses(net, dataset, batch_size):
    """Per-sample training criterion of ``net.module_`` on a validation dataset."""
    if hasattr(dataset, "indices"):  # a torch Subset of the training data
        Xv, yv = dataset.dataset.X[dataset.indices], dataset.dataset.y[dataset.indices]
    else:
        Xv, yv = dataset.X, dataset.y
    module = net.module_
    # the training criterion, per element: the selection judges what training minimises
    criterion = copy.copy(net.criterion_)  # its own settings (e.g. HuberLoss's delta)
    criterion.reduction = "none"
    was_training = module.training
    module.eval()
    losses = []
    with torch.no_grad():
        for start in range(0, len(Xv), batch_size):
            stop = start + batch_size
            pred = module(torch.as_tensor(Xv[start:stop], device=net.device))
            target = torch.as_tensor(yv[start:stop], device=net.device)
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
    >>> from sklearn_elm._regressor import path_lengths
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


class RegularizationPath(Callback):
    """Train down a path of decreasing regularisation; keep the step validation prefers.

    The regularisation starts at the net's resolved ``path_penalty_`` (the
    weight of the :func:`~sklearn_elm._network.l1_path_norm` penalty) and the
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

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_elm import NeuralGPRegressor
    >>> rng = np.random.default_rng(0)
    >>> X = rng.choice([-1.0, 1.0], size=(400, 8))
    >>> y = X[:, 0] - X[:, 1] * X[:, 2]
    >>> reg = NeuralGPRegressor(module__hidden_sizes=(32,), max_epochs=90, batch_size=64,
    ...                         path_penalty=0.08, callbacks__regularization_path__n_steps=9,
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
        if not (isinstance(self.n_steps, numbers.Integral) and self.n_steps >= 1):
            raise ValueError(f"n_steps must be a positive integer, got {self.n_steps!r}.")
        if not 0 < self.factor <= 1:
            raise ValueError(f"factor must be in (0, 1], got {self.factor!r}.")
        if not 0 < self.first_fraction < 1:
            raise ValueError(f"first_fraction must be in (0, 1), got {self.first_fraction!r}.")
        self.steps_, self.best_step_, self.restored_ = [], None, False
        self._best_losses = self._best_state = None
        return self

    def on_train_begin(self, net, **kwargs):
        self.initialize()
        start = net.get_params_for("optimizer").get("weight_decay", 0.0)
        self.weight_decays_ = [start * self.factor**i for i in range(self.n_steps)]
        self.path_penalties_ = []  # set at the first epoch, once the training split is known
        self._lengths = path_lengths(net.max_epochs, self.n_steps, self.first_fraction)
        self._ends = np.cumsum(self._lengths).tolist()
        self._begun, self._misses = 0, 0
        for group in net.optimizer_.param_groups:
            # each group's own settings relative to the net's, kept across warm-started fits
            # (the schedule overwrites lr and weight_decay) but following set_params
            # (a ratio to a net-wide value of 0 is undefined: the group's own value stays)
            if "lr_ratio" not in group:
                group["initial_lr"] = group["lr"]
                group["lr_ratio"] = group["lr"] / net.lr if net.lr else None
                group["initial_weight_decay"] = group.get("weight_decay", 0.0)
                group["weight_decay_ratio"] = (
                    group["initial_weight_decay"] / start if start else None
                )
            if group["lr_ratio"] is not None:
                group["initial_lr"] = net.lr * group["lr_ratio"]
            if group["weight_decay_ratio"] is not None:
                group["initial_weight_decay"] = start * group["weight_decay_ratio"]

    def on_epoch_begin(self, net, dataset_train=None, **kwargs):
        epoch, self._begun = self._begun, self._begun + 1
        if epoch == 0:
            start = getattr(net, "path_penalty_", 0.0)
            if dataset_train is not None and hasattr(net, "_resolve_path_penalty"):
                start = net._resolve_path_penalty(len(dataset_train), net.n_features_in_)
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
        # the weights are not the best step's own once training has gone on past it: later
        # steps, or an interruption (even within the epoch after the best step)
        if self._best_state is not None and self._begun != self._ends[self.best_step_]:
            net.module_.load_state_dict(self._best_state)
            self.restored_ = True
        if self.best_step_ is not None:
            net.path_penalty_ = self.path_penalties_[self.best_step_]
        self._best_state = self._best_losses = None  # not kept in the pickled estimator


class NeuralGPRegressor(NeuralNetRegressor):
    """Bias-free neural network for genomic prediction, trained with skorch.

    A :class:`skorch.NeuralNetRegressor` with defaults that work for
    genotype-to-phenotype prediction.  The intercept and the target scale
    live outside the network, which therefore stays bias-free so that its
    equivalent linear map is exact::

        predict(X) = intercept_ + target_scale_ * module_(X)

    ``module_`` (by default one hidden layer of 512 ReLU units) is trained on
    the standardised targets with AdamW (no weight decay by default),
    minimising the mean squared error plus ``path_penalty`` times the
    network's l1 path norm per output
    (:func:`~sklearn_elm._network.l1_path_norm`), a penalty that favours
    hidden units reading few loci, as few additive effects and a few
    interacting pairs need.  The penalty goes down a path of decreasing
    strengths (:class:`~sklearn_elm._regressor.RegularizationPath`), one cosine learning-rate cycle
    per step.  By default 10 % of the training data are held out to choose
    the step: the path stops once weaker regularisation no longer improves
    the validation loss beyond its noise, and the best step's weights are
    restored.  So a noise-free trait is fitted closely and a noisy one is
    not overfitted, with no setting to change.
    ``X`` is used as given (integers are cast to float32); encode
    genotypes first with :class:`~sklearn_elm.GenotypeEncoder` when the
    network's coefficients are to be read as allele effects.

    Parameters
    ----------
    module : torch.nn.Module class, default=GatedMLP
        The network; ``n_features`` and ``n_outputs`` are inferred at fit
        unless given as ``module__n_features`` / ``module__n_outputs``.  Set
        its other arguments with the ``module__`` prefix, e.g.
        ``module__hidden_sizes=(512, 512)``.
    criterion : torch criterion class, default=torch.nn.MSELoss
        Training loss on the standardised targets.
    optimizer : torch optimizer class, default=torch.optim.AdamW
        Optimizer; set its arguments with the ``optimizer__`` prefix.
    lr : float, default=4e-3
        Peak learning rate; each step of the regularisation path decays it to
        0 on a cosine.
    path_penalty : "auto" or float, default="auto"
        Weight of the l1 path-norm penalty at the first, most regularised
        step of the path, per output: the training loss is the mean squared
        error on the standardised targets (averaged over outputs) plus
        ``path_penalty * l1_path_norm(module_) / n_outputs``, so the same
        value means the same for one trait or several.  ``"auto"`` is
        ``sqrt(log(max(n_features, 2)) / (2 n))`` with ``n`` the samples the
        network is trained on (after the validation split): half of
        ``sqrt(2 log(n_features) / n)``, the order of the largest
        correlation a locus has with a standardised target by chance, which
        is the scale of a lasso's penalty (0.0165 for 7650 samples and 64
        loci).  Starting there rather than sqrt(2) higher (the earlier
        default) predicts better on simulated data of several sizes and on
        the reference data (``benchmarks/path_start.py``): a network
        warm-started from an over-regularised one regrows the effects the
        penalty removed only slowly.
        The first step, from the random initialisation, is the longest;
        later steps multiply the penalty by ``factor`` (default 1/sqrt(2),
        17 steps down to 1/256 of the start).  On the reference data
        validation stops the path after 4 steps at h2 = 0.25 and after
        14-15 steps on the noise-free traits.
        With ``train_split=None`` there is nothing to choose the step with:
        set ``callbacks__regularization_path__n_steps=1`` to train at this
        value throughout.  0 trains without the penalty (and works with any
        module).
    optimizer__weight_decay : float, default=0.0
        Decoupled weight decay of AdamW (none by default); when set it goes
        down the path with the path penalty.
    max_epochs : int, default=840
        Length of the whole path (the first step 5/21 of it, the others
        sharing the rest: 200, then 40 per step); the path may stop sooner.
    batch_size : int, default=1024
        Mini-batch size.  Large batches keep the gradient noise of the
        penalty small; on small data sets each epoch is a single step.
    iterator_train, iterator_valid : callable, default=batch_loader
        Build the training / validation batch iterators; the default indexes
        the data a whole batch at a time (see :func:`~sklearn_elm._regressor.batch_loader`).
    iterator_train__shuffle : bool, default=True
        Draw the training batches in a new random order every epoch (skorch
        itself does not shuffle unless told to).
    train_split : "auto", callable or None, default="auto"
        Internal validation split; ``"auto"`` holds out a random 10 %, drawn
        with ``random_state``.  None trains on everything and runs the whole
        regularisation path, keeping its last (least regularised) step.
    callbacks : list of (name, callback) or None, default=None
        Extra skorch callbacks.  The default ``regularization_path``
        (:class:`~sklearn_elm._regressor.RegularizationPath`) is tuned with
        ``callbacks__regularization_path__<arg>``.
    random_state : int, RandomState instance or None, default=None
        Seeds weight initialisation, shuffling and the validation split;
        the global torch random state is left untouched.
    verbose : int, default=0
        1 prints skorch's per-epoch table.
    **kwargs
        Any other skorch argument, including prefixed ones.

    Attributes
    ----------
    module_ : torch.nn.Module
        The trained network, in evaluation mode.
    intercept_ : ndarray of shape (`n_outputs_`,)
        Mean of the training targets.
    target_scale_ : ndarray of shape (`n_outputs_`,)
        Standard deviation of the training targets (1 where it is 0).
    n_outputs_ : int
        Number of targets.
    n_features_in_ : int
        Number of features seen in ``fit``.
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Feature names, when ``X`` has string column names.
    path_penalty_ : float
        The path penalty of the step whose weights the network keeps (during
        ``fit``: of the step being trained).
    history_ : skorch.History
        Per-epoch training record; ``train_loss`` includes the penalty,
        ``valid_loss`` is the plain criterion.

    See Also
    --------
    sklearn_elm.GenotypeEncoder : encodes genotypes for the network.
    sklearn_elm._network.GatedMLP : the default module.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_elm import NeuralGPRegressor
    >>> rng = np.random.default_rng(0)
    >>> X = rng.choice([-1.0, 1.0], size=(300, 10))
    >>> y = X[:, 0] - 0.5 * X[:, 1] * X[:, 2]
    >>> reg = NeuralGPRegressor(module__hidden_sizes=(32,), max_epochs=60,
    ...                         random_state=0).fit(X, y)
    >>> reg.predict(X[:3]).shape
    (3,)
    >>> bool(reg.score(X, y) > 0.8)
    True
    """

    def __init__(
        self,
        module=GatedMLP,
        *,
        criterion=torch.nn.MSELoss,
        optimizer=torch.optim.AdamW,
        lr=4e-3,
        path_penalty="auto",
        optimizer__weight_decay=0.0,
        max_epochs=840,
        batch_size=1024,
        iterator_train=batch_loader,
        iterator_train__shuffle=True,
        iterator_valid=batch_loader,
        train_split="auto",
        callbacks=None,
        random_state=None,
        verbose=0,
        **kwargs,
    ):
        super().__init__(
            module,
            criterion=criterion,
            optimizer=optimizer,
            lr=lr,
            optimizer__weight_decay=optimizer__weight_decay,
            max_epochs=max_epochs,
            batch_size=batch_size,
            iterator_train=iterator_train,
            iterator_train__shuffle=iterator_train__shuffle,
            iterator_valid=iterator_valid,
            train_split=train_split,
            callbacks=callbacks,
            verbose=verbose,
            **kwargs,
        )
        self.path_penalty = path_penalty
        self.random_state = random_state

    @property
    def _default_callbacks(self):
        return [
            *super()._default_callbacks,
            ("regularization_path", RegularizationPath()),
        ]

    def initialize_module(self):
        """Build the module, inferring its input and output sizes from the data."""
        kwargs = self.get_params_for("module")
        if isinstance(self.module, type):
            for name, attr in (("n_features", "n_features_in_"), ("n_outputs", "n_outputs_")):
                if name not in kwargs:
                    if not hasattr(self, attr):
                        raise ValueError(
                            f"module__{name} is unknown before fit: pass it explicitly "
                            "to initialize the net without data."
                        )
                    kwargs[name] = getattr(self, attr)
        self.module_ = self.initialized_instance(self.module, kwargs)
        if not (isinstance(self.path_penalty, numbers.Real) and self.path_penalty == 0):
            l1_path_norm(self.module_)  # a module it cannot be taken of fails here, not mid-fit
        return self

    def get_split_datasets(self, X, y=None, **fit_params):
        """Split off the validation data; ``"auto"`` draws 10 % with ``random_state``."""
        if isinstance(self.train_split, str) and self.train_split == "auto":
            dataset = self.get_dataset(X, y)
            seed = check_random_state(self._seed_).randint(np.iinfo(np.int32).max)
            return ValidSplit(0.1, random_state=seed)(dataset, y, **fit_params)
        return super().get_split_datasets(X, y, **fit_params)

    def _validate_X(self, X, reset):
        return validate_data(self, X, dtype=[np.float32, np.float64], reset=reset).astype(
            np.float32, copy=False
        )

    def fit(self, X, y, **fit_params):
        """Standardise the targets and train the network on them.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training inputs, numeric (e.g. encoded genotypes).
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
            Targets; ``predict`` returns the same dimensionality.
        **fit_params : dict
            Passed on to :meth:`skorch.NeuralNet.fit`.

        Returns
        -------
        self : NeuralGPRegressor
            The fitted estimator.
        """
        X, y = validate_data(
            self, X, y, dtype=[np.float32, np.float64], multi_output=True, y_numeric=True
        )
        if self.train_split == "auto" and X.shape[0] < 2:
            raise ValueError(
                "train_split='auto' holds out validation data to choose the regularisation "
                f"step and needs at least 2 samples, got n_samples = {X.shape[0]}."
            )
        n_fit = X.shape[0]
        if self.train_split == "auto":  # ValidSplit(0.1) holds out ceil(n / 10)
            n_fit -= int(np.ceil(0.1 * n_fit))
        # without the regularisation path (which counts the training split itself)
        self.path_penalty_ = self._resolve_path_penalty(n_fit, X.shape[1])
        y = np.asarray(y, dtype=np.float64)
        self._y_1d_ = y.ndim == 1
        Y = y.reshape(len(y), -1)
        self.n_outputs_ = Y.shape[1]
        self.intercept_ = Y.mean(axis=0)
        scale = Y.std(axis=0)
        self.target_scale_ = np.where(scale > 0, scale, 1.0)
        Y = ((Y - self.intercept_) / self.target_scale_).astype(np.float32)
        rng = check_random_state(self.random_state)
        self._seed_ = rng.randint(np.iinfo(np.int32).max)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(self._seed_)
            if not self.warm_start or not self.initialized_:
                self.initialize()
            self._check_output_width(X[:1])
            # skorch's own fit would go through the public partial_fit, which this
            # class hides (it would train on unstandardised targets)
            NeuralNetRegressor.partial_fit(self, X.astype(np.float32, copy=False), Y, **fit_params)
        self.module_.eval()
        return self

    def _check_output_width(self, X):
        """A clear error where the module's outputs do not match the targets' columns."""
        out = eval_output(
            self.module_, torch.as_tensor(X, dtype=torch.float32, device=self.device)
        )
        width = out.shape[-1] if out.ndim == 2 else None
        if width != self.n_outputs_:
            raise ValueError(
                f"The module returns outputs of shape {tuple(out.shape)} for one sample, but "
                f"y has {self.n_outputs_} column(s): set module__n_outputs={self.n_outputs_} "
                "(or leave it unset to infer it)."
            )

    def _resolve_path_penalty(self, n_train, n_features):
        """``path_penalty`` as a number, for ``n_train`` training samples (after the split)."""
        penalty = self.path_penalty
        if isinstance(penalty, str) and penalty == "auto":
            return float(np.sqrt(np.log(max(n_features, 2)) / (2 * max(n_train, 1))))
        if not (isinstance(penalty, numbers.Real) and not isinstance(penalty, bool)
                and np.isfinite(penalty) and penalty >= 0):
            raise ValueError(
                f"path_penalty must be 'auto' or a finite number >= 0, got {penalty!r}."
            )
        return float(penalty)

    def get_loss(self, y_pred, y_true, X=None, training=False):
        """Criterion, plus the path-norm penalty per output while training.

        Parameters
        ----------
        y_pred, y_true : torch.Tensor
            Network output and standardised targets.
        X : object, optional
            The input batch (unused).
        training : bool, default=False
            Add ``path_penalty_ * l1_path_norm(module_) / n_outputs_``; the
            validation loss is the criterion alone.

        Returns
        -------
        loss : torch.Tensor
            Scalar loss.
        """
        loss = super().get_loss(y_pred, y_true, X=X, training=training)
        penalty = getattr(self, "path_penalty_", 0.0)  # resolved in fit
        if training and penalty:
            loss = loss + penalty * l1_path_norm(self.module_) / self.n_outputs_
        return loss

    def predict(self, X):
        """Predict targets: ``intercept_ + target_scale_ * module_(X)``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Inputs encoded as in ``fit``.

        Returns
        -------
        y_pred : ndarray of shape (n_samples,) or (n_samples, `n_outputs_`)
            Same dimensionality as the ``y`` given to ``fit``.
        """
        check_is_fitted(self, "intercept_")
        X = self._validate_X(X, reset=False)
        # the DataLoader draws a worker seed from the global generator even when
        # it does not shuffle: keep the caller's random stream untouched
        with torch.random.fork_rng(devices=[]):
            raw = self.forward(X, training=False).numpy().astype(np.float64)
        Y = raw * self.target_scale_ + self.intercept_
        return Y.ravel() if self._y_1d_ else Y

    @property
    def predict_proba(self):
        """Not available: a regressor has no class probabilities."""
        raise AttributeError("NeuralGPRegressor has no predict_proba; use predict.")

    @property
    def partial_fit(self):
        """Not available: the targets are standardised once, in ``fit``."""
        raise AttributeError(
            "NeuralGPRegressor has no partial_fit: the targets are standardised in fit; "
            "use warm_start=True to train again from the fitted weights."
        )

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.single_output = False
        tags.non_deterministic = self.random_state is None
        return tags
