"""The table encoder: a DataFrame in, the network's float32 input out, learned in ``fit``.

What it learns, per column (:mod:`sknet._tabular._columns` decides the roles):

numbers
    the median (the value a missing number takes) and a robust scale: the
    interquartile range, or half the range when the IQR is 0 (a column that
    is mostly one value, such as capital gains), or 1 for a constant column;
    the output is ``(x - median) / scale`` (the network then clips it
    smoothly, :class:`sknet._tabular.TableEmbedding`). A column that had
    missing values in ``fit`` also gets a 0/1 missing-value indicator.
categories
    the levels seen at least ``min_frequency`` times, sorted; the output is
    an integer code: ``0`` for a missing value, ``1`` for a level not among
    them (unseen in ``fit``, or rare: the rare levels train the bucket that
    unseen ones fall in at ``predict``), ``k + 2`` for the k-th level.

The output columns are laid out as ``[numbers, indicators, codes]``. Neither
an unseen category nor a missing value is ever an error after ``fit``.

Why not scikit-learn's ``ColumnTransformer(OrdinalEncoder, SimpleImputer)``,
as ``HistGradientBoosting`` does: the state here is a few lists of strings
and floats, which skops loads without trusting any type but this one (the
encoders' object arrays would need more), categories are compared by their
string form whatever the column's dtype (so an ONNX graph can take them as
strings), and the robust scale's fallbacks are not available in
``RobustScaler``.
"""

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted

from ._columns import as_pandas, categorical_mask, category_values, declared_levels, numeric_values

MISSING, UNKNOWN, FIRST_LEVEL = 0, 1, 2
N_BINS = 16  # bins of the piecewise-linear numeric embedding (quantiles_)


