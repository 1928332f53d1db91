"""Bad input: a clear ValueError/TypeError naming the problem, before any TensorFlow
work, and nothing the user passed is mutated."""

import copy

import numpy as np
import pandas as pd
import pytest
from keras.layers import Dense, Dropout

from sknet import NetClassifier, NetRegressor, _engine

rng = np.random.RandomState(0)
X = rng.rand(30, 4)
Y_CLS = np.arange(30) % 3
Y_REG = rng.rand(30)


@pytest.fixture
def no_tensorflow_work(monkeypatch):
    """Fail loudly if training or prediction reaches the engine."""

    def forbidden(*args, **kwargs):
        raise AssertionError("TensorFlow work started before the input was rejected")

    monkeypatch.setattr(_engine, "train", forbidden)
    monkeypatch.setattr(_engine, "train_distributed", forbidden)
    monkeypatch.setattr(_engine.ServingCache, "predict", forbidden)


def _with(array, index, value):
    array = np.array(array, dtype=float)
    array.flat[index] = value
    return array


# (id, estimator factory, fit kwargs, error type, message fragment)
FIT_CASES = [
    ("nan-X", NetClassifier, dict(X=_with(X, 3, np.nan), y=Y_CLS), ValueError, "NaN"),
    ("inf-X", NetClassifier, dict(X=_with(X, 3, np.inf), y=Y_CLS), ValueError, "infinity"),
    ("nan-y-regressor", NetRegressor, dict(X=X, y=_with(Y_REG, 2, np.nan)), ValueError, "NaN"),
    ("inf-y-regressor", NetRegressor, dict(X=X, y=_with(Y_REG, 2, np.inf)), ValueError, "infinity"),
    ("1d-X", NetClassifier, dict(X=X[:, 0], y=Y_CLS), ValueError, "Expected 2D array"),
    ("3d-X-dense-spec", lambda: NetClassifier([Dense(4)]), dict(X=rng.rand(30, 2, 2), y=Y_CLS),
     ValueError, "Flatten"),
    ("empty-X", NetClassifier, dict(X=np.empty((0, 4)), y=np.array([])), ValueError, "0 sample"),
    ("one-sample-classifier", NetClassifier, dict(X=X[:1], y=Y_CLS[:1]), ValueError, "only one class"),
    ("length-mismatch", NetClassifier, dict(X=X, y=Y_CLS[:-1]), ValueError, "inconsistent numbers of samples"),
    ("string-X", NetClassifier, dict(X=np.array([["a", "b"]] * 30), y=Y_CLS), ValueError, "string"),
    ("object-X", NetClassifier, dict(X=np.array([[1.0, "b"]] * 30, dtype=object), y=Y_CLS), ValueError,
     "could not convert"),
    ("complex-X", NetClassifier, dict(X=X.astype(complex), y=Y_CLS), ValueError, "Complex data not supported"),
    ("continuous-y", NetClassifier, dict(X=X, y=Y_REG), ValueError, "Unknown label type"),
    ("single-class", NetClassifier, dict(X=X, y=np.zeros(30)), ValueError, "only one class"),
    ("negative-weight", NetClassifier, dict(X=X, y=Y_CLS, sample_weight=_with(np.ones(30), 0, -1)),
     ValueError, "Negative values in data passed to `sample_weight`"),
    ("nan-weight", NetClassifier, dict(X=X, y=Y_CLS, sample_weight=_with(np.ones(30), 0, np.nan)),
     ValueError, "NaN"),
    ("zero-weights", NetClassifier, dict(X=X, y=Y_CLS, sample_weight=np.zeros(30)), ValueError, "zero"),
    ("weight-length", NetClassifier, dict(X=X, y=Y_CLS, sample_weight=np.ones(29)), ValueError, "sample_weight"),
    ("epochs-zero", lambda: NetClassifier(epochs=0), dict(X=X, y=Y_CLS), ValueError, "epochs"),
    ("epochs-negative", lambda: NetClassifier(epochs=-2), dict(X=X, y=Y_CLS), ValueError, "epochs"),
    ("epochs-float", lambda: NetClassifier(epochs=2.5), dict(X=X, y=Y_CLS), ValueError, "epochs"),
    ("batch-size-zero", lambda: NetClassifier(batch_size=0), dict(X=X, y=Y_CLS), ValueError, "batch_size"),
    ("batch-size-float", lambda: NetClassifier(batch_size=3.5), dict(X=X, y=Y_CLS), ValueError, "batch_size"),
    ("unknown-optimizer", lambda: NetClassifier(optimizer="adamax2"), dict(X=X, y=Y_CLS), ValueError,
     "unknown optimizer"),
    ("unknown-loss", lambda: NetClassifier(loss="hinge2"), dict(X=X, y=Y_CLS), ValueError, "unknown loss"),
    ("unknown-metric", lambda: NetClassifier(metrics=["acc2"]), dict(X=X, y=Y_CLS), ValueError, "unknown metric"),
    ("layers-wrong-type", lambda: NetClassifier(layers="dense"), dict(X=X, y=Y_CLS), TypeError,
     "The 'layers' parameter of NetClassifier must be"),
    ("layer-dict-unknown", lambda: NetClassifier(layers=[{"class_name": "Nope", "config": {}}]),
     dict(X=X, y=Y_CLS), ValueError, "could not be deserialized"),
    ("build-returns-non-model", lambda: NetClassifier(layers=lambda meta: None), dict(X=X, y=Y_CLS), TypeError,
     "must return a keras.Model"),
    ("head-mismatch", lambda: NetClassifier(layers=[Dense(5, activation="softmax")]), dict(X=X, y=Y_CLS),
     ValueError, "3 classes"),
    ("validation-unseen-label", NetClassifier, dict(X=X, y=Y_CLS, validation_data=(X, Y_CLS + 1)), ValueError,
     "not in classes_"),
    ("validation-length-mismatch", NetClassifier, dict(X=X, y=Y_CLS, validation_data=(X, Y_CLS[:5])), ValueError,
     "validation_data"),
    ("class-weight-unknown-label", lambda: NetClassifier(class_weight={7: 1.0}), dict(X=X, y=Y_CLS), ValueError,
     "not classes of y"),
    ("class-weight-bad-string", lambda: NetClassifier(class_weight="heavy"), dict(X=X, y=Y_CLS), ValueError,
     "class_weight"),
]


