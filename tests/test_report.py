"""Tests of the report: atomic writing, contents, and rendering in a headless browser."""

import csv
import dataclasses
import json
import os
import re
import signal
import subprocess

import numpy as np
import pytest
from matplotlib.image import imread
from sklearn.utils import Bunch

from sklearn_elm import _report
from sklearn_elm._decomposition._inference import significant_pairs_table
from sklearn_elm._report import (
    REPORT_FILES,
    check_output_directory,
    format_summary,
    output_lock,
    rank_pairs,
    summary_tables,
    write_report,
)
from sklearn_elm.workflow import Analysis

CHROMIUM = "/usr/bin/chromium"


def fake_inference(names, vc, rng, fdr=0.05):
    """Standard errors, p-values and pair tests as the workflow reads them off the fitted
    models: 8 pairs kept per trait of all p (p - 1) / 2 tested, two of them strong."""
    k, p = len(vc["ELM"]["h2"]), len(names)
    i, j = np.triu_indices(p, 1)
    tests = []
    for _ in range(k):
        chosen = rng.choice(i.size, min(8, i.size), replace=False)
        p_value = np.sort(rng.uniform(0.01, 1.0, size=chosen.size))
        p_value[:2] = [1e-12, 1e-6]
        tests.append(Bunch(pairs=np.column_stack([j[chosen], i[chosen]]),  # either order
                           estimate=rng.normal(size=chosen.size),
                           std_error=rng.uniform(0.01, 0.1, size=chosen.size),
                           p_value=p_value, n_tests=i.size))
    errors = {m: {c: rng.uniform(0.01, 0.1, size=k) for c in vc[m]} for m in ("ELM", "GBLUP-A")}
    errors["ELM"]["phenotypic"] = np.full(k, np.nan)  # not estimated
    return dict(variance_components_se=errors, additive_estimates=rng.normal(size=(k, p)),
                additive_se=rng.uniform(0.01, 0.1, size=(k, p)),
                additive_pvalues=rng.uniform(size=(k, p)),
                marginal_pvalues=rng.uniform(size=(k, p)), pair_tests=tests, fdr=fdr,
                significant_pairs=significant_pairs_table(tests, fdr, names, as_frame=False))


def fake_results(n_traits=2, n_loci=6, *, truth=True, tests=True, seed=0, **overrides):
    """An Analysis as the workflow builds it, without training anything; ``tests=False``
    leaves out the standard errors and tests (an analysis that has none)."""
    rng = np.random.default_rng(seed)
    k, p, n_test = n_traits, n_loci, 20
    names = np.array([f"snp<{i}>" for i in range(p)])  # markup in names must be escaped
    traits = np.array([f"trait {t}" for t in range(k)])

    def sym():
        E = rng.normal(size=(k, p, p))
        E = E + E.transpose(0, 2, 1)
        E[:, np.arange(p), np.arange(p)] = 0
        return E

    y = rng.normal(size=(n_test, k))
    predictions = {"network": y + rng.normal(scale=0.3, size=y.shape), "GBLUP-A": 0.5 * y}
    vc = {
        m: {c: rng.uniform(0.1, 1, size=k) for c in ("additive", "epistatic", "genetic",
                                                    "residual", "phenotypic", "h2", "H2")}
        for m in ("ELM", "GBLUP-A")
    }
    results = dict(
        name="toy",
        description="toy results",
        feature_names=names,
        target_names=traits,
        ploidy=1,
        n_train=80,
        n_test=n_test,
        y_test=y,
        predictions=predictions,
        test_r2={m: rng.uniform(size=k) for m in predictions},
        additive={"ELM": rng.normal(size=(k, p)), "GBLUP-A": rng.normal(size=(k, p))},
        epistasis={"ELM": sym(), "GBLUP-A+AA": sym()},
        variance_components=vc,
        elm_components="debiased",
        network={"hidden_sizes": "16"},
        recovery=None,
        settings={"hidden_sizes": "16", "max_epochs": 5},
        timings={"train": 1.5, "total": 2.0},
        versions={"sklearn_elm": "test"},
    )
    if tests:
        results.update(fake_inference(names, vc, rng))
    if truth:
        results["additive"]["truth"] = rng.normal(size=(k, p))
        results["epistasis"]["truth"] = sym()
        results["variance_components"]["truth"] = vc["ELM"]
        results["recovery"] = {
            "additive": {"ELM": [{"slope": 0.9, "intercept": 0.0, "r": 0.95}] * k},
            "pairwise": {"ELM": [{"slope": 0.8, "intercept": 0.0, "r": 0.9,
                                  "r2": 0.81, "precision": 1.0, "k": 3}] * k},
        }
    results.update(overrides)
    return Analysis(**results)


@pytest.fixture
def placeholder_figures(monkeypatch):
    """Figures written as a few bytes: for tests of the report's files and directory safety,
    which need a report's files but not its drawings (those are checked above)."""
    monkeypatch.setattr(_report._figures, "save", lambda draw, path: path.write_bytes(b"png"))


def test_rank_pairs_orders_by_magnitude():
    """Pairs i < j by decreasing |e_ij|; the two pairs at exactly 0 (not scored) are left
    out, whatever top asks for."""
    E = np.array([[0, 1, -3, 0], [1, 0, 2, 0.5], [-3, 2, 0, 0], [0, 0.5, 0, 0]], dtype=float)
    i, j, e = rank_pairs(E)
    assert list(zip(i.tolist(), j.tolist(), strict=True)) == [(0, 2), (1, 2), (0, 1), (1, 3)]
    assert e.tolist() == [-3.0, 2.0, 1.0, 0.5]
    assert len(rank_pairs(E, top=2)[2]) == 2
    assert len(rank_pairs(E, top=10)[2]) == 4
    assert [len(a) for a in rank_pairs(np.zeros((5, 5)), top=3)] == [0, 0, 0]


def _ranked_reference(E, top):
    """Every pair i < j with a non-zero estimate, stably sorted by -|e| (NaN last)."""
    i, j = np.triu_indices(E.shape[-1], k=1)
    values = E[i, j]
    scored = values != 0
    i, j, values = i[scored], j[scored], values[scored]
    key = np.where(np.isnan(values), np.inf, -np.abs(values))
    order = np.argsort(key, kind="stable")[:top]
    return i[order], j[order], values[order]


