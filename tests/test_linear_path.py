"""The network's linear path: exact in the map, out of the path norm, chosen by the data."""

import numpy as np
import pytest
import torch
from _lazy_rows import LazyRows
from torch import nn

from sklearn_elm import ELMDecomposer, GBLUPRegressor, NeuralGPRegressor, equivalent_linear_map
from sklearn_elm._ensemble import average_networks, fit_members
from sklearn_elm._linear_path import linear_path_start
from sklearn_elm.nn import GatedMLP, l1_path_norm

# no pair path: these tests read the hidden units as the rest of the network beside the path
FAST = dict(module__hidden_sizes=(32,), max_epochs=60, batch_size=256, pair_path=0)


def _trait(n, p, kind, seed=0):
    """Codes -1/0/+1 and a trait of h2 0.6: every locus additive, or two loci."""
    rng = np.random.default_rng(seed)
    X = rng.choice([-1.0, 0.0, 1.0], size=(n, p))
    if kind == "polygenic":
        g = X @ rng.normal(size=p)
    else:
        g = X[:, 3] - X[:, 7]
    g = (g - g.mean()) / g.std()
    y = np.sqrt(0.6) * g + np.sqrt(0.4) * rng.normal(size=n)
    return X.astype(np.float32), y


def _with_skip(seed=0, n_features=6, n_outputs=2):
    torch.manual_seed(seed)
    net = GatedMLP(n_features, n_outputs, hidden_sizes=(8,), linear_skip=True)
    with torch.no_grad():
        net.skip.weight.normal_()
    return net


def test_the_map_of_a_network_with_a_linear_path_is_exact():
    net = _with_skip()
    X = torch.randn(20, 6)
    J, f, residual = equivalent_linear_map(net, X, return_output=True, return_residual=True)
    np.testing.assert_allclose(f, net(X).detach().numpy(), atol=1e-5)
    assert (residual < 1e-5).all()
    # the path adds its weights to the map of the layers alone
    J_layers = equivalent_linear_map(net.layers, X)
    np.testing.assert_allclose(J - J_layers, np.broadcast_to(
        net.skip.weight.detach().numpy(), J.shape), atol=1e-6)
    np.testing.assert_allclose(J, equivalent_linear_map(net, X, method="autograd"), atol=1e-5)


def test_a_linear_path_with_a_bias_or_the_wrong_size_is_rejected():
    net = _with_skip()
    net.skip = nn.Linear(6, 2, bias=True)
    with pytest.raises(ValueError, match="linear skip path .* has a bias"):
        equivalent_linear_map(net, torch.randn(3, 6))
    net.skip = nn.Linear(5, 2, bias=False)
    with pytest.raises(ValueError, match="does not match the layers, which map 6 inputs"):
        equivalent_linear_map(net, torch.randn(3, 6))


def test_the_path_norm_leaves_the_linear_path_out():
    net = _with_skip()
    assert l1_path_norm(net).item() == pytest.approx(l1_path_norm(net.layers).item())
    with torch.no_grad():
        net.skip.weight.mul_(10.0)
    assert l1_path_norm(net).item() == pytest.approx(l1_path_norm(net.layers).item())


def test_the_data_choose_the_path_per_output():
    X, dense = _trait(1000, 200, "polygenic")
    _, sparse = _trait(1000, 200, "sparse", seed=1)
    Y = np.column_stack([dense, sparse])
    start = linear_path_start(X, (Y - Y.mean(0)) / Y.std(0), n_train=1000)
    assert np.isfinite(start.penalty).tolist() == [True, False]
    assert start.blup_r2[0] > start.lasso_r2[0] and start.blup_r2[1] < start.lasso_r2[1]
    assert np.all(start.weight[1] == 0) and np.any(start.weight[0] != 0)


