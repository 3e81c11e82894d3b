"""Tests of sklearn_elm.workflow: the comparison the command line reports, as a function."""

import dataclasses
import json
import re
import warnings

import numpy as np
import pytest
from sklearn.metrics import r2_score
from sklearn.pipeline import make_pipeline
from sklearn.utils import Bunch
from skorch.callbacks import Callback

from sklearn_elm import (
    ELMDecomposer,
    GBLUPRegressor,
    GenotypeEncoder,
    NeuralGPRegressor,
    _resources,
    workflow,
)
from sklearn_elm._estimates import gblup_pairs
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
    reg = net[-1]
    kinds = np.where(np.isfinite(reg.linear_penalty_), "ridge",
                     np.where(reg.linear_lasso_, "lasso", "none"))
    assert result.network["linear_path"] == kinds.tolist()
    assert set(kinds) <= {"ridge", "lasso"}  # "auto" holds no row at a path penalty > 0
    _assert_same_tests(result, elm, {"GBLUP-A": gblup_a, "GBLUP-A+AA": gblup_aa})


def _assert_same_tests(result, elm, gblups):
    """The analysis's standard errors, p-values, pair tests and FDR list are the fitted
    decomposer's and GBLUPs' (NaN where a GBLUP has no standard error of a component)."""
    np.testing.assert_allclose(result.additive_estimates, elm.additive_estimates_)
    np.testing.assert_allclose(result.additive_se, elm.additive_se_)
    np.testing.assert_allclose(result.additive_pvalues, elm.additive_pvalues_)
    for key, se in elm.variance_components_se_.items():
        np.testing.assert_allclose(result.variance_components_se["ELM"][key], se)
    for method, model in gblups.items():
        known = getattr(model, "variance_components_se_", {})
        for key in result.variance_components[method]:
            np.testing.assert_allclose(result.variance_components_se[method][key],
                                       known.get(key, np.full(2, np.nan)))
    for got, expected in zip(result.pair_tests, elm.pair_tests_, strict=True):
        assert got.n_tests == expected.n_tests
        for key in ("pairs", "estimate", "std_error", "p_value"):
            np.testing.assert_allclose(got[key], expected[key])
    table = elm.significant_pairs(0.05, as_frame=False)
    assert set(result.significant_pairs) == {*table, "linked_i", "linked_j", "n_linked_i",
                                             "n_linked_j"}
    for key, column in table.items():
        if key in ("locus_i", "locus_j"):  # named after the loci, not the encoded inputs
            column = result.feature_names[table[key.replace("locus_", "")]]
        np.testing.assert_array_equal(result.significant_pairs[key], column)
    assert result.fdr == 0.05


@pytest.mark.parametrize("fdr", [0, 1, -0.1, 1.5, float("nan"), "0.05", True])
def test_an_fdr_outside_0_1_is_refused_before_training(data, fdr, monkeypatch):
    """fdr must be a number strictly between 0 and 1; anything else is a ValueError that
    says so before the network is trained."""
    monkeypatch.setattr(workflow, "_network", lambda *args: pytest.fail("trained"))
    with pytest.raises(ValueError, match=r"fdr must be a number in \(0, 1\)"):
        analyse(data, fdr=fdr, **FAST)


