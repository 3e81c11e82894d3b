"""Simulator of additive-plus-pairwise-epistatic phenotypes with known truth."""

from numbers import Integral, Real

import numpy as np
from sklearn.utils import Bunch, check_random_state
from sklearn.utils._param_validation import Interval, validate_params

from .._components import orthogonal_parts, pairwise_values
from ._split import published_split

__all__ = ["make_epistatic_phenotypes", "pairwise_values"]


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
    # the encoding of GenotypeEncoder(center="mid"): a haploid locus is a doubled dosage
    Z = genotypes * (2.0 / ploidy) - 1.0
    additive = np.zeros((n_traits, n_loci))
    epistasis = np.zeros((n_traits, n_loci, n_loci))
    values = np.zeros((n_samples, n_traits))
    for t in range(n_traits):
        additive[t], epistasis[t], values[:, t] = _simulate_trait(
            Z, n_qtl, n_pairs, epistatic_ratio, rng
        )
    noise = rng.standard_normal((n_samples, n_traits)) * np.sqrt((1 - h2) / h2)
    return Bunch(
        genotypes=genotypes,
        phenotypes=values + noise,
        genetic_values=values,
        additive_effects=additive,
        epistasis=epistasis,
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


def _simulate_trait(Z, n_qtl, n_pairs, epistatic_ratio, rng):
    """Additive effects, epistasis matrix and genetic values of one trait, scaled so that
    ``V_AA / V_A = epistatic_ratio`` and ``V_G = 1`` on the sample ``Z``."""
    n_loci = Z.shape[1]
    qtl = rng.choice(n_loci, size=n_qtl, replace=False)
    a = np.zeros(n_loci)
    a[qtl] = rng.standard_normal(n_qtl)
    E = np.zeros((n_loci, n_loci))
    if epistatic_ratio > 0:
        paired = rng.permutation(qtl)[: 2 * n_pairs].reshape(n_pairs, 2)
        effects = rng.standard_normal(n_pairs)
        E[paired[:, 0], paired[:, 1]] = effects
        E[paired[:, 1], paired[:, 0]] = effects
    # orthogonal parts: u from a, and from E the pairwise part w and the
    # additive part v it induces through the partners' means
    u, _, _ = orthogonal_parts(Z, a, np.zeros_like(E))
    v, w, _ = orthogonal_parts(Z, np.zeros(n_loci), E)
    if u.var() == 0 or (epistatic_ratio > 0 and w.var() == 0):
        raise ValueError(
            "a simulated genetic component has no variance in this sample; "
            "use more samples or loci, or less extreme allele frequencies."
        )
    # V_AA = c_aa^2 Var(w) = epistatic_ratio, and V_A = Var(c_a u + c_aa v) = 1
    c_aa = np.sqrt(epistatic_ratio / w.var()) if epistatic_ratio > 0 else 0.0
    var_u, cov_uv, var_v = u.var(), np.mean(u * v), v.var()
    disc = (c_aa * cov_uv) ** 2 - var_u * (c_aa**2 * var_v - 1)
    # the positive root where there is one (the sign of random effects is arbitrary)
    root = np.sqrt(max(disc, 0.0))
    c_a = (root - c_aa * cov_uv) / var_u
    if c_a <= 0:
        c_a = (-root - c_aa * cov_uv) / var_u
    if disc < 0 or c_a == 0:
        raise ValueError(
            f"epistatic_ratio={epistatic_ratio} is out of reach at these allele "
            "frequencies: the additive variance that the pairs induce through their "
            "partners' means exceeds V_AA / epistatic_ratio whatever the additive "
            "effects. Use a smaller ratio or allele frequencies nearer 1/2."
        )
    G = c_a * (Z @ a) + c_aa * pairwise_values(Z, E)
    scale = 1 / G.std()  # V_G = 1 exactly, V_AA / V_A unchanged
    return scale * c_a * a, scale * c_aa * E, scale * G
