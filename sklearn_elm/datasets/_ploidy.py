"""The ploidy of a genotype panel: inferred from its allele counts, or checked against them.

The readers and :func:`~sklearn_elm.datasets.load_data` share these, so that
the allele frequencies they estimate and the ploidy they report agree.
"""

import warnings

import numpy as np

__all__ = ["infer_ploidy"]

#: A panel whose 2s are fewer than this share of its genotyped cells ...
RARE_TWOS_SHARE = 0.01
#: ... and fewer than this share of the number Hardy-Weinberg proportions predict is suspect.
RARE_TWOS_OF_EXPECTED = 0.5


def _name(names, index, what):
    return repr(str(names[index])) if names is not None else f"{what} {index}"


def _first_two(twos, sample_ids, feature_names):
    """``"sample 's3' at locus 'snp7'"`` for the first cell that holds a 2, in row order."""
    row, col = np.unravel_index(int(np.argmax(twos)), twos.shape)
    return (f"sample {_name(sample_ids, row, 'row')} at locus "
            f"{_name(feature_names, col, 'column')}")


def _allele_counts(genotypes, prefix):
    """The panel as a 2-D array, refused where a cell is not 0, 1, 2 or missing (NaN).

    Integer panels keep their dtype: a float copy of a large int8 panel would
    take eight times its memory.
    """
    G = np.asarray(genotypes)
    if G.ndim != 2 or G.dtype.kind not in "biuf":
        raise ValueError(f"{prefix}genotypes must be a 2-D array of allele counts "
                         f"(samples x loci), got shape {G.shape} and dtype {G.dtype}.")
    if G.dtype.kind == "f":
        bad = ~(np.isnan(G) | (G == 0) | (G == 1) | (G == 2))
    else:
        bad = (G < 0) | (G > 2)
    if bad.any():
        row, col = np.argwhere(bad)[0]
        raise ValueError(f"{prefix}genotype {G[row, col].item()!r} in row {row}, column {col} "
                         "is not an allele count (0, 1 or 2, or missing).")
    return G


def _expected_twos(G):
    """The number of 2s a diploid panel in Hardy-Weinberg proportions would hold:
    ``sum_j n_j p_j^2``, with ``n_j`` the genotyped cells of locus ``j`` and
    ``p_j`` half their mean count."""
    if G.dtype.kind == "f":
        n = np.count_nonzero(~np.isnan(G), axis=0)
        total = np.nansum(G, axis=0)
    else:
        n = np.full(G.shape[1], G.shape[0])
        total = G.sum(axis=0, dtype=np.float64)
    p = total / np.maximum(2 * n, 1)
    return float(np.sum(n * p**2))


