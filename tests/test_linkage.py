"""Loci in linkage with a listed pair's loci: computed exactly, in memory or lazily, and
written beside the FDR list."""

import numpy as np
import pytest
from _lazy_rows import LazyRows
from sklearn.pipeline import make_pipeline

from sklearn_elm import GenotypeEncoder, NeuralGPRegressor
from sklearn_elm._estimates import decompose
from sklearn_elm._linkage import linked_loci
from sklearn_elm.datasets import simulate_genotypes


def _brute(G, locus, threshold):
    with np.errstate(invalid="ignore", divide="ignore"):
        r2 = np.nan_to_num(np.corrcoef(G.T.astype(np.float64)) ** 2)
    hits = np.flatnonzero(r2[locus] >= threshold)
    return hits[hits != locus].tolist()


@pytest.mark.parametrize("lazy", [False, True])
def test_linked_loci_are_those_of_the_correlation_matrix(lazy, monkeypatch):
    G = simulate_genotypes(400, 60, random_state=3).genotypes.astype(np.float64)
    G[:, 7] = 1.0  # a constant locus is linked to none
    G[:, 10] *= 1e-5  # a locus of tiny variance (the threshold is relative) and its copy
    G[:, 11] = G[:, 10]
    loci = [0, 7, 10, 20, 33, 59, 20]
    monkeypatch.setattr("sklearn_elm._linkage.MAX_CELLS", 2 * 60)  # two loci per pass
    got = linked_loci(LazyRows(G) if lazy else G, loci, threshold=0.8, block=64)
    assert sorted(got) == [0, 7, 10, 20, 33, 59]
    assert 11 in got[10]
    for locus, hits in got.items():
        assert hits.tolist() == _brute(G, locus, 0.8)
    assert got[7].size == 0 and all(7 not in hits for hits in got.values())
    assert sum(hits.size for hits in got.values()) > 0  # the panel has linkage to find


def test_the_fdr_list_names_the_loci_linked_to_each_locus():
    rng = np.random.default_rng(0)
    G = rng.integers(0, 2, size=(1500, 8)).astype(np.float64)
    G[:, 5] = G[:, 1]  # a copy of locus 1
    flip = rng.random(1500) < 0.04
    G[:, 6] = np.where(flip, 1 - G[:, 2], G[:, 2])  # nearly a copy of locus 2 (r^2 0.85)
    z = 2 * G - 1
    y = 1.5 * z[:, 1] * z[:, 2] + rng.normal(size=1500)
    names = np.array([f"snp{c}" for c in range(8)])
    network = make_pipeline(GenotypeEncoder(ploidy=1), NeuralGPRegressor(
        module__hidden_sizes=(16,), max_epochs=20, random_state=0)).fit(G, y)
    table = decompose(network, G, y[:, None], names).significant_pairs
    assert len(table["i"]) > 0
    for side in ("i", "j"):
        for locus, linked in zip(table[side], table[f"linked_{side}"], strict=True):
            expected = [names[c] for c in _brute(G, locus, 0.8)]
            assert (linked.split(" ") if linked else []) == expected
    assert all(table["linked_i"]) and all(table["linked_j"])  # both loci have a copy
    assert table["n_linked_i"].tolist() == [len(x.split(" ")) for x in table["linked_i"]]
