"""The sklearn-elm report: summary tables, CSV files, metrics.json, PNG figures, index.html.

Presentation only: everything shown is computed by the caller (the command
line) and handed over as one ``results`` Bunch, described in
:func:`write_report`.  The report is written into a temporary sibling
directory that is renamed into place at the end, so that an interrupted or
failed run never leaves a half-written report behind.
"""

import csv
import html
import json
import math
import os
import re
import shutil
import tempfile
from pathlib import Path

import numpy as np

__all__ = ["check_output_directory", "format_summary", "rank_pairs", "write_report"]

#: What the ELM row of the variance-component table is, by ``ELMDecomposer.components_``.
ELM_COMPONENTS = {
    "debiased": "ELM: the network's genetic value corrected by the least-squares projection "
    "of its training residuals, each variance less the sampling noise it carries (debiased, "
    "so not shrunk with the network's fit).",
    "network": "ELM: the variances of the network's own parts, which shrink with its fit on a "
    "noisy trait (not debiased: see ELMDecomposer's components).",
}

#: Variance components in table order, with their short names.
COMPONENTS = {
    "additive": "V_A",
    "epistatic": "V_AA",
    "higher": "V_higher",
    "genetic": "V_G",
    "residual": "V_E",
    "phenotypic": "V_P",
    "h2": "h2",
    "H2": "H2",
}
TRUTH = "truth"
N_TOP_PAIRS = 10


def check_output_directory(directory, *, force=False):
    """Refuse to overwrite an existing non-empty report directory unless forced.

    Parameters
    ----------
    directory : str or path-like
        Where the report is to be written.
    force : bool, default=False
        Allow replacing an existing directory that holds a previous report
        (and nothing else).

    Raises
    ------
    FileExistsError
        If ``directory`` is a non-empty directory and ``force`` is False, or
        exists and is not a directory, holds the working directory, or holds
        anything but the files of a previous report (never replaced, even
        with ``force``: it may hold the input data).

    Examples
    --------
    >>> import tempfile
    >>> from sklearn_elm._report import check_output_directory
    >>> check_output_directory(tempfile.mkdtemp())  # an empty directory is fine
    """
    # resolved: "missing/../data" must not pass as a new directory and then become data,
    # and a symbolic link is followed to the report it points to
    directory = Path(os.path.realpath(directory))
    if directory.exists() and not directory.is_dir():
        raise FileExistsError(f"{directory} exists and is not a directory.")
    # the report is written next to the directory and renamed into place
    parent = directory.parent
    while not parent.exists():
        parent = parent.parent
    if not parent.is_dir() or not os.access(parent, os.W_OK | os.X_OK):
        raise FileExistsError(
            f"cannot write {directory}: {parent} is not a writable directory."
        )
    if not directory.is_dir() or not any(directory.iterdir()):
        return
    if not force:
        raise FileExistsError(
            f"{directory} exists and is not empty; use --force to replace it, "
            "or --out to choose another directory."
        )
    if Path.cwd().resolve().is_relative_to(directory.resolve()):
        raise FileExistsError(
            f"{directory} holds the working directory; --force never replaces it. Choose "
            "another --out."
        )
    others = sorted(
        p.name for p in directory.iterdir()
        if not (_is_report_file(p.name) and (p.is_file() or p.is_symlink()))
        and p.name not in _DESKTOP_FILES
    )
    if "metrics.json" not in {p.name for p in directory.iterdir()} or others:
        shown = ", ".join(others[:3]) + (", ..." if len(others) > 3 else "")
        raise FileExistsError(
            f"{directory} is not a report of sklearn-elm"
            + (f" (it holds {shown})" if others else " (no metrics.json)")
            + "; --force replaces only a previous report. Choose another --out."
        )


#: The files of a report (:func:`write_report`), besides one epistasis_<k>_<trait>.png per trait.
REPORT_FILES = frozenset({
    "effects.csv", "epistasis_pairs.csv", "variance_components.csv", "metrics.json",
    "index.html", "observed_vs_predicted.png", "additive_effects.png",
    "variance_components.png",
})


