"""Whether the network gets a linear path, its ridge penalty and its start, from the training data.

A polygenic trait (every locus with a small effect) is what the l1 path norm fits worst: it
prices each effect by its absolute size, so that many small effects are shrunk to nothing
while the network fits noise elsewhere.  Best linear unbiased prediction (GBLUP, rrBLUP) fits
them by ridge, with the penalty ``V_E / sigma_b^2`` that REML estimates.
:class:`~sklearn_elm.nn.GatedMLP` with ``linear_skip=True`` carries such a ridge-penalised
linear path beside its hidden units.

On a sparse trait the same path costs accuracy: a ridge penalty at the trait's additive
variance prices its few large effects below the path norm, so the path takes them from the
hidden units and spreads noise over every locus.  So the data choose, per output, by
:data:`FOLDS`-fold cross-validation on the training rows: the path is used where GBLUP predicts
the held-out rows better than the best lasso of a path of penalties (the sparse linear model
closest to the network's prior), and penalised by the lasso otherwise (:data:`LASSO_WEIGHT`
times the path penalty, going down the regularisation path with it; refitted after training
with the pair path, :func:`~sklearn_elm._pair_path.refit_lasso_paths`).

The training objective is the mean squared error on the standardised targets, so the ridge
weight of a used path is ``(V_E / V_A) c / n`` (REML's ratio, averaged over the folds), where
``c = sum_j var(x_j)`` is the additive kernel's scale (``K = Z Z^T / c``: marker effects of
variance ``V_A / c``) and ``n`` the samples trained on: at ``n`` times it, the linear path alone
would minimise to the ridge regression at GBLUP's penalty, on the inputs as the network reads
them and without an intercept (the network has none; with centred inputs, GBLUP's marker
effects).  The path starts there, fitted on the rows the choice read.  Once training has chosen
its regularisation step, the used rows are refitted in closed form on every training sample
given the hidden units (:func:`refit_linear_path`), so that the tenth held out for validation
counts too, as it does for GBLUP.
"""

import warnings

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils import Bunch

__all__ = ["LASSO_WEIGHT", "REML_SAMPLES", "hold_gradients", "lasso_term", "linear_path_start",
           "linear_skip_kwargs", "refit_linear_path", "ridge_term", "start_linear_path"]

#: Samples the choice reads at most (evenly spaced over the training split): REML on ``m``
#: samples costs ``O(m^2 p)`` (``O(m p^2)`` below ``p = m``), and the penalty, a variance
#: ratio, needs no more.
REML_SAMPLES = 6000

#: Folds of the cross-validation that chooses between GBLUP and the lasso.
FOLDS = 3

#: Bytes the choice's float64 copies of its rows may take, counted as ``FOLDS`` copies of
#: them: past them it reads fewer rows (at least :data:`MIN_ROWS`).
MAX_BYTES = 2**31

#: Fewer rows than this choose no path: too few to tell the models apart.
MIN_ROWS = 100

#: Penalties of the lasso path, from the largest useful one down to ``LASSO_EPS`` times it.
N_LASSO = 12
LASSO_EPS = 2e-2

#: Tolerance of the lasso's coordinate descent: a choice between models needs no more.
LASSO_TOL = 1e-3

#: The l1 weight of a row the choice leaves to the lasso, relative to the path penalty: a
#: locus's effect ``b`` costs ``LASSO_WEIGHT path_penalty_ |b|`` there, half what the two ReLU
#: units ``b relu(x) - b relu(-x)`` add to the path norm for it, so that the additive effects of
#: a sparse trait sit in the path and the hidden units fit the rest (on inputs of both signs, as
#: ``GenotypeEncoder`` codes them; one unit fits a 0/1/2 dosage's effect at ``|b|``).  The
#: hidden units fit noise as the penalty goes down; the path shrinks the effects as a lasso
#: does at a penalty the units still tolerate (``benchmarks/pair_path.py``, the science page's
#: "Training").
LASSO_WEIGHT = 1.0


