"""Decomposing inputs that stay out of memory: sample blocks, and dask's map-reduce.

A lazy ``X`` (:func:`~sklearn_elm._inputs.is_lazy`) is never read whole.  A
lazy array (:func:`~sklearn_elm.datasets.open_plink`'s) is read a batch of
samples at a time by :func:`~sklearn_elm._streaming.iter_inputs`.  For a dask
array the streamed sums are a map-reduce that dask computes, on whatever
scheduler is active (a ``dask.distributed`` cluster where a ``Client`` is):
one task per sample chunk runs :func:`~sklearn_elm._streaming.stream_sums`
on it (the network and the preprocessing are one node of the graph each,
sent once to every worker that needs them), and a tree of
:func:`~sklearn_elm._streaming.combine_sums` adds the chunks' sums.  The sums
are those of the in-memory pass, added in another order: the results agree to
float round-off.

Estimators that pass over the samples several times (the projection, the
debiased and the screened ones) keep the encoded samples in memory whatever
``X`` is; :func:`check_kept_memory` refuses, before anything is read, a
request that would not fit.
"""

import os

import numpy as np

from ._inputs import is_dask
from ._streaming import combine_sums, contributions, finish_stream, stream_sums

__all__ = ["check_kept_memory", "check_pairwise_memory", "check_worker_memory", "dask_stream",
           "kept_bytes", "lazy_predict", "pairwise_arrays", "pairwise_bytes",
           "screened_fit_bytes", "task_sums_bytes", "transform_in_blocks", "whole_batches"]


def _available_memory():
    """Bytes of memory available now (None where it cannot be told)."""
    try:
        import psutil
    except ImportError:
        try:
            return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
        except (ValueError, OSError, AttributeError):
            return None
    return psutil.virtual_memory().available


def _in_units(n_bytes):
    """``n_bytes`` in B, kB, MB, GB or TB, three significant digits."""
    for unit in ("B", "kB", "MB", "GB"):
        if n_bytes < 1000:
            return f"{n_bytes:.3g} {unit}"
        n_bytes /= 1000
    return f"{n_bytes:.3g} TB"


def screened_fit_bytes(n_samples, n_inputs, z_bytes=1, crossfit=False):
    """Bytes the screened fit's own arrays take at their peak, beside the kept samples.

    The scans' float32 columns of the ``L`` loci they range over
    (:func:`~sklearn_elm._decomposition._scan.pair_scan_size`); four ``m x m`` matrices
    (the Gram matrix, a subset's block, its inverse, and a product of them for the
    components' errors) of ``m`` terms at most (:func:`~sklearn_elm._decomposition._scan.
    term_budget`: the loci, the pairs and the loci of the pairs); the design, kept whole
    only up to :data:`~sklearn_elm._decomposition._terms.CACHE_BYTES`; and the larger of
    a scan's temporaries (:data:`~sklearn_elm._decomposition._scan.SCAN_BLOCK_BYTES` and
    :data:`~sklearn_elm._decomposition._scan.BLOCK_BYTES` at most) and a pass's blocks of
    rows (the design's and the tested pairs', at most
    :data:`~sklearn_elm._decomposition._terms.BLOCK_ENTRIES` numbers).  With ``crossfit``,
    where the loci are chosen (more than the budget), the components are cross-fitted over
    two halves of the samples: a copy of the inputs split in two (``z_bytes`` an input: 1 for
    genotype codes, 4 in float32), a half's scan columns and the moment estimate's probes.
    ``O(n p + n L + m^2)``: no array grows as ``n m``.

    Examples
    --------
    >>> from sklearn_elm._lazy import screened_fit_bytes
    >>> round(screened_fit_bytes(20_000, 50_000) / 2**30, 1)
    4.7
    >>> round(screened_fit_bytes(20_000, 50_000, crossfit=True) / 2**30, 1)
    6.1
    """
    from ._decomposition._inference import N_PAIR_TESTS
    from ._decomposition._rest import PROBES
    from ._decomposition._scan import SCAN_BLOCK_BYTES, _block, pair_scan_size, term_budget
    from ._decomposition._terms import BLOCK_ENTRIES, CACHE_BYTES

    n, p = int(n_samples), int(n_inputs)
    n_loci, n_pairs = term_budget(n, p)
    scanned = pair_scan_size(n, p)
    terms = min(n_loci + 3 * n_pairs, p + n_pairs, n)
    design = 8 * n * terms if 8 * n * terms <= CACHE_BYTES else 0
    width = min(scanned, _block(n, 4, SCAN_BLOCK_BYTES))
    narrow = min(scanned, _block(n))
    # the scaled block, three L x width scores, five float64 temporaries of the self terms
    scan = 4 * n * width + 12 * scanned * width + 5 * 8 * n * narrow
    # a row of a pass over the design and the pairs tested: the design's inputs, terms and
    # products, and the candidates' (their inputs, columns and three temporaries)
    row = 2 * terms + 3 * n_pairs + min(p, 2 * N_PAIR_TESTS) + 4 * N_PAIR_TESTS
    passes = 8 * min(BLOCK_ENTRIES, n * row)
    halves = 0
    if crossfit and n_loci < p and n >= 12:
        # the halves' copy, a half's scan columns, and the moment estimate of the loci left
        # out (on all the samples in linkage equilibrium): four n x PROBES float64 arrays, a
        # float64 block of loci, p x PROBES products
        halves = (n * p * z_bytes + 2 * n * scanned + 32 * n * PROBES
                  + 8 * n * _block(n) + 12 * p * PROBES)
    return 4 * n * scanned + 32 * terms**2 + design + max(scan, passes) + halves


