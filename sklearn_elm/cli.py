"""The ``sklearn-elm`` command line: train, decompose, compare with GBLUP, report.

::

    sklearn-elm run [--data qhaplo | PATH] [--phenotypes FILE] [--h2 FLOAT]
                    [--traits NAME ...] [--out DIR] [--hidden-sizes N ...]
                    [--max-epochs N] [--random-state N] [--threads N]
                    [--quiet] [--force]

``sklearn-elm`` with no arguments is ``sklearn-elm run`` on the bundled data.
The same runs as ``python -m sklearn_elm``.

Exit codes
----------
0
    Success: the report is complete.
1
    Unexpected failure (a bug): the traceback is printed.
2
    Bad usage or input: an unknown option, a missing or malformed file,
    samples that differ between the genotype and phenotype files, an unknown
    trait, or an existing non-empty report directory without ``--force``.
130
    Interrupted (Ctrl-C): no report is written.
"""

import argparse
import contextlib
import inspect
import platform
import signal
import sys
import threading
import time
import traceback
import warnings
import zlib
from pathlib import Path

import numpy as np
from sklearn.utils import Bunch
from skorch.callbacks import Callback

from . import __version__

EXIT_OK, EXIT_FAILURE, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130

#: The ELM decomposition and the epistatic GBLUP keep p x p matrices per trait.
MAX_LOCI = 4000

_EXIT_CODES = """\
exit codes:
  0    success
  1    unexpected failure (a bug; the traceback is printed)
  2    bad usage or input (missing or malformed file, sample mismatch,
       unknown trait, a trait constant in the training samples, too
       few samples or loci, existing report directory without --force)
  130  interrupted (Ctrl-C); no report is written
"""


class InputError(Exception):
    """A problem with the user's input or options: reported without traceback, exit 2."""


def _say(message):
    print(message, file=sys.stderr, flush=True)


class EpochProgress(Callback):
    """Print one line per training epoch: losses, validation r2, time.

    The network trains on standardised targets with the mean squared error,
    so ``1 - valid_loss`` is the validation r2 averaged over the traits.
    Printed to the standard error, which keeps the standard output for the
    summary tables.
    """

    def on_train_begin(self, net, **kwargs):
        self.start_ = time.perf_counter()
        self.max_epochs_ = net.max_epochs
        _say(f"{'epoch':>9}  {'train loss':>10}  {'valid loss':>10}  {'valid r2':>8}  "
             f"{'time':>6}  {'total':>6}")

    def on_epoch_end(self, net, **kwargs):
        row = net.history[-1]
        valid = row.get("valid_loss")
        best = "  *" if row.get("valid_loss_best") else ""
        valid_text = f"{valid:10.4f}  {1 - valid:8.4f}" if valid is not None else " " * 20
        _say(
            f"{row['epoch']:>4}/{self.max_epochs_:<4}  {row['train_loss']:10.4f}  {valid_text}  "
            f"{row['dur']:5.2f}s  {time.perf_counter() - self.start_:5.0f}s{best}"
        )


@contextlib.contextmanager
def _interrupts_stop_training():
    """Make Ctrl-C abort the run, although skorch ends training quietly on it.

    skorch catches ``KeyboardInterrupt`` in ``fit`` and returns a partly
    trained network; the run would then go on to report it.  The handler
    records the interrupt so that it is raised again once ``fit`` returns.
    Where SIGINT is ignored (a background job of a non-interactive shell),
    it stays ignored.
    """
    if (threading.current_thread() is not threading.main_thread()
            or signal.getsignal(signal.SIGINT) is signal.SIG_IGN):
        yield
        return
    interrupted = []

    def handler(signum, frame):
        interrupted.append(signum)
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGINT, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
    if interrupted:
        raise KeyboardInterrupt


# ---------------------------------------------------------------- data


