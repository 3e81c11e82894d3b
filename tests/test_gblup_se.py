"""Standard errors of GBLUPRegressor's variance components (``variance_components_se_``).

The reference computations are written here from scratch, on dense n x n kernels: the
textbook REML likelihood with the projection matrix P, and finite differences.
"""

import numpy as np
import pytest
from numpy.testing import assert_allclose
from threadpoolctl import threadpool_limits

from sklearn_elm import GBLUPRegressor


@pytest.fixture(autouse=True)
def one_blas_thread():
    """Every matrix here is small: BLAS threads would only thrash on a loaded machine."""
    with threadpool_limits(limits=1, user_api="blas"):
        yield


def genotypes(rng, n, p):
    return rng.binomial(2, rng.uniform(0.2, 0.8, size=p), size=(n, p)).astype(float)


def kernels(X):
    """VanRaden K_A (mean diagonal 1) and the centred Hadamard square K_AA, scaled alike."""
    Z = X - X.mean(axis=0)
    K_a = Z @ Z.T / np.sum(Z.var(axis=0))
    P = np.eye(len(X)) - 1.0 / len(X)
    K_aa = P @ (K_a * K_a) @ P
    return K_a, K_aa / (np.trace(K_aa) / len(X))


def draw(rng, K, s2):
    """One draw of N(0, s2 K)."""
    w, U = np.linalg.eigh(K)
    return U @ (np.sqrt(np.clip(w, 0.0, None) * s2) * rng.standard_normal(len(K)))


def expected_reml(variances, kernel_list, V0):
    """E_0[l(sigma; y)] for y ~ N(mu 1, V0), up to a constant:
    ``-1/2 [log|V| + log(1^T V^-1 1) + tr(P V0)]``, because ``E_0[y^T P y] = tr(P V0)``
    (``P 1 = 0``)."""
    n = len(V0)
    V = variances[-1] * np.eye(n) + sum(s * K for s, K in zip(variances, kernel_list,
                                                                strict=False))
    Vi = np.linalg.inv(V)
    Vi1 = Vi.sum(axis=1)
    P = Vi - np.outer(Vi1, Vi1) / Vi1.sum()
    return -0.5 * (np.linalg.slogdet(V)[1] + np.log(Vi1.sum()) + np.sum(P * V0))


def numerical_information(variances, kernel_list, rel_step=1e-3):
    """Expected information of REML at sigma_0 as minus the Hessian of E_0[l] at sigma_0
    (the expectation of the Hessian is the Hessian of the expectation), by central second
    differences."""
    s0 = np.asarray(variances, dtype=float)
    V0 = s0[-1] * np.eye(len(kernel_list[0])) + sum(
        s * K for s, K in zip(s0, kernel_list, strict=False))
    k = len(s0)
    steps = rel_step * s0
    info = np.empty((k, k))
    for i in range(k):
        for j in range(k):
            total = 0.0
            for a, b, sign in [(1, 1, 1), (1, -1, -1), (-1, 1, -1), (-1, -1, 1)]:
                s = s0.copy()
                s[i] += a * steps[i]
                s[j] += b * steps[j]
                total += sign * expected_reml(s, kernel_list, V0)
            info[i, j] = -total / (4 * steps[i] * steps[j])
    return info


def delta_se(variances, covariance):
    """SEs of V_A, V_P, h2 (and V_AA, H2 with three parameters) from the covariance of the
    variances ``(V_A, [V_AA,] V_E)``, by the delta method written out per component."""
    v = np.asarray(variances, dtype=float)
    v_p = v.sum()
    grads = {"additive": np.eye(len(v))[0], "residual": np.eye(len(v))[-1],
             "phenotypic": np.ones(len(v))}
    grads["h2"] = -v[0] / v_p**2 * np.ones(len(v))
    grads["h2"][0] += 1.0 / v_p
    if len(v) == 3:
        grads["epistatic"] = np.eye(3)[1]
        grads["genetic"] = np.array([1.0, 1.0, 0.0])
        grads["H2"] = -(v[0] + v[1]) / v_p**2 * np.ones(3)
        grads["H2"][:2] += 1.0 / v_p
    return {key: np.sqrt(g @ covariance @ g) for key, g in grads.items()}


