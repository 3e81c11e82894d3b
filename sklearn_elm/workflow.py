"""The comparison behind ``sklearn-elm run``, as a function: train, decompose, compare.

:func:`analyse` trains the network on a data set's training samples, decomposes it with
:class:`~sklearn_elm.ELMDecomposer`, fits the REML GBLUP baselines on the same samples, scores
every method on the test samples and, where the data carry their true effects (simulations, the
bundled data), scores the estimates against them.  It returns an :class:`Analysis`, the typed
record that the report and the command line read by name.

Everything here is in memory and has no side effects beyond the optional ``log`` messages:
loading files is :func:`sklearn_elm.datasets.load_data`'s job, writing the report the command
line's.
"""

import contextlib
import sys
import time
import warnings
from dataclasses import dataclass, field

import numpy as np

from . import _resources
from ._resources import available_memory, memory_needed, package_versions

__all__ = ["Analysis", "analyse", "available_memory", "check_data", "memory_needed",
           "package_versions"]


@dataclass(frozen=True)
class Analysis:
    """What :func:`analyse` found: every figure of the report, by name.

    ``k`` traits, ``p`` loci.  The dictionaries map a method name (``"network"`` or ``"ELM"``,
    ``"GBLUP-A"``, ``"GBLUP-A+AA"``, and ``"truth"`` where the true effects are known) to its
    figures; the first entry is the main estimate (by which pairs are ranked).

    Attributes
    ----------
    name, description : str
        The data set.
    feature_names : ndarray of shape (p,)
        Locus names.
    target_names : ndarray of shape (k,)
        Trait names.
    ploidy : int
        1 (haploid 0/1 genotypes) or 2 (diploid 0/1/2 dosages).
    n_train, n_test : int
        Training and test samples.
    y_test : ndarray of shape (n_test, k)
        Observed phenotypes of the test samples.
    predictions : dict of str to ndarray of shape (n_test, k)
        Test predictions per method.
    test_r2 : dict of str to ndarray of shape (k,)
        Test r2 per method and trait.
    additive : dict of str to ndarray of shape (k, p)
        Additive effects on the encoded scale ``z``; ``"truth"`` holds the
        true average effects under the training samples' frequencies
        (:func:`~sklearn_elm.metrics.true_average_effects`), which is what
        the estimates estimate.
    epistasis : dict of str to pair matrices of shape (k, p, p)
        Symmetric pair effects ``e_ij`` of ``z_i z_j``, ``epistasis[method][t]`` trait
        ``t``'s: ndarrays where they fit, else not dense (the ELM's, past 4 GiB, a list of
        sparse CSR arrays; GBLUP A+AA's, past more loci than training samples, a
        :class:`~sklearn_elm.FactoredPairMatrix`, its diagonal not zeroed); each indexes
        pairs as ``[t][i, j]``, and ``sklearn_elm._pairs.dense_pairs`` forms it.
    variance_components : dict of str to dict of str to ndarray of shape (k,)
        Components by method, keyed as the estimators' ``variance_components_``
        (``additive``, ``epistatic``, ``higher``, ``genetic``, ``residual``,
        ``phenotypic``, ``h2``, ``H2``).
    variance_components_se : dict of str to dict of str to ndarray of shape (k,)
        Their standard errors, by method and component: the ELM's and the GBLUPs'
        ``variance_components_se_``; NaN where none is known (the truth, a component not
        estimated).
    elm_components : str
        What the ELM's components are (``ELMDecomposer.components_``).
    elm_component_se : str or None
        What their standard errors are (``ELMDecomposer.component_se_``).
    additive_estimates, additive_se, additive_pvalues : ndarray of shape (k, p) or None
        The ELM decomposer's test of each locus's additive effect on the trait
        (``additive_estimates_``, ``additive_se_``, ``additive_pvalues_``: ``y``'s
        least-squares fit on every locus and the confirmed pairs); NaN where not tested.
    marginal_pvalues : ndarray of shape (k, p) or None
        One locus at a time (``marginal_pvalues_``): what the Manhattan plot shows.
    pair_tests : list of Bunch or None
        Its tests of pairs (``pair_tests_``), one Bunch per trait: ``pairs`` (t, 2),
        ``estimate``, ``std_error``, ``p_value`` (smallest first), ``p_joint`` and ``n_tests``;
        None where it tested none.
    significant_pairs : dict of str to ndarray or None
        ``ELMDecomposer.significant_pairs(fdr, as_frame=False)``, the loci
        named as in ``feature_names``, with ``linked_i`` and ``linked_j``: the
        loci in linkage with each (``r^2 >= 0.8`` over the training samples,
        names space-separated), and ``n_linked_i``, ``n_linked_j``, their
        numbers; None where no pair was tested.
    fdr : float
        The false discovery rate of ``significant_pairs``.
    network : dict
        The trained network: ``hidden_sizes``, ``max_epochs``, ``epochs_trained``,
        ``path_penalty``, and ``linear_path``, per trait how its linear path is penalised:
        ``"ridge"`` (as GBLUP is, ``NeuralGPRegressor.linear_penalty_``), ``"lasso"``
        (``linear_lasso_``) or ``"none"`` (held at 0); where several networks were averaged
        (``n_estimators``), ``networks``, their number, and ``epochs_trained_per_network``
        and ``path_penalty_per_network`` in place of the two.
    timings : dict of str to float
        Seconds per step.
    recovery : dict or None
        Where the truth is known, ``"additive"`` and ``"pairwise"`` -> method
        -> one dict per trait (``slope``, ``intercept``, ``r``; for pairs
        also ``precision`` and ``k``); None otherwise.
    chromosomes, positions : ndarray of shape (p,) or None
        Chromosome and base-pair position of each locus where the input gives
        them (a PLINK ``.bim``); None otherwise.
    settings : dict
        How the analysis was run, as the caller (e.g. the command line) puts
        it; empty by default.
    versions : dict
        The packages behind the figures (:func:`package_versions`).
    notes : tuple of str
        The warnings raised while fitting (each once), which the report shows:
        where an estimate rests on too little information, it says so.

    Examples
    --------
    :func:`analyse` returns one; its fields are read by name:

    >>> from dataclasses import fields
    >>> from sklearn_elm.workflow import Analysis
    >>> [field.name for field in fields(Analysis)][:6]
    ['name', 'description', 'feature_names', 'target_names', 'ploidy', 'n_train']
    """

    name: str
    description: str
    feature_names: np.ndarray
    target_names: np.ndarray
    ploidy: int
    n_train: int
    n_test: int
    y_test: np.ndarray
    predictions: dict
    test_r2: dict
    additive: dict
    epistasis: dict
    variance_components: dict
    elm_components: str
    network: dict
    timings: dict
    recovery: dict | None = None
    variance_components_se: dict = field(default_factory=dict)
    additive_estimates: np.ndarray | None = None
    additive_se: np.ndarray | None = None
    additive_pvalues: np.ndarray | None = None
    marginal_pvalues: np.ndarray | None = None
    pair_tests: list | None = None
    significant_pairs: dict | None = None
    fdr: float = 0.05
    chromosomes: np.ndarray | None = None
    positions: np.ndarray | None = None
    settings: dict = field(default_factory=dict)
    versions: dict = field(default_factory=dict)
    notes: tuple = ()
    elm_component_se: str | None = "model"

    @property
    def n_samples(self):
        """Samples analysed, ``n_train + n_test``."""
        return self.n_train + self.n_test

    @property
    def truth_known(self):
        """Whether the estimates were scored against known true effects."""
        return self.recovery is not None


