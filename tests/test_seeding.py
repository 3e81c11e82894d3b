"""Tests of PairSeeding: the seeded units compute the scanned pairs, and when it seeds."""

import numpy as np
import pytest
import torch
from skorch.dataset import Dataset

from sklearn_elm import NeuralGPRegressor, _seeding
from sklearn_elm._seeding import _candidate_loci, _training_arrays
from sklearn_elm.nn import GatedMLP, PairSeeding

FAST = dict(max_epochs=4, batch_size=128)


def _pair_data(n=600, p=20, ploidy=1, seed=0):
    """Codes -1/+1 (or -1/0/+1) with two pairs of no marginal effect, (2, 5) and (9, 13)."""
    rng = np.random.default_rng(seed)
    values = [-1.0, 1.0] if ploidy == 1 else [-1.0, 0.0, 1.0]
    X = rng.choice(values, size=(n, p)).astype(np.float32)
    y = 1.0 * X[:, 2] * X[:, 5] - 0.7 * X[:, 9] * X[:, 13] + 0.3 * rng.standard_normal(n)
    return X, y


def _seeded_module(X, Y, n_pairs, penalty=0.0, **module_kwargs):
    """A fresh GatedMLP seeded by the callback on (X, Y) at the first step's ``penalty``,
    and the callback; no pair path unless ``pair_path`` is given."""
    module_kwargs.setdefault("pair_path", 0)
    net = NeuralGPRegressor(module__n_features=X.shape[1], module__n_outputs=Y.shape[1],
                            random_state=0, **{f"module__{k}": v
                                               for k, v in module_kwargs.items()})
    net.initialize()
    net.path_penalty_ = penalty
    net.history.new_epoch()
    seeding = PairSeeding(n_pairs=n_pairs).initialize()
    seeding.on_epoch_begin(net, dataset_train=Dataset(X, Y.astype(np.float32)))
    return net.module_, seeding


def _unit_output(module, X, units, k=0):
    """What ``units`` of the hidden layer add to output ``k``."""
    with torch.no_grad():
        hidden = module.layers[1](module.layers[0](torch.as_tensor(X)))
        return (hidden[:, units] @ module.layers[-1].weight[k, units]).numpy()


@pytest.mark.parametrize("ploidy, activation", [(1, "relu"), (2, "relu"), (2, "leaky_relu")])
def test_seeded_units_compute_the_scanned_pairs(ploidy, activation):
    X, y = _pair_data(ploidy=ploidy)
    module, seeding = _seeded_module(X, y[:, None], n_pairs=2, hidden_sizes=(32,),
                                     activation=activation)
    assert seeding.seeded_
    assert sorted(map(tuple, seeding.pairs_[0].tolist())) == [(2, 5), (9, 13)]
    for m, (i, j) in enumerate(seeding.pairs_[0]):
        units = list(range(4 * m, 4 * m + 4))
        product = X[:, i].astype(np.float64) * X[:, j]
        slope = product @ y / (product @ product)  # no intercept, as the network has none
        # the four units compute slope * z_i z_j exactly (up to float32)
        np.testing.assert_allclose(_unit_output(module, X, units), slope * product, atol=1e-5)
        # and read nothing but the pair's loci
        W1 = module.layers[0].weight.detach().numpy()[units]
        assert np.flatnonzero(np.abs(W1).sum(axis=0)).tolist() == sorted([i, j])


