"""Tests of the jackknife errors of the screened fit's components (``component_se``)."""

import numpy as np
import pytest
from sklearn.pipeline import make_pipeline

from sklearn_elm import ELMDecomposer, GenotypeEncoder, NeuralGPRegressor
from sklearn_elm._decomposition import _jackknife, _screening
from sklearn_elm._decomposition._jackknife import jackknife_groups, jackknife_se
from sklearn_elm._decomposition._screening import screened_fit
from sklearn_elm.datasets import make_epistatic_phenotypes


def _additive_trait(n, p, h2, seed):
    d = make_epistatic_phenotypes(n, p, n_qtl=6, n_pairs=0, h2=h2, epistatic_ratio=0.0,
                                  ploidy=2, random_state=seed)
    Z, y, g = d.genotypes - 1.0, d.phenotypes, d.genetic_values
    F = 0.8 * (g - g.mean())
    return Z, F, y - y.mean() - F, y.var(axis=0)


def test_groups_partition_the_samples():
    """Each sample is left out by exactly one group, and the groups are reproducible."""
    kept = jackknife_groups(103, blocks=10)
    left_out = np.concatenate([np.setdiff1d(np.arange(103), k) for k in kept])
    assert np.array_equal(np.sort(left_out), np.arange(103))
    assert all(np.array_equal(a, b) for a, b in zip(kept, jackknife_groups(103, blocks=10),
                                                    strict=True))


def test_differences_from_the_realised_components_are_what_varies():
    """A refit that returns exactly the realised variances of the parts on its samples has
    no error, however much those variances move from group to group; one that is off by a
    constant has none either, and one off by a different amount per group has the
    jackknife's spread of those amounts."""
    rng = np.random.default_rng(0)
    parts = {"additive": rng.normal(size=(200, 1)), "epistatic": rng.normal(size=(200, 1))}
    groups = jackknife_groups(200, blocks=5)

    def realised(keep, shift=0.0):
        A, P = parts["additive"][keep], parts["epistatic"][keep]
        return {"additive": A.var(0) + shift, "epistatic": P.var(0),
                "genetic": (A + P).var(0)}

    se = jackknife_se(realised, parts, groups)
    assert all(np.allclose(se[key], 0.0, atol=1e-12) for key in se)
    se = jackknife_se(lambda keep: realised(keep, 0.3), parts, groups)
    assert np.allclose(se["additive"], 0.0, atol=1e-12)
    shifts = iter([0.0, 0.1, 0.0, 0.1, 0.0])
    se = jackknife_se(lambda keep: realised(keep, next(shifts)), parts, groups)
    expected = np.sqrt(4 / 5 * np.sum((np.array([0, 0.1, 0, 0.1, 0]) - 0.04) ** 2))
    assert se["additive"][0] == pytest.approx(expected)
    assert se["higher"][0] == pytest.approx(expected)  # V_G - V_A - V_AA moves with V_A


def test_without_choices_the_jackknife_agrees_with_the_model_errors():
    """On a purely additive trait of high heritability (no pair confirmed, the same terms in
    every refit) the jackknife's error of V_A is the model's quadratic-form error within
    the jackknife's own noise: with the realised variances' own movement counted as error,
    it would be 1.2 to 1.7 times larger here."""
    ratios = []
    for seed in range(3):
        Z, F, R, vp = _additive_trait(2000, 12, 0.8, seed)
        model = screened_fit(Z, F, R, vp, component_se="model")
        jack = screened_fit(Z, F, R, vp, component_se="jackknife")
        assert jack.component_se == "jackknife" and model.component_se == "model"
        ratios.append(jack.components_se.additive[0] / model.components_se.additive[0])
    assert 0.7 < np.mean(ratios) < 1.3, ratios


def test_auto_takes_the_jackknife_only_where_it_is_cheap(monkeypatch):
    """``"auto"``: the jackknife on a small fit of every locus; the model's errors where
    the refits would cost more than ``JACKKNIFE_FLOPS``, where the samples are few, or
    where the loci are chosen."""
    Z, F, R, vp = _additive_trait(600, 10, 0.5, 0)
    assert screened_fit(Z, F, R, vp, component_se="auto").component_se == "jackknife"
    small = screened_fit(Z[:80], F[:80], R[:80], vp, component_se="auto")
    assert small.component_se == "model"
    with pytest.warns(UserWarning, match="a fit takes at most"):
        chosen = screened_fit(Z[:, :10], F, R, vp, component_se="auto", n_loci=5)
    assert chosen.component_se == "model"
    monkeypatch.setattr(_screening, "JACKKNIFE_FLOPS", 0.0)
    assert _jackknife.JACKKNIFE_FLOPS > 0
    assert screened_fit(Z, F, R, vp, component_se="auto").component_se == "model"


