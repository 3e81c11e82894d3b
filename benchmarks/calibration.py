"""Calibration of the decomposer's standard errors, pair p-values and FDR lists, over data sets.

Each scenario simulates ``--datasets`` data sets (independent draws of genotypes, effects and
noise), fits the default ``ELMDecomposer`` (a ``GenotypeEncoder`` + ``NeuralGPRegressor``
pipeline, with ``y``) on each, and prints one row:

* ``KS pair`` (purely additive scenarios): Kolmogorov-Smirnov p-value of the uniformity of
  one pair's p-value per data set (a pair drawn at random, so that the draws are
  independent), and ``KS QTLxLD``: the same for a phantom pair, a QTL with a locus in
  linkage with it (where the panel has linkage);
* ``empty``: share of data sets whose FDR-5 % pair list is empty (null scenarios);
* ``FDP`` / ``power``: mean realised false discovery proportion of the FDR-5 % list, and the
  share of the true pairs it finds; ``FDP se``: the standard error of that mean over the data
  sets; ``oracle`` / ``oracle FDP``: the power and the FDP of the same Benjamini-Hochberg
  procedure on the oracle's p-values (least squares on the true support: each true pair's
  Wald test there, every other pair's score test against it); ``basis`` / ``basis FDP``: the
  same for the Wald tests of least squares on the generating basis (every locus and every
  pair, where it fits: the issue's oracle, which knows the model but not its support; of
  copies in complete linkage it tests one, not necessarily the true one).  The
  ``LD`` columns count a listed pair as true where each of its loci is a true pair's locus or
  its copy in linkage (``r^2 >= 0.8``), which the data cannot tell apart: on msprime panels
  most loci have one;
* ``pick FDP``: the FDP of the same listed pairs had each copy of a true pair (centred products
  correlated at ``|r| >= 0.9``, what the library reports as the same pair) been the true pair
  or one of its copies as least squares on the rest of the true support picks them (the best
  fit; ties split evenly): what reading the data alone allows strictly, for those rows;
* ``cover h2 V_A V_AA``: share of data sets whose 95 % interval (estimate +- 1.96 SE) covers
  the truth, the sample's own components (``true_variance_components``; h2 over the observed
  ``V_P``), with the decomposer's default errors (``component_se_``, the last word of
  ``path``: the jackknife of the whole fit where it is cheap; a V_AA of 0 where no pair was
  confirmed has no SE, and its interval, the point 0, covers a truth of 0 only);
* ``bias h2``: the mean error of h2 across data sets; ``SE/sd h2``: the mean reported SE of
  h2 over the standard deviation of its error across data sets (1 when calibrated),
  ``med SE/sd h2`` the same with the median SE (where the errors differ from one data set to
  another, as the jackknife's do, a few large ones pull the mean up), ``sd z h2`` the
  standard deviation of the error over its SE (1 when calibrated),
  ``sd h2``: the standard deviation of the estimates, and ``sd err h2`` that of their errors;
* ``oracle cover h2``, ``oracle cover epistatic``, ``oracle SE/sd h2``, ``oracle sd err h2``:
  the same for least squares on the true support (the QTL and the true pairs), with the same
  noise correction and errors: what the data allow where the terms are known (without true
  pairs its V_AA is 0 with an SE of 0, and covers the truth, 0, in every data set);
* ``s/set``: seconds per data set (training and decomposition).

Scenarios: ``KEY = panel-ploidy-trait``, panels ``ind`` (independent loci), ``ld``
(neighbouring loci correlated about 0.6: thresholded Gaussian AR(1) haplotypes) and ``msp``
(msprime, ``sklearn_elm.datasets.simulate_genotypes``); traits ``add`` (``--qtl`` additive
QTL, no pairs) and ``epi`` (``--pairs`` pairs among the QTL; ``V_AA / V_A`` 1 on independent
loci, 0.5 on ``ld``, 0.1 on ``msp``, whose rare alleles put most of a pair's variance in V_A;
QTL drawn where the ratio is out of reach are drawn again).
``--loci`` loci, ``--samples`` samples, h2 ``--h2``; the screened fit decomposes them
(``--loci 16`` gives the debiased projection instead).  ``--qhaplo`` adds the FDR-5 % lists of
traits 3-5 of ``load_qhaplo(h2=0.25)`` with their realised FDP.

Usage::

    python benchmarks/calibration.py --threads 1 --jobs 2
    python benchmarks/calibration.py --scenarios ind-2-add --datasets 10

The truth is read only to score.
"""

