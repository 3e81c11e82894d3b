"""Tests of the bundled data, the qhaplo reader and the simulators."""

import shutil
import sys
import warnings
from importlib import resources

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sklearn_elm.datasets import (
    infer_ploidy,
    load_qhaplo,
    make_epistatic_phenotypes,
    pairwise_values,
    read_qhaplo,
    simulate_genotypes,
    simulate_phenotypes,
)
from sklearn_elm.metrics import true_variance_components

DATA = resources.files("sklearn_elm.datasets") / "data"
PREFIX = "qhaplo_64qtl_10000n_rep1"


@pytest.fixture(scope="module")
def qhaplo():
    return load_qhaplo()


def test_shapes_and_types(qhaplo):
    assert qhaplo.genotypes.shape == (10000, 64)
    assert qhaplo.genotypes.dtype == np.int8
    assert set(np.unique(qhaplo.genotypes)) == {0, 1}
    assert qhaplo.phenotypes.shape == (10000, 5)
    assert qhaplo.additive_effects.shape == (5, 64)
    assert qhaplo.epistasis.shape == (5, 64, 64)
    assert qhaplo.allele_frequencies.shape == (64,)
    assert len(qhaplo.feature_names) == 64 and len(qhaplo.target_names) == 5
    assert qhaplo.train.sum() == 8500 and qhaplo.train[:8500].all()
    assert "MIT" in qhaplo.DESCR and "Arcadia" in qhaplo.DESCR


def test_genotypes_match_raw_file(qhaplo):
    """The fast reader agrees with numpy's generic text parser on the raw file."""
    raw = np.loadtxt(DATA / f"{PREFIX}_g.txt", skiprows=1, usecols=range(1, 10001))
    np.testing.assert_array_equal(qhaplo.genotypes, raw.T)
    pheno = np.loadtxt(DATA / f"{PREFIX}_p.txt", skiprows=1)
    np.testing.assert_array_equal(qhaplo.phenotypes, pheno[:, 1:])


def test_truth_matches_raw_effects_and_reproduces_phenotypes(qhaplo):
    """y = mu + z a + sum_{i<j} E_ij z_i z_j reproduces the phenotypes (H2 = 0.999)."""
    eff = np.loadtxt(DATA / f"{PREFIX}_eff.txt", skiprows=1)
    for row in eff[:: 37]:
        t, i, j = int(row[0]) - 1, int(row[1]) - 1, int(row[3]) - 1
        assert qhaplo.additive_effects[t, i] == row[2]
        assert qhaplo.epistasis[t, i, j] == qhaplo.epistasis[t, j, i] == row[4]
    E = qhaplo.epistasis
    np.testing.assert_array_equal(E, E.transpose(0, 2, 1))
    assert np.all(np.diagonal(E, axis1=1, axis2=2) == 0)
    # one partner per locus and trait: 32 pairs
    assert np.all((E != 0).sum(axis=2) <= 1) and np.all((E != 0).sum(axis=(1, 2)) // 2 <= 32)
    Z = 2.0 * qhaplo.genotypes - 1
    for t in range(5):
        g = Z @ qhaplo.additive_effects[t] + pairwise_values(Z, E[t])
        r = np.corrcoef(g, qhaplo.phenotypes[:, t])[0, 1]
        assert r**2 > 0.998  # H2 = 0.999
    # trait 1 is purely additive
    assert np.all(E[0] == 0)


def test_noisy_variant(qhaplo):
    noisy = load_qhaplo(h2=0.25, random_state=0)
    np.testing.assert_allclose(noisy.additive_effects, 0.5 * qhaplo.additive_effects)
    np.testing.assert_allclose(noisy.epistasis, 0.5 * qhaplo.epistasis)
    noise = noisy.phenotypes - 0.5 * qhaplo.phenotypes
    # noise variance 0.75 within a few standard errors (sd of a variance ~ 0.75 sqrt(2/n))
    assert np.all(np.abs(noise.var(axis=0) - 0.75) < 5 * 0.75 * np.sqrt(2 / 10000))
    again = load_qhaplo(h2=0.25, random_state=0)
    np.testing.assert_array_equal(noisy.phenotypes, again.phenotypes)
    with pytest.raises(ValueError, match="h2"):
        load_qhaplo(h2=1.5)
    # as the simulators: scikit-learn's seeds, a numpy Generator refused by name, with the fix
    for draw in (lambda rng: load_qhaplo(h2=0.25, random_state=rng),
                 lambda rng: make_epistatic_phenotypes(20, 4, random_state=rng),
                 lambda rng: simulate_phenotypes(np.eye(4, dtype=int), random_state=rng)):
        with pytest.raises(ValueError, match=r"got Generator: pass an int drawn from it"):
            draw(np.random.default_rng(0))


def test_read_qhaplo_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="_g.txt"):
        read_qhaplo(tmp_path)
    for kind in ("g", "p"):
        shutil.copy(DATA / f"{PREFIX}_{kind}.txt", tmp_path)
    data = read_qhaplo(tmp_path)
    assert "additive_effects" not in data
    np.testing.assert_allclose(data.allele_frequencies, data.genotypes.mean(axis=0))
    # a phenotype file naming other individuals is refused, naming one
    lines = (tmp_path / f"{PREFIX}_p.txt").read_text().splitlines()
    lines[1] = "99999" + lines[1][lines[1].index(" "):]
    (tmp_path / f"{PREFIX}_p.txt").write_text("\n".join(lines) + "\n")
    with pytest.raises(ValueError, match="99999"):
        read_qhaplo(tmp_path)


