"""Reference data, file readers and the phenotype simulator."""

from ._qhaplo import load_qhaplo, read_qhaplo
from ._simulate import make_epistatic_phenotypes, pairwise_values
from ._tables import read_genotype_table, read_phenotype_table, read_plink, read_tables

__all__ = [
    "load_qhaplo",
    "make_epistatic_phenotypes",
    "pairwise_values",
    "read_genotype_table",
    "read_phenotype_table",
    "read_plink",
    "read_qhaplo",
    "read_tables",
]
