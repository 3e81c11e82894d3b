"""Speed of GBLUPRegressor at many more markers than samples, one table.

Each row simulates ``n`` diploid genotypes at ``p`` independent loci (0/1/2 dosages, allele
frequency 1/2) and a trait with an additive part from 20 QTL (``h2`` 0.4 of the phenotypic
variance), an additive-by-additive part from 5 products of two loci (0.2) and noise (0.4), and
fits ``GBLUPRegressor(model)`` on all samples.  Columns:

* ``fit s``: wall time of ``fit`` (kernels, eigendecomposition, REML and BLUP effects; with
  ``additive+epistatic`` that includes the p x p matrix of pairwise effects where ``p <= n``;
  past that they are kept as their factors, :class:`~sklearn_elm.FactoredPairMatrix`);
* ``peak GB``: the most memory the process held during ``fit`` above what it held before
  (its resident size, sampled every 10 ms);
* ``REML evals``: deviance evaluations, counted by wrapping the private likelihood functions
  of ``sklearn_elm._reml`` and ``sklearn_elm._kernel_reml``: ``chol + deriv`` on n x n kernels
  (Cholesky-only evaluations of the start grid and the final deviance, then evaluations with
  exact gradient and Hessian), else the number of ``reml_objective`` calls (with gradient);
* ``V_A V_AA V_E``, ``h2 H2``: the REML estimates, next to the simulated truth in the sample
  (``true h2 H2``).

Usage::

    python benchmarks/gblup_scale.py                          # n = 2000, p = 3000 and 12000
    python benchmarks/gblup_scale.py --sizes 200x5000 1000x3000 --models additive+epistatic
    python benchmarks/gblup_scale.py --sizes 2000x20000 --dask 5000   # a dask X, 5000 loci a chunk

The machine's load changes the times: on two shared cores, other processes can double them.
"""

import argparse
import threading
import time

import numpy as np

import sklearn_elm._reml as reml
from sklearn_elm import GBLUPRegressor

try:  # the n x n form; absent from versions that did not have it
    import sklearn_elm._kernel_reml as kernel_reml
except ImportError:
    kernel_reml = None

MODELS = ("additive", "additive+epistatic")


def size(text):
    """An argparse type: ``NxP`` as ``(n, p)``."""
    try:
        n, p = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected NxP such as 2000x12000, got {text}") from None
    if n < 10 or p < 10:
        raise argparse.ArgumentTypeError(f"need at least 10 samples and 10 loci, got {text}")
    return n, p


def simulate(n, p, rng, h2=(0.4, 0.2)):
    """Genotypes and a trait with exact additive and pairwise variances in the sample."""
    X = rng.integers(0, 3, size=(n, p)).astype(np.float64)
    Z = X - X.mean(axis=0)
    g_a = Z[:, rng.choice(p, 20, replace=False)] @ rng.standard_normal(20)
    pairs = rng.choice(p, size=(5, 2), replace=False)
    g_aa = sum(Z[:, i] * Z[:, j] for i, j in pairs)
    g_aa -= g_aa.mean()
    e = rng.standard_normal(n)
    parts = [g / g.std() * np.sqrt(v) for g, v in zip((g_a, g_aa, e), (*h2, 1 - sum(h2)),
                                                         strict=True)]
    y = sum(parts)
    v_a, v_aa = np.var(parts[0]), np.var(parts[1])
    return X, y, (v_a / np.var(y), (v_a + v_aa) / np.var(y))


def resident_bytes():
    """The process's resident memory now (Linux), or 0 where that is unknown."""
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * 4096
    except (OSError, ValueError, IndexError):
        return 0


class PeakMemory:
    """The most resident memory above that at the start, sampled every 10 ms while active."""

    def __enter__(self):
        self.start = self.peak = resident_bytes()
        self.running = True
        self.thread = threading.Thread(target=self._sample, daemon=True)
        self.thread.start()
        return self

    def _sample(self):
        while self.running:
            self.peak = max(self.peak, resident_bytes())
            time.sleep(0.01)

    def __exit__(self, *exc):
        self.running = False
        self.thread.join()
        self.peak = max(self.peak, resident_bytes())

    @property
    def gigabytes(self):
        return (self.peak - self.start) / 1e9


class Counter:
    """Counts the calls of module-level functions while it is active (a context manager)."""

    def __init__(self, targets):
        self.targets = [(module, name) for module, name in targets if module is not None]
        self.counts = {name: 0 for _, name in self.targets}

    def __enter__(self):
        self.saved = []
        for module, name in self.targets:
            original = getattr(module, name)
            self.saved.append((module, name, original))

            def counted(*args, _original=original, _name=name, **kwargs):
                self.counts[_name] += 1
                return _original(*args, **kwargs)

            setattr(module, name, counted)
        return self

    def __exit__(self, *exc):
        for module, name, original in self.saved:
            setattr(module, name, original)


def evaluations(counts):
    full = counts.get("kernel_reml_objective", 0)
    if full:
        return f"{counts['_profiled_deviance']} + {full}"
    return str(counts["reml_objective"])


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", nargs="+", type=size, default=[(2000, 3000), (2000, 12000)],
                        metavar="NxP", help="samples x loci (default: 2000x3000 2000x12000)")
    parser.add_argument("--models", nargs="+", choices=MODELS, default=list(MODELS),
                        help="GBLUPRegressor kernels (default: both)")
    parser.add_argument("--seed", type=int, default=0, help="simulation seed (default: 0)")
    parser.add_argument("--dask", type=int, metavar="LOCI", default=None,
                        help="fit on a dask array of the genotypes, LOCI loci per chunk (and "
                             "1,000 samples), on dask's local threads (default: in memory)")
    args = parser.parse_args()
    if args.dask is not None:
        import dask.array as da

    header = (f"{'n':>6} {'p':>6}  {'model':<19} {'fit s':>7} {'peak GB':>7}  {'REML evals':>12}  "
              f"{'V_A':>6} {'V_AA':>6} {'V_E':>6}  {'h2':>5} {'H2':>5}  {'true h2 H2':>10}")
    print(header)
    print("-" * len(header))
    for n, p in args.sizes:
        X, y, truth = simulate(n, p, np.random.default_rng(args.seed))
        if args.dask is not None:
            X = da.from_array(X, chunks=(1000, args.dask))
        for model in args.models:
            targets = [(reml, "reml_objective"), (kernel_reml, "kernel_reml_objective"),
                       (kernel_reml, "_profiled_deviance")]
            with Counter(targets) as counter, PeakMemory() as memory:
                start = time.perf_counter()
                vc = GBLUPRegressor(model).fit(X, y).variance_components_
                seconds = time.perf_counter() - start
            print(f"{n:>6} {p:>6}  {model:<19} {seconds:>7.1f} {memory.gigabytes:>7.2f}  "
                  f"{evaluations(counter.counts):>12}  "
                  f"{vc.additive:6.3f} {vc.epistatic:6.3f} {vc.residual:6.3f}  "
                  f"{vc.h2:5.3f} {vc.H2:5.3f}  {truth[0]:5.3f} {truth[1]:4.3f}", flush=True)
    print("REML evals: 'a + b' = Cholesky-only + with exact derivatives (n x n kernels), "
          "else calls of reml_objective")


if __name__ == "__main__":
    main()
