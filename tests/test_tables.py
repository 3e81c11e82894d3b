"""Tests of the genotype / phenotype table readers and the PLINK reader."""

import gzip
import importlib.util
import sys
import warnings

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


@pytest.mark.parametrize(("name", "text", "message"), [
    ("g.csv", "id,x,z\na,-1,0\nb,1,1\n", r"-1/0/1 codes\? Add 1 to make them allele counts"),
    ("g.csv", "id,x,z\na,-9,0\nb,1,1\n", r"-9 for missing\? Write NA or '\.'\.$"),
    ("g.csv", "id,x,z\na,0,1,\n", r"4 fields, but the header has 3 \(does each line but the "
                                  r"header end with a delimiter\?\)"),
    ("g.csv", "id;x;z\na;0;1\n", r"one field holding ';': a \.csv is read comma-separated"),
    ("g.csv", "x,z\na,0,1\n", r"3 fields, but the header has 2 \(a header without a name for "
                                r"the sample ID column, as R's write\.table"),
    ("g.txt", "id\tx\tz\na\t\t1\n", r"2 fields, but the header has 3 \(whitespace-separated, "
                                      r"empty cells vanish: write missing calls as NA, or name a"),
    ("g.csv", "id,x,z,\na,0,1,\n", r"empty column name \(column 4\): does each line end with a"),
])
def test_table_errors_name_the_likely_cause(tmp_path, name, text, message):
    """The common ways a table goes wrong get the likely cause beside the problem."""
    (tmp_path / name).write_text(text)
    with pytest.raises(ValueError, match=message):
        read_genotype_table(tmp_path / name)


def test_a_transposed_genotype_table_is_named(tmp_path):
    geno = _write(tmp_path / "g.csv", [["locus", "a", "b"], ["x", 0, 1], ["z", 1, 1]])
    pheno = _write(tmp_path / "p.csv", [["id", "y"], ["a", 1], ["b", 2]])
    with pytest.raises(ValueError, match=r"its header names 2 of them: samples go in rows"):
        read_tables(geno, pheno)


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
    """A missing genotype or phenotype file is a FileNotFoundError in one wording,
    naming the file."""
    with pytest.raises(FileNotFoundError, match="^no such file: .*nowhere.csv$"):
        read_genotype_table(tmp_path / "nowhere.csv")
    geno = _write(tmp_path / "g.csv", [["id", "x"], ["a", 0]])
    with pytest.raises(FileNotFoundError, match="^no such file: .*pheno.csv$"):
        read_tables(geno, tmp_path / "pheno.csv")


def test_directory_is_not_a_file(tmp_path):
    """A directory given as a table says so, rather than that the file is missing."""
    geno = _write(tmp_path / "g.csv", [["id", "x"], ["a", 0]])
    (tmp_path / "traits").mkdir()
    with pytest.raises(ValueError, match="traits is a directory, not a file"):
        read_tables(geno, tmp_path / "traits")