@pytest.mark.parametrize("block", [7, 40, 2**22])
@pytest.mark.parametrize("top", [None, 1, 5, 12, 300])
def test_rank_pairs_read_by_blocks_ranks_as_a_whole(monkeypatch, block, top):
    """Read a block of rows at a time, keeping only the candidates for the top, the ranking
    is that of all scored pairs sorted at once: ties (many here) in the matrix's row order,
    NaN last, zeros left out; a scipy sparse matrix ranks as its dense form."""
    from scipy import sparse

    from sklearn_elm._report import _ranking

    monkeypatch.setattr(_ranking, "RANK_BLOCK", block)
    rng = np.random.default_rng(block)
    p = 23
    E = rng.choice([0.0, 0.0, 0.5, -0.5, 1.0, -2.0], size=(p, p)) * rng.choice([1.0, 1.5],
                                                                               size=(p, p))
    E[3, 9] = E[4, 4] = E[10, 20] = np.nan
    E = np.triu(E, 1) + np.triu(E, 1).T
    expected = _ranked_reference(E, top)
    for given in (E, sparse.csr_array(E), sparse.coo_array(E)):
        ranked = rank_pairs(given, top=top)
        for got, want in zip(ranked, expected, strict=True):
            np.testing.assert_array_equal(got, want)


def test_rank_pairs_of_a_large_matrix_stays_small(monkeypatch):
    """The top pairs of a matrix read 65,536 cells at a time are ranked with a few MB beyond
    it (a quarter of it here), where ranking every pair at once takes more than the matrix
    itself (its p (p - 1) / 2 values and their indices)."""
    import tracemalloc

    from sklearn_elm._report import _ranking

    monkeypatch.setattr(_ranking, "RANK_BLOCK", 2**16)
    rng = np.random.default_rng(0)
    E = rng.normal(size=(2000, 2000))
    tracemalloc.start()
    try:
        i, j, e = rank_pairs(E, top=100)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < E.nbytes / 4
    assert abs(e[0]) == np.abs(np.triu(E, 1)).max() and len(e) == 100 and (i < j).all()


def test_report_files_and_contents(tmp_path):
    results = fake_results()
    out = write_report(results, tmp_path / "report")
    files = sorted(p.name for p in out.iterdir())
    assert files == sorted([
        "additive_effects.png", "effects.csv", "epistasis_1_trait_0.png",
        "epistasis_2_trait_1.png", "epistasis_pairs.csv", "index.html", "manhattan_1_trait_0.png",
        "manhattan_2_trait_1.png", "metrics.json", "observed_vs_predicted.png", "pair_qq.png",
        "significant_pairs.csv", "variance_components.csv", "variance_components.png",
    ])
    metrics = json.loads((out / "metrics.json").read_text())
    assert sorted(metrics["files"]) == files
    assert metrics["data"]["truth_known"] is True
    assert metrics["traits"]["trait 1"]["recovery"]["pairwise"]["ELM"]["precision"] == 1.0
    top = metrics["traits"]["trait 0"]["top_pairs"][0]
    i, j, e = rank_pairs(results.epistasis["ELM"][0], top=1)
    assert top == {"locus_i": f"snp<{i[0]}>", "locus_j": f"snp<{j[0]}>",
                   "estimate": pytest.approx(e[0])}
    page = (out / "index.html").read_text()
    assert "snp&lt;" in page and "snp<" not in page.replace("<img", "")
    for name in files:
        if name.endswith((".png", ".csv")) and name != "variance_components.csv":
            assert f'"{name}"' in page or f"'{name}'" in page, name


def test_report_without_truth(tmp_path):
    results = fake_results(n_traits=1, n_loci=100, truth=False)  # heatmap of a subset
    out = write_report(results, tmp_path / "report")
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["data"]["truth_known"] is False
    assert "recovery" not in metrics["traits"]["trait 0"]
    assert "Recovery" not in (out / "index.html").read_text()
    assert imread(out / "epistasis_1_trait_0.png").shape[0] > 100
    summary = format_summary(results)
    assert "Recovery" not in summary and "Top epistatic pairs" in summary


def test_heatmap_names_its_loci_and_scales_each_method_on_its_own():
    """Past 32 loci the heatmap still names the loci it shows (those of the top pairs), and
    each method has its own colour scale: GBLUP's pair effects, orders of magnitude below
    the network's, are not drawn blank."""
    results = fake_results(n_traits=1, n_loci=100, truth=False)
    methods = list(results.epistasis)
    results.epistasis[methods[1]] = results.epistasis[methods[1]] * 1e-4
    fig = _report._figures.epistasis_heatmap(results, 0)
    panels = [ax for ax in fig.axes if ax.get_title()]
    assert len(panels) == len(methods)
    for ax, method in zip(panels, methods, strict=True):
        assert ax.get_title().endswith(method)
        names = [label.get_text() for label in ax.get_xticklabels()]
        assert len(names) > 32 and set(names) <= set(map(str, results.feature_names))
        low, high = ax.images[0].get_clim()
        shown = ax.images[0].get_array()
        assert high == pytest.approx(np.abs(shown).max()) and low == -high


def test_summary_lists_every_table():
    summary = format_summary(fake_results())
    for title in ("Prediction accuracy", "Variance components", "Recovery of the known",
                  "Top epistatic pairs", "Pairs significant at FDR 5 %"):
        assert title in summary
    assert re.search(r"trait 0\s+network", summary) is None  # methods are columns of r2
    assert "top-k precision" in summary and "1.00 (k=3)" in summary


@pytest.mark.parametrize("scale, shown", [(1e-4, r"0\.0000\d{3}"),
                                          (1e9, r"\d(\.\d{1,3})?e\+0[89]")])
def test_variance_table_shows_small_and_large_traits(scale, shown):
    """Variances of a trait on a small scale keep 3 significant digits (not 0.000), those
    of a large one 4 in exponent form (not a 15-digit cell); h2 and H2 keep 3 decimals."""
    results = fake_results()
    results = dataclasses.replace(results, variance_components={
        m: {c: v if c in ("h2", "H2") else v * scale for c, v in vc.items()}
        for m, vc in results.variance_components.items()})
    rows = summary_tables(results)["components"].rows
    assert all(re.fullmatch(shown, cell) for cell in rows[0][2:7]), rows[0]
    assert all(re.fullmatch(r"0\.\d{3}", cell) for cell in rows[0][7:9]), rows[0]


