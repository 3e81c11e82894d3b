"""Time and peak memory of each step on simulated PLINK panels, over a grid of n and p.

Per cell (n samples, p loci), each step runs in a process of its own, so that its peak
resident memory (``ru_maxrss``) is its own (with Python, torch and sklearn_elm loaded: ``base``):

1. ``simulate``: random diploid genotypes (allele frequencies uniform on [0.05, 0.5]) and a
   trait (``min(p, 100)`` additive QTL, pairs of neighbouring QTL, h2 = 0.5) written straight
   to a variant-major PLINK 1 ``.bed`` (+ ``.fam``, ``.bim``) a block of variants at a time:
   memory ``O(n x block)``, never ``O(n x p)``.  The bytes are packed here, as bed-reader's
   ``create_bed`` takes a whole variant per call;
2. ``train``: ``make_pipeline(GenotypeEncoder(ploidy=2), NeuralGPRegressor(random_state=0,
   max_epochs=--train-epochs))`` on the first ``min(n, --train-samples)`` samples of the
   ``.bed`` (``0``: all), read out of core: the file opened by ``open_plink`` (a dask view of
   its first samples where fewer are asked), trained a chunk of samples at a time;
3. ``decompose``: ``ELMDecomposer(pipe, prefit=True, epistasis="regression",
   components="network")`` on the whole file, opened lazily by ``open_plink`` and streamed in
   batches of ``--batch-size`` samples;
4. ``pairs``: ``ELMDecomposer(pipe, prefit=True, epistasis="screened",
   components="screened")`` on the whole file with the trait, the path past the dense
   ``p x p`` arrays: the samples kept as int8 codes, the pairs scanned blockwise, the top
   1,000 pairs per output tested (``pair_tests_``; ``top/tested`` in the table);
5. ``ELM``: the map of that network on ``min(n, --elm-samples)`` samples by the closed form
   (``equivalent_linear_map``), the published per-sample ``torch.autograd.functional.jacobian``
   loop (timed on ``--loop-samples`` samples and scaled up: ``x`` in the table) and
   ``torch.func.vmap(torch.func.jacrev(module))`` in the same batches; ``agree`` is the largest
   difference of those two from the closed form.

A step whose known memory need (:func:`needs_gb`) passes ``--max-gb``, or a cell whose ``.bed``
would not fit on the disk, is skipped with the reason printed.  After the table: the growth of
time with n and with p, and the issue's targets on the cells present.

Usage::

    python benchmarks/scale.py              # n in {1e4, 5e4, 2e5} x p in {1e3, 1e4, 5e4}
    python benchmarks/scale.py --n 2000 10000 --p 500 1000 --threads 2
    python benchmarks/scale.py --n 50000 --p 10000 --device cuda
    python benchmarks/scale.py --n 20000 --p 50000 --steps pairs   # top pairs at p = 50,000
"""

import argparse
import json
import os
import pickle
import resource
import shutil
import subprocess
import sys
import time
from itertools import pairwise
from pathlib import Path

import numpy as np
from _common import add_threads_option, best_time, positive_int, set_threads

GRID_N = (10_000, 50_000, 200_000)
GRID_P = (1_000, 10_000, 50_000)
TRAIN_SAMPLES = 5000
#: Dense p x p float64 arrays alive at the peak of the regression/network decomposition of one
#: output: the sums, the design, the slopes, E and its variance, updated in place (7.2 measured
#: with tracemalloc at p = 3000, beside the batches).
BASE_GB = 0.5  # Python, torch and sklearn_elm imported
BLOCK_ENTRIES = 2**22  # genotypes simulated per block of variants
CODES = np.array([3, 2, 0], dtype=np.uint8)  # A1 count 0, 1, 2 -> PLINK 2-bit codes 11, 10, 00
STEPS = ("simulate", "train", "decompose", "pairs", "elm")
GB = 2**30
BLAS_THREADS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


