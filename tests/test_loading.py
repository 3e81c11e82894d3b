"""Tests of load_data, select_traits and infer_ploidy (sklearn_elm.datasets._loading and
_ploidy): the one entry point from a path to the data, its errors, and the ploidy."""

import importlib.util
import shutil
import warnings
from importlib import resources

import numpy as np
import pytest
from sklearn.utils import Bunch

from sklearn_elm.datasets import _loading, infer_ploidy, load_data, load_qhaplo, select_traits

DATA = resources.files("sklearn_elm.datasets") / "data"
PREFIX = "qhaplo_64qtl_10000n_rep1"
needs_bed_reader = pytest.mark.skipif(importlib.util.find_spec("bed_reader") is None,
                                      reason="bed-reader is not installed")


def _tables(folder, n_samples=40, n_loci=6, phenotyped=None, seed=0):
    """A haploid genotype table and a phenotype table of the first ``phenotyped`` samples."""
    rng = np.random.default_rng(seed)
    G = rng.integers(0, 2, size=(n_samples, n_loci))
    geno = folder / "g.csv"
    geno.write_text("id," + ",".join(f"l{j}" for j in range(n_loci)) + "\n" + "".join(
        f"s{n}," + ",".join(map(str, row)) + "\n" for n, row in enumerate(G)))
    pheno = folder / "p.csv"
    pheno.write_text("id,y\n" + "".join(
        f"s{n},{rng.normal()!r}\n" for n in range(phenotyped or n_samples)))
    return G, geno, pheno


def test_bundled_data():
    """The bundled data: name, description, the haploid ploidy and no sample left out;
    an explicit ploidy is recorded, and the numbers are load_qhaplo's."""
    data = load_data()
    assert data.name == PREFIX and "Arcadia Science" in data.description
    assert data.ploidy == 1 and data.n_unphenotyped == 0
    np.testing.assert_array_equal(data.phenotypes, load_qhaplo().phenotypes)
    with pytest.warns(UserWarning, match="ploidy 2 was asked for, but no genotype"):
        noisy = load_data("qhaplo", h2=0.5, random_state=3, ploidy=2)
    assert noisy.ploidy == 2 and "H2 = 0.5" in noisy.description
    np.testing.assert_array_equal(noisy.phenotypes,
                                  load_qhaplo(h2=0.5, random_state=3).phenotypes)


def test_trio_directory(tmp_path):
    """A directory with a qhaplo trio is read with its true effects, ploidy and count."""
    for kind in ("g", "p", "eff"):
        shutil.copy(DATA / f"{PREFIX}_{kind}.txt", tmp_path)
    data = load_data(tmp_path)
    assert data.name == tmp_path.name and "true effects known" in data.description
    assert data.ploidy == 1 and data.n_unphenotyped == 0 and data.epistasis.shape[0] == 5


def test_missing_inputs_share_one_wording(tmp_path):
    """A missing genotype source and a missing phenotype file are both
    "no such file: PATH" (a FileNotFoundError)."""
    _, geno, pheno = _tables(tmp_path)
    with pytest.raises(FileNotFoundError, match=r"^no such file: .*nowhere$"):
        load_data(tmp_path / "nowhere", phenotypes=pheno)
    with pytest.raises(FileNotFoundError, match=r"^no such file: .*absent.csv$"):
        load_data(geno, phenotypes=tmp_path / "absent.csv")


def test_phenotypes_that_are_a_directory(tmp_path):
    """--phenotypes naming a directory says it is a directory, not that it is missing."""
    _, geno, _ = _tables(tmp_path)
    (tmp_path / "traits").mkdir()
    with pytest.raises(ValueError, match=r"traits is a directory, not a file"):
        load_data(geno, phenotypes=tmp_path / "traits")


@pytest.mark.parametrize(
    "case, match",
    [
        ("bundled with phenotypes",
         r"^phenotypes= \(--phenotypes\) does not apply to the bundled data\.$"),
        ("h2 with a path", r"^h2= \(--h2\) makes the noisy variant of the bundled data; it "
         r"needs source='qhaplo' \(--data qhaplo\)\.$"),
        ("trio with phenotypes",
         r"holds a qhaplo trio, .*; phenotypes= \(--phenotypes\) does not apply\.$"),
        ("table without phenotypes",
         r"g.csv: a table genotype file needs phenotypes=FILE \(--phenotypes FILE\)\.$"),
        ("directory without data", r"holds no qhaplo trio .* and 0 PLINK .bed files"),
        ("bad ploidy", r"ploidy must be 'auto', 1 or 2, got 'diploid'"),
    ],
)
def test_usage_errors_are_value_errors(tmp_path, case, match):
    """Each misuse is a ValueError (which the command line reports as a usage error, exit
    2) whose message names the problem, and the Python parameter to change with its
    command-line flag in parentheses (load_data is called from Python and from the CLI)."""
    _, geno, pheno = _tables(tmp_path)
    trio = tmp_path / "trio"
    trio.mkdir()
    (trio / "x_g.txt").write_text("qtl 1_1\nl1 0\n")
    (tmp_path / "empty").mkdir()
    call = {
        "bundled with phenotypes": lambda: load_data("qhaplo", phenotypes=pheno),
        "h2 with a path": lambda: load_data(geno, phenotypes=pheno, h2=0.5),
        "trio with phenotypes": lambda: load_data(trio, phenotypes=pheno),
        "table without phenotypes": lambda: load_data(geno),
        "directory without data": lambda: load_data(tmp_path / "empty", phenotypes=pheno),
        "bad ploidy": lambda: load_data(geno, phenotypes=pheno, ploidy="diploid"),
    }[case]
    with pytest.raises(ValueError, match=match):
        call()


