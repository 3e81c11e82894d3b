"""Simulators of additive-plus-pairwise-epistatic phenotypes with known truth: on
independent loci that they draw, or on a given genotype panel."""

import warnings
from numbers import Integral, Real

import numpy as np
from sklearn.utils import Bunch, check_random_state
from sklearn.utils._param_validation import Interval, validate_params

from .._components import pairwise_values
from .._seeds import refuses_generators
from ._ploidy import _allele_counts, infer_ploidy
from ._split import published_split

__all__ = ["make_epistatic_phenotypes", "pairwise_values", "simulate_phenotypes"]


@refuses_generators
@validate_params(
    {
        "n_samples": [Interval(Integral, 2, None, closed="left")],
        "n_loci": [Interval(Integral, 1, None, closed="left")],
        "n_traits": [Interval(Integral, 1, None, closed="left")],
        "n_qtl": [Interval(Integral, 1, None, closed="left"), None],
        "n_pairs": [Interval(Integral, 0, None, closed="left"), None],
        "h2": [Interval(Real, 0, 1, closed="right")],
        "epistatic_ratio": [Interval(Real, 0, None, closed="left")],
        "ploidy": [Interval(Integral, 1, 2, closed="both")],
        "allele_frequencies": ["array-like", Interval(Real, 0, 1, closed="neither"), None],
        "random_state": ["random_state"],
    },
    prefer_skip_nested_validation=True,
)
def make_epistatic_phenotypes(
    n_samples,
    n_loci,
    *,
    n_traits=1,
    n_qtl=None,
    n_pairs=None,
    h2=0.5,
    epistatic_ratio=1.0,
    ploidy=1,
    allele_frequencies=None,
    random_state=None,
):
    """Simulate genotypes and phenotypes with additive and pairwise effects.

    Per trait, ``y = sum_i a_i z_i + sum_{i<j} E_ij z_i z_j + eps`` on the
    encoded scale of :class:`~sklearn_elm.GenotypeEncoder` with
    ``center="mid"`` (haploid ``z = 2 g - 1``, diploid ``z = g - 1``).  The
    additive effects sit on ``n_qtl`` random loci, the pairs are disjoint
    pairs of those loci.  Both parts are scaled on the realised sample so
    that ``V_AA / V_A = epistatic_ratio`` and ``V_G = 1`` exactly, with
    ``V_A`` and ``V_AA`` those of the orthogonal decomposition
    (:func:`~sklearn_elm.metrics.true_variance_components`: average effects
    on genotypes centred on the sample, and products of centred genotypes;
    where allele frequencies are not 1/2, a pair adds to ``V_A`` through
    its partners' means, so a large ``epistatic_ratio`` can be out of reach
    at low minor-allele frequencies: a ``ValueError`` says so).  The noise
    has variance ``(1 - h2) / h2``, so that ``V_G / V_P = h2`` up to
    sampling error.

    Parameters
    ----------
    n_samples : int
        Number of individuals.
    n_loci : int
        Number of loci.
    n_traits : int, default=1
        Number of traits; effects and pairs are drawn anew for each.
    n_qtl : int, default=None
        Number of causal loci per trait; all loci when None.
    n_pairs : int, default=None
        Number of disjoint epistatic pairs per trait; ``n_qtl // 2`` (a
        perfect matching of the causal loci, as in the reference data) when
        None.  Must be positive when ``epistatic_ratio > 0``.
    h2 : float in (0, 1], default=0.5
        Broad-sense heritability ``V_G / V_P``.
    epistatic_ratio : float >= 0, default=1.0
        ``V_AA / V_A``; 0 gives a purely additive trait.
    ploidy : {1, 2}, default=1
        1: haploid 0/1 genotypes; 2: diploid 0/1/2 dosages.
    allele_frequencies : float, array-like of shape (n_loci,) or None, default=None
        Frequency of allele 1 per locus; 0.5 everywhere when None.
    random_state : int, RandomState instance or None, default=None
        Seed of every random draw.

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        Dictionary-like object with the fields below.

        genotypes : ndarray of shape (n_samples, n_loci), int8
            0/1 (haploid) or 0/1/2 (diploid) allele counts.
        phenotypes : ndarray of shape (n_samples, n_traits)
            Genetic values (variance 1) plus noise (variance ``(1 - h2) / h2``),
            so variance ``1 / h2`` per trait.
        additive_effects : ndarray of shape (n_traits, n_loci)
            True additive effects on the encoded scale.
        epistasis : ndarray of shape (n_traits, n_loci, n_loci)
            True pairwise effects, symmetric with zero diagonal.
        epistatic_pairs : ndarray of shape (n_traits, n_pairs, 2), int
            The pairs ``(i, j)``, ``i < j``, where ``epistasis`` is non-zero,
            in order (no pairs when ``epistatic_ratio=0``): the same truth
            without a scan of the ``p x p`` matrix.
        epistatic_ratios : ndarray of shape (n_traits,)
            ``V_AA / V_A`` of each trait as simulated (``epistatic_ratio``).
        genetic_values : ndarray of shape (n_samples, n_traits)
            The noise-free part of the phenotypes.
        allele_frequencies : ndarray of shape (n_loci,)
            Frequency of allele 1 per locus used in the simulation.
        feature_names, target_names : ndarray of str
            Locus and trait names.
        train : ndarray of shape (n_samples,), bool
            The first 85 % of samples, as in the published split.
        ploidy : int
            The ploidy simulated, 1 or 2 (the ``ploidy`` argument), as the
            readers report it.
        DESCR : str
            Description of the simulation.

    Examples
    --------
    >>> from sklearn_elm.datasets import make_epistatic_phenotypes
    >>> data = make_epistatic_phenotypes(500, 20, h2=1.0, epistatic_ratio=0.5,
    ...                                  random_state=0)
    >>> data.genotypes.shape, data.phenotypes.shape, data.epistasis.shape
    ((500, 20), (500, 1), (1, 20, 20))
    >>> data.ploidy
    1
    >>> round(float(data.phenotypes.var()), 6)
    1.0
    """
    rng = check_random_state(random_state)
    n_qtl = n_loci if n_qtl is None else n_qtl
    n_pairs = _check_counts(n_loci, n_qtl, n_pairs, epistatic_ratio)
    freq = _check_frequencies(allele_frequencies, n_loci)
    genotypes = rng.binomial(ploidy, freq, size=(n_samples, n_loci)).astype(np.int8)
    truth = _simulate_traits(genotypes, ploidy, n_traits, n_qtl, n_pairs, h2, epistatic_ratio, rng)
    return Bunch(
        genotypes=genotypes,
        **truth,
        allele_frequencies=freq,
        feature_names=np.array([f"locus{i}" for i in range(n_loci)]),
        target_names=np.array([f"trait{t}" for t in range(n_traits)]),
        train=published_split(n_samples),
        ploidy=int(ploidy),
        DESCR=(
            f"Simulated by make_epistatic_phenotypes: {n_samples} samples, {n_loci} loci, "
            f"ploidy {ploidy}, {n_traits} trait(s), {n_qtl} QTL and {n_pairs} pairs per trait, "
            f"h2={h2}, V_AA/V_A={epistatic_ratio}."
        ),
    )


