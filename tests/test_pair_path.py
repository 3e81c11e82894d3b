"""Tests of the pair path: exact in the ELM, filled by the scan, refitted by the lasso."""

import threading
import warnings

import numpy as np
import pytest
import torch
from sklearn.exceptions import ConvergenceWarning
from skorch.dataset import Dataset

from sklearn_elm import (
    ELMDecomposer,
    NeuralGPRegressor,
    _pair_path,
    _relaxed_lasso,
    equivalent_linear_map,
)
from sklearn_elm._chunks import RowChunks, target_correlations
from sklearn_elm._linear_path import LASSO_WEIGHT
from sklearn_elm._network import pair_products
from sklearn_elm._pair_path import (
    PAIR_WEIGHT,
    REFIT_FACTORS,
    REFIT_FOLDS,
    REFIT_PAIR_WEIGHT,
    REFIT_RELAX,
    _hold_bags,
    _refitted_loci,
    refit_lasso_paths,
)
from sklearn_elm._relaxed_lasso import _workers, folds, refit
from sklearn_elm._seeding import fold_scan
from sklearn_elm.nn import GatedMLP, PairSeeding, l1_path_norm


def _pair_data(n=800, p=20, seed=0):
    """Codes -1/0/+1; y = z_2 z_5 - 0.7 z_9 z_13 + noise (no marginal effects)."""
    rng = np.random.default_rng(seed)
    X = rng.choice([-1.0, 0.0, 1.0], size=(n, p)).astype(np.float32)
    y = X[:, 2] * X[:, 5] - 0.7 * X[:, 9] * X[:, 13] + 0.3 * rng.standard_normal(n)
    return X, y


@pytest.mark.parametrize("activation", ["relu", "silu"])
def test_the_map_of_a_network_with_a_pair_path_is_exact(activation):
    torch.manual_seed(0)
    net = GatedMLP(7, 2, hidden_sizes=(6,), activation=activation, linear_skip=True,
                   pair_path=4)
    with torch.no_grad():
        net.pair_index.copy_(torch.tensor([[0, 1], [2, 6], [3, 3], [4, 5]]))
        net.pair_used.copy_(torch.tensor([1.0, 1.0, 1.0, 0.0]))
        net.pairs.weight.normal_()
        net.skip.weight.normal_()
    X = torch.randn(9, 7)
    J = torch.as_tensor(equivalent_linear_map(net, X))
    with torch.no_grad():
        out = net(X)
    np.testing.assert_allclose((J @ X.unsqueeze(2))[..., 0], out, atol=1e-5)
    # the empty slot (4, 5) adds nothing: neither to the output nor to the map
    with torch.no_grad():
        net.pairs.weight[:, 3] = 100.0
    np.testing.assert_allclose(torch.as_tensor(equivalent_linear_map(net, X)), J, atol=1e-5)


def test_seeding_fills_the_path_with_the_scanned_pairs_at_their_lasso_slopes():
    X, y = _pair_data()
    Y = ((y - y.mean()) / y.std())[:, None].astype(np.float32)
    net = NeuralGPRegressor(module__n_features=20, module__n_outputs=1, pair_path=3,
                            random_state=0)
    net.initialize()
    net.path_penalty_ = 0.05
    net.history.new_epoch()
    seeding = PairSeeding(n_pairs=0).initialize()
    seeding.on_epoch_begin(net, dataset_train=Dataset(X, Y))
    module = net.module_
    assert seeding.seeded_
    assert module.pair_used.tolist() == [1.0, 1.0, 1.0]
    index = [tuple(sorted(pair)) for pair in module.pair_index.tolist()]
    assert index[:2] == [(2, 5), (9, 13)]
    # no hidden unit seeded (n_pairs=0): the output layer is as initialised, not zeroed
    assert bool((module.layers[-1].weight != 0).all())
    for slot, (i, j) in enumerate(index[:2]):
        x = X[:, i].astype(np.float64) * X[:, j]
        slope = x @ Y[:, 0] / (x @ x)
        expected = np.sign(slope) * (abs(slope) - PAIR_WEIGHT * 0.05 / (2 * np.mean(x * x)))
        assert module.pairs.weight[0, slot].item() == pytest.approx(expected, rel=1e-4)