def test_unreadable_file_is_a_value_error(tmp_path, monkeypatch):
    """An OSError while reading (no permission, say) is a ValueError naming both files."""
    _, geno, pheno = _tables(tmp_path)

    def refuse(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(_loading, "read_tables", refuse)
    with pytest.raises(ValueError, match=r"could not read .*g.csv and .*p.csv: .*Permission"):
        load_data(geno, phenotypes=pheno)


def test_malformed_csv_is_a_value_error(tmp_path):
    """An unmatched quote in a genotype table over csv's field limit reaches the caller as
    a ValueError naming the file and line, not csv.Error."""
    _, geno, pheno = _tables(tmp_path, n_samples=3000, n_loci=25)
    lines = geno.read_text().splitlines()
    lines[7] = '"' + lines[7]
    geno.write_text("\n".join(lines) + "\n")
    with pytest.raises(ValueError, match=r"g.csv, line 8: .*field limit"):
        load_data(geno, phenotypes=pheno)


def test_unphenotyped_samples_are_counted(tmp_path):
    """Genotyped samples without a phenotype row are left out, and load_data says how
    many, with the 85 % split on the samples kept."""
    G, geno, pheno = _tables(tmp_path, n_samples=40, phenotyped=30)
    data = load_data(geno, phenotypes=pheno)
    assert data.n_unphenotyped == 10 and len(data.phenotypes) == 30
    np.testing.assert_array_equal(data.genotypes, G[:30])
    assert int(data.train.sum()) == round(0.85 * 30)
    assert data.name == "g" and "genotype table read from" in data.description


def test_ploidy_reaches_the_reader(tmp_path):
    """ploidy=1 with a 2 in the panel is an error naming the cell; "auto" warns on a
    lone 2 and reads the panel as diploid; 2 is silent."""
    G, geno, pheno = _tables(tmp_path, n_samples=200)
    lines = geno.read_text().splitlines()
    lines[3] = "s2,2" + lines[3][len("s2,0"):]
    geno.write_text("\n".join(lines) + "\n")
    with pytest.raises(ValueError, match=r"genotype 2 of sample 's2' at locus 'l0'"):
        load_data(geno, phenotypes=pheno, ploidy=1)
    with pytest.warns(UserWarning, match=r"1 of the 1200 genotyped cells is 2"):
        assert load_data(geno, phenotypes=pheno).ploidy == 2
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert load_data(geno, phenotypes=pheno, ploidy=2).ploidy == 2


@needs_bed_reader
def test_plink_directory(tmp_path):
    """A directory holding one .bed set is read as PLINK, named after the .bed; so is the
    set's .bim or .fam given in its place."""
    from bed_reader import to_bed

    G = np.random.default_rng(1).integers(0, 3, size=(12, 4)).astype(np.int8)
    to_bed(tmp_path / "cohort.bed", G, properties={"iid": [f"s{n}" for n in range(12)]})
    pheno = tmp_path / "p.tsv"
    pheno.write_text("iid\ty\n" + "".join(f"s{n}\t{n}\n" for n in range(10)))
    data = load_data(tmp_path, phenotypes=pheno)
    assert data.name == "cohort" and data.ploidy == 2 and data.n_unphenotyped == 2
    np.testing.assert_array_equal(data.genotypes, G[:10])
    for companion in ("cohort.bim", "cohort.fam"):  # any file of the set names it
        other = load_data(tmp_path / companion, phenotypes=pheno)
        np.testing.assert_array_equal(other.genotypes, G[:10])


def _traits_bunch():
    Y = np.array([[1.0, np.nan, 3.0, np.nan], [2.0, np.nan, 4.0, 1.0], [np.nan, np.nan, 5.0, 1.0]])
    return Bunch(phenotypes=Y, target_names=np.array(["yield, kg", "empty", "h", "part"]),
                 genotypes=np.zeros((3, 2)), sample_ids=np.array(["a", "b", "c"]),
                 train=np.array([True, True, False]))


def test_the_first_85_percent_are_of_the_samples_kept():
    """Where the split is the published one (the first 85 %), samples without a phenotype
    are left out before it is made, as where they had no row: NA at the end of the file
    does not empty the test samples."""
    from sklearn_elm.datasets._split import published_split

    Y = np.arange(40.0)[:, None]
    Y[30:] = np.nan
    data = Bunch(phenotypes=Y, target_names=np.array(["h"]), genotypes=np.zeros((40, 2)),
                 sample_ids=np.arange(40).astype(str), train=published_split(40))
    kept = select_traits(data)
    assert kept.n_dropped == 10
    np.testing.assert_array_equal(kept.train, published_split(30))
    assert (~kept.train).sum() == 30 - round(0.85 * 30)


def test_trait_selection_names_and_empty_traits():
    """A name with a comma is taken whole where it exists, and a list's spaces after its
    commas are not part of the names; samples missing a chosen trait
    are dropped and counted, keeping their side of the split; an unknown trait and a
    trait with no value are ValueErrors naming them (the second with the parameter and
    flag that leave it out)."""
    kept = select_traits(_traits_bunch(), ["yield, kg", "h"])
    assert kept.target_names.tolist() == ["yield, kg", "h"]
    assert kept.n_dropped == 1 and kept.sample_ids.tolist() == ["a", "b"]
    assert kept.train.tolist() == [True, True] and kept.genotypes.shape == (2, 2)
    other = select_traits(_traits_bunch(), ["h,part"])
    assert other.n_dropped == 1 and other.train.tolist() == [True, False]
    spaced = select_traits(_traits_bunch(), ["h, part"])  # "a, b": the spaces are not names
    assert spaced.target_names.tolist() == ["h", "part"]
    for nothing in ([""], [","], [" "], "", []):
        with pytest.raises(ValueError, match="traits names no trait.*the phenotypes name: yield"):
            select_traits(_traits_bunch(), nothing)
    with pytest.raises(ValueError, match=r"trait 'empty' has no measured value; leave it out "
                       r"with traits= \(--traits\)\.$"):
        select_traits(_traits_bunch())
    with pytest.raises(ValueError, match=r"unknown trait 'height'; the phenotypes name: yie"):
        select_traits(_traits_bunch(), ["height"])
    with pytest.raises(ValueError, match=r"chosen by name, got 0; the phenotypes name: yie"):
        select_traits(_traits_bunch(), [0, 2])  # indices: named, not an AttributeError
    assert select_traits(_traits_bunch(), "h").target_names.tolist() == ["h"]


def test_trait_selection_restricts_the_truth():
    """The true effects follow the traits chosen, in the order asked for."""
    data = select_traits(load_data(), ["Trait5", "Trait2"])
    truth = load_qhaplo()
    np.testing.assert_array_equal(data.epistasis, truth.epistasis[[4, 1]])
    np.testing.assert_array_equal(data.additive_effects, truth.additive_effects[[4, 1]])


def test_infer_ploidy_rule():
    """2 where any 2, else 1; the warning fires for a lone 2 in a haploid panel (also of
    rare alleles) but not for a diploid panel of rare variants, whose 2s are fewer than
    1 % of its cells but about as many as Hardy-Weinberg predicts."""
    rng = np.random.default_rng(0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert infer_ploidy(rng.integers(0, 2, size=(50, 5))) == 1
        rare_diploid = rng.binomial(2, 0.03, size=(2000, 50))
        assert (rare_diploid == 2).mean() < 0.01
        assert infer_ploidy(rare_diploid) == 2
        assert infer_ploidy(rng.integers(0, 3, size=(50, 5))) == 2
    rare_haploid = rng.binomial(1, 0.05, size=(1000, 200)).astype(float)
    rare_haploid[7, 11] = 2
    rare_haploid[0, 0] = np.nan
    with pytest.warns(UserWarning, match=r"1 of the 199999 genotyped cells is 2 \(sample row "
                      r"7 at locus column 11\)"):
        assert infer_ploidy(rare_haploid) == 2


def test_infer_ploidy_names_and_errors():
    """Names and the source appear in the warning; a value that is not an allele count,
    or an array that is not 2-D, is a ValueError."""
    G = np.zeros((300, 2), dtype=np.int8)
    G[::2, 0] = 1
    G[4, 1] = 2
    with pytest.warns(UserWarning, match=r"^panel.csv: 1 of the 600 .*sample 'x4' at locus "
                      r"'b'"):
        infer_ploidy(G, sample_ids=[f"x{n}" for n in range(300)], feature_names=["a", "b"],
                     source="panel.csv")
    with pytest.raises(ValueError, match=r"genotype 3 in row 1, column 0 is not an allele"):
        infer_ploidy([[0, 1], [3, 1]])
    with pytest.raises(ValueError, match=r"genotype -1.0 in row 0, column 1"):
        infer_ploidy(np.array([[0.0, -1.0]]))
    with pytest.raises(ValueError, match="must be a 2-D array"):
        infer_ploidy([0, 1, 2])