@pytest.mark.parametrize("components, phrase", [("debiased", "debiased, so not shrunk"),
                                                ("network", "the network's own parts")])
def test_variance_table_says_what_the_elm_row_is(components, phrase):
    results = fake_results(elm_components=components)
    assert phrase in summary_tables(results)["components"].note


def test_existing_directory_needs_force(tmp_path, placeholder_figures):
    out = tmp_path / "report"
    out.mkdir()
    results = fake_results(n_traits=1)
    write_report(results, out)  # an empty directory may be used
    with pytest.raises(FileExistsError, match="--force"):
        write_report(results, out)
    (out / "index.html").write_text("old")
    write_report(results, out, force=True)  # a previous report is replaced
    assert (out / "index.html").read_text() != "old"
    assert [p.name for p in tmp_path.iterdir()] == ["report"]  # no temporary left over
    (tmp_path / "file").write_text("")
    with pytest.raises(FileExistsError, match="not a directory"):
        check_output_directory(tmp_path / "file", force=True)


def test_force_never_replaces_anything_but_a_report(tmp_path, monkeypatch, placeholder_figures):
    """--force must not delete input data or the working directory."""
    out = tmp_path / "report"
    write_report(fake_results(n_traits=1), out)
    (out / "genotypes.csv").write_text("keep me")
    with pytest.raises(FileExistsError, match="not a report of sklearn-elm .it holds "
                                              "genotypes.csv"):
        write_report(fake_results(n_traits=1), out, force=True)
    assert (out / "genotypes.csv").read_text() == "keep me"
    data = tmp_path / "data"
    data.mkdir()
    (data / "g.csv").write_text("keep me")
    with pytest.raises(FileExistsError, match="it holds g.csv"):
        check_output_directory(data, force=True)
    (data / "g.csv").unlink()
    (data / "index.html").write_text("someone's page")
    with pytest.raises(FileExistsError, match="no metrics.json"):
        check_output_directory(data, force=True)
    (out / "genotypes.csv").unlink()
    monkeypatch.chdir(out)
    with pytest.raises(FileExistsError, match="working directory"):
        check_output_directory(tmp_path, force=True)
    with pytest.raises(FileExistsError, match="working directory"):
        check_output_directory(".", force=True)


def test_permissions_follow_umask(tmp_path, placeholder_figures):
    out = write_report(fake_results(n_traits=1), tmp_path / "report")
    umask = os.umask(0)
    os.umask(umask)
    assert out.stat().st_mode & 0o777 == 0o777 & ~umask


@pytest.mark.parametrize("existing", [False, True])
def test_interrupted_write_leaves_no_report(tmp_path, monkeypatch, existing):
    """Ctrl-C while writing: no half-written report, an existing one is left intact."""
    out = tmp_path / "report"
    if existing:
        out.mkdir()
        (out / "metrics.json").write_text("old report")

    def interrupted(draw, path):
        path.write_bytes(b"half")
        raise KeyboardInterrupt

    monkeypatch.setattr(_report._figures, "save", interrupted)
    with pytest.raises(KeyboardInterrupt):
        write_report(fake_results(), out, force=True)
    if existing:
        assert [p.name for p in out.iterdir()] == ["metrics.json"]
    else:
        assert not out.exists()
    assert [p.name for p in tmp_path.iterdir()] == (["report"] if existing else [])


def test_interrupt_between_renames_restores_old_report(tmp_path, monkeypatch, placeholder_figures):
    out = tmp_path / "report"
    out.mkdir()
    (out / "metrics.json").write_text("old report")
    rename = os.rename
    calls = []

    def flaky_rename(src, dst):
        calls.append(src)
        if len(calls) == 2:  # the old report is aside, the new one not yet in place
            raise KeyboardInterrupt
        rename(src, dst)

    monkeypatch.setattr(_report._files.os, "rename", flaky_rename)
    with pytest.raises(KeyboardInterrupt):
        write_report(fake_results(n_traits=1), out, force=True)
    assert [p.name for p in out.iterdir()] == ["metrics.json"]
    assert [p.name for p in tmp_path.iterdir()] == ["report"]


def _chromium(*args, profile):
    command = [
        CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
        "--disable-quic", "--no-first-run", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", f"--user-data-dir={profile}", *args,
    ]
    return subprocess.run(command, capture_output=True, text=True, timeout=120, check=True)


@pytest.mark.skipif(
    not os.path.exists(CHROMIUM),
    reason=f"{CHROMIUM} is absent (Debian's chromium package; .ci/run installs it)",
)
def test_index_renders_in_headless_chromium(tmp_path):
    """index.html renders, and every image in it loads (naturalWidth > 0)."""
    out = write_report(fake_results(n_traits=3), tmp_path / "report")
    url = (out / "index.html").as_uri()
    shot = tmp_path / "screenshot.png"
    _chromium("--window-size=1200,3000", f"--screenshot={shot}", url,
              profile=tmp_path / "profile")
    pixels = imread(shot)
    assert pixels.shape[:2] == (3000, 1200)
    assert pixels[..., :3].std() > 0.01  # not a blank page

    dom = _chromium("--dump-dom", url, profile=tmp_path / "profile").stdout
    assert 'data-images-checked="true"' in dom, "the page's load handler did not run"
    images = re.findall(r"<img\b[^>]*>", dom)
    pngs = sorted(p.name for p in out.glob("*.png"))
    assert sorted(re.search(r'src="([^"]+)"', img).group(1) for img in images) == pngs
    broken = [img for img in images if 'data-loaded="true"' not in img]
    assert not broken, f"images that did not load: {broken}"


@pytest.mark.skipif(not os.path.exists(CHROMIUM), reason=f"{CHROMIUM} is absent")
def test_broken_image_is_detected(tmp_path):
    """The load check itself: a missing PNG is reported as not loaded."""
    out = write_report(fake_results(n_traits=1), tmp_path / "report")
    (out / "additive_effects.png").unlink()
    dom = _chromium("--dump-dom", (out / "index.html").as_uri(),
                    profile=tmp_path / "profile").stdout
    assert re.search(r'<img src="additive_effects.png"[^>]*data-loaded="false"', dom)


