"""What :class:`~sklearn_elm.ELMDecomposer` accepts as ``X``, and how it is checked.

An ``X`` in memory (an array, a list, a DataFrame) goes through scikit-learn's
``validate_data``.  A lazy ``X``, read in sample blocks, is checked by its
shape and dtype alone, so that no genotype is read to validate it; the values
are checked block by block as the network's inputs are made
(:func:`~sklearn_elm._streaming.iter_inputs`).  Lazy are a dask array and an
array that reads samples where indexed and says so with a ``to_dask`` method,
such as :func:`~sklearn_elm.datasets.open_plink`'s.
"""

import math
import warnings
from contextlib import contextmanager

import numpy as np
from sklearn.utils.validation import (
    _check_feature_names,
    _check_n_features,
    _check_y,
    check_consistent_length,
    validate_data,
)

from ._decomposition import NEED_Y
from ._streaming import first_step_tags, is_dask

__all__ = ["check_lazy", "is_dask", "is_lazy", "passed_on", "validate_fit", "validate_passed_on"]


def is_lazy(X):
    """Whether ``X`` is read in sample blocks: a dask array, or an array with ``to_dask``.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_elm._inputs import is_lazy
    >>> is_lazy(np.zeros((2, 3)))
    False
    """
    if is_dask(X):
        return True
    return callable(getattr(X, "to_dask", None)) and hasattr(X, "shape") and hasattr(
        X, "__getitem__")


def check_lazy(estimator, X, *, reset):
    """Check a lazy ``X`` by its shape and dtype, reading nothing; set or check
    ``n_features_in_`` as ``validate_data`` does.  A dask array comes back with its
    loci in one chunk, so that each task holds whole samples.

    Examples
    --------
    >>> import dask.array as da
    >>> from sklearn.base import BaseEstimator
    >>> from sklearn_elm._inputs import check_lazy
    >>> estimator = BaseEstimator()
    >>> check_lazy(estimator, da.zeros((10, 4), chunks=(5, 2)), reset=True).chunks
    ((5, 5), (4,))
    >>> estimator.n_features_in_
    4
    """
    shape = tuple(X.shape)
    what = f"{type(X).__name__} of shape {shape}"
    if len(shape) != 2:
        raise ValueError(f"Expected a 2-D array (n_samples, n_features), got a {what}.")
    if any(isinstance(size, float) and math.isnan(size) for size in shape):
        raise ValueError(
            f"The dask array's chunk sizes are unknown ({what}); call "
            "X.compute_chunk_sizes() (or give the chunks) before decomposing it."
        )
    for size, name in zip(shape, ("sample", "feature"), strict=True):
        if size < 1:
            raise ValueError(
                f"Found array with 0 {name}(s) (shape={shape}) while a minimum of 1 is "
                "required."
            )
    dtype = np.dtype(X.dtype)
    if not (np.issubdtype(dtype, np.number) or dtype.kind == "b"):
        raise ValueError(
            f"X has dtype {dtype}: a lazy X must hold numbers (allele counts); convert it "
            "before decomposing."
        )
    _check_feature_names(estimator, X, reset=reset)
    _check_n_features(estimator, X, reset=reset)
    if is_dask(X) and len(X.chunks[1]) > 1:
        X = X.rechunk({1: -1})
    return X


def _allow_nan(estimator):
    """Let NaN through only to an estimator that handles it (e.g. GenotypeEncoder,
    also as the first step of a pipeline)."""
    return "allow-nan" if first_step_tags(estimator).input_tags.allow_nan else True


def _passed_on(X, checked):
    """What the inner estimator gets: a DataFrame as such (its column names may select
    columns in a pipeline), anything else as the validated array."""
    return X if hasattr(X, "iloc") else checked


def _check_without_y(decomposer):
    """Refuse a fit without ``y`` where the settings need it."""
    if not decomposer.prefit:
        raise ValueError(
            "ELMDecomposer requires y to be passed, but the target y is None: "
            "y is needed to fit the estimator (or pass a fitted one with "
            "prefit=True)."
        )
    for name in ("epistasis", "components"):
        value = getattr(decomposer, name)
        if value in NEED_Y[name]:
            raise ValueError(
                f"{name}='{value}' fits the trait through the network's residuals "
                "y - f(x) and needs y; pass y, or epistasis='regression' and "
                "components='network' for what the network alone has learnt."
            )