#: Files a desktop puts in any folder it shows.
_DESKTOP_FILES = frozenset({".DS_Store", "Thumbs.db", "desktop.ini"})


def _is_report_file(name):
    return name in REPORT_FILES or (name.startswith("epistasis_") and name.endswith(".png"))


def write_report(results, directory, *, force=False):
    """Write the full report into ``directory``, all or nothing.

    Every file is first written into a hidden temporary directory beside
    ``directory``, which is renamed into place once complete; an existing
    report is moved aside and deleted only after that rename.  On any error,
    including ``KeyboardInterrupt``, the temporary directory is removed and
    an existing report is left as it was.

    Parameters
    ----------
    results : :class:`~sklearn.utils.Bunch`
        What the command line computed, for ``k`` traits and ``p`` loci:

        * ``name``, ``description`` (str): the data set;
        * ``n_samples``, ``n_train``, ``n_test`` (int);
        * ``feature_names`` (p,) and ``target_names`` (k,): locus and trait names;
        * ``y_test`` (n_test, k) and ``predictions``: dict method -> (n_test, k);
        * ``test_r2``: dict method -> (k,);
        * ``additive``: dict method -> (k, p) additive effects, the main
          estimate first, ``"truth"`` when known (the true average effects
          under the training samples' frequencies, which is what the
          estimates estimate: :func:`~sklearn_elm.metrics.true_average_effects`);
        * ``epistasis``: dict method -> (k, p, p) symmetric pair effects
          ``e_ij``, the main estimate (by which pairs are ranked) first;
        * ``variance_components``: dict method -> dict component -> (k,);
        * ``elm_components`` (str, optional): ``ELMDecomposer.components_``,
          what the ``"ELM"`` components are (``"network"`` when absent);
        * ``recovery``: None, or dict ``"additive"`` / ``"pairwise"`` ->
          dict method -> list (one per trait) of dicts with ``slope``,
          ``intercept``, ``r`` (and ``precision``, ``k`` for pairs);
        * ``settings``, ``timings``, ``versions``: flat dicts of scalars.
    directory : str or path-like
        The report directory.
    force : bool, default=False
        Replace an existing directory that holds a previous report (and
        nothing else).

    Returns
    -------
    directory : pathlib.Path
        The written report directory.

    Raises
    ------
    FileExistsError
        See :func:`check_output_directory`.
    """
    directory = Path(os.path.realpath(directory))
    check_output_directory(directory, force=force)
    directory.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{directory.name}.", suffix=".tmp", dir=directory.parent))
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o777 & ~umask)  # mkdtemp's private 0700 is not what a report wants
    backup = tmp.with_suffix(".old")
    try:
        _write_files(results, tmp)
        if directory.exists():
            os.rename(directory, backup)
        os.rename(tmp, directory)
    except BaseException:
        # put an existing report back if the interruption fell between the two renames
        if backup.exists() and not directory.exists():
            os.rename(backup, directory)
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    shutil.rmtree(backup, ignore_errors=True)
    return directory


def rank_pairs(epistasis, *, top=None):
    """Pairs ``i < j`` ranked by decreasing ``|e_ij|``.

    Parameters
    ----------
    epistasis : ndarray of shape (p, p)
        Symmetric pair effects; only the upper triangle is read.
    top : int, default=None
        Keep the first ``top`` pairs; all when None.

    Returns
    -------
    i, j : ndarray of int
        Locus indices of each pair, ``i < j``.
    estimate : ndarray of float
        ``epistasis[i, j]``.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_elm._report import rank_pairs
    >>> E = np.array([[0.0, 0.1, -0.5], [0.1, 0.0, 0.2], [-0.5, 0.2, 0.0]])
    >>> i, j, e = rank_pairs(E)
    >>> i.tolist(), j.tolist(), e.tolist()
    ([0, 1, 0], [2, 2, 1], [-0.5, 0.2, 0.1])
    """
    i, j = np.triu_indices(epistasis.shape[-1], k=1)
    values = epistasis[i, j]
    order = np.argsort(-np.abs(values), kind="stable")[:top]
    return i[order], j[order], values[order]