@pytest.mark.parametrize("activation", ["relu", "leaky_relu"])
def test_seeded_slopes_are_those_the_first_step_would_shrink_to(activation):
    # each pair alone minimises mean((y - b x)^2) + penalty * 4 |b| / s, x = z_i z_j,
    # v = mean(x^2), s = 1 - negative_slope: b = sign(b_ls) max(|b_ls| - 2 penalty / (s v), 0),
    # checked by a grid search over b
    X, y = _pair_data()
    y = (y - y.mean()) / y.std() + 0.1  # a target whose mean the network cannot fit
    penalty = 0.3
    module, seeding = _seeded_module(X, y[:, None], n_pairs=3, penalty=penalty,
                                     hidden_sizes=(32,), activation=activation)
    s = 1.0 if activation == "relu" else 1.0 - module.layers[1].negative_slope
    for m, (i, j) in enumerate(seeding.pairs_[0]):
        x = X[:, i].astype(np.float64) * X[:, j]
        grid = np.linspace(-1.5, 1.5, 30001)
        cost = (((y[:, None] - grid * x[:, None]) ** 2).mean(axis=0)
                + penalty * 4 * np.abs(grid) / s)
        best = grid[np.argmin(cost)]
        units = list(range(4 * m, 4 * m + 4))
        seeded = _unit_output(module, X, units) / (X[:, i] * X[:, j])
        np.testing.assert_allclose(seeded, best, atol=2e-4)
    # the third pair is noise: the penalty puts it at 0, its units still read it
    assert np.allclose(_unit_output(module, X, list(range(8, 12))), 0.0)
    assert np.count_nonzero(module.layers[0].weight.detach().numpy()[8:12]) == 8


def test_each_output_gets_its_own_units():
    X, y = _pair_data()
    rng = np.random.default_rng(1)
    y2 = X[:, 0] * X[:, 17] + 0.3 * rng.standard_normal(len(y))
    module, seeding = _seeded_module(X, np.column_stack([y, y2]), n_pairs=1,
                                     hidden_sizes=(16,))
    assert seeding.pairs_[0].tolist()[0] in ([2, 5], [9, 13])
    assert seeding.pairs_[1].tolist() == [[0, 17]]
    W2 = module.layers[-1].weight.detach().numpy()
    # output 0 reads units 0-3 only among the seeded, output 1 units 4-7
    assert np.all(W2[1, :4] == 0) and np.all(W2[0, 4:8] == 0)
    assert np.all(W2[0, :4] != 0) and np.all(W2[1, 4:8] != 0)


def test_seeding_finds_a_pair_the_random_start_misses():
    # 60 loci, one pair of no marginal effect: with the same (short) budget the seeded net
    # learns it, the unseeded one does not.  The difference is the seeding, nothing else.
    X, y = _pair_data(n=1500, p=60)
    y = y - (-0.7 * X[:, 9] * X[:, 13])  # keep the pair (2, 5) only
    scores = {}
    for n_pairs in (0, "auto"):
        net = NeuralGPRegressor(module__hidden_sizes=(64,), max_epochs=42, random_state=0,
                                pair_path=0, callbacks__pair_seeding__n_pairs=n_pairs).fit(X, y)
        Xt, yt = _pair_data(n=1000, p=60, seed=5)
        yt = yt - (-0.7 * Xt[:, 9] * Xt[:, 13])
        scores[n_pairs] = net.score(Xt, yt)
    assert scores["auto"] > 0.8
    assert scores["auto"] > scores[0] + 0.1


def test_no_seeding_on_warm_start_or_when_off():
    X, y = _pair_data()
    net = NeuralGPRegressor(module__hidden_sizes=(16,), random_state=0, warm_start=True,
                            **FAST).fit(X, y)
    seeding = dict(net.callbacks_)["pair_seeding"]
    assert seeding.seeded_
    net.fit(X, y)  # a warm start trains on from the fitted weights
    assert not seeding.seeded_ and seeding.pairs_ == []
    off = NeuralGPRegressor(module__hidden_sizes=(16,), random_state=0, pair_path=0,
                            callbacks__pair_seeding__n_pairs=0, **FAST).fit(X, y)
    assert not dict(off.callbacks_)["pair_seeding"].seeded_


@pytest.mark.parametrize("module_kwargs", [dict(hidden_sizes=(8, 8)), dict(activation="silu"),
                                           dict(hidden_sizes=())])
