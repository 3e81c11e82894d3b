"""
Variance components of a noisy trait: the network's, debiased, and REML's
=========================================================================

Simulate a trait whose genetic variance is a quarter of the phenotypic variance (broad-sense
H2 = 0.25, the noise level of the published noisy variant), half of it additive and half pairwise
epistatic; decompose a trained network with :class:`~sklearn_elm.ELMDecomposer` and compare its
variance components with the simulated truth and with REML GBLUP.

A network that predicts a noisy trait well shrinks its fit, and the variances of its own parts
(``components="network"``) describe that fit, not the trait.  The debiased components (what the
default ``components="auto"`` gives here) add to the network the least-squares projection of its
training residuals on the additive and pairwise terms and subtract the sampling noise that
squaring the estimates adds, as REML's variance components are unbiased.  With 4000 samples and
V_E = 3, each estimate has a sampling error of about 2 sqrt(V_G V_E / n) = 0.05 around the truth
of this sample.
"""

import matplotlib.pyplot as plt
import numpy as np
from sklearn.pipeline import make_pipeline

from sklearn_elm import ELMDecomposer, GBLUPRegressor, GenotypeEncoder, NeuralGPRegressor
from sklearn_elm.datasets import make_epistatic_phenotypes
from sklearn_elm.metrics import true_variance_components

data = make_epistatic_phenotypes(
    4000, 16, n_pairs=6, h2=0.25, epistatic_ratio=1.0, random_state=0
)
X, y = data.genotypes, data.phenotypes[:, 0]

net = make_pipeline(GenotypeEncoder(), NeuralGPRegressor(max_epochs=300, random_state=0))
debiased = ELMDecomposer(net).fit(X, y)
network = ELMDecomposer(debiased.estimator_, prefit=True, components="network").fit(X, y)
reml = make_pipeline(GenotypeEncoder(), GBLUPRegressor("additive+epistatic")).fit(X, y)

Z = debiased.estimator_[0].transform(X)
truth = true_variance_components(Z, data.additive_effects[0], data.epistasis[0], phenotypes=y)
sources = {
    "truth": truth,
    "network's own": network.variance_components_,
    "debiased (default)": debiased.variance_components_,
    "REML GBLUP": reml[-1].variance_components_,
}
keys = ["additive", "epistatic", "genetic"]
for name, vc in sources.items():
    print(f"{name:>18}: " + "  ".join(f"{key} {float(vc[key]):.3f}" for key in keys))
# the debiased components and REML's are within two sampling errors (2 x 0.05) of the truth
for name in ("debiased (default)", "REML GBLUP"):
    errors = {key: float(sources[name][key] - truth[key]) for key in keys}
    assert all(abs(error) < 0.1 for error in errors.values()), (name, errors)

fig, ax = plt.subplots(figsize=(6, 3.5))
width = 0.2
for i, (name, vc) in enumerate(sources.items()):
    heights = [float(vc[key]) for key in keys]
    ax.bar(np.arange(len(keys)) + (i - 1.5) * width, heights, width, label=name)
ax.set_xticks(range(len(keys)), ["V_A", "V_AA", "V_G"])
ax.set_ylabel("variance")
ax.legend(fontsize="small")
fig.tight_layout()
plt.show()
