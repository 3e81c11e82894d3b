"""Reference data, file readers, loading and trait selection, and the simulators of
genotype panels and phenotypes."""

from ._bed import PlinkArray, open_plink
from ._loading import load_data, select_traits
from ._panel import simulate_genotypes
from ._plink import read_plink
from ._ploidy import infer_ploidy
from ._qhaplo import load_qhaplo, read_qhaplo
from ._sgkit import from_sgkit
from ._simulate import make_epistatic_phenotypes, pairwise_values, simulate_phenotypes
from ._tables import read_genotype_table, read_phenotype_table, read_tables

__all__ = [
    "PlinkArray",
    "from_sgkit",
    "infer_ploidy",
    "load_data",
    "load_qhaplo",
    "make_epistatic_phenotypes",
    "open_plink",
    "pairwise_values",
    "read_genotype_table",
    "read_phenotype_table",
    "read_plink",
    "read_qhaplo",
    "read_tables",
    "select_traits",
    "simulate_genotypes",
    "simulate_phenotypes",
]
