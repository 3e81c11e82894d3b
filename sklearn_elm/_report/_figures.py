"""The report's figures, drawn from an :class:`~sklearn_elm.workflow.Analysis`.

Each function returns a matplotlib ``Figure`` (no pyplot state); the caller
saves it.  Trait and locus names are text: a ``$`` in one must not start
mathtext, so figures are saved under ``text.parse_math = False``.
"""

import numpy as np

from .._components import COMPONENTS
from ._tables import rank_pairs

__all__ = ["additive_effects", "epistasis_heatmap", "observed_vs_predicted",
           "save", "variance_components"]

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
    if analysis.positions is not None:
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


def _heatmap_loci(matrices, p):
    """Loci to show: all, or those of the strongest pairs when there are too many."""
    if p <= MAX_HEATMAP_LOCI:
        return np.arange(p)
    chosen = []
    for i, j, _ in (rank_pairs(E, top=4 * MAX_HEATMAP_LOCI) for E in matrices):
        for locus in np.column_stack([i, j]).ravel():
            if locus not in chosen:
                chosen.append(locus)
    if not chosen:  # no method scored a pair: the first loci, all zero
        return np.arange(MAX_HEATMAP_LOCI)
    return np.sort(np.array(chosen[:MAX_HEATMAP_LOCI], dtype=np.intp))


def epistasis_heatmap(analysis, k):
    """Trait ``k``'s pair effects, one heatmap per method, on the loci of the top pairs."""
    from matplotlib.figure import Figure

    panels = {m: E[k] for m, E in analysis.epistasis.items()}
    p = len(analysis.feature_names)
    loci = _heatmap_loci(list(panels.values()), p)
    fig = Figure(figsize=(PANEL * 1.4 * len(panels) + 0.8, PANEL * 1.4), layout="constrained")
    axes = fig.subplots(1, len(panels), squeeze=False).ravel()
    vmax = max(float(np.abs(E[np.ix_(loci, loci)]).max()) for E in panels.values()) or 1.0
    for ax, (method, E) in zip(axes, panels.items(), strict=True):
        image = ax.imshow(E[np.ix_(loci, loci)], cmap="RdBu_r", vmin=-vmax, vmax=vmax,
                          interpolation="nearest")
        ax.set_title(f"{analysis.target_names[k]}: {method}")
        if len(loci) <= 32:
            labels = [str(analysis.feature_names[i]) for i in loci]
            ax.set_xticks(range(len(loci)), labels, rotation=90, fontsize=6)
            ax.set_yticks(range(len(loci)), labels, fontsize=6)
        else:
            ax.set(xlabel="locus", ylabel="locus")
    fig.colorbar(image, ax=list(axes), shrink=0.8, label="pairwise effect e_ij")
    if len(loci) < p:
        fig.supxlabel(f"{len(loci)} of {p} loci shown: those of the strongest pairs")
    return fig


def variance_components(analysis):
    """V_A, V_AA and V_G per trait, one bar per method."""
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
                ax.bar(x + (n - (len(methods) - 1) / 2) * width, vc[key], width,
                       label=method, color=COLORS.get(method, f"C{n}"))
        ax.set_xticks(x, traits, rotation=45 if len(traits) > 6 else 0)
        ax.set_title(f"{COMPONENTS[key]} ({key})")
        ax.axhline(0, color="0.4", lw=0.8)
    fig.legend(*axes[0].get_legend_handles_labels(), loc="outside right upper", fontsize=8)
    fig.suptitle("Variance components on the training samples")
    return fig


def save(draw, path):
    """Draw a figure with ``draw()`` and save it as a PNG, names drawn as plain text."""
    import matplotlib

    with matplotlib.rc_context({"text.parse_math": False}):
        draw().savefig(path, dpi=110)
