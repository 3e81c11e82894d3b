"""Tests of the streamed decomposition formulas against known truth."""

import itertools

import numpy as np
import pytest
from _planted import planted_net

from sklearn_elm import GenotypeEncoder
from sklearn_elm._decomposition import (
    additive_effects,
    additive_projection_variance,
    conditional_slopes,
    debiased_genetic_variance,
    epistasis_contrast,
    epistasis_regression,
    init_moments,
    pair_variances,
    pairwise_part_variance,
    projection_fit,
    update_moments,
    variance_components,
    with_target,
)
from sklearn_elm._elm import equivalent_linear_map
from sklearn_elm.datasets import make_epistatic_phenotypes
from sklearn_elm.metrics import true_variance_components


def moments_of(Z, S, *, batch=None, contrast=False):
    """Stream ELM coefficients S (n, k, p) of inputs Z (n, p) into moments."""
    F = np.einsum("nkp,np->nk", S, Z)
    m = init_moments(Z.shape[1], S.shape[1], contrast=contrast)
    step = len(Z) if batch is None else batch
    for start in range(0, len(Z), step):
        sl = slice(start, start + step)
        update_moments(m, Z[sl], F[sl], S[sl])
    return m


def factorial(p, levels=(-1.0, 1.0)):
    """Every genotype combination once: balanced, uncorrelated loci."""
    return np.array(list(itertools.product(levels, repeat=p)))


def test_planted_pair_is_recovered_exactly():
    """A network computing c + c z0 z1 + a2 z2: additive (0, 0, a2, 0, 0), e_01 = c.

    The ELM splits the pair, s_0 = s_1 = c (z0 + z1) / 2, so each slope is c / 2
    and their sum recovers c.  On the full factorial design every estimate is exact.
    """
    c, a2 = 0.8, -0.5
    Z = factorial(5)
    S = equivalent_linear_map(planted_net(c, a2).double(), Z)
    m = moments_of(Z, S, batch=7, contrast=True)
    np.testing.assert_allclose(additive_effects(m)[0], [0, 0, a2, 0, 0], atol=1e-12)
    E_true = np.zeros((5, 5))
    E_true[0, 1] = E_true[1, 0] = c
    E, E_var = epistasis_regression(m, return_variance=True)
    np.testing.assert_allclose(E[0], E_true, atol=1e-12)
    np.testing.assert_allclose(E_var, 0, atol=1e-12)  # s is exactly linear in z
    np.testing.assert_allclose(epistasis_contrast(m)[0], E_true, atol=1e-12)
    vc = variance_components(m, additive_effects(m), E, E_var, np.array([1.0]))
    np.testing.assert_allclose(vc.additive, a2**2)
    np.testing.assert_allclose(vc.epistatic, c**2)
    np.testing.assert_allclose(vc.genetic, a2**2 + c**2)
    np.testing.assert_allclose(vc.higher, 0, atol=1e-12)
    np.testing.assert_allclose(additive_projection_variance(m), a2**2)


def test_purely_additive_gives_zero_epistasis():
    """A linear map (s constant) has no epistasis and V_A = V_G."""
    rng = np.random.default_rng(0)
    Z = rng.choice([-1.0, 1.0], size=(500, 6))
    a = rng.normal(size=(2, 6))
    S = np.broadcast_to(a, (500, 2, 6))
    m = moments_of(Z, S, batch=128)
    E, E_var = epistasis_regression(m, return_variance=True)
    np.testing.assert_allclose(E, 0, atol=1e-12)
    np.testing.assert_allclose(additive_effects(m), a)
    vc = variance_components(m, a, E, E_var, np.ones(2))
    np.testing.assert_allclose(vc.additive, vc.genetic)
    np.testing.assert_allclose(vc.additive, (Z @ a.T).var(axis=0))


def test_streaming_equals_one_batch():
    rng = np.random.default_rng(1)
    Z = rng.choice([-1.0, 0.0, 1.0], size=(50, 4))
    S = rng.normal(size=(50, 3, 4))
    one, many = moments_of(Z, S), moments_of(Z, S, batch=6)
    for key in one:
        np.testing.assert_allclose(one[key], many[key], atol=1e-12, err_msg=key)


