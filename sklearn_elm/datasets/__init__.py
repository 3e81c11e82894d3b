"""Reference data, file readers and the phenotype simulator."""

from ._qhaplo import load_qhaplo, read_qhaplo
from ._simulate import make_epistatic_phenotypes, pairwise_values

__all__ = ["load_qhaplo", "make_epistatic_phenotypes", "pairwise_values", "read_qhaplo"]