def _resolve_ploidy(data, ploidy):
    """The given ploidy, else the data's, else that of the whole panel (a diploid panel whose
    only 2s are in test samples must not be taken for haploid on its training samples), with
    :func:`~sklearn_elm.datasets.infer_ploidy`'s warning where few cells are 2."""
    from .datasets import infer_ploidy

    if ploidy is None:
        ploidy = data.get("ploidy")
    if ploidy is None:
        ploidy = infer_ploidy(data.genotypes, sample_ids=data.get("sample_ids"),
                              feature_names=data.get("feature_names"))
    return int(ploidy)


def check_data(data, *, ploidy=None, networks=1, hidden=512):
    """Check that a data set can be analysed, with a clear error where it cannot.

    Parameters
    ----------
    data : :class:`~sklearn.utils.Bunch`
        ``genotypes`` (n, p), ``phenotypes`` (n, k) without missing values,
        ``train`` (n,) boolean, ``target_names`` (k,); as returned by
        :func:`~sklearn_elm.datasets.select_traits`.
    ploidy : {1, 2} or None, default=None
        The genotypes' ploidy; ``data.ploidy`` or inferred from the panel
        when None.
    networks, hidden : int, default=1 and 512
        Networks to average and their first hidden layer's width, for the memory check
        (:func:`memory_needed`).

    Returns
    -------
    ploidy : int
        The ploidy the analysis uses.

    Raises
    ------
    ValueError
        Genotypes, phenotypes and ``train`` of different lengths, too few training (10) or
        test (2) samples, fewer than 3 loci that vary among the training samples, more loci
        than memory allows (:func:`memory_needed` against :func:`available_memory`), a locus
        not called in training, genotypes not of the ploidy, or a trait constant in training.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.utils import Bunch
    >>> from sklearn_elm.workflow import check_data
    >>> G = np.zeros((20, 5))
    >>> data = Bunch(genotypes=G, phenotypes=np.ones((20, 1)), train=np.arange(20) < 17,
    ...              target_names=np.array(["y"]))
    >>> check_data(data)  # doctest: +IGNORE_EXCEPTION_DETAIL
    Traceback (most recent call last):
    ...
    ValueError: only 0 of the 5 loci vary among the training samples...
    >>> data.genotypes = np.eye(20, 5)
    >>> data.phenotypes = np.arange(20.0)[:, None]
    >>> check_data(data)  # the ploidy
    1
    """
    from ._components import constant_columns
    from ._encoding import check_genotype_alphabet

    counts = len(data.genotypes), len(data.phenotypes), len(data.train)
    if len(set(counts)) > 1:
        raise ValueError(
            "genotypes, phenotypes and train mask need one row per sample, got {}, {} and {}: "
            "give the phenotypes of the genotyped samples, in their order (load_data matches "
            "them by sample ID).".format(*counts))
    n_train, n_test = int(data.train.sum()), int((~data.train).sum())
    p = data.genotypes.shape[1]
    if n_train < 10 or n_test < 2:
        raise ValueError(
            f"too few samples with phenotypes: {n_train} to train and {n_test} to test "
            "(at least 10 and 2 are needed)."
        )
    _resources.check_memory(len(data.train), p, data.phenotypes.shape[1],
                            truth="additive_effects" in data and "epistasis" in data,
                            networks=networks, hidden=hidden)
    if p < 3:
        raise ValueError(f"{p} loci: at least 3 are needed to rank pairs of loci.")
    G = np.asarray(data.genotypes)  # no float copy of an integer panel; NaN: no max, no min
    train = G[np.asarray(data.train)]
    polymorphic = int((np.fmax.reduce(train, axis=0) > np.fmin.reduce(train, axis=0)).sum())
    if polymorphic < 3:
        raise ValueError(
            f"only {polymorphic} of the {p} loci vary among the training samples: at least 3 "
            "are needed to rank pairs of loci."
        )
    uncalled = np.flatnonzero(np.isnan(train).all(axis=0)) if G.dtype.kind == "f" else []
    if len(uncalled):
        name = data.get("feature_names", np.arange(p).astype(str))[uncalled[0]]
        raise ValueError(f"{len(uncalled)} loci have no call among the {len(train)} training "
                         f"samples, the first {str(name)!r}: their allele frequencies are "
                         "undefined. Leave them out (e.g. plink --geno).")
    ploidy = _resolve_ploidy(data, ploidy)
    check_genotype_alphabet(G if G.dtype.kind in "iuf" else G.astype(np.float64), ploidy,
                            data.get("feature_names"))
    constant = constant_columns(data.phenotypes[data.train])
    if constant.size:
        name = data.target_names[constant[0]]
        raise ValueError(f"trait {str(name)!r} is constant in the training samples.")
    return ploidy


