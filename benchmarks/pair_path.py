"""What the network's pair path buys: test r2 with and without it, on sparse panels.

The default ``NeuralGPRegressor`` (``pair_path=64``: the scan's first pairs in a lasso-penalised
path beside the hidden units) against the same network built without the path
(``pair_path=0``, the pairs seeded in hidden units only), on the sparse rows of
``benchmarks/panels.py`` (40 QTL, 20 pairs among them, h2 0.6, 80 % of the samples train).
Columns: the test r2 of each, the ceiling (the true genetic value's test r2), the share of the
ceiling, the pairs the path keeps (non-zero weights) and how many of them are true, and the
training time.  Beside them, what the data allow: ``ref``, the reference lasso of
``panels.py`` (``LassoCV`` on every locus and the scan's first 20 pairs, no truth read),
``oracle``, least squares on the true support (the QTL and the true pairs, no selection cost),
``found``, least squares on the QTL and the true pairs that can be found: those whose
z-statistic in the oracle's fit passes Bonferroni's threshold at 5 % over the ``p (p - 1) / 2``
pairs, above which no scan can tell a pair from the largest of the null ones (their number in
brackets), and ``sel``, least squares on the findable pairs and on the QTL whose z-statistic
passes Bonferroni's threshold over the ``p`` loci: a hard selection at the data's resolution
(the numbers of QTL and pairs in brackets).

Usage::

    python benchmarks/pair_path.py --threads 2
    python benchmarks/pair_path.py --row independent,5000,1000

The truth is read only to score.
"""

import argparse
import time

import numpy as np
from _common import add_threads_option, set_threads
from panels import marginal_scan, reference_r2, simulate
from scipy import stats
from sklearn.linear_model import LinearRegression
from sklearn.pipeline import make_pipeline

from sklearn_elm import GenotypeEncoder, NeuralGPRegressor

ROWS = [("independent", 5000, 200), ("independent", 5000, 1000), ("msprime", 5000, 1000)]


def run_row(panel, n, p, args):
    data = simulate(panel, n, p, "sparse", 0.6, args, args.seed)
    G, y = data.genotypes, data.phenotypes[:, 0]
    train = np.random.default_rng(args.seed).random(n) < 0.8
    y_test, g_test = y[~train], data.genetic_values[~train, 0]

    def r2(pred):
        return 1 - np.mean((y_test - pred) ** 2) / np.var(y_test)

    ceiling = r2(g_test - g_test.mean() + y_test.mean())
    truth = np.triu(data.epistasis[0], 1) != 0
    Z = G.astype(np.float64) - 1.0
    Zc, Zt = Z[train] - Z[train].mean(axis=0), Z[~train] - Z[train].mean(axis=0)
    reference = reference_r2(Zc, y[train], Zt, marginal_scan(Zc, y[train]), r2)
    oracle = r2(oracle_fit(Zc, y[train], Zt, data)[0])
    found, n_found = oracle_fit(Zc, y[train], Zt, data, findable="pairs")
    selected, n_loci = oracle_fit(Zc, y[train], Zt, data, findable="both")
    cells = []
    for slots in (0, 32):
        start = time.perf_counter()
        net = make_pipeline(GenotypeEncoder(ploidy=2), NeuralGPRegressor(
            pair_path=slots, random_state=args.seed)).fit(G[train], y[train])
        seconds = time.perf_counter() - start
        module = net[-1].module_
        kept = true = 0
        if slots:
            weight = module.pairs.weight.detach().numpy()[0]
            index = np.sort(module.pair_index.numpy()[weight != 0], axis=1)
            kept, true = len(index), int(truth[index[:, 0], index[:, 1]].sum())
        score = r2(net.predict(G[~train]))
        cells.append(f"{score:.3f} ({score / ceiling:.2f}) {kept:2d}/{true:2d} {seconds:3.0f}s")
    print(f"| {panel} {n} {p} | {ceiling:.3f} | {reference:.3f} {oracle:.3f} "
          f"{r2(found):.3f} ({n_found[1]}) {r2(selected):.3f} ({n_loci[0]}, {n_loci[1]}) | "
          + " | ".join(cells) + " |", flush=True)


def oracle_fit(Zc, y, Zt, data, findable=None):
    """Test predictions of least squares on the true support (QTL and true pair products), and
    the numbers of QTL and pairs it holds; with ``findable="pairs"``, on the QTL and the true
    pairs whose z-statistic in that fit passes Bonferroni's threshold at 5 % over every pair;
    with ``"both"``, on those pairs and the QTL whose z-statistic passes it over every locus."""
    loci = np.flatnonzero(data.additive_effects[0])
    i, j = np.nonzero(np.triu(data.epistasis[0], 1))
    shift = (Zc[:, i] * Zc[:, j]).mean(axis=0)

    def design(M, qtl, pairs):
        return np.hstack([M[:, loci[qtl]], M[:, i[pairs]] * M[:, j[pairs]] - shift[pairs]])

    qtl, pairs = np.ones(loci.size, dtype=bool), np.ones(i.size, dtype=bool)
    if findable:
        D = np.column_stack([np.ones(len(y)), design(Zc, qtl, pairs)])
        coef, *_ = np.linalg.lstsq(D, y, rcond=None)
        sigma2 = np.sum((y - D @ coef) ** 2) / (len(y) - D.shape[1])
        z = np.abs(coef / np.sqrt(sigma2 * np.diag(np.linalg.pinv(D.T @ D))))[1:]
        p = Zc.shape[1]
        pairs = z[loci.size:] > stats.norm.isf(0.025 / (p * (p - 1) / 2))
        if findable == "both":
            qtl = z[:loci.size] > stats.norm.isf(0.025 / p)
    fit = LinearRegression().fit(design(Zc, qtl, pairs), y)
    return fit.predict(design(Zt, qtl, pairs)), (int(qtl.sum()), int(pairs.sum()))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--row", action="append", metavar="PANEL,N,P")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--qtl", type=int, default=40)
    parser.add_argument("--pairs", type=int, default=20)
    parser.add_argument("--ratio", type=float, default=0.15,
                        help="V_AA / V_A of msprime traits (as in panels.py)")
    add_threads_option(parser)
    args = parser.parse_args()
    set_threads(args.threads)
    rows = [(a, int(b), int(c)) for a, b, c in (r.split(",") for r in args.row)] if args.row \
        else ROWS
    print("| panel n p | ceiling | ref oracle found sel | no path: r2 (share) kept/true time | "
          "pair path: r2 (share) kept/true time |")
    for row in rows:
        run_row(*row, args)


if __name__ == "__main__":
    main()