# ---------------------------------------------------------------- tables


def _fmt(value, digits=3):
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    if isinstance(value, (int, np.integer)):
        return str(value)
    return f"{value:.{digits}f}"


def _summary_tables(results):
    """The summary as (title, header, rows, note) tuples of formatted strings."""
    traits = [str(t) for t in results.target_names]
    tables = []
    methods = list(results.test_r2)
    rows = [[t, *(_fmt(results.test_r2[m][k]) for m in methods)] for k, t in enumerate(traits)]
    tables.append(
        (
            f"Prediction accuracy: r2 on the {results.n_test} test samples",
            ["trait", *methods],
            rows,
            "r2 = 1 - sum (y - prediction)^2 / sum (y - mean y)^2; 1 is perfect.",
        )
    )
    keys = [c for c in COMPONENTS if any(c in vc for vc in results.variance_components.values())]
    rows = []
    for k, t in enumerate(traits):
        for n, (method, vc) in enumerate(results.variance_components.items()):
            values = [_fmt(float(vc[c][k])) if c in vc else "-" for c in keys]
            rows.append([t if n == 0 else "", method, *values])
    tables.append(
        (
            f"Variance components on the {results.n_train} training samples",
            ["trait", "source", *(COMPONENTS[c] for c in keys)],
            rows,
            "V_A additive, V_AA pairwise epistatic, V_higher what neither explains, "
            "V_G genetic, V_E residual, V_P phenotypic variance; h2 = V_A / V_P "
            "(narrow sense), H2 = V_G / V_P (broad sense).  " + ELM_COMPONENTS[
                results.get("elm_components", "network")
            ],
        )
    )
    if results.recovery:
        rows = []
        for k, t in enumerate(traits):
            first = True
            for effects, by_method in results.recovery.items():
                for method, per_trait in by_method.items():
                    rec = per_trait[k]
                    precision = "-"
                    if not math.isnan(rec.get("precision", math.nan)):
                        precision = f"{_fmt(rec['precision'], 2)} (k={rec['k']})"
                    rows.append(
                        [t if first else "", effects, method, _fmt(rec["slope"]),
                         _fmt(rec["r"]), precision]
                    )
                    first = False
        tables.append(
            (
                "Recovery of the known true effects",
                ["trait", "effects", "method", "slope", "r", "top-k precision"],
                rows,
                "slope: regression of the estimates on the truth (1 = unbiased, < 1 = "
                "shrunk); r: correlation; top-k precision: share of the k largest "
                "estimated pairs that are true pairs, k = number of true pairs.",
            )
        )
    main = next(iter(results.epistasis))
    rows = []
    for k, t in enumerate(traits):
        i, j, e = rank_pairs(results.epistasis[main][k], top=3)
        pairs = ", ".join(
            f"{results.feature_names[a]} x {results.feature_names[b]} ({v:+.3f})"
            for a, b, v in zip(i, j, e, strict=True)
        )
        rows.append([t, pairs])
    tables.append(
        (
            f"Top epistatic pairs ({main}, by |e_ij|)",
            ["trait", "pairs (estimate)"],
            rows,
            "e_ij is the effect of z_i z_j in y = mu + sum a_i z_i + sum e_ij z_i z_j; "
            "all pairs are in epistasis_pairs.csv.",
        )
    )
    return tables


_NUMBER = re.compile(r"^(-|[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?)$")


def _is_number(cell):
    """A cell that starts with a number, or "-" for a missing one."""
    words = str(cell).split()
    return bool(words) and _NUMBER.match(words[0]) is not None


def _numeric_columns(rows, n_columns):
    """Columns whose every cell is a number (or "-"), to be right-aligned."""
    return [bool(rows) and all(_is_number(r[c]) for r in rows) for c in range(n_columns)]