def test_read_qhaplo_rejects_non_integer_genotype(tmp_path):
    (tmp_path / "x_g.txt").write_text("qtl 1_1 2_1\n1_1 0 A\n")
    (tmp_path / "x_p.txt").write_text("ind T\n1 0.5\n2 0.1\n")
    with pytest.raises(ValueError, match="line 2"):
        read_qhaplo(tmp_path)


@settings(max_examples=15, deadline=None)
@given(
    seed=st.integers(0, 2**16),
    ploidy=st.sampled_from([1, 2]),
    h2=st.floats(0.2, 0.9),
    ratio=st.floats(0.0, 2.0),
)
def test_simulator_realised_components(seed, ploidy, h2, ratio):
    """The realised V_AA / V_A and V_G / V_P match the request within sampling error."""
    n = 4000
    data = make_epistatic_phenotypes(
        n, 20, n_traits=2, h2=h2, epistatic_ratio=ratio, ploidy=ploidy, random_state=seed
    )
    Z = GenotypeEncoderMid(ploidy)(data.genotypes)
    truth = true_variance_components(Z, data.additive_effects, data.epistasis)
    np.testing.assert_allclose(truth.epistatic / truth.additive, ratio, atol=1e-9)
    for t in range(2):
        A = Z @ data.additive_effects[t]
        AA = pairwise_values(Z, data.epistasis[t])
        np.testing.assert_allclose(A + AA, data.genetic_values[:, t], atol=1e-9)
        assert abs(data.genetic_values[:, t].var() - 1) < 1e-9
        # V_E = (1 - h2) / h2 is a sample variance of n normal draws: sd ~ V_E sqrt(2 / n);
        # the cross term G.e adds sd ~ 2 sqrt(V_E / n)
        v_e = (1 - h2) / h2
        sd = v_e * np.sqrt(2 / n) + 2 * np.sqrt(v_e / n)
        assert abs(data.phenotypes[:, t].var() - (1 + v_e)) < 5 * sd


def GenotypeEncoderMid(ploidy):
    return lambda g: g * (2.0 / ploidy) - 1.0


