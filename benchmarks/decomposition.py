"""Accuracy and speed of ELMDecomposer on the reference data.

Accuracy: the default ``ELMDecomposer()`` (GenotypeEncoder + NeuralGPRegressor,
its network seeded with ``--random-state``, default 0) is fitted on the training
85 % of ``load_qhaplo()`` and of its noisy variant ``load_qhaplo(h2=0.25)`` and
decomposed on the same samples.  Per trait the table gives the recovery of the
additive effects (slope and r against the true average effects; below it, those of
the trait's estimates that the tests test, ``additive_estimates_``), of the 2016
pairwise effects (slope, r2 and the precision of the 32 largest |estimates|,
there being 32 true pairs) and the (debiased) variance components against their
realised true values.  The same fitted network is also read with the two
ELM-slope estimators (``epistasis="regression"`` and ``"contrast"``) and with
``components="network"`` (the variances of the network's own parts) for
comparison.  Each table ends with the accuracy targets, ok or MISS.

Speed: one network with the published architecture (64-1024-1024-5,
LeakyReLU 0.01, no biases) is trained briefly and its exact per-sample map is
computed on 10000 samples by (a) the published per-sample
``torch.autograd.functional.jacobian`` loop, (b) reverse-mode autograd on the
batch, one backward pass per output, and (c) the closed form
``W_3 D_2 W_2 D_1 W_1`` as batched matrix products, next to one plain forward
+ backward pass (with weight gradients) over the same samples.  The floor is
one forward pass plus one input-only backward pass per output, i.e.
``n (p h + h^2 + h k) + n k (h^2 + h p)`` multiply-adds; the table reports how
many of those per second each method achieves next to a bare matrix product
of the dominant shape (the machine's attainable rate).

Run ``python benchmarks/decomposition.py`` (trains two default networks and
one published-size network; ~10-25 min on 2 CPU cores) or with ``--quick``
(fewer epochs and samples, a smoke test of the whole script).
"""

import argparse

import numpy as np
import torch
from _common import (
    add_settings_option,
    add_threads_option,
    best_time,
    encode,
    fit_lasso,
    pair_products,
    parse_settings,
    realised_truth,
    set_threads,
    timed,
)
from sklearn.pipeline import make_pipeline

from sklearn_elm import (
    ELMDecomposer,
    GBLUPRegressor,
    GenotypeEncoder,
    NeuralGPRegressor,
    equivalent_linear_map,
)
from sklearn_elm.datasets import load_qhaplo
from sklearn_elm.metrics import effect_recovery, pair_recovery, true_average_effects

COMPONENTS = ("additive", "epistatic", "genetic")
N_DRAWS = 2000  # Monte Carlo draws of the least-squares sampling error (--reference)


def make_decomposer(args):
    # the project's defaults (those of ELMDecomposer()), with a seeded network
    params = {"random_state": args.random_state}
    if args.quick:
        params["max_epochs"] = 30
    params.update(parse_settings(args.set))
    return ELMDecomposer(make_pipeline(GenotypeEncoder(), NeuralGPRegressor(**params)))


def check(ok):
    return "ok" if ok else "MISS"


def missed_pairs(estimate, truth):
    """True |E| of the true pairs outside the top |estimates|, and the largest false |estimate|."""
    iu = np.triu_indices_from(truth, 1)
    est, true = np.abs(estimate[iu]), truth[iu]
    n_true = np.count_nonzero(true)
    top = np.argsort(est)[::-1][:n_true]
    missed = np.setdiff1d(np.flatnonzero(true), top)
    return np.sort(np.abs(true[missed])), est[true == 0].max()


