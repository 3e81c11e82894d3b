"""Ensembles: members with derived seeds, averaged into one exactly decomposable network."""

import numpy as np
import pytest
from sklearn.pipeline import make_pipeline

from sklearn_elm import ELMDecomposer, GenotypeEncoder, NeuralGPRegressor
from sklearn_elm._ensemble import average_networks, fit_members, member_seeds


def _data(n=600, p=5, seed=0):
    rng = np.random.default_rng(seed)
    G = rng.integers(0, 2, size=(n, p))
    Z = 2.0 * G - 1
    return G, Z[:, 0] + 0.5 * Z[:, 1] * Z[:, 2] + 0.5 * rng.normal(size=n)


def test_average_of_deep_members_predicts_their_mean():
    """Two hidden layers (block-diagonal middle weights): the average network's output is
    the mean of the members' outputs, and each member is a different network."""
    G, y = _data()
    net = NeuralGPRegressor(module__hidden_sizes=(8, 6), module__activation="silu",
                            max_epochs=5, random_state=1)
    members = fit_members(net, 2.0 * G - 1, y, 3)
    predictions = np.array([m.predict(2.0 * G - 1) for m in members])
    assert np.ptp(predictions, axis=0).max() > 1e-3
    average = average_networks(members)
    np.testing.assert_allclose(average.predict(2.0 * G - 1), predictions.mean(0), atol=1e-5)
    assert average.module_.layers[2].weight.shape == (18, 24)


def test_seeds_are_reproducible_from_an_integer_and_fresh_from_none():
    """An integer root gives the same distinct seeds every time; None gives new ones."""
    assert member_seeds(3, 4) == member_seeds(3, 4)
    assert len(set(member_seeds(3, 4))) == 4
    assert member_seeds(None, 4) != member_seeds(None, 4)


def test_decomposer_ensemble_is_exact_and_reports_the_members_spread():
    """n_estimators=3 trains three members, decomposes their average exactly (its
    contributions add up to its predictions, the members' mean), and reports the spread
    of the members' additive effects, positive where the members differ."""
    G, y = _data()
    net = make_pipeline(GenotypeEncoder(), NeuralGPRegressor(
        module__hidden_sizes=(16,), max_epochs=10, random_state=0))
    dec = ELMDecomposer(net, n_estimators=3).fit(G, y)
    assert len(dec.estimators_) == 3
    seeds = [m[-1].random_state for m in dec.estimators_]
    assert len(set(seeds)) == 3
    mean = np.mean([m.predict(G) for m in dec.estimators_], axis=0)
    np.testing.assert_allclose(dec.predict(G), mean, atol=1e-5)
    np.testing.assert_allclose(dec.transform(G).sum(1) + dec.intercept_, dec.predict(G),
                               atol=1e-4)
    assert dec.additive_effects_std_.shape == (5,)
    assert dec.additive_effects_std_[0] > 0
    assert set(dec.variance_components_std_) == set(dec.variance_components_)
    again = ELMDecomposer(net, n_estimators=3).fit(G, y)
    np.testing.assert_allclose(again.additive_effects_, dec.additive_effects_)


def test_ensemble_with_prefit_is_refused():
    """prefit=True decomposes a trained network; asking it to train members is an error."""
    G, y = _data(n=100)
    net = NeuralGPRegressor(module__hidden_sizes=(4,), max_epochs=2, random_state=0)
    net.fit(2.0 * G - 1, y)
    with pytest.raises(ValueError, match="n_estimators=2 trains the members"):
        ELMDecomposer(net, prefit=True, n_estimators=2).fit(2.0 * G - 1, y)


def test_average_of_linear_members_and_refits_leave_nothing_stale():
    """Linear members (no hidden layer) average to their mean weights; averaging leaves the
    caller's torch random stream where it was; a refit without an ensemble drops the
    ensemble's attributes."""
    import torch

    G, y = _data(n=200)
    members = fit_members(NeuralGPRegressor(module__hidden_sizes=(), max_epochs=3,
                                            random_state=0), 2.0 * G - 1, y, 3)
    torch.manual_seed(1)
    average = average_networks(members)
    drawn = torch.rand(1)
    torch.manual_seed(1)
    assert torch.equal(drawn, torch.rand(1))
    np.testing.assert_allclose(average.predict(2.0 * G - 1),
                               np.mean([m.predict(2.0 * G - 1) for m in members], 0), atol=1e-5)
    net = NeuralGPRegressor(module__hidden_sizes=(4,), max_epochs=2, random_state=0)
    dec = ELMDecomposer(net, n_estimators=2).fit(2.0 * G - 1, y)
    dec.set_params(n_estimators=1).fit(2.0 * G - 1, y)
    assert not hasattr(dec, "estimators_") and not hasattr(dec, "additive_effects_std_")