#: (kernel, solver, n_samples, n_loci): every place the likelihood is evaluated in
PATHS = [
    ("additive", "features", 80, 12),  # eigenbasis of the p x p Gram matrix
    ("additive", "kernel", 80, 12),  # eigenbasis of the n x n kernel
    ("additive+epistatic", "features", 120, 6),  # pairwise features' Gram + Woodbury
    ("additive+epistatic", "kernel", 120, 30),  # n x n K_AA + Woodbury (p <= n / 3)
    ("additive+epistatic", "kernel", 100, 50),  # both kernels n x n, Newton (p > n / 3)
]


def simulated(seed, kernel, n, p):
    """Genotypes, both kernels and y drawn from the model with every variance 1."""
    rng = np.random.default_rng(seed)
    X = genotypes(rng, n, p)
    K_a, K_aa = kernels(X)
    y = draw(rng, K_a, 1.0) + rng.normal(size=n)
    if kernel == "additive+epistatic":
        y += draw(rng, K_aa, 1.0)
    return X, y, K_a, K_aa


@pytest.mark.parametrize(("kernel", "solver", "n", "p"), PATHS)
def test_standard_errors_equal_the_numerical_information(kernel, solver, n, p):
    """On every path, each reported SE equals the delta-method SE from the inverse of the
    expected REML information computed independently: minus the numerical Hessian of the
    expected REML log-likelihood on dense kernels, at the fitted variances (to 1e-4)."""
    X, y, K_a, K_aa = simulated(4, kernel, n, p)
    epistatic = kernel == "additive+epistatic"
    model = GBLUPRegressor(kernel, solver=solver).fit(X, y)
    vc, se = model.variance_components_, model.variance_components_se_
    if epistatic:
        fitted, kernel_list = [vc.additive, vc.epistatic, vc.residual], [K_a, K_aa]
        assert min(fitted) > 0.05  # an interior optimum, where the finite differences fit
    else:
        fitted, kernel_list = [vc.additive, vc.residual], [K_a]
    covariance = np.linalg.inv(numerical_information(fitted, kernel_list))
    expected = delta_se(fitted, covariance)
    for key, value in expected.items():
        assert_allclose(se[key], value, rtol=1e-4, err_msg=key)
    if not epistatic:
        assert np.isnan(se.epistatic) and se.genetic == se.additive
    assert np.isnan(se.higher)
    assert sorted(se) == sorted(vc)


def contrast_traces(variances, kernel_list):
    """``tr(P K_k P K_l)`` in closed form: ``P`` is ``V^-1`` on the n - 1 error contrasts
    (an orthonormal basis ``Q`` of the complement of the constant), where it stays finite
    as ``s2_E`` goes to 0."""
    n = len(kernel_list[0])
    Q = np.linalg.qr(np.eye(n) - 1.0 / n)[0][:, : n - 1]
    Ks = [Q.T @ K @ Q for K in [*kernel_list, np.eye(n)]]
    PK = [np.linalg.solve(sum(s * K for s, K in zip(variances, Ks, strict=True)), K) for K in Ks]
    return np.array([[np.sum(a * b.T) for b in PK] for a in PK])


@pytest.mark.parametrize(("n", "p", "seed", "simulated_kernel"), [
    (120, 30, 1, "additive"),  # Woodbury form, V_AA = 0
    (90, 25, 11, "additive+epistatic"),  # Woodbury form, V_A = 0
    (100, 50, 2, "additive+epistatic"),  # both kernels n x n, V_AA = 0
    (100, 50, 9, "additive+epistatic"),  # both kernels n x n, V_E = 0
])
def test_standard_errors_on_a_boundary(n, p, seed, simulated_kernel):
    """With a variance estimated at 0 the information is not singular, and the SEs are
    still the delta-method SEs of its inverse: checked against the closed-form traces on
    the error contrasts (to 1e-8), also where V_E = 0 leaves the variance ratios near
    1e8."""
    X, y, K_a, K_aa = simulated(seed, simulated_kernel, n, p)
    model = GBLUPRegressor("additive+epistatic", solver="kernel").fit(X, y)
    vc = model.variance_components_
    fitted = [vc.additive, vc.epistatic, vc.residual]
    assert min(fitted) < 1e-6 * max(fitted)  # the case this test is for
    covariance = np.linalg.inv(contrast_traces(fitted, [K_a, K_aa]) / 2)
    for key, value in delta_se(fitted, covariance).items():
        assert_allclose(model.variance_components_se_[key], value, rtol=1e-8, err_msg=key)


