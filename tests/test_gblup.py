"""Tests of GBLUPRegressor: REML against a dense brute force, rrBLUP identities, recovery.

Reference computations here are written independently of ``sklearn_elm._gblup``: dense
n x n kernels, the textbook REML likelihood with the projection matrix P, and the expected
(Fisher) information of REML for standard errors.
"""

import pickle

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.testing import assert_allclose
from scipy.optimize import minimize
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.linear_model import Ridge
from sklearn.model_selection import GridSearchCV, KFold, cross_validate
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer
from sklearn.utils._param_validation import InvalidParameterError

from sklearn_elm._gblup import GBLUPRegressor
from sklearn_elm._kernel_reml import kernel_reml_objective
from sklearn_elm._reml import _weighted_gram, reml_objective

KERNELS = ["additive", "additive+epistatic"]


# ---------------------------------------------------------------- reference computations
def vanraden(X):
    """K_A = Z Z^T / c with Z = X - mean, c = sum of column variances (mean diagonal 1)."""
    Z = X - X.mean(axis=0)
    return Z @ Z.T / np.sum(Z.var(axis=0))


def centred(K):
    """P K P / (trace(P K P) / n) with P = I - 1 1^T / n."""
    n = len(K)
    P = np.eye(n) - 1.0 / n
    Kc = P @ K @ P
    return Kc / (np.trace(Kc) / n)


def dense_reml(variances, kernels, y):
    """Textbook REML log-likelihood of y ~ N(mu 1, sum_k s2_k K_k + s2_E I).

    ``l = -1/2 [log|V| + log|1^T V^-1 1| + y^T P y + (n - 1) log 2 pi]`` with
    ``P = V^-1 - V^-1 1 (1^T V^-1 1)^-1 1^T V^-1``.
    """
    n = len(y)
    V = variances[-1] * np.eye(n) + sum(s * K for s, K in zip(variances[:-1], kernels, strict=True))
    Vi = np.linalg.inv(V)
    one = np.ones(n)
    Vi1 = Vi @ one
    xvx = one @ Vi1
    P = Vi - np.outer(Vi1, Vi1) / xvx
    return -0.5 * (np.linalg.slogdet(V)[1] + np.log(xvx) + y @ P @ y + (n - 1) * np.log(2 * np.pi))


def reml_standard_errors(variances, kernels, n):
    """Asymptotic SEs of REML variance estimates: I_ij = tr(P V_i P V_j) / 2 (expected)."""
    V = variances[-1] * np.eye(n) + sum(s * K for s, K in zip(variances[:-1], kernels, strict=True))
    Vi = np.linalg.inv(V)
    Vi1 = Vi.sum(axis=1)
    P = Vi - np.outer(Vi1, Vi1) / Vi1.sum()
    PK = [P @ K for K in [*kernels, np.eye(n)]]
    info = 0.5 * np.array([[np.sum(a * b.T) for b in PK] for a in PK])
    return np.sqrt(np.diag(np.linalg.inv(info)))


def fit_dense_reml(kernels, y):
    """Maximise dense_reml over log variances with scipy (brute force, small n only)."""
    start = np.full(len(kernels) + 1, np.log(np.var(y) / (len(kernels) + 1)))
    res = minimize(
        lambda t: -dense_reml(np.exp(t), kernels, y),
        start,
        method="Nelder-Mead",
        options={"xatol": 1e-9, "fatol": 1e-12, "maxiter": 20000, "maxfev": 20000},
    )
    return np.exp(res.x), -res.fun


def genotypes(rng, n, p, ploidy=2):
    X = rng.binomial(ploidy, rng.uniform(0.2, 0.8, size=p), size=(n, p)).astype(float)
    X[:2] = np.arange(2)[:, None] * ploidy  # no monomorphic locus, even for tiny n
    return X


