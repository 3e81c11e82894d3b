"""GenotypeEncoder: allele dosages to the centred coding the ELM works on."""

import copy
from numbers import Integral

import numpy as np
from sklearn.base import BaseEstimator, OneToOneFeatureMixin, TransformerMixin, _fit_context
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils._set_output import _get_output_config
from sklearn.utils.validation import check_is_fitted, validate_data

from ._chunks import EncodedRows, chunk_rows
from ._inputs import check_lazy, is_lazy
from ._streaming import _row_blocks, is_dask


def check_genotype_alphabet(X, ploidy, feature_names=None, encoder=False):
    """Raise a ValueError naming the first column with a value outside ``0..ploidy``.

    NaN is allowed (it marks a missing genotype).

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_loci)
        Allele dosages.
    ploidy : int or "auto"
        Largest allowed dosage (1 haploid, 2 diploid; ``"auto"``: 2, either ploidy).
    feature_names : array-like of str, default=None
        Column names used in the message.
    encoder : bool, default=False
        Whether :class:`GenotypeEncoder` checks its input: a -1 is then named as what it
        most likely is, a code already centred (-1/+1), encoded twice.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_elm._encoding import check_genotype_alphabet
    >>> check_genotype_alphabet(np.array([[0.0, 1.0], [1.0, np.nan]]), 1)
    >>> check_genotype_alphabet(np.array([[0.0, 2.0]]), 1)
    Traceback (most recent call last):
    ...
    ValueError: column 1 ('x1') holds 2.0, which is not a haploid genotype (allowed: 0, 1 or NaN).
    >>> check_genotype_alphabet(np.array([[-1.0, 1.0]]), "auto", encoder=True)
    Traceback (most recent call last):
    ...
    ValueError: column 0 ('x0') holds -1.0, which is not an allele dosage (allowed: 0, 1 or 2 ...
    """
    detect, ploidy = ploidy == "auto", 2 if ploidy == "auto" else ploidy
    if X.dtype.kind in "iu":  # boolean masks only: no wider copy of a large integer panel
        bad = (X < 0) | (X > ploidy)
    else:
        allowed = np.isnan(X)
        for value in range(ploidy + 1):
            allowed |= X == value
        bad = ~allowed
    if bad.any():
        row, col = np.argwhere(bad)[0]
        name = feature_names[col] if feature_names is not None else f"x{col}"
        value = float(X[row, col])
        what = ("an allele dosage (allowed: 0, 1 or 2 allele copies, or NaN)" if detect else
                f"a {'haploid' if ploidy == 1 else 'diploid'} genotype (allowed: "
                f"{', '.join(str(v) for v in range(ploidy + 1))} or NaN)")
        encoded = ("  Codes of -1 and +1 are genotypes already encoded: give them to the "
                   "network itself, not to GenotypeEncoder (ELMDecomposer's default estimator "
                   "holds one).") if encoder and value == -1 else ""
        raise ValueError(f"column {col} ({name!r}) holds {value!r}, which is not {what}.{encoded}")


#: The dtypes the encoder reads as they are (integer panels, e.g. PLINK's int8, are not copied
#: to float64 first); any other is converted to the first.
_DOSAGE_DTYPES = [np.float64, np.float32, np.int8, np.uint8, np.int16, np.int32, np.int64]


