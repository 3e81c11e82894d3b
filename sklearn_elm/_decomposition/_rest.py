"""The additive variance of the loci a screened fit leaves out: a moment estimate.

Where a fit takes at most half as many terms as samples, a polygenic trait spreads over more
loci than it can fit.  What those loci carry is estimated from what the fit leaves of ``y``,
``r = M y`` (``M`` the residual maker of the fitted columns), by the method of moments of
Haseman and Elston: with the left-out loci's centred codes ``W`` and per-allele effects of
variance ``tau``, ``r`` has covariance ``tau K + sigma^2 M``, ``K = M W W^T M``, and its two
quadratic forms ``r^T r`` and ``|W^T r|^2`` have expectations linear in ``(tau, sigma^2)``.
The traces they need are estimated from random signs (Hutchinson), a few matrix products
over the samples a block of loci at a time: no ``n x n`` matrix, ``O(n p q)`` work for ``q``
probes.  :func:`tagging` measures, from the same kind of products, how much the fitted loci
stand for the others (linkage), which decides how many loci a cross-fit fixes.
"""

import numpy as np

from ._codes import columns as code_columns
from ._codes import transposed_product
from ._lstsq import locus_basis, residual_on
from ._scan import _block
from ._terms import Terms

__all__ = ["PROBES", "add_left_out", "rest_variance", "tagging"]

#: Random sign vectors of the trace estimates.  The estimate depends on the traces mainly
#: through the noise variance, and on the probes' draw (fixed) by a few per cent of its error.
PROBES = 32


def _left_out_product(G, loci, V):
    """``W V`` of the centred codes ``W`` of ``loci`` (``V`` of shape (len(loci), q)),
    a block of loci at a time."""
    out = np.zeros((len(G.Z), V.shape[1]))
    block = _block(len(G.Z))
    for c0 in range(0, loci.size, block):
        cols = loci[c0 : c0 + block]
        out += code_columns(G.Z, cols) @ V[c0 : c0 + block]
    return out - G.mean[loci] @ V


def tagging(G, loci, gram, *, probes=PROBES, random_state=0):
    """How much more of the other loci's variance the columns of ``loci`` fit than their
    share of the samples' degrees of freedom.

    ``(1 - |M W v|^2 / |W v|^2) / (s / n)`` over random signs ``v``, with ``W`` the centred
    codes of the loci not in ``loci``, ``M`` the residual maker of the ``s`` loci's centred
    columns and ``n`` the samples: about 1 where the loci are independent (a fitted locus
    takes its share of every other locus's variance by chance), above 1 where they are in
    linkage and the fitted loci stand for their neighbours.  ``O(n p q)`` for ``q`` probes.

    Parameters
    ----------
    G : Bunch
        The samples' inputs (``Z``, ``mean``, ``norms``, as from ``_genotypes``).
    loci : ndarray of int
        The fitted loci.
    gram : ndarray of shape (s, s)
        Their centred columns' Gram matrix.
    probes : int, default=PROBES
        Random sign vectors.
    random_state : int, default=0
        Seed of the probes.

    Returns
    -------
    float
        The ratio; 1.0 where nothing is fitted or nothing left.

    Examples
    --------
    A locus and its copy in every sample but one: fitting the first fits the second.

    >>> import numpy as np
    >>> from sklearn_elm._decomposition._rest import tagging
    >>> from sklearn_elm._decomposition._scan import _genotypes
    >>> rng = np.random.default_rng(0)
    >>> Z = rng.choice([-1.0, 1.0], size=(400, 40))
    >>> Z[:, 20:] = Z[:, :20]
    >>> Z[0, 20:] *= -1
    >>> G = _genotypes(Z, False)
    >>> loci = np.arange(20)
    >>> Zc = Z[:, loci] - Z[:, loci].mean(axis=0)
    >>> round(tagging(G, loci, Zc.T @ Zc))
    20

    Independent loci: about their share.

    >>> Z = rng.choice([-1.0, 1.0], size=(400, 40))
    >>> Zc = Z[:, loci] - Z[:, loci].mean(axis=0)
    >>> bool(0.95 < tagging(_genotypes(Z, False), loci, Zc.T @ Zc) < 1.05)
    True
    """
    n, s = len(G.Z), len(loci)
    fitted = np.zeros(len(G.norms), dtype=bool)
    fitted[np.asarray(loci, dtype=np.intp)] = True
    rest = np.flatnonzero(~fitted & (G.norms > 0))
    if s == 0 or rest.size == 0:
        return 1.0
    v = np.random.default_rng(random_state).choice([-1.0, 1.0], size=(rest.size, probes))
    wv = _left_out_product(G, rest, v)
    left = residual_on(locus_basis(Terms(G, np.asarray(loci, dtype=np.intp)), gram), wv)
    return float((1.0 - np.sum(left**2) / np.sum(wv**2)) / (s / n))