def simulate(rng, X, s2_a, s2_aa, s2_e):
    """y = 3 + g_A + g_AA + e drawn from the model itself, with dense kernels."""
    n = len(X)
    K_a = vanraden(X)
    K_aa = centred(K_a * K_a)
    g = np.zeros(n)
    for s2, K in [(s2_a, K_a), (s2_aa, K_aa)]:
        if s2 > 0:
            w, U = np.linalg.eigh(K)
            g += U @ (np.sqrt(np.clip(w, 0, None) * s2) * rng.standard_normal(n))
    return 3.0 + g + np.sqrt(s2_e) * rng.standard_normal(n), K_a, K_aa


def components(model):
    vc = model.variance_components_
    return np.array([vc.additive, vc.epistatic, vc.residual])


# ---------------------------------------------------------------- the likelihood itself
@pytest.mark.parametrize("kernel, solver, n, p", [
    *[(kernel, solver, 60, 7) for kernel in KERNELS for solver in ("features", "kernel")],
    ("additive+epistatic", "kernel", 40, 90),  # more markers than samples: the factored form
])
def test_reml_matches_dense_brute_force(kernel, solver, n, p):
    """Our maximum and argmax equal those of the textbook dense REML, found by Nelder-Mead.

    The dense reference uses the *uncentred* Hadamard kernel K_A o K_A: REML only sees the
    complement of the intercept, so it must give the same likelihood once the variance is
    rescaled by the centred kernel's mean diagonal.  The L-form likelihood we report exceeds
    the textbook (Harville) form by log(n) / 2.
    """
    rng = np.random.default_rng(1)
    X = genotypes(rng, n, p)
    y, K_a, _ = simulate(rng, X, 1.0, 1.0 if kernel != "additive" else 0.0, 1.0)
    model = GBLUPRegressor(kernel, solver=solver).fit(X, y)
    if kernel == "additive":
        kernels, scale = [K_a], [1.0]
    else:
        K_had = K_a * K_a
        P = np.eye(n) - 1.0 / n
        kernels, scale = [K_a, K_had], [1.0, np.trace(P @ K_had @ P) / n]
    best, loglik = fit_dense_reml(kernels, y)
    ours = components(model)[[0, 1, 2] if kernel != "additive" else [0, 2]]
    assert_allclose(ours, best * np.array([*scale, 1.0]), rtol=2e-4, atol=1e-6)
    assert_allclose(model.log_likelihood_, loglik + 0.5 * np.log(n), rtol=0, atol=1e-6)


@pytest.mark.parametrize("two_kernels", [False, True])
def test_reml_objective_gradient(two_kernels):
    """The analytic gradient of the REML deviance equals central finite differences."""
    rng = np.random.default_rng(2)
    r, q = 12, 4
    args = [rng.uniform(0.1, 3, r), rng.standard_normal(r), 30.0, 40]
    if two_kernels:
        W = rng.standard_normal((r + 5, q))
        args += [rng.standard_normal((r, q)), W.T @ W, rng.standard_normal(q)]
    x = np.array([0.3, -0.7])[: 1 + two_kernels]
    _, grad = reml_objective(x, *args)
    eps = 1e-6
    fd = [
        (reml_objective(x + eps * e, *args)[0] - reml_objective(x - eps * e, *args)[0]) / (2 * eps)
        for e in np.eye(len(x))
    ]
    assert_allclose(grad, fd, rtol=1e-6, atol=1e-8)