def test_the_refit_meets_the_lasso_conditions_on_every_sample():
    X, y = _pair_data()
    y = y + 0.5 * X[:, 0] - 0.4 * X[:, 7]  # two loci of additive effect beside the pairs
    net = NeuralGPRegressor(module__hidden_sizes=(16,), max_epochs=30, random_state=0,
                            pair_path=8)
    with pytest.MonkeyPatch.context() as patch:  # the lasso as built, not bagged
        patch.setattr("sklearn_elm._pair_path.BAG", False)
        net.fit(X, y)
    module = net.module_
    assert net.linear_lasso_[0]  # a sparse trait: its row of the linear path is the lasso's
    factor, relax = net.lasso_refit_[0]
    assert factor in REFIT_FACTORS and relax in REFIT_RELAX
    Y = (y - net.intercept_[0]) / net.target_scale_[0]
    x = torch.as_tensor(X)
    with torch.no_grad():
        P = (x[:, module.pair_index[:, 0]] * x[:, module.pair_index[:, 1]]).double().numpy()
        w = module.pairs.weight[0].double().numpy()
        b = module.skip.weight[0].double().numpy()
        units = module.layers(x)[:, 0].double().numpy()
    residual = Y - units - P @ w - X.astype(np.float64) @ b
    # the stationarity of mean squared error + l1 |w|_1 in each weight, the rest held, at the
    # refit's penalty; its support is that of the lasso at factor * path_penalty_
    penalty = factor * relax * net.path_penalty_
    for weights, F, l1 in ((w, P, REFIT_PAIR_WEIGHT * penalty),
                           (b, X.astype(np.float64), LASSO_WEIGHT * penalty)):
        grad = -2 * F.T @ residual / len(Y)
        active = weights != 0
        np.testing.assert_allclose(grad[active], -l1 * np.sign(weights[active]),
                                   atol=2e-3 * l1 + 1e-4)
        if relax == 1:  # the lasso itself: no weight held at 0 would lower the loss
            assert np.all(np.abs(grad[~active]) <= l1 * (1 + 1e-3))
    assert (w[:2] != 0).all() and b[0] > 0 > b[7]  # the two true pairs and loci stay


def _bagged_and_built(X, y, monkeypatch, scan=None):
    """The same network fitted with its refit bagged and as built (the bag's slots refused)."""
    if scan is not None:
        monkeypatch.setattr("sklearn_elm._regressor.fold_scan", scan)
    fits = []
    for bag in (True, False):
        with pytest.MonkeyPatch.context() as patch:
            if not bag:
                patch.setattr("sklearn_elm._pair_path.BAG", False)
            fits.append(NeuralGPRegressor(module__hidden_sizes=(16,), max_epochs=20,
                                          random_state=0, pair_path=16).fit(X, y))
    return fits


def test_a_bag_of_identical_fits_is_the_fit_as_built(monkeypatch):
    """Where every fold's scan gives the slots' own pairs, each fit of the bag is the refit as
    built, and so is their average: the same predictions, in slots of the same pairs."""
    X, y = _pair_data(n=600)
    y = y + 0.5 * X[:, 0]

    def own_pairs(net, X, Y):
        index = net.module_.pair_index.numpy()
        return lambda rows: [index[:16]]

    bagged, built = _bagged_and_built(X, y, monkeypatch, own_pairs)
    assert bagged.refit_bagged_[0] and not built.refit_bagged_[0]
    np.testing.assert_allclose(bagged.predict(X), built.predict(X), rtol=1e-5, atol=1e-5)
    assert _kept_pairs(bagged) == _kept_pairs(built)


def _noisy_pairs(n, p, seed=0):
    """Two pairs and a locus among ``p`` loci, in noise of variance 1."""
    rng = np.random.default_rng(seed)
    X = rng.choice([-1.0, 0.0, 1.0], size=(n, p)).astype(np.float32)
    return X, (0.5 * X[:, 2] * X[:, 5] - 0.4 * X[:, 9] * X[:, 13] + 0.3 * X[:, 0]
               + rng.standard_normal(n))


def test_the_bag_averages_the_folds_fits_and_holds_their_pairs(monkeypatch):
    """With each fold's own scan the bag holds the pairs of every fit in the slots (here the
    two true ones, with the largest weights): the map stays exact, and the predictions
    differ from the fit as built by the folds' fits."""
    X, y = _noisy_pairs(600, 60)
    bagged, built = _bagged_and_built(X, y, monkeypatch)
    assert bagged.refit_bagged_[0]
    assert _kept_pairs(built) <= _kept_pairs(bagged)
    weight = bagged.module_.pairs.weight[0].detach().numpy()
    index = np.sort(bagged.module_.pair_index.numpy(), axis=1)
    strongest = {tuple(pair) for pair in index[np.argsort(-np.abs(weight))[:2]].tolist()}
    assert strongest == {(2, 5), (9, 13)}
    assert 0 < np.abs(bagged.predict(X) - built.predict(X)).max() < 0.1 * np.std(y)
    x = torch.as_tensor(X[:50])
    J = torch.as_tensor(equivalent_linear_map(bagged.module_, x))
    with torch.no_grad():
        np.testing.assert_allclose((J @ x.unsqueeze(2))[..., 0], bagged.module_(x), atol=1e-5)


