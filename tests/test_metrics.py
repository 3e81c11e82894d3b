"""Tests of the recovery metrics, on cases computable by hand."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sklearn_elm.datasets import make_epistatic_phenotypes, pairwise_values
from sklearn_elm.metrics import (
    effect_recovery,
    pair_recovery,
    true_average_effects,
    true_variance_components,
    variance_component_errors,
)


def _symmetric(p, entries):
    E = np.zeros((p, p))
    for (i, j), value in entries.items():
        E[i, j] = E[j, i] = value
    return E


def test_effect_recovery_exact_line():
    """estimate = 2 truth + 1 gives slope 2, intercept 1, r 1."""
    true = np.array([-1.0, 0.0, 1.0, 2.0])
    rec = effect_recovery(2 * true + 1, true)
    assert rec.slope == pytest.approx(2.0)
    assert rec.intercept == pytest.approx(1.0)
    assert rec.r == pytest.approx(1.0)


def test_effect_recovery_by_hand():
    """truth (0, 1, 2), estimate (0, 2, 1): slope = cov / var = 0.5 / 1, r = 0.5."""
    rec = effect_recovery([0.0, 2.0, 1.0], [0.0, 1.0, 2.0])
    assert rec.slope == pytest.approx(0.5)
    assert rec.intercept == pytest.approx(0.5)
    assert rec.r == pytest.approx(0.5)


def test_effect_recovery_constant_truth_is_nan():
    rec = effect_recovery([0.1, -0.2, 0.3], [0.0, 0.0, 0.0])
    assert np.isnan(rec.slope) and np.isnan(rec.r)


def test_effect_recovery_checks_shapes():
    with pytest.raises(ValueError, match="differ in shape"):
        effect_recovery([1.0, 2.0], [1.0, 2.0, 3.0])
    with pytest.raises(ValueError, match="at least 2"):
        effect_recovery([1.0], [1.0])


@settings(max_examples=30, deadline=None)
@given(
    slope=st.floats(-5, 5),
    intercept=st.floats(-5, 5),
    seed=st.integers(0, 2**16),
)
def test_effect_recovery_recovers_any_line(slope, intercept, seed):
    """A noise-free linear estimate is recovered exactly, whatever the line."""
    true = np.random.default_rng(seed).normal(size=20)
    rec = effect_recovery(slope * true + intercept, true)
    assert rec.slope == pytest.approx(slope, abs=1e-9)
    assert rec.intercept == pytest.approx(intercept, abs=1e-9)


def test_pair_recovery_perfect_ranking():
    """Two true pairs among 6, estimated at half strength plus a weaker null pair."""
    true = _symmetric(4, {(0, 1): 1.0, (2, 3): -2.0})
    est = _symmetric(4, {(0, 1): 0.5, (2, 3): -1.0, (0, 2): 0.2})
    rec = pair_recovery(est, true)
    assert rec.k == 2
    assert rec.precision == 1.0
    # over the 6 pairs: est = 0.5 truth except one null pair at 0.2
    assert 0.4 < rec.slope < 0.6
    assert rec.r2 == pytest.approx(rec.r**2)


def test_pair_recovery_precision_counts_misses():
    """A null pair ranked above a true one halves the top-2 precision."""
    true = _symmetric(4, {(0, 1): 1.0, (2, 3): 1.0})
    est = _symmetric(4, {(0, 1): 0.9, (1, 3): 0.8, (2, 3): 0.1})
    assert pair_recovery(est, true).precision == 0.5
    assert pair_recovery(est, true, k=1).precision == 1.0
    assert pair_recovery(est, true, k=3).precision == pytest.approx(2 / 3)


def test_pair_recovery_ignores_diagonal_and_lower_triangle():
    true = _symmetric(3, {(0, 1): 1.0})
    est = _symmetric(3, {(0, 1): 1.0})
    est[2, 2] = 100.0
    est[2, 0] = 50.0  # below the diagonal: not read
    rec = pair_recovery(est, true)
    assert rec.slope == pytest.approx(1.0) and rec.precision == 1.0


def test_pair_recovery_without_true_pairs():
    rec = pair_recovery(np.eye(3), np.zeros((3, 3)))
    assert rec.k == 0 and np.isnan(rec.precision) and np.isnan(rec.slope)


def test_pair_recovery_checks_input():
    with pytest.raises(ValueError, match="square"):
        pair_recovery(np.zeros((3, 4)), np.zeros((3, 4)))
    with pytest.raises(ValueError, match="k must lie"):
        pair_recovery(np.zeros((3, 3)), np.zeros((3, 3)), k=4)


def test_true_variance_components_match_simulator():
    """The simulator scales V_G to exactly 1 and V_AA / V_A to the requested ratio."""
    data = make_epistatic_phenotypes(400, 10, n_traits=2, h2=0.5, epistatic_ratio=0.5,
                                     random_state=0)
    Z = 2.0 * data.genotypes - 1
    vc = true_variance_components(Z, data.additive_effects, data.epistasis, data.phenotypes)
    assert vc.genetic == pytest.approx([1.0, 1.0])
    np.testing.assert_allclose(vc.epistatic / vc.additive, 0.5, rtol=1e-9)
    np.testing.assert_allclose(vc.phenotypic, data.phenotypes.var(axis=0))
    np.testing.assert_allclose(vc.H2, 1 / data.phenotypes.var(axis=0))
    np.testing.assert_allclose(vc.residual, vc.phenotypic - vc.genetic)


def test_true_variance_components_single_trait_floats():
    Z = np.array([[1.0, 1.0], [1.0, -1.0], [-1.0, 1.0], [-1.0, -1.0]])
    vc = true_variance_components(Z, [0.0, 2.0], np.zeros((2, 2)))
    assert vc.additive == 4.0 and vc.epistatic == 0.0 and vc.higher == 0.0
    assert np.isnan(vc.phenotypic) and np.isnan(vc.h2)


def test_variance_component_errors_arrays_and_keys():
    est = {"additive": np.array([0.9, 0.5]), "epistatic": np.array([0.1, 0.5]), "extra": 1.0}
    true = {"additive": np.array([1.0, 0.5]), "epistatic": np.array([0.0, 0.5])}
    err = variance_component_errors(est, true)
    assert sorted(err.error) == ["additive", "epistatic"]
    np.testing.assert_allclose(err.error.additive, [-0.1, 0.0])
    np.testing.assert_allclose(err.relative_error.additive, [-0.1, 0.0])
    assert np.isnan(err.relative_error.epistatic[0])
    with pytest.raises(KeyError, match="extra"):
        variance_component_errors(est, true, keys=["extra"])


def test_true_average_effects_are_the_slopes_of_the_genetic_value():
    """Independent loci at unequal frequencies: alpha is the least-squares slope of the
    genetic value on each locus, to sampling error (exactly: its coefficient on the centred
    genotypes in the orthogonal decomposition)."""
    rng = np.random.default_rng(0)
    Z = np.where(rng.random((200_000, 3)) < 0.2, 1.0, -1.0)
    a = np.array([1.0, -0.5, 0.0])
    E = np.zeros((3, 3))
    E[0, 1] = E[1, 0] = 2.0
    g = Z @ a + pairwise_values(Z, E)
    alpha = true_average_effects(Z, a, E)
    np.testing.assert_allclose(alpha, a + 2.0 * Z.mean(axis=0)[[1, 0, 2]] * [1, 1, 0])
    slopes = [np.cov(Z[:, i], g)[0, 1] / Z[:, i].var(ddof=1) for i in range(3)]
    np.testing.assert_allclose(alpha, slopes, atol=0.02)
    assert true_average_effects(Z, np.stack([a, a]), np.stack([E, E])).shape == (2, 3)


def test_pair_recovery_reads_sparse_and_factored_matrices():
    """The decomposer's sparse epistasis_matrix_ (past 4 GiB) and GBLUP's factored one are
    scored as their dense forms (a user's coo_array raised)."""
    from scipy import sparse

    from sklearn_elm import FactoredPairMatrix

    rng = np.random.default_rng(0)
    Z, w = rng.normal(size=(6, 5)), rng.normal(size=6)
    dense = Z.T @ (w[:, None] * Z)
    true = np.zeros((5, 5))
    true[0, 1] = true[1, 0] = 1.0
    expected = pair_recovery(dense, true)
    for form in (sparse.coo_array(dense), sparse.csr_array(dense), FactoredPairMatrix(Z, w)):
        got = pair_recovery(form, true)
        assert got.keys() == expected.keys()
        for key in expected:
            assert got[key] == pytest.approx(expected[key], rel=1e-10)
