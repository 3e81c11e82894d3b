"""Tests of NeuralGPRegressor: contract with scikit-learn and skorch, and input checks."""

import pickle

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.model_selection import GridSearchCV, KFold, cross_validate
from sklearn.pipeline import make_pipeline
from skorch.callbacks import Callback
from skorch.dataset import ValidSplit

from sklearn_elm import GenotypeEncoder, NeuralGPRegressor
from sklearn_elm._network import GatedMLP, l1_path_norm
from sklearn_elm._regressor import _validation_losses, path_lengths
from sklearn_elm.datasets import make_epistatic_phenotypes

FAST = dict(module__hidden_sizes=(16,), max_epochs=8, batch_size=64)
# 70 epochs: 14, then 7 per step
PATH_9_STEPS = dict(callbacks__regularization_path__n_steps=9,
                    callbacks__regularization_path__first_fraction=0.2)


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
    np.testing.assert_allclose(reg.intercept_, (Y + 100).mean(axis=0))
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
    X, Y = data
    torch.manual_seed(123)
    before = torch.rand(1)
    torch.manual_seed(123)
    p1 = NeuralGPRegressor(random_state=7, **FAST).fit(X, Y).predict(X)
    after = torch.rand(1)
    assert torch.equal(before, after)
    p2 = NeuralGPRegressor(random_state=7, **FAST).fit(X, Y).predict(X)
    np.testing.assert_array_equal(p1, p2)
    p3 = NeuralGPRegressor(random_state=8, **FAST).fit(X, Y).predict(X)
    assert not np.allclose(p1, p3)


class _RecordSchedule(Callback):
    """Record the learning rate, weight decay and path penalty each epoch trains with."""

    def on_epoch_end(self, net, **kwargs):
        group = net.optimizer_.param_groups[0]
        seen = (group["lr"], group["weight_decay"], net.path_penalty_)
        self.seen_ = [*getattr(self, "seen_", []), seen]


def test_regularization_path_schedule():
    """Each step trains at its own path penalty and weight decay, on a cosine cycle
    restarting at lr."""
    rng = np.random.default_rng(0)
    X = rng.choice([-1.0, 1.0], size=(300, 8))
    y = X[:, 0] - X[:, 1] * X[:, 2]
    record = _RecordSchedule()
    reg = NeuralGPRegressor(random_state=0, module__hidden_sizes=(16,), max_epochs=24, lr=0.01,
                            path_penalty=0.3, optimizer__weight_decay=3.0, train_split=None,
                            callbacks=[("record", record)],
                            callbacks__regularization_path__n_steps=3,
                            callbacks__regularization_path__factor=0.5,
                            callbacks__regularization_path__first_fraction=0.5).fit(X, y)
    lengths = [12, 6, 6]
    lr, wd, penalty = np.array(record.seen_).T
    np.testing.assert_allclose(wd, np.repeat([3.0, 1.5, 0.75], lengths))
    np.testing.assert_allclose(penalty, np.repeat([0.3, 0.15, 0.075], lengths))
    starts = np.cumsum([0, *lengths[:-1]])
    np.testing.assert_allclose(lr[starts], 0.01)
    for begin, n in zip(starts, lengths, strict=True):
        cycle = lr[begin:begin + n]
        np.testing.assert_allclose(cycle, 0.005 * (1 + np.cos(np.pi * np.arange(n) / n)))
    path = dict(reg.callbacks_)["regularization_path"]
    # no validation data: the whole path runs and the last step is kept
    assert [s["epochs"] for s in path.steps_] == lengths
    assert path.best_step_ == 2 and not path.restored_ and reg.path_penalty_ == 0.075
    assert np.isnan(path.steps_[-1]["valid_loss"])


def test_regularization_path_stops_on_noise_and_restores():
    """On a pure-noise target weaker regularisation never helps significantly: the
    path stops `patience` steps after the first, whose weights come back."""
    rng = np.random.default_rng(0)
    X, y = rng.choice([-1.0, 1.0], size=(400, 12)), rng.standard_normal(400)
    reg = NeuralGPRegressor(random_state=0, module__hidden_sizes=(64,), max_epochs=70,
                            batch_size=64, path_penalty=0.02).fit(X, y)
    path = dict(reg.callbacks_)["regularization_path"]
    assert path.best_step_ == 0 and path.restored_ and reg.path_penalty_ == 0.02
    assert len(path.steps_) == 1 + path.patience
    assert len(reg.history) == sum(s["epochs"] for s in path.steps_) < 70
    # the restored weights reproduce the first step's validation loss, not the last one's
    _, dataset_valid = reg.get_split_datasets(
        X.astype(np.float32), ((y[:, None] - reg.intercept_) / reg.target_scale_).astype(np.float32)
    )
    loss = _validation_losses(reg, dataset_valid, 4096).mean()
    np.testing.assert_allclose(loss, path.steps_[0]["valid_loss"], rtol=1e-5)
    assert path.steps_[-1]["valid_loss"] > loss


