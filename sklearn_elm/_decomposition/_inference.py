"""Standard errors, p-values and false-discovery control for the trait's screened fit.

Every test reads ``y``'s least-squares fit on the loci and the confirmed pairs of the
screened fit (the *final model*, :mod:`._screening`), conditionally on the genotypes of the
sample, with Gaussian noise of the final model's residual variance ``sigma^2``:

* a term of the final model has the Wald test of its coefficient, standard error
  ``sqrt(sigma^2 (X^T X)^{-1}_jj)``;
* any other pair ``x`` (centred product, or self term) has the score test of adding it
  to the final model: its estimate is ``x_perp^T r / |x_perp|^2`` with ``r`` the final
  residual and ``x_perp`` what the final model's columns leave of ``x``, standard error
  ``sigma / |x_perp|``.  A pair in linkage with a fitted locus or pair only tests what it
  adds to them, so linkage does not make phantom pairs significant;
* a locus outside the final model (more loci than half the samples) has the same score
  test with ``|x|`` in place of ``|x_perp|``: conservative, by the share of ``x`` the
  final model explains.

The two-sided p-values are Student's t on the final model's residual degrees of freedom.
Every pair the scans range over is a hypothesis; the pairs of largest scan score are tested
exactly (:data:`N_PAIR_TESTS` per output) and the rest count in the Benjamini-Hochberg
q-values (:func:`bh_qvalues`) by their number alone, as if their p-values were 1: never
anti-conservative, and exact where a q-value is below every p-value left out.

A variance component of the final fit is a quadratic form ``b^T A b`` of the coefficients
``b ~ N(beta, Sigma)``, ``Sigma = sigma^2 (X^T X)^{-1}``, whose variance is exactly
``4 beta^T A Sigma A beta + 2 tr((A Sigma)^2)``; :func:`screened_component_se` estimates it
without bias (``b`` for ``beta`` adds ``4 tr((A Sigma)^2)``), never below its value at
``beta = 0``.  Conditioning on the genotypes makes these the errors of the sample's own
components (the orthogonal decomposition of its genetic values, as a simulation's truth
is computed), with ``V_P`` the observed phenotypic variance: the ``h2`` and ``H2`` errors
are those of ``V_A`` and ``V_G`` over ``V_P``.  The estimate of ``sigma^2`` adds
``2 (sigma^2 tau)^2 / (n - 1 - df)`` to each, ``tau = tr(A (X^T X)^{-1})`` (the noise
correction's own sampling error).  Selection is not accounted for: neither of the pairs nor,
where the loci are more than half the samples, of the loci, which are then chosen by the
network's fit of ``y`` and whose tests and components lean towards its noise.
"""

import numbers

import numpy as np
from scipy import stats
from sklearn.utils import Bunch

from ._scan import _transposed_product

__all__ = [
    "N_PAIR_TESTS",
    "approximate_component_se",
    "bh_qvalues",
    "component_se_bunch",
    "locus_tests",
    "marginal_tests",
    "pair_tests",
    "screened_component_se",
    "significant_pairs_table",
    "two_sided",
]


#: Pairs per output tested exactly and kept, beyond the final model's own: those of largest
#: score in a scan of every pair against the final residual.
N_PAIR_TESTS = 1000


def two_sided(t, df):
    """Two-sided p-values of Student's ``t`` statistics on ``df`` degrees of freedom."""
    return 2.0 * stats.t.sf(np.abs(t), max(df, 1.0))


def _score(cross, squares, Xr, G_inv, sigma2):
    """Score tests of columns ``x`` added to a model of columns ``X``, from their products:
    ``cross = X^T x`` (one column per test), ``squares = |x|^2`` and ``Xr = x^T r`` with the
    model's residual ``r``.  Returns the estimate, its standard error and ``|x_perp|^2 /
    |x|^2`` (the share of ``x`` the model leaves)."""
    left = squares - np.einsum("ij,ij->j", cross, G_inv @ cross)
    share = np.where(squares > 0, left / np.where(squares > 0, squares, 1.0), 0.0)
    usable = share > 1e-6  # else the column is (numerically) the model's
    left = np.where(usable, left, np.inf)
    # r is orthogonal to X, so x_perp^T r = x^T r
    estimate = np.where(usable, Xr / left, 0.0)
    return estimate, np.sqrt(sigma2 / left), share


