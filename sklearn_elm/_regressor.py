"""NeuralGPRegressor: a skorch regressor with defaults for genomic prediction."""

import numpy as np
import torch
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted, validate_data
from skorch import NeuralNetRegressor
from skorch.callbacks import Callback, LRScheduler
from skorch.dataset import ValidSplit
from torch.utils.data import BatchSampler, DataLoader, RandomSampler, SequentialSampler

from ._network import GatedMLP


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

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_elm._regressor import standard_error_of_mean
    >>> standard_error_of_mean(np.array([1.0, 3.0, 1.0, 3.0]))
    (2.0, 0.5773...)
    """
    return float(losses.mean()), float(losses.std(ddof=1) / np.sqrt(len(losses)))


class EarlyStoppingSE(Callback):
    """Early stopping that ignores differences within the validation noise.

    An epoch counts as a miss only when its validation loss exceeds the best
    so far by more than one standard error of that best (the spread of the
    per-sample losses over ``sqrt(n_valid)``); training stops after
    ``patience`` consecutive misses.  At the end the weights of the best
    epoch come back only if the final ones are worse by more than that
    standard error (the one-standard-error rule): on a small or noisy
    validation set the minimum is itself a noisy pick, and the end of the
    learning-rate schedule is then the better model.

    Parameters
    ----------
    patience : int, default=20
        Consecutive significantly worse epochs before training stops.
    batch_size : int, default=4096
        Samples per forward pass when scoring the validation set.

    Attributes
    ----------
    best_loss_, best_se_ : float
        Best validation loss and its standard error.
    best_epoch_ : int
        Epoch (1-based) of the best validation loss.
    restored_ : bool
        Whether the best weights were restored at the end of training.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_elm import NeuralGPRegressor
    >>> from sklearn_elm._regressor import EarlyStoppingSE
    >>> rng = np.random.default_rng(0)
    >>> X, y = rng.choice([-1.0, 1.0], size=(300, 12)), rng.standard_normal(300)
    >>> reg = NeuralGPRegressor(module__hidden_sizes=(64,), lr=1e-2, optimizer__weight_decay=0,
    ...                         max_epochs=300, callbacks__early_stopping__patience=3,
    ...                         random_state=0).fit(X, y)
    >>> stopper = dict(reg.callbacks_)["early_stopping"]
    >>> len(reg.history) < 300, stopper.restored_
    (True, True)
    """

    def __init__(self, patience=20, batch_size=4096):
        self.patience = patience
        self.batch_size = batch_size

    def initialize(self):
        self.best_loss_, self.best_se_, self.best_epoch_ = np.inf, 0.0, 0
        self.misses_, self.restored_ = 0, False
        self.best_state_, self.last_loss_ = None, np.inf
        return self

    def _per_sample_losses(self, net, dataset):
        if hasattr(dataset, "indices"):  # a torch Subset of the training data
            Xv, yv = dataset.dataset.X[dataset.indices], dataset.dataset.y[dataset.indices]
        else:
            Xv, yv = dataset.X, dataset.y
        module = net.module_
        # the training criterion, per element: early stopping judges what training minimises
        criterion = type(net.criterion_)(reduction="none")
        was_training = module.training
        module.eval()
        losses = []
        with torch.no_grad():
            for start in range(0, len(Xv), self.batch_size):
                stop = start + self.batch_size
                pred = module(torch.as_tensor(Xv[start:stop], device=net.device))
                target = torch.as_tensor(yv[start:stop], device=net.device)
                loss = criterion(pred, target).reshape(len(pred), -1).mean(dim=1)
                losses.append(loss.cpu().numpy())
        module.train(was_training)
        return np.concatenate(losses)

    def on_epoch_end(self, net, dataset_valid=None, **kwargs):
        if dataset_valid is None:
            return
        loss, se = standard_error_of_mean(self._per_sample_losses(net, dataset_valid))
        self.last_loss_ = loss
        if loss < self.best_loss_:
            self.best_loss_, self.best_se_ = loss, se
            self.best_epoch_ = len(net.history)
            self.best_state_ = {k: v.detach().clone() for k, v in net.module_.state_dict().items()}
        self.misses_ = self.misses_ + 1 if loss > self.best_loss_ + self.best_se_ else 0
        if self.misses_ >= self.patience:
            if net.verbose:
                print(
                    f"Stopping: the validation loss has been more than one standard error "
                    f"above its best (epoch {self.best_epoch_}) for {self.patience} epochs."
                )
            raise KeyboardInterrupt

    def on_train_end(self, net, **kwargs):
        if self.best_state_ is not None and self.last_loss_ > self.best_loss_ + self.best_se_:
            net.module_.load_state_dict(self.best_state_)
            self.restored_ = True
        self.best_state_ = None  # not kept in the fitted (and pickled) estimator


class NeuralGPRegressor(NeuralNetRegressor):
    """Bias-free neural network for genomic prediction, trained with skorch.

    A :class:`skorch.NeuralNetRegressor` with defaults that work for
    genotype-to-phenotype prediction.  The intercept and the target scale
    live outside the network, which therefore stays bias-free so that its
    equivalent linear map is exact::

        predict(X) = intercept_ + target_scale_ * module_(X)

    ``module_`` is trained on the standardised targets with AdamW on a cosine
    learning-rate schedule.  By default 10 % of the training data are held
    out to early-stop on (:class:`EarlyStoppingSE`), and the best weights are
    restored when the final ones are worse beyond the validation noise.
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
        Peak learning rate; it follows a cosine decay to 0 over ``max_epochs``.
    optimizer__weight_decay : float, default=1.0
        Decoupled weight decay of AdamW.  Because Adam normalises the
        gradient, the weights settle where the decay balances the consistent
        part of the gradient: strong signal keeps large weights, noise does
        not, so one value serves noise-free and very noisy traits (it is the
        value of the published network; 0.6 already overfits at h2 = 0.25).
    max_epochs : int, default=300
        Number of epochs of the cosine schedule (early stopping may end
        training sooner).
    batch_size : int, default=128
        Mini-batch size.
    iterator_train, iterator_valid : callable, default=batch_loader
        Build the training / validation batch iterators; the default indexes
        the data a whole batch at a time (see :func:`batch_loader`).
    iterator_train__shuffle : bool, default=True
        Draw the training batches in a new random order every epoch (skorch
        itself does not shuffle unless told to).
    train_split : "auto", callable or None, default="auto"
        Internal validation split; ``"auto"`` holds out a random 10 %, drawn
        with ``random_state``.  None trains on everything (and so disables
        early stopping on the validation loss).
    callbacks : list of (name, callback) or None, default=None
        Extra skorch callbacks.  The defaults ``early_stopping``
        (:class:`EarlyStoppingSE`: stops after 50 epochs more than one
        standard error above the best validation loss, and then restores the
        best weights) and
        ``lr_scheduler`` (cosine annealing over ``max_epochs``) are tuned with
        ``callbacks__<name>__<arg>``.
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
    intercept_ : ndarray of shape (n_outputs_,)
        Mean of the training targets.
    target_scale_ : ndarray of shape (n_outputs_,)
        Standard deviation of the training targets (1 where it is 0).
    n_outputs_ : int
        Number of targets.
    n_features_in_ : int
        Number of features seen in ``fit``.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Feature names, when ``X`` has string column names.
    history_ : skorch.History
        Per-epoch training record.

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
    >>> reg = NeuralGPRegressor(module__hidden_sizes=(32,), max_epochs=30,
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
        optimizer__weight_decay=1.0,
        max_epochs=300,
        batch_size=128,
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
        self.random_state = random_state

    @property
    def _default_callbacks(self):
        return [
            *super()._default_callbacks,
            ("early_stopping", EarlyStoppingSE(patience=50)),
            (
                "lr_scheduler",
                LRScheduler(
                    policy=torch.optim.lr_scheduler.CosineAnnealingLR, T_max=self.max_epochs
                ),
            ),
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
                "train_split='auto' holds out validation data for early stopping and "
                f"needs at least 2 samples, got n_samples = {X.shape[0]}."
            )
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
            # skorch's own fit would go through the public partial_fit, which this
            # class hides (it would train on unstandardised targets)
            NeuralNetRegressor.partial_fit(self, X.astype(np.float32, copy=False), Y, **fit_params)
        self.module_.eval()
        return self

    def predict(self, X):
        """Predict targets: ``intercept_ + target_scale_ * module_(X)``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Inputs encoded as in ``fit``.

        Returns
        -------
        y_pred : ndarray of shape (n_samples,) or (n_samples, n_outputs_)
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
            "use warm_start=True to continue training."
        )

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.single_output = False
        tags.non_deterministic = self.random_state is None
        return tags
