"""
A noisy trait: what degrades, and what the uncertainty says
============================================================

The same genotypes and the same genetic values, observed twice: once nearly clean (broad-sense
heritability H2 = V_G / V_P = 0.9) and once noisy (H2 = 0.25, the noise level of the published
noisy variant).  With three times as much noise as genetic variance, a network predicts less
and its read-out is less precise.  :class:`~sklearn_elm.ELMDecomposer` says by how much: every
variance component comes with a standard error, every locus and every pair with a p-value, and
``significant_pairs(fdr=0.05)`` lists the pairs whose interaction is significant at a false
discovery rate of 5 %.  The simulated truth is only compared against, never used to estimate.
"""

# %%
# Two traits that differ only in their noise
# ------------------------------------------
# :func:`~sklearn_elm.datasets.make_epistatic_phenotypes` with the same ``random_state`` draws
# the same genotypes, effects and standard-normal noise; ``h2`` only scales the noise, to
# variance ``(1 - h2) / h2`` against ``V_G = 1``.  3000 haploid samples, 40 loci, 10 of them
# QTL, 4 interacting pairs among them, as much pairwise (V_AA) as additive (V_A) variance.  The
# networks train on the first 85 % of the samples and are scored on the rest.
import matplotlib.pyplot as plt
import numpy as np
from sklearn.pipeline import make_pipeline

from sklearn_elm import ELMDecomposer, GBLUPRegressor, GenotypeEncoder, NeuralGPRegressor
from sklearn_elm.datasets import make_epistatic_phenotypes
from sklearn_elm.metrics import true_average_effects, true_variance_components

LEVELS = {"H2 = 0.9": 0.9, "H2 = 0.25": 0.25}
KEYS = ["additive", "epistatic", "genetic"]
fits = {}
for label, h2 in LEVELS.items():
    data = make_epistatic_phenotypes(
        3000, 40, n_qtl=10, n_pairs=4, h2=h2, epistatic_ratio=1.0, random_state=0
    )
    X, y, train = data.genotypes, data.phenotypes[:, 0], data.train
    net = NeuralGPRegressor(module__hidden_sizes=(64,), max_epochs=100, random_state=0)
    dec = ELMDecomposer(make_pipeline(GenotypeEncoder(), net)).fit(X[train], y[train])
    gblup = make_pipeline(GenotypeEncoder(), GBLUPRegressor("additive+epistatic"))
    gblup.fit(X[train], y[train])
    # the truth of the samples decomposed, on the network's encoded inputs
    Z = dec.estimator_[0].transform(X[train])
    truth = true_variance_components(
        Z, data.additive_effects[0], data.epistasis[0], phenotypes=y[train]
    )
    fits[label] = dict(data=data, dec=dec, gblup=gblup[-1], truth=truth)
    test_r2 = dec.score(X[~train], y[~train])
    # the best any predictor can do on the test samples: their own V_G / V_P
    ceiling = data.genetic_values[~train, 0].var() / y[~train].var()
    print(f"{label}: test r2 {test_r2:.3f} of a possible {ceiling:.3f} "
          f"({dec.epistasis_} effects, {dec.components_} components)")

# %%
# Variance components with 95 % intervals
# ---------------------------------------
# ``variance_components_se_`` are the standard errors of the sample's own components given its
# genotypes, the quantity that :func:`~sklearn_elm.metrics.true_variance_components` computes
# from the truth: the interval ``estimate +- 1.96 SE`` should cover it 95 % of the time.
# :class:`~sklearn_elm.GBLUPRegressor` reports REML's own standard errors, as GCTA and GEMMA
# do.  They answer a different question, the precision of the variance *parameters* of a
# random-effects model, as if the effects were drawn anew: with ten QTL that is uncertain even
# without noise, so REML's error of V_A stays near 0.1 at H2 = 0.9, where the decomposer's is
# ten times smaller.  Noise widens both.
covered = {}
for label, fit in fits.items():
    vc, se = fit["dec"].variance_components_, fit["dec"].variance_components_se_
    rvc, rse = fit["gblup"].variance_components_, fit["gblup"].variance_components_se_
    print(f"\n{label}      truth   network (95 % interval)    REML GBLUP (95 % interval)")
    for key in KEYS + ["h2", "H2"]:
        true, est, err = fit["truth"][key], vc[key], se[key]
        covered[label, key] = abs(est - true) <= 1.96 * err
        print(f"  {key:>9}  {true:6.3f}   {est:6.3f} +- {1.96 * err:.3f}"
              f" {'covers' if covered[label, key] else 'MISSES'}"
              f"     {rvc[key]:6.3f} +- {1.96 * rse[key]:.3f}")

