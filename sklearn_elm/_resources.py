"""What a run needs and what it has: memory, and the packages behind its figures.

Numpy and the standard library only (:func:`package_versions` imports the
packages it names when called).
"""

import ctypes
import os
import platform

import numpy as np

__all__ = ["available_memory", "check_memory", "gib", "memory_needed", "package_versions",
           "release_freed_memory"]


#: Bytes of the interpreter, torch and the other libraries, before any data.
BASE_BYTES = 2**29


def memory_needed(n_samples, n_loci, n_traits, *, truth=False):
    """Bytes that :func:`~sklearn_elm.workflow.analyse` needs at its peak: an upper bound.

    Counted from its largest arrays, ``n`` samples, ``p`` loci and ``k``
    traits.  The float64 ``p x p`` matrices alive at the peak:

    * ``3 k`` past the projection's bound (``p (p + 3) / 2 > n / 2``, the
      screened fit): while GBLUP A+AA builds its pair matrices (``k``), the
      decomposer's (``k``), and one or two more being built; then GBLUP's,
      copied as the report's (``k``).  The decomposer's variances of the
      pairs (``k``) are freed before GBLUP starts.  With the true effects
      (``truth``), ``3 k + max(k, 5)``: the ``k`` true matrices are held
      throughout (``4 k`` while fitting), and scoring the pairs against them
      takes about 5 more, a trait at a time, beside the report's ``2 k``.
    * ``12 + 8 k`` where the decomposer projects on every term (the sums and
      their design, and per trait the slopes, the pair effects and their
      variances), ``+ k`` with the truth; there ``p^2 <= n``, a small term.

    Beside them: a block of GBLUP's pairwise product (``p x min(p, 1024)``),
    8 float64 copies of the ``n x p`` genotypes (the data, its training and
    test samples, encoded, and the decomposer's and GBLUP's working copies),
    GBLUP's ``n x n`` kernels and eigenvectors (``4 n^2``), and 0.5 GiB for
    the interpreter and libraries.

    Peaks measured (``/usr/bin/time``, simulated diploid panels without the
    truth, one trait, a network of 3 epochs, 80 % of the samples to train):
    ``n = 1,000`` and ``p = 4,000``, ``6,000``, ``8,000``: 1.07, 1.47, 2.01
    GiB against bounds of 1.16, 1.74, 2.50 GiB; the decomposer's pair
    effects, exact zeros where no pair was chosen, are mostly never written
    and stay out of memory, which the bound does not count on.

    Parameters
    ----------
    n_samples, n_loci, n_traits : int
    truth : bool, default=False
        Whether the data carry their true effects (scored by the analysis).

    Returns
    -------
    bytes : int

    Examples
    --------
    >>> from sklearn_elm.workflow import memory_needed
    >>> round(memory_needed(2_000, 12_000, 1) / 2**30, 1)  # GiB: screened, 3 p x p
    5.4
    >>> round(memory_needed(8_500, 64, 5) / 2**30, 1)  # GiB: the projection, mostly GBLUP's
    2.7
    """
    n, p, k = int(n_samples), int(n_loci), int(n_traits)
    if p * (p + 3) / 2 <= n / 2:
        square = 12 + 8 * k + (k if truth else 0)
    else:
        square = 3 * k + (max(k, 5) if truth else 0)
    return BASE_BYTES + 8 * (square * p * p + p * min(p, 1024) + 8 * n * p + 4 * n * n)


def available_memory():
    """Bytes of memory available to the process now, or None where that is unknown.

    Linux's ``MemAvailable`` (memory that can be had without swapping), else the
    free physical pages.

    Returns
    -------
    bytes : int or None

    Examples
    --------
    >>> from sklearn_elm.workflow import available_memory
    >>> size = available_memory()
    >>> size is None or size > 0
    True
    """
    try:
        with open("/proc/meminfo", encoding="ascii") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_AVPHYS_PAGES")
    except (AttributeError, ValueError, OSError):
        return None


def check_memory(n_samples, n_loci, n_traits, *, truth=False):
    """Raise a ValueError naming the size needed where the analysis of a panel would not fit.

    :func:`memory_needed` against :func:`available_memory` (nothing is checked where the
    memory available is unknown).

    Examples
    --------
    >>> from sklearn_elm._resources import check_memory
    >>> check_memory(1000, 200, 1)  # small: returns quietly
    >>> check_memory(1000, 10**7, 1)  # doctest: +IGNORE_EXCEPTION_DETAIL
    Traceback (most recent call last):
    ...
    ValueError: 10000000 loci: the analysis keeps dense p x p matrices and needs about ...
    """
    needed = memory_needed(n_samples, n_loci, n_traits, truth=truth)
    available = available_memory()
    if available is not None and needed > available:
        raise ValueError(
            f"{n_loci} loci: the analysis keeps dense p x p matrices and needs about "
            f"{gib(needed)} of memory, but {gib(available)} is available; prune the "
            "markers (e.g. plink --indep-pairwise) or analyse fewer traits at once."
        )


def gib(size):
    """``size`` bytes as text in GiB, one decimal."""
    return f"{size / 2**30:.1f} GiB"


def package_versions():
    """Versions of Python and of the packages behind the figures, for the record.

    Returns
    -------
    versions : dict of str to str

    Examples
    --------
    >>> from sklearn_elm.workflow import package_versions
    >>> sorted(package_versions())[:3]
    ['numpy', 'python', 'scikit-learn']
    """
    import scipy
    import sklearn
    import skorch
    import torch

    from . import __version__

    return {"sklearn_elm": __version__, "python": platform.python_version(),
            "numpy": np.__version__, "scipy": scipy.__version__,
            "scikit-learn": sklearn.__version__, "torch": torch.__version__,
            "skorch": skorch.__version__}


def release_freed_memory():
    """Hand the heap memory freed so far back to the operating system, where the C library
    can (glibc's ``malloc_trim``, as dask's workers do); nothing elsewhere.

    glibc keeps what small and mid-sized allocations free, in every thread's arena, for
    reuse: after a stream of batches (the network's, the reader's and BLAS's threads)
    a few hundred MB that the ``p x p`` work after it cannot use.

    Returns
    -------
    released : bool
        Whether the C library was asked.

    Examples
    --------
    >>> from sklearn_elm._resources import release_freed_memory
    >>> release_freed_memory() in (True, False)
    True
    """
    try:
        trim = ctypes.CDLL(None).malloc_trim
    except (OSError, AttributeError, TypeError):  # not glibc (macOS, Windows, musl)
        return False
    trim(0)
    return True