def _network(ploidy, hidden_sizes, max_epochs, random_state, callbacks, device):
    from sklearn.pipeline import make_pipeline

    from ._encoding import GenotypeEncoder
    from ._regressor import NeuralGPRegressor
    options = {"random_state": random_state, "device": device}
    if hidden_sizes:
        options["module__hidden_sizes"] = tuple(hidden_sizes)
    if max_epochs is not None:  # 0 is refused by the network, not taken as its default
        options["max_epochs"] = max_epochs
    if callbacks:
        options["callbacks"] = list(callbacks)
    return make_pipeline(GenotypeEncoder(ploidy=ploidy), NeuralGPRegressor(**options))


@contextlib.contextmanager
def _noted(notes):
    """Note the warnings raised inside, and raise them again for the caller to see.

    Each :class:`UserWarning`'s message (scikit-learn's ``ConvergenceWarning``
    included) is appended to ``notes`` once, for the report; a library's
    ``DeprecationWarning`` or ``RuntimeWarning`` chatter is not.  Every warning
    caught is then raised again once, from where it was raised (file, line,
    module and the module's registry), so the caller's filters apply to it as
    to any warning.  Also where the block ends by an exception.
    """
    caught = []
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            yield
    finally:
        for w in caught:
            if issubclass(w.category, UserWarning) and str(w.message) not in notes:
                notes.append(str(w.message))
        _warn_again(caught)