def kept_bytes(n_samples, n_inputs, n_outputs, *, debiased, screened, z_bytes=8,
               crossfit=False):
    """Bytes the samples kept between passes take, and with ``screened`` the screened fit's.

    Per sample: ``z`` (``z_bytes`` per input: 8 for float64; where the screened fit alone
    keeps them, about 1 for genotype codes, kept as int8 with the corrections of missing
    calls, and 4 for other inputs, kept in float32), ``f``
    and (``debiased``) ``y - f`` in float64.  A screened fit on float64 inputs joins
    them into one array and scans a float32 copy; on compact inputs it joins them in
    place.  Then its own arrays (:func:`screened_fit_bytes`; ``crossfit`` for
    ``components="crossfit"``).

    Examples
    --------
    >>> from sklearn_elm._lazy import kept_bytes
    >>> kept_bytes(1000, 10, 1, debiased=True, screened=False)  # 1000 x (10 x 8 + 2 x 8)
    96000
    """
    n, p, k = int(n_samples), int(n_inputs), int(n_outputs)
    kept = int(n * (p * z_bytes + 8 * k * (2 if debiased else 1)))
    if not screened:
        return kept
    copies = n * p * (8 + 4) if z_bytes == 8 else 0
    return kept + copies + 8 * n * k * 2 + screened_fit_bytes(n, p, min(z_bytes, 4), crossfit)


def check_kept_memory(n_samples, n_inputs, n_outputs, *, epistasis, components, debiased,
                      z_bytes=8):
    """Refuse to keep samples that would take more than half the memory available.

    A clear ``ValueError`` names the bytes needed and what to do instead: the
    estimators that stream (``epistasis="regression"``,
    ``components="network"``), or fewer samples.  ``z_bytes`` is the size of a kept
    input (:func:`kept_bytes`).

    Examples
    --------
    >>> from sklearn_elm._lazy import check_kept_memory
    >>> check_kept_memory(100, 10, 1, epistasis="projection", components="network",
    ...                   debiased=False)
    """
    # the debiased components' tests come from the screened fit too
    screened = "screened" in (epistasis, components) or components in ("debiased", "crossfit")
    crossfit = components == "crossfit"
    needed = kept_bytes(n_samples, n_inputs, n_outputs, debiased=debiased, screened=screened,
                        z_bytes=z_bytes, crossfit=crossfit)
    available = _available_memory()
    if available is None or needed <= available / 2:
        return
    dtype = "float64" if z_bytes == 8 else "float32" if z_bytes == 4 else "int8 codes"
    what = f"{n_samples} samples x {n_inputs} network inputs in {dtype}"
    if screened:
        own = screened_fit_bytes(n_samples, n_inputs, min(z_bytes, 4), crossfit)
        what += f", and the screened fit's scans and Gram matrices ({_in_units(own)})"
    raise ValueError(
        f"epistasis={epistasis!r} with components={components!r} keeps every sample in "
        f"memory: {_in_units(needed)} ({what}), more than half "
        f"of the {_in_units(available)} available. Use epistasis='regression' and "
        "components='network', which stream the samples in blocks and keep none, or "
        "decompose fewer samples."
    )


