"""sgkit datasets read as lazy panels: counts, names, and the decomposition of them."""

import numpy as np
import pytest
from sklearn.pipeline import make_pipeline

from sklearn_elm import ELMDecomposer, GenotypeEncoder, NeuralGPRegressor
from sklearn_elm.datasets import from_sgkit

xr = pytest.importorskip("xarray")
da = pytest.importorskip("dask.array")


def _dataset(calls, ids=None):
    """An sgkit-shaped dataset: call_genotype (variants, samples, ploidy) as dask chunks of
    60 samples, two contigs, positions and sample IDs."""
    n_variants, n_samples, _ = calls.shape
    variables = {
        "call_genotype": (("variants", "samples", "ploidy"),
                          da.from_array(calls, chunks=(n_variants, 60, -1))),
        "variant_position": ("variants", 100 * np.arange(1, n_variants + 1)),
        "variant_contig": ("variants", np.arange(n_variants) % 2),
        "sample_id": ("samples", [f"s{i}" for i in range(n_samples)]),
    }
    if ids is not None:
        variables["variant_id"] = ("variants", ids)
    return xr.Dataset(variables, attrs={"contigs": ["1", "2"]})


@pytest.fixture(scope="module")
def diploid():
    """Haplotypes of 300 samples x 5 variants with one missing call, their counts, a trait."""
    rng = np.random.default_rng(0)
    calls = rng.integers(0, 2, size=(5, 300, 2)).astype(np.int8)
    calls[2, 7, 1] = -1
    counts = calls.sum(axis=2).T.astype(np.float64)
    counts[7, 2] = np.nan
    trait = np.nan_to_num(counts[:, 0]) + 0.5 * (counts[:, 1] == 2) * (counts[:, 3] == 0)
    return calls, counts, trait + rng.normal(scale=0.5, size=300)


def test_counts_names_and_positions(diploid):
    """The counts are the alternate alleles per sample (NaN where a call is missing), lazy
    and chunked as the dataset's samples; names fall back to contig:position."""
    calls, counts, _ = diploid
    panel = from_sgkit(_dataset(calls))
    assert isinstance(panel.genotypes, da.Array)
    assert panel.genotypes.chunks[0] == (60,) * 5
    np.testing.assert_array_equal(panel.genotypes.compute(), counts)
    assert panel.feature_names.tolist() == ["1:100", "2:200", "1:300", "2:400", "1:500"]
    assert panel.chromosomes.tolist() == ["1", "2", "1", "2", "1"]
    assert panel.positions.tolist() == [100, 200, 300, 400, 500]
    assert panel.sample_ids[0] == "s0" and panel.ploidy == 2
    named = from_sgkit(_dataset(calls, ids=[f"rs{j}" for j in range(5)]))
    assert named.feature_names.tolist() == [f"rs{j}" for j in range(5)]


def test_decomposition_of_an_sgkit_panel_equals_in_memory(diploid):
    """A prefit default pipeline decomposed on the sgkit panel's dask counts gives the
    in-memory decomposition to float round-off."""
    calls, counts, trait = diploid
    net = make_pipeline(GenotypeEncoder(), NeuralGPRegressor(module__hidden_sizes=(8,),
                                                             max_epochs=3, random_state=0))
    net.fit(counts, trait)
    settings = dict(prefit=True, batch_size=60, epistasis="regression", components="network")
    expected = ELMDecomposer(net, **settings).fit(counts, trait)
    fitted = ELMDecomposer(net, **settings).fit(from_sgkit(_dataset(calls)).genotypes, trait)
    for name in ("additive_effects_", "epistasis_matrix_", "intercept_"):
        np.testing.assert_allclose(getattr(fitted, name), getattr(expected, name),
                                   rtol=1e-10, atol=1e-13, err_msg=name)


def test_bad_datasets_are_refused(diploid):
    """A dataset without the sgkit variables, and multi-allelic calls, get errors that name
    the problem."""
    calls, _, _ = diploid
    with pytest.raises(ValueError, match=r"lacks the sgkit variable\(s\) \['sample_id'\]"):
        from_sgkit(_dataset(calls).drop_vars("sample_id"))
    triallelic = calls.copy()
    triallelic[0, 0, 0] = 2
    with pytest.raises(ValueError, match="multi-allelic"):
        from_sgkit(_dataset(triallelic)).genotypes.compute()