def linear_path_start(X, Y, n_train):
    """Ridge weight and starting weights of the linear path, per output.

    Parameters
    ----------
    X : ndarray of shape (m, p)
        Training inputs (or an even sample of them); with fewer than :data:`MIN_ROWS`
        rows, no output takes the path.
    Y : ndarray of shape (m, k)
        The standardised training targets of the same rows.
    n_train : int
        Samples the network trains on (its loss averages over them).

    Returns
    -------
    Bunch
        ``penalty`` (k,): ridge weight of each output's row of the path, in the loss's
        units, ``inf`` where the row is left to the lasso; ``weight`` (k, p): the path's
        start, the ridge regression of each target on ``X`` at that penalty (0 on a lasso
        row); ``additive`` (k, p): GBLUP's marker effects, the ridge regression of the
        centred targets on the centred ``X`` at that penalty, for every output, lasso rows
        too (0 where GBLUP could not be fitted), whose residual
        :class:`~sklearn_elm.nn.PairSeeding` scans; ``blup_r2`` and
        ``lasso_r2`` (k,): the cross-validated r2 of GBLUP and of the best lasso, which
        decided (NaN for an output left to the lasso because its target, or every marker, is
        constant in a fold).

    Examples
    --------
    A polygenic trait, every one of 200 loci with a small effect, takes the path; a trait
    of two loci does not:

    >>> import numpy as np
    >>> from sklearn_elm._linear_path import linear_path_start
    >>> rng = np.random.default_rng(0)
    >>> X = rng.choice([-1.0, 0.0, 1.0], size=(800, 200))
    >>> dense = X @ rng.normal(scale=0.06, size=200)
    >>> sparse = X[:, 3] - X[:, 7]
    >>> Y = np.column_stack([dense, sparse]) + rng.normal(scale=0.9, size=(800, 2))
    >>> start = linear_path_start(X, (Y - Y.mean(0)) / Y.std(0), n_train=800)
    >>> np.isfinite(start.penalty).tolist(), start.weight.shape
    ([True, False], (2, 200))
    """
    X = np.asarray(X, dtype=np.float64)
    Y = np.asarray(Y, dtype=np.float64).reshape(len(X), -1)
    k = Y.shape[1]
    if len(X) < MIN_ROWS:
        nothing = np.full(k, np.nan)
        return Bunch(penalty=np.full(k, np.inf), weight=np.zeros((k, X.shape[1])),
                     additive=np.zeros((k, X.shape[1])), blup_r2=nothing,
                     lasso_r2=nothing.copy())
    if len(X) > REML_SAMPLES:
        rows = np.linspace(0, len(X) - 1, REML_SAMPLES).astype(np.intp)
        X, Y = X[rows], Y[rows]
    fold = np.arange(len(X)) % FOLDS
    # GBLUP needs a varying marker and a varying target in every fold's fitting rows; an
    # output without them keeps the path at 0
    tried = np.ones(k, dtype=bool)
    for f in range(FOLDS):
        fit = fold != f
        if not np.ptp(X[fit], axis=0).any():
            tried[:] = False
        tried &= np.ptp(Y[fit], axis=0) > 0
    blup_r2, lasso_r2 = np.full(k, np.nan), np.full(k, np.nan)
    penalty, weight = np.full(k, np.inf), np.zeros((k, X.shape[1]))
    if not tried.any():
        return Bunch(penalty=penalty, weight=weight, additive=weight.copy(), blup_r2=blup_r2,
                     lasso_r2=lasso_r2)
    Yt = Y[:, tried]
    blup_error, lasso_error = np.zeros(Yt.shape[1]), np.zeros((N_LASSO, Yt.shape[1]))
    ratio = np.zeros(Yt.shape[1])
    for f in range(FOLDS):
        fit, held = fold != f, fold == f
        blup = _fit_blup(X[fit], Yt[fit])
        pred = np.asarray(blup.predict(X[held])).reshape(-1, Yt.shape[1])
        blup_error += ((Yt[held] - pred) ** 2).sum(axis=0)
        lasso_error += _lasso_errors(X[fit], Yt[fit], X[held], Yt[held])
        vc = blup.variance_components_
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio += np.atleast_1d(vc.residual) / np.atleast_1d(vc.additive) / FOLDS
    total = ((Yt - Yt.mean(axis=0)) ** 2).sum(axis=0)
    blup_r2[tried] = 1.0 - blup_error / total
    lasso_r2[tried] = 1.0 - lasso_error.min(axis=0) / total
    fitted = np.zeros(k, dtype=bool)
    fitted[tried] = np.isfinite(ratio)
    used = fitted & (blup_r2 > lasso_r2)
    lam = np.full(k, np.inf)
    lam[tried] = ratio * _kernel_scale(X)
    penalty[used] = lam[used] / n_train
    if used.any():  # what the loss minimises: no intercept, the inputs as the network reads them
        weight[used] = _ridge(X, Y[:, used], lam[used])
    additive = np.zeros_like(weight)
    if fitted.any():  # GBLUP's marker effects: centred, as with an intercept
        centred = Y[:, fitted] - Y[:, fitted].mean(axis=0)
        additive[fitted] = _ridge(X - X.mean(axis=0), centred, lam[fitted])
    return Bunch(penalty=penalty, weight=weight, additive=additive, blup_r2=blup_r2,
                 lasso_r2=lasso_r2)


