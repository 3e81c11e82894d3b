"""Tests of the regularisation path: its schedule, step selection and restoring, and helpers."""

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from sklearn.base import clone
from skorch import NeuralNetRegressor
from skorch.callbacks import Callback, EarlyStopping

from sklearn_elm import NeuralGPRegressor
from sklearn_elm._path import _validation_losses, auto_path_penalty, path_lengths
from sklearn_elm.datasets import make_epistatic_phenotypes
from sklearn_elm.nn import GatedMLP, RegularizationPath

FAST = dict(module__hidden_sizes=(16,), max_epochs=8, batch_size=64)
# 70 epochs: 14, then 7 per step
PATH_9_STEPS = dict(callbacks__regularization_path__n_steps=9,
                    callbacks__regularization_path__first_fraction=0.2)


@pytest.fixture(scope="module")
def data():
    d = make_epistatic_phenotypes(400, 12, n_traits=2, h2=0.9, epistatic_ratio=0.3, random_state=0)
    return d.genotypes, d.phenotypes


def _valid_loss(reg, X, y):
    """Mean validation criterion of the fitted network, on the split fit used."""
    Y = (y.reshape(len(y), -1) - reg.intercept_) / reg.target_scale_
    _, dataset_valid = reg.get_split_datasets(X.astype(np.float32), Y.astype(np.float32))
    return _validation_losses(reg, dataset_valid, 4096).mean()


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
    # the path alone: pairs seeded from noise would start the steps elsewhere, and the refit
    # of a pair path or of a lasso row of the linear path would move the restored weights
    reg = NeuralGPRegressor(random_state=0, module__hidden_sizes=(64,), max_epochs=70,
                            batch_size=64, path_penalty=0.02, pair_path=0, linear_penalty=None,
                            callbacks__pair_seeding__n_pairs=0).fit(X, y)
    path = dict(reg.callbacks_)["regularization_path"]
    assert path.best_step_ == 0 and path.restored_ and reg.path_penalty_ == 0.02
    assert len(path.steps_) == 1 + path.patience
    assert len(reg.history) == sum(s["epochs"] for s in path.steps_) < 70
    # the restored weights reproduce the first step's validation loss, not the last one's
    loss = _valid_loss(reg, X, y)
    np.testing.assert_allclose(loss, path.steps_[0]["valid_loss"], rtol=1e-5)
    assert path.steps_[-1]["valid_loss"] > loss


def test_get_params_lists_the_callback_settings_fit_uses(data):
    """get_params reports a callback's parameter as set on the net (not the default
    callback's), before and after fit, and not the path's bookkeeping that fit leaves."""
    X, Y = data
    key = "callbacks__regularization_path__n_steps"
    reg = NeuralGPRegressor(random_state=0, **FAST, **PATH_9_STEPS)
    before = reg.get_params()
    assert before[key] == 9
    reg.fit(X, Y[:, 0])
    assert len(dict(reg.callbacks_)["regularization_path"].path_penalties_) == 9
    after = reg.get_params()
    assert after.keys() == before.keys() and after[key] == 9
    assert clone(reg).get_params()[key] == 9
    reg.set_params(callbacks__regularization_path__n_steps=5)
    assert reg.get_params()[key] == 5
    replaced = NeuralGPRegressor(callbacks__regularization_path=RegularizationPath(n_steps=3),
                                 random_state=0, **FAST)
    assert replaced.get_params()[key] == 3
    keys = replaced.get_params().keys()
    assert replaced.fit(X, Y[:, 0]).get_params().keys() == keys  # not the path's state
    # a callback of the user's is listed before fit too; one set to None, or all disabled,
    # list no settings that fit would not use
    stop = NeuralGPRegressor(callbacks=[("stop", EarlyStopping(patience=3))])
    assert stop.get_params()["callbacks__stop__patience"] == 3
    off = NeuralGPRegressor(callbacks__regularization_path=None).get_params()
    assert off["callbacks__regularization_path"] is None and key not in off
    disabled = NeuralGPRegressor(callbacks="disable").get_params()
    assert not [name for name in disabled if name.startswith("callbacks__")]


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
    start = auto_path_penalty(540, 8)  # 8 loci, 540 training samples after the split
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
                            pair_path=0, linear_penalty=None,  # no refit after the path
                            **PATH_9_STEPS).fit(X, y)
    path = dict(reg.callbacks_)["regularization_path"]
    assert len(reg.history) == 24 and len(path.steps_) == 2
    assert path.restored_ and path.best_step_ == 1
    loss = _valid_loss(reg, X, y)
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
                            pair_path=0, linear_penalty=None,  # no refit after the path
                            **PATH_9_STEPS)
    reg.fit(X, y)
    path = dict(reg.callbacks_)["regularization_path"]
    assert len(path.steps_) == 2 and path.best_step_ == 1 and path.restored_
    loss = _valid_loss(reg, X, y)
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
    """Epochs past the end of the path warn and train at a learning rate of 0."""
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
    assert best > 0  # a NaN standard error must not block every later step
    assert np.isnan(path.steps_[0]["valid_se"]) and path.best_step_ == best