def test_the_bags_fits_start_from_the_fit_as_built(monkeypatch):
    """Each fit of the bag starts from the refit as built: its loci's weights, and its pairs'
    weights where the fold's scan put the same pair in a slot, 0 for the fold's other pairs."""
    X, y = _noisy_pairs(600, 60)
    bags, starts = [], []
    bag, fit_cells = _pair_path._bag, _relaxed_lasso.fit_cells

    def bag_spy(design, means, loci, target, cell, alpha, own, variants, budget):
        bags.append((cell[0], loci, own))
        return bag(design, means, loci, target, cell, alpha, own, variants, budget)

    def cells_spy(D, r, alpha, relax, blocks, budget):
        made = [block() for block in blocks]
        starts.extend((start, pairs) for _, start, (_, pairs) in made)
        return fit_cells(D, r, alpha, relax, [lambda m=m: m for m in made], budget)

    monkeypatch.setattr(_pair_path, "_bag", bag_spy)
    monkeypatch.setattr(_relaxed_lasso, "fit_cells", cells_spy)
    NeuralGPRegressor(module__hidden_sizes=(16,), max_epochs=20, random_state=0,
                      pair_path=16).fit(X, y)
    (coef, loci, own), = bags
    held = {tuple(sorted(pair)): w for pair, w in zip(own, coef[loci:], strict=True)}
    assert len(starts) == REFIT_FOLDS and np.count_nonzero(coef[:loci])
    shared = 0
    for start, pairs in starts:
        np.testing.assert_array_equal(start[:loci], coef[:loci])
        for pair, w in zip(pairs, start[loci:], strict=True):
            expected = 0.0 if pair is None else held.get(tuple(sorted(pair)), 0.0)
            assert w == expected
            shared += w != 0
    assert shared  # the folds share pairs of non-zero weight with the fit as built


def _two_output_net():
    """Output 0 holds (0, 1) and (3, 4); slot 1 holds (1, 2) at weight 0; slot 3 is empty."""
    net = GatedMLP(5, 2, hidden_sizes=(2,), pair_path=4)
    with torch.no_grad():
        net.pair_index.copy_(torch.tensor([[0, 1], [1, 2], [3, 4], [0, 4]]))
        net.pair_used.copy_(torch.tensor([1.0, 1.0, 1.0, 0.0]))
        net.pairs.weight.copy_(torch.tensor([[0.5, 0.0, 0.3, 0.0], [0.1, 0.2, 0.3, 0.0]]))
    return net


def test_bags_are_held_in_each_outputs_block_of_slots():
    """Two outputs, two slots each.  Output 0, not bagged, keeps its two pairs in its block;
    output 1's bag shares one and adds four: two in its own block, largest first, and the two
    smallest, for which no slot is left, are left out.  The module computes exactly the
    weights asked for."""
    net = _two_output_net()
    left = _hold_bags(net, {1: {(0, 1): 0.3, (2, 3): -0.7, (1, 4): 0.2, (0, 2): 0.1,
                                (1, 3): 0.05}})
    assert left == {1: {(0, 2): 0.1, (1, 3): 0.05}}
    assert net.pair_index.tolist() == [[0, 1], [3, 4], [2, 3], [1, 4]]
    assert net.pair_used.tolist() == [1.0, 1.0, 1.0, 1.0]
    x = torch.randn(7, 5)
    products = {pair: x[:, pair[0]] * x[:, pair[1]] for pair in [(0, 1), (3, 4), (2, 3),
                                                                   (1, 4)]}
    expected = (0.5 * products[0, 1] + 0.3 * products[3, 4],
                0.3 * products[0, 1] - 0.7 * products[2, 3] + 0.2 * products[1, 4])
    with torch.no_grad():
        np.testing.assert_allclose(net.pairs(pair_products(net, x)), torch.stack(expected, 1),
                                   atol=1e-6)


def test_the_slots_a_bag_leaves_keep_their_pairs_at_weight_0():
    """A bag of one shared pair leaves slots free: the pairs they held stay there, used, at
    weight 0 (a warm-started fit trains them again), and the outputs compute the same."""
    net = _two_output_net()
    x = torch.randn(7, 5)
    assert _hold_bags(net, {1: {(0, 1): 0.3}}) == {1: {}}
    assert sorted(map(tuple, net.pair_index.tolist()[:3])) == [(0, 1), (1, 2), (3, 4)]
    assert net.pair_used.tolist() == [1.0, 1.0, 1.0, 0.0]
    with torch.no_grad():
        np.testing.assert_allclose(net.pairs(pair_products(net, x)), torch.stack(
            (0.5 * x[:, 0] * x[:, 1] + 0.3 * x[:, 3] * x[:, 4], 0.3 * x[:, 0] * x[:, 1]), 1),
            atol=1e-6)


