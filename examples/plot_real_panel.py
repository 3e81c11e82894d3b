"""
A realistic panel: a Manhattan plot and the FDR pair list
=========================================================

A diploid panel simulated by the coalescent (msprime): neighbouring SNPs in linkage
disequilibrium, rare alleles the most common, as in a real population.  A sparse trait on it, a
few QTL and three interacting pairs, is decomposed by the default
:class:`~sklearn_elm.ELMDecomposer`; each locus gets a p-value for a Manhattan plot, and
``significant_pairs(fdr=0.05)`` lists the pairs whose interaction is significant at a false
discovery rate of 5 %.  The simulated truth is only compared against, never used to estimate.
"""

# %%
# The panel, pruned for linkage
# -----------------------------
# :func:`~sklearn_elm.datasets.simulate_genotypes` draws 3000 diploid individuals at 4000 SNPs
# of minor-allele frequency at least 5 %, over about 4 Mb.  ``additive_pvalues_`` test each
# locus *jointly* with every other locus (its coefficient in the trait's least-squares fit on
# all of them), so a locus with copies in linkage has little left to itself: its standard
# error grows by the square root of its variance inflation factor, the ``VIF = 1 / (1 - R^2)``
# of its regression on the other loci.  As is usual before a multi-locus model, the panel is
# first pruned for linkage, in the manner of ``plink --indep-pairwise 50 5 0.1``: along the
# chromosome a SNP is kept when its squared correlation with each of the last 50 kept is below
# 0.1.
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.lines import Line2D
from matplotlib.patches import Arc
from scipy import stats
from sklearn.pipeline import make_pipeline

from sklearn_elm import ELMDecomposer, GenotypeEncoder, NeuralGPRegressor
from sklearn_elm.datasets import simulate_genotypes, simulate_phenotypes
from sklearn_elm.metrics import true_average_effects, true_variance_components

panel = simulate_genotypes(3000, 4000, ploidy=2, random_state=0)


def standardise(G):
    """Each column centred and scaled to unit variance."""
    G = np.asarray(G, dtype=np.float64)
    return (G - G.mean(axis=0)) / G.std(axis=0)


def prune(G, r2_max=0.1, window=50):
    """Indices of the SNPs kept by greedy pruning along the chromosome."""
    Z = standardise(G)
    kept = []
    for j in range(Z.shape[1]):
        recent = kept[-window:]
        if not recent or np.max((Z[:, recent].T @ Z[:, j] / len(Z)) ** 2) < r2_max:
            kept.append(j)
    return np.array(kept)


def near_copies(G, r2_min=0.9, window=50):
    """Share of the SNPs with a squared correlation of at least ``r2_min`` to one of the
    ``window`` SNPs after them."""
    Z = standardise(G)
    r2 = [np.max((Z[:, j + 1:j + 1 + window].T @ Z[:, j] / len(Z)) ** 2)
          for j in range(Z.shape[1] - 1)]
    return float(np.mean(np.array(r2) >= r2_min))


def median_vif(G):
    """Median variance inflation factor: the diagonal of the inverse correlation matrix."""
    Z = standardise(G)
    return float(np.median(np.diag(np.linalg.inv(Z.T @ Z / len(Z)))))


keep = prune(panel.genotypes)
G, positions = panel.genotypes[:, keep], panel.positions[keep] / 1e6
print(f"{panel.genotypes.shape[1]} SNPs over {panel.positions[-1] / 1e6:.1f} Mb, "
      f"{near_copies(panel.genotypes):.0%} of them with a near copy (r2 >= 0.9) nearby; "
      f"{keep.size} kept, of median VIF {median_vif(G):.1f}")

# %%
# A sparse trait and the default decomposer
# -----------------------------------------
# :func:`~sklearn_elm.datasets.simulate_phenotypes` puts 10 QTL on the pruned panel, three
# disjoint pairs of them interacting, with ``V_AA / V_A = 0.2`` (at low allele frequencies most
# of a pair's variance is additive) and H2 = 0.5.  The network is the default pipeline, a
# :class:`~sklearn_elm.GenotypeEncoder` and a :class:`~sklearn_elm.NeuralGPRegressor`, trained
# briefly (64 hidden units, 60 epochs) to keep the example fast.  With ``p`` loci far more
# than the ``n`` samples allow for every pair, the decomposer screens the pairs
# (``epistasis_ == "screened"``): about 72,000 pairs are tested.
data = simulate_phenotypes(G, n_qtl=10, n_pairs=3, h2=0.5, epistatic_ratio=0.2,
                           random_state=0)
