"""The ``sklearn-elm`` command line: train, decompose, compare with GBLUP, report.

``sklearn-elm`` with no arguments is ``sklearn-elm run`` on the bundled data,
and ``python -m sklearn_elm`` is the same; ``sklearn-elm run --help`` lists
the options and :data:`EXIT_CODES` the exit codes.  The science is
:func:`sklearn_elm.workflow.analyse`; this module reads the arguments, shows
progress, handles signals and turns failures into exit codes.  It imports
torch only once there is something to run, so ``--help`` and ``--version``
answer at once.
"""

import argparse
import contextlib
import signal
import sys
import threading
import time
import traceback
import warnings
import zlib
from dataclasses import replace
from pathlib import Path

from . import __version__, _argtypes

EXIT_OK, EXIT_FAILURE, EXIT_USAGE, EXIT_INTERRUPTED, EXIT_TERMINATED = 0, 1, 2, 130, 143
#: Exit codes and what they mean, for the help text.
EXIT_CODES = {
    EXIT_OK: "success",
    EXIT_FAILURE: "unexpected failure (a bug; the traceback is printed)",
    EXIT_USAGE: "bad usage or input (missing or malformed file, sample mismatch, unknown "
    "trait, a trait constant in the training samples, too few samples or loci, a report "
    "directory that cannot be written or replaced, another run writing it)",
    EXIT_INTERRUPTED: "interrupted (Ctrl-C); no report is written",
    EXIT_TERMINATED: "terminated (SIGTERM); no report is written",
}


class InputError(Exception):
    """A problem with the user's input or options: reported without traceback, exit 2."""


class Terminated(BaseException):
    """Raised by the SIGTERM handler, so that clean-up code runs as for Ctrl-C."""


def _say(message):
    print(message, file=sys.stderr, flush=True)


def _show_warning(message, category, filename, lineno, file=None, line=None):
    """Warnings as one line for the user, without the source line that raised them."""
    _say(f"sklearn-elm: warning: {message}")


@contextlib.contextmanager
def _input_errors(what=None, bad_input=(ValueError, FileNotFoundError, FileExistsError,
                                        ImportError)):
    """Turn the errors that bad input raises into :class:`InputError`, named after ``what``."""
    try:
        yield
    except bad_input as exc:
        raise InputError(f"{what}: {exc}" if what else str(exc)) from exc
    except (OSError, EOFError, zlib.error) as exc:  # e.g. a corrupt .gz, a full disk
        raise InputError(f"{what or 'input'}: {exc or type(exc).__name__}") from exc


def _catchable(sig):
    """In the main thread and not ignored (a background job of a non-interactive shell
    ignores SIGINT, and must go on doing so)."""
    return (threading.current_thread() is threading.main_thread()
            and signal.getsignal(sig) is not signal.SIG_IGN)


@contextlib.contextmanager
def _interrupts_stop_training():
    """Make Ctrl-C abort the run, although skorch ends training quietly on it: yields the
    list that the SIGINT handler fills, which the training callback
    :class:`~sklearn_elm._progress.StopOnInterrupt` reads once ``fit`` returns."""
    interrupted = []
    if not _catchable(signal.SIGINT):
        yield interrupted
        return

    def handler(signum, frame):
        interrupted.append(signum)
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGINT, handler)
    try:
        yield interrupted
    finally:
        signal.signal(signal.SIGINT, previous)
    if interrupted:
        raise KeyboardInterrupt


@contextlib.contextmanager
def _sigterm_raises():
    """Turn SIGTERM into :class:`Terminated` while the block runs (main thread only)."""
    if not _catchable(signal.SIGTERM):
        yield
        return

    def handler(signum, frame):
        raise Terminated

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


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


def _check_panel_memory(path, args):
    """For a PLINK panel, the analysis's memory checked from the ``.fam`` and ``.bim`` (one
    trait), before its genotypes are read."""
    from ._resources import check_memory
    from .datasets._plink import _bed_paths

    if path is None:
        return
    _, fam, bim = _bed_paths(path)
    if fam.is_file() and bim.is_file():
        with open(fam, "rb") as f, open(bim, "rb") as g:
            check_memory(sum(1 for _ in f), sum(1 for _ in g), 1, **_networks(args))


def _networks(args):
    """The networks averaged and their first hidden layer's width, for the memory checks
    (which count the width only where several networks are averaged: torch is not imported
    for one)."""
    if args.n_estimators == 1:
        return {"networks": 1}
    from ._regressor import NeuralGPRegressor
    from ._training import hidden_sizes_of

    sizes = args.hidden_sizes or hidden_sizes_of(NeuralGPRegressor())
    return {"networks": args.n_estimators, "hidden": sizes[0] if sizes else 0}