import argparse
import time

import numpy as np
from _common import add_threads_option, set_threads
from joblib import Parallel, delayed
from scipy import linalg, stats
from sklearn.pipeline import make_pipeline
from sklearn.utils import Bunch

from sklearn_elm import ELMDecomposer, GenotypeEncoder, NeuralGPRegressor
from sklearn_elm._decomposition._inference import bh_qvalues, screened_component_se
from sklearn_elm._decomposition._joint import COPY_R
from sklearn_elm.datasets import make_epistatic_phenotypes, simulate_genotypes, simulate_phenotypes
from sklearn_elm.metrics import true_variance_components

SCENARIOS = ["ind-1-add", "ind-2-add", "ld-2-add", "msp-2-add", "ind-2-epi", "ld-2-epi",
             "msp-2-epi"]
KEYS = ("h2", "additive", "epistatic")


def linked_genotypes(n, p, ploidy, rng, rho=0.8):
    """Allele counts whose neighbouring loci are correlated (about 0.6 at rho = 0.8)."""
    counts = np.zeros((n, p))
    for _ in range(ploidy):
        x = np.empty((n, p))
        x[:, 0] = rng.normal(size=n)
        for j in range(1, p):
            x[:, j] = rho * x[:, j - 1] + np.sqrt(1 - rho**2) * rng.normal(size=n)
        counts += x > 0
    return counts


def simulate(key, args, seed):
    """Genotypes, phenotypes, truth and the coding of the effects, of one data set."""
    panel, ploidy, trait = key.split("-")
    ploidy = int(ploidy)
    pairs = args.pairs if trait == "epi" else 0
    ratio = 1.0 if trait == "epi" else 0.0
    settings = dict(n_qtl=args.qtl, n_pairs=pairs, h2=args.h2, epistatic_ratio=ratio,
                    random_state=seed)
    if panel == "ind":
        return make_epistatic_phenotypes(args.samples, args.loci, ploidy=ploidy, **settings)
    rng = np.random.default_rng(seed)
    if panel == "ld":
        G = linked_genotypes(args.samples, args.loci, ploidy, rng).astype(np.int8)
    else:
        G = simulate_genotypes(args.samples, args.loci, ploidy=ploidy,
                               random_state=seed).genotypes
    if trait == "epi":  # rare alleles put most of a pair's variance in V_A
        settings["epistatic_ratio"] = 0.5 if panel == "ld" else 0.1
    for attempt in range(20):  # QTL drawn where the ratio is out of reach are drawn again
        try:
            return simulate_phenotypes(G, ploidy=ploidy, **settings)
        except ValueError as exc:
            if "out of reach" not in str(exc) or attempt == 19:
                raise
            settings["random_state"] = seed + 7919 * (attempt + 1)


def coding(G, ploidy):
    """The simulation's coding of the effects: ``2 g - 1`` haploid, ``g - 1`` diploid."""
    return 2.0 * G - 1.0 if ploidy == 1 else G - 1.0


def oracle_pvalues(Z, y, a, E):
    """p-values of every pair ``i < j`` under least squares on the true support: Wald for
    the true pairs, score tests against that fit for the others (as the decomposer's; a pair
    the support holds already gets p = 1)."""
    Zc = Z - Z.mean(0)
    loci = np.flatnonzero(a)
    ti, tj = np.nonzero(np.triu(E, 1))
    X = np.hstack([Zc[:, loci], (Zc[:, ti] * Zc[:, tj]) - (Zc[:, ti] * Zc[:, tj]).mean(0)])
    n, m = X.shape
    G_inv = np.linalg.pinv(X.T @ X)
    coef = G_inv @ X.T @ (y - y.mean())
    r = y - y.mean() - X @ coef
    sigma2 = r @ r / (n - 1 - m)
    i, j = np.triu_indices(Z.shape[1], 1)
    W = Zc[:, i] * Zc[:, j]
    W -= W.mean(0)
    cross = X.T @ W
    squares = np.einsum("ij,ij->j", W, W)
    left = squares - np.einsum("ij,ij->j", cross, G_inv @ cross)
    # a pair the support already holds (a copy in complete linkage, a constant product) is not
    # tested, as in the decomposer
    usable = left > 1e-6 * squares
    t = np.where(usable, W.T @ r, 0.0) / np.sqrt(sigma2 * np.where(usable, left, 1.0))
    true = {(int(u), int(v)) for u, v in zip(ti, tj, strict=True)}
    for c, (u, v) in enumerate(zip(ti, tj, strict=True)):
        t_true = coef[loci.size + c] / np.sqrt(sigma2 * G_inv[loci.size + c, loci.size + c])
        t[(i == u) & (j == v)] = t_true
    p_values = 2 * stats.t.sf(np.abs(t), n - 1 - m)
    return p_values, [(int(u), int(v)) in true for u, v in zip(i, j, strict=True)]


