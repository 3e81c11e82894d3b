"""What the hidden units add beside the lasso paths, on sparse panels: prediction and effects.

The default ``NeuralGPRegressor`` is trained once per data set (the sparse rows of
``benchmarks/panels.py``: 40 QTL, 20 pairs among them, h2 0.6, 80 % of the samples train).  Then
the hidden units' output is scaled by ``gamma`` (1: as trained; 0: dropped) and the lasso
paths are refitted as after training (each fold scanning its own samples), the rest held.
Per ``gamma``: the test r2, and the correlation of the prefit decomposer's additive effects with
the true average effects (``add r``).  ``kept``: whether training's own refit kept the hidden
units (``hidden_kept_``; where it dropped them, every ``gamma`` gives the same row).  Beside
them, what the data allow: ``ceil`` (the true genetic value's test r2) and ``blind``, the
additive effects of least squares on the true pairs and on the QTL with their exact copies
(``panels.copy_blind_effects``).

Usage::

    python benchmarks/hidden_units.py --row msprime,5000,1000 --seeds 4 --threads 1

The truth is read only to score.
"""

import argparse
import copy

import numpy as np
import torch
from _common import add_threads_option, set_threads
from panels import copy_blind_effects, simulate
from sklearn.pipeline import make_pipeline

from sklearn_elm import ELMDecomposer, GenotypeEncoder, NeuralGPRegressor
from sklearn_elm._linear_path import refit_linear_path
from sklearn_elm._pair_path import refit_lasso_paths
from sklearn_elm._seeding import fold_scan
from sklearn_elm.metrics import true_average_effects

GAMMAS = (1.0, 0.5, 0.0)


def scaled(net, gamma, X, y):
    """A copy of the fitted pipeline ``net`` whose hidden units' output is scaled by ``gamma``,
    its lasso paths refitted on the training samples as ``NeuralGPRegressor.fit`` does."""
    if gamma == 1.0:
        return net
    net = copy.deepcopy(net)
    reg = net[-1]
    Xe = net[0].transform(X).astype(np.float32)
    Y = ((y - reg.intercept_) / reg.target_scale_).reshape(len(y), -1)
    with torch.no_grad():
        reg.module_.layers[-1].weight.mul_(gamma)
    refit_lasso_paths(reg, Xe, Y, scan=fold_scan(reg, Xe, Y))
    refit_linear_path(reg, Xe, Y)
    return net


def run(panel, n, p, seed, args):
    rng = np.random.default_rng(seed)
    data = simulate(panel, n, p, "sparse", 0.6, args, seed)
    G, y = data.genotypes, data.phenotypes[:, 0]
    train = rng.random(n) < 0.8
    y_test, g_test = y[~train], data.genetic_values[~train, 0]

    def r2(pred):
        return 1 - np.mean((y_test - pred) ** 2) / np.var(y_test)

    Z = G.astype(np.float64) - 1.0
    alpha = true_average_effects(Z[train], data.additive_effects, data.epistasis)[0]
    Zc = Z[train] - Z[train].mean(axis=0)
    blind = np.corrcoef(copy_blind_effects(Zc, y[train], data), alpha)[0, 1]
    net = make_pipeline(GenotypeEncoder(ploidy=2), NeuralGPRegressor(random_state=seed))
    net.fit(G[train], y[train])
    cells = []
    for gamma in GAMMAS:
        fitted = scaled(net, gamma, G[train], y[train])
        effects = ELMDecomposer(fitted, prefit=True).fit(G[train], y[train]).additive_effects_
        cells.append((r2(fitted.predict(G[~train])), np.corrcoef(effects, alpha)[0, 1]))
    kept = bool(net[-1].hidden_kept_[0])
    return r2(g_test - g_test.mean() + y_test.mean()), blind, cells, kept


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--row", action="append", metavar="PANEL,N,P",
                        help="a sparse panel, e.g. msprime,5000,1000 (repeatable)")
    parser.add_argument("--qtl", type=int, default=40)
    parser.add_argument("--pairs", type=int, default=20)
    parser.add_argument("--ratio", type=float, default=0.15,
                        help="V_AA / V_A of msprime traits (as panels.py)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--seeds", type=int, default=1)
    add_threads_option(parser)
    args = parser.parse_args()
    set_threads(args.threads)
    print("| panel n p (seed) | kept | ceil | blind add r | "
          + " | ".join(f"gamma {g}: r2 (share), add r" for g in GAMMAS) + " |")
    for text in args.row or ["msprime,5000,1000"]:
        panel, n, p = text.split(",")
        results = []
        for seed in range(args.seed, args.seed + args.seeds):
            results.append(run(panel, int(n), int(p), seed, args))
            ceiling, blind, cells, kept = results[-1]
            print(f"| {panel} {n} {p} ({seed}) | {kept} | {ceiling:.3f} | {blind:.3f} | "
                  + " | ".join(f"{s:.4f} ({s / ceiling:.3f}), {r:.3f}" for s, r in cells)
                  + " |", flush=True)
        if len(results) > 1:
            ceiling = np.mean([r[0] for r in results])
            cells = np.mean([r[2] for r in results], axis=0)
            kept = sum(r[3] for r in results)
            print(f"| {panel} {n} {p} (mean) | {kept} of {len(results)} | {ceiling:.3f} | "
                  f"{np.mean([r[1] for r in results]):.3f} | "
                  + " | ".join(f"{s:.4f} ({s / ceiling:.3f}), {r:.3f}" for s, r in cells)
                  + " |", flush=True)


if __name__ == "__main__":
    main()