def test_simulator_structure():
    data = make_epistatic_phenotypes(
        500, 30, n_traits=3, n_qtl=10, n_pairs=3, h2=1.0, random_state=1, ploidy=2,
        allele_frequencies=0.3,
    )
    assert set(np.unique(data.genotypes)) <= {0, 1, 2}
    for t in range(3):
        assert np.count_nonzero(data.additive_effects[t]) == 10
        E = data.epistasis[t]
        assert np.count_nonzero(E) == 6 and np.all((E != 0).sum(axis=1) <= 1)
        assert set(np.flatnonzero(E.any(axis=0))) <= set(np.flatnonzero(data.additive_effects[t]))
    np.testing.assert_allclose(data.phenotypes, data.genetic_values)
    a = make_epistatic_phenotypes(100, 5, random_state=3)
    b = make_epistatic_phenotypes(100, 5, random_state=3)
    np.testing.assert_array_equal(a.phenotypes, b.phenotypes)


def test_simulator_reports_the_ploidy_it_simulated():
    """The Bunch carries the ploidy simulated, as a Python int, even where the sample holds
    no 2 and inferring the ploidy from the genotypes would say 1."""
    data = make_epistatic_phenotypes(12, 2, ploidy=np.int64(2), allele_frequencies=0.15,
                                     random_state=1)
    assert not (data.genotypes == 2).any() and infer_ploidy(data.genotypes) == 1
    assert data.ploidy == 2 and type(data.ploidy) is int
    assert make_epistatic_phenotypes(20, 3, random_state=0).ploidy == 1


@pytest.mark.parametrize("n_samples", [5, 10, 37, 101])
def test_simulator_and_trio_share_the_published_split(tmp_path, n_samples):
    """The simulator and the qhaplo reader mark the same first round(0.85 n) samples as
    train (10 samples: 8.5 rounds to 8)."""
    expected = np.arange(n_samples) < int(round(0.85 * n_samples))
    simulated = make_epistatic_phenotypes(n_samples, 4, random_state=0)
    np.testing.assert_array_equal(simulated.train, expected)
    ids = [str(n) for n in range(n_samples)]
    (tmp_path / "x_g.txt").write_text("qtl " + " ".join(f"{i}_1" for i in ids) + "\nl1 "
                                      + " ".join(str(n % 2) for n in range(n_samples)) + "\n")
    (tmp_path / "x_p.txt").write_text("ind T1\n" + "".join(f"{i} 0.5\n" for i in ids))
    np.testing.assert_array_equal(read_qhaplo(tmp_path).train, expected)


def test_purely_additive_simulation():
    data = make_epistatic_phenotypes(200, 8, epistatic_ratio=0.0, n_pairs=0, random_state=0)
    assert np.all(data.epistasis == 0)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(n_qtl=50), "n_qtl"),
        (dict(n_qtl=4, n_pairs=3), "n_pairs"),
        (dict(n_pairs=0, epistatic_ratio=1.0), "n_pairs"),
        (dict(h2=0.0), "h2"),
        (dict(ploidy=3), "ploidy"),
        (dict(allele_frequencies=[0.5] * 9 + [1.0]), "allele_frequencies"),
        (dict(allele_frequencies=[0.5, 0.4, 0.3]), "one entry per locus .n_loci=10"),
        # the pairs' induced additive variance alone exceeds V_AA / ratio
        (dict(allele_frequencies=0.03, epistatic_ratio=50.0), "out of reach"),
    ],
)
def test_simulator_errors(kwargs, match):
    with pytest.raises(ValueError, match=match):
        make_epistatic_phenotypes(100, 10, random_state=0, **kwargs)


def test_simulator_takes_the_negative_root_where_only_it_exists():
    """Pairs whose induced additive part is large and aligned with u: only a negative
    additive scale reaches the ratio (the sign of random effects is arbitrary)."""
    data = make_epistatic_phenotypes(2000, 4, n_pairs=2, epistatic_ratio=0.3,
                                     allele_frequencies=0.93, random_state=3)
    truth = true_variance_components(2.0 * data.genotypes - 1, data.additive_effects,
                                     data.epistasis)
    assert truth.epistatic / truth.additive == pytest.approx(0.3, rel=1e-9)
    assert truth.genetic == pytest.approx(1.0, rel=1e-9)


