"""Panels that look like real data: the default decomposer, GBLUP and the oracles, one table.

Each row simulates a panel, either msprime genotypes with linkage disequilibrium and a real
allele-frequency spectrum (``sklearn_elm.datasets.simulate_genotypes``, diploid) or independent
loci (``make_epistatic_phenotypes``), and a trait on it: ``sparse`` (``--qtl`` additive QTL and
``--pairs`` pairs among them) or ``dense`` (every locus additive).  80 % of the samples train, 20 %
test.  Per row:

* ``net r2`` / ``ceil``: the default network's test r2, and the ceiling (the true genetic
  value's test r2); for sparse traits, ``LS`` / ``found``: the test r2 of least squares of y
  on the true support (the QTL and the true pairs' products, fitted on the training samples)
  and on the QTL and the true pairs that can be found (as ``found`` below): what the data allow
  an estimate that knows its terms, or must find its pairs; ``sel``: least squares on those
  pairs and on the QTL whose z-statistic there passes Bonferroni's threshold over the ``p``
  loci, a hard selection at the data's resolution (what a selection that makes no false
  discovery and misses nothing the data resolve would predict);
* ``ref r2``: what a user could reach without the truth, for sparse traits: a lasso
  (``LassoCV``) on every locus and the top ``REF_PAIRS`` pair products of the exhaustive scan of
  y, all fitted on the training samples;
* ``A r2`` / ``AA r2``: ``GBLUPRegressor`` additive and additive+epistatic test r2;
* ``dV_A dV_AA dV_G``: errors of the default ``ELMDecomposer`` (prefit, with y: 'auto', or
  ``--components``)
  against the realised truth on the training samples, for the decomposer, for REML A+AA
  (its ``variance_components_``), for the oracle, least squares of y on the true support
  (the true QTL and pair products, noise-corrected), and for ``found``, the oracle on the QTL
  and the true pairs that can be found (their z-statistic in the oracle's fit past
  Bonferroni's threshold over every pair): what the data allow an estimate that must find
  its pairs;
* ``prec``: top-k pair precision (k = the true pairs) of the decomposer's epistasis matrix
  (the network's pair effects), of its pair tests (``pair_tests_``, by p-value: what its FDR
  list ranks by), of the exhaustive marginal scan of y on every centred product (what ``plink
  --epistasis`` does), and of the oracle (the true pairs' z-statistics in least squares on the
  true support, the true effects plus this sample's sampling error, ranked among as many null
  pairs as the panel has: the mean over 1,000 draws of the nulls' largest);
* ``add r``: correlation with the true average effects of the decomposer's additive effects,
  of ``ref``'s lasso (its loci's coefficients: what a sparse fit reaches without the truth),
  of least squares of y on every locus (where there are fewer loci than samples: what the data
  allow without the support; exact copies in linkage share an effect), of GBLUP A's
  marker effects, and, for sparse traits, of the oracle's (least squares on the true support,
  whose loci's coefficients are average effects, the products being centred) and of
  ``found``'s (the oracle's, 0 for a QTL whose z does not pass Bonferroni's threshold over
  the ``p`` loci): what the data allow an estimate that knows, or must find, its loci; and
  ``blind``'s, least squares on the true pairs and the QTL with every locus in complete
  linkage with one (``r^2 >= 0.999`` in the training samples; the minimum-norm solution,
  which shares an effect evenly between exact copies): an estimate that knows the support
  only up to the copies that no data set tells apart;
* time (s) and peak resident memory (GB) per step: train, decompose, GBLUP A, GBLUP A+AA.

``--n-estimators k`` puts in place of the default network the average of ``k`` of them
(``ELMDecomposer(n_estimators=k)``: members with derived seeds, trained and averaged into one
network, which is decomposed and predicts); its training and decomposition are one step.

Usage::

    python benchmarks/panels.py                       # the rows of ROWS
    python benchmarks/panels.py --rows 0 3 --threads 2
    python benchmarks/panels.py --row msprime,5000,1000,sparse,0.6
    python benchmarks/panels.py --row msprime,5000,1000,sparse,0.6 --seeds 4   # and the mean
    python benchmarks/panels.py --row msprime,5000,1000,sparse,0.6 --n-estimators 3

The truth is read only to score.
"""