def _load(args):
    """The data the arguments name, checked for the analysis; input errors exit 2."""
    from .datasets import load_data, select_traits
    from .workflow import _noted, check_data

    notes = []  # the loading's warnings, for the report too
    with _input_errors(), _noted(notes):
        _check_panel_memory(args.data, args)
        data = load_data(args.data, phenotypes=args.phenotypes, h2=args.h2,
                         random_state=args.random_state, ploidy=args.ploidy)
        data = select_traits(data, args.traits)
        data.ploidy = check_data(data, **_networks(args))
    left_out = [f"{count} {what}" for count, what in (
        (data.get("n_unphenotyped", 0), "genotyped samples without a phenotype row left out"),
        (data.get("n_ungenotyped", 0), "phenotyped samples without genotypes left out"),
        (data.get("n_dropped", 0), "without all phenotypes dropped")) if count]
    kind = "haploid" if data.ploidy == 1 else "diploid"
    _say(f"Data: {data.name}, {len(data.phenotypes)} samples, {data.genotypes.shape[1]} "
         f"{kind} loci (ploidy {data.ploidy}), traits {', '.join(map(str, data.target_names))}"
         + "".join(f"; {text}" for text in left_out) + ".")
    data.notes = notes + ([f"Samples: {', '.join(left_out)}."] if left_out else [])
    return data


def _analyse(args, data):
    from ._progress import EpochProgress, StopOnInterrupt
    from .workflow import analyse

    with _interrupts_stop_training() as interrupted:
        callbacks = [("stop_on_interrupt", StopOnInterrupt(interrupted))]
        if not args.quiet:
            callbacks.insert(0, ("progress", EpochProgress()))
        return analyse(data, hidden_sizes=args.hidden_sizes, max_epochs=args.max_epochs,
                       random_state=args.random_state, ploidy=data.ploidy,
                       callbacks=callbacks, log=_say, device=args.device, fdr=args.fdr,
                       n_estimators=args.n_estimators)


def _settings(args, analysis):
    given = {"data": args.data, "phenotypes": args.phenotypes, "h2": args.h2,
             "traits": ", ".join(map(str, analysis.target_names)), "ploidy": analysis.ploidy,
             **analysis.network, "random_state": args.random_state, "threads": args.threads,
             "top_pairs": args.top_pairs, "fdr": args.fdr}
    return {key: value for key, value in given.items() if value is not None}


def run(args):
    """The ``run`` subcommand; returns the exit code."""
    from . import _report
    from ._resources import check_memory

    start = time.perf_counter()
    out = Path(args.out)
    with _input_errors("--out"):
        # fail before training, not after
        _report.check_output_directory(out, force=args.force)
    with contextlib.ExitStack() as stack:
        with _input_errors("--out"):
            stack.enter_context(_report.output_lock(out))
            # a run may have ended meanwhile
            _report.check_output_directory(out, force=args.force)
        stack.enter_context(_thread_limit(args.threads))
        data = _load(args)
        if args.full_matrix:  # the matrices' memory and disk space, before training
            with _input_errors("--full-matrix"):
                check_memory(*data.genotypes.shape, data.phenotypes.shape[1],
                             truth="additive_effects" in data and "epistasis" in data,
                             full_matrix=True, **_networks(args))
                _report.check_disk_space(out, _report.full_matrix_bytes(
                    data.genotypes.shape[1], data.phenotypes.shape[1]))
        load_time = time.perf_counter() - start
        analysis = _analyse(args, data)
        analysis = replace(analysis, settings=_settings(args, analysis),
                           timings={"load": load_time, **analysis.timings},
                           notes=(*data.notes, *analysis.notes))
        print(_report.format_summary(analysis), flush=True)
        # everything but the writing of the report itself
        analysis = replace(analysis, timings={**analysis.timings,
                                              "total": time.perf_counter() - start})
        t0 = time.perf_counter()
        # a directory that changed meanwhile, a full disk: input errors; anything else a bug
        with _input_errors(f"could not write the report to {out}", (FileExistsError,)):
            directory = _report.write_report(analysis, out, force=args.force,
                                             top_pairs=args.top_pairs,
                                             full_matrix=args.full_matrix)
    _say(f"Report written to {directory / 'index.html'} "
         f"({time.perf_counter() - t0:.1f} s; {time.perf_counter() - start:.0f} s in all).")
    return EXIT_OK


