"""Reading a fitted estimator through its equivalent linear map, batch by batch.

What :class:`~sklearn_elm.ELMDecomposer` needs from torch: the network step of a
fitted estimator, its inputs ``z`` (the output of the preprocessing steps),
and per batch the genetic values ``f`` and ELM coefficients ``J`` on the
target's scale, in float64, streamed into the sums of
:mod:`sklearn_elm._decomposition` with the exactness residual checked.

The sums of blocks of samples add up (:func:`combine_sums`), so one pass in
memory and the tasks of dask's map-reduce (:mod:`sklearn_elm._lazy`) run the
same :func:`stream_sums`.
"""

import sys

import numpy as np
import torch
from sklearn.pipeline import Pipeline
from sklearn.utils import Bunch, get_tags

from ._decomposition import add_moments, init_moments, update_moments
from ._decomposition._codes import compact
from ._elm import elm_batches, elm_residual, elm_steps, io_sizes

__all__ = ["check_exact", "combine_sums", "contributions", "finish_stream", "first_step_tags",
           "is_dask", "iter_decomposition", "iter_inputs", "split_network", "stream",
           "stream_sums"]


def check_exact(residual, peak, rtol=1e-3):
    """A clear error where ``f(x) = J(x) x`` fails beyond float round-off."""
    bad = residual > rtol * peak + 1e-12
    if bad.any():
        k = int(np.flatnonzero(bad)[0])
        raise ValueError(
            f"The equivalent linear map is not exact for this network: max |f(x) - J(x) x| "
            f"= {residual[k]:.3g} on output {k}, against max |f(x)| = {peak[k]:.3g}. The "
            "decomposition would be wrong; the network must be a bias-free stack of "
            "supported layers."
        )


def first_step_tags(estimator):
    """Tags of the estimator that first sees the input (a pipeline's first real step)."""
    while isinstance(estimator, Pipeline):
        steps = [step for _, step in estimator.steps if step not in (None, "passthrough")]
        if not steps:
            break
        estimator = steps[0]
    return get_tags(estimator)


def split_network(estimator):
    """Split a fitted estimator into ``(preprocessing or None, network step)``."""
    if isinstance(estimator, Pipeline):
        preprocessing = estimator[:-1] if len(estimator) > 1 else None
        net = estimator[-1]
    else:
        preprocessing, net = None, estimator
    if not isinstance(getattr(net, "module_", None), torch.nn.Module):
        raise TypeError(
            "ELMDecomposer decomposes a fitted skorch NeuralNet (such as "
            "NeuralGPRegressor) whose `module_` is a bias-free gated network, or a "
            f"Pipeline ending in one; got {type(net).__name__}, which has no torch "
            "module `module_`."
        )
    return preprocessing, net


def net_intercept(net, n_outputs):
    """The network's intercept per output (0 where it has none)."""
    intercept = getattr(net, "intercept_", None)
    if intercept is None:
        return np.zeros(n_outputs)
    return np.broadcast_to(np.asarray(intercept, dtype=np.float64), n_outputs).copy()


def is_dask(X):
    """Whether ``X`` is a dask array (without importing dask: one needs it imported)."""
    array = sys.modules.get("dask.array")
    return array is not None and isinstance(X, array.Array)


def _row_blocks(X, step):
    """Consecutive blocks of ``step`` rows of ``X`` as read: a DataFrame, an array, a lazy
    array's reads, or a dask array's chunks computed one at a time."""
    n = X.shape[0]
    if is_dask(X):
        for chunk in X.blocks:
            chunk = np.asarray(chunk.compute())
            for start in range(0, len(chunk), step):
                yield chunk[start : start + step]
        return
    for start in range(0, n, step):
        yield X.iloc[start : start + step] if hasattr(X, "iloc") else X[start : start + step]


def iter_inputs(X, preprocessing, batch_size):
    """Yield the network's inputs ``z``, batch by batch (all at once for ``batch_size=None``).

    ``X`` may be a lazy array (each batch is read as it comes) or a dask array
    (one chunk computed at a time, split into batches).
    """
    step = max(X.shape[0], 1) if batch_size is None else batch_size
    for Xb in _row_blocks(X, step):
        Zb = Xb if preprocessing is None else preprocessing.transform(Xb)
        Zb = np.asarray(Zb, dtype=np.float64)
        if not np.isfinite(Zb).all():
            raise ValueError("The network's input contains NaN or infinity.")
        yield Zb