# every 95 % interval of the decomposer covers the truth of its sample
assert all(covered.values()), [key for key, ok in covered.items() if not ok]
# noise makes every component at least four times less precise
clean_se, noisy_se = (fits[label]["dec"].variance_components_se_ for label in LEVELS)
assert all(noisy_se[key] > 4 * clean_se[key] for key in KEYS), (clean_se, noisy_se)

fig, axes = plt.subplots(1, 2, figsize=(8, 3.5), sharey=True)
for ax, (label, fit) in zip(axes, fits.items(), strict=True):
    x = np.arange(len(KEYS))
    ax.scatter(x, [fit["truth"][key] for key in KEYS], marker="_", s=600, color="k",
               label="truth", zorder=3)
    for offset, name, vc, se in (
        (-0.12, "network", fit["dec"].variance_components_, fit["dec"].variance_components_se_),
        (0.12, "REML GBLUP", fit["gblup"].variance_components_,
         fit["gblup"].variance_components_se_),
    ):
        ax.errorbar(x + offset, [vc[key] for key in KEYS],
                    yerr=[1.96 * se[key] for key in KEYS], fmt="o", capsize=3, label=name)
    ax.set_xticks(x, ["V_A", "V_AA", "V_G"])
    ax.set_title(label)
axes[0].set_ylabel("variance (95 % interval)")
axes[0].legend(fontsize="small")
fig.tight_layout()

# %%
# Additive effects: the network's and the trait's
# -----------------------------------------------
# ``additive_effects_`` are the network's average effects; a network that predicts a noisy
# trait well shrinks them towards 0, as GBLUP shrinks its marker effects.
# ``additive_estimates_`` are the trait's: the least-squares estimates that ``additive_se_``
# and ``additive_pvalues_`` test, not shrunk.  Their slopes against the true average effects
# of the samples decomposed (1 is unbiased):
slopes = {}
for label, fit in fits.items():
    dec, data = fit["dec"], fit["data"]
    Z = dec.estimator_[0].transform(data.genotypes[data.train])
    alpha = true_average_effects(Z, data.additive_effects, data.epistasis)[0]
    for name in ("additive_effects_", "additive_estimates_"):
        slopes[label, name] = np.polyfit(alpha, getattr(dec, name), 1)[0]
    print(f"{label}: slope of the network's effects {slopes[label, 'additive_effects_']:.3f}, "
          f"of the trait's estimates {slopes[label, 'additive_estimates_']:.3f}")

# the trait's estimates are unbiased at both noise levels
assert all(0.85 < slopes[label, "additive_estimates_"] < 1.15 for label in LEVELS), slopes

