"""The report on disk: which files it has, where it may go, and writing it all or nothing.

:data:`REPORT_FILES` is the one list of a report's files.  A report is
written into a hidden temporary directory beside its destination and renamed
into place once complete, under an exclusive lock beside the destination, so
that an interrupted or failed run never leaves half a report behind and two
runs into the same directory never delete each other's report.
"""

import contextlib
import os
import re
import shutil
import signal
import tempfile
import threading
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import NamedTuple

import numpy as np

from .._pairs import FactoredPairMatrix, dense_pairs
from . import _figures, _html, _tables

try:  # POSIX; elsewhere runs are not locked against each other
    import fcntl
except ImportError:  # pragma: no cover
    fcntl = None

__all__ = ["REPORT_FILES", "check_disk_space", "check_output_directory", "full_matrix_bytes",
           "output_lock", "write_report"]


def _table(write):
    return lambda analysis, path, trait, names, options: write(analysis, path)


def _pairs(analysis, path, trait, names, options):
    _tables.write_pairs(analysis, path, top=options.get("top_pairs"))


def _figure(draw):
    def write(analysis, path, trait, names, options):
        args = (analysis,) if trait is None else (analysis, trait)
        _figures.save(partial(draw, *args), path)

    return write


def _matrices(analysis, path, trait, names, options):
    """Every method's full pair matrices, float64 arrays of shape (k, p, p), and the locus
    and trait names, in one uncompressed ``.npz`` (``numpy.load`` reads it back).  A method's
    matrices are formed (:func:`~sklearn_elm._pairs.dense_pairs`) and written one method at
    a time; GBLUP's factored matrices with their diagonal zeroed, as where they are dense
    (:func:`~sklearn_elm._estimates.gblup_pairs`)."""
    import zipfile

    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED, allowZip64=True) as archive:
        for key, array in (("loci", lambda: np.asarray(analysis.feature_names, dtype=str)),
                           ("traits", lambda: np.asarray(analysis.target_names, dtype=str)),
                           *((_tables.slug(m), partial(_formed, E))
                             for m, E in analysis.epistasis.items())):
            with archive.open(f"{key}.npy", "w", force_zip64=True) as f:
                np.lib.format.write_array(f, array(), allow_pickle=False)


def _formed(matrix):
    """A method's pair matrices as one dense array (GBLUP's factored ones off the diagonal)."""
    dense = dense_pairs(matrix)
    if isinstance(matrix, FactoredPairMatrix):
        np.einsum("...ii->...i", dense)[...] = 0.0
    return dense


def full_matrix_bytes(n_loci, n_traits, n_methods=3):
    """Bytes of ``epistasis_matrix.npz``: ``n_methods`` float64 arrays of ``k p^2``.

    Parameters
    ----------
    n_loci, n_traits : int
    n_methods : int, default=3
        Pair matrices written (the ELM, GBLUP A+AA and, for simulated data, the truth).

    Returns
    -------
    bytes : int

    Examples
    --------
    >>> from sklearn_elm._report import full_matrix_bytes
    >>> round(full_matrix_bytes(12_000, 1) / 2**30, 2)  # GiB
    3.22
    """
    return 8 * int(n_methods) * int(n_traits) * int(n_loci) ** 2


def check_disk_space(directory, needed):
    """A clear error, before any training, where ``directory`` lacks ``needed`` bytes.

    Parameters
    ----------
    directory : str or path-like
        The report directory (or where it will be created).
    needed : int
        Bytes the report will write.

    Raises
    ------
    OSError
        Naming what is needed and what is free.

    Examples
    --------
    >>> from sklearn_elm._report import check_disk_space
    >>> check_disk_space(".", 1)
    >>> check_disk_space(".", 2**70)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    OSError: the report needs about ... of disk, but ... is free ...
    """
    parent = _resolved(directory)
    while not parent.exists():
        parent = parent.parent
    free = shutil.disk_usage(parent).free
    if needed > free:
        raise OSError(
            f"the report needs about {needed / 2**30:.1f} GiB of disk, but {free / 2**30:.1f} "
            f"GiB is free in {parent}; leave out --full-matrix (epistasis_pairs.csv holds the "
            "largest pairs) or write the report elsewhere."
        )


