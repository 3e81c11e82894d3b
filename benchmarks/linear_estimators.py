"""Blind linear estimators on the network's design against least squares on the true support.

On the sparse msprime rows of ``panels.py`` the default network predicts about 0.95 of the
ceiling, where least squares on the true support (the QTL and the true pairs' products) reaches
0.98.  The network's lasso rows are a linear model of the loci and the pairs its scan seeds:
this script asks whether another estimator on the same columns would close that gap.  Per data
set it simulates the panel as ``panels.py`` does (2,000 to 20,000 diploid msprime samples,
common SNPs with linkage; 40 QTL and 20 pairs, h2 0.6, V_AA / V_A 0.15), trains on the same 80 %
and builds the design of every locus (``GenotypeEncoder``'s codes) and the centred products of
the 64 pairs the network's seeding scan ranks first (:func:`sklearn_elm._seeding.scan_pairs`,
against the target less its GBLUP fit, as ``NeuralGPRegressor`` scans).  It prints the test r2,
as a share of the ceiling (the test r2 of the true genetic value), of

* ``lasso``: ``LassoCV`` (5 folds, 20 penalties);
* ``relaxed``: Meinshausen's relaxed lasso as the network's refit fits it, its penalty (1 to 4
  times lasso's) and relaxation (1 to 1/8) chosen by 5-fold cross-validation;
* ``adaptive``: Zou's adaptive lasso, ``LassoCV`` on the columns scaled by lasso's effects;
* ``bagged``: the mean of lasso at its penalty over 10 bootstrap samples;
* ``spike-slab``: Carbonetto and Stephens' variational spike-and-slab regression, its slab
  variance and noise fitted, averaged over a grid of prior inclusion probabilities weighted by
  the evidence lower bound (varbvs);
* ``LS``: least squares on the true support, and ``found``: on the QTL and the true pairs a scan
  can find (``panels.findable``): what the data allow an estimator that knew the support.

The truth is read only for the oracles and the ceiling.  Usage::

    python benchmarks/linear_estimators.py [--seeds 12] [--n 5000] [--p 1000]

About 15 s a data set at 5,000 x 1,000 on two cores.
"""

import argparse
import time
import warnings
from types import SimpleNamespace

import numpy as np
from _common import fit_lasso
from panels import findable, simulate, support_prediction
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import Lasso, LassoCV

from sklearn_elm import GenotypeEncoder, _relaxed_lasso
from sklearn_elm._linear_path import linear_path_start
from sklearn_elm._seeding import scan_pairs

ESTIMATORS = ("lasso", "relaxed", "adaptive", "bagged", "spike-slab", "LS", "found")


def relaxed_lasso(F, y, alpha):
    """The network's refit (:func:`sklearn_elm._relaxed_lasso.refit`) on ``F``: the relaxed
    lasso whose penalty (``REFIT_FACTORS`` times ``alpha``) and relaxation (``REFIT_RELAX``)
    cross-validate best over its folds, with a constant."""
    mean = F.mean(axis=0)
    coef = _relaxed_lasso.refit(F - mean, [y - y.mean()], alpha, np.zeros(F.shape[1]),
                                _relaxed_lasso.folds(len(y), 0), 2**31, centre=True)[0][0]
    return lambda T: y.mean() + (T - mean) @ coef


def adaptive_lasso(F, y, coef):
    """``LassoCV`` on the columns of non-zero ``coef``, standardised and scaled by their
    standardised effect (Zou 2006, gamma 1)."""
    mean, sd = F.mean(axis=0), F.std(axis=0)
    kept = np.flatnonzero(coef * sd)
    scale = np.abs(coef[kept])  # coef * sd / sd: the effect in the units of a standardised column
    D = (F[:, kept] - mean[kept]) * scale
    top = np.abs(D.T @ (y - y.mean())).max() / len(y)
    fit = LassoCV(cv=5, alphas=top * np.logspace(0, -3, 25), max_iter=5000).fit(D, y)
    return lambda T: fit.predict((T[:, kept] - mean[kept]) * scale)


def bagged_lasso(F, y, alpha, rng, draws=10):
    """The mean prediction of lasso at ``alpha`` over ``draws`` bootstrap samples."""
    fits = [Lasso(alpha=alpha, max_iter=3000, tol=1e-3).fit(F[rows], y[rows])
            for rows in (rng.integers(0, len(y), len(y)) for _ in range(draws))]
    return lambda T: np.mean([f.predict(T) for f in fits], axis=0)