@refuses_generators
@validate_params(
    {
        "genotypes": ["array-like"],
        "ploidy": [Interval(Integral, 1, 2, closed="both"), None],
        "n_traits": [Interval(Integral, 1, None, closed="left")],
        "n_qtl": [Interval(Integral, 1, None, closed="left"), None],
        "n_pairs": [Interval(Integral, 0, None, closed="left"), None],
        "h2": [Interval(Real, 0, 1, closed="right")],
        "epistatic_ratio": [Interval(Real, 0, None, closed="left"), None],
        "random_state": ["random_state"],
    },
    prefer_skip_nested_validation=True,
)
def simulate_phenotypes(
    genotypes,
    *,
    ploidy=None,
    n_traits=1,
    n_qtl=None,
    n_pairs=None,
    h2=0.5,
    epistatic_ratio=None,
    random_state=None,
):
    """Simulate phenotypes with known additive and pairwise effects on given genotypes.

    The trait model, its scaling and its truth are those of
    :func:`make_epistatic_phenotypes` (``V_G = 1`` and ``V_AA / V_A =
    epistatic_ratio`` exactly on the sample, noise variance ``(1 - h2) /
    h2``), on a panel of your own: real genotypes, or one with linkage
    disequilibrium from :func:`simulate_genotypes`.  ``n_qtl=n_loci,
    n_pairs=0, epistatic_ratio=0`` is the dense polygenic architecture, an
    additive effect at every locus.  The genetic values are computed from the
    sparse truth a block of loci at a time, so a panel of 10^4 loci costs
    seconds; where loci are in linkage disequilibrium, ``V_A`` and ``V_AA``
    are still those of
    :func:`~sklearn_elm.metrics.true_variance_components` in this sample.

    Parameters
    ----------
    genotypes : array-like of shape (n_samples, n_loci)
        Allele counts 0/1 (haploid) or 0/1/2 (diploid), without missing
        calls.  A QTL drawn at a locus that does not vary in the sample adds
        no variance.
    ploidy : {1, 2} or None, default=None
        The ploidy of the panel; inferred from the genotypes
        (:func:`infer_ploidy`) when None.
    n_traits : int, default=1
        Number of traits; effects and pairs are drawn anew for each.
    n_qtl : int, default=None
        Number of causal loci per trait; all loci when None.
    n_pairs : int, default=None
        Number of disjoint epistatic pairs of causal loci per trait;
        ``n_qtl // 2`` when None.  Must be positive when ``epistatic_ratio >
        0``.
    h2 : float in (0, 1], default=0.5
        Broad-sense heritability ``V_G / V_P``.
    epistatic_ratio : float >= 0 or None, default=None
        ``V_AA / V_A``; 0 gives a purely additive trait.  None: 1.0 where it is
        at most 90 % of the largest ratio the pairs drawn allow, else that 90 %,
        with a warning; ``epistatic_ratios`` holds each trait's.  At low
        minor-allele frequencies a pair adds to ``V_A`` through its partners'
        means (see :func:`make_epistatic_phenotypes`): on msprime panels 1.0
        is often out of reach.  A ratio given that the
        pairs do not allow is a ValueError.
    random_state : int, RandomState instance or None, default=None
        Seed of every random draw.

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        The fields of :func:`make_epistatic_phenotypes`: ``genotypes`` (the
        panel, int8), ``phenotypes``, ``genetic_values``,
        ``additive_effects``, ``epistasis``, ``epistatic_pairs``,
        ``epistatic_ratios`` (the ratio each trait has, see ``epistatic_ratio``),
        ``allele_frequencies`` (of allele 1 in this sample),
        ``feature_names``, ``target_names``, ``train``, ``ploidy`` and
        ``DESCR``.

    Raises
    ------
    ValueError
        If a genotype is not an allele count of the ploidy or is missing, the
        counts of QTL and pairs do not fit, or a genetic component has no
        variance in the sample.

    See Also
    --------
    simulate_genotypes : a panel with linkage disequilibrium to simulate on.
    make_epistatic_phenotypes : the same traits on independent loci.
    sklearn_elm.metrics.true_variance_components : the components of the truth.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_elm.datasets import simulate_phenotypes
    >>> G = np.random.default_rng(0).binomial(2, 0.4, size=(300, 40))
    >>> data = simulate_phenotypes(G, n_qtl=10, n_pairs=2, h2=0.6, random_state=0)
    >>> data.phenotypes.shape, data.epistatic_pairs.shape, data.ploidy
    ((300, 1), (1, 2, 2), 2)
    >>> dense = simulate_phenotypes(G, n_pairs=0, epistatic_ratio=0.0, random_state=0)
    >>> int(np.count_nonzero(dense.additive_effects)), round(float(dense.genetic_values.var()), 6)
    (40, 1.0)
    """
    G = _check_genotypes(genotypes, ploidy)
    ploidy = infer_ploidy(G) if ploidy is None else int(ploidy)
    n_samples, n_loci = G.shape
    rng = check_random_state(random_state)
    n_qtl = n_loci if n_qtl is None else n_qtl
    capped = epistatic_ratio is None  # the default: 1.0 where the pairs drawn allow it
    ratio = 1.0 if capped else epistatic_ratio
    n_pairs = _check_counts(n_loci, n_qtl, n_pairs, ratio)
    truth = _simulate_traits(G, ploidy, n_traits, n_qtl, n_pairs, h2, ratio, rng, capped)
    return Bunch(
        genotypes=G,
        **truth,
        allele_frequencies=G.mean(axis=0) / ploidy,
        feature_names=np.array([f"locus{i}" for i in range(n_loci)]),
        target_names=np.array([f"trait{t}" for t in range(n_traits)]),
        train=published_split(n_samples),
        ploidy=ploidy,
        DESCR=(
            f"Simulated by simulate_phenotypes on a given panel: {n_samples} samples, "
            f"{n_loci} loci, ploidy {ploidy}, {n_traits} trait(s), {n_qtl} QTL and {n_pairs} "
            f"pairs per trait, h2={h2}, V_AA/V_A="
            f"{', '.join(f'{r:.3g}' for r in truth.epistatic_ratios)}."
        ),
    )