def test_several_networks_are_the_decomposers_average(data):
    """With n_estimators the network that predicts and is decomposed is the average that
    ``ELMDecomposer(n_estimators=...)`` trains from the same seed: the same members, so the
    same predictions and effects; the summary gives each member's epochs."""
    train, X, Y = data.train, data.genotypes, data.phenotypes
    messages = []
    result = analyse(data, random_state=3, n_estimators=2, log=messages.append, **FAST)
    pipe = make_pipeline(GenotypeEncoder(), NeuralGPRegressor(
        module__hidden_sizes=(16,), max_epochs=5, random_state=3))
    elm = ELMDecomposer(pipe, n_estimators=2).fit(X[train], Y[train])
    one = analyse(data, random_state=3, **FAST)
    np.testing.assert_allclose(result.predictions["network"], elm.predict(X[~train]),
                               rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(result.additive["ELM"], elm.additive_effects_,
                               rtol=1e-4, atol=1e-6)
    assert not np.allclose(result.predictions["network"], one.predictions["network"])
    assert result.network["networks"] == 2 and result.network["hidden_sizes"] == "16"
    assert result.network["epochs_trained_per_network"] == [
        len(m[-1].history_) for m in elm.estimators_]
    assert result.network["path_penalty_per_network"] == [
        m[-1].path_penalty_ for m in elm.estimators_]
    assert "networks" not in one.network and "epochs_trained" not in result.network
    assert [m.split(" of ")[0] for m in messages if m.startswith("Network ")] == [
        "Network 1", "Network 2"]


@pytest.mark.parametrize("n_estimators", [0, -1, 1.5, True, "2"])
def test_n_estimators_not_a_positive_integer_is_refused_before_training(
        data, n_estimators, monkeypatch):
    monkeypatch.setattr(workflow, "_network", lambda *args: pytest.fail("trained"))
    with pytest.raises(ValueError, match="n_estimators must be an integer of at least 1"):
        analyse(data, n_estimators=n_estimators, **FAST)


def test_max_epochs_of_0_is_refused_not_taken_as_the_default(data):
    with pytest.raises(ValueError, match="max_epochs must be a positive integer, got 0"):
        analyse(data, hidden_sizes=[8], max_epochs=0)


def test_the_fdr_sets_the_list_of_significant_pairs(data):
    """A smaller FDR lists a subset of the pairs a larger one lists, each pair's q-value at
    most the FDR, and the analysis records the FDR it used."""
    loose, strict = (analyse(data, random_state=3, fdr=fdr, **FAST) for fdr in (0.5, 1e-6))
    assert (loose.fdr, strict.fdr) == (0.5, 1e-6)
    pairs = {fdr: set(zip(r.significant_pairs["output"].tolist(),
                          r.significant_pairs["i"].tolist(), r.significant_pairs["j"].tolist(),
                          strict=True))
             for fdr, r in ((0.5, loose), (1e-6, strict))}
    assert pairs[1e-6] <= pairs[0.5] and len(pairs[0.5]) > len(pairs[1e-6])
    assert (loose.significant_pairs["q_value"] <= 0.5).all()


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
    (lambda d: d.update(phenotypes=d.phenotypes[:-3]), r"one row per sample, got \d+, \d+ and"),
    (lambda d: d.update(train=np.arange(len(d.train)) < 5), "too few samples"),
    (lambda d: d.update(genotypes=d.genotypes[:, :2]), "at least 3 are needed"),
    (lambda d: d.update(genotypes=np.zeros_like(d.genotypes)), "only 0 of the 8 loci vary"),
    (lambda d: d.update(phenotypes=np.ones_like(d.phenotypes)), "is constant in the training"),
    (lambda d: d.update(genotypes=np.where(np.arange(8) == 5, np.nan, d.genotypes)),
     r"1 loci have no call among the \d+ training samples, the first 'locus5'.*plink --geno"),
    # constant up to round-off, by the rule GBLUP and the decomposer apply after training
    (lambda d: d.update(phenotypes=1e6 + 1e-9 * d.phenotypes), "is constant in the training"),
])
def test_check_data_names_the_problem(data, change, message):
    bad = Bunch(**data)
    change(bad)
    with pytest.raises(ValueError, match=message):
        check_data(bad)


def test_a_panel_too_large_for_memory_is_refused_before_training(data, monkeypatch):
    """More loci than memory allows: a clear error naming the size needed, before training
    (the need of data with their true effects, which the analysis scores)."""
    needed = workflow.memory_needed(300, 8, 2, truth=True)
    monkeypatch.setattr(_resources, "available_memory", lambda: needed - 1)
    with pytest.raises(ValueError, match=r"8 loci: .* needs about 0.5 GiB .* is available; prune"):
        analyse(data, callbacks=[("fail", FailIfTrained())], **FAST)
    monkeypatch.setattr(_resources, "available_memory", lambda: needed)
    check_data(data)  # just enough


def test_the_networks_averaged_count_in_the_memory_needed(data, monkeypatch):
    """Each member's first layer is kept until they are averaged, and the average holds
    them side by side: many wide networks are refused before training, with the fix."""
    needed = workflow.memory_needed(300, 8, 2, truth=True)
    monkeypatch.setattr(_resources, "available_memory", lambda: needed + 2**20)
    check_data(data, networks=1, hidden=10**6)  # one network's weights are not the bound's
    with pytest.raises(ValueError, match="needs about .* average fewer than 2 networks, prune"):
        analyse(data, n_estimators=2, hidden_sizes=[10**6], max_epochs=1,
                callbacks=[("fail", FailIfTrained())])


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


def _warn_inside(notes, *warnings_to_raise, then=None):
    """Raise each (message, category) inside ``_noted(notes)``, from this module's one line,
    then ``then`` (an exception) if given."""
    with workflow._noted(notes):
        for message, category in warnings_to_raise:
            warnings.warn(message, category, stacklevel=1)
        if then is not None:
            raise then


