"""Tests of NeuralGPRegressor: contract with scikit-learn and skorch, and input checks."""

import pickle

import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.model_selection import GridSearchCV, KFold, cross_validate
from sklearn.pipeline import make_pipeline

from sklearn_elm import GenotypeEncoder, NeuralGPRegressor
from sklearn_elm.datasets import make_epistatic_phenotypes

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


def test_early_stopping_restores_best():
    """On a pure-noise target with no weight decay the validation loss soon rises
    beyond its standard error: training stops `patience` epochs after the last
    epoch within one standard error of the best, and the best weights come back."""
    rng = np.random.default_rng(0)
    X, y = rng.choice([-1.0, 1.0], size=(300, 12)), rng.standard_normal(300)
    reg = NeuralGPRegressor(random_state=0, module__hidden_sizes=(64,), max_epochs=300,
                            lr=1e-2, optimizer__weight_decay=0.0,
                            callbacks__early_stopping__patience=3).fit(X, y)
    stopper = dict(reg.callbacks_)["early_stopping"]
    assert len(reg.history) < 300
    assert stopper.restored_ and stopper.best_epoch_ < len(reg.history)
    # the restored weights reproduce the best validation loss, not the last one
    _, dataset_valid = reg.get_split_datasets(
        X.astype(np.float32), ((y[:, None] - reg.intercept_) / reg.target_scale_).astype(np.float32)
    )
    losses = stopper._per_sample_losses(reg, dataset_valid)
    np.testing.assert_allclose(losses.mean(), stopper.best_loss_, rtol=1e-5)
    np.testing.assert_allclose(reg.history[stopper.best_epoch_ - 1, "valid_loss"],
                               stopper.best_loss_, rtol=1e-4)


def test_early_stopping_keeps_final_weights_within_noise():
    """A well-regularised fit whose validation loss ends within one standard error
    of its best keeps the final weights of the learning-rate schedule."""
    rng = np.random.default_rng(1)
    X = rng.choice([-1.0, 1.0], size=(400, 8))
    y = X[:, 0] + rng.standard_normal(400)
    reg = NeuralGPRegressor(random_state=0, module__hidden_sizes=(16,), max_epochs=30).fit(X, y)
    stopper = dict(reg.callbacks_)["early_stopping"]
    assert len(reg.history) == 30 and not stopper.restored_
    assert stopper.last_loss_ <= stopper.best_loss_ + stopper.best_se_


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
    with pytest.raises(ValueError):
        reg.set_params(module__activation="tanh").fit(X, Y)


def test_pipeline_gridsearch_cross_validate(data):
    X, Y = data
    pipe = make_pipeline(GenotypeEncoder(), NeuralGPRegressor(random_state=0, **FAST))
    cv = cross_validate(pipe, X, Y[:, 0], cv=KFold(3))
    assert np.all(np.isfinite(cv["test_score"]))
    grid = GridSearchCV(
        pipe, {"neuralgpregressor__module__hidden_sizes": [(4,), (16,)]}, cv=KFold(2)
    ).fit(X, Y)
    assert grid.best_params_["neuralgpregressor__module__hidden_sizes"] in [(4,), (16,)]
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