def test_kernel_reml_objective_derivatives():
    """The n x n deviance is the textbook dense REML, and its gradient and Hessian equal
    central finite differences of its value and of its gradient, on and off a boundary.

    ``-2 l = f + log(n) + (n - 1) log(2 pi)`` for the REML log-likelihood ``l`` of
    :func:`dense_reml`, whose determinant includes the constant direction.
    """
    rng = np.random.default_rng(10)
    n = 25
    X = genotypes(rng, n, 40)
    y, K_a, K_aa = simulate(rng, X, 1.0, 1.0, 1.0)
    lam, U = np.linalg.eigh(K_aa)
    args = (np.clip(lam, 0, None), U.T @ K_a @ U, U.T @ (y - y.mean()))
    for s2 in ([0.7, 1.3, 0.4], [0.0, 2.0, 1e-3], [1.5, 0.0, 2.0]):
        f, grad, hess = kernel_reml_objective(s2, *args)
        textbook = -2 * dense_reml([s2[1], s2[0], s2[2]], [K_a, K_aa], y)
        assert_allclose(f + np.log(n) + (n - 1) * np.log(2 * np.pi), textbook, rtol=1e-10)
        eps = 1e-6 * np.eye(3)
        fd = [(kernel_reml_objective(s2 + e, *args)[0] - kernel_reml_objective(s2 - e, *args)[0])
              / 2e-6 for e in eps]
        fd_hess = [(kernel_reml_objective(s2 + e, *args)[1]
                    - kernel_reml_objective(s2 - e, *args)[1]) / 2e-6 for e in eps]
        assert_allclose(grad, fd, rtol=1e-5, atol=1e-6 * np.abs(grad).max())
        assert_allclose(hess, fd_hess, rtol=1e-5, atol=1e-6 * np.abs(hess).max())


@pytest.mark.parametrize("seed, zero", [(2, None), (0, 1), (10, 0)])
def test_kernel_form_reaches_brute_force_optimum(seed, zero):
    """With more markers than n / 3 (n x n kernels, Newton's method), the REML optimum is the
    textbook dense one found by Nelder-Mead, interior (seed 2) or on a bound (V_AA = 0 for
    seed 0, V_A = 0 for seed 10), where the component is exactly zero.

    Same reference and rescaling of the Hadamard kernel as the brute-force test above.
    """
    rng = np.random.default_rng(seed)
    n, p = 50, 100
    X = genotypes(rng, n, p)
    y, K_a, _ = simulate(rng, X, 1.0, 0.0, 1.0)
    model = GBLUPRegressor("additive+epistatic").fit(X, y)
    K_had = K_a * K_a
    P = np.eye(n) - 1.0 / n
    best, loglik = fit_dense_reml([K_a, K_had], y)
    scale = np.array([1.0, np.trace(P @ K_had @ P) / n, 1.0])
    assert_allclose(components(model), best * scale, rtol=2e-4, atol=1e-6)
    assert model.log_likelihood_ >= loglik + 0.5 * np.log(n) - 1e-8
    if zero is not None:
        assert components(model)[zero] == 0.0


@pytest.mark.filterwarnings("ignore:GBLUPRegressor.*solver=.features.:UserWarning")
def test_kernel_form_agrees_with_feature_form_past_n_over_3():
    """Past n / 3 markers the kernel solver runs on n x n kernels with Newton's method, the
    feature solver on the explicit pairwise products with L-BFGS-B: one model, one fit."""
    rng = np.random.default_rng(12)
    X = genotypes(rng, 45, 20)  # 20 markers > 45 / 3; 210 pairwise features
    Y = np.column_stack([simulate(rng, X, 1.0, 0.5, 1.0)[0] for _ in range(2)])
    a = GBLUPRegressor("additive+epistatic", solver="features").fit(X, Y)
    b = GBLUPRegressor("additive+epistatic", solver="kernel").fit(X, Y)
    assert_allclose(components(b), components(a), rtol=1e-5, atol=1e-7)
    assert_allclose(b.log_likelihood_, a.log_likelihood_, rtol=1e-10)
    assert_allclose(b.coef_, a.coef_, rtol=1e-5, atol=1e-8)
    assert_allclose(b.epistasis_matrix_, a.epistasis_matrix_, rtol=1e-5, atol=1e-8)
    X_new = genotypes(rng, 10, 20)
    assert_allclose(b.predict(X_new), a.predict(X_new), rtol=1e-6, atol=1e-8)