def test_noted_keeps_user_warnings_once_and_raises_every_warning_again():
    """A UserWarning (a ConvergenceWarning included) raised twice is noted once; deprecation
    and numerical chatter are not noted; every warning caught is raised again, once each,
    with its category, from where it was raised."""
    from sklearn.exceptions import ConvergenceWarning

    notes = []
    raised = [("too few samples", UserWarning), ("too few samples", UserWarning),
              ("old API", DeprecationWarning), ("overflow", RuntimeWarning),
              ("no convergence", ConvergenceWarning)]
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        _warn_inside(notes, *raised)
    assert notes == ["too few samples", "no convergence"]
    assert [(str(w.message), w.category) for w in seen] == raised
    assert {w.filename for w in seen} == {__file__}


def test_noted_raises_the_warnings_again_after_an_exception():
    """Warnings raised before an exception are still noted and raised again, and the
    exception still reaches the caller."""
    notes = []
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        with pytest.raises(ValueError, match="training failed"):
            _warn_inside(notes, ("first", UserWarning), then=ValueError("training failed"))
    assert notes == ["first"]
    assert [str(w.message) for w in seen] == ["first"]


class _QuietWarning(UserWarning):
    pass


@pytest.mark.parametrize("ignore", [
    {"category": _QuietWarning},
    {"module": re.escape(__name__) + "$"},  # the module the warning was raised from
    {"message": "quiet"},
])
def test_noted_raises_again_under_the_callers_filters(ignore):
    """An "ignore" filter of the caller, by category, module or message, silences the
    warning raised again (the report still notes it); others still pass."""
    notes = []
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        warnings.filterwarnings("ignore", **ignore)
        _warn_inside(notes, ("quiet", _QuietWarning))
    assert notes == ["quiet"] and seen == []
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        warnings.filterwarnings("ignore", category=DeprecationWarning)
        _warn_inside(notes, ("quiet", _QuietWarning))
    assert [str(w.message) for w in seen] == ["quiet"]


def test_noted_warnings_again_meet_the_default_and_error_actions():
    """Raised again with the module's registry: the "default" action shows a warning raised
    twice from one line once; the "error" action makes it an error, after noting it."""
    notes = []
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("default")
        _warn_inside(notes, ("twice", UserWarning), ("twice", UserWarning))
    assert [str(w.message) for w in seen] == ["twice"]
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        with pytest.raises(UserWarning, match="an error now"):
            _warn_inside(notes, ("an error now", UserWarning))
    assert notes == ["twice", "an error now"]


def test_gblup_pairs_are_twice_the_matrix_off_the_diagonal():
    """The report's GBLUP pair effects are 2 E_ij off the diagonal and 0 on it, in a copy:
    the baseline's own matrices are left as they were."""
    rng = np.random.default_rng(0)
    E = rng.normal(size=(2, 5, 5))
    E = E + E.transpose(0, 2, 1)
    baseline = Bunch(epistasis_matrix_=E.copy())
    pairs = gblup_pairs(baseline, 2, 5)
    np.testing.assert_array_equal(pairs, 2 * E * (1 - np.eye(5)))
    np.testing.assert_array_equal(baseline.epistasis_matrix_, E)
    single = gblup_pairs(Bunch(epistasis_matrix_=E[0]), 1, 5)
    assert single.shape == (1, 5, 5) and not np.diagonal(single[0]).any()


