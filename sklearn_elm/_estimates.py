"""What the report reads of the fitted models: estimates, their standard errors and tests.

:func:`sklearn_elm.workflow.analyse` fits the network, its
:class:`~sklearn_elm.ELMDecomposer` and the REML GBLUP baselines; the functions
here read each fitted model into plain arrays with a trait axis first, ``(k,
...)``, as the :class:`~sklearn_elm.workflow.Analysis` holds them, so that the
models themselves (and their ``p x p`` matrices) can go.  Nothing is
recomputed: the standard errors and p-values are those the models computed in
``fit``.
"""

import warnings

import numpy as np
from scipy import sparse
from sklearn.utils import Bunch

from ._chunks import EncodedRows
from ._linkage import linked_loci
from ._pairs import FactoredPairMatrix

__all__ = ["TESTS", "as_components", "baselines", "by_method", "check_fdr", "component_errors",
           "decompose", "gblup_pairs"]

#: The decomposer's tests that :func:`decompose` reads, by their name in the Analysis.
TESTS = ("additive_estimates", "additive_se", "additive_pvalues", "marginal_pvalues", "pair_tests",
         "significant_pairs")


def check_fdr(fdr):
    """``fdr`` as a float in (0, 1), with a clear error otherwise.

    Parameters
    ----------
    fdr : float
        False discovery rate of the list of significant pairs.

    Returns
    -------
    fdr : float

    Raises
    ------
    ValueError
        Where ``fdr`` is not a number strictly between 0 and 1.

    Examples
    --------
    >>> from sklearn_elm._estimates import check_fdr
    >>> check_fdr(0.05)
    0.05
    >>> check_fdr(5)
    Traceback (most recent call last):
    ...
    ValueError: fdr must be a number in (0, 1), e.g. 0.05 for 5 %, got 5.
    """
    if isinstance(fdr, bool) or not isinstance(fdr, (int, float, np.floating)) or not (
            0 < fdr < 1):
        raise ValueError(f"fdr must be a number in (0, 1), e.g. 0.05 for 5 %, got {fdr!r}.")
    return float(fdr)


def as_components(vc, k):
    """Per-trait arrays of shape (k,) of a ``variance_components_`` Bunch.

    Examples
    --------
    >>> from sklearn.utils import Bunch
    >>> from sklearn_elm._estimates import as_components
    >>> as_components(Bunch(additive=0.5, h2=0.25), 1)
    {'additive': array([0.5]), 'h2': array([0.25])}
    """
    return {c: np.atleast_1d(np.asarray(v, dtype=np.float64)).reshape(k)
            for c, v in vc.items() if np.size(v) == k}


def component_errors(model, k, keys):
    """Standard errors of ``model``'s variance components, per trait: NaN where unknown.

    Read from the model's ``variance_components_se_`` (same keys as
    ``variance_components_``); a model without one, or a key it lacks, gives
    NaN, which the report shows as not known.

    Parameters
    ----------
    model : estimator
        A fitted :class:`~sklearn_elm.ELMDecomposer` or
        :class:`~sklearn_elm.GBLUPRegressor`.
    k : int
        Traits.
    keys : iterable of str
        The components the model reports.

    Returns
    -------
    errors : dict of str to ndarray of shape (k,)

    Examples
    --------
    >>> from sklearn.utils import Bunch
    >>> from sklearn_elm._estimates import component_errors
    >>> model = Bunch(variance_components_se_=Bunch(h2=0.05))
    >>> component_errors(model, 1, ["h2", "H2"])
    {'h2': array([0.05]), 'H2': array([nan])}
    """
    known = as_components(getattr(model, "variance_components_se_", None) or {}, k)
    return {c: known.get(c, np.full(k, np.nan)) for c in keys}


