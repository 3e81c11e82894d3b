"""The default decomposer's components on small msprime panels in linkage, one table.

Each row simulates ``simulate_genotypes(n, p, random_state=seed)`` (diploid msprime SNPs, in
linkage) and a trait of 10 QTL, with no pairs (``add``) or 5 pairs carrying 30 % of the genetic
variance (``epi``), h2 0.6; trains the default network behind ``GenotypeEncoder`` on all
samples and decomposes it with ``ELMDecomposer(net, prefit=True)`` (``components="auto"``).
At these sizes (``p (p + 3) / 2 <= n / 2``) the decomposer projects the trait on every locus
and pair; past ``n m^2 = 2e10`` it solves the projection by conjugate gradients unless they
fail, and only the direct solve measures how much noise linked terms take in.  Columns:

* ``components``: the components reported (``components_``: ``debiased``, or ``screened``
  where the projection's split was found unstable), and ``warned`` whether it said so;
* ``V_A V_AA h2``: the estimates, and ``err``: each minus the truth in the sample
  (:func:`~sklearn_elm.metrics.true_variance_components`, read only to score).

``python benchmarks/projection_linkage.py --seeds 1 2 3 --threads 2``
"""

import argparse
import time
import warnings

import numpy as np
import torch
from sklearn.pipeline import make_pipeline

from sklearn_elm import ELMDecomposer, GenotypeEncoder, NeuralGPRegressor
from sklearn_elm.datasets import simulate_genotypes, simulate_phenotypes
from sklearn_elm.metrics import true_variance_components

KEYS = ("additive", "epistatic", "h2")


def row(n, p, seed, kind):
    G = simulate_genotypes(n, p, random_state=seed).genotypes
    pairs = dict(n_pairs=5, epistatic_ratio=0.3) if kind == "epi" else dict(
        n_pairs=0, epistatic_ratio=0.0)
    trait = simulate_phenotypes(G, n_qtl=10, h2=0.6, random_state=seed, **pairs)
    y = trait.phenotypes.reshape(n, -1)
    start = time.perf_counter()
    net = make_pipeline(GenotypeEncoder(ploidy=2), NeuralGPRegressor(random_state=0)).fit(G, y)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        dec = ELMDecomposer(net, prefit=True).fit(G, y)
    warned = any("nearly linear in the loci" in str(w.message) for w in caught)
    truth = true_variance_components(net[0].transform(G), trait.additive_effects,
                                     trait.epistasis, y)
    got = {key: float(np.ravel(dec.variance_components_[key])[0]) for key in KEYS}
    err = {key: got[key] - float(np.ravel(truth[key])[0]) for key in KEYS}
    return dec.components_, warned, got, err, time.perf_counter() - start


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", nargs="+", default=["8000x60", "6800x80"], metavar="NxP",
                        help="samples x loci (default: 8000x60 6800x80)")
    parser.add_argument("--seeds", nargs="+", type=int, default=[1, 2, 3])
    parser.add_argument("--threads", type=int, default=None, help="torch and BLAS threads")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    print(f"{'n':>5} {'p':>3} {'seed':>4} {'trait':<5} {'components':<10} {'warned':<6} "
          f"{'V_A':>6} {'V_AA':>6} {'h2':>6}   {'err V_A':>7} {'V_AA':>6} {'h2':>6} {'s':>5}")
    errors = []
    for size in args.sizes:
        n, p = (int(v) for v in size.split("x"))
        for seed in args.seeds:
            for kind in ("add", "epi"):
                used, warned, got, err, seconds = row(n, p, seed, kind)
                errors.append([abs(err[k]) for k in KEYS])
                print(f"{n:>5} {p:>3} {seed:>4} {kind:<5} {used:<10} {str(warned):<6} "
                      + " ".join(f"{got[k]:6.3f}" for k in KEYS) + "   "
                      + " ".join(f"{err[k]:+7.3f}" if k == "additive" else f"{err[k]:+6.3f}"
                                 for k in KEYS) + f" {seconds:5.0f}", flush=True)
    print("max |err| V_A, V_AA, h2: " + ", ".join(f"{v:.3f}" for v in np.max(errors, axis=0)))


if __name__ == "__main__":
    main()
