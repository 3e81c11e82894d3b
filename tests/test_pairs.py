"""FactoredPairMatrix reads as the dense matrix it stands for, and GBLUP A+AA keeps its pair
effects factored past p > n with the same values and predictions."""

import numpy as np
import pytest

from sklearn_elm import FactoredPairMatrix, GBLUPRegressor, _pairs
from sklearn_elm._report import rank_pairs


def _factored(k=None, n=7, p=9, seed=0):
    rng = np.random.default_rng(seed)
    Z = rng.normal(size=(n, p))
    w = rng.normal(size=(n,) if k is None else (k, n))
    dense = np.einsum("si,...s,sj->...ij", Z, w, Z)  # Z^T diag(w) Z, independently of the class
    return FactoredPairMatrix(Z, w), dense


@pytest.mark.parametrize("key", [
    (2, 5), (-1, 0), ([0, 3, 8], [1, 1, -2]), (np.ix_([0, 4], [2, 3, 5])),
    (slice(None), 3), (4, slice(2, 6)), (slice(1, 4), slice(None, None, 2)),
    (slice(None), [0, 5]), ([[0, 1], [2, 3]], [[4, 5], [6, 7]]), (np.array(3), [1, 2]),
])
def test_indexing_reads_the_dense_matrix(key):
    E, dense = _factored()
    got = E[key]
    np.testing.assert_allclose(got, dense[key], rtol=1e-12, atol=1e-12)
    assert np.shape(got) == np.shape(dense[key])


def test_a_stack_indexes_by_trait_first():
    E, dense = _factored(k=3)
    assert E.shape == dense.shape and E.ndim == 3 and len(E) == 3
    np.testing.assert_allclose(np.asarray(E[1]), dense[1], rtol=1e-12)
    np.testing.assert_allclose(E[2, [0, 1], [4, 5]], dense[2, [0, 1], [4, 5]], rtol=1e-12)
    np.testing.assert_allclose(np.asarray(E), dense, rtol=1e-12, atol=1e-12)
    assert isinstance(E[1], FactoredPairMatrix)  # one trait's matrix stays factored
    with pytest.raises(IndexError):
        E[0][9, 0]  # out of bounds, as numpy says
    with pytest.raises(IndexError, match="an integer, a slice or a 1-D array"):
        E[True]
    with pytest.raises(IndexError, match="too many indices"):
        E[0, 1, 2, 3]
    with pytest.raises(IndexError, match="slice with a multi-dimensional"):
        E[0][0:2, np.array([[0, 1]])]  # numpy's outer semantics here are not followed
    assert E[0][[], []].shape == (0,)


@pytest.mark.parametrize("key", [
    (0, 1), (1, [2, 3]), (slice(None), 1, 2), (Ellipsis, 1, 2), ([0, 2], 4, slice(1, 3)),
    (slice(None),), ([0, 1],), (2, Ellipsis), (slice(0, 2), [0, 1], [3, 4]),
    (Ellipsis, 0, 1, 2), (0, np.array([1, 2])), (np.array([1, 2]), np.array([0, 3]), 4),
    (slice(0, 0), 1, 2),
])
def test_a_stack_indexes_as_numpy(key):
    """Rows, traits by slice or array, Ellipsis: numpy's results (a user found E[0, 1]
    refused)."""
    E, dense = _factored(k=3)
    got = E[key]
    np.testing.assert_allclose(got, dense[key], rtol=1e-12, atol=1e-12)
    assert np.shape(got) == np.shape(dense[key])


def test_transpose_and_rows_of_one_matrix():
    E, dense = _factored()
    assert E.T is E
    np.testing.assert_allclose(E[3], dense[3], rtol=1e-12)
    np.testing.assert_allclose(E[[1, 2]], dense[[1, 2]], rtol=1e-12)
    with pytest.raises(ValueError, match=r"E\[k\]\.T"):
        _ = _factored(k=2)[0].T


def test_a_block_that_would_not_fit_is_refused(monkeypatch):
    E, _ = _factored(k=2)
    monkeypatch.setattr(_pairs, "available_memory", lambda: 100)
    for key in [(0, slice(None), slice(None)), (slice(None),), (0, [0, 1])]:
        with pytest.raises(MemoryError, match="need .* of memory, but 0.0 GiB is available"):
            E[key]
    with pytest.raises(MemoryError, match="need .* of memory"):
        E[0][np.ix_([0, 1], [2, 3])]
    # a stack of blocks, each small enough alone (with its samples' products): checked whole
    monkeypatch.setattr(_pairs, "available_memory", lambda: 8 * (9 * 9 + 7 * 9) + 10)
    assert E[0, 0:9].shape == (9, 9)
    for key in [(slice(None), slice(0, 9)), (slice(None), Ellipsis, slice(0, 9))]:
        with pytest.raises(MemoryError, match=r"matrices \(2, 9, 9\) need"):
            E[key]
    assert E[0, 1, 2] == pytest.approx(_factored(k=2)[1][0, 1, 2])  # single pairs: no check