def iter_decomposition(X, preprocessing, net, batch_size, n_outputs):
    """Yield ``(z, f, s, residual)`` per batch, on the target scale, in float64."""
    module = net.module_
    scale = getattr(net, "target_scale_", None)
    scale = np.ones(n_outputs) if scale is None else np.broadcast_to(scale, n_outputs)
    scale = scale.astype(np.float64)
    for i, Zb in enumerate(iter_inputs(X, preprocessing, batch_size)):
        for z, f, J in elm_batches(module, Zb, batch_size=None, check_forward=i == 0):
            r = elm_residual(f, J, z).cpu().numpy().astype(np.float64) * np.abs(scale)
            yield (
                z.cpu().numpy().astype(np.float64),
                f.cpu().numpy().astype(np.float64) * scale,
                J.cpu().numpy().astype(np.float64) * scale[None, :, None],
                r,
            )


def contributions(X, preprocessing, net, batch_size, n_outputs):
    """Per-sample contributions ``s_ki z_i`` of a block of samples, of shape (n, k p)."""
    blocks = [
        (S * Z[:, None, :]).reshape(len(Z), -1)
        for Z, _, S, _ in iter_decomposition(X, preprocessing, net, batch_size, n_outputs)
    ]
    if not blocks:
        return np.zeros((0, n_outputs * io_sizes(elm_steps(net.module_))[0]))
    return np.concatenate(blocks)


def stream_sums(X, Y, preprocessing, net, *, batch_size, n_outputs, keep, debiased, contrast,
                pairwise=True, keep_compact=False):
    """The sums of one block of samples, and with ``keep`` the samples.

    One task of the map-reduce: the blocks' sums add up with
    :func:`combine_sums` and :func:`finish_stream` completes them.  ``Y`` holds
    the block's targets (None without ``y``).

    Returns
    -------
    sums : Bunch
        ``moments`` (None for an empty block), ``residual`` and ``peak`` per output.
    kept : list of tuple
        With ``keep``, ``(z, f, y - intercept - f)`` per batch, the last only
        with ``debiased`` (``z`` made compact with ``keep_compact``, for the
        screened fit: :func:`~sklearn_elm._decomposition._codes.compact`); empty
        otherwise.
    """
    intercept = net_intercept(net, n_outputs)
    moments, residual, kept, start = None, np.zeros(n_outputs), [], 0
    peak = np.zeros(n_outputs)
    for Z, F, S, r in iter_decomposition(X, preprocessing, net, batch_size, n_outputs):
        if moments is None:
            moments = init_moments(Z.shape[1], n_outputs, contrast=contrast, pairwise=pairwise)
        update_moments(moments, Z, F, S)
        residual = np.maximum(residual, r)
        peak = np.maximum(peak, np.abs(F).max(axis=0, initial=0.0))
        if keep:
            # residual of the network's prediction, intercept + f
            R = Y[start : start + len(Z)] - intercept - F if debiased else None
            kept.append((compact(Z) if keep_compact else Z, F, R))
        start += len(Z)
    return Bunch(moments=moments, residual=residual, peak=peak), kept


def combine_sums(first, second):
    """The sums of two blocks of samples (:func:`stream_sums`) as those of both."""
    if first.moments is None or second.moments is None:
        moments = second.moments if first.moments is None else first.moments
    else:
        moments = add_moments(first.moments, second.moments)
    return Bunch(moments=moments, residual=np.maximum(first.residual, second.residual),
                 peak=np.maximum(first.peak, second.peak))


def finish_stream(sums, kept, Y, net, n_outputs):
    """The streamed sums of all samples as :func:`stream` returns them."""
    moments = sums.moments
    if moments is None or moments.n < 2:
        raise ValueError("ELMDecomposer needs at least 2 samples to decompose.")
    phenotypic = np.full(n_outputs, np.nan) if Y is None else Y.var(axis=0)
    return Bunch(moments=moments, kept=kept, phenotypic=phenotypic,
                 intercept=net_intercept(net, n_outputs), residual=sums.residual,
                 peak=sums.peak)


def stream(X, Y, preprocessing, net, *, batch_size, n_outputs, keep, debiased, contrast,
           pairwise=True, keep_compact=False):
    """Stream the network over ``X`` once: the sums, the exactness residual and, with
    ``keep``, the samples themselves (``(z, f, y - intercept - f)`` per batch, the last
    only with ``debiased``; ``z`` made compact with ``keep_compact``), for the
    projections' passes; ``pairwise=False`` keeps only the ``O(k p)`` sums
    (:func:`~sklearn_elm._decomposition.init_moments`).

    Returns a Bunch: ``moments``, ``kept``, ``phenotypic`` (the variance of ``Y``, NaN
    without it), ``intercept``, ``residual`` and ``peak`` (``max |f|``) per output.
    """
    sums, kept = stream_sums(X, Y, preprocessing, net, batch_size=batch_size,
                             n_outputs=n_outputs, keep=keep, debiased=debiased,
                             contrast=contrast, pairwise=pairwise, keep_compact=keep_compact)
    return finish_stream(sums, kept, Y, net, n_outputs)