y = data.phenotypes[:, 0]
net = NeuralGPRegressor(module__hidden_sizes=(64,), max_epochs=60, random_state=0)
dec = ELMDecomposer(make_pipeline(GenotypeEncoder(), net)).fit(G, y)

Z = dec.estimator_[0].transform(G)
truth = true_variance_components(Z, data.additive_effects[0], data.epistasis[0], phenotypes=y)
vc, se = dec.variance_components_, dec.variance_components_se_
print(f"{dec.epistasis_} effects, {dec.pair_tests_.n_tests} pairs tested")
for key in ("additive", "epistatic", "genetic", "h2"):
    print(f"  {key:>9}: truth {truth[key]:.3f}, estimate {vc[key]:.3f} +- {1.96 * se[key]:.3f}")
# the 95 % intervals of V_A, V_AA and V_G cover the truth of this sample
for key in ("additive", "epistatic", "genetic"):
    assert abs(vc[key] - truth[key]) <= 1.96 * se[key], (key, vc[key], truth[key], se[key])

# %%
# The Manhattan plot
# ------------------
# ``-log10(additive_pvalues_)`` along the chromosome, with the Bonferroni line ``0.05 / p``.
# The true QTL are circled; what each can show depends on the share of the phenotypic variance
# its average effect explains, ``Var(z_i) alpha_i^2 / V_P`` with ``alpha`` the true average
# effects (:func:`~sklearn_elm.metrics.true_average_effects`; a locus of an interacting pair
# has an average effect through its partner's allele frequency).  Beside it, the scan of a
# genome-wide association study, one locus at a time (each locus's simple regression), which
# cannot tell a QTL from the loci in linkage with it.
qtl = np.flatnonzero(data.additive_effects[0] != 0)
alpha = true_average_effects(Z, data.additive_effects[0], data.epistasis[0])
share = Z.var(axis=0) * alpha**2 / y.var()
bonferroni = 0.05 / G.shape[1]
hits = np.flatnonzero(dec.additive_pvalues_ < bonferroni)
print(f"\n{hits.size} loci pass Bonferroni ({bonferroni:.1e}); the 10 QTL:")
print("  locus  position (Mb)  share of V_P  -log10 p  passes")
for i in qtl:
    p_value = dec.additive_pvalues_[i]
    print(f"  {i:5d}  {positions[i]:13.3f}  {share[i]:12.4f}  {-np.log10(p_value):8.1f}"
          f"  {p_value < bonferroni}")
# distance of each locus that passes to the nearest QTL
distance_kb = np.array([np.min(np.abs(positions[qtl] - positions[i])) * 1e3 for i in hits])
print(f"distance of each locus that passes to the nearest QTL (kb): {distance_kb.round(0)}")


def marginal_pvalues(G, y):
    """Two-sided p-values of the slope of y's simple regression on each locus."""
    r = standardise(G).T @ ((y - y.mean()) / y.std()) / len(y)
    t = r * np.sqrt((len(y) - 2) / (1 - r**2))
    return 2 * stats.t.sf(np.abs(t), len(y) - 2)


scan = marginal_pvalues(G, y)
scan_hits = np.flatnonzero(scan < bonferroni)
scan_kb = np.array([np.min(np.abs(positions[qtl] - positions[i])) * 1e3 for i in scan_hits])
print(f"one locus at a time: {scan_hits.size} loci pass, {np.isin(scan_hits, qtl).sum()} of them "
      f"QTL, {np.sum(scan_kb > 100)} more than 100 kb from any QTL")
# every QTL that explains at least 5 % of V_P passes, and nothing passes far from a QTL
assert all(dec.additive_pvalues_[i] < bonferroni for i in qtl[share[qtl] >= 0.05]), share
assert np.all(distance_kb <= 100), distance_kb

# %%
# The FDR-5 % pair list
# ---------------------
# Each pair is tested for what it adds to the trait's fit on every locus and the pairs already
# confirmed, so that a pair in linkage with a fitted locus or pair is not counted for it.  A
# listed pair is true where both loci are those of a true pair; for one that is not, the table
# gives how far (in kb) its loci are from those of the nearest true pair, to tell a copy in
# linkage of a true pair from a false discovery elsewhere.
table = dec.significant_pairs(fdr=0.05)
true_pairs = data.epistatic_pairs[0]


