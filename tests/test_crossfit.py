"""Tests of the loci a cross-fit fixes, by linkage, and of its components."""

import warnings

import numpy as np
import pytest

from sklearn_elm._decomposition._codes import compact
from sklearn_elm._decomposition._crossfit import TAGGED, _half_loci, screen_loci
from sklearn_elm._decomposition._rest import tagging
from sklearn_elm._decomposition._scan import _genotypes, term_budget
from sklearn_elm._decomposition._screening import screened_fit
from sklearn_elm.metrics import true_variance_components


def _independent_loci(rng, n, p):
    return rng.choice([-1.0, 0.0, 1.0], p=[0.25, 0.5, 0.25], size=(n, p))


def _linked_loci(rng, n, p, block=20, flip=0.05):
    """Blocks of ``block`` loci copied from one locus, each call changed with probability
    ``flip``: neighbours correlated about 0.9."""
    Z = np.repeat(_independent_loci(rng, n, p // block), block, axis=1)
    changed = rng.random(Z.shape) < flip
    Z[changed] = _independent_loci(rng, n, p)[changed]
    return Z


def _polygenic(rng, Z, h2=0.5):
    a = rng.normal(size=Z.shape[1])
    g = Z @ a
    scale = np.sqrt(h2 / g.var())
    a, g = a * scale, g * scale
    return a, g + rng.normal(scale=np.sqrt(1 - h2), size=len(g))


def test_tagging_is_one_without_linkage_and_large_with_it():
    """Fitted loci take their share of independent loci's variance by chance (ratio about
    1) and much more of their neighbours' in linkage (above the threshold at which a half
    fixes its whole budget)."""
    rng = np.random.default_rng(0)
    for Z, low, high in ((_independent_loci(rng, 600, 1200), 0.85, 1.15),
                         (_linked_loci(rng, 600, 1200), TAGGED, np.inf)):
        G = _genotypes(Z, False)
        loci = np.sort(rng.choice(Z.shape[1], size=150, replace=False))
        Zc = Z[:, loci] - Z[:, loci].mean(axis=0)
        assert low < tagging(G, loci, Zc.T @ Zc) < high


def test_screening_at_a_level_takes_what_y_shows():
    """With a level, screening takes the QTL whose effects ``y`` shows and few others, and
    nothing of noise alone; without one it fills the budget."""
    rng = np.random.default_rng(1)
    Z = _independent_loci(rng, 1000, 600)
    qtl = rng.choice(600, size=8, replace=False)
    y = Z[:, qtl] @ np.full(8, 0.4) + rng.normal(size=1000)
    G = _genotypes(Z, False)
    chosen, _ = screen_loci(G, y - y.mean(), 200, level=0.05)
    assert set(qtl) <= set(chosen.tolist()) and chosen.size <= 10
    noise = rng.normal(size=1000)
    assert screen_loci(G, noise - noise.mean(), 200, level=0.05)[0].size <= 1
    assert screen_loci(G, y - y.mean(), 200)[0].size == 200


def test_halves_fix_their_budget_in_linkage_only():
    """A polygenic trait: on independent loci a half fixes only the few loci ``y`` shows and
    the loci left out are estimated on all samples; in linkage it fixes its whole budget,
    whose loci stand for their neighbours."""
    rng = np.random.default_rng(2)
    n, p = 800, 1600
    n_loci, _ = term_budget(n, p)
    for Z, unlinked in ((_independent_loci(rng, n, p), True), (_linked_loci(rng, n, p), False)):
        _, y = _polygenic(rng, Z)
        loci, flag = _half_loci(_genotypes(Z, False), y - y.mean(), n_loci)
        assert flag is unlinked
        assert (loci.size < n_loci / 4) if unlinked else (loci.size == n_loci)


def _check_cross_fit(Z, a, y, max_se):
    """The cross-fitted components of ``y`` with a network that memorised 70 % of the
    noise: V_A and V_G within 3.5 of their errors of the sample's, V_A's error below
    ``max_se``."""
    g = Z @ a
    F = g + 0.7 * (y - g)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        fit = screened_fit(Z, F[:, None], (y - y.mean() - F + F.mean())[:, None],
                           np.array([y.var()]), crossfit=True)
    truth = true_variance_components(Z, a, np.zeros((len(a), len(a))), phenotypes=y)
    vc, se = fit.components, fit.components_se
    for key in ("additive", "genetic"):
        assert abs(vc[key][0] - truth[key]) < 3.5 * se[key][0]
    assert se["additive"][0] < max_se


@pytest.mark.parametrize("seed", [0, 1])
def test_cross_fitted_components_of_a_polygenic_trait(seed):
    """Every one of 1,000 loci additive on 1,200 samples: cross-fitted, V_A is the sample's
    within chance (the loci the halves fix alone miss most of it)."""
    rng = np.random.default_rng(seed)
    n, p = 1200, 1000
    Z = rng.choice([-1.0, 0.0, 1.0], p=[0.25, 0.5, 0.25], size=(n, p))
    a = rng.normal(scale=np.sqrt(0.5 / (0.5 * p)), size=p)
    y = Z @ a + rng.normal(scale=np.sqrt(0.5), size=n)
    _check_cross_fit(Z, a, y, 0.2)


@pytest.mark.parametrize("linked", [False, True])
def test_cross_fitted_polygenic_v_a_with_and_without_linkage(linked):
    """Every locus additive on 1,600 samples and 3,000 loci (each half has 800 samples): the
    cross-fitted V_A is the sample's within chance, in linkage equilibrium (a few loci fixed,
    the rest on all the samples) and in linkage (the budget fixed, the rest per half), with
    an error under 0.1 (fixing the budget in linkage equilibrium and estimating the rest per
    half gives 0.12-0.16 here)."""
    rng = np.random.default_rng(3)
    Z = _linked_loci(rng, 1600, 3000) if linked else _independent_loci(rng, 1600, 3000)
    a, y = _polygenic(rng, Z)
    _check_cross_fit(Z, a, y, 0.1)


def test_codes_and_floats_give_the_same_cross_fit():
    """Genotype codes with imputed calls (int8 and their corrections) give the float
    genotypes' cross-fitted components, the loci left out estimated on all the samples."""
    rng = np.random.default_rng(4)
    Z = rng.choice([0.0, 1.0, 2.0], p=[0.25, 0.5, 0.25], size=(600, 900))
    Z[rng.random(Z.shape) < 0.01] = 0.7  # imputed calls: corrections of the codes
    a, y = _polygenic(rng, Z)
    F = Z @ a
    R = (y - y.mean() - F + F.mean())[:, None]
    results = []
    for inputs in (Z, compact(Z)):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            fit = screened_fit(inputs, F[:, None], R, np.array([y.var()]), crossfit=True)
        results.append([fit.components[key][0] for key in ("additive", "epistatic", "genetic")]
                       + [fit.components_se["additive"][0]])
    assert results[0][0] > 0.1
    np.testing.assert_allclose(results[0], results[1], rtol=1e-4, atol=1e-8)
