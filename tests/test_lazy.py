"""Genotypes out of memory: open_plink's lazy array, and ELMDecomposer on it and on dask."""

import pickle

import numpy as np
import pytest
from sklearn.model_selection import GridSearchCV, KFold
from sklearn.pipeline import make_pipeline

from sklearn_elm import ELMDecomposer, GenotypeEncoder, NeuralGPRegressor

bed_reader = pytest.importorskip(
    "bed_reader", reason="bed-reader is not installed (pip install 'sklearn-elm[plink]')"
)
from sklearn_elm.datasets import PlinkArray, open_plink, read_plink  # noqa: E402

N_SAMPLES, N_LOCI, BATCH = 400, 6, 64
#: the estimators that stream the samples, and one pair that keeps them
STREAMED = {"epistasis": "regression", "components": "network"}
KEPT = {"epistasis": "projection", "components": "debiased"}
SCREENED = {"epistasis": "screened", "components": "screened"}


@pytest.fixture(scope="module")
def panel(tmp_path_factory):
    """A diploid panel on disk with one missing call, its genotypes and a trait."""
    rng = np.random.default_rng(0)
    G = rng.integers(0, 3, size=(N_SAMPLES, N_LOCI)).astype(np.int8)
    G[5, 2] = -127  # bed-reader's int8 code of a missing call
    path = tmp_path_factory.mktemp("panel") / "cohort.bed"
    bed_reader.to_bed(path, G, properties={
        "iid": [f"s{i}" for i in range(N_SAMPLES)],
        "sid": [f"rs{j}" for j in range(N_LOCI)],
        "chromosome": ["1"] * 3 + ["2"] * 3,
        "bp_position": [100 * (j + 1) for j in range(N_LOCI)],
    })
    genotypes = np.where(G == -127, np.nan, G.astype(np.float64))
    trait = np.nan_to_num(genotypes[:, 0]) + 0.5 * (G[:, 1] == 2) * (G[:, 3] == 0)
    trait = trait + rng.normal(scale=0.5, size=N_SAMPLES)
    return path, genotypes, trait


@pytest.fixture(scope="module")
def network(panel):
    """A tiny default pipeline fitted in memory."""
    _, genotypes, trait = panel
    net = NeuralGPRegressor(module__hidden_sizes=(8,), max_epochs=3, random_state=0)
    return make_pipeline(GenotypeEncoder(), net).fit(genotypes, trait)


def assert_same_fit(fitted, expected):
    """Effects, epistasis and components equal to float round-off."""
    for name in ("additive_effects_", "epistasis_matrix_", "epistasis_variance_",
                 "intercept_"):
        np.testing.assert_allclose(getattr(fitted, name), getattr(expected, name),
                                   rtol=1e-10, atol=1e-13, err_msg=name)
    for name, value in expected.variance_components_.items():
        np.testing.assert_allclose(fitted.variance_components_[name], value, rtol=1e-10,
                                   atol=1e-13, err_msg=name, equal_nan=True)


def test_open_plink_reads_what_read_plink_reads(panel, tmp_path):
    """open_plink's values (NaN for the missing call), IDs and map equal read_plink's."""
    path, genotypes, _ = panel
    pheno = tmp_path / "traits.csv"
    pheno.write_text("iid,t\n" + "".join(f"s{i},{i}\n" for i in range(N_SAMPLES)))
    expected = read_plink(path, pheno)
    X = open_plink(path.with_suffix(""))
    assert isinstance(X, PlinkArray)
    assert (X.shape, X.ndim, X.dtype, len(X)) == ((N_SAMPLES, N_LOCI), 2, np.float32, N_SAMPLES)
    values = np.asarray(X)
    assert values.dtype == np.float32 and np.isnan(values[5, 2])
    np.testing.assert_array_equal(values, expected.genotypes)
    np.testing.assert_array_equal(values, genotypes)
    np.testing.assert_array_equal(X.sample_ids, expected.sample_ids)
    np.testing.assert_array_equal(X.variant_ids, expected.feature_names)
    np.testing.assert_array_equal(X.chromosomes, expected.chromosomes)
    np.testing.assert_array_equal(X.positions, expected.positions)


