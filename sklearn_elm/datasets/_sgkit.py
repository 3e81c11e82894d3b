"""sgkit genotype datasets as the samples x loci allele counts the estimators read.

An sgkit ``Dataset`` (an ``xarray.Dataset``; e.g. from ``sgkit.io.vcf``, ``bio2zarr`` or
``sgkit.load_dataset``) holds ``call_genotype`` as variants x samples x ploidy allele indices
(-1 where a call is missing), usually a dask array.  Nothing here imports sgkit or xarray: the
dataset's variables are read by name, and the counts stay a lazy dask array, one task per
block of the dataset's own chunks.
"""

import numpy as np
from sklearn.utils import Bunch

__all__ = ["from_sgkit"]

_NEEDED = ("call_genotype", "variant_position", "variant_contig", "sample_id")


def _allele_counts(block):
    """Alternate-allele counts of a ``(variants, samples, ploidy)`` block of allele indices,
    as float32 ``(variants, samples)``: NaN where a call is missing, an error past
    biallelic."""
    block = np.asarray(block)
    if (block > 1).any():
        raise ValueError(
            "the sgkit dataset has multi-allelic calls (allele index > 1); keep biallelic "
            "sites, e.g. with sgkit's variant_allele_count <= 2, or split them first."
        )
    counts = block.sum(axis=2, dtype=np.float32)
    counts[(block < 0).any(axis=2)] = np.nan
    return counts


def from_sgkit(ds):
    """Allele counts, variant IDs and positions of an sgkit dataset, as a lazy panel.

    Needs the optional dependency dask (``pip install 'sklearn-elm[dask]'``).  The counts
    are a dask array of samples x loci, which :class:`~sklearn_elm.ELMDecomposer`,
    :class:`~sklearn_elm.GBLUPRegressor` and :class:`~sklearn_elm.GenotypeEncoder` read in
    sample blocks; the names and positions are those of the dataset, for the outputs.

    Parameters
    ----------
    ds : xarray.Dataset
        An sgkit genotype dataset with ``call_genotype`` (variants x samples x ploidy,
        allele indices 0/1, -1 where missing), ``variant_position``, ``variant_contig``
        (indices into ``ds.attrs["contigs"]``) and ``sample_id``; ``variant_id`` is used
        where present, else ``<contig>:<position>``.

    Returns
    -------
    panel : Bunch
        * ``genotypes``: dask array of shape (n_samples, n_variants), float32 counts of
          the alternate allele (0..ploidy), NaN where a call is missing; chunked as the
          dataset's samples, one chunk of variants;
        * ``feature_names``, ``chromosomes``, ``positions``: per variant;
        * ``sample_ids``: per sample; ``ploidy``: int.

    Raises
    ------
    ValueError
        Where a variable is missing or ``call_genotype`` is not 3-dimensional; when the
        counts are computed, where a site has more than two alleles.

    Examples
    --------
    >>> import numpy as np
    >>> import xarray as xr
    >>> from sklearn_elm.datasets import from_sgkit
    >>> calls = np.array([[[0, 1], [1, 1], [0, -1]],    # variant 0 in 3 samples
    ...                   [[0, 0], [0, 1], [1, 1]]], dtype=np.int8)
    >>> ds = xr.Dataset({
    ...     "call_genotype": (("variants", "samples", "ploidy"), calls),
    ...     "variant_position": ("variants", [1200, 5300]),
    ...     "variant_contig": ("variants", [0, 0]),
    ...     "sample_id": ("samples", ["a", "b", "c"])}, attrs={"contigs": ["chr7"]})
    >>> panel = from_sgkit(ds)
    >>> panel.genotypes.compute()
    array([[ 1.,  0.],
           [ 2.,  1.],
           [nan,  2.]], dtype=float32)
    >>> panel.feature_names.tolist(), panel.ploidy
    (['chr7:1200', 'chr7:5300'], 2)
    """
    missing = [name for name in _NEEDED if name not in ds]
    if missing:
        raise ValueError(
            f"the dataset lacks the sgkit variable(s) {missing}; from_sgkit reads an sgkit "
            f"genotype dataset with {list(_NEEDED)} (see sgkit's 'Genetic data "
            "representation')."
        )
    try:
        import dask.array as da
    except ImportError as exc:
        raise ImportError(
            "from_sgkit needs dask; install it with pip install 'sklearn-elm[dask]'."
        ) from exc
    calls = da.asarray(ds["call_genotype"].data)
    if calls.ndim != 3:
        raise ValueError(
            f"call_genotype must be variants x samples x ploidy, got {calls.ndim} dimensions."
        )
    calls = calls.rechunk({0: -1, 2: -1})  # each task holds every variant of its samples
    genotypes = da.map_blocks(_allele_counts, calls, drop_axis=2, dtype=np.float32).T
    positions = np.asarray(ds["variant_position"].values)
    contigs = np.asarray(ds.attrs.get("contigs", []), dtype=object)
    index = np.asarray(ds["variant_contig"].values)
    chromosomes = (contigs[index] if contigs.size else index.astype(str)).astype(str)
    names = (np.asarray(ds["variant_id"].values, dtype=object).astype(str) if "variant_id" in ds
             else np.char.add(np.char.add(chromosomes, ":"), positions.astype(str)))
    return Bunch(genotypes=genotypes, feature_names=np.asarray(names, dtype=object),
                 chromosomes=chromosomes, positions=positions,
                 sample_ids=np.asarray(ds["sample_id"].values, dtype=object),
                 ploidy=int(calls.shape[2]))