def test_other_modules_are_left_as_initialised(module_kwargs):
    X, y = _pair_data()
    torch.manual_seed(0)
    plain = GatedMLP(X.shape[1], 1, linear_skip=True, **module_kwargs)
    torch.manual_seed(0)
    module, seeding = _seeded_module(X, y[:, None], n_pairs=2, **module_kwargs)
    assert not seeding.seeded_ and seeding.pairs_ == []
    # the net's own initialisation draws from its seed; what matters is nothing was written
    assert all(torch.isfinite(p).all() for p in module.parameters())
    assert [p.shape for p in module.parameters()] == [p.shape for p in plain.parameters()]


def test_only_the_training_split_is_read():
    X, y = _pair_data()
    subset = torch.utils.data.Subset(Dataset(X, y[:, None]), np.arange(100, 300))
    X_read, Y_read, rows = _training_arrays(subset)
    np.testing.assert_array_equal(X_read[rows], X[100:300])
    np.testing.assert_array_equal(Y_read[rows, 0], y[100:300])
    # seeded on rows where the pair carries no signal, the pair is not found
    y_split = y.copy()
    y_split[:300] = np.random.default_rng(0).standard_normal(300)
    net = NeuralGPRegressor(module__hidden_sizes=(16,), module__n_features=X.shape[1],
                            module__n_outputs=1, random_state=0, **FAST)
    net.initialize()
    net.history.new_epoch()
    seeding = PairSeeding(n_pairs=1).initialize()
    seeding.on_epoch_begin(net, dataset_train=torch.utils.data.Subset(
        Dataset(X, y_split[:, None].astype(np.float32)), np.arange(300, 600)))
    assert seeding.pairs_[0].tolist()[0] in ([2, 5], [9, 13])
    seeding.on_epoch_begin(net, dataset_train=torch.utils.data.Subset(
        Dataset(X, y_split[:, None].astype(np.float32)), np.arange(0, 300)))
    assert seeding.pairs_[-1].tolist()[0] not in ([2, 5], [9, 13])


def test_large_scans_range_over_the_loci_most_correlated_with_the_targets(monkeypatch):
    rng = np.random.default_rng(0)
    X = rng.choice([-1.0, 1.0], size=(800, 40)).astype(np.float32)
    y = X[:, 4] + X[:, 30] + X[:, 4] * X[:, 30] + 0.3 * rng.standard_normal(800)
    rows = np.arange(800)
    loci = _candidate_loci(X, rows, y[:, None], 2)
    assert loci.tolist() == [4, 30]
    monkeypatch.setattr(_seeding, "SEED_FLOPS", 800 * 3**2)  # 3 loci scanned
    module, seeding = _seeded_module(X, y[:, None], n_pairs=1, hidden_sizes=(16,))
    assert seeding.pairs_[0].tolist() == [[4, 30]]


def test_the_loci_scanned_are_ranked_by_correlation_whatever_the_targets_scale():
    rng = np.random.default_rng(0)
    X = rng.choice([-1.0, 1.0], size=(800, 30)).astype(np.float32)
    Y = np.column_stack([100 * (X[:, 3] + 3 * rng.standard_normal(800)),  # r about 0.3
                         X[:, 11] + 0.3 * rng.standard_normal(800)])      # r about 0.96
    assert _candidate_loci(X, np.arange(800), Y, 1).tolist() == [11]


def test_the_loci_scanned_are_ranked_on_the_samples_read():
    rng = np.random.default_rng(0)
    X = rng.choice([-1.0, 1.0], size=(800, 30)).astype(np.float32)
    y = np.where(np.arange(800) < 400, X[:, 9], X[:, 5]) + 0.3 * rng.standard_normal(800)
    rows = np.arange(400, 800)  # locus 5 there, locus 9 in the first 400 samples
    assert _candidate_loci(X, rows, y[rows, None], 1).tolist() == [5]


