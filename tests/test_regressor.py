"""Tests of NeuralGPRegressor: contract with scikit-learn and skorch, and input checks."""

import pickle

import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.model_selection import GridSearchCV, KFold, cross_validate
from sklearn.pipeline import make_pipeline
from sklearn.utils.validation import check_is_fitted
from skorch.dataset import ValidSplit

from sklearn_elm import ELMDecomposer, GenotypeEncoder, NeuralGPRegressor
from sklearn_elm._path import _validation_losses, auto_path_penalty
from sklearn_elm.datasets import make_epistatic_phenotypes
from sklearn_elm.nn import GatedMLP, l1_path_norm

FAST = dict(module__hidden_sizes=(16,), max_epochs=8, batch_size=64)


@pytest.fixture(scope="module")
def data():
    d = make_epistatic_phenotypes(400, 12, n_traits=2, h2=0.9, epistatic_ratio=0.3, random_state=0)
    return d.genotypes, d.phenotypes


def test_learns_additive_plus_pair():
    rng = np.random.default_rng(0)
    X = rng.choice([-1.0, 1.0], size=(1500, 10))
    y = X[:, 0] - 0.5 * X[:, 1] + 0.8 * X[:, 2] * X[:, 3]
    reg = NeuralGPRegressor(module__hidden_sizes=(64,), max_epochs=60, random_state=0)
    reg.fit(X[:1200], y[:1200])
    assert reg.score(X[1200:], y[1200:]) > 0.95


def test_network_is_bias_free_and_intercept_outside(data):
    X, Y = data
    reg = NeuralGPRegressor(random_state=0, **FAST).fit(X, Y + 100.0)
    linears = [m for m in reg.module_.modules() if isinstance(m, torch.nn.Linear)]
    assert linears and all(m.bias is None for m in linears)
    # the targets' mean; a lasso row's refit adds its constant, which leaves the training
    # predictions' mean the targets'
    lasso = reg.linear_lasso_ if reg.linear_lasso_ is not None else np.zeros(Y.shape[1], bool)
    np.testing.assert_allclose(reg.intercept_[~lasso], (Y + 100).mean(axis=0)[~lasso])
    np.testing.assert_allclose(reg.predict(X).mean(axis=0)[lasso], (Y + 100).mean(axis=0)[lasso],
                               rtol=1e-6)
    np.testing.assert_allclose(reg.target_scale_, Y.std(axis=0))
    with torch.no_grad():
        raw = reg.module_(torch.as_tensor(X[:5], dtype=torch.float32)).numpy()
    expected = reg.intercept_ + reg.target_scale_ * raw
    np.testing.assert_allclose(reg.predict(X[:5]), expected, rtol=1e-5)
    assert not reg.module_.training


def test_output_dimensionality_follows_y(data):
    X, Y = data
    one = NeuralGPRegressor(random_state=0, **FAST).fit(X, Y[:, 0])
    assert one.predict(X).shape == (len(X),) and one.n_outputs_ == 1
    two = NeuralGPRegressor(random_state=0, **FAST).fit(X, Y)
    assert two.predict(X).shape == Y.shape and two.n_outputs_ == 2
    col = NeuralGPRegressor(random_state=0, **FAST).fit(X, Y[:, :1])
    assert col.predict(X).shape == (len(X), 1)


def test_accepts_int_and_float64(data):
    X, Y = data
    a = NeuralGPRegressor(random_state=0, **FAST).fit(X.astype(np.int8), Y[:, 0])
    b = NeuralGPRegressor(random_state=0, **FAST).fit(X.astype(np.float64), Y[:, 0])
    np.testing.assert_allclose(a.predict(X), b.predict(X.astype(np.float64)), rtol=1e-6)


