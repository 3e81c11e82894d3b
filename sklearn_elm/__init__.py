"""sklearn_elm: neural genomic prediction read back as quantitative genetics.

Train a bias-free network (:class:`NeuralGPRegressor`), decompose it with its
equivalent linear map, and compare with linear baselines, all through the
scikit-learn API.
"""

from ._encoding import GenotypeEncoder
from ._regressor import NeuralGPRegressor

__version__ = "0.1.0.dev0"

__all__ = ["GenotypeEncoder", "NeuralGPRegressor", "__version__"]