def pairwise_arrays(n_outputs, contrast=False):
    """How many ``p x p`` float64 arrays the streamed sums' estimators hold at their peak,
    for any codes: ``max(5 + k, 3 + 2 k)``, the larger of the slopes' (four input sums,
    the covariance and per output the sums with the coefficients) and the end's (three
    input sums, and per output the pair matrix and its variance); ``4 + 4 k`` more for the
    genotype-class sums of ``epistasis="contrast"``.  Integer codes (GenotypeEncoder's
    -1/0/+1) keep their input sums in float32, three arrays where ``z^2`` is the
    indicator of ``z != 0``: ``max(2.5 + k, 1.5 + 2 k)`` then.  In one process: on a dask
    cluster every task holds its own sums too.

    Examples
    --------
    >>> from sklearn_elm._lazy import pairwise_arrays
    >>> pairwise_arrays(1), pairwise_arrays(1, contrast=True)
    (6, 14)
    """
    k = int(n_outputs)
    return max(5 + k, 3 + 2 * k) + (4 + 4 * k if contrast else 0)


def pairwise_bytes(n_inputs, n_outputs, contrast=False):
    """Bytes of the :func:`pairwise_arrays` of ``p = n_inputs`` inputs.

    Examples
    --------
    >>> from sklearn_elm._lazy import pairwise_bytes
    >>> pairwise_bytes(10_000, 1) / 1e9  # GB
    4.8
    """
    return 8 * n_inputs**2 * pairwise_arrays(n_outputs, contrast)


def check_pairwise_memory(n_inputs, n_outputs, *, epistasis, components):
    """Refuse, before any sample is read, a fit whose ``p x p`` arrays
    (:func:`pairwise_bytes`) would take more than the memory available.

    Examples
    --------
    >>> from sklearn_elm._lazy import check_pairwise_memory
    >>> check_pairwise_memory(100, 1, epistasis="regression", components="network")
    """
    contrast = epistasis == "contrast"
    needed = pairwise_bytes(n_inputs, n_outputs, contrast)
    available = _available_memory()
    if available is None or needed <= 0.9 * available:
        return
    classes = ", the genotype-class sums" if contrast else ""
    raise ValueError(
        f"epistasis={epistasis!r} with components={components!r} holds about "
        f"{pairwise_arrays(n_outputs, contrast)} dense {n_inputs} x {n_inputs} float64 "
        f"arrays at its peak (the sums over samples{classes}, their covariance, and per "
        f"output the pair matrix and its variance): {_in_units(needed)}, more than the "
        f"{_in_units(available)} available. "
        "Use epistasis='screened' and components='screened', which rank the pairs without "
        "a dense p x p array, or decompose fewer loci."
    )


def task_sums_bytes(n_inputs, n_outputs, contrast=False):
    """Bytes of the sums one dask task holds for its chunk of samples, for any codes:
    ``4 + k`` float64 ``p x p`` arrays (the input sums, and per output the sums with the
    coefficients), ``4 + 4 k`` more for the class sums of ``epistasis="contrast"``.

    Examples
    --------
    >>> from sklearn_elm._lazy import task_sums_bytes
    >>> task_sums_bytes(10_000, 1) / 1e9  # GB
    4.0
    """
    k = int(n_outputs)
    return 8 * n_inputs**2 * (4 + k + (4 + 4 * k if contrast else 0))


def check_worker_memory(n_inputs, n_outputs, *, epistasis, components):
    """Refuse, before any task runs, a map-reduce whose sums would pass the memory limit
    of a ``dask.distributed`` worker (where a ``Client`` is active and its workers have a
    limit): a worker runs as many tasks at once as it has threads, each holding its
    chunk's sums (:func:`task_sums_bytes`), and a step of the tree sum holds three (two
    and their total).

    Examples
    --------
    >>> from sklearn_elm._lazy import check_worker_memory
    >>> check_worker_memory(100, 1, epistasis="regression", components="network")
    """
    try:
        from distributed import get_client
        client = get_client()
    except (ImportError, ValueError):  # no distributed, or no client: one process
        return
    contrast = epistasis == "contrast"
    each = task_sums_bytes(n_inputs, n_outputs, contrast)
    for address, worker in client.scheduler_info()["workers"].items():
        limit, threads = worker.get("memory_limit") or 0, worker.get("nthreads", 1)
        needed = each * (threads + 2)
        if limit and needed > 0.9 * limit:
            raise ValueError(
                f"epistasis={epistasis!r} with components={components!r} on the dask "
                f"cluster: each task holds the sums of its chunk, {_in_units(each)} at "
                f"{n_inputs} network inputs, and worker {address} runs {threads} at once "
                f"beside a step of the tree sum (three such sums): about "
                f"{_in_units(needed)}, more than 90 % of its memory limit of "
                f"{_in_units(limit)}. Give the workers fewer threads or more memory, use "
                "epistasis='screened' and components='screened', or decompose fewer loci."
            )