def _metrics(analysis, path, trait, names, options):
    _tables.write_metrics(analysis, path, list(names.values()))


def _page(analysis, path, trait, names, options):
    figures = {key.removesuffix(".png"): name for key, name in names.items()
               if name.endswith(".png")}
    _html.write_html(analysis, path, figures)


class ReportFile(NamedTuple):
    """One file of the report: its name, what it holds, and how it is written.

    ``write(analysis, path, trait, names, options)`` writes it to ``path``; ``trait``
    is the trait's index for a file per trait (None otherwise), ``names`` maps every
    file's key to its name (the page and metrics.json link and list them), and
    ``options`` holds :func:`write_report`'s options (``top_pairs``, ``full_matrix``); a
    file with an ``option`` is written only where that option is set.
    """

    name: str
    holds: str
    write: Callable
    option: str = None


#: Every file of a report, in the order they are written; ``<k>`` and ``<trait>`` stand
#: for each trait's number (from 1) and name.
REPORT_FILES = (
    ReportFile("effects.csv", "additive effects per trait, locus and method",
               _table(_tables.write_effects)),
    ReportFile("epistasis_pairs.csv", "the top pairs of loci, ranked, per trait and method",
               _pairs),
    ReportFile("significant_pairs.csv", "the pairs significant at the FDR, per trait",
               _table(_tables.write_significant)),
    ReportFile("epistasis_matrix.npz", "every pair's estimate, per method (--full-matrix)",
               _matrices, option="full_matrix"),
    ReportFile("variance_components.csv", "variance components per trait and method",
               _table(_tables.write_components)),
    ReportFile("observed_vs_predicted.png", "test phenotypes against each method's prediction",
               _figure(_figures.observed_vs_predicted)),
    ReportFile("additive_effects.png", "additive effects (against the truth where known)",
               _figure(_figures.additive_effects)),
    ReportFile("variance_components.png", "variance components by method",
               _figure(_figures.variance_components)),
    ReportFile("epistasis_<k>_<trait>.png", "heatmap of a trait's pair effects",
               _figure(_figures.epistasis_heatmap)),
    ReportFile("manhattan_<k>_<trait>.png", "-log10 p of each locus's additive effect",
               _figure(_figures.manhattan)),
    ReportFile("pair_qq.png", "QQ plot of the pair p-values", _figure(_figures.pair_qq)),
    ReportFile("metrics.json", "every summary figure, the settings, timings and versions",
               _metrics),
    ReportFile("index.html", "the report page", _page),
)
#: Files a desktop puts in any folder it shows.
_DESKTOP_FILES = frozenset({".DS_Store", "Thumbs.db", "desktop.ini"})


def _pattern(name):
    return re.escape(name).replace("<k>", r"\d+").replace("<trait>", r"[0-9a-z_]+")


_REPORT_NAME = re.compile("|".join(f"(?:{_pattern(f.name)})" for f in REPORT_FILES))


def is_report_file(name):
    """Whether ``name`` is the name of a report file (:data:`REPORT_FILES`)."""
    return _REPORT_NAME.fullmatch(name) is not None


def _instances(spec, analysis):
    """``(key, file name, trait)`` of each file that ``spec`` stands for."""
    if "<k>" not in spec.name:
        return [(spec.name, spec.name, None)]
    stem = spec.name.split("_<k>")[0]
    return [(f"{stem}_{k}.png", spec.name.replace("<k>", str(k + 1)).replace(
        "<trait>", _tables.slug(t)), k) for k, t in enumerate(analysis.target_names)]


def _write_files(analysis, directory, options):
    """Write every file of :data:`REPORT_FILES` (its option set) into ``directory``; return
    their names."""
    files = [(spec, *instance) for spec in REPORT_FILES for instance in _instances(spec, analysis)
             if spec.option is None or options.get(spec.option)]
    names = {key: name for _, key, name, _ in files}
    for spec, _, name, trait in files:
        spec.write(analysis, directory / name, trait, names, options)
    return list(names.values())