def test_weighted_gram_blocks():
    """Z^T diag(w) Z assembled from the blocks on and above its diagonal is the full product,
    exactly symmetric, also when the width is no multiple of the block."""
    rng = np.random.default_rng(11)
    Z, w = rng.standard_normal((7, 10)), rng.standard_normal(7)
    E = _weighted_gram(Z, w, block=3)
    assert_allclose(E, Z.T @ (w[:, None] * Z), rtol=1e-12, atol=1e-12)
    assert np.array_equal(E, E.T)


@pytest.mark.parametrize("kernel", KERNELS)
def test_feature_and_kernel_solvers_agree(kernel):
    """The m x m feature form and the n x n kernel form are one model, two eigenbases."""
    rng = np.random.default_rng(3)
    X = genotypes(rng, 80, 6)
    Y = np.column_stack([simulate(rng, X, 1.0, 0.5, 1.0)[0] for _ in range(2)])
    a = GBLUPRegressor(kernel, solver="features").fit(X, Y)
    b = GBLUPRegressor(kernel, solver="kernel").fit(X, Y)
    for fit in (a, b):  # no higher-order term: exactly 0, not a difference's round-off
        assert not np.any(fit.variance_components_.higher)
    for key in a.variance_components_:
        assert_allclose(
            a.variance_components_[key], b.variance_components_[key], rtol=1e-5, atol=1e-12
        )
    X_new = genotypes(rng, 10, 6)
    assert_allclose(a.predict(X_new), b.predict(X_new), rtol=1e-5, atol=1e-7)


# ---------------------------------------------------------------- rrBLUP identities
@pytest.mark.parametrize("solver", ["features", "kernel"])
def test_rrblup_identity(solver):
    """Additive GBLUP = ridge on the centred markers with alpha = c * s2_E / s2_A.

    c = sum_j var(X_j) is the kernel's scaling (K_A = Z Z^T / c); ``coef_`` is the ridge
    solution itself.
    """
    rng = np.random.default_rng(4)
    n, p = 120, 30 if solver == "features" else 200
    X = genotypes(rng, n, p)
    Y = np.column_stack([simulate(rng, X, s2, 0.0, 1.0)[0] for s2 in (0.5, 2.0)])
    model = GBLUPRegressor(solver=solver).fit(X, Y)
    vc = model.variance_components_
    c = np.sum(X.var(axis=0))
    assert_allclose(model.kernel_scale_, c)
    ridge = Ridge(alpha=c * vc.residual / vc.additive).fit(X - X.mean(axis=0), Y)
    X_new = genotypes(rng, 15, p)
    assert_allclose(model.predict(X_new), ridge.predict(X_new - X.mean(axis=0)), rtol=1e-7)
    assert_allclose(model.coef_, ridge.coef_, rtol=1e-6, atol=1e-10)


@pytest.mark.parametrize("solver, n, p", [("features", 90, 6), ("kernel", 90, 16),
                                          ("kernel", 30, 45)])  # p > n: the factored form
def test_epistatic_ridge_identity(solver, n, p):
    """A + AA GBLUP = ridge with alpha = s2_E on [Z sqrt(s2_A / c_A), F_c sqrt(s2_AA / c_AA)].

    F holds all p^2 ordered products z_i z_j (so F F^T = K o K with K = Z Z^T) and F_c its
    centred columns, c_AA = sum of their variances: no sqrt(2) bookkeeping.
    """
    rng = np.random.default_rng(5)
    X = genotypes(rng, n, p)
    y = simulate(rng, X, 1.0, 1.0, 1.0)[0]
    model = GBLUPRegressor("additive+epistatic", solver=solver).fit(X, y)
    vc = model.variance_components_
    mean = X.mean(axis=0)

    def features(X_):
        Z = X_ - mean
        return Z, np.einsum("ni,nj->nij", Z, Z).reshape(len(Z), -1)

    Z, F = features(X)
    F_mean = F.mean(axis=0)
    c_a, c_aa = np.sum(Z.var(axis=0)), np.sum(F.var(axis=0))
    scales = np.sqrt([vc.additive / c_a, vc.epistatic / c_aa])

    def stacked(X_):
        Z_, F_ = features(X_)
        return np.hstack([Z_ * scales[0], (F_ - F_mean) * scales[1]])

    ridge = Ridge(alpha=vc.residual).fit(stacked(X), y)
    X_new = genotypes(rng, 12, p)
    assert_allclose(model.predict(X_new), ridge.predict(stacked(X_new)), rtol=1e-6)
    assert_allclose(model.coef_, ridge.coef_[:p] * scales[0], rtol=1e-5, atol=1e-10)


