"""The report's page, ``index.html``: the summary tables, the figures and the run.

Presentation only, from an :class:`~sklearn_elm.workflow.Analysis`; every
text is escaped (trait and locus names may hold markup).
"""

import html

from .._linkage import LINKED_R2
from ._inference import fdr_label, format_p, n_tests, pair_p_labels, significant_rows
from ._tables import N_TOP_PAIRS, numeric_columns, rank_pairs, summary_tables

__all__ = ["write_html"]

#: Significant pairs listed per trait on the page (all are in significant_pairs.csv).
N_SHOWN = 20

_CSS = """
body { font-family: system-ui, sans-serif; max-width: 1100px; margin: 2em auto; padding: 0 1em;
       color: #222; line-height: 1.45; }
h1 { font-size: 1.6em; }
h2 { border-bottom: 1px solid #ccc; padding-bottom: .2em; margin-top: 2em; }
table { border-collapse: collapse; margin: .8em 0; font-size: .92em; }
th, td { padding: .25em .7em; border-bottom: 1px solid #e4e4e4; text-align: left; }
.num { text-align: right; }
thead th { background: #f3f3f3; }
img { max-width: 100%; border: 1px solid #eee; margin: .5em 0; }
.note { color: #555; font-size: .9em; }
code { background: #f4f4f4; padding: 0 .2em; }
"""

# Marks every image as loaded (or not) in a data attribute once the page has
# loaded, so that a headless browser's DOM dump shows whether the figures render.
_IMAGE_CHECK = """
window.addEventListener("load", function () {
  document.querySelectorAll("img").forEach(function (img) {
    img.setAttribute("data-loaded", String(img.complete && img.naturalWidth > 0));
  });
  document.body.setAttribute("data-images-checked", "true");
});
"""