def _add_run_arguments(cmd):
    cmd.add_argument(
        "--data", default="qhaplo", metavar="qhaplo|PATH",
        help="'qhaplo' (default): the bundled reference data; or a directory with a qhaplo "
        "trio (*_g.txt, *_p.txt, optional *_eff.txt with the true effects); or PLINK 1 "
        "genotypes (.bed file or prefix, with .bim/.fam; needs the 'plink' extra); or a "
        "genotype table (.csv, .tsv or whitespace-separated .txt, optionally .gz: samples in "
        "rows, sample ID first, loci in the header). At least 3 loci, as many as memory "
        "allows (checked before training), and at least 10 training and 2 test samples",
    )
    cmd.add_argument(
        "--phenotypes", metavar="FILE",
        help="phenotype table for PLINK or table genotypes: sample ID (or FID IID) first, "
        "one column per trait; samples are matched by ID, and genotyped samples without a "
        "phenotype row are left out",
    )
    cmd.add_argument("--h2", type=_argtypes.fraction, metavar="FLOAT",
                     help="bundled data only: the published noisy variant with this H2")
    cmd.add_argument("--traits", nargs="+", metavar="NAME",
                     help="traits to analyse, by name, space- or comma-separated "
                     "(default: all)")
    cmd.add_argument("--ploidy", type=_argtypes.ploidy, default="auto", metavar="{auto,1,2}",
                     help="1 for haploid 0/1 genotypes, 2 for diploid 0/1/2 dosages (default: "
                     "auto, from the whole panel, with a warning where few cells are 2)")
    cmd.add_argument("--out", default="elm-report", metavar="DIR",
                     help="report directory (default: elm-report)")
    cmd.add_argument("--top-pairs", type=_argtypes.positive_int, default=5000, metavar="N",
                     help="pairs of loci per trait in epistasis_pairs.csv, the largest first "
                     "(default: 5000)")
    cmd.add_argument("--fdr", type=_argtypes.rate, default=0.05, metavar="FLOAT",
                     help="false discovery rate of the pairs listed in significant_pairs.csv "
                     "(Benjamini-Hochberg over every pair tested, less those that add nothing "
                     "beside their competitors), in (0, 1) (default: 0.05)")
    cmd.add_argument("--full-matrix", action="store_true",
                     help="also write every pair's estimate to epistasis_matrix.npz (8 k p^2 "
                     "bytes per method; disk space is checked before training)")
    cmd.add_argument("--hidden-sizes", nargs="+", type=_argtypes.positive_int, metavar="N",
                     help="hidden layer widths of the network (default: 512)")
    cmd.add_argument("--max-epochs", type=_argtypes.positive_int, metavar="N",
                     help="epochs of the learning-rate schedule; training stops earlier when "
                     "the validation loss stalls (default: NeuralGPRegressor's)")
    cmd.add_argument("--n-estimators", type=_argtypes.positive_int, default=1, metavar="N",
                     help="networks trained with seeds derived from --random-state and "
                     "averaged into the one network decomposed, at N times the training "
                     "time (default: 1)")
    cmd.add_argument("--device", type=_argtypes.device, default="cpu", metavar="DEVICE",
                     help="torch device of training and the ELM, e.g. cuda or cuda:1 "
                     "(default: cpu)")
    cmd.add_argument("--random-state", type=_argtypes.seed, default=0, metavar="N",
                     help="seed of the network and of --h2's noise (default: 0)")
    cmd.add_argument("--threads", type=_argtypes.positive_int, default=1, metavar="N",
                     help="CPU threads for torch and BLAS (default: 1; the default network "
                     "gains little from more, and surplus threads slow a shared machine)")
    cmd.add_argument("--quiet", action="store_true", help="no per-epoch progress")
    cmd.add_argument("--force", action="store_true",
                     help="replace DIR if it holds a previous report (only the files of "
                     "one: a directory holding anything else is never replaced)")


def build_parser():
    """The argument parser of ``sklearn-elm``.

    Returns
    -------
    parser : argparse.ArgumentParser

    Examples
    --------
    >>> from sklearn_elm.cli import build_parser
    >>> args = build_parser().parse_args(["run", "--traits", "Trait1", "--max-epochs", "5"])
    >>> args.data, args.traits, args.max_epochs, args.out, args.ploidy, args.fdr
    ('qhaplo', ['Trait1'], 5, 'elm-report', 'auto', 0.05)
    """
    epilog = "exit codes:\n" + "\n".join(
        f"  {code:<4} {text}" for code, text in EXIT_CODES.items())
    parser = argparse.ArgumentParser(
        prog="sklearn-elm",
        description="Neural genomic prediction read back as quantitative genetics: "
        "additive effects, epistasis and variance components, compared with GBLUP.",
        epilog=epilog, formatter_class=argparse.RawDescriptionHelpFormatter,
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
        epilog=epilog, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _add_run_arguments(cmd)
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
        The exit code (:data:`EXIT_CODES`).

    Examples
    --------
    >>> from sklearn_elm.cli import main
    >>> main(["--version"])  # doctest: +ELLIPSIS
    sklearn-elm ...
    0
    """
    argv = sys.argv[1:] if argv is None else list(argv)
    parser = build_parser()
    try:
        args = parser.parse_args(argv or ["run"])
    except SystemExit as exc:  # --help, --version and usage errors
        return exc.code if isinstance(exc.code, int) else EXIT_USAGE
    if args.command is None:
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    try:
        with _sigterm_raises(), warnings.catch_warnings():
            warnings.showwarning = _show_warning
            return args.func(args)
    except InputError as exc:
        _say(f"sklearn-elm: error: {exc}")
        return EXIT_USAGE
    except (KeyboardInterrupt, Terminated) as exc:
        what = "interrupted" if isinstance(exc, KeyboardInterrupt) else "terminated"
        written = getattr(exc, "report_directory", None)  # held during the final rename
        _say(f"sklearn-elm: {what}; " + (f"the report in {written} is complete." if written
                                          else "no report was written."))
        return EXIT_INTERRUPTED if isinstance(exc, KeyboardInterrupt) else EXIT_TERMINATED
    except Exception:
        traceback.print_exc()
        _say("sklearn-elm: unexpected failure (a bug?); no report was written.")
        return EXIT_FAILURE
