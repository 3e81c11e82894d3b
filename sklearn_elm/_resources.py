"""What a run needs and what it has: memory, and the packages behind its figures.

Numpy and the standard library only (:func:`package_versions` imports the
packages it names when called).
"""

import os
import platform

import numpy as np

__all__ = ["available_memory", "gib", "memory_needed", "package_versions"]


def memory_needed(n_samples, n_loci, n_traits):
    """Bytes that :func:`~sklearn_elm.workflow.analyse` needs at its peak, from its arrays.

    Where the decomposer projects on every term (``p (p + 3) / 2 <= n / 2``) it streams about
    ``12 + 8 k`` dense ``p x p`` float64 matrices for ``k`` traits (the sums and their
    design, and per trait the slopes, the epistasis matrices and their variances); past that
    bound it fits the screened terms from the samples and keeps about ``2 + 5 k`` (per trait
    the decomposer's epistasis matrix and variances, GBLUP A+AA's pairwise matrix and its
    product, the report's ranking copy).  Beside them: a few float64 copies of the ``n x p``
    genotypes, and GBLUP's ``n x n`` kernels.  An estimate, on the generous side.

    Parameters
    ----------
    n_samples, n_loci, n_traits : int

    Returns
    -------
    bytes : int

    Examples
    --------
    >>> from sklearn_elm.workflow import memory_needed
    >>> round(memory_needed(2_000, 12_000, 1) / 2**30, 1)  # GiB: screened, 7 p x p
    9.1
    >>> round(memory_needed(8_500, 64, 5) / 2**30, 1)  # GiB: the projection, mostly GBLUP's
    2.2
    """
    n, p, k = int(n_samples), int(n_loci), int(n_traits)
    square = 12 + 8 * k if p * (p + 3) / 2 <= n / 2 else 2 + 5 * k
    return 8 * (square * p * p + 8 * n * p + 4 * n * n)


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