def target_names(y):
    """The traits' names: a pandas DataFrame's column names, or a Series' name, where they
    are distinct strings; else None (a dask array's ``name`` is its task's, not a trait's).

    Examples
    --------
    >>> import pandas as pd
    >>> from sklearn_elm._inputs import target_names
    >>> target_names(pd.DataFrame({"height": [1.0], "yield": [2.0]})).tolist()
    ['height', 'yield']
    >>> target_names(pd.Series([1.0], name="height")).tolist(), target_names([1.0])
    (['height'], None)
    >>> target_names(pd.DataFrame([[1.0, 2.0]], columns=["h", "h"])) is None
    True
    """
    if not hasattr(y, "iloc"):  # pandas' (a dask array has a name too)
        return None
    names = list(y.columns) if hasattr(y, "columns") else [getattr(y, "name", None)]
    if all(isinstance(name, str) for name in names) and len(set(names)) == len(names):
        return np.asarray(names, dtype=object)
    return None


def validate_fit(decomposer, X, y):
    """``(X as the inner estimator gets it, y as float64 or None)`` for ``fit``.

    ``y`` is optional only with ``prefit=True`` and estimators that do not
    read it.  A lazy ``X`` stays lazy (:func:`check_lazy`); ``y`` is read
    into memory (a dask ``y`` is computed).
    """
    if y is None:
        _check_without_y(decomposer)
    decomposer.__dict__.pop("target_names_", None)  # an earlier fit's
    names = target_names(y)
    if names is not None:
        decomposer.target_names_ = names
    if is_lazy(X):
        X = check_lazy(decomposer, X, reset=True)
        if y is None:
            return X, None
        y = _check_y(np.asarray(y), multi_output=True, y_numeric=True, estimator=decomposer)
        check_consistent_length(X, y)
        return X, np.asarray(y, dtype=np.float64)
    finite = _allow_nan(decomposer._get_estimator())
    if y is None:
        return _passed_on(X, validate_data(decomposer, X, ensure_all_finite=finite)), None
    checked, y = validate_data(
        decomposer, X, y, ensure_all_finite=finite, multi_output=True, y_numeric=True
    )
    return _passed_on(X, checked), np.asarray(y, dtype=np.float64)


def validate_passed_on(decomposer, X):
    """``X`` checked against the fitted decomposer, as its ``estimator_`` gets it."""
    if is_lazy(X):
        return check_lazy(decomposer, X, reset=False)
    finite = _allow_nan(decomposer.estimator_)
    return _passed_on(X, validate_data(decomposer, X, ensure_all_finite=finite, reset=False))


@contextmanager
def passed_on(decomposer, X):
    """``X`` checked against the fitted decomposer (:func:`validate_passed_on`), in a context
    where its ``estimator_`` does not repeat the decomposer's warning that ``X`` has feature
    names where ``fit``'s had none, or none where it had: one warning, not one per step.

    Examples
    --------
    >>> import warnings
    >>> import numpy as np
    >>> import pandas as pd
    >>> from sklearn.pipeline import make_pipeline
    >>> from sklearn_elm import ELMDecomposer, GenotypeEncoder, NeuralGPRegressor
    >>> from sklearn_elm._inputs import passed_on
    >>> G = np.random.default_rng(0).integers(0, 2, size=(100, 3))
    >>> X = pd.DataFrame(G, columns=["a", "b", "c"])
    >>> net = make_pipeline(GenotypeEncoder(), NeuralGPRegressor(
    ...     module__hidden_sizes=(4,), max_epochs=2, random_state=0))
    >>> decomposer = ELMDecomposer(net).fit(X, G[:, 0])
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always")
    ...     with passed_on(decomposer, G) as Z:
    ...         _ = decomposer.estimator_.predict(Z)
    >>> [str(w.message)[:54] for w in caught]
    ['X does not have valid feature names, but ELMDecomposer']
    """
    warned = hasattr(X, "columns") != hasattr(decomposer, "feature_names_in_")
    X = validate_passed_on(decomposer, X)
    with warnings.catch_warnings():
        if warned:
            warnings.filterwarnings("ignore", message="X (has|does not have valid) feature names",
                                    category=UserWarning)
        yield X