def _text_table(header, rows):
    widths = [max(len(str(r[c])) for r in [header, *rows]) for c in range(len(header))]
    numeric = _numeric_columns(rows, len(header))
    lines = []
    for row in [header, *rows]:
        cells = [
            str(v).rjust(w) if num else str(v).ljust(w)
            for v, w, num in zip(row, widths, numeric, strict=True)
        ]
        lines.append("  ".join(cells).rstrip())
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def format_summary(results):
    """The summary tables as plain text, for the terminal.

    Parameters
    ----------
    results : :class:`~sklearn.utils.Bunch`
        As described in :func:`write_report`.

    Returns
    -------
    text : str
    """
    head = (
        f"{results.name}: {results.n_samples} samples ({results.n_train} train, "
        f"{results.n_test} test), {len(results.feature_names)} loci, "
        f"{len(results.target_names)} trait(s)"
    )
    parts = [head]
    for title, header, rows, _ in _summary_tables(results):
        parts.append(f"{title}\n{_text_table(header, rows)}")
    return "\n\n".join(parts) + "\n"


# ---------------------------------------------------------------- files


def _number(value):
    value = float(value)
    return "" if math.isnan(value) else format(value, ".8g")


def _slug(text):
    return re.sub(r"[^0-9A-Za-z]+", "_", str(text)).strip("_").lower() or "x"


def _write_csv(path, header, rows):
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(header)
        writer.writerows(rows)


def _write_effects(results, path):
    methods = list(results.additive)
    header = ["trait", "locus", *(f"additive_{_slug(m)}" for m in methods)]
    rows = (
        [str(t), str(locus), *(_number(results.additive[m][k, i]) for m in methods)]
        for k, t in enumerate(results.target_names)
        for i, locus in enumerate(results.feature_names)
    )
    _write_csv(path, header, rows)


def _write_pairs(results, path):
    methods = list(results.epistasis)
    main, others = methods[0], methods[1:]
    names = results.feature_names
    header = ["trait", "rank", "locus_i", "locus_j", "estimate", *(_slug(m) for m in others)]

    def rows():
        for k, t in enumerate(results.target_names):
            i, j, e = rank_pairs(results.epistasis[main][k])
            other = [results.epistasis[m][k][i, j] for m in others]
            for r in range(len(e)):
                yield [str(t), r + 1, str(names[i[r]]), str(names[j[r]]), _number(e[r]),
                       *(_number(o[r]) for o in other)]

    _write_csv(path, header, rows())


def _write_components(results, path):
    keys = [c for c in COMPONENTS if any(c in vc for vc in results.variance_components.values())]
    rows = [
        [str(t), method, *(_number(vc[c][k]) if c in vc else "" for c in keys)]
        for k, t in enumerate(results.target_names)
        for method, vc in results.variance_components.items()
    ]
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


def _metrics(results, files):
    main = next(iter(results.epistasis))
    traits = {}
    for k, t in enumerate(results.target_names):
        i, j, e = rank_pairs(results.epistasis[main][k], top=N_TOP_PAIRS)
        entry = {
            "test_r2": {m: r2[k] for m, r2 in results.test_r2.items()},
            "variance_components": {
                m: {c: vc[c][k] for c in COMPONENTS if c in vc}
                for m, vc in results.variance_components.items()
            },
            "top_pairs": [
                {"locus_i": str(results.feature_names[a]), "locus_j": str(results.feature_names[b]),
                 "estimate": v}
                for a, b, v in zip(i, j, e, strict=True)
            ],
        }
        if results.recovery:
            entry["recovery"] = {
                effects: {m: dict(per_trait[k]) for m, per_trait in by_method.items()}
                for effects, by_method in results.recovery.items()
            }
        traits[str(t)] = entry
    return {
        "data": {
            "name": results.name,
            "description": results.description,
            "n_samples": results.n_samples,
            "n_train": results.n_train,
            "n_test": results.n_test,
            "n_loci": len(results.feature_names),
            "truth_known": bool(results.recovery),
        },
        "settings": results.settings,
        "timings_s": results.timings,
        "versions": results.versions,
        "traits": traits,
        "files": sorted(files),
    }