def _warn_again(caught):
    """Raise each of the recorded warnings ``caught`` again, under the filters in force now."""
    modules = {getattr(m, "__file__", None): m for m in list(sys.modules.values())}
    unknown = {}  # the registry for code outside the imported modules (a doctest, a string)
    for w in caught:
        module = modules.get(w.filename)
        name, registry = None, unknown
        if module is not None:
            name = module.__name__
            registry = vars(module).setdefault("__warningregistry__", {})
        warnings.warn_explicit(w.message, w.category, w.filename, w.lineno, module=name,
                               registry=registry, source=w.source)


def _timed(timings, key, step, log):
    """``step()``, its wall time recorded in ``timings[key]`` and logged."""
    start = time.perf_counter()
    result = step()
    timings[key] = time.perf_counter() - start
    log(f"  {key}: done in {timings[key]:.1f} s")
    return result


def _recovery(data, Z_train, Y_train, additive, epistasis):
    """Add the truth to ``additive`` and ``epistasis``; return its components and the recovery."""
    from ._pairs import dense_pairs
    from .metrics import (
        effect_recovery,
        pair_recovery,
        true_average_effects,
        true_variance_components,
    )

    true_e = data.epistasis
    # the estimates are average effects under the training samples' frequencies
    true_a = true_average_effects(Z_train, data.additive_effects, true_e)
    additive["truth"], epistasis["truth"] = true_a, true_e
    components = dict(true_variance_components(Z_train, data.additive_effects, true_e, Y_train))
    k = len(true_a)
    recovery = {
        "additive": {m: [dict(effect_recovery(additive[m][t], true_a[t])) for t in range(k)]
                     for m in ("ELM", "GBLUP-A")},
        "pairwise": {m: [dict(pair_recovery(dense_pairs(epistasis[m][t]), true_e[t]))
                         for t in range(k)]
                     for m in ("ELM", "GBLUP-A+AA")},
    }
    return components, recovery


