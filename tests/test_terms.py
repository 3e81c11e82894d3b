"""The screened fit's design made a block of samples at a time
(sklearn_elm._decomposition._terms)."""

import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sklearn_elm._decomposition import _scan, _terms
from sklearn_elm._decomposition._codes import columns as code_columns
from sklearn_elm._decomposition._codes import compact
from sklearn_elm._decomposition._lstsq import least_squares
from sklearn_elm._decomposition._scan import _genotypes
from sklearn_elm._decomposition._screening import screened_fit
from sklearn_elm._decomposition._terms import Terms


def _panel(seed, n=240, p=12, missing=0.03):
    """Diploid codes -1/0/+1 with imputed missing calls (off the integers)."""
    rng = np.random.default_rng(seed)
    Z = rng.binomial(2, rng.uniform(0.1, 0.6, p), size=(n, p)) - 1.0
    Z[rng.random(Z.shape) < missing] = np.nan
    return np.where(np.isnan(Z), np.nanmean(Z, axis=0), Z)


def _explicit(Z, loci, pairs):
    """The design written out column by column from its definition."""
    zc = Z - Z.mean(axis=0)
    columns = [zc[:, i] for i in loci]
    for i, j in pairs:
        if i == j:  # the square less its regression on the input, centred
            z = zc[:, i]
            w = z * z - (z**3).mean() / (z * z).mean() * z
        else:
            w = zc[:, i] * zc[:, j]
        columns.append(w - w.mean())
    return np.column_stack(columns)


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 10**6), entries=st.integers(1, 4000), codes=st.booleans(),
       cached=st.booleans())
