"""Input data: how ``X``, ``y``, weights and validation data reach the network.

Data flows one way: validate -> encode -> build -> train -> decode. This
module holds the first step, so that every entry point (``fit``,
``partial_fit``, ``predict``...) validates the same way, before any
TensorFlow work:

* ``X``: scikit-learn's ``validate_data`` (feature counts and names, NaN/inf,
  dtypes), N-D arrays allowed, and the per-sample shape seen in ``fit``;
  scipy sparse matrices and arrays (CSR, CSC, COO) stay sparse, as CSR with
  sorted indices: the engine gathers their rows batch by batch and never
  densifies the whole matrix;
* an out-of-core ``X`` (``np.memmap``, h5py, zarr; see :mod:`sknet._stream`)
  is checked without a copy and stays on disk, as :class:`sknet._stream.Rows`;
* ``y``: pandas' nullable and extension dtypes (``Int64``, ``boolean``,
  ``string``, ``category``) become the NumPy dtype they stand for, so that
  labels come back from ``predict`` in the type they came in;
* weights: ``sample_weight`` times the class weights, zero-weight rows
  dropped (a zero weight is exactly an absent sample), for the training
  *and* the validation rows;
* ``validation_split``: stratified for classifiers when every class has
  enough rows, with a warning otherwise.
"""

import warnings

import numpy as np
import pandas as pd
import scipy.sparse as sp
from sklearn.model_selection import train_test_split
from sklearn.utils.validation import check_consistent_length, column_or_1d, validate_data

from . import _stream, _tabular
from ._compat import check_sample_weight, check_y

FLOATS = [np.float32, np.float64]


def _series_to_numpy(series):
    dtype = series.dtype
    if not isinstance(dtype, pd.api.extensions.ExtensionDtype):
        return series.to_numpy()
    if series.isna().any():
        raise ValueError(f"y contains missing values ({int(series.isna().sum())} of {len(series)}); "
                         "drop or impute them before fitting.")
    numpy_dtype = getattr(dtype, "numpy_dtype", None)
    if numpy_dtype is not None:  # Int64 -> int64, boolean -> bool, Float64 -> float64
        return series.to_numpy(dtype=numpy_dtype)
    if isinstance(dtype, pd.CategoricalDtype):
        return np.asarray(dtype.categories.to_numpy())[series.cat.codes.to_numpy()]
    return series.to_numpy(dtype=object)  # strings


def target_to_numpy(y):
    """``y`` with pandas extension dtypes converted to the NumPy dtype they stand for.

    Other inputs are returned unchanged (``validate_data`` converts them).
    """
    if isinstance(y, pd.Series):
        return _series_to_numpy(y)
    if isinstance(y, pd.DataFrame) and any(
        isinstance(dtype, pd.api.extensions.ExtensionDtype) for dtype in y.dtypes
    ):
        return np.column_stack([_series_to_numpy(y[column]) for column in y.columns])
    return y


SPARSE = ["csr", "csc", "coo"]


def as_csr(X):
    """A scipy sparse ``X`` as CSR with sorted indices; the user's matrix is never modified."""
    if not sp.issparse(X):
        return X
    csr = X.tocsr()
    if not csr.has_sorted_indices:
        csr = csr.copy() if csr is X else csr
        csr.sort_indices()
    return csr


def validate_X(estimator, X, reset):
    """Validated ``X`` (float32 or float64, N-D or sparse allowed); checks the fitted per-sample shape.

    An ``X`` that streams (:func:`sknet._stream.should_stream`) comes back as
    :class:`sknet._stream.Rows`; for an estimator fitted on a table, ``X`` is
    checked against the table's columns and comes back encoded.
    """
    if not reset and hasattr(estimator, "table_encoder_"):
        return encode_table(estimator, X, reset=False)
    if _stream.should_stream(X, getattr(estimator, "stream", "auto")):
        X = _validate_streamed(estimator, X, reset)
    else:
        X = validate_data(estimator, X, reset=reset, dtype=FLOATS, allow_nd=True, ensure_min_samples=1,
                          accept_sparse=SPARSE)
    if not reset:
        check_input_shape(estimator, X)
    return as_csr(X)


def _validate_streamed(estimator, X, reset):
    """``X`` as :class:`sknet._stream.Rows`, validated without reading it whole.

    An out-of-core ``X`` gets the checks that need no copy (numeric dtype,
    dimensions, feature count, through scikit-learn's ``validate_data``); an
    in-memory ``X`` with ``stream=True`` gets scikit-learn's full validation
    first (feature names of a DataFrame included).
    """
    if isinstance(X, _stream.Rows):
        return X
    if not _stream.is_out_of_core(X):
        X = validate_data(estimator, X, reset=reset, dtype=FLOATS, allow_nd=True, ensure_min_samples=1)
        return _stream.Rows(X)
    _stream.check_streamable(X)
    validate_data(estimator, X, reset=reset, skip_check_array=True)
    _stream.check_finite(X)  # before any TensorFlow work: one read, block by block
    return _stream.Rows(X)


def check_input_shape(estimator, X):
    """Raise ``ValueError`` if ``X``'s per-sample shape differs from the one seen in ``fit``."""
    if tuple(X.shape[1:]) != estimator.input_shape_:
        raise ValueError(
            f"X has per-sample shape {tuple(X.shape[1:])}, but {type(estimator).__name__} "
            f"was fitted on per-sample shape {estimator.input_shape_}."
        )