def load_data(source="qhaplo", *, phenotypes=None, h2=None, random_state=None):
    """Load the bundled data, or read ``source`` in the format its content shows.

    Parameters
    ----------
    source : str
        ``"qhaplo"`` for the bundled data; a directory holding a qhaplo trio
        (``*_g.txt``, ``*_p.txt``, optional ``*_eff.txt``) or one PLINK
        ``.bed`` file set; a ``.bed`` file or its prefix; or a genotype table
        (``.csv``, ``.tsv``, ``.txt``, optionally ``.gz``).
    phenotypes : str, default=None
        Phenotype table; required for PLINK and genotype tables.
    h2 : float, default=None
        Published noisy variant of the bundled data; bundled data only.
    random_state : int, default=None
        Seed of that noise.

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        The fields of :func:`~sklearn_elm.datasets.read_qhaplo`, plus
        ``name`` and ``description``.

    Raises
    ------
    InputError
        For a missing or malformed input, with the offending name.

    Examples
    --------
    >>> from sklearn_elm.cli import load_data
    >>> data = load_data("qhaplo")
    >>> data.name, data.genotypes.shape
    ('qhaplo_64qtl_10000n_rep1', (10000, 64))
    """
    from .datasets import load_qhaplo, read_qhaplo
    from .datasets._tables import read_plink, read_tables

    try:
        if source == "qhaplo":
            if phenotypes is not None:
                raise InputError("--phenotypes does not apply to the bundled data.")
            data = load_qhaplo(h2=h2, random_state=random_state)
            data.name = "qhaplo_64qtl_10000n_rep1"
            noise = "" if h2 is None else f"; noisy variant with H2 = {h2}"
            data.description = (
                "Bundled reference data: haploid population simulated with AlphaSimR by "
                "Arcadia Science (MIT licence), 5 traits of increasing epistasis, "
                f"H2 = 0.999{noise}. Published split: first 85% train, last 15% test."
            )
            return data
        if h2 is not None:
            raise InputError(
                "--h2 makes the noisy variant of the bundled data; it needs --data qhaplo."
            )
        path = Path(source)
        if not path.exists() and not path.with_name(path.name + ".bed").is_file():
            raise InputError(f"no such file or directory: {path}")
        if path.is_dir() and any(path.glob("*_g.txt")):
            if phenotypes is not None:
                raise InputError(f"{path} holds a qhaplo trio, which has its own phenotypes "
                                 "(*_p.txt); --phenotypes does not apply.")
            data = read_qhaplo(path)
            kind = "qhaplo text files"
        else:
            if path.is_dir():
                beds = sorted(path.glob("*.bed"))
                if len(beds) != 1:
                    raise InputError(
                        f"{path} holds no qhaplo trio (*_g.txt) and {len(beds)} PLINK .bed "
                        "files; give the genotype file itself."
                    )
                path = beds[0]
            plink = path.suffix == ".bed" or not path.exists()
            if phenotypes is None:
                kind = "PLINK" if plink else "table"
                raise InputError(f"{path}: a {kind} genotype file needs --phenotypes FILE.")
            if plink:
                data, kind = read_plink(path, phenotypes), "PLINK 1 binary genotypes"
            else:
                data, kind = read_tables(path, phenotypes), "genotype table"
        data.name = path.stem if path.is_file() else path.name
        extra = f" with phenotypes from {phenotypes}" if phenotypes else ""
        truth = "; true effects known" if "additive_effects" in data else ""
        data.description = (
            f"{kind} read from {path}{extra}{truth}. Split: first 85% train, last 15% test."
        )
        return data
    except (FileNotFoundError, ValueError, ImportError) as exc:  # these name the file
        raise InputError(str(exc)) from exc
    except (OSError, EOFError, zlib.error) as exc:  # e.g. a corrupt or truncated .gz
        files = " and ".join(str(f) for f in (source, phenotypes) if f is not None)
        raise InputError(f"could not read {files}: {exc or type(exc).__name__}") from exc


