"""The streamed input sums in float32 where they are integers, and the design's p x p
matrices made from them on first use or a block of rows at a time."""

import tracemalloc
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sklearn_elm._blas import row_slices
from sklearn_elm._decomposition import (
    _design,
    _moments,
    _slopes,
    _variance,
    add_moments,
    average_effects,
    build_design,
    conditional_slopes,
    epistasis_regression,
    init_moments,
    update_moments,
    variance_components,
)


def _stream(Z, batch, k=1):
    m = init_moments(Z.shape[1], k)
    for rows in row_slices(len(Z), batch):
        b = rows.stop - rows.start
        update_moments(m, Z[rows], np.zeros((b, k)), np.ones((b, k, Z.shape[1])))
    return m


def _products(Z):
    Z2, indicator = Z**2, (Z != 0).astype(float)
    return {"zz": Z.T @ Z, "z2z2": Z2.T @ Z2, "z2z": Z2.T @ Z, "nzz": indicator.T @ Z}


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**31), batch=st.integers(1, 70),
       codes=st.sampled_from([(-1, 0, 1), (-1, 1), (0, 1, 2), (-2, -1, 0, 1, 2)]))
def test_integer_codes_keep_exact_float32_sums(seed, batch, codes):
    """Integer codes: the sums stay float32 and equal the float64 products to the bit,
    whatever the batching; z2z and nzz are one array exactly where z^2 is the indicator."""
    rng = np.random.default_rng(seed)
    Z = rng.choice(np.array(codes, dtype=float), size=(60, 7))
    m = _stream(Z, batch)
    for name, expected in _products(Z).items():
        assert m[name].dtype == np.float32, name
        np.testing.assert_array_equal(m[name], expected, err_msg=name)
    assert (m.nzz is m.z2z) == bool(np.array_equal(Z**2, Z != 0))


def test_other_codes_turn_the_sums_float64_at_the_first_such_batch():
    rng = np.random.default_rng(1)
    Z = rng.choice([-1.0, 0.0, 1.0], size=(90, 6))
    Z[70, 2] = 0.37  # an imputed call in the last batch
    m = _stream(Z, 30)
    for name, expected in _products(Z).items():
        assert m[name].dtype == np.float64, name
        np.testing.assert_allclose(m[name], expected, rtol=1e-13, atol=1e-13, err_msg=name)
    assert m.nzz is not m.z2z  # 0.37^2 is not the indicator


def test_sums_past_the_float32_bound_turn_float64(monkeypatch):
    """Past the bound where float32 integers stop being exact the sums are float64, in
    the stream and where two blocks' sums are added (a dask tree)."""
    monkeypatch.setattr(_moments, "EXACT_FLOAT32", 50)
    rng = np.random.default_rng(2)
    Z = rng.choice([-1.0, 0.0, 1.0], size=(80, 5))
    first, second = _stream(Z[:40], 40), _stream(Z[40:], 40)
    assert first.zz.dtype == np.float32  # 40 samples of codes in -1..1: below 50
    both = add_moments(first, second)
    whole = _stream(Z, 40)
    for m in (both, whole):
        assert m.nzz is m.z2z
        for name, expected in _products(Z).items():
            assert m[name].dtype == np.float64, name
            np.testing.assert_array_equal(m[name], expected, err_msg=name)
    below = add_moments(_stream(Z[:20], 20), _stream(Z[20:40], 20))
    assert below.zz.dtype == np.float32 and below.code_max == 1.0
    # codes up to 2: z^2 z^2 reaches 16 a sample, so 4 samples pass a bound of 50
    W = rng.choice([-2.0, -1.0, 0.0, 1.0, 2.0], size=(8, 5))
    W[:, 0] = 2.0
    for m in (_stream(W, 8), add_moments(_stream(W[:2], 2), _stream(W[2:], 6))):
        for name, expected in _products(W).items():
            assert m[name].dtype == np.float64, name
            np.testing.assert_array_equal(m[name], expected, err_msg=name)
    assert _stream(W[:3], 3).zz.dtype == np.float32  # 3 x 16 < 50


@pytest.mark.parametrize("twos", ["none", "first", "second", "both"])
def test_added_sums_equal_the_sums_of_all_samples(twos):
    """Blocks with and without a code of 2 (z2z and nzz one array or two) add up to the
    sums of all samples, nzz one array with z2z only where it is in both."""
    rng = np.random.default_rng(3)
    Z = rng.choice([-1.0, 0.0, 1.0], size=(50, 4))
    if twos in ("first", "both"):
        Z[3, 1] = 2.0
    if twos in ("second", "both"):
        Z[30, 2] = 2.0
    both, whole = add_moments(_stream(Z[:20], 7), _stream(Z[20:], 9)), _stream(Z, 50)
    assert both.keys() == whole.keys()
    for name in whole:
        np.testing.assert_array_equal(both[name], whole[name], err_msg=name)
    assert (both.nzz is both.z2z) == (twos == "none")
    np.testing.assert_array_equal(both.nzz, _products(Z)["nzz"])


