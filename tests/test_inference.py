"""Standard errors, p-values and FDR pair lists of the trait's screened fit.

Calibration is checked over simulated data sets, with linkage between neighbouring loci
where it matters (phantom epistasis); the full benchmark is ``benchmarks/calibration.py``.
The network is stood in for by ``y``'s least-squares fit on the loci, which, like a network
trained on ``y``, fits some of its noise.
"""

from copy import deepcopy

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from sklearn_elm import ELMDecomposer, NeuralGPRegressor
from sklearn_elm._decomposition._inference import bh_qvalues, significant_pairs_table
from sklearn_elm._decomposition._screening import screened_fit
from sklearn_elm._decomposition._selection import _forward
from sklearn_elm.metrics import true_variance_components


def _linked(n, p, rho, rng):
    """Diploid 0/1/2 genotypes whose neighbouring loci are correlated (about 0.6 at
    rho = 0.8): two haplotypes of thresholded AR(1) Gaussians."""
    def haplotype():
        x = np.empty((n, p))
        x[:, 0] = rng.normal(size=n)
        for j in range(1, p):
            x[:, j] = rho * x[:, j - 1] + np.sqrt(1 - rho**2) * rng.normal(size=n)
        return (x > 0).astype(float)

    return haplotype() + haplotype()


def _fit(Z, y):
    """The screened fit of ``y`` with a stand-in network: ``y``'s fit on the loci."""
    Zc = Z - Z.mean(0)
    yc = y - y.mean()
    f = Zc @ np.linalg.lstsq(Zc, yc, rcond=None)[0]
    return screened_fit(Z, f[:, None], (yc - f)[:, None], np.array([y.var()]), n_pairs=20)


def test_pair_pvalues_are_uniform_without_epistasis_under_linkage():
    """A purely additive trait on linked loci: the p-value of a pair of a QTL with a linked
    neighbour (a phantom pair), and that of a pair drawn at random in each data set, are
    uniform over data sets, and the FDR-5 % list is rarely non-empty.  Fails for p-values
    from tests that do not condition on the loci, or use too small a noise variance."""
    phantom, drawn, listed = [], [], 0
    for seed in range(60):
        rng = np.random.default_rng(seed)
        Z = _linked(600, 12, 0.8, rng)
        y = Z[:, 3] - 0.7 * Z[:, 8] + rng.normal(size=600)
        fit = _fit(Z, y)
        tests = fit.pair_tests[0]
        assert tests.p_value.size == tests.n_tests  # every pair is kept at this size
        where = np.flatnonzero((tests.pairs[:, 0] == 3) & (tests.pairs[:, 1] == 4))
        phantom.append(tests.p_value[where[0]])
        drawn.append(tests.p_value[rng.integers(tests.n_tests)])
        listed += bool(significant_pairs_table(fit.pair_tests, 0.05, np.arange(12),
                                               as_frame=False)["i"].size)
    assert stats.kstest(phantom, "uniform").pvalue > 0.01
    assert stats.kstest(drawn, "uniform").pvalue > 0.01
    assert listed <= 9  # at most 15 % of data sets, where 5 % is expected


def test_fdr_list_finds_true_pairs_and_keeps_false_discoveries_rare():
    """Two pairs among 20 linked loci: the FDR-5 % list finds both in nearly every data
    set, and its realised false discovery proportion averages at most about 5 %."""
    found, fdp = [], []
    for seed in range(15):
        rng = np.random.default_rng(100 + seed)
        Z = _linked(1500, 20, 0.8, rng)
        Zc = Z - Z.mean(0)
        y = (Zc[:, 2] + 0.4 * Zc[:, 5] * Zc[:, 12] + 0.4 * Zc[:, 8] * Zc[:, 16]
             + rng.normal(size=1500))
        table = significant_pairs_table(_fit(Z, y).pair_tests, 0.05, np.arange(20),
                                        as_frame=False)
        listed = set(zip(table["i"].tolist(), table["j"].tolist(), strict=True))
        true = {(5, 12), (8, 16)}
        found.append(len(listed & true) / 2)
        fdp.append(len(listed - true) / max(len(listed), 1))
    assert np.mean(found) >= 0.9
    assert np.mean(fdp) <= 0.1