def test_refits_keep_the_full_fits_budget(monkeypatch):
    """Where the full fit takes every locus and 95 % of the samples would allow fewer
    (here 180 loci: 199 terms at 400 samples, 189 at 380), the refits take every locus too
    (they neither choose loci nor cross-fit): they repeat the fit whose errors they give."""
    Z, F, R, vp = _additive_trait(400, 180, 0.5, 0)
    refits = []
    original = _screening.screened_fit

    def spy(*args, **kwargs):
        refits.append(kwargs.get("n_loci"))
        return original(*args, **kwargs)

    monkeypatch.setattr(_screening, "screened_fit", spy)
    fit = original(Z, F, R, vp, component_se="jackknife", crossfit=True)
    assert fit.component_se == "jackknife"
    assert len(refits) == _jackknife.JACKKNIFE_BLOCKS and set(refits) == {180}


def test_where_the_jackknife_cannot_run_the_errors_are_the_models():
    """Where the loci are chosen, or where a refit fails (a budget the full fit's samples
    allow and 95 % of them do not), ``"jackknife"`` warns or says why and ``"auto"`` gives
    the model's errors."""
    Z, F, R, vp = _additive_trait(300, 12, 0.5, 0)
    with pytest.warns(UserWarning, match="needs every locus fitted"):
        fit = screened_fit(Z, F, R, vp, component_se="jackknife", n_loci=6)
    assert fit.component_se == "model"
    tight = dict(n_loci=12, n_pairs=280)  # 292 terms: at most 300 - 2, more than 285 - 2
    with pytest.warns(UserWarning, match="a refit without one of 20 groups"):
        fit = screened_fit(Z, F, R, vp, component_se="auto", **tight)
    assert fit.component_se == "model"
    with pytest.raises(ValueError, match="a refit without one of 20 groups.*'model'"):
        screened_fit(Z, F, R, vp, component_se="jackknife", **tight)


def test_bad_component_se_is_refused():
    Z, F, R, vp = _additive_trait(300, 6, 0.5, 0)
    with pytest.raises(ValueError, match="component_se must be"):
        screened_fit(Z, F, R, vp, component_se="bootstrap")
    with pytest.raises(ValueError, match="component_se"):
        ELMDecomposer(component_se="bootstrap").fit(Z + 1.0, R[:, 0])


def test_decomposer_reports_which_errors_it_gives():
    """``component_se_``: the jackknife for the screened components of a small panel (the
    default), the model's on request, and always for the debiased ones; None for the
    network's own.  The jackknife's errors are reproducible."""
    d = make_epistatic_phenotypes(400, 24, n_qtl=4, n_pairs=2, h2=0.6, ploidy=2,
                                  random_state=1)
    G, y = d.genotypes, d.phenotypes[:, 0]
    net = make_pipeline(GenotypeEncoder(ploidy=2), NeuralGPRegressor(
        module__hidden_sizes=(16,), max_epochs=5, random_state=0)).fit(G, y)
    first = ELMDecomposer(net, prefit=True, components="screened").fit(G, y)
    again = ELMDecomposer(net, prefit=True, components="screened").fit(G, y)
    model = ELMDecomposer(net, prefit=True, components="screened",
                          component_se="model").fit(G, y)
    assert (first.component_se_, model.component_se_) == ("jackknife", "model")
    assert first.variance_components_se_.h2 == again.variance_components_se_.h2
    assert first.variance_components_.h2 == model.variance_components_.h2
    assert first.variance_components_se_.h2 != model.variance_components_se_.h2
    G6 = G[:, :6]
    net6 = make_pipeline(GenotypeEncoder(ploidy=2), NeuralGPRegressor(
        module__hidden_sizes=(8,), max_epochs=3, random_state=0)).fit(G6, y)
    with pytest.warns(UserWarning, match="component_se='jackknife' applies to the screened "
                      "and crossfit.*components='debiased' have the model standard errors"):
        debiased = ELMDecomposer(net6, prefit=True, epistasis="projection",
                                 components="debiased", component_se="jackknife").fit(G6, y)
    assert debiased.component_se_ == "model"  # an explicit request is not ignored in silence
    assert ELMDecomposer(net, prefit=True, components="network").fit(G).component_se_ is None