def accuracy(h2, args):
    data = load_qhaplo(h2=h2, random_state=0)
    G, Y = data.genotypes[data.train], data.phenotypes[data.train]
    dec, fit_time = timed(lambda: make_decomposer(args).fit(G, Y))
    test = ~data.train
    pred = dec.predict(data.genotypes[test])
    Yt = data.phenotypes[test]
    test_r2 = 1 - ((Yt - pred) ** 2).mean(0) / Yt.var(0)
    Z = dec.estimator_[:-1].transform(G)
    truth = realised_truth(data, data.train)
    # the additive effects estimated are average effects under these samples' frequencies
    true_additive = true_average_effects(Z, data.additive_effects, data.epistasis)
    others = {
        name: ELMDecomposer(dec.estimator_, prefit=True, epistasis=name).fit(G, Y)
        for name in ("regression", "contrast")
    }
    network = ELMDecomposer(dec.estimator_, prefit=True, components="network").fit(G, Y)

    label = "load_qhaplo()" if h2 is None else f"load_qhaplo(h2={h2})"
    print(f"\n=== {label}: train {len(G)} samples, decomposed on them ===")
    print(
        f"fit (train + decompose) {fit_time:.0f} s; epochs {len(dec.estimator_[-1].history_)}; "
        f"projection passes {dec.n_iter_}; max ELM residual {np.max(dec.elm_residual_):.1e}"
    )
    print("test r2 per trait: " + " ".join(f"{r:.3f}" for r in test_r2))
    header = (
        f"{'trait':>5} | {'add slope':>9} {'add r':>7} | {'epi slope':>9} {'epi r2':>7} "
        f"{'top32':>5} | {'regr slope':>10} {'contr slope':>11} {'regr r2':>7} "
        f"{'top32':>5} | "
        + " | ".join(f"{c[:3]} est/true" for c in COMPONENTS)
    )
    print(header)
    print("-" * len(header))
    rows = []
    for k in range(Y.shape[1]):
        add = effect_recovery(dec.additive_effects_[k], true_additive[k])
        has_pairs = np.any(data.epistasis[k])
        if has_pairs:
            epi = pair_recovery(dec.epistasis_matrix_[k], data.epistasis[k])
            reg = pair_recovery(others["regression"].epistasis_matrix_[k], data.epistasis[k])
            con = pair_recovery(others["contrast"].epistasis_matrix_[k], data.epistasis[k])
            epi_cols = f"{epi.slope:9.3f} {epi.r2:7.4f} {epi.precision:5.2f}"
            other_cols = f"{reg.slope:10.3f} {con.slope:11.3f} {reg.r2:7.3f} {reg.precision:5.2f}"
        else:
            epi = reg = con = None
            epi_cols = f"{'-':>9} {'-':>7} {'-':>5}"
            other_cols = f"{'-':>10} {'-':>11} {'-':>7} {'-':>5}"
        vc = dec.variance_components_
        vc_cols = " | ".join(f"{vc[c][k]:.3f}/{truth[c][k]:.3f}" for c in COMPONENTS)
        print(f"{k + 1:>5} | {add.slope:9.3f} {add.r:7.4f} | {epi_cols} | {other_cols} | {vc_cols}")
        errors = {c: abs(vc[c][k] - truth[c][k]) for c in COMPONENTS}
        missed = missed_pairs(dec.epistasis_matrix_[k], data.epistasis[k]) if has_pairs else None
        tested = effect_recovery(dec.additive_estimates_[k], true_additive[k])
        rows.append((k + 1, add, epi, errors, missed, tested))
    print("regr/contr: the ELM-slope estimators (sum of the two directions) on the same network")
    print("the trait's additive estimates that the tests test (additive_estimates_, y's least "
          "squares on every locus and the confirmed pairs): slope "
          + " ".join(f"{r[5].slope:.3f}" for r in rows) + "; r "
          + " ".join(f"{r[5].r:.4f}" for r in rows))
    print("higher-order remainder V_G - V_A - V_AA: " + " ".join(f"{v:.3f}" for v in vc.higher))
    own = network.variance_components_
    print("components='network' (the variances of the network's own parts): "
          + "; ".join(f"{c[:3]} " + " ".join(f"{v:.3f}" for v in own[c]) for c in COMPONENTS)
          + "; largest |error| "
          + ", ".join(f"{c} {np.max(np.abs(own[c] - truth[c])):.3f}" for c in COMPONENTS))
    report_targets(h2, rows)
    if args.reference:
        reference_precision(G, Y, data.epistasis)
        reference_components(Z, Y, truth)
    return dec