def test_pairs_are_scanned_against_the_target_less_its_additive_fit():
    # loci 0 and 1 in strong linkage, the rarer allele at 15 %: the centred product of the
    # two is close to a linear function of locus 0, so a scan of y ranks the phantom pair
    # (0, 1) of an additive QTL first.  Against y less GBLUP's prediction (which the
    # regressor's linear-path choice fits) the true pair (5, 6) comes first.
    rng = np.random.default_rng(0)
    n = 1500
    X = rng.choice([-1.0, 1.0], size=(n, 30)).astype(np.float32)
    X[:, 0] = np.where(rng.random(n) < 0.15, 1.0, -1.0)
    X[:, 1] = np.where(rng.random(n) < 0.05, -X[:, 0], X[:, 0])
    y = 1.5 * X[:, 0] + 0.5 * X[:, 5] * X[:, 6] + 0.5 * rng.standard_normal(n)
    first = {}
    for linear_penalty in ("auto", None):  # None: no linear path, no additive fit
        net = NeuralGPRegressor(max_epochs=1, random_state=0,
                                linear_penalty=linear_penalty).fit(X, y)
        assert (net._additive_fit_ is None) == (linear_penalty is None)
        first[linear_penalty] = dict(net.callbacks_)["pair_seeding"].pairs_[0][0].tolist()
    assert first["auto"] == [5, 6]
    assert first[None] == [0, 1]


def test_the_scan_leaves_out_the_copies_in_linkage_of_a_pair_ranked_before():
    # loci 0-3 near copies of one another (each differs from locus 0 in 2 % of samples): the
    # products of (0..3, 10) are copies of the strong pair's, and without leaving them out
    # they would fill the first four places before the weaker pair (20, 21)
    rng = np.random.default_rng(0)
    n = 2000
    X = rng.choice([-1.0, 1.0], size=(n, 30)).astype(np.float32)
    for c in (1, 2, 3):
        X[:, c] = np.where(rng.random(n) < 0.02, -X[:, 0], X[:, 0])
    y = X[:, 0] * X[:, 10] + 0.4 * X[:, 20] * X[:, 21] + 0.5 * rng.standard_normal(n)
    found = _seeding.scan_pairs(X, np.arange(n), y[:, None], None, 2)
    first, second = (sorted(pair) for pair in found.loci[found.pairs[0]].tolist())
    assert first[0] in (0, 1, 2, 3) and first[1] == 10 and second == [20, 21]
    with pytest.MonkeyPatch.context() as patch:  # every pair ranked: the copies come first
        patch.setattr(_seeding, "COPY_R", 1.01)
        found = _seeding.scan_pairs(X, np.arange(n), y[:, None], None, 2)
    assert all(pair[1] == 10 for pair in np.sort(found.loci[found.pairs[0]], axis=1).tolist())


@pytest.mark.parametrize("value", [-1, 1.5, "all", True])
def test_bad_n_pairs(value):
    with pytest.raises(ValueError, match="n_pairs must be"):
        PairSeeding(n_pairs=value).initialize()


def test_no_seeding_of_weights_loaded_for_a_warm_start(tmp_path):
    # initialize(); load_params(); fit(warm_start=True) leaves the history empty: the
    # loaded weights must stay as they are
    X, y = _pair_data()
    kw = dict(module__hidden_sizes=(16,), random_state=0, batch_size=128)
    NeuralGPRegressor(max_epochs=4, **kw).fit(X, y).save_params(f_params=tmp_path / "w.pt")
    net = NeuralGPRegressor(max_epochs=1, lr=0.0, warm_start=True, module__n_features=X.shape[1],
                            module__n_outputs=1, **kw)
    net.initialize()
    net.load_params(f_params=tmp_path / "w.pt")
    loaded = net.module_.layers[0].weight.detach().clone()
    net.fit(X, y)
    assert not dict(net.callbacks_)["pair_seeding"].seeded_
    assert torch.equal(net.module_.layers[0].weight, loaded)
