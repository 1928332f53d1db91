"""Column roles: which columns of a table are numbers and which are categories.

A *table* is what scikit-learn users hand a model most often: a pandas (or
polars) DataFrame whose columns hold numbers, booleans, categories, strings,
dates and missing values side by side. This module reads such a frame column
by column, without ever modifying it, into two plain forms the encoder
learns from:

* a **numeric** column becomes float64 with NaN for a missing value: numbers
  (nullable ``Int64``/``Float64`` included), booleans as 0/1, datetimes as
  days since 1970-01-01 and durations as days;
* a **categorical** column becomes an object array of ``str`` with ``None``
  for a missing value (``NaN``, ``None``, ``pd.NA``, ``NaT`` and the empty
  string ``""`` are all missing). A category is compared by its string form,
  so the integer category ``3`` is ``"3"`` and ``True`` is ``"True"``; this is
  also how the exported ONNX graph receives it.

The roles follow ``HistGradientBoostingClassifier``'s ``categorical_features``:

``"from_dtype"``
    ``category``, ``object`` and string columns are categorical (scikit-learn
    takes only ``category`` there and refuses strings; sknet encodes them);
``None``
    no column is categorical (a string column is then an error);
array-like of str, int or bool
    column names, column indices, or a boolean mask over the columns.

A DataFrame of plain numbers without missing values, and a NumPy array
unless ``categorical_features`` names columns of it, are not tables: they
train as the arrays they always were (:func:`is_table`).
"""

import numbers

import numpy as np
import pandas as pd

_DAY_NS = 86_400 * 10**9


def is_frame(X):
    """Whether ``X`` is a pandas or polars DataFrame."""
    if isinstance(X, pd.DataFrame):
        return True
    return type(X).__module__.split(".")[0] == "polars" and type(X).__name__ == "DataFrame"


def names_category(categorical_features):
    """Whether ``categorical_features`` designates columns itself (rather than leaving it to dtypes)."""
    if categorical_features is None or isinstance(categorical_features, str):
        return False
    return len(categorical_features) > 0


def is_table(X, categorical_features):
    """Whether ``X`` goes through the table encoding.

    A DataFrame does when it holds anything an array cannot: a column that is
    not a number or a boolean (strings, categories, dates...), a missing value,
    or columns that ``categorical_features`` names. A DataFrame of plain
    numbers trains exactly as its array would (what scikit-learn expects of
    every estimator, and what sknet did before tables). A 2-D array is a table
    when ``categorical_features`` names columns of it (indices or a mask), as
    in gradient boosting.
    """
    if is_frame(X):
        if names_category(categorical_features):
            return True
        frame = as_pandas(X)
        plain = all(_kind(frame[name]) in ("number", "bool") for name in frame.columns)
        return not plain or bool(frame.isna().to_numpy().any())
    return names_category(categorical_features) and not hasattr(X, "tocsr") and np.ndim(X) == 2


def as_pandas(X):
    """``X`` as a pandas DataFrame, without copying a pandas one (it is only read)."""
    if isinstance(X, pd.DataFrame):
        return X
    if is_frame(X):  # polars: column by column, without pyarrow
        return pd.DataFrame({name: _polars_column(X[name]) for name in X.columns})
    array = np.asarray(X, dtype=object) if not isinstance(X, np.ndarray) else X
    if array.ndim != 2:
        raise ValueError(f"a table must be 2-D; got an array of shape {np.shape(array)}.")
    return pd.DataFrame(array, columns=range(array.shape[1]))


def _polars_column(series):
    dtype = str(series.dtype)
    values = series.to_numpy()
    if dtype.startswith(("Categorical", "Enum", "String", "Utf8")):
        return pd.Series(values, dtype=object)
    if dtype == "Boolean" and series.null_count():
        return pd.Series(values, dtype=object).astype("boolean")
    return pd.Series(values)


def _kind(series):
    """``"number"``, ``"bool"``, ``"datetime"``, ``"duration"``, ``"category"``, ``"string"`` or ``"object"``."""
    dtype = series.dtype
    if isinstance(dtype, pd.CategoricalDtype):
        return "category"
    if pd.api.types.is_bool_dtype(dtype):
        return "bool"
    if pd.api.types.is_numeric_dtype(dtype):
        return "number"
    if pd.api.types.is_datetime64_any_dtype(dtype):
        return "datetime"
    if pd.api.types.is_timedelta64_dtype(dtype):
        return "duration"
    if isinstance(dtype, pd.StringDtype):
        return "string"
    return "object"