def locus_tests(G, loci, coef, variance, residual, sigma2, df):
    """Additive tests of every locus: Wald in the final model, score tests outside it.

    Parameters
    ----------
    G : Bunch
        The float32 genotypes with their means and centred norms (``_scan._genotypes``).
    loci : ndarray of int
        The loci of the final model.
    coef, variance : ndarray of shape (len(loci),)
        ``y``'s coefficients on them and their sampling variances.
    residual : ndarray of shape (n,)
        The final model's residual.
    sigma2, df : float
        Its noise variance and residual degrees of freedom.

    Returns
    -------
    estimate, std_error, p_value : ndarray of shape (p,)
        ``y``'s coefficient in the final model, or for a locus outside it the slope of the
        model's residual on the locus, which its score test tests; NaN for loci that do
        not vary.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_elm._decomposition._scan import _genotypes
    >>> from sklearn_elm._decomposition._inference import locus_tests
    >>> rng = np.random.default_rng(0)
    >>> Z = rng.choice([-1.0, 1.0], size=(400, 3))
    >>> y = Z[:, 0] + rng.normal(size=400)
    >>> X = Z[:, :2] - Z[:, :2].mean(0)
    >>> coef = np.linalg.lstsq(X, y - y.mean(), rcond=None)[0]
    >>> r = y - y.mean() - X @ coef
    >>> s2 = r @ r / 397
    >>> est, se, p = locus_tests(_genotypes(Z, False), np.array([0, 1]), coef,
    ...                          s2 * np.diag(np.linalg.inv(X.T @ X)), r, s2, 397)
    >>> bool(p[0] < 1e-20), bool(p[1] > 0.01), bool(p[2] > 0.01)
    (True, True, True)
    >>> bool(abs(est[0] - 1.0) < 0.2), bool(abs(est[2]) < 0.2)
    (True, True)
    """
    p = G.Z.shape[1]
    estimate, std_error, p_value = (np.full(p, np.nan) for _ in range(3))
    estimate[loci] = coef
    std_error[loci] = np.sqrt(np.maximum(variance, 0.0))
    with np.errstate(divide="ignore", invalid="ignore"):
        p_value[loci] = two_sided(coef / std_error[loci], df)
    outside = np.setdiff1d(np.flatnonzero(G.norms > 0), loci)
    if outside.size:
        norms = G.norms[outside]
        # Zc^T r = Z^T r, as r sums to 0
        covariance = _transposed_product(G, residual)[outside]  # no n x p copy
        estimate[outside] = covariance / norms**2
        std_error[outside] = np.sqrt(sigma2) / norms
        p_value[outside] = two_sided(covariance / norms * (1.0 / np.sqrt(sigma2)), df)
    return estimate, std_error, p_value


def marginal_tests(G, Yc):
    """One locus at a time: the two-sided p-value of each locus's least-squares slope on ``y``
    alone (Student's t on ``n - 2`` degrees of freedom), as a genome-wide scan reports it.

    Where loci are in linkage a QTL's neighbours share its signal (the peaks of a Manhattan
    plot), and a locus standing in for several QTL may pass: what a locus adds to all the
    others is :func:`locus_tests`'.

    Parameters
    ----------
    G : Bunch
        The float32 genotypes with their means and centred norms (``_scan._genotypes``).
    Yc : ndarray of shape (n,)
        The centred trait.

    Returns
    -------
    p_value : ndarray of shape (p,)
        NaN for loci that do not vary.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_elm._decomposition._scan import _genotypes
    >>> from sklearn_elm._decomposition._inference import marginal_tests
    >>> rng = np.random.default_rng(0)
    >>> Z = rng.choice([0.0, 1.0, 2.0], size=(500, 3))
    >>> y = 0.3 * Z[:, 1] + rng.normal(size=500)
    >>> p = marginal_tests(_genotypes(Z, False), y - y.mean())
    >>> from scipy import stats
    >>> bool(np.allclose(p, [stats.linregress(Z[:, i], y).pvalue for i in range(3)]))
    True
    """
    n = len(Yc)
    norms = G.norms
    varying = norms > 0
    # Zc^T y = Z^T y, as y is centred
    slope_times_norm = _transposed_product(G, Yc).astype(np.float64)
    slope_times_norm = np.where(varying, slope_times_norm / np.where(varying, norms, 1.0), 0.0)
    left = np.maximum(Yc @ Yc - slope_times_norm**2, 1e-300 * max(Yc @ Yc, 1e-300))
    t = slope_times_norm / np.sqrt(left / max(n - 2, 1))
    return np.where(varying, two_sided(t, n - 2), np.nan)


