"""Tests of GenotypeEncoder."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from sklearn_elm import GenotypeEncoder


def test_haploid_mid():
    X = np.array([[0, 1, 1], [1, 0, 1]])
    Z = GenotypeEncoder().fit_transform(X)
    np.testing.assert_array_equal(Z, 2 * X - 1)
    assert GenotypeEncoder().fit(X).ploidy_ == 1


def test_diploid_mid_and_mean():
    X = np.array([[0, 1, 2], [2, 1, 2], [1, 1, 0]], dtype=float)
    enc = GenotypeEncoder().fit(X)
    assert enc.ploidy_ == 2
    np.testing.assert_array_equal(enc.transform(X), X - 1)
    mean = GenotypeEncoder(center="mean").fit(X)
    np.testing.assert_allclose(mean.allele_frequencies_, X.mean(axis=0) / 2)
    np.testing.assert_allclose(mean.transform(X), X - X.mean(axis=0))


def test_haploid_mean_is_doubled_dosage():
    X = np.array([[0, 1], [1, 1], [1, 0], [1, 1]])
    p = X.mean(axis=0)
    Z = GenotypeEncoder(center="mean").fit_transform(X)
    np.testing.assert_allclose(Z, 2 * (X - p))


def test_nan_imputed_with_locus_mean():
    X = np.array([[0, 2], [2, np.nan], [2, 1]], dtype=float)
    for center in ("mid", "mean"):
        enc = GenotypeEncoder(center=center).fit(X)
        Z = enc.transform(X)
        assert not np.isnan(Z).any()
        observed = enc.transform(X[[0, 2]])
        np.testing.assert_allclose(Z[1, 1], observed[:, 1].mean())


def test_explicit_ploidy_and_auto_ambiguity():
    X = np.array([[0, 1], [1, 0]])
    assert GenotypeEncoder(ploidy=2).fit(X).ploidy_ == 2
    np.testing.assert_array_equal(GenotypeEncoder(ploidy=2).fit_transform(X), X - 1)


@pytest.mark.parametrize(
    "X, ploidy, match",
    [
        (np.array([[0, 1], [1, 3]]), "auto", r"column 1 \('x1'\) holds 3.0, which is not an allele "
         r"dosage \(allowed: 0, 1 or 2 allele copies, or NaN\)\.$"),
        (np.array([[0, 0.5], [1, 1]]), "auto", r"column 1 .* 0.5"),
        (np.array([[0, 2], [1, 1]]), 1, r"column 1 .* not a haploid"),
        # -1/+1 codes: not called diploid, and the likely cause named (encoded twice)
        (np.array([[-1.0, 1.0], [1.0, -1.0]]), "auto",
         r"column 0 .* not an allele dosage .* already encoded: give them to the network"),
        (np.array([[-1, 0], [1, 1]]), 2, r"column 0 .* not a diploid genotype .* already encoded"),
        # PLINK's missing code is not taken for an encoded genotype
        (np.array([[0, -9], [2, 1]]), "auto", r"holds -9.0, which is not an allele dosage .*\)\.$"),
    ],
)
def test_values_outside_alphabet_are_named(X, ploidy, match):
    with pytest.raises(ValueError, match=match):
        GenotypeEncoder(ploidy=ploidy).fit(X)


def test_transform_checks_alphabet_and_shape():
    enc = GenotypeEncoder().fit(np.array([[0, 1], [1, 0]]))
    with pytest.raises(ValueError, match="column 0"):
        enc.transform(np.array([[2, 0]]))
    with pytest.raises(ValueError, match="features"):
        enc.transform(np.array([[0, 1, 1]]))


def test_all_missing_column_and_inf():
    with pytest.raises(ValueError, match="entirely missing"):
        GenotypeEncoder().fit(np.array([[0, np.nan], [1, np.nan]]))
    with pytest.raises(ValueError, match="infinity|inf"):
        GenotypeEncoder().fit(np.array([[0, np.inf], [1, 0]]))


def test_unfitted_transform():
    from sklearn.exceptions import NotFittedError

    with pytest.raises(NotFittedError):
        GenotypeEncoder().transform(np.array([[0, 1]]))


def test_pandas_output_and_feature_names():
    pd = pytest.importorskip("pandas")
    X = pd.DataFrame({"snp_a": [0, 1, 1], "snp_b": [1, 1, 0]})
    enc = GenotypeEncoder().set_output(transform="pandas")
    Z = enc.fit_transform(X)
    assert list(Z.columns) == ["snp_a", "snp_b"]
    np.testing.assert_array_equal(Z.to_numpy(), 2 * X.to_numpy() - 1)
    np.testing.assert_array_equal(enc.get_feature_names_out(), ["snp_a", "snp_b"])
    with pytest.raises(ValueError, match="snp_b"):
        GenotypeEncoder().fit(pd.DataFrame({"snp_a": [0, 1], "snp_b": [1, 7]}))


genotypes = st.integers(1, 2).flatmap(
    lambda ploidy: st.tuples(
        st.just(ploidy),
        arrays(np.float64, st.tuples(st.integers(2, 30), st.integers(1, 8)),
               elements=st.sampled_from([float(v) for v in range(ploidy + 1)])),
    )
)


@settings(max_examples=60, deadline=None)
@given(genotypes, st.sampled_from(["mid", "mean"]))
def test_encoding_properties(data, center):
    """z is affine in the dosage with slope 2/ploidy; 'mean' centres every column."""
    ploidy, X = data
    enc = GenotypeEncoder(ploidy=ploidy, center=center)
    Z = enc.fit_transform(X)
    assert Z.shape == X.shape
    diff = np.diff(Z, axis=0) - np.diff(X, axis=0) * (2.0 / ploidy)
    np.testing.assert_allclose(diff, 0, atol=1e-12)
    if center == "mean":
        np.testing.assert_allclose(Z.mean(axis=0), 0, atol=1e-12)
    else:
        assert np.all(np.abs(Z) <= 1)
    # "auto" reads the ploidy off the panel: diploid where any dosage is 2
    auto = GenotypeEncoder(center=center).fit(X)
    assert auto.ploidy_ == (2 if (X == 2).any() else 1)
    if auto.ploidy_ == ploidy:
        np.testing.assert_allclose(auto.transform(X), Z, atol=1e-12)
    # NaN in a column is imputed with that column's fitted mean
    X2 = X.copy()
    X2[0, 0] = np.nan
    if not np.isnan(X2[:, 0]).all():
        Z2 = enc.fit(X2).transform(X2)
        np.testing.assert_allclose(Z2[0, 0], np.mean(enc.transform(X2[1:])[:, 0]), atol=1e-12)


def test_input_containers_dtypes_and_read_only_memory():
    """Lists, int8, float32, Fortran order and read-only arrays encode alike, and the
    caller's array is never written to."""
    base = np.array([[0, 1, 2], [2, 1, 0], [1, 1, 2], [0, 2, np.nan]])
    expected = GenotypeEncoder().fit(base).transform(base)
    frozen = base.copy()
    frozen.setflags(write=False)
    ints = np.nan_to_num(base, nan=1).astype(np.int8)
    inputs = [base.tolist(), base.astype(np.float32), np.asfortranarray(base), frozen]
    for X in inputs:
        before = np.array(X, dtype=np.float64, copy=True)
        np.testing.assert_allclose(GenotypeEncoder().fit(X).transform(X), expected)
        np.testing.assert_array_equal(np.asarray(X, dtype=np.float64), before)
    ints.setflags(write=False)
    Z = GenotypeEncoder().fit_transform(ints)
    assert Z.dtype == np.float64 and Z.flags.writeable
    np.testing.assert_array_equal(ints, np.nan_to_num(base, nan=1))


def test_an_integer_panel_is_encoded_without_a_float_copy():
    """An int8 panel (as PLINK's) encodes as its float64 copy does, and holds at its peak
    the float64 result and little more: no float64 copy of the input, no temporary (three
    arrays of the result's size before)."""
    import tracemalloc

    G = np.random.default_rng(0).integers(0, 3, size=(400, 500)).astype(np.int8)
    encoder = GenotypeEncoder(center="mean").fit(G)
    np.testing.assert_array_equal(encoder.transform(G), encoder.transform(G.astype(float)))
    tracemalloc.start()
    try:
        encoder.transform(G)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 1.5 * 8 * G.size
