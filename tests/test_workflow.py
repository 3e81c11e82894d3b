"""Tests of sklearn_elm.workflow: the comparison the command line reports, as a function."""

import dataclasses
import json
import re

import numpy as np
import pytest
from sklearn.metrics import r2_score
from sklearn.pipeline import make_pipeline
from sklearn.utils import Bunch
from skorch.callbacks import Callback

from sklearn_elm import ELMDecomposer, GBLUPRegressor, GenotypeEncoder, NeuralGPRegressor, workflow
from sklearn_elm.datasets import make_epistatic_phenotypes
from sklearn_elm.metrics import effect_recovery, pair_recovery, true_average_effects
from sklearn_elm.workflow import Analysis, analyse, check_data

FAST = {"hidden_sizes": [16], "max_epochs": 5}


@pytest.fixture(scope="module")
def data():
    return make_epistatic_phenotypes(300, 8, n_traits=2, h2=0.8, random_state=0)


@pytest.fixture(scope="module")
def result(data):
    return analyse(data, random_state=3, **FAST)


def test_analysis_is_a_frozen_dataclass_read_by_name(result, data):
    assert isinstance(result, Analysis)
    names = {f.name for f in dataclasses.fields(Analysis)}
    assert {"test_r2", "additive", "epistasis", "variance_components", "recovery"} <= names
    with pytest.raises(dataclasses.FrozenInstanceError):
        result.name = "other"
    n_train = int(data.train.sum())
    assert (result.n_train, result.n_test, result.n_samples) == (n_train, 300 - n_train, 300)
    assert result.ploidy == 1 and result.truth_known
    assert list(result.additive) == ["ELM", "GBLUP-A", "truth"]
    assert list(result.epistasis) == ["ELM", "GBLUP-A+AA", "truth"]


def test_figures_are_those_of_the_estimators_refitted(result, data):
    """Each method's figures are that method's, fitted anew on the same samples with the same
    seed: a swapped, rescaled or mis-split entry fails here."""
    train = data.train
    X, Y = data.genotypes, data.phenotypes
    net = make_pipeline(GenotypeEncoder(), NeuralGPRegressor(
        module__hidden_sizes=(16,), max_epochs=5, random_state=3)).fit(X[train], Y[train])
    elm = ELMDecomposer(net, prefit=True).fit(X[train], Y[train])
    Z = GenotypeEncoder().fit(X[train])
    Z_train, Z_test = Z.transform(X[train]), Z.transform(X[~train])
    gblup_a = GBLUPRegressor().fit(Z_train, Y[train])
    gblup_aa = GBLUPRegressor("additive+epistatic").fit(Z_train, Y[train])

    np.testing.assert_allclose(result.additive["ELM"], elm.additive_effects_)
    np.testing.assert_allclose(result.additive["GBLUP-A"], gblup_a.coef_)
    np.testing.assert_allclose(result.epistasis["ELM"], elm.epistasis_matrix_)
    off = 1 - np.eye(8)
    np.testing.assert_allclose(result.epistasis["GBLUP-A+AA"], 2 * gblup_aa.epistasis_matrix_ * off)
    for key in ("additive", "epistatic", "genetic", "h2"):
        np.testing.assert_allclose(result.variance_components["ELM"][key],
                                   elm.variance_components_[key])
        np.testing.assert_allclose(result.variance_components["GBLUP-A+AA"][key],
                                   gblup_aa.variance_components_[key])
    expected = {"network": net.predict(X[~train]), "GBLUP-A": gblup_a.predict(Z_test),
                "GBLUP-A+AA": gblup_aa.predict(Z_test)}
    for method, pred in expected.items():
        np.testing.assert_allclose(result.predictions[method], pred)
        np.testing.assert_allclose(result.test_r2[method],
                                   r2_score(Y[~train], pred, multioutput="raw_values"))
    np.testing.assert_allclose(result.additive["truth"],
                               true_average_effects(Z_train, data.additive_effects,
                                                    data.epistasis))
    assert result.elm_components == elm.components_
    assert result.network["epochs_trained"] == len(net[-1].history_)


