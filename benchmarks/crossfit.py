"""Components past the loci budget: ``components="screened"`` against ``"crossfit"``.

With more loci than half the samples allow, the screened fit chooses the loci.  ``"screened"``
chooses them by the network's fit (all samples); ``"crossfit"`` lets each half of the samples
choose, by ``y`` alone, the terms whose variances the other half estimates.  Per panel
(``ind`` independent loci, ``msp`` msprime with linkage), trait (``sparse``: 20 QTL and 8
pairs among them, ``V_AA / V_A`` 1 on ``ind`` and 0.15 on ``msp``; ``dense``: every locus
additive) and shape ``n x p``, over ``--datasets`` data sets (h2 0.5, a network of 64 units
trained for 60 epochs, decomposed twice with ``y``): the mean error (bias) and root mean square
error of V_A, V_AA and V_G against the sample's own components, the share of 95 % intervals
covering them, and for sparse traits least squares on the true support (the oracle); with
``--reml``, also REML GBLUP A+AA (``GBLUPRegressor("additive+epistatic")``).

Usage::

    python benchmarks/crossfit.py --jobs 2 --reml
    python benchmarks/crossfit.py --datasets 4 --shapes 2000x1500

The truth is read only to score.
"""

import argparse
import warnings

import numpy as np
from _common import add_threads_option, set_threads
from joblib import Parallel, delayed
from sklearn.pipeline import make_pipeline

from sklearn_elm import ELMDecomposer, GBLUPRegressor, GenotypeEncoder, NeuralGPRegressor
from sklearn_elm.datasets import make_epistatic_phenotypes, simulate_genotypes, simulate_phenotypes
from sklearn_elm.metrics import true_variance_components

KEYS = ("additive", "epistatic", "genetic")
METHODS = ("screened", "crossfit", "reml", "oracle")


def simulate(panel, arch, n, p, seed):
    """A diploid panel and one trait on it."""
    qtl, pairs = (20, 8) if arch == "sparse" else (p, 0)
    ratio = (1.0 if panel == "ind" else 0.15) if arch == "sparse" else 0.0
    settings = dict(n_qtl=qtl, n_pairs=pairs, h2=0.5, epistatic_ratio=ratio, ploidy=2,
                    random_state=seed)
    if panel == "ind":
        return make_epistatic_phenotypes(n, p, **settings)
    G = simulate_genotypes(n, p, ploidy=2, random_state=seed).genotypes
    return simulate_phenotypes(G, **settings)


def oracle(Z, y, data):
    """Least squares of y on the true support, each variance less its sampling noise."""
    a, E = data.additive_effects[0], data.epistasis[0]
    Zc = Z - Z.mean(axis=0)
    loci = np.flatnonzero(a)
    i, j = np.nonzero(np.triu(E, 1))
    P = Zc[:, i] * Zc[:, j]
    X = np.hstack([Zc[:, loci], P - P.mean(axis=0)])
    n, s = len(y), loci.size
    G = X.T @ X
    G_inv = np.linalg.pinv(G)
    coef = G_inv @ X.T @ (y - y.mean())
    r = y - y.mean() - X @ coef
    df = float(np.sum(G * G_inv))
    sigma2 = r @ r / (n - 1 - df)
    out = {}
    for key, cols in (("additive", slice(0, s)), ("epistatic", slice(s, X.shape[1]))):
        value = X[:, cols] @ coef[cols]
        out[key] = value @ value / n - sigma2 * np.sum(G[cols, cols] * G_inv[cols, cols]) / n
    fitted = X @ coef
    out["genetic"] = fitted @ fitted / n - sigma2 * df / n
    return out


def one_dataset(panel, arch, n, p, seed, threads, reml=False):
    """Errors (and standard errors) of each method on one data set."""
    set_threads(threads)
    data = simulate(panel, arch, n, p, seed)
    G, y = data.genotypes, data.phenotypes[:, 0]
    Z = G.astype(np.float64) - 1.0
    truth = true_variance_components(Z, data.additive_effects[0], data.epistasis[0],
                                     phenotypes=y)
    net = make_pipeline(GenotypeEncoder(ploidy=2), NeuralGPRegressor(
        module__hidden_sizes=(64,), max_epochs=60, random_state=seed)).fit(G, y)
    out = {}
    for method in METHODS[:2]:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            dec = ELMDecomposer(net, prefit=True, components=method).fit(G, y)
        vc, se = dec.variance_components_, dec.variance_components_se_
        out[method] = [(vc[key] - truth[key], se[key]) for key in KEYS]
    if reml:
        model = GBLUPRegressor(kernel="additive+epistatic").fit(Z, y)
        vc, se = model.variance_components_, model.variance_components_se_
        out["reml"] = [(vc[key] - truth[key], se[key]) for key in KEYS]
    if arch == "sparse":
        estimate = oracle(Z, y, data)
        out["oracle"] = [(estimate[key] - truth[key], np.nan) for key in KEYS]
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--datasets", type=int, default=12)
    parser.add_argument("--panels", nargs="*", default=["ind", "msp"], choices=["ind", "msp"])
    parser.add_argument("--archs", nargs="*", default=["sparse", "dense"],
                        choices=["sparse", "dense"])
    parser.add_argument("--shapes", nargs="*", default=["2000x1500", "1500x4000"],
                        help="n x p of the panels")
    parser.add_argument("--jobs", type=int, default=1, help="data sets fitted in parallel")
    parser.add_argument("--reml", action="store_true",
                        help="also REML GBLUP A+AA (GBLUPRegressor) on every data set")
    add_threads_option(parser, default=1)
    args = parser.parse_args()
    print(f"{args.datasets} data sets per row; bias / rmse (cover) of V_A, V_AA, V_G")
    print("| panel | trait | n | p | method | V_A | V_AA | V_G |")
    for panel in args.panels:
        for arch in args.archs:
            for shape in args.shapes:
                n, p = (int(v) for v in shape.split("x"))
                results = Parallel(n_jobs=args.jobs)(
                    delayed(one_dataset)(panel, arch, n, p, seed, args.threads, args.reml)
                    for seed in range(args.datasets))
                for method in METHODS:
                    if method not in results[0]:
                        continue
                    cells = []
                    for c in range(len(KEYS)):
                        err = np.array([r[method][c][0] for r in results])
                        se = np.array([r[method][c][1] for r in results])
                        cover = (f" ({np.mean(np.abs(err) <= 1.96 * se):.2f})"
                                 if np.isfinite(se).all() else "")
                        cells.append(f"{err.mean():+.3f} / {np.sqrt(np.mean(err**2)):.3f}"
                                     f"{cover}")
                    print(f"| {panel} | {arch} | {n} | {p} | {method} | "
                          + " | ".join(cells) + " |", flush=True)


if __name__ == "__main__":
    main()
