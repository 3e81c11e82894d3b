"""The report's tables: the summary as named tables, plain text, CSV files and metrics.json.

Presentation only: every figure comes from an
:class:`~sklearn_elm.workflow.Analysis`, read by name.
"""

import csv
import json
import math
import re
from typing import NamedTuple

import numpy as np

from .._components import COMPONENTS
from ._inference import (
    component_errors,
    fdr_label,
    format_p,
    n_significant,
    n_tests,
    pair_keys,
    pair_p_labels,
    pair_test_columns,
    significant_rows,
    tested_pairs,
)
from ._ranking import rank_pairs

__all__ = ["Table", "format_summary", "rank_pairs", "summary_tables"]

#: What the ELM row of the variance-component table is, by ``ELMDecomposer.components_``.
ELM_COMPONENTS = {
    "debiased": "ELM: the network's genetic value corrected by the least-squares projection "
    "of its training residuals, each variance less the sampling noise it carries (debiased, "
    "so not shrunk with the network's fit).",
    "screened": "ELM: least squares of the trait on the loci and pairs the network uses "
    "(screened from its genetic value, pairs counted where the trait confirms them at a "
    "family-wise 5 % or lists them at an FDR of 5 %), each variance less the sampling noise "
    "it carries.",
    "crossfit": "ELM: least squares of the trait on the loci and pairs the network uses, "
    "cross-fitted where the loci are chosen (each half of the samples chooses the terms whose "
    "variances the other estimates, and the loci left out add a moment estimate of theirs), "
    "each variance less the sampling noise it carries.",
    "network": "ELM: the variances of the network's own parts, which shrink with its fit on a "
    "noisy trait (not debiased: see ELMDecomposer's components).",
}
#: Pairs listed per trait in the HTML page and metrics.json.
N_TOP_PAIRS = 10


class Table(NamedTuple):
    """One table of the summary: formatted cells and a note saying how to read them."""

    title: str
    header: list
    rows: list
    note: str


