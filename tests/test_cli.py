"""Tests of the sklearn-elm command line, run as a user runs it, on tiny simulated data."""

import collections
import csv
import gzip
import json
import os
import re
import signal
import subprocess
import sys
from importlib.metadata import entry_points
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from matplotlib.image import imread
from sklearn.metrics import r2_score
from sklearn.pipeline import make_pipeline
from sklearn.utils import Bunch

from sklearn_elm import (
    ELMDecomposer,
    GBLUPRegressor,
    GenotypeEncoder,
    NeuralGPRegressor,
    _progress,
    _report,
    cli,
    workflow,
)
from sklearn_elm.cli import main
from sklearn_elm.datasets import make_epistatic_phenotypes
from sklearn_elm.metrics import true_average_effects, true_variance_components

FAST = ["--hidden-sizes", "16", "--max-epochs", "5"]
METHODS = ["ELM", "GBLUP-A", "GBLUP-A+AA", "truth"]


def write_qhaplo(directory, data, prefix="sim"):
    """Write simulated data as a qhaplo trio: loci-in-rows genotypes, phenotypes, effects."""
    directory.mkdir(parents=True, exist_ok=True)
    ids = [str(n + 1) for n in range(len(data.genotypes))]
    with open(directory / f"{prefix}_g.txt", "w") as f:
        f.write("qtl " + " ".join(f"{i}_1" for i in ids) + "\n")
        for locus, column in zip(data.feature_names, data.genotypes.T, strict=True):
            f.write(f"{locus} " + " ".join(map(str, column)) + "\n")
    with open(directory / f"{prefix}_p.txt", "w") as f:
        f.write("ind " + " ".join(data.target_names) + "\n")
        for i, y in zip(ids, data.phenotypes, strict=True):
            f.write(f"{i} " + " ".join(repr(float(v)) for v in y) + "\n")
    with open(directory / f"{prefix}_eff.txt", "w") as f:
        f.write("trait locus add_eff epi_loc epi_eff sfs\n")
        for t, (a, E) in enumerate(zip(data.additive_effects, data.epistasis, strict=True)):
            for i in range(len(a)):
                partners = np.flatnonzero(E[i])
                j = partners[0] if partners.size else i
                f.write(f"{t + 1} {i + 1} {float(a[i])!r} {j + 1} {float(E[i, j])!r} 0.5\n")
    return directory


def write_tables(directory, data, *, order=None):
    """Write simulated data as a genotype CSV and a phenotype TSV (rows in ``order``)."""
    directory.mkdir(parents=True, exist_ok=True)
    ids = [f"ind{n}" for n in range(len(data.genotypes))]
    order = range(len(ids)) if order is None else order
    with open(directory / "genotypes.csv", "w") as f:
        f.write("sample," + ",".join(data.feature_names) + "\n")
        for i, g in zip(ids, data.genotypes, strict=True):
            f.write(i + "," + ",".join(map(str, g)) + "\n")
    with open(directory / "phenotypes.tsv", "w") as f:
        f.write("sample\t" + "\t".join(data.target_names) + "\n")
        for n in order:
            f.write(ids[n] + "\t" + "\t".join(map(str, data.phenotypes[n])) + "\n")
    return directory / "genotypes.csv", directory / "phenotypes.tsv"


@pytest.fixture(scope="module")
def simulated():
    return make_epistatic_phenotypes(300, 12, n_traits=2, h2=0.8, random_state=0)


@pytest.fixture(scope="module")
def trio(simulated, tmp_path_factory):
    return write_qhaplo(tmp_path_factory.mktemp("data") / "trio", simulated)


@pytest.fixture(scope="module")
def two_runs(trio, tmp_path_factory):
    """Two real runs of ``python -m sklearn_elm run`` started together into the same --out,
    as two subprocesses: ``(completed processes, out)``."""
    out = tmp_path_factory.mktemp("run") / "report"
    command = [sys.executable, "-m", "sklearn_elm", "run", "--data", str(trio), "--out", str(out),
               *FAST]
    runs = [subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            for _ in range(2)]
    done = []
    for run in runs:
        stdout, stderr = run.communicate(timeout=300)
        done.append(subprocess.CompletedProcess(command, run.returncode, stdout, stderr))
    return done, out


@pytest.fixture(scope="module")
def e2e(two_runs):
    """The run of the two that wrote the report (the other is refused, see below)."""
    done, out = two_runs
    return min(done, key=lambda proc: proc.returncode), out


