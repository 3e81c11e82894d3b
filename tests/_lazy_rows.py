"""A lazy array as ``is_lazy`` sees one, shared by the tests: read by slices of samples, never
whole."""


class LazyRows:
    """Wraps an ndarray; indexing reads it, converting or handing it to dask is an error."""

    def __init__(self, X):
        self._X, self.shape, self.dtype, self.ndim = X, X.shape, X.dtype, X.ndim

    def __getitem__(self, rows):
        return self._X[rows]

    def __array__(self, dtype=None, copy=None):
        raise AssertionError("the lazy array was read whole")

    def to_dask(self):
        raise AssertionError("the lazy array was read whole")