@pytest.mark.parametrize("codes", [(-1.0, 0.0, 1.0), (-0.3, 0.7, 1.7)])
def test_the_design_rows_equal_its_matrices(monkeypatch, codes):
    """covariance_rows and pair_var_rows equal the rows of C and pair_var made whole; a
    released C is made again, equal; the overwriting design frees z2z2 and z2z."""
    monkeypatch.setattr(_design, "row_slices", lambda p, block=3: row_slices(p, block))
    rng = np.random.default_rng(4)
    Z = rng.choice(codes, size=(200, 8))
    Z[:, 5] = codes[1]  # a constant input: its row and column of C are 0
    design = build_design(_stream(Z, 64))
    np.testing.assert_array_equal(design.covariance_rows(slice(None)),
                                  np.vstack([design.covariance_rows(r) for r in row_slices(8, 3)]))
    rows = [design.covariance_rows(r) for r in row_slices(8, 3)]
    pair_rows = [design.pair_var_rows(r) for r in row_slices(8, 3)]
    assert "C" not in design.__dict__ and "pair_var" not in design.__dict__
    Zc = Z - Z.mean(axis=0)
    C = Zc.T @ Zc / len(Z)
    C[5], C[:, 5] = 0.0, 0.0
    np.testing.assert_allclose(np.vstack(rows), C, atol=1e-12)
    np.testing.assert_array_equal(np.vstack(rows), design.C)
    np.testing.assert_array_equal(design.C, design.C.T)
    np.testing.assert_array_equal(np.vstack(pair_rows), design.pair_var)
    off = ~np.eye(8, dtype=bool)
    products = (Zc[:, :, None] * Zc[:, None, :]).var(axis=0)
    np.testing.assert_allclose(design.pair_var[off], products[off], atol=1e-12)
    before = design.C.copy()
    design.C[:] = np.nan  # as an inverse made in place leaves it
    design.release_covariance()
    np.testing.assert_array_equal(design.C, before)
    m = _stream(Z, 64)
    kept = build_design(m, overwrite=True)
    assert "z2z2" not in m and "z2z" not in m and "zz" in m
    np.testing.assert_array_equal(kept.pair_var, design.pair_var)
    assert "z2z2" not in kept.sums and "z2z" not in kept.sums


def test_the_slope_estimators_hold_half_precision_sums_beside_their_outputs(monkeypatch):
    """Integer codes with zeros (diploid -1/0/+1), one output: the sums take 2.5 p x p
    float64 arrays' worth (three float32 input sums and the sums with the coefficients),
    the fit ends with the float32 sums beside the pair matrix and its variance (3.5), and
    the components add blocks of rows only: not the 5 float64 sums and the 5 arrays (sums,
    design, partner means) that float64 sums made into a design would hold."""
    for module in (_design, _moments, _slopes, _variance):  # small blocks, next to p = 600
        monkeypatch.setattr(module, "row_slices", lambda p, block=None: row_slices(p, 32))
    rng = np.random.default_rng(5)
    n, p, batch = 1500, 600, 30
    Z = rng.choice([-1.0, 0.0, 1.0], p=[0.25, 0.5, 0.25], size=(n, p))
    S = rng.standard_normal((n, 1, p))
    unit = 8 * p * p
    tracemalloc.start()
    try:
        m = init_moments(p, 1)
        for rows in row_slices(n, batch):
            update_moments(m, Z[rows], (S[rows, 0] * Z[rows]).sum(1)[:, None], S[rows])
        streamed = tracemalloc.get_traced_memory()[0] / unit
        design = build_design(m, overwrite=True)
        slopes = conditional_slopes(m, design, overwrite=True)
        additive = average_effects(m, design, slopes)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # few samples per slope: not the point here
            E, E_var = epistasis_regression(m, design, slopes, return_variance=True,
                                            overwrite=True)
        del slopes
        fitted = tracemalloc.get_traced_memory()[0] / unit
        tracemalloc.reset_peak()
        variance_components(m, design, additive, E, E_var, np.array([1.0]))
        components = tracemalloc.get_traced_memory()[1] / unit
    finally:
        tracemalloc.stop()
    assert 2.5 <= streamed < 2.6
    assert 3.5 <= fitted < 3.6
    assert components < fitted + 0.5  # a few blocks of 32 rows, no p x p array


def test_slope_estimates_do_not_depend_on_the_precision_of_the_sums(monkeypatch):
    """The same integer codes give the same slopes, effects, pair matrices and components
    whether their input sums are float32 or float64 (the estimators read both in float64,
    and never write into the sums)."""
    rng = np.random.default_rng(6)
    n, p = 400, 12
    Z = rng.choice([-1.0, 0.0, 1.0], p=[0.3, 0.4, 0.3], size=(n, p))
    S = rng.standard_normal((n, 2, p)) + Z[:, None, ::-1]

    def fit():
        m = init_moments(p, 2)
        for rows in row_slices(n, 64):
            update_moments(m, Z[rows], np.einsum("nkp,np->nk", S[rows], Z[rows]), S[rows])
        design = build_design(m, overwrite=True)
        slopes = conditional_slopes(m, design, overwrite=True)
        additive = average_effects(m, design, slopes)
        E, E_var = epistasis_regression(m, design, slopes, return_variance=True,
                                        overwrite=True)
        vc = variance_components(m, design, additive, E, E_var, np.array([2.0, 2.0]))
        return m.zz.dtype, additive, E, E_var, vc.additive, vc.epistatic

    first = fit()
    monkeypatch.setattr(_moments, "EXACT_FLOAT32", 0)  # every sum float64
    second = fit()
    assert first[0] == np.float32 and second[0] == np.float64
    for a, b in zip(first[1:], second[1:], strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)
