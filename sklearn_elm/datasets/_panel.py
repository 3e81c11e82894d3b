"""Genotype panels with real linkage disequilibrium and allele-frequency spectra.

:func:`simulate_genotypes` runs msprime's coalescent with recombination for
one panmictic population of a human-like size and keeps common biallelic
SNPs evenly along the simulated sequence.  msprime is an optional
dependency (``pip install "sklearn-elm[sim]"``), imported when called.
"""

from numbers import Integral, Real

import numpy as np
from sklearn.utils import Bunch, check_random_state
from sklearn.utils._param_validation import Interval, validate_params

from .._seeds import refuses_generators

__all__ = ["simulate_genotypes"]

#: Effective population size (individuals), and mutation and recombination rates
#: per base pair and generation.
POPULATION_SIZE = 10_000
MUTATION_RATE = 1e-8
RECOMBINATION_RATE = 1e-8
#: Sequence simulated beyond what the expected number of SNPs needs, so that one
#: try usually suffices; a try that falls short grows the sequence by at least this.
MARGIN = 1.25
#: A try that finds too few SNPs grows the sequence at most this many times over.
MAX_GROWTH = 4.0
MAX_TRIES = 20


def _import_msprime():
    try:
        import msprime
    except ImportError as exc:
        raise ImportError(
            "simulate_genotypes needs the optional dependency msprime: "
            'pip install "sklearn-elm[sim]"'
        ) from exc
    return msprime


def _snp_density(n_haplotypes, ploidy, min_maf):
    """Expected SNPs per base pair with minor-allele frequency ``>= min_maf``.

    Under the neutral spectrum ``theta / k`` sites carry the derived allele
    on ``k`` of ``N`` haplotypes, with ``theta = 2 ploidy N_e mu`` per base
    pair (msprime's coalescence time scale is ``ploidy N_e`` generations), so
    the density is ``theta * sum 1/k`` over the ``k`` with ``min(k, N - k) /
    N >= min_maf``.
    """
    k = np.arange(1, n_haplotypes)
    common = np.minimum(k, n_haplotypes - k) >= min_maf * n_haplotypes
    theta = 2 * ploidy * POPULATION_SIZE * MUTATION_RATE
    return theta * float(np.sum(1.0 / k[common]))


def _common_sites(ts, min_maf):
    """Ids of the sites with a single mutation (biallelic) and minor-allele
    frequency ``>= min_maf``, in position order."""
    n = ts.num_samples
    sites = []
    for tree in ts.trees():
        for site in tree.sites():
            if len(site.mutations) == 1:
                count = tree.num_samples(site.mutations[0].node)
                if min(count, n - count) >= min_maf * n:
                    sites.append(site.id)
    return np.asarray(sites, dtype=np.int64)


def _allele_counts(ts, n_samples, ploidy):
    """Derived-allele counts of each individual, shape (n_samples, num_sites), int8."""
    # sum the haplotypes of each individual, whatever the order of the sample nodes
    owner = ts.tables.nodes.individual[ts.samples()]
    order = np.argsort(owner, kind="stable")
    counts = np.empty((ts.num_sites, n_samples), dtype=np.int8)
    for k, variant in enumerate(ts.variants()):
        counts[k] = variant.genotypes[order].reshape(n_samples, ploidy).sum(axis=1)
    return np.ascontiguousarray(counts.T)


def _simulate(msprime, n_samples, ploidy, length, rng):
    seeds = rng.randint(1, 2**31 - 1, size=2)
    ts = msprime.sim_ancestry(
        samples=n_samples,
        ploidy=ploidy,
        population_size=POPULATION_SIZE,
        recombination_rate=RECOMBINATION_RATE,
        sequence_length=length,
        random_seed=int(seeds[0]),
    )
    return msprime.sim_mutations(ts, rate=MUTATION_RATE, random_seed=int(seeds[1]))