def _write_files(results, directory):
    """Every file of the report, into ``directory``; returns their names."""
    _write_effects(results, directory / "effects.csv")
    _write_pairs(results, directory / "epistasis_pairs.csv")
    _write_components(results, directory / "variance_components.csv")
    figures = _save_figures(results, directory)
    files = ["effects.csv", "epistasis_pairs.csv", "variance_components.csv", "metrics.json",
             "index.html", *(name for _, name in figures)]
    with open(directory / "metrics.json", "w", encoding="utf-8") as f:
        json.dump(_jsonable(_metrics(results, files)), f, indent=2, allow_nan=False)
        f.write("\n")
    (directory / "index.html").write_text(_html(results, figures), encoding="utf-8")
    return files


# ---------------------------------------------------------------- html

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
    align = [" class='num'" if num else "" for num in _numeric_columns(rows, len(header))]
    head = "".join(f"<th{a}>{esc(str(h))}</th>" for h, a in zip(header, align, strict=True))
    body = "".join(
        "<tr>" + "".join(f"<td{a}>{esc(str(v))}</td>" for v, a in zip(row, align, strict=True))
        + "</tr>"
        for row in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _img(name, alt):
    return f'<img src="{html.escape(name)}" alt="{html.escape(alt)}">'


def _html(results, figures):
    esc = html.escape
    fig = dict(figures)
    tables = _summary_tables(results)
    section = {title: (header, rows, note) for title, header, rows, note in tables}

    def table(title):
        header, rows, note = section[title]
        return f"{_html_table(header, rows)}<p class='note'>{esc(note)}</p>"

    titles = [t for t, *_ in tables]
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>sklearn-elm report: {esc(results.name)}</title>",
        f"<style>{_CSS}</style></head><body>",
        f"<h1>Genetic architecture read out of a neural network: {esc(results.name)}</h1>",
        f"<p>{esc(results.description)}</p>",
        f"<p>{results.n_samples} samples ({results.n_train} for training, {results.n_test} held "
        f"out for testing), {len(results.feature_names)} loci, traits: "
        f"{esc(', '.join(map(str, results.target_names)))}.</p>",
        "<p>A neural network was trained to predict the phenotypes from the genotypes, then "
        "read back, through its equivalent linear mapping (ELM), as additive effects of each "
        "locus, pairwise epistatic effects and variance components of the model "
        "<code>y = mu + sum_i a_i z_i + sum_{i&lt;j} e_ij z_i z_j + e</code> (genotypes "
        "coded z = -1/+1, or -1/0/+1 for diploid dosages). GBLUP with an additive (GBLUP-A) "
        "and an additive plus additive-by-additive kernel (GBLUP-A+AA), fitted by REML, are "
        "the linear baselines.</p>",
        "<h2>Prediction accuracy</h2>",
        table(titles[0]),
        _img(fig["observed_vs_predicted"], "observed against predicted phenotypes"),
        "<h2>Variance components</h2>",
        table(titles[1]),
        _img(fig["variance_components"], "variance components by method"),
        "<h2>Additive effects</h2>",
        "<p>Per trait and locus in <a href='effects.csv'>effects.csv</a>.</p>",
        _img(fig["additive_effects"], "additive effects"),
    ]
    if results.recovery:
        parts += ["<h2>Recovery of the known truth</h2>", table(titles[2])]
    parts += [
        "<h2>Epistasis</h2>",
        "<p>All pairs, ranked by the size of their estimated effect, in "
        "<a href='epistasis_pairs.csv'>epistasis_pairs.csv</a>.</p>",
    ]
    main = next(iter(results.epistasis))
    for k, t in enumerate(results.target_names):
        i, j, e = rank_pairs(results.epistasis[main][k], top=N_TOP_PAIRS)
        rows = [
            [n + 1, f"{results.feature_names[a]} x {results.feature_names[b]}", f"{v:+.4f}"]
            for n, (a, b, v) in enumerate(zip(i, j, e, strict=True))
        ]
        parts += [
            f"<h3>{esc(str(t))}</h3>",
            _html_table(["rank", "pair", f"e_ij ({main})"], rows),
            _img(fig[f"epistasis_{k}"], f"epistasis heatmap of {t}"),
        ]
    settings = ", ".join(f"{k} = {v}" for k, v in results.settings.items())
    timings = ", ".join(f"{k} {v:.1f} s" for k, v in results.timings.items())
    versions = ", ".join(f"{k} {v}" for k, v in results.versions.items())
    parts += [
        "<h2>Run</h2>",
        f"<p class='note'>Settings: {esc(settings)}.<br>Time: {esc(timings)}.<br>"
        f"Versions: {esc(versions)}.<br>All numbers are also in "
        "<a href='metrics.json'>metrics.json</a> and "
        "<a href='variance_components.csv'>variance_components.csv</a>.</p>",
        f"<script>{_IMAGE_CHECK}</script>",
        "</body></html>",
    ]
    return "\n".join(parts) + "\n"