def select_traits(data, traits=None):
    """Keep the named traits (all when None) and the samples with all of them measured.

    Parameters
    ----------
    data : :class:`~sklearn.utils.Bunch`
        As returned by :func:`load_data`; modified in place.
    traits : sequence of str, default=None
        Trait names; comma-separated lists are split.

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        ``phenotypes``, ``target_names`` and the true effects restricted to
        the traits; samples with a missing phenotype removed, with
        ``n_dropped`` their number.

    Raises
    ------
    InputError
        If a trait name does not exist (the message lists those that do), or
        a trait has no measured value.

    Examples
    --------
    >>> from sklearn_elm.cli import load_data, select_traits
    >>> data = select_traits(load_data("qhaplo"), ["Trait2,Trait5"])
    >>> data.target_names.tolist(), data.epistasis.shape
    (['Trait2', 'Trait5'], (2, 64, 64))
    """
    names = [str(t) for t in data.target_names]
    if traits:
        # a name that exists is taken whole, even with a comma in it
        split = (t for item in traits for t in ([item] if item in names else item.split(",")))
        requested = list(dict.fromkeys(t for t in split if t))
        unknown = [t for t in requested if t not in names]
        if unknown:
            raise InputError(
                f"unknown trait {unknown[0]!r}; the phenotypes name: {', '.join(names)}."
            )
        index = [names.index(t) for t in requested]
        data.phenotypes = data.phenotypes[:, index]
        data.target_names = np.asarray(data.target_names)[index]
        for key in ("additive_effects", "epistasis"):
            if key in data:
                data[key] = data[key][index]
    empty = np.isnan(data.phenotypes).all(axis=0)
    if empty.any():
        name = np.asarray(data.target_names)[np.flatnonzero(empty)[0]]
        raise InputError(
            f"trait {str(name)!r} has no measured value; leave it out with --traits."
        )
    measured = ~np.isnan(data.phenotypes).any(axis=1)
    data.n_dropped = int((~measured).sum())
    if data.n_dropped:
        for key in ("genotypes", "phenotypes", "sample_ids", "train"):
            if key in data:
                data[key] = data[key][measured]
    return data


def _check_sizes(data):
    n_train, n_test = int(data.train.sum()), int((~data.train).sum())
    p = data.genotypes.shape[1]
    if n_train < 10 or n_test < 2:
        raise InputError(
            f"too few samples with phenotypes: {n_train} to train and {n_test} to test "
            "(at least 10 and 2 are needed)."
        )
    if p > MAX_LOCI:
        raise InputError(
            f"{p} loci: the epistasis analysis keeps a p x p matrix per trait and handles at "
            f"most {MAX_LOCI} loci; prune the markers first (e.g. plink --indep-pairwise)."
        )
    if p < 3:
        raise InputError(f"{p} loci: at least 3 are needed to rank pairs of loci.")
    G = np.asarray(data.genotypes[data.train], dtype=np.float64)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # an all-missing locus
        polymorphic = int((np.nan_to_num(np.nanstd(G, axis=0)) > 0).sum())
    if polymorphic < 3:
        raise InputError(
            f"only {polymorphic} of the {p} loci vary among the training samples: at least 3 "
            "are needed to rank pairs of loci."
        )
    constant = np.ptp(data.phenotypes[data.train], axis=0) == 0
    if constant.any():
        name = data.target_names[np.flatnonzero(constant)[0]]
        raise InputError(f"trait {str(name)!r} is constant in the training samples.")


# ---------------------------------------------------------------- the run


def _default_hidden_sizes(reg):
    return inspect.signature(reg.module).parameters["hidden_sizes"].default


def _as_components(vc, k):
    return {c: np.atleast_1d(np.asarray(v, dtype=np.float64)).reshape(k)
            for c, v in vc.items() if np.size(v) == k}