def reference_components(Z, Y, truth):
    """Largest variance-component error of REML GBLUP (A + AA kernels) on the same samples.

    REML estimates the variances of the two kernels' random effects without shrinking them, so
    it shows what these samples allow an unbiased estimator; the network's own components are
    the variances of its (shrunk) fit.
    """
    vc = GBLUPRegressor("additive+epistatic").fit(Z, Y).variance_components_
    worst = {c: np.max(np.abs(vc[c] - truth[c])) for c in COMPONENTS}
    print("reference, REML GBLUP (A + AA) variance components, largest |error|: "
          + ", ".join(f"{c} {v:.3f}" for c, v in worst.items()))


def reference_precision(G, Y, epistasis):
    """Top-32 pair precision of least squares and of LassoCV on the generating basis.

    The basis is every locus and every pairwise product of the -1/+1 codes: these fits know the
    model class (not the truth), so they show how many of the true pairs the samples can rank
    above the 1984 others at all.  The Monte Carlo line reads the truth: it ranks the true pair
    effects plus draws of least squares' sampling error, i.e. how often an unbiased estimate as
    precise as these samples permit gets the top 32 right.
    """
    Z = encode(G)
    rows, cols = np.triu_indices(Z.shape[1], 1)
    F = np.hstack([np.ones((len(Z), 1)), Z, pair_products(Z)])
    full = np.linalg.lstsq(F, Y, rcond=None)[0]
    coef = full[1 + Z.shape[1]:]
    sigma = np.sqrt(((Y - F @ full) ** 2).sum(0) / (len(F) - F.shape[1]))
    # sampling error of the least-squares pair estimates: N(0, sigma^2 (F'F)^-1), pair block
    root = np.linalg.cholesky(np.linalg.inv(F.T @ F)[1 + Z.shape[1]:, 1 + Z.shape[1]:])
    noise = np.random.default_rng(0).standard_normal((N_DRAWS, len(root))) @ root.T
    traits = [k for k in range(Y.shape[1]) if np.any(epistasis[k])]
    ols, lasso, drawn = [], [], []
    for k in traits:
        true = epistasis[k][rows, cols]
        n_true = np.count_nonzero(true)
        ols.append(np.mean(true[np.argsort(-np.abs(coef[:, k]))[:n_true]] != 0))
        fit = fit_lasso(F[:, 1:], Y[:, k])
        pairs = fit.coef_[Z.shape[1]:]
        lasso.append(np.mean(true[np.argsort(-np.abs(pairs))[:n_true]] != 0))
        top = np.argsort(-np.abs(true + sigma[k] * noise), axis=1)[:, :n_true]
        drawn.append(np.mean(true[top] != 0, axis=1))
    names = " ".join(f"T{k + 1}" for k in traits)
    print(f"reference, top-32 precision on the generating basis ({names}): least squares "
          f"{' '.join(f'{v:.2f}' for v in ols)}; LassoCV {' '.join(f'{v:.2f}' for v in lasso)}")
    print(f"reference, {N_DRAWS} draws of the truth plus least squares' sampling error (an "
          f"unbiased estimate as exact as these samples allow; reads the truth): mean top-32 "
          f"precision {' '.join(f'{d.mean():.2f}' for d in drawn)}; share of draws >= 0.9 "
          f"{' '.join(f'{np.mean(d >= 0.9):.3f}' for d in drawn)}; share exact "
          f"{' '.join(f'{np.mean(d == 1):.3f}' for d in drawn)}")


