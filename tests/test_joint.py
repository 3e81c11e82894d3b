"""Each listed pair tested beside the pairs that compete with it (``_decomposition._joint``)."""

import numpy as np
from scipy import stats
from sklearn.utils import Bunch
from test_inference import _fit

from sklearn_elm._decomposition._inference import bh_qvalues, significant_pairs_table
from sklearn_elm._decomposition._joint import COMPETING_R, COPY_R, joint_pvalues
from sklearn_elm._decomposition._lstsq import least_squares
from sklearn_elm._decomposition._terms import Terms


def _switched(n, rng):
    """Loci 0-3 independent, 4 and 5 copies of 0 and 1 in half the samples and of 2 and 3
    in the other half (their product: that of pair (0, 1) or of pair (2, 3)), 6-7 noise."""
    Z = rng.choice([0.0, 2.0], size=(n, 8))
    half = rng.random(n) < 0.5
    Z[:, 4] = np.where(half, Z[:, 0], Z[:, 2])
    Z[:, 5] = np.where(half, Z[:, 1], Z[:, 3])
    return Z


def _wald_p(Zc, y, columns):
    """Two-sided p-value of the last column's coefficient in least squares of y on every
    locus and ``columns``."""
    A = np.column_stack([Zc, *columns])
    coef = np.linalg.lstsq(A, y - y.mean(), rcond=None)[0]
    left = y - y.mean() - A @ coef
    df = len(y) - 1 - A.shape[1]
    se = np.sqrt(left @ left / df * np.linalg.inv(A.T @ A)[-1, -1])
    return 2 * stats.t.sf(abs(coef[-1] / se), df)


def test_joint_pvalue_is_the_wald_test_beside_the_competing_pairs():
    """Whether or not the pair is in the model, its joint p-value is that of least squares
    on every locus, the pairs whose residualised products correlate with its own at |r| in
    [COMPETING_R, COPY_R), and itself, found here by brute force."""
    rng = np.random.default_rng(0)
    Z = _switched(3000, rng)
    Zc = Z - Z.mean(axis=0)
    y = Zc[:, 0] * Zc[:, 1] + Zc[:, 2] * Zc[:, 3] + rng.normal(size=3000)
    G = Bunch(Z=Z, mean=Z.mean(axis=0))
    candidates = np.array([(i, j) for i in range(8) for j in range(i + 1, 8)])

    def product(i, j):
        column = Zc[:, i] * Zc[:, j]
        return column - column.mean()

    loci = np.column_stack([np.ones(3000), Zc])
    residualised = {tuple(c): product(*c) - loci @ np.linalg.lstsq(loci, product(*c),
                                                                   rcond=None)[0]
                    for c in candidates}
    for model in (np.array([[4, 5]]), np.zeros((0, 2), dtype=int)):
        X = Terms(G, np.arange(8), model)
        Yc = y - y.mean()
        fit = least_squares(X, Yc, Yc)
        tests = Bunch(pairs=candidates, p_value=np.linspace(0, 1, len(candidates)))
        q = np.ones(len(candidates))
        target = int(np.flatnonzero((candidates == (4, 5)).all(axis=1))[0])
        q[target] = 0.0
        p = joint_pvalues(G, X, fit, Yc - X @ fit.y, tests, q)
        assert np.isnan(np.delete(p, target)).all()
        own = residualised[(4, 5)]
        competing = [product(*c) for c in candidates if tuple(c) != (4, 5)
                     and COMPETING_R <= abs(np.corrcoef(residualised[tuple(c)], own)[0, 1])
                     < COPY_R]
        assert len(competing) >= 2  # (0, 1) and (2, 3) at least
        np.testing.assert_allclose(p[target], _wald_p(Zc, y, [*competing, product(4, 5)]),
                                   rtol=1e-6)
        assert p[target] > 0.01  # a proxy of the two pairs adds nothing beside them


def test_the_list_keeps_a_pair_where_its_joint_test_passes_the_step_among_the_listed():
    """Benjamini-Hochberg's list, less the pairs whose joint p-value fails the step at the
    same rate among the listed pairs; a pair without one (NaN) is kept."""
    tests = [Bunch(pairs=np.array([[0, 1], [2, 3], [4, 5], [6, 7], [8, 9]]),
                   estimate=np.ones(5), std_error=np.ones(5),
                   p_value=np.array([1e-12, 2e-12, 3e-12, 4e-12, 0.5]),
                   p_joint=np.array([1e-9, 0.3, np.nan, 0.02, np.nan]), n_tests=100)]
    table = significant_pairs_table(tests, 0.05, np.arange(10), as_frame=False)
    # listed: the first four; joint steps 0.05 k / 4 over [1e-9, 0.3, 0.02] (0.3 fails)
    assert table["i"].tolist() == [0, 4, 6]
    np.testing.assert_array_equal(table["p_joint"], [1e-9, np.nan, 0.02])
    np.testing.assert_allclose(table["q_value"], bh_qvalues(tests[0].p_value, 100)[[0, 2, 3]])


def test_the_list_drops_pairs_that_add_nothing_beside_their_competitors():
    """Two pairs and a product that stands for either (in linkage with both): over eight
    data sets the list finds both pairs in each and nothing else, where Benjamini-Hochberg's
    list alone also names a pair of noise."""
    extra = 0
    for seed in range(8):
        rng = np.random.default_rng(seed)
        Z = _switched(2000, rng)
        Zc = Z - 1.0
        y = 0.25 * (Zc[:, 0] * Zc[:, 1] + Zc[:, 2] * Zc[:, 3]) + rng.normal(size=2000)
        tests = _fit(Z, y).pair_tests
        table = significant_pairs_table(tests, 0.05, np.arange(8), as_frame=False)
        assert sorted(zip(table["i"].tolist(), table["j"].tolist(), strict=True)) == [
            (0, 1), (2, 3)]
        extra += int(np.sum(bh_qvalues(tests[0].p_value, tests[0].n_tests) <= 0.05)) - 2
    assert extra >= 1