def test_a_pair_left_out_of_the_slots_leaves_its_mean(monkeypatch):
    """Where a bag holds more pairs than the slots, those of smallest weight are left out and
    their mean over the samples goes into the constant: the network plus the pair's centred
    term is the whole bag."""
    X, y = _noisy_pairs(600, 60)
    whole = NeuralGPRegressor(module__hidden_sizes=(16,), max_epochs=20, random_state=0,
                              pair_path=16).fit(X, y)
    left_out = {}

    def leaving(module, bags):
        ((k, held),) = bags.items()
        pair = min(held, key=lambda pair: abs(held[pair]))
        left_out[pair] = held[pair]
        left = _hold_bags(module, {k: {p: w for p, w in held.items() if p != pair}})
        left[k][pair] = held[pair]
        return left

    monkeypatch.setattr("sklearn_elm._pair_path._hold_bags", leaving)
    part = NeuralGPRegressor(module__hidden_sizes=(16,), max_epochs=20, random_state=0,
                             pair_path=16).fit(X, y)
    assert whole.refit_bagged_[0] and part.refit_bagged_[0]
    ((i, j), w), = left_out.items()
    product = X[:, i].astype(np.float64) * X[:, j]
    term = part.target_scale_[0] * w * (product - product.mean())
    np.testing.assert_allclose(part.predict(X) + term, whole.predict(X), atol=2e-5)


def test_the_relaxed_refit_predicts_better_than_the_path_penalty():
    # 3 loci of large effect among 150, few samples: the lasso at the penalty that predicts
    # best keeps loci of noise and shrinks the three; cross-validation chooses less of both
    rng = np.random.default_rng(3)
    X = rng.choice([-1.0, 0.0, 1.0], size=(900, 150)).astype(np.float32)
    y = X[:, 0] - 0.8 * X[:, 1] + 0.6 * X[:, 2] + rng.standard_normal(900)
    train, test = slice(0, 400), slice(400, None)
    net = NeuralGPRegressor(module__hidden_sizes=(16,), max_epochs=30, random_state=0,
                            pair_path=4).fit(X[train], y[train])
    relaxed = net.score(X[test], y[test])
    assert tuple(net.lasso_refit_[0]) != (1.0, 1.0)
    assert np.flatnonzero(net.module_.skip.weight[0].detach().numpy()).tolist() == [0, 1, 2]
    Y = ((y[train] - net.intercept_) / net.target_scale_).astype(np.float32)
    with pytest.MonkeyPatch.context() as patch:  # the refit at the path penalty alone
        patch.setattr("sklearn_elm._relaxed_lasso.REFIT_FACTORS", (1.0,))
        patch.setattr("sklearn_elm._relaxed_lasso.REFIT_RELAX", (1.0,))
        refit_lasso_paths(net, X[train], Y)
    assert tuple(net.lasso_refit_[0]) == (1.0, 1.0)
    assert np.count_nonzero(net.module_.skip.weight[0].detach().numpy()) > 10
    assert relaxed > net.score(X[test], y[test]) + 0.005


def _kept_pairs(net):
    weight = net.module_.pairs.weight[0].detach().numpy()
    index = np.sort(net.module_.pair_index.numpy(), axis=1)[weight != 0]
    return {tuple(pair) for pair in index.tolist()}


def test_the_refit_drops_the_noise_pairs_the_scan_chose_for_their_chance_correlation():
    # two pairs and a locus among 60 loci (1,770 pairs), 16 slots: the scan fills 14 with
    # noise pairs, chosen for their correlation with y on these very samples
    X, y = _noisy_pairs(600, 60)
    net = NeuralGPRegressor(module__hidden_sizes=(16,), max_epochs=20, random_state=0,
                            pair_path=16)
    with pytest.MonkeyPatch.context() as patch:  # the refit's own choice, the bag aside
        patch.setattr("sklearn_elm._pair_path.BAG", False)
        net.fit(X, y)
    # each fold scanned its own samples: the noise pairs' correlation did not carry over
    assert _kept_pairs(net) == {(2, 5), (9, 13)} and not net.refit_bagged_[0]
    Y = ((y - net.intercept_) / net.target_scale_)[:, None].astype(np.float32)
    refit_lasso_paths(net, X, Y)  # folds that hold the pairs all samples chose
    assert len(_kept_pairs(net)) > 6


def _paths_output(module, X):
    """The linear path's and the pair path's output, first output, float64."""
    x = torch.as_tensor(X)
    with torch.no_grad():
        return (module.skip(x) + module.pairs(pair_products(module, x)))[:, 0].double().numpy()