def test_unphenotyped_samples_are_left_out_and_counted(tmp_path):
    """Genotyped samples without a phenotype row (as a .fam often lists) are left out and
    counted; the 85 % / 15 % split is taken on the samples kept."""
    rows = [["id", "x", "z"]] + [[f"s{n}", n % 2, (n // 2) % 2] for n in range(24)]
    geno = _write(tmp_path / "g.csv", rows)
    kept = [f"s{n}" for n in range(24) if n % 3]  # 16 samples, in genotype-file order
    pheno = _write(tmp_path / "p.csv", [["id", "y"]] + [[i, float(i[1:])] for i in kept[::-1]])
    data = read_tables(geno, pheno)
    assert data.n_unphenotyped == 8
    assert data.sample_ids.tolist() == kept
    np.testing.assert_array_equal(data.phenotypes.ravel(), [float(i[1:]) for i in kept])
    expected = np.array([row[1:] for row in rows[1:] if int(row[0][1:]) % 3])
    np.testing.assert_array_equal(data.genotypes, expected)
    assert data.train.sum() == round(0.85 * 16) and data.train[:14].all()
    np.testing.assert_allclose(data.allele_frequencies, expected.mean(axis=0))


def test_phenotyped_samples_without_genotypes_are_left_out(tmp_path):
    """As PLINK and GCTA do, a phenotyped sample without genotypes is left out and counted;
    a phenotype file whose samples are all unknown (an empty overlap, the sign of a wrong
    file) is an error naming them."""
    geno = _write(tmp_path / "g.csv", [["id", "x"], ["a", 0], ["b", 1], ["c", 1]])
    pheno = _write(tmp_path / "p.csv", [["id", "y"], ["zz", 4], ["c", 3], ["a", 1], ["b", 2]])
    data = read_tables(geno, pheno)
    assert data.sample_ids.tolist() == ["a", "b", "c"] and data.n_ungenotyped == 1
    assert data.phenotypes.ravel().tolist() == [1, 2, 3] and data.n_unphenotyped == 0
    pheno = _write(tmp_path / "p.csv", [["id", "y"], ["x", 1], ["y", 2]])
    with pytest.raises(ValueError, match=r"none of the 2 sample\(s\) of .*p.csv is in .*g.csv"):
        read_tables(geno, pheno)


def test_differing_fids_of_a_shared_iid_warn_and_match_on_the_iid(tmp_path):
    """Samples are matched on the IID alone; where both files give FIDs and a shared IID's
    differ, a warning names the samples and both FIDs; equal FIDs, or FIDs on one side
    only, are quiet."""
    geno = _write(tmp_path / "g.raw", [
        ["FID", "IID", "PAT", "MAT", "SEX", "PHENOTYPE", "snp1"],
        ["f1", "a", 0, 0, 1, -9, 0], ["f1", "b", 0, 0, 1, -9, 1], ["f2", "c", 0, 0, 1, -9, 1]],
        " ")
    pheno = _write(tmp_path / "p.txt", [["FID", "IID", "y"], ["f1", "a", 1], ["f9", "b", 2],
                                        ["f2", "c", 3]], " ")
    with pytest.warns(UserWarning, match=r"1 sample\(s\) have the same IID but different "
                      r"FIDs in .*g.raw and .*p.txt: 'b' \('f1' and 'f9'\)\.  Samples are "
                      r"matched on the IID alone"):
        data = read_tables(geno, pheno)
    assert data.phenotypes.ravel().tolist() == [1, 2, 3]
    same = _write(tmp_path / "same.txt", [["FID", "IID", "y"], ["f1", "a", 1], ["f1", "b", 2]],
                  " ")
    plain = _write(tmp_path / "plain.csv", [["id", "y"], ["b", 2], ["a", 1]])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert read_tables(geno, same).phenotypes.ravel().tolist() == [1, 2]
        assert read_tables(geno, plain).phenotypes.ravel().tolist() == [1, 2]


@needs_bed_reader
def test_plink_round_trip(tmp_path, simulated):
    from bed_reader import to_bed

    ids = [f"ind{n}" for n in range(30)]
    G = simulated.genotypes.astype(np.float32)
    G[3, 2] = np.nan
    p = G.shape[1]
    chromosomes, positions = ["3"] * (p - 2) + ["X"] * 2, list(range(500, 500 + 10 * p, 10))
    to_bed(tmp_path / "cohort.bed", G,
           properties={"iid": ids, "sid": list(simulated.feature_names),
                       "chromosome": chromosomes, "bp_position": positions})
    pheno = _write(tmp_path / "p.csv", _phenotype_rows(simulated, ids)[:-1])
    data = read_plink(tmp_path / "cohort", pheno)
    assert data.n_unphenotyped == 1 and data.sample_ids.tolist() == ids[:-1]
    fam_fids = [line.split()[0] for line in (tmp_path / "cohort.fam").read_text().splitlines()]
    fids = [["FID", "IID", "y"], *([fam_fids[n], iid, 1.0] for n, iid in enumerate(ids))]
    fids[3][0] = fam_fids[2] + "x"  # the third sample's FID differs from the .fam's
    with pytest.warns(UserWarning, match=rf"1 sample\(s\) have the same IID but different FIDs "
                      rf"in .*cohort.bed and .*f.txt: '{ids[2]}'"):
        read_plink(tmp_path / "cohort", _write(tmp_path / "f.txt", fids, " "))
    pheno = _write(tmp_path / "p.csv", _phenotype_rows(simulated, ids))
    for path in (tmp_path / "cohort", tmp_path / "cohort.bed"):
        data = read_plink(path, pheno)
        np.testing.assert_array_equal(data.genotypes, G)
        np.testing.assert_allclose(data.phenotypes, simulated.phenotypes)
        assert data.feature_names.tolist() == simulated.feature_names.tolist()
        assert data.sample_ids.tolist() == ids
        assert data.ploidy == 2 and data.n_unphenotyped == 0
        assert data.chromosomes.tolist() == chromosomes
        assert data.positions.tolist() == positions
    bim = (tmp_path / "cohort.bim").read_text().splitlines()
    fields = bim[1].split()
    fields[3] = "1.5e6"
    (tmp_path / "cohort.bim").write_text("\n".join([bim[0], " ".join(fields), *bim[2:]]) + "\n")
    with pytest.raises(ValueError, match=r"cohort.bim, line 2: no integer base-pair position"):
        read_plink(tmp_path / "cohort", pheno)
    (tmp_path / "cohort.fam").unlink()
    with pytest.raises(FileNotFoundError, match="no such file: .*cohort.fam"):
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
    """-9 is PLINK's missing phenotype in FID/IID files (and a number elsewhere, with a
    warning that names the fix); an infinite value is an error naming it."""
    path = _write(tmp_path / "p.phen", [["FID", "IID", "h"], ["f", "a", -9], ["f", "b", 2]], " ")
    assert np.isnan(read_phenotype_table(path).phenotypes[0, 0])
    path = _write(tmp_path / "p.csv", [["id", "h"], ["a", -9], ["b", 2]])
    with pytest.warns(UserWarning, match="1 phenotype value.* are -9.*write them as NA"):
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


def _haploid_rows(n_samples=3000, n_loci=20, seed=0):
    G = np.random.default_rng(seed).integers(0, 2, size=(n_samples, n_loci))
    return [["id", *(f"l{j}" for j in range(n_loci))]] + [
        [f"s{n}", *row] for n, row in enumerate(G)
    ]


def test_unmatched_quote_in_a_large_csv_names_the_line(tmp_path):
    """A stray quote opening a field swallows the rest of the file, and past its field
    limit (128 KiB) csv raises a bare csv.Error: the reader makes it a ValueError naming
    the file and the line where the quote opens."""
    rows = _haploid_rows()
    rows[10][0] = '"' + rows[10][0]  # line 11
    path = _write(tmp_path / "g.csv", rows)
    assert path.stat().st_size > 131072
    with pytest.raises(ValueError, match=r"g.csv, line 11: .*field limit.*unmatched quote"):
        read_genotype_table(path)


def test_unmatched_quote_in_a_small_csv_says_so(tmp_path):
    """Below the field limit the swallowed lines make a short row: the error names the
    line the quote opens on and suggests the quote."""
    path = tmp_path / "g.csv"
    path.write_text('id,a,b\ns1,0,1\n"s2,1,0\ns3,0,0\n')
    with pytest.raises(ValueError, match=r"g.csv, line 3: 1 fields, .*is a quote unmatched"):
        read_genotype_table(path)


def test_quoted_fields_over_lines_keep_line_numbers(tmp_path):
    """Line numbers count lines, not records, after a quoted field that spans lines."""
    path = tmp_path / "p.csv"
    path.write_text('id,"long\nname"\na,1\nb,oops\n')
    with pytest.raises(ValueError, match=r"p.csv, line 4: non-numeric value 'oops'"):
        read_phenotype_table(path)


@pytest.mark.parametrize("damage", ["plain text", "corrupt stream", "truncated"])
def test_damaged_gzip_names_the_file(tmp_path, damage):
    """A .gz that is not gzip, damaged or cut short is a ValueError naming the file (not
    an OSError, EOFError or zlib.error that names nothing)."""
    text = "".join(",".join(map(str, row)) + "\n" for row in _haploid_rows(300))
    packed = gzip.compress(text.encode())
    data = {"plain text": text.encode(),
            "corrupt stream": packed[:12] + b"\xff" * 8 + packed[20:],
            "truncated": packed[: len(packed) // 2]}[damage]
    path = tmp_path / "g.csv.gz"
    path.write_bytes(data)
    with pytest.raises(ValueError, match=r"g.csv.gz: not a readable gzip file"):
        read_genotype_table(path)


def _stray_two_tables(tmp_path, n_samples=400):
    rows = _haploid_rows(n_samples, 10)
    rows[6][4] = 2  # sample s5, locus l3
    geno = _write(tmp_path / "g.csv", rows)
    pheno = _write(tmp_path / "p.csv", [["id", "y"]] + [[f"s{n}", n] for n in range(n_samples)])
    return geno, pheno


def test_a_stray_two_in_a_haploid_table_warns(tmp_path):
    """One 2 among 4,000 haploid cells makes the panel diploid, with a warning naming the
    count, the cell and the fix; ploidy=1 refuses it naming the cell; ploidy=2 is silent.
    The allele frequencies follow the ploidy used."""
    geno, pheno = _stray_two_tables(tmp_path)
    with pytest.warns(UserWarning, match=r"g.csv: 1 of the 4000 genotyped cells is 2 "
                      r"\(sample 's5' at locus 'l3'\).*--ploidy 2"):
        data = read_tables(geno, pheno)
    assert data.ploidy == 2
    with pytest.raises(ValueError, match=r"g.csv: genotype 2 of sample 's5' at locus 'l3'"):
        read_tables(geno, pheno, ploidy=1)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        explicit = read_tables(geno, pheno, ploidy=2)
    assert explicit.ploidy == 2
    G = np.asarray(explicit.genotypes, dtype=float)
    np.testing.assert_array_equal(explicit.allele_frequencies, G.mean(axis=0) / 2)


def test_explicit_ploidy_two_on_a_panel_without_twos(tmp_path):
    """ploidy=2 is taken as given (a diploid panel may hold no homozygote of the counted
    allele): the frequencies are mean counts / 2."""
    geno = _write(tmp_path / "g.csv", [["id", "x", "z"], ["a", 0, 1], ["b", 1, 1]])
    pheno = _write(tmp_path / "p.csv", [["id", "y"], ["a", 1], ["b", 2]])
    assert read_tables(geno, pheno).ploidy == 1
    with pytest.warns(UserWarning, match="no genotype of the 4 is 2: if the panel is haploid"):
        data = read_tables(geno, pheno, ploidy=2)
    assert data.ploidy == 2
    np.testing.assert_array_equal(data.allele_frequencies, [0.25, 0.5])
    with pytest.raises(ValueError, match="ploidy must be 'auto', 1 or 2, got 3"):
        read_tables(geno, pheno, ploidy=3)


def _plink_set(tmp_path, n_samples=10, n_variants=5):
    from bed_reader import to_bed

    G = np.random.default_rng(0).integers(0, 3, size=(n_samples, n_variants)).astype(np.int8)
    ids = [f"s{n}" for n in range(n_samples)]
    to_bed(tmp_path / "a.bed", G,
           properties={"iid": ids, "sid": [f"v{j}" for j in range(n_variants)]})
    pheno = _write(tmp_path / "p.csv", [["id", "y"]] + [[i, 1.5] for i in ids])
    fam = (tmp_path / "a.fam").read_text().splitlines()
    bim = (tmp_path / "a.bim").read_text().splitlines()
    return G, pheno, fam, bim


@needs_bed_reader
@pytest.mark.parametrize(
    "edit, match",
    [
        # 10 samples: 3 bytes a variant; 13 need 4, 8 need 2
        (("fam", lambda lines: lines + [f"f x{n} 0 0 0 -9" for n in range(3)]),
         r"do not fit the 13 samples of .*a.fam and the 5 variants .*With 5 variants it "
         r"holds 9 to 12 samples, but .*a.fam lists 13"),
        (("fam", lambda lines: lines[:8]), r"but .*a.fam lists 8"),
        (("bim", lambda lines: lines[:-1]),
         r"With 10 samples the .bed holds 5 variants, but .*a.bim lists 4"),
        (("bim", lambda lines: lines + ["1\tv9\t0\t9\tA\tC"]), r"but .*a.bim lists 6"),
        # 9 samples fit the same 3 bytes a variant: the padding bits show the loss
        (("fam", lambda lines: lines[:9]),
         r"a.fam lists 9 samples, but .*a.bed holds genotypes for at least 10"),
        (("fam", lambda lines: lines[:2] + ["lonely"] + lines[3:]),
         r"a.fam, line 3: one field, but a .fam line holds FID IID"),
        (("bim", lambda lines: []), r"a.bim: the file lists no variants"),
    ],
)
def test_plink_line_counts_that_do_not_fit_the_bed(tmp_path, edit, match):
    """A .fam or .bim with a line too many or too few is an error naming the file, its
    count and what the .bed implies, not bed-reader's message (or a silent misread)."""
    _, pheno, fam, bim = _plink_set(tmp_path)
    which, change = edit
    lines = change(fam if which == "fam" else bim)
    (tmp_path / f"a.{which}").write_text("".join(line + "\n" for line in lines))
    with pytest.raises(ValueError, match=match):
        read_plink(tmp_path / "a", pheno)


@needs_bed_reader
def test_plink_truncated_or_foreign_bed(tmp_path):
    """A .bed cut short, not a .bed, or sample-major is named with what is wrong."""
    _, pheno, _, _ = _plink_set(tmp_path)
    bed = tmp_path / "a.bed"
    packed = bed.read_bytes()
    bed.write_bytes(packed[:-2])
    with pytest.raises(ValueError, match=r"a.bed holds 13 bytes .* is .*a.bed truncated"):
        read_plink(bed, pheno)
    bed.write_bytes(b"PK\x03" + packed[3:])
    with pytest.raises(ValueError, match=r"a.bed: not a PLINK 1 .bed file"):
        read_plink(bed, pheno)
    bed.write_bytes(packed[:2] + b"\x00" + packed[3:])
    with pytest.raises(ValueError, match=r"a.bed: a sample-major .bed file"):
        read_plink(bed, pheno)


@needs_bed_reader
@pytest.mark.parametrize(
    "content, held",
    [(b"", "the file is empty"),
     (b"\x6c\x1b", "only 2 of its 3 header bytes"),
     (b"\x6c\x1b\x01", "only its 3-byte header")],
)
def test_plink_empty_bed_holds_no_genotypes(tmp_path, content, held):
    """A .bed of no bytes, a part of the header or the header alone is said to hold no
    genotypes, with the size the .fam and .bim imply (10 samples: 3 bytes a variant,
    3 + 5 * 3 = 18), not as a count of samples that no .fam could list."""
    _, pheno, _, _ = _plink_set(tmp_path)
    (tmp_path / "a.bed").write_bytes(content)
    with pytest.raises(ValueError, match=rf"a.bed: the .bed holds no genotypes \({held}\), "
                       r"but the 10 samples of .*a.fam and the 5 variants of .*a.bim need "
                       r"18 bytes: is it truncated\?$"):
        read_plink(tmp_path / "a", pheno)


@needs_bed_reader
def test_plink_blank_lines_and_missing_final_newline(tmp_path):
    """Blank lines in the .fam and .bim are skipped and a last line without its newline
    counts: bed-reader alone counts newline characters and fails on both."""
    G, pheno, fam, bim = _plink_set(tmp_path)
    (tmp_path / "a.fam").write_text("\n".join(fam[:4] + [""] + fam[4:]) + "\n\n")
    (tmp_path / "a.bim").write_text("\n".join(bim))
    data = read_plink(tmp_path / "a", pheno)
    np.testing.assert_array_equal(data.genotypes, G)
    assert data.sample_ids.tolist() == [f"s{n}" for n in range(10)]
    assert data.feature_names.tolist() == [f"v{j}" for j in range(5)]
