"""The report's uncertainty: standard errors, p-values and the pairs significant at an FDR.

Read from an :class:`~sklearn_elm.workflow.Analysis` (``variance_components_se``,
``additive_estimates``, ``additive_se``, ``additive_pvalues``, ``pair_tests``,
``significant_pairs``, ``fdr``), by the tables, the figures and the page alike; an
analysis without them (None) reads as not tested, with NaN standard errors and p-values.
Nothing is recomputed: the numbers are those the estimators computed in ``fit``.
"""

import numpy as np

__all__ = ["component_errors", "fdr_label", "format_p", "minus_log10", "n_significant",
           "n_tests", "pair_keys", "pair_p_labels", "pair_test_columns", "qq_points",
           "significant_rows", "tested_pairs"]

#: The largest -log10 p drawn: a p-value that underflowed to 0 is drawn at the smallest
#: positive double, 2.2e-308, not at infinity.
_TINY = np.finfo(np.float64).tiny


def component_errors(analysis, method):
    """Standard errors of ``method``'s variance components, by component: (k,) arrays,
    NaN where none is known (no ``variance_components_se`` for the method or component)."""
    k = len(analysis.target_names)
    known = (analysis.variance_components_se or {}).get(method, {})
    return {c: np.asarray(known[c], dtype=np.float64) if c in known else np.full(k, np.nan)
            for c in analysis.variance_components[method]}


def fdr_label(analysis):
    """The FDR as a percentage, for titles: ``"FDR 5 %"``.

    Examples
    --------
    >>> from types import SimpleNamespace
    >>> from sklearn_elm._report._inference import fdr_label
    >>> fdr_label(SimpleNamespace(fdr=0.05)), fdr_label(SimpleNamespace(fdr=0.001))
    ('FDR 5 %', 'FDR 0.1 %')
    >>> fdr_label(SimpleNamespace(fdr=0.999999))  # below 100 %, as it must be
    'FDR 99.9999 %'
    """
    percent = f"{100 * analysis.fdr:.3g}"
    return f"FDR {percent if percent != '100' else f'{100 * analysis.fdr:.12g}'} %"


def format_p(value, digits=2):
    """A p- or q-value for a table: ``digits`` significant digits, and one that underflowed
    to 0 in float64 (below 1e-308) as ``"<1e-300"``, not as a p-value of 0.

    Examples
    --------
    >>> from sklearn_elm._report._inference import format_p
    >>> format_p(0.01234), format_p(0.0), format_p(3e-12, 3)
    ('0.012', '<1e-300', '3e-12')
    """
    return "<1e-300" if value == 0 else f"{value:.{digits}g}"


def n_tests(analysis, k):
    """Pairs the decomposer tested for trait ``k``; 0 where it tested none."""
    return 0 if analysis.pair_tests is None else int(analysis.pair_tests[k].n_tests)


def _rows_of(analysis, k):
    table = analysis.significant_pairs
    return np.flatnonzero(np.asarray(table["output"]) == k)


def n_significant(analysis, k):
    """Pairs of trait ``k`` significant at ``analysis.fdr``; 0 where none was tested."""
    return 0 if analysis.significant_pairs is None else int(_rows_of(analysis, k).size)


def significant_rows(analysis, k=None):
    """The significant pairs, as ``(trait index, dict of column arrays)`` per trait (every
    trait, or only ``k``); by trait, then by p-value, as ``significant_pairs`` orders them."""
    traits = range(len(analysis.target_names)) if k is None else [k]
    table = analysis.significant_pairs
    if table is None:
        return [(t, None) for t in traits]
    return [(t, {key: np.asarray(column)[_rows_of(analysis, t)]
                 for key, column in table.items()}) for t in traits]


def pair_p_labels(analysis, k, i, j):
    """The trait's p-value of each pair ``(i, j)`` of trait ``k``, for a table beside the
    network's estimate: ``"p 3e-09"``; ``"p > 0.012"`` for a pair tested but not kept among
    the pairs of smallest p-value (its p-value is above theirs); ``""`` without tests.

    Examples
    --------
    >>> import numpy as np
    >>> from types import SimpleNamespace
    >>> from sklearn.utils import Bunch
    >>> from sklearn_elm._report._inference import pair_p_labels
    >>> tests = Bunch(pairs=np.array([[0, 2], [1, 2]]), std_error=np.array([0.1, 0.2]),
    ...               p_value=np.array([3e-9, 0.012]), estimate=np.zeros(2), n_tests=3)
    >>> analysis = SimpleNamespace(pair_tests=[tests], feature_names=np.arange(3))
    >>> pair_p_labels(analysis, 0, np.array([2, 0]), np.array([0, 1]))
    ['p 3e-09', 'p > 0.012']
    """
    if analysis.pair_tests is None or n_tests(analysis, k) == 0:
        return [""] * len(i)
    p_value = pair_test_columns(analysis, k, i, j)[2]
    kept = np.asarray(analysis.pair_tests[k].p_value)
    above = f"p > {format_p(kept.max())}" if kept.size else "p -"
    return [f"p {format_p(v)}" if np.isfinite(v) else above for v in p_value]


def pair_keys(i, j, p):
    """Each pair ``(i, j)``, in either order, as one integer key ``min p + max``."""
    i, j = np.asarray(i, dtype=np.int64), np.asarray(j, dtype=np.int64)
    return np.minimum(i, j) * p + np.maximum(i, j)


