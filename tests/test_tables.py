"""Tests of the genotype / phenotype table readers and the PLINK reader."""

import gzip
import importlib.util
import sys

import numpy as np
import pytest

from sklearn_elm.datasets import (
    make_epistatic_phenotypes,
    read_genotype_table,
    read_phenotype_table,
    read_plink,
    read_tables,
)

HAS_BED_READER = importlib.util.find_spec("bed_reader") is not None
needs_bed_reader = pytest.mark.skipif(
    not HAS_BED_READER,
    reason="bed-reader is not installed (optional extra: pip install 'sklearn-elm[plink]')",
)


def _write(path, rows, sep=","):
    path.write_text("".join(sep.join(map(str, row)) + "\n" for row in rows))
    return path


@pytest.fixture
def simulated():
    return make_epistatic_phenotypes(30, 5, n_traits=2, ploidy=2, random_state=0)


def _genotype_rows(data, ids):
    return [["sample", *data.feature_names]] + [
        [i, *g] for i, g in zip(ids, data.genotypes, strict=True)
    ]


def _phenotype_rows(data, ids):
    return [["sample", *data.target_names]] + [
        [i, *y] for i, y in zip(ids, data.phenotypes, strict=True)
    ]


def test_tables_round_trip_and_match_ids(tmp_path, simulated):
    """Phenotype rows in another order are matched back to the genotype order."""
    ids = [f"ind{n}" for n in range(30)]
    geno = _write(tmp_path / "g.csv", _genotype_rows(simulated, ids))
    rows = _phenotype_rows(simulated, ids)
    pheno = _write(tmp_path / "p.csv", [rows[0], *rows[1:][::-1]])
    data = read_tables(geno, pheno)
    np.testing.assert_array_equal(data.genotypes, simulated.genotypes)
    assert data.genotypes.dtype == np.int8
    np.testing.assert_allclose(data.phenotypes, simulated.phenotypes)
    assert data.feature_names.tolist() == simulated.feature_names.tolist()
    assert data.target_names.tolist() == simulated.target_names.tolist()
    assert data.sample_ids.tolist() == ids
    assert data.train.sum() == round(0.85 * 30) and data.train[0] and not data.train[-1]
    np.testing.assert_allclose(data.allele_frequencies, simulated.genotypes.mean(axis=0) / 2)


def test_tsv_gzip_and_missing_values(tmp_path):
    with gzip.open(tmp_path / "g.tsv.gz", "wt") as f:
        f.write("id\tsnp1\tsnp2\na\t0\tNA\nb\t1\t1\n")
    data = read_genotype_table(tmp_path / "g.tsv.gz")
    assert data.genotypes.dtype == np.float64
    assert np.isnan(data.genotypes[0, 1]) and data.genotypes[1, 1] == 1
    path = _write(tmp_path / "p.txt", [["id", "y"], ["a", "."], ["b", 2]], " ")
    pheno = read_phenotype_table(path)
    assert np.isnan(pheno.phenotypes[0, 0]) and pheno.phenotypes[1, 0] == 2


def test_plink_style_phenotypes(tmp_path):
    path = _write(tmp_path / "p.phen", [["FID", "IID", "h"], ["f", "a", 1.5], ["f", "b", 2]], "\t")
    data = read_phenotype_table(path)
    assert data.sample_ids.tolist() == ["a", "b"] and data.target_names.tolist() == ["h"]


def test_non_numeric_genotype_names_sample_and_locus(tmp_path):
    path = _write(tmp_path / "g.csv", [["id", "snp1", "snp2"], ["a", 0, 1], ["b", 1, "AG"]])
    with pytest.raises(ValueError, match=r"non-numeric value 'AG' for sample 'b' in column 'snp2'"):
        read_genotype_table(path)


def test_genotype_outside_alphabet(tmp_path):
    path = _write(tmp_path / "g.csv", [["id", "snp1"], ["a", 0], ["b", 3]])
    with pytest.raises(ValueError, match=r"3.0 of sample 'b' at locus 'snp1' is not an allele"):
        read_genotype_table(path)


def test_non_numeric_phenotype(tmp_path):
    path = _write(tmp_path / "p.csv", [["id", "height"], ["a", "tall"]])
    with pytest.raises(ValueError, match=r"'tall' for sample 'a' in column 'height'"):
        read_phenotype_table(path)


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        ([["id", "x"], ["a", 0], ["a", 1]], "duplicate sample ID 'a'"),
        ([["id", "x", "x"], ["a", 0, 1]], "duplicate column 'x'"),
        ([["id", "x"], ["a", 0, 1]], "line 2: 3 fields, but the header has 2"),
        ([["id"], ["a"]], "names no genotype columns"),
        ([["id", "x"]], "has a header but no samples"),
    ],
)
def test_malformed_tables(tmp_path, rows, message):
    with pytest.raises(ValueError, match=message):
        read_genotype_table(_write(tmp_path / "g.csv", rows))


def test_missing_file_is_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="nowhere.csv"):
        read_genotype_table(tmp_path / "nowhere.csv")
    geno = _write(tmp_path / "g.csv", [["id", "x"], ["a", 0]])
    with pytest.raises(FileNotFoundError, match="pheno.csv"):
        read_tables(geno, tmp_path / "pheno.csv")


