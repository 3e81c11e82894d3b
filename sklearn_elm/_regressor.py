"""NeuralGPRegressor: a skorch regressor with defaults for genomic prediction."""

import numbers

import numpy as np
import torch
from sklearn.utils import check_random_state
from sklearn.utils.metaestimators import available_if
from sklearn.utils.validation import (
    _check_y,
    check_consistent_length,
    check_is_fitted,
    validate_data,
)
from skorch import NeuralNetRegressor
from skorch.dataset import ValidSplit

from . import _linear_path as linear
from ._chunks import RowChunks, chunk_rows, read_rows, row_bounds
from ._inputs import check_lazy, is_lazy
from ._network import GatedMLP, batch_loader, l1_path_norm, linear_skip_of
from ._pair_path import refit_lasso_paths
from ._path import RegularizationPath
from ._regressor_checks import (
    _TORCH_RANDOM,
    _callback_params,
    _check_epoch,
    _check_linear_penalty,
    _check_output_width,
    _check_settings,
    _cuda_devices,
    _divergence,
    _pair_path_kwargs,
    _penalties,
    _public_params,
    _standardise_targets,
    _start_path_penalty,
    _unavailable,
)
from ._seeding import PairSeeding, fold_scan


class NeuralGPRegressor(NeuralNetRegressor):
    """Bias-free neural network for genomic prediction, trained with skorch.

    A :class:`skorch.NeuralNetRegressor` with defaults that work for
    genotype-to-phenotype prediction.  The intercept and the target scale
    live outside the network, which therefore stays bias-free so that its
    equivalent linear map is exact::

        predict(X) = intercept_ + target_scale_ * module_(X)

    ``module_`` (by default one hidden layer of 512 ReLU units) is trained on the standardised
    targets with AdamW (no weight decay by default), minimising the mean squared error plus
    ``path_penalty`` times the network's l1 path norm per output
    (:func:`~sklearn_elm.nn.l1_path_norm`), a penalty that favours hidden units reading few
    loci, as few additive effects and a few interacting pairs need.  The penalty goes down a
    path of decreasing strengths (:class:`~sklearn_elm.nn.RegularizationPath`), one cosine
    learning-rate cycle per step.  By default 10 % of the training data are held out to choose
    the step: the path stops once weaker regularisation no longer improves the validation loss
    beyond its noise, and the best step's weights are restored.  So a noise-free trait is
    fitted closely and a noisy one is not overfitted, with no setting to change.  Before the
    first epoch, the pairs of loci whose products a scan of the training targets less GBLUP's
    prediction ranks first (:class:`~sklearn_elm.nn.PairSeeding`) start some hidden units and
    fill a path of pair products beside them, penalised by the lasso (``pair_path``): a random
    start finds pairs without marginal effects slowly, if at all, among the ``p (p - 1) / 2``
    of a panel.  A linear path, penalised by ridge as GBLUP is, fits the small effects of a
    polygenic trait where the training data show one, and by the lasso the few effects of a
    sparse trait (``linear_penalty``).  ``X`` is used as given (integers are cast to float32);
    encode genotypes first with :class:`~sklearn_elm.GenotypeEncoder` when the network's
    coefficients are to be read as allele effects.

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
        loci).  The path starts at half that scale because a network
        warm-started from an over-regularised one regrows the effects the
        penalty removed only slowly (``benchmarks/path_start.py`` compares
        starting points).  The first step, from the random initialisation,
        is the longest; later steps multiply the penalty by ``factor``
        (default 1/sqrt(2), 17 steps down to 1/256 of the start), and
        validation stops the path early where weaker regularisation no
        longer helps, as on a noisy trait.  With ``train_split=None`` there is
        nothing to choose the step with: set ``callbacks__regularization_path__n_steps=1``
        to train at this value throughout.  0 trains without it (and works with any module).
    linear_penalty : "auto", float or None, default="auto"
        Ridge weight, per output, of the linear path beside the hidden units
        (``GatedMLP(linear_skip=True)``): the loss gains ``sum_k linear_penalty_[k]
        |skip.weight[k]|^2 / n_outputs``.  The path fits the many small effects of a
        polygenic trait, which the path norm fits poorly.  ``"auto"``: an output uses the
        path where 3-fold cross-validation on the training split finds GBLUP predicting
        better than the best lasso, at GBLUP's penalty and from its marker effects (the
        science page, "Training", says why), refitted on every sample after training;
        elsewhere the loss gains ``path_penalty_ |skip.weight[k]|_1 / n_outputs``, a lasso
        that holds a sparse trait's additive effects (``linear_lasso_``), refitted with the
        pair path.  A float is used for every output; None builds the module without the
        path.  Only a GatedMLP module is built with one; another keeps its ``skip``, if any.
    pair_path : int, default=64
        Pair products per output in a path beside the hidden units (``GatedMLP(pair_path=...)``)
        that the scan fills, none a copy in linkage of another (the science page, "Training",
        says why 64); the loss gains ``2 path_penalty_ |weights|_1``, a lasso going down the
        path (four hidden units pay twice that).  After training it is refitted with the linear
        path's lasso rows on every sample, a relaxed lasso chosen by cross-validation
        (``lasso_refit_``, ``hidden_kept_``) and bagged over the folds' scans
        (``refit_bagged_``).  0 builds no path; only a GatedMLP module has one.
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
        the data a whole batch at a time (see :func:`~sklearn_elm.nn.batch_loader`).
    iterator_train__shuffle : bool, default=True
        Draw the training batches in a new random order every epoch (skorch
        itself does not shuffle unless told to).
    train_split : "auto", callable or None, default="auto"
        Internal validation split; ``"auto"`` holds out a random 10 %, drawn
        with ``random_state``.  None trains on everything and runs the whole
        regularisation path, keeping its last (least regularised) step.
    callbacks : list of (name, callback) or None, default=None
        Extra skorch callbacks.  The default ``regularization_path``
        (:class:`~sklearn_elm.nn.RegularizationPath`) is tuned with
        ``callbacks__regularization_path__<arg>``, the default
        ``pair_seeding`` (:class:`~sklearn_elm.nn.PairSeeding`) with
        ``callbacks__pair_seeding__n_pairs`` (0 turns it off).
    random_state : int, RandomState instance or None, default=None
        Seeds weight initialisation, shuffling and the validation split;
        the global torch random state is left untouched.  torch's generator
        is global to a process, so fits and predictions in threads of one
        process run one at a time (each fit draws the stream its seed gives);
        in worker processes they run in parallel.
    verbose : int, default=0
        1 prints skorch's per-epoch table.
    **kwargs
        Any other skorch argument, including prefixed ones.

    Attributes
    ----------
    module_ : torch.nn.Module
        The trained network, in evaluation mode.
    intercept_ : ndarray of shape (`n_outputs_`,)
        Mean of the training targets, plus, for a lasso row, its refit's constant.
    target_scale_ : ndarray of shape (`n_outputs_`,)
        Standard deviation of the training targets (1 where it is 0); ``fit``
        raises a ValueError where it overflows.
    n_outputs_ : int
        Number of targets.
    n_features_in_ : int
        Number of features seen in ``fit``.
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Feature names, when ``X`` has string column names.
    linear_penalty_ : ndarray of shape (`n_outputs_`,) or None
        Ridge weight of each output's linear path, ``inf`` where there is
        none (a lasso row, or held at 0); None without a linear path.
    linear_lasso_ : ndarray of bool of shape (`n_outputs_`,) or None
        The rows of the linear path penalised by the lasso (none at ``path_penalty=0``).
    lasso_refit_ : ndarray of shape (`n_outputs_`, 2)
        Per output, the penalty its pair path and lasso row are refitted at, in multiples of
        ``path_penalty_``, and the relaxation (1: the lasso; NaN: nothing refitted).
    hidden_kept_ : ndarray of bool of shape (`n_outputs_`,)
        False where the refit of a lasso row dropped the hidden units' output: the paths
        predicted as well without it, by one standard error of cross-validation.
    refit_bagged_ : ndarray of bool of shape (`n_outputs_`,)
        True where a lasso row's refit averages its fits on each fold's scanned pairs and the
        slots' own (the science page, "Training"); False for a ridge row, and where the folds
        do not scan (a lazy input, a warm start, no pair seeding, too few samples for folds).
    path_penalty_ : float
        The path penalty of the step whose weights the network keeps.  During ``fit`` it is
        that of the step being trained; it starts at ``path_penalty`` resolved for the
        training split, which :meth:`get_split_datasets` sets and the regularisation path reads.
    history_ : skorch.History
        Per-epoch training record; ``train_loss`` includes the penalty,
        ``valid_loss`` is the plain criterion.

    See Also
    --------
    sklearn_elm.GenotypeEncoder : encodes genotypes for the network.
    sklearn_elm.nn.GatedMLP : the default module.
    sklearn_elm.nn.RegularizationPath : the default ``regularization_path`` callback.
    sklearn_elm.nn.PairSeeding : the default ``pair_seeding`` callback.

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

    def __init__(self, module=GatedMLP, *, criterion=torch.nn.MSELoss,
                 optimizer=torch.optim.AdamW, lr=4e-3, path_penalty="auto",
                 linear_penalty="auto", pair_path=64, optimizer__weight_decay=0.0,
                 max_epochs=840, batch_size=1024, iterator_train=batch_loader,
                 iterator_train__shuffle=True, iterator_valid=batch_loader, train_split="auto",
                 callbacks=None, random_state=None, verbose=0, **kwargs):
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
        self.linear_penalty = linear_penalty
        self.pair_path = pair_path
        self.random_state = random_state

    @property
    def _default_callbacks(self):
        return [
            *super()._default_callbacks,
            ("pair_seeding", PairSeeding()),
            ("regularization_path", RegularizationPath()),
        ]

    def _get_params_callbacks(self, deep=True):
        """The callbacks' settings as ``fit`` uses them (skorch-dev/skorch#969)."""
        return _callback_params(self, deep)

    def get_params(self, deep=True, **kwargs):
        """The parameters, as skorch's, less its bookkeeping and, with ``deep=False``, less its
        settings left at their defaults (``clone`` restores them): a repr names what was set."""
        return _public_params(self, super().get_params(deep=deep, **kwargs), deep)

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
        kwargs = _pair_path_kwargs(self, linear.linear_skip_kwargs(self, kwargs))
        self.module_ = self.initialized_instance(self.module, kwargs)
        _check_linear_penalty(self.linear_penalty, linear_skip_of(self.module_))
        if not (isinstance(self.path_penalty, numbers.Real) and self.path_penalty == 0):
            l1_path_norm(self.module_)  # a module it cannot be taken of fails here, not mid-fit
        return self

    def get_split_datasets(self, X, y=None, **fit_params):
        """Split off the validation data and set the first step's path penalty.

        ``train_split="auto"`` holds out 10 %, drawn with ``random_state``.  ``fit``
        calls this once, before the first epoch: besides splitting, it sets
        ``path_penalty_`` to ``path_penalty`` resolved for the size of the training
        split, where the regularisation path starts, and (in ``fit`` only)
        ``linear_penalty_``, ``linear_lasso_`` and the linear path's start.  Returns
        ``(dataset_train, dataset_valid)``, as skorch's method does.
        """
        if isinstance(self.train_split, str) and self.train_split == "auto":
            dataset = self.get_dataset(X, y)
            seed = check_random_state(self._seed_).randint(np.iinfo(np.int32).max)
            split = ValidSplit(0.1, random_state=seed)(dataset, y, **fit_params)
        else:
            split = super().get_split_datasets(X, y, **fit_params)
        self.path_penalty_ = _start_path_penalty(
            self.path_penalty, len(split[0]), self.n_features_in_
        )
        if getattr(self, "_linear_pending_", False):  # once per fit, not on a later call
            self.linear_penalty_ = linear.start_linear_path(self, split[0])
            self._linear_pending_ = False
        return split

    def train_step_single(self, batch, **fit_params):
        """skorch's training step; the rows of the linear path held at 0 get no update."""
        step = super().train_step_single(batch, **fit_params)
        linear.hold_gradients(self)
        return step

    def _validate_X(self, X, reset):
        return validate_data(self, X, dtype=[np.float32, np.float64], reset=reset).astype(
            np.float32, copy=False
        )

    def fit(self, X, y, **fit_params):
        """Standardise the targets and train the network on them.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training inputs, numeric (e.g. encoded genotypes).  A lazy array
            (a dask array, a :func:`~sklearn_elm.datasets.open_plink` file, or
            either encoded by :class:`~sklearn_elm.GenotypeEncoder`) is read
            during training a chunk of consecutive samples at a time (128 MiB
            as float32, two chunks held), never whole: each epoch visits the
            chunks in a random order and draws its batches within each, and
            the samples are read twice per epoch (for training and for the
            validation loss).  Where samples are sorted (e.g. by population),
            shuffle the file first.  :class:`~sklearn_elm.nn.PairSeeding`
            and the linear path's choice read a bounded sample of rows; the
            path's refit on every sample reads the chunks once more.
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
            Targets; ``predict`` returns the same dimensionality.
        **fit_params : dict
            Passed on to :meth:`skorch.NeuralNet.fit`.

        Returns
        -------
        self : NeuralGPRegressor
            The fitted estimator.

        Raises
        ------
        ValueError
            On bad input or settings (before training), or when training
            diverges (a non-finite loss, weight or output); a failed ``fit``
            leaves the estimator unfitted, and the next ``fit`` initialises
            the network afresh, even with ``warm_start=True``.
        TypeError
            If ``sample_weight`` is given: every sample counts alike.
        """
        if fit_params.get("sample_weight") is not None:  # skorch would hand it to the split
            raise TypeError("NeuralGPRegressor.fit takes no sample_weight: every sample counts "
                            "alike in its loss, its validation split and its refit.")
        lazy = is_lazy(X)
        if lazy:  # read in chunks of samples as training goes (see _chunks)
            X = check_lazy(self, X, reset=True)
            y = _check_y(y, multi_output=True, y_numeric=True)
            check_consistent_length(X, y)
        else:
            X, y = validate_data(
                self, X, y, dtype=[np.float32, np.float64], multi_output=True, y_numeric=True
            )
        if self.train_split == "auto" and X.shape[0] < 2:
            raise ValueError(
                "train_split='auto' holds out validation data to choose the regularisation "
                f"step and needs at least 2 samples, got n_samples = {X.shape[0]}."
            )
        _check_settings(self)  # the path penalty is resolved once the split is known
        self._y_1d_ = y.ndim == 1
        self.intercept_, self.target_scale_, Y = _standardise_targets(y)
        self.n_outputs_ = Y.shape[1]
        rng = check_random_state(self.random_state)
        self._seed_ = rng.randint(np.iinfo(np.int32).max)
        try:
            with _TORCH_RANDOM, torch.random.fork_rng(devices=_cuda_devices(self.device)):
                torch.manual_seed(self._seed_)
                # whether this fit starts from fresh weights, which pair seeding reads: a
                # warm start from loaded weights has an empty history too
                self._fresh_init_ = not self.warm_start or not self.initialized_
                if self._fresh_init_:
                    self.initialize()
                self._linear_pending_ = True  # get_split_datasets starts the linear path
                _check_output_width(self, read_rows(X, slice(0, 1)) if lazy else X[:1])
                if lazy:
                    X, Y = RowChunks(X, Y, chunk_rows(X.shape[1], self.batch_size)), None
                else:
                    X = X.astype(np.float32, copy=False)
                # skorch's own fit would go through the public partial_fit, which this
                # class hides (it would train on unstandardised targets)
                NeuralNetRegressor.partial_fit(self, X, Y, **fit_params)
                # the linear path's rows, on every sample (validation's too)
                refit_lasso_paths(self, X, Y, scan=fold_scan(self, X, Y))  # the rest held
                linear.refit_linear_path(self, X, Y)
                # the last update can overflow the outputs without a loss to show it
                if not torch.isfinite(self.forward(X, training=False)).all():
                    problem = "the network predicts non-finite values on the training data"
                    raise _divergence(len(self.history), problem, self.lr)
        except Exception:
            # no model to predict with (it may be NaN), nor weights to warm-start from
            del self.intercept_, self.target_scale_
            self.initialized_ = False
            raise
        self.module_.eval()
        return self

    def __sklearn_is_fitted__(self):
        """Whether the last ``fit`` succeeded: only then is ``intercept_`` set.

        skorch counts an initialised module as fitted; here a module without the target's
        intercept and scale cannot predict (and after a diverged ``fit`` its weights may be
        NaN), so :func:`sklearn.utils.validation.check_is_fitted` reads this instead.
        """
        return hasattr(self, "intercept_")

    def on_epoch_end(self, net, dataset_train=None, dataset_valid=None, **kwargs):
        """End ``fit`` with a ValueError once a loss of the epoch or a weight is not finite.

        skorch notifies the net before its callbacks, so this runs before the regularisation
        path scores or keeps the epoch's weights.
        """
        _check_epoch(self)

    def get_loss(self, y_pred, y_true, X=None, training=False):
        """Criterion, plus the path-norm penalty per output while training.

        Parameters
        ----------
        y_pred, y_true : torch.Tensor
            Network output and standardised targets.
        X : object, optional
            The input batch (unused).
        training : bool, default=False
            Add ``path_penalty_ (l1_path_norm(module_) + 2 |pairs.weight|_1 +
            |skip.weight[linear_lasso_]|_1) / n_outputs_`` and the linear path's ridge term
            over ``n_outputs_``; the validation loss is the criterion alone.

        Returns
        -------
        loss : torch.Tensor
            Scalar loss.
        """
        loss = super().get_loss(y_pred, y_true, X=X, training=training)
        if training:  # the penalties are set in get_split_datasets
            loss = loss + _penalties(self)
        return loss

    def predict(self, X):
        """Predict targets: ``intercept_ + target_scale_ * module_(X)``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Inputs encoded as in ``fit``; a lazy array is predicted a chunk of
            samples at a time.

        Returns
        -------
        y_pred : ndarray of shape (n_samples,) or (n_samples, `n_outputs_`)
            Same dimensionality as the ``y`` given to ``fit``.
        """
        check_is_fitted(self, "intercept_")
        if is_lazy(X):
            X = check_lazy(self, X, reset=False)
            bounds = row_bounds(X, chunk_rows(X.shape[1], self.batch_size))
            blocks = (self._validate_X(read_rows(X, slice(start, stop)), reset=False)
                      for start, stop in zip(bounds[:-1], bounds[1:], strict=True))
        else:
            blocks = [self._validate_X(X, reset=False)]
        # the DataLoader draws a worker seed from the global generator even when
        # it does not shuffle: keep the caller's random stream untouched
        with _TORCH_RANDOM, torch.random.fork_rng(devices=_cuda_devices(self.device)):
            raw = np.concatenate([self.forward(block, training=False).numpy()
                                  for block in blocks]).astype(np.float64)
        Y = raw * self.target_scale_ + self.intercept_
        return Y.ravel() if self._y_1d_ else Y

    @available_if(_unavailable("NeuralGPRegressor has no predict_proba; use predict."))
    def predict_proba(self, X):
        """Not available: a regressor has no class probabilities."""

    @available_if(_unavailable(
        "NeuralGPRegressor has no partial_fit: the targets are standardised in fit; "
        "use warm_start=True to train again from the fitted weights."
    ))
    def partial_fit(self, X, y=None, classes=None, **fit_params):
        """Not available: the targets are standardised once, in ``fit``."""

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.single_output = False
        tags.non_deterministic = self.random_state is None
        return tags