def analyse(data, *, hidden_sizes=None, max_epochs=None, random_state=0, ploidy=None,
            callbacks=None, log=None, device="cpu", fdr=0.05, n_estimators=1):
    """Train, decompose and compare on a data set: everything the report shows.

    The network (:class:`~sklearn_elm.GenotypeEncoder` then :class:`~sklearn_elm.NeuralGPRegressor`)
    and the GBLUP baselines (additive, and additive plus additive-by-additive, by REML, on the
    same encoded genotypes so that their marker effects are on the ELM's scale) are fitted on
    the training samples; the network is decomposed on them by
    :class:`~sklearn_elm.ELMDecomposer` (``prefit=True``, with ``y``), and every method predicts
    the test samples.  The truth, where ``data`` has ``additive_effects`` and ``epistasis``, is
    used only to score.

    Parameters
    ----------
    data : :class:`~sklearn.utils.Bunch`
        ``genotypes`` (n, p), ``phenotypes`` (n, k) without missing values,
        ``train`` (n,) boolean mask, ``feature_names``, ``target_names``,
        optionally ``name``, ``description``, ``ploidy`` and the true
        ``additive_effects`` (k, p) and ``epistasis`` (k, p, p): as from
        :func:`~sklearn_elm.datasets.load_data` and
        :func:`~sklearn_elm.datasets.select_traits`, or
        :func:`~sklearn_elm.datasets.make_epistatic_phenotypes`.
    hidden_sizes : sequence of int, default=None
        Hidden layer widths of the network; the default network's when None.
    max_epochs : int, default=None
        Epoch limit; the default network's when None.
    random_state : int, default=0
        Seed of the network.
    device : str, default="cpu"
        torch device of the network's training and of its ELM (e.g. ``"cuda"``).
    ploidy : {1, 2} or None, default=None
        Ploidy of the genotypes; ``data.ploidy`` or inferred from the panel when None.
    callbacks : list of (str, skorch callback), default=None
        Extra callbacks of the network (e.g. progress display).
    log : callable, default=None
        Called with a message before each step (e.g. ``print``).
    fdr : float, default=0.05
        False discovery rate of the list of significant pairs, in (0, 1).
    n_estimators : int, default=1
        Networks trained, with seeds derived from ``random_state`` as
        ``ELMDecomposer(n_estimators=...)`` derives them, and averaged into the one network
        that is decomposed and predicts, at ``n_estimators`` times the training time.

    Returns
    -------
    analysis : Analysis
        Predictions, effects, variance components and, where the truth is
        known, its recovery.

    Raises
    ------
    ValueError
        Where the data cannot be analysed (:func:`check_data`), ``fdr`` is not in
        (0, 1) or ``n_estimators`` not a positive integer; before anything is trained.

    Examples
    --------
    >>> from sklearn_elm.datasets import make_epistatic_phenotypes
    >>> from sklearn_elm.workflow import analyse
    >>> data = make_epistatic_phenotypes(200, 6, random_state=0)
    >>> result = analyse(data, hidden_sizes=[8], max_epochs=2)
    >>> sorted(result.test_r2)
    ['GBLUP-A', 'GBLUP-A+AA', 'network']
    >>> result.epistasis["truth"].shape, result.ploidy
    ((1, 6, 6), 1)
    >>> result.additive_pvalues.shape, sorted(result.variance_components_se)
    ((1, 6), ['ELM', 'GBLUP-A', 'GBLUP-A+AA'])
    """
    from . import _estimates as est
    from . import _training

    log = log or (lambda message: None)
    fdr, n_estimators = est.check_fdr(fdr), _training.check_n_estimators(n_estimators)
    network = _network(ploidy, hidden_sizes, max_epochs, random_state, callbacks, device)
    sizes = _training.hidden_sizes_of(network[-1])
    ploidy = check_data(data, ploidy=ploidy, networks=n_estimators, hidden=sizes[0] if sizes else 0)
    network[0].set_params(ploidy=ploidy)  # as check_data resolved it
    timings, train, notes = {}, np.asarray(data.train), []
    X, Y = data.genotypes, np.asarray(data.phenotypes, dtype=np.float64)
    k = Y.shape[1]
    with _noted(notes):
        log(f"Training {'the network' if n_estimators == 1 else f'{n_estimators} networks'}"
            f" on {int(train.sum())} samples: hidden layers {' x '.join(map(str, sizes))}, at "
            f"most {network[-1].max_epochs} epochs down a path of decreasing path-norm penalty,"
            " the step chosen on 10% of them held out"
            + ("." if n_estimators == 1 else "; then averaged into one network."))
        network, members = _timed(timings, "train", lambda: _training.train_network(
            network, X[train], Y[train], n_estimators, log), log)
        summary = _training.network_summary(members)
        del members  # the average holds their weights; the copies go before decomposing
        log("Decomposing the network (equivalent linear mapping) on the training samples...")
        elm = _timed(timings, "decompose", lambda: est.decompose(
            network, X[train], Y[train], data.feature_names, fdr=fdr), log)
        log("Fitting the GBLUP baselines (REML)...")
        gblup_a, gblup_aa, Z_test = _timed(timings, "gblup",
                                           lambda: est.baselines(network[0], X, Y, train), log)

    predictions = {"network": network.predict(X[~train]).reshape(-1, k),
                   "GBLUP-A": gblup_a.predict(Z_test).reshape(-1, k),
                   "GBLUP-A+AA": gblup_aa.predict(Z_test).reshape(-1, k)}
    additive, epistasis, components, errors = est.by_method(elm, gblup_a, gblup_aa)
    del gblup_aa  # its (k, p, p) matrices, copied above, go before the scoring's temporaries
    recovery = None
    if "additive_effects" in data and "epistasis" in data:
        Z_train = network[0].transform(X[train])
        components["truth"], recovery = _recovery(data, Z_train, Y[train], additive, epistasis)
    y_test = Y[~train]
    with _noted(notes):  # a trait constant in the test samples
        test_r2 = est.held_out_r2(y_test, predictions, data.target_names)
    return Analysis(
        name=str(data.get("name", "data")),
        description=str(data.get("description", "")),
        feature_names=np.asarray(data.feature_names),
        target_names=np.asarray(data.target_names),
        ploidy=ploidy,
        n_train=int(train.sum()),
        n_test=int((~train).sum()),
        y_test=y_test,
        predictions=predictions,
        test_r2=test_r2,
        additive=additive,
        epistasis=epistasis,
        variance_components=components,
        variance_components_se=errors,
        elm_components=elm.kind,
        elm_component_se=elm.se_kind,
        **{name: elm[name] for name in est.TESTS},
        fdr=fdr,
        network=summary,
        timings=timings,
        recovery=recovery,
        chromosomes=data.get("chromosomes"), positions=data.get("positions"),
        versions=package_versions(), notes=tuple(notes),
    )