import argparse
import sys
import threading
import time

import numpy as np
from _common import add_threads_option, fit_lasso, set_threads
from scipy import linalg, stats
from sklearn.pipeline import make_pipeline
from sklearn.utils import Bunch

from sklearn_elm import ELMDecomposer, GBLUPRegressor, GenotypeEncoder, NeuralGPRegressor
from sklearn_elm.datasets import make_epistatic_phenotypes, simulate_genotypes, simulate_phenotypes
from sklearn_elm.metrics import true_average_effects, true_variance_components

#: (panel, n, p, architecture, h2): the issue's grid, smallest first.
ROWS = [
    (panel, n, p, arch, h2)
    for n, p in [(5000, 200), (5000, 1000), (5000, 5000), (2000, 12000), (20000, 12000)]
    for panel in ("msprime", "independent")
    for arch in ("sparse", "dense")
    for h2 in (0.6, 0.3)
]
KEYS = ("additive", "epistatic", "genetic")

#: Pairs of the exhaustive scan the reference lasso adds to the loci.
REF_PAIRS = 20

#: Loci correlated at ``r^2`` at least this in the training samples are copies that no data set
#: tells apart (``copy_blind_effects``).
COPY_R2 = 0.999


class PeakMemory:
    """Peak resident memory of this process while the block runs (sampled every 20 ms)."""

    def __enter__(self):
        self.peak, self._stop = 0, threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def _sample(self):
        while not self._stop.is_set():
            with open("/proc/self/statm") as f:
                rss = int(f.read().split()[1]) * 4096
            self.peak = max(self.peak, rss)
            self._stop.wait(0.02)

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()


def step(costs, name, fn):
    """``fn()``, its wall time and peak memory recorded in ``costs[name]``."""
    with PeakMemory() as memory:
        start = time.perf_counter()
        result = fn()
    costs[name] = (time.perf_counter() - start, memory.peak / 2**30)
    return result


def simulate(panel, n, p, arch, h2, args, seed):
    """Genotypes (0..ploidy), phenotypes, truth and the coding ``z = 2 g / ploidy - 1``."""
    qtl, pairs = (args.qtl, args.pairs) if arch == "sparse" else (p, 0)
    ratio = (args.ratio if panel == "msprime" else 1.0) if arch == "sparse" else 0.0
    if panel == "msprime":
        G = simulate_genotypes(n, p, ploidy=2, random_state=seed).genotypes
        data = simulate_phenotypes(G, n_qtl=qtl, n_pairs=pairs, h2=h2, epistatic_ratio=ratio,
                                   random_state=seed)
    else:
        data = make_epistatic_phenotypes(n, p, n_qtl=qtl, n_pairs=pairs, h2=h2,
                                         epistatic_ratio=ratio, ploidy=2, random_state=seed)
    data.ratio = ratio
    return data


def oracle_components(Zc, y, data):
    """Least squares of y on the true support, each variance less its sampling noise, and
    its additive effects (in ``"effects"``: the loci's coefficients, 0 off the support, and
    0 for a QTL whose z does not pass Bonferroni's threshold at 5 % over the ``p`` loci in
    ``"found_effects"``)."""
    a, E = data.additive_effects[0], data.epistasis[0]
    loci = np.flatnonzero(a)
    i, j = np.nonzero(np.triu(E, 1))
    P = Zc[:, i] * Zc[:, j]
    X = np.hstack([Zc[:, loci], P - P.mean(0)])
    n, m = X.shape
    # the pseudo-inverse, as true QTL may be in complete linkage; df counts independent terms
    G = X.T @ X
    G_inv = linalg.pinvh(G)
    coef = G_inv @ X.T @ (y - y.mean())
    left = y - y.mean() - X @ coef
    df = float(np.sum(G * G_inv))
    sigma2 = left @ left / (n - 1 - df)
    s, out = loci.size, {}
    for key, cols in (("additive", slice(0, s)), ("epistatic", slice(s, m))):
        value = X[:, cols] @ coef[cols]
        out[key] = value @ value / n - sigma2 * np.sum(G[cols, cols] * G_inv[cols, cols]) / n
    fitted = X @ coef
    out["genetic"] = fitted @ fitted / n - sigma2 * df / n
    out["effects"] = np.zeros(Zc.shape[1])
    out["effects"][loci] = coef[:s]
    z = np.abs(coef[:s]) / np.sqrt(np.maximum(sigma2 * np.diag(G_inv)[:s], 1e-300))
    out["found_effects"] = np.where(np.isin(np.arange(Zc.shape[1]), loci[z <= stats.norm.isf(
        0.025 / Zc.shape[1])]), 0.0, out["effects"])
    return out