def _trio(tmp_path, genotypes="0 1\n1 0", phenotypes="1 0.5\n2 1.5", effects=None):
    (tmp_path / "x_g.txt").write_text("qtl 1_1 2_1\nl1 " + genotypes.replace("\n", "\nl2 ") + "\n")
    (tmp_path / "x_p.txt").write_text("ind T1\n" + phenotypes + "\n")
    if effects is not None:
        (tmp_path / "x_eff.txt").write_text("trait locus add_eff epi_loc epi_eff sfs\n" + effects)
    return tmp_path


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(genotypes="0 5\n1 0"), "genotype 5 is not an allele count"),
        (dict(genotypes="0 300\n1 0"), "non-integer genotype"),
        # beside a missing value, a bad one is refused all the same
        (dict(genotypes="NA 5\n1 0"), "genotype 5 is not an allele count"),
        (dict(genotypes="NA AG\n1 0"), r"line 2 .locus l1.: non-integer genotype 'AG'"),
        (dict(genotypes=". 0.5\n1 0"), r"non-integer genotype '0.5'"),
        (dict(phenotypes="1 0.5\n1 1.5"), "duplicate individual '1'"),
        (dict(phenotypes="1 0.5\n2 tall"), r"x_p.txt, line 3: non-numeric value 'tall'"),
        (dict(phenotypes="1 0.5\n2 inf"), r"x_p.txt, line 3: infinite value"),
        (dict(effects="1 3 0.5 1 0.0 0.5\n"), "locus numbers must run from 1 to 2"),
        (dict(effects="1 0 0.5 1 0.0 0.5\n1 1 0.5 1 0.0 0.5\n"), "1-based"),
        (dict(effects="1 1 0.5 1 0.0 0.5\n1 1 0.4 1 0.0 0.5\n"), "more than once"),
        (dict(effects="1 1 0.5 1 0.0 0.5\n"), r"1 of the 1 x 2 \(trait, locus\) rows are "
                                                r"missing, the first trait 1, locus 2"),
        (dict(effects=""), "expected rows of 6 columns"),
    ],
)
def test_qhaplo_reader_rejects_malformed_trios(tmp_path, kwargs, match):
    with pytest.raises(ValueError, match=match):
        read_qhaplo(_trio(tmp_path, **kwargs))


def test_qhaplo_duplicate_individual_in_the_genotypes(tmp_path):
    (tmp_path / "x_g.txt").write_text("qtl 1_1 2_1 2_1\nl1 0 1 1\n")
    (tmp_path / "x_p.txt").write_text("ind T1\n1 0.5\n2 1.5\n")
    with pytest.raises(ValueError, match="x_g.txt: duplicate individual '2'"):
        read_qhaplo(tmp_path)


def test_qhaplo_individuals_whose_ids_hold_underscores(tmp_path):
    """IDs with an underscore of their own (plant_1, plant_0) are matched as they are, in
    the phenotype file's order; a 1_1 header still names individual 1; individuals in one
    file only are named as plain strings."""
    (tmp_path / "x_g.txt").write_text("qtl plant_1 plant_0\nl1 0 1\nl2 1 1\n")
    (tmp_path / "x_p.txt").write_text("ind T1\nplant_0 0.5\nplant_1 1.5\n")
    data = read_qhaplo(tmp_path)
    np.testing.assert_array_equal(data.genotypes, [[1, 1], [0, 1]])
    (tmp_path / "plain").mkdir()
    assert read_qhaplo(_trio(tmp_path / "plain")).genotypes.shape == (2, 2)
    (tmp_path / "x_p.txt").write_text("ind T1\nplant_0 0.5\nplant_2 1.5\n")
    with pytest.raises(ValueError, match=r"one file only, e\.g\. \['plant_1', 'plant_2'\]"):
        read_qhaplo(tmp_path)