def test_open_plink_indexing(panel):
    """Slices, index arrays, masks and (rows, cols) keys read what numpy would select
    (index arrays on both axes as an outer product); bad keys raise IndexError."""
    path, genotypes, _ = panel
    X = open_plink(path)
    rows = np.array([7, 5, -1, 5])
    mask = np.arange(N_SAMPLES) % 3 == 0
    for key in (slice(3, 9), slice(None, None, -50), rows, mask, 4, -2, (slice(2, 6), 2),
                (rows, slice(1, 4)), (4, 3), (..., 1), (slice(0, 0),)):
        np.testing.assert_array_equal(X[key], genotypes[key], err_msg=repr(key))
    np.testing.assert_array_equal(X[rows, [2, 0]], genotypes[np.ix_(rows, [2, 0])])
    assert X[0:0].shape == (0, N_LOCI)
    for bad in (N_SAMPLES, np.array([0, N_SAMPLES]), mask[:-1], (0, 0, 0), np.ones((2, 2), int),
                np.array([0.5])):
        with pytest.raises(IndexError):
            X[bad]


def test_open_plink_pickles_small_and_checks_the_files(panel, tmp_path):
    """A pickled PlinkArray is the path and counts (reads the IDs again where used); a
    .fam that does not fit the .bed is refused by read_plink's checks."""
    path, genotypes, _ = panel
    X = open_plink(path)
    data = pickle.dumps(X)
    assert len(data) < 1000
    copy = pickle.loads(data)
    np.testing.assert_array_equal(copy[10:20], genotypes[10:20])
    np.testing.assert_array_equal(copy.sample_ids, X.sample_ids)
    np.testing.assert_array_equal(copy.positions, X.positions)
    broken = tmp_path / "broken"
    for suffix in (".bed", ".bim"):
        broken.with_suffix(suffix).write_bytes(path.with_suffix(suffix).read_bytes())
    lines = path.with_suffix(".fam").read_text().splitlines()
    broken.with_suffix(".fam").write_text("\n".join(lines[:-4]) + "\n")
    with pytest.raises(ValueError, match="lists 396"):
        open_plink(broken)


@pytest.fixture
def no_whole_read(monkeypatch):
    """Fail on a read of the whole panel, and record the samples of every read."""
    sizes = []
    read = PlinkArray._read

    def recorded(self, rows, cols):
        sizes.append(len(rows))
        return read(self, rows, cols)

    def whole(self, dtype=None, copy=None):
        raise AssertionError("the lazy array was read whole")

    monkeypatch.setattr(PlinkArray, "_read", recorded)
    monkeypatch.setattr(PlinkArray, "__array__", whole)
    return sizes


@pytest.mark.parametrize("estimators", [STREAMED, KEPT], ids=["streamed", "kept"])
def test_lazy_plink_equals_in_memory(panel, network, estimators, no_whole_read):
    """ELMDecomposer on open_plink's array, read batch_size samples at a time and never
    whole, equals the in-memory fit, transform and predict to float round-off."""
    path, genotypes, trait = panel
    X = open_plink(path)
    settings = dict(prefit=True, batch_size=BATCH, **estimators)
    expected = ELMDecomposer(network, **settings).fit(genotypes, trait)
    fitted = ELMDecomposer(network, **settings).fit(X, trait)
    assert_same_fit(fitted, expected)
    assert no_whole_read and max(no_whole_read) <= BATCH
    np.testing.assert_allclose(fitted.transform(X), expected.transform(genotypes), rtol=1e-12)
    np.testing.assert_allclose(fitted.predict(X), expected.predict(genotypes), rtol=1e-6)
    assert fitted.score(X, trait) == pytest.approx(expected.score(genotypes, trait))


@pytest.mark.parametrize("estimators, dtype", [(KEPT, "float64"), (SCREENED, "int8 codes")],
                         ids=["debiased", "screened"])
def test_kept_samples_beyond_memory_are_refused(panel, network, monkeypatch, no_whole_read,
                                                estimators, dtype):
    """Where the kept samples would not fit, the fit stops before reading all of them,
    naming the bytes (the samples as they are kept: the screened fit alone keeps genotype
    codes as int8, its missing call as a correction; and the screened fit's own arrays,
    which the debiased components' tests use too) and the streamed estimators; those
    still run."""
    path, _, trait = panel
    monkeypatch.setattr("sklearn_elm._lazy._available_memory", lambda: 10_000)
    X = open_plink(path)
    with pytest.raises(ValueError, match=rf"\(400 samples x 6 network inputs in {dtype}, and "
                       r"the screened fit's scans and Gram matrices .* 10 kB available\. "
                       "Use epistasis='regression' and components='network'"):
        ELMDecomposer(network, prefit=True, batch_size=BATCH, **estimators).fit(X, trait)
    assert sum(no_whole_read) <= 256  # at most the first samples, to see how they are kept
    ELMDecomposer(network, prefit=True, batch_size=BATCH, **STREAMED).fit(X, trait)