def pair_tests(products_of, candidates, fit, in_model, n_tests, n, block=1024):
    """Tests of the final model's pairs and the scan's other candidates, smallest p first.

    Parameters
    ----------
    products_of : callable
        ``products_of(pairs)`` gives the products of their centred columns ``C``: ``X^T
        C`` with the final model's columns ``X``, ``C``'s squares (the diagonal of ``C^T
        C``) and ``C^T r`` with the final residual ``r``.
    candidates : ndarray of shape (c, 2)
        Pairs to score-test (not in the final model).
    fit : Bunch
        The final model's least-squares fit (``y``, ``G_inv``, ``sigma2``, ``df``).
    in_model : tuple of (pairs, columns)
        The final model's pairs, shape (t, 2), and their columns' indices in ``X``.
    n_tests : int
        Every pair the scans range over (the multiple-testing family).
    n : int
        Samples.
    block : int, default=1024
        Candidates scored at a time (a pass over the samples each).

    Returns
    -------
    tests : Bunch
        ``pairs`` (shape (c', 2), ``i <= j``), ``estimate``, ``std_error``, ``p_value``
        sorted by p-value, and ``n_tests``.
    """
    df = n - 1 - fit.df
    pairs, where = in_model
    estimate = fit.y[where]
    std_error = np.sqrt(fit.sigma2 * np.diag(fit.G_inv)[where])
    found = [(pairs, estimate, std_error)]
    for c0 in range(0, len(candidates), block):
        chunk = candidates[c0 : c0 + block]
        est, se, share = _score(*products_of(chunk), fit.G_inv, fit.sigma2)
        usable = share > 1e-6
        found.append((chunk[usable], est[usable], se[usable]))
    pairs, estimate, std_error = (np.concatenate(part) for part in zip(*found, strict=True))
    p_value = two_sided(estimate / std_error, df)
    order = np.argsort(p_value, kind="stable")
    return Bunch(pairs=pairs[order].reshape(-1, 2), estimate=estimate[order],
                 std_error=std_error[order], p_value=p_value[order], n_tests=int(n_tests))


def bh_qvalues(p_values, n_tests):
    """Benjamini-Hochberg q-values of the smallest ``p_values`` of ``n_tests`` hypotheses.

    The p-values left out count by number, as if they were 1: the q-values are never smaller
    than those of all ``n_tests`` p-values (never anti-conservative), and equal to them where
    at most every p-value left out.

    Parameters
    ----------
    p_values : ndarray of shape (t,)
        The smallest ``t`` of the ``n_tests`` p-values.
    n_tests : int
        Number of hypotheses, at least ``t``.

    Returns
    -------
    q_values : ndarray of shape (t,)
        In the order of ``p_values``.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_elm._decomposition._inference import bh_qvalues
    >>> bh_qvalues(np.array([0.04, 0.001, 0.03]), 3).round(3)
    array([0.04 , 0.003, 0.04 ])
    """
    p_values = np.asarray(p_values, dtype=np.float64)
    t = p_values.size
    if n_tests < t:
        raise ValueError(f"n_tests={n_tests} is smaller than the {t} p-values given.")
    order = np.argsort(p_values, kind="stable")
    ranked = p_values[order] * n_tests / np.arange(1, t + 1)
    q = np.minimum(np.minimum.accumulate(ranked[::-1])[::-1], 1.0)
    out = np.empty(t)
    out[order] = q
    return out


def _quadratic_se(first, trace, correction=0.0, df_noise=np.inf):
    """Standard error of ``b^T A b - sigma^2 tau`` from ``b^T A Sigma A b``, ``tr((A
    Sigma)^2)`` and the noise correction ``sigma^2 tau``, whose ``sigma^2`` is estimated on
    ``df_noise`` degrees of freedom independently of ``b``."""
    variance = max(4.0 * first - 2.0 * trace, 2.0 * trace, 0.0)
    return float(np.sqrt(variance + 2.0 * correction**2 / df_noise))