def _tree_sum(parts):
    """A tree of :func:`combine_sums` over delayed block sums, ``log2`` of them deep."""
    import dask

    while len(parts) > 1:
        pairs = [parts[i : i + 2] for i in range(0, len(parts), 2)]
        parts = [dask.delayed(combine_sums)(*pair) if len(pair) == 2 else pair[0]
                 for pair in pairs]
    return parts[0]


def whole_batches(X, batch_size):
    """``X`` with sample chunks of whole batches (rechunked only where they are not).

    Every batch a task makes is then one the in-memory pass makes too: the
    network's float32 output depends, at round-off, on the size of the batch
    it is computed in, and the projections amplify that difference.

    Examples
    --------
    >>> import dask.array as da
    >>> from sklearn_elm._lazy import whole_batches
    >>> whole_batches(da.zeros((300, 2), chunks=(90, 2)), 64).chunks[0]
    (64, 64, 64, 64, 44)
    >>> whole_batches(da.zeros((300, 2), chunks=(128, 2)), 64).chunks[0]
    (128, 128, 44)
    """
    sizes = X.chunks[0]
    if batch_size is None or all(size % batch_size == 0 for size in sizes[:-1]):
        return X
    return X.rechunk({0: batch_size * max(1, round(max(sizes) / batch_size))})


def dask_stream(X, Y, preprocessing, net, *, batch_size, n_outputs, keep, **options):
    """:func:`~sklearn_elm._streaming.stream` over a dask array, as a map-reduce.

    One task per sample chunk of ``X`` (whose loci are one chunk, and whose
    chunks are made whole batches by :func:`whole_batches`) computes its sums
    and, with ``keep``, returns its samples; the sums are added by a tree;
    both are computed together by the active dask scheduler.  ``Y`` (in
    memory) is cut to the chunks.  ``options`` are those of
    :func:`~sklearn_elm._streaming.stream_sums`.
    """
    import dask

    X = whole_batches(X, batch_size)
    offsets = np.cumsum((0, *X.chunks[0]))
    blocks = X.to_delayed()[:, 0]
    # one node each, shared by every task, rather than a copy in each task
    preprocessing = dask.delayed(preprocessing, traverse=False)
    net_node = dask.delayed(net, traverse=False)
    parts = [
        dask.delayed(stream_sums, nout=2)(
            block, None if Y is None else Y[start:stop], preprocessing, net_node,
            batch_size=batch_size, n_outputs=n_outputs, keep=keep, **options,
        )
        for block, start, stop in zip(blocks, offsets[:-1], offsets[1:], strict=True)
    ]
    sums, kept = dask.compute(_tree_sum([part[0] for part in parts]),
                              [part[1] for part in parts] if keep else [])
    kept = [batch for chunk in kept for batch in chunk]
    return finish_stream(sums, kept, Y, net, n_outputs)


def _predict_block(block, estimator):
    return np.asarray(estimator.predict(block))


def lazy_predict(estimator, X, batch_size):
    """``estimator.predict`` of a lazy ``X``: a dask array of the predictions for a dask
    ``X`` (one task per sample chunk), else an ndarray predicted a batch at a time."""
    if is_dask(X):
        import dask

        first = _predict_block(np.asarray(X[:1].compute()), estimator)
        chunks = (X.chunks[0],) + tuple((size,) for size in first.shape[1:])
        meta = np.empty((0,) + first.shape[1:], dtype=first.dtype)
        return X.map_blocks(
            _predict_block, dask.delayed(estimator, traverse=False), dtype=first.dtype,
            chunks=chunks, drop_axis=[] if first.ndim == 2 else 1, meta=meta,
        )
    step = max(X.shape[0], 1) if batch_size is None else batch_size
    return np.concatenate([_predict_block(X[start : start + step], estimator)
                           for start in range(0, X.shape[0], step)])


def transform_in_blocks(X, preprocessing, net, batch_size, n_outputs, n_features_z):
    """The contributions of :meth:`~sklearn_elm.ELMDecomposer.transform`: a dask array
    for a dask ``X`` (one task per sample chunk), else an ndarray made a batch at a time
    (a lazy ``X`` is read a batch at a time)."""
    if not is_dask(X):
        return contributions(X, preprocessing, net, batch_size, n_outputs)
    import dask

    width = n_outputs * n_features_z
    return X.map_blocks(
        contributions, dask.delayed(preprocessing, traverse=False),
        dask.delayed(net, traverse=False), batch_size, n_outputs, dtype=np.float64,
        chunks=(X.chunks[0], (width,)), meta=np.empty((0, width)),
    )