def report_targets(h2, rows):
    """Print each accuracy target (below) with the measured values and ok / MISS.

    On ``load_qhaplo()``: additive slopes in [0.98, 1.02] with r >= 0.999, epistasis slopes in
    [0.95, 1.05] with r2 >= 0.98 and the top 32 pairs exactly the true ones on traits 2-5; at
    h2 = 0.25: additive slopes >= 0.9 (of the network's effects, and of the trait's estimates
    that the tests test) and top-32 precision >= 0.9 on traits 3-5; on both,
    variance components within 0.03 of the truth.
    """
    print("targets:")
    if h2 is None:
        slopes = [r[1].slope for r in rows]
        rs = [r[1].r for r in rows]
        print(
            f"  additive slope in [0.98, 1.02], r >= 0.999, every trait: "
            f"{check(all(0.98 <= s <= 1.02 for s in slopes) and min(rs) >= 0.999)} "
            f"(slopes {min(slopes):.3f}..{max(slopes):.3f}, min r {min(rs):.4f})"
        )
        epi = [r[2] for r in rows[1:]]
        print(
            f"  epistasis slope in [0.95, 1.05], r2 >= 0.98, traits 2-5: "
            f"{check(all(0.95 <= e.slope <= 1.05 and e.r2 >= 0.98 for e in epi))} "
            f"(slopes {' '.join(f'{e.slope:.3f}' for e in epi)}; "
            f"r2 {' '.join(f'{e.r2:.3f}' for e in epi)})"
        )
        print(
            f"  top-32 pairs exactly the true pairs, traits 2-5: "
            f"{check(all(e.precision == 1 for e in epi))} "
            f"(precision {' '.join(f'{e.precision:.2f}' for e in epi)})"
        )
        for trait, _, _, _, (missed, false_max), _ in rows[1:]:
            if len(missed):
                print(
                    f"    trait {trait}: missed true pairs have |E| "
                    f"{' '.join(f'{m:.4f}' for m in missed)}; largest |estimate| of a "
                    f"non-pair {false_max:.4f}"
                )
    else:
        slopes = [r[1].slope for r in rows]
        print(
            f"  additive slope >= 0.9, every trait: {check(min(slopes) >= 0.9)} "
            f"(slopes {' '.join(f'{s:.3f}' for s in slopes)})"
        )
        tested = [r[5].slope for r in rows]
        print(
            f"  the same of the trait's estimates (additive_estimates_): "
            f"{check(min(tested) >= 0.9)} (slopes {' '.join(f'{s:.3f}' for s in tested)})"
        )
        epi = [r[2] for r in rows[2:]]
        print(
            f"  top-32 precision >= 0.9, traits 3-5: {check(all(e.precision >= 0.9 for e in epi))} "
            f"(precision {' '.join(f'{e.precision:.2f}' for e in epi)})"
        )
    worst = {c: max(r[3][c] for r in rows) for c in COMPONENTS}
    print(
        f"  variance components within 0.03, every trait: "
        f"{check(max(worst.values()) <= 0.03)} "
        f"(largest |error| {', '.join(f'{c} {v:.3f}' for c, v in worst.items())})"
    )