def encode_table(estimator, X, reset):
    """A table ``X`` (:func:`sknet._tabular.is_table`) encoded for the network: float32, 2-D.

    ``reset=True`` fits the estimator's ``table_encoder_`` first. The column
    names and count are checked by scikit-learn's ``validate_data`` (which
    also records ``n_features_in_`` and ``feature_names_in_``), without
    converting the frame; nothing the user passed is modified.
    """
    if sp.issparse(X):
        raise TypeError("categorical_features names columns of a sparse X; encode the categories before "
                        "(e.g. OneHotEncoder) or pass a DataFrame.")
    validate_data(estimator, X, reset=reset, skip_check_array=True)
    if reset:
        encoder = _tabular.TableEncoder(categorical_features=estimator.categorical_features)
        estimator.table_encoder_ = encoder.fit(X)
    return estimator.table_encoder_.transform(X)


def validate_fit_data(estimator, X, y, sample_weight, *, reset, classifier):
    """Validated ``(X, y, sample_weight)`` for ``fit``/``partial_fit``.

    ``reset=True`` records ``n_features_in_``, ``feature_names_in_`` and
    ``input_shape_`` on the estimator (the fit skeleton restores them if the
    fit fails later). A table is encoded (:func:`encode_table`): ``X`` comes
    back as the network's float32 input, and ``input_shape_`` is its width.
    """
    table = (_tabular.is_table(X, getattr(estimator, "categorical_features", None)) if reset
             else hasattr(estimator, "table_encoder_"))
    if reset and hasattr(estimator, "table_encoder_"):
        del estimator.table_encoder_  # a refit on an array forgets the last table
    if table:
        X = encode_table(estimator, X, reset)
        y = check_y(target_to_numpy(y), multi_output=True, y_numeric=not classifier, estimator=estimator)
        check_consistent_length(X, y)
    elif _stream.should_stream(X, getattr(estimator, "stream", "auto")):
        X = _validate_streamed(estimator, X, reset)
        y = check_y(target_to_numpy(y), multi_output=True, y_numeric=not classifier, estimator=estimator)
        check_consistent_length(X, y)
    else:
        X, y = validate_data(
            estimator, X, target_to_numpy(y), reset=reset, dtype=FLOATS, allow_nd=True,
            multi_output=True, y_numeric=not classifier, accept_sparse=SPARSE,
        )
        X = as_csr(X)
    if classifier and y.ndim == 2 and y.shape[1] == 1:
        y = column_or_1d(y, warn=True)
    if reset:
        estimator.input_shape_ = tuple(X.shape[1:])
    else:
        check_input_shape(estimator, X)
    if sample_weight is not None:
        sample_weight = check_sample_weight(sample_weight, X)
    return X, y, sample_weight


def validate_validation_data(estimator, validation_data, target):
    """``(X_val, y_val, sample_weight_val or None)`` from ``validation_data``, validated.

    Accepts ``(X_val, y_val)`` and ``(X_val, y_val, sample_weight_val)``, as
    Keras' ``fit`` does; labels must be known to ``target``.
    """
    if not isinstance(validation_data, (tuple, list)) or len(validation_data) not in (2, 3):
        raise ValueError("validation_data must be a tuple (X_val, y_val) or (X_val, y_val, sample_weight_val).")
    X_val, y_val, sw_val = (*validation_data, None)[:3]
    X_val = validate_X(estimator, X_val, reset=False)
    y_val = np.asarray(target_to_numpy(y_val))
    if y_val.ndim == 2 and y_val.shape[1] == 1 and target.kind not in ("multilabel", "onehot"):
        y_val = y_val.ravel()
    if len(y_val) != X_val.shape[0]:
        raise ValueError(f"validation_data: X_val has {X_val.shape[0]} samples but y_val has {len(y_val)}.")
    target.check(y_val)  # unseen labels, wrong width: before any TensorFlow work
    if sw_val is not None:
        sw_val = check_sample_weight(sw_val, X_val)
    return X_val, y_val, sw_val


def split(X, y, sample_weight, *, test_size, stratify, rng):
    """Hold out ``test_size`` of the rows: ``X, X_val, y, y_val, sw, sw_val``.

    Stratified by ``stratify`` (None: not stratified). When a class has too
    few rows to be stratified, the split is drawn unstratified with a warning.
    """
    sw = np.ones(X.shape[0]) if sample_weight is None else sample_weight
    try:
        parts = train_test_split(X, y, sw, test_size=test_size, random_state=rng, stratify=stratify)
    except ValueError as exc:
        if stratify is None:
            raise
        warnings.warn(f"validation_split is not stratified: {exc}", UserWarning, stacklevel=5)
        parts = train_test_split(X, y, sw, test_size=test_size, random_state=rng)
    X, X_val, y, y_val, sw, sw_val = parts
    if sample_weight is None:
        sw = sw_val = None
    return X, X_val, y, y_val, sw, sw_val


def weights(n, sample_weight, class_weights):
    """Per-row loss weights (float32): ``sample_weight`` times the class weights."""
    out = np.ones(n, dtype="float32") if sample_weight is None else np.asarray(sample_weight, dtype="float32")
    return out if class_weights is None else out * class_weights


def drop_zero_weights(X, y, w):
    """Rows with a positive weight (a zero weight is exactly an absent sample)."""
    keep = w > 0
    return (X, y, w) if keep.all() else (X[keep], y[keep], w[keep])
