"""GBLUPRegressor on genotypes out of memory: a dask array on a LocalCluster, a lazy PLINK array."""

import numpy as np
import pytest

from sklearn_elm import FactoredPairMatrix, GBLUPRegressor

da = pytest.importorskip("dask.array")
distributed = pytest.importorskip("distributed")
dask = pytest.importorskip("dask")

N_SAMPLES = 300
#: (loci, kernel): with 300 samples, 500 loci take the n x n kernels (for the epistatic
#: kernel, both dense), 50 the p x p Gram (additive) or the Woodbury form (epistatic),
#: 20 the pairwise features' Gram matrix
PATHS = [(500, "additive"), (500, "additive+epistatic"), (50, "additive"),
         (50, "additive+epistatic"), (20, "additive+epistatic")]


def make_panel(n_loci, seed=0, n_outputs=1):
    """Genotypes (int8) of 30 families of 10 full sibs, and traits with additive and
    pairwise effects: the relatedness makes both kernels differ from the identity, so that
    the REML optimum is well determined (in memory, a permutation of the loci changes the
    fit by round-off only)."""
    rng = np.random.default_rng(seed)
    n_families, n_sibs = 30, N_SAMPLES // 30
    parents = rng.random((n_families, 1, 4, n_loci)) < rng.uniform(0.1, 0.9, n_loci)
    picks = rng.integers(0, 2, size=(n_families, n_sibs, 2, n_loci))
    alleles = [np.take_along_axis(parents[:, :, 2 * k : 2 * k + 2], picks[:, :, k : k + 1], 2)
               for k in range(2)]
    G = (alleles[0].astype(np.int8) + alleles[1]).reshape(N_SAMPLES, n_loci)
    Z = G - G.mean(axis=0)
    traits = []
    for _ in range(n_outputs):
        pairs = rng.integers(0, n_loci, size=(2, 10))
        traits.append(Z @ rng.normal(scale=0.5 / np.sqrt(n_loci), size=n_loci)
                      + 0.5 * (Z[:, pairs[0]] * Z[:, pairs[1]]).sum(axis=1)
                      + rng.normal(size=N_SAMPLES))
    Y = np.stack(traits, axis=1)
    return G, Y[:, 0] if n_outputs == 1 else Y


def assert_same_fit(fitted, expected):
    """Marker and pairwise effects, intercept, likelihood and components equal to round-off."""
    names = ["coef_", "intercept_", "log_likelihood_", "X_mean_", "kernel_scale_"]
    if hasattr(expected, "epistasis_matrix_"):
        names.append("epistasis_matrix_")
    for name in names:
        np.testing.assert_allclose(getattr(fitted, name), getattr(expected, name),
                                   rtol=1e-10, atol=1e-12, err_msg=name)
    for name, value in expected.variance_components_.items():
        np.testing.assert_allclose(fitted.variance_components_[name], value, rtol=1e-10,
                                   atol=1e-12, err_msg=name)


@pytest.mark.parametrize(("n_loci", "kernel", "seed"),
                         [(50, "additive", 5), (20, "additive+epistatic", 2)])
def test_round_off_in_the_inputs_moves_the_fit_by_round_off(n_loci, kernel, seed):
    """The REML optimum is found to the round-off of its gradient, not only to where the
    deviance stops falling (1e-7 in the ratios): in memory, permuting the loci (which
    changes every sum's round-off, as dask's chunks do) gives the same fit to 1e-10 on
    panels where L-BFGS-B alone stopped 1e-7 apart."""
    G, y = make_panel(n_loci, seed=seed)
    order = np.random.default_rng(5).permutation(n_loci)
    expected = GBLUPRegressor(kernel).fit(G, y)
    permuted = GBLUPRegressor(kernel).fit(G[:, order], y)
    np.testing.assert_allclose(permuted.coef_, expected.coef_[order], rtol=1e-10, atol=1e-13)
    for name, value in expected.variance_components_.items():
        np.testing.assert_allclose(permuted.variance_components_[name], value, rtol=1e-10,
                                   atol=1e-12, err_msg=name)


@pytest.fixture(scope="module")
def client():
    """A LocalCluster of two single-thread workers, in-process (``processes=False``) so
    that it starts in a second; the tasks still run on the workers' threads."""
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=False,
                                  dashboard_address=None) as cluster:
        with distributed.Client(cluster) as client:
            yield client