def _ridge(X, R, lams, block=4096):
    """Rows of ridge coefficients ``argmin |r_k - X w|^2 + lam_k |w|^2`` (no intercept), one
    per column of ``R``; the Gram matrix of the smaller side is built once, in row blocks of
    float64 (``X`` is not copied whole)."""
    n, p = X.shape
    R = np.asarray(R, dtype=np.float64).reshape(n, -1)
    if p <= n:
        gram, right = np.zeros((p, p)), np.zeros((p, R.shape[1]))
        for start in range(0, n, block):
            chunk = np.asarray(X[start:start + block], dtype=np.float64)
            gram += chunk.T @ chunk
            right += chunk.T @ R[start:start + block]
        return _ridge_solve(gram, right, lams)
    X64 = np.asarray(X, dtype=np.float64)  # n < p: n x p, no larger than the Gram of p
    return _ridge_solve(X64 @ X64.T, R, lams) @ X64


def _ridge_solve(gram, right, lams):
    """``(gram + lam_k I)^+ right[:, k]`` per ``k``, as rows, from one eigendecomposition."""
    values, vectors = np.linalg.eigh(gram)
    values = np.maximum(values, 0.0)
    projected = vectors.T @ right
    out = np.empty((right.shape[1], gram.shape[0]))
    for k, lam in enumerate(np.atleast_1d(lams)):
        inverse = np.divide(1.0, values + lam, out=np.zeros_like(values),
                            where=values + lam > 1e-10 * max(values.max(), 1.0))
        out[k] = vectors @ (inverse * projected[:, k])
    return out


def _fit_blup(X, Y):
    from ._gblup import GBLUPRegressor

    return GBLUPRegressor(kernel="additive").fit(X, Y)


def _kernel_scale(X):
    """``c = sum_j var(x_j)``, the additive kernel's VanRaden scale."""
    return float(X.var(axis=0).sum())


def _lasso_errors(X, Y, X_held, Y_held):
    """Squared errors on the held rows of the lasso path fitted on the others, summed per
    penalty (rows) and output (columns); the penalties go from the largest useful one, where
    every coefficient is 0, down to :data:`LASSO_EPS` times it."""
    from sklearn.linear_model import lasso_path

    mean, y_mean = X.mean(axis=0), Y.mean(axis=0)
    Xc, Xh = X - mean, X_held - mean
    errors = np.empty((N_LASSO, Y.shape[1]))
    with warnings.catch_warnings():  # the path's weakest penalties need not converge
        warnings.simplefilter("ignore", ConvergenceWarning)
        for k in range(Y.shape[1]):
            yc = Y[:, k] - y_mean[k]
            largest = max(np.abs(Xc.T @ yc).max() / len(yc), np.finfo(np.float64).tiny)
            alphas = np.geomspace(largest, LASSO_EPS * largest, N_LASSO)
            # a seed of its own: without one, scikit-learn's coordinate descent draws one
            # from numpy's global generator, which its cyclic order never uses
            _, coefs, _ = lasso_path(Xc, yc, alphas=alphas, tol=LASSO_TOL, random_state=0)
            errors[:, k] = ((Y_held[:, k, None] - y_mean[k] - Xh @ coefs) ** 2).sum(axis=0)
    return errors