def speed(args):
    data = load_qhaplo()
    n = 2000 if args.quick else 10000
    n_loop = 200 if args.quick else 1000  # the loop takes minutes: timed on a subset
    G = data.genotypes[:n]
    net = NeuralGPRegressor(
        module__hidden_sizes=(1024, 1024),
        module__activation="leaky_relu",
        module__negative_slope=0.01,
        max_epochs=1 if args.quick else 3,
        random_state=0,
    )
    pipe = make_pipeline(GenotypeEncoder(), net).fit(
        data.genotypes[data.train], data.phenotypes[data.train]
    )
    device = args.device
    module = pipe[-1].module_.to(device)
    X = torch.as_tensor(pipe[0].transform(G), dtype=torch.float32, device=device)
    p, h, k = X.shape[1], 1024, data.phenotypes.shape[1]
    bs = args.batch_size

    def loop():
        # the published reference: one full Jacobian per sample
        return [torch.autograd.functional.jacobian(module, X[i : i + 1]) for i in range(n_loop)]

    def forward_backward():
        for s in range(0, n, bs):
            module.zero_grad()
            module(X[s : s + bs]).sum().backward()
        module.zero_grad()

    A = torch.ones(n * k, h, device=device)

    def gemm():
        return A @ module.layers[2].weight

    t_loop = best_time(loop, 1, device) * n / n_loop
    t_fb = best_time(forward_backward, 3, device)
    t_auto = best_time(
        lambda: equivalent_linear_map(module, X, batch_size=bs, method="autograd"), 3, device
    )
    t_closed = best_time(lambda: equivalent_linear_map(module, X, batch_size=bs), 3, device)
    t_gemm = best_time(gemm, 3, device)
    J, residual = equivalent_linear_map(module, X, batch_size=bs, return_residual=True)
    J_loop = torch.cat([j.reshape(1, k, p) for j in loop()[:50]]).cpu().numpy()
    agree = np.abs(J[:50] - J_loop).max()

    floor_macs = n * (p * h + h * h + h * k) + n * k * (h * h + h * p)
    fb_macs = 3 * n * (p * h + h * h + h * k)
    gemm_rate = n * k * h * h / t_gemm
    print(f"\n=== speed: 64-1024-1024-5 LeakyReLU(0.01), {n} samples, batch {bs} ===")
    print(
        f"device {device}; threads {torch.get_num_threads()}; "
        f"max ELM residual {residual.max():.1e}; "
        f"max |closed form - published loop| {agree:.1e}"
    )
    header = f"{'method':<44} {'time s':>8} {'vs loop':>8} {'vs f+b':>7} {'GMAC/s':>7}"
    print(header)
    print("-" * len(header))
    rows = [
        (
            "published per-sample jacobian loop"
            + ("" if n_loop == n else f" ({n_loop} timed, x{n // n_loop})"),
            t_loop,
            None,
        ),
        ("plain forward + backward (weight grads)", t_fb, fb_macs),
        ("ELM, autograd, one backward per output", t_auto, floor_macs),
        ("ELM, closed form W D W D W (default)", t_closed, floor_macs),
    ]
    for name, t, macs in rows:
        rate = f"{macs / t / 1e9:7.1f}" if macs else f"{'-':>7}"
        print(f"{name:<44} {t:8.3f} {t_loop / t:7.0f}x {t / t_fb:6.2f}x {rate}")
    print(
        f"floor: {floor_macs / 1e9:.1f} G multiply-adds (forward + {k} input-only backward "
        f"passes); at the machine's bare-GEMM rate of {gemm_rate / 1e9:.1f} GMAC/s that is "
        f"{floor_macs / gemm_rate:.3f} s: the closed form runs at "
        f"{floor_macs / gemm_rate / t_closed:.0%} of it"
    )
    print(
        f"targets: >= 50x faster than the loop: {check(t_loop / t_closed >= 50)} "
        f"({t_loop / t_closed:.0f}x); <= 3x one forward + backward: "
        f"{check(t_closed / t_fb <= 3)} ({t_closed / t_fb:.2f}x)"
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer epochs and samples")
    parser.add_argument("--random-state", type=int, default=0,
                        help="seed of the network (default: 0)")
    parser.add_argument("--no-accuracy", action="store_true", help="skip the accuracy tables")
    parser.add_argument("--no-noisy", action="store_true", help="skip load_qhaplo(h2=0.25)")
    parser.add_argument("--no-clean", action="store_true", help="skip load_qhaplo() (H2 = 0.999)")
    parser.add_argument("--no-speed", action="store_true", help="skip the speed table")
    parser.add_argument("--batch-size", type=int, default=1024, help="batch for the speed table")
    parser.add_argument("--device", default="cpu", help="torch device of the speed table, e.g. "
                        "cuda (the network is trained on the CPU, then moved)")
    parser.add_argument("--reference", action="store_true", help="also the top-32 precision of "
                        "least squares and LassoCV on all loci and pairwise products (slow) "
                        "and the variance components of REML GBLUP (A + AA)")
    add_settings_option(parser, "for the accuracy runs")
    add_threads_option(parser, help="torch intra-op threads (training is bit-reproducible "
                       "only at a fixed count; 1 avoids thrashing on a shared machine)")
    args = parser.parse_args()
    set_threads(args.threads)
    torch.manual_seed(0)
    if not args.no_accuracy:
        if not args.no_clean:
            accuracy(None, args)
        if not args.no_noisy:
            accuracy(0.25, args)
    if not args.no_speed:
        speed(args)


if __name__ == "__main__":
    main()