def _resolved(directory):
    # "missing/../data" must not pass as a new directory and then become data, and a
    # symbolic link is followed to the report it points to
    return Path(os.path.realpath(directory))


def _check_writable(directory):
    parent = directory.parent
    while not parent.exists():
        parent = parent.parent
    if not parent.is_dir() or not os.access(parent, os.W_OK | os.X_OK):
        raise FileExistsError(f"cannot write {directory}: {parent} is not a writable directory.")
    # a read-only directory says "do not write here", also to root (whom os.access lets in)
    if directory.is_dir() and not (directory.stat().st_mode & 0o222
                                   and os.access(directory, os.W_OK)):
        raise FileExistsError(f"{directory} is read-only; choose another --out.")


def check_output_directory(directory, *, force=False):
    """Refuse to overwrite an existing non-empty report directory unless forced.

    Parameters
    ----------
    directory : str or path-like
        Where the report is to be written.
    force : bool, default=False
        Allow replacing an existing directory that holds a previous report
        (and nothing else).

    Raises
    ------
    FileExistsError
        If ``directory`` is a non-empty directory and ``force`` is False;
        exists and is not a directory; is read-only or lies where nothing
        can be written; holds the working directory; or holds anything but
        the files of a previous report (never replaced, even with ``force``:
        it may hold the input data).

    Examples
    --------
    >>> import tempfile
    >>> from sklearn_elm._report import check_output_directory
    >>> check_output_directory(tempfile.mkdtemp())  # an empty directory is fine
    """
    directory = _resolved(directory)
    if directory.exists() and not directory.is_dir():
        raise FileExistsError(f"{directory} exists and is not a directory.")
    _check_writable(directory)
    if not directory.is_dir() or not any(directory.iterdir()):
        return
    if not force:
        raise FileExistsError(f"{directory} exists and is not empty; use --force to replace "
                              "it, or --out to choose another directory.")
    if Path.cwd().resolve().is_relative_to(directory):
        raise FileExistsError(f"{directory} holds the working directory; --force never "
                              "replaces it. Choose another --out.")
    entries = list(directory.iterdir())
    others = sorted(p.name for p in entries
                    if not (is_report_file(p.name) and (p.is_file() or p.is_symlink()))
                    and p.name not in _DESKTOP_FILES)
    if "metrics.json" not in {p.name for p in entries} or others:
        shown = ", ".join(others[:3]) + (", ..." if len(others) > 3 else "")
        raise FileExistsError(
            f"{directory} is not a report of sklearn-elm"
            + (f" (it holds {shown})" if others else " (no metrics.json)")
            + "; --force replaces only a previous report. Choose another --out."
        )


_HELD = {}  # lock file -> how many times this process holds it


@contextlib.contextmanager
def output_lock(directory):
    """Hold an exclusive lock on writing ``directory``, for as long as the block runs.

    The lock is a file ``.<name>.lock`` beside the directory (its parent is
    created if missing), locked with ``flock`` and removed on release.  A
    second process that asks for it is refused at once; the same process may
    take it again (the command line holds it for the whole run, and
    :func:`write_report` takes it too).

    Parameters
    ----------
    directory : str or path-like
        The report directory.

    Yields
    ------
    lock : pathlib.Path
        The lock file.

    Raises
    ------
    FileExistsError
        If another process holds the lock.

    Examples
    --------
    >>> import pathlib, tempfile
    >>> from sklearn_elm._report import output_lock
    >>> out = pathlib.Path(tempfile.mkdtemp()) / "report"
    >>> with output_lock(out) as lock:
    ...     lock.name
    '.report.lock'
    """
    directory = _resolved(directory)
    lock = directory.parent / f".{directory.name}.lock"
    if fcntl is None or _HELD.get(lock):
        _HELD[lock] = _HELD.get(lock, 0) + 1
        try:
            yield lock
        finally:
            _HELD[lock] -= 1
        return
    directory.parent.mkdir(parents=True, exist_ok=True)
    fd = _acquire(lock, directory)
    _HELD[lock] = 1
    try:
        yield lock
    finally:
        del _HELD[lock]
        with contextlib.suppress(OSError):
            os.unlink(lock)
        os.close(fd)