class GenotypeEncoder(OneToOneFeatureMixin, TransformerMixin, BaseEstimator):
    """Encode allele dosages on the centred scale of the genetic model.

    A haploid locus coded 0/1 is treated as a doubled dosage 0/2, so one
    formula serves both ploidies: ``z = d - 1`` with ``center="mid"``
    (haploid 0/1 -> -1/+1, diploid 0/1/2 -> -1/0/+1) and ``z = d - 2 p``
    with ``center="mean"``, where ``d = g * 2 / ploidy`` is the dosage and
    ``p`` the allele frequency estimated in ``fit``.  Missing genotypes (NaN)
    are imputed with the locus mean of the fitted data, on the encoded scale.

    Parameters
    ----------
    ploidy : {"auto", 1, 2}, default="auto"
        1 for haploid 0/1 data, 2 for diploid 0/1/2 dosages; ``"auto"``
        infers 2 if any dosage of 2 is present in ``fit`` and 1 otherwise
        (so diploid data with no homozygote of allele 1 look haploid: set the
        ploidy explicitly when it is known).
    center : {"mid", "mean"}, default="mid"
        ``"mid"`` subtracts the midpoint of the dosage range, ``"mean"`` the
        fitted mean dosage ``2 p`` (VanRaden centring).

    Attributes
    ----------
    ploidy_ : int
        The ploidy used.
    allele_frequencies_ : ndarray of shape (`n_features_in_`,)
        Frequency of allele 1 per locus in the fitted data (NaN ignored).
    offset_ : ndarray of shape (`n_features_in_`,)
        What is subtracted from the dosage: 1 or ``2 p``.
    n_features_in_ : int
        Number of loci seen in ``fit``.
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Locus names, when ``X`` has string column names.

    See Also
    --------
    sklearn_elm.NeuralGPRegressor : the network usually fitted on the encoding.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_elm import GenotypeEncoder
    >>> GenotypeEncoder().fit_transform(np.array([[0, 1], [1, 1]]))
    array([[-1.,  1.],
           [ 1.,  1.]])
    >>> GenotypeEncoder(center="mean").fit_transform(np.array([[0.0, 2.0], [2.0, np.nan]]))
    array([[-1.,  0.],
           [ 1.,  0.]])
    """

    _parameter_constraints = {
        "ploidy": [StrOptions({"auto"}), Interval(Integral, 1, 2, closed="both")],
        "center": [StrOptions({"mid", "mean"})],
    }

    def __init__(self, ploidy="auto", center="mid"):
        self.ploidy = ploidy
        self.center = center

    def _check_alphabet(self, X, ploidy):
        check_genotype_alphabet(X, ploidy, getattr(self, "feature_names_in_", None), True)

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Learn the ploidy and allele frequencies of the loci.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_loci)
            Allele dosages: 0/1 (haploid) or 0/1/2 (diploid), NaN for missing.
            A lazy array (a dask array or an
            :func:`~sklearn_elm.datasets.open_plink` file) is read a block of
            samples at a time.
        y : None
            Ignored.

        Returns
        -------
        self : GenotypeEncoder
            The fitted encoder.
        """
        if is_lazy(X):
            X = check_lazy(self, X, reset=True)
            blocks = (np.asarray(block, dtype=np.float64) for block in
                      _row_blocks(X, chunk_rows(X.shape[1], 1)))
        else:
            blocks = [validate_data(self, X, dtype=_DOSAGE_DTYPES, ensure_all_finite="allow-nan")]
        # one pass over the samples, a block at a time for a lazy X
        largest, total, count = 0.0, 0.0, 0
        for block in blocks:
            largest = max(largest, float(np.nanmax(block, initial=0)))
            # the same as checking with the inferred ploidy: 1 only where no 2 is seen
            self._check_alphabet(block, self.ploidy)
            total = total + np.nansum(block, axis=0)
            count = count + np.sum(~np.isnan(block), axis=0)
        ploidy = (2 if largest > 1 else 1) if self.ploidy == "auto" else self.ploidy
        empty = np.flatnonzero(count == 0)
        if empty.size:
            names = getattr(self, "feature_names_in_", None)
            name = names[empty[0]] if names is not None else f"x{empty[0]}"
            raise ValueError(
                f"column {empty[0]} ({name!r}) is entirely missing: its allele "
                "frequency, and so its imputed value, is undefined."
            )
        self.ploidy_ = ploidy
        self.allele_frequencies_ = total / count / ploidy
        self.offset_ = (
            np.ones(self.n_features_in_) if self.center == "mid" else 2 * self.allele_frequencies_
        )
        return self

    def transform(self, X):
        """Encode dosages; missing values get the fitted locus mean.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_loci)
            Allele dosages with the fitted ploidy's alphabet, NaN for missing.

        Returns
        -------
        Z : ndarray of shape (n_samples, n_loci)
            ``z = g * 2 / ploidy - offset_``.  For a lazy ``X`` a lazy array
            that encodes samples where they are read: a dask array for a
            dask array, else an ``EncodedRows`` view.
        """
        check_is_fitted(self)
        if is_lazy(X):
            X = check_lazy(self, X, reset=False)
            container = _get_output_config("transform", self)["dense"]
            if container != "default":
                raise ValueError(
                    f"set_output(transform='{container}') would read the lazy X whole into a "
                    "DataFrame; use set_output(transform='default') to encode it lazily, or "
                    "read it into memory first (np.asarray(X))."
                )
            # a copy: the lazy result encodes as this encoder does now, even if it is refitted
            encoder = copy.deepcopy(self)
            if is_dask(X):
                return X.map_blocks(encoder.transform, dtype=np.float64,
                                    meta=np.empty((0, 0), dtype=np.float64))
            return EncodedRows(X, encoder, self.n_features_in_)
        X = validate_data(self, X, dtype=_DOSAGE_DTYPES, ensure_all_finite="allow-nan",
                          reset=False)
        self._check_alphabet(X, self.ploidy_)
        # one float64 array beside X (an int8 panel: an eighth of it), no temporary
        Z = np.multiply(X, 2.0 / self.ploidy_, dtype=np.float64)
        Z -= self.offset_
        missing = np.isnan(X) if X.dtype.kind == "f" else None  # integers have no NaN
        if missing is not None and missing.any():
            # the mean dosage is 2p, so its encoded value is 2p - offset
            fill = 2 * self.allele_frequencies_ - self.offset_
            Z[missing] = np.broadcast_to(fill, Z.shape)[missing]
        return Z

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        return tags