def test_the_path_brings_a_polygenic_trait_to_gblup():
    X, y = _trait(1500, 1000, "polygenic", seed=2)
    train, test = slice(0, 1200), slice(1200, None)
    net = NeuralGPRegressor(random_state=0, **FAST).fit(X[train], y[train])
    alone = NeuralGPRegressor(random_state=0, linear_penalty=None, **FAST).fit(X[train], y[train])
    gblup = GBLUPRegressor(kernel="additive").fit(X[train], y[train])
    assert np.isfinite(net.linear_penalty_).all() and alone.linear_penalty_ is None
    assert alone.module_.skip is None
    r2 = [m.score(X[test], y[test]) for m in (net, alone, gblup)]
    # the network alone fits the 1,000 small effects poorly; with the path it predicts
    # nearly as GBLUP does
    assert r2[0] > r2[1] + 0.05 and r2[0] > r2[2] - 0.02, r2


def test_a_sparse_trait_leaves_the_path_to_the_lasso_which_takes_its_loci():
    X, y = _trait(1000, 100, "sparse")
    net = NeuralGPRegressor(random_state=0, **FAST).fit(X, y)
    assert np.isinf(net.linear_penalty_).all() and net.linear_lasso_.all()
    w = net.module_.skip.weight.detach().numpy()[0]
    # y = X_3 - X_7 + noise: the path's two largest weights, of the right signs
    assert set(np.argsort(-np.abs(w))[:2]) == {3, 7} and w[3] > 0 > w[7]
    assert np.sort(np.abs(w))[-3] < 0.5 * min(w[3], -w[7])
    # the training loss adds the path penalty times the row's l1 norm
    x, target = torch.as_tensor(X[:50]), torch.as_tensor(y[:50, None], dtype=torch.float32)
    with torch.no_grad():
        pred = net.module_(x)
        gap = (net.get_loss(pred, target, training=True) - net.get_loss(pred, target)).item()
        norm = l1_path_norm(net.module_).item()
    assert gap == pytest.approx(net.path_penalty_ * (norm + np.abs(w).sum()), rel=1e-5)


def test_none_a_number_or_no_path_penalty_leaves_no_row_to_the_lasso():
    X, y = _trait(300, 20, "sparse")
    for settings in ({"linear_penalty": None}, {"linear_penalty": 0.01}, {"path_penalty": 0}):
        net = NeuralGPRegressor(random_state=0, module__linear_skip=True, **settings,
                                **FAST).fit(X, y)
        assert not net.linear_lasso_.any()
    # without the path penalty the sparse trait's row is held at 0, not fitted unpenalised
    assert torch.count_nonzero(net.module_.skip.weight) == 0


def test_a_warm_start_keeps_the_lasso_rows():
    X, y = _trait(600, 20, "sparse")
    net = NeuralGPRegressor(random_state=0, warm_start=True, **FAST).fit(X, y)
    before = net.module_.skip.weight.detach().clone()
    assert net.linear_lasso_.all() and torch.count_nonzero(before) > 0
    net._fresh_init_, net._linear_pending_ = False, True  # as the next fit sets them
    net.get_split_datasets(X, ((y - y.mean()) / y.std())[:, None].astype(np.float32))
    assert net.linear_lasso_.all()
    assert torch.equal(net.module_.skip.weight, before)  # not zeroed by the restart


def test_a_given_penalty_and_its_errors():
    X, y = _trait(300, 20, "sparse")
    net = NeuralGPRegressor(random_state=0, linear_penalty=0.01, **FAST).fit(X, y)
    np.testing.assert_array_equal(net.linear_penalty_, [0.01])
    assert torch.count_nonzero(net.module_.skip.weight) > 0
    # the training loss adds 0.01 |w|^2 to the criterion and the path norm
    x, target = torch.as_tensor(X[:50]), torch.as_tensor(y[:50, None], dtype=torch.float32)
    with torch.no_grad():
        pred = net.module_(x)
        gap = (net.get_loss(pred, target, training=True) - net.get_loss(pred, target)).item()
        norm = l1_path_norm(net.module_).item()
        ridge = 0.01 * net.module_.skip.weight.pow(2).sum().item()
    assert gap == pytest.approx(net.path_penalty_ * norm + ridge, rel=1e-5)
    weights = net.module_.skip.weight.detach().clone()
    net.get_split_datasets(X, y[:, None].astype(np.float32))  # after fit: nothing restarted
    assert torch.equal(net.module_.skip.weight, weights)
    with pytest.raises(ValueError, match="linear_penalty must be 'auto', None or a finite"):
        NeuralGPRegressor(linear_penalty=-1.0, **FAST).fit(X, y)
    with pytest.raises(ValueError, match="the module has none"):
        NeuralGPRegressor(linear_penalty=0.01, module__linear_skip=False, **FAST).fit(X, y)


