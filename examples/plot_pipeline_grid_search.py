"""
Grid search in a pipeline, and how stable the effects are across folds
=======================================================================

:class:`~sklearn_elm.ELMDecomposer` is a scikit-learn estimator: it fits its network, predicts
and scores (test r2) like a regressor, so it can end a :class:`~sklearn.pipeline.Pipeline`
behind :class:`~sklearn_elm.GenotypeEncoder` and be tuned by
:class:`~sklearn.model_selection.GridSearchCV`.  Every parameter of the network is reached
through the pipeline, e.g. ``elmdecomposer__estimator__path_penalty``.

By default :class:`~sklearn_elm.NeuralGPRegressor` chooses its penalty itself, on an internal
validation split, down a path of decreasing penalties.  Here the path is cut to a single step
with no validation split, so that cross-validation chooses the penalty, and the width of the
hidden layer, from a small grid.  The chosen pipeline is then refitted on five folds: if the
additive and pairwise effects it reads out of the network are properties of the trait rather
than of one training set, the folds agree.

The trait: 1,500 haploid individuals, 12 loci, 6 interacting pairs, ``V_AA / V_A = 0.5`` and
h2 = 0.7 (:func:`~sklearn_elm.datasets.make_epistatic_phenotypes`).
"""

# %%
# Grid search over width and penalty
# ----------------------------------

import matplotlib.pyplot as plt
import numpy as np
from sklearn.model_selection import GridSearchCV, KFold, cross_validate
from sklearn.pipeline import make_pipeline

from sklearn_elm import ELMDecomposer, GenotypeEncoder, NeuralGPRegressor
from sklearn_elm.datasets import make_epistatic_phenotypes

data = make_epistatic_phenotypes(1500, 12, h2=0.7, epistatic_ratio=0.5, random_state=0)
X, y = data.genotypes, data.phenotypes[:, 0]

net = NeuralGPRegressor(
    max_epochs=150,
    callbacks__regularization_path__n_steps=1,  # one fixed penalty: the grid chooses it
    train_split=None,
    random_state=0,
)
pipe = make_pipeline(GenotypeEncoder(), ELMDecomposer(net))
widths, penalties = [(16,), (128,)], [0.002, 0.02]
grid = {
    "elmdecomposer__estimator__module__hidden_sizes": widths,
    "elmdecomposer__estimator__path_penalty": penalties,
}
search = GridSearchCV(pipe, grid, cv=KFold(3, shuffle=True, random_state=0), refit=False)
search.fit(X, y)

results = search.cv_results_
for params, mean, std in zip(
    results["params"], results["mean_test_score"], results["std_test_score"], strict=True
):
    width = params["elmdecomposer__estimator__module__hidden_sizes"][0]
    penalty = params["elmdecomposer__estimator__path_penalty"]
    print(f"width {width:3d}, penalty {penalty:.3f}: CV r2 {mean:.3f} +- {std:.3f}")
print("chosen:", search.best_params_)
# 16 ReLU units are too few for 12 loci and 6 pairs (a pair alone takes two)
best_width = search.best_params_["elmdecomposer__estimator__module__hidden_sizes"]
assert best_width == (128,), search.best_params_

# %%
# The chosen pipeline on five folds
# ---------------------------------
# ``return_estimator=True`` keeps each fold's fitted pipeline; its last step holds the effects.

best = pipe.set_params(**search.best_params_)
cv = cross_validate(best, X, y, cv=KFold(5, shuffle=True, random_state=1),
                    return_estimator=True)
decomposers = [fitted[-1] for fitted in cv["estimator"]]
upper = np.triu_indices(X.shape[1], k=1)
additive = np.array([dec.additive_effects_ for dec in decomposers])
pairs = np.array([dec.epistasis_matrix_[upper] for dec in decomposers])
print("test r2 per fold:", np.round(cv["test_score"], 3))
for key in ("additive", "epistatic", "genetic"):
    values = [float(dec.variance_components_[key]) for dec in decomposers]
    print(f"{key:>9} variance per fold: " + " ".join(f"{v:.3f}" for v in values))

# correlation of the effects between every two folds (off the diagonal)
off = ~np.eye(len(decomposers), dtype=bool)
additive_r = np.corrcoef(additive)[off]
pair_r = np.corrcoef(pairs)[off]
print(f"additive effects: correlation between folds {additive_r.min():.3f}-{additive_r.max():.3f}")
print(f"pairwise effects: correlation between folds {pair_r.min():.3f}-{pair_r.max():.3f}")
assert additive_r.min() > 0.95 and pair_r.min() > 0.9, (additive_r, pair_r)

# %%
# Each locus's additive effect in the five folds (dots), with the spread between folds as
# error bars: any two folds share three quarters of their training samples, so the spread is a
# lower bound on the sampling error of a single fit.

fig, (ax_grid, ax_a) = plt.subplots(1, 2, figsize=(10, 3.8),
                                    gridspec_kw={"width_ratios": [1, 2]})
scores = results["mean_test_score"].reshape(len(widths), len(penalties))
image = ax_grid.imshow(scores, cmap="viridis")
ax_grid.set_xticks(range(len(penalties)), [str(p) for p in penalties])
ax_grid.set_yticks(range(len(widths)), [str(w[0]) for w in widths])
ax_grid.set_xlabel("path_penalty")
ax_grid.set_ylabel("hidden units")
for (i, j), value in np.ndenumerate(scores):
    ax_grid.text(j, i, f"{value:.3f}", ha="center", va="center", color="w")
ax_grid.set_title("mean CV r2")

loci = np.arange(X.shape[1])
for fold in additive:
    ax_a.plot(loci, fold, ".", color="C0", alpha=0.5)
ax_a.errorbar(loci, additive.mean(axis=0), yerr=additive.std(axis=0), fmt="none",
              ecolor="k", capsize=3)
ax_a.axhline(0, color="grey", lw=0.8)
ax_a.set_xlabel("locus")
ax_a.set_ylabel("additive effect")
ax_a.set_title("additive effects in five folds")
fig.tight_layout()
plt.show()