def linear_skip_kwargs(net, kwargs):
    """``net``'s module arguments, with ``linear_skip`` set where the module is a
    :class:`~sklearn_elm.nn.GatedMLP` and the user did not set it: a path unless
    ``linear_penalty`` is None.

    Examples
    --------
    >>> from sklearn_elm import NeuralGPRegressor
    >>> from sklearn_elm._linear_path import linear_skip_kwargs
    >>> linear_skip_kwargs(NeuralGPRegressor(linear_penalty=None), {"n_features": 3})
    {'n_features': 3, 'linear_skip': False}
    """
    from ._network import GatedMLP

    kwargs = dict(kwargs)
    if isinstance(net.module, type) and issubclass(net.module, GatedMLP):
        kwargs.setdefault("linear_skip", net.linear_penalty is not None)
    return kwargs


def start_linear_path(net, dataset_train):
    """The ridge weights of ``net``'s linear path for this fit (and, from fresh weights, its
    start), as :class:`~sklearn_elm.NeuralGPRegressor` sets them before the first epoch.

    Parameters
    ----------
    net : NeuralGPRegressor
        Initialised, its targets standardised (``n_outputs_`` set).
    dataset_train : skorch Dataset or Subset
        The training split.

    Returns
    -------
    penalty : ndarray of shape (n_outputs,) or None
        ``linear_penalty`` for every output where it is a number, ``linear_path_start``'s
        where it is ``"auto"`` (``inf`` for a row left to the lasso, which starts at 0 from
        fresh weights); ``inf`` where it is None (the rows held at 0); None where the module
        has no linear path.  ``net.linear_lasso_`` is set to the rows penalised by the lasso
        (none where ``net.path_penalty_`` is 0: such rows are held at 0 as well), and
        ``net._additive_fit_`` to ``linear_path_start``'s ``additive`` where it ran (None
        elsewhere).

    Examples
    --------
    >>> import numpy as np
    >>> from skorch.dataset import Dataset
    >>> from sklearn_elm import NeuralGPRegressor
    >>> from sklearn_elm._linear_path import start_linear_path
    >>> net = NeuralGPRegressor(module__n_features=3, module__n_outputs=1, linear_penalty=0.5)
    >>> net = net.initialize()
    >>> net.n_outputs_ = 1
    >>> start_linear_path(net, Dataset(np.zeros((4, 3), np.float32), np.zeros((4, 1))))
    array([0.5])
    """
    import torch

    from ._network import linear_skip_of
    from ._regressor_checks import _check_linear_penalty
    from ._seeding import _training_arrays

    skip = linear_skip_of(net.module_)
    _check_linear_penalty(net.linear_penalty, skip)  # every fit: a warm start builds nothing
    net.linear_lasso_ = None if skip is None else np.zeros(net.n_outputs_, dtype=bool)
    net._additive_fit_ = None  # GBLUP's marker effects, whose residual the pair scan reads
    if skip is None:
        return None
    net._linear_rows_ = len(dataset_train)  # the samples the penalty is set for
    penalty = np.full(net.n_outputs_, np.inf)  # held: a module with a path, but None
    if net.linear_penalty is not None and not isinstance(net.linear_penalty, str):
        return np.full(net.n_outputs_, float(net.linear_penalty))
    arrays = None if net.linear_penalty is None else _training_arrays(dataset_train)
    if net.linear_penalty is not None and arrays is None:
        warnings.warn(
            "linear_penalty='auto' chooses between ridge and the lasso on the training arrays, "
            "and this dataset does not hold numpy arrays: the path is penalised by the lasso.  "
            "Give linear_penalty a number for ridge.", UserWarning, stacklevel=2)
    if arrays is not None:
        X, Y, rows = arrays
        most = min(REML_SAMPLES, max(MIN_ROWS, int(MAX_BYTES // (8 * FOLDS * X.shape[1]))))
        if len(rows) > most:  # before indexing: no copy of the whole split
            rows = rows[np.linspace(0, len(rows) - 1, most).astype(np.intp)]
        X = X[rows]
        if np.isfinite(X).all():  # else lasso rows; training names the samples in its error
            start = linear_path_start(X, Y[rows], len(dataset_train))
            penalty, net._additive_fit_ = start.penalty, start.additive
            if getattr(net, "_fresh_init_", True):
                with torch.no_grad():
                    skip.weight.copy_(torch.as_tensor(start.weight, dtype=skip.weight.dtype))
    if net.linear_penalty is not None:  # no path penalty, no lasso: such rows are held
        net.linear_lasso_[:] = ~np.isfinite(penalty) & (getattr(net, "path_penalty_", 0.0) > 0)
    # held rows stay at 0; lasso rows start there, unless warm-started
    zero = ~np.isfinite(penalty) & (~net.linear_lasso_ | getattr(net, "_fresh_init_", True))
    with torch.no_grad():
        skip.weight[torch.as_tensor(zero, device=skip.weight.device)] = 0.0
    return penalty


def ridge_term(module, penalty):
    """``sum_k penalty[k] |skip.weight[k]|^2`` over the outputs of finite penalty, 0 without
    a linear path or penalty.

    Examples
    --------
    >>> import numpy as np, torch
    >>> from sklearn_elm.nn import GatedMLP
    >>> from sklearn_elm._linear_path import ridge_term
    >>> net = GatedMLP(2, 2, hidden_sizes=(3,), linear_skip=True)
    >>> with torch.no_grad():
    ...     _ = net.skip.weight.fill_(1.0)
    >>> ridge_term(net, np.array([0.5, np.inf])).item()
    1.0
    """
    import torch

    from ._network import linear_skip_of

    skip = linear_skip_of(module)
    if skip is None or penalty is None or not np.isfinite(penalty).any():
        return 0.0
    finite = np.isfinite(penalty)
    weights = torch.as_tensor(np.where(finite, penalty, 0.0), dtype=skip.weight.dtype,
                              device=skip.weight.device)
    return (weights * skip.weight.pow(2).sum(dim=1)).sum()


def lasso_term(module, lasso):
    """``LASSO_WEIGHT sum_k |skip.weight[k]|_1`` over the ``lasso`` rows (a boolean mask per
    output), 0 without a linear path or such a row.

    Examples
    --------
    >>> import numpy as np, torch
    >>> from sklearn_elm.nn import GatedMLP
    >>> from sklearn_elm._linear_path import lasso_term
    >>> net = GatedMLP(2, 2, hidden_sizes=(3,), linear_skip=True)
    >>> with torch.no_grad():
    ...     _ = net.skip.weight.copy_(torch.tensor([[1.0, -2.0], [5.0, 5.0]]))
    >>> lasso_term(net, np.array([True, False])).item()
    3.0
    """
    import torch

    from ._network import linear_skip_of

    skip = linear_skip_of(module)
    if skip is None or lasso is None or not np.any(lasso):
        return 0.0
    rows = torch.as_tensor(np.asarray(lasso, dtype=bool), device=skip.weight.device)
    return LASSO_WEIGHT * skip.weight[rows].abs().sum()


def hold_gradients(net):
    """Zero the gradient of the rows of ``net``'s linear path that have neither a ridge weight
    (``linear_penalty_``) nor the lasso (``linear_lasso_``): held at 0, with no gradient Adam
    leaves them there (its moments stay 0)."""
    import torch

    from ._network import linear_skip_of

    skip, penalty = linear_skip_of(net.module_), getattr(net, "linear_penalty_", None)
    if penalty is None or skip is None or skip.weight.grad is None:
        return
    lasso = getattr(net, "linear_lasso_", None)
    held = ~np.isfinite(penalty) & ~(np.zeros(len(penalty), bool) if lasso is None else lasso)
    if held.any():
        skip.weight.grad[torch.as_tensor(held, device=skip.weight.device)] = 0.0


#: Multiply-adds the refit of the linear path on every training sample may take,
#: ``min(n, p)^2 max(n, p)``, ``n p^2 + p^3`` on a lazy input (half a minute on two cores);
#: past it the path keeps the weights it was trained to.
REFIT_FLOPS = 5e11


def refit_linear_path(net, X, Y):
    """Refit the used rows of ``net``'s linear path on every training sample.

    The network trains on the training split only (a tenth is held out to choose the
    regularisation step).  Once the step is chosen, the hidden units' output ``h(x)`` is
    fixed, and the path's rows have a closed form on all ``n`` samples: the ridge
    regression of ``y - h(x)`` on ``x`` at the BLUP's penalty ``n_split *
    linear_penalty_[k]`` (what its penalty stands for, on the ``n_split`` samples it was
    set for), so the samples held out for validation count too.  On a lazy input
    (:class:`~sklearn_elm._chunks.RowChunks`) the ``p x p`` Gram matrix is summed over its
    chunks, read once more.

    Parameters
    ----------
    net : NeuralGPRegressor
        Trained, ``linear_penalty_`` set.
    X : ndarray of shape (n, p) or RowChunks
        Every training sample, as the network reads them (float32); a lazy input's
        chunks with their targets.
    Y : ndarray of shape (n, k) or None
        Their standardised targets (None for ``RowChunks``, which holds them).

    Returns
    -------
    refitted : bool
        Whether any row was refitted: not without a used row, nor past
        :data:`REFIT_FLOPS` (``min(n, p)^2 max(n, p)`` multiply-adds in memory,
        ``n p^2 + p^3`` for a lazy input).

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_elm import NeuralGPRegressor
    >>> from sklearn_elm._linear_path import refit_linear_path
    >>> rng = np.random.default_rng(0)
    >>> X = rng.choice([-1.0, 1.0], size=(200, 5)).astype(np.float32)
    >>> y = X.sum(axis=1) + rng.normal(size=200)
    >>> net = NeuralGPRegressor(module__hidden_sizes=(4,), max_epochs=3, linear_penalty=0.01,
    ...                         random_state=0).fit(X, y)
    >>> refit_linear_path(net, X, ((y - y.mean()) / y.std())[:, None].astype(np.float32))
    True
    """
    import torch

    from ._chunks import RowChunks
    from ._network import eval_output, linear_skip_of

    skip, ridge = linear_skip_of(net.module_), getattr(net, "linear_penalty_", None)
    rows = getattr(net, "_linear_rows_", None)
    if skip is None or ridge is None or rows is None or not np.isfinite(ridge).any():
        return False
    lazy = isinstance(X, RowChunks)
    n, p = X.X.shape if lazy else X.shape
    if (n * p**2 + p**3 if lazy else min(n, p) ** 2 * max(n, p)) > REFIT_FLOPS:
        return False
    weight = skip.weight
    used = np.flatnonzero(np.isfinite(ridge))
    lams = np.asarray(ridge, dtype=np.float64)[used] * rows

    def residuals(x, y, batch=4096):  # y less the hidden units' part (output less the path's)
        h = []
        with torch.no_grad():
            for start in range(0, len(x), batch):
                b = torch.as_tensor(x[start:start + batch], dtype=weight.dtype,
                                    device=weight.device)
                h.append((eval_output(net.module_, b) - b @ weight.T).cpu().numpy())
        return np.asarray(y, dtype=np.float64)[:, used] - np.concatenate(h)[:, used]

    if lazy:
        gram, right = np.zeros((p, p)), np.zeros((p, used.size))
        for c in range(len(X.bounds) - 1):
            start, stop = X.bounds[c], X.bounds[c + 1]
            chunk = X.chunk(c)
            R = residuals(chunk, X.Y[start:stop])
            chunk = chunk.astype(np.float64)
            gram += chunk.T @ chunk
            right += chunk.T @ R
        refitted = _ridge_solve(gram, right, lams)
    else:
        refitted = _ridge(X, residuals(X, np.asarray(Y).reshape(n, -1)), lams)
    with torch.no_grad():
        weight[torch.as_tensor(used, device=weight.device)] = torch.as_tensor(
            refitted, dtype=weight.dtype, device=weight.device)
    return True