@pytest.mark.parametrize("missing", ["NA", "nan", ".", "N/A"])
def test_qhaplo_phenotypes_accept_missing_values(tmp_path, missing):
    """A missing phenotype is NaN, spelled as the table readers accept it, and the other
    values of the row are kept (select_traits removes the sample later)."""
    _trio(tmp_path, phenotypes=f"1 0.5\n2 {missing}")
    data = read_qhaplo(tmp_path)
    assert data.phenotypes[0, 0] == 0.5 and np.isnan(data.phenotypes[1, 0])


@pytest.mark.parametrize("missing", ["NA", "na", "NaN", "nan", "N/A", "."])
def test_qhaplo_genotypes_accept_missing_values(tmp_path, missing):
    """A missing genotype, spelled as read_genotype_table accepts it, is NaN in float64
    genotypes, and the allele frequencies are taken over the genotyped individuals; a
    trio without missing genotypes stays int8."""
    assert read_qhaplo(_trio(tmp_path)).genotypes.dtype == np.int8
    data = read_qhaplo(_trio(tmp_path, genotypes=f"0 {missing}\n1 0"))
    assert data.genotypes.dtype == np.float64
    np.testing.assert_array_equal(data.genotypes, [[0.0, 1.0], [np.nan, 0.0]])
    np.testing.assert_array_equal(data.allele_frequencies, [0.0, 0.5])
    assert data.ploidy == 1


def _write_trio_file(tmp_path, kind, text):
    _trio(tmp_path)
    (tmp_path / f"x_{kind}.txt").write_text(text)
    return tmp_path


@pytest.mark.parametrize(
    "kind, text, match",
    [
        ("p", "ind T1\n1 0.5 0.7\n2 1.5\n", r"x_p.txt, line 2: 3 columns but 2"),
        ("p", "ind T1\n", r"x_p.txt: the phenotype file has a header but no individuals"),
        ("p", "ind T1\n1 0.5\n3 1.5\n", r"x_g.txt and .*x_p.txt name different individuals"),
        ("g", "qtl 1_1 2_1\n", r"x_g.txt: no loci after the header"),
        ("g", "qtl 1_1 2_1\nl1 0 A\n", r"x_g.txt, line 2 .locus l1.: non-integer genotype 'A'"),
        ("eff", "trait locus add_eff epi_loc epi_eff sfs\n1 1 x 1 0 0.5\n", r"x_eff.txt: "),
    ],
)
def test_qhaplo_errors_name_the_file(tmp_path, kind, text, match):
    """Every malformed trio file is named in the error, with the line where there is one."""
    with pytest.raises(ValueError, match=match):
        read_qhaplo(_write_trio_file(tmp_path, kind, text))


def test_qhaplo_directory_errors(tmp_path):
    """A missing directory, a file in its place, a missing phenotype file and two
    candidate trios each say what is wrong, in the wording of the table readers."""
    with pytest.raises(FileNotFoundError, match="no such directory: .*nowhere"):
        read_qhaplo(tmp_path / "nowhere")
    (tmp_path / "file.txt").write_text("x")
    with pytest.raises(ValueError, match="file.txt is a file, not a directory"):
        read_qhaplo(tmp_path / "file.txt")
    (tmp_path / "x_g.txt").write_text("qtl 1_1\nl1 0\n")
    with pytest.raises(FileNotFoundError, match="no such file: .*x_p.txt"):
        read_qhaplo(tmp_path)
    (tmp_path / "y_g.txt").write_text("qtl 1_1\nl1 0\n")
    with pytest.raises(ValueError, match="holds 2 [*]_g.txt genotype files .*give the prefix"):
        read_qhaplo(tmp_path)


def test_qhaplo_ploidy(tmp_path):
    """A trio with 2s is diploid: its estimated allele frequencies are mean counts / 2,
    within [0, 1]; ploidy=1 refuses it, naming the cell; the bundled data are haploid."""
    _trio(tmp_path, genotypes="0 2\n1 2")
    data = read_qhaplo(tmp_path)
    assert data.ploidy == 2
    np.testing.assert_array_equal(data.allele_frequencies, [0.5, 0.75])
    with pytest.raises(ValueError, match=r"genotype 2 of sample '2' at locus 'l1'.*ploidy 1"):
        read_qhaplo(tmp_path, ploidy=1)
    assert load_qhaplo().ploidy == 1