def categorical_mask(frame, categorical_features):
    """Boolean mask over ``frame``'s columns: True for a categorical column.

    Raises
    ------
    ValueError
        For names that are not columns, indices out of range, a mask of the
        wrong length, or a string column that ``categorical_features`` marks
        numeric.
    """
    names = list(frame.columns)
    n = len(names)
    if categorical_features is None or isinstance(categorical_features, str):
        if categorical_features not in (None, "from_dtype"):
            raise ValueError(f"categorical_features={categorical_features!r}: use 'from_dtype', None, column "
                             "names, column indices or a boolean mask.")
        by_dtype = categorical_features == "from_dtype"
        mask = np.array([by_dtype and _kind(frame[c]) in ("category", "string", "object") for c in names], bool)
    else:
        given = np.asarray(categorical_features)
        if given.dtype == bool:
            if given.shape != (n,):
                raise ValueError(f"categorical_features is a boolean mask of length {given.size}, but X has "
                                 f"{n} columns.")
            mask = given.copy()
        else:
            mask = np.zeros(n, bool)
            for item in given.tolist():
                if isinstance(item, str):
                    if item not in names:
                        raise ValueError(f"categorical_features names column {item!r}, which is not a column of "
                                         f"X; its columns are {[str(c) for c in names]}.")
                    mask[names.index(item)] = True
                elif isinstance(item, numbers.Integral) and not isinstance(item, bool):
                    if not -n <= item < n:
                        raise ValueError(f"categorical_features has index {item}, but X has {n} columns.")
                    mask[item] = True
                else:
                    raise TypeError("categorical_features must hold column names (str), indices (int) or be a "
                                    f"boolean mask; got an element of type {type(item).__name__}.")
    for name, categorical in zip(names, mask, strict=True):
        if not categorical and _kind(frame[name]) in ("category", "string", "object") and not _numeric_objects(
                frame[name]):
            raise ValueError(
                f"column {name!r} holds {_kind(frame[name])} values, but categorical_features="
                f"{_short(categorical_features)} makes it numeric; mark it categorical (e.g. "
                "categorical_features='from_dtype') or convert it to numbers."
            )
    return mask


def _short(value):
    return repr(value) if value is None or isinstance(value, str) else "[...]"


def _numeric_objects(series):
    """Whether an object column holds only numbers (and missing values): an array's numeric column."""
    values = series.dropna()
    return all(isinstance(v, numbers.Real) and not isinstance(v, bool) for v in values.tolist())


def numeric_values(series, name):
    """A numeric column as float64, NaN for missing (booleans 0/1, datetimes and durations in days).

    Raises
    ------
    TypeError
        For a column whose values are not numbers.
    """
    kind = _kind(series)
    if kind == "datetime":
        values = series
        if getattr(series.dtype, "tz", None) is not None:
            values = series.dt.tz_convert("UTC").dt.tz_localize(None)
        stamps = values.astype("datetime64[ns]")
        out = stamps.to_numpy().astype("int64").astype("float64") / _DAY_NS
        out[stamps.isna().to_numpy()] = np.nan
        return out
    if kind == "duration":
        out = series.astype("timedelta64[ns]").to_numpy().astype("int64").astype("float64") / _DAY_NS
        out[series.isna().to_numpy()] = np.nan
        return out
    if kind in ("number", "bool"):
        return series.astype("float64").to_numpy(dtype="float64", na_value=np.nan)
    try:
        return pd.to_numeric(series, errors="raise").astype("float64").to_numpy(dtype="float64", na_value=np.nan)
    except (TypeError, ValueError):
        raise TypeError(f"column {name!r} is numeric (categorical_features) but holds values that are not "
                        "numbers.") from None


def category_values(series, name):
    """A categorical column as an object array of ``str``, None for missing.

    Raises
    ------
    TypeError
        For an object column holding Python objects other than strings,
        booleans and numbers (dicts, lists, dates...), naming the column.
    """
    missing = series.isna().to_numpy()
    kind = _kind(series)
    if kind == "category":
        categories = series.cat.categories
        text = np.array([str(c) for c in categories], dtype=object)
        codes = series.cat.codes.to_numpy()
        out = text[np.clip(codes, 0, None)] if len(text) else np.empty(len(series), dtype=object)
    elif kind == "object":
        values = series.to_numpy(dtype=object)
        present = values[~missing]
        bad = [v for v in present.tolist() if not isinstance(v, (str, bool, np.bool_, numbers.Number))]
        if bad:
            raise TypeError(
                f"column {name!r} holds Python objects of type {type(bad[0]).__name__}; a categorical "
                "column takes strings (or numbers and booleans, compared by their string form). Convert "
                "the column, or drop it."
            )
        out = np.array([str(v) for v in values.tolist()], dtype=object) if len(values) else values
    else:
        out = series.astype(str).to_numpy(dtype=object)
    out = out.copy()
    missing = missing | (out == "")
    out[missing] = None
    return out


def declared_levels(series):
    """The number of levels a categorical column declares (``category`` dtype) or holds."""
    if isinstance(series.dtype, pd.CategoricalDtype):
        return len(series.cat.categories)
    return int(pd.Series(category_values(series, "")).nunique(dropna=True))
