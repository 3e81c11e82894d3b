"""
A panel decomposed from a PLINK file, in blocks and on a Dask cluster
=====================================================================

A genotype panel larger than memory need not be read whole.
:func:`~sklearn_elm.datasets.open_plink` opens a PLINK 1 ``.bed`` as a lazy array that reads
only the samples indexed; :class:`~sklearn_elm.ELMDecomposer` decomposes such an array in blocks
of ``batch_size`` samples, and a dask array of it on a ``dask.distributed`` cluster, one task per
chunk of samples.  Both give the in-memory result to float round-off, as this example checks;
:doc:`/scaling` says what each step costs in time and memory.

The panel here is small enough for a gallery page, 6,000 diploid individuals and 60 loci
simulated by :func:`~sklearn_elm.datasets.make_epistatic_phenotypes`, and the default estimators
keep the encoded samples in memory (``n x p`` floats).  For a cohort whose encoded samples do
not fit either, ``epistasis="regression", components="network"`` keep nothing but ``p x p``
sums; the rest of the code is the same.
"""

# %%
# Write a simulated panel to a PLINK file
# ---------------------------------------
# bed-reader (the ``plink`` extra) writes the ``.bed``, ``.bim`` and ``.fam``.

import tempfile
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
from bed_reader import to_bed
from dask.distributed import Client, LocalCluster
from sklearn.pipeline import make_pipeline

from sklearn_elm import ELMDecomposer, GBLUPRegressor, GenotypeEncoder, NeuralGPRegressor
from sklearn_elm.datasets import make_epistatic_phenotypes, open_plink
from sklearn_elm.metrics import true_average_effects

n_samples, n_loci = 6000, 60
rng = np.random.default_rng(0)
data = make_epistatic_phenotypes(
    n_samples, n_loci, n_qtl=20, h2=0.6, epistatic_ratio=0.5, ploidy=2,
    allele_frequencies=rng.uniform(0.2, 0.8, n_loci), random_state=0,
)
y = data.phenotypes[:, 0]

folder = Path(tempfile.mkdtemp())
to_bed(folder / "cohort.bed", data.genotypes, properties={
    "iid": [f"id{i}" for i in range(n_samples)],
    "sid": [f"snp{j}" for j in range(n_loci)],
    "chromosome": ["1"] * n_loci,
    "bp_position": 10_000 * np.arange(1, n_loci + 1),
})

# %%
# Open it lazily and train on a part of it
# ----------------------------------------
# Nothing is read when the file is opened.  The network is trained on the first 3,000
# individuals, read into memory, with half the default epochs to keep the page quick (the
# example is about reading the network, not training it); the phenotypes are in the order of
# ``X.sample_ids``.

X = open_plink(folder / "cohort.bed")
print(X.shape, X.dtype, X.sample_ids[:3], X.positions[:3])
n_train = 3000
net = make_pipeline(GenotypeEncoder(), NeuralGPRegressor(max_epochs=420, random_state=0))
net.fit(X[:n_train], y[:n_train])

# %%
# Decompose in memory, from the file, and on a cluster
# ----------------------------------------------------
# The decomposer takes the fitted pipeline (``prefit=True``) and reads it on all 6,000
# individuals.  From the file it reads ``batch_size`` samples at a time; from the dask array
# each chunk of samples is a task run by a worker, and the sums are added up in a tree.  The
# cluster's two workers are threads of this process here (``processes=False``); on a real
# cluster they are processes on other machines, which open the file themselves.

settings = dict(prefit=True, batch_size=500)
in_memory = ELMDecomposer(net, **settings).fit(np.asarray(X), y)
from_file = ELMDecomposer(net, **settings).fit(X, y)

with LocalCluster(n_workers=2, threads_per_worker=1, processes=False,
                  dashboard_address=":0") as cluster, Client(cluster):
    Xd = open_plink(folder / "cohort.bed", num_threads=1).to_dask(chunks=1000)
    on_dask = ELMDecomposer(net, **settings).fit(Xd, y)
    predicted = on_dask.predict(Xd).compute()  # a dask array until computed
    gblup_dask = GBLUPRegressor("additive").fit(Xd, y)
gblup = GBLUPRegressor("additive").fit(np.asarray(X), y)

print(f"estimators: epistasis={in_memory.epistasis_!r}, components={in_memory.components_!r}")
for name, fitted in (("from the file", from_file), ("on the cluster", on_dask)):
    gaps = {
        "additive effects": np.abs(fitted.additive_effects_ - in_memory.additive_effects_),
        "epistasis matrix": np.abs(fitted.epistasis_matrix_ - in_memory.epistasis_matrix_),
        "V_A, V_AA, V_G": np.abs([
            fitted.variance_components_[key] - in_memory.variance_components_[key]
            for key in ("additive", "epistatic", "genetic")
        ]),
    }
    print(f"{name}: largest difference from in memory: "
          + ", ".join(f"{key} {gap.max():.1e}" for key, gap in gaps.items()))
    for key in ("additive_effects_", "epistasis_matrix_", "intercept_"):
        np.testing.assert_allclose(getattr(fitted, key), getattr(in_memory, key),
                                   rtol=1e-10, atol=1e-13, err_msg=f"{name}: {key}")
    for key, value in in_memory.variance_components_.items():
        np.testing.assert_allclose(fitted.variance_components_[key], value, rtol=1e-10,
                                   atol=1e-13, err_msg=f"{name}: {key}")
np.testing.assert_allclose(predicted, in_memory.predict(np.asarray(X)), rtol=1e-6)
print(f"GBLUP A: V_A {gblup.variance_components_.additive:.4f} in memory, "
      f"{gblup_dask.variance_components_.additive:.4f} on the cluster")
np.testing.assert_allclose(gblup_dask.variance_components_.additive,
                           gblup.variance_components_.additive, rtol=1e-8)

# %%
# The additive effects along the genome
# -------------------------------------
# The positions come from the ``.bim``.  The true average effects of the simulation (only
# compared against) are drawn as crosses; test r2 of the network on the individuals it was not
# trained on is printed.

test = np.arange(n_train, n_samples)
print(f"test r2 of the network: {in_memory.score(X[test], y[test]):.3f}")
Z = in_memory.estimator_[0].transform(np.asarray(X))
truth = true_average_effects(Z, data.additive_effects[0], data.epistasis[0])
r = np.corrcoef(from_file.additive_effects_, truth)[0, 1]
print(f"correlation of the additive effects with the truth: {r:.3f}")
assert r > 0.9, r

fig, ax = plt.subplots(figsize=(8, 3.5))
ax.plot(X.positions / 1e3, truth, "x", color="grey", label="true average effect")
ax.plot(X.positions / 1e3, from_file.additive_effects_, "o", ms=4, label="from the .bed")
ax.axhline(0, color="grey", lw=0.8)
ax.set_xlabel("position (kb)")
ax.set_ylabel("additive effect")
ax.legend(fontsize="small")
fig.tight_layout()
plt.show()