def test_h2_standard_error_is_calibrated():
    """Over 60 data sets of 300 samples drawn from the additive model (h2 = 0.5): the mean
    reported SE of h2 is within 25 % of the spread (SD) of the estimates, and the 95 %
    Wald intervals cover the true h2 in 85 % of the data sets or more (expected 95 %).

    60 rather than 40 data sets: the SD of 60 estimates is itself uncertain by about 9 %,
    so that 25 % is a test of the SE rather than of the seed."""
    rng = np.random.default_rng(11)
    n, p, n_sets = 300, 50, 60
    h2, se = np.empty(n_sets), np.empty(n_sets)
    for k in range(n_sets):
        X = genotypes(rng, n, p)
        Z = X - X.mean(axis=0)
        W = Z / np.sqrt(np.sum(Z.var(axis=0)))  # K_A = W W^T, mean diagonal 1
        y = W @ rng.standard_normal(p) + rng.standard_normal(n)  # s2_A = s2_E = 1
        model = GBLUPRegressor(solver="features").fit(X, y)
        h2[k], se[k] = model.variance_components_.h2, model.variance_components_se_.h2
    spread = h2.std(ddof=1)
    assert abs(se.mean() / spread - 1.0) < 0.25, (se.mean(), spread)
    assert np.mean(np.abs(h2 - 0.5) <= 1.96 * se) >= 0.85


def test_multioutput_standard_errors_are_those_of_each_output():
    """With 2-D y, every SE is an array of shape (n_outputs,) whose entries are the SEs of
    each column fitted alone."""
    rng = np.random.default_rng(4)
    X = genotypes(rng, 100, 8)
    K_a, K_aa = kernels(X)
    Y = np.stack([draw(rng, K_a, s) + draw(rng, K_aa, 0.5) + rng.normal(size=100)
                  for s in (0.5, 2.0)], axis=1)
    model = GBLUPRegressor("additive+epistatic").fit(X, Y)
    for key, value in model.variance_components_se_.items():
        assert value.shape == (2,), key
        for k in range(2):
            alone = GBLUPRegressor("additive+epistatic").fit(X, Y[:, k])
            assert_allclose(value[k], alone.variance_components_se_[key], rtol=1e-8,
                            err_msg=key)


def test_dask_standard_errors_equal_in_memory():
    """A dask array (chunked over samples and loci) gives the in-memory SEs to round-off,
    on the pairwise-feature, Woodbury and dense n x n paths."""
    da = pytest.importorskip("dask.array")
    dask = pytest.importorskip("dask")
    rng = np.random.default_rng(5)
    for n, p in [(90, 8), (90, 20), (90, 40)]:
        X = genotypes(rng, n, p)
        y = X @ rng.normal(scale=0.3, size=p) + rng.normal(size=n)
        expected = GBLUPRegressor("additive+epistatic", solver="kernel" if p > 8 else "auto")
        expected.fit(X, y)
        with dask.config.set(scheduler="synchronous"):
            fitted = GBLUPRegressor(expected.kernel, solver=expected.solver).fit(
                da.from_array(X, chunks=(40, 7)), y)
        for key, value in expected.variance_components_se_.items():
            assert_allclose(fitted.variance_components_se_[key], value, rtol=1e-8,
                            err_msg=f"{key} at p = {p}")


def test_unidentified_variances_have_nan_standard_errors():
    """One marker per sample makes K_A the centring projector, the identity on the error
    contrasts: V_A and V_E are not separately identified, the information is singular, and
    every SE is NaN (the point estimates are still reported)."""
    n = 40
    X = np.eye(n)
    y = np.random.default_rng(6).standard_normal(n)
    model = GBLUPRegressor().fit(X, y)
    assert all(np.isnan(value) for value in model.variance_components_se_.values())
    assert np.isfinite(model.variance_components_.phenotypic)