def analyse(data, *, hidden_sizes=None, max_epochs=None, random_state=0, progress=True):
    """Train, decompose and compare on ``data``; everything the report shows.

    Parameters
    ----------
    data : :class:`~sklearn.utils.Bunch`
        From :func:`load_data` and :func:`select_traits`.
    hidden_sizes : sequence of int, default=None
        Hidden layer widths of the network; the default network's when None.
    max_epochs : int, default=None
        Epoch limit; the default network's when None.
    random_state : int, default=0
        Seed of the network.
    progress : bool, default=True
        Print the per-epoch progress.

    Returns
    -------
    results : :class:`~sklearn.utils.Bunch`
        As described in :func:`sklearn_elm._report.write_report`.

    Examples
    --------
    >>> from sklearn_elm.cli import analyse
    >>> from sklearn_elm.datasets import make_epistatic_phenotypes
    >>> data = make_epistatic_phenotypes(200, 6, random_state=0)
    >>> data.name, data.description = "toy", "simulated"
    >>> results = analyse(data, hidden_sizes=[8], max_epochs=2, progress=False)
    >>> sorted(results.test_r2)
    ['GBLUP-A', 'GBLUP-A+AA', 'network']
    >>> results.epistasis["truth"].shape
    (1, 6, 6)
    """
    from sklearn.metrics import r2_score
    from sklearn.pipeline import make_pipeline

    from . import ELMDecomposer, GBLUPRegressor, GenotypeEncoder, NeuralGPRegressor
    from .metrics import (
        effect_recovery,
        pair_recovery,
        true_average_effects,
        true_variance_components,
    )

    timings = {}
    train = data.train
    X, Y = data.genotypes, np.asarray(data.phenotypes, dtype=np.float64)
    k = Y.shape[1]
    try:
        # the ploidy of the whole panel: a diploid panel whose only 2s are in test samples
        # must not be taken for haploid on its training samples
        ploidy = 2 if np.nanmax(X, initial=0) > 1 else "auto"
        encoder = GenotypeEncoder(ploidy=ploidy).fit(X[train])
        Z_train, Z_test = encoder.transform(X[train]), encoder.transform(X[~train])
    except ValueError as exc:
        raise InputError(f"genotypes: {exc}") from exc

    options = {"random_state": random_state}
    if hidden_sizes:
        options["module__hidden_sizes"] = tuple(hidden_sizes)
    if max_epochs:
        options["max_epochs"] = max_epochs
    if progress:
        options["callbacks"] = [("progress", EpochProgress())]
    network = make_pipeline(GenotypeEncoder(ploidy=ploidy), NeuralGPRegressor(**options))
    reg = network[-1]
    sizes = reg.get_params().get("module__hidden_sizes") or _default_hidden_sizes(reg)
    _say(
        f"Training the network on {int(train.sum())} samples: hidden layers "
        f"{' x '.join(map(str, sizes))}, at most {reg.max_epochs} epochs down a path of "
        "decreasing path-norm penalty, the step chosen on 10% of them held out."
    )
    start = time.perf_counter()
    with _interrupts_stop_training():
        network.fit(X[train], Y[train])
    timings["train"] = time.perf_counter() - start

    _say("Decomposing the network (equivalent linear mapping) on the training samples...")
    start = time.perf_counter()
    elm = ELMDecomposer(network, prefit=True).fit(X[train], Y[train])
    timings["decompose"] = time.perf_counter() - start

    _say("Fitting the GBLUP baselines (REML)...")
    start = time.perf_counter()
    # on the encoded genotypes, so that the rrBLUP effects are on the scale of the ELM's
    gblup_a = GBLUPRegressor(kernel="additive").fit(Z_train, Y[train])
    gblup_aa = GBLUPRegressor(kernel="additive+epistatic").fit(Z_train, Y[train])
    timings["gblup"] = time.perf_counter() - start

    p = X.shape[1]
    y_test = Y[~train]
    predictions = {
        "network": network.predict(X[~train]).reshape(-1, k),
        "GBLUP-A": gblup_a.predict(Z_test).reshape(-1, k),
        "GBLUP-A+AA": gblup_aa.predict(Z_test).reshape(-1, k),
    }
    # GBLUP's pairwise value is z^T E z (centred z), so the effect of z_i z_j is 2 E_ij
    epi_aa = 2.0 * np.asarray(gblup_aa.epistasis_matrix_).reshape(k, p, p)
    epi_aa *= 1 - np.eye(p)
    results = Bunch(
        name=data.name,
        description=data.description,
        n_samples=len(Y),
        n_train=int(train.sum()),
        n_test=int((~train).sum()),
        feature_names=np.asarray(data.feature_names),
        target_names=np.asarray(data.target_names),
        y_test=y_test,
        predictions=predictions,
        test_r2={m: r2_score(y_test, pred, multioutput="raw_values")
                 for m, pred in predictions.items()},
        additive={"ELM": np.reshape(elm.additive_effects_, (k, p)),
                  "GBLUP-A": np.reshape(gblup_a.coef_, (k, p))},
        epistasis={"ELM": np.reshape(elm.epistasis_matrix_, (k, p, p)), "GBLUP-A+AA": epi_aa},
        variance_components={
            "ELM": _as_components(elm.variance_components_, k),
            "GBLUP-A": _as_components(gblup_a.variance_components_, k),
            "GBLUP-A+AA": _as_components(gblup_aa.variance_components_, k),
        },
        elm_components=elm.components_,
        recovery=None,
        timings=timings,
    )
    if "additive_effects" in data and "epistasis" in data:
        true_e = data.epistasis
        # the estimates are average effects under the training samples' frequencies
        true_a = true_average_effects(Z_train, data.additive_effects, true_e)
        results.additive["truth"] = true_a
        results.epistasis["truth"] = true_e
        results.variance_components["truth"] = dict(
            true_variance_components(Z_train, data.additive_effects, true_e, Y[train])
        )
        results.recovery = {
            "additive": {
                m: [dict(effect_recovery(results.additive[m][t], true_a[t])) for t in range(k)]
                for m in ("ELM", "GBLUP-A")
            },
            "pairwise": {
                m: [dict(pair_recovery(results.epistasis[m][t], true_e[t])) for t in range(k)]
                for m in ("ELM", "GBLUP-A+AA")
            },
        }
    results.network = {
        "hidden_sizes": " x ".join(map(str, sizes)),
        "max_epochs": reg.max_epochs,
        "epochs_trained": len(reg.history_),
        "path_penalty": float(reg.path_penalty_),
    }
    return results