def _by_trait(matrix, k, p):
    """The decomposer's pair matrices as the report reads them, ``E[k]`` one trait's: a
    dense ``(k, p, p)`` array, or past 4 GiB (the screened fit's sparse COO) a list of
    ``k`` CSR arrays, which index pairs (``E[k][i, j]``) and blocks without densifying."""
    if not sparse.issparse(matrix):
        return np.reshape(np.asarray(matrix), (k, p, p))
    coo = sparse.coo_array(matrix).reshape((k, p, p))
    trait, i, j = coo.coords
    return [sparse.csr_array((coo.data[trait == t], (i[trait == t], j[trait == t])),
                             shape=(p, p)) for t in range(k)]


def _pair_tests(elm, k):
    """``pair_tests_`` as a list of one Bunch per trait, or None where there are none."""
    tests = getattr(elm, "pair_tests_", None)
    if tests is None:
        return None
    tests = [tests] if isinstance(tests, Bunch) else list(tests)
    return [Bunch(pairs=np.asarray(t.pairs, dtype=np.intp).reshape(-1, 2),
                  estimate=np.asarray(t.estimate, dtype=np.float64),
                  std_error=np.asarray(t.std_error, dtype=np.float64),
                  p_value=np.asarray(t.p_value, dtype=np.float64),
                  p_joint=np.asarray(t.get("p_joint", np.full(np.shape(t.p_value), np.nan)),
                                     dtype=np.float64),
                  n_tests=int(t.n_tests)) for t in tests[:k]]


def _significant(elm, fdr, feature_names, encoded=None):
    """``elm.significant_pairs(fdr)`` as a dict of arrays, the loci named after
    ``feature_names`` (the decomposer sees the encoded inputs, not their names); with
    ``encoded`` (the encoded genotypes, read only where a pair is listed), ``linked_i`` and
    ``linked_j`` name the loci in linkage with each (:func:`~sklearn_elm._linkage.linked_loci`,
    space-separated: PLINK and VCF identifiers hold no whitespace) and ``n_linked_i``,
    ``n_linked_j`` count them."""
    if getattr(elm, "pair_tests_", None) is None:
        return None
    table = elm.significant_pairs(fdr, as_frame=False)
    names = np.asarray(feature_names, dtype=object)
    table = {**table, "locus_i": names[table["i"]], "locus_j": names[table["j"]]}
    if encoded is not None:
        linked = linked_loci(encoded, np.concatenate([table["i"], table["j"]])) if len(
            table["i"]) else {}
        for side in ("i", "j"):
            table[f"linked_{side}"] = np.array(
                [" ".join(str(names[c]) for c in linked[int(a)]) for a in table[side]],
                dtype=object)
            table[f"n_linked_{side}"] = np.array([linked[int(a)].size for a in table[side]],
                                                 dtype=np.intp)
    return table