def test_regularization_path_runs_through_on_signal():
    """A noise-free target keeps improving as the regularisation weakens."""
    rng = np.random.default_rng(1)
    X = rng.choice([-1.0, 1.0], size=(600, 8))
    y = X[:, 0] - 0.5 * X[:, 1] + X[:, 2] * X[:, 3]
    reg = NeuralGPRegressor(random_state=0, module__hidden_sizes=(32,), max_epochs=90,
                            batch_size=64, **PATH_9_STEPS).fit(X, y)
    path = dict(reg.callbacks_)["regularization_path"]
    assert len(path.steps_) == path.n_steps and path.best_step_ == path.n_steps - 1
    assert not path.restored_ and len(reg.history) == 90
    start = np.sqrt(np.log(8) / (2 * 540))  # "auto" for 8 loci and 540 training samples
    np.testing.assert_allclose([s["path_penalty"] for s in path.steps_],
                               start * 0.5 ** (np.arange(path.n_steps) / 2))
    assert path.steps_[-1]["valid_loss"] < 0.5 * path.steps_[0]["valid_loss"]


class _InterruptAt(Callback):
    def __init__(self, epoch):
        self.epoch = epoch

    def on_epoch_end(self, net, **kwargs):
        if len(net.history) == self.epoch:
            raise KeyboardInterrupt


def test_regularization_path_interrupted_mid_step_keeps_best_step():
    """Training stopped in the middle of a step ends on the last completed best step."""
    rng = np.random.default_rng(1)
    X = rng.choice([-1.0, 1.0], size=(600, 8))
    y = X[:, 0] - 0.5 * X[:, 1] + X[:, 2] * X[:, 3]
    reg = NeuralGPRegressor(random_state=0, module__hidden_sizes=(32,), max_epochs=70,
                            batch_size=64, callbacks=[("stop", _InterruptAt(14 + 7 + 3))],
                            **PATH_9_STEPS).fit(X, y)
    path = dict(reg.callbacks_)["regularization_path"]
    assert len(reg.history) == 24 and len(path.steps_) == 2
    assert path.restored_ and path.best_step_ == 1
    _, dataset_valid = reg.get_split_datasets(
        X.astype(np.float32), ((y[:, None] - reg.intercept_) / reg.target_scale_).astype(np.float32)
    )
    loss = _validation_losses(reg, dataset_valid, 4096).mean()
    np.testing.assert_allclose(loss, path.steps_[1]["valid_loss"], rtol=1e-5)


class _InterruptInBatch(Callback):
    def __init__(self, epoch):
        self.epoch = epoch

    def on_batch_end(self, net, training=False, **kwargs):
        if training and len(net.history) == self.epoch:
            raise KeyboardInterrupt


def test_regularization_path_interrupted_mid_epoch_restores():
    """An interruption within the first epoch after the best step (Ctrl-C in the
    CLI) has already moved the weights: the best step's weights come back."""
    rng = np.random.default_rng(1)
    X = rng.choice([-1.0, 1.0], size=(600, 8))
    y = X[:, 0] - 0.5 * X[:, 1] + X[:, 2] * X[:, 3]
    reg = NeuralGPRegressor(random_state=0, module__hidden_sizes=(32,), max_epochs=70,
                            batch_size=64, callbacks=[("stop", _InterruptInBatch(14 + 7 + 1))],
                            **PATH_9_STEPS)
    reg.fit(X, y)
    path = dict(reg.callbacks_)["regularization_path"]
    assert len(path.steps_) == 2 and path.best_step_ == 1 and path.restored_
    _, dataset_valid = reg.get_split_datasets(
        X.astype(np.float32), ((y[:, None] - reg.intercept_) / reg.target_scale_).astype(np.float32)
    )
    loss = _validation_losses(reg, dataset_valid, 4096).mean()
    np.testing.assert_allclose(loss, path.steps_[1]["valid_loss"], rtol=1e-5)