def test_a_network_with_a_path_decomposes_exactly_and_averages():
    X, y = _trait(400, 20, "polygenic")
    members = fit_members(NeuralGPRegressor(linear_penalty=0.01, random_state=0, **FAST),
                          X, y, 2)
    average = average_networks(members)
    np.testing.assert_allclose(average.predict(X), np.mean([m.predict(X) for m in members], 0),
                               atol=1e-5)
    dec = ELMDecomposer(average, prefit=True).fit(X, y)
    assert np.all(dec.elm_residual_ < 1e-4)


def test_a_constant_target_or_markers_leave_the_path_to_the_lasso_and_the_network_fits():
    X, y = _trait(300, 5, "polygenic")
    Y = np.column_stack([np.zeros(300), y])
    net = NeuralGPRegressor(random_state=0, **FAST).fit(X, Y)
    assert np.isinf(net.linear_penalty_[0]) and np.isfinite(net.linear_penalty_[1])
    assert net.linear_lasso_.tolist() == [True, False]
    # the constant target's row is refitted to exactly 0
    assert torch.count_nonzero(net.module_.skip.weight[0]) == 0
    # the lasso's l1 on the first row only, the ridge on the second only (weights set here)
    x, target = torch.as_tensor(X[:50]), torch.zeros(50, 2)
    with torch.no_grad():
        net.module_.skip.weight.copy_(torch.tensor([[0.3, -0.2, 0.0, 0.1, 0.5]]).expand(2, -1))
    w = net.module_.skip.weight.detach().double().numpy()
    with torch.no_grad():
        pred = net.module_(x)
        gap = (net.get_loss(pred, target, training=True) - net.get_loss(pred, target)).item()
        norm = l1_path_norm(net.module_).item()
    expected = (net.path_penalty_ * (norm + np.abs(w[0]).sum())
                + net.linear_penalty_[1] * np.sum(w[1] ** 2)) / 2
    assert np.abs(w[0]).sum() > 0 and gap == pytest.approx(expected, rel=1e-5)
    flat = NeuralGPRegressor(random_state=0, **FAST).fit(np.ones_like(X), y)
    assert np.isinf(flat.linear_penalty_).all()
    start = linear_path_start(X[:50], y[:50, None], 50)  # too few rows to choose
    assert np.isinf(start.penalty).all() and np.isnan(start.blup_r2).all()


def test_after_training_a_used_row_is_the_ridge_fit_on_every_sample():
    X, y = _trait(600, 40, "polygenic")
    net = NeuralGPRegressor(random_state=0, linear_penalty=0.02, **FAST).fit(X, y)
    Ys = (y - net.intercept_) / net.target_scale_
    with torch.no_grad():
        hidden = net.module_.layers(torch.as_tensor(X)).numpy()[:, 0].astype(np.float64)
    w = net.module_.skip.weight.detach().numpy()[0].astype(np.float64)
    X64 = X.astype(np.float64)
    lam = net.linear_penalty_[0] * int(0.9 * len(X))  # the penalty is set for the training split
    # the ridge objective's gradient on all 600 samples, validation's included, is 0
    gradient = X64.T @ (Ys - hidden - X64 @ w) - lam * w
    assert np.abs(gradient).max() < 1e-3 * np.abs(X64.T @ Ys).max()