def _check_genotypes(genotypes, ploidy):
    """The panel as int8 allele counts, refused where a call is missing or exceeds the ploidy."""
    G = _allele_counts(genotypes, "simulate_phenotypes: ")
    if G.dtype.kind == "f" and np.isnan(G).any():
        raise ValueError(
            "simulate_phenotypes: genotypes has missing calls (NaN); impute them first "
            "or drop the loci that have them."
        )
    if ploidy == 1 and (G == 2).any():
        raise ValueError(
            "simulate_phenotypes: ploidy=1 but genotypes holds a 2; pass ploidy=2 "
            "for a diploid panel."
        )
    if G.shape[0] < 2 or G.shape[1] < 1:
        raise ValueError(
            f"simulate_phenotypes: genotypes needs at least 2 samples and 1 locus, "
            f"got shape {G.shape}."
        )
    return G if G.dtype == np.int8 else G.astype(np.int8)


def _check_counts(n_loci, n_qtl, n_pairs, epistatic_ratio):
    """The number of pairs (``n_qtl // 2`` when None), checked against the QTL."""
    if n_qtl > n_loci:
        raise ValueError(f"n_qtl={n_qtl} exceeds n_loci={n_loci}.")
    n_pairs = n_qtl // 2 if n_pairs is None else n_pairs
    if 2 * n_pairs > n_qtl:
        raise ValueError(
            f"n_pairs={n_pairs} disjoint pairs need at least {2 * n_pairs} QTL, got n_qtl={n_qtl}."
        )
    if epistatic_ratio > 0 and n_pairs == 0:
        raise ValueError("epistatic_ratio > 0 needs at least one epistatic pair (n_pairs >= 1).")
    return n_pairs