def test_the_refit_of_uncentred_codes_puts_its_constant_in_the_intercept():
    # codes of a common allele, mean 0.6: without a constant the lasso row would carry the
    # targets' mean on its loci, and the hidden units would learn to cancel it
    rng = np.random.default_rng(2)
    X = rng.choice([-1.0, 0.0, 1.0], p=[0.04, 0.32, 0.64], size=(1500, 30)).astype(np.float32)
    y = 0.5 * X[:, 0] - 0.4 * X[:, 7] + 0.5 * rng.standard_normal(1500)
    net = NeuralGPRegressor(module__hidden_sizes=(16,), max_epochs=30, random_state=0,
                            pair_path=4).fit(X, y)
    assert net.linear_lasso_[0]
    weights = net.module_.skip.weight[0].detach().numpy() * net.target_scale_[0]
    np.testing.assert_allclose(weights[[0, 7]], [0.5, -0.4], atol=0.05)
    # the intercept's own condition: the refitted residual has mean 0 on the training samples
    x = torch.as_tensor(X)
    with torch.no_grad():
        units = net.module_.layers(x)[:, 0].double().numpy()
    residual = (y - net.intercept_[0]) / net.target_scale_[0] - units - _paths_output(
        net.module_, X)
    assert abs(residual.mean()) < 1e-3 < abs(net.intercept_[0] - y.mean())


def test_the_refit_drops_hidden_units_that_add_nothing_to_the_lasso_paths():
    # loci and pairs alone: the paths hold the whole trait, and the units' output goes
    X, y = _pair_data()
    y = y + 0.5 * X[:, 0] - 0.4 * X[:, 7]
    net = NeuralGPRegressor(module__hidden_sizes=(16,), max_epochs=30, random_state=0,
                            pair_path=8).fit(X, y)
    assert net.hidden_kept_.tolist() == [False]
    assert not net.module_.layers[-1].weight[0].any()
    np.testing.assert_allclose(  # the prediction is the paths' alone
        net.predict(X), net.intercept_[0] + net.target_scale_[0] * _paths_output(net.module_, X),
        rtol=1e-5, atol=1e-5)


def test_the_refit_keeps_hidden_units_that_hold_what_the_paths_cannot():
    # three pairs and one slot: the path holds one pair, the units the other two
    rng = np.random.default_rng(1)
    X = rng.choice([-1.0, 0.0, 1.0], size=(1500, 12)).astype(np.float32)
    y = (0.5 * X[:, 0] + X[:, 1] * X[:, 2] - 0.8 * X[:, 3] * X[:, 4] + 0.7 * X[:, 5] * X[:, 6]
         + 0.3 * rng.standard_normal(1500))
    net = NeuralGPRegressor(module__hidden_sizes=(32,), max_epochs=60, random_state=0,
                            pair_path=1).fit(X, y)
    assert net.hidden_kept_.tolist() == [True]
    assert net.module_.layers[-1].weight[0].any()


def test_each_fold_of_the_refit_scans_its_own_training_samples(monkeypatch):
    calls = []

    def spy(net, X, Y):
        scan = fold_scan(net, X, Y)

        def recorded(rows):
            calls.append(np.asarray(rows))
            return scan(rows)
        return recorded

    monkeypatch.setattr("sklearn_elm._regressor.fold_scan", spy)
    X, y = _pair_data(n=400)
    NeuralGPRegressor(module__hidden_sizes=(8,), max_epochs=4, random_state=0,
                      pair_path=4).fit(X, y)
    assert len(calls) == REFIT_FOLDS
    held = np.concatenate([np.setdiff1d(np.arange(400), rows) for rows in calls])
    np.testing.assert_array_equal(np.sort(held), np.arange(400))  # each held out once


@pytest.mark.parametrize("budget", ["small", "default"])
def test_the_loci_are_refitted_within_the_memory_budget(budget, monkeypatch):
    X, y = _pair_data()
    y = y + 0.5 * X[:, 0]
    Y = ((y - y.mean()) / y.std())[:, None].astype(np.float32)
    # the lasso as built, which a second refit leaves as it is
    monkeypatch.setattr("sklearn_elm._pair_path.BAG", False)
    if budget == "small":  # room for the pairs' design, not for the loci's
        monkeypatch.setattr("sklearn_elm._pair_path.MAX_BYTES", 8 * len(X) * 10)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        net = NeuralGPRegressor(module__hidden_sizes=(16,), max_epochs=12, random_state=0,
                                pair_path=8).fit(X, y)
    skipped = [w for w in caught if "lasso rows are refitted on the" in str(w.message)]
    assert len(skipped) == (budget == "small")  # said, with the size, where it happens
    if skipped:
        assert "800 samples x 20 loci" in str(skipped[0].message)
        assert "too few to refit" in str(skipped[0].message)
    trained = net.module_.skip.weight.detach().clone()
    monkeypatch.undo()
    monkeypatch.setattr("sklearn_elm._pair_path.BAG", False)
    assert net.linear_lasso_[0] and refit_lasso_paths(net, X, Y, scan=fold_scan(net, X, Y))
    moved = (net.module_.skip.weight - trained).abs().max().item()
    # the refit is a lasso's (relaxed) minimum: a second one changes nothing; training alone
    # (AdamW) leaves the row away from it
    assert moved > 1e-3 if budget == "small" else moved < 1e-4