@pytest.mark.parametrize(("n_loci", "kernel"), PATHS)
def test_dask_on_a_cluster_equals_in_memory(client, n_loci, kernel):
    """On a 2-worker LocalCluster, a dask array chunked over samples and loci gives the
    in-memory fit to float round-off on every path (kernels, p x p Gram, Woodbury form,
    pairwise features); the work runs as chunk tasks on both workers; predict returns
    a dask array of the in-memory predictions, one chunk per sample chunk."""
    G, y = make_panel(n_loci)
    X = da.from_array(G, chunks=(70, max(7, n_loci // 3)))
    assert len(X.chunks[0]) > 1 and len(X.chunks[1]) > 1
    expected = GBLUPRegressor(kernel).fit(G, y)
    with distributed.get_task_stream(client) as tasks:
        fitted = GBLUPRegressor(kernel).fit(X, y)
    assert_same_fit(fitted, expected)
    assert fitted.n_features_in_ == n_loci
    if kernel == "additive+epistatic":  # past p > n kept as its factors, in memory
        assert isinstance(fitted.epistasis_matrix_, FactoredPairMatrix) == (n_loci > N_SAMPLES)
        if n_loci > N_SAMPLES:
            assert type(fitted.epistasis_matrix_.factor) is np.ndarray
    assert {task["worker"] for task in tasks.data} == set(client.scheduler_info()["workers"])
    assert len(tasks.data) > 2 * X.npartitions  # tasks per chunk (and pair of chunks)
    prediction = fitted.predict(X)
    assert isinstance(prediction, da.Array) and prediction.chunks[0] == X.chunks[0]
    np.testing.assert_allclose(prediction.compute(), expected.predict(G), rtol=1e-10,
                               atol=1e-12)


def test_dask_multioutput_equals_in_memory(client):
    """Two outputs on the shared kernels: each output's fit as in memory, and predict
    returns a (n_samples, 2) dask array."""
    G, Y = make_panel(500, seed=1, n_outputs=2)
    X = da.from_array(G, chunks=(100, 200))
    expected = GBLUPRegressor("additive+epistatic").fit(G, Y)
    fitted = GBLUPRegressor("additive+epistatic").fit(X, da.from_array(Y, chunks=100))
    assert_same_fit(fitted, expected)
    prediction = fitted.predict(X)
    assert prediction.shape == (N_SAMPLES, 2)
    np.testing.assert_allclose(prediction.compute(), expected.predict(G), rtol=1e-10)


@pytest.fixture
def plink(tmp_path, monkeypatch):
    """A function writing a panel to a .bed and opening it lazily; blocks of 64 samples
    (``_BLOCK_VALUES`` made small), every read recorded and a whole read refused."""
    bed_reader = pytest.importorskip("bed_reader")
    from sklearn_elm.datasets import PlinkArray, open_plink

    reads = []
    read = PlinkArray._read

    def recorded(self, rows, cols):
        reads.append(len(rows))
        return read(self, rows, cols)

    def whole(self, dtype=None, copy=None):
        raise AssertionError("the lazy array was read whole")

    monkeypatch.setattr(PlinkArray, "_read", recorded)
    monkeypatch.setattr(PlinkArray, "__array__", whole)

    def write(G):
        monkeypatch.setattr("sklearn_elm._gblup._BLOCK_VALUES", 64 * G.shape[1])
        path = tmp_path / f"panel{G.shape[1]}.bed"
        bed_reader.to_bed(path, G)
        return open_plink(path)

    return write, reads


@pytest.mark.parametrize(("n_loci", "kernel"), PATHS[:3])
def test_plink_equals_in_memory(plink, n_loci, kernel):
    """A lazy PLINK array, read in blocks of 64 samples (on dask's local threads, so that
    the reads are recorded here) and never whole, gives the in-memory fit to round-off;
    predict returns an ndarray, predicted a block at a time."""
    write, reads = plink
    G, y = make_panel(n_loci, seed=2)
    X = write(G)
    expected = GBLUPRegressor(kernel).fit(G, y)
    with dask.config.set(scheduler="threads"):
        fitted = GBLUPRegressor(kernel).fit(X, y)
    assert_same_fit(fitted, expected)
    assert reads and max(reads) <= 64
    reads.clear()
    prediction = fitted.predict(X)
    assert type(prediction) is np.ndarray
    np.testing.assert_allclose(prediction, expected.predict(G), rtol=1e-10, atol=1e-12)
    assert len(reads) == -(-N_SAMPLES // 64) and max(reads) == 64


def test_plink_on_the_cluster(client, plink):
    """On the cluster the workers read their own blocks of the .bed: the same fit."""
    write, _ = plink
    G, y = make_panel(50, seed=1)
    X = write(G)
    expected = GBLUPRegressor("additive+epistatic").fit(G, y)
    assert_same_fit(GBLUPRegressor("additive+epistatic").fit(X, y), expected)


def test_lazy_input_errors():
    """A missing value, a single sample, unknown chunk sizes and a wrong number of loci
    are refused with errors that name them."""
    G, y = make_panel(20)
    X = da.from_array(G.astype(float), chunks=(100, 10))
    with pytest.raises(ValueError, match="NaN or infinite values \\(first at locus 3\\)"):
        GBLUPRegressor().fit(da.where(da.arange(20) == 3, np.nan, X), y)
    with pytest.raises(ValueError, match="1 sample\\(s\\).*minimum of 2"):
        GBLUPRegressor().fit(X[:1], y[:1])
    with pytest.raises(ValueError, match="chunk sizes are unknown"):
        GBLUPRegressor().fit(X[X[:, 0] > 0], y[G[:, 0] > 0])
    with pytest.raises(ValueError, match="inconsistent numbers of samples"):
        GBLUPRegressor().fit(X, y[:-1])
    fitted = GBLUPRegressor().fit(X, y)
    with pytest.raises(ValueError, match="X has 40 features, but GBLUPRegressor is expecting"):
        fitted.predict(da.concatenate([X, X], axis=1))


@pytest.mark.parametrize(("n_loci", "kept", "needed"),
                         [(500, "its pair effects as their factors, the 300 x 500 centred "
                           "markers", 8 * 300 * 501), (50, "1 dense 50 x 50 pair matrix",
                                                       8 * 50 * 50)])
def test_pair_effects_that_would_not_fit_are_refused_before_the_fit(monkeypatch, n_loci, kept,
                                                                    needed):
    """On a dask X, what the additive-by-additive fit keeps in memory (the factors past p > n,
    else the dense matrices) is checked first: a MemoryError naming it and its size, before
    any kernel is computed (spectral_form is not reached)."""
    G, y = make_panel(n_loci)
    X = da.from_array(G, chunks=(100, 100))
    monkeypatch.setattr("sklearn_elm._gblup.available_memory", lambda: needed - 1)
    monkeypatch.setattr("sklearn_elm._gblup.spectral_form", None)  # reached: a TypeError
    with pytest.raises(MemoryError, match=f"keeps {kept} in memory: .* is available.  Fit "
                                          "kernel='additive'"):
        GBLUPRegressor("additive+epistatic").fit(X, y)


def test_in_memory_factors_are_not_checked_again(monkeypatch):
    """An in-memory X's centred markers are the factors already: no memory is asked for."""
    G, y = make_panel(500)
    monkeypatch.setattr("sklearn_elm._gblup.available_memory", lambda: 1)
    fitted = GBLUPRegressor("additive+epistatic").fit(G, y)
    assert isinstance(fitted.epistasis_matrix_, FactoredPairMatrix)


@pytest.mark.parametrize("block_bytes, widths", [(8 * 40 * 3, [5, 5, 5, 5, 3]),
                                                 (8 * 40 * 12, [10, 10, 3]), (2**27, [23])])
def test_dask_kernel_over_loci_is_summed_a_block_at_a_time(monkeypatch, block_bytes, widths):
    """The n x n kernel of a dask W is the sum of the products of blocks of whole locus
    chunks (grouped up to the block size), each computed once: it equals the in-memory
    kernel to round-off and is exactly symmetric."""
    from sklearn_elm import _kernels

    monkeypatch.setattr(_kernels, "BLOCK_BYTES", block_bytes)
    W = np.random.default_rng(0).standard_normal((40, 23))
    computed = []
    original = _kernels.computed

    def recorded(*arrays):
        computed.extend(array.shape for array in arrays)
        return original(*arrays)

    monkeypatch.setattr(_kernels, "computed", recorded)
    K = _kernels.gram(da.from_array(W, chunks=(15, 5)), over="loci")
    np.testing.assert_allclose(K, W @ W.T, rtol=1e-12, atol=1e-12)
    assert np.array_equal(K, K.T)
    assert [shape[1] for shape in computed] == widths  # whole chunks of 5 loci