def _versions():
    import scipy
    import sklearn
    import skorch
    import torch

    return {
        "sklearn_elm": __version__,
        "python": platform.python_version(),
        "numpy": np.__version__,
        "scipy": scipy.__version__,
        "scikit-learn": sklearn.__version__,
        "torch": torch.__version__,
        "skorch": skorch.__version__,
    }


@contextlib.contextmanager
def _thread_limit(n_threads):
    """Limit torch and BLAS to ``n_threads``, restoring the previous settings after."""
    import torch
    from threadpoolctl import threadpool_limits

    previous = torch.get_num_threads()
    torch.set_num_threads(n_threads)
    try:
        with threadpool_limits(n_threads):
            yield
    finally:
        torch.set_num_threads(previous)


def run(args):
    """The ``run`` subcommand; returns the exit code."""
    from ._report import check_output_directory, format_summary, write_report

    start = time.perf_counter()
    out = Path(args.out)
    try:
        # fail before minutes of training, not after
        check_output_directory(out, force=args.force)
    except FileExistsError as exc:
        raise InputError(str(exc)) from exc
    with _thread_limit(args.threads):
        t0 = time.perf_counter()
        data = load_data(args.data, phenotypes=args.phenotypes, h2=args.h2,
                         random_state=args.random_state)
        data = select_traits(data, args.traits)
        _check_sizes(data)
        load_time = time.perf_counter() - t0
        dropped = f"; {data.n_dropped} without all phenotypes dropped" if data.n_dropped else ""
        _say(
            f"Data: {data.name}, {len(data.phenotypes)} samples, {data.genotypes.shape[1]} "
            f"loci, traits {', '.join(map(str, data.target_names))}{dropped}."
        )
        results = analyse(data, hidden_sizes=args.hidden_sizes, max_epochs=args.max_epochs,
                          random_state=args.random_state, progress=not args.quiet)
        results.settings = {
            "data": args.data,
            "phenotypes": args.phenotypes,
            "h2": args.h2,
            "traits": ", ".join(map(str, results.target_names)),
            **results.network,
            "random_state": args.random_state,
            "threads": args.threads,
        }
        results.versions = _versions()
        results.timings = {"load": load_time, **results.timings}
        print(format_summary(results), flush=True)
        # everything but the writing of the report itself
        results.timings["total"] = time.perf_counter() - start
        t0 = time.perf_counter()
        try:
            directory = write_report(results, out, force=args.force)
        except FileExistsError as exc:
            raise InputError(str(exc)) from exc
        except OSError as exc:  # e.g. a full disk, or a place that cannot hold files
            raise InputError(f"could not write the report to {out}: {exc}") from exc
    _say(f"Report written to {directory / 'index.html'} "
         f"({time.perf_counter() - t0:.1f} s; {time.perf_counter() - start:.0f} s in all).")
    return EXIT_OK


# ---------------------------------------------------------------- parser


def _positive_int(text):
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text}")
    return value


def _seed(text):
    value = int(text)
    if not 0 <= value < 2**32:
        raise argparse.ArgumentTypeError(f"must be an integer in [0, 2**32), got {text}")
    return value


def _fraction(text):
    value = float(text)
    if not 0 < value <= 1:
        raise argparse.ArgumentTypeError(f"must lie in (0, 1], got {text}")
    return value