def screened_component_se(X, s, fit):
    """Standard errors of the final fit's ``V_A``, ``V_AA``, ``V_G`` and ``V_higher``.

    Parameters
    ----------
    X : ndarray of shape (n, m)
        The final model's centred columns, the ``s`` loci first.
    s : int
        Number of loci.
    fit : Bunch
        ``y``'s least-squares fit on ``X`` (``y``, ``G``, ``G_inv``, ``sigma2``, ``df``).

    Returns
    -------
    se : dict
        ``additive``, ``epistatic``, ``genetic`` and ``higher``, floats.

    Examples
    --------
    One locus of effect 1 on 1000 samples with noise variance 1: ``V_A``'s error is
    about ``2 sqrt(V_A sigma^2 / n) = 0.063``.

    >>> import numpy as np
    >>> from sklearn.utils import Bunch
    >>> from sklearn_elm._decomposition._inference import screened_component_se
    >>> rng = np.random.default_rng(0)
    >>> X = rng.choice([-1.0, 1.0], size=(1000, 1))
    >>> X -= X.mean(0)
    >>> y = X[:, 0] + rng.normal(size=1000)
    >>> G = X.T @ X
    >>> b = np.linalg.solve(G, X.T @ (y - y.mean()))
    >>> r = y - y.mean() - X @ b
    >>> fit = Bunch(y=b, G=G, G_inv=np.linalg.inv(G), sigma2=r @ r / 998, df=1.0)
    >>> se = screened_component_se(X, 1, fit)["additive"]
    >>> bool(abs(se - 2 * np.sqrt(b[0] ** 2 * X.var() * fit.sigma2 / 1000)) < 0.003)
    True
    """
    n, m = X.shape
    # Sigma = sigma^2 G^-1 is never formed, nor A Sigma's transpose: one m x m product at a
    # time beside G and G^-1, tr(M M) as einsum("ij,ji->", M, M)
    b, G, G_inv, sigma2 = fit.y, fit.G, fit.G_inv, fit.sigma2
    df_noise = max(n - 1 - fit.df, 1.0)
    loci, pairs = slice(0, s), slice(s, m)
    se = {}

    def form(u):  # u^T Sigma u
        return sigma2 * (u @ (G_inv @ u))

    for key, rows in (("additive", loci), ("epistatic", pairs)):
        u = np.zeros(m)
        u[rows] = G[rows, rows] @ b[rows] / n
        P = G[rows, rows] @ G_inv[rows, rows]  # A Sigma = sigma^2 / n P
        c = sigma2 / n
        se[key] = _quadratic_se(form(u), c**2 * np.einsum("ij,ji->", P, P), c * np.trace(P),
                                df_noise)
        P = None
    # A = G / n: A Sigma = sigma^2 G G^-1 / n, of trace sigma^2 df / n
    u = G @ b / n
    se["genetic"] = _quadratic_se(form(u), fit.df * (sigma2 / n) ** 2, sigma2 * fit.df / n,
                                  df_noise)
    # V_higher = V_G - V_A - V_AA = 2 b_A^T C b_AA: A holds the cross blocks C alone
    C = G[loci, pairs] / n
    u = np.concatenate([C @ b[pairs], C.T @ b[loci]])
    Q = np.empty((m, m))  # A Sigma / sigma^2, its two row blocks written in place
    np.matmul(C, G_inv[pairs, :], out=Q[loci])
    np.matmul(C.T, G_inv[loci, :], out=Q[pairs])
    se["higher"] = _quadratic_se(form(u), sigma2**2 * np.einsum("ij,ji->", Q, Q),
                                 sigma2 * np.trace(Q), df_noise)
    return se


def approximate_component_se(estimates, n_terms, noise, n):
    """Standard errors of components fitted on ``m`` nearly orthogonal terms.

    With ``Sigma_PP`` taken as ``c`` times the inverse of the terms' covariance, ``c =
    sigma^2 / (n - 1 - m)`` (its average for random terms: the other terms' fit inflates a
    coefficient's variance), the quadratic form's variance is ``4 c V_raw - 2 c^2 m_P``,
    ``m_P`` the component's terms and ``V_raw = V + c m_P`` the uncorrected variance, never
    below its value ``2 c^2 m_P`` at no effect, plus ``2 (c m_P)^2 / (n - 1 - m)`` for the
    estimate of ``sigma^2``.  For ``"genetic"``, the fit of all ``m`` terms, ``c = sigma^2 /
    n`` exactly.

    Parameters
    ----------
    estimates : dict
        Component name to its (noise-corrected) estimate, float.
    n_terms : dict
        Component name to its number of terms ``m_P``; the key ``"all"`` is ``m``.
    noise : dict
        Component name to the noise variance ``sigma^2`` of its coefficients.
    n : int
        Samples.

    Returns
    -------
    se : dict
        Component name to its standard error.

    Examples
    --------
    >>> from sklearn_elm._decomposition._inference import approximate_component_se
    >>> se = approximate_component_se({"additive": 1.0}, {"additive": 1, "all": 1},
    ...                               {"additive": 1.0}, 1000)
    >>> round(se["additive"], 3)
    0.063
    """
    se = {}
    df_noise = max(n - 1 - n_terms["all"], 1)
    for key, value in estimates.items():
        c = noise[key] / (n if key == "genetic" else df_noise)
        m_part = n_terms[key]
        raw = max(value, 0.0) + c * m_part
        variance = max(4.0 * c * raw - 2.0 * c**2 * m_part, 2.0 * c**2 * m_part)
        se[key] = float(np.sqrt(variance + 2.0 * (c * m_part) ** 2 / df_noise))
    return se