def centred_products(Zc, i, j):
    """The centred products ``z_i z_j`` of the columns of ``Zc``, one column per pair."""
    P = Zc[:, i] * Zc[:, j]
    return P - P.mean(0)


def wrong_pick(Z, y, a, E):
    """For each true pair, the chance that the truth's own least squares prefers one of its
    copies to it: the pairs (self terms included) whose centred products correlate with its
    own at ``|r| >= COPY_R`` (which the library reports as the same pair) are fitted in its
    place, in turn, beside the QTL and the other true pairs, and the one with the smallest
    residual sum of squares is picked (ties split evenly).  What no procedure that reads
    only the data can beat in telling a pair from its copies."""
    n, p = Z.shape
    Zc = Z - Z.mean(0)
    loci = np.flatnonzero(a)
    true = [(int(u), int(v)) for u, v in zip(*np.nonzero(np.triu(E, 1)), strict=True)]
    iu, ju = np.triu_indices(p)
    P = centred_products(Zc, iu, ju)
    sd = P.std(0)
    P = P / np.where(sd > 1e-12, sd, np.inf)
    wrong = {}
    for pair in true:
        others = [other for other in true if other != pair]
        support = np.hstack([Zc[:, loci], centred_products(Zc, *np.array(others, int).T)
                             if others else np.empty((n, 0))])
        Q = np.linalg.qr(support)[0]
        r = y - y.mean() - Q @ (Q.T @ y)
        own = centred_products(Zc, [pair[0]], [pair[1]])[:, 0]
        copies = np.flatnonzero(np.abs(P.T @ own) >= COPY_R * n * own.std())
        X = P[:, copies] - Q @ (Q.T @ P[:, copies])
        gain = (X.T @ r) ** 2 / np.maximum(np.einsum("ij,ij->j", X, X), 1e-300)
        best = np.flatnonzero(gain >= gain.max() * (1 - 1e-9))
        mine = np.flatnonzero((iu[copies] == pair[0]) & (ju[copies] == pair[1]))
        wrong[pair] = 1.0 - (1.0 / best.size if np.isin(mine, best).any() else 0.0)
    return wrong


def pick_false(Z, listed, wrong):
    """The false pairs ``listed`` would hold, in expectation, were each that is a copy of a
    true pair (centred products at ``|r| >= COPY_R``) that true pair or its copy as the
    truth's least squares picks it (:func:`wrong_pick`); any other counts as false."""
    Zc = Z - Z.mean(0)
    false = 0.0
    for u, v in listed:
        own = centred_products(Zc, [u], [v])[:, 0]
        matched = [chance for (i, j), chance in wrong.items()
                   if abs(np.corrcoef(own, centred_products(Zc, [i], [j])[:, 0])[0, 1])
                   >= COPY_R]
        false += min(matched) if matched else 1.0
    return false


def basis_pvalues(Z, y):
    """Wald p-values of every pair ``i < j`` in least squares on the generating basis (every
    locus and every pair's centred product): no term is left out, so that a pair's test is
    not its copies' in linkage.  Columns the others span (copies in complete linkage) are
    dropped by pivoted QR, which keeps one of each set of copies, not necessarily the true
    one: their p-values are 1 (the ``basis LD`` power counts a kept copy).  None where the
    basis does not fit (as many columns as samples)."""
    n, p = Z.shape
    Zc = Z - Z.mean(0)
    i, j = np.triu_indices(p, 1)
    P = Zc[:, i] * Zc[:, j]
    X = np.hstack([Zc, P - P.mean(0)])
    if X.shape[1] >= n - 1:
        return None
    Q, R, pivot = linalg.qr(X, mode="economic", pivoting=True)
    diag = np.abs(np.diag(R))
    rank = int(np.sum(diag > 1e-8 * diag[0]))
    R11 = R[:rank, :rank]
    coef = linalg.solve_triangular(R11, Q[:, :rank].T @ (y - y.mean()))
    r = y - y.mean() - X[:, pivot[:rank]] @ coef
    df = n - 1 - rank
    R_inv = linalg.solve_triangular(R11, np.eye(rank))  # (X^T X)^-1 = R^-1 R^-T
    t = coef / np.sqrt(r @ r / df * np.einsum("ij,ij->i", R_inv, R_inv))
    p_values = np.ones(X.shape[1])
    p_values[pivot[:rank]] = np.nan_to_num(2 * stats.t.sf(np.abs(t), df), nan=1.0)
    return p_values[p:]