def decompose(network, X, Y, feature_names, *, fdr=0.05):
    """The ELM decomposition of the fitted ``network`` on ``(X, Y)``, as the report reads it.

    The decomposer is not kept: its ``(k, p, p)`` variances of the pairs,
    which the report does not show, are freed before GBLUP builds its own
    ``p x p`` matrices.  What it tested in ``fit`` is kept: its p-values are
    a few arrays of shape (k, p) and at most about a thousand pairs per trait.

    Parameters
    ----------
    network : Pipeline
        The fitted network (encoder, then regressor).
    X : array-like of shape (n, p)
        Genotypes of the training samples.
    Y : ndarray of shape (n, k)
        Their phenotypes.
    feature_names : array-like of shape (p,)
        Locus names, for the list of significant pairs.
    fdr : float, default=0.05
        False discovery rate of that list.

    Returns
    -------
    elm : Bunch
        ``additive`` (k, p), ``epistasis`` (k, p, p) (past 4 GiB, a list of ``k``
        sparse CSR arrays of shape (p, p): :func:`_by_trait`), ``components`` and
        ``components_se`` (dicts of (k,) arrays), ``kind`` (``components_``), ``se_kind``
        (``component_se_``), ``additive_estimates``, ``additive_se``, ``additive_pvalues``
        and ``marginal_pvalues`` (k, p), ``pair_tests`` (list of one Bunch per trait, or
        None) and ``significant_pairs``
        (:meth:`~sklearn_elm.ELMDecomposer.significant_pairs` as a dict of
        arrays, or None).

    Examples
    --------
    >>> from sklearn.pipeline import make_pipeline
    >>> from sklearn_elm import GenotypeEncoder, NeuralGPRegressor
    >>> from sklearn_elm.datasets import make_epistatic_phenotypes
    >>> from sklearn_elm._estimates import decompose
    >>> data = make_epistatic_phenotypes(300, 5, random_state=0)
    >>> net = make_pipeline(GenotypeEncoder(), NeuralGPRegressor(
    ...     module__hidden_sizes=(8,), max_epochs=2, random_state=0))
    >>> net = net.fit(data.genotypes, data.phenotypes)
    >>> elm = decompose(net, data.genotypes, data.phenotypes, data.feature_names)
    >>> elm.additive_pvalues.shape, elm.pair_tests[0].n_tests
    ((1, 5), 10)
    """
    from ._decomposer import ELMDecomposer

    k, p = Y.shape[1], X.shape[1]
    elm = ELMDecomposer(network, prefit=True).fit(X, Y)
    components = as_components(elm.variance_components_, k)
    return Bunch(
        additive=np.reshape(elm.additive_effects_, (k, p)),
        epistasis=_by_trait(elm.epistasis_matrix_, k, p),
        components=components,
        components_se=component_errors(elm, k, components),
        kind=elm.components_,
        se_kind=elm.component_se_,
        **{name: np.reshape(np.asarray(getattr(elm, f"{name}_"), dtype=np.float64), (k, p))
           for name in ("additive_estimates", "additive_se", "additive_pvalues",
                        "marginal_pvalues")},
        pair_tests=_pair_tests(elm, k),
        significant_pairs=_significant(elm, fdr, feature_names,
                                       EncodedRows(X, network[:-1], p)),
    )


def baselines(encoder, X, Y, train):
    """REML GBLUP A and A+AA on the encoded training genotypes (so that their marker
    effects are on the ELM's scale), and the encoded test genotypes.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_elm import GenotypeEncoder
    >>> from sklearn_elm._estimates import baselines
    >>> rng = np.random.default_rng(0)
    >>> X = rng.integers(0, 2, size=(60, 4)).astype(float)
    >>> Y = X @ [[1.0], [0.5], [0.0], [0.0]] + rng.normal(size=(60, 1))
    >>> train = np.arange(60) < 50
    >>> gblup_a, gblup_aa, Z_test = baselines(GenotypeEncoder().fit(X), X, Y, train)
    >>> Z_test.shape
    (10, 4)
    """
    from ._gblup import GBLUPRegressor

    Z_train, Z_test = encoder.transform(X[train]), encoder.transform(X[~train])
    gblup_a = GBLUPRegressor(kernel="additive").fit(Z_train, Y[train])
    gblup_aa = GBLUPRegressor(kernel="additive+epistatic").fit(Z_train, Y[train])
    return gblup_a, gblup_aa, Z_test


def gblup_pairs(gblup_aa, k, p):
    """GBLUP A+AA's pair effects, ``(k, p, p)``, with a zero diagonal.

    Its pairwise value is ``z^T E z`` (centred ``z``), so the effect of
    ``z_i z_j`` is ``2 E_ij``; the diagonal (``z_i^2``, no pair) is set to 0.
    One copy of the matrices, scaled in place: no other ``p x p`` temporary.
    A :class:`~sklearn_elm.FactoredPairMatrix` (past ``p > n``) stays factored,
    its weights doubled: every reader of pairs reads ``i < j`` only, and the
    heatmap blanks the diagonal it shows.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.utils import Bunch
    >>> from sklearn_elm._estimates import gblup_pairs
    >>> gblup_pairs(Bunch(epistasis_matrix_=np.ones((2, 2))), 1, 2).tolist()
    [[[0.0, 2.0], [2.0, 0.0]]]
    """
    E = gblup_aa.epistasis_matrix_
    if isinstance(E, FactoredPairMatrix):
        return FactoredPairMatrix(E.factor, 2.0 * np.reshape(E.weights, (k, -1)))
    pairs = np.array(E, dtype=np.float64).reshape(k, p, p)
    pairs *= 2.0
    np.einsum("kii->ki", pairs)[...] = 0.0  # a writeable view of the diagonals
    return pairs