def test_reproducible_and_leaves_global_rng_alone(data):
    """torch's and numpy's global generators are where the fit found them (the linear path's
    choice and the lasso refit run scikit-learn's coordinate descent, which draws a seed from
    numpy's unless given one)."""
    X, Y = data
    legacy = np.random.mtrand._rand  # numpy's global generator (np.random.rand and the like)
    torch.manual_seed(123)
    legacy.seed(123)
    before, before_np = torch.rand(1), legacy.random_sample()
    torch.manual_seed(123)
    legacy.seed(123)
    p1 = NeuralGPRegressor(random_state=7, **FAST).fit(X, Y).predict(X)
    assert torch.equal(before, torch.rand(1)) and legacy.random_sample() == before_np
    p2 = NeuralGPRegressor(random_state=7, **FAST).fit(X, Y).predict(X)
    np.testing.assert_array_equal(p1, p2)
    p3 = NeuralGPRegressor(random_state=8, **FAST).fit(X, Y).predict(X)
    assert not np.allclose(p1, p3)


def test_no_validation_split():
    rng = np.random.default_rng(0)
    X = rng.choice([-1.0, 1.0], size=(60, 4))
    reg = NeuralGPRegressor(train_split=None, max_epochs=5, random_state=0).fit(X, X[:, 0])
    assert len(reg.history) == 5 and "valid_loss" not in reg.history[-1]


def test_clone_pickle_set_params(data):
    X, Y = data
    reg = NeuralGPRegressor(random_state=0, **FAST)
    c = clone(reg)
    assert c.get_params()["module__hidden_sizes"] == (16,)
    reg.fit(X, Y)
    restored = pickle.loads(pickle.dumps(reg))
    np.testing.assert_allclose(restored.predict(X), reg.predict(X))
    reg.set_params(module__hidden_sizes=(4, 3)).fit(X, Y)
    widths = [m.out_features for m in reg.module_.layers if isinstance(m, torch.nn.Linear)]
    assert widths == [4, 3, 2] and reg.module_.skip.out_features == 2
    with pytest.raises(ValueError, match="activation must be one of .* got 'tanh'"):
        reg.set_params(module__activation="tanh").fit(X, Y)


def test_repr_names_the_settings_set():
    """A repr (scikit-learn's, in a pipeline) names the settings that were set, skorch's
    among them, and not skorch's bookkeeping nor its defaults; clone keeps every setting,
    and get_params(deep=True) still lists skorch's, so that set_params and a grid reach
    them."""
    net = NeuralGPRegressor(max_epochs=3, warm_start=True, module__hidden_sizes=(8,))
    text = repr(make_pipeline(net)).replace("\n", " ")
    for shown in ("max_epochs=3", "warm_start=True", "module__hidden_sizes=(8,)"):
        assert shown in text
    for hidden in ("_params_to_validate", "compile", "dataset", "device", "use_caching"):
        assert hidden not in text
    c = clone(net)
    assert (c.warm_start, c.max_epochs, c.device) == (True, 3, "cpu")
    assert c._params_to_validate == net._params_to_validate
    deep = net.get_params()
    assert deep["device"] == "cpu" and "_params_to_validate" not in deep
    assert net.set_params(device="meta").get_params(deep=False)["device"] == "meta"


def test_pipeline_gridsearch_cross_validate(data):
    """Through a Pipeline, cross_validate and GridSearchCV score well above chance on
    an additive target, and the grid's parameter reaches the refitted network."""
    X, _ = data
    Z = X - X.mean(axis=0)
    Y = np.column_stack([Z[:, 0] - Z[:, 1] + 0.5 * Z[:, 2], Z[:, 3] + 0.5 * Z[:, 4] - Z[:, 5]])
    pipe = make_pipeline(GenotypeEncoder(), NeuralGPRegressor(random_state=0, lr=0.02, **FAST))
    cv = cross_validate(pipe, X, Y[:, 0], cv=KFold(3))
    assert cv["test_score"].mean() > 0.8
    grid = GridSearchCV(
        pipe, {"neuralgpregressor__module__hidden_sizes": [(4,), (16,)]}, cv=KFold(2)
    ).fit(X, Y)
    assert grid.best_score_ > 0.8
    best = grid.best_params_["neuralgpregressor__module__hidden_sizes"]
    assert grid.best_estimator_[-1].module_.layers[0].out_features == best[0]
    assert grid.predict(X).shape == Y.shape