# simulate_genotypes and simulate_phenotypes


@pytest.fixture(scope="module")
def panel():
    return simulate_genotypes(300, 200, random_state=0)


def test_simulate_genotypes_is_seeded(panel):
    """The same random_state gives the same panel, another one a different panel."""
    again = simulate_genotypes(300, 200, random_state=0)
    np.testing.assert_array_equal(again.genotypes, panel.genotypes)
    np.testing.assert_array_equal(again.positions, panel.positions)
    other = simulate_genotypes(300, 200, random_state=1)
    assert not np.array_equal(other.genotypes, panel.genotypes)


@pytest.mark.parametrize("ploidy", [1, 2])
def test_simulate_genotypes_shapes_and_types(ploidy):
    """Allele counts 0..ploidy as int8, 1-based increasing integer positions on chromosome "1",
    and allele frequencies that are those of the genotypes."""
    data = simulate_genotypes(120, 40, ploidy=ploidy, random_state=2)
    G = data.genotypes
    assert G.shape == (120, 40) and G.dtype == np.int8
    assert G.min() >= 0 and G.max() == ploidy
    assert data.ploidy == ploidy and type(data.ploidy) is int
    assert data.positions.dtype == np.int64 and data.positions.min() >= 1
    assert np.all(np.diff(data.positions) > 0) and data.positions.max() <= data.sequence_length
    assert data.chromosomes.shape == (40,) and set(data.chromosomes) == {"1"}
    assert data.feature_names[0] == f"1:{data.positions[0]}"
    np.testing.assert_allclose(data.allele_frequencies, G.mean(axis=0) / ploidy)
    assert "msprime" in data.DESCR


def test_simulate_genotypes_honours_min_maf():
    """Every SNP kept has minor-allele frequency >= min_maf, and without the filter rarer
    SNPs are kept (so the filter is what removes them)."""
    for min_maf, least in [(0.2, 0.2), (0.0, 0.0)]:
        f = simulate_genotypes(200, 100, min_maf=min_maf, random_state=0).allele_frequencies
        assert np.minimum(f, 1 - f).min() >= least
    assert np.minimum(f, 1 - f).min() < 0.05


def test_simulate_genotypes_has_linkage_disequilibrium(panel):
    """Neighbouring SNPs are correlated (mean r^2) several times more than SNPs half the
    panel apart: recombination breaks down LD with distance."""
    r2 = np.corrcoef(panel.genotypes.T.astype(float)) ** 2
    near, far = np.diag(r2, 1).mean(), np.diag(r2, len(r2) // 2).mean()
    assert near > 0.1 and near > 4 * far


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(n_samples=1), "n_samples"),
        (dict(n_loci=0), "n_loci"),
        (dict(ploidy=3), "ploidy"),
        (dict(min_maf=0.7), "min_maf"),
        # three haplotypes: a minor allele is on 1 of 3 at most
        (dict(n_samples=3, ploidy=1, min_maf=0.4), "admits no SNP among 3 haplotypes"),
    ],
)
def test_simulate_genotypes_errors(kwargs, match):
    args = dict(n_samples=20, n_loci=5, random_state=0) | kwargs
    with pytest.raises(ValueError, match=match):
        simulate_genotypes(**args)


def test_simulate_genotypes_without_msprime_names_the_fix(monkeypatch):
    """Without msprime the error says how to install it."""
    monkeypatch.setitem(sys.modules, "msprime", None)
    with pytest.raises(ImportError, match=r'pip install "sklearn-elm\[sim\]"'):
        simulate_genotypes(20, 5)