@pytest.mark.parametrize("p", [50, 2000])
def test_pairwise_values_agree_on_both_sides_of_the_sparse_switch(p):
    """sum_{i<j} E_ij z_i z_j from the pairs (at most max(p, p^2 / 512) of them) and from the
    matrix product (one more pair) agree to round-off, for a symmetric matrix with a diagonal
    (ignored) and for pairs held in the upper triangle only (each weighs (E_ij + E_ji) / 2);
    with and without the last pair, they differ by that pair's value."""
    from sklearn_elm._components import pairwise_values

    rng = np.random.default_rng(p)
    Z = rng.normal(size=(40, p))
    bound = max(p, p * p // 512)
    i, j = np.triu_indices(p, 1)
    chosen = rng.choice(i.size, bound + 1, replace=False)
    upper = np.zeros((p, p))
    upper[i[chosen], j[chosen]] = rng.normal(size=bound + 1)
    expected = np.einsum("nij,ij->n", Z[:, :, None] * Z[:, None, :], upper) if p <= 50 else None
    results = {}
    for last in (True, False):  # with the last pair: the product; without it: the pairs
        U = upper.copy()
        if not last:
            U[i[chosen[-1]], j[chosen[-1]]] = 0.0
        symmetric = U + U.T + np.diag(rng.normal(size=p))
        results[last] = (pairwise_values(Z, symmetric), 2 * pairwise_values(Z, U))
        np.testing.assert_allclose(*results[last], rtol=1e-10, atol=1e-10)
    removed = Z[:, i[chosen[-1]]] * Z[:, j[chosen[-1]]] * upper[i[chosen[-1]], j[chosen[-1]]]
    np.testing.assert_allclose(results[True][0] - removed, results[False][0], rtol=1e-10,
                               atol=1e-9)
    if expected is not None:
        np.testing.assert_allclose(results[True][0], expected, rtol=1e-10)


@pytest.mark.parametrize("extra, finite", [(0, True), (1, False)])
def test_pairwise_values_sums_few_pairs_pair_by_pair(extra, finite):
    """Up to max(p, p^2 / 512) pairs are summed pair by pair, so that a locus in no pair is
    never read: an infinite genotype there leaves the values finite.  One pair more and the
    matrix product is taken, which reads every locus (inf * 0 is NaN)."""
    from sklearn_elm._components import pairwise_values

    rng = np.random.default_rng(1)
    p = 600
    Z = rng.normal(size=(30, p))
    Z[:, -1] = np.inf  # in no pair
    E = np.zeros((p, p))
    i, j = np.triu_indices(p - 1, 1)
    chosen = rng.choice(i.size, max(p, p * p // 512) + extra, replace=False)
    E[i[chosen], j[chosen]] = 1.0
    E += E.T
    with np.errstate(invalid="ignore"):  # inf * 0, where the product reads the locus
        values = pairwise_values(Z, E)
    assert np.isfinite(values).all() == finite
    if finite:
        expected = (Z[:, i[chosen]] * Z[:, j[chosen]]).sum(axis=1)
        np.testing.assert_allclose(values, expected, rtol=1e-12)


@pytest.mark.filterwarnings("ignore:1500 loci and 51 samples:UserWarning")
@pytest.mark.parametrize("n_traits", [1, 2])
def test_memory_needed_bounds_what_analyse_allocates(n_traits):
    """At many more loci than samples (1,500 and 60: the p x p matrices dominate), the
    arrays analyse allocates at its peak (traced) stay within memory_needed less its
    allowance for the interpreter, and take at least 70 % of it (the bound is not lax)."""
    import tracemalloc

    from sklearn_elm._resources import BASE_BYTES

    data = make_epistatic_phenotypes(60, 1500, n_traits=n_traits, ploidy=2, random_state=0)
    plain = Bunch(**{k: v for k, v in data.items() if k not in ("additive_effects",
                                                                "epistasis")})
    analyse(plain, hidden_sizes=[8], max_epochs=1)  # imports and caches outside the trace
    tracemalloc.start()
    try:
        analyse(plain, hidden_sizes=[8], max_epochs=1)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    bound = workflow.memory_needed(60, 1500, n_traits) - BASE_BYTES
    assert 0.7 * bound < peak <= bound


@pytest.mark.filterwarnings("ignore::UserWarning")
def test_past_more_loci_than_samples_gblups_pairs_stay_factored_and_score_as_dense():
    """With more loci than training samples GBLUP A+AA's pair matrix reaches the analysis
    factored; doubled and off its diagonal it is the refitted GBLUP's, and its recovery of
    the true pairs is that of the dense matrix."""
    from sklearn_elm import FactoredPairMatrix
    from sklearn_elm._pairs import dense_pairs
    from sklearn_elm.metrics import pair_recovery

    data = make_epistatic_phenotypes(60, 120, ploidy=2, random_state=1)
    result = analyse(data, hidden_sizes=[8], max_epochs=1)
    E = result.epistasis["GBLUP-A+AA"]
    assert isinstance(E, FactoredPairMatrix) and E.shape == (1, 120, 120)
    train = data.train
    encoder = GenotypeEncoder().fit(data.genotypes[train])
    gblup_aa = GBLUPRegressor("additive+epistatic").fit(
        encoder.transform(data.genotypes[train]), data.phenotypes[train])
    off = 1 - np.eye(120)
    expected = 2 * np.asarray(gblup_aa.epistasis_matrix_)[0] * off
    np.testing.assert_allclose(dense_pairs(E)[0] * off, expected, rtol=1e-10, atol=1e-14)
    recovery = pair_recovery(expected, data.epistasis[0])
    assert result.recovery["pairwise"]["GBLUP-A+AA"][0] == pytest.approx(dict(recovery))

