"""Tests of the screened least squares (``epistasis`` / ``components`` ``"screened"``)."""

import warnings

import numpy as np
import pytest

from sklearn_elm import ELMDecomposer, NeuralGPRegressor
from sklearn_elm._decomposition._pair_matrices import dense_pairs, sparse_pairs
from sklearn_elm._decomposition._screening import (
    pair_scan_size,
    screened_fit,
    term_budget,
)
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
    a few sampling standard errors, every true pair ranks in the top 8 (a pair y proposes that
    passes its family-wise 5 % test by chance carries y's unshrunk coefficient), and the
    additive effects are the true average effects (the network's values, scaled back)."""
    n, p = 2500, 150
    d = make_epistatic_phenotypes(n, p, n_qtl=20, n_pairs=6, h2=0.6, ploidy=2, random_state=seed)
    Z, y, g = d.genotypes - 1.0, d.phenotypes, d.genetic_values
    F = 0.6 * (g - g.mean())
    fit = screened_fit(Z, F, y - y.mean() - F, y.var(axis=0))
    truth = true_variance_components(Z, d.additive_effects, d.epistasis, y)
    for key in ("additive", "epistatic", "genetic"):
        assert fit.components[key][0] == pytest.approx(truth[key][0], abs=0.08), key
    E = d.epistasis[0]
    E_fit, E_var = dense_pairs(fit, p)
    assert _true_pairs(E) <= _top_pairs(E_fit[0], 8)
    alpha = d.additive_effects[0] + E @ Z.mean(axis=0)
    assert np.corrcoef(fit.additive[0], alpha)[0, 1] > 0.99
    assert np.isnan(E_var[0, 0, 149]) or (0, 149) in _true_pairs(E)


def test_linked_loci_make_no_phantom_pair():
    """Locus 2 is a 90 % copy of additive QTL 1; the genetic value is z0 + z1 + z3 z4. A
    marginal scan of z0 z2 picks up z0 z1's correlation with the additive part; the screened
    fit conditions on every locus first, so the true pair leads and (0, 2) gets nothing."""
    rng = np.random.default_rng(0)
    Z = rng.choice([-1.0, 1.0], size=(3000, 8))
    Z[:, 2] = np.where(rng.random(3000) < 0.9, Z[:, 1], -Z[:, 1])
    g = Z[:, 0] + Z[:, 1] + 0.5 * Z[:, 3] * Z[:, 4]
    y = g + rng.normal(size=3000)
    fit = screened_fit(Z, g[:, None] - g.mean(), (y - y.mean() - (g - g.mean()))[:, None],
                       n_pairs=3)
    E = dense_pairs(fit, 8)[0][0]
    assert _top_pairs(E, 1) == {(3, 4)}
    assert abs(E[0, 2]) < 1e-8 and abs(E[1, 2]) < 1e-8


def test_a_pair_duplicating_a_locus_is_left_out():
    """Loci coded 0/1, locus 3 a QTL and locus 4 its exact copy, only two loci in the budget
    (0 and 1, the larger QTL): the product of 3 with its copy is locus 3 itself, so the scan
    of f picks the pair (3, 4). Its loci join the additive terms and the pair, which only
    duplicates them, is left out: V_A and V_AA are the truth within sampling error (fitting
    the duplicate would split the effect and make the noise corrections blow up)."""
    rng = np.random.default_rng(3)
    n = 3000
    Z = (rng.random((n, 12)) < 0.3).astype(float)
    Z[:, 4] = Z[:, 3]
    g = 2.0 * Z[:, 0] + 2.0 * Z[:, 1] + Z[:, 3] + Z[:, 5] * Z[:, 6]
    y = g + rng.normal(size=n)
    F = (g - g.mean())[:, None]
    with pytest.warns(UserWarning, match="fitted on the 2 loci"):
        fit = screened_fit(Z, F, (y - y.mean())[:, None] - F, n_loci=2, n_pairs=6)
    assert (3, 4) not in {tuple(pair) for pair in fit.pairs[0].tolist()}
    assert {3, 4} <= set(np.flatnonzero(fit.additive[0]).tolist())
    assert fit.additive[0, 3] + fit.additive[0, 4] == pytest.approx(1.0, abs=0.05)
    a, E = np.zeros(12), np.zeros((12, 12))
    a[[0, 1, 3]] = 2.0, 2.0, 1.0
    E[5, 6] = E[6, 5] = 1.0
    truth = true_variance_components(Z, a, E, y)
    vc = fit.components
    assert vc.additive[0] == pytest.approx(truth.additive, abs=0.1)
    assert vc.epistatic[0] == pytest.approx(truth.epistatic, abs=0.05)


def test_pairs_that_y_rejects_add_nothing_to_v_g():
    """A network that memorised a strong pair (5, 6) absent from the trait: the pair is
    screened from f, y's coefficient on it is not significant, so it counts neither in V_AA
    nor in V_G (which stays the trait's genetic variance, not that plus the pair's 0.25)."""
    rng = np.random.default_rng(4)
    n = 3000
    Z = rng.choice([-1.0, 1.0], size=(n, 20))
    g = Z[:, 0] + 0.5 * Z[:, 1] * Z[:, 2]
    y = g + rng.normal(size=n)
    F = g + 0.5 * Z[:, 5] * Z[:, 6]
    F = (F - F.mean())[:, None]
    fit = screened_fit(Z, F, (y - y.mean())[:, None] - F, y.var(keepdims=True))
    assert (5, 6) in {tuple(pair) for pair in fit.pairs[0].tolist()}
    assert fit.components.genetic[0] == pytest.approx(g.var(), abs=0.08)
    assert fit.components.epistatic[0] == pytest.approx(0.25, abs=0.06)


def test_term_numbers_are_checked():
    """n_loci and n_pairs must be integers (n_pairs >= 1) leaving degrees of freedom."""
    Z = np.random.default_rng(5).choice([-1.0, 1.0], size=(100, 30))
    F, R = np.zeros((100, 1)), np.ones((100, 1))
    for kwargs, match in (({"n_pairs": 0}, "n_pairs must be an integer >= 1"),
                          ({"n_loci": -1}, "n_loci must be an integer >= 0"),
                          ({"n_loci": 2.5}, "n_loci must be an integer"),
                          ({"n_loci": 30, "n_pairs": 70}, "no degrees of freedom")):
        with pytest.raises(ValueError, match=match):
            screened_fit(Z, F, R, **kwargs)


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
    """300 loci and 200 samples: only 89 loci fit in the budget, and the loci of the 10 pairs,
    and a warning says that V_A counts only those; with every locus in the budget there is no
    warning."""
    rng = np.random.default_rng(2)
    Z = rng.choice([-1.0, 1.0], size=(200, 300))
    g = Z[:, :5].sum(axis=1, keepdims=True)
    y = g + rng.normal(size=g.shape)
    with pytest.warns(UserWarning, match="fitted on the 89 loci"):
        fit = screened_fit(Z, g - g.mean(), y - y.mean() - (g - g.mean()))
    pair_loci = set(fit.pairs[0].ravel().tolist())
    assert len(fit.pairs[0]) == 10
    assert 89 <= np.count_nonzero(fit.additive[0]) <= 89 + len(pair_loci)
    assert pair_loci <= set(np.flatnonzero(fit.additive[0]).tolist())
    assert set(np.flatnonzero(np.abs(fit.additive[0]) > 0.5)) == set(range(5))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        screened_fit(Z[:, :50], g - g.mean(), y - y.mean() - (g - g.mean()))


def test_past_the_scan_budget_pairs_are_scanned_among_the_loci_used_most(monkeypatch):
    """With the scan budget cut to 40 x 40 pairs on 3,000 samples, the scans range over the 40
    loci of largest usage: given the true interacting loci as the most used, the pair is found
    and a warning says the other loci's pairs are not tested; the sparse matrices hold the
    same pairs, effects and variances as the dense ones."""
    from sklearn_elm._decomposition import _scan

    monkeypatch.setattr(_scan, "SCAN_FLOPS", 3000 * 40**2)
    assert pair_scan_size(3000, 300) == 40
    rng = np.random.default_rng(6)
    Z = rng.choice([-1.0, 1.0], size=(3000, 300))
    g = Z[:, 0] + Z[:, 250] * Z[:, 290]
    y = g + rng.normal(size=3000)
    usage = np.zeros(300)
    usage[[250, 290]] = 1.0
    F = (g - g.mean())[:, None]
    with pytest.warns(UserWarning, match="scanned among the 40 loci"):
        fit = screened_fit(Z, F, (y - y.mean())[:, None] - F, usage=usage, n_pairs=5)
    assert fit.n_scanned == 40
    assert [250, 290] in fit.pairs[0].tolist()
    E, E_var = dense_pairs(fit, 300)
    S, S_var = sparse_pairs(fit, 300)
    assert np.array_equal(S.todense(), E)
    assert np.array_equal(np.isnan(E_var), S_var.todense() == 0)
    assert E[0, 250, 290] == pytest.approx(1.0, abs=0.05)


def test_pairs_a_network_chose_for_memorised_noise_do_not_count():
    """A purely additive trait (10 QTL among 60 loci) and a network that memorised the
    training noise on the 120 pairs that fit it best (its genetic value adds the noise's fit
    on them): those pairs are screened from f and fit the same noise in y, so tested against
    the full fit's noise variance and the pairs screened they would pass; against every pair
    and the noise variance of the loci and confirmed pairs they do not. V_AA stays near 0 and
    V_G near V_A, both near the truth."""
    rng = np.random.default_rng(7)
    n, p = 2000, 60
    Z = rng.choice([-1.0, 1.0], size=(n, p))
    g = Z[:, :10].sum(axis=1)
    e = rng.normal(scale=2.0, size=n)
    y = g + e
    i, j = np.triu_indices(p, 1)
    products = Z[:, i] * Z[:, j]
    pick = np.argsort(-np.abs(products.T @ e))[:120]
    P = products[:, pick]
    junk = P @ np.linalg.lstsq(P, e, rcond=None)[0]
    F = (g + junk - (g + junk).mean())[:, None]
    fit = screened_fit(Z, F, (y - y.mean())[:, None] - F, y.var(keepdims=True), n_pairs=150)
    vc = fit.components
    assert vc.epistatic[0] == pytest.approx(0.0, abs=0.05)
    assert vc.additive[0] == pytest.approx(g.var(), abs=0.4)
    assert vc.genetic[0] == pytest.approx(vc.additive[0], abs=0.05)


def test_past_the_dense_limit_the_decomposer_returns_sparse_pairs(monkeypatch):
    """With the dense limit cut to 0 bytes, ELMDecomposer's screened pair matrices are sparse
    COO arrays holding the same values as the dense ones (one and two outputs), and
    components='network', which needs the dense matrix, is refused with the fix."""
    from scipy import sparse

    from sklearn_elm import ELMDecomposer, NeuralGPRegressor
    from sklearn_elm._decomposition import _estimators

    rng = np.random.default_rng(8)
    X = rng.choice([-1.0, 1.0], size=(300, 30))
    Y = np.column_stack([X[:, 0] + X[:, 1] * X[:, 2], X[:, 3]]) + 0.3 * rng.normal(size=(300, 2))
    reg = NeuralGPRegressor(module__hidden_sizes=(16,), max_epochs=5, random_state=0)
    for y in (Y[:, 0], Y):
        net = reg.fit(X, y)
        options = {"prefit": True, "epistasis": "screened", "components": "screened"}
        dense = ELMDecomposer(net, **options).fit(X, y)
        monkeypatch.setattr(_estimators, "DENSE_PAIRS_BYTES", 0)
        light = ELMDecomposer(net, **options).fit(X, y)
        monkeypatch.undo()
        assert sparse.issparse(light.epistasis_matrix_)
        np.testing.assert_array_equal(light.epistasis_matrix_.todense(), dense.epistasis_matrix_)
        np.testing.assert_array_equal(light.additive_effects_, dense.additive_effects_)
        tested = ~np.isnan(dense.epistasis_variance_)
        np.testing.assert_array_equal(light.epistasis_variance_.todense()[tested],
                                      dense.epistasis_variance_[tested])
    monkeypatch.setattr(_estimators, "DENSE_PAIRS_BYTES", 0)
    with pytest.raises(ValueError, match="components='screened'"):
        ELMDecomposer(net, prefit=True, epistasis="screened", components="network").fit(X, Y)



def test_components_past_the_loci_budget_are_cross_fitted_free_of_memorised_noise():
    """With more loci than half the samples, loci chosen by a network that memorised much of
    the noise fit that noise (``crossfit=False``: V_A about 5 standard errors high and V_AA 8
    low on these data sets): cross-fitted, each half of the samples chooses the terms the
    other half estimates, and the components' errors are those of chance."""
    n, p = 1200, 1000
    pairs = [(10, 11), (12, 13), (14, 15)]
    scores = []
    for seed in range(4):
        rng = np.random.default_rng(seed)
        Z = rng.choice([-1.0, 0.0, 1.0], p=[0.25, 0.5, 0.25], size=(n, p))
        a, E = np.zeros(p), np.zeros((p, p))
        a[:10] = 0.3
        for i, j in pairs:
            E[i, j] = E[j, i] = 0.8
        g = Z @ a + sum(E[i, j] * Z[:, i] * Z[:, j] for i, j in pairs)
        noise = rng.normal(size=n)
        y = g + noise
        F = g + 0.7 * noise  # a network that memorised 70 % of the noise
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            fit = screened_fit(Z, F[:, None], (y - y.mean() - F + F.mean())[:, None],
                               np.array([y.var()]), crossfit=True)
        assert any("cross-fitted" in str(w.message) for w in caught)
        truth = true_variance_components(Z, a, E, phenotypes=y)
        vc, se = fit.components, fit.components_se
        scores.append([(vc[key][0] - truth[key]) / se[key][0]
                       for key in ("additive", "epistatic", "genetic")])
    scores = np.array(scores)
    assert np.all(np.abs(scores) < 4)
    assert np.all(np.abs(scores.mean(axis=0)) < 1.5)


def test_decomposer_cross_fits_the_components_on_request():
    """``components="crossfit"`` reaches the screened fit: past the loci budget it says the
    components are cross-fitted, and its tests are the screened fit's."""
    data = make_epistatic_phenotypes(300, 200, n_qtl=4, n_pairs=1, h2=0.6, ploidy=2,
                                     random_state=0)
    Z = data.genotypes.astype(float) - 1.0
    net = NeuralGPRegressor(module__hidden_sizes=(16,), max_epochs=5, random_state=0)
    net.fit(Z, data.phenotypes[:, 0])
    with pytest.warns(UserWarning, match="cross-fitted.*V_AA counts only the pairs a half finds"):
        dec = ELMDecomposer(net, prefit=True, components="crossfit").fit(
            Z, data.phenotypes[:, 0])
    assert dec.components_ == "crossfit" and dec.epistasis_ == "screened"
    assert np.isfinite(dec.variance_components_se_["additive"])
    assert dec.significant_pairs(0.05, as_frame=False)["i"].ndim == 1


def test_pairs_the_network_holds_are_fitted_though_the_scan_misses_them(monkeypatch):
    """With the scan cut to 40 of 300 loci, the pair (260, 280), whose loci have no marginal
    effect, is outside it, and locus 100, an 85 % copy of its product, takes the pair's effect;
    held (as a network's pair path holds it), the pair is fitted and the additive effects are
    f's average effects exactly; the pair's test counts one candidate more."""
    from sklearn_elm._decomposition import _scan

    monkeypatch.setattr(_scan, "SCAN_FLOPS", 3000 * 40**2)
    rng = np.random.default_rng(6)
    n = 3000
    Z = rng.choice([-1.0, 1.0], size=(n, 300))
    product = Z[:, 260] * Z[:, 280]
    Z[:, 100] = np.where(rng.random(n) < 0.85, product, -product)
    a = np.zeros(300)
    a[:10] = np.linspace(1.0, 0.2, 10)
    f = Z @ a + 0.5 * product
    y = f + rng.normal(size=n)
    F = (f - f.mean())[:, None]
    alpha = a.copy()
    alpha[260], alpha[280] = 0.5 * Z[:, 280].mean(), 0.5 * Z[:, 260].mean()
    fits = {}
    for held in (None, [np.array([[280, 260]])]):
        with pytest.warns(UserWarning, match="scanned among the 40 loci"):
            fits[held is None] = screened_fit(Z, F, (y - y.mean())[:, None] - F, n_pairs=5,
                                              pairs=held)
    missed, fit = fits[True], fits[False]
    assert [260, 280] not in missed.pairs[0].tolist()
    assert abs(missed.additive[0, 100]) > 0.2
    assert fit.pairs[0][0].tolist() == [260, 280]
    assert fit.pair_effects[0][0] == pytest.approx(0.5)
    np.testing.assert_allclose(fit.additive[0], alpha, atol=1e-8)
    assert fit.pair_tests[0].n_tests == missed.pair_tests[0].n_tests + 1


def test_the_decomposer_fits_the_pairs_the_network_holds_first(monkeypatch):
    """The decomposer hands the screened fit the pairs of the network's pair path, and the
    largest of them, as many as the share of pairs from f allows, have their effects."""
    from sklearn_elm._decomposition import _screening
    from sklearn_elm._network import held_pairs

    data = make_epistatic_phenotypes(600, 30, n_qtl=4, n_pairs=2, h2=0.8, ploidy=2,
                                     random_state=0)
    Z = data.genotypes.astype(float) - 1.0
    net = NeuralGPRegressor(module__hidden_sizes=(16,), max_epochs=20, random_state=0)
    net.fit(Z, data.phenotypes[:, 0])
    held = held_pairs(net.module_)[0]
    assert len(held)
    given = {}
    screened = _screening.screened_fit

    def spy(*args, **kwargs):
        given["pairs"] = kwargs.get("pairs")
        return screened(*args, **kwargs)

    monkeypatch.setattr("sklearn_elm._decomposition._estimators.screened_fit", spy)
    dec = ELMDecomposer(net, prefit=True, epistasis="screened", components="screened")
    dec.fit(Z, data.phenotypes[:, 0])
    assert np.array_equal(given["pairs"][0], held)
    n_pairs = term_budget(*Z.shape)[1]
    first = held[: n_pairs - n_pairs // 3]  # the share of the pairs screened from f
    assert np.all(dec.epistasis_matrix_[first[:, 0], first[:, 1]] != 0)


def test_network_components_of_a_screened_fit_are_finite():
    """components='network' beside the screened pair effects: the self terms the screened
    fit has none of (NaN variances on a haploid diagonal) add no noise correction, so
    V_AA is a number and the parts add up (a user found NaN V_AA and V_higher)."""
    d = make_epistatic_phenotypes(600, 8, n_qtl=4, h2=0.8, random_state=3)
    Z, y = 2.0 * d.genotypes - 1, d.phenotypes[:, 0]
    vc = ELMDecomposer(NeuralGPRegressor(module__hidden_sizes=(8,), max_epochs=10,
                                         random_state=0),
                       epistasis="screened", components="network").fit(Z, y).variance_components_
    assert all(np.isfinite(value) for value in vc.values())
    assert vc.additive + vc.epistatic + vc.higher == pytest.approx(vc.genetic, rel=1e-12)
    assert vc.epistatic > 0.1  # the trait's pairs, which the network holds