def test_the_kept_codes_are_judged_on_samples_across_the_panel(panel, network, tmp_path,
                                                                monkeypatch):
    """A panel whose first samples miss no call and whose later ones miss many is kept in
    float32 (past an eighth of the inputs off the integers): the memory check reads
    samples across the panel, and says so."""
    _, genotypes, trait = panel
    G = np.nan_to_num(genotypes, nan=0.0).astype(np.int8)
    late = np.random.default_rng(1).random(G.shape) < 0.5
    late[: N_SAMPLES // 2] = False
    G[late] = -127
    path = tmp_path / "late.bed"
    bed_reader.to_bed(path, G)
    monkeypatch.setattr("sklearn_elm._lazy._available_memory", lambda: 10_000)
    with pytest.raises(ValueError, match=r"400 samples x 6 network inputs in float32"):
        ELMDecomposer(network, prefit=True, batch_size=BATCH, **SCREENED).fit(
            open_plink(path), trait)


def test_lazy_shape_is_checked(panel, network):
    """A lazy X with the wrong number of loci is refused by its shape."""
    path, genotypes, trait = panel
    dec = ELMDecomposer(network, prefit=True, **STREAMED).fit(open_plink(path), trait)
    assert dec.n_features_in_ == N_LOCI
    dask_array = pytest.importorskip("dask.array")
    wide = dask_array.from_array(np.hstack([genotypes, genotypes]), chunks=(100, N_LOCI))
    with pytest.raises(ValueError, match="12 features, but ELMDecomposer is expecting 6"):
        dec.transform(wide)
    with pytest.raises(ValueError, match="chunk sizes are unknown"):
        dec.predict(wide[wide[:, 0] > 0])


@pytest.fixture(scope="module")
def client():
    """A LocalCluster of two single-thread worker processes: the network, the encoder and
    the lazy array are pickled to them, and each worker has its own torch RNG."""
    pytest.importorskip("dask.array")
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster:
        with distributed.Client(cluster) as client:
            # torch and skorch imported once, in the setup rather than in the first test
            client.run(exec, "import sklearn_elm._regressor")
            yield client


def test_sums_past_a_workers_memory_limit_are_refused(panel, network, client, monkeypatch):
    """On a cluster, the sums each task holds are counted against every worker's memory
    limit (its threads' tasks and a step of the tree sum) before any task runs."""
    path, _, trait = panel
    limit = client.scheduler_info()["workers"]
    limit = min(worker["memory_limit"] for worker in limit.values())
    X = open_plink(path).to_dask(chunks=90)
    monkeypatch.setattr("sklearn_elm._lazy.task_sums_bytes", lambda *args: limit // 3)
    with pytest.raises(ValueError, match=r"worker .* runs 1 at once beside a step of the "
                       r"tree sum .* more than 90 % of its memory limit"):
        ELMDecomposer(network, prefit=True, batch_size=BATCH, **STREAMED).fit(X, trait)
    monkeypatch.setattr("sklearn_elm._lazy.task_sums_bytes", lambda *args: limit // 4)
    ELMDecomposer(network, prefit=True, batch_size=BATCH, **STREAMED).fit(X, trait)


@pytest.mark.parametrize("estimators", [STREAMED, KEPT], ids=["streamed", "kept"])
def test_dask_on_a_cluster_equals_in_memory(panel, network, estimators, client):
    """On a 2-worker LocalCluster, the sums are one task per sample chunk (run by the
    workers) and a tree sum: the fit equals the in-memory one to float round-off, and
    transform and predict are dask arrays of the in-memory values."""
    from distributed import get_task_stream

    path, genotypes, trait = panel
    # chunks of 90 samples, made whole batches of 64 (7 chunks) so that the float32
    # network sees the batches of the in-memory pass
    X = open_plink(path).to_dask(chunks=90)
    settings = dict(prefit=True, batch_size=BATCH, **estimators)
    expected = ELMDecomposer(network, **settings).fit(genotypes, trait)
    with get_task_stream(client) as tasks:
        fitted = ELMDecomposer(network, **settings).fit(X, trait)
    assert_same_fit(fitted, expected)
    names = [task["key"][0] if isinstance(task["key"], tuple) else task["key"]
             for task in tasks.data]
    assert sum(name.startswith("stream_sums") for name in names) == 7
    assert sum(name.startswith("combine_sums") for name in names) == 6
    contributions = fitted.transform(X)
    assert contributions.chunks[0] == X.chunks[0]
    np.testing.assert_allclose(contributions.compute(), expected.transform(genotypes),
                               rtol=1e-12)
    prediction = fitted.predict(X)
    assert prediction.shape == (N_SAMPLES,)
    np.testing.assert_allclose(prediction.compute(), expected.predict(genotypes), rtol=1e-6)


def test_gridsearch_through_joblib_dask_backend(panel, client):
    """GridSearchCV run by joblib's dask backend on the cluster scores as the serial run."""
    joblib = pytest.importorskip("joblib")
    _, genotypes, trait = panel
    net = NeuralGPRegressor(module__hidden_sizes=(4,), max_epochs=2, random_state=0)
    search = GridSearchCV(make_pipeline(GenotypeEncoder(), net),
                          {"neuralgpregressor__lr": [0.01, 0.1]}, cv=KFold(2))
    serial = search.fit(genotypes, trait).cv_results_["mean_test_score"]
    with joblib.parallel_config(backend="dask"):
        parallel = search.set_params(n_jobs=2).fit(genotypes, trait)
    np.testing.assert_allclose(parallel.cv_results_["mean_test_score"], serial, rtol=1e-6)


def test_a_pipeline_trains_on_a_plink_file_without_reading_it_whole(panel, no_whole_read):
    path, genotypes, trait = panel
    lazy = open_plink(path)
    net = NeuralGPRegressor(module__hidden_sizes=(8,), max_epochs=5, random_state=0)
    model = make_pipeline(GenotypeEncoder(), net).fit(lazy, trait)
    assert no_whole_read  # read through PlinkArray._read, never np.asarray (the fixture)
    np.testing.assert_allclose(model.predict(lazy), model.predict(genotypes), rtol=1e-6)
    dec = ELMDecomposer(make_pipeline(GenotypeEncoder(), NeuralGPRegressor(
        module__hidden_sizes=(8,), max_epochs=5, random_state=0)), **STREAMED).fit(lazy, trait)
    assert dec.additive_effects_.shape == (N_LOCI,)


def test_pairwise_arrays_beyond_memory_are_refused(panel, network, monkeypatch,
                                                   no_whole_read):
    """Where the p x p arrays of the streamed sums would not fit, the fit stops before
    reading a sample, naming their number, the bytes and the estimator that needs none."""
    path, genotypes, trait = panel
    monkeypatch.setattr("sklearn_elm._lazy._available_memory", lambda: 1_000)
    for X in (open_plink(path), genotypes):
        with pytest.raises(ValueError, match=r"about 6 dense 6 x 6 float64 arrays .*: 1\.73 kB, "
                           r"more than the 1 kB available\. Use epistasis='screened'"):
            ELMDecomposer(network, prefit=True, batch_size=BATCH, **STREAMED).fit(X, trait)
    assert not no_whole_read


def test_pairwise_memory_counts_the_class_sums_of_the_contrast(monkeypatch):
    from sklearn_elm._decomposition import init_moments
    from sklearn_elm._lazy import check_pairwise_memory, pairwise_bytes

    p, k = 50, 2
    sums = sum(np.asarray(value).nbytes for value in init_moments(p, k, contrast=True).values())
    # the sums alone, before their design and the outputs
    assert sums < pairwise_bytes(p, k, contrast=True)
    monkeypatch.setattr("sklearn_elm._lazy._available_memory", lambda: sums)
    check_pairwise_memory(p, k, epistasis="regression", components="network")
    with pytest.raises(ValueError, match="about 19 dense 50 x 50 .* genotype-class sums"):
        check_pairwise_memory(p, k, epistasis="contrast", components="network")


@pytest.mark.parametrize(("shape", "crossfit"), [((1500, 600), False), ((1200, 1500), False),
                                               ((1200, 1500), True)],
                         ids=["p<n/2", "p>n/2", "p>n/2-crossfit"])
def test_screened_fit_bytes_bounds_the_traced_peak(shape, crossfit):
    """The memory check's estimate of the screened fit (its scans, design, Gram matrix and
    inverse) bounds what the fit allocates beside the int8 codes it is given, and is not
    loose by more than half (so that the check refuses only what would not fit)."""
    import tracemalloc
    import warnings

    from sklearn_elm._decomposition._screening import screened_fit
    from sklearn_elm._lazy import screened_fit_bytes

    n, p = shape
    rng = np.random.default_rng(0)
    Z = (rng.binomial(2, rng.uniform(0.1, 0.5, p), size=(n, p)) - 1).astype(np.int8)
    g = Z[:, :5] @ np.full(5, 0.4) + 0.5 * Z[:, 10] * Z[:, 11]
    y = g + rng.normal(size=n)
    F, R = 0.9 * g[:, None], (y - y.mean() - 0.9 * g)[:, None]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        tracemalloc.start()
        try:
            start = tracemalloc.get_traced_memory()[0]
            screened_fit(Z, F, R, np.array([y.var()]), overwrite_z=True, crossfit=crossfit)
            peak = tracemalloc.get_traced_memory()[1] - start
        finally:
            tracemalloc.stop()
    assert 0.5 < peak / screened_fit_bytes(n, p, crossfit=crossfit) <= 1.0