def fmt(value, digits=3):
    """A number for a table cell; "-" where it is missing."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    if isinstance(value, (int, np.integer)):
        return str(value)
    return f"{value:.{digits}f}"


def scaled_fmt(scale):
    """A :func:`fmt` for variances of the trait's ``scale`` (its phenotypic variance): 3
    decimals, more where that would show fewer than 3 significant digits of the scale, and
    4 significant digits from 1e5 up.

    Examples
    --------
    >>> from sklearn_elm._report._tables import scaled_fmt
    >>> scaled_fmt(0.9)(0.1234), scaled_fmt(2e-4)(1.5e-4), scaled_fmt(3e12)(1.23456e12)
    ('0.123', '0.000150', '1.235e+12')
    """
    if not (math.isfinite(scale) and scale > 0):
        return fmt
    if scale >= 1e5:
        return lambda value: fmt(value) if fmt(value) == "-" else f"{value:.4g}"
    digits = min(12, max(3, 2 - math.floor(math.log10(scale))))
    return lambda value: fmt(value, digits)


def component_keys(analysis):
    """The components that some method reports, in table order."""
    return [c for c in COMPONENTS
            if any(c in vc for vc in analysis.variance_components.values())]


def _accuracy(analysis, traits):
    methods = list(analysis.test_r2)
    rows = [[t, *(fmt(analysis.test_r2[m][k]) for m in methods)] for k, t in enumerate(traits)]
    return Table(f"Prediction accuracy: r2 on the {analysis.n_test} test samples",
                 ["trait", *methods], rows,
                 "r2 = 1 - sum (y - prediction)^2 / sum (y - mean y)^2; 1 is perfect.")


def _components(analysis, traits):
    """Each method's components, with a row of their standard errors beneath where the
    method has any (a row, not a wider cell, so that the terminal's table stays narrow)."""
    keys = component_keys(analysis)
    errors = {m: component_errors(analysis, m) for m in analysis.variance_components}
    rows = []
    for k, t in enumerate(traits):
        scales = [abs(float(vc["phenotypic"][k])) for vc in analysis.variance_components.values()
                  if "phenotypic" in vc and not math.isnan(float(vc["phenotypic"][k]))]
        scale = max(scales, default=math.nan)
        formats = [fmt if c in ("h2", "H2") else scaled_fmt(scale) for c in keys]
        for n, (method, vc) in enumerate(analysis.variance_components.items()):
            rows.append([t if n == 0 else "", method,
                         *(f(float(vc[c][k])) if c in vc else "-"
                           for f, c in zip(formats, keys, strict=True))])
            se = [float(errors[method][c][k]) if c in vc else math.nan for c in keys]
            if not all(math.isnan(v) for v in se):
                rows.append(["", "± SE", *("-" if math.isnan(v) else f"±{f(v)}"
                                           for f, v in zip(formats, se, strict=True))])
    return Table(
        f"Variance components on the {analysis.n_train} training samples",
        ["trait", "source", *(COMPONENTS[c] for c in keys)],
        rows,
        "V_A additive, V_AA pairwise epistatic, V_higher what neither explains, "
        "V_G genetic, V_E residual, V_P phenotypic variance; h2 = V_A / V_P "
        "(narrow sense), H2 = V_G / V_P (broad sense).  ± SE: the standard error of the "
        "row above, where it is known (a 95 % interval is the estimate ± 1.96 SE); for "
        "GBLUP, REML's, from the inverse of its expected information; for the ELM, "
        "ELMDecomposer's, of the training sample's own components given its genotypes"
        + (", by a delete-a-group jackknife that repeats the whole fit without each "
           "twentieth of the samples, the choice of its pairs included.  "
           if analysis.elm_component_se == "jackknife" else ".  ")
        + ELM_COMPONENTS[analysis.elm_components],
    )


def _recovery(analysis, traits):
    rows = []
    for k, t in enumerate(traits):
        first = True
        for effects, by_method in analysis.recovery.items():
            for method, per_trait in by_method.items():
                rec = per_trait[k]
                precision = "-"
                if not math.isnan(rec.get("precision", math.nan)):
                    precision = f"{fmt(rec['precision'], 2)} (k={rec['k']})"
                rows.append([t if first else "", effects, method, fmt(rec["slope"]),
                             fmt(rec["r"]), precision])
                first = False
    return Table(
        "Recovery of the known true effects",
        ["trait", "effects", "method", "slope", "r", "top-k precision"],
        rows,
        "slope: regression of the estimates on the truth (1 = unbiased, < 1 = "
        "shrunk); r: correlation; top-k precision: share of the k largest "
        "estimated pairs that are true pairs, k = number of true pairs.",
    )


def _top_pairs(analysis, traits):
    main = next(iter(analysis.epistasis))
    names = analysis.feature_names
    rows = []
    for k, t in enumerate(traits):
        i, j, e = rank_pairs(analysis.epistasis[main][k], top=3)
        labels = [f", {label}" if label else "" for label in pair_p_labels(analysis, k, i, j)]
        rows.append([t, ", ".join(f"{names[a]} x {names[b]} ({v:+.3f}{label})"
                                  for a, b, v, label in zip(i, j, e, labels, strict=True))
                     or "-"])
    return Table(
        f"Top epistatic pairs ({main}, by |e_ij|)",
        ["trait", "pairs (estimate, trait's p-value)" if analysis.pair_tests is not None
         else "pairs (estimate)"],
        rows,
        "e_ij is the effect of z_i z_j in y = mu + sum a_i z_i + sum e_ij z_i z_j, as the "
        "network has it; p: the trait's test of the pair given the loci and the pairs the "
        "trait confirms (p > x: above the p-values of the pairs of smallest p kept), one "
        "test among all the pairs tested (the FDR list below counts them), which a pair the "
        "network reads from linkage or from noise does not pass; more pairs, ranked, are in "
        "epistasis_pairs.csv.",
    )


def _significant(analysis, traits):
    names = analysis.feature_names
    rows = []
    for k, table in significant_rows(analysis):
        tested = n_tests(analysis, k)
        shown = "-"
        if table is not None:
            linked = (zip(table["n_linked_i"], table["n_linked_j"], strict=True)
                      if "n_linked_i" in table else None)
            shown = ", ".join(
                f"{names[a]} x {names[b]} (q {format_p(q)}"
                + ("" if linked is None else "; linked {} / {}".format(*next(linked))) + ")"
                for a, b, q in zip(table["i"][:3], table["j"][:3], table["q_value"][:3],
                                   strict=True)) or "none"
        rows.append([traits[k], tested, n_significant(analysis, k) if tested else "-", shown])
    return Table(
        f"Pairs significant at {fdr_label(analysis)} (Benjamini-Hochberg)",
        ["trait", "tested", "significant", "smallest p-values (q-value)"],
        rows,
        "Each pair tested for what it adds to the trait's least-squares fit on every locus "
        "and the pairs confirmed so far, less the pairs that add nothing beside those "
        "competing with them (ELMDecomposer.significant_pairs); linked a / b: the "
        "loci in linkage (r^2 >= 0.8) with each of its loci, whose pairs the data cannot tell "
        "from it (named in significant_pairs.csv, which holds the whole list).",
    )


def summary_tables(analysis):
    """The summary tables, by name: ``accuracy``, ``components``, ``recovery`` (where the
    truth is known), ``top_pairs`` and ``significant``.

    Parameters
    ----------
    analysis : :class:`~sklearn_elm.workflow.Analysis`

    Returns
    -------
    tables : dict of str to Table
        In display order.
    """
    traits = [str(t) for t in analysis.target_names]
    tables = {"accuracy": _accuracy(analysis, traits),
              "components": _components(analysis, traits)}
    if analysis.recovery:
        tables["recovery"] = _recovery(analysis, traits)
    tables["top_pairs"] = _top_pairs(analysis, traits)
    tables["significant"] = _significant(analysis, traits)
    return tables


_NUMBER = re.compile(r"^(-|[+±-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?)$")


def _is_number(cell):
    """A cell that starts with a number, or "-" for a missing one."""
    words = str(cell).split()
    return bool(words) and _NUMBER.match(words[0]) is not None


def numeric_columns(rows, n_columns):
    """Columns whose every cell is a number (or "-"), to be right-aligned."""
    return [bool(rows) and all(_is_number(r[c]) for r in rows) for c in range(n_columns)]


def text_table(header, rows):
    """A table as aligned plain text, numbers right-aligned."""
    widths = [max(len(str(r[c])) for r in [header, *rows]) for c in range(len(header))]
    numeric = numeric_columns(rows, len(header))
    lines = []
    for row in [header, *rows]:
        cells = [str(v).rjust(w) if num else str(v).ljust(w)
                 for v, w, num in zip(row, widths, numeric, strict=True)]
        lines.append("  ".join(cells).rstrip())
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def headline(analysis):
    """One line naming the data: samples, loci, ploidy, traits."""
    kind = "haploid" if analysis.ploidy == 1 else "diploid"
    return (f"{analysis.name}: {analysis.n_samples} samples ({analysis.n_train} train, "
            f"{analysis.n_test} test), {len(analysis.feature_names)} {kind} loci "
            f"(ploidy {analysis.ploidy}), {len(analysis.target_names)} trait(s)")


def format_summary(analysis):
    """The summary tables as plain text, for the terminal.

    Parameters
    ----------
    analysis : :class:`~sklearn_elm.workflow.Analysis`

    Returns
    -------
    text : str
    """
    parts = [headline(analysis)]
    for table in summary_tables(analysis).values():
        parts.append(f"{table.title}\n{text_table(table.header, table.rows)}")
    if analysis.notes:
        parts.append("Warnings\n" + "\n".join(f"- {note}" for note in analysis.notes))
    return "\n\n".join(parts) + "\n"


# ---------------------------------------------------------------- files


def _number(value):
    value = float(value)
    return "" if math.isnan(value) else format(value, ".8g")


def slug(text):
    """``text`` as a lower-case file-name fragment."""
    return re.sub(r"[^0-9A-Za-z]+", "_", str(text)).strip("_").lower() or "x"


def _write_csv(path, header, rows):
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(header)
        writer.writerows(rows)


def write_effects(analysis, path):
    """``effects.csv``: the additive effect of every locus, per trait and method, with the
    locus's chromosome and position where the input gives them, and after the first
    method's column the decomposer's test of the locus (empty where it tested none): the
    trait's estimate it tests (``test_estimate``), ``std_error`` and ``p_value`` (joint: what
    the locus adds to every other), then ``marginal_p_value`` (the locus alone, as a
    genome-wide scan and the Manhattan plot read it)."""
    methods = list(analysis.additive)
    mapped = analysis.positions is not None
    shape = (len(analysis.target_names), len(analysis.feature_names))
    tests = [np.full(shape, np.nan) if a is None else a for a in (
        analysis.additive_estimates, analysis.additive_se, analysis.additive_pvalues,
        analysis.marginal_pvalues)]
    header = ["trait", "locus", *(["chromosome", "position"] if mapped else []),
              f"additive_{slug(methods[0])}", "test_estimate", "std_error", "p_value",
              "marginal_p_value",
              *(f"additive_{slug(m)}" for m in methods[1:])]
    rows = ([str(t), str(locus),
             *([str(analysis.chromosomes[i]), int(analysis.positions[i])] if mapped else []),
             _number(analysis.additive[methods[0]][k, i]), *(_number(a[k, i]) for a in tests),
             *(_number(analysis.additive[m][k, i]) for m in methods[1:])]
            for k, t in enumerate(analysis.target_names)
            for i, locus in enumerate(analysis.feature_names))
    _write_csv(path, header, rows)


def write_pairs(analysis, path, top=None):
    """``epistasis_pairs.csv``: the ``top`` pairs (all when None) per trait, with the other
    methods' estimates of them: first those the main estimate scores, ranked by it (not those
    it leaves at exactly 0, :func:`rank_pairs`), then, where fewer than ``top``, the pairs
    the decomposer tested that it does not score, by increasing p-value (``estimate``
    empty); with the decomposer's test of the pair where it kept one (empty otherwise): the
    trait's estimate it tests (``test_estimate``), ``std_error`` and ``p_value``.

    A screened fit past ``n / 2`` loci scores only the few pairs it chose (tens), and tests
    the thousand or so pairs the scans rank first: those fill the table."""
    methods = list(analysis.epistasis)
    main, others = methods[0], methods[1:]
    names = analysis.feature_names
    header = ["trait", "rank", "locus_i", "locus_j", "estimate", "test_estimate", "std_error",
              "p_value",
              *(slug(m) for m in others)]

    def rows():
        for k, t in enumerate(analysis.target_names):
            i, j, e = _with_tested_pairs(analysis, k, *rank_pairs(analysis.epistasis[main][k],
                                                                  top=top), top)
            tested = pair_test_columns(analysis, k, i, j)
            other = [analysis.epistasis[m][k][i, j] for m in others]
            for r in range(len(e)):
                yield [str(t), r + 1, str(names[i[r]]), str(names[j[r]]), _number(e[r]),
                       *(_number(c[r]) for c in tested), *(_number(o[r]) for o in other)]

    _write_csv(path, header, rows())


def _with_tested_pairs(analysis, k, i, j, e, top):
    """The ranked pairs ``(i, j, e)`` of trait ``k`` followed, up to ``top`` in all, by the
    pairs the decomposer tested that are not among them, by increasing p-value (``e`` NaN)."""
    room = np.inf if top is None else top - len(e)
    pairs = tested_pairs(analysis, k)
    if room <= 0 or not len(pairs):
        return i, j, e
    p = len(analysis.feature_names)
    pairs = pairs[~np.isin(pair_keys(*pairs.T, p), pair_keys(i, j, p))]
    pairs = pairs[:int(min(room, len(pairs)))]
    return (np.concatenate([i, pairs[:, 0]]).astype(np.intp),
            np.concatenate([j, pairs[:, 1]]).astype(np.intp),
            np.concatenate([e, np.full(len(pairs), np.nan)]))


def write_components(analysis, path):
    """``variance_components.csv``: every component, per trait and method, then their
    standard errors (``<component>_se``, empty where none is known)."""
    keys = component_keys(analysis)
    errors = {m: component_errors(analysis, m) for m in analysis.variance_components}
    rows = [[str(t), method, *(_number(vc[c][k]) if c in vc else "" for c in keys),
             *(_number(errors[method][c][k]) if c in vc else "" for c in keys)]
            for k, t in enumerate(analysis.target_names)
            for method, vc in analysis.variance_components.items()]
    _write_csv(path, ["trait", "method", *keys, *(f"{c}_se" for c in keys)], rows)


#: Columns of ``significant_pairs.csv`` after the trait, as ``significant_pairs`` names them.
SIGNIFICANT_COLUMNS = ("i", "j", "locus_i", "locus_j", "estimate", "std_error", "p_value",
                       "q_value", "p_joint", "linked_i", "linked_j")
_NUMBERS = SIGNIFICANT_COLUMNS[4:9]


def write_significant(analysis, path):
    """``significant_pairs.csv``: the pairs significant at ``analysis.fdr``, per trait, by
    p-value; the columns of ``ELMDecomposer.significant_pairs`` with the trait's name for
    its index (``i`` and ``j`` 0-based locus indices), and ``linked_i`` / ``linked_j``, the
    loci in linkage with each (``r^2 >= 0.8``, space-separated; empty where none is or the
    analysis has none).  Only the header where none is."""
    def rows():
        for k, table in significant_rows(analysis):
            if table is None:
                continue
            for r in range(len(table["i"])):
                yield [str(analysis.target_names[k]), int(table["i"][r]), int(table["j"][r]),
                       str(table["locus_i"][r]), str(table["locus_j"][r]),
                       *(_number(table[c][r]) if c in table else "" for c in _NUMBERS),
                       *(str(table[c][r]) if c in table else "" for c in SIGNIFICANT_COLUMNS[9:])]

    _write_csv(path, ["trait", *SIGNIFICANT_COLUMNS], rows())


def _jsonable(value):
    """Plain JSON: arrays to lists, NaN and infinities to null."""
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return _jsonable(value.tolist())
    if isinstance(value, (np.bool_, bool)):
        return bool(value)
    if isinstance(value, (np.integer, int)):
        return int(value)
    if isinstance(value, (np.floating, float)):
        return float(value) if math.isfinite(value) else None
    if value is None or isinstance(value, str):
        return value
    return str(value)


def _trait_metrics(analysis, k):
    main = next(iter(analysis.epistasis))
    names = analysis.feature_names
    i, j, e = rank_pairs(analysis.epistasis[main][k], top=N_TOP_PAIRS)
    errors = {m: component_errors(analysis, m) for m in analysis.variance_components}
    (_, significant), = significant_rows(analysis, k)
    entry = {
        "test_r2": {m: r2[k] for m, r2 in analysis.test_r2.items()},
        "variance_components": {m: {c: vc[c][k] for c in COMPONENTS if c in vc}
                                for m, vc in analysis.variance_components.items()},
        "variance_components_se": {m: {c: se[c][k] for c in COMPONENTS if c in se}
                                   for m, se in errors.items()},
        "top_pairs": [{"locus_i": str(names[a]), "locus_j": str(names[b]), "estimate": v}
                      for a, b, v in zip(i, j, e, strict=True)],
        "significant_pairs": {
            "fdr": analysis.fdr, "n_tests": n_tests(analysis, k),
            "n_significant": n_significant(analysis, k),
            "first": [] if significant is None else [
                {c: significant[c][r] for c in SIGNIFICANT_COLUMNS if c in significant}
                for r in range(min(N_TOP_PAIRS, len(significant["i"])))]},
    }
    if analysis.recovery:
        entry["recovery"] = {effects: {m: dict(per_trait[k]) for m, per_trait in by.items()}
                             for effects, by in analysis.recovery.items()}
    return entry


def write_metrics(analysis, path, files):
    """``metrics.json``: every summary figure, the settings, timings and versions."""
    metrics = {
        "data": {
            "name": analysis.name,
            "description": analysis.description,
            "n_samples": analysis.n_samples,
            "n_train": analysis.n_train,
            "n_test": analysis.n_test,
            "n_loci": len(analysis.feature_names),
            "ploidy": analysis.ploidy,
            "truth_known": analysis.truth_known,
        },
        "settings": {**analysis.settings, "component_se": analysis.elm_component_se},
        "timings_s": analysis.timings,
        "versions": analysis.versions,
        "warnings": list(analysis.notes),
        "traits": {str(t): _trait_metrics(analysis, k)
                   for k, t in enumerate(analysis.target_names)},
        "files": sorted(files),
    }
    with open(path, "w", encoding="utf-8") as f:
        json.dump(_jsonable(metrics), f, indent=2, allow_nan=False)
        f.write("\n")