def test_component_standard_errors_match_the_spread_of_the_estimates():
    """Over data sets, the reported standard errors of V_A and V_AA are within 25 % of
    the spread of the estimates about each sample's own components, and the 95 % intervals
    cover them in 85-100 % of data sets."""
    errors = {"additive": [], "epistatic": []}
    se = {"additive": [], "epistatic": []}
    for seed in range(60):
        rng = np.random.default_rng(200 + seed)
        Z = rng.choice([0.0, 1.0, 2.0], p=[0.25, 0.5, 0.25], size=(800, 10))
        a = np.zeros(10)
        a[[0, 4]] = 0.5, -0.4
        E = np.zeros((10, 10))
        E[1, 7] = E[7, 1] = 0.5
        g = Z @ a + Z[:, 1] * Z[:, 7] * 0.5
        y = g + rng.normal(size=800)
        truth = true_variance_components(Z, a, E, phenotypes=y)
        fit = _fit(Z, y)
        for key in errors:
            errors[key].append(fit.components[key][0] - truth[key])
            se[key].append(fit.components_se[key][0])
    for key in errors:
        spread, reported = np.std(errors[key]), np.mean(se[key])
        assert abs(reported / spread - 1) < 0.25, (key, reported, spread)
        covered = np.mean(np.abs(errors[key]) <= 1.96 * np.asarray(se[key]))
        assert covered >= 0.85, (key, covered)


def test_additive_pvalues_find_the_qtl_and_are_uniform_elsewhere():
    """Loci without effect have uniform p-values over data sets; the QTL's are small (its
    t statistic, conditional on two linked neighbours, is about 5)."""
    null, qtl = [], []
    for seed in range(40):
        rng = np.random.default_rng(300 + seed)
        Z = _linked(500, 8, 0.8, rng)
        y = 0.5 * Z[:, 2] + rng.normal(size=500)
        fit = _fit(Z, y)
        null.append(fit.additive_p[0, 6])
        qtl.append(fit.additive_p[0, 2])
    assert stats.kstest(null, "uniform").pvalue > 0.01
    assert np.max(qtl) < 0.01 and np.median(qtl) < 1e-4


def test_bh_qvalues_agree_with_scipy_and_bound_from_above_when_truncated():
    """q-values of all p-values equal scipy's Benjamini-Hochberg adjustment; given only the
    smallest, they equal it where at most the largest p-value given, and bound it above."""
    rng = np.random.default_rng(0)
    p = np.concatenate([rng.uniform(size=900), rng.uniform(0, 1e-3, size=100)])
    exact = stats.false_discovery_control(p, method="bh")
    np.testing.assert_allclose(bh_qvalues(p, p.size), exact)
    smallest = np.sort(p)[:150]
    q = bh_qvalues(smallest, p.size)
    reference = np.sort(exact)[:150]
    inside = q <= smallest.max()
    np.testing.assert_allclose(q[inside], reference[inside])
    assert np.all(q >= reference - 1e-12)
    with pytest.raises(ValueError, match="n_tests"):
        bh_qvalues(p, 10)


@pytest.fixture(scope="module")
def epistatic_fit():
    rng = np.random.default_rng(0)
    Z = rng.choice([-1.0, 1.0], size=(2000, 6))
    y = Z[:, 0] + 0.5 * Z[:, 1] * Z[:, 2] + rng.normal(size=2000)
    net = NeuralGPRegressor(module__hidden_sizes=(32,), max_epochs=30, random_state=0)
    return ELMDecomposer(net).fit(Z, y), Z, y


def test_decomposer_reports_errors_tests_and_the_pair_table(epistatic_fit):
    """The fitted decomposer's errors are finite and positive where estimated, the QTL's
    p-value is tiny, the one-locus-at-a-time p-values are those of scipy's linear
    regression, and the table names the pair with the input names."""
    pd = pytest.importorskip("pandas")
    dec, Z, y = epistatic_fit
    marginal = [stats.linregress(Z[:, i], y).pvalue for i in range(Z.shape[1])]
    np.testing.assert_allclose(np.log(dec.marginal_pvalues_), np.log(marginal), rtol=1e-5)
    se = dec.variance_components_se_
    for key in ("additive", "epistatic", "genetic", "h2", "H2"):
        assert np.isfinite(se[key]) and se[key] > 0
    assert dec.additive_pvalues_[0] < 1e-10 and dec.additive_se_.shape == (6,)
    table = dec.significant_pairs(0.05)
    assert isinstance(table, pd.DataFrame)
    assert list(table.columns) == ["output", "i", "j", "locus_i", "locus_j", "estimate",
                                   "std_error", "p_value", "q_value", "p_joint"]
    assert table[["i", "j"]].values.tolist()[0] == [1, 2]
    assert table["locus_i"].iloc[0] == "x1"  # the inputs' names
    assert abs(table["estimate"].iloc[0] - 0.5) < 4 * table["std_error"].iloc[0]