def _snapshot(kwargs):
    return {k: copy.deepcopy(v) for k, v in kwargs.items()}


def _assert_unchanged(before, after):
    for key, value in before.items():
        pairs = zip(after[key], value, strict=True) if isinstance(value, tuple) else [(after[key], value)]
        for new, old in pairs:
            np.testing.assert_array_equal(new, old)  # NaN == NaN here


def _comparable(value):
    """Parameter values in a form == can compare (Keras objects by class and config)."""
    if isinstance(value, dict):
        return {k: _comparable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_comparable(v) for v in value]
    if hasattr(value, "get_config"):
        return type(value).__name__, value.get_config()
    return value


@pytest.mark.parametrize(
    "method, make, kwargs, error, match",
    [
        pytest.param(method, *case[1:], id=f"{case[0]}-{method}")
        for case in FIT_CASES
        for method in (["fit"] if "validation_data" in case[2] else ["fit", "partial_fit"])
    ],
)
def test_bad_fit_input(method, make, kwargs, error, match, no_tensorflow_work):
    est = make()
    params_before = copy.deepcopy({k: v for k, v in est.get_params(deep=False).items() if not callable(v)})
    before = _snapshot(kwargs)
    with pytest.raises(error, match=match):
        getattr(est, method)(**kwargs)
    _assert_unchanged(before, kwargs)
    assert not hasattr(est, "model_")
    after = {k: v for k, v in est.get_params(deep=False).items() if not callable(v)}
    assert _comparable(after) == _comparable(params_before)  # values, layer configs included


def test_misspelled_key_raises_in_set_params():
    with pytest.raises(ValueError, match="valid keys are"):
        NetClassifier([Dense(3)]).set_params(layers__0__unit=2)


def test_build_callable_error_propagates_unchanged(no_tensorflow_work):
    def build(meta):
        raise RuntimeError("my build failed")

    with pytest.raises(RuntimeError, match="my build failed"):
        NetClassifier(build).fit(X, Y_CLS)


@pytest.fixture(scope="module")
def fitted():
    clf = NetClassifier([Dense(8, activation="relu"), Dropout(0.1)], epochs=2, random_state=0).fit(X, Y_CLS)
    reg = NetRegressor([Dense(8)], epochs=2, random_state=0).fit(X, Y_REG)
    return clf, reg


PREDICT_CASES = [
    ("nan-X", _with(X, 3, np.nan), ValueError, "NaN"),
    ("inf-X", _with(X, 3, np.inf), ValueError, "infinity"),
    ("wrong-feature-count", X[:, :3], ValueError, "features"),
    ("1d-X", X[:, 0], ValueError, "Expected 2D array"),
    ("3d-X", rng.rand(5, 4, 2), ValueError, "per-sample shape"),
    ("empty-X", np.empty((0, 4)), ValueError, "0 sample"),
    ("string-X", np.array([["a"] * 4] * 3), ValueError, "string"),
    ("complex-X", X.astype(complex), ValueError, "Complex data not supported"),
]


@pytest.mark.parametrize("method", ["predict", "predict_proba", "score"])
@pytest.mark.parametrize("bad, error, match", [pytest.param(*c[1:], id=c[0]) for c in PREDICT_CASES])
def test_bad_predict_input(fitted, bad, error, match, method, no_tensorflow_work):
    clf, reg = fitted
    before = copy.deepcopy(bad)
    for est in (clf, reg):
        if not hasattr(est, method):
            continue
        call = getattr(est, method)
        with pytest.raises(error, match=match):
            call(bad, Y_CLS[: len(bad)]) if method == "score" else call(bad)
    np.testing.assert_array_equal(bad, before)


def test_pandas_columns_renamed_or_reordered(monkeypatch):
    frame = pd.DataFrame(X, columns=list("abcd"))
    clf = NetClassifier(epochs=1, random_state=0).fit(frame, Y_CLS)
    monkeypatch.setattr(_engine.ServingCache, "predict", lambda *a, **k: pytest.fail("reached TensorFlow"))
    with pytest.raises(ValueError, match="feature names"):
        clf.predict(frame.rename(columns={"a": "z"}))
    with pytest.raises(ValueError, match="feature names"):
        clf.predict(frame[list("dcba")])


def test_unseen_label_in_partial_fit(fitted, no_tensorflow_work):
    clf = copy.deepcopy(fitted[0])
    with pytest.raises(ValueError, match=r"labels \[5\] that are not in classes_"):
        clf.partial_fit(X, np.where(Y_CLS == 2, 5, Y_CLS))


def test_other_output_count_in_warm_start(fitted, no_tensorflow_work):
    reg = copy.deepcopy(fitted[1]).set_params(warm_start=True)
    with pytest.raises(ValueError, match="2 output"):
        reg.fit(X, np.column_stack([Y_REG, Y_REG]))


def test_one_sample_regressor_fits():
    reg = NetRegressor(epochs=1, random_state=0).fit(X[:1], Y_REG[:1])
    assert reg.predict(X[:2]).shape == (2,)
