"""The report's figures, drawn from an :class:`~sklearn_elm.workflow.Analysis`.

Each function returns a matplotlib ``Figure`` (no pyplot state); the caller
saves it.  Trait and locus names are text: a ``$`` in one must not start
mathtext, so figures are saved under ``text.parse_math = False``.
"""

import numpy as np

from .._components import COMPONENTS
from .._pairs import dense_pairs
from ._inference import (
    component_errors,
    fdr_label,
    minus_log10,
    qq_points,
    significant_rows,
    tested_pairs,
)
from ._ranking import rank_pairs

__all__ = ["additive_effects", "epistasis_heatmap", "manhattan", "observed_vs_predicted",
           "pair_qq", "save", "variance_components"]

TRUTH = "truth"
PANEL = 3.3  # inches per subplot
MIN_WIDTH = 5.5  # inches
MAX_HEATMAP_LOCI = 80
COLORS = {"truth": "0.25"}


def _grid(n, ncols=5):
    """A figure with ``n`` panels on rows of at most ``ncols``, and the axes used."""
    from matplotlib.figure import Figure

    ncols = min(n, ncols)
    nrows = -(-n // ncols)
    # wide enough for the title above a single panel
    fig = Figure(figsize=(max(PANEL * ncols, MIN_WIDTH), PANEL * nrows + 0.3),
                 layout="constrained")
    axes = fig.subplots(nrows, ncols, squeeze=False).ravel()
    for ax in axes[n:]:
        ax.set_visible(False)
    return fig, axes[:n]


def _identity_line(ax, x, y):
    both = np.concatenate([np.ravel(x), np.ravel(y)])
    lo, hi = float(np.nanmin(both)), float(np.nanmax(both))
    ax.plot([lo, hi], [lo, hi], color="0.6", lw=1, ls="--", zorder=0)


def observed_vs_predicted(analysis):
    """Each trait's test phenotypes against every method's prediction of them."""
    fig, axes = _grid(len(analysis.target_names))
    for k, (ax, t) in enumerate(zip(axes, analysis.target_names, strict=True)):
        y = analysis.y_test[:, k]
        for n, (method, pred) in enumerate(analysis.predictions.items()):
            # the first method (the network) is drawn on top
            ax.scatter(y, pred[:, k], s=6, alpha=0.5, color=f"C{n}", zorder=-n,
                       label=f"{method} (r2 {analysis.test_r2[method][k]:.3f})")
        _identity_line(ax, y, [p[:, k] for p in analysis.predictions.values()])
        ax.set(title=str(t), xlabel="observed", ylabel="predicted")
        ax.legend(fontsize=7, loc="upper left")
    fig.suptitle(f"Test samples (n = {analysis.n_test}): observed against predicted")
    return fig


def genome_coordinates(chromosomes, positions, gap=0.02):
    """Loci along one axis, chromosome after chromosome (in order of first appearance).

    Parameters
    ----------
    chromosomes : array-like of shape (p,)
    positions : array-like of shape (p,)
        Base-pair positions.
    gap : float, default=0.02
        Space between chromosomes, as a share of the total span.

    Returns
    -------
    x : ndarray of shape (p,)
        Each locus's coordinate.
    ticks : list of (float, str)
        The middle of each chromosome and its name.

    Examples
    --------
    >>> from sklearn_elm._report._figures import genome_coordinates
    >>> x, ticks = genome_coordinates(["1", "1", "2"], [100, 300, 50], gap=0.0)
    >>> x.tolist(), ticks
    ([0.0, 200.0, 201.0], [(100.0, '1'), (201.0, '2')])
    """
    chromosomes = np.asarray(chromosomes).astype(str)
    positions = np.asarray(positions, dtype=np.float64)
    names = list(dict.fromkeys(chromosomes))
    spans = {c: float(np.ptp(positions[chromosomes == c])) + 1 for c in names}
    space = gap * sum(spans.values())
    x, ticks, offset = np.empty_like(positions), [], 0.0
    for c in names:
        on = chromosomes == c
        x[on] = positions[on] - positions[on].min() + offset
        ticks.append((float(offset + (spans[c] - 1) / 2), str(c)))
        offset += spans[c] + space
    return x, ticks


def additive_effects(analysis):
    """Additive effects per trait: against the truth where known; otherwise along the genome
    where positions are known (Manhattan style), by locus in file order where not."""
    truth = analysis.additive.get(TRUTH)
    estimates = {m: a for m, a in analysis.additive.items() if m != TRUTH}
    x, ticks = np.arange(len(analysis.feature_names)), None
    if _mapped(analysis):
        x, ticks = genome_coordinates(analysis.chromosomes, analysis.positions)
    fig, axes = _grid(len(analysis.target_names))
    for k, (ax, t) in enumerate(zip(axes, analysis.target_names, strict=True)):
        for n, (method, a) in enumerate(estimates.items()):
            if truth is not None:
                ax.scatter(truth[k], a[k], s=12, alpha=0.7, color=f"C{n}", label=method)
            else:
                ax.plot(x, a[k], ".", ms=4, alpha=0.8, color=f"C{n}", label=method)
        if truth is not None:
            _identity_line(ax, truth[k], [a[k] for a in estimates.values()])
            ax.set(xlabel="true additive effect", ylabel="estimated")
        elif ticks is not None:
            ax.axhline(0, color="0.6", lw=1)
            ax.set_xticks([tick for tick, _ in ticks], [name for _, name in ticks],
                          fontsize=6 if len(ticks) > 10 else None)
            ax.set(xlabel="chromosome", ylabel="additive effect")
        else:
            ax.axhline(0, color="0.6", lw=1)
            ax.set(xlabel="locus (file order)", ylabel="additive effect")
        ax.set_title(str(t))
        ax.legend(fontsize=7, loc="upper left")
    fig.suptitle("Additive effects" + (" against the truth" if truth is not None else ""))
    return fig


def _heatmap_loci(matrices, p, tested=()):
    """Loci to show: all, or those of the strongest pairs when there are too many: the first
    method's scored pairs, then the pairs it ``tested`` (by increasing p-value, as
    ``epistasis_pairs.csv`` lists them), then a later method's, each only while there is
    room (GBLUP's factored matrix is ranked tile by tile, 100 s at 50,000 loci, where a
    screened fit scores tens of pairs and tests a thousand)."""
    if p <= MAX_HEATMAP_LOCI:
        return np.arange(p)
    top = 4 * MAX_HEATMAP_LOCI
    tested = np.asarray(tested, dtype=np.intp).reshape(-1, 2)
    sources = [lambda: rank_pairs(matrices[0], top=top)[:2], lambda: tested.T,
               *(lambda E=E: rank_pairs(E, top=top)[:2] for E in matrices[1:])]
    chosen = []
    for pairs in sources:  # each source read only where the earlier ones leave room
        if len(chosen) >= MAX_HEATMAP_LOCI:
            break
        i, j = pairs()
        for locus in np.column_stack([i, j]).ravel():
            if locus not in chosen:
                chosen.append(locus)
    if not chosen:  # no method scored a pair: the first loci, all zero
        return np.arange(MAX_HEATMAP_LOCI)
    return np.sort(np.array(chosen[:MAX_HEATMAP_LOCI], dtype=np.intp))


def epistasis_heatmap(analysis, k):
    """Trait ``k``'s pair effects, one heatmap per method, on the loci of the top pairs (named
    on the axes), each on its own colour scale: GBLUP's ridge spreads its pair variance over
    every pair, so that its effects are orders of magnitude below the network's."""
    from matplotlib.figure import Figure

    panels = {m: E[k] for m, E in analysis.epistasis.items()}
    p = len(analysis.feature_names)
    loci = _heatmap_loci(list(panels.values()), p, tested_pairs(analysis, k))
    fig = Figure(figsize=(PANEL * 1.6 * len(panels) + 0.8, PANEL * 1.5), layout="constrained")
    axes = fig.subplots(1, len(panels), squeeze=False).ravel()
    labels = [str(analysis.feature_names[i]) for i in loci]
    size = 6 if len(loci) <= 32 else 3.5
    for ax, (method, E) in zip(axes, panels.items(), strict=True):
        shown = dense_pairs(E[np.ix_(loci, loci)])  # a sparse block densified
        np.fill_diagonal(shown, 0.0)  # z_i^2 is no pair (GBLUP's factored matrix has one)
        vmax = float(np.abs(shown).max()) or 1.0
        image = ax.imshow(shown, cmap="RdBu_r", vmin=-vmax, vmax=vmax, interpolation="nearest")
        ax.set_title(f"{analysis.target_names[k]}: {method}")
        ax.set_xticks(range(len(loci)), labels, rotation=90, fontsize=size)
        ax.set_yticks(range(len(loci)), labels, fontsize=size)
        fig.colorbar(image, ax=ax, shrink=0.7, label="pairwise effect e_ij")
    if len(loci) < p:
        fig.supxlabel(f"{len(loci)} of {p} loci shown: those of the top pairs "
                      "(epistasis_pairs.csv)")
    return fig


def variance_components(analysis):
    """V_A, V_AA and V_G per trait, one bar per method, with its 95 % interval (1.96
    standard errors either side) where the standard error is known."""
    from matplotlib.figure import Figure

    keys = [c for c in ("additive", "epistatic", "genetic")
            if any(c in vc for vc in analysis.variance_components.values())]
    traits = [str(t) for t in analysis.target_names]
    methods = list(analysis.variance_components)
    fig = Figure(figsize=(max(4.0, 0.9 * len(traits) * len(methods) / 2) * len(keys) / 1.5,
                          PANEL + 0.3), layout="constrained")
    axes = fig.subplots(1, len(keys), squeeze=False).ravel()
    width = 0.8 / len(methods)
    x = np.arange(len(traits))
    for ax, key in zip(axes, keys, strict=True):
        for n, method in enumerate(methods):
            vc = analysis.variance_components[method]
            if key in vc:
                se = component_errors(analysis, method)[key]
                ax.bar(x + (n - (len(methods) - 1) / 2) * width, vc[key], width,
                       label=method, color=COLORS.get(method, f"C{n}"),
                       yerr=1.96 * se, capsize=2,  # NaN: no interval drawn
                       error_kw={"lw": 0.8})
        ax.set_xticks(x, traits, rotation=45 if len(traits) > 6 else 0)
        ax.set_title(f"{COMPONENTS[key]} ({key})")
        ax.axhline(0, color="0.4", lw=0.8)
    fig.legend(*axes[0].get_legend_handles_labels(), loc="outside right upper", fontsize=8)
    fig.suptitle("Variance components on the training samples, with 95 % intervals")
    return fig


def _mapped(analysis):
    """Whether the loci's positions are known: given, and every one above 0 (PLINK writes 0
    for an unknown position, and so do writers that are given none)."""
    positions = analysis.positions
    return positions is not None and bool(np.all(np.asarray(positions, dtype=np.float64) > 0))


def _locus_axis(analysis):
    """Each locus's x (along the genome where positions are known, else its index), the
    chromosome ticks (or None) and a 0/1 band per chromosome for alternating colours."""
    p = len(analysis.feature_names)
    if not _mapped(analysis):
        return np.arange(p), None, np.zeros(p, dtype=int)
    x, ticks = genome_coordinates(analysis.chromosomes, analysis.positions)
    _, first, inverse = np.unique(np.asarray(analysis.chromosomes).astype(str),
                                  return_index=True, return_inverse=True)
    order = np.argsort(np.argsort(first))  # each chromosome's place in the file
    return x, ticks, order[inverse] % 2


def _underflow_note(ax, p_values):
    """Say how many p-values underflowed to 0 (drawn at the smallest double, 1e-308)."""
    count = int(np.sum(np.asarray(p_values) == 0))
    if count:
        ax.text(0.01, 0.98, f"{count} at p < 1e-300 (float64's least), drawn at 308",
                transform=ax.transAxes, fontsize=7, va="top")


def manhattan(analysis, k):
    """Trait ``k``'s Manhattan plot: ``-log10 p`` of each locus's slope on the trait, one
    locus at a time (the decomposer's ``marginal_pvalues_``, as a genome-wide scan reports
    it), along the loci, with Bonferroni's 5 % line at ``0.05 / p``.

    One rasterized scatter of every locus, so that 12,000 loci draw as fast as 64.
    """
    from matplotlib.figure import Figure

    p = len(analysis.feature_names)
    fig = Figure(figsize=(min(MIN_WIDTH + p / 500, 11.0), PANEL), layout="constrained")
    ax = fig.subplots()
    trait = str(analysis.target_names[k])
    line = -np.log10(0.05 / p)
    pvalues = None if analysis.marginal_pvalues is None else analysis.marginal_pvalues[k]
    if pvalues is None or np.isnan(pvalues).all():
        ax.text(0.5, 0.5, "no locus tested", ha="center", va="center", transform=ax.transAxes)
    else:
        from matplotlib.colors import to_rgba_array

        x, ticks, colour = _locus_axis(analysis)
        y = minus_log10(pvalues)
        colour[y > line] = 2  # past the line
        ax.scatter(x, y, s=8 if p <= 1000 else 3, linewidths=0, rasterized=True,
                   c=to_rgba_array(["C0", "0.55", "C3"])[colour])
        ax.axhline(line, color="C3", lw=1, ls="--",
                   label=f"Bonferroni 5 % (p = 0.05 / {p})")
        _underflow_note(ax, pvalues)
        ax.legend(fontsize=7, loc="upper right")
        if ticks is not None:
            ax.set_xticks([tick for tick, _ in ticks], [name for _, name in ticks],
                          fontsize=6 if len(ticks) > 10 else None)
        # head room for the legend above the highest locus
        ax.set_ylim(bottom=0, top=max(float(np.nanmax(y)), line) * 1.2)
    ax.set(xlabel="chromosome" if _mapped(analysis) else "locus (file order)",
           ylabel="-log10 p", title=f"{trait}: tests of the loci's additive effects")
    return fig


def pair_qq(analysis):
    """QQ plot of the pair p-values, one panel per trait: the observed ``-log10 p`` of
    rank ``r`` against its expectation under the null, ``-log10((r - 0.5) / n_tests)``.

    Only the smallest p-values are stored, which is why the expected quantiles count
    every pair tested (``n_tests``); the pairs significant at the FDR are marked.
    """
    fig, axes = _grid(len(analysis.target_names))
    for k, (ax, t) in enumerate(zip(axes, analysis.target_names, strict=True)):
        tests = None if analysis.pair_tests is None else analysis.pair_tests[k]
        ax.set(title=str(t), xlabel="expected -log10 p", ylabel="observed -log10 p")
        if tests is None or len(tests.p_value) == 0:
            ax.text(0.5, 0.5, "no pair tested", ha="center", va="center",
                    transform=ax.transAxes)
            continue
        expected, observed = qq_points(tests)
        # the listed pairs, which need not be the first (a pair that adds nothing beside
        # its competitors is dropped from the list)
        table = significant_rows(analysis, k)[0][1]
        listed = set() if table is None else set(zip(np.asarray(table["i"]).tolist(),
                                                     np.asarray(table["j"]).tolist(),
                                                     strict=True))
        pairs = np.asarray(tests.pairs).reshape(-1, 2)[np.argsort(tests.p_value, kind="stable")]
        found = np.array([(int(i), int(j)) in listed for i, j in pairs], dtype=bool)
        ax.scatter(expected[~found], observed[~found], s=8, color="C0", linewidths=0,
                   rasterized=True, label="not significant")
        ax.scatter(expected[found], observed[found], s=10, color="C3", linewidths=0,
                   rasterized=True, label=f"{fdr_label(analysis)}: {int(found.sum())}")
        ax.axline((0, 0), slope=1, color="0.6", lw=1, ls="--", zorder=0)
        _underflow_note(ax, tests.p_value)
        ax.set_xlim(left=0)
        # head room for the note on p-values below float64's least
        ax.set_ylim(bottom=0, top=1.15 * float(max(observed.max(), expected.max())))
        shown = (f"all {tests.n_tests} pairs" if len(expected) == tests.n_tests
                 else f"smallest {len(expected)} of {tests.n_tests} pairs")
        ax.set_title(f"{t}: {shown}", fontsize=9)
        ax.legend(fontsize=7, loc="lower right")
    fig.suptitle("Pair p-values against the uniform (QQ plot)")
    return fig


def save(draw, path):
    """Draw a figure with ``draw()`` and save it as a PNG, names drawn as plain text."""
    import matplotlib

    with matplotlib.rc_context({"text.parse_math": False}):
        draw().savefig(path, dpi=110)