def infer_ploidy(genotypes, *, sample_ids=None, feature_names=None, source=None):
    """The ploidy of a panel of allele counts: 2 where it holds any 2, else 1.

    A haploid panel codes its genotypes 0/1, a diploid one 0/1/2, so a
    single 2 makes the panel diploid.  A stray 2 in a haploid table would
    thereby change the encoding of every locus, so a warning flags a panel
    whose 2s are suspiciously rare: fewer than 1 % of its genotyped cells
    *and* fewer than half the number that Hardy-Weinberg proportions at the
    panel's own allele frequencies predict for a diploid panel.  A haploid
    panel with a few stray 2s holds far fewer than predicted; a diploid
    panel of rare variants holds few 2s, but about as many as predicted, and
    is not flagged.

    Parameters
    ----------
    genotypes : array-like of shape (n_samples, n_loci)
        Allele counts 0, 1 or 2, NaN where missing.
    sample_ids : array-like of shape (n_samples,), default=None
        Sample names, used in the warning; row numbers when None.
    feature_names : array-like of shape (n_loci,), default=None
        Locus names, used in the warning; column numbers when None.
    source : str, default=None
        The file the genotypes come from, named in the messages.

    Returns
    -------
    ploidy : int
        2 if any genotype is 2, else 1.

    Raises
    ------
    ValueError
        If ``genotypes`` is not 2-D, or holds a value other than 0, 1, 2 or
        NaN.

    Warns
    -----
    UserWarning
        If the 2s are suspiciously rare (see above): the warning names how
        many cells hold a 2, the first of them, and the fix: correct those
        cells if the panel is haploid (ploidy 1 refuses them), or pass
        ``ploidy=2`` (``--ploidy 2`` on the command line) to silence it.

    See Also
    --------
    load_data : reads a panel, with ``ploidy="auto"`` inferred by this function.

    Examples
    --------
    >>> import warnings
    >>> import numpy as np
    >>> from sklearn_elm.datasets import infer_ploidy
    >>> infer_ploidy([[0, 1], [1, 1]]), infer_ploidy([[0, 2], [1, 1]])
    (1, 2)
    >>> haploid = np.tile([[0, 1], [1, 0]], (100, 1))
    >>> haploid[5, 1] = 2  # one stray 2 among 400 cells
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always")
    ...     ploidy = infer_ploidy(haploid, feature_names=["snp1", "snp2"])
    >>> ploidy
    2
    >>> print(caught[0].message)  # doctest: +ELLIPSIS
    1 of the 400 genotyped cells is 2 (sample row 5 at locus 'snp2'), ...
    """
    prefix = f"{source}: " if source else ""
    G = _allele_counts(genotypes, prefix)
    twos = G == 2
    n_twos = int(np.count_nonzero(twos))
    if n_twos == 0:
        return 1
    n_cells = G.size - (int(np.count_nonzero(np.isnan(G))) if G.dtype.kind == "f" else 0)
    expected = _expected_twos(G)
    if n_twos < RARE_TWOS_SHARE * n_cells and n_twos < RARE_TWOS_OF_EXPECTED * expected:
        verb = "is" if n_twos == 1 else "are"
        warnings.warn(
            f"{prefix}{n_twos} of the {n_cells} genotyped cells {verb} 2 "
            f"({_first_two(twos, sample_ids, feature_names)}), far fewer than a diploid panel "
            f"at these allele frequencies would hold (about {expected:.0f}): the panel is read "
            "as diploid. If it is haploid, correct those cells (ploidy 1 refuses them); if it "
            "is diploid, pass ploidy=2 (--ploidy 2 on the command line) to silence this "
            "warning.",
            UserWarning,
            stacklevel=2,
        )
    return 2


def check_ploidy_option(ploidy):
    """``ploidy`` itself, refused unless it is ``"auto"``, 1 or 2."""
    if isinstance(ploidy, str) and ploidy == "auto":
        return ploidy
    if isinstance(ploidy, bool) or not isinstance(ploidy, int | np.integer) or ploidy not in (1, 2):
        raise ValueError(f"ploidy must be 'auto', 1 or 2, got {ploidy!r}.")
    return int(ploidy)


def resolve_ploidy(genotypes, ploidy="auto", *, sample_ids=None, feature_names=None,
                   source=None):
    """``ploidy`` checked against the panel, or inferred from it where ``"auto"``.

    An explicit 1 with a 2 in the panel is a ValueError naming the first
    such cell; an explicit 2 is taken as given (a diploid panel may hold no
    homozygote of the counted allele), with a warning where no cell of the
    panel is 2 (a haploid 0/1 panel read as diploid halves its codes).
    """
    if check_ploidy_option(ploidy) == "auto":
        return infer_ploidy(genotypes, sample_ids=sample_ids, feature_names=feature_names,
                            source=source)
    twos = np.asarray(genotypes) == 2
    if ploidy == 1 and twos.any():
        more = int(np.count_nonzero(twos)) - 1
        also = f" (and {more} more)" if more else ""
        raise ValueError(
            f"{source + ': ' if source else ''}genotype 2 of "
            f"{_first_two(twos, sample_ids, feature_names)}{also} is not haploid (0 or 1), but "
            "ploidy 1 was asked for: correct those cells, or use ploidy 2 (or 'auto') if the "
            "panel is diploid."
        )
    if ploidy == 2 and twos.size and not twos.any():
        warnings.warn(
            f"{source + ': ' if source else ''}ploidy 2 was asked for, but no genotype of the "
            f"{twos.size} is 2: if the panel is haploid (0/1), use ploidy 1 (or 'auto'), or "
            "its codes and effects are read on the diploid scale.", UserWarning, stacklevel=3)
    return int(ploidy)