def build_parser():
    """The argument parser of ``sklearn-elm``.

    Returns
    -------
    parser : argparse.ArgumentParser

    Examples
    --------
    >>> from sklearn_elm.cli import build_parser
    >>> args = build_parser().parse_args(["run", "--traits", "Trait1", "--max-epochs", "5"])
    >>> args.data, args.traits, args.max_epochs, args.out
    ('qhaplo', ['Trait1'], 5, 'elm-report')
    """
    parser = argparse.ArgumentParser(
        prog="sklearn-elm",
        description="Neural genomic prediction read back as quantitative genetics: "
        "additive effects, epistasis and variance components, compared with GBLUP.",
        epilog=_EXIT_CODES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    cmd = commands.add_parser(
        "run",
        help="train, decompose, compare with GBLUP and write the report",
        description="Train a bias-free neural network on genotypes and phenotypes, decompose "
        "it into additive effects, pairwise epistasis and variance components, fit the GBLUP "
        "baselines, print a summary and write a report (CSV, JSON, PNG figures, index.html). "
        "Test r2 uses the first 85% of samples for training and the rest for testing.",
        epilog=_EXIT_CODES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    cmd.add_argument(
        "--data", default="qhaplo", metavar="qhaplo|PATH",
        help="'qhaplo' (default): the bundled reference data; or a directory with a qhaplo "
        "trio (*_g.txt, *_p.txt, optional *_eff.txt with the true effects); or PLINK 1 "
        "genotypes (.bed file or prefix, with .bim/.fam; needs the 'plink' extra); or a "
        "genotype table (.csv, .tsv or whitespace-separated .txt, optionally .gz: samples in "
        "rows, sample ID first, loci in the header). At least 3 and at most "
        f"{MAX_LOCI} loci (prune larger panels first), at least 10 training and 2 test "
        "samples",
    )
    cmd.add_argument(
        "--phenotypes", metavar="FILE",
        help="phenotype table for PLINK or table genotypes: sample ID (or FID IID) first, "
        "one column per trait; samples are matched by ID",
    )
    cmd.add_argument("--h2", type=_fraction, metavar="FLOAT",
                     help="bundled data only: the published noisy variant with this H2")
    cmd.add_argument("--traits", nargs="+", metavar="NAME",
                     help="traits to analyse, by name, space- or comma-separated "
                     "(default: all)")
    cmd.add_argument("--out", default="elm-report", metavar="DIR",
                     help="report directory (default: elm-report)")
    cmd.add_argument("--hidden-sizes", nargs="+", type=_positive_int, metavar="N",
                     help="hidden layer widths of the network (default: 512)")
    cmd.add_argument("--max-epochs", type=_positive_int, metavar="N",
                     help="epochs of the learning-rate schedule; training stops earlier when "
                     "the validation loss stalls (default: NeuralGPRegressor's)")
    cmd.add_argument("--random-state", type=_seed, default=0, metavar="N",
                     help="seed of the network and of --h2's noise (default: 0)")
    cmd.add_argument("--threads", type=_positive_int, default=1, metavar="N",
                     help="CPU threads for torch and BLAS (default: 1; the default network "
                     "is too small to gain much from more, and surplus threads slow a "
                     "shared machine down many times over)")
    cmd.add_argument("--quiet", action="store_true", help="no per-epoch progress")
    cmd.add_argument("--force", action="store_true",
                     help="replace DIR if it holds a previous report (only the files of "
                     "one: a directory holding anything else is never replaced)")
    cmd.set_defaults(func=run)
    return parser


def main(argv=None):
    """Run ``sklearn-elm`` with ``argv`` (the process arguments when None).

    Parameters
    ----------
    argv : sequence of str, default=None
        Arguments without the program name; none means ``run`` with defaults.

    Returns
    -------
    code : int
        The exit code: 0 success, 1 unexpected failure, 2 bad usage or
        input, 130 interrupted.

    Examples
    --------
    >>> from sklearn_elm.cli import main
    >>> main(["--version"])  # doctest: +ELLIPSIS
    sklearn-elm ...
    0
    """
    argv = sys.argv[1:] if argv is None else list(argv)
    if not argv:
        argv = ["run"]
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, --version and usage errors
        return exc.code if isinstance(exc.code, int) else EXIT_USAGE
    if args.command is None:
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    try:
        return args.func(args)
    except InputError as exc:
        _say(f"sklearn-elm: error: {exc}")
        return EXIT_USAGE
    except KeyboardInterrupt:
        _say("sklearn-elm: interrupted; no report was written.")
        return EXIT_INTERRUPTED
    except Exception:
        traceback.print_exc()
        _say("sklearn-elm: unexpected failure (a bug?); no report was written.")
        return EXIT_FAILURE
