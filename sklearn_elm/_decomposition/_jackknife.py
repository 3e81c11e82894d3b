"""Standard errors of the screened fit's components that count the choice of its terms.

The screened fit's own errors (:func:`~._inference.screened_component_se`) are those of a
model whose terms are given.  Its pairs are chosen by the data, and where a pair is found in
some samples and missed in others its variance moves between ``V_AA`` and ``V_A`` (and what
the terms leave): on msprime panels with pairs of rare alleles the spread of ``h2`` across
data sets is about 1.6 times those errors.  A delete-a-group jackknife reruns the whole fit,
choices included, without each of ``B`` random groups of samples.

The components are the sample's own (the orthogonal decomposition of its genetic values), and
the errors are those of the estimate less that realised value: each refit's estimate is
compared with the variance, over the samples it kept, of the full fit's additive and pairwise
parts (``X_A b_A`` and ``X_AA b_AA``), so that what the groups change of the realised
components themselves is not counted as error.  With ``d_b`` the difference for group ``b``,
the variance is ``(B - 1) / B sum_b (d_b - mean(d))^2``.
"""

import numpy as np

__all__ = ["JACKKNIFE_BLOCKS", "JACKKNIFE_FLOPS", "JACKKNIFE_MIN_SAMPLES", "fit_flops",
           "jackknife_groups", "jackknife_se"]

#: Groups of samples the jackknife leaves out one at a time: with 10 the errors were too
#: noisy (their intervals covered h2 in 88 % of data sets on two of seven scenarios of
#: ``benchmarks/calibration.py``; 90-96 % with 20).
JACKKNIFE_BLOCKS = 20

#: Largest estimated cost of the jackknife's refits (multiply-adds, all groups) that
#: ``component_se="auto"`` runs, about half a minute on two cores (at 4,000 samples and
#: 500 loci, 4.9e10, the 20 refits take 26 s against 1.8 s for the fit); past it the fit's
#: own errors are reported.
JACKKNIFE_FLOPS = 5e10

#: Fewest samples with which ``component_se="auto"`` runs the jackknife.
JACKKNIFE_MIN_SAMPLES = 100

#: The components whose errors the jackknife gives.
KEYS = ("additive", "epistatic", "genetic", "higher")


def fit_flops(n, n_terms, n_scanned, n_outputs):
    """Rough multiply-adds of one screened fit: its Gram matrix (``n m^2``) and its scans
    of pairs (``n L^2 / 2`` for ``L`` loci scanned), per output.

    Examples
    --------
    >>> from sklearn_elm._decomposition._jackknife import fit_flops
    >>> fit_flops(1000, 100, 40, 1)
    10800000.0
    """
    return float(n_outputs) * n * (float(n_terms) ** 2 + float(n_scanned) ** 2 / 2)


def jackknife_groups(n, blocks=JACKKNIFE_BLOCKS, seed=0):
    """The samples each refit keeps: all but one of ``blocks`` random groups of about equal
    size (a fixed seed, so that a fit is reproducible), in increasing order.

    Examples
    --------
    >>> from sklearn_elm._decomposition._jackknife import jackknife_groups
    >>> kept = jackknife_groups(20, blocks=4)
    >>> len(kept), [k.size for k in kept]
    (4, [15, 15, 15, 15])
    """
    order = np.random.default_rng(seed).permutation(n)
    left_out = np.array_split(order, blocks)
    return [np.setdiff1d(np.arange(n), out, assume_unique=True) for out in left_out]


def _realised(parts, keep):
    """The variances over the samples ``keep`` of the additive and pairwise parts
    (arrays of shape (n, k)) and of their sum, and ``higher``, the rest of that sum."""
    A, P = parts["additive"][keep], parts["epistatic"][keep]
    out = {"additive": A.var(axis=0), "epistatic": P.var(axis=0),
           "genetic": (A + P).var(axis=0)}
    out["higher"] = out["genetic"] - out["additive"] - out["epistatic"]
    return out


def jackknife_se(refit, parts, groups):
    """Delete-a-group jackknife errors of the components of a fit.

    Parameters
    ----------
    refit : callable
        ``refit(keep)`` returns the components (``additive``, ``epistatic`` and
        ``genetic``, arrays of shape (k,)) of the same fit, choices included, on the
        samples ``keep``.
    parts : dict
        ``additive`` and ``epistatic``: arrays of shape (n, k), the full fit's additive
        and pairwise parts per sample (what the components are the variances of).
    groups : list of ndarray
        The samples each refit keeps (:func:`jackknife_groups`).

    Returns
    -------
    se : dict
        ``additive``, ``epistatic``, ``genetic`` and ``higher``: arrays of shape (k,).

    Examples
    --------
    The variance of a least-squares fit on one locus, whose error is about
    ``2 sqrt(V_A sigma^2 / n) = 0.063`` at 1000 samples:

    >>> import numpy as np
    >>> from sklearn_elm._decomposition._jackknife import jackknife_groups, jackknife_se
    >>> rng = np.random.default_rng(0)
    >>> z = rng.choice([-1.0, 1.0], size=1000)
    >>> y = z + rng.normal(size=1000)
    >>> def fit(keep):
    ...     zc, yc = z[keep] - z[keep].mean(), y[keep] - y[keep].mean()
    ...     b = zc @ yc / (zc @ zc)
    ...     noise = np.var(yc - b * zc) / len(keep)
    ...     va = np.array([b * b * zc.var() - noise])
    ...     return {"additive": va, "epistatic": np.zeros(1), "genetic": va}
    >>> zc = z - z.mean()
    >>> b = zc @ (y - y.mean()) / (zc @ zc)
    >>> parts = {"additive": (b * zc)[:, None], "epistatic": np.zeros((1000, 1))}
    >>> se = jackknife_se(fit, parts, jackknife_groups(1000))
    >>> bool(0.04 < se["additive"][0] < 0.09)
    True
    """
    diffs = {key: [] for key in KEYS}
    for keep in groups:
        estimate = refit(keep)
        estimate = dict(estimate, higher=estimate["genetic"] - estimate["additive"]
                        - estimate["epistatic"])
        realised = _realised(parts, keep)
        for key in KEYS:
            diffs[key].append(np.asarray(estimate[key]) - realised[key])
    B = len(groups)
    return {key: np.sqrt((B - 1) / B * np.sum((np.array(d) - np.mean(d, axis=0)) ** 2, axis=0))
            for key, d in diffs.items()}
