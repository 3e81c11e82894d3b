"""Tests of the streamed decomposition formulas against known truth."""

import itertools
import warnings

import numpy as np
import pytest
from _planted import planted_net
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.exceptions import ConvergenceWarning

from sklearn_elm import GenotypeEncoder
from sklearn_elm._decomposition import (
    COMPONENT_ESTIMATORS,
    EFFECT_ESTIMATORS,
    FitState,
    _projection,
    average_effects,
    build_design,
    conditional_slopes,
    debiased_components,
    epistasis_contrast,
    epistasis_regression,
    init_moments,
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


def slope_estimates(m, *, return_variance=False):
    """Average effects and the regression epistasis of the sums, from one set of slopes."""
    design = build_design(m)
    slopes = conditional_slopes(m, design)
    E = epistasis_regression(m, design, slopes, return_variance=return_variance)
    return average_effects(m, design, slopes), E


def regression(m, *, return_variance=False):
    """The regression epistasis of the sums (with its variance on request)."""
    return slope_estimates(m, return_variance=return_variance)[1]


def components(m, additive, E, E_var, phenotypic, pairwise=None):
    """variance_components over the design of the sums."""
    return variance_components(m, build_design(m), additive, E, E_var, phenotypic, pairwise)


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
    a, (E, E_var) = slope_estimates(m, return_variance=True)
    np.testing.assert_allclose(a[0], [0, 0, a2, 0, 0], atol=1e-12)
    E_true = np.zeros((5, 5))
    E_true[0, 1] = E_true[1, 0] = c
    np.testing.assert_allclose(E[0], E_true, atol=1e-12)
    np.testing.assert_allclose(E_var, 0, atol=1e-12)  # s is exactly linear in z
    np.testing.assert_allclose(epistasis_contrast(m)[0], E_true, atol=1e-12)
    vc = components(m, a, E, E_var, np.array([1.0]))
    np.testing.assert_allclose(vc.additive, a2**2)
    np.testing.assert_allclose(vc.epistatic, c**2)
    np.testing.assert_allclose(vc.genetic, a2**2 + c**2)
    np.testing.assert_allclose(vc.higher, 0, atol=1e-12)


def test_purely_additive_gives_zero_epistasis():
    """A linear map (s constant) has no epistasis and V_A = V_G."""
    rng = np.random.default_rng(0)
    Z = rng.choice([-1.0, 1.0], size=(500, 6))
    a = rng.normal(size=(2, 6))
    S = np.broadcast_to(a, (500, 2, 6))
    m = moments_of(Z, S, batch=128)
    average, (E, E_var) = slope_estimates(m, return_variance=True)
    np.testing.assert_allclose(E, 0, atol=1e-12)
    np.testing.assert_allclose(average, a)
    vc = components(m, a, E, E_var, np.ones(2))
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
    a, (E, E_var) = slope_estimates(m, return_variance=True)
    iu = np.triu_indices(p, 1)
    assert np.mean(E[0][iu] ** 2) == pytest.approx(np.mean(E_var[0][iu]), rel=0.15)
    plug_in = np.sum(E[0][iu] ** 2 * build_design(m).pair_var[iu])
    vc = components(m, a, E, E_var, np.ones(1))
    assert abs(vc.epistatic[0]) < 0.2 * plug_in


@pytest.mark.parametrize("codes", [(-1.0, 0.0, 1.0), (0.0, 1.0)])
def test_coefficients_of_zero_inputs_change_nothing(codes):
    """Where z_i = 0 the coefficient s_i multiplies 0, so the network leaves it
    arbitrary: the ELM-slope estimates must not depend on it (reading it would turn
    diploid heterozygotes' coefficients into pair effects)."""
    rng = np.random.default_rng(4)
    n, p, k = 400, 5, 2
    Z = rng.choice(codes, size=(n, p))
    S = rng.normal(size=(n, k, p))
    other = np.where((Z == 0)[:, None, :], 100 * rng.normal(size=S.shape), S)
    F = np.einsum("nkp,np->nk", S, Z)
    estimates = []
    for coefficients in (S, other):
        m = update_moments(init_moments(p, k), Z, F, coefficients)
        slopes = conditional_slopes(m, build_design(m))
        a, (E, E_var) = slope_estimates(m, return_variance=True)
        estimates.append((slopes.sbar, slopes.B, a, E, E_var))
    for before, after in zip(*estimates, strict=True):
        np.testing.assert_array_equal(before, after)


def test_pair_slopes_on_sampled_dosages():
    """A random sample (not exact proportions) of diploid dosages at allele frequency
    0.3, and an ELM that splits e z_0 z_1 evenly where a locus is not 0 but carries
    the partner's full share where it is (as a ReLU network does): the slopes come
    out within sampling error of e, not 1.5-2 times it."""
    rng = np.random.default_rng(5)
    n, p, e = 4000, 6, 0.6
    Z = rng.binomial(2, 0.3, size=(n, p)) - 1.0
    S = np.zeros((n, 1, p))
    S[:, 0, 0] = np.where(Z[:, 0] != 0, e / 2 * Z[:, 1], e * Z[:, 1])
    S[:, 0, 1] = np.where(Z[:, 1] != 0, e / 2 * Z[:, 0], e * Z[:, 0])
    F = np.einsum("nkp,np->nk", S, Z)
    E = regression(update_moments(init_moments(p, 1), Z, F, S))[0]
    assert E[0, 1] == pytest.approx(e, abs=0.03)
    off = E[np.triu_indices(p, 1)][1:]  # the null pairs
    assert np.abs(off).max() < 0.03


def test_few_non_zero_samples_warn():
    """A raw 0/1 coding of a rare allele leaves fewer carriers than a regression on
    all inputs needs: the slopes cannot be trusted, and the user is told so."""
    rng = np.random.default_rng(6)
    n, p = 300, 20
    Z = (rng.random((n, p)) < 0.3).astype(float)
    Z[:, 3] = 0.0
    Z[:5, 3] = 1.0  # five carriers
    S = rng.normal(size=(n, 1, p))
    m = update_moments(init_moments(p, 1), Z, np.einsum("nkp,np->nk", S, Z), S)
    with pytest.warns(UserWarning, match=r"input 3\) are non-zero on as few as 5 samples"):
        regression(m, return_variance=True)


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
    B = conditional_slopes(m, build_design(m)).B
    assert abs(B[0, 2, 0]) < 1e-10
    marginal = np.cov(Z[:, 2], S[:, 0, 0])[0, 1] / Z[:, 2].var(ddof=1)
    assert marginal > 0.3
    np.testing.assert_allclose(regression(m)[0, 0, 1], e)


def test_diploid_self_term_on_the_diagonal():
    """For d |z_i| on -1/0/1 (ELM s_i = d sign z_i) the diagonal is d; binary loci get 0."""
    Z = factorial(2, levels=(-1.0, 0.0, 1.0))
    Z = np.column_stack([Z, np.tile([-1.0, 1.0], len(Z) // 2 + 1)[: len(Z)]])
    d = 0.7
    S = np.zeros((len(Z), 1, 3))
    S[:, 0, 0] = d * np.sign(Z[:, 0])
    S[:, 0, 2] = 0.3  # an additive binary locus: its square is constant
    m = moments_of(Z, S)
    E = regression(m)[0]
    assert E[0, 0] == pytest.approx(d)
    assert E[2, 2] == 0.0
    assert build_design(m).pair_var[2, 2] == 0.0


def test_design_counts_independent_terms():
    """n_terms is the rank of the input covariance plus the products that enter: three
    -1/+1 inputs and their three products (the third input is the product of the other
    two, collinear only through that linkage, and still counted); a duplicated input
    counts once and a monomorphic one not at all, nor do their products (a product of
    a -1/+1 input with itself is constant, with a constant a multiple of the input)."""
    Z = np.array([[1.0, 1.0, 1.0], [1.0, -1.0, -1.0], [-1.0, 1.0, -1.0], [-1.0, -1.0, 1.0]])
    assert build_design(moments_of(Z, np.zeros((4, 1, 3)))).n_terms == 6
    degenerate = np.column_stack([Z[:, 0], Z[:, 0], np.ones(4)])
    design = build_design(moments_of(degenerate, np.zeros((4, 1, 3))))
    assert design.n_terms == 1
    assert not design.product_mask.any()
    np.testing.assert_array_equal(design.inv_var, [1.0, 1.0, 0.0])


def test_contrast_equals_regression_on_balanced_data():
    """On a balanced factorial design the class contrast is the regression slope."""
    rng = np.random.default_rng(4)
    Z = np.repeat(factorial(4), 3, axis=0)
    S = rng.normal(size=(len(Z), 2, 4)) + Z[:, None, ::-1]
    m = moments_of(Z, S, contrast=True)
    np.testing.assert_allclose(epistasis_contrast(m), regression(m), atol=1e-12)


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
    a, (E, E_var) = slope_estimates(m, return_variance=True)
    VP = np.array([3.0, 4.0])
    vc = components(m, a, E, E_var, VP)
    np.testing.assert_allclose(vc.additive + vc.epistatic + vc.higher, vc.genetic)
    np.testing.assert_allclose(vc.genetic + vc.residual, VP)
    np.testing.assert_allclose(vc.h2 * VP, vc.additive)
    np.testing.assert_allclose(vc.H2 * VP, vc.genetic)
    with pytest.raises(ValueError, match="at least 2 samples"):
        build_design(moments_of(Z[:1], S[:1]))


@pytest.mark.parametrize("frequency", [0.5, 0.2])
def test_projection_matches_direct_least_squares(frequency):
    """The streamed projection solves the same least-squares problem as a dense
    solve on the explicit design [zc, zc_i zc_j] of inputs centred on the sample:
    the pair coefficients are those of the raw products z_i z_j too, and the
    additive ones are average effects."""
    rng = np.random.default_rng(1)
    n, p, k = 3000, 10, 2
    Z = np.where(rng.random((n, p)) < frequency, 1.0, -1.0)
    iu = np.triu_indices(p, 1)

    def design(X):
        return np.column_stack([X, (X[:, :, None] * X[:, None, :])[:, iu[0], iu[1]]])

    D = design(Z)
    W = rng.normal(size=(D.shape[1], k)) * (rng.random((D.shape[1], k)) < 0.2)
    F = D @ W + 0.1 * rng.normal(size=(n, k))
    m = update_moments(init_moments(p, k), Z, F, np.zeros((n, k, p)))
    batches = [(Z[i : i + 700], F[i : i + 700]) for i in range(0, n, 700)]
    fit = projection_fit(m, build_design(m), lambda: batches, tol=1e-10)
    a, E = fit.additive, fit.epistasis
    Dc = design(Z - Z.mean(axis=0))
    coef = np.linalg.lstsq(Dc - Dc.mean(axis=0), F - F.mean(axis=0), rcond=None)[0]
    raw = np.linalg.lstsq(D - D.mean(axis=0), F - F.mean(axis=0), rcond=None)[0]
    np.testing.assert_allclose(a, coef[:p].T, atol=1e-8)
    np.testing.assert_allclose(E[:, iu[0], iu[1]], coef[p:].T, atol=1e-8)
    np.testing.assert_allclose(E[:, iu[0], iu[1]], raw[p:].T, atol=1e-8)
    np.testing.assert_allclose(E, E.transpose(0, 2, 1))
    if frequency != 0.5:  # the centring matters: average effects differ from raw coefficients
        assert np.abs(a - raw[:p].T).max() > 0.05


def _linked_chain(rng, n, p):
    """Loci in a chain of linkage disequilibrium: each copies its neighbour 90 % of the time."""
    Z = np.empty((n, p))
    Z[:, 0] = rng.choice([-1.0, 1.0], size=n)
    for i in range(1, p):
        Z[:, i] = np.where(rng.random(n) < 0.9, Z[:, i - 1], rng.choice([-1.0, 1.0], size=n))
    return Z


def test_projection_on_linked_loci_and_its_convergence_warning(monkeypatch):
    """A chain of loci in linkage disequilibrium: the design is far from orthogonal, yet
    both solves reach the dense least-squares answer: the direct one (a design this small),
    and conjugate gradients, where the Gram matrix is taken as too costly; cut short, and
    with no room for the direct solve, it says so instead of returning a silent guess;
    with room, the direct solve takes over."""
    rng = np.random.default_rng(3)
    n, p = 3000, 8
    Z = _linked_chain(rng, n, p)
    assert np.corrcoef(Z[:, 0], Z[:, 1])[0, 1] > 0.8
    iu = np.triu_indices(p, 1)
    Zc = Z - Z.mean(axis=0)
    D = np.column_stack([Zc, (Zc[:, :, None] * Zc[:, None, :])[:, iu[0], iu[1]]])
    F = (Z[:, 1] - 0.5 * Z[:, 2] + 0.7 * Z[:, 3] * Z[:, 4] + 0.05 * rng.normal(size=n))[:, None]
    m = update_moments(init_moments(p, 1), Z, F, np.zeros((n, 1, p)))

    def batches():
        return [(Z[i : i + 1000], F[i : i + 1000]) for i in range(0, n, 1000)]

    coef = np.linalg.lstsq(D - D.mean(axis=0), F - F.mean(axis=0), rcond=None)[0]
    direct = projection_fit(m, build_design(m), batches, tol=1e-10)
    monkeypatch.setattr(_projection, "DIRECT_FLOPS", 0)
    iterative = projection_fit(m, build_design(m), batches, tol=1e-10)
    for fit in (direct, iterative):
        np.testing.assert_allclose(fit.additive[0], coef[:p, 0], atol=1e-6)
        np.testing.assert_allclose(fit.epistasis[0, iu[0], iu[1]], coef[p:, 0], atol=1e-6)
    assert direct.n_iter == 1 and iterative.n_iter > 5  # harder than independent loci
    # the direct solve measures the noise inflation of each part: its effective terms,
    # tr(G_BB G^-1_BB), more than the block's terms where they are correlated
    G_inv = np.linalg.inv(D.T @ D - len(D) * np.outer(D.mean(0), D.mean(0)))
    G = np.linalg.inv(G_inv)
    expected = [np.sum(G[b, b] * G_inv[b, b]) for b in (slice(0, p), slice(p, None))]
    np.testing.assert_allclose(direct.effective_terms, expected, rtol=1e-6)
    assert direct.effective_terms[0] > p and iterative.effective_terms is None
    monkeypatch.setattr(_projection, "DIRECT_BYTES", 0)
    with pytest.warns(ConvergenceWarning, match="did not converge in 2 iterations"):
        short = projection_fit(m, build_design(m), batches, tol=1e-10, max_iter=2)
    assert np.abs(short.epistasis[0, iu[0], iu[1]] - coef[p:, 0]).max() > 1e-3
    monkeypatch.setattr(_projection, "DIRECT_BYTES", 2**20)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        rescued = projection_fit(m, build_design(m), batches, tol=1e-10, max_iter=2)
    np.testing.assert_allclose(rescued.epistasis[0, iu[0], iu[1]], coef[p:, 0], atol=1e-6)


def test_projection_keeps_the_loci_effects_where_rare_pairs_are_affine_in_them():
    """Rare haploid loci (allele frequency 0.02) that no sample carries together: their
    centred product is affine in the two loci, so the design is singular.  The direct solve
    gives such a pair no coefficient, and a purely additive genetic value keeps its average
    effects exactly (the minimum-norm split in correlation units had moved most of it into
    the pairs: V_A 0.004 for a truth of 0.18)."""
    rng = np.random.default_rng(0)
    n, p = 1000, 20
    Z = np.where(rng.random((n, p)) < 0.02, 1.0, -1.0)
    a = rng.normal(size=p)
    F = (Z @ a)[:, None]
    m = update_moments(init_moments(p, 1), Z, F, np.zeros((n, 1, p)))
    design = build_design(m)
    fit = projection_fit(m, design, lambda: [(Z, F)])
    assert fit.n_terms < design.n_terms  # singular: pairs affine in their loci
    np.testing.assert_allclose(fit.additive[0], a, atol=1e-8)
    np.testing.assert_allclose(fit.epistasis, 0.0, atol=1e-8)


def test_noise_inflation_beyond_chance():
    """At the projection's bound (``m`` about ``n / 2``) on independent diploid loci, the
    loci's part takes in about twice the noise of orthogonal terms by chance correlation with
    the products alone; beyond chance, the inflation that ``"auto"`` reads is about 1.  A
    chain of rare alleles in linkage inflates it far past chance."""
    from sklearn_elm._decomposition._estimators import MAX_INFLATION, _noise_inflation

    rng = np.random.default_rng(0)
    n, p = 2000, 43
    Z = rng.binomial(2, rng.uniform(0.05, 0.5, p), size=(n, p)) - 1.0
    F = Z[:, :1].copy()
    m = update_moments(init_moments(p, 1), Z, F, np.zeros((n, 1, p)))
    design = build_design(m)
    fit = projection_fit(m, design, lambda: [(Z, F)])
    assert design.n_terms > 0.45 * n and fit.effective_terms[0] > 1.8 * p
    assert _noise_inflation(design, fit) < 1.2
    G = np.empty((n, 5))
    G[:, 0] = rng.random(n) < 0.15
    for i in range(1, 5):
        G[:, i] = np.where(rng.random(n) < 0.9, G[:, i - 1], rng.random(n) < 0.15)
    Z = 2.0 * G - 1
    m = update_moments(init_moments(5, 1), Z, Z[:, :1], np.zeros((n, 1, 5)))
    design = build_design(m)
    assert _noise_inflation(design, projection_fit(m, design, lambda: [(Z, Z[:, :1])])) > (
        10 * MAX_INFLATION)


def test_projection_of_copies_is_the_minimum_norm_fit():
    """Two loci that are copies in the sample (and their product, linear in either once
    centred): the direct solve takes the pseudo-inverse, whose fitted values are least
    squares' and which shares the copies' effect evenly; the design's rank, not its terms,
    counts against the residual's degrees of freedom."""
    rng = np.random.default_rng(4)
    n, p = 2000, 4
    Z = rng.choice([-1.0, 1.0], size=(n, p))
    Z[:, 1] = Z[:, 0]
    F = (Z[:, 0] + 0.5 * Z[:, 2] * Z[:, 3] + 0.1 * rng.normal(size=n))[:, None]
    m = update_moments(init_moments(p, 1), Z, F, np.zeros((n, 1, p)))
    fit = projection_fit(m, build_design(m), lambda: [(Z, F)])
    iu = np.triu_indices(p, 1)
    Zc = Z - Z.mean(axis=0)
    P = (Zc[:, :, None] * Zc[:, None, :])[:, iu[0], iu[1]]
    D = np.column_stack([Zc, P - P.mean(axis=0)])
    coef = np.linalg.lstsq(D, F - F.mean(axis=0), rcond=None)[0]
    ours = np.concatenate([fit.additive[0], fit.epistasis[0, iu[0], iu[1]]])
    np.testing.assert_allclose(D @ ours, D @ coef[:, 0], atol=1e-8)
    np.testing.assert_allclose(fit.additive[0, 2:], coef[2:p, 0], atol=1e-8)
    assert fit.additive[0, 0] == pytest.approx(fit.additive[0, 1])
    rank = np.linalg.matrix_rank(D)
    assert fit.n_terms == rank < D.shape[1]
    assert fit.effective_terms[0] >= 2  # the copies' effect, shared, takes in more noise
    left = F[:, 0] - F.mean() - D @ coef[:, 0]
    np.testing.assert_allclose(fit.noise_variance[0], left @ left / (n - 1 - rank))


def test_projection_matches_direct_least_squares_on_dosages():
    """Three-valued (diploid) inputs at allele frequency 0.2: the self terms enter
    as ``zc_i^2 - gamma_i zc_i`` with gamma_i the sample's third central moment over
    the variance, and the streamed projection equals a dense least-squares solve on
    that explicit design, self coefficients on the diagonal of ``E``.  A dominance
    term planted on locus 0 is recovered there, and its regression on z_0 does not
    leak into the average effect (it would with gamma = 0: the skewed self term
    correlates with z_0)."""
    rng = np.random.default_rng(2)
    n, p, k = 4000, 8, 2
    Z = rng.binomial(2, 0.2, size=(n, p)) - 1.0  # -1/0/+1, skewed
    iu = np.triu_indices(p, 1)
    Zc = Z - Z.mean(axis=0)
    gamma = (Zc**3).mean(axis=0) / (Zc**2).mean(axis=0)
    pairs = (Zc[:, :, None] * Zc[:, None, :])[:, iu[0], iu[1]]
    D = np.column_stack([Zc, Zc**2 - gamma * Zc, pairs])
    assert np.abs(gamma).max() > 0.5  # the skew the test is about
    W = np.zeros((D.shape[1], k))
    W[0], W[3], W[p + 0], W[2 * p + 5] = [1.0, 0.2], [0.0, -0.6], [0.8, 0.0], [0.5, 0.3]
    F = D @ W + 0.05 * rng.normal(size=(n, k))
    m = update_moments(init_moments(p, k), Z, F, np.zeros((n, k, p)))
    fit = projection_fit(m, build_design(m),
                         lambda: [(Z[i : i + 900], F[i : i + 900]) for i in range(0, n, 900)],
                         tol=1e-10)
    coef = np.linalg.lstsq(D - D.mean(axis=0), F - F.mean(axis=0), rcond=None)[0]
    diag = np.arange(p)
    np.testing.assert_allclose(fit.additive, coef[:p].T, atol=1e-7)
    np.testing.assert_allclose(fit.epistasis[:, diag, diag], coef[p : 2 * p].T, atol=1e-7)
    np.testing.assert_allclose(fit.epistasis[:, iu[0], iu[1]], coef[2 * p :].T, atol=1e-7)
    # the planted effects, within the noise
    np.testing.assert_allclose(fit.additive[:, 0], [1.0, 0.2], atol=0.01)
    np.testing.assert_allclose(fit.epistasis[:, 0, 0], [0.8, 0.0], atol=0.02)
    np.testing.assert_allclose(fit.epistasis[:, iu[0][5], iu[1][5]], [0.5, 0.3], atol=0.02)


@pytest.mark.parametrize("ploidy", [1, 2])
def test_epistatic_variance_is_that_of_the_pairwise_part_in_the_sample(ploidy):
    """With the true effects, V_AA equals the realised variance of the pairwise part
    (as the truth is scored), sample covariances of the pair products included; the
    independent-pairs form misses them on a small sample."""
    data = make_epistatic_phenotypes(150, 10, h2=1.0, epistatic_ratio=1.0, ploidy=ploidy,
                                     allele_frequencies=0.3, random_state=3)
    Z = GenotypeEncoder().fit_transform(data.genotypes)  # -1/+1 or -1/0/+1, mean != 0
    E = data.epistasis
    a = data.additive_effects + E[0] @ Z.mean(axis=0)  # average effects
    m = update_moments(init_moments(10, 1), Z, data.genetic_values, np.zeros((150, 1, 10)))
    truth = true_variance_components(Z, data.additive_effects, E)
    exact = components(m, a, E, np.zeros_like(E), np.ones(1),
                       pairwise_part_variance([Z[:70], Z[70:]], E, build_design(m)))
    np.testing.assert_allclose(exact.genetic, truth.genetic, rtol=1e-10)
    np.testing.assert_allclose(exact.epistatic, truth.epistatic, rtol=1e-10)
    np.testing.assert_allclose(exact.additive, truth.additive, rtol=1e-10)
    approx = components(m, a, E, np.zeros_like(E), np.ones(1))
    assert abs(approx.epistatic[0] - truth.epistatic[0]) > 1e-3


def test_pairwise_part_variance_centres_on_the_design():
    """The pairwise part is that of the inputs centred on the design's sample means,
    ``sum_{i<j} E_ij zc_i zc_j``; there is no default design that would take
    uncentred inputs as centred."""
    rng = np.random.default_rng(0)
    Z = rng.choice([-1.0, 1.0], size=(200, 3), p=[0.2, 0.8])
    E = np.zeros((1, 3, 3))
    E[0, 0, 1] = E[0, 1, 0] = 1.0
    m = update_moments(init_moments(3, 1), Z, Z[:, :1], np.zeros((200, 1, 3)))
    Zc = Z - Z.mean(axis=0)
    np.testing.assert_allclose(pairwise_part_variance([Z[:90], Z[90:]], E, build_design(m)),
                               [np.var(Zc[:, 0] * Zc[:, 1])], rtol=1e-12)
    with pytest.raises(TypeError, match="design"):
        pairwise_part_variance([Z], E)


def debiased(Z, F, y):
    """Debiased components of a network with genetic values F (n, k) on inputs Z, phenotypes y."""
    n, p = Z.shape
    k = F.shape[1]
    R = y - y.mean(axis=0) - F
    moments = update_moments(init_moments(p, k), Z, F, np.zeros((n, k, p)))
    design = build_design(moments)
    f_fit = projection_fit(moments, design, lambda: [(Z, F)])
    r_fit = projection_fit(with_target(moments, R.sum(0), (R**2).sum(0)), design,
                           lambda: [(Z, R)])
    return debiased_components(moments, design, lambda: [(Z, F, R)], f_fit, r_fit,
                               y.var(axis=0))


@pytest.mark.parametrize("network", ["exact", "shrunk"])
def test_debiased_components_are_unbiased_with_higher_order_genetic_variance(network):
    """Over repeated samples of y = z0 - 0.5 z1 + 0.8 z2 z3 + 0.6 z4 z5 z6 + noise, the
    debiased V_A and V_AA average to their realised values whether the network is exact or
    shrunk by half: the three-way term is noise to the additive and pairwise coefficients,
    not V_A or V_AA.  V_G is unbiased for the exact network (a shrunk one keeps its shrunk
    three-way part, which no pairwise term can correct).  Without the noise corrections V_G
    is inflated."""
    n, p, sigma, seeds = 400, 8, 1.0, 60
    m = p + p * (p - 1) // 2
    errors, plain = [], []
    for seed in range(seeds):
        rng = np.random.default_rng(seed)
        Z = rng.choice([-1.0, 1.0], size=(n, p))
        A = Z[:, :1] - 0.5 * Z[:, 1:2]
        AA = 0.8 * Z[:, 2:3] * Z[:, 3:4]
        g = A + AA + 0.6 * Z[:, 4:5] * Z[:, 5:6] * Z[:, 6:7]
        y = g + sigma * rng.normal(size=(n, 1))
        vc = debiased(Z, g if network == "exact" else 0.5 * g, y)
        truth = np.array([A.var(), AA.var(), g.var()])
        estimate = np.array([vc.additive[0], vc.epistatic[0], vc.genetic[0]])
        errors.append(estimate - truth)
        plain.append(estimate[2] + (sigma**2) * m / n - truth[2])
    errors = np.array(errors)
    checked = 3 if network == "exact" else 2
    se = errors.std(axis=0) / np.sqrt(seeds)
    np.testing.assert_array_less(np.abs(errors.mean(axis=0))[:checked], 3 * se[:checked])
    if network == "exact":
        assert np.mean(plain) > 0.5 * m / n  # the correction is what removes it


def test_debiased_components_do_not_depend_on_the_coding_of_two_valued_inputs():
    """An affine recoding of a two-valued input (-1/+1 or 0/1; a diploid locus seen in two
    genotypes only, -1/0) leaves the model space, and so V_G, unchanged, and a monomorphic
    input changes no component: no collinear product or self term may enter.  (How V_G
    splits into V_A and V_AA does depend on where a coding is centred.)"""
    rng = np.random.default_rng(0)
    n = 600
    D = rng.integers(0, 3, size=(n, 4)).astype(float) - 1  # diploid -1/0/+1
    D[:, 3] = rng.integers(-1, 1, size=n)  # two genotypes only: -1/0
    B = rng.choice([-1.0, 1.0], size=(n, 2))  # haploid
    g = D[:, 0] + 0.5 * D[:, 1] ** 2 - 0.7 * D[:, 2] * B[:, 0] + 0.4 * D[:, 3] * B[:, 1]
    y = (g + rng.normal(size=n))[:, None]
    F = 0.5 * g[:, None]
    reference = debiased(np.column_stack([D, B]), F, y)
    recoded = {
        "genetic": [
            np.column_stack([D[:, :3], 2 * D[:, 3] + 1, B]),  # -1/0 -> -1/+1
            np.column_stack([D, (B + 1) / 2]),  # -1/+1 -> 0/1
        ],
        "all": [np.column_stack([D, B, np.full(n, -1.0)])],  # a monomorphic locus
    }
    for which, codings in recoded.items():
        keys = ["genetic"] if which == "genetic" else ["additive", "epistatic", "genetic"]
        for Z in codings:
            vc = debiased(Z, F, y)
            for key in keys:
                np.testing.assert_allclose(vc[key], reference[key], rtol=1e-6)


def test_debiased_components_per_output():
    """Two traits decomposed together give what each gives alone."""
    rng = np.random.default_rng(1)
    Z = rng.choice([-1.0, 1.0], size=(500, 5))
    G = np.column_stack([Z[:, 0] + Z[:, 1] * Z[:, 2], 0.5 * Z[:, 3] - Z[:, 0] * Z[:, 4]])
    Y = G + rng.normal(size=G.shape)
    both = debiased(Z, 0.7 * G, Y)
    for k in range(2):
        alone = debiased(Z, 0.7 * G[:, k : k + 1], Y[:, k : k + 1])
        for key in both:
            np.testing.assert_allclose(both[key][k], alone[key][0], rtol=1e-6)


@given(seed=st.integers(0, 2**16), frequency=st.floats(0.05, 0.95), ploidy=st.sampled_from([1, 2]))
@settings(max_examples=25, deadline=None)
def test_pair_variances_are_those_of_the_centred_terms(seed, frequency, ploidy):
    """From raw streamed moments: the variance of (z_i - zbar_i)(z_j - zbar_j) off the
    diagonal and, on it, that of (z_i - zbar_i)^2 left after regressing it on z_i."""
    rng = np.random.default_rng(seed)
    Z = rng.binomial(ploidy, frequency, size=(300, 4)) * (2.0 / ploidy) - 1.0
    m = moments_of(Z, np.zeros((len(Z), 1, 4)))
    Zc = Z - Z.mean(axis=0)
    expected = (Zc[:, :, None] * Zc[:, None, :]).var(axis=0)
    for i in range(4):
        square = Zc[:, i] ** 2
        if Zc[:, i].var() > 0:
            slope = np.mean(square * Zc[:, i]) / Zc[:, i].var()
            expected[i, i] = (square - slope * Zc[:, i]).var()
        if ploidy == 1 or expected[i, i] < 1e-9:
            expected[i, i] = 0.0
    np.testing.assert_allclose(build_design(m).pair_var, expected, atol=1e-10)


def test_network_components_warn_where_the_parts_exceed_the_whole():
    """An exact ELM whose coefficients average to additive effects while its output is 0
    (``s_n = a - (a . z_n) z_n / |z_n|^2``, so ``f = s . z = 0``): V_A exceeds V_G = 0, which
    no trait allows, and the network's components say so; a consistent network does not."""
    rng = np.random.default_rng(0)
    Z = rng.choice([-1.0, 1.0], size=(400, 6))
    a = np.array([1.0, 0.5, 0.0, 0.0, 0.0, 0.0])

    def components(S):
        F = np.einsum("ni,ni->n", S, Z)[:, None]
        m = update_moments(init_moments(6, 1), Z, F, S[:, None, :])
        state = FitState(m, build_design(m), [], lambda: [Z], np.array([1.0]))
        return COMPONENT_ESTIMATORS["network"](state, *EFFECT_ESTIMATORS["regression"](state))

    with pytest.warns(UserWarning, match="do not add up"):
        vc = components(a - (Z @ a)[:, None] * Z / 6.0)
    assert vc.additive[0] > 0.5 and abs(vc.genetic[0]) < 1e-12
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        vc = components(np.broadcast_to(a, Z.shape))  # f = a . z: parts and whole agree
    assert vc.additive[0] == pytest.approx(vc.genetic[0])


@pytest.mark.parametrize("values", [(-1.0, 0.0, 1.0), (-1.0, 1.0), (0.0, 1.0, 2.0),
                                    (-0.4, 0.6, 1.6)])
def test_input_sums_are_the_plain_products(values):
    """The p x p sums equal the float64 products whatever the codes: to the bit where
    float32 products are exact (small integer codes), to round-off elsewhere."""
    rng = np.random.default_rng(0)
    Z = rng.choice(values, size=(300, 40))
    Z[5, 3] = 0.37  # an imputed value in the second batch only
    m = init_moments(40, 1)
    for rows in (slice(0, 4), slice(4, 300)):
        update_moments(m, Z[rows], np.zeros((len(Z[rows]), 1)), np.zeros((len(Z[rows]), 1, 40)))
    Z2, indicator = Z**2, (Z != 0).astype(float)
    for name, (A, B) in {"zz": (Z, Z), "z2z2": (Z2, Z2), "z2z": (Z2, Z),
                         "nzz": (indicator, Z)}.items():
        np.testing.assert_allclose(m[name], A.T @ B, rtol=1e-12, atol=1e-12, err_msg=name)
    exact = init_moments(40, 1)
    W = np.rint(np.clip(Z, -2, 2))
    update_moments(exact, W, np.zeros((300, 1)), np.zeros((300, 1, 40)))
    np.testing.assert_array_equal(exact.zz, W.T @ W)
    np.testing.assert_array_equal(exact.nzz, (W != 0).T.astype(float) @ W)


def test_a_constant_input_that_binary_fractions_cannot_hold_has_no_slopes():
    """1.3 is not exact in binary: the input's variance from the sums is round-off, which a
    pseudo-inverse would blow up into slopes of ~1e13 on an input that does not vary."""
    rng = np.random.default_rng(0)
    Z = rng.choice([-1.0, 1.0], size=(500, 6))
    Z[:, 4] = 1.3
    S = rng.standard_normal((500, 1, 6))
    m = update_moments(init_moments(6, 1), Z, (S[:, 0] * Z).sum(1)[:, None], S)
    design = build_design(m)
    assert design.var[4] == 0.0 and not design.C[4].any()
    slopes = conditional_slopes(m, design)
    assert not slopes.B[0, 4].any() and slopes.C_pinv_diag[4] == 0.0
    E, E_var = epistasis_regression(m, design, slopes, return_variance=True)
    assert np.abs(E_var).max() < 1.0