def oracle_components(Z, y, a, E):
    """h2, V_A and V_AA with their SEs from least squares on the true support (the QTL and
    the true pairs' centred products), noise-corrected, with the decomposer's own
    quadratic-form errors.  Without true pairs V_AA is 0 with an SE of 0."""
    Zc = Z - Z.mean(0)
    loci = np.flatnonzero(a)
    ti, tj = np.nonzero(np.triu(E, 1))
    P = Zc[:, ti] * Zc[:, tj]
    X = np.hstack([Zc[:, loci], P - P.mean(0)])
    n = len(y)
    G = X.T @ X
    G_inv = np.linalg.pinv(G)
    coef = G_inv @ X.T @ (y - y.mean())
    r = y - y.mean() - X @ coef
    df = float(np.sum(G * G_inv))
    fit = Bunch(y=coef, G=G, G_inv=G_inv, df=df, sigma2=r @ r / (n - 1 - df))
    se = screened_component_se(X, loci.size, fit)
    estimate = {}
    for key, rows in (("additive", slice(0, loci.size)), ("epistatic", slice(loci.size, None))):
        b, block = coef[rows], G[rows, rows]
        estimate[key] = (b @ block @ b / n - fit.sigma2 * np.sum(block * G_inv[rows, rows]) / n
                         if b.size else 0.0)
        se[key] = se[key] if b.size else 0.0
    estimate["h2"], se["h2"] = estimate["additive"] / np.var(y), se["additive"] / np.var(y)
    return estimate, se


def one_dataset(key, args, seed):
    """Fit and score one data set."""
    set_threads(args.threads)
    data = simulate(key, args, seed)
    ploidy = int(key.split("-")[1])
    G, y = data.genotypes, data.phenotypes[:, 0]
    net = NeuralGPRegressor(module__hidden_sizes=(args.width,), max_epochs=args.epochs,
                            random_state=seed)
    start = time.perf_counter()
    dec = ELMDecomposer(make_pipeline(GenotypeEncoder(ploidy=ploidy), net)).fit(G, y)
    seconds = time.perf_counter() - start
    Z = coding(G.astype(np.float64), ploidy)
    a, E = data.additive_effects[0], data.epistasis[0]
    truth = true_variance_components(Z, a, E, phenotypes=y)
    vc, se = dec.variance_components_, dec.variance_components_se_
    out = {"seconds": seconds,
           "path": f"{dec.epistasis_}/{dec.components_}/{dec.component_se_}"}
    for name in KEYS:
        out[f"err_{name}"] = vc[name] - float(np.ravel(truth[name])[0])
        out[f"se_{name}"] = se[name]
        out[f"est_{name}"] = vc[name]
    oracle, oracle_se = oracle_components(Z, y, a, E)
    for name in KEYS:
        out[f"err_oracle_{name}"] = oracle[name] - float(np.ravel(truth[name])[0])
        out[f"se_oracle_{name}"] = oracle_se[name]
    tests = dec.pair_tests_
    table = dec.significant_pairs(0.05, as_frame=False)
    listed = set(zip(table["i"].tolist(), table["j"].tolist(), strict=True))
    true = {(int(i), int(j)) for i, j in zip(*np.nonzero(np.triu(E, 1)), strict=True)}
    out["listed"], out["false"] = len(listed), len(listed - true)
    out["found"] = len(listed & true) / len(true) if true else np.nan
    r2 = np.nan_to_num(np.corrcoef(Z.T) ** 2)
    out["false_ld"] = sum(not ld_match(pair, true, r2) for pair in listed)
    out["false_pick"] = pick_false(Z, listed, wrong_pick(Z, y, a, E)) if true else np.nan
    out["found_ld"] = (np.mean([any(ld_match(pair, {t}, r2) for pair in listed) for t in true])
                       if true else np.nan)
    rng = np.random.default_rng(seed + 10**6)
    out["drawn_p"] = (tests.p_value[rng.integers(tests.p_value.size)]
                      if tests.p_value.size == tests.n_tests else np.nan)
    out["phantom_p"] = phantom_pvalue(tests, a, Z)
    if true:
        p_values, is_true = oracle_pvalues(Z, y, a, E)
        q = bh_qvalues(p_values, p_values.size)
        out["oracle"] = float(np.mean(q[np.array(is_true)] <= 0.05))
        i, j = np.triu_indices(Z.shape[1], 1)
        oracle = {(int(u), int(v)) for u, v in zip(i[q <= 0.05], j[q <= 0.05], strict=True)}
        out["oracle_ld"] = np.mean([any(ld_match(pair, {t}, r2) for pair in oracle)
                                    for t in true])
        out["oracle_fdp"] = len(oracle - true) / max(len(oracle), 1)
        basis = basis_pvalues(Z, y)
        if basis is None:
            out["basis"] = out["basis_ld"] = out["basis_fdp"] = np.nan
        else:
            q = bh_qvalues(basis, basis.size)
            out["basis"] = float(np.mean(q[np.array(is_true)] <= 0.05))
            listed_basis = {(int(u), int(v)) for u, v in zip(i[q <= 0.05], j[q <= 0.05],
                                                               strict=True)}
            out["basis_ld"] = np.mean([any(ld_match(pair, {t}, r2) for pair in listed_basis)
                                       for t in true])
            out["basis_fdp"] = len(listed_basis - true) / max(len(listed_basis), 1)
    else:
        out["oracle"] = out["oracle_ld"] = out["oracle_fdp"] = np.nan
        out["basis"] = out["basis_ld"] = out["basis_fdp"] = np.nan
    return out