# ---------------------------------------------------------------- figures

PANEL = 3.3  # inches per subplot
MAX_HEATMAP_LOCI = 80
COLORS = {"truth": "0.25"}


def _grid(n, ncols=5):
    """A figure with ``n`` panels on rows of at most ``ncols``, and the axes used."""
    from matplotlib.figure import Figure

    ncols = min(n, ncols)
    nrows = -(-n // ncols)
    fig = Figure(figsize=(PANEL * ncols, PANEL * nrows + 0.3), layout="constrained")
    axes = fig.subplots(nrows, ncols, squeeze=False).ravel()
    for ax in axes[n:]:
        ax.set_visible(False)
    return fig, axes[:n]


def _identity_line(ax, x, y):
    both = np.concatenate([np.ravel(x), np.ravel(y)])
    lo, hi = float(np.nanmin(both)), float(np.nanmax(both))
    ax.plot([lo, hi], [lo, hi], color="0.6", lw=1, ls="--", zorder=0)


def _observed_vs_predicted(results):
    fig, axes = _grid(len(results.target_names))
    for k, (ax, t) in enumerate(zip(axes, results.target_names, strict=True)):
        y = results.y_test[:, k]
        for n, (method, pred) in enumerate(results.predictions.items()):
            # the first method (the network) is drawn on top
            ax.scatter(y, pred[:, k], s=6, alpha=0.5, color=f"C{n}", zorder=-n,
                       label=f"{method} (r2 {results.test_r2[method][k]:.3f})")
        _identity_line(ax, y, [p[:, k] for p in results.predictions.values()])
        ax.set(title=str(t), xlabel="observed", ylabel="predicted")
        ax.legend(fontsize=7, loc="upper left")
    fig.suptitle(f"Test samples (n = {results.n_test}): observed against predicted")
    return fig


def _additive_effects(results):
    truth = results.additive.get(TRUTH)
    estimates = {m: a for m, a in results.additive.items() if m != TRUTH}
    fig, axes = _grid(len(results.target_names))
    for k, (ax, t) in enumerate(zip(axes, results.target_names, strict=True)):
        for n, (method, a) in enumerate(estimates.items()):
            if truth is not None:
                ax.scatter(truth[k], a[k], s=12, alpha=0.7, color=f"C{n}", label=method)
            else:
                ax.plot(a[k], ".", ms=4, alpha=0.8, color=f"C{n}", label=method)
        if truth is not None:
            _identity_line(ax, truth[k], [a[k] for a in estimates.values()])
            ax.set(xlabel="true additive effect", ylabel="estimated")
        else:
            ax.axhline(0, color="0.6", lw=1)
            ax.set(xlabel="locus (file order)", ylabel="additive effect")
        ax.set_title(str(t))
        ax.legend(fontsize=7, loc="upper left")
    fig.suptitle("Additive effects" + (" against the truth" if truth is not None else ""))
    return fig


def _heatmap_loci(matrices, p):
    """Loci to show: all, or those of the strongest pairs when there are too many."""
    if p <= MAX_HEATMAP_LOCI:
        return np.arange(p)
    chosen = []
    for i, j, _ in (rank_pairs(E, top=4 * MAX_HEATMAP_LOCI) for E in matrices):
        for locus in np.column_stack([i, j]).ravel():
            if locus not in chosen:
                chosen.append(locus)
    return np.sort(np.array(chosen[:MAX_HEATMAP_LOCI]))


def _epistasis_heatmap(results, k):
    from matplotlib.figure import Figure

    panels = {m: E[k] for m, E in results.epistasis.items()}
    p = len(results.feature_names)
    loci = _heatmap_loci(list(panels.values()), p)
    fig = Figure(figsize=(PANEL * 1.4 * len(panels) + 0.8, PANEL * 1.4), layout="constrained")
    axes = fig.subplots(1, len(panels), squeeze=False).ravel()
    vmax = max(float(np.abs(E[np.ix_(loci, loci)]).max()) for E in panels.values()) or 1.0
    for ax, (method, E) in zip(axes, panels.items(), strict=True):
        image = ax.imshow(E[np.ix_(loci, loci)], cmap="RdBu_r", vmin=-vmax, vmax=vmax,
                          interpolation="nearest")
        ax.set_title(f"{results.target_names[k]}: {method}")
        if len(loci) <= 32:
            labels = [str(results.feature_names[i]) for i in loci]
            ax.set_xticks(range(len(loci)), labels, rotation=90, fontsize=6)
            ax.set_yticks(range(len(loci)), labels, fontsize=6)
        else:
            ax.set(xlabel="locus", ylabel="locus")
    fig.colorbar(image, ax=list(axes), shrink=0.8, label="pairwise effect e_ij")
    if len(loci) < p:
        fig.supxlabel(f"{len(loci)} of {p} loci shown: those of the strongest pairs")
    return fig


def _variance_components(results):
    from matplotlib.figure import Figure

    keys = [c for c in ("additive", "epistatic", "genetic")
            if any(c in vc for vc in results.variance_components.values())]
    traits = [str(t) for t in results.target_names]
    methods = list(results.variance_components)
    fig = Figure(figsize=(max(4.0, 0.9 * len(traits) * len(methods) / 2) * len(keys) / 1.5,
                          PANEL + 0.3), layout="constrained")
    axes = fig.subplots(1, len(keys), squeeze=False).ravel()
    width = 0.8 / len(methods)
    x = np.arange(len(traits))
    for ax, key in zip(axes, keys, strict=True):
        for n, method in enumerate(methods):
            vc = results.variance_components[method]
            if key in vc:
                ax.bar(x + (n - (len(methods) - 1) / 2) * width, vc[key], width,
                       label=method, color=COLORS.get(method, f"C{n}"))
        ax.set_xticks(x, traits, rotation=45 if len(traits) > 6 else 0)
        ax.set_title(f"{COMPONENTS[key]} ({key})")
        ax.axhline(0, color="0.4", lw=0.8)
    fig.legend(*axes[0].get_legend_handles_labels(), loc="outside right upper", fontsize=8)
    fig.suptitle("Variance components on the training samples")
    return fig


def _save_figures(results, directory):
    """Draw and save every figure; returns (key, file name) pairs."""
    figures = [
        ("observed_vs_predicted", "observed_vs_predicted.png", _observed_vs_predicted),
        ("additive_effects", "additive_effects.png", _additive_effects),
        ("variance_components", "variance_components.png", _variance_components),
    ]
    for k, t in enumerate(results.target_names):
        figures.append(
            (f"epistasis_{k}", f"epistasis_{k + 1}_{_slug(t)}.png",
             lambda r, k=k: _epistasis_heatmap(r, k))
        )
    saved = []
    # trait and locus names are text: a "$" in one must not start mathtext
    import matplotlib

    with matplotlib.rc_context({"text.parse_math": False}):
        for key, name, draw in figures:
            draw(results).savefig(directory / name, dpi=110)
            saved.append((key, name))
    return saved