def test_coding_invariance():
    """Haploid loci coded 0/1, 0/2 or -1/+1 give one kernel, one fit."""
    rng = np.random.default_rng(6)
    G = rng.integers(0, 2, size=(100, 12)).astype(float)
    y = G @ rng.standard_normal(12) + rng.standard_normal(100)
    fits = [GBLUPRegressor("additive+epistatic").fit(X, y) for X in (G, 2 * G, 2 * G - 1)]
    for other, X in zip(fits[1:], (2 * G, 2 * G - 1), strict=True):
        assert_allclose(components(other), components(fits[0]), rtol=1e-6)
        assert_allclose(other.predict(X), fits[0].predict(G), rtol=1e-8)


# ---------------------------------------------------------------- recovery of known truth
def assert_recovered(model, truth, kernels, n, z=4.5):
    """Each component within z asymptotic REML standard errors of the generating value.

    z = 4.5 keeps the family-wise false-alarm rate over every hypothesis example below
    under 1e-3 (two-sided normal tail 7e-6 per comparison); the SEs come from the expected
    information at the truth, not from the data.
    """
    se = reml_standard_errors(truth, kernels, n)
    keep = [0, 1, 2] if len(kernels) == 2 else [0, 2]
    est = components(model)[keep]
    assert np.all(np.abs(est - truth) <= z * se), (est, truth, se)
    vc = model.variance_components_
    assert_allclose(vc.genetic, vc.additive + vc.epistatic)
    assert_allclose(vc.phenotypic, vc.genetic + vc.residual)
    assert_allclose([vc.h2, vc.H2], [vc.additive / vc.phenotypic, vc.genetic / vc.phenotypic])


@settings(max_examples=12, deadline=None, derandomize=True)
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(150, 400), p=st.integers(20, 80))
def test_reml_recovers_additive_components(seed, n, p):
    """On data drawn from the additive model, REML lands within sampling error of the truth."""
    rng = np.random.default_rng(seed)
    X = genotypes(rng, n, p)
    y, K_a, _ = simulate(rng, X, 1.0, 0.0, 1.0)
    model = GBLUPRegressor().fit(X, y)
    assert_recovered(model, np.array([1.0, 1.0]), [K_a], n)


@settings(max_examples=8, deadline=None, derandomize=True)
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(200, 400), p=st.integers(8, 14))
def test_reml_recovers_epistatic_components(seed, n, p):
    """Same with g_A + g_AA: both kernels' variances and the residual within sampling error."""
    rng = np.random.default_rng(seed)
    X = genotypes(rng, n, p)
    y, K_a, K_aa = simulate(rng, X, 1.0, 1.0, 1.0)
    model = GBLUPRegressor("additive+epistatic").fit(X, y)
    assert_recovered(model, np.array([1.0, 1.0, 1.0]), [K_a, K_aa], n)