def test_streamed_design_equals_its_definition(seed, entries, codes, cached):
    """Whatever the blocks of rows (down to one row), kept whole or made a block at a time,
    from int8 codes with corrections or from floats: the columns, ``X @ B``, ``X^T V``, the
    Gram matrix (also extending a known block) and the products with another design equal
    those of the design written out."""
    Z = _panel(seed)
    rng = np.random.default_rng(seed)
    loci = rng.permutation(Z.shape[1])[:5]
    pairs = [(1, 4), (3, 3), (0, 7), (9, 9)]
    G = _genotypes(compact(Z) if codes else Z, False)
    Z = code_columns(G.Z, slice(None))  # as kept: float inputs in float32
    truth = _explicit(Z, loci, pairs)
    saved = _terms.CACHE_BYTES, _terms.BLOCK_ENTRIES
    _terms.CACHE_BYTES, _terms.BLOCK_ENTRIES = (2**28 if cached else 0), entries
    try:
        X = Terms(G, loci, pairs)
        B, V = rng.normal(size=(X.shape[1], 2)), rng.normal(size=(len(Z), 3))
        tol = dict(rtol=1e-10, atol=1e-10 * len(Z))
        np.testing.assert_allclose(X.columns(), truth, rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(X @ B, truth @ B, **tol)
        np.testing.assert_allclose(X.T @ V, truth.T @ V, **tol)
        np.testing.assert_allclose(X.gram(), truth.T @ truth, **tol)
        known = Terms(G, loci[:3]).gram()
        np.testing.assert_allclose(X.gram(known=known), truth.T @ truth, **tol)
        other = Terms(G, [], [(2, 5), (6, 6)])
        C = _explicit(Z, [], [(2, 5), (6, 6)])
        cross = X.cross(other, V)
        for got, want in ((cross.XC, truth.T @ C), (cross.CC, C.T @ C), (cross.CV, C.T @ V),
                          (cross.XV, truth.T @ V)):
            np.testing.assert_allclose(got, want, **tol)
        squares = X.cross(other, full=False).CC
        np.testing.assert_allclose(squares, (C * C).sum(axis=0), **tol)
        keep = np.array([0, 2, 5, 7])
        np.testing.assert_allclose(X.select(keep).columns(), truth[:, keep], atol=1e-12)
        np.testing.assert_allclose(X.extend([(2, 5), (6, 6)]).columns(),
                                   np.hstack([truth, C]), atol=1e-12)
    finally:
        _terms.CACHE_BYTES, _terms.BLOCK_ENTRIES = saved


def test_residual_variance_from_the_gram_matrix_survives_an_exact_fit():
    """Where the columns fit ``y`` exactly, the residual sum of squares from the Gram matrix
    is round-off of either sign; it is then summed from the residual itself: the noise
    variance is a tiny non-negative number, as numpy's least squares gives."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 4))
    X -= X.mean(axis=0)
    y = X @ [1.0, -2.0, 0.5, 3.0]
    fit = least_squares(X, y, y)
    left = y - X @ fit.y  # the ridge's round-off
    assert fit.sigma2 == pytest.approx(left @ left / (200 - 1 - fit.df), rel=1e-6)
    assert 0.0 < fit.sigma2 < 1e-15 * y.var()
    noisy = y + rng.normal(size=200)
    noisy -= noisy.mean()
    fit = least_squares(X, noisy, noisy)
    left = noisy - X @ np.linalg.lstsq(X, noisy, rcond=None)[0]
    assert fit.sigma2 == pytest.approx(left @ left / (200 - 1 - 4), rel=1e-9)


def _ld_fit(n=3000, p=300, seed=0):
    """A panel of neighbouring loci in linkage with two pairs, and a network's fit of it."""
    rng = np.random.default_rng(seed)
    Z = rng.choice([-1.0, 1.0], size=(n, p))
    flip = rng.random((n, p)) < 0.15
    for c in range(1, p):  # each locus copies its neighbour but for 15 % of samples
        Z[:, c] = np.where(flip[:, c], Z[:, c], Z[:, c - 1])
    g = Z[:, 10] - 0.6 * Z[:, 80] + 0.5 * Z[:, 30] * Z[:, 150] + 0.4 * Z[:, 200] * Z[:, 250]
    y = g + rng.normal(size=n)
    F = (0.7 * g + 0.1 * rng.normal(size=n))[:, None]
    F -= F.mean(axis=0)
    return Z, F, y[:, None] - y.mean() - F, np.array([y.var()])


def _flat(fit):
    out = {"additive": fit.additive, "marginal_p": fit.marginal_p,
           "additive_se": fit.additive_se, "additive_p": fit.additive_p,
           "additive_estimate": fit.additive_estimate}
    for key, value in fit.components.items():
        out[f"components.{key}"] = value
    for key, value in fit.components_se.items():
        out[f"se.{key}"] = value
    for o, tests in enumerate(fit.pair_tests):
        for key in ("pairs", "estimate", "std_error", "p_value"):
            out[f"tests.{o}.{key}"] = tests[key]
    for o in range(len(fit.pairs)):
        out[f"pairs.{o}"] = fit.pairs[o]
        out[f"effects.{o}"] = fit.pair_effects[o]
    return out


@pytest.mark.parametrize("codes", [False, True], ids=["floats", "codes"])
def test_screened_fit_streamed_over_samples_equals_the_fit_in_memory(monkeypatch, codes):
    """The screened fit with its design made a few hundred samples at a time (and every
    temporary of the scans a few columns wide) gives the fit of the design kept whole:
    the same loci, pairs and tests, and the same numbers to round-off."""
    Z, F, R, vp = _ld_fit()
    if codes:
        Z = Z.copy()
        Z[np.random.default_rng(2).random(Z.shape) < 0.02] = 0.3  # corrections beside codes
        Z = compact(Z)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        whole = _flat(screened_fit(Z, F, R, vp))
        monkeypatch.setattr(_terms, "CACHE_BYTES", 0)
        monkeypatch.setattr(_terms, "BLOCK_ENTRIES", 2**17)
        monkeypatch.setattr(_scan, "BLOCK_BYTES", 2**15)
        monkeypatch.setattr(_scan, "SCAN_BLOCK_BYTES", 2**17)
        streamed = _flat(screened_fit(Z, F, R, vp))
    assert len(streamed["tests.0.pairs"]) > 1000 - 1
    for key, value in whole.items():
        if value.dtype.kind in "iu":
            np.testing.assert_array_equal(streamed[key], value, err_msg=key)
        else:
            np.testing.assert_allclose(streamed[key], value, rtol=1e-8,
                                       atol=1e-10 * np.nanmax(np.abs(value), initial=1.0),
                                       err_msg=key)


def test_streamed_screened_fit_holds_no_design_of_every_sample(monkeypatch):
    """Made a block of samples at a time, the screened fit's traced peak beside the scans'
    columns and its m x m matrices is a small share of the ``8 n m`` bytes its design
    would take whole, also where 10 % of the genotypes are imputed calls kept as
    corrections."""
    import tracemalloc

    Z, F, R, vp = _ld_fit(n=4000, p=600, seed=1)
    Z[np.random.default_rng(1).random(Z.shape) < 0.1] = 0.25  # imputed calls: corrections
    Z = compact(Z)
    monkeypatch.setattr(_terms, "CACHE_BYTES", 0)
    monkeypatch.setattr(_terms, "BLOCK_ENTRIES", 2**16)
    monkeypatch.setattr(_scan, "BLOCK_BYTES", 2**18)
    monkeypatch.setattr(_scan, "SCAN_BLOCK_BYTES", 2**20)
    n, p = Z.shape
    n_loci, n_pairs = _scan.term_budget(n, p)
    m = min(n_loci, p) + n_pairs
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        tracemalloc.start()
        try:
            start = tracemalloc.get_traced_memory()[0]
            fit = screened_fit(Z, F, R, vp, overwrite_z=True)
            peak = tracemalloc.get_traced_memory()[1] - start
        finally:
            tracemalloc.stop()
    # the scans' float32 columns, four m x m matrices, one copy of the corrections by row,
    # and the joint tests' products of the c pairs kept with the model's terms and one another
    c = fit.pair_tests[0].p_value.size
    held = (4 * n * p + 4 * 8 * m**2 + Z.rows.nbytes + Z.cols.nbytes + Z.delta.nbytes
            + 8 * (m + c) * c)
    assert peak - held < 8 * n * m / 4


@pytest.mark.parametrize("scan_bytes", [2**28, 2**12], ids=["one block", "blocks"])
def test_the_scan_of_pairs_is_the_exhaustive_ranking(monkeypatch, scan_bytes):
    """The scan returns the pairs ``i < j`` of largest ``|x_ij . r| / |x_ij|`` over every
    pair, largest first, less those taken, whatever its blocks; equal scores (here a locus and
    its exact copy, paired with the same partner) in the order of their loci."""
    from sklearn.utils import Bunch

    rng = np.random.default_rng(0)
    n, L = 300, 40
    Z = rng.choice([0.0, 1.0, 2.0], size=(n, L)).astype(np.float32)
    Z[:, 30] = Z[:, 3]  # an exact copy: (3, j) and (30, j) tie for every partner j
    Zc = Z - Z.mean(axis=0)
    r = Zc[:, 3] * Zc[:, 35] + 0.5 * Zc[:, 11] * Zc[:, 20] + rng.standard_normal(n)
    scan = Bunch(Zc=Zc, norms=np.linalg.norm(Zc, axis=0), loci=np.arange(L) + 100,
                 self_terms=None)
    monkeypatch.setattr(_scan, "SCAN_BLOCK_BYTES", scan_bytes)  # 4 loci a block, or all
    i, j = np.triu_indices(L, 1)
    Zd = Zc.astype(np.float64)
    score = np.abs((Zd[:, i] * Zd[:, j]).T @ r) / (np.linalg.norm(Zd[:, i], axis=0)
                                                   * np.linalg.norm(Zd[:, j], axis=0))
    order = np.argsort(-score)
    expected = [(int(a) + 100, int(b) + 100) for a, b in zip(i[order], j[order], strict=True)]
    got = _scan._scan_pairs(scan, r, {(111, 120)}, 12)
    assert got[:2] == [(103, 135), (130, 135)]  # the copy's tie, lower locus first
    assert got[2:] == [pair for pair in expected[2:12] if pair != (111, 120)]
