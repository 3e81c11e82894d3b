"""The published train/test split, shared by the readers and the simulator."""

import numpy as np

#: Share of the samples, counted from the first, that the published split trains on.
TRAIN_SHARE = 0.85


def published_split(n_samples):
    """The train mask of the published split: the first 85 % of the samples.

    The reference data were split this way, by position, so every reader and
    the simulator mark ``round(0.85 * n_samples)`` leading samples as train
    and the rest as test.

    Parameters
    ----------
    n_samples : int
        Number of samples.

    Returns
    -------
    train : ndarray of shape (n_samples,), bool
        True for the first ``round(0.85 * n_samples)`` samples.

    Examples
    --------
    >>> from sklearn_elm.datasets._split import published_split
    >>> published_split(10).astype(int)
    array([1, 1, 1, 1, 1, 1, 1, 1, 0, 0])
    """
    return np.arange(n_samples) < int(round(TRAIN_SHARE * n_samples))