def ld_match(pair, true, r2, threshold=0.8):
    """Whether ``pair`` is a true pair or its copy in linkage: each locus at ``r^2 >=
    threshold`` with the matching locus of a true pair (the data cannot tell them apart)."""
    a, b = pair
    return any((r2[a, i] >= threshold or a == i) and (r2[b, j] >= threshold or b == j)
               or (r2[a, j] >= threshold or a == j) and (r2[b, i] >= threshold or b == i)
               for i, j in true)


def phantom_pvalue(tests, a, Z):
    """The p-value of the pair of the first QTL with the locus most correlated with it (NaN
    where that pair was not among the stored tests)."""
    qtl = int(np.flatnonzero(a)[0])
    r = np.corrcoef(Z.T)[qtl]
    r[qtl] = 0.0
    partner = int(np.nanargmax(np.abs(r)))
    i, j = sorted((qtl, partner))
    hit = np.flatnonzero((tests.pairs[:, 0] == i) & (tests.pairs[:, 1] == j))
    return float(tests.p_value[hit[0]]) if hit.size else np.nan


def summarise(key, results):
    """One row of the table."""
    get = lambda name: np.array([r[name] for r in results], dtype=float)  # noqa: E731
    row = {"scenario": key, "path": results[0]["path"], "sets": len(results)}
    null = key.endswith("add")
    for name, column in (("KS pair", "drawn_p"), ("KS QTLxLD", "phantom_p")):
        values = get(column)
        values = values[np.isfinite(values)]
        row[name] = stats.kstest(values, "uniform").pvalue if null and values.size > 5 else np.nan
    row["empty"] = float(np.mean(get("listed") == 0)) if null else np.nan
    listed = get("listed")
    fdp = get("false") / np.maximum(listed, 1)
    row["FDP"] = float(np.mean(fdp))
    row["FDP se"] = float(np.std(fdp, ddof=1) / np.sqrt(fdp.size))
    row["FDP LD"] = float(np.mean(get("false_ld") / np.maximum(listed, 1)))
    row["pick FDP"] = float(np.mean(get("false_pick") / np.maximum(listed, 1))) if not null \
        else np.nan
    for name in ("power", "power LD", "oracle", "oracle LD", "oracle FDP", "basis",
                 "basis LD", "basis FDP"):
        column = {"power": "found", "power LD": "found_ld", "oracle FDP": "oracle_fdp",
                  "basis FDP": "basis_fdp"}.get(name, name.replace(" LD", "_ld"))
        row[name] = float(np.nanmean(get(column))) if not null else np.nan
    for name in KEYS:
        err, se = get(f"err_{name}"), get(f"se_{name}")
        # a component 0 by the choice of terms (no pair confirmed) has no standard error: its
        # interval is the point 0, which covers a truth of 0 only
        se = np.where(np.isnan(se) & (get(f"est_{name}") == 0), 0.0, se)
        row[f"cover {name}"] = float(np.mean(np.abs(err) <= 1.96 * se))
    err, se = get("err_h2"), get("se_h2")
    row["bias h2"] = float(np.mean(err))
    row["SE/sd h2"] = float(np.mean(se) / np.std(err))
    row["med SE/sd h2"] = float(np.median(se) / np.std(err))
    row["sd z h2"] = float(np.std(err / se))
    row["sd h2"] = float(np.std(get("est_h2")))
    row["sd err h2"] = float(np.std(err))
    err, se = get("err_oracle_epistatic"), get("se_oracle_epistatic")
    row["oracle cover epistatic"] = float(np.mean(np.abs(err) <= 1.96 * se))
    err, se = get("err_oracle_h2"), get("se_oracle_h2")
    row["oracle cover h2"] = float(np.mean(np.abs(err) <= 1.96 * se))
    row["oracle SE/sd h2"] = float(np.mean(se) / np.std(err))
    row["oracle sd err h2"] = float(np.std(err))
    row["s/set"] = float(np.mean(get("seconds")))
    return row