def _html_table(header, rows):
    esc = html.escape
    align = [" class='num'" if num else "" for num in numeric_columns(rows, len(header))]
    head = "".join(f"<th{a}>{esc(str(h))}</th>" for h, a in zip(header, align, strict=True))
    body = "".join(
        "<tr>" + "".join(f"<td{a}>{esc(str(v))}</td>" for v, a in zip(row, align, strict=True))
        + "</tr>"
        for row in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _img(name, alt):
    return f'<img src="{html.escape(name)}" alt="{html.escape(alt)}">'


def _table(table):
    return f"{_html_table(table.header, table.rows)}<p class='note'>{html.escape(table.note)}</p>"


def _setting(value):
    """A setting as the note reads it: a list (one entry per trait, or per network for the
    ``*_per_network`` settings) as its entries."""
    return ", ".join(map(str, value)) if isinstance(value, (list, tuple)) else value


def _run_note(analysis):
    """Settings, timings and versions; settings that were not given are left out."""
    esc = html.escape
    settings = ", ".join(f"{k} = {_setting(v)}" for k, v in analysis.settings.items()
                         if v is not None)
    timings = ", ".join(f"{k} {v:.1f} s" for k, v in analysis.timings.items())
    versions = ", ".join(f"{k} {v}" for k, v in analysis.versions.items())
    return (f"<p class='note'>Settings: {esc(settings or '-')}.<br>Time: {esc(timings)}.<br>"
            f"Versions: {esc(versions or '-')}.<br>All numbers are also in "
            "<a href='metrics.json'>metrics.json</a> and "
            "<a href='variance_components.csv'>variance_components.csv</a>.</p>")


def _pairs_sections(analysis, figures):
    esc = html.escape
    main = next(iter(analysis.epistasis))
    names = analysis.feature_names
    parts = []
    for k, t in enumerate(analysis.target_names):
        i, j, e = rank_pairs(analysis.epistasis[main][k], top=N_TOP_PAIRS)
        labels = pair_p_labels(analysis, k, i, j)
        rows = [[n + 1, f"{names[a]} x {names[b]}", f"{v:+.4f}", label.removeprefix("p ")]
                for n, (a, b, v, label) in enumerate(zip(i, j, e, labels, strict=True))]
        parts += [f"<h3>{esc(str(t))}</h3>",
                  _html_table(["rank", "pair", f"e_ij ({main})", "trait's p-value"], rows),
                  _img(figures[f"epistasis_{k}"], f"epistasis heatmap of {t}")]
    return parts


def _manhattan_section(analysis, figures):
    p = len(analysis.feature_names)
    return ["<h3>Tests of the loci</h3>",
            "<p>Each locus's association with the trait, one locus at a time, as a "
            "genome-wide scan reports it (ELMDecomposer's <code>marginal_pvalues_</code>; "
            "in linkage a QTL's neighbours share its signal).  The dashed line is "
            f"Bonferroni's 5 % over the {p} loci.  <code>test_estimate</code>, "
            "<code>std_error</code> and <code>p_value</code> in "
            "<a href='effects.csv'>effects.csv</a> are the joint test of each locus in the "
            "trait's least-squares fit on every locus and the confirmed pairs "
            "(<code>additive_pvalues_</code>), what a locus adds to all the others.  These "
            "and the plot test the trait; the estimates above are the network's.  The "
            "plot's p-values are <code>marginal_p_value</code> there.</p>",
            *(_img(figures[f"manhattan_{k}"], f"Manhattan plot of {t}")
              for k, t in enumerate(analysis.target_names))]


def _linked_note(analysis):
    """What the column of linked loci means, where the list has it."""
    if "n_linked_i" not in (analysis.significant_pairs or {}):
        return ""
    return ("  In linkage a listed pair stands for the pairs of the loci linked to its own "
            f"(r<sup>2</sup> &ge; {LINKED_R2:g}: their number below, their names in the "
            "columns <code>linked_i</code> and <code>linked_j</code>), which the data cannot "
            "tell from it: read it as a pair of regions.")


def _significant_sections(analysis, figures):
    """The pairs significant at the FDR, per trait (the first few; all in the CSV)."""
    esc = html.escape
    label = fdr_label(analysis)
    parts = [f"<h2>Pairs significant at {esc(label)}</h2>",
             "<p>Each pair is tested for what it adds to the trait's least-squares fit on "
             "every locus and the pairs confirmed so far, so that a pair in linkage with a "
             "fitted locus or pair is not counted for it; Benjamini-Hochberg over every "
             "pair tested (each pair of loci and, where its square is not the locus itself "
             "(diploid), each locus with itself: its dominance-like term), at a false "
             "discovery rate of "
             f"{analysis.fdr:g} (<code>--fdr</code>), less the pairs that add nothing beside "
             "the pairs competing with them (<code>p_joint</code>: a product in linkage with "
             f"several pairs missing from the fit takes their signal).{_linked_note(analysis)}"
             "  The list is "
             "in <a href='significant_pairs.csv'>significant_pairs.csv</a>.</p>"]
    names = analysis.feature_names
    for k, table in significant_rows(analysis):
        t, tested = analysis.target_names[k], n_tests(analysis, k)
        found = 0 if table is None else len(table["i"])
        if not tested:
            text = "no pair tested."
        elif not found:
            text = f"none of the {tested} pairs tested passed at {label}."
        else:
            text = (f"{found} of the {tested} pairs tested passed at {label}"
                    + (f"; the first {N_SHOWN}:" if found > N_SHOWN else ":"))
        parts.append(f"<h3>{esc(str(t))}</h3><p>{esc(text)}</p>")
        if found:
            rows = [[f"{names[a]} x {names[b]}", f"{e:+.4f}", f"{se:.4f}", format_p(pv, 3),
                     format_p(q, 3)] for a, b, e, se, pv, q in list(zip(
                         table["i"], table["j"], table["estimate"], table["std_error"],
                         table["p_value"], table["q_value"], strict=True))[:N_SHOWN]]
            header = ["pair", "estimate", "std error", "p-value", "q-value"]
            if "n_linked_i" in table:
                header.append("loci linked to each")
                for row, a, b in zip(rows, table["n_linked_i"], table["n_linked_j"],
                                     strict=False):
                    row.append(f"{a} / {b}")
            parts.append(_html_table(header, rows))
    parts.append(_img(figures["pair_qq"], "QQ plot of the pair p-values"))
    return parts


def _page(analysis, figures):
    esc = html.escape
    tables = summary_tables(analysis)
    kind = "haploid" if analysis.ploidy == 1 else "diploid"
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>sklearn-elm report: {esc(analysis.name)}</title>",
        f"<style>{_CSS}</style></head><body>",
        f"<h1>Genetic architecture read out of a neural network: {esc(analysis.name)}</h1>",
        f"<p>{esc(analysis.description)}</p>",
        f"<p>{analysis.n_samples} samples ({analysis.n_train} for training, {analysis.n_test} "
        f"held out for testing), {len(analysis.feature_names)} {kind} loci (ploidy "
        f"{analysis.ploidy}), traits: {esc(', '.join(map(str, analysis.target_names)))}.</p>",
        "<p>A neural network was trained to predict the phenotypes from the genotypes, then "
        "read back, through its equivalent linear mapping (ELM), as additive effects of each "
        "locus, pairwise epistatic effects and variance components of the model "
        "<code>y = mu + sum_i a_i z_i + sum_{i&lt;j} e_ij z_i z_j + e</code> (genotypes "
        "coded z = -1/+1, or -1/0/+1 for diploid dosages). GBLUP with an additive (GBLUP-A) "
        "and an additive plus additive-by-additive kernel (GBLUP-A+AA), fitted by REML, are "
        "the linear baselines.</p>",
        *(["<h2>Warnings</h2>", "<ul>", *(f"<li>{esc(note)}</li>" for note in analysis.notes),
           "</ul>"] if analysis.notes else []),
        "<h2>Prediction accuracy</h2>",
        _table(tables["accuracy"]),
        _img(figures["observed_vs_predicted"], "observed against predicted phenotypes"),
        "<h2>Variance components</h2>",
        _table(tables["components"]),
        _img(figures["variance_components"], "variance components by method"),
        "<h2>Additive effects</h2>",
        "<p>Per trait and locus in <a href='effects.csv'>effects.csv</a>.</p>",
        _img(figures["additive_effects"], "additive effects"),
        *_manhattan_section(analysis, figures),
    ]
    if "recovery" in tables:
        parts += ["<h2>Recovery of the known truth</h2>", _table(tables["recovery"])]
    parts += ["<h2>Epistasis</h2>",
              "<p>The largest pairs, ranked by the size of their estimated effect, in "
              "<a href='epistasis_pairs.csv'>epistasis_pairs.csv</a>, with the standard "
              "error and p-value of the pair's test (below) where the pair is among the "
              "pairs of smallest p-value that the test keeps.</p>",
              *_pairs_sections(analysis, figures),
              *_significant_sections(analysis, figures),
              "<h2>Run</h2>", _run_note(analysis),
              f"<script>{_IMAGE_CHECK}</script>", "</body></html>"]
    return "\n".join(parts) + "\n"


def write_html(analysis, path, figures):
    """Write ``index.html``.

    Parameters
    ----------
    analysis : :class:`~sklearn_elm.workflow.Analysis`
    path : path-like
        The page to write.
    figures : dict of str to str
        File name of each figure, by key: ``observed_vs_predicted``,
        ``variance_components``, ``additive_effects``, ``pair_qq``, and
        ``epistasis_<k>`` and ``manhattan_<k>`` for trait ``k`` (0-based).
    """
    with open(path, "w", encoding="utf-8") as f:
        f.write(_page(analysis, figures))
