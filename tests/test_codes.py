"""Genotype codes kept in a byte each (sklearn_elm._decomposition._codes)."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sklearn_elm._decomposition._codes import (
    MAX_INEXACT,
    Codes,
    columns,
    compact,
    join,
    take_rows,
    transposed_product,
)


def genotypes_with_missing_calls(seed, n=300, p=40, rate=0.01):
    """Diploid codes -1/0/1, a share ``rate`` of them replaced by imputed means."""
    rng = np.random.default_rng(seed)
    Z = rng.integers(-1, 2, size=(n, p)).astype(np.float64)
    missing = rng.random(Z.shape) < rate
    Z[missing] = rng.uniform(-1, 1, missing.sum())
    return Z


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**16), rate=st.sampled_from([0.0, 0.005, 0.015]),
       cuts=st.lists(st.sampled_from(range(50, 300, 50)), max_size=4, unique=True))
def test_codes_hold_the_inputs_exactly(seed, rate, cuts):
    """Batches kept as int8 codes with corrections and joined give back every input
    exactly, whichever columns are read and however the samples were batched; ``Z^T V``
    equals the float product to float32 round-off."""
    Z = genotypes_with_missing_calls(seed, rate=rate)
    bounds = [0, *sorted(cuts), len(Z)]
    batches = [compact(Z[a:b]) for a, b in zip(bounds[:-1], bounds[1:], strict=True)]
    assert all(isinstance(batch, Codes) for batch in batches)
    kept = join(batches)
    assert not batches  # each batch released once copied
    assert kept.codes.dtype == np.int8 and kept.delta.size == np.count_nonzero(Z != np.rint(Z))
    picked = np.random.default_rng(seed).integers(0, Z.shape[1], size=7)
    np.testing.assert_array_equal(columns(kept, picked), Z[:, picked])
    np.testing.assert_array_equal(columns(kept, slice(5, 30)), Z[:, 5:30])
    V = np.random.default_rng(seed + 1).normal(size=(len(Z), 2))
    np.testing.assert_allclose(transposed_product(kept, V), Z.T @ V, rtol=1e-5, atol=1e-4)
    np.testing.assert_allclose(transposed_product(kept, V[:, 0]), Z.T @ V[:, 0], rtol=1e-5,
                               atol=1e-4)


def test_inputs_that_are_not_codes_are_kept_in_float32():
    """Past MAX_INEXACT inputs off the integers (standardised inputs, say), or out of
    int8's range, a batch is float32; joined with code batches, all are float32, with
    the codes' corrections applied."""
    Z = genotypes_with_missing_calls(0, rate=0.01)
    standardised = (Z - Z.mean(0)) / Z.std(0)
    assert np.mean(standardised != np.rint(standardised)) > MAX_INEXACT
    assert compact(standardised).dtype == np.float32
    assert compact(np.full((2, 2), 300.0)).dtype == np.float32
    mixed = join([compact(Z[:100]), compact(standardised[100:200]), compact(Z[200:])])
    expected = np.vstack([Z[:100], standardised[100:200], Z[200:]]).astype(np.float32)
    np.testing.assert_array_equal(mixed, expected)


@pytest.mark.parametrize("rate", [0.0, 0.01])
def test_screened_fit_of_codes_equals_that_of_floats(rate):
    """The screened fit of inputs kept as codes (with missing calls as corrections) equals
    the fit of the same inputs in float: same pairs, effects and components."""
    import warnings

    from sklearn_elm._decomposition._screening import screened_fit

    rng = np.random.default_rng(3)
    n, p = 700, 500  # p > n / 2: the loci are screened
    Z = rng.binomial(2, rng.uniform(0.1, 0.5, p), size=(n, p)) - 1.0
    missing = rng.random(Z.shape) < rate
    # imputed values exact in float32, which the float fit scans in: the same inputs
    Z[missing] = rng.integers(-63, 64, missing.sum()) / 64
    g = Z[:, :4] @ [0.5, -0.4, 0.3, 0.3] + 0.6 * Z[:, 10] * Z[:, 11]
    y = g + rng.normal(size=n)
    F, R = 0.9 * g[:, None], (y - y.mean() - 0.9 * g)[:, None]
    kept = join([compact(Z[:350]), compact(Z[350:])])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        small = screened_fit(kept, F, R, np.array([y.var()]), overwrite_z=True)
        wide = screened_fit(Z, F, R, np.array([y.var()]))
    np.testing.assert_array_equal(small.pairs[0], wide.pairs[0])
    assert small.pairs[0].tolist()[0] == [10, 11]
    np.testing.assert_allclose(small.additive, wide.additive, rtol=1e-9, atol=1e-12)
    for key in ("additive", "epistatic", "genetic"):
        np.testing.assert_allclose(small.components[key], wide.components[key], rtol=1e-9)
    np.testing.assert_allclose(small.additive_p, wide.additive_p, rtol=1e-4)
    np.testing.assert_allclose(small.additive_estimate, wide.additive_estimate, rtol=1e-4,
                               atol=1e-6)


def test_a_short_batch_with_missing_calls_does_not_make_every_batch_float32():
    """The share of inexact inputs is taken over every batch: a one-sample tail batch with
    15 % missing calls (float32 on its own) is joined as codes with the rest."""
    Z = genotypes_with_missing_calls(1, n=301, p=40, rate=0.0)
    Z[300, :6] = 0.37
    batches = [compact(Z[:150]), compact(Z[150:300]), compact(Z[300:])]
    assert batches[-1].dtype == np.float32
    kept = join(batches)
    assert isinstance(kept, Codes)
    expected = Z.copy()
    expected[300] = Z[300].astype(np.float32)  # the values that batch was kept with
    np.testing.assert_array_equal(columns(kept, slice(None)), expected)


@pytest.mark.parametrize("rate", [0.02, 0.1])
def test_join_holds_about_the_result(rate):
    """Joining allocates the result (its codes and corrections, placed by column as they
    are copied) and little more: no argsort, concatenation or copy of the corrections."""
    import tracemalloc

    Z = genotypes_with_missing_calls(2, n=4000, p=300, rate=rate)
    batches = [compact(Z[start : start + 500]) for start in range(0, 4000, 500)]
    tracemalloc.start()
    try:
        start = tracemalloc.get_traced_memory()[0]
        kept = join(batches)
        peak = tracemalloc.get_traced_memory()[1] - start
    finally:
        tracemalloc.stop()
    np.testing.assert_array_equal(columns(kept, slice(None)), Z)
    assert peak < 1.5 * kept.nbytes


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**16), rate=st.sampled_from([0.0, 0.02]), start=st.integers(0, 2),
       step=st.integers(1, 3))
def test_rows_taken_from_codes_are_those_samples_inputs(seed, rate, start, step):
    """The samples of a half (every ``step``-th from ``start``) taken from codes hold their
    inputs exactly, corrections of imputed calls included, as taken from the floats."""
    Z = genotypes_with_missing_calls(seed, rate=rate)
    rows = np.arange(start, len(Z), step)
    half = take_rows(compact(Z), rows)
    assert isinstance(half, Codes) and len(half) == rows.size
    np.testing.assert_array_equal(columns(half, slice(None)), Z[rows])
    np.testing.assert_array_equal(take_rows(Z, rows), Z[rows])