def _varbvs(X, y, pi, d, xy, sweeps=300, tol=1e-4):
    """Variational spike-and-slab regression at prior inclusion probability ``pi`` (Carbonetto
    and Stephens 2012, *Bayesian Analysis* 7), slab variance and noise by their EM updates:
    ``(posterior mean effects, evidence lower bound)``; ``X`` and ``y`` centred."""
    n, p = X.shape
    sigma2, sa = y @ y / n, 10.0 / np.mean(d)
    alpha, mu, fit = np.full(p, pi), np.zeros(p), np.zeros(n)
    logit = np.log(pi / (1 - pi))
    for _ in range(sweeps):
        before = alpha.copy()
        s = sigma2 * sa / (sa * d + 1.0)
        for j in range(p):
            old = alpha[j] * mu[j]
            mu[j] = s[j] / sigma2 * (xy[j] - X[:, j] @ fit + d[j] * old)
            odds = logit + 0.5 * np.log(s[j] / (sigma2 * sa)) + 0.5 * mu[j] ** 2 / s[j]
            alpha[j] = 1.0 / (1.0 + np.exp(-np.clip(odds, -500, 500)))
            fit += X[:, j] * (alpha[j] * mu[j] - old)
        second = alpha * (s + mu**2)
        resid = y - fit
        ess = resid @ resid + np.sum(d * (second - (alpha * mu) ** 2))
        sigma2 = (ess + np.sum(second) / sa) / (n + np.sum(alpha))
        sa = np.sum(second) / (sigma2 * np.sum(alpha))
        if np.max(np.abs(alpha - before)) < tol:
            break
    s = sigma2 * sa / (sa * d + 1.0)
    second, tiny = alpha * (s + mu**2), 1e-12
    bound = (-n / 2 * np.log(2 * np.pi * sigma2) - (y - fit) @ (y - fit) / (2 * sigma2)
             - np.sum(d * (second - (alpha * mu) ** 2)) / (2 * sigma2)
             + np.sum(alpha / 2 * (1 + np.log(s / (sigma2 * sa)) - (s + mu**2) / (sigma2 * sa)))
             - np.sum(alpha * np.log((alpha + tiny) / pi)
                      + (1 - alpha) * np.log((1 - alpha + tiny) / (1 - pi))))
    return alpha * mu, bound


def spike_slab(F, y, pis=(0.003, 0.01, 0.03, 0.1)):
    """:func:`_varbvs` on the standardised columns, averaged over ``pis`` by the weights of
    their evidence lower bounds."""
    mean, sd = F.mean(axis=0), F.std(axis=0)
    sd[sd == 0] = 1.0
    X, yc = np.asfortranarray((F - mean) / sd), y - y.mean()  # read a column at a time
    d, xy = np.einsum("ij,ij->j", X, X), X.T @ yc
    fits = [_varbvs(X, yc, pi, d, xy) for pi in pis]
    bounds = np.array([bound for _, bound in fits])
    weights = np.exp(bounds - bounds.max())
    coef = sum(w * c for w, (c, _) in zip(weights / weights.sum(), fits, strict=True))
    return lambda T: y.mean() + ((T - mean) / sd) @ coef


def run(seed, n, p, args):
    rng = np.random.default_rng(seed)
    data = simulate("msprime", n, p, "sparse", 0.6, args, seed)
    train = rng.random(n) < 0.8  # the split of panels.py
    encoder = GenotypeEncoder(ploidy=2).fit(data.genotypes[train])
    X = encoder.transform(data.genotypes[train]).astype(np.float32)
    X_test = encoder.transform(data.genotypes[~train]).astype(np.float32)
    y, y_test = data.phenotypes[train, 0], data.phenotypes[~train, 0]
    g = data.genetic_values[~train, 0]
    ceiling = 1 - np.mean((y_test - y_test.mean() - (g - g.mean())) ** 2) / np.var(y_test)
    Y = ((y - y.mean()) / y.std())[:, None]
    scan = scan_pairs(X, np.arange(len(y)), Y, linear_path_start(X, Y, len(y)).additive, 64)
    pairs = scan.loci[scan.pairs[0]]

    def design(Z, centre):
        P = Z[:, pairs[:, 0]].astype(np.float64) * Z[:, pairs[:, 1]]
        return np.hstack([Z, P - centre])

    centre = (X[:, pairs[:, 0]].astype(np.float64) * X[:, pairs[:, 1]]).mean(axis=0)
    F, F_test = design(X, centre), design(X_test, centre)
    lasso = fit_lasso(F, y)
    predictors = {
        "lasso": lasso.predict,
        "relaxed": relaxed_lasso(F, y, lasso.alpha_),
        "adaptive": adaptive_lasso(F, y, lasso.coef_),
        "bagged": bagged_lasso(F, y, lasso.alpha_, rng),
        "spike-slab": spike_slab(F, y),
    }
    share = {name: (1 - np.mean((y_test - predict(F_test)) ** 2) / np.var(y_test)) / ceiling
             for name, predict in predictors.items()}
    Z = data.genotypes.astype(np.float64) - 1.0
    Zc, Zc_test = Z[train] - Z[train].mean(axis=0), Z[~train] - Z[train].mean(axis=0)
    for name, truth in (("LS", data), ("found", findable(Zc, y, data))):
        pred = support_prediction(Zc, y, Zc_test, truth)
        share[name] = (1 - np.mean((y_test - pred) ** 2) / np.var(y_test)) / ceiling
    return share


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, default=12, help="data seeds 0, 1, ...")
    parser.add_argument("--n", type=int, default=5000)
    parser.add_argument("--p", type=int, default=1000)
    args = parser.parse_args()
    settings = SimpleNamespace(qtl=40, pairs=20, ratio=0.15)
    warnings.simplefilter("ignore", ConvergenceWarning)
    print(f"test r2 / ceiling, msprime {args.n} x {args.p}, 40 QTL + 20 pairs, h2 0.6; "
          "design: every locus and the seeding scan's 64 pairs")
    print("| seed | " + " | ".join(ESTIMATORS) + " | s |")
    print("|---" * (len(ESTIMATORS) + 2) + "|")
    shares = []
    for seed in range(args.seeds):
        start = time.perf_counter()
        shares.append(run(seed, args.n, args.p, settings))
        print(f"| {seed} | " + " | ".join(f"{shares[-1][k]:.3f}" for k in ESTIMATORS)
              + f" | {time.perf_counter() - start:.0f} |", flush=True)
    print("| mean | " + " | ".join(f"{np.mean([s[k] for s in shares]):.4f}" for k in ESTIMATORS)
          + " | |")


if __name__ == "__main__":
    main()