def test_output_path_is_resolved_before_it_is_checked(tmp_path, monkeypatch, placeholder_figures):
    """'missing/../data' is the data directory, not a new one; a directory named like a
    report file is not a report file; desktop litter does not block a re-run."""
    data = tmp_path / "data"
    data.mkdir()
    (data / "g.csv").write_text("keep me")
    monkeypatch.chdir(tmp_path)
    with pytest.raises(FileExistsError, match="is not empty"):
        write_report(fake_results(n_traits=1), "missing/../data")
    assert (data / "g.csv").read_text() == "keep me" and not (tmp_path / "missing").exists()
    out = write_report(fake_results(n_traits=1), tmp_path / "report")
    (out / "epistasis_maps.png").mkdir()
    (out / "epistasis_maps.png" / "data.txt").write_text("keep me")
    with pytest.raises(FileExistsError, match="it holds epistasis_maps.png"):
        write_report(fake_results(n_traits=1), out, force=True)
    (out / "epistasis_maps.png" / "data.txt").unlink()
    (out / "epistasis_maps.png").rmdir()
    (out / ".DS_Store").write_text("")
    write_report(fake_results(n_traits=1), out, force=True)


def test_every_file_written_is_in_the_registry_once(tmp_path, placeholder_figures):
    """A report holds one file per registry entry (one per trait for the heatmaps; the full
    matrices where asked for) and nothing else, and every entry says what it holds."""
    out = write_report(fake_results(n_traits=2), tmp_path / "report", full_matrix=True)
    names = sorted(p.name for p in out.iterdir())
    patterns = [re.compile(re.escape(f.name).replace("<k>", r"\d+").replace("<trait>", ".+"))
                for f in REPORT_FILES]
    matches = {f.name: [n for n in names if pattern.fullmatch(n)]
               for f, pattern in zip(REPORT_FILES, patterns, strict=True)}
    assert {f: len(found) for f, found in matches.items()} == {
        f.name: 2 if "<k>" in f.name else 1 for f in REPORT_FILES}
    assert sorted(n for found in matches.values() for n in found) == names
    assert all(f.holds for f in REPORT_FILES)


def test_the_full_matrices_are_written_only_on_request_and_read_back(
        tmp_path, placeholder_figures):
    """epistasis_matrix.npz holds every method's (k, p, p) pair matrix as the analysis has it,
    with the locus and trait names; without full_matrix it is not written."""
    results = fake_results(n_traits=2)
    out = write_report(results, tmp_path / "report")
    assert not (out / "epistasis_matrix.npz").exists()
    out = write_report(results, tmp_path / "full", full_matrix=True)
    with np.load(out / "epistasis_matrix.npz") as saved:
        assert list(saved["loci"]) == [str(n) for n in results.feature_names]
        assert list(saved["traits"]) == [str(t) for t in results.target_names]
        for method, E in results.epistasis.items():
            np.testing.assert_array_equal(saved[_report._tables.slug(method)], E)


def test_a_signal_during_the_final_rename_is_held_until_it_is_done(
        tmp_path, monkeypatch, placeholder_figures):
    """Ctrl-C while the previous report is being deleted: the new report is complete, no
    copy is left beside it, and the interruption, delivered after, says where it is."""
    out = tmp_path / "report"
    write_report(fake_results(n_traits=1), out)
    rmtree = _report._files.shutil.rmtree

    def interrupted(path, **kwargs):
        if str(path).endswith(".old"):
            os.kill(os.getpid(), signal.SIGINT)
        rmtree(path, **kwargs)

    monkeypatch.setattr(_report._files.shutil, "rmtree", interrupted)
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        with pytest.raises(KeyboardInterrupt) as caught:
            write_report(fake_results(n_traits=2), out, force=True)
    finally:
        signal.signal(signal.SIGINT, previous)
    assert caught.value.report_directory == out
    assert [p.name for p in tmp_path.iterdir()] == ["report"]
    assert len(json.loads((out / "metrics.json").read_text())["traits"]) == 2


def test_a_locked_output_is_refused_and_kept(tmp_path, placeholder_figures):
    """While another process holds the lock beside --out, a write is refused at once and
    deletes nothing, even with force."""
    fcntl = pytest.importorskip("fcntl")
    out = write_report(fake_results(n_traits=1), tmp_path / "report")
    before = sorted(p.name for p in out.iterdir())
    fd = os.open(tmp_path / ".report.lock", os.O_RDWR | os.O_CREAT)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)  # another open file: as another process holds it
        with pytest.raises(FileExistsError, match="another sklearn-elm run is writing"):
            write_report(fake_results(n_traits=1), out, force=True)
    finally:
        os.close(fd)
    assert sorted(p.name for p in out.iterdir()) == before
    with output_lock(out) as lock:  # free again; the same process may take it twice
        with output_lock(out):
            assert lock.exists()
        assert lock.exists()
    assert not lock.exists()


def test_output_is_checked_again_at_the_rename(tmp_path, monkeypatch, placeholder_figures):
    """A directory that appears at --out while the report is written (by a program that does
    not take the lock) is not replaced without force, nor deleted."""
    out = tmp_path / "report"
    write_files = _report._files._write_files

    def meanwhile(analysis, directory, options):
        out.mkdir()
        (out / "metrics.json").write_text("someone else's report")
        return write_files(analysis, directory, options)

    monkeypatch.setattr(_report._files, "_write_files", meanwhile)
    with pytest.raises(FileExistsError, match="--force"):
        write_report(fake_results(n_traits=1), out)
    assert (out / "metrics.json").read_text() == "someone else's report"
    assert [p.name for p in tmp_path.iterdir()] == ["report"]


def test_read_only_directory_is_refused(tmp_path):
    """An empty but read-only directory says 'do not write here' (also to root)."""
    out = tmp_path / "report"
    out.mkdir()
    out.chmod(0o555)
    try:
        with pytest.raises(FileExistsError, match="read-only"):
            check_output_directory(out)
    finally:
        out.chmod(0o755)


