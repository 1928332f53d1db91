"""Predictions on arrays of any length: every row answered, in order, on every predict path."""

import numpy as np
import pytest
from keras.layers import Dense
from sklearn.datasets import load_digits

from sknet import NetClassifier, NetRegressor

try:  # the engine package (sknet/_engine/)
    from sknet._engine._predict import PREDICT_CHUNK
except ImportError:  # the engine module (sknet/_engine.py)
    from sknet._engine import PREDICT_CHUNK


def _softmax(z):
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def _reference_proba(clf, X):
    """The network ``Dense(16, relu) -> Dense(10, softmax)`` evaluated row by row in NumPy (float64)."""
    k1, b1, k2, b2 = (np.asarray(w, dtype="float64") for w in clf.model_.get_weights())
    return _softmax(np.maximum(X @ k1 + b1, 0) @ k2 + b2)


@pytest.fixture(scope="module")
def fitted():
    X, y = load_digits(return_X_y=True)
    return NetClassifier([Dense(16, activation="relu")], epochs=2, random_state=0).fit(X / 16, y)


def test_large_predict_answers_every_row(fitted):
    """More rows than one chunk, not a multiple of it: every row, in order, on both predict paths."""
    n = 2 * PREDICT_CHUNK + 123
    X = np.random.RandomState(0).rand(n, 64)  # every row distinct: a shifted or repeated chunk shows
    expected = _reference_proba(fitted, X)
    for _ in range(4):  # the first calls take the shared path, later ones the estimator's own
        proba = fitted.predict_proba(X)
        assert proba.shape == (n, 10)
        np.testing.assert_allclose(proba, expected, rtol=1e-4, atol=1e-6)
        np.testing.assert_array_equal(fitted.predict(X), fitted.classes_[expected.argmax(axis=1)])


def test_predictions_do_not_depend_on_how_rows_are_split_into_calls(fitted):
    X = np.random.RandomState(1).rand(PREDICT_CHUNK + 5, 64)
    whole = fitted.predict_proba(X)
    pieces = np.vstack([fitted.predict_proba(X[i : i + 1000]) for i in range(0, len(X), 1000)])
    np.testing.assert_allclose(whole, pieces, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(fitted.predict_proba(X[-1:]), whole[-1:], rtol=1e-5, atol=1e-7)


def test_large_regressor_predict_answers_every_row():
    rng = np.random.RandomState(0)
    X = rng.randn(PREDICT_CHUNK + 77, 3)
    reg = NetRegressor([], epochs=1, random_state=0, scale_target=False).fit(X[:100], X[:100] @ [1.0, 2.0, 3.0])
    kernel, bias = reg.model_.get_weights()
    pred = reg.predict(X)
    assert pred.shape == (len(X),)
    np.testing.assert_allclose(pred, X @ kernel[:, 0] + bias[0], rtol=1e-4, atol=1e-5)


def test_plain_float_arrays_skip_validate_data_and_nothing_else_does(fitted):
    """The predict fast path takes only arrays validate_data would return untouched."""
    import pandas as pd

    from sknet._fastpath import plain_rows

    X = np.random.RandomState(0).rand(3, 64)
    for ok in (X, X.astype("float32"), np.asfortranarray(X), X[:1]):
        assert plain_rows(fitted, ok) is ok
    big = np.full((2, 64), 3e38, dtype="float32")  # finite, but the float32 sum overflows
    subclass = X.view(type("Rows", (np.ndarray,), {}))
    not_plain = [X.tolist(), X.astype("float16"), X.astype(int), X.astype(">f8"), X[0], X[None], X[:, :3],
                 X[:0], np.where(X > 0.5, np.nan, X), np.where(X > 0.5, np.inf, X), subclass, pd.DataFrame(X), big]
    for other in not_plain:
        assert plain_rows(fitted, other) is None
    # Every other input takes the full path: the same answers for the same numbers.
    np.testing.assert_array_equal(fitted.predict_proba(X.tolist()), fitted.predict_proba(X))
    np.testing.assert_array_equal(fitted.predict_proba(big.astype("float64")), fitted.predict_proba(big))


def test_fast_path_leaves_feature_name_checks_to_scikit_learn(fitted):
    import warnings

    import pandas as pd

    from sknet._fastpath import plain_rows

    X = np.random.RandomState(0).rand(3, 64)
    frame = pd.DataFrame(X, columns=[f"f{i}" for i in range(64)])
    named = NetClassifier([Dense(16, activation="relu")], epochs=1, random_state=0).fit(frame, [0, 1, 2])
    assert plain_rows(named, X) is None
    with pytest.warns(UserWarning, match="feature names"):
        named.predict(X)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        named.predict(frame)
