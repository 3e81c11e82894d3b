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

#: Largest dense epistasis matrix and variance (both together) of a screened fit; past it
#: they are sparse arrays of the pairs chosen (read here by the memory check too).
DENSE_PAIRS_BYTES = 4 * 2**30


def memory_needed(n_samples, n_loci, n_traits, *, truth=False, full_matrix=False, networks=1,
                  hidden=512):
    """Bytes that :func:`~sklearn_elm.workflow.analyse` needs at its peak: an upper bound.

    Counted from its largest arrays, ``n`` samples, ``p`` loci and ``k``
    traits.  The float64 ``p x p`` matrices alive at the peak:

    * ``12 + 8 k`` where the decomposer projects on every term
      (``p (p + 3) / 2 <= n / 2``: the sums and their design, and per trait
      the slopes, the pair effects and their variances), ``+ k`` with the
      truth; there ``p^2 <= n``, a small term.
    * Past that (the screened fit), none where they would be large: the
      decomposer's pair effects and their variances are dense only while both
      take at most 4 GiB (``2 k``, the effects kept), sparse past that; GBLUP
      A+AA's are dense (``k``, and ``k`` for the report's copy) only where
      ``p <= n``, else kept as their factors (one more ``n x p``,
      :class:`~sklearn_elm.FactoredPairMatrix`).  With the true effects
      (``truth``), ``k`` true matrices and about 5 more to score each trait's
      pairs against them.
    * With ``full_matrix``, ``k`` more: a method's matrices formed to be written (one
      method at a time), and one ``n x p`` more to form GBLUP's.

    Beside them: a block of GBLUP's dense pairwise product (``p x min(p, 1024)``),
    9 float64 copies of the ``n x p`` genotypes (the data, its training and
    test samples, encoded, the decomposer's and GBLUP's working copies, and
    GBLUP's factors), GBLUP's ``n x n`` kernels and eigenvectors (``4 n^2``),
    and 0.5 GiB for the interpreter and libraries.  Where ``networks > 1`` are averaged,
    ``4 networks hidden p`` float32 for the weights of the members, of their average, of its
    temporary while they are averaged and of the decomposer's copy of it (one network's
    weights are within the bound's margin).

    Peaks measured (``/usr/bin/time``, simulated diploid panels without the
    truth, one trait, a network of 3 epochs, 85 % of the samples to train):
    ``n = 1,000`` and ``p = 4,000``, ``8,000``: 0.83 and 1.34 GiB against bounds
    of 1.04 and 2.02 GiB (1.07 and 2.01 GiB when GBLUP's pair matrices were
    dense); ``sklearn-elm run`` on a 2,000 x 12,000 msprime panel: 2.26 GiB
    against 4.37 GiB, and 2.11 GiB measured again on 2026-12-07; with three networks
    averaged (``--n-estimators 3``) 2.36 GiB against 4.65 GiB.

    Parameters
    ----------
    n_samples, n_loci, n_traits : int
    truth : bool, default=False
        Whether the data carry their true effects (scored by the analysis).
    full_matrix : bool, default=False
        Whether every method's full pair matrices are written
        (``sklearn-elm run --full-matrix``).
    networks, hidden : int, default=1 and 512
        Networks averaged (``sklearn-elm run --n-estimators``) and the width of their first
        hidden layer.

    Returns
    -------
    bytes : int

    Examples
    --------
    >>> from sklearn_elm.workflow import memory_needed
    >>> round(memory_needed(2_000, 12_000, 1) / 2**30, 1)  # GiB: screened, the ELM's dense
    4.4
    >>> round(memory_needed(2_000, 50_000, 1) / 2**30, 1)  # GiB: nothing p x p
    7.3
    >>> round(memory_needed(8_500, 64, 5) / 2**30, 1)  # GiB: the projection, mostly GBLUP's
    2.7
    """
    n, p, k = int(n_samples), int(n_loci), int(n_traits)
    if p * (p + 3) / 2 <= n / 2:
        square = 12 + 8 * k + (k if truth else 0)
    else:
        elm = 2 * k if 16 * k * p * p <= DENSE_PAIRS_BYTES else 0  # while it fits
        gblup = 2 * k if p <= n else 0
        square = max(elm, elm // 2 + gblup) + (k + 5 if truth else 0)
    square += k if full_matrix else 0
    block = p * min(p, 1024) if p <= n or full_matrix else 0  # GBLUP's dense pair product
    copies = 9 + (1 if full_matrix else 0)  # and w Z, to form GBLUP's factored matrices
    members = 4 * int(networks) * int(hidden) * p if networks > 1 else 0  # float32 weights
    return BASE_BYTES + 8 * (square * p * p + block + copies * n * p + 4 * n * n) + 4 * members


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


def check_memory(n_samples, n_loci, n_traits, *, truth=False, full_matrix=False, networks=1,
                 hidden=512):
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
    ValueError: 10000000 loci: the analysis needs about ...
    """
    needed = memory_needed(n_samples, n_loci, n_traits, truth=truth, full_matrix=full_matrix,
                           networks=networks, hidden=hidden)
    available = available_memory()
    if available is not None and needed > available:
        raise ValueError(
            f"{n_loci} loci: the analysis needs about {gib(needed)} of memory"
            + (" with the full pair matrices (--full-matrix)" if full_matrix else "")
            + f", but {gib(available)} is available; "
            + ("leave out --full-matrix (epistasis_pairs.csv holds the largest pairs), " if
               full_matrix else "")
            + (f"average fewer than {networks} networks, " if networks > 1 else "")
            + "prune the markers (e.g. plink --indep-pairwise) or analyse fewer traits at once."
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