def test_recovers_simulator_truth():
    """Sparse additive + pairwise effects (make_epistatic_phenotypes): V_A = V_AA = 0.5, V_E = 1.

    The simulator scales the realised genetic parts exactly, so the only error is REML's;
    the model-based SE (at the truth) bounds it conservatively.  The epistatic variance must
    also be detected: more than 3 SE above zero (SE(V_AA) ~ 0.08 here).
    """
    datasets = pytest.importorskip("sklearn_elm.datasets")
    n, p = 1500, 16
    data = datasets.make_epistatic_phenotypes(n, p, h2=0.5, epistatic_ratio=1.0, random_state=0)
    X, y = data.genotypes.astype(float), data.phenotypes[:, 0]
    model = GBLUPRegressor("additive+epistatic").fit(X, y)
    K_a = vanraden(X)
    truth = np.array([0.5, 0.5, np.var(y - data.genetic_values[:, 0])])
    kernels = [K_a, centred(K_a * K_a)]
    assert_recovered(model, truth, kernels, n)
    se_aa = reml_standard_errors(truth, kernels, n)[1]
    assert model.variance_components_.epistatic > 3 * se_aa


# ---------------------------------------------------------------- errors
def test_errors():
    rng = np.random.default_rng(7)
    X = genotypes(rng, 20, 5)
    y = rng.standard_normal(20)
    with pytest.raises(ValueError, match="y is constant"):
        GBLUPRegressor().fit(X, np.full(20, 2.5))
    with pytest.raises(ValueError, match="output 1"):
        GBLUPRegressor().fit(X, np.column_stack([y, np.ones(20)]))
    with pytest.raises(ValueError, match="1 sample.*minimum of 2"):
        GBLUPRegressor().fit(X[:1], y[:1])
    # too few error contrasts for the variances: a number from 2 samples was noise
    with pytest.raises(ValueError, match="2 samples: REML estimates 2 variances .* at least 3"):
        GBLUPRegressor().fit(X[:2], y[:2])
    with pytest.raises(ValueError, match="3 samples: REML estimates 3 variances .* at least 4"):
        GBLUPRegressor("additive+epistatic").fit(X[:3], y[:3])
    X_nan = X.copy()
    X_nan[3, 2] = np.nan
    fix = "first at locus 2.*imputed before GBLUP, e.g. with GenotypeEncoder"
    with pytest.raises(ValueError, match=fix):  # named, with the fix: a missing call
        GBLUPRegressor().fit(X_nan, y)
    with pytest.raises(ValueError, match=fix):
        GBLUPRegressor().fit(X, y).predict(X_nan)
    with pytest.raises(ValueError, match="NaN"):
        GBLUPRegressor().fit(X, np.where(np.arange(20) == 4, np.nan, y))
    with pytest.raises(ValueError, match=r"y is too large for REML: .* output\(s\) \[0\].*Rescale"):
        GBLUPRegressor().fit(X, y * 1e160)  # its variance overflows: no silent NaN
    with pytest.raises(ValueError, match=r"y is too small: the variance of output 0 .*Rescale"):
        GBLUPRegressor().fit(X, y * 1e-40)  # its standard errors would underflow: no silent 0
    with pytest.raises(ValueError, match=r"y is constant \(output 0\)"):
        GBLUPRegressor().fit(X, np.full(20, 1e-139 / 3))  # constant first: rescaling won't help
    small = GBLUPRegressor().fit(X, y * 1e-15)  # a small scale is not a constant
    unit = GBLUPRegressor().fit(X, y)
    assert_allclose(small.variance_components_.h2, unit.variance_components_.h2, rtol=1e-6)
    with pytest.raises(ValueError, match="every marker in X is constant"):
        GBLUPRegressor().fit(np.ones((20, 5)), y)
    with pytest.raises(NotFittedError):
        GBLUPRegressor().predict(X)
    with pytest.raises(InvalidParameterError):
        GBLUPRegressor(kernel="dominance").fit(X, y)
    with pytest.raises(ValueError, match="features"):
        GBLUPRegressor().fit(X, y).predict(X[:, :4])