@given(max_epochs=st.integers(1, 500), n_steps=st.integers(1, 12),
       first_fraction=st.floats(0.01, 0.99))
def test_path_lengths(max_epochs, n_steps, first_fraction):
    """The step lengths add up to max_epochs, each at least 1, the later ones within 1."""
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
    """Settings out of range fail in fit with a message naming the setting."""
    X = np.random.default_rng(0).choice([-1.0, 1.0], size=(40, 3))
    reg = NeuralGPRegressor(max_epochs=2, **{f"callbacks__regularization_path__{param}": value})
    with pytest.raises(ValueError, match=match):
        reg.fit(X, X[:, 0])


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
    """A warm-started refit starts its path at the lr set in between, not the first one."""
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


def test_a_param_group_trains_at_its_own_lr_where_the_net_lr_is_zero(data):
    """lr=0 freezes every group without a learning rate of its own, not the others."""
    X, Y = data
    reg = NeuralGPRegressor(lr=0.0, warm_start=True, random_state=0, module__n_features=X.shape[1],
                            module__n_outputs=1,
                            optimizer__param_groups=[("layers.0.*", {"lr": 1e-2})],
                            callbacks__regularization_path__n_steps=1,
                            callbacks__pair_seeding__n_pairs=0, **FAST)
    reg.initialize()
    first = reg.module_.layers[0].weight.detach().clone()
    last = reg.module_.layers[-1].weight.detach().clone()
    reg.fit(X, Y[:, 0])
    assert not torch.equal(reg.module_.layers[0].weight, first)
    assert torch.equal(reg.module_.layers[-1].weight, last)


class _HalvedStart(NeuralGPRegressor):
    """Halves the path penalty that the split sets."""

    def get_split_datasets(self, X, y=None, **fit_params):
        split = super().get_split_datasets(X, y, **fit_params)
        self.path_penalty_ /= 2
        return split


def test_path_starts_at_the_nets_path_penalty():
    """The path starts at the net's path_penalty_ as it stands at the first epoch (set
    with the split), not at a value of its own, and multiplies it by factor per step."""
    rng = np.random.default_rng(0)
    X = rng.choice([-1.0, 1.0], size=(100, 4))
    reg = _HalvedStart(module__hidden_sizes=(4,), max_epochs=3, path_penalty=0.4,
                       callbacks__regularization_path=RegularizationPath(n_steps=3, factor=0.5),
                       random_state=0).fit(X, X[:, 0])
    path = dict(reg.callbacks_)["regularization_path"]
    np.testing.assert_allclose(path.path_penalties_, [0.2, 0.1, 0.05])


def test_path_on_a_plain_skorch_net():
    """A net without a path penalty (plain skorch) gets a path of weight decays alone."""
    rng = np.random.default_rng(0)
    X = rng.choice([-1.0, 1.0], size=(100, 4)).astype(np.float32)
    record = _RecordGroups()
    net = NeuralNetRegressor(GatedMLP, module__n_features=4, module__hidden_sizes=(4,),
                             optimizer=torch.optim.AdamW, optimizer__weight_decay=1.0,
                             max_epochs=4, train_split=None, verbose=0,
                             callbacks=[("path", RegularizationPath(n_steps=2, factor=0.5,
                                                                    first_fraction=0.5)),
                                        ("record", record)])
    net.fit(X, X[:, :1])
    path = dict(net.callbacks_)["path"]
    assert path.path_penalties_ == [0.0, 0.0] and path.weight_decays_ == [1.0, 0.5]
    np.testing.assert_allclose([groups[0][1] for groups in record.seen_], [1.0, 1.0, 0.5, 0.5])
