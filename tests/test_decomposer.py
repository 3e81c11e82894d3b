"""Tests of ELMDecomposer: science on planted networks, shapes, errors, sklearn contracts."""

import itertools
import pickle

import numpy as np
import pytest
import torch
from _planted import planted_net
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.linear_model import Ridge
from sklearn.model_selection import GridSearchCV, cross_validate
from sklearn.pipeline import Pipeline, make_pipeline
from skorch import NeuralNetRegressor
from torch import nn

from sklearn_elm import GenotypeEncoder, NeuralGPRegressor, equivalent_linear_map
from sklearn_elm._decomposer import ELMDecomposer
from sklearn_elm._decomposer_steps import default_estimator

TINY = dict(module__hidden_sizes=(16,), max_epochs=5, random_state=0)
# enough steps to learn the tiny_data targets: test R^2 well above chance (0)
LEARNS = dict(module__hidden_sizes=(16,), max_epochs=5, batch_size=16, lr=0.02, random_state=0)


def factorial_genotypes(p, repeat=1):
    """Every 0/1 genotype combination: balanced, uncorrelated loci."""
    return np.repeat(np.array(list(itertools.product([0, 1], repeat=p))), repeat, axis=0)


def planted_pipeline(c=0.8, a2=-0.5, intercept=2.0, scale=1.5):
    """A fitted encoder + regressor whose module computes c |z0 + z1| + a2 z2.

    On -1/+1 inputs that is c + c z0 z1 + a2 z2; the regressor multiplies by
    ``scale`` and adds ``intercept``, so the genetic value has additive effect
    scale * a2 on locus 2 and epistasis scale * c on the pair (0, 1).
    """
    G = factorial_genotypes(5)
    reg = NeuralGPRegressor(**TINY)
    pipe = make_pipeline(GenotypeEncoder(), reg).fit(G, G[:, 0].astype(float))
    reg.module_ = planted_net(c, a2)
    reg.intercept_ = np.array([intercept])
    reg.target_scale_ = np.array([scale])
    return pipe


@pytest.fixture(scope="module")
def tiny_data():
    rng = np.random.default_rng(0)
    G = rng.integers(0, 2, size=(300, 6))
    Z = 2.0 * G - 1
    Y = np.column_stack([Z[:, 0] + 0.5 * Z[:, 1] * Z[:, 2], Z[:, 3] - Z[:, 4]])
    return G, Y