def test_feature_solver_past_the_samples_warns_or_refuses(monkeypatch):
    """solver="features" with more features than samples eigendecomposes an m x m matrix
    (O(m^3)) where the kernel's n x n one gives the same fit: a warning naming the fix, and a
    MemoryError with the size where the m x m matrices would not fit, before any work."""
    rng = np.random.default_rng(0)
    X, y = rng.integers(0, 3, size=(20, 8)).astype(float), rng.normal(size=20)
    with pytest.warns(UserWarning, match=r"36 x 36 Gram matrix .* solver='kernel'"):
        features = GBLUPRegressor("additive+epistatic", solver="features").fit(X, y)
    kernel = GBLUPRegressor("additive+epistatic", solver="kernel").fit(X, y)
    np.testing.assert_allclose(features.predict(X), kernel.predict(X), atol=1e-6)
    monkeypatch.setattr("sklearn_elm._gblup.available_memory", lambda: 10_000)
    with pytest.raises(MemoryError, match=r"36 x 36 .*GiB, but .*GiB is available"):
        GBLUPRegressor("additive+epistatic", solver="features").fit(X, y)
    GBLUPRegressor("additive+epistatic").fit(X, y)  # "auto" takes the kernel: no refusal


# ---------------------------------------------------------------- scikit-learn contract
@pytest.mark.parametrize("kernel", KERNELS)
def test_multioutput_equals_separate_fits(kernel):
    rng = np.random.default_rng(8)
    X = genotypes(rng, 70, 8)
    Y = np.column_stack([simulate(rng, X, 1.0, 0.5, 1.0)[0] for _ in range(3)])
    joint = GBLUPRegressor(kernel).fit(X, Y)
    assert joint.predict(X).shape == (70, 3)
    assert joint.coef_.shape == (3, 8)
    assert joint.variance_components_.h2.shape == (3,)
    for k in range(3):
        single = GBLUPRegressor(kernel).fit(X, Y[:, k])
        assert isinstance(single.variance_components_.h2, float)
        assert_allclose(joint.predict(X)[:, k], single.predict(X), rtol=1e-6)
        assert_allclose(
            joint.variance_components_.additive[k], single.variance_components_.additive, rtol=1e-6
        )
    column = GBLUPRegressor(kernel).fit(X, Y[:, :1])
    assert column.predict(X).shape == (70, 1)


def test_pipeline_gridsearch_cross_validate_clone_pickle():
    """In a Pipeline, GridSearchCV and cross_validate the model learns, and it clones and pickles.

    The target is additive, ``y = 3 + X beta + e`` with Var(X beta) about 5 and Var(e) = 0.25,
    so a working model predicts held-out samples far better than chance (r2 0): each mean
    held-out r2 must exceed 0.5 (it is about 0.78 here).
    """
    rng = np.random.default_rng(9)
    X = genotypes(rng, 90, 10)
    y = 3.0 + X @ rng.standard_normal(10) + 0.5 * rng.standard_normal(90)
    # recoding the markers affinely inside a pipeline changes nothing
    pipe = make_pipeline(FunctionTransformer(lambda A: 2 * A - 1), GBLUPRegressor())
    assert_allclose(pipe.fit(X, y).predict(X), GBLUPRegressor().fit(X, y).predict(X))
    assert np.mean(cross_validate(pipe, X, y, cv=3)["test_score"]) > 0.5
    search = GridSearchCV(GBLUPRegressor(), {"kernel": KERNELS}, cv=KFold(3)).fit(X, y)
    # each kernel's score is its own model's (a kernel parameter ignored gives equal scores)
    assert len(set(search.cv_results_["mean_test_score"])) == len(KERNELS)
    assert np.all(search.cv_results_["mean_test_score"] > 0.5)
    scores = cross_validate(GBLUPRegressor("additive+epistatic"), X, y, cv=3)
    assert np.mean(scores["test_score"]) > 0.5
    model = GBLUPRegressor("additive+epistatic", solver="kernel").fit(X, y)
    twin = clone(model)
    assert twin.get_params() == model.get_params()
    assert not hasattr(twin, "coef_")
    restored = pickle.loads(pickle.dumps(model))
    assert_allclose(restored.predict(X), model.predict(X))
