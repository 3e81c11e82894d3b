"""Tests of the moment estimate of what the loci a screened fit leaves out carry."""


import numpy as np
import pytest

from sklearn_elm._decomposition._codes import compact
from sklearn_elm._decomposition._lstsq import least_squares
from sklearn_elm._decomposition._rest import add_left_out, rest_variance
from sklearn_elm._decomposition._scan import _genotypes
from sklearn_elm._decomposition._selection import _parts
from sklearn_elm._decomposition._terms import Terms
from sklearn_elm.metrics import true_variance_components


def _fit(G, loci, y):
    """``y``'s least-squares fit on ``loci``: the terms, the fit and its V_A less its sampling
    noise (the screened fit's)."""
    X = Terms(G, loci)
    fit = least_squares(X, y, y)
    return X, fit, _parts(X, X.shape[1], fit)["additive"]


def test_left_out_loci_add_their_variance_with_errors_of_chance():
    """A polygenic trait on 600 samples and 500 loci, the fit taking the 150 loci of largest
    marginal score on 600 other samples: the fitted part and the left-out loci's estimate
    together recover the sample's V_A, with z-scores of chance and a standard error the size
    of the estimates' spread (the fitted part alone misses the 350 loci left out)."""
    n, p = 600, 500
    scores, estimates, errors, fitted_only = [], [], [], []
    for seed in range(16):
        rng = np.random.default_rng(seed)
        Z = rng.choice([0.0, 1.0, 2.0], p=[0.25, 0.5, 0.25], size=(2 * n, p))
        a = rng.normal(scale=np.sqrt(0.5 / (0.5 * p)), size=p)
        y = Z @ a + rng.normal(scale=np.sqrt(0.5), size=2 * n)
        marginal = np.abs((Z[n:] - Z[n:].mean(0)).T @ y[n:])  # chosen on the other samples
        Z, y = Z[:n], y[:n] - y[:n].mean()
        G = _genotypes(Z, False)
        loci = np.sort(np.argsort(-marginal)[:150])
        X, fit, part = _fit(G, loci, y)
        value, se = rest_variance(G, X, fit, y)
        truth = true_variance_components(Z, a, np.zeros((p, p)))["additive"]
        scores.append((part + value - truth) / se)
        estimates.append(part + value - truth)
        errors.append(se)
        fitted_only.append(part - truth)
    scores = np.array(scores)
    assert np.all(np.abs(scores) < 4)
    assert abs(scores.mean()) < 3 / np.sqrt(len(scores)) + 0.3
    assert 0.6 < np.mean(errors) / np.std(estimates) < 1.6
    assert np.mean(fitted_only) < -5 * np.mean(errors) / np.sqrt(len(scores))


def test_codes_and_floats_give_the_same_estimate():
    """The int8 codes (with imputed-call corrections) read as the float genotypes."""
    rng = np.random.default_rng(3)
    Z = rng.choice([0.0, 1.0, 2.0], size=(300, 120))
    Z[rng.random(Z.shape) < 0.02] = 0.7  # imputed calls: corrections of the codes
    y = Z[:, :60] @ rng.normal(scale=0.1, size=60) + rng.normal(size=300)
    y -= y.mean()
    loci = np.arange(10)
    results = []
    for inputs in (Z, compact(Z)):
        G = _genotypes(inputs, False)
        X, fit, _ = _fit(G, loci, y)
        results.append(rest_variance(G, X, fit, y))
    np.testing.assert_allclose(results[0], results[1], rtol=1e-4)


def test_nothing_left_out_adds_nothing():
    rng = np.random.default_rng(0)
    Z = rng.choice([0.0, 1.0, 2.0], size=(200, 5))
    y = Z @ np.ones(5) + rng.normal(size=200)
    y -= y.mean()
    G = _genotypes(Z, False)
    X, fit, _ = _fit(G, np.arange(5), y)
    assert rest_variance(G, X, fit, y) == (0.0, 0.0)


def test_left_out_noise_adds_nothing_on_average():
    """Noise alone on the loci left out: each estimate falls below 0 about half the time
    (unconstrained, so that an average is unbiased), and the variance added to the
    components, their average kept at 0 or above, never lowers them."""
    values = []
    for seed in range(8):
        rng = np.random.default_rng(seed)
        Z = rng.choice([0.0, 1.0, 2.0], size=(400, 300))
        y = rng.normal(size=400)
        y -= y.mean()
        G = _genotypes(Z, False)
        X, fit, _ = _fit(G, np.arange(20), y)
        values.append(rest_variance(G, X, fit, y))
    values = np.array(values)
    assert np.any(values[:, 0] < 0) and np.any(values[:, 0] > 0)
    assert np.all(values[:, 1] > 0)
    for first, second in zip(values[::2], values[1::2], strict=True):
        part = {"additive": 0.2, "epistatic": 0.0, "genetic": 0.2}
        error = {"additive": 0.01, "epistatic": 0.0, "genetic": 0.01, "higher": 0.0}
        part, error = add_left_out(part, error, [tuple(first), tuple(second)])
        assert part["additive"] == pytest.approx(max(0.2, 0.2 + (first[0] + second[0]) / 2))
        assert error["additive"] > 0.01


def test_loci_in_complete_linkage_count_once():
    """Copies of fitted loci (complete linkage, one term each in the fit's ``df``) change
    neither what the fit leaves nor the estimate."""
    rng = np.random.default_rng(5)
    Z = rng.choice([0.0, 1.0, 2.0], size=(500, 200))
    y = Z @ rng.normal(scale=0.08, size=200) + rng.normal(size=500)
    y -= y.mean()
    estimates = []
    for inputs, loci in ((Z, np.arange(40)), (np.hstack([Z, Z[:, :30]]),
                                              np.r_[np.arange(40), 200 + np.arange(30)])):
        G = _genotypes(inputs, False)
        X = Terms(G, loci)
        fit = least_squares(X, y, y)
        estimates.append(rest_variance(G, X, fit, y))
    np.testing.assert_allclose(estimates[0], estimates[1], rtol=1e-3)
