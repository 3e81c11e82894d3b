"""sklearn_elm: neural genomic prediction read back as quantitative genetics.

Train a bias-free network (:class:`NeuralGPRegressor`), decompose it with its
equivalent linear map (:class:`ELMDecomposer`), and compare it with REML GBLUP
baselines (:class:`GBLUPRegressor`), all through the scikit-learn API.

The public names are imported on first use, so that the command line answers
``--help`` without loading torch.
"""

import importlib

__version__ = "0.1.0.dev0"

_PUBLIC = {
    "ELMDecomposer": "._decomposer",
    "FactoredPairMatrix": "._pairs",
    "GBLUPRegressor": "._gblup",
    "GenotypeEncoder": "._encoding",
    "NeuralGPRegressor": "._regressor",
    "equivalent_linear_map": "._elm",
}
_SUBMODULES = ("cli", "datasets", "metrics", "nn", "workflow")

__all__ = [*_PUBLIC, "__version__"]


def __getattr__(name):
    if name in _PUBLIC:
        value = getattr(importlib.import_module(_PUBLIC[name], __name__), name)
        globals()[name] = value  # once imported, a plain attribute
        return value
    if name in _SUBMODULES:
        return importlib.import_module(f".{name}", __name__)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted({*globals(), *_PUBLIC, *_SUBMODULES})
