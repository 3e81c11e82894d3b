"""Where the regularisation path should start, measured on simulated data of several sizes.

``NeuralGPRegressor(path_penalty="auto")`` starts its regularisation path at
``sqrt(log(p) / (2 n))``, half of ``sqrt(2 log(p) / n)``: the order of the largest correlation
one of ``p`` loci has with a standardised target by chance, for ``n`` training samples (after
the 10 % validation split).  This script fits the default network with the path starting at that
chance scale times 1/sqrt(2), 1/2 ("auto") and 1/(2 sqrt(2)) on ``make_epistatic_phenotypes``
data of 16 kinds (2000 or 6000 samples, 100 or 300 loci, h2 0.3 or 0.7, V_AA / V_A 0.5 or 2;
2 traits, p/4 additive loci and p/8 interacting pairs each), trains on the first 80 % and
prints the test r2 (averaged over the two traits) of each start, then the mean over all data
sets and how often each start was best.  The simulated truth is not read: the score is the r2
against the test phenotypes.  The reference data are measured by ``prediction.py`` (its
``--set path_penalty=...`` option).

    python benchmarks/path_start.py [--seeds 0 1] [--jobs 2] [--set KEY=VALUE]

``--set`` passes other NeuralGPRegressor settings, e.g. ``callbacks__pair_seeding__n_pairs=0``
to train without pair seeding.

Each fit runs on one thread; ``--jobs`` fits run at a time (about 15 minutes on two cores).
"""

import argparse
import itertools
import time

import numpy as np
import torch
from _common import add_settings_option, encode, parse_settings
from joblib import Parallel, delayed
from sklearn.metrics import r2_score

from sklearn_elm import NeuralGPRegressor
from sklearn_elm.datasets import make_epistatic_phenotypes

#: Path starts, as multiples of the chance scale sqrt(2 log(p) / n); None is "auto" (1/2).
STARTS = {"c/sqrt2": 0.5**0.5, "auto=c/2": None, "c/(2sqrt2)": 0.5**1.5}
SIZES = list(itertools.product((2000, 6000), (100, 300), (0.3, 0.7), (0.5, 2.0)))


def fit_one(n_samples, n_loci, h2, ratio, seed, multiple, settings):
    """Test r2 (mean over traits) of the default network whose path starts at ``multiple``."""
    torch.set_num_threads(1)
    data = make_epistatic_phenotypes(n_samples, n_loci, n_traits=2, n_qtl=n_loci // 4,
                                     n_pairs=n_loci // 8, h2=h2, epistatic_ratio=ratio,
                                     random_state=seed)
    X, Y = encode(data.genotypes), data.phenotypes
    n_train = int(0.8 * n_samples)
    if multiple is None:
        penalty = "auto"
    else:
        n_fit = n_train - int(np.ceil(0.1 * n_train))  # the network's share after validation
        penalty = multiple * np.sqrt(2 * np.log(n_loci) / n_fit)
    start = time.perf_counter()
    model = NeuralGPRegressor(path_penalty=penalty, random_state=seed, **settings).fit(
        X[:n_train], Y[:n_train])
    pred = model.predict(X[n_train:])
    r2 = np.mean([r2_score(Y[n_train:, k], pred[:, k]) for k in range(Y.shape[1])])
    return r2, time.perf_counter() - start


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1],
                        help="simulation (and network) seeds")
    parser.add_argument("--jobs", type=int, default=2, help="fits run at a time")
    add_settings_option(parser, "for every fit")
    args = parser.parse_args()
    settings = parse_settings(args.set)
    if settings:
        print(f"NeuralGPRegressor settings: {settings}")

    cases = [(*size, seed) for size in SIZES for seed in args.seeds]
    tasks = [(*case, multiple) for case in cases for multiple in STARTS.values()]
    results = Parallel(n_jobs=args.jobs)(delayed(fit_one)(*task, settings) for task in tasks)
    r2 = np.array([r for r, _ in results]).reshape(len(cases), len(STARTS))
    seconds = np.array([s for _, s in results]).reshape(len(cases), len(STARTS))

    print("test r2 (mean of 2 traits) by path start; c = sqrt(2 log(p) / n)")
    print(f"{'n':>5} {'p':>4} {'h2':>4} {'AA/A':>4} {'seed':>4} "
          + " ".join(f"{name:>10}" for name in STARTS) + "  best")
    names = list(STARTS)
    for case, row in zip(cases, r2, strict=True):
        n, p, h2, ratio, seed = case
        print(f"{n:>5} {p:>4} {h2:>4} {ratio:>4} {seed:>4} "
              + " ".join(f"{v:>10.4f}" for v in row) + f"  {names[int(row.argmax())]}")
    wins = np.bincount(r2.argmax(axis=1), minlength=len(STARTS))
    print(f"{'mean':>26} " + " ".join(f"{v:>10.4f}" for v in r2.mean(axis=0)))
    print(f"{'times best':>26} " + " ".join(f"{v:>10d}" for v in wins))
    print(f"{'mean fit s':>26} " + " ".join(f"{v:>10.1f}" for v in seconds.mean(axis=0)))


if __name__ == "__main__":
    main()
