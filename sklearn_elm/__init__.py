"""sklearn_elm: neural genomic prediction read back as quantitative genetics.

Train a bias-free network (:class:`NeuralGPRegressor`), decompose it with its
equivalent linear map (:class:`ELMDecomposer`), and compare it with REML GBLUP
baselines (:class:`GBLUPRegressor`), all through the scikit-learn API.
"""

from ._decomposer import ELMDecomposer
from ._elm import equivalent_linear_map
from ._encoding import GenotypeEncoder
from ._gblup import GBLUPRegressor
from ._regressor import NeuralGPRegressor

__version__ = "0.1.0.dev0"

__all__ = [
    "ELMDecomposer",
    "GBLUPRegressor",
    "GenotypeEncoder",
    "NeuralGPRegressor",
    "equivalent_linear_map",
    "__version__",
]