@pytest.mark.parametrize(
    "X, y, match",
    [
        (np.full((30, 3), np.nan), np.zeros(30), "NaN"),
        (np.zeros((30, 3)), np.full(30, np.nan), "NaN"),
        (np.zeros((30, 3)), np.zeros(29), "inconsistent numbers of samples"),
        (np.zeros((0, 3)), np.zeros(0), "0 sample"),
        (np.zeros((30, 0)), np.zeros(30), "0 feature"),
        (np.zeros(30), np.zeros(30), "2D array"),
        (np.zeros((1, 3)), np.zeros(1), "n_samples = 1"),
    ],
)
def test_bad_input(X, y, match):
    with pytest.raises(ValueError, match=match):
        NeuralGPRegressor(**FAST).fit(X, y)


def test_a_numpy_generator_seed_is_named_with_the_fix():
    """scikit-learn's seeds are None, an int or a RandomState; a Generator is refused before
    training, by the network and by an ensemble deriving its members' seeds from it."""
    X, y = np.ones((30, 3)), np.arange(30.0)
    net = NeuralGPRegressor(**{**FAST, "random_state": np.random.default_rng(0)})
    match = r"random_state must be None, an int or a numpy RandomState.*int\(rng.integers"
    with pytest.raises(ValueError, match=match):
        net.fit(X, y)
    with pytest.raises(ValueError, match=match):
        ELMDecomposer(net, n_estimators=2).fit(X, y)


def test_sample_weight_is_refused_by_name():
    """skorch would pass it on to the validation split, whose error names neither."""
    X, y = np.ones((30, 3)), np.arange(30.0)
    with pytest.raises(TypeError, match="takes no sample_weight"):
        NeuralGPRegressor(**FAST).fit(X, y, sample_weight=np.ones(30))
    with pytest.raises(TypeError, match="takes no sample_weight"):
        make_pipeline(NeuralGPRegressor(**FAST)).fit(
            X, y, neuralgpregressor__sample_weight=np.ones(30))


def test_predict_before_fit_and_wrong_width(data):
    X, Y = data
    with pytest.raises(NotFittedError):
        NeuralGPRegressor().predict(X)
    reg = NeuralGPRegressor(random_state=0, **FAST).fit(X, Y)
    with pytest.raises(ValueError, match="features"):
        reg.predict(X[:, :5])


def test_initialize_without_data_needs_sizes():
    with pytest.raises(ValueError, match="module__n_features"):
        NeuralGPRegressor().initialize()
    net = NeuralGPRegressor(module__n_features=3, module__n_outputs=2).initialize()
    assert net.module_(torch.zeros(1, 3)).shape == (1, 2)


def test_l1_path_norm_sums_every_path():
    """Brute force over every input-hidden-hidden-output path of a deep net."""
    torch.manual_seed(0)
    net = GatedMLP(5, 3, hidden_sizes=(4, 6), activation="silu").double()
    w1, w2, w3 = (m.weight.detach().abs().numpy()
                  for m in net.modules() if isinstance(m, torch.nn.Linear))
    brute = sum(w3[o, k] * w2[k, j] * w1[j, i]
                for o in range(3) for k in range(6) for j in range(4) for i in range(5))
    np.testing.assert_allclose(l1_path_norm(net).item(), brute, rtol=1e-12)


class _TwoBranches(torch.nn.Module):
    def __init__(self, n_features=4, n_outputs=1):
        super().__init__()
        self.a = torch.nn.Linear(n_features, 3, bias=False)
        self.b = torch.nn.Linear(n_features, n_outputs, bias=False)

    def forward(self, X):
        return self.b(X) + self.a(X).sum(dim=1, keepdim=True)