@pytest.mark.parametrize("ploidy", [1, 2])
def test_simulate_phenotypes_truth_reproduces_the_phenotypes(ploidy):
    """On an LD panel: y - noise = z a + sum_{i<j} E_ij z_i z_j on the encoding of
    GenotypeEncoder(center="mid"); V_G = 1 and V_AA / V_A = epistatic_ratio exactly
    (true_variance_components); the noise variance is (1 - h2) / h2 within sampling error."""
    n, h2 = 3000, 0.4
    G = simulate_genotypes(n, 60, ploidy=ploidy, min_maf=0.2, random_state=4).genotypes
    data = simulate_phenotypes(G, n_traits=2, n_qtl=12, n_pairs=4, h2=h2,
                               epistatic_ratio=0.2, random_state=0)
    assert data.ploidy == ploidy  # inferred from the panel
    Z = GenotypeEncoderMid(ploidy)(data.genotypes)
    truth = true_variance_components(Z, data.additive_effects, data.epistasis, data.phenotypes)
    np.testing.assert_allclose(truth.epistatic / truth.additive, 0.2, rtol=1e-9)
    np.testing.assert_allclose(truth.genetic, 1.0, rtol=1e-9)
    v_e = (1 - h2) / h2
    for t in range(2):
        g = Z @ data.additive_effects[t] + pairwise_values(Z, data.epistasis[t])
        np.testing.assert_allclose(g, data.genetic_values[:, t], atol=1e-9)
        noise = data.phenotypes[:, t] - g
        assert abs(noise.var() - v_e) < 5 * v_e * np.sqrt(2 / n)
        i, j = data.epistatic_pairs[t].T
        assert np.all(i < j) and np.count_nonzero(data.epistasis[t]) == 2 * len(i)
        assert np.all(data.epistasis[t, i, j] != 0)


def test_simulate_phenotypes_dense_architecture(panel):
    """n_qtl=n_loci, n_pairs=0, epistatic_ratio=0: an additive effect at every locus, no
    pairs, and V_A = V_G = 1."""
    data = simulate_phenotypes(panel.genotypes, n_qtl=200, n_pairs=0, epistatic_ratio=0.0,
                               h2=0.3, random_state=0)
    assert np.count_nonzero(data.additive_effects) == 200
    assert not data.epistasis.any() and data.epistatic_pairs.shape == (1, 0, 2)
    truth = true_variance_components(panel.genotypes - 1.0, data.additive_effects[0],
                                     data.epistasis[0])
    assert truth.additive == pytest.approx(1.0) and truth.epistatic == 0.0
    np.testing.assert_allclose(
        data.genetic_values[:, 0], (panel.genotypes - 1.0) @ data.additive_effects[0])


def test_simulate_phenotypes_is_seeded_and_keeps_the_panel(panel):
    """The same random_state gives the same traits; the genotypes come back unchanged."""
    a = simulate_phenotypes(panel.genotypes, n_qtl=10, epistatic_ratio=0.1, random_state=5)
    b = simulate_phenotypes(panel.genotypes, n_qtl=10, epistatic_ratio=0.1, random_state=5)
    np.testing.assert_array_equal(a.phenotypes, b.phenotypes)
    np.testing.assert_array_equal(a.genotypes, panel.genotypes)
    assert a.genotypes.dtype == np.int8 and a.train.sum() == 255


def test_simulate_phenotypes_haploid_encoding():
    """A 0/1 panel is read as haploid (z = 2 g - 1) unless ploidy=2 says otherwise
    (z = g - 1)."""
    G = np.random.default_rng(0).integers(0, 2, size=(200, 6))
    for ploidy, z in [(None, 2.0 * G - 1), (2, G - 1.0)]:
        data = simulate_phenotypes(G, ploidy=ploidy, n_pairs=0, epistatic_ratio=0.0,
                                   random_state=0)
        np.testing.assert_allclose(data.genetic_values[:, 0], z @ data.additive_effects[0])


