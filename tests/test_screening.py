"""Tests of the screened least squares (``epistasis`` / ``components`` ``"screened"``)."""

import warnings

import numpy as np
import pytest

from sklearn_elm._decomposition._screening import screened_fit, term_budget
from sklearn_elm.datasets import make_epistatic_phenotypes
from sklearn_elm.metrics import true_variance_components


def _true_pairs(E):
    return {(int(i), int(j)) for i, j in zip(*np.nonzero(np.triu(E, 1)), strict=True)}


def _top_pairs(E, k):
    cells = np.argsort(-np.abs(np.triu(E, 1)).ravel())[:k]
    return {tuple(int(v) for v in np.unravel_index(c, E.shape)) for c in cells}


@pytest.mark.parametrize("seed", [0, 1])
def test_trait_components_and_pairs_of_a_shrunk_network(seed):
    """A network that learnt 60 % of a sparse diploid trait (20 QTL, 6 pairs among 150 loci,
    11,175 pairs, more terms than samples): the trait's V_A, V_AA and V_G are recovered within
    a few sampling standard errors, every true pair ranks in the top 6, and the additive
    effects are the true average effects (the network's values, scaled back)."""
    n, p = 2500, 150
    d = make_epistatic_phenotypes(n, p, n_qtl=20, n_pairs=6, h2=0.6, ploidy=2, random_state=seed)
    Z, y, g = d.genotypes - 1.0, d.phenotypes, d.genetic_values
    F = 0.6 * (g - g.mean())
    fit = screened_fit(Z, F, y - y.mean() - F, y.var(axis=0))
    truth = true_variance_components(Z, d.additive_effects, d.epistasis, y)
    for key in ("additive", "epistatic", "genetic"):
        assert fit.components[key][0] == pytest.approx(truth[key][0], abs=0.08), key
    E = d.epistasis[0]
    assert _top_pairs(fit.epistasis[0], 6) == _true_pairs(E)
    alpha = d.additive_effects[0] + E @ Z.mean(axis=0)
    assert np.corrcoef(fit.additive[0], alpha)[0, 1] > 0.99
    assert np.isnan(fit.epistasis_variance[0, 0, 149]) or (0, 149) in _true_pairs(E)


def test_linked_loci_make_no_phantom_pair():
    """Locus 2 is a 90 % copy of additive QTL 1; the genetic value is z0 + z1 + z3 z4. A
    marginal scan of z0 z2 picks up z0 z1's correlation with the additive part; the screened
    fit conditions on every locus first, so the true pair leads and (0, 2) gets nothing."""
    rng = np.random.default_rng(0)
    Z = rng.choice([-1.0, 1.0], size=(3000, 8))
    Z[:, 2] = np.where(rng.random(3000) < 0.9, Z[:, 1], -Z[:, 1])
    g = Z[:, 0] + Z[:, 1] + 0.5 * Z[:, 3] * Z[:, 4]
    y = g + rng.normal(size=3000)
    fit = screened_fit(Z, g[:, None] - g.mean(), (y - y.mean() - (g - g.mean()))[:, None])
    E = fit.epistasis[0]
    assert _top_pairs(E, 1) == {(3, 4)}
    assert abs(E[0, 2]) < 1e-8 and abs(E[1, 2]) < 1e-8


def test_pure_noise_gives_components_near_zero():
    """No genetic signal at all, a network that memorised some noise: the noise corrections
    leave V_A, V_AA and V_G near 0 (within sampling error), not the memorised share."""
    rng = np.random.default_rng(1)
    Z = rng.choice([-1.0, 0.0, 1.0], size=(2000, 60))
    y = rng.normal(size=(2000, 1))
    F = 0.1 * (y - y.mean())
    fit = screened_fit(Z, F, y - y.mean() - F, y.var(axis=0))
    for key in ("additive", "epistatic", "genetic"):
        assert abs(fit.components[key][0]) < 0.06, key


def test_term_budget_keeps_the_fit_well_determined():
    """The terms chosen are at most n / 2 - 1 in all, with at least one pair."""
    for n, p in [(40, 5), (2000, 12000), (5000, 2000), (20000, 50000), (6, 100)]:
        loci, pairs = term_budget(n, p)
        assert 1 <= pairs and loci <= p and loci + pairs <= n // 2 - 1
    with pytest.raises(ValueError, match="at least 6 samples"):
        term_budget(5, 100)


def test_fewer_samples_than_loci_warn_that_v_a_counts_the_chosen_loci():
    """300 loci and 200 samples: only 89 loci fit in the budget, and a warning says that V_A
    counts only those; with every locus in the budget there is no warning."""
    rng = np.random.default_rng(2)
    Z = rng.choice([-1.0, 1.0], size=(200, 300))
    g = Z[:, :5].sum(axis=1, keepdims=True)
    y = g + rng.normal(size=g.shape)
    with pytest.warns(UserWarning, match="fitted on the 89 loci"):
        fit = screened_fit(Z, g - g.mean(), y - y.mean() - (g - g.mean()))
    assert np.count_nonzero(fit.additive[0]) == 89
    assert set(np.flatnonzero(np.abs(fit.additive[0]) > 0.5)) == set(range(5))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        screened_fit(Z[:, :50], g - g.mean(), y - y.mean() - (g - g.mean()))