def copy_blind_effects(Zc, y, data, r2=COPY_R2):
    """The additive effects of least squares of y on the true pairs' products and on the QTL
    and every locus in complete linkage with one (``r^2 >= r2`` in these samples), the
    minimum-norm solution, which shares an effect evenly between exact copies: the oracle that
    knows the support up to the copies no data set can tell apart."""
    a, E = data.additive_effects[0], data.epistasis[0]
    qtl = np.flatnonzero(a)
    norms = np.sqrt(np.einsum("ij,ij->j", Zc, Zc))
    norms[norms == 0] = np.inf  # a monomorphic locus copies nothing
    R = (Zc[:, qtl].T @ Zc) / norms[qtl, None] / norms  # the QTL's rows of the correlations
    loci = np.flatnonzero(np.any(R**2 >= r2, axis=0) | (a != 0))
    i, j = np.nonzero(np.triu(E, 1))
    P = Zc[:, i] * Zc[:, j]
    X = np.hstack([Zc[:, loci], P - P.mean(0)])
    coef = linalg.pinvh(X.T @ X) @ (X.T @ (y - y.mean()))
    out = np.zeros(Zc.shape[1])
    out[loci] = coef[: loci.size]
    return out


def support_prediction(Zc, y, Zc_test, data):
    """Predictions of least squares of y on the true support of ``data`` (its QTL and its
    pairs' products, centred by their training means; the minimum-norm solution, as QTL may be
    in complete linkage) for the samples ``Zc_test``, centred by the training means."""
    loci = np.flatnonzero(data.additive_effects[0])
    i, j = np.nonzero(np.triu(data.epistasis[0], 1))
    P = Zc[:, i] * Zc[:, j]
    mean = P.mean(axis=0)
    X = np.hstack([Zc[:, loci], P - mean])
    coef = linalg.pinvh(X.T @ X) @ (X.T @ (y - y.mean()))
    return y.mean() + np.hstack([Zc_test[:, loci], Zc_test[:, i] * Zc_test[:, j] - mean]) @ coef


def findable(Zc, y, data, loci_too=False):
    """``data`` with only the true pairs that can be found: those whose z-statistic in least
    squares on the true support passes Bonferroni's threshold at 5 % over the ``p (p - 1) / 2``
    pairs, above which no scan tells a pair from the largest of the null ones; with
    ``loci_too``, only the QTL whose z-statistic there passes it over the ``p`` loci as well
    (a hard selection at the data's resolution)."""
    loci = np.flatnonzero(data.additive_effects[0])
    i, j = np.nonzero(np.triu(data.epistasis[0], 1))
    P = Zc[:, i] * Zc[:, j]
    X = np.column_stack([np.ones(len(y)), Zc[:, loci], P - P.mean(0)])
    coef, *_ = np.linalg.lstsq(X, y, rcond=None)
    sigma2 = np.sum((y - X @ coef) ** 2) / (len(y) - X.shape[1])
    z = np.abs(coef / np.sqrt(sigma2 * np.diag(linalg.pinvh(X.T @ X))))[1:]
    p = Zc.shape[1]
    lost = z[loci.size:] <= stats.norm.isf(0.025 / (p * (p - 1) / 2))
    E = data.epistasis.copy()
    E[0][i[lost], j[lost]] = E[0][j[lost], i[lost]] = 0.0
    a = data.additive_effects.copy()
    if loci_too:
        a[0][loci[z[:loci.size] <= stats.norm.isf(0.025 / p)]] = 0.0
    return Bunch(additive_effects=a, epistasis=E)