def test_observed_vs_predicted_shows_each_traits_own_values():
    """Each trait's panel plots that trait's observed test values against each method's
    prediction of it, labelled with that method's r2 (trait 0 on every panel fails here)."""
    results = fake_results(n_traits=3)
    fig = _report._figures.observed_vs_predicted(results)
    axes = [ax for ax in fig.axes if ax.get_visible()]
    assert [ax.get_title() for ax in axes] == ["trait 0", "trait 1", "trait 2"]
    for k, ax in enumerate(axes):
        assert len(ax.collections) == len(results.predictions)
        for points, (method, pred) in zip(ax.collections, results.predictions.items(),
                                          strict=True):
            xy = np.asarray(points.get_offsets())
            np.testing.assert_allclose(xy[:, 0], results.y_test[:, k])
            np.testing.assert_allclose(xy[:, 1], pred[:, k])
            assert points.get_label() == f"{method} (r2 {results.test_r2[method][k]:.3f})"


def test_top_pairs_limits_the_pair_table(tmp_path, placeholder_figures):
    """top_pairs keeps the largest pairs of each trait, in rank order; None keeps them all."""
    results = fake_results(n_traits=2, n_loci=8)
    out = write_report(results, tmp_path / "top", top_pairs=5)
    with open(out / "epistasis_pairs.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert [(r["trait"], int(r["rank"])) for r in rows] == [
        (f"trait {k}", rank) for k in range(2) for rank in range(1, 6)]
    i, j, _ = rank_pairs(results.epistasis["ELM"][1], top=5)
    names = results.feature_names
    assert [(r["locus_i"], r["locus_j"]) for r in rows[5:]] == [
        (names[a], names[b]) for a, b in zip(i, j, strict=True)]
    out = write_report(results, tmp_path / "all")
    with open(out / "epistasis_pairs.csv", newline="") as f:
        assert len(list(csv.DictReader(f))) == 2 * 8 * 7 // 2


def test_pair_table_holds_the_scored_pairs_then_the_tested_ones(tmp_path, placeholder_figures):
    """Where the main estimate leaves pairs at exactly 0 (not chosen by a screened fit), the
    pair table lists the scored pairs first, ranked, then (up to --top-pairs) the pairs the
    decomposer tested that are not among them, by increasing p-value with no estimate, for
    each trait, with the other methods' estimates beside them; the summary and metrics.json
    list only the scored pairs."""
    results = fake_results(n_traits=2, n_loci=8, truth=False)
    E = np.zeros((2, 8, 8))
    E[0, 1, 5] = E[0, 5, 1] = 0.4
    E[0, 2, 3] = E[0, 3, 2] = -0.9
    E[1, 0, 7] = E[1, 7, 0] = 0.2
    results.epistasis["ELM"] = E
    scored = [[(2, 3, -0.9), (1, 5, 0.4)], [(0, 7, 0.2)]]
    for top in (10, 4):
        out = write_report(results, tmp_path / f"report{top}", top_pairs=top)
        with open(out / "epistasis_pairs.csv", newline="") as f:
            rows = list(csv.DictReader(f))
        names, other = results.feature_names, results.epistasis["GBLUP-A+AA"]
        expected = []
        for k in range(2):
            tests = results.pair_tests[k]
            tested = sorted((p, min(a, b), max(a, b)) for (a, b), p in zip(
                tests.pairs.tolist(), tests.p_value, strict=True))
            extra = [(i, j, np.nan) for _, i, j in tested
                     if (i, j) not in {(a, b) for a, b, _ in scored[k]}]
            expected += [(f"trait {k}", r + 1, i, j, e)
                         for r, (i, j, e) in enumerate((scored[k] + extra)[:top])]
        got = [(r["trait"], int(r["rank"]), r["locus_i"], r["locus_j"], r["estimate"])
               for r in rows]
        assert got == [(t, r, names[i], names[j], "" if np.isnan(e) else format(e, ".8g"))
                       for t, r, i, j, e in expected]
        assert [float(r["gblup_a_aa"]) for r in rows] == pytest.approx(
            [other[int(t[-1]), i, j] for t, _, i, j, _ in expected])
        assert all(r["p_value"] for r in rows if not r["estimate"])  # tested, so a p-value
    metrics = json.loads((out / "metrics.json").read_text())
    assert [len(metrics["traits"][f"trait {k}"]["top_pairs"]) for k in range(2)] == [2, 1]
    results.epistasis["ELM"][1] = 0.0
    rows = summary_tables(results)["top_pairs"].rows
    assert rows[1] == ["trait 1", "-"] and "+0.400" in rows[0][1]


