"""Variance components where allele frequencies are not 1/2: ELMDecomposer and GBLUP vs the truth.

The reference data have allele frequencies near 1/2, where the coding ``z = 2g - 1`` (or
``g - 1`` for diploid dosages) is centred and additive and pairwise parts are uncorrelated
whatever the decomposition.  Real panels have minor alleles: there the parts must be those
of the orthogonal decomposition (average effects on genotypes centred on the sample, products of
centred genotypes), or ``V_A + V_AA`` overshoots ``V_G`` and ``h2`` is wrong.  This script
simulates, with ``make_epistatic_phenotypes``, haploid and diploid panels of 6000 individuals
and 40 loci with allele frequencies drawn from U(0.05, 0.5), two traits each (all loci
causal, 20 interacting pairs, ``V_AA / V_A`` 0.25 or 0.5, ``h2 = V_G / V_P = 0.6``; at these
frequencies a pair's effect is mostly additive variance, and ratios of 1 and more are out of
the simulator's reach on half the draws), fits the
default ``GenotypeEncoder() + NeuralGPRegressor(random_state=0)`` and ``ELMDecomposer`` on the
first 85 % (``components`` and ``epistasis`` left at ``"auto"``), and the REML
``GBLUPRegressor("additive+epistatic")`` on the same samples, and prints each estimate of
``V_A``, ``V_AA``, ``V_G`` and ``h2 = V_A / V_P`` against the truth realised in those samples
(:func:`sklearn_elm.metrics.true_variance_components`, which reads the simulated effects; the
estimators never do).

    python benchmarks/allele_frequencies.py [--seeds 0 1] [--threads 1]
        [--epistasis regression --components network]

``--epistasis`` and ``--components`` set the decomposer's options instead of ``"auto"``:
``regression`` and ``network`` are what ``"auto"`` chooses where loci are too many for the
projection (``p (p + 3) / 2 > n / 2``), so these flags measure that path on data where the
truth is known.

About 2 minutes per seed on one thread.
"""

import argparse
import time

import numpy as np
from _common import add_threads_option, realised_truth, set_threads
from sklearn.pipeline import make_pipeline

from sklearn_elm import ELMDecomposer, GBLUPRegressor, GenotypeEncoder, NeuralGPRegressor
from sklearn_elm.datasets import make_epistatic_phenotypes

KEYS = ("additive", "epistatic", "genetic", "h2")


def run(seed, ploidy, ratio, options):
    rng = np.random.default_rng(seed)
    freq = rng.uniform(0.05, 0.5, size=40)
    # a draw of its own for every data set: effects and noise differ between rows
    draw = 1000 * seed + 10 * ploidy + int(4 * ratio)
    data = make_epistatic_phenotypes(6000, 40, n_traits=2, h2=0.6, epistatic_ratio=ratio,
                                     ploidy=ploidy, allele_frequencies=freq, random_state=draw)
    X, Y, train = data.genotypes, data.phenotypes, data.train
    truth = realised_truth(data, train, ploidy)
    start = time.perf_counter()
    net = make_pipeline(GenotypeEncoder(), NeuralGPRegressor(random_state=0))
    elm = ELMDecomposer(net, **options).fit(X[train], Y[train])
    t_elm = time.perf_counter() - start
    gblup = GBLUPRegressor("additive+epistatic").fit(X[train], Y[train])
    return truth, elm.variance_components_, gblup.variance_components_, t_elm, freq


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    add_threads_option(parser, default=1)
    parser.add_argument("--epistasis", default="auto",
                        choices=["auto", "projection", "regression"])
    parser.add_argument("--components", default="auto", choices=["auto", "debiased", "network"])
    args = parser.parse_args()
    set_threads(args.threads)
    options = {"epistasis": args.epistasis, "components": args.components}
    print(f"ELMDecomposer({', '.join(f'{k}={v!r}' for k, v in options.items())})")
    print("estimate/truth per trait; errors are estimate - truth")
    header = (f"{'data':<28s} {'method':<8s} | "
              + " | ".join(f"{key:>9s} est/true" for key in KEYS))
    print(header)
    print("-" * len(header))
    worst = {"ELM": np.zeros(len(KEYS)), "GBLUP": np.zeros(len(KEYS))}
    sums = {"ELM": np.zeros(4), "GBLUP": np.zeros(4)}
    for seed in args.seeds:
        for ploidy in (1, 2):
            for ratio in (0.25, 0.5):
                truth, elm, gblup, t_elm, freq = run(seed, ploidy, ratio, options)
                for t in range(2):
                    label = f"seed {seed} ploidy {ploidy} AA/A {ratio} T{t + 1}"
                    for method, vc in (("ELM", elm), ("GBLUP", gblup)):
                        cells = " | ".join(
                            f"{vc[key][t]:7.3f}/{truth[key][t]:5.3f}" for key in KEYS
                        )
                        print(f"{label:<28s} {method:<8s} | {cells}")
                        errors = np.array([abs(vc[key][t] - truth[key][t]) for key in KEYS])
                        worst[method] = np.maximum(worst[method], errors)
                        sums[method] += errors
                    check = (elm.additive[t] + elm.epistatic[t] + elm.higher[t]
                             - elm.genetic[t])
                    assert abs(check) < 1e-9, "V_A + V_AA + V_higher != V_G"
                print(f"{'':<28s} (ELM fit {t_elm:.0f} s; allele frequencies "
                      f"{freq.min():.2f}-{freq.max():.2f}, mean {freq.mean():.2f})")
    count = 8 * len(args.seeds)
    print()
    for method in ("ELM", "GBLUP"):
        cells = ", ".join(
            f"{key} {w:.3f} (mean {s / count:.3f})"
            for key, w, s in zip(KEYS, worst[method], sums[method], strict=True)
        )
        print(f"largest |error|, {method}: {cells}")


if __name__ == "__main__":
    main()