# %%
# Loci and pairs: p-values and the FDR list
# -----------------------------------------
# ``additive_pvalues_`` test each locus's additive effect on the trait; with 40 loci the
# Bonferroni line is ``0.05 / 40``.  ``pair_tests_`` holds a test of every pair, and
# ``significant_pairs(fdr=0.05)`` the pairs of Benjamini-Hochberg q-value at most 0.05.  The
# realised false discovery proportion (FDP) is the share of listed pairs that are not true
# pairs; its expectation is at most 5 %.  Under noise the true pairs' p-values rise towards the
# threshold: the list may miss a pair, and what it lists should still be true.
fdp, found = {}, {}
for label, fit in fits.items():
    dec, data = fit["dec"], fit["data"]
    qtl = np.flatnonzero(data.additive_effects[0])
    found_qtl = np.sum(dec.additive_pvalues_[qtl] < 0.05 / dec.n_features_z_)
    table = dec.significant_pairs(fdr=0.05)
    is_true = data.epistasis[0][table["i"], table["j"]] != 0
    fdp[label] = 1 - is_true.mean() if len(table) else 0.0
    found[label] = int(is_true.sum())
    fit["table"] = table
    print(f"\n{label}: {found_qtl} of {qtl.size} QTL pass Bonferroni; "
          f"{len(table)} pairs listed at FDR 5 %, {found[label]} of "
          f"{len(data.epistatic_pairs[0])} true pairs found, FDP {fdp[label]:.2f}")
    columns = ["locus_i", "locus_j", "estimate", "std_error", "p_value", "q_value"]
    print(table[columns].assign(true=is_true).to_string(
        index=False, float_format="{:.3f}".format,
        formatters={"p_value": "{:.1e}".format, "q_value": "{:.1e}".format}))

# under noise the list is still at least three quarters true pairs, and finds half of them
assert fdp["H2 = 0.25"] <= 0.25, fdp
assert found["H2 = 0.25"] >= 2, found

# A quantile-quantile plot of the pairs' p-values: the pairs without an interaction follow the
# diagonal (their p-values are uniform), the true pairs stand above it, less far under noise.
# The pairs listed are those above the dashed line of Benjamini-Hochberg.  p-values below
# 1e-300 are drawn at 1e-300.
fig, axes = plt.subplots(1, 2, figsize=(8, 3.5), sharey=True)
for ax, (label, fit) in zip(axes, fits.items(), strict=True):
    tests, E = fit["dec"].pair_tests_, fit["data"].epistasis[0]
    order = np.argsort(tests.p_value)
    observed = -np.log10(np.maximum(tests.p_value[order], 1e-300))
    expected = -np.log10((np.arange(order.size) + 0.5) / tests.n_tests)
    true = E[tests.pairs[order, 0], tests.pairs[order, 1]] != 0
    ax.scatter(expected[~true], observed[~true], s=6, color="0.5", label="other pairs")
    ax.scatter(expected[true], observed[true], s=30, color="C3", label="true pairs")
    ax.plot([0, expected[0]], [0, expected[0]], color="k", linewidth=0.8)
    # Benjamini-Hochberg lists the k smallest p-values for the largest k with p_(k) below
    # 0.05 k / n_tests: the points above this line, up to its last crossing
    bh = -np.log10(0.05 * (np.arange(order.size) + 1) / tests.n_tests)
    ax.plot(expected, bh, color="k", linestyle="--", label="BH line, FDR 5 %")
    ax.set_title(label)
    ax.set_xlabel("expected -log10 p")
ax.set_yscale("symlog", linthresh=10)
ax.set_ylim(0, 400)
axes[0].set_ylabel("observed -log10 p")
axes[0].legend(fontsize="small")
fig.tight_layout()
plt.show()

# %%
# What degraded, and what did not
# -------------------------------
# In this run, at H2 = 0.25 the network's test r2 fell to 0.197 of the 0.249 that the test
# samples' own H2 allows (0.890 of 0.922 when nearly clean), and its additive effects shrank
# (slope 0.866 against the truth, where the trait's estimates have 0.940).  The
# standard errors of V_A, V_AA and V_G grew five- to ninefold, and the 95 % intervals still
# covered the truth; REML's intervals are wider at both noise levels for V_A and V_G, because
# they carry the uncertainty of the effects themselves.  Four of the ten QTL no longer passed
# Bonferroni.  The FDR-5 % list held all four true pairs and nothing else at both noise levels,
# the weakest pair at a q-value of 0.002 instead of 1e-100.  Noise takes away precision and
# power, with p-values rising towards the lines; the intervals and the list stay honest.