def test_the_path_finds_pairs_the_hidden_units_miss():
    # 60 loci, two pairs of no marginal effect, a short budget, no units seeded: the path
    # alone holds them
    X, y = _pair_data(n=1500, p=60)
    Xt, yt = _pair_data(n=1000, p=60, seed=5)
    scores = {}
    for slots in (0, 8):
        net = NeuralGPRegressor(module__hidden_sizes=(32,), max_epochs=42, random_state=0,
                                pair_path=slots, callbacks__pair_seeding__n_pairs=0)
        scores[slots] = net.fit(X, y).score(Xt, yt)
    assert scores[8] > 0.8
    assert scores[8] > scores[0] + 0.2


def test_the_decomposition_reads_the_pairs_of_the_path():
    X, y = _pair_data(n=1500)
    net = NeuralGPRegressor(module__hidden_sizes=(16,), max_epochs=42, random_state=0,
                            callbacks__pair_seeding__n_pairs=0).fit(X, y)
    E = ELMDecomposer(net, prefit=True, epistasis="regression").fit(X).epistasis_matrix_
    top = np.argsort(-np.abs(np.triu(E, 1)).ravel())[:2]
    assert sorted(map(tuple, np.column_stack(np.unravel_index(top, E.shape)).tolist())) == [
        (2, 5), (9, 13)]


def test_the_training_loss_adds_the_pairs_l1_at_the_path_penalty():
    X, y = _pair_data(n=300)
    net = NeuralGPRegressor(module__hidden_sizes=(8,), max_epochs=3, random_state=0,
                            path_penalty=0.2, callbacks__regularization_path__n_steps=1).fit(
                                X, np.column_stack([y, -y]))
    x = torch.as_tensor(X[:40])
    with torch.no_grad():
        # the refit leaves no locus of this pure-pairs trait: weights of the loss's own choosing
        net.module_.skip.weight.copy_(torch.linspace(-0.3, 0.2, X.shape[1]).expand(2, -1))
        pred = net.module_(x)
        target = torch.zeros_like(pred)
        added = (net.get_loss(pred, target, training=True)
                 - net.get_loss(pred, target, training=False)).item()
        l1 = net.module_.pairs.weight.abs().sum().item()
        norm = l1_path_norm(net.module_).item()
        # the linear path's rows left to the lasso (both here: sparse traits)
        lasso = net.module_.skip.weight[torch.as_tensor(net.linear_lasso_)].abs().sum().item()
    assert l1 > 0 and lasso > 0 and net.linear_lasso_.all()
    assert added == pytest.approx(0.2 * (norm + PAIR_WEIGHT * l1 + lasso) / 2, rel=1e-5)


@pytest.mark.parametrize("value", [-1, 1.5, True, "auto"])
def test_bad_pair_path(value):
    X, y = _pair_data(n=50)
    with pytest.raises(ValueError, match="pair_path must be an integer >= 0"):
        NeuralGPRegressor(pair_path=value, max_epochs=1).fit(X, y)


def test_a_refit_stopped_before_its_tolerance_is_a_warning(monkeypatch):
    X, y = _pair_data(n=400)
    y = y + 0.5 * X[:, 0]
    net = NeuralGPRegressor(module__hidden_sizes=(8,), max_epochs=6, random_state=0,
                            pair_path=4)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)  # the folds' fits say nothing
        net.fit(X, y)
    monkeypatch.setattr("sklearn_elm._relaxed_lasso.SWEEPS", 1)
    monkeypatch.setattr(torch, "get_num_threads", lambda: 2)  # the folds' fits in threads
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        net.fit(X, y)
    stopped = [w for w in caught if issubclass(w.category, ConvergenceWarning)]
    # one, the refit's: none of its folds' fits, each stopped after a sweep too, in any thread
    assert len(stopped) == 1
    assert "output 0's lasso paths stopped after 1 sweeps" in str(stopped[0].message)