def test_path_penalty_needs_a_chain_of_linear_layers():
    X = np.random.default_rng(0).choice([-1.0, 1.0], size=(40, 4))
    with pytest.raises(ValueError, match="do not form a chain.*path_penalty=0"):
        NeuralGPRegressor(_TwoBranches, max_epochs=2).fit(X, X[:, 0])
    # found when the module is built, before any training
    net = NeuralGPRegressor(_TwoBranches, module__n_features=4, module__n_outputs=1)
    with pytest.raises(ValueError, match="do not form a chain"):
        net.initialize()
    reg = NeuralGPRegressor(_TwoBranches, max_epochs=2, path_penalty=0).fit(X, X[:, 0])
    assert reg.predict(X).shape == (40,)


def test_training_loss_adds_the_penalty_per_output(data):
    """The training loss is the criterion plus path_penalty * path norm / n_outputs; the
    validation loss in the history is the criterion alone."""
    X, Y = data
    # without the linear and pair paths, whose terms test_linear_path and test_pair_path check
    # and whose refits after training leave the network of the history's last step
    reg = NeuralGPRegressor(random_state=0, path_penalty=0.3, linear_penalty=None, pair_path=0,
                            callbacks__regularization_path__n_steps=1, **FAST).fit(X, Y)
    assert reg.path_penalty_ == 0.3
    Xt = torch.as_tensor(X[:50], dtype=torch.float32)
    Yt = torch.as_tensor(((Y[:50] - reg.intercept_) / reg.target_scale_), dtype=torch.float32)
    with torch.no_grad():
        pred = reg.module_(Xt)
        plain = torch.nn.functional.mse_loss(pred, Yt).item()
        norm = l1_path_norm(reg.module_).item()
        np.testing.assert_allclose(reg.get_loss(pred, Yt, training=False).item(), plain, rtol=1e-6)
        np.testing.assert_allclose(reg.get_loss(pred, Yt, training=True).item(),
                                   plain + 0.3 * norm / 2, rtol=1e-6)
    assert norm > 0
    _, dataset_valid = reg.get_split_datasets(
        X.astype(np.float32), ((Y - reg.intercept_) / reg.target_scale_).astype(np.float32)
    )
    np.testing.assert_allclose(reg.history[-1, "valid_loss"],
                               _validation_losses(reg, dataset_valid, 4096).mean(), rtol=1e-5)


@pytest.mark.parametrize("value", [-0.1, np.nan, np.inf, "0.1", True])
def test_bad_path_penalty(value):
    """A bad path_penalty fails in fit before the network is built or trained."""
    X = np.random.default_rng(0).choice([-1.0, 1.0], size=(40, 3))
    reg = NeuralGPRegressor(max_epochs=2, path_penalty=value)
    with pytest.raises(ValueError, match="path_penalty must be 'auto' or a finite number >= 0"):
        reg.fit(X, X[:, 0])
    assert not reg.initialized_


@pytest.mark.parametrize("value", [0, -1, 2.5, True, None])
def test_bad_max_epochs(value):
    """max_epochs of 0 or below trained no epoch and returned the initial weights in silence."""
    X = np.random.default_rng(0).choice([-1.0, 1.0], size=(40, 3))
    reg = NeuralGPRegressor(max_epochs=value)
    with pytest.raises(ValueError, match=f"max_epochs must be a positive integer, got {value}"):
        reg.fit(X, X[:, 0])
    assert not reg.initialized_


def test_path_penalty_keeps_the_network_on_the_relevant_loci():
    """Two of 16 loci carry a noisy signal: the chosen network reads little else (the hidden
    units alone, which the path norm penalises: no pair path beside them)."""
    rng = np.random.default_rng(0)
    X = rng.choice([-1.0, 1.0], size=(2000, 16))
    y = X[:, 0] + X[:, 0] * X[:, 1] + 1.5 * rng.standard_normal(2000)
    # long enough for the first step (95 epochs) to converge from the random start
    reg = NeuralGPRegressor(random_state=0, module__hidden_sizes=(64,), max_epochs=400,
                            batch_size=256, pair_path=0).fit(X, y)
    assert _paths_from_each_input(reg)[2:].sum() < 0.1 * _paths_from_each_input(reg).sum()
    unpenalised = NeuralGPRegressor(random_state=0, module__hidden_sizes=(64,), max_epochs=400,
                                    batch_size=256, path_penalty=0).fit(X, y)
    paths = _paths_from_each_input(unpenalised)
    assert paths[2:].sum() > 0.1 * paths.sum()  # the test can tell the two apart