def test_settings_are_checked_at_every_fit_and_none_holds_a_built_path():
    X, y = _trait(300, 6, "polygenic")
    held = NeuralGPRegressor(random_state=0, linear_penalty=None, module__linear_skip=True,
                             **FAST).fit(X, y)
    assert np.isinf(held.linear_penalty_).all()
    assert torch.count_nonzero(held.module_.skip.weight) == 0
    warm = NeuralGPRegressor(random_state=0, warm_start=True, **FAST).fit(X, y)
    for bad in ("bogus", -1.0, np.nan):  # a warm start builds no module: fit checks anyway
        with pytest.raises(ValueError, match="linear_penalty must be 'auto', None or a finite"):
            warm.set_params(linear_penalty=bad).fit(X, y)


def test_the_start_is_the_ridge_fit_of_the_inputs_as_the_network_reads_them():
    """Uncentred dosages: the path has no intercept, so its start is the ridge regression on
    the inputs as given, not GBLUP's effects of centred markers."""
    rng = np.random.default_rng(3)
    freq = rng.uniform(0.05, 0.5, 600)
    G = rng.binomial(2, freq, size=(900, 600)).astype(np.float64)
    g = (G - 2 * freq) @ rng.normal(size=600)
    y = g / g.std() + rng.normal(size=900)
    Y = ((y - y.mean()) / y.std())[:, None]
    start = linear_path_start(G, Y, n_train=900)
    assert np.isfinite(start.penalty[0])  # polygenic: the path is used
    lam = start.penalty[0] * 900
    w = start.weight[0]
    gradient = G.T @ (Y[:, 0] - G @ w) - lam * w
    assert np.abs(gradient).max() < 1e-6 * np.abs(G.T @ Y[:, 0]).max()
    # the additive fit the pair scan reads the residual of is GBLUP's: the same ridge of the
    # centred target on the centred markers (with an intercept), which the start is not
    Gc, yc = G - G.mean(axis=0), Y[:, 0] - Y[:, 0].mean()
    b = start.additive[0]
    gradient = Gc.T @ (yc - Gc @ b) - lam * b
    assert np.abs(gradient).max() < 1e-6 * np.abs(Gc.T @ yc).max()
    assert np.abs(G.T @ (Y[:, 0] - G @ b) - lam * b).max() > 1e-3 * np.abs(G.T @ Y[:, 0]).max()


def test_the_additive_fit_is_there_for_a_lasso_row_too():
    X, sparse = _trait(1000, 200, "sparse", seed=1)
    start = linear_path_start(X, ((sparse - sparse.mean()) / sparse.std())[:, None], 1000)
    assert not np.isfinite(start.penalty[0]) and np.all(start.weight[0] == 0)
    # GBLUP's largest marker effects are the trait's two loci, of opposite signs
    assert sorted(np.argsort(-np.abs(start.additive[0]))[:2].tolist()) == [3, 7]
    assert start.additive[0, 3] > 0 > start.additive[0, 7]


@pytest.mark.parametrize("n", [600, 30])  # more samples than loci, and fewer
def test_on_a_lazy_input_a_used_row_is_the_ridge_fit_on_every_sample(n, monkeypatch):
    monkeypatch.setattr("sklearn_elm._chunks.CHUNK_BYTES", 1)  # chunks of one batch
    X, y = _trait(600, 40, "polygenic")
    X, y = X[:n], y[:n]
    net = NeuralGPRegressor(random_state=0, linear_penalty=0.02, **{**FAST, "batch_size": 16})
    net.fit(LazyRows(X), y)
    Ys = (y - net.intercept_) / net.target_scale_
    with torch.no_grad():
        hidden = net.module_.layers(torch.as_tensor(X)).numpy()[:, 0].astype(np.float64)
    w = net.module_.skip.weight.detach().numpy()[0].astype(np.float64)
    X64 = X.astype(np.float64)
    lam = net.linear_penalty_[0] * int(0.9 * len(X))
    gradient = X64.T @ (Ys - hidden - X64 @ w) - lam * w  # refitted from the chunks
    assert np.abs(gradient).max() < 1e-3 * np.abs(X64.T @ Ys).max()