def test_past_the_budget_the_loci_of_largest_weight_or_correlation_are_refitted(monkeypatch):
    """Where the design of every locus would not fit, the refit takes as many loci as fit, in
    turn from the largest training weights and the largest correlations with the target (the
    others drop out of the row: weight 0), with a warning naming both counts; without it the
    row kept training's weights and no constant (a dask fit predicted -0.62 where the refit
    gave 0.49)."""
    X, y = _pair_data(n=800, p=120)
    y = y + 0.5 * X[:, :6].sum(axis=1)
    Y = ((y - y.mean()) / y.std())[:, None].astype(np.float32)
    rng = np.random.default_rng(3)
    weights = torch.as_tensor(rng.standard_normal((1, 120)))
    monkeypatch.setattr("sklearn_elm._pair_path.MAX_BYTES", 2 * 8 * 800 * (70 + 8))
    with pytest.warns(UserWarning, match=r"refitted on the 70 of 120 loci of largest"):
        kept = _refitted_loci(X, Y, weights, np.array([True]), 8, 4096)
    Xc, yc = X - X.mean(axis=0), y - y.mean()
    r = np.abs(Xc.T @ yc) / np.sqrt((Xc**2).sum(axis=0) * (yc @ yc))
    by_weight = np.argsort(-weights[0].abs().numpy(), kind="stable").tolist()
    by_r = np.argsort(-r, kind="stable").tolist()
    expected = []
    for pair in zip(by_weight, by_r, strict=True):
        for i in pair:
            if i not in expected:
                expected.append(i)
    np.testing.assert_array_equal(kept, np.sort(expected[:70]))
    assert not set(by_weight[:70]) <= set(kept) and not set(by_r[:70]) <= set(kept)

    # in a fit: the loci dropped out of the row are those the screen left out
    settings = dict(module__hidden_sizes=(8,), max_epochs=6, random_state=0, pair_path=8)
    with pytest.warns(UserWarning, match=r"refitted on the (\d+) of 120 loci of largest"):
        net = NeuralGPRegressor(**settings).fit(X, y)
    refitted = net.module_.skip.weight.detach()[0].numpy()
    by_r = set(by_r[:35])  # half the budget or more is the correlation's first loci
    assert set(np.flatnonzero(refitted).tolist()) <= by_r | set(np.flatnonzero(refitted))
    assert np.isfinite(net.lasso_refit_).all() and set(range(6)) <= by_r
    assert np.count_nonzero(refitted) <= 70 + 8


def test_the_screen_reads_a_lazy_input_as_in_memory():
    X, y = _pair_data(n=300, p=40)
    Y = np.column_stack([y, -2 * y + X[:, 3]]).astype(np.float32)
    Xc, Yc = X - X.mean(axis=0), Y - Y.mean(axis=0)
    expected = (np.abs(Xc.T @ Yc[:, 1])
                / np.sqrt((Xc**2).sum(axis=0) * (Yc[:, 1] @ Yc[:, 1])))
    outputs = np.array([False, True])
    chunks = RowChunks(X, Y, 70)
    for data, targets in ((X, Y), (chunks, None)):
        np.testing.assert_allclose(target_correlations(data, targets, 64, outputs), expected,
                                   rtol=1e-5)
    X, y = _pair_data(n=1700, p=16)
    X[:, 5], X[:, 6] = 1.0, 1.0 / 3.0  # 1/3: its sum of squares less n mean^2 leaves round-off
    Y = np.column_stack([y, y]).astype(np.float32)
    assert not target_correlations(X, Y, 4096, outputs)[5:7].any()


def test_the_screen_of_a_row_sample_is_that_of_those_rows():
    X, y = _pair_data(n=300, p=40)
    rng = np.random.default_rng(1)
    Y = np.column_stack([y, 1e-3 * (X[:, 7] + rng.standard_normal(300))])
    rows = np.sort(rng.choice(300, 120, replace=False))
    expected = np.array([[abs(np.corrcoef(X[rows, j], Y[rows, k])[0, 1]) for k in range(2)]
                         for j in range(40)]).max(axis=1)
    # in blocks of 50 rows, the second target (a thousandth of the first's scale) counts
    np.testing.assert_allclose(target_correlations(X, Y[rows], 50, rows=rows), expected,
                               rtol=1e-6)


def test_the_screen_keeps_its_precision_under_a_large_mean():
    X, y = _pair_data(n=300, p=40)
    Y = np.column_stack([y, X[:, 7] + np.random.default_rng(2).standard_normal(300)])
    expected = target_correlations(X, Y, 64)
    assert expected[7] > 0.4
    # a mean 10^6 times the spread: sums about 0 would leave nothing of the variance
    np.testing.assert_allclose(target_correlations(X + 1e5, Y + 1e6, 64), expected, rtol=1e-6)


def test_the_screen_refuses_targets_of_other_samples():
    X, y = _pair_data(n=300, p=20)
    with pytest.raises(ValueError, match="Y has 300 rows for 150 samples"):
        target_correlations(X, y, 64, rows=np.arange(150))  # y, not y[rows]
    with pytest.raises(ValueError, match="rows must be None"):
        target_correlations(RowChunks(X, y[:, None], 70), None, 64, rows=np.arange(10))