def _residual(X, fit, V):
    """What the least-squares fit on the columns of ``X`` (``fit.G_inv``) leaves of ``V``."""
    if X.shape[1] == 0:
        return V - V.mean(axis=0)
    return V - X @ (fit.G_inv @ (X.T @ V))


def rest_variance(G, X, fit, y, *, probes=PROBES, random_state=0):
    """The additive variance of the loci not among the columns of ``X``, and its error.

    Parameters
    ----------
    G : Bunch
        The samples' inputs (``Z``, ``mean``, ``norms``, as from ``_genotypes``).
    X : Terms
        The fitted columns: ``X.loci`` the loci among them.
    fit : Bunch
        ``y``'s least-squares fit on ``X`` (``y``, ``G_inv``, and ``df``, its number of
        independent terms; the columns of ``X`` without it).
    y : ndarray of shape (n,)
        The centred target.
    probes : int, default=PROBES
        Random sign vectors of the trace estimates.
    random_state : int, default=0
        Seed of the probes.

    Returns
    -------
    variance, se : float
        ``tau tr(K) / tr(M)``: the variance the left-out loci add to ``V_A`` beyond what the
        fit's columns carry of them (``tr(M)`` rather than ``n`` because the fit's noise
        correction removes, as noise, the share of them its columns fit), unconstrained in
        sign (the caller keeps an average of such estimates at 0 or above); and its standard
        error, from the quadratic forms' Gaussian covariances.  The moment equations hold in
        expectation over effects spread across the loci left out; a few effects in linkage
        left over by the fit (a sparse trait on a panel in linkage) can put ``tau`` below 0.

    Examples
    --------
    Two hundred loci of small effects, none of them fitted, on 1000 samples: their
    variance, 1.0 in expectation, is recovered within its error.

    >>> import numpy as np
    >>> from sklearn.utils import Bunch
    >>> from sklearn_elm._decomposition._rest import rest_variance
    >>> from sklearn_elm._decomposition._scan import _genotypes
    >>> from sklearn_elm._decomposition._terms import Terms
    >>> rng = np.random.default_rng(0)
    >>> Z = rng.choice([-1.0, 1.0], size=(1000, 200))
    >>> y = Z @ rng.normal(scale=np.sqrt(1 / 200), size=200) + rng.normal(size=1000)
    >>> G = _genotypes(Z, False)
    >>> X = Terms(G, np.array([], dtype=np.intp))
    >>> value, se = rest_variance(G, X, Bunch(G_inv=np.zeros((0, 0))), y - y.mean())
    >>> bool(abs(value - 1.0) < 3 * se), bool(0 < se < 0.5)
    (True, True)
    """
    n = len(G.Z)
    fitted = np.zeros(len(G.norms), dtype=bool)
    fitted[np.asarray(X.loci, dtype=np.intp)] = True
    loci = np.flatnonzero(~fitted & (G.norms > 0))
    # M's trace: the fit's independent terms (loci in complete linkage are one), where known
    trace_m = n - 1 - float(fit.get("df", X.shape[1]))
    if loci.size == 0 or trace_m < 2:
        return 0.0, 0.0
    r = _residual(X, fit, np.asarray(y, dtype=np.float64)[:, None])
    s1 = float(r[:, 0] @ r[:, 0])
    s2 = float(np.sum(transposed_product(G.Z, r)[loci].astype(np.float64) ** 2))
    # traces of K and its powers: with B = W^T M W, tr(K^j) = tr(B^j), v^T B^j v for signs v
    v = np.random.default_rng(random_state).choice([-1.0, 1.0], size=(loci.size, probes))
    mwv = _residual(X, fit, _left_out_product(G, loci, v))
    bv = transposed_product(G.Z, mwv)[loci].astype(np.float64)
    mwbv = _residual(X, fit, _left_out_product(G, loci, bv))
    bbv = transposed_product(G.Z, mwbv)[loci].astype(np.float64)
    t1, t2 = np.mean(np.sum(mwv**2, axis=0)), np.mean(np.sum(bv**2, axis=0))
    t3, t4 = np.mean(np.sum(mwbv**2, axis=0)), np.mean(np.sum(bbv**2, axis=0))
    design = np.array([[t1, trace_m], [t2, t1]])
    if not np.linalg.cond(design) < 1e12:  # the left-out loci are (nearly) the fit's noise
        return 0.0, 0.0
    tau, sigma2 = np.linalg.solve(design, [s1, s2])
    # Gaussian covariances of (s1, s2) at the estimates (kept non-negative)
    a, b = max(tau, 0.0), max(sigma2, 0.0)
    cov = 2 * np.array([
        [a * a * t2 + 2 * a * b * t1 + b * b * trace_m, a * a * t3 + 2 * a * b * t2 + b * b * t1],
        [a * a * t3 + 2 * a * b * t2 + b * b * t1, a * a * t4 + 2 * a * b * t3 + b * b * t2],
    ])
    inverse = np.linalg.inv(design)
    var_tau = (inverse @ cov @ inverse.T)[0, 0]
    scale = t1 / trace_m
    return float(tau * scale), float(np.sqrt(max(var_tau, 0.0)) * scale)