@pytest.mark.parametrize("k", [None, 2])
def test_quadratic_is_z_e_z(k, monkeypatch):
    monkeypatch.setattr(_pairs, "CHUNK", 20)  # a few rows at a time
    E, dense = _factored(k=k)
    Z = np.random.default_rng(1).normal(size=(11, 9))
    expected = np.einsum("mi,...ij,mj->m...", Z, dense, Z)
    np.testing.assert_allclose(E.quadratic(Z), expected, rtol=1e-10)


@pytest.mark.parametrize("tile", [2, 4, 100])
def test_upper_tiles_cover_each_pair_once(tile, monkeypatch):
    monkeypatch.setattr(_pairs, "TILE", tile)
    E, dense = _factored()
    i, j, values = (np.concatenate(a) for a in zip(*E.upper_tiles(), strict=True))
    assert (i < j).all()
    pairs = sorted(zip(i.tolist(), j.tolist(), strict=True))
    assert pairs == list(zip(*np.triu_indices(9, 1), strict=True))
    np.testing.assert_allclose(values, dense[i, j], rtol=1e-12)
    with pytest.raises(ValueError, match="one matrix"):
        next(FactoredPairMatrix(np.ones((2, 3)), np.ones((2, 2))).upper_tiles())


@pytest.mark.parametrize("top", [None, 1, 6, 40])
def test_rank_pairs_of_a_factored_matrix_is_that_of_its_dense_form(top, monkeypatch):
    monkeypatch.setattr(_pairs, "TILE", 4)
    E, dense = _factored(n=5, p=13)
    got, want = rank_pairs(E, top=top), rank_pairs(dense, top=top)
    np.testing.assert_array_equal(got[0], want[0])
    np.testing.assert_array_equal(got[1], want[1])
    np.testing.assert_allclose(got[2], want[2], rtol=1e-12)


def test_forming_a_matrix_too_large_for_memory_is_refused(monkeypatch):
    E, _ = _factored(k=2)
    monkeypatch.setattr(_pairs, "available_memory", lambda: 1000)
    with pytest.raises(MemoryError, match=r"\(2, 9, 9\) need 0.0 GiB.*E\[i, j\]"):
        np.asarray(E)
    with pytest.raises(ValueError, match="copy=False"):
        E.__array__(copy=False)


def test_bad_factors_are_refused():
    with pytest.raises(ValueError, match="2-D"):
        FactoredPairMatrix(np.ones(3), np.ones(3))
    with pytest.raises(ValueError, match=r"shape \(4,\) or \(k, 4\)"):
        FactoredPairMatrix(np.ones((4, 2)), np.ones(3))


def _panel(n, p, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.integers(0, 3, size=(n, p)).astype(float)
    y = X[:, 0] - X[:, 1] + 2.0 * (X[:, 2] - 1) * (X[:, 3] - 1) + rng.normal(size=n)
    return X, np.column_stack([y, rng.normal(size=n) + X[:, 4]])


@pytest.mark.filterwarnings("ignore:GBLUPRegressor.*solver=.features.:UserWarning")
@pytest.mark.parametrize("outputs", [1, 2])
def test_gblup_keeps_its_pair_matrix_factored_past_p_n_with_the_same_fit(outputs):
    """Past p > n the kernel path keeps E = Z^T diag(w) Z as its factors; the explicit
    pairwise features (the other solver, which forms E directly) give the same REML fit, E
    and predictions."""
    X, Y = _panel(30, 40)
    y = Y[:, 0] if outputs == 1 else Y
    kernel = GBLUPRegressor(kernel="additive+epistatic").fit(X, y)
    features = GBLUPRegressor(kernel="additive+epistatic", solver="features").fit(X, y)
    assert isinstance(kernel.epistasis_matrix_, FactoredPairMatrix)
    assert isinstance(features.epistasis_matrix_, np.ndarray)
    assert kernel.epistasis_matrix_.shape == features.epistasis_matrix_.shape
    np.testing.assert_allclose(np.asarray(kernel.epistasis_matrix_), features.epistasis_matrix_,
                               rtol=1e-4, atol=1e-7)
    X_new = _panel(12, 40, seed=1)[0]
    np.testing.assert_allclose(kernel.predict(X_new), features.predict(X_new), rtol=1e-4,
                               atol=1e-6)


def test_gblup_stays_dense_where_the_loci_are_fewer_than_the_samples():
    X, Y = _panel(60, 40)
    gblup = GBLUPRegressor(kernel="additive+epistatic").fit(X, Y[:, 0])
    assert isinstance(gblup.epistasis_matrix_, np.ndarray)


def test_forming_the_matrices_takes_their_memory_and_no_copy():
    """toarray fills the stack trait by trait: its traced peak is the k p x p result, one
    n x p product and a block of columns of the product being made (p x min(p, 1024) and its
    diagonal block), not twice the result as stacking separate matrices would take."""
    import tracemalloc

    E, _ = _factored(k=3, n=40, p=400)
    tracemalloc.start()
    try:
        dense = E.toarray()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert dense.nbytes <= peak <= dense.nbytes + 8 * (40 * 400 + 2 * 400 * 400) + 2**16