def test_the_refit_is_the_same_in_one_thread_or_two(monkeypatch):
    """The refit's fits (each target's path, then every fold of every target, then the bag's
    fits) run in as many threads as torch uses, each on its own data and start: the weights,
    the constant and the choices are those of one thread, to the bit."""
    X, y = _pair_data(n=600, p=30)
    y = y + 0.5 * X[:, 0] - 0.4 * X[:, 7]
    net = NeuralGPRegressor(module__hidden_sizes=(16,), max_epochs=8, random_state=0,
                            pair_path=8).fit(X, y)
    assert net.linear_lasso_[0]  # the loci's row is refitted, with and without the units
    Y = ((y - y.mean()) / y.std())[:, None].astype(np.float32)
    state = {k: v.clone() for k, v in net.module_.state_dict().items()}
    intercept, results = net.intercept_.copy(), []
    fit_cell, bag_threads = _relaxed_lasso._fit_cell, []

    def spy(*args):
        bag_threads[-1].add(threading.get_ident())
        return fit_cell(*args)

    monkeypatch.setattr(_relaxed_lasso, "_fit_cell", spy)
    for threads in (1, 2):
        monkeypatch.setattr(torch, "get_num_threads", lambda threads=threads: threads)
        net.module_.load_state_dict(state)
        net.intercept_ = intercept.copy()
        bag_threads.append(set())
        assert refit_lasso_paths(net, X, Y, scan=fold_scan(net, X, Y))
        results.append(({k: v.clone() for k, v in net.module_.state_dict().items()},
                         net.intercept_.copy(), net.lasso_refit_.copy()))
    assert [len(idents) for idents in bag_threads] == [1, 2]  # the bag's fits, in threads
    (one, c1, choice1), (two, c2, choice2) = results
    assert all(torch.equal(one[k], two[k]) for k in one)
    np.testing.assert_array_equal(c1, c2)
    np.testing.assert_array_equal(choice1, choice2)
    assert not torch.equal(one["skip.weight"], state["skip.weight"])  # the refit did move it


def test_the_refit_runs_one_fit_at_a_time_where_copies_would_not_fit(monkeypatch):
    """A fold's copy of the design (``8 n columns`` bytes) and, with fewer columns than samples,
    its Gram matrix count against the budget; the threads are at most torch's and the jobs."""
    monkeypatch.setattr(torch, "get_num_threads", lambda: 8)
    copy = 8 * 1000 * 2000
    assert _workers(1000, 2000, 5, 10 * copy) == 5
    assert _workers(1000, 2000, 10, 10 * copy) == 8
    assert _workers(1000, 2000, 5, 2 * copy) == 2
    assert _workers(1000, 2000, 5, copy - 1) == 1
    each = 8 * 1000 * 500 + 8 * 500 * 500  # the copy and its Gram matrix
    assert _workers(1000, 500, 5, 3 * each) == 3
    assert _workers(1000, 500, 5, 3 * each - 1) == 2


def test_fits_in_threads_are_those_of_one_thread(monkeypatch):
    """Two targets refitted together, in threads, give what each gives alone in one thread,
    and their common start is left as it was (coordinate descent overwrites its start: a
    shared one would start the second fit where the first ended)."""
    rng = np.random.default_rng(0)
    D = rng.standard_normal((400, 30))
    D -= D.mean(axis=0)
    r1 = D[:, :3] @ [1.0, -0.5, 0.3] + rng.standard_normal(400)
    r2 = D[:, 5] * 0.8 + rng.standard_normal(400)
    start = rng.standard_normal(30) * 0.1
    kept = start.copy()
    splits = folds(400, 0)
    threads = set()
    path = refit.__globals__["_path"]

    def spy(*args):
        threads.add(__import__("threading").get_ident())
        return path(*args)

    monkeypatch.setattr("sklearn_elm._relaxed_lasso._path", spy)
    monkeypatch.setattr(torch, "get_num_threads", lambda: 2)
    both = refit(D, [r1 - r1.mean(), r2 - r2.mean()], 0.02, start, splits, 2**30, centre=True)
    assert len(threads) == 2  # the fits ran in two threads
    np.testing.assert_array_equal(start, kept)
    monkeypatch.setattr(torch, "get_num_threads", lambda: 1)
    alone = [refit(D, [r - r.mean()], 0.02, start, splits, 2**30, centre=True)[0]
             for r in (r1, r2)]
    for (c, *choice, se), (c1, *choice1, se1) in zip(both, alone, strict=True):
        np.testing.assert_array_equal(c, c1)
        assert choice == choice1 and se == se1