def component_se_bunch(se, phenotypic):
    """The standard errors of every component, as ``components_bunch`` names them: ``h2``
    and ``H2`` are ``V_A`` and ``V_G`` over the observed ``V_P``; ``V_P`` is observed (NaN).

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_elm._decomposition._inference import component_se_bunch
    >>> se = {key: np.array([0.1]) for key in ("additive", "epistatic", "genetic", "higher")}
    >>> float(component_se_bunch(se, np.array([2.0])).h2[0])
    0.05
    """
    nan = np.full_like(np.asarray(phenotypic, dtype=np.float64), np.nan)
    higher = se.get("higher", nan)
    return Bunch(additive=se["additive"], epistatic=se["epistatic"], higher=higher,
                 genetic=se["genetic"], residual=se["genetic"], phenotypic=nan,
                 h2=se["additive"] / phenotypic, H2=se["genetic"] / phenotypic)


def significant_pairs_table(tests, fdr, names, as_frame=True, traits=None):
    """The pairs of ``tests`` (one Bunch per output) whose BH q-value is at most ``fdr`` and
    whose test beside their competitors (``p_joint``, :mod:`._joint`) passes
    Benjamini-Hochberg's step at ``fdr`` among them (where ``tests`` have it: a pair it did
    not reach, NaN, is kept).

    Parameters
    ----------
    tests : list of Bunch
        :func:`pair_tests` per output.
    fdr : float
        False discovery rate, in (0, 1).
    names : ndarray of str
        The loci's names.
    as_frame : bool, default=True
        A pandas DataFrame, or else a dict of column arrays.
    traits : ndarray of str or None, default=None
        The outputs' names, in a ``trait`` column after ``output`` where given.

    Returns
    -------
    table : DataFrame or dict
        Columns ``output``, (``trait``,) ``i``, ``j``, ``locus_i``, ``locus_j``, ``estimate``,
        ``std_error``, ``p_value``, ``q_value``, ``p_joint``; by output, then by p-value.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.utils import Bunch
    >>> from sklearn_elm._decomposition._inference import significant_pairs_table
    >>> tests = [Bunch(pairs=np.array([[0, 1], [1, 2]]), estimate=np.array([0.5, 0.1]),
    ...                std_error=np.array([0.05, 0.05]), p_value=np.array([1e-20, 0.05]),
    ...                n_tests=3)]
    >>> table = significant_pairs_table(tests, 0.05, np.array(["a", "b", "c"]),
    ...                                 as_frame=False)
    >>> table["locus_i"].tolist(), table["locus_j"].tolist()
    (['a'], ['b'])
    """
    if not (isinstance(fdr, numbers.Real) and 0 < fdr < 1):
        raise ValueError(f"fdr must be a number in (0, 1), got {fdr!r}.")
    columns = {key: [] for key in ("output", "i", "j", "estimate", "std_error", "p_value",
                                   "q_value", "p_joint")}
    for o, test in enumerate(tests):
        q = bh_qvalues(test.p_value, test.n_tests) if test.p_value.size else np.empty(0)
        found = np.flatnonzero(q <= fdr)
        joint = np.asarray(test.get("p_joint", np.full(q.shape, np.nan)))[found]
        tested = np.isfinite(joint)
        if tested.any():  # the listed pairs' joint tests, stepped up at fdr among them
            passed = bh_qvalues(joint[tested], found.size) <= fdr
            keep = ~tested
            keep[np.flatnonzero(tested)[passed]] = True
            found, joint = found[keep], joint[keep]
        values = (np.full(found.size, o), test.pairs[found, 0], test.pairs[found, 1],
                  test.estimate[found], test.std_error[found], test.p_value[found], q[found],
                  joint)
        for key, value in zip(columns, values, strict=True):
            columns[key].append(value)
    table = {key: np.concatenate(value) for key, value in columns.items()}
    names = np.asarray(names, dtype=object)
    traits = {} if traits is None else {"trait": np.asarray(traits, dtype=object)[table["output"]]}
    table = {"output": table["output"], **traits, **{key: table[key] for key in ("i", "j")},
             "locus_i": names[table["i"]], "locus_j": names[table["j"]],
             **{key: table[key] for key in ("estimate", "std_error", "p_value", "q_value",
                                            "p_joint")}}
    if not as_frame:
        return table
    try:
        import pandas as pd
    except ImportError as exc:
        raise ImportError(
            "significant_pairs returns a pandas DataFrame, and pandas is not installed; "
            "install it (pip install pandas) or pass as_frame=False for a dict of arrays."
        ) from exc
    return pd.DataFrame(table)