def test_additive_estimates_are_ys_least_squares_whatever_the_network(epistatic_fit):
    """additive_estimates_ are y's coefficients on every locus and the confirmed pair (an
    independent least squares; average effects, so the pair's product is of centred loci),
    with the errors and p-values that test them; the same network shrunk to a third (as a
    network fitted to a noisier trait shrinks its effects) has the same."""
    dec, Z, y = epistatic_fit
    Zc = Z - Z.mean(0)
    product = Zc[:, 1] * Zc[:, 2]
    X = np.column_stack([Zc, product - product.mean()])
    coef = np.linalg.lstsq(X, y - y.mean(), rcond=None)[0]
    close = dict(atol=0.05 * dec.additive_se_.min())
    np.testing.assert_allclose(dec.additive_estimates_, coef[:6], **close)
    df = len(y) - X.shape[1] - 1
    t = dec.additive_estimates_ / dec.additive_se_
    np.testing.assert_allclose(dec.additive_pvalues_, 2 * stats.t.sf(np.abs(t), df), rtol=1e-3)
    shrunk = deepcopy(dec.estimator_)
    shrunk.target_scale_ = shrunk.target_scale_ / 3  # predict = intercept + scale * module
    third = ELMDecomposer(shrunk, prefit=True).fit(Z, y)
    np.testing.assert_allclose(third.additive_effects_, dec.additive_effects_ / 3, atol=1e-6)
    np.testing.assert_allclose(third.additive_estimates_, dec.additive_estimates_, **close)
    assert abs(third.additive_estimates_[0] - 1.0) < 4 * third.additive_se_[0]


def test_a_locus_left_out_of_the_fit_gets_its_slope_and_score_test():
    """Past the fit's loci, a QTL the network missed (left out of the fit, which takes the
    loci that explain most of f) gets the slope of the fit's residual on it, near its true
    effect, and every locus's p-value is that of estimate / std_error."""
    rng = np.random.default_rng(1)
    n, p = 2000, 40
    Z = rng.choice([-1.0, 1.0], size=(n, p))
    y = Z[:, 0] + 0.5 * Z[:, 1] + rng.normal(size=n)
    F = (Z[:, :1] - Z[:, :1].mean(0)) * 1.0  # a network that missed locus 1
    R = (y - y.mean())[:, None] - F
    with pytest.warns(UserWarning, match="at most half as many terms"):
        fit = screened_fit(Z, F, R, np.array([y.var()]), n_loci=10, n_pairs=5)
    assert fit.additive[0, 1] == 0 and fit.additive[0, 0] != 0  # locus 1 left out
    estimate, se, p_value = fit.additive_estimate[0], fit.additive_se[0], fit.additive_p[0]
    assert abs(estimate[1] - 0.5) < 4 * se[1] and p_value[1] < 1e-20
    moderate = p_value > 1e-8  # Student's t on about n - 16 df is all but normal there
    np.testing.assert_allclose(stats.norm.isf(p_value[moderate] / 2),
                               np.abs(estimate / se)[moderate], rtol=5e-3)


def test_significant_pairs_refuses_bad_fdr_and_fits_without_tests(epistatic_fit):
    """A false discovery rate outside (0, 1) and a decomposition of the network's own
    components (no tests of the trait) get errors that name the problem."""
    dec, Z, y = epistatic_fit
    with pytest.raises(ValueError, match="fdr must be a number in"):
        dec.significant_pairs(1.5)
    network = ELMDecomposer(dec.estimator_, prefit=True, components="network").fit(Z, y)
    assert network.pair_tests_ is None and np.isnan(network.additive_se_).all()
    assert np.isnan(network.additive_estimates_).all()
    with pytest.raises(ValueError, match="components_='network'"):
        network.significant_pairs()


