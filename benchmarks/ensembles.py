"""What an ensemble of networks buys: ``ELMDecomposer(n_estimators=k)`` against one network.

On the bundled data with added noise (``load_qhaplo(h2=...)``, five traits), 80 % of the
samples train and 20 % test.  Per ``k`` (members trained with seeds derived from one root and
averaged into one network), averaged over the five traits (the pair columns over the
traits that have pairs):

* ``test r2``: the averaged network's;
* ``add r`` and ``pair r``: correlation of the network's additive effects
  (``additive_effects_``) and pairs (``epistasis_matrix_``) with the truth, and ``prec``: the
  top-k precision of its pairs (k = the true pairs);
* ``|dV_A| |dV_AA|``: mean absolute error of the trait's components against the realised
  truth, and ``SE V_A``: their mean reported standard error;
* ``member sd``: mean over loci of the spread of the members' own additive effects
  (``additive_effects_std_``), and ``FDR list``: pairs in the FDR-5 % lists, and the share of
  them that are true;
* ``time``: training and decomposition, in seconds.

Usage::

    python benchmarks/ensembles.py --k 1 5 --threads 2

The truth is read only to score.
"""

import argparse
import time

import numpy as np
from _common import add_threads_option, set_threads
from sklearn.pipeline import make_pipeline

from sklearn_elm import ELMDecomposer, GenotypeEncoder, NeuralGPRegressor
from sklearn_elm.datasets import load_qhaplo
from sklearn_elm.metrics import effect_recovery, pair_recovery, true_variance_components


def run(k, data, train, args):
    G, Y = data.genotypes, data.phenotypes
    net = make_pipeline(GenotypeEncoder(), NeuralGPRegressor(random_state=args.seed))
    start = time.perf_counter()
    dec = ELMDecomposer(net, n_estimators=k, n_jobs=args.jobs).fit(G[train], Y[train])
    seconds = time.perf_counter() - start
    Z = dec.estimator_[0].transform(G[train])
    truth = true_variance_components(Z, data.additive_effects, data.epistasis, Y[train])
    test = np.mean([1 - np.mean((Y[~train, t] - dec.predict(G[~train])[:, t]) ** 2)
                    / np.var(Y[~train, t]) for t in range(Y.shape[1])])
    add_r = np.mean([effect_recovery(dec.additive_effects_[t], data.additive_effects[t]).r
                     for t in range(Y.shape[1])])
    pairs = [pair_recovery(dec.epistasis_matrix_[t], data.epistasis[t])
             for t in range(Y.shape[1])]
    vc, se = dec.variance_components_, dec.variance_components_se_
    table = dec.significant_pairs(0.05, as_frame=False)
    true = [data.epistasis[o][i, j] != 0
            for o, i, j in zip(table["output"], table["i"], table["j"], strict=True)]
    spread = (np.mean(dec.additive_effects_std_) if k > 1 else np.nan)
    print(f"| {k} | {test:.3f} | {add_r:.3f} | {np.nanmean([p.r for p in pairs]):.3f} | "
          f"{np.nanmean([p.precision for p in pairs]):.2f} | "
          f"{np.mean(np.abs(vc.additive - truth.additive)):.3f} | "
          f"{np.mean(np.abs(vc.epistatic - truth.epistatic)):.3f} | "
          f"{np.mean(se.additive):.3f} | {spread:.4f} | {len(true)} ({np.mean(true):.2f}) | "
          f"{seconds:.0f} |", flush=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--k", type=int, nargs="*", default=[1, 5])
    parser.add_argument("--h2", type=float, default=0.25)
    parser.add_argument("--jobs", type=int, default=None, help="members in parallel")
    parser.add_argument("--seed", type=int, default=0)
    add_threads_option(parser)
    args = parser.parse_args()
    set_threads(args.threads)
    data = load_qhaplo(h2=args.h2, random_state=args.seed)
    train = np.random.default_rng(args.seed).random(len(data.genotypes)) < 0.8
    print(f"load_qhaplo(h2={args.h2}), {train.sum()} training samples, 5 traits")
    print("| k | test r2 | add r | pair r | prec | abs dV_A | abs dV_AA | SE V_A | member sd | "
          "FDR list (true) | time s |")
    for k in args.k:
        run(k, data, train, args)


if __name__ == "__main__":
    main()