def test_positions_reach_the_effects_table_and_order_the_effects_figure(tmp_path,
                                                                         placeholder_figures):
    """Where loci have a chromosome and position, effects.csv carries them and the additive
    effects (without truth) are drawn along the genome, chromosome after chromosome."""
    results = fake_results(n_traits=1, n_loci=6, truth=False,
                           chromosomes=np.array(["2", "2", "2", "5", "5", "5"]),
                           positions=np.array([300, 100, 200, 50, 60, 10]))
    out = write_report(results, tmp_path / "report")
    with open(out / "effects.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert list(rows[0])[:4] == ["trait", "locus", "chromosome", "position"]
    assert [(r["chromosome"], int(r["position"])) for r in rows] == list(
        zip(results.chromosomes, results.positions.tolist(), strict=True))
    ax = _report._figures.additive_effects(results).axes[0]
    x, y = ax.lines[0].get_data()
    assert np.all(x[[1, 2, 0]] == np.sort(x[:3])) and np.all(x[:3] < x[3:].min())
    np.testing.assert_allclose(y, results.additive["ELM"][0])
    assert [label.get_text() for label in ax.get_xticklabels()] == ["2", "5"]



def test_unknown_positions_draw_the_loci_in_file_order(tmp_path, placeholder_figures):
    """PLINK's position 0 means unknown (and bed-reader writes it where none is given): the
    table keeps what the input gave, but the figures draw the loci in file order, not all at
    one x."""
    results = fake_results(n_traits=1, n_loci=6, truth=False,
                           chromosomes=np.array(["0"] * 6), positions=np.zeros(6, dtype=int))
    ax = _report._figures.additive_effects(results).axes[0]
    np.testing.assert_array_equal(ax.lines[0].get_data()[0], np.arange(6))
    manhattan = _report._figures.manhattan(results, 0).axes[0]
    assert manhattan.get_xlabel() == "locus (file order)"


def test_top_pairs_carry_the_traits_p_value(tmp_path, placeholder_figures):
    """The summary's and the page's top pairs of the network carry the trait's test of each
    pair: its p-value where the tests kept it, "p > x" (x the largest p-value kept) where
    they did not, so that a pair the network reads from linkage is not taken for a finding;
    no p-value where there are no tests."""
    results = fake_results(n_traits=1, n_loci=8, truth=False)
    tests = results.pair_tests[0]
    E = np.zeros((1, 8, 8))
    a, b = sorted(int(v) for v in tests.pairs[0])  # kept, p = 1e-12
    E[0, a, b] = E[0, b, a] = 0.3
    kept = {frozenset(int(v) for v in pair) for pair in tests.pairs}
    c, d = next((u, v) for u, v in zip(*np.triu_indices(8, 1), strict=True)
                if frozenset((int(u), int(v))) not in kept)
    E[0, c, d] = E[0, d, c] = -0.9
    results.epistasis["ELM"] = E
    row = summary_tables(results)["top_pairs"].rows[0][1]
    names = results.feature_names
    assert row == (f"{names[c]} x {names[d]} (-0.900, p > {tests.p_value.max():.2g}), "
                   f"{names[a]} x {names[b]} (+0.300, p 1e-12)")
    page = (write_report(results, tmp_path / "report") / "index.html").read_text()
    assert "trait&#x27;s p-value" in page and "1e-12" in page
    bare = fake_results(n_traits=1, n_loci=8, truth=False, tests=False)
    bare.epistasis["ELM"] = E
    assert summary_tables(bare)["top_pairs"].rows[0][1].endswith("(+0.300)")


def test_the_components_table_and_metrics_say_which_errors_they_show(tmp_path,
                                                                    placeholder_figures):
    """Where the decomposer's errors are the jackknife's, the components table's note says
    so and metrics.json's settings record it; with the model's errors the note does not
    mention a jackknife."""
    jack = fake_results(n_traits=1, n_loci=6, truth=False, elm_component_se="jackknife")
    assert "jackknife" in summary_tables(jack)["components"].note
    out = write_report(jack, tmp_path / "jack")
    assert json.loads((out / "metrics.json").read_text())["settings"]["component_se"] == (
        "jackknife")
    model = fake_results(n_traits=1, n_loci=6, truth=False)
    assert "jackknife" not in summary_tables(model)["components"].note

def test_heatmap_shows_the_first_loci_where_no_method_scored_a_pair():
    """Past the heatmap's locus limit with every pair exactly 0 (no pair scored: a purely
    additive trait) the heatmap shows the first loci instead of failing on an empty choice."""
    from sklearn_elm._report._figures import MAX_HEATMAP_LOCI, _heatmap_loci

    p = MAX_HEATMAP_LOCI + 20
    loci = _heatmap_loci([np.zeros((p, p)), np.zeros((p, p))], p)
    np.testing.assert_array_equal(loci, np.arange(MAX_HEATMAP_LOCI))


def _rows(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def _cell(text):
    return np.nan if text == "" else float(text)


def test_effects_and_pairs_carry_the_decomposers_tests(tmp_path, placeholder_figures):
    """effects.csv has test_estimate, std_error, p_value and marginal_p_value after the ELM's
    column, equal to the analysis's additive_estimates, additive_se, additive_pvalues and
    marginal_pvalues; epistasis_pairs.csv
    has those of the pair tests where the pair is among them (in either order) and empty
    cells where it is not."""
    results = fake_results(n_traits=2, n_loci=8)
    out = write_report(results, tmp_path / "report")
    rows = _rows(out / "effects.csv")
    assert list(rows[0]) == ["trait", "locus", "additive_elm", "test_estimate", "std_error",
                             "p_value", "marginal_p_value", "additive_gblup_a",
                             "additive_truth"]
    for column, expected in (("test_estimate", results.additive_estimates),
                             ("std_error", results.additive_se),
                             ("p_value", results.additive_pvalues),
                             ("marginal_p_value", results.marginal_pvalues)):
        got = np.array([float(r[column]) for r in rows]).reshape(2, 8)
        np.testing.assert_allclose(got, expected, rtol=1e-7)
    rows = _rows(out / "epistasis_pairs.csv")
    assert list(rows[0])[:8] == ["trait", "rank", "locus_i", "locus_j", "estimate",
                                 "test_estimate", "std_error", "p_value"]
    position = {str(name): n for n, name in enumerate(results.feature_names)}
    tested = 0
    for r in rows:
        k = int(r["trait"].split()[-1])
        tests = results.pair_tests[k]
        pair = {position[r["locus_i"]], position[r["locus_j"]]}
        where = [n for n, (a, b) in enumerate(tests.pairs) if {a, b} == pair]
        if where:
            tested += 1
            assert float(r["test_estimate"]) == pytest.approx(tests.estimate[where[0]])
            assert float(r["std_error"]) == pytest.approx(tests.std_error[where[0]])
            assert float(r["p_value"]) == pytest.approx(tests.p_value[where[0]])
        else:
            assert r["test_estimate"] == r["std_error"] == r["p_value"] == ""
    assert tested == 16 and len(rows) == 2 * 28


def test_significant_pairs_file_and_page_hold_exactly_the_fdr_list(tmp_path,
                                                                   placeholder_figures):
    """significant_pairs.csv holds exactly the analysis's significant_pairs rows (trait name
    for its index); the page names the FDR, lists them per trait, and says so where none
    passed; metrics.json counts them."""
    results = fake_results(n_traits=2, n_loci=8)
    # trait 1 has none: its strong pairs made weak
    results.pair_tests[1].p_value[:2] = [0.5, 0.6]
    results.pair_tests[1].p_value.sort()
    table = significant_pairs_table(results.pair_tests, 0.05, results.feature_names,
                                    as_frame=False)
    # the loci in linkage with each locus, as the workflow adds them
    table = {**table, "linked_i": np.array(["snp5 snp6", ""], dtype=object),
             "linked_j": np.array(["", "snp7"], dtype=object),
             "n_linked_i": np.array([2, 0]), "n_linked_j": np.array([0, 1])}
    results = dataclasses.replace(results, significant_pairs=table)
    out = write_report(results, tmp_path / "report")
    rows = _rows(out / "significant_pairs.csv")
    assert list(rows[0]) == ["trait", "i", "j", "locus_i", "locus_j", "estimate", "std_error",
                             "p_value", "q_value", "p_joint", "linked_i", "linked_j"]
    assert [(r["linked_i"], r["linked_j"]) for r in rows] == [("snp5 snp6", ""), ("", "snp7")]
    assert len(rows) == len(table["i"]) == 2
    for n, r in enumerate(rows):
        assert r["trait"] == results.target_names[table["output"][n]]
        assert (int(r["i"]), int(r["j"])) == (table["i"][n], table["j"][n])
        assert (r["locus_i"], r["locus_j"]) == (table["locus_i"][n], table["locus_j"][n])
        for column in ("estimate", "std_error", "p_value", "q_value"):
            assert float(r[column]) == pytest.approx(table[column][n], rel=1e-7)
    page = (out / "index.html").read_text()
    assert "Pairs significant at FDR 5 %" in page
    assert "2 of the 28 pairs tested passed at FDR 5 %" in page
    assert "none of the 28 pairs tested passed at FDR 5 %" in page
    assert ">2 / 0</td>" in page and ">0 / 1</td>" in page
    (shown,) = [row[3] for row in summary_tables(results)["significant"].rows if row[2] == 2]
    assert shown.count("; linked ") == 2 and "; linked 2 / 0)" in shown
    assert "; linked 0 / 1)" in shown
    assert "r<sup>2</sup> &ge; 0.8" in page
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["traits"]["trait 0"]["significant_pairs"]["first"][1]["linked_j"] == "snp7"
    assert [metrics["traits"][f"trait {k}"]["significant_pairs"]["n_significant"]
            for k in range(2)] == [2, 0]
    assert metrics["traits"]["trait 0"]["significant_pairs"]["first"][0]["q_value"] == (
        pytest.approx(table["q_value"][0]))

def test_variance_components_show_their_standard_errors(tmp_path, placeholder_figures):
    """variance_components.csv has a <component>_se column per component, equal to the
    analysis's standard errors and empty where none is known (NaN, or the truth); the
    summary shows them as a ± SE row beneath each method that has any."""
    results = fake_results(n_traits=2)
    out = write_report(results, tmp_path / "report")
    rows = _rows(out / "variance_components.csv")
    keys = ["additive", "epistatic", "genetic", "residual", "phenotypic", "h2", "H2"]
    assert list(rows[0]) == ["trait", "method", *keys, *(f"{c}_se" for c in keys)]
    for r in rows:
        k = int(r["trait"].split()[-1])
        errors = results.variance_components_se.get(r["method"])
        for c in keys:
            expected = np.nan if errors is None else errors[c][k]
            np.testing.assert_allclose(_cell(r[f"{c}_se"]), expected, rtol=1e-7)
    table = summary_tables(results)["components"]
    sources = [row[1] for row in table.rows]
    assert sources[:4] == ["ELM", "± SE", "GBLUP-A", "± SE"] and sources[4] == "truth"
    se_row = table.rows[1]
    column = {name: n for n, name in enumerate(table.header)}
    assert se_row[column["V_A"]] == f"±{results.variance_components_se['ELM']['additive'][0]:.3f}"
    assert se_row[column["V_P"]] == "-"  # not estimated


def test_a_report_without_tests_says_so(tmp_path, placeholder_figures):
    """An analysis without standard errors or tests (None) still gives every file: empty
    std_error, p_value and _se cells, a significant_pairs.csv with its header only, and a
    page that says no pair was tested."""
    results = fake_results(n_traits=1, tests=False, truth=False)
    out = write_report(results, tmp_path / "report")
    assert {r["p_value"] for r in _rows(out / "effects.csv")} == {""}
    assert {r["test_estimate"] for r in _rows(out / "effects.csv")} == {""}
    assert {r["p_value"] for r in _rows(out / "epistasis_pairs.csv")} == {""}
    assert {r["h2_se"] for r in _rows(out / "variance_components.csv")} == {""}
    assert (out / "significant_pairs.csv").read_text().strip().startswith("trait,i,j")
    assert len(_rows(out / "significant_pairs.csv")) == 0
    assert "no pair tested" in (out / "index.html").read_text()
    assert "± SE" not in format_summary(results)


@pytest.mark.parametrize("n_loci", [64, 12_000])
def test_manhattan_and_qq_plots_draw_every_locus_and_pair_at_once(tmp_path, n_loci):
    """The Manhattan plot draws the one-locus-at-a-time -log10 p of every locus (a p of 0 at
    the smallest double, not infinity, and counted in a note) in one rasterized scatter, with
    Bonferroni's line at -log10(0.05 / p); the QQ plot draws the stored pair p-values of rank
    r at -log10((r - 0.5) / n_tests), the significant ones apart; both save at 12,000 loci."""
    from matplotlib.colors import to_rgba

    from sklearn_elm._report import _figures

    rng = np.random.default_rng(0)
    results = fake_results(n_traits=2, n_loci=8)
    names = np.array([f"snp{i}" for i in range(n_loci)])
    pvalues = rng.uniform(size=(2, n_loci))
    pvalues[0, :3] = [0.0, 1e-40, np.nan]
    results = dataclasses.replace(results, feature_names=names, marginal_pvalues=pvalues)
    _figures.save(lambda: _figures.manhattan(results, 0), tmp_path / "manhattan.png")
    _figures.save(lambda: _figures.pair_qq(results), tmp_path / "qq.png")
    assert imread(tmp_path / "manhattan.png").shape[0] > 100
    assert imread(tmp_path / "qq.png").shape[0] > 100

    ax = _figures.manhattan(results, 0).axes[0]
    (points,) = ax.collections
    assert points.get_rasterized()
    y = points.get_offsets()[:, 1]
    assert y[0] == pytest.approx(-np.log10(np.finfo(float).tiny)) and y[1] == pytest.approx(40)
    np.testing.assert_allclose(y[3:], -np.log10(pvalues[0, 3:]))
    (line,) = ax.lines
    assert line.get_ydata()[0] == pytest.approx(-np.log10(0.05 / n_loci))
    assert [t.get_text() for t in ax.texts] == ["1 at p < 1e-300 (float64's least), drawn at 308"]
    assert tuple(points.get_facecolors()[1]) == to_rgba("C3")  # past the line

    ax = _figures.pair_qq(results).axes[0]
    other, significant = ax.collections
    tests, found = results.pair_tests[0], len(results.significant_pairs["i"][
        results.significant_pairs["output"] == 0])
    ranks = np.arange(1, tests.p_value.size + 1)
    drawn = np.concatenate([significant.get_offsets(), other.get_offsets()])
    np.testing.assert_allclose(drawn[:, 0], -np.log10((ranks - 0.5) / tests.n_tests))
    np.testing.assert_allclose(drawn[:, 1], -np.log10(tests.p_value))
    assert len(significant.get_offsets()) == found == 2
    assert other.get_rasterized() and significant.get_rasterized()


def test_qq_plot_marks_the_listed_pairs_wherever_they_rank():
    """A pair that the list drops (it adds nothing beside its competitors) is drawn as not
    significant although its p-value is smaller than a listed pair's."""
    from sklearn_elm._report import _figures

    results = fake_results(n_traits=1, n_loci=8)
    tests = results.pair_tests[0]
    table = {key: np.asarray(value)[1:2] for key, value in results.significant_pairs.items()
             if np.ndim(value) == 1}
    results = dataclasses.replace(results, significant_pairs=table)
    ax = _figures.pair_qq(results).axes[0]
    other, significant = ax.collections
    assert len(significant.get_offsets()) == 1
    np.testing.assert_allclose(significant.get_offsets()[0, 1], -np.log10(tests.p_value[1]))
    assert -np.log10(tests.p_value[0]) in other.get_offsets()[:, 1]


def test_the_report_reads_sparse_and_factored_pair_matrices_as_their_dense_forms(
        tmp_path, monkeypatch):
    """Past 4 GiB the decomposer's pair matrices come as sparse arrays (one per trait), and
    past p > n GBLUP's as a FactoredPairMatrix (its diagonal not zeroed): the pair table, the
    summary, metrics.json, the heatmap and the full matrices are those of the dense forms
    (with GBLUP's diagonal zeroed, as the report shows it)."""
    from scipy import sparse

    from sklearn_elm import FactoredPairMatrix, _pairs

    monkeypatch.setattr(_pairs, "TILE", 16)  # GBLUP's ranking over several tiles
    k, p, n = 2, 40, 12
    rng = np.random.default_rng(5)
    elm = np.zeros((k, p, p))
    for t in range(k):
        i, j = rng.choice(p, size=(2, 30))
        elm[t, i, j] = elm[t, j, i] = rng.normal(size=30) * (i != j)
    factored = FactoredPairMatrix(rng.normal(size=(n, p)), rng.normal(size=(k, n)))
    gblup = np.asarray(factored).copy()
    gblup[:, np.arange(p), np.arange(p)] = 0.0
    compact = fake_results(n_traits=k, n_loci=p, truth=False, seed=5, epistasis={
        "ELM": [sparse.csr_array(elm[t]) for t in range(k)], "GBLUP-A+AA": factored})
    dense = dataclasses.replace(compact, epistasis={"ELM": elm, "GBLUP-A+AA": gblup})

    def report(results, name):
        out = write_report(results, tmp_path / name, top_pairs=25, full_matrix=True)
        with np.load(out / "epistasis_matrix.npz") as saved:
            matrices = {key: saved[key] for key in ("elm", "gblup_a_aa")}
        metrics = json.loads((out / "metrics.json").read_text())
        figure = _report._figures.epistasis_heatmap(results, 1)
        shown = [ax.images[0].get_array() for ax in figure.axes if ax.images]
        return _rows(out / "epistasis_pairs.csv"), matrices, metrics, shown

    (rows, matrices, metrics, shown), want = report(compact, "compact"), report(dense, "dense")
    columns = ("trait", "rank", "locus_i", "locus_j", "estimate")
    assert [[r[c] for c in columns] for r in rows] == [[r[c] for c in columns] for r in want[0]]
    assert len(rows) > 2 * 20
    np.testing.assert_allclose([float(r["gblup_a_aa"]) for r in rows],
                               [float(r["gblup_a_aa"]) for r in want[0]], rtol=1e-9)
    np.testing.assert_array_equal(matrices["elm"], want[1]["elm"])
    np.testing.assert_allclose(matrices["gblup_a_aa"], want[1]["gblup_a_aa"], rtol=1e-12,
                               atol=1e-12)  # the diagonal zeroed, as GBLUP's dense one is
    assert metrics["traits"] == want[2]["traits"]
    for got, expected in zip(shown, want[3], strict=True):
        np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-12)


def test_heatmap_ranks_a_later_method_only_while_there_is_room():
    """The heatmap shows the loci of the first method's top pairs first, then those of the
    pairs it tested, by p-value; a later method's pairs (GBLUP's factored matrix is ranked
    tile by tile) are ranked only where those leave room, and then fill it."""
    from sklearn_elm._report._figures import MAX_HEATMAP_LOCI, _heatmap_loci

    class Unread:
        shape = (100, 100)

        def __getattr__(self, name):
            raise AssertionError("a later method was ranked with no room left")

    p = 100
    full = np.zeros((p, p))
    full[np.arange(0, 80, 2), np.arange(1, 80, 2)] = np.linspace(1, 2, 40)
    full += full.T
    assert len(_heatmap_loci([full, Unread()], p)) == MAX_HEATMAP_LOCI
    few = np.zeros((p, p))
    few[3, 7] = few[7, 3] = 1.0
    loci = _heatmap_loci([few, full], p)
    assert {3, 7} <= set(loci.tolist()) and len(loci) == MAX_HEATMAP_LOCI
    tested = np.column_stack([np.arange(20, 100, 2), np.arange(21, 100, 2)])  # 80 loci
    loci = _heatmap_loci([few, Unread()], p, tested)
    assert loci.tolist() == sorted({3, 7, *tested.ravel()[:MAX_HEATMAP_LOCI - 2].tolist()})
    loci = _heatmap_loci([few, full], p, tested[:3])  # 8 loci: the later method fills it
    assert {3, 7, 20, 21, 24, 25} <= set(loci.tolist()) and len(loci) == MAX_HEATMAP_LOCI