@pytest.mark.parametrize("epistasis", ["projection", "regression", "contrast"])
def test_planted_pair_recovered_exactly(epistasis):
    """A network computing c + c z0 z1 + a2 z2: every estimator recovers it exactly."""
    c, a2, scale = 0.8, -0.5, 1.5
    pipe = planted_pipeline(c, a2, scale=scale)
    G = factorial_genotypes(5, repeat=2)
    y = pipe.predict(G) + np.tile([0.1, -0.1], len(G) // 2)  # V_P = V_G + 0.01
    dec = ELMDecomposer(
        pipe, prefit=True, batch_size=7, epistasis=epistasis, components="network"
    ).fit(G, y)
    np.testing.assert_allclose(dec.additive_effects_, [0, 0, scale * a2, 0, 0], atol=1e-6)
    E = np.zeros((5, 5))
    E[0, 1] = E[1, 0] = scale * c
    np.testing.assert_allclose(dec.epistasis_matrix_, E, atol=1e-6)
    vc = dec.variance_components_
    assert vc.additive == pytest.approx((scale * a2) ** 2, abs=1e-6)
    assert vc.epistatic == pytest.approx((scale * c) ** 2, abs=1e-6)
    assert vc.genetic == pytest.approx((scale * a2) ** 2 + (scale * c) ** 2, abs=1e-6)
    assert vc.higher == pytest.approx(0, abs=1e-6)
    assert vc.residual == pytest.approx(0.01, abs=1e-6)
    assert dec.intercept_ == 2.0
    assert dec.elm_residual_ < 1e-5


@pytest.mark.parametrize("epistasis", ["projection", "regression", "contrast"])
@pytest.mark.parametrize("components", ["network", "debiased"])
def test_planted_pair_at_unequal_allele_frequencies(epistasis, components):
    """Allele frequency 0.2 on the interacting loci, so z = 2g - 1 has mean -0.6: the
    additive effects are the average effects (locus 0 gets e * mean(z_1) from the pair),
    the pairwise part is that of centred genotypes, and the components add up to V_G."""
    c, a2, scale = 0.8, -0.5, 1.5
    pipe = planted_pipeline(c, a2, scale=scale)
    G = factorial_genotypes(5)
    # exact independent frequencies: rows with allele 0 at locus 0 or 1 count 4 times each
    weights = np.where(G[:, 0] == 0, 4, 1) * np.where(G[:, 1] == 0, 4, 1)
    G = np.repeat(G, weights, axis=0)
    y = pipe.predict(G)
    dec = ELMDecomposer(
        pipe, prefit=True, epistasis=epistasis, components=components
    ).fit(G, y)
    e, zbar, var = scale * c, -0.6, 0.64
    np.testing.assert_allclose(
        dec.additive_effects_, [e * zbar, e * zbar, scale * a2, 0, 0], atol=1e-6
    )
    assert dec.epistasis_matrix_[0, 1] == pytest.approx(e, abs=1e-6)
    vc = dec.variance_components_
    v_a = 2 * (e * zbar) ** 2 * var + (scale * a2) ** 2
    v_aa = e**2 * var**2
    assert vc.genetic == pytest.approx(np.var(y), rel=1e-6)
    assert vc.genetic == pytest.approx(v_a + v_aa, rel=1e-6)
    assert vc.additive == pytest.approx(v_a, abs=1e-6)
    assert vc.epistatic == pytest.approx(v_aa, abs=1e-6)
    assert vc.higher == pytest.approx(0, abs=1e-6)


@pytest.mark.parametrize("settings", [{}, {"epistasis": "screened", "components": "screened"},
                                      {"epistasis": "regression", "components": "network"}])
def test_imputed_haploid_calls_make_no_self_terms(tiny_data, settings):
    """Haploid codes are -1/+1, so z^2 = 1: a missing call imputed between the two would
    make a third value and a 'self term' that marks the sample missing.  With one sample
    missing at four loci and an outlying trait there, no locus is paired with itself: not
    in the matrix's diagonal, the pair tests, nor the FDR list."""
    G, Y = tiny_data
    G = G.astype(float)
    G[7, :4] = np.nan
    y = Y[:, 0].copy()
    y[7] += 25.0
    pipe = make_pipeline(GenotypeEncoder(), NeuralGPRegressor(**TINY))
    dec = ELMDecomposer(pipe, **settings).fit(G, y)
    assert dec.estimator_[0].ploidy_ == 1
    assert np.all(np.diagonal(np.asarray(dec.epistasis_matrix_)) == 0)
    if dec.pair_tests_ is not None:
        assert np.all(dec.pair_tests_.pairs[:, 0] != dec.pair_tests_.pairs[:, 1])
        table = dec.significant_pairs(fdr=0.5, as_frame=False)
        assert np.all(table["i"] != table["j"])


@pytest.mark.parametrize("epistasis", ["projection", "regression"])
def test_planted_dominance_on_skewed_dosages(epistasis):
    """Diploid dosages at allele frequency 0.2 and a network computing
    a z0 + d |z0| (= a z0 + d z0^2 on -1/0/+1): the self term d sits on the diagonal,
    the additive effect is the average effect a + d Cov(z0^2, z0) / Var(z0), and the
    dominance part is the variance of z0^2 less its regression on z0, all of them
    computed here from the sample by their definitions.  At z0 = 0 both units' gates
    are shut, so the ELM coefficient there is 0, not a: the ELM-slope estimator must
    take it from the samples where z0 != 0, the only ones on which it acts."""
    a, d = 0.4, 0.9
    # independent loci in exact proportions: 16:8:1 (allele frequency 0.2) on locus 0,
    # 1:2:1 on loci 1 and 2
    G = np.array(list(itertools.product(range(3), repeat=3)))
    G = np.repeat(G, np.array([16, 8, 1])[G[:, 0]] * np.array([1, 2, 1])[G[:, 1]]
                  * np.array([1, 2, 1])[G[:, 2]], axis=0)
    reg = NeuralGPRegressor(**TINY)
    pipe = make_pipeline(GenotypeEncoder(), reg).fit(G, G[:, 0].astype(float))
    net = nn.Sequential(nn.Linear(3, 3, bias=False), nn.ReLU(), nn.Linear(3, 1, bias=False))
    with torch.no_grad():
        net[0].weight.copy_(torch.tensor([[1.0, 0, 0], [-1.0, 0, 0], [0, 0, 0]]))
        net[2].weight.copy_(torch.tensor([[a + d, d - a, 0.0]]))  # relu(z) - relu(-z) = z
    reg.module_, reg.intercept_, reg.target_scale_ = net, np.array([0.0]), np.array([1.0])
    y = pipe.predict(G)
    dec = ELMDecomposer(pipe, prefit=True, epistasis=epistasis, components="network").fit(G, y)
    z = G[:, 0] - 1.0
    np.testing.assert_allclose(y, a * z + d * z**2, atol=1e-6)
    zc = z - z.mean()
    gamma = np.mean(zc**3) / np.var(z)
    alpha = a + d * np.cov(z**2, z, bias=True)[0, 1] / np.var(z)
    assert abs(alpha - a) > 0.5  # the skew moves the average effect away from a
    np.testing.assert_allclose(dec.additive_effects_, [alpha, 0, 0], atol=1e-5)
    assert dec.epistasis_matrix_[0, 0] == pytest.approx(d, abs=1e-5)
    vc = dec.variance_components_
    assert vc.additive == pytest.approx(alpha**2 * np.var(z), rel=1e-5)
    assert vc.epistatic == pytest.approx(d**2 * np.var(zc**2 - gamma * zc), rel=1e-5)
    assert vc.genetic == pytest.approx(np.var(y), rel=1e-5)


@pytest.mark.parametrize("epistasis", ["projection", "regression"])
def test_planted_pair_on_dosages(epistasis):
    """Diploid -1/0/+1 dosages and a network computing e (|z0 + z1| - |z0 - z1|) / 2,
    which is e z0 z1 on them.  Where one locus is 0 the network's coefficient of it is
    arbitrary (here e times the partner, twice the share it has elsewhere); read there,
    the ELM slopes would come out 1.5 to 2 times e.  Exact, independent proportions:
    allele frequency 0.2 on locus 0 and 1/2 on locus 1."""
    e = 0.7
    G = np.array(list(itertools.product(range(3), repeat=2)))
    G = np.repeat(G, np.array([16, 8, 1])[G[:, 0]] * np.array([1, 2, 1])[G[:, 1]], axis=0)
    reg = NeuralGPRegressor(**TINY)
    pipe = make_pipeline(GenotypeEncoder(), reg).fit(G, G[:, 0].astype(float))
    net = nn.Sequential(nn.Linear(2, 4, bias=False), nn.ReLU(), nn.Linear(4, 1, bias=False))
    with torch.no_grad():
        net[0].weight.copy_(torch.tensor([[1.0, 1], [-1.0, -1], [1.0, -1], [-1.0, 1]]))
        net[2].weight.copy_(torch.tensor([[e / 2, e / 2, -e / 2, -e / 2]]))
    reg.module_, reg.intercept_, reg.target_scale_ = net, np.array([0.0]), np.array([1.0])
    y = pipe.predict(G)
    Z = G - 1.0
    np.testing.assert_allclose(y, e * Z[:, 0] * Z[:, 1], atol=1e-6)
    dec = ELMDecomposer(pipe, prefit=True, epistasis=epistasis, components="network").fit(G, y)
    zbar = Z.mean(axis=0)
    np.testing.assert_allclose(dec.additive_effects_, [e * zbar[1], e * zbar[0]], atol=1e-6)
    np.testing.assert_allclose(dec.epistasis_matrix_, [[0, e], [e, 0]], atol=1e-6)
    zc = Z - zbar
    assert dec.variance_components_.epistatic == pytest.approx(
        np.var(e * zc[:, 0] * zc[:, 1]), rel=1e-6)


def test_debiased_components_subtract_the_sampling_noise_of_the_terms():
    """An exact network whose residuals hold nothing genetic: the debiased components are
    the network's less the noise each squared estimate adds, sigma^2 / n per term, with
    sigma^2 = RSS / (n - 1 - m) for m = 5 loci + 10 pairs."""
    c, a2, scale = 0.8, -0.5, 1.5
    pipe = planted_pipeline(c, a2, scale=scale)
    G = factorial_genotypes(5, repeat=2)
    y = pipe.predict(G) + np.tile([0.1, -0.1], len(G) // 2)  # orthogonal to every genotype term
    dec = ELMDecomposer(pipe, prefit=True, batch_size=7).fit(G, y)
    n, m = len(G), 5 + 10
    sigma2 = n * 0.01 / (n - 1 - m)
    vc = dec.variance_components_
    assert vc.additive == pytest.approx((scale * a2) ** 2 - 5 * sigma2 / n, abs=1e-6)
    assert vc.epistatic == pytest.approx((scale * c) ** 2 - 10 * sigma2 / n, abs=1e-6)
    assert vc.genetic == pytest.approx((scale * a2) ** 2 + (scale * c) ** 2 - m * sigma2 / n,
                                       abs=1e-6)
    np.testing.assert_allclose(dec.additive_effects_, [0, 0, scale * a2, 0, 0], atol=1e-6)


@pytest.mark.parametrize("epistasis", ["projection", "regression"])
def test_debiased_components_undo_a_shrunk_network(epistasis):
    """A network that predicts half the genetic value (as one trained on a noisy trait
    shrinks): its own components are a quarter of the truth, the debiased ones recover
    it within sampling error."""
    c, a2, scale = 0.8, -0.5, 1.5
    pipe = planted_pipeline(c, a2, scale=scale)
    rng = np.random.default_rng(5)
    G = rng.integers(0, 2, size=(6000, 5))
    Z = 2.0 * G - 1
    true_a, true_e = 2 * scale * a2, 2 * scale * c  # the network's effects, doubled
    y = true_a * Z[:, 2] + true_e * Z[:, 0] * Z[:, 1] + rng.normal(scale=1.5, size=len(G))
    truth = (true_a * Z[:, 2]).var(), (true_e * Z[:, 0] * Z[:, 1]).var()
    network = ELMDecomposer(pipe, prefit=True, components="network", epistasis=epistasis)
    vc = network.fit(G, y).variance_components_
    assert vc.additive == pytest.approx(truth[0] / 4, rel=0.05)
    assert vc.epistatic == pytest.approx(truth[1] / 4, rel=0.05)
    vc = ELMDecomposer(pipe, prefit=True, epistasis=epistasis).fit(G, y).variance_components_
    # standard error of a variance estimate 2 sqrt(V sigma^2 / n) = 0.06 for V ~ 2.5
    assert vc.additive == pytest.approx(truth[0], abs=0.15)
    assert vc.epistatic == pytest.approx(truth[1], abs=0.2)
    assert vc.genetic == pytest.approx(sum(truth), abs=0.25)
    assert abs(vc.higher) < 0.05
    assert vc.residual == pytest.approx(1.5**2, abs=0.15)


def test_auto_components_leave_the_projection_under_strong_linkage():
    """Rare alleles in a chain of linkage make the loci's centred products nearly linear in
    them: the projection's split into additive and pairwise parts takes in hundreds of times
    the noise of orthogonal terms.  On an additive trait ``"auto"`` then says so and takes
    the screened fit's components (no pairwise variance, where the debiased estimate's noise
    would invent some); ``components="debiased"``, asked for, warns."""
    pipe = planted_pipeline(c=0.0, a2=-0.5, scale=1.5)  # the network: -0.75 z_2
    rng = np.random.default_rng(0)
    n = 3000
    rare = lambda: np.where(rng.random(n) < 0.15, 1, 0)  # noqa: E731
    G = np.empty((n, 5), dtype=int)
    G[:, 0] = rare()
    for i in range(1, 5):
        G[:, i] = np.where(rng.random(n) < 0.9, G[:, i - 1], rare())
    z2 = 2.0 * G[:, 2] - 1
    y = -1.5 * z2 + rng.normal(size=n)  # the network predicts half of it
    with pytest.warns(UserWarning, match="strong linkage.*components='screened'"):
        dec = ELMDecomposer(pipe, prefit=True).fit(G, y)
    vc = dec.variance_components_
    assert dec.components_ == "screened" and dec.epistasis_ == "projection"
    assert vc.epistatic == 0.0 and vc.additive == pytest.approx(2.25 * z2.var(), rel=0.1)
    assert vc.h2 <= vc.H2 + 1e-12
    with pytest.warns(UserWarning, match="strong linkage.*too little information"):
        asked = ELMDecomposer(pipe, prefit=True, components="debiased").fit(G, y)
    assert asked.components_ == "debiased"


@pytest.mark.parametrize("component_se", ["model", "jackknife"])
def test_no_pair_confirmed_leaves_v_aa_without_an_error(component_se):
    """An additive trait: the screened fit confirms no pair, so V_AA is 0 by the choice of
    terms and has no standard error to claim (NaN, not a certain 0); V_A keeps its own."""
    pipe = planted_pipeline(c=0.0, a2=-0.5)
    rng = np.random.default_rng(1)
    G = rng.integers(0, 2, size=(2000, 5))
    y = -1.5 * (2.0 * G[:, 2] - 1) + rng.normal(size=len(G))
    dec = ELMDecomposer(pipe, prefit=True, components="screened",
                        component_se=component_se).fit(G, y)
    assert dec.variance_components_.epistatic == 0.0
    assert np.isnan(dec.variance_components_se_.epistatic)
    assert np.isfinite(dec.variance_components_se_.additive)


def test_debiased_components_need_y():
    with pytest.raises(ValueError, match="components='debiased'.*needs y"):
        ELMDecomposer(planted_pipeline(), prefit=True, components="debiased").fit(
            factorial_genotypes(5)
        )


def test_auto_chooses_the_projection_and_debiasing_only_where_well_determined():
    """p (p + 3) / 2 <= n / 2: with 5 loci (20 terms) 40 samples suffice; with 39 and y the
    screened least squares fits the trait (and finds the planted pair and locus); without y
    there is nothing to fit or debias with."""
    pipe = planted_pipeline()
    G = factorial_genotypes(5, repeat=2)
    y = pipe.predict(G)
    dec = ELMDecomposer(pipe, prefit=True).fit(G[:40], y[:40])
    assert (dec.epistasis_, dec.components_) == ("projection", "debiased")
    # 39 samples drawn at random (the first 39 leave z0 z2 collinear with z2): every term
    # fits in the screened budget, so it is the projection, by a direct solve
    G39 = factorial_genotypes(5, repeat=4)[np.random.default_rng(0).permutation(128)[:39]]
    dec = ELMDecomposer(pipe, prefit=True).fit(G39, pipe.predict(G39))
    assert (dec.epistasis_, dec.components_) == ("screened", "crossfit")
    full = ELMDecomposer(pipe, prefit=True, epistasis="projection").fit(G39, pipe.predict(G39))
    np.testing.assert_allclose(dec.additive_effects_, full.additive_effects_, atol=1e-9)
    # pairs not chosen are 0 where the projection has float32 round-off of the network
    np.testing.assert_allclose(dec.epistasis_matrix_, full.epistasis_matrix_, atol=1e-7)
    assert dec.epistasis_matrix_[0, 1] == pytest.approx(1.5 * 0.8)  # the planted pair
    for key, value in full.variance_components_.items():
        assert dec.variance_components_[key] == pytest.approx(value, abs=1e-9), key
    dec = ELMDecomposer(pipe, prefit=True).fit(G39)
    assert (dec.epistasis_, dec.components_) == ("regression", "network")
    dec = ELMDecomposer(pipe, prefit=True).fit(G)
    assert (dec.epistasis_, dec.components_) == ("projection", "network")
    assert np.isnan(dec.variance_components_.h2)


@pytest.mark.parametrize("name, value", [("epistasis", "projection"), ("components", "debiased")])
def test_least_squares_with_more_terms_than_samples_is_refused(name, value):
    """15 terms (5 loci, 10 pairs) cannot be fitted to 12 samples: a clear error, not a
    minimum-norm solution read as effects."""
    pipe = planted_pipeline()
    G = factorial_genotypes(5)[[0, 3, 5, 6, 9, 10, 12, 15, 17, 18, 20, 23]]
    params = {"epistasis": "regression", "components": "network", name: value}
    message = f"{name}='{value}' fits 15 additive and pairwise terms.*12 samples"
    with pytest.raises(ValueError, match=message):
        ELMDecomposer(pipe, prefit=True, **params).fit(G, pipe.predict(G))
    dec = ELMDecomposer(pipe, prefit=True).fit(G, pipe.predict(G))
    assert (dec.epistasis_, dec.components_) == ("screened", "crossfit")


def test_transform_contributions_add_up_to_prediction():
    pipe = planted_pipeline()
    G = factorial_genotypes(5)
    dec = ELMDecomposer(pipe, prefit=True, batch_size=5, components="network").fit(G)
    contributions = dec.transform(G)
    assert contributions.shape == (32, 5)
    np.testing.assert_allclose(contributions.sum(axis=1) + dec.intercept_, pipe.predict(G))
    np.testing.assert_array_equal(dec.get_feature_names_out(), [f"x{i}" for i in range(5)])
    # without y the phenotypic quantities are unknown
    assert np.isnan(dec.variance_components_.phenotypic)
    assert np.isnan(dec.variance_components_.h2)


def test_prefit_leaves_the_estimator_alone_and_fit_clones():
    pipe = planted_pipeline()
    G = factorial_genotypes(5)
    before = pickle.dumps(pipe)
    dec = ELMDecomposer(pipe, prefit=True, components="network").fit(G)
    assert dec.estimator_ is not pipe
    assert pickle.dumps(pipe) == before
    unfitted = NeuralGPRegressor(**TINY)
    dec = ELMDecomposer(unfitted).fit(2.0 * G - 1, G[:, 0].astype(float))
    assert not hasattr(unfitted, "module_")
    assert dec.estimator_ is not unfitted


def test_purely_additive_simulation_has_no_epistasis():
    """A network trained on y = Z a recovers a and an epistasis matrix near zero."""
    rng = np.random.default_rng(1)
    G = rng.integers(0, 2, size=(1500, 6))
    a = np.array([1.0, -0.6, 0.4, 0.0, 0.3, -0.2])
    y = (2.0 * G - 1) @ a + rng.normal(scale=0.1, size=1500)
    net = NeuralGPRegressor(module__hidden_sizes=(32,), max_epochs=40, random_state=0)
    dec = ELMDecomposer(make_pipeline(GenotypeEncoder(), net)).fit(G, y)
    np.testing.assert_allclose(dec.additive_effects_, a, atol=0.05)
    assert np.abs(dec.epistasis_matrix_).max() < 0.05
    vc = dec.variance_components_
    assert abs(vc.epistatic) < 0.02
    assert vc.additive == pytest.approx(vc.genetic, rel=0.05)


def test_planted_pair_is_found_by_a_trained_network():
    rng = np.random.default_rng(2)
    G = rng.integers(0, 2, size=(2000, 6))
    Z = 2.0 * G - 1
    y = 0.5 * Z[:, 0] + 0.8 * Z[:, 2] * Z[:, 4] + rng.normal(scale=0.1, size=2000)
    # with 6 loci and little noise the network should fit the truth
    net = NeuralGPRegressor(module__hidden_sizes=(64,), max_epochs=100, random_state=0)
    dec = ELMDecomposer(make_pipeline(GenotypeEncoder(), net)).fit(G, y)
    E = np.abs(np.triu(dec.epistasis_matrix_, 1))
    assert np.unravel_index(E.argmax(), E.shape) == (2, 4)
    assert dec.epistasis_matrix_[2, 4] == pytest.approx(0.8, abs=0.08)
    assert np.sort(E.ravel())[-2] < 0.1
    # the components add up with no room for higher-order variance, and match the truth
    vc = dec.variance_components_
    g = 0.5 * Z[:, 0] + 0.8 * Z[:, 2] * Z[:, 4]
    assert vc.genetic == pytest.approx(g.var(), abs=0.03)
    # what remains is the sample covariance of the two parts, not missing structure
    assert abs(vc.higher) < 0.05
    assert vc.additive == pytest.approx(0.25 * np.var(Z[:, 0]), abs=0.03)
    assert vc.epistatic == pytest.approx(0.64 * np.var(Z[:, 2] * Z[:, 4]), abs=0.05)
    assert vc.residual == pytest.approx(0.01, abs=0.03)


def test_prefit_without_estimator_and_nan_input():
    with pytest.raises(ValueError, match="prefit=True needs a fitted estimator"):
        ELMDecomposer(prefit=True).fit(np.zeros((10, 3)), np.zeros(10))
    net = torch.nn.Sequential(torch.nn.Linear(3, 2, bias=False))
    with pytest.raises(ValueError, match="NaN"):
        equivalent_linear_map(net, np.full((2, 3), np.nan))


def test_shapes_single_and_multi_output(tiny_data):
    G, Y = tiny_data
    Z = 2.0 * G - 1
    single = ELMDecomposer(NeuralGPRegressor(**TINY), batch_size=64).fit(Z, Y[:, 0])
    assert single.additive_effects_.shape == (6,)
    assert single.epistasis_matrix_.shape == (6, 6)
    assert isinstance(single.variance_components_.H2, float)
    assert isinstance(single.elm_residual_, float) and isinstance(single.intercept_, float)
    assert single.transform(Z).shape == (300, 6)
    assert single.predict(Z).shape == (300,)

    multi = ELMDecomposer(NeuralGPRegressor(**TINY), batch_size=64).fit(Z, Y)
    assert multi.additive_effects_.shape == (2, 6)
    E = multi.epistasis_matrix_
    assert E.shape == (2, 6, 6)
    np.testing.assert_array_equal(E, E.transpose(0, 2, 1))
    for value in multi.variance_components_.values():
        assert value.shape == (2,)
    assert multi.elm_residual_.shape == (2,) and multi.intercept_.shape == (2,)
    contributions = multi.transform(Z)
    assert contributions.shape == (300, 12)
    names = multi.get_feature_names_out()
    assert len(names) == 12 and names[0] == "y0_x0" and names[-1] == "y1_x5"
    np.testing.assert_allclose(
        contributions.reshape(300, 2, 6).sum(-1) + multi.intercept_, multi.predict(Z), atol=1e-4
    )
    # 2-D y with one column keeps the output axis
    column = ELMDecomposer(NeuralGPRegressor(**TINY)).fit(Z, Y[:, :1])
    assert column.additive_effects_.shape == (1, 6)


def test_clear_errors(tiny_data):
    G, Y = tiny_data
    Z = 2.0 * G - 1
    with pytest.raises(NotFittedError, match="prefit=True needs a fitted estimator"):
        ELMDecomposer(NeuralGPRegressor(**TINY), prefit=True).fit(Z, Y[:, 0])
    with pytest.raises(ValueError, match="requires y to be passed"):
        ELMDecomposer(NeuralGPRegressor(**TINY)).fit(Z)
    biased = NeuralNetRegressor(
        nn.Sequential(nn.Linear(6, 4), nn.ReLU(), nn.Linear(4, 1, bias=False)),
        max_epochs=1,
        train_split=None,
    )
    with pytest.raises(ValueError, match=r"Layer '0'.*has a bias"):
        ELMDecomposer(biased).fit(Z.astype(np.float32), Y[:, :1].astype(np.float32))
    with pytest.raises(TypeError, match="no torch module"):
        ELMDecomposer(Ridge()).fit(Z, Y[:, 0])
    dec = ELMDecomposer(NeuralGPRegressor(**TINY)).fit(Z, Y[:, 0])
    for method in (dec.transform, dec.predict):
        with pytest.raises(ValueError, match="X has 5 features"):
            method(Z[:, :5])
    with pytest.raises(ValueError, match="coded -1/\\+1"):
        ELMDecomposer(NeuralGPRegressor(**TINY), epistasis="contrast").fit(0.5 * Z, Y[:, 0])
    with pytest.raises(ValueError, match="epistasis"):
        ELMDecomposer(epistasis="mean").fit(Z, Y[:, 0])
    with pytest.raises(ValueError, match="y has 2 outputs"):
        ELMDecomposer(dec.estimator_, prefit=True).fit(Z, Y)


def test_prefit_refuses_a_network_whose_fit_diverged(tiny_data):
    """A regressor whose last fit diverged is not fitted, even though its (NaN) module is
    still there: prefit=True says so rather than failing later on the network."""
    G, Y = tiny_data
    Z = 2.0 * G - 1
    reg = NeuralGPRegressor(**{**TINY, "lr": 1e30})
    with pytest.raises(ValueError, match="Training diverged"):
        reg.fit(Z, Y[:, 0])
    for estimator, X in ((reg, Z), (make_pipeline(GenotypeEncoder().fit(G), reg), G)):
        with pytest.raises(NotFittedError, match="prefit=True needs a fitted estimator"):
            ELMDecomposer(estimator, prefit=True).fit(X, Y[:, 0])


def test_default_estimator_encodes_genotypes():
    default = default_estimator()
    assert isinstance(default, Pipeline)
    assert isinstance(default[0], GenotypeEncoder)
    assert isinstance(default[-1], NeuralGPRegressor)
    assert ELMDecomposer().get_params()["estimator"] is None


def test_sklearn_contracts(tiny_data):
    """clone, pickle, cross_validate and GridSearchCV over the network's parameters; the
    held-out R^2 (0 for chance) shows the decomposer scores a network that learnt the
    target, y = z0 + z1 z2 / 2, not just any number."""
    G, Y = tiny_data
    Z = 2.0 * G - 1
    dec = ELMDecomposer(NeuralGPRegressor(**LEARNS), batch_size=100)
    assert clone(dec).get_params()["batch_size"] == 100
    fitted = dec.fit(Z, Y[:, 0])
    restored = pickle.loads(pickle.dumps(fitted))
    np.testing.assert_allclose(restored.transform(Z[:5]), fitted.transform(Z[:5]))
    assert fitted.score(Z, Y[:, 0]) == pytest.approx(fitted.estimator_.score(Z, Y[:, 0]))

    scores = cross_validate(dec, Z, Y[:, 0], cv=2)
    assert scores["test_score"].shape == (2,)
    assert scores["test_score"].min() > 0.8
    search = GridSearchCV(dec, {"estimator__module__hidden_sizes": [(4,), (8,)]}, cv=2)
    search.fit(Z, Y[:, 0])
    assert search.best_score_ > 0.8
    # the parameter reached the refitted network through the meta-estimator
    best = search.best_params_["estimator__module__hidden_sizes"]
    assert search.best_estimator_.estimator_.module_.layers[0].out_features == best[0]
    assert search.best_estimator_.additive_effects_.shape == (6,)


@pytest.mark.parametrize("epistasis", ["projection", "regression"])
def test_epistatic_variance_is_the_sample_variance_of_the_pairwise_part(tiny_data, epistasis):
    """V_AA is the noise-corrected variance over the samples of sum_{i<j} E_ij zc_i zc_j
    (zc: genotypes centred on the sample), whichever estimator gave E and whether or not
    the samples were kept between passes."""
    G, Y = tiny_data
    net = make_pipeline(GenotypeEncoder(), NeuralGPRegressor(**TINY)).fit(G, Y)
    dec = ELMDecomposer(
        net, prefit=True, epistasis=epistasis, batch_size=64, components="network"
    ).fit(G, Y)
    Z = net[0].transform(G)
    Z = Z - Z.mean(axis=0)
    iu = np.triu_indices(Z.shape[1], 1)
    products = Z[:, iu[0]] * Z[:, iu[1]]
    pairwise = products @ dec.epistasis_matrix_[:, iu[0], iu[1]].T
    correction = dec.epistasis_variance_[:, iu[0], iu[1]] @ products.var(axis=0)
    np.testing.assert_allclose(dec.variance_components_.epistatic,
                               pairwise.var(axis=0) - correction, rtol=1e-6, atol=1e-12)


def test_an_inexact_map_is_an_error_not_a_silent_number():
    """The exactness check passes float round-off and names the output that fails."""
    from sklearn_elm._streaming import check_exact

    check_exact(np.array([1e-7, 0.0]), np.array([1.0, 0.0]))  # float round-off passes
    with pytest.raises(ValueError, match="not exact for this network.*output 1"):
        check_exact(np.array([1e-7, 0.4]), np.array([1.0, 2.0]))


def test_fit_refuses_a_map_that_is_not_exact(monkeypatch):
    """fit itself checks f(x) = J(x) z: with the map of input 0 perturbed by 10 % (as a
    layer the map does not support would leave it), fit raises instead of decomposing."""
    from sklearn_elm import _streaming

    exact = _streaming.elm_batches

    def perturbed(*args, **kwargs):
        for z, f, J in exact(*args, **kwargs):
            J = J.clone()
            J[:, :, 0] *= 1.1
            yield z, f, J

    pipe = planted_pipeline()
    G = factorial_genotypes(5)
    y = pipe.predict(G)
    ELMDecomposer(pipe, prefit=True, components="network").fit(G, y)  # exact: fine
    monkeypatch.setattr(_streaming, "elm_batches", perturbed)
    with pytest.raises(ValueError, match="not exact for this network.*output 0"):
        ELMDecomposer(pipe, prefit=True, components="network").fit(G, y)


def test_constant_y_is_refused(tiny_data):
    """A trait that does not vary (here the second output) has no variance to decompose:
    a clear error before any training, as GBLUPRegressor gives, also for a prefit network
    (V_P = 0 would make h2 infinite)."""
    G, Y = tiny_data
    Y = Y.copy()
    Y[:, 1] = 3.0
    with pytest.raises(ValueError, match=r"y is constant \(output 1\)"):
        ELMDecomposer(NeuralGPRegressor(**TINY)).fit(2.0 * G - 1, Y)
    pipe = planted_pipeline()
    G = factorial_genotypes(5)
    with pytest.raises(ValueError, match=r"y is constant \(output 0\)"):
        ELMDecomposer(pipe, prefit=True).fit(G, np.full(len(G), 2.5))


def test_the_scale_of_y_is_a_unit_until_its_errors_would_underflow(tiny_data):
    """A trait of small scale varies (not refused as constant) and gives the components of
    the same trait in other units; below the smallest variance the estimators take (where
    the standard errors underflow float64) a clear error names the fix."""
    G, Y = tiny_data
    X, y = 2.0 * G - 1, Y[:, 0] + np.random.default_rng(1).normal(size=len(Y))
    unit = ELMDecomposer(NeuralGPRegressor(**TINY)).fit(X, y)
    small = ELMDecomposer(NeuralGPRegressor(**TINY)).fit(X, y * 1e-15)
    np.testing.assert_allclose(small.variance_components_.h2, unit.variance_components_.h2,
                               rtol=1e-5)
    np.testing.assert_allclose(small.variance_components_se_.h2,
                               unit.variance_components_se_.h2, rtol=1e-5)
    with pytest.raises(ValueError, match="y is too small: the variance of output 0 .* Rescale"):
        ELMDecomposer(NeuralGPRegressor(**TINY)).fit(X, y * 1e-40)


@pytest.mark.parametrize("loci, options", [
    (6, {}), (6, {"epistasis": "regression", "components": "network"}),
    (30, {}),  # past the projection's bound: the screened fit, cross-fitted
    (30, {"epistasis": "screened", "components": "screened"})])
def test_every_locus_constant_is_refused(loci, options):
    """Genotypes that do not vary at any locus leave nothing to decompose: a clear error,
    as GBLUPRegressor gives, whatever the estimators (not an internal one mid-fit, nor
    components of 0 read as a trait without genetic variance)."""
    G = np.ones((200, loci), dtype=int)
    y = np.random.default_rng(0).normal(size=200)
    with pytest.raises(ValueError, match="every input is constant over the 200 samples"):
        ELMDecomposer(make_pipeline(GenotypeEncoder(), NeuralGPRegressor(**TINY)),
                      **options).fit(G, y)


def test_trait_names_of_a_dataframe_y_label_the_results(tiny_data):
    """A DataFrame y's column names (or a named Series') become target_names_, name the
    outputs in get_feature_names_out and the FDR table's trait column; a y without names
    leaves none, also after a named fit."""
    pd = pytest.importorskip("pandas")
    G, Y = tiny_data
    X = 2.0 * G - 1
    dec = ELMDecomposer(NeuralGPRegressor(**TINY)).fit(X, pd.DataFrame(Y, columns=["h", "w"]))
    assert dec.target_names_.tolist() == ["h", "w"]
    names = dec.get_feature_names_out()
    assert names[0] == "h_x0" and names[-1] == f"w_x{X.shape[1] - 1}"
    table = dec.significant_pairs(fdr=0.5, as_frame=False)
    assert list(table)[:2] == ["output", "trait"] and len(table["trait"]) > 0
    assert table["trait"].tolist() == ["hw"[k] for k in table["output"]]
    single = ELMDecomposer(NeuralGPRegressor(**TINY)).fit(X, pd.Series(Y[:, 0], name="h"))
    assert single.target_names_.tolist() == ["h"]
    assert not hasattr(dec.fit(X, Y), "target_names_")
    assert dec.get_feature_names_out()[0] == "y0_x0"
    assert "trait" not in dec.significant_pairs(fdr=0.5, as_frame=False)
    # a dask array's name is its task's, not a trait's
    da = pytest.importorskip("dask.array")
    assert not hasattr(dec.fit(X, da.from_array(Y[:, 0])), "target_names_")


def test_the_slopes_are_computed_once_per_fit(monkeypatch):
    """The regression path inverts the p x p input covariance once per fit: the average
    effects and the epistasis matrix read the same slopes."""
    from sklearn_elm._decomposition import _slopes

    calls = []

    def counting(name):
        function = getattr(_slopes, name)

        def counted(*args, **kwargs):
            calls.append(name)
            return function(*args, **kwargs)

        monkeypatch.setattr(_slopes, name, counted)

    counting("psd_inverse")  # by Cholesky where C is well conditioned
    counting("psd_pinv")  # else
    pipe = planted_pipeline()
    G = factorial_genotypes(5)
    ELMDecomposer(pipe, prefit=True, epistasis="regression", components="network").fit(
        G, pipe.predict(G)
    )
    assert calls in (["psd_inverse"], ["psd_inverse", "psd_pinv"])


def test_missing_genotypes_reach_the_pipeline_that_imputes_them(tiny_data):
    """A pipeline whose first step imputes NaN (GenotypeEncoder) gets the NaN and learns
    the targets (held-out R^2 well above chance); a bare network does not take NaN."""
    G, Y = tiny_data
    G = G.astype(float)
    G[3, 1] = np.nan
    G[250, 2] = np.nan
    pipe = make_pipeline(GenotypeEncoder(), NeuralGPRegressor(**LEARNS))
    dec = ELMDecomposer(pipe).fit(G[:200], Y[:200])
    assert np.isfinite(dec.transform(G)).all() and np.isfinite(dec.predict(G)).all()
    assert dec.score(G[200:], Y[200:]) > 0.8
    with pytest.raises(ValueError, match="NaN"):
        ELMDecomposer(NeuralGPRegressor(**TINY)).fit(G, Y)


def test_dataframe_reaches_the_inner_estimator(tiny_data):
    """Column names go through to the pipeline, e.g. to select columns by name: the
    five loci the targets depend on, so the pipeline learns them (held-out R^2 well
    above chance)."""
    pd = pytest.importorskip("pandas")
    from sklearn.compose import ColumnTransformer

    G, Y = tiny_data
    df = pd.DataFrame(G, columns=[f"snp{i}" for i in range(G.shape[1])])
    select = ColumnTransformer([("enc", GenotypeEncoder(), [f"snp{i}" for i in range(5)])])
    dec = ELMDecomposer(make_pipeline(select, NeuralGPRegressor(**LEARNS)), batch_size=64)
    dec.fit(df[:200], Y[:200])
    assert dec.additive_effects_.shape == (2, 5)
    assert list(dec.feature_names_in_) == list(df.columns)
    assert dec.transform(df).shape == (len(df), 2 * 5)
    np.testing.assert_allclose(dec.predict(df), dec.estimator_.predict(df))
    assert dec.score(df[200:], Y[200:]) > 0.8


@pytest.mark.parametrize("fit_named", [True, False])
def test_a_feature_name_mismatch_warns_once(tiny_data, fit_named):
    """Fitted on a DataFrame and used on an array (or the other way round), predict,
    transform and score each warn once, in the decomposer's name, not again for each step
    of its pipeline; where the names agree nothing warns."""
    import warnings

    pd = pytest.importorskip("pandas")
    G, Y = tiny_data
    df = pd.DataFrame(G, columns=[f"snp{i}" for i in range(G.shape[1])])
    dec = ELMDecomposer(make_pipeline(GenotypeEncoder(), NeuralGPRegressor(**TINY)))
    dec.fit(df if fit_named else G, Y)
    for X, expected in ((G if fit_named else df, 1), (df if fit_named else G, 0)):
        for call in (dec.predict, dec.transform, lambda X: dec.score(X, Y)):
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                call(X)
            names = [str(w.message) for w in caught if "feature names" in str(w.message)]
            assert len(names) == expected, names
            assert all("ELMDecomposer" in name for name in names)


def test_the_regression_path_holds_few_p_by_p_arrays():
    """The sums, the design and the slopes are updated in place: at the peak the regression
    path holds about 7 arrays of p x p float64 beside the batches and the validated X
    (15 when each step made its own)."""
    import tracemalloc
    import warnings

    from sklearn.pipeline import make_pipeline

    from sklearn_elm import GenotypeEncoder, NeuralGPRegressor

    rng = np.random.default_rng(0)
    n, p = 1200, 1000
    G = rng.binomial(2, 0.3, size=(n, p)).astype(float)
    y = G[:, 0] - G[:, 1] + rng.standard_normal(n)
    pipe = make_pipeline(GenotypeEncoder(ploidy=2), NeuralGPRegressor(
        module__hidden_sizes=(8,), max_epochs=1, random_state=0)).fit(G, y)
    dec = ELMDecomposer(pipe, prefit=True, epistasis="regression", components="network",
                        batch_size=100)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        tracemalloc.start()
        try:
            start = tracemalloc.get_traced_memory()[0]
            dec.fit(G, y)
            peak = tracemalloc.get_traced_memory()[1] - start
        finally:
            tracemalloc.stop()
    assert (peak - G.nbytes) / (8 * p * p) < 7.5


@pytest.mark.parametrize("epistasis", ["regression", "projection"])
def test_pairs_dtype_float32_rounds_the_pair_outputs(epistasis):
    pipe = planted_pipeline()
    G = factorial_genotypes(5)
    y = pipe.predict(G)
    settings = dict(prefit=True, epistasis=epistasis, components="network")
    wide = ELMDecomposer(pipe, **settings).fit(G, y)
    narrow = ELMDecomposer(pipe, pairs_dtype="float32", **settings).fit(G, y)
    for name in ("epistasis_matrix_", "epistasis_variance_"):
        assert getattr(wide, name).dtype == np.float64
        assert getattr(narrow, name).dtype == np.float32
        np.testing.assert_array_equal(getattr(narrow, name),
                                      getattr(wide, name).astype(np.float32))
    np.testing.assert_array_equal(narrow.additive_effects_, wide.additive_effects_)
    with pytest.raises(ValueError, match="pairs_dtype"):
        ELMDecomposer(pipe, pairs_dtype="float16", **settings).fit(G, y)