def _check_frequencies(allele_frequencies, n_loci):
    """One allele frequency per locus, strictly between 0 and 1 (0.5 when None)."""
    if allele_frequencies is None:
        return np.full(n_loci, 0.5)
    freq = np.asarray(allele_frequencies, dtype=float)
    if freq.ndim > 1 or freq.size not in (1, n_loci):
        raise ValueError(
            f"allele_frequencies must be a float or have one entry per locus "
            f"(n_loci={n_loci}), got shape {freq.shape}."
        )
    freq = np.broadcast_to(freq.reshape(-1), (n_loci,)).copy()
    if not np.all((freq > 0) & (freq < 1)):
        raise ValueError("allele_frequencies must lie strictly between 0 and 1.")
    return freq


#: Bytes of float64 encoded genotypes held at a time: columns are encoded in blocks of this size.
_BLOCK_BYTES = 2**25


def _blocks(n_items, n_samples):
    """Slices of ``range(n_items)`` whose encoded columns take about ``_BLOCK_BYTES`` each."""
    size = max(1, _BLOCK_BYTES // (8 * n_samples))
    return [slice(start, start + size) for start in range(0, n_items, size)]


def _encode(genotypes, columns, ploidy):
    """The encoding of GenotypeEncoder(center="mid") on some columns: ``z = 2 g / ploidy - 1``
    (a haploid locus is a doubled dosage)."""
    return genotypes[:, columns] * (2.0 / ploidy) - 1.0


def _additive_values(genotypes, ploidy, loci, effects):
    """``sum_i a_i z_i`` per sample over the given loci, encoded a block at a time."""
    values = np.zeros(len(genotypes))
    for block in _blocks(len(loci), len(genotypes)):
        values += _encode(genotypes, loci[block], ploidy) @ effects[block]
    return values


def _pair_values(genotypes, ploidy, pairs, effects):
    """Pairwise values of disjoint pairs ``(i, j)`` with effects ``e``, per sample.

    ``z_i z_j = zc_i zc_j + m_j zc_i + m_i zc_j + m_i m_j`` with ``zc = z - m``
    (sample means ``m``), so ``P = sum e z_i z_j`` splits into the additive
    part ``v = sum e (m_j zc_i + m_i zc_j)`` that the pairs induce through
    their partners' means and the pairwise part ``w = sum e zc_i zc_j``
    (centred), as :func:`~sklearn_elm._components.orthogonal_parts` defines
    them, without a dense ``p x p`` matrix.  Returns ``P, v, w``.
    """
    n = len(genotypes)
    raw, v, w = np.zeros(n), np.zeros(n), np.zeros(n)
    for block in _blocks(len(pairs), n):
        Zi = _encode(genotypes, pairs[block, 0], ploidy)
        Zj = _encode(genotypes, pairs[block, 1], ploidy)
        mi, mj = Zi.mean(axis=0), Zj.mean(axis=0)
        e = effects[block]
        raw += (Zi * Zj) @ e
        Zi -= mi
        Zj -= mj
        v += (Zi * mj + Zj * mi) @ e
        w += (Zi * Zj) @ e
    return raw, v, w - w.mean()


def _no_variance(values):
    """True where ``values`` are constant up to round-off."""
    return np.ptp(values) <= 1e-9 * max(1.0, float(np.abs(values).max()))


def _simulate_trait(genotypes, ploidy, n_qtl, n_pairs, epistatic_ratio, rng, capped=False):
    """Additive effects, pairs, pair effects and genetic values of one trait, scaled so
    that ``V_AA / V_A = epistatic_ratio`` and ``V_G = 1`` on the sample of ``genotypes``
    (with ``capped``, at most 90 % of the largest ratio the pairs drawn allow, with a
    warning where that is less).

    The truth is sparse (``n_qtl`` effects, ``n_pairs`` pairs): the genetic
    values are computed from it, a block of encoded columns at a time.
    """
    n_loci = genotypes.shape[1]
    qtl = rng.choice(n_loci, size=n_qtl, replace=False)
    a = np.zeros(n_loci)
    a[qtl] = rng.standard_normal(n_qtl)
    pairs, effects = np.empty((0, 2), dtype=np.intp), np.empty(0)
    if epistatic_ratio > 0:
        pairs = rng.permutation(qtl)[: 2 * n_pairs].reshape(n_pairs, 2)
        effects = rng.standard_normal(n_pairs)
    # orthogonal parts: u from a, and from the pairs the pairwise part w and the
    # additive part v they induce through the partners' means
    additive = _additive_values(genotypes, ploidy, qtl, a[qtl])
    u = additive - additive.mean()
    pairwise, v, w = _pair_values(genotypes, ploidy, pairs, effects)
    if _no_variance(u) or (epistatic_ratio > 0 and _no_variance(w)):
        raise ValueError(
            "a simulated genetic component has no variance in this sample; "
            "use more samples or loci, or less extreme allele frequencies."
        )
    var_u, cov_uv, var_v = u.var(), np.mean(u * v), v.var()
    if capped and epistatic_ratio > 0:  # the default ratio: at most 90 % of what is reachable
        floor = var_v - cov_uv**2 / var_u  # V_A >= c_aa^2 floor whatever c_a
        reachable = w.var() / floor if floor > 0 else np.inf
        if epistatic_ratio > 0.9 * reachable:
            warnings.warn(
                f"epistatic_ratio={epistatic_ratio:g} is past 90 % of the largest ratio the "
                f"pairs drawn allow at these allele frequencies ({reachable:.3g}); the default "
                f"takes {0.9 * reachable:.3g}, 90 % of it.  Give epistatic_ratio to choose it.",
                UserWarning, stacklevel=4)
            epistatic_ratio = 0.9 * reachable
    # V_AA = c_aa^2 Var(w) = epistatic_ratio, and V_A = Var(c_a u + c_aa v) = 1
    c_aa = np.sqrt(epistatic_ratio / w.var()) if epistatic_ratio > 0 else 0.0
    disc = (c_aa * cov_uv) ** 2 - var_u * (c_aa**2 * var_v - 1)
    # the positive root where there is one (the sign of random effects is arbitrary)
    root = np.sqrt(max(disc, 0.0))
    c_a = (root - c_aa * cov_uv) / var_u
    if c_a <= 0:
        c_a = (-root - c_aa * cov_uv) / var_u
    if disc < 0 or c_a == 0:
        # V_A >= c_aa^2 (Var(v) - Cov(u, v)^2 / Var(u)) whatever c_a: the largest ratio
        reachable = w.var() / (var_v - cov_uv**2 / var_u)
        raise ValueError(
            f"epistatic_ratio={epistatic_ratio} is out of reach at these allele "
            "frequencies: the additive variance that the pairs induce through their "
            "partners' means exceeds V_AA / epistatic_ratio whatever the additive "
            f"effects (at most {reachable:.3g} for the pairs drawn). Use a smaller ratio, "
            "allele frequencies nearer 1/2 (a higher minor-allele frequency), or another "
            "random_state."
        )
    G = c_a * additive + c_aa * pairwise
    scale = 1 / G.std()  # V_G = 1 exactly, V_AA / V_A unchanged
    return scale * c_a * a, pairs, scale * c_aa * effects, scale * G, epistatic_ratio


def _simulate_traits(genotypes, ploidy, n_traits, n_qtl, n_pairs, h2, epistatic_ratio, rng,
                     capped=False):
    """The truth and phenotypes of ``n_traits`` traits on ``genotypes``, a Bunch of the
    fields that :func:`make_epistatic_phenotypes` and :func:`simulate_phenotypes` share.

    ``epistasis`` is the dense ``(n_traits, p, p)`` truth, but only its pairs'
    entries are written: ``np.zeros`` maps its pages lazily, so it costs
    memory only once read in full.  ``epistatic_pairs`` is the same truth as
    an index, ``(i, j)`` with ``i < j``, in order.
    """
    n_samples, n_loci = genotypes.shape
    additive = np.zeros((n_traits, n_loci))
    epistasis = np.zeros((n_traits, n_loci, n_loci))
    pairs = np.zeros((n_traits, n_pairs if epistatic_ratio > 0 else 0, 2), dtype=np.intp)
    values, ratios = np.zeros((n_samples, n_traits)), np.zeros(n_traits)
    for t in range(n_traits):
        additive[t], pair, effect, values[:, t], ratios[t] = _simulate_trait(
            genotypes, ploidy, n_qtl, n_pairs, epistatic_ratio, rng, capped
        )
        epistasis[t, pair[:, 0], pair[:, 1]] = epistasis[t, pair[:, 1], pair[:, 0]] = effect
        pair = np.sort(pair, axis=1)
        pairs[t] = pair[np.lexsort((pair[:, 1], pair[:, 0]))]
    noise = rng.standard_normal((n_samples, n_traits)) * np.sqrt((1 - h2) / h2)
    return Bunch(
        phenotypes=values + noise,
        genetic_values=values,
        additive_effects=additive,
        epistasis=epistasis,
        epistatic_pairs=pairs,
        epistatic_ratios=ratios,
    )