@refuses_generators
@validate_params(
    {
        "n_samples": [Interval(Integral, 2, None, closed="left")],
        "n_loci": [Interval(Integral, 1, None, closed="left")],
        "ploidy": [Interval(Integral, 1, 2, closed="both")],
        "min_maf": [Interval(Real, 0, 0.5, closed="both")],
        "random_state": ["random_state"],
    },
    prefer_skip_nested_validation=True,
)
def simulate_genotypes(n_samples, n_loci, *, ploidy=2, min_maf=0.05, random_state=None):
    """Simulate a genotype panel with linkage disequilibrium, by the coalescent.

    msprime's coalescent with recombination (Hudson's model) for one
    population of ``N_e = 10,000`` individuals, recombination and mutation
    rates of ``1e-8`` per base pair and generation (human-like), mutations
    on a discrete genome.  The biallelic SNPs (sites that mutated once) with
    minor-allele frequency ``>= min_maf`` in the sample are candidates, and
    ``n_loci`` of them are kept evenly (by rank) along the sequence.  Linkage
    disequilibrium and the allele-frequency spectrum are those of a neutral
    panmictic population: neighbouring SNPs are correlated, distant ones
    nearly independent, and low frequencies are the most common.

    The sequence length is chosen from the expected density of such SNPs
    (see Notes) with a margin of 25 %; a try that finds too few SNPs is
    repeated on a longer sequence, with new seeds drawn from
    ``random_state``.

    Parameters
    ----------
    n_samples : int >= 2
        Number of individuals.
    n_loci : int >= 1
        Number of SNPs kept.
    ploidy : {1, 2}, default=2
        Haplotypes per individual; the genotype is the sum of their alleles.
    min_maf : float in [0, 0.5], default=0.05
        Smallest minor-allele frequency kept, in this sample.
    random_state : int, RandomState instance or None, default=None
        Seeds msprime's ancestry and mutation simulations: the same value
        gives the same panel.

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        Dictionary-like object with the fields below.

        genotypes : ndarray of shape (n_samples, n_loci), int8
            Counts of the derived allele, 0 to ``ploidy``.
        positions : ndarray of shape (n_loci,), int64
            Positions of the SNPs in base pairs, 1-based, increasing.
        chromosomes : ndarray of shape (n_loci,), str
            ``"1"`` for every SNP: one simulated chromosome.
        feature_names : ndarray of shape (n_loci,), str
            ``"1:<position>"`` per SNP.
        allele_frequencies : ndarray of shape (n_loci,)
            Frequency of the derived allele in the sample.
        ploidy : int
            The ``ploidy`` argument.
        sequence_length : int
            Base pairs simulated in the try that was kept.
        DESCR : str
            Description of the simulation.

    Raises
    ------
    ImportError
        If msprime is not installed.
    ValueError
        If ``min_maf`` admits no SNP among ``ploidy * n_samples`` haplotypes.

    See Also
    --------
    simulate_phenotypes : phenotypes with known effects on these genotypes.
    make_epistatic_phenotypes : independent loci at given allele frequencies.

    Notes
    -----
    Under the neutral spectrum ``theta / k`` sites carry the derived allele
    on ``k`` of ``N = ploidy * n_samples`` haplotypes, ``theta = 2 ploidy
    N_e mu`` per base pair, so SNPs with minor-allele frequency ``>= m`` lie
    about ``theta ln((1 - m) / m)`` apart per base pair: about 1.2 per kb for
    diploids at ``m = 0.05``, so 2,000 SNPs span about 2 Mb.

    References
    ----------
    .. [1] Baumdicker F. et al. (2022). Efficient ancestry and mutation
       simulation with msprime 1.0. Genetics 220(3), iyab229.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_elm.datasets import simulate_genotypes
    >>> panel = simulate_genotypes(100, 50, random_state=0)
    >>> panel.genotypes.shape, panel.genotypes.dtype, panel.ploidy
    ((100, 50), dtype('int8'), 2)
    >>> bool((panel.genotypes.max() <= 2) and (np.diff(panel.positions) > 0).all())
    True
    >>> maf = np.minimum(panel.allele_frequencies, 1 - panel.allele_frequencies)
    >>> bool(maf.min() >= 0.05)
    True
    """
    msprime = _import_msprime()
    rng = check_random_state(random_state)
    n_haplotypes = ploidy * n_samples
    density = _snp_density(n_haplotypes, ploidy, min_maf)
    if density == 0:
        raise ValueError(
            f"min_maf={min_maf} admits no SNP among {n_haplotypes} haplotypes "
            f"({n_samples} samples of ploidy {ploidy}); use a smaller min_maf or more samples."
        )
    length = float(np.ceil(MARGIN * n_loci / density))
    for _ in range(MAX_TRIES):
        ts = _simulate(msprime, n_samples, ploidy, length, rng)
        sites = _common_sites(ts, min_maf)
        if len(sites) >= n_loci:
            break
        length = float(np.ceil(length * min(MAX_GROWTH, MARGIN * n_loci / max(len(sites), 1))))
    else:
        raise RuntimeError(  # pragma: no cover - each try grows the sequence by 25 % or more
            f"found {len(sites)} of {n_loci} SNPs after {MAX_TRIES} tries.")
    # evenly by rank: the spacing (m - 1) / (n_loci - 1) >= 1 keeps the rounded ranks distinct
    kept = sites[np.round(np.linspace(0, len(sites) - 1, n_loci)).astype(np.int64)]
    ts = ts.delete_sites(np.setdiff1d(np.arange(ts.num_sites), kept))
    genotypes = _allele_counts(ts, n_samples, ploidy)
    positions = ts.tables.sites.position.astype(np.int64) + 1
    return Bunch(
        genotypes=genotypes,
        positions=positions,
        chromosomes=np.full(n_loci, "1"),
        feature_names=np.array([f"1:{position}" for position in positions]),
        allele_frequencies=genotypes.mean(axis=0) / ploidy,
        ploidy=int(ploidy),
        sequence_length=int(length),
        DESCR=(
            f"Simulated by simulate_genotypes (msprime {msprime.__version__}, Hudson "
            f"coalescent with recombination): {n_samples} samples of ploidy {ploidy}, "
            f"N_e={POPULATION_SIZE}, mutation and recombination rates {MUTATION_RATE:g} per bp "
            f"and generation, {int(length)} bp; {n_loci} biallelic SNPs of minor-allele "
            f"frequency >= {min_maf} kept evenly out of {len(sites)}; genotypes count the "
            "derived allele."
        ),
    )