def test_recovery_scores_the_estimates_against_the_truth(result):
    """Each method's recovery is that of its own estimates against the truth (REML GBLUP
    learns this easy trait's additive effects)."""
    rec = result.recovery
    assert set(rec) == {"additive", "pairwise"}
    for method, per_trait in rec["additive"].items():
        for t, scores in enumerate(per_trait):
            expected = effect_recovery(result.additive[method][t], result.additive["truth"][t])
            assert scores == pytest.approx(dict(expected))
    for method, per_trait in rec["pairwise"].items():
        for t, scores in enumerate(per_trait):
            expected = pair_recovery(result.epistasis[method][t], result.epistasis["truth"][t])
            assert scores == pytest.approx(dict(expected), nan_ok=True)
    assert all(scores["r"] > 0.9 for scores in rec["additive"]["GBLUP-A"])


def test_without_truth_nothing_is_scored(data):
    plain = Bunch(**{k: v for k, v in data.items() if k not in ("additive_effects", "epistasis")})
    result = analyse(plain, **FAST)
    assert result.recovery is None and not result.truth_known
    assert "truth" not in result.additive and "truth" not in result.variance_components


def test_log_and_callbacks_reach_the_steps(data):
    messages, epochs = [], []

    class Counter(Callback):
        def on_epoch_end(self, net, **kwargs):
            epochs.append(len(net.history))

    analyse(data, callbacks=[("count", Counter())], log=messages.append, **FAST)
    assert epochs == [1, 2, 3, 4, 5]
    assert [m.split()[0] for m in messages] == ["Training", "train:", "Decomposing",
                                                "decompose:", "Fitting", "gblup:"]
    assert all(re.fullmatch(r"  \w+: done in \d+\.\d s", m) for m in messages[1::2])


def test_ploidy_of_the_whole_panel(data):
    """Without a stated ploidy, a 2 among the test samples makes the panel diploid, also for
    the training samples, with a warning that so few cells are 2; a stated ploidy of 1
    refuses it by name."""
    G = data.genotypes.copy()
    G[-1, 0] = 2
    unstated = Bunch(**{k: v for k, v in data.items() if k not in ("ploidy", "genotypes")},
                     genotypes=G)
    with pytest.warns(UserWarning, match="1 of the .* cells is 2"):
        assert check_data(unstated) == 2
    with pytest.raises(ValueError, match="not a haploid genotype"):
        check_data(unstated, ploidy=1)


@pytest.mark.parametrize("change, message", [
    (lambda d: d.update(train=np.arange(len(d.train)) < 5), "too few samples"),
    (lambda d: d.update(genotypes=d.genotypes[:, :2]), "at least 3 are needed"),
    (lambda d: d.update(genotypes=np.zeros_like(d.genotypes)), "only 0 of the 8 loci vary"),
    (lambda d: d.update(phenotypes=np.ones_like(d.phenotypes)), "is constant in the training"),
    # constant up to round-off, by the rule GBLUP and the decomposer apply after training
    (lambda d: d.update(phenotypes=1e6 + 1e-9 * d.phenotypes), "is constant in the training"),
])
def test_check_data_names_the_problem(data, change, message):
    bad = Bunch(**data)
    change(bad)
    with pytest.raises(ValueError, match=message):
        check_data(bad)


def test_a_panel_too_large_for_memory_is_refused_before_training(data, monkeypatch):
    """More loci than memory allows: a clear error naming the size needed, before training."""
    needed = workflow.memory_needed(300, 8, 2)
    monkeypatch.setattr(workflow, "available_memory", lambda: needed - 1)
    with pytest.raises(ValueError, match=r"8 loci: .* needs about 0.0 GiB .* is available; prune"):
        analyse(data, callbacks=[("fail", FailIfTrained())], **FAST)
    monkeypatch.setattr(workflow, "available_memory", lambda: needed)
    check_data(data)  # just enough


class FailIfTrained(Callback):
    def on_train_begin(self, net, **kwargs):
        raise AssertionError("trained although the data were refused")


def test_warnings_raised_while_fitting_reach_the_report(tmp_path, recwarn):
    """30 loci and 40 training samples: the decomposer can fit the trait on only a few of
    them and warns; the warning is kept in the Analysis and shown by the summary, the page
    and metrics.json, and still raised for the caller."""
    from sklearn_elm._report import format_summary, write_report

    small = make_epistatic_phenotypes(50, 30, h2=0.8, ploidy=2, random_state=1)
    small.train = np.arange(50) < 40
    result = analyse(small, random_state=0, **FAST)
    assert any("loci that explain most" in note for note in result.notes)
    assert any("loci that explain most" in str(w.message) for w in recwarn)
    assert "Warnings\n- " in format_summary(result)
    out = write_report(result, tmp_path / "report")
    assert "<h2>Warnings</h2>" in (out / "index.html").read_text()
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["warnings"] == list(result.notes)