def test_regularization_path_keeps_param_group_ratios():
    """A param group with its own learning rate and no weight decay keeps them
    in proportion along the path."""
    rng = np.random.default_rng(0)
    X = rng.choice([-1.0, 1.0], size=(200, 6))
    record = _RecordGroups()
    NeuralGPRegressor(random_state=0, module__hidden_sizes=(8,), max_epochs=6, lr=0.01,
                      optimizer__weight_decay=2.0, train_split=None,
                      callbacks=[("record", record)],
                      optimizer__param_groups=[("layers.0.weight",
                                                {"lr": 0.001, "weight_decay": 0.0})],
                      callbacks__regularization_path__n_steps=2,
                      callbacks__regularization_path__first_fraction=0.5).fit(X, X[:, 0])
    first, rest = np.array(record.seen_).transpose(1, 0, 2)  # (epoch, [lr, wd]) per group
    np.testing.assert_allclose(first[:, 0], 0.1 * rest[:, 0])
    np.testing.assert_array_equal(first[:, 1], 0.0)
    np.testing.assert_allclose(rest[:, 1], [2.0] * 3 + [2.0 * 0.5**0.5] * 3)


class _RecordGroups(Callback):
    def on_epoch_end(self, net, **kwargs):
        groups = [(g["lr"], g["weight_decay"]) for g in net.optimizer_.param_groups]
        self.seen_ = [*getattr(self, "seen_", []), groups]


def test_regularization_path_epochs_beyond_max_epochs_warn_and_do_nothing():
    rng = np.random.default_rng(0)
    X = rng.choice([-1.0, 1.0], size=(200, 6))
    kwargs = dict(random_state=0, module__hidden_sizes=(8,), max_epochs=4, train_split=None)
    a = NeuralGPRegressor(**kwargs).fit(X, X[:, 0])
    with pytest.warns(UserWarning, match="learning rate of 0"):
        b = NeuralGPRegressor(**kwargs).fit(X, X[:, 0], epochs=6)
    assert len(b.history) == 6
    np.testing.assert_array_equal(a.predict(X), b.predict(X))


def test_regularization_path_with_one_validation_sample():
    """Ten samples leave one for validation: no standard error, so any gain counts."""
    rng = np.random.default_rng(0)
    X = rng.choice([-1.0, 1.0], size=(10, 3))
    reg = NeuralGPRegressor(random_state=0, module__hidden_sizes=(8,), max_epochs=9,
                            callbacks__regularization_path__n_steps=3).fit(X, X[:, 0])
    path = dict(reg.callbacks_)["regularization_path"]
    best = 0  # the selection rule with no standard error: a lower loss wins
    for i, step in enumerate(path.steps_[1:], start=1):
        if step["valid_loss"] < path.steps_[best]["valid_loss"]:
            best = i
    assert best > 0  # the regression: with a NaN standard error nothing was ever accepted
    assert np.isnan(path.steps_[0]["valid_se"]) and path.best_step_ == best


@given(max_epochs=st.integers(1, 500), n_steps=st.integers(1, 12),
       first_fraction=st.floats(0.01, 0.99))
def test_path_lengths(max_epochs, n_steps, first_fraction):
    lengths = path_lengths(max_epochs, n_steps, first_fraction)
    assert sum(lengths) == max_epochs and min(lengths) >= 1
    assert len(lengths) == min(n_steps, max_epochs)
    assert max(lengths[1:], default=0) - min(lengths[1:], default=0) <= 1


@pytest.mark.parametrize(("param", "value", "match"), [
    ("n_steps", 0, "n_steps must be a positive integer"),
    ("factor", 1.5, r"factor must be in \(0, 1\]"),
    ("first_fraction", 1.0, r"first_fraction must be in \(0, 1\)"),
])
def test_regularization_path_bad_params(param, value, match):
    X = np.random.default_rng(0).choice([-1.0, 1.0], size=(40, 3))
    reg = NeuralGPRegressor(max_epochs=2, **{f"callbacks__regularization_path__{param}": value})
    with pytest.raises(ValueError, match=match):
        reg.fit(X, X[:, 0])


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
    widths = [m.out_features for m in reg.module_.modules() if isinstance(m, torch.nn.Linear)]
    assert widths == [4, 3, 2]
    with pytest.raises(ValueError, match="activation must be one of .* got 'tanh'"):
        reg.set_params(module__activation="tanh").fit(X, Y)


