"""The network's linear path: test r2 with it (the default), without it, and GBLUP A's.

Simulates the panels of ``panels.py`` (msprime genotypes with linkage or independent loci,
diploid; a ``sparse`` trait of ``--qtl`` additive QTL and ``--pairs`` pairs, or a ``dense`` one,
every locus additive) and, per row and data seed, trains on 80 % of the samples:

* ``auto``: ``NeuralGPRegressor(random_state=seed)``, the default (``linear_penalty="auto"``);
* ``none``: the same with ``linear_penalty=None``, the network without the path;
* ``GBLUP A``: ``GBLUPRegressor(kernel="additive")``;
* ``ceil``: the true genetic value's test r2;

and prints the test r2 of each, whether ``auto`` used the path (``used``) and the held-out r2
of GBLUP and of the best lasso that decided it, and the seconds each network took.

Usage::

    python benchmarks/linear_path.py --seeds 0 1 2 --threads 2
    python benchmarks/linear_path.py --row independent,5000,1000,dense,0.6

The truth is read only to score.
"""

import argparse
import time

import numpy as np
from _common import add_threads_option, set_threads
from panels import simulate
from sklearn.pipeline import make_pipeline

from sklearn_elm import GBLUPRegressor, GenotypeEncoder, NeuralGPRegressor

ROWS = [(panel, 5000, 1000, arch, 0.6) for panel in ("independent", "msprime")
        for arch in ("dense", "sparse")]


def run(row, args, seed):
    panel, n, p, arch, h2 = row
    rng = np.random.default_rng(seed)
    data = simulate(panel, n, p, arch, h2, args, seed)
    G, y = data.genotypes, data.phenotypes[:, 0]
    train = rng.random(n) < 0.8
    y_test = y[~train]

    def r2(pred):
        return 1 - np.mean((y_test - pred) ** 2) / np.var(y_test)

    g = data.genetic_values[~train, 0]
    result = {"ceil": r2(y_test.mean() + g - g.mean())}
    for name, penalty in (("auto", "auto"), ("none", None)):
        start = time.perf_counter()
        net = make_pipeline(GenotypeEncoder(ploidy=2), NeuralGPRegressor(
            linear_penalty=penalty, random_state=seed)).fit(G[train], y[train])
        result[f"t_{name}"] = time.perf_counter() - start
        result[name] = r2(net.predict(G[~train]))
        if name == "auto":
            result["used"] = bool(np.isfinite(net[-1].linear_penalty_[0]))
    Z = G.astype(np.float64) - 1.0
    result["A"] = r2(GBLUPRegressor(kernel="additive").fit(Z[train], y[train]).predict(Z[~train]))
    return result


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--row", action="append", help="panel,n,p,arch,h2 (repeatable)")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--qtl", type=int, default=40, help="additive QTL of sparse traits")
    parser.add_argument("--pairs", type=int, default=20, help="pairs of sparse traits")
    parser.add_argument("--ratio", type=float, default=0.15,
                        help="V_AA / V_A of sparse traits on msprime panels")
    add_threads_option(parser)
    args = parser.parse_args()
    set_threads(args.threads)
    rows = ([(a, int(b), int(c), d, float(e)) for a, b, c, d, e in
             (r.split(",") for r in args.row)] if args.row else ROWS)
    print("| panel n p arch h2 | seed | ceil | auto | none | GBLUP A | used | "
          "auto - none | auto - A | t auto / none (s) |")
    for row in rows:
        results = []
        for seed in args.seeds:
            res = run(row, args, seed)
            results.append(res)
            print(f"| {' '.join(map(str, row))} | {seed} | {res['ceil']:.3f} | "
                  f"{res['auto']:.3f} | {res['none']:.3f} | {res['A']:.3f} | "
                  f"{'yes' if res['used'] else 'no'} | {res['auto'] - res['none']:+.3f} | "
                  f"{res['auto'] - res['A']:+.3f} | {res['t_auto']:.0f} / {res['t_none']:.0f} |",
                  flush=True)
        mean = {k: np.mean([r[k] for r in results]) for k in ("ceil", "auto", "none", "A")}
        print(f"| {' '.join(map(str, row))} | mean | {mean['ceil']:.3f} | {mean['auto']:.3f} | "
              f"{mean['none']:.3f} | {mean['A']:.3f} | "
              f"{sum(r['used'] for r in results)}/{len(results)} | "
              f"{mean['auto'] - mean['none']:+.3f} | {mean['auto'] - mean['A']:+.3f} | |",
              flush=True)


if __name__ == "__main__":
    main()
