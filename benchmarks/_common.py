"""What the benchmark scripts share: options, threads, timing, the generating basis, the truth.

The scripts import it as a sibling module (``from _common import ...``), which works when a
script is run as ``python benchmarks/<name>.py``: Python puts the script's folder on the path.
"""

import argparse
import ast
import time

import numpy as np
from sklearn.linear_model import LassoCV
from sklearn.metrics import r2_score

from sklearn_elm.metrics import true_variance_components


# ---------------------------------------------------------------- command-line options
def parse_settings(pairs):
    """``key=value`` strings as NeuralGPRegressor parameters (``L1Loss`` -> torch.nn.L1Loss)."""
    params = {}
    for pair in pairs or []:
        key, _, value = pair.partition("=")
        try:
            params[key] = ast.literal_eval(value)
        except (ValueError, SyntaxError):
            import torch

            params[key] = getattr(torch.nn, value)
    return params


def add_settings_option(parser, purpose):
    """``--set KEY=VALUE`` (repeatable), read with :func:`parse_settings`."""
    parser.add_argument(
        "--set",
        action="append",
        metavar="KEY=VALUE",
        help=f"NeuralGPRegressor parameter {purpose}, e.g. module__hidden_sizes='(1024, 1024)', "
        "path_penalty=0.02 or criterion=L1Loss (repeatable)",
    )


def positive_int(text):
    """An argparse type: an integer of at least 1."""
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text}")
    return value


def add_threads_option(parser, default=None, help="torch intra-op threads"):
    """``--threads N``, applied with :func:`set_threads`."""
    parser.add_argument("--threads", type=positive_int, default=default, help=help)


def set_threads(threads):
    """Set torch's intra-op threads and the BLAS threads of numpy and scipy (for the rest of
    the process); None leaves the defaults."""
    if threads is not None:
        import torch
        from threadpoolctl import threadpool_limits

        torch.set_num_threads(threads)
        threadpool_limits(limits=threads)


# ---------------------------------------------------------------- timing
def timed(fit, repeats=1):
    """Run ``fit()`` ``repeats`` times; return its last result and the fastest wall time."""
    best = np.inf
    for _ in range(repeats):
        start = time.perf_counter()
        result = fit()
        best = min(best, time.perf_counter() - start)
    return result, best


def best_time(fn, repeat, device="cpu"):
    """Shortest wall time of ``repeat`` calls (after one warm-up call on an accelerator)."""
    import torch

    def sync():
        kind = torch.device(device).type
        if kind == "cuda":
            torch.cuda.synchronize(device)
        elif kind != "cpu":
            torch.accelerator.synchronize()  # torch >= 2.6

    if torch.device(device).type != "cpu":
        fn()
    best = np.inf
    for _ in range(repeat):
        sync()
        start = time.perf_counter()
        fn()
        sync()
        best = min(best, time.perf_counter() - start)
    return best


# ---------------------------------------------------------------- scores and reference fits
def test_r2(Y_test, pred):
    """Test r2 of each column (trait)."""
    return np.array([r2_score(Y_test[:, t], pred[:, t]) for t in range(Y_test.shape[1])])


def encode(genotypes, ploidy=1):
    """``z = 2 g / ploidy - 1``: the coding of ``GenotypeEncoder()`` and of the simulator."""
    return genotypes * (2.0 / ploidy) - 1.0


def pair_products(Z):
    """Every pairwise product ``z_i z_j`` (i < j): the pair part of the generating basis."""
    rows, cols = np.triu_indices(Z.shape[1], 1)
    return Z[:, rows] * Z[:, cols]


def fit_lasso(F, y):
    """LassoCV over 20 penalties from the smallest that zeroes every coefficient down 1000-fold
    (an explicit grid: an integer ``alphas`` needs scikit-learn >= 1.7)."""
    top = np.abs((F - F.mean(0)).T @ (y - y.mean())).max() / len(y)
    return LassoCV(cv=5, alphas=top * np.logspace(0, -3, 20)).fit(F, y)


# ---------------------------------------------------------------- the simulated truth
def realised_truth(data, rows, ploidy=1):
    """Realised variance components of a simulation on ``rows`` (``z = 2 g / ploidy - 1``).

    The orthogonal decomposition of :func:`sklearn_elm.metrics.true_variance_components`, the
    truth every benchmark scores against; it reads the simulated effects, which no estimator
    does.
    """
    return true_variance_components(
        encode(data.genotypes[rows], ploidy), data.additive_effects, data.epistasis,
        data.phenotypes[rows],
    )