def test_sample_mismatch_names_the_samples(tmp_path):
    geno = _write(tmp_path / "g.csv", [["id", "x"], ["a", 0], ["b", 1], ["c", 1]])
    pheno = _write(tmp_path / "p.csv", [["id", "y"], ["a", 1.0], ["b", 2.0]])
    with pytest.raises(ValueError, match=r"1 sample\(s\) of .*g.csv have no row in .*'c'"):
        read_tables(geno, pheno)
    pheno = _write(tmp_path / "p.csv", [["id", "y"], ["a", 1], ["b", 2], ["c", 3], ["zz", 4]])
    with pytest.raises(ValueError, match=r"are not in .*g.csv: 'zz'"):
        read_tables(geno, pheno)


@needs_bed_reader
def test_plink_round_trip(tmp_path, simulated):
    from bed_reader import to_bed

    ids = [f"ind{n}" for n in range(30)]
    G = simulated.genotypes.astype(np.float32)
    G[3, 2] = np.nan
    to_bed(tmp_path / "cohort.bed", G,
           properties={"iid": ids, "sid": list(simulated.feature_names)})
    pheno = _write(tmp_path / "p.csv", _phenotype_rows(simulated, ids)[:-1])
    with pytest.raises(ValueError, match=r"cohort.bed have no row in .*p.csv: 'ind29'"):
        read_plink(tmp_path / "cohort", pheno)
    pheno = _write(tmp_path / "p.csv", _phenotype_rows(simulated, ids))
    for path in (tmp_path / "cohort", tmp_path / "cohort.bed"):
        data = read_plink(path, pheno)
        np.testing.assert_array_equal(data.genotypes, G)
        np.testing.assert_allclose(data.phenotypes, simulated.phenotypes)
        assert data.feature_names.tolist() == simulated.feature_names.tolist()
        assert data.sample_ids.tolist() == ids
    (tmp_path / "cohort.fam").unlink()
    with pytest.raises(FileNotFoundError, match="cohort.fam"):
        read_plink(tmp_path / "cohort", pheno)


def test_plink_without_bed_reader(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "bed_reader", None)  # import now raises ImportError
    with pytest.raises(ImportError, match=r"sklearn-elm\[plink\]"):
        read_plink(tmp_path / "cohort", tmp_path / "p.csv")


def test_byte_order_mark_and_plink2_header(tmp_path):
    """A spreadsheet's BOM and PLINK 2's #FID must not turn the IID column into a trait."""
    for name, header in (("bom.csv", "\ufeffFID,IID,h"), ("hash.csv", "#FID,IID,h")):
        path = tmp_path / name
        path.write_text(f"{header}\nf,a,1.5\nf,b,2\n", encoding="utf-8")
        data = read_phenotype_table(path)
        assert data.target_names.tolist() == ["h"] and data.sample_ids.tolist() == ["a", "b"]


def test_plink_missing_phenotype_and_infinite_values(tmp_path):
    """-9 is PLINK's missing phenotype in FID/IID files (and a number elsewhere); an
    infinite value is an error naming it."""
    path = _write(tmp_path / "p.phen", [["FID", "IID", "h"], ["f", "a", -9], ["f", "b", 2]], " ")
    assert np.isnan(read_phenotype_table(path).phenotypes[0, 0])
    path = _write(tmp_path / "p.csv", [["id", "h"], ["a", -9], ["b", 2]])
    assert read_phenotype_table(path).phenotypes[0, 0] == -9
    path = _write(tmp_path / "inf.csv", [["id", "h"], ["a", "inf"], ["b", 2]])
    with pytest.raises(ValueError, match=r"line 2: infinite value for sample 'a' in column 'h'"):
        read_phenotype_table(path)


def test_plink_raw_genotypes_leave_out_pedigree_and_phenotype(tmp_path):
    """plink --recode A: PAT MAT SEX PHENOTYPE are not loci (a 1/2 phenotype would pass
    as allele counts)."""
    path = _write(tmp_path / "g.raw", [
        ["FID", "IID", "PAT", "MAT", "SEX", "PHENOTYPE", "snp1_A", "snp2_G"],
        ["f", "a", 0, 0, 1, 2, 0, 1],
        ["f", "b", 0, 0, 2, 1, 2, "NA"],
    ], " ")
    data = read_genotype_table(path)
    assert data.feature_names.tolist() == ["snp1_A", "snp2_G"]
    assert data.sample_ids.tolist() == ["a", "b"]
    np.testing.assert_array_equal(data.genotypes, [[0, 1], [2, np.nan]])


def test_empty_column_name_is_an_error(tmp_path):
    path = _write(tmp_path / "p.csv", [["id", "h", ""], ["a", 1, 2]])
    with pytest.raises(ValueError, match="empty column name .column 3"):
        read_phenotype_table(path)


def test_plink_missing_is_a_number_and_encodings_are_named(tmp_path):
    path = _write(tmp_path / "p.phen", [["FID", "IID", "h"], ["f", "a", "-9.0"], ["f", "b", 2]],
                  " ")
    assert np.isnan(read_phenotype_table(path).phenotypes[0, 0])
    latin = tmp_path / "latin.csv"
    latin.write_bytes("id,h\ncaf\xe9,1\nb,2\n".encode("latin-1"))
    with pytest.raises(ValueError, match="latin.csv: not UTF-8 text"):
        read_phenotype_table(latin)
