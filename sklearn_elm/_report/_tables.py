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

__all__ = ["Table", "format_summary", "rank_pairs", "summary_tables"]

#: What the ELM row of the variance-component table is, by ``ELMDecomposer.components_``.
ELM_COMPONENTS = {
    "debiased": "ELM: the network's genetic value corrected by the least-squares projection "
    "of its training residuals, each variance less the sampling noise it carries (debiased, "
    "so not shrunk with the network's fit).",
    "screened": "ELM: least squares of the trait on the loci and pairs the network uses "
    "(screened from its genetic value, pairs counted where the trait confirms them at a "
    "family-wise 5 %), each variance less the sampling noise it carries.",
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


#: Cells of a pair matrix read at a time by :func:`rank_pairs` (8 MiB of float64).
RANK_BLOCK = 2**20


def rank_pairs(epistasis, *, top=None):
    """Pairs ``i < j`` with a non-zero estimate, ranked by decreasing ``|e_ij|``.

    A pair whose estimate is exactly 0 is left out: a screened fit
    (``ELMDecomposer(epistasis="screened")``) scores only the pairs it
    chose and leaves every other pair at exactly 0, not estimated, so
    ranking those would list untested pairs beside scored ones.  Every
    table, file and figure of the report that lists pairs lists them from
    here: at most ``top`` of them, fewer (or none) where fewer are scored.
    Pairs of equal ``|e_ij|`` keep their order in the matrix (row by row);
    NaN estimates come last.

    The matrix is read a block of rows at a time and only the candidates for
    the first ``top`` pairs are kept, so ranking the top pairs of a
    ``12,000 x 12,000`` matrix needs tens of MiB beyond it, not gigabytes.

    Parameters
    ----------
    epistasis : ndarray or scipy sparse array of shape (p, p)
        Symmetric pair effects; only the upper triangle is read.
    top : int, default=None
        Keep the first ``top`` pairs; all scored pairs when None.

    Returns
    -------
    i, j : ndarray of int
        Locus indices of each pair, ``i < j``.
    estimate : ndarray of float
        ``epistasis[i, j]``, none of them 0.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_elm._report import rank_pairs
    >>> E = np.array([[0.0, 0.1, -0.5], [0.1, 0.0, 0.2], [-0.5, 0.2, 0.0]])
    >>> i, j, e = rank_pairs(E)
    >>> i.tolist(), j.tolist(), e.tolist()
    ([0, 1, 0], [2, 2, 1], [-0.5, 0.2, 0.1])

    A pair at exactly 0 (here ``(0, 1)``) is not scored, and not listed:

    >>> E[0, 1] = E[1, 0] = 0.0
    >>> rank_pairs(E)[2].tolist()
    [-0.5, 0.2]
    """
    from scipy import sparse

    if sparse.issparse(epistasis):
        i, j, values = _sparse_upper(epistasis)
        order = np.argsort(-_magnitude(values), kind="stable")[:top]
        return i[order], j[order], values[order]
    E = np.asarray(epistasis)
    p = E.shape[-1]
    rows = max(1, RANK_BLOCK // max(p, 1))
    kept = [(np.empty(0, dtype=np.int64), np.empty(0, dtype=E.dtype))]
    for start in range(0, p, rows):
        block = np.triu(E[start:start + rows], start + 1)  # the pairs i < j of these rows
        flat = np.flatnonzero(block)  # a pair as one index, i p + j: half the memory of (i, j)
        kept.append((flat + start * p, block.ravel()[flat]))
        if top is not None:  # only candidates for the first top pairs go on
            kept = [_candidates(*(np.concatenate(a) for a in zip(*kept, strict=True)), top)]
    flat, values = (np.concatenate(a) for a in zip(*kept, strict=True))
    del kept
    order = np.argsort(-_magnitude(values), kind="stable")[:top]
    i, j = np.divmod(flat[order], p)
    return i.astype(np.intp, copy=False), j.astype(np.intp, copy=False), values[order]


def _magnitude(values):
    """``|values|``, NaN as -1: the sort key that puts NaN last."""
    magnitude = np.abs(values)
    magnitude[np.isnan(magnitude)] = -1.0
    return magnitude


def _candidates(flat, values, top):
    """The pairs that may be among the first ``top``: every one at least as large as the
    ``top``-th largest (ties included, so the stable order decides among them), in order."""
    if values.size <= top:
        return flat, values
    magnitude = _magnitude(values)
    keep = magnitude >= np.partition(magnitude, values.size - top)[values.size - top]
    return flat[keep], values[keep]


def _sparse_upper(epistasis):
    """The non-zero entries ``i < j`` of a sparse matrix, row by row."""
    from scipy import sparse

    coo = sparse.coo_array(epistasis)
    coo.sum_duplicates()
    i, j, values = coo.row, coo.col, coo.data
    upper = (i < j) & (values != 0)
    i, j, values = i[upper].astype(np.intp), j[upper].astype(np.intp), values[upper]
    order = np.lexsort((j, i))
    return i[order], j[order], values[order]


def fmt(value, digits=3):
    """A number for a table cell; "-" where it is missing."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    if isinstance(value, (int, np.integer)):
        return str(value)
    return f"{value:.{digits}f}"


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
    keys = component_keys(analysis)
    rows = []
    for k, t in enumerate(traits):
        for n, (method, vc) in enumerate(analysis.variance_components.items()):
            values = [fmt(float(vc[c][k])) if c in vc else "-" for c in keys]
            rows.append([t if n == 0 else "", method, *values])
    return Table(
        f"Variance components on the {analysis.n_train} training samples",
        ["trait", "source", *(COMPONENTS[c] for c in keys)],
        rows,
        "V_A additive, V_AA pairwise epistatic, V_higher what neither explains, "
        "V_G genetic, V_E residual, V_P phenotypic variance; h2 = V_A / V_P "
        "(narrow sense), H2 = V_G / V_P (broad sense).  " + ELM_COMPONENTS[
            analysis.elm_components],
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
        rows.append([t, ", ".join(f"{names[a]} x {names[b]} ({v:+.3f})"
                                  for a, b, v in zip(i, j, e, strict=True)) or "-"])
    return Table(
        f"Top epistatic pairs ({main}, by |e_ij|)",
        ["trait", "pairs (estimate)"],
        rows,
        "e_ij is the effect of z_i z_j in y = mu + sum a_i z_i + sum e_ij z_i z_j; "
        "more pairs, ranked, are in epistasis_pairs.csv.",
    )


def summary_tables(analysis):
    """The summary tables, by name: ``accuracy``, ``components``, ``recovery`` (where the
    truth is known) and ``top_pairs``.

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
    return tables


_NUMBER = re.compile(r"^(-|[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?)$")


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
    locus's chromosome and position where the input gives them."""
    methods = list(analysis.additive)
    mapped = analysis.positions is not None
    header = ["trait", "locus", *(["chromosome", "position"] if mapped else []),
              *(f"additive_{slug(m)}" for m in methods)]
    rows = ([str(t), str(locus),
             *([str(analysis.chromosomes[i]), int(analysis.positions[i])] if mapped else []),
             *(_number(analysis.additive[m][k, i]) for m in methods)]
            for k, t in enumerate(analysis.target_names)
            for i, locus in enumerate(analysis.feature_names))
    _write_csv(path, header, rows)


def write_pairs(analysis, path, top=None):
    """``epistasis_pairs.csv``: the ``top`` pairs (all when None), ranked by the main
    estimate, per trait, with the other methods' estimates of them; only the pairs the main
    estimate scores, not those it leaves at exactly 0 (:func:`rank_pairs`)."""
    methods = list(analysis.epistasis)
    main, others = methods[0], methods[1:]
    names = analysis.feature_names
    header = ["trait", "rank", "locus_i", "locus_j", "estimate", *(slug(m) for m in others)]

    def rows():
        for k, t in enumerate(analysis.target_names):
            i, j, e = rank_pairs(analysis.epistasis[main][k], top=top)
            other = [analysis.epistasis[m][k][i, j] for m in others]
            for r in range(len(e)):
                yield [str(t), r + 1, str(names[i[r]]), str(names[j[r]]), _number(e[r]),
                       *(_number(o[r]) for o in other)]

    _write_csv(path, header, rows())


def write_components(analysis, path):
    """``variance_components.csv``: every component, per trait and method."""
    keys = component_keys(analysis)
    rows = [[str(t), method, *(_number(vc[c][k]) if c in vc else "" for c in keys)]
            for k, t in enumerate(analysis.target_names)
            for method, vc in analysis.variance_components.items()]
    _write_csv(path, ["trait", "method", *keys], rows)


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
    entry = {
        "test_r2": {m: r2[k] for m, r2 in analysis.test_r2.items()},
        "variance_components": {m: {c: vc[c][k] for c in COMPONENTS if c in vc}
                                for m, vc in analysis.variance_components.items()},
        "top_pairs": [{"locus_i": str(names[a]), "locus_j": str(names[b]), "estimate": v}
                      for a, b, v in zip(i, j, e, strict=True)],
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
        "settings": analysis.settings,
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