def test_noise_correction_of_null_pairs():
    """ELM noise unrelated to z: E is pure estimation noise, and so is sum E^2.

    The sampling variance predicted from the regressions' residuals matches
    the spread of the null estimates, and the corrected V_AA is near 0 while
    the plug-in sum of E_ij^2 Var(z_i z_j) is not.
    """
    rng = np.random.default_rng(2)
    n, p = 4000, 20
    Z = rng.choice([-1.0, 1.0], size=(n, p))
    S = 0.5 + rng.normal(scale=0.3, size=(n, 1, p))
    m = moments_of(Z, S, batch=1000)
    E, E_var = epistasis_regression(m, return_variance=True)
    iu = np.triu_indices(p, 1)
    assert np.mean(E[0][iu] ** 2) == pytest.approx(np.mean(E_var[0][iu]), rel=0.15)
    plug_in = np.sum(E[0][iu] ** 2 * pair_variances(m)[iu])
    vc = variance_components(m, additive_effects(m), E, E_var, np.ones(1))
    assert abs(vc.epistatic[0]) < 0.2 * plug_in


def test_conditional_slopes_handle_linked_loci():
    """With z2 a noisy copy of z1, the marginal slope of s0 on z2 is spurious; B is not."""
    rng = np.random.default_rng(3)
    n = 3000
    Z = rng.choice([-1.0, 1.0], size=(n, 3))
    Z[:, 2] = np.where(rng.random(n) < 0.9, Z[:, 1], -Z[:, 1])
    e = 1.2
    S = np.zeros((n, 1, 3))
    S[:, 0, 0] = e / 2 * Z[:, 1]
    S[:, 0, 1] = e / 2 * Z[:, 0]
    m = moments_of(Z, S)
    B, _ = conditional_slopes(m)
    assert abs(B[0, 2, 0]) < 1e-10
    marginal = np.cov(Z[:, 2], S[:, 0, 0])[0, 1] / Z[:, 2].var(ddof=1)
    assert marginal > 0.3
    np.testing.assert_allclose(epistasis_regression(m)[0, 0, 1], e)