COLUMNS = ["scenario", "path", "sets", "KS pair", "KS QTLxLD", "empty", "FDP", "FDP se", "FDP LD",
           "pick FDP",
           "power", "power LD", "oracle", "oracle LD", "oracle FDP", "basis", "basis LD",
           "basis FDP",
           "cover h2", "cover additive", "cover epistatic", "bias h2", "SE/sd h2", "med SE/sd h2",
           "sd z h2", "sd h2",
           "sd err h2", "oracle cover h2", "oracle cover epistatic", "oracle SE/sd h2",
           "oracle sd err h2", "s/set"]


def print_row(row):
    cells = []
    for name in COLUMNS:
        value = row[name]
        cells.append(f"{value:.3f}" if isinstance(value, float) else str(value))
    print("| " + " | ".join(cells) + " |", flush=True)


def qhaplo_lists(args):
    """The FDR-5 % pair lists of traits 3-5 of the bundled data at h2 = 0.25, with their FDP."""
    from sklearn_elm.datasets import load_qhaplo

    data = load_qhaplo(h2=0.25)
    dec = ELMDecomposer(make_pipeline(GenotypeEncoder(), NeuralGPRegressor(random_state=0)))
    dec.fit(data.genotypes, data.phenotypes)
    table = dec.significant_pairs(0.05, as_frame=False)
    for trait in (2, 3, 4):
        E = data.epistasis[trait]
        rows = table["output"] == trait
        pairs = list(zip(table["i"][rows].tolist(), table["j"][rows].tolist(), strict=True))
        false = [pair for pair in pairs if E[pair] == 0]
        n_true = int(np.count_nonzero(np.triu(E, 1)))
        print(f"trait {trait + 1}: {len(pairs)} pairs listed, {len(false)} false (FDP "
              f"{len(false) / max(len(pairs), 1):.3f}), {len(pairs) - len(false)} of {n_true} "
              f"true pairs found: {pairs}", flush=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--scenarios", nargs="*", default=SCENARIOS, choices=SCENARIOS)
    parser.add_argument("--datasets", type=int, default=50)
    parser.add_argument("--samples", type=int, default=1500)
    parser.add_argument("--loci", type=int, default=40)
    parser.add_argument("--qtl", type=int, default=8)
    parser.add_argument("--pairs", type=int, default=3)
    parser.add_argument("--h2", type=float, default=0.5)
    parser.add_argument("--width", type=int, default=64, help="hidden units of the network")
    parser.add_argument("--epochs", type=int, default=60)
    parser.add_argument("--jobs", type=int, default=1, help="data sets fitted in parallel")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--qhaplo", action="store_true")
    add_threads_option(parser)
    args = parser.parse_args()
    print(f"{args.datasets} data sets per scenario, {args.samples} samples x {args.loci} loci, "
          f"{args.qtl} QTL, h2 {args.h2}; network ({args.width},) x {args.epochs} epochs")
    print("| " + " | ".join(COLUMNS) + " |")
    for key in args.scenarios:
        results = Parallel(n_jobs=args.jobs)(
            delayed(one_dataset)(key, args, args.seed + 1000 * s) for s in range(args.datasets))
        print_row(summarise(key, results))
    if args.qhaplo:
        set_threads(args.threads)
        qhaplo_lists(args)


if __name__ == "__main__":
    main()