def _csv(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def test_end_to_end_exit_code_and_display(e2e, simulated):
    proc, out = e2e
    assert proc.returncode == 0, proc.stderr
    # live progress on stderr: a header, then one line per epoch
    assert re.search(r"epoch\s+train loss\s+valid loss\s+valid r2", proc.stderr)
    assert len(re.findall(r"^\s*\d+/5\s+\d", proc.stderr, flags=re.M)) == 5
    assert re.search(r"epochs done in \d+ s; refitting the linear and pair paths", proc.stderr)
    assert f"Report written to {out / 'index.html'}" in proc.stderr
    # the summary on stdout, one block per kind of result, every trait named
    for title in ("Prediction accuracy", "Variance components", "Recovery of the known",
                  "Top epistatic pairs"):
        assert title in proc.stdout
    for name in [*simulated.target_names, *METHODS, "network"]:
        assert name in proc.stdout


def test_end_to_end_files(e2e):
    _, out = e2e
    names = sorted(p.name for p in out.iterdir())
    expected = ["additive_effects.png", "effects.csv", "epistasis_1_trait0.png",
                "epistasis_2_trait1.png", "epistasis_pairs.csv", "index.html",
                "manhattan_1_trait0.png", "manhattan_2_trait1.png", "metrics.json",
                "observed_vs_predicted.png", "pair_qq.png", "significant_pairs.csv",
                "variance_components.csv", "variance_components.png"]
    assert names == expected
    assert [p.name for p in out.parent.iterdir()] == ["report"]  # no temporary left over
    page = (out / "index.html").read_text()
    for name in names:
        if name != "index.html":
            assert name in page, f"index.html does not link {name}"
    for png in out.glob("*.png"):
        pixels = imread(png)
        assert pixels.shape[0] > 100 and pixels.shape[1] > 100 and pixels.std() > 0


def test_end_to_end_effects(e2e, simulated):
    rows = _csv(e2e[1] / "effects.csv")
    k, p = simulated.additive_effects.shape
    assert len(rows) == k * p
    assert list(rows[0]) == ["trait", "locus", "additive_elm", "test_estimate", "std_error",
                             "p_value", "marginal_p_value", "additive_gblup_a",
                             "additive_truth"]
    assert [r["locus"] for r in rows[:p]] == list(simulated.feature_names)
    assert [r["trait"] for r in rows[::p]] == list(simulated.target_names)
    truth = np.array([float(r["additive_truth"]) for r in rows]).reshape(k, p)
    # the truth column holds the average effects under the training samples' frequencies
    Z = 2.0 * simulated.genotypes[simulated.train] - 1
    expected = true_average_effects(Z, simulated.additive_effects, simulated.epistasis)
    np.testing.assert_allclose(truth, expected, rtol=1e-6, atol=1e-7)
    assert all(np.isfinite(float(r["additive_elm"])) for r in rows)


def test_end_to_end_epistasis_pairs(e2e, simulated):
    rows = _csv(e2e[1] / "epistasis_pairs.csv")
    k, p, _ = simulated.epistasis.shape
    assert len(rows) == k * p * (p - 1) // 2
    assert list(rows[0]) == ["trait", "rank", "locus_i", "locus_j", "estimate", "test_estimate",
                             "std_error", "p_value", "gblup_a_aa", "truth"]
    position = {name: n for n, name in enumerate(simulated.feature_names)}
    for t, trait in enumerate(simulated.target_names):
        mine = [r for r in rows if r["trait"] == trait]
        assert [int(r["rank"]) for r in mine] == list(range(1, len(mine) + 1))
        size = [abs(float(r["estimate"])) for r in mine]
        assert size == sorted(size, reverse=True)
        pairs = {(position[r["locus_i"]], position[r["locus_j"]]) for r in mine}
        assert len(pairs) == len(mine) and all(i < j for i, j in pairs)
        for r in mine[:5]:
            i, j = position[r["locus_i"]], position[r["locus_j"]]
            assert float(r["truth"]) == pytest.approx(simulated.epistasis[t, i, j], abs=1e-7)


def test_end_to_end_variance_components(e2e, simulated):
    rows = _csv(e2e[1] / "variance_components.csv")
    assert [(r["trait"], r["method"]) for r in rows] == [
        (t, m) for t in simulated.target_names for m in METHODS
    ]
    train = simulated.train
    truth = true_variance_components(2.0 * simulated.genotypes[train] - 1,
                                     simulated.additive_effects, simulated.epistasis,
                                     simulated.phenotypes[train])
    got = [float(r["additive"]) for r in rows if r["method"] == "truth"]
    np.testing.assert_allclose(got, truth.additive, rtol=1e-6)
    for r in rows:
        assert float(r["phenotypic"]) > 0 and float(r["H2"]) >= 0


def test_end_to_end_metrics_json(e2e, simulated):
    _, out = e2e
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["data"]["n_samples"] == 300 and metrics["data"]["n_loci"] == 12
    assert metrics["data"]["n_train"] == simulated.train.sum()
    assert metrics["data"]["truth_known"] is True
    assert sorted(metrics["files"]) == sorted(p.name for p in out.iterdir())
    assert metrics["settings"]["max_epochs"] == 5 and metrics["settings"]["epochs_trained"] == 5
    # the chosen step of the default path: sqrt(log(n_loci) / (2 n)) times a power of 1/sqrt(2),
    # n the training samples less the 10 % held out
    n = metrics["data"]["n_train"] - np.ceil(0.1 * metrics["data"]["n_train"])
    start = np.sqrt(np.log(12) / (2 * n))
    steps = np.log(start / metrics["settings"]["path_penalty"]) / np.log(2**0.5)
    assert np.isclose(steps, round(steps)) and 0 <= round(steps) < 5
    assert metrics["settings"]["threads"] == 1  # the default
    assert metrics["settings"]["fdr"] == 0.05
    assert set(metrics["timings_s"]) >= {"train", "decompose", "gblup", "total"}
    for trait in simulated.target_names:
        entry = metrics["traits"][trait]
        assert set(entry["test_r2"]) == {"network", "GBLUP-A", "GBLUP-A+AA"}
        assert set(entry["variance_components"]) == set(METHODS)
        assert set(entry["recovery"]) == {"additive", "pairwise"}
        pairs = entry["recovery"]["pairwise"]["ELM"]
        assert pairs["k"] == 6 and 0 <= pairs["precision"] <= 1
        assert len(entry["top_pairs"]) == 10
        # GBLUP on 255 samples of a 12-locus trait with H2 = 0.8 predicts clearly
        assert entry["test_r2"]["GBLUP-A+AA"] > 0.3


@pytest.fixture(scope="module")
def refitted(simulated):
    """What the report of ``e2e`` must hold, computed here from the estimators: the REML
    GBLUPs on the encoded training genotypes (deterministic) and an ELMDecomposer of the
    network with the run's seed and settings, on one thread as the run trains."""
    train, G, Y = simulated.train, simulated.genotypes, simulated.phenotypes
    encoder = GenotypeEncoder().fit(G[train])
    Z_train, Z_test = encoder.transform(G[train]), encoder.transform(G[~train])
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        network = make_pipeline(GenotypeEncoder(), NeuralGPRegressor(
            random_state=0, module__hidden_sizes=(16,), max_epochs=5))
        elm = ELMDecomposer(network).fit(G[train], Y[train])
    finally:
        torch.set_num_threads(previous)
    gblup = {kernel: GBLUPRegressor(kernel).fit(Z_train, Y[train])
             for kernel in ("additive", "additive+epistatic")}
    predictions = {"network": elm.predict(G[~train]),
                   "GBLUP-A": gblup["additive"].predict(Z_test),
                   "GBLUP-A+AA": gblup["additive+epistatic"].predict(Z_test)}
    return Bunch(
        elm=elm, gblup_a=gblup["additive"], gblup_aa=gblup["additive+epistatic"],
        test_r2={m: r2_score(Y[~train], pred, multioutput="raw_values")
                 for m, pred in predictions.items()},
    )


def test_end_to_end_columns_are_those_of_the_estimators(e2e, simulated, refitted):
    """Each method's column in the report holds that method's figures (a swapped or
    rescaled column fails here; the truth columns are checked above)."""
    out = e2e[1]
    k, p = simulated.additive_effects.shape
    close = dict(rtol=1e-5, atol=1e-7)
    rows = _csv(out / "effects.csv")
    column = {name: np.array([float(r[name]) for r in rows]).reshape(k, p)
              for name in ("additive_elm", "additive_gblup_a")}
    np.testing.assert_allclose(column["additive_elm"], refitted.elm.additive_effects_, **close)
    np.testing.assert_allclose(column["additive_gblup_a"], refitted.gblup_a.coef_, **close)

    position = {name: n for n, name in enumerate(simulated.feature_names)}
    for r in _csv(out / "epistasis_pairs.csv"):
        t = list(simulated.target_names).index(r["trait"])
        i, j = position[r["locus_i"]], position[r["locus_j"]]
        assert float(r["estimate"]) == pytest.approx(
            refitted.elm.epistasis_matrix_[t, i, j], rel=1e-5, abs=1e-7)
        # GBLUP's pairwise value is z^T E z, so the effect of z_i z_j is 2 E_ij
        assert float(r["gblup_a_aa"]) == pytest.approx(
            2 * refitted.gblup_aa.epistasis_matrix_[t, i, j], rel=1e-5, abs=1e-7)

    estimators = {"ELM": refitted.elm, "GBLUP-A": refitted.gblup_a,
                  "GBLUP-A+AA": refitted.gblup_aa}
    for r in _csv(out / "variance_components.csv"):
        if r["method"] in estimators:
            t = list(simulated.target_names).index(r["trait"])
            vc = estimators[r["method"]].variance_components_
            for c in ("additive", "epistatic", "genetic", "residual", "h2"):
                if c in vc:
                    assert float(r[c]) == pytest.approx(vc[c][t], rel=1e-5, abs=1e-7), (r, c)

    metrics = json.loads((out / "metrics.json").read_text())
    for t, trait in enumerate(simulated.target_names):
        for method, r2 in refitted.test_r2.items():
            assert metrics["traits"][trait]["test_r2"][method] == pytest.approx(r2[t], abs=1e-6)


def test_end_to_end_tests_are_those_of_the_decomposer(e2e, simulated, refitted):
    """effects.csv's test_estimate, std_error, p_value and marginal_p_value are the
    decomposer's additive_estimates_, additive_se_, additive_pvalues_ and marginal_pvalues_;
    significant_pairs.csv holds exactly significant_pairs(0.05)'s rows;
    variance_components.csv's _se columns are each estimator's variance_components_se_."""
    out, elm = e2e[1], refitted.elm
    k, p = simulated.additive_effects.shape
    close = dict(rtol=1e-5, atol=1e-300)
    rows = _csv(out / "effects.csv")
    for column, expected in (("test_estimate", elm.additive_estimates_),
                             ("std_error", elm.additive_se_), ("p_value", elm.additive_pvalues_),
                             ("marginal_p_value", elm.marginal_pvalues_)):
        got = np.array([float(r[column]) for r in rows]).reshape(k, p)
        np.testing.assert_allclose(got, expected, **close)
    table = elm.significant_pairs(0.05, as_frame=False)
    rows = _csv(out / "significant_pairs.csv")
    assert len(rows) == len(table["i"]) > 0
    for n, r in enumerate(rows):
        assert r["trait"] == simulated.target_names[table["output"][n]]
        assert (int(r["i"]), int(r["j"])) == (table["i"][n], table["j"][n])
        assert (r["locus_i"], r["locus_j"]) == (simulated.feature_names[table["i"][n]],
                                                simulated.feature_names[table["j"][n]])
        for column in ("estimate", "std_error", "p_value", "q_value"):
            np.testing.assert_allclose(float(r[column]), table[column][n], **close)
        assert r["linked_i"] == r["linked_j"] == ""  # independent loci: no copy
    estimators = {"ELM": elm, "GBLUP-A": refitted.gblup_a, "GBLUP-A+AA": refitted.gblup_aa}
    for r in _csv(out / "variance_components.csv"):
        se = getattr(estimators.get(r["method"]), "variance_components_se_", {})
        t = list(simulated.target_names).index(r["trait"])
        for c in ("additive", "epistatic", "genetic", "h2", "H2"):
            expected = se[c][t] if c in se else np.nan
            got = float(r[f"{c}_se"]) if r[f"{c}_se"] else np.nan
            np.testing.assert_allclose(got, expected, **close, err_msg=f"{r['method']} {c}")
    page = (out / "index.html").read_text()
    assert "Pairs significant at FDR 5 %" in page and "pair_qq.png" in page


def test_console_script_is_declared():
    (script,) = [e for e in entry_points(group="console_scripts") if e.name == "sklearn-elm"]
    assert script.value == "sklearn_elm.cli:main"


def test_no_arguments_runs_on_bundled_data(monkeypatch):
    seen = {}
    monkeypatch.setattr(cli, "run", lambda args: seen.update(vars(args)) or 0)
    assert main([]) == 0
    assert seen["data"] == "qhaplo" and seen["out"] == "elm-report" and not seen["force"]


def test_help_documents_exit_codes(capsys):
    assert main(["run", "--help"]) == 0
    text = capsys.readouterr().out
    for flag in ("--data", "--h2", "--traits", "--out", "--hidden-sizes", "--max-epochs",
                 "--random-state", "--force", "--phenotypes", "--fdr", "--n-estimators"):
        assert flag in text
    assert "130" in text and "exit codes" in text


@pytest.mark.parametrize(
    "argv, message",
    [(["run", "--bogus"], "unrecognized arguments: --bogus"),
     (["run", "--h2", "2"], r"argument --h2: must lie in \(0, 1\], got 2"),
     (["run", "--max-epochs", "0"], "argument --max-epochs: must be a positive integer, got 0"),
     (["run", "--n-estimators", "0"],
      "argument --n-estimators: must be a positive integer, got 0"),
     (["frobnicate"], "invalid choice: 'frobnicate'"),
     (["run", "--random-state", "-1"], r"argument --random-state: must be an integer .* got -1"),
     (["run", "--fdr", "1"], r"argument --fdr: must lie strictly between 0 and 1 .* got 1"),
     (["run", "--fdr", "0"], r"argument --fdr: must lie strictly between 0 and 1 .* got 0"),
     (["run", "--fdr", "nan"], r"argument --fdr: must lie strictly between 0 and 1"),
     (["run", "--fdr", "five"], r"argument --fdr: invalid rate value: 'five'")],
)
def test_usage_errors_exit_2(argv, message, capsys):
    """Each bad argument is refused by name before anything is read or trained."""
    assert main(argv) == 2
    assert re.search(message, capsys.readouterr().err)


def test_fdr_reaches_the_analysis(tmp_path, trio, monkeypatch):
    """--fdr is passed to analyse (here stopped there, as by Ctrl-C, before any training)."""
    seen = {}

    def analyse(data, **options):
        seen.update(options)
        raise KeyboardInterrupt

    monkeypatch.setattr(workflow, "analyse", analyse)
    assert main(["run", "--data", str(trio), "--out", str(tmp_path / "r"), "--fdr", "0.2",
                 "--quiet"]) == 130
    assert seen["fdr"] == 0.2


def _bad_inputs(tmp_path, trio, simulated):
    geno, pheno = write_tables(tmp_path / "tables", simulated)
    lines = geno.read_text().splitlines()
    bad_geno = tmp_path / "bad.csv"
    bad_geno.write_text("\n".join([lines[0], lines[1].replace(",0", ",AG", 1), *lines[2:]]))
    foreign_pheno = tmp_path / "foreign.tsv"  # no phenotyped sample is genotyped
    foreign_pheno.write_text(pheno.read_text().splitlines()[0] + "\n" + "".join(
        f"stranger{n}\t1.0\t2.0\n" for n in range(5)))
    flat_pheno = tmp_path / "flat.tsv"
    flat_pheno.write_text("sample\tflat\n" + "".join(f"ind{n}\t1.0\n" for n in range(300)))
    flat_geno = tmp_path / "flat.csv"  # every locus the same in every sample
    flat_geno.write_text("\n".join(
        [lines[0], *(",".join([row.split(",")[0], *["1"] * (len(row.split(",")) - 1)])
                     for row in lines[1:])]
    ))
    not_gzip = tmp_path / "g.csv.gz"
    not_gzip.write_text(geno.read_text())  # named .gz, but plain text
    packed = bytearray(gzip.compress(geno.read_text().encode()))
    packed[12:20] = b"\xff" * 8  # a damaged deflate stream: zlib.error, not an OSError
    corrupt = tmp_path / "corrupt.csv.gz"
    corrupt.write_bytes(bytes(packed))
    return {
        "missing data": (["--data", str(tmp_path / "nowhere")], "nowhere"),
        "unknown trait": (["--data", str(trio), "--traits", "height"], "'height'"),
        "no phenotypes": (["--data", str(geno)], "--phenotypes"),
        "missing phenotypes": (["--data", str(geno), "--phenotypes", str(tmp_path / "p.csv")],
                               "p.csv"),
        "non-numeric": (["--data", str(bad_geno), "--phenotypes", str(pheno)], "'AG'"),
        "mismatch": (["--data", str(geno), "--phenotypes", str(foreign_pheno)], "'stranger0'"),
        "phenotypes a directory": (["--data", str(geno), "--phenotypes", str(tmp_path)],
                                   "is a directory"),
        "h2 not bundled": (["--data", str(trio), "--h2", "0.5"], "--h2"),
        "constant trait": (["--data", str(geno), "--phenotypes", str(flat_pheno)], "'flat'"),
        "not gzip": (["--data", str(not_gzip), "--phenotypes", str(pheno)], "g.csv.gz"),
        "corrupt gzip": (["--data", str(corrupt), "--phenotypes", str(pheno)], "corrupt.csv.gz"),
        "monomorphic": (["--data", str(flat_geno), "--phenotypes", str(pheno)],
                        "only 0 of the 12 loci vary"),
        "out under a file": (["--data", str(trio), "--out", str(geno) + "/report"],
                             "not a writable directory"),
    }


@pytest.mark.parametrize(
    "case",
    ["missing data", "unknown trait", "no phenotypes", "missing phenotypes", "non-numeric",
     "mismatch", "phenotypes a directory", "h2 not bundled", "constant trait", "not gzip",
     "corrupt gzip", "monomorphic", "out under a file"],
)
def test_bad_input_exit_2_names_the_culprit(case, tmp_path, trio, simulated, capsys):
    args, culprit = _bad_inputs(tmp_path, trio, simulated)[case]
    out = [] if "--out" in args else ["--out", str(tmp_path / "report")]
    assert main(["run", *args, *out, *FAST]) == 2
    err = capsys.readouterr().err
    assert "sklearn-elm: error:" in err and culprit in err and "Traceback" not in err
    assert not (tmp_path / "report").exists()


def test_existing_report_is_kept_without_force(tmp_path, trio, capsys):
    out = tmp_path / "report"
    out.mkdir()
    (out / "precious.txt").write_text("keep")
    assert main(["run", "--data", str(trio), "--out", str(out), *FAST]) == 2
    assert "--force" in capsys.readouterr().err
    assert [p.name for p in out.iterdir()] == ["precious.txt"]


def test_tables_trait_selection_and_force(tmp_path, capsys):
    """Diploid CSV/TSV input in shuffled order, one trait, replacing an old report."""
    data = make_epistatic_phenotypes(240, 8, n_traits=2, ploidy=2, random_state=1)
    order = np.random.default_rng(0).permutation(240)
    geno, pheno = write_tables(tmp_path, data, order=order)
    out = tmp_path / "report"
    out.mkdir()
    (out / "metrics.json").write_text("old")  # a previous report
    (out / "epistasis_1_trait2.png").write_bytes(b"old")
    argv = ["run", "--data", str(geno), "--phenotypes", str(pheno), "--traits", "trait1",
            "--out", str(out), "--force", "--quiet", "--threads", "2", "--top-pairs", "7", *FAST]
    threads = torch.get_num_threads()
    assert main(argv) == 0
    assert torch.get_num_threads() == threads  # restored after the run
    captured = capsys.readouterr()
    assert "train loss" not in captured.err  # --quiet
    assert not (out / "epistasis_1_trait2.png").exists()
    metrics = json.loads((out / "metrics.json").read_text())
    assert list(metrics["traits"]) == ["trait1"] and metrics["data"]["truth_known"] is False
    assert metrics["settings"]["threads"] == 2
    assert "recovery" not in metrics["traits"]["trait1"]
    assert {r["method"] for r in _csv(out / "variance_components.csv")} == set(METHODS[:3])
    assert sorted(p.name for p in out.glob("epistasis_*.png")) == ["epistasis_1_trait1.png"]
    pairs = _csv(out / "epistasis_pairs.csv")  # the 7 largest of 28
    assert [int(r["rank"]) for r in pairs] == list(range(1, 8))
    assert metrics["settings"]["top_pairs"] == 7


@pytest.fixture
def sigint_handler(request):
    """SIGINT handled by ``request.param`` during the test (whatever the shell that
    started pytest does with it), restored afterwards."""
    previous = signal.signal(signal.SIGINT, request.param)
    yield request.param
    signal.signal(signal.SIGINT, previous)


@pytest.mark.parametrize("networks", [1, 3])
@pytest.mark.parametrize("sigint_handler", [signal.default_int_handler], indirect=True)
def test_ctrl_c_during_training_exits_130_without_report(
    tmp_path, trio, monkeypatch, capsys, sigint_handler, networks
):
    """skorch swallows Ctrl-C and returns a half-trained net; the run must stop instead (of
    several networks, none after the first is trained), and leave Python's SIGINT handler in
    place."""
    progress = _progress.EpochProgress.on_epoch_end

    def interrupt_at_epoch_2(self, net, **kwargs):
        progress(self, net, **kwargs)
        if len(net.history) == 2:
            os.kill(os.getpid(), signal.SIGINT)

    monkeypatch.setattr(_progress.EpochProgress, "on_epoch_end", interrupt_at_epoch_2)
    out = tmp_path / "report"
    assert main(["run", "--data", str(trio), "--out", str(out), "--hidden-sizes", "16",
                 "--max-epochs", "50", "--n-estimators", str(networks)]) == 130
    err = capsys.readouterr().err
    assert "interrupted" in err and not re.search(r"^\s*3/50", err, flags=re.M)
    assert "Network 2 of" not in err and ("Network 1 of 3" in err) == (networks == 3)
    assert not out.exists() and [p.name for p in tmp_path.iterdir()] == []
    assert signal.getsignal(signal.SIGINT) is sigint_handler


def test_several_networks_run_end_to_end(tmp_path, trio, capsys):
    """--n-estimators trains each network in turn with its progress and writes their
    per-network settings to the report."""
    out = tmp_path / "report"
    assert main(["run", "--data", str(trio), "--out", str(out), "--n-estimators", "2",
                 *FAST]) == 0
    err = capsys.readouterr().err
    assert "Training 2 networks" in err and "Network 2 of 2" in err
    assert len(re.findall(r"^\s*5/5", err, flags=re.M)) == 2  # each network's last epoch
    settings = json.loads((out / "metrics.json").read_text())["settings"]
    assert settings["networks"] == 2 and settings["epochs_trained_per_network"] == [5, 5]
    assert "epochs_trained_per_network = 5, 5" in (out / "index.html").read_text()


@pytest.mark.parametrize("sigint_handler", [signal.SIG_IGN], indirect=True)
def test_ignored_sigint_stays_ignored(sigint_handler):
    """A background job of a non-interactive shell ignores SIGINT; the run must not
    take it back up."""
    with cli._interrupts_stop_training() as interrupted:
        assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN
        os.kill(os.getpid(), signal.SIGINT)  # ignored: nothing is raised
    assert interrupted == []
    assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN


def test_ctrl_c_while_writing_exits_130_without_report(tmp_path, trio, monkeypatch, capsys):
    def interrupted(draw, path):
        raise KeyboardInterrupt

    monkeypatch.setattr(_report._figures, "save", interrupted)
    out = tmp_path / "report"
    assert main(["run", "--data", str(trio), "--out", str(out), "--quiet", *FAST]) == 130
    assert "no report was written" in capsys.readouterr().err
    assert [p.name for p in tmp_path.iterdir()] == []


def test_unexpected_failure_exits_1_with_traceback(tmp_path, trio, monkeypatch, capsys):
    def broken(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(workflow, "analyse", broken)
    assert main(["run", "--data", str(trio), "--out", str(tmp_path / "report")]) == 1
    err = capsys.readouterr().err
    assert "Traceback" in err and "boom" in err
    assert not (tmp_path / "report").exists()


def test_plink_input(tmp_path, simulated):
    """PLINK 1 genotypes given by prefix, with a PLINK-style FID IID phenotype file."""
    bed_reader = pytest.importorskip(
        "bed_reader", reason="bed-reader is not installed (pip install 'sklearn-elm[plink]')"
    )
    ids = [f"ind{n}" for n in range(len(simulated.genotypes))]
    chromosomes = ["1"] * 7 + ["2"] * 5
    positions = [1000 * (j + 1) for j in range(12)]
    bed_reader.to_bed(tmp_path / "cohort.bed", simulated.genotypes,
                      properties={"iid": ids, "sid": list(simulated.feature_names),
                                  "chromosome": chromosomes, "bp_position": positions})
    with open(tmp_path / "traits.phen", "w") as f:
        f.write("FID IID " + " ".join(simulated.target_names) + "\n")
        for i, y in zip(ids, simulated.phenotypes, strict=True):
            f.write(f"fam {i} " + " ".join(map(str, y)) + "\n")
    out = tmp_path / "report"
    argv = ["run", "--data", str(tmp_path / "cohort"), "--phenotypes",
            str(tmp_path / "traits.phen"), "--out", str(out), "--quiet", *FAST]
    assert main(argv) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["data"]["name"] == "cohort" and metrics["data"]["n_loci"] == 12
    rows = _csv(out / "effects.csv")
    assert [r["locus"] for r in rows[:12]] == list(simulated.feature_names)
    # the .bim's map reaches the effects table
    assert [(r["chromosome"], int(r["position"])) for r in rows[:12]] == list(
        zip(chromosomes, positions, strict=True))


def test_a_plink_panel_too_large_for_memory_is_refused_before_it_is_read(
        tmp_path, simulated, capsys, monkeypatch):
    """The analysis's memory is checked from the .fam and .bim, before the genotypes are
    read: exit 2 with the size it would need."""
    bed_reader = pytest.importorskip(
        "bed_reader", reason="bed-reader is not installed (pip install 'sklearn-elm[plink]')"
    )
    ids = [f"ind{n}" for n in range(len(simulated.genotypes))]
    bed_reader.to_bed(tmp_path / "cohort.bed", simulated.genotypes, properties={"iid": ids})
    with open(tmp_path / "traits.phen", "w") as f:
        f.write("FID IID y\n" + "".join(f"{i} {i} {y}\n" for i, y in
                                       zip(ids, simulated.phenotypes[:, 0], strict=True)))
    monkeypatch.setattr("sklearn_elm._resources.available_memory", lambda: 2**20)

    def read_plink(*args, **kwargs):
        raise AssertionError("the genotypes were read")
    monkeypatch.setattr("sklearn_elm.datasets._loading.read_plink", read_plink)
    argv = ["run", "--data", str(tmp_path / "cohort.bed"), "--phenotypes",
            str(tmp_path / "traits.phen"), "--out", str(tmp_path / "report"), *FAST]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert re.search(r"12 loci: the analysis needs about [\d.]+ GiB", err)


def test_dollar_signs_in_names_are_text_in_figures(tmp_path, simulated, capsys):
    """Matplotlib reads $...$ as mathtext; a trait called 'income_$_$_x' must not crash the
    report after training."""
    geno, pheno = write_tables(tmp_path / "tables", simulated)
    names = simulated.target_names
    text = pheno.read_text().replace(str(names[0]), "income_$_$_x", 1)
    pheno.write_text(text)
    out = tmp_path / "report"
    assert main(["run", "--data", str(geno), "--phenotypes", str(pheno), "--out", str(out),
                 "--quiet", *FAST]) == 0
    assert len(list(out.glob("epistasis_1_*.png"))) == 1


def test_ploidy_is_that_of_the_whole_panel(tmp_path, capsys):
    """A diploid panel whose only 2 is in a test sample is still diploid (with a warning that
    so few cells are 2)."""
    rng = np.random.default_rng(0)
    G = rng.integers(0, 2, size=(80, 6))
    G[-1, 0] = 2  # the last 15 % are the test samples
    y = G @ rng.normal(size=6) + rng.normal(size=80)
    geno = tmp_path / "g.csv"
    geno.write_text("id," + ",".join(f"l{j}" for j in range(6)) + "\n" + "".join(
        f"s{n}," + ",".join(map(str, row)) + "\n" for n, row in enumerate(G)))
    pheno = tmp_path / "p.csv"
    pheno.write_text("id,y\n" + "".join(f"s{n},{float(v)!r}\n" for n, v in enumerate(y)))
    assert main(["run", "--data", str(geno), "--phenotypes", str(pheno),
                 "--out", str(tmp_path / "report"), "--quiet", *FAST]) == 0
    captured = capsys.readouterr()
    assert "sklearn-elm: warning:" in captured.err and "ploidy 2" in captured.out


def test_help_and_version_do_not_import_torch():
    """--help and --version answer without loading torch (seconds on a cold start)."""
    code = ("import sys; from sklearn_elm.cli import main; "
            "codes = [main(['--version']), main(['run', '--help'])]; "
            "assert codes == [0, 0], codes; "
            "assert 'torch' not in sys.modules and 'sklearn' not in sys.modules, 'imported'")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "--ploidy" in proc.stdout


def test_run_line_shows_no_python_none(e2e):
    """Settings that were not given (--phenotypes, --h2) are left out, not printed as None."""
    page = (e2e[1] / "index.html").read_text()
    run = page[page.index("Settings:"):page.index("Versions:")]
    assert "None" not in run and "hidden_sizes = 16" in run and "ploidy = 1" in run
    assert "[" not in run  # the linear path's kind per trait reads as words, not a list
    assert "ploidy" in e2e[0].stdout  # the summary names the ploidy used


def test_two_runs_into_one_out_never_delete_a_report(two_runs):
    """Two runs into the same --out at once: one writes the report, the other is refused
    (exit 2) and deletes nothing; the report left is complete."""
    done, out = two_runs
    assert sorted(proc.returncode for proc in done) == [0, 2], [p.stderr for p in done]
    refused = max(done, key=lambda proc: proc.returncode)
    assert "another sklearn-elm run is writing" in refused.stderr
    assert "train loss" not in refused.stderr  # refused before training
    metrics = json.loads((out / "metrics.json").read_text())
    assert sorted(metrics["files"]) == sorted(p.name for p in out.iterdir())
    assert [p.name for p in out.parent.iterdir()] == ["report"]  # no temporary, no lock left


class SigtermNotHandled(Exception):
    pass


def test_sigterm_while_writing_leaves_nothing_behind(tmp_path, trio, monkeypatch, capsys):
    """SIGTERM (a job scheduler, `kill`) while the report is written: exit 143, no temporary
    directory and no report left behind.  (Should the run not handle SIGTERM, the handler
    set here fails the test instead of ending pytest.)"""
    def not_handled(signum, frame):
        raise SigtermNotHandled

    def terminated(draw, path):
        path.write_bytes(b"half")
        os.kill(os.getpid(), signal.SIGTERM)

    previous = signal.signal(signal.SIGTERM, not_handled)
    monkeypatch.setattr(_report._figures, "save", terminated)
    out = tmp_path / "work" / "report"
    try:
        code = main(["run", "--data", str(trio), "--out", str(out), "--quiet", *FAST])
    finally:
        restored = signal.signal(signal.SIGTERM, previous)
    assert restored is not_handled  # the run put the handler back
    assert code == 143
    assert "terminated; no report was written" in capsys.readouterr().err
    assert list((tmp_path / "work").iterdir()) == []


def test_read_only_out_is_refused_before_training(tmp_path, trio, capsys):
    out = tmp_path / "report"
    out.mkdir()
    out.chmod(0o555)
    try:
        assert main(["run", "--data", str(trio), "--out", str(out), *FAST]) == 2
    finally:
        out.chmod(0o755)
    err = capsys.readouterr().err
    assert "read-only" in err and "train loss" not in err
    assert out.exists() and list(out.iterdir()) == []


def test_full_matrix_without_the_disk_for_it_is_refused_before_training(
        tmp_path, trio, capsys, monkeypatch):
    """--full-matrix where the disk cannot hold it: exit 2 naming the size, before training."""
    free = collections.namedtuple("usage", "total used free")(10**6, 10**6 - 1000, 1000)
    monkeypatch.setattr(_report._files.shutil, "disk_usage", lambda path: free)
    out = tmp_path / "report"
    assert main(["run", "--data", str(trio), "--out", str(out), "--full-matrix", *FAST]) == 2
    err = capsys.readouterr().err
    assert "--full-matrix: the report needs about" in err and "train loss" not in err
    assert not out.exists()


def test_full_matrix_without_the_memory_for_it_is_refused_before_training(
        tmp_path, trio, simulated, capsys, monkeypatch):
    """--full-matrix where memory holds the analysis but not the matrices formed to be
    written: exit 2 naming the size and the way out, before training."""
    from sklearn_elm._resources import memory_needed

    n, p = simulated.genotypes.shape
    k = simulated.phenotypes.shape[1]
    plain = memory_needed(n, p, k, truth=True)
    assert memory_needed(n, p, k, truth=True, full_matrix=True) > plain
    monkeypatch.setattr("sklearn_elm._resources.available_memory", lambda: plain)
    out = tmp_path / "report"
    assert main(["run", "--data", str(trio), "--out", str(out), "--full-matrix", *FAST]) == 2
    err = capsys.readouterr().err
    assert re.search(r"--full-matrix: \d+ loci: the analysis needs about [\d.]+ GiB of memory "
                     r"with the full pair matrices", err)
    assert "leave out --full-matrix" in err and "train loss" not in err
    assert not out.exists()


def _haploid_tables(tmp_path, *, stray_two=False, unphenotyped=0):
    data = make_epistatic_phenotypes(300, 12, h2=0.8, random_state=2)
    G = data.genotypes.copy()
    if stray_two:
        G[5, 3] = 2
    data = Bunch(**{**data, "genotypes": G})
    geno, pheno = write_tables(tmp_path / "tables", data, order=range(300 - unphenotyped))
    return geno, pheno


def test_stray_two_in_haploid_table_warns_and_ploidy_can_be_set(tmp_path, capsys):
    """One 2 in a haploid 0/1 table makes the panel diploid only with a warning that names
    the cell; --ploidy 1 refuses it by name, and the ploidy used is echoed."""
    geno, pheno = _haploid_tables(tmp_path, stray_two=True)
    common = ["run", "--data", str(geno), "--phenotypes", str(pheno), "--quiet", *FAST]
    assert main([*common, "--out", str(tmp_path / "auto")]) == 0
    captured = capsys.readouterr()
    assert re.search(r"sklearn-elm: warning: .*1 of the \d+ genotyped cells is 2 .*ind5",
                     captured.err)
    assert "ploidy 2" in captured.err and "ploidy 2" in captured.out
    metrics = json.loads((tmp_path / "auto" / "metrics.json").read_text())
    assert metrics["data"]["ploidy"] == 2
    # the loading's warning is the report's too
    assert any("1 of the" in w and "ind5" in w for w in metrics["warnings"])
    assert main([*common, "--ploidy", "1", "--out", str(tmp_path / "haploid")]) == 2
    err = capsys.readouterr().err
    assert "sklearn-elm: error:" in err and "ind5" in err
    assert not (tmp_path / "haploid").exists()


def test_genotyped_samples_without_phenotypes_are_left_out(tmp_path, capsys):
    """Real .fam files hold unphenotyped samples: the run analyses the overlap and says how
    many samples it left out."""
    geno, pheno = _haploid_tables(tmp_path, unphenotyped=20)
    out = tmp_path / "report"
    assert main(["run", "--data", str(geno), "--phenotypes", str(pheno), "--out", str(out),
                 "--quiet", *FAST]) == 0
    assert "20 genotyped samples without a phenotype row left out" in capsys.readouterr().err
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["data"]["n_samples"] == 280
    assert "Samples: 20 genotyped samples without a phenotype row left out." in metrics["warnings"]


def test_a_trait_constant_in_the_test_samples_has_no_test_r2(tmp_path, capsys):
    """r2 is undefined on a constant test trait: NaN (null in the JSON, - in the summary)
    with a warning in the report, not scikit-learn's 0."""
    data = make_epistatic_phenotypes(300, 12, h2=0.8, random_state=2)
    Y = data.phenotypes.copy()
    Y[255:] = 1.0  # the last 15 %
    geno, pheno = write_tables(tmp_path / "tables", Bunch(**{**data, "phenotypes": Y}))
    out = tmp_path / "report"
    assert main(["run", "--data", str(geno), "--phenotypes", str(pheno), "--out", str(out),
                 "--quiet", *FAST]) == 0
    assert "is constant in the 45 test samples" in capsys.readouterr().err
    metrics = json.loads((out / "metrics.json").read_text())
    (trait,) = metrics["traits"].values()
    assert set(trait["test_r2"].values()) == {None}
    assert any("constant in the 45 test samples" in w for w in metrics["warnings"])


def test_a_device_this_machine_lacks_is_refused_before_anything_runs(capsys):
    """--device names the torch device of training and the ELM; one that is not available
    here (CUDA on a machine without it, or a GPU index past the last) is a usage error (exit
    2) naming the device, before any data is read."""
    missing = "cuda" if not torch.cuda.is_available() else f"cuda:{torch.cuda.device_count()}"
    assert main(["run", "--device", missing, "--max-epochs", "1"]) == 2
    assert f"{missing} is not available on this machine" in capsys.readouterr().err
    assert main(["run", "--device", "tpu9"]) == 2
    assert "must be a torch device" in capsys.readouterr().err


def test_progress_shows_the_epoch_a_stopping_rule_ends(capsys):
    """The path's stopping rule ends training in its on_epoch_end, before the progress
    callback's: that last epoch is shown when training ends (a user saw 10 epoch lines for
    11 epochs trained)."""
    from skorch.history import History

    net = SimpleNamespace(history=History(), max_epochs=30)
    progress = _progress.EpochProgress()
    progress.on_train_begin(net)
    for epoch in (1, 2):
        net.history.new_epoch()
        net.history.record("epoch", epoch)
        for key, value in (("train_loss", 1.0), ("valid_loss", 0.5), ("dur", 0.1)):
            net.history.record(key, value)
        if epoch == 1:  # the second epoch's end is cut short
            progress.on_epoch_end(net)
    progress.on_train_end(net)
    err = capsys.readouterr().err
    assert [int(m) for m in re.findall(r"^\s*(\d+)/30", err, flags=re.M)] == [1, 2]