def tested_pairs(analysis, k):
    """Trait ``k``'s pairs the decomposer tested, ``i < j`` (a locus with itself left out),
    by increasing p-value (ties in the tests' order); shape (m, 2), m = 0 without tests.

    Examples
    --------
    >>> import numpy as np
    >>> from types import SimpleNamespace
    >>> from sklearn.utils import Bunch
    >>> from sklearn_elm._report._inference import tested_pairs
    >>> tests = Bunch(pairs=np.array([[2, 0], [1, 1], [1, 2]]), p_value=np.array([0.5, 0.1, 1e-9]))
    >>> tested_pairs(SimpleNamespace(pair_tests=[tests]), 0).tolist()
    [[1, 2], [0, 2]]
    """
    tests = None if analysis.pair_tests is None else analysis.pair_tests[k]
    if tests is None or len(tests.p_value) == 0:
        return np.empty((0, 2), dtype=np.intp)
    pairs = np.sort(np.asarray(tests.pairs, dtype=np.int64).reshape(-1, 2), axis=1)
    distinct = pairs[:, 0] != pairs[:, 1]
    order = np.argsort(np.asarray(tests.p_value)[distinct], kind="stable")
    return pairs[distinct][order].astype(np.intp)


def pair_test_columns(analysis, k, i, j):
    """``estimate``, ``std_error`` and ``p_value`` of the pairs ``(i, j)`` of trait ``k`` in
    the decomposer's pair tests, NaN for a pair it did not keep among them.

    Parameters
    ----------
    analysis : :class:`~sklearn_elm.workflow.Analysis`
    k : int
        Trait index.
    i, j : ndarray of int
        Locus indices of each pair (either order).

    Returns
    -------
    estimate, std_error, p_value : ndarray of float, shaped as ``i``

    Examples
    --------
    >>> import numpy as np
    >>> from types import SimpleNamespace
    >>> from sklearn.utils import Bunch
    >>> from sklearn_elm._report._inference import pair_test_columns
    >>> tests = Bunch(pairs=np.array([[0, 2], [1, 2]]), std_error=np.array([0.1, 0.2]),
    ...               p_value=np.array([1e-9, 0.5]), estimate=np.array([0.7, 0.1]), n_tests=3)
    >>> analysis = SimpleNamespace(pair_tests=[tests], feature_names=np.arange(3))
    >>> est, se, p = pair_test_columns(analysis, 0, np.array([2, 0]), np.array([1, 1]))
    >>> est.tolist(), se.tolist(), p.tolist()
    ([0.1, nan], [0.2, nan], [0.5, nan])
    """
    i, j = np.asarray(i, dtype=np.int64), np.asarray(j, dtype=np.int64)
    estimate, std_error, p_value = (np.full(i.shape, np.nan) for _ in range(3))
    tests = None if analysis.pair_tests is None else analysis.pair_tests[k]
    if tests is None or i.size == 0 or len(tests.p_value) == 0:
        return estimate, std_error, p_value
    p = len(analysis.feature_names)
    # a pair as one key, looked up by binary search: no Python loop
    keys = pair_keys(*np.asarray(tests.pairs, dtype=np.int64).reshape(-1, 2).T, p)
    order = np.argsort(keys)
    wanted = pair_keys(i, j, p)
    at = order[np.minimum(np.searchsorted(keys[order], wanted), keys.size - 1)]
    hit = keys[at] == wanted
    estimate[hit] = np.asarray(tests.estimate)[at[hit]]
    std_error[hit] = np.asarray(tests.std_error)[at[hit]]
    p_value[hit] = np.asarray(tests.p_value)[at[hit]]
    return estimate, std_error, p_value


def minus_log10(p_values):
    """``-log10 p``, a p-value of 0 (underflow) taken as the smallest positive double.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_elm._report._inference import minus_log10
    >>> minus_log10(np.array([0.1, 1.0, np.nan])).tolist()
    [1.0, -0.0, nan]
    """
    return -np.log10(np.maximum(np.asarray(p_values, dtype=np.float64), _TINY))


def qq_points(tests):
    """Expected and observed ``-log10 p`` of the stored smallest pair p-values.

    The ``t`` stored p-values are the smallest of ``n_tests``; under the null,
    the one of rank ``r`` is expected at ``(r - 0.5) / n_tests``, so the
    expected quantiles use ``n_tests``, not ``t``.

    Parameters
    ----------
    tests : Bunch
        ``p_value`` (t,) and ``n_tests``.

    Returns
    -------
    expected, observed : ndarray of shape (t,)
        Smallest p-value first.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.utils import Bunch
    >>> from sklearn_elm._report._inference import qq_points
    >>> expected, observed = qq_points(Bunch(p_value=np.array([0.01, 0.001]), n_tests=50))
    >>> np.round(10.0 ** -expected, 3).tolist(), np.round(observed, 3).tolist()
    ([0.01, 0.03], [3.0, 2.0])
    """
    p_values = np.sort(np.asarray(tests.p_value, dtype=np.float64))
    ranks = np.arange(1, p_values.size + 1)
    return -np.log10((ranks - 0.5) / int(tests.n_tests)), minus_log10(p_values)