def test_diploid_self_term_on_the_diagonal():
    """For d |z_i| on -1/0/1 (ELM s_i = d sign z_i) the diagonal is d; binary loci get 0."""
    Z = factorial(2, levels=(-1.0, 0.0, 1.0))
    Z = np.column_stack([Z, np.tile([-1.0, 1.0], len(Z) // 2 + 1)[: len(Z)]])
    d = 0.7
    S = np.zeros((len(Z), 1, 3))
    S[:, 0, 0] = d * np.sign(Z[:, 0])
    S[:, 0, 2] = 0.3  # an additive binary locus: its square is constant
    m = moments_of(Z, S)
    E = epistasis_regression(m)[0]
    assert E[0, 0] == pytest.approx(d)
    assert E[2, 2] == 0.0
    assert pair_variances(m)[2, 2] == 0.0


def test_contrast_equals_regression_on_balanced_data():
    """On a balanced factorial design the class contrast is the regression slope."""
    rng = np.random.default_rng(4)
    Z = np.repeat(factorial(4), 3, axis=0)
    S = rng.normal(size=(len(Z), 2, 4)) + Z[:, None, ::-1]
    m = moments_of(Z, S, contrast=True)
    np.testing.assert_allclose(epistasis_contrast(m), epistasis_regression(m), atol=1e-12)


def test_contrast_errors():
    Z = np.array([[1.0, 0.0], [-1.0, 1.0]])
    with pytest.raises(ValueError, match="coded -1/\\+1"):
        moments_of(Z, np.ones((2, 1, 2)), contrast=True)
    Z = np.array([[1.0, 1.0], [-1.0, -1.0], [1.0, 1.0]])
    m = moments_of(Z, np.ones((3, 1, 2)), contrast=True)
    with pytest.raises(ValueError, match="no sample with genotypes"):
        epistasis_contrast(m)
    with pytest.raises(ValueError, match="without class sums"):
        epistasis_contrast(moments_of(Z, np.ones((3, 1, 2))))


def test_components_add_up_and_need_two_samples():
    rng = np.random.default_rng(5)
    Z = rng.choice([-1.0, 1.0], size=(300, 5))
    S = rng.normal(size=(300, 2, 5))
    m = moments_of(Z, S)
    E, E_var = epistasis_regression(m, return_variance=True)
    VP = np.array([3.0, 4.0])
    vc = variance_components(m, additive_effects(m), E, E_var, VP)
    np.testing.assert_allclose(vc.additive + vc.epistatic + vc.higher, vc.genetic)
    np.testing.assert_allclose(vc.genetic + vc.residual, VP)
    np.testing.assert_allclose(vc.h2 * VP, vc.additive)
    np.testing.assert_allclose(vc.H2 * VP, vc.genetic)
    with pytest.raises(ValueError, match="at least 2 samples"):
        additive_effects(moments_of(Z[:1], S[:1]))


def test_projection_matches_direct_least_squares():
    """The streamed projection solves the same least-squares problem as a dense
    solve on the explicit centred design [z, z_i z_j]."""
    rng = np.random.default_rng(1)
    n, p, k = 3000, 10, 2
    Z = rng.choice([-1.0, 1.0], size=(n, p))
    iu = np.triu_indices(p, 1)
    D = np.column_stack([Z, (Z[:, :, None] * Z[:, None, :])[:, iu[0], iu[1]]])
    W = rng.normal(size=(D.shape[1], k)) * (rng.random((D.shape[1], k)) < 0.2)
    F = D @ W + 0.1 * rng.normal(size=(n, k))
    m = update_moments(init_moments(p, k), Z, F, np.zeros((n, k, p)))
    batches = [(Z[i : i + 700], F[i : i + 700]) for i in range(0, n, 700)]
    fit = projection_fit(m, lambda: batches, tol=1e-10)
    a, E = fit.additive, fit.epistasis
    Dc = D - D.mean(axis=0)
    coef = np.linalg.lstsq(Dc, F - F.mean(axis=0), rcond=None)[0]
    np.testing.assert_allclose(a, coef[:p].T, atol=1e-8)
    np.testing.assert_allclose(E[:, iu[0], iu[1]], coef[p:].T, atol=1e-8)
    np.testing.assert_allclose(E, E.transpose(0, 2, 1))


@pytest.mark.parametrize("ploidy", [1, 2])
def test_epistatic_variance_is_that_of_the_pairwise_part_in_the_sample(ploidy):
    """With the true effects, V_AA equals the realised variance of the pairwise part
    (as the truth is scored), sample covariances of the pair products included; the
    independent-pairs form misses them on a small sample."""
    data = make_epistatic_phenotypes(150, 10, h2=1.0, epistatic_ratio=1.0, ploidy=ploidy,
                                     random_state=3)
    Z = GenotypeEncoder().fit_transform(data.genotypes)  # -1/+1 or -1/0/+1
    a, E = data.additive_effects, data.epistasis
    m = update_moments(init_moments(10, 1), Z, data.genetic_values, np.zeros((150, 1, 10)))
    truth = true_variance_components(Z, a, E)
    exact = variance_components(m, a, E, np.zeros_like(E), np.ones(1),
                                pairwise_part_variance([Z[:70], Z[70:]], E))
    np.testing.assert_allclose(exact.epistatic, truth.epistatic, rtol=1e-10)
    np.testing.assert_allclose(exact.additive, truth.additive, rtol=1e-10)
    approx = variance_components(m, a, E, np.zeros_like(E), np.ones(1))
    assert abs(approx.epistatic[0] - truth.epistatic[0]) > 1e-3


def test_debiased_genetic_variance_is_unbiased_where_the_plain_variance_is_not():
    """Over repeated noisy samples, Var(f + D c_r) - sigma^2 m / n averages to the true
    genetic variance, whatever the network f (here a half-shrunk one), while the plain
    variance of the corrected genetic value is inflated by the noise of its m terms."""
    n, p, sigma = 300, 8, 1.0
    m = p + p * (p - 1) // 2
    plain, debiased, truth = [], [], []
    for seed in range(40):
        rng = np.random.default_rng(seed)
        Z = rng.choice([-1.0, 1.0], size=(n, p))
        g = Z[:, :1] - 0.5 * Z[:, 1:2] + 0.8 * Z[:, 2:3] * Z[:, 3:4]
        y = g + sigma * rng.normal(size=(n, 1))
        F = 0.5 * g
        moments = update_moments(init_moments(p, 1), Z, F, np.zeros((n, 1, p)))
        R = y - y.mean() - F
        target = with_target(moments, R.sum(0), (R**2).sum(0))
        fit = projection_fit(target, lambda batches=[(Z, R)]: batches)
        debiased.append(debiased_genetic_variance(moments, [(Z, F)], fit)[0])
        plain.append(debiased[-1] + fit.noise_variance[0] * fit.n_terms / n)
        truth.append(g.var())
    assert fit.n_terms == m
    se = np.std(np.subtract(debiased, truth)) / np.sqrt(len(truth))
    assert abs(np.mean(debiased) - np.mean(truth)) < 3 * se
    assert np.mean(plain) - np.mean(truth) > 0.5 * m * sigma**2 / n