def oracle_precision(Zc, y, data, rng, draws=1000):
    """Top-k precision of the true pairs' z-statistics in least squares on the true support
    (the true effects plus this sample's sampling error), ranked by |z| among as many null
    pairs as the panel has: their top k drawn as order statistics, the mean over ``draws``."""
    loci = np.flatnonzero(data.additive_effects[0])
    i, j = np.nonzero(np.triu(data.epistasis[0], 1))
    k, p = i.size, Zc.shape[1]
    if k == 0:
        return np.nan
    P = Zc[:, i] * Zc[:, j]
    X = np.column_stack([np.ones(len(y)), Zc[:, loci], P - P.mean(0)])
    coef, *_ = np.linalg.lstsq(X, y, rcond=None)
    sigma2 = np.sum((y - X @ coef) ** 2) / (len(y) - X.shape[1])
    z_true = np.abs(coef / np.sqrt(sigma2 * np.diag(linalg.pinvh(X.T @ X))))[1 + loci.size:]
    nulls = p * (p - 1) // 2 - k
    gamma = np.cumsum(rng.standard_exponential((draws, k)), axis=1)  # the k largest |N(0, 1)|
    z_null = stats.norm.isf(gamma / (2 * nulls))
    # a true pair is in the top k where the nulls and the true pairs above it are fewer than k
    above = np.sum(z_true[None, :, None] < z_null[:, None, :], axis=2)  # nulls above each
    rank = above + np.sum(z_true[None, :] > z_true[:, None], axis=1)[None, :]
    return float(np.mean(np.sum(rank < k, axis=1) / k))


def tests_precision(tests, data):
    """Top-k precision of the decomposer's pair tests (self terms left out), by p-value."""
    truth = np.triu(data.epistasis[0], 1) != 0
    k = int(truth.sum())
    if k == 0 or tests is None:
        return np.nan
    pairs = tests.pairs[tests.pairs[:, 0] != tests.pairs[:, 1]][:k]
    return float(np.sum(truth[pairs[:, 0], pairs[:, 1]]) / k)


def precision(E, data):
    """Top-k precision of a symmetric pair matrix against the true pairs."""
    truth = np.triu(data.epistasis[0], 1) != 0
    k = int(truth.sum())
    if k == 0:
        return np.nan
    top = np.argpartition(-np.abs(np.triu(np.nan_to_num(E), 1)).ravel(), k)[:k]
    return float(truth.ravel()[top].mean())


def marginal_scan(Zc, y, block=1024):
    """|corr(y, zc_i zc_j)| of every pair i < j, blockwise, as a dense upper triangle."""
    n, p = Zc.shape
    yc = (y - y.mean()) / y.std()
    scaled = Zc * yc[:, None]
    S = np.zeros((p, p))
    for j0 in range(0, p, block):
        j1 = min(j0 + block, p)
        cov = scaled.T @ Zc[:, j0:j1] / n
        sd_prod = np.sqrt(np.maximum((Zc**2).T @ (Zc[:, j0:j1] ** 2) / n
                                     - (Zc.T @ Zc[:, j0:j1] / n) ** 2, 1e-12))
        S[:, j0:j1] = np.abs(cov) / sd_prod
    return np.triu(S, 1)


def reference_fit(Zc, y, Zc_test, scan, r2):
    """Test r2 of a lasso on every locus and the top :data:`REF_PAIRS` pairs of ``scan``
    (``Zc_test`` centred by the training means), and the lasso's coefficients of the loci."""
    i, j = np.unravel_index(np.argsort(-scan.ravel())[:REF_PAIRS], scan.shape)
    products = Zc[:, i] * Zc[:, j]
    shift = products.mean(axis=0)
    lasso = fit_lasso(np.hstack([Zc, products - shift]), y)
    return (r2(lasso.predict(np.hstack([Zc_test, Zc_test[:, i] * Zc_test[:, j] - shift]))),
            lasso.coef_[: Zc.shape[1]])


def reference_r2(Zc, y, Zc_test, scan, r2):
    """The test r2 of :func:`reference_fit`."""
    return reference_fit(Zc, y, Zc_test, scan, r2)[0]


def least_squares_r(Zc, y, alpha):
    """Correlation with the true average effects of least squares of y on every locus (the
    minimum-norm solution, which splits an effect evenly between exact copies), what the data
    allow without the support; NaN with more loci than samples."""
    n, p = Zc.shape
    if p >= n - 1:
        return np.nan
    try:
        coef = linalg.lstsq(Zc, y - y.mean(), lapack_driver="gelsd")[0]
    except linalg.LinAlgError:  # divide and conquer failed to converge (rare): plain SVD
        print("note: gelsd did not converge; least squares by gelss (the same minimum-norm "
              "solution)", file=sys.stderr, flush=True)
        coef = linalg.lstsq(Zc, y - y.mean(), lapack_driver="gelss")[0]
    return float(np.corrcoef(coef, alpha)[0, 1])