# ---------------------------------------------------------------- simulation to disk
def pack_bed(G):
    """Variant-major ``.bed`` bytes of a block of A1 counts ``G`` (n, m): 4 samples a byte,
    the first in the low bits, the padding after the last sample zero (as PLINK writes)."""
    n, m = G.shape
    codes = np.zeros((m, -(-n // 4) * 4), dtype=np.uint8)
    codes[:, :n] = CODES[G.T]
    codes = codes.reshape(m, -1, 4)
    return (codes[..., 0] | codes[..., 1] << 2 | codes[..., 2] << 4 | codes[..., 3] << 6).tobytes()


def write_panel(bed, n, p, rng, h2=0.5):
    """Write ``bed`` (+ ``.fam``, ``.bim``) a block of variants at a time; return the trait.

    The genetic value ``g = sum_i a_i z_i + sum_pairs e z_j z_(j+1)``, ``z = count - 1``, is
    added block by block (a pair starts at an even locus and blocks have even length, so both
    loci of a pair are in one block); the noise makes ``h2`` of the trait's variance genetic.
    """
    freq = rng.uniform(0.05, 0.5, p)
    additive = np.zeros(p)
    qtl = np.sort(rng.choice(p, min(p, 100), replace=False))
    additive[qtl] = rng.standard_normal(qtl.size)
    firsts = np.unique(qtl[:40] // 2 * 2)
    firsts = firsts[firsts + 1 < p]
    pair_effects = rng.standard_normal(firsts.size)
    block = max(2, min(p, BLOCK_ENTRIES // n) // 2 * 2)
    g = np.zeros(n)
    with open(bed, "wb") as f:
        f.write(bytes([0x6C, 0x1B, 0x01]))
        for j0 in range(0, p, block):
            j1 = min(j0 + block, p)
            G = rng.binomial(2, freq[j0:j1], size=(n, j1 - j0)).astype(np.int8)
            Z = G - 1.0
            g += Z @ additive[j0:j1]
            here = (firsts >= j0) & (firsts < j1)
            for j, e in zip(firsts[here] - j0, pair_effects[here], strict=True):
                g += e * Z[:, j] * Z[:, j + 1]
            f.write(pack_bed(G))
    bed.with_suffix(".fam").write_text("".join(f"f{i} s{i} 0 0 0 -9\n" for i in range(n)))
    bed.with_suffix(".bim").write_text("".join(f"1 v{j} 0 {j + 1} A C\n" for j in range(p)))
    noise = rng.standard_normal(n) * np.sqrt(g.var() * (1 - h2) / h2)
    return g + noise


# ---------------------------------------------------------------- the steps (child processes)
def gpu_peak(device, reset=False):
    """Peak GPU memory allocated (GB) since the last reset; None off CUDA."""
    import torch

    if torch.device(device).type != "cuda":
        return None
    if reset:
        torch.cuda.reset_peak_memory_stats(device)
    return torch.cuda.max_memory_allocated(device) / GB


def simulate_step(n, p, cell, args):
    cell.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    y = write_panel(cell / "panel.bed", n, p, np.random.default_rng(args.seed))
    np.save(cell / "trait.npy", y)
    return {"time": time.perf_counter() - start}


def train_step(n, p, cell, args):
    from sklearn.pipeline import make_pipeline

    from sklearn_elm import GenotypeEncoder, NeuralGPRegressor
    from sklearn_elm.datasets import open_plink

    m = train_samples(n, args)
    y = np.load(cell / "trait.npy")[:m]
    start = time.perf_counter()
    G = open_plink(cell / "panel.bed", num_threads=args.threads)
    if m < n:  # a lazy view of the first m samples
        G = G.to_dask()[:m]
    net = NeuralGPRegressor(random_state=0, max_epochs=args.train_epochs, device=args.device)
    pipe = make_pipeline(GenotypeEncoder(ploidy=2), net).fit(G, y)
    elapsed = time.perf_counter() - start
    with open(cell / "pipe.pkl", "wb") as f:
        pickle.dump(pipe, f)
    return {"time": elapsed, "samples": m}


def train_samples(n, args):
    """Samples the ``train`` step fits: ``--train-samples`` (0 for all), at most ``n``."""
    return n if args.train_samples == 0 else min(n, args.train_samples)


def fit_prefit(cell, args, **estimators):
    """``ELMDecomposer(pipe, prefit=True, **estimators)`` fitted on the whole ``.bed`` (read
    by ``open_plink``) and the trait, and its wall time; the warnings of a network trained
    two epochs (its parts need not add up) and of the screened fit past ``p > n / 2`` (the
    scan's and the locus choice's) are silenced."""
    import warnings

    from sklearn_elm import ELMDecomposer
    from sklearn_elm.datasets import open_plink

    X = open_plink(cell / "panel.bed", num_threads=args.threads)
    y = np.load(cell / "trait.npy")
    with open(cell / "pipe.pkl", "rb") as f:
        pipe = pickle.load(f)
    gpu_peak(args.device, reset=True)
    dec = ELMDecomposer(pipe, prefit=True, batch_size=args.batch_size, **estimators)
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        dec.fit(X, y)
    return dec, time.perf_counter() - start


def decompose_step(n, p, cell, args):
    dec, elapsed = fit_prefit(cell, args, epistasis="regression", components="network")
    outputs = sum(a.nbytes for a in (dec.additive_effects_, dec.epistasis_matrix_,
                                     dec.epistasis_variance_))
    return {"time": elapsed, "outputs_gb": outputs / GB, "gpu_gb": gpu_peak(args.device),
            "residual": float(np.max(dec.elm_residual_))}


def pairs_step(n, p, cell, args):
    dec, elapsed = fit_prefit(cell, args, epistasis="screened", components="screened")
    tests = dec.pair_tests_
    return {"time": elapsed, "gpu_gb": gpu_peak(args.device), "top": len(tests.pairs),
            "tested": int(tests.n_tests),
            "significant": int(len(dec.significant_pairs(0.05, as_frame=False)["i"]))}


def elm_inputs(cell, n, args):
    """The first ``min(n, --elm-samples)`` samples encoded, as float32 on the device (read
    and encoded in blocks, so that no float64 copy of them all is made), and the module."""
    import torch

    from sklearn_elm.datasets import open_plink

    with open(cell / "pipe.pkl", "rb") as f:
        pipe = pickle.load(f)
    X = open_plink(cell / "panel.bed", num_threads=args.threads)
    e = min(n, args.elm_samples)
    Z = torch.empty((e, X.shape[1]), dtype=torch.float32, device=args.device)
    for s in range(0, e, 4096):
        block = pipe[:-1].transform(X[s : min(s + 4096, e)])
        Z[s : s + len(block)] = torch.as_tensor(block, dtype=torch.float32)
    return pipe[-1].module_.to(args.device).eval(), Z


def vmap_jacrev(module, X, batch_size):
    """``torch.func.vmap(torch.func.jacrev(module))`` over batches, gathered on the host as
    the closed form's are: (n, k, p)."""
    import torch

    jac = torch.func.vmap(torch.func.jacrev(module))
    return torch.cat([jac(X[s : s + batch_size]).detach().cpu()
                      for s in range(0, len(X), batch_size)]).numpy()


def jacobian_loop(module, X):
    """The published per-sample loop: one full ``torch.autograd.functional.jacobian`` each."""
    import torch

    return [torch.autograd.functional.jacobian(module, X[i : i + 1]) for i in range(len(X))]


def elm_step(n, p, cell, args):
    from panels import PeakMemory

    from sklearn_elm import equivalent_linear_map

    module, X = elm_inputs(cell, n, args)
    n_loop = min(args.loop_samples, len(X))
    methods = {
        "closed": lambda Z: equivalent_linear_map(module, Z, batch_size=args.batch_size),
        "vmap": lambda Z: vmap_jacrev(module, Z, args.batch_size),
        "loop": lambda Z: jacobian_loop(module, Z),
    }
    result = {"samples": len(X), "loop_samples": n_loop}
    for name, fn in methods.items():
        fn(X[:2])  # the first call sets up what later calls reuse (torch.func's takes seconds)
        inputs = X[:n_loop] if name == "loop" else X
        gpu_peak(args.device, reset=True)
        with PeakMemory() as memory:
            elapsed = best_time(lambda fn=fn, inputs=inputs: fn(inputs),
                                1 if name == "loop" else args.repeat, args.device)
        result[name] = {"time": elapsed * len(X) / len(inputs), "peak_gb": memory.peak / GB,
                        "gpu_gb": gpu_peak(args.device)}
    check = X[: min(n_loop, 64)]
    reference = methods["closed"](check)
    looped = np.stack([j.reshape(reference.shape[1:]).cpu().numpy()
                       for j in methods["loop"](check)])
    result["agree"] = float(max(np.abs(methods["vmap"](check) - reference).max(),
                                np.abs(looped - reference).max()))
    return result


def run_child(args):
    """One step of one cell, its result printed as a ``RESULT {json}`` line."""
    set_threads(args.threads)
    n, p = args.cell
    step = {"simulate": simulate_step, "train": train_step, "decompose": decompose_step,
            "pairs": pairs_step, "elm": elm_step}[args.step]
    with open("/proc/self/statm") as f:  # resident memory before the step
        base = int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / GB
    result = step(n, p, cell_dir(args, n, p), args)
    result.setdefault("peak_gb", resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / GB)
    result["base_gb"] = base
    print("RESULT " + json.dumps(result), flush=True)


# ---------------------------------------------------------------- the driver
def cell_dir(args, n, p):
    return Path(args.dir) / f"n{n}_p{p}"


def bed_bytes(n, p):
    return 3 + p * -(-n // 4)


def needs_gb(n, p, args):
    """Memory each step is known to need, in GB, :data:`BASE_GB` included: ``simulate`` a
    block of variants; ``train`` two chunks of samples and the pair seeding's sample, about
    six 128 MiB blocks;
    ``decompose`` the p x p float64 arrays of ``sklearn_elm._lazy.pairwise_arrays`` (for
    any codes) and a batch's arrays;
    ``pairs`` :func:`screened_bytes`; ``elm``
    the inputs (float32) and the map twice (its batches and their concatenation)."""
    from sklearn_elm._lazy import pairwise_bytes

    e, b = min(n, args.elm_samples), args.batch_size
    return {
        "simulate": BASE_GB + (BLOCK_ENTRIES * 12 + 4 * 8 * n) / GB,
        "train": BASE_GB + 6 * 128 * 2**20 / GB,
        "decompose": BASE_GB + (pairwise_bytes(p, 1) + 10 * 8 * b * p) / GB,
        "pairs": BASE_GB + screened_bytes(n, p) / GB,
        "elm": BASE_GB + e * p * 4 * 3 / GB,
    }


def screened_bytes(n, p):
    """What the screened fit holds: the samples as int8 codes, and its scans, design and
    Gram matrices (:func:`sklearn_elm._lazy.kept_bytes`)."""
    from sklearn_elm._lazy import kept_bytes

    return kept_bytes(n, p, 1, debiased=True, screened=True, z_bytes=1)


def skip_reasons(n, p, args):
    """``{step: reason}`` for the steps of a cell that cannot run here."""
    free = shutil.disk_usage(args.dir).free
    if bed_bytes(n, p) + 2**30 > free:
        reason = (f"the .bed takes {bed_bytes(n, p) / GB:.1f} GB; {free / GB:.1f} GB free "
                  f"under {args.dir} (--dir)")
        return dict.fromkeys(STEPS, reason)
    reasons = {step: "not in --steps" for step in STEPS[2:] if step not in args.steps}
    for step, need in needs_gb(n, p, args).items():
        if step in reasons:
            continue
        if need > args.max_gb:
            reasons[step] = f"needs ~{need:.1f} GB, over --max-gb {args.max_gb:.1f}"
            if step == "decompose":
                from sklearn_elm._lazy import pairwise_arrays

                reasons[step] += (f" ({pairwise_arrays(1)} dense p x p float64 arrays of "
                                  f"{8 * p**2 / GB:.2f} GB: the regression path's sums, "
                                  "design, slopes and outputs)")
    return reasons


def run_step(step, n, p, args):
    """Run one step in a child process (given this run's options); its result, or
    ``{"error": why}``."""
    cmd = [sys.executable, __file__, *sys.argv[1:], "--step", step, "--cell", str(n), str(p)]
    env = None
    if args.threads:  # numpy's and scipy's BLAS too (set_threads reaches torch only): an
        # eigendecomposition on more BLAS threads than free cores runs many times slower
        env = dict(os.environ, **dict.fromkeys(BLAS_THREADS, str(args.threads)))
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=args.step_timeout,
                              env=env)
    except subprocess.TimeoutExpired:
        return {"error": f"{step} ran past --step-timeout {args.step_timeout} s"}
    found = [json.loads(line[7:]) for line in proc.stdout.splitlines()
             if line.startswith("RESULT ")]
    if proc.returncode == 0 and found:
        return found[-1]
    if proc.returncode == -9:
        return {"error": f"{step} was killed (SIGKILL: out of memory?)"}
    tail = (proc.stderr.strip().splitlines() or ["no output"])[-1]
    return {"error": f"{step} failed (exit {proc.returncode}): {tail}"}


def run_cell(n, p, args):
    """Every step of a cell, skipped or failed ones as ``{"skip": reason}``."""
    reasons = skip_reasons(n, p, args)
    cell = cell_dir(args, n, p)
    cell.mkdir(parents=True, exist_ok=True)
    results = {}
    try:
        for step in STEPS:
            result = {"skip": reasons[step]} if step in reasons else run_step(step, n, p, args)
            result = {"skip": result["error"]} if "error" in result else result
            if "skip" in result and step in ("simulate", "train"):  # the later steps read
                made = "panel" if step == "simulate" else "network"  # what it makes
                for later in STEPS[STEPS.index(step) + 1 :]:
                    reasons.setdefault(later, f"no {made}: the {step} step did not run")
            results[step] = result
    finally:
        if not args.keep:
            shutil.rmtree(cell, ignore_errors=True)
    return results


# ---------------------------------------------------------------- printing
def seconds(t):
    return f"{t:.2f}" if t < 10 else f"{t:.1f}" if t < 100 else f"{t:.0f}"


def cost(result, notes, gpu=True):
    """``time s / peak GB`` of a step, or ``skip [k]`` with its reason noted as footnote k."""
    if "skip" in result:
        if result["skip"] not in notes:
            notes.append(result["skip"])
        return f"skip [{notes.index(result['skip']) + 1}]"
    text = f"{seconds(result['time'])} s {result['peak_gb']:.2f} GB"
    if gpu and result.get("gpu_gb") is not None:
        text += f" gpu {result['gpu_gb']:.2f}"
    return text


COLUMNS = (("n", 7), ("p", 6), (".bed GB", 7), ("simulate", 16), ("train", 16),
           ("decompose", 24), ("top pairs (screened)", 28), ("ELM on", 8), ("closed form", 20),
           ("per-sample loop", 16), ("vmap(jacrev)", 20), ("loop/cf", 7), ("vmap/cf", 7),
           ("agree", 7))


def top_pairs(result, notes):
    """The screened step's cost and ``top / tested`` pairs (per output)."""
    text = cost(result, notes)
    return text if "skip" in result else f"{text} {result['top']}/{result['tested']:.0e}"


def table_line(values):
    return "| " + " | ".join(f"{v:>{w}}" for v, (_, w) in zip(values, COLUMNS, strict=True)) + " |"


def print_row(n, p, results, notes):
    elm = results["elm"]
    values = [n, p, f"{bed_bytes(n, p) / GB:.2f}", cost(results["simulate"], notes),
              cost(results["train"], notes), cost(results["decompose"], notes),
              top_pairs(results["pairs"], notes)]
    if "skip" in elm:
        values += [cost(elm, notes)] + ["-"] * 6
    else:
        loop = elm["loop"]
        values += [elm["samples"], cost(elm["closed"], notes),
                   f"{seconds(loop['time'])} s x{elm['samples'] / elm['loop_samples']:.0f}",
                   cost(elm["vmap"], notes),
                   f"{loop['time'] / elm['closed']['time']:.0f}x",
                   f"{elm['vmap']['time'] / elm['closed']['time']:.1f}x", f"{elm['agree']:.0e}"]
    print(table_line(values), flush=True)


def step_time(results, step):
    result = results.get(step, {})
    if step == "elm":
        result = result.get("closed", {})
    return result.get("time")


def print_growth(results, args):
    """time(x2) / time(x1) against x2 / x1 for consecutive n (each p) and p (each n)."""
    print(f"\n=== growth of time with n and p (device {args.device}) ===")
    print("decompose streams O(n p^2) sums (the p x p moments); simulate writes O(n p); the ELM "
          f"(closed form, on min(n, {args.elm_samples}) samples) costs O(n h p)")
    for axis, steps in (("n", ("simulate", "decompose")), ("p", ("simulate", "decompose", "elm"))):
        at, other = "np".index(axis), "pn"["np".index(axis)]
        for step in steps:
            for fixed in sorted({key[1 - at] for key in results}):
                times = sorted((key[at], step_time(cell, step)) for key, cell in results.items()
                               if key[1 - at] == fixed and step_time(cell, step))
                for (x1, t1), (x2, t2) in pairwise(times):
                    ratio, grow = x2 / x1, t2 / t1
                    line = (f"  {step:<9} {other}={fixed}: {axis} {x1} -> {x2} (x{ratio:.2f}): "
                            f"time x{grow:.2f}, {axis}^{np.log(grow) / np.log(ratio):.2f}")
                    if axis == "n":
                        line += f", {grow / ratio - 1:+.0%} from linear"
                    print(line)


def print_targets(results, args):
    """The issue's targets on the cells present (ok / MISS)."""
    from decomposition import check

    lines = []
    for p in sorted({p for _, p in results}):
        t1 = step_time(results.get((50_000, p), {}), "decompose")
        t2 = step_time(results.get((200_000, p), {}), "decompose")
        if t1 and t2:
            off = t2 / t1 / 4 - 1
            lines.append(f"decompose time within 20 % of linear from n = 5e4 to 2e5, p = {p}: "
                         f"{check(abs(off) <= 0.2)} ({off:+.0%})")
    limit = 60 if args.device.startswith("cuda") else 600
    for n, memory in ((50_000, 4), (200_000, 2)):
        dec = results.get((n, 10_000), {}).get("decompose", {})
        if "time" not in dec:
            continue
        allowed = memory + dec["outputs_gb"]
        text = f"n = {n}, p = 10,000: peak {dec['peak_gb']:.1f} GB <= {memory} GB + outputs "
        text += f"{dec['outputs_gb']:.1f} GB: {check(dec['peak_gb'] <= allowed)}"
        if n == 50_000:
            text += f"; time {dec['time']:.0f} s <= {limit} s: {check(dec['time'] <= limit)}"
        lines.append(text)
    top = results.get((20_000, 50_000), {}).get("pairs", {})
    if "time" in top:
        lines.append(f"n = 20,000, p = 50,000: top {top['top']} pairs per output in "
                     f"{top['time']:.0f} s <= 1800 s: {check(top['time'] <= 1800)}; peak "
                     f"{top['peak_gb']:.1f} GB <= 8 GB: {check(top['peak_gb'] <= 8)}")
    if lines:
        print(f"\n=== targets (device {args.device}) ===")
        print("\n".join("  " + line for line in lines))


def available_gb():
    try:
        import psutil
    except ImportError:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE") / GB
    return psutil.virtual_memory().available / GB


def run_grid(args):
    ns, ps = sorted(set(args.n)), sorted(set(args.p))
    Path(args.dir).mkdir(parents=True, exist_ok=True)
    print(f"=== scale: time and peak memory per step (device {args.device}; threads "
          f"{args.threads or 'torch default'} of {os.cpu_count()} cores; "
          f"{available_gb():.1f} GB available, --max-gb {args.max_gb:.1f}; load average "
          f"{os.getloadavg()[0]:.1f} at start) ===")
    print("each step in a process of its own: wall time (s) and peak resident memory "
          "(ru_maxrss, GB); train on min(n, 5000) samples, 2 epochs; decompose: "
          "epistasis='regression', components='network', the whole .bed through open_plink, "
          f"batches of {args.batch_size}; top pairs: epistasis='screened', "
          "components='screened' with the trait, top/tested pairs per output; "
          f"ELM on min(n, {args.elm_samples}) samples: the "
          f"per-sample loop timed on {args.loop_samples} and scaled up (x below)")
    print(table_line([name for name, _ in COLUMNS]))
    print(table_line(["-" * w for _, w in COLUMNS]).replace(" ", "-"))
    results, notes = {}, []
    for n in ns:
        for p in ps:
            results[n, p] = run_cell(n, p, args)
            print_row(n, p, results[n, p], notes)
    for k, note in enumerate(notes, start=1):
        print(f"[{k}] {note}")
    bases = [r["base_gb"] for cell in results.values() for r in cell.values() if "base_gb" in r]
    if bases:
        print(f"base: resident memory of a step's process before it began, "
              f"{min(bases):.2f}-{max(bases):.2f} GB (included in the peaks)")
    print_growth(results, args)
    print_targets(results, args)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=positive_int, nargs="+", default=GRID_N, help="samples")
    parser.add_argument("--p", type=positive_int, nargs="+", default=GRID_P, help="loci")
    parser.add_argument("--max-gb", type=float, default=None,
                        help="skip steps known to need more memory (default: available now)")
    parser.add_argument("--device", default="cpu", help="torch device, e.g. cuda")
    parser.add_argument("--batch-size", type=positive_int, default=1024,
                        help="samples per batch of the decomposition and the ELM")
    parser.add_argument("--elm-samples", type=positive_int, default=10_000)
    parser.add_argument("--train-samples", type=int, default=TRAIN_SAMPLES,
                        help="samples the network trains on (0: all), read out of core")
    parser.add_argument("--train-epochs", type=positive_int, default=2,
                        help="epochs of the train step")
    parser.add_argument("--loop-samples", type=positive_int, default=200,
                        help="samples the per-sample loop is timed on")
    parser.add_argument("--repeat", type=positive_int, default=1,
                        help="best of this many runs of the closed form and vmap")
    parser.add_argument("--seed", type=int, default=0, help="seed of the simulation")
    parser.add_argument("--dir", default="/tmp/sklearn_elm_scale",
                        help="where the panels are written (removed after each cell)")
    parser.add_argument("--keep", action="store_true", help="keep the panels")
    parser.add_argument("--step-timeout", type=float, default=None,
                        help="seconds a step's process (imports included) may run before it is "
                        "stopped and reported")
    parser.add_argument("--steps", nargs="+", choices=STEPS[2:], default=STEPS[2:],
                        help="the steps to run after simulate and train")
    parser.add_argument("--step", choices=STEPS, help=argparse.SUPPRESS)
    parser.add_argument("--cell", type=int, nargs=2, help=argparse.SUPPRESS)
    add_threads_option(parser)
    args = parser.parse_args()
    if args.step:
        return run_child(args)
    args.max_gb = available_gb() if args.max_gb is None else args.max_gb
    run_grid(args)


if __name__ == "__main__":
    main()