def _acquire(lock, directory):
    """Open and lock ``lock``; the file it names must still be the one locked."""
    while True:
        fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise FileExistsError(
                f"another sklearn-elm run is writing {directory} (it holds {lock}); wait for "
                "it to finish, or choose another --out."
            ) from None
        # the previous holder removes the file on release: lock the file that is there
        with contextlib.suppress(FileNotFoundError):
            if os.stat(lock).st_ino == os.fstat(fd).st_ino:
                return fd
        os.close(fd)


@contextlib.contextmanager
def _signals_held():
    """Hold SIGINT and SIGTERM while the block runs; deliver them once it is done.

    Moving a previous report aside, renaming the new one into place and
    removing what is left take milliseconds; cut short by a signal they would
    leave a stray copy behind.  Main thread only (where Python runs handlers).
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    received = []
    held = [sig for sig in (signal.SIGINT, signal.SIGTERM)
            if signal.getsignal(sig) not in (signal.SIG_IGN, None)]
    previous = {sig: signal.signal(sig, lambda signum, frame: received.append(signum))
                for sig in held}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        for sig in received:
            signal.raise_signal(sig)


def _replace(tmp, directory, force):
    """Rename ``tmp`` to ``directory``, moving a previous report aside first."""
    # checked again at the rename: the directory may have changed since the run began
    check_output_directory(directory, force=force)
    backup = tmp.with_suffix(".old")
    try:
        if directory.exists():
            os.rename(directory, backup)
        os.rename(tmp, directory)
    except BaseException:
        # put a previous report back if the interruption fell between the two renames
        if backup.exists() and not directory.exists():
            os.rename(backup, directory)
        raise
    shutil.rmtree(backup, ignore_errors=True)


def write_report(analysis, directory, *, force=False, top_pairs=None, full_matrix=False):
    """Write the full report into ``directory``, all or nothing.

    Every file of :data:`REPORT_FILES` is first written into a hidden
    temporary directory beside ``directory``, which is renamed into place
    once complete, under :func:`output_lock`; a previous report is moved
    aside and deleted only after that rename.  On any error or interruption
    (``KeyboardInterrupt``, or any ``BaseException`` a signal handler
    raises), the temporary directory is removed and a previous report is
    left as it was.  SIGINT and SIGTERM are held during the final renames
    and delivered after them: the exception they then raise carries the
    complete report's directory as ``report_directory``.

    Parameters
    ----------
    analysis : :class:`~sklearn_elm.workflow.Analysis`
        What to report.
    directory : str or path-like
        The report directory.
    force : bool, default=False
        Replace an existing directory that holds a previous report (and
        nothing else).
    top_pairs : int or None, default=None
        Pairs per trait in ``epistasis_pairs.csv``, the largest first; all
        when None (``p (p - 1) / 2`` rows per trait).
    full_matrix : bool, default=False
        Also write every method's full pair matrices to ``epistasis_matrix.npz``
        (:func:`full_matrix_bytes`).

    Returns
    -------
    directory : pathlib.Path
        The written report directory.

    Raises
    ------
    FileExistsError
        See :func:`check_output_directory` and :func:`output_lock`.
    """
    directory = _resolved(directory)
    with output_lock(directory):
        check_output_directory(directory, force=force)
        tmp = Path(tempfile.mkdtemp(prefix=f".{directory.name}.", suffix=".tmp",
                                    dir=directory.parent))
        written = False
        try:
            umask = os.umask(0)
            os.umask(umask)
            os.chmod(tmp, 0o777 & ~umask)  # mkdtemp's private 0700 is not what a report wants
            _write_files(analysis, tmp, {"top_pairs": top_pairs, "full_matrix": full_matrix})
            with _signals_held():
                _replace(tmp, directory, force)
                written = True
        except BaseException as exc:
            if written:  # a signal held during the swap: the report is complete all the same
                exc.report_directory = directory
            raise
        finally:
            with _signals_held():
                shutil.rmtree(tmp, ignore_errors=True)
    return directory