class TableEncoder(TransformerMixin, BaseEstimator):
    """Encode a table's columns for the network (see the module docstring).

    Parameters
    ----------
    categorical_features : "from_dtype", None or array-like, default="from_dtype"
        Which columns are categorical, as in ``HistGradientBoostingClassifier``.
    min_frequency : int, default=2
        A level seen fewer times in ``fit`` goes to the unknown bucket.
    n_bins : int, default=16
        Bins of the piecewise-linear numeric embedding (``quantiles_``).

    Attributes
    ----------
    n_features_in_ : int
        Number of columns.
    feature_names_in_ : ndarray of str
        The column names (a DataFrame's, or ``x0, x1, ...`` for an array).
    numeric_ : list of int
        Positions of the numeric columns, in output order.
    categorical_ : list of int
        Positions of the categorical columns, in output order.
    center_, scale_ : ndarray of shape (len(numeric_),)
        Median and robust scale of each numeric column.
    indicators_ : list of int
        Positions into ``numeric_`` of the columns with a missing-value indicator.
    categories_ : list of list of str
        The levels of each categorical column (code ``k + 2`` for level ``k``).
    quantiles_ : ndarray of shape (len(numeric_), n_bins + 1)
        The 0, 1/n_bins, ..., 1 quantiles of each scaled numeric column: the
        bin edges of the piecewise-linear numeric embedding.
    """

    def __init__(self, categorical_features="from_dtype", min_frequency=2, n_bins=N_BINS):
        self.categorical_features = categorical_features
        self.min_frequency = min_frequency
        self.n_bins = n_bins

    def fit(self, X, y=None):
        """Learn the column roles, medians, scales and levels of ``X``.

        Raises
        ------
        ValueError
            For an empty table, an all-missing column, or a categorical column
            with more levels than the table has rows, naming the column.
        TypeError
            For a column of Python objects that are not strings, naming it.
        """
        frame = as_pandas(X)
        n_rows = len(frame)
        if n_rows == 0 or frame.shape[1] == 0:
            raise ValueError(f"X is an empty table (shape {frame.shape}); fit needs at least one row and column.")
        mask = categorical_mask(frame, self.categorical_features)
        names = [str(c) if isinstance(c, str) else f"x{i}" for i, c in enumerate(frame.columns)]
        self.feature_names_in_ = np.array(names, dtype=object)
        self.n_features_in_ = frame.shape[1]
        self.numeric_ = [i for i in range(frame.shape[1]) if not mask[i]]
        self.categorical_ = [i for i in range(frame.shape[1]) if mask[i]]
        centers, scales, quantiles, self.indicators_ = [], [], [], []
        for k, i in enumerate(self.numeric_):
            values = numeric_values(frame.iloc[:, i], names[i])
            missing = np.isnan(values)
            if missing.all():
                raise ValueError(f"column {names[i]!r} has no value (all {n_rows} rows are missing); drop it.")
            center, scale = _robust_scale(values[~missing])
            centers.append(center)
            scales.append(scale)
            quantiles.append(np.quantile((values[~missing] - center) / scale, np.linspace(0, 1, self.n_bins + 1)))
            if missing.any():
                self.indicators_.append(k)
        self.center_ = np.array(centers, dtype="float64")
        self.scale_ = np.array(scales, dtype="float64")
        self.quantiles_ = np.array(quantiles, dtype="float64").reshape(len(self.numeric_), self.n_bins + 1)
        self.categories_ = []
        for i in self.categorical_:
            series = frame.iloc[:, i]
            values = category_values(series, names[i])  # first: it names a column of non-strings
            levels = declared_levels(series)
            if levels > n_rows:
                raise ValueError(f"column {names[i]!r} is categorical with {levels} levels but X has {n_rows} rows: "
                                 "too many levels to learn from; drop it, group its levels, or make it numeric.")
            present = pd.Series(values[pd.notna(values)], dtype=object)
            if present.empty:
                raise ValueError(f"column {names[i]!r} has no value (all {n_rows} rows are missing); drop it.")
            counts = present.value_counts()
            self.categories_.append(sorted(str(c) for c in counts.index[counts.to_numpy() >= self.min_frequency]))
        return self

    def transform(self, X):
        """The network's input for ``X``: float32 ``[numbers, indicators, codes]``.

        Raises
        ------
        ValueError
            For a table with another number of columns.
        """
        check_is_fitted(self)
        frame = as_pandas(X)
        if frame.shape[1] != self.n_features_in_:
            raise ValueError(f"X has {frame.shape[1]} columns, but the table encoder was fitted on "
                             f"{self.n_features_in_}.")
        names = self.feature_names_in_
        out = np.empty((len(frame), self.n_features_out_), dtype="float32")
        n_numeric = len(self.numeric_)
        for k, i in enumerate(self.numeric_):
            values = numeric_values(frame.iloc[:, i], names[i])
            missing = np.isnan(values)
            scaled = (values - self.center_[k]) / self.scale_[k]
            scaled[missing] = 0.0  # the median
            out[:, k] = scaled
        for j, k in enumerate(self.indicators_):
            i = self.numeric_[k]
            out[:, n_numeric + j] = np.isnan(numeric_values(frame.iloc[:, i], names[i]))
        start = n_numeric + len(self.indicators_)
        for j, (i, levels) in enumerate(zip(self.categorical_, self.categories_, strict=True)):
            out[:, start + j] = codes(category_values(frame.iloc[:, i], names[i]), levels)
        return out

    @property
    def n_features_out_(self):
        """Width of the encoded table."""
        return len(self.numeric_) + len(self.indicators_) + len(self.categorical_)

    @property
    def n_levels_(self):
        """Codes of each categorical column's embedding (the levels and the two buckets)."""
        return [len(levels) + FIRST_LEVEL for levels in self.categories_]

    def get_feature_names_out(self, input_features=None):
        """Names of the encoded columns: the numbers, ``<name>_missing`` and the category codes."""
        check_is_fitted(self)
        names = [str(n) for n in self.feature_names_in_]
        numeric = [names[i] for i in self.numeric_]
        return np.array(numeric + [f"{numeric[k]}_missing" for k in self.indicators_]
                        + [names[i] for i in self.categorical_], dtype=object)


def _robust_scale(values):
    """``(median, scale)``: the IQR, else half the range, else 1."""
    center = float(np.median(values))
    q25, q75 = np.percentile(values, [25, 75])
    scale = float(q75 - q25)
    if not scale > 0:
        scale = float(values.max() - values.min()) / 2
    if not scale > 0:
        scale = 1.0
    return center, scale


def codes(values, levels):
    """Integer codes (float32) of ``str``/None ``values`` for the sorted ``levels``: 0 missing, 1 unknown."""
    positions = pd.Index(levels, dtype=object).get_indexer(values)  # -1: not a level (missing or not)
    out = positions.astype("float32") + FIRST_LEVEL
    out[positions < 0] = UNKNOWN
    out[pd.isna(values)] = MISSING
    return out