def add_left_out(part, error, left, shared=False):
    """Components ``part`` and their errors ``error`` with what the loci left out carry.

    The average of the estimates ``left`` (:func:`rest_variance`'s ``(value, se)``, one per
    half of the samples' fit) is added to ``V_A`` and ``V_G``, kept at 0 or above as REML
    keeps a variance: each estimate is unconstrained, so that where the loci left out carry
    nothing their average is not biased up.  Its error, the estimates' combined as
    independent (or, where they are read from the same samples, their mean), is combined
    with the components' as independent.

    Parameters
    ----------
    part, error : dict
        ``additive``, ``epistatic`` and ``genetic`` (and ``higher`` in ``error``), floats;
        changed in place.
    left : list of tuple
        ``(value, se)`` of each estimate; empty to add nothing.
    shared : bool, default=False
        Whether the estimates are read from the same samples (each half's fit given all
        the samples): nearly the same estimate, so averaging them does not shrink the error.

    Returns
    -------
    part, error : dict

    Examples
    --------
    >>> from sklearn_elm._decomposition._rest import add_left_out
    >>> part = {"additive": 0.3, "epistatic": 0.1, "genetic": 0.4}
    >>> error = {"additive": 0.03, "epistatic": 0.02, "genetic": 0.04, "higher": 0.0}
    >>> part, error = add_left_out(part, error, [(0.1, 0.06), (0.2, 0.08)])
    >>> round(part["additive"], 2), round(part["genetic"], 2), round(error["additive"], 2)
    (0.45, 0.55, 0.06)
    >>> round(add_left_out(part, error, [(-0.1, 0.06), (0.04, 0.08)])[0]["additive"], 2)
    0.45

    Two estimates read from the same samples keep their mean error:

    >>> error = {"additive": 0.0, "epistatic": 0.0, "genetic": 0.0, "higher": 0.0}
    >>> part, error = add_left_out(dict(part), error, [(0.1, 0.06), (0.1, 0.08)], shared=True)
    >>> round(error["additive"], 2)
    0.07
    """
    if not left:
        return part, error
    value = max(float(np.mean([v for v, _ in left])), 0.0)
    if shared:
        se = float(np.mean([e for _, e in left]))
    else:
        se = float(np.sqrt(np.sum([e**2 for _, e in left]))) / len(left)
    for key in ("additive", "genetic"):
        part[key] += value
        error[key] = float(np.hypot(error[key], se))
    return part, error