def run_row(row, args, seed):
    panel, n, p, arch, h2 = row
    rng = np.random.default_rng(seed)
    data = simulate(panel, n, p, arch, h2, args, seed)
    G, Y = data.genotypes, data.phenotypes
    train = rng.random(n) < 0.8
    costs = {}
    net = make_pipeline(GenotypeEncoder(ploidy=2), NeuralGPRegressor(random_state=seed))
    if args.n_estimators == 1:
        step(costs, "train", lambda: net.fit(G[train], Y[train, 0]))
        dec = step(costs, "decompose", lambda: ELMDecomposer(
            net, prefit=True, components=args.components).fit(G[train], Y[train, 0]))
    else:  # the members trained and averaged into one network, then decomposed
        dec = step(costs, "train+decompose", lambda: ELMDecomposer(
            net, n_estimators=args.n_estimators, components=args.components).fit(
                G[train], Y[train, 0]))
        net = dec.estimator_
    Z = G.astype(np.float64) - 1.0
    gblup_a = step(costs, "GBLUP A",
                   lambda: GBLUPRegressor(kernel="additive").fit(Z[train], Y[train, 0]))
    gblup_aa = step(costs, "GBLUP A+AA", lambda: GBLUPRegressor(
        kernel="additive+epistatic").fit(Z[train], Y[train, 0]))
    y, y_test = Y[train, 0], Y[~train, 0]

    def r2(pred):
        return 1 - np.mean((y_test - pred) ** 2) / np.var(y_test)

    g_test = data.genetic_values[~train, 0]
    ceiling = 1 - np.mean((y_test - y_test.mean() - (g_test - g_test.mean())) ** 2) / np.var(y_test)
    truth = true_variance_components(Z[train], data.additive_effects, data.epistasis, Y[train])
    Zc = Z[train] - Z[train].mean(axis=0)
    reachable = findable(Zc, y, data) if arch == "sparse" else None
    oracle = oracle_components(Zc, y, data) if arch == "sparse" else None
    found = oracle_components(Zc, y, reachable) if arch == "sparse" else None
    Zc_test = Z[~train] - Z[train].mean(axis=0)
    resolved = findable(Zc, y, data, loci_too=True) if arch == "sparse" else None
    support_r2 = ([r2(support_prediction(Zc, y, Zc_test, d))
                   for d in (data, reachable, resolved)]
                  if arch == "sparse" else [np.nan] * 3)
    reml = gblup_aa.variance_components_
    vc = dec.variance_components_
    errors = {
        "ELM": [vc[key] - truth[key][0] for key in KEYS],
        "REML": [reml[key] - truth[key][0] for key in KEYS],
        "oracle": [oracle[key] - truth[key][0] for key in KEYS] if oracle else [np.nan] * 3,
        "found": [found[key] - truth[key][0] for key in KEYS] if found else [np.nan] * 3,
    }
    scan = step(costs, "scan", lambda: marginal_scan(Zc, y)) if arch == "sparse" else None
    reference, reference_effects = (
        reference_fit(Zc, y, Zc_test, scan, r2)
        if scan is not None else (np.nan, None))
    alpha = true_average_effects(Z[train], data.additive_effects, data.epistasis)[0]
    oracle_prec = oracle_precision(Zc, y, data, rng) if arch == "sparse" else np.nan
    return {
        "row": f"{panel} {n} {p} {arch} {h2}",
        "ratio": data.ratio,
        "r2": [r2(net.predict(G[~train])), ceiling, *support_r2, reference,
               r2(gblup_a.predict(Z[~train])), r2(gblup_aa.predict(Z[~train]))],
        "errors": errors,
        "precision": [precision(dec.epistasis_matrix_, data), tests_precision(
                          dec.pair_tests_, data) if arch == "sparse" else np.nan,
                      precision(scan, data) if scan is not None else np.nan,
                      oracle_prec],
        "add_r": [float(np.corrcoef(dec.additive_effects_, alpha)[0, 1]),
                  float(np.corrcoef(reference_effects, alpha)[0, 1])
                  if reference_effects is not None else np.nan,
                  least_squares_r(Zc, y, alpha),
                  float(np.corrcoef(np.ravel(gblup_a.coef_), alpha)[0, 1])]
                 + [float(np.corrcoef(oracle[key], alpha)[0, 1]) if oracle else np.nan
                    for key in ("effects", "found_effects")]
                 + [float(np.corrcoef(copy_blind_effects(Zc, y, data), alpha)[0, 1])
                    if oracle else np.nan],
        "estimators": f"{dec.epistasis_}/{dec.components_}"
                      + (f", x{args.n_estimators}" if args.n_estimators > 1 else ""),
        "costs": costs,
    }