def test_pipeline_gridsearch_cross_validate(data):
    X, Y = data
    pipe = make_pipeline(GenotypeEncoder(), NeuralGPRegressor(random_state=0, **FAST))
    cv = cross_validate(pipe, X, Y[:, 0], cv=KFold(3))
    assert np.all(np.isfinite(cv["test_score"]))
    grid = GridSearchCV(
        pipe, {"neuralgpregressor__module__hidden_sizes": [(4,), (16,)]}, cv=KFold(2)
    ).fit(X, Y)
    # the parameter reached the refitted network through the pipeline
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
    reg = NeuralGPRegressor(random_state=0, path_penalty=0.3,
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
    X = np.random.default_rng(0).choice([-1.0, 1.0], size=(40, 3))
    with pytest.raises(ValueError, match="path_penalty must be 'auto' or a finite number >= 0"):
        NeuralGPRegressor(max_epochs=2, path_penalty=value).fit(X, X[:, 0])


def test_path_penalty_keeps_the_network_on_the_relevant_loci():
    """Two of 16 loci carry a noisy signal: the chosen network reads little else."""
    rng = np.random.default_rng(0)
    X = rng.choice([-1.0, 1.0], size=(2000, 16))
    y = X[:, 0] + X[:, 0] * X[:, 1] + 1.5 * rng.standard_normal(2000)
    # long enough for the first step (95 epochs) to converge from the random start
    reg = NeuralGPRegressor(random_state=0, module__hidden_sizes=(64,), max_epochs=400,
                            batch_size=256).fit(X, y)
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
    assert reg.path_penalty_ == pytest.approx(np.sqrt(np.log(20) / (2 * n_fit)))
    fixed = NeuralGPRegressor(module__hidden_sizes=(4,), max_epochs=1, path_penalty=0.5,
                              train_split=train_split,
                              callbacks__regularization_path__n_steps=1).fit(X, X[:, 0])
    assert fixed.path_penalty_ == 0.5


def test_step_selection_uses_the_criterion_with_its_parameters(data):
    """The path judges steps by the training criterion itself: HuberLoss(delta=0.1),
    not a default HuberLoss()."""
    X, Y = data
    reg = NeuralGPRegressor(criterion=torch.nn.HuberLoss, criterion__delta=0.1, random_state=0,
                            **{**FAST, "max_epochs": 4},
                            callbacks__regularization_path__n_steps=1).fit(X, Y[:, 0])
    path = dict(reg.callbacks_)["regularization_path"]
    np.testing.assert_allclose(path.steps_[-1]["valid_loss"], reg.history[-1]["valid_loss"],
                               rtol=1e-5)


def test_warm_started_refit_follows_set_params_lr(data):
    X, Y = data

    class Rates(Callback):
        def on_epoch_begin(self, net, **kwargs):
            self.seen.append(net.optimizer_.param_groups[0]["lr"])

    rates = Rates()
    rates.seen = []
    reg = NeuralGPRegressor(warm_start=True, random_state=0, callbacks=[("rates", rates)],
                            callbacks__regularization_path__n_steps=1, **FAST)
    reg.fit(X, Y[:, 0])
    assert rates.seen[0] == pytest.approx(reg.lr)
    rates.seen.clear()
    reg.set_params(lr=1e-5).fit(X, Y[:, 0])
    assert rates.seen[0] == pytest.approx(1e-5)


def test_module_outputs_must_match_the_targets(data):
    X, Y = data
    with pytest.raises(ValueError, match="module__n_outputs=2"):
        NeuralGPRegressor(module__n_outputs=1, **FAST).fit(X, Y)


def test_a_param_group_trains_at_its_own_lr_where_the_net_lr_is_zero(data):
    """lr=0 freezes every group without a learning rate of its own, not the others."""
    X, Y = data
    reg = NeuralGPRegressor(lr=0.0, warm_start=True, random_state=0, module__n_features=X.shape[1],
                            module__n_outputs=1,
                            optimizer__param_groups=[("layers.0.*", {"lr": 1e-2})],
                            callbacks__regularization_path__n_steps=1, **FAST)
    reg.initialize()
    first = reg.module_.layers[0].weight.detach().clone()
    last = reg.module_.layers[-1].weight.detach().clone()
    reg.fit(X, Y[:, 0])
    assert not torch.equal(reg.module_.layers[0].weight, first)
    assert torch.equal(reg.module_.layers[-1].weight, last)