def _paths_from_each_input(reg):
    """Path norm of the paths that start at each input: |W_2| |W_1| summed over outputs."""
    w1, w2 = (m.weight.detach().abs() for m in reg.module_.layers if isinstance(m, torch.nn.Linear))
    return (w2 @ w1).sum(dim=0).numpy()


@pytest.mark.parametrize(("train_split", "n_fit"), [
    ("auto", 300 - 30), (None, 300), (ValidSplit(0.5, random_state=0), 150),
])
def test_auto_path_penalty_starts_at_half_the_chance_correlation_scale(train_split, n_fit):
    X = np.random.default_rng(0).choice([-1.0, 1.0], size=(300, 20))
    reg = NeuralGPRegressor(module__hidden_sizes=(4,), max_epochs=1, train_split=train_split,
                            callbacks__regularization_path__n_steps=1).fit(X, X[:, 0])
    assert reg.path_penalty_ == np.sqrt(np.log(20) / (2 * n_fit))
    fixed = NeuralGPRegressor(module__hidden_sizes=(4,), max_epochs=1, path_penalty=0.5,
                              train_split=train_split,
                              callbacks__regularization_path__n_steps=1).fit(X, X[:, 0])
    assert fixed.path_penalty_ == 0.5


def test_module_outputs_must_match_the_targets(data):
    X, Y = data
    with pytest.raises(ValueError, match="module__n_outputs=2"):
        NeuralGPRegressor(module__n_outputs=1, **FAST).fit(X, Y)


@pytest.mark.parametrize("train_split", [ValidSplit(0.5, random_state=0), ValidSplit(7)])
def test_path_penalty_is_resolved_for_the_training_split_fit_uses(train_split):
    """"auto" counts the samples of the split the network trains on, whatever
    train_split is, and is set before the first epoch (fit with epochs=0 trains none)."""
    X = np.random.default_rng(0).choice([-1.0, 1.0], size=(280, 20))
    reg = NeuralGPRegressor(module__hidden_sizes=(4,), train_split=train_split,
                            random_state=0).fit(X, X[:, 0], epochs=0)
    dataset_train, _ = train_split(X)
    assert len(reg.history) == 0
    assert reg.path_penalty_ == auto_path_penalty(len(dataset_train), 20)


class _NaNLoss(torch.nn.MSELoss):
    def forward(self, y_pred, y_true):
        return super().forward(y_pred, y_true) * float("nan")


@pytest.mark.parametrize(("scale", "params", "match"), [
    (1.0, dict(lr=1e30), "epoch 1: the validation loss became nan"),
    # the pair path's products overflow to inf, and inf times a weight of 0 is nan
    (1e30, {}, "epoch 1: the training loss became (inf|nan)"),
    (1.0, dict(criterion=_NaNLoss), "epoch 1: the training loss became nan"),
    # one update, no validation data: only the outputs show the overflow
    (1.0, dict(lr=1e30, max_epochs=1, train_split=None),
     "epoch 1: the network predicts non-finite values"),
])
def test_diverging_training_is_an_error(scale, params, match):
    """A fit whose loss, weights or outputs become NaN or inf raises a ValueError naming
    the epoch and the fixes, and leaves no model that predicts NaN."""
    X = np.random.default_rng(0).choice([-1.0, 1.0], size=(100, 5))
    reg = NeuralGPRegressor(**{"module__hidden_sizes": (8,), "max_epochs": 6,
                               "random_state": 0, **params})
    with pytest.raises(ValueError, match=f"Training diverged at {match}.*Lower lr"):
        reg.fit(scale * X, X[:, 0])
    with pytest.raises(NotFittedError):
        reg.predict(X)