def test_component_errors_hold_near_the_term_budget():
    """With nearly as many terms as half the samples, the reported standard errors of V_A
    and V_G match their spread over noise draws on a fixed design: the estimate of the noise
    variance in the noise correction counts (without it they fall 15-25 % short)."""
    from sklearn_elm._decomposition._inference import screened_component_se
    from sklearn_elm._decomposition._lstsq import least_squares
    from sklearn_elm._decomposition._selection import _genetic, _parts

    rng = np.random.default_rng(0)
    n, s = 300, 130
    X = rng.choice([-1.0, 1.0], size=(n, s + 10))
    X[:, s:] = X[:, :10] * X[:, 10:20]
    X -= X.mean(0)
    beta = np.zeros(s + 10)
    beta[:5], beta[s:s + 2] = 0.2, 0.3
    estimates, errors = {"additive": [], "genetic": []}, {"additive": [], "genetic": []}
    for _ in range(300):
        y = X @ beta + rng.normal(size=n)
        y -= y.mean()
        fit = least_squares(X, y, y)
        parts = {**_parts(X, s, fit), "genetic": _genetic(X, fit)}
        se = screened_component_se(X, s, fit)
        for key in estimates:
            estimates[key].append(parts[key])
            errors[key].append(se[key])
    for key in estimates:
        assert abs(np.mean(errors[key]) / np.std(estimates[key]) - 1) < 0.12, key


def _conditional_t(M, C, y, chosen, j):
    """Score statistic of column ``j`` of ``C`` given ``M`` and ``C[:, chosen]``, from a fit
    from scratch: ``x_perp^T r / sqrt(sigma^2 |x_perp|^2)``, ``sigma^2`` on the model's
    residual degrees of freedom (centred columns: ``n - 1 - terms``)."""
    A = np.hstack([M, C[:, chosen]])
    hat = A @ np.linalg.pinv(A)
    r, x = y - hat @ y, C[:, j] - hat @ C[:, j]
    sigma2 = r @ r / (len(y) - 1 - A.shape[1])
    return x @ r / np.sqrt(sigma2 * (x @ x))


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), a=st.integers(0, 4), c=st.integers(1, 6),
       threshold=st.floats(0.0, 4.0))
def test_forward_selection_takes_the_best_test_given_the_model_and_the_pairs_before(
        seed, a, c, threshold):
    rng = np.random.default_rng(seed)
    n = 60
    M, C = rng.normal(size=(n, a)), rng.normal(size=(n, c))
    C[:, -1] += 2 * C[:, 0]  # correlated candidates
    y = C @ rng.normal(scale=0.4, size=c) + rng.normal(size=n)
    M, C, y = M - M.mean(0), C - C.mean(0), y - y.mean()
    G_inv = np.linalg.pinv(M.T @ M) if a else np.zeros((0, 0))
    coef = G_inv @ M.T @ y
    XC = M.T @ C
    partial = C.T @ C - XC.T @ G_inv @ XC
    r = y - M @ coef
    df = n - 1 - a
    chosen = _forward(partial, C.T @ y - XC.T @ coef, np.einsum("ij,ij->j", C, C), r @ r, df,
                      lambda k: threshold)
    expected = []
    while len(expected) < c and df - len(expected) > 1:
        t = np.array([abs(_conditional_t(M, C, y, expected, j)) if j not in expected else 0.0
                      for j in range(c)])
        best = int(np.argmax(t))
        if not t[best] > threshold:
            break
        expected.append(best)
    assert chosen.tolist() == expected


def test_a_copy_given_the_model_does_not_enter_beside_its_pair():
    """Two columns of little correlation that the model's column makes copies of (what a
    pair's product and a self term of rare alleles in linkage can be): one enters, and the
    other, of which it leaves nothing, does not split its effect."""
    rng = np.random.default_rng(0)
    n = 2000
    z, w = rng.normal(size=n), rng.normal(size=n)
    C = np.column_stack([w + z, w - z, rng.normal(size=n)])
    y = z + 0.3 * w + rng.normal(size=n)
    z, C, y = z - z.mean(), C - C.mean(0), y - y.mean()
    assert np.corrcoef(C[:, 0], C[:, 1])[0, 1] ** 2 < 0.1
    XC = z @ C
    partial = C.T @ C - np.outer(XC, XC) / (z @ z)
    r = y - z * (z @ y) / (z @ z)
    chosen = _forward(partial, C.T @ r, np.einsum("ij,ij->j", C, C), r @ r, n - 2,
                      lambda k: stats.norm.isf(0.025 / 3))
    assert chosen.size == 1 and chosen[0] in (0, 1)