def by_method(elm, gblup_a, gblup_aa):
    """Each method's figures as the report shows them, keyed by method.

    Parameters
    ----------
    elm : Bunch
        :func:`decompose`'s.
    gblup_a, gblup_aa : GBLUPRegressor
        The fitted baselines (:func:`baselines`).

    Returns
    -------
    additive : dict of str to ndarray of shape (k, p)
        ``"ELM"`` and ``"GBLUP-A"``.
    epistasis : dict of str to pair matrices of shape (k, p, p)
        ``"ELM"`` (:func:`decompose`'s) and ``"GBLUP-A+AA"`` (:func:`gblup_pairs`).
    components, errors : dict of str to dict of str to ndarray of shape (k,)
        Every method's variance components and their standard errors (NaN
        where none is known).

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.utils import Bunch
    >>> from sklearn_elm._estimates import by_method
    >>> elm = Bunch(additive=np.zeros((1, 2)), epistasis=np.zeros((1, 2, 2)),
    ...             components={"h2": np.array([0.3])}, components_se={"h2": np.array([0.1])})
    >>> gblup = Bunch(coef_=np.ones(2), epistasis_matrix_=np.ones((2, 2)),
    ...               variance_components_=Bunch(h2=0.4))
    >>> additive, epistasis, components, errors = by_method(elm, gblup, gblup)
    >>> sorted(components), errors["GBLUP-A"]
    (['ELM', 'GBLUP-A', 'GBLUP-A+AA'], {'h2': array([nan])})
    """
    k, p = elm.additive.shape
    gblups = {"GBLUP-A": gblup_a, "GBLUP-A+AA": gblup_aa}
    components = {"ELM": elm.components, **{
        method: as_components(model.variance_components_, k) for method, model in gblups.items()}}
    errors = {"ELM": elm.components_se, **{
        method: component_errors(model, k, components[method])
        for method, model in gblups.items()}}
    additive = {"ELM": elm.additive, "GBLUP-A": np.reshape(gblup_a.coef_, (k, p))}
    epistasis = {"ELM": elm.epistasis, "GBLUP-A+AA": gblup_pairs(gblup_aa, k, p)}
    return additive, epistasis, components, errors


def held_out_r2(y_test, predictions, target_names):
    """Test r2 per method and trait; NaN, with a warning, for a trait constant in the test
    samples, where r2 is undefined (scikit-learn's ``r2_score`` would give 0 or 1).

    Parameters
    ----------
    y_test : ndarray of shape (n_test, k)
        Observed phenotypes of the test samples.
    predictions : dict of str to ndarray of shape (n_test, k)
        Test predictions per method.
    target_names : array-like of shape (k,)
        The traits' names, for the warning.

    Returns
    -------
    scores : dict of str to ndarray of shape (k,)

    Examples
    --------
    >>> import warnings
    >>> import numpy as np
    >>> from sklearn_elm._estimates import held_out_r2
    >>> y = np.array([[1.0, 2.0], [2.0, 2.0], [3.0, 2.0]])
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always")
    ...     scores = held_out_r2(y, {"net": y + 0.5}, ["height", "sex"])
    >>> scores["net"]
    array([0.625,   nan])
    >>> str(caught[0].message)
    "trait 'sex' is constant in the 3 test samples: its test r2 is undefined (NaN)."
    """
    from sklearn.metrics import r2_score

    constant = np.ptp(y_test, axis=0) == 0
    for k in np.flatnonzero(constant):
        warnings.warn(f"trait {str(target_names[k])!r} is constant in the {len(y_test)} test "
                      "samples: its test r2 is undefined (NaN).", UserWarning, stacklevel=3)
    return {method: np.where(constant, np.nan, r2_score(y_test, pred, multioutput="raw_values"))
            for method, pred in predictions.items()}