def mean_row(results):
    """The mean of the figures of ``results``, a row of data sets of one panel; of the
    components' errors, the mean of their absolute values."""
    first = results[0]
    mean = lambda key: list(np.mean([r[key] for r in results], axis=0))  # noqa: E731
    return {**first, "row": f"{first['row']} (mean of {len(results)}; |dV|)", "r2": mean("r2"),
            "errors": {m: list(np.mean([np.abs(r["errors"][m]) for r in results], axis=0))
                       for m in first["errors"]},
            "precision": mean("precision"), "add_r": mean("add_r"),
            "costs": {name: tuple(np.mean([r["costs"][name] for r in results], axis=0))
                      for name in first["costs"]}}


def print_row(result):
    r2 = " ".join(f"{v:5.3f}" for v in result["r2"])
    err = " | ".join(" ".join(f"{v:+.3f}" for v in result["errors"][m])
                     for m in ("ELM", "REML", "oracle", "found"))
    prec = " ".join(f"{v:4.2f}" for v in result["precision"])
    costs = " ".join(f"{name} {t:.0f}s/{mem:.1f}GB" for name, (t, mem) in result["costs"].items())
    add_r = " ".join(f"{v:5.3f}" for v in result["add_r"])
    print(f"| {result['row']} | {result['estimators']} | {r2} | {err} | {prec} | "
          f"{add_r} | {costs} |", flush=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, nargs="*", help="indices into ROWS (default all)")
    parser.add_argument("--row", action="append", metavar="PANEL,N,P,ARCH,H2",
                        help="a row of your own, e.g. msprime,5000,1000,sparse,0.6")
    parser.add_argument("--qtl", type=int, default=40, help="additive QTL of sparse traits")
    parser.add_argument("--pairs", type=int, default=20, help="pairs of sparse traits")
    parser.add_argument("--ratio", type=float, default=0.15,
                        help="V_AA / V_A of sparse msprime traits (1.0 on independent loci; "
                        "rare alleles put most of a pair's variance in V_A)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--seeds", type=int, default=1,
                        help="data sets per row (seeds --seed, --seed + 1, ...): a row each, "
                        "then their mean (of the components' absolute errors)")
    parser.add_argument("--n-estimators", type=int, default=1,
                        help="networks averaged into the one decomposed "
                        "(ELMDecomposer's n_estimators; 1: the default network, prefit)")
    parser.add_argument("--components", default="auto",
                        help="ELMDecomposer's components (e.g. crossfit)")
    add_threads_option(parser)
    args = parser.parse_args()
    set_threads(args.threads)
    rows = [ROWS[i] for i in args.rows] if args.rows else ([] if args.row else ROWS)
    for text in args.row or []:
        panel, n, p, arch, h2 = text.split(",")
        rows.append((panel, int(n), int(p), arch, float(h2)))
    print("| panel n p arch h2 | estimators | net r2, ceil, LS, found, sel, ref, A r2, AA r2 | "
          "dV_A dV_AA dV_G: ELM | REML A+AA | oracle | found | prec: ELM tests scan oracle | "
          "add r: ELM ref LS A oracle found blind | "
          "time / peak memory |")
    for row in rows:
        results = []
        for seed in range(args.seed, args.seed + args.seeds):
            results.append(run_row(row, args, seed))
            print_row(results[-1])
        if len(results) > 1:
            print_row(mean_row(results))


if __name__ == "__main__":
    main()