def test_a_diverging_warm_start_leaves_the_estimator_unfitted():
    """A warm-started fit that diverges does not keep the earlier fit's intercept
    in front of a NaN network: sklearn's ``check_is_fitted`` says it is unfitted, and
    a refit at a sane lr starts from fresh weights (not the diverged ones), giving
    the same network as a fresh estimator."""
    X = np.random.default_rng(0).choice([-1.0, 1.0], size=(100, 5))
    params = dict(module__hidden_sizes=(8,), max_epochs=4, warm_start=True, random_state=0)
    reg = NeuralGPRegressor(**params).fit(X, X[:, 0])
    with pytest.raises(ValueError, match="Training diverged"):
        reg.set_params(lr=1e30).fit(X, X[:, 0])
    with pytest.raises(NotFittedError):
        reg.predict(X)
    with pytest.raises(NotFittedError):
        check_is_fitted(reg)
    refit = reg.set_params(lr=4e-3).fit(X, X[:, 0])
    check_is_fitted(refit)
    fresh = NeuralGPRegressor(**params).fit(X, X[:, 0])
    np.testing.assert_array_equal(refit.predict(X), fresh.predict(X))


# sklearn's finiteness check sums y first, which overflows and warns
@pytest.mark.filterwarnings("ignore:invalid value encountered in reduce:RuntimeWarning")
@pytest.mark.parametrize("y", [
    np.tile([1e308, -1e308], 20),
    np.column_stack([np.arange(40.0), np.full(40, 1e308)]),
])
def test_targets_too_large_to_standardise(y):
    """A target whose mean or standard deviation overflows float64 is an error naming
    the column, not a network trained on NaN."""
    X = np.random.default_rng(0).choice([-1.0, 1.0], size=(40, 3))
    column = 0 if y.ndim == 1 else 1
    with pytest.raises(ValueError, match=rf"too large to standardise.*column\(s\) \[{column}\]"):
        NeuralGPRegressor(max_epochs=2).fit(X, y)


@pytest.mark.parametrize(("method", "reason"), [
    ("partial_fit", "standardised in fit; use warm_start=True"),
    ("predict_proba", "use predict"),
])
def test_hidden_methods(method, reason):
    """partial_fit and predict_proba are hidden (hasattr is False); the AttributeError's
    cause says why and what to use instead."""
    reg = NeuralGPRegressor()
    assert not hasattr(reg, method)
    with pytest.raises(AttributeError) as info:
        getattr(reg, method)
    assert reason in str(info.value.__cause__)


def test_fits_in_threads_draw_the_stream_their_seed_gives():
    """Two fits and a prediction in parallel threads of one process: torch's random generator
    is global, so without turns one fit's draws would shift the other's. Each fit equals the
    same fit run alone."""
    from concurrent.futures import ThreadPoolExecutor

    rng = np.random.default_rng(0)
    X = rng.choice([-1.0, 1.0], size=(200, 8)).astype(np.float32)
    y = X[:, 0] - X[:, 1] * X[:, 2] + 0.3 * rng.normal(size=200)

    def fit(seed):
        reg = NeuralGPRegressor(module__hidden_sizes=(16,), max_epochs=6, batch_size=32,
                                random_state=seed)
        return reg.fit(X, y).predict(X)

    alone = [fit(seed) for seed in (1, 2)]
    fitted = fit(3)
    with ThreadPoolExecutor(max_workers=3) as pool:
        futures = [pool.submit(fit, seed) for seed in (1, 2)] + [pool.submit(fit, 3)]
        together = [future.result() for future in futures]
    np.testing.assert_array_equal(together[0], alone[0])
    np.testing.assert_array_equal(together[1], alone[1])
    np.testing.assert_array_equal(together[2], fitted)


def test_a_read_only_input_trains_without_torch_warnings():
    """A read-only array (a pandas 3 frame's values, a Pipeline's set_output) trains without
    torch's warning of undefined behaviour on non-writable arrays."""
    import warnings

    X = np.random.default_rng(0).choice([-1.0, 1.0], size=(200, 4))
    X.setflags(write=False)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        NeuralGPRegressor(module__hidden_sizes=(4,), max_epochs=2, random_state=0).fit(X, X[:, 0])
    assert not [w for w in caught if "not writable" in str(w.message)]