@pytest.mark.parametrize(
    "genotypes, kwargs, match",
    [
        ([[0, 1], [1, np.nan]], {}, "missing calls"),
        ([[0, 3], [1, 0]], {}, "not an allele count"),
        ([[0, 2], [1, 0]], dict(ploidy=1), "ploidy=1 but genotypes holds a 2"),
        ([[0, 1]], {}, "at least 2 samples"),
        ([[0, 1], [1, 0]], dict(n_qtl=3), "n_qtl=3 exceeds n_loci=2"),
        ([[0, 1], [1, 0]], dict(n_pairs=0), "n_pairs >= 1"),
        ([[0, 1], [1, 0]], dict(h2=0), "h2"),
        ([[0, 1], [1, 0]], dict(ploidy=4), "ploidy"),
    ],
)
def test_simulate_phenotypes_errors(genotypes, kwargs, match):
    with pytest.raises(ValueError, match=match):
        simulate_phenotypes(np.array(genotypes), random_state=0, **kwargs)


def test_simulate_phenotypes_out_of_reach_names_the_largest_ratio():
    """Pairs of rare alleles induce more additive variance than the ratio allows: the error
    names the largest ratio these pairs reach, and that ratio works."""
    G = np.random.default_rng(1).binomial(2, 0.05, size=(2000, 6))
    with pytest.raises(ValueError, match="out of reach") as info:
        simulate_phenotypes(G, n_pairs=3, epistatic_ratio=5.0, random_state=0)
    reachable = float(str(info.value).split("at most ")[1].split(" ")[0])
    data = simulate_phenotypes(G, n_pairs=3, epistatic_ratio=0.9 * reachable, random_state=0)
    truth = true_variance_components(G - 1.0, data.additive_effects[0], data.epistasis[0])
    assert truth.epistatic / truth.additive == pytest.approx(0.9 * reachable)


def test_the_default_ratio_takes_what_the_pairs_allow():
    """epistatic_ratio's default is 1.0 where the pairs drawn allow it, else 90 % of the
    largest ratio they allow, with a warning naming both (two users met the error with the
    defaults of simulate_genotypes and simulate_phenotypes together); the draws are those
    of an explicit ratio."""
    G = np.random.default_rng(1).binomial(2, 0.05, size=(2000, 6))
    with pytest.raises(ValueError, match="out of reach") as info:
        simulate_phenotypes(G, n_pairs=3, epistatic_ratio=1.0, random_state=0)
    reachable = float(str(info.value).split("at most ")[1].split(" ")[0])
    with pytest.warns(UserWarning, match=rf"past 90 % .* \({reachable:.3g}\); the default"):
        data = simulate_phenotypes(G, n_pairs=3, random_state=0)
    truth = true_variance_components(G - 1.0, data.additive_effects[0], data.epistasis[0])
    assert truth.epistatic / truth.additive == pytest.approx(0.9 * reachable, rel=1e-3)
    assert truth.epistatic / truth.additive == pytest.approx(data.epistatic_ratios[0])
    assert f"V_AA/V_A={data.epistatic_ratios[0]:.3g}." in data.DESCR
    explicit = simulate_phenotypes(G, n_pairs=3, epistatic_ratio=0.9 * reachable,
                                   random_state=0)
    np.testing.assert_array_equal(data.epistatic_pairs, explicit.epistatic_pairs)
    common = np.random.default_rng(2).binomial(2, 0.5, size=(2000, 6))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # 1.0 within reach: no warning, the ratio is 1.0
        data = simulate_phenotypes(common, n_pairs=3, random_state=0)
    truth = true_variance_components(common - 1.0, data.additive_effects[0], data.epistasis[0])
    assert truth.epistatic / truth.additive == pytest.approx(1.0)


def test_make_epistatic_phenotypes_lists_its_pairs():
    """epistatic_pairs indexes exactly the non-zero entries of the epistasis matrix."""
    data = make_epistatic_phenotypes(100, 30, n_traits=2, n_qtl=10, n_pairs=4, random_state=0)
    for t in range(2):
        np.testing.assert_array_equal(np.argwhere(np.triu(data.epistasis[t])),
                                      data.epistatic_pairs[t])