def distance_to_true_pair(i, j):
    """Largest distance (kb) of the two loci to those of the nearest true pair."""
    gaps = [max(abs(positions[i] - positions[a]), abs(positions[j] - positions[b]))
            for a, b in true_pairs]
    return 1e3 * min(gaps)


listed = list(zip(table["i"], table["j"], strict=True))
table["true"] = [bool(data.epistasis[0][i, j] != 0) for i, j in listed]
table["kb to a true pair"] = [round(distance_to_true_pair(i, j)) for i, j in listed]
fdp = 1 - table["true"].mean() if len(table) else 0.0
print(f"{len(table)} pairs listed, {table['true'].sum()} of {len(true_pairs)} true pairs found, "
      f"realised FDP {fdp:.2f}; true pairs: {true_pairs.tolist()}")
print(table.drop(columns=["output"]).to_string(
    index=False, float_format="{:.3f}".format,
    formatters={"p_value": "{:.1e}".format, "q_value": "{:.1e}".format}))
# every true pair is listed, and at least half of the list is true
assert table["true"].sum() == len(true_pairs), table
assert fdp <= 0.5, fdp

fig, (first, top, bottom) = plt.subplots(3, 1, figsize=(9, 7), sharex=True,
                                         gridspec_kw={"height_ratios": [2, 2, 1]})
for ax, p_values, title in ((first, scan, "one locus at a time"),
                            (top, dec.additive_pvalues_, "additive_pvalues_ (joint)")):
    ax.scatter(positions, -np.log10(p_values), s=6, color="0.4")
    ax.scatter(positions[qtl], -np.log10(p_values[qtl]), s=60, facecolors="none",
               edgecolors="C3", label="true QTL")
    ax.axhline(-np.log10(bonferroni), color="k", linestyle="--", linewidth=0.8,
               label="Bonferroni")
    ax.set_ylabel("-log10 p")
    ax.set_title(title, fontsize="medium")
    ax.legend(fontsize="small", loc="center left", bbox_to_anchor=(1.01, 0.5))
# the pairs as arcs: true pairs above, the FDR list below
for (a, b), sign, color, style in (
    *[((a, b), 1, "C3", "--") for a, b in true_pairs],
    *[((i, j), -1, "C2" if ok else "C1", "-")
      for (i, j), ok in zip(listed, table["true"], strict=True)],
):
    left, right = sorted((positions[a], positions[b]))
    bottom.add_patch(Arc(((left + right) / 2, 0), right - left, 1.8, theta1=0 if sign > 0 else 180,
                         theta2=180 if sign > 0 else 360, color=color, linestyle=style))
bottom.set_ylim(-1, 1)
bottom.legend(handles=[Line2D([], [], color="C3", linestyle="--", label="true pair"),
                       Line2D([], [], color="C2", label="listed, true"),
                       Line2D([], [], color="C1", label="listed, false")],
              fontsize="small", loc="center left", bbox_to_anchor=(1.01, 0.5))
bottom.set_yticks([0.5, -0.5], ["true pairs", "FDR 5 % list"])
bottom.set_xlabel("position (Mb)")
fig.tight_layout()
plt.show()

# %%
# What the numbers say
# --------------------
# In this run the screened components covered the truth (V_A 0.815 for 0.815, V_AA 0.178 +-
# 0.036 for 0.163).  The three QTL that explain 11-15 % of V_P each stand far above the
# Bonferroni line (-log10 p of 29 to 41 against 3.9), and nothing else crosses it.  The other
# seven explain at most 1.7 % each and stay below: a test of a locus jointly with 380 others
# loses power to their linkage (the median VIF of 4.6 doubles a standard error).  The scan one
# locus at a time passed two more of them, and 48 loci that are not QTL, 24 of them more than
# 100 kb from any: the joint test is what keeps the plot to the QTL.
#
# The FDR-5 % list held the three true pairs and one false one, 415 kb from the nearest true
# pair, at a q-value of 0.018.  That is a chance discovery rather than linkage: least squares on
# every locus and the three true pairs gives it the same p-value (1e-6).  A false discovery
# rate of 5 % bounds the *average* share of false pairs; one in four in a single list is within
# what it allows.
