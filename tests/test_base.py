"""The fit skeleton (sknet._base): a failed fit changes nothing; rules that span parameters."""

import keras
import numpy as np
import pytest
from keras.layers import Dense

from sknet import NetClassifier, NetRegressor


def _fitted_state(est):
    return {k: v for k, v in vars(est).items() if k.endswith("_") or k.startswith("_")}


def _assert_unchanged(est, before, X):
    after = _fitted_state(est)
    assert after.keys() == before["state"].keys()
    for key, value in before["state"].items():
        assert after[key] is value, key  # the very same objects, not rebuilt copies
    assert est.n_features_in_ == before["n_features_in_"]
    assert dict(est.history_) == before["history"]
    np.testing.assert_array_equal(est.predict(X), before["pred"])


def _snapshot(est, X):
    return {"state": _fitted_state(est), "n_features_in_": est.n_features_in_,
            "history": {k: list(v) for k, v in est.history_.items()}, "pred": est.predict(X)}


def test_a_nan_refit_on_other_features_leaves_every_attribute_as_before(iris):
    X, y = iris
    clf = NetClassifier([Dense(8, activation="relu")], epochs=2, random_state=0).fit(X, y)
    before = _snapshot(clf, X)
    X_bad = np.hstack([X, X]) * 1e30  # another feature count, and a loss that overflows
    with pytest.raises(FloatingPointError, match="left as it was"):
        clf.fit(X_bad, y)
    _assert_unchanged(clf, before, X)


def test_a_nan_warm_refit_leaves_every_attribute_as_before(iris):
    X, y = iris
    clf = NetClassifier([Dense(8, activation="relu")], epochs=2, warm_start=True, random_state=0).fit(X, y)
    before = _snapshot(clf, X)
    with pytest.raises(FloatingPointError):
        clf.set_params(optimizer__learning_rate=1e30).fit(X * 1e30, y)
    _assert_unchanged(clf, before, X)
    assert float(clf.model_.optimizer.learning_rate) != 1e30


class _Boom(keras.callbacks.Callback):
    def __init__(self, at):
        super().__init__()
        self.at = at

    def on_epoch_end(self, epoch, logs=None):
        if epoch == self.at:
            raise RuntimeError("callback failed")


@pytest.mark.parametrize("method", ["fit", "partial_fit"])
def test_a_callbacks_exception_leaves_every_attribute_as_before(iris, method):
    X, y = iris
    clf = NetClassifier([Dense(8, activation="relu")], epochs=3, warm_start=True, random_state=0).fit(X, y)
    before = _snapshot(clf, X)
    clf.set_params(callbacks=[_Boom(at=1 if method == "fit" else 0)], epochs=3)
    with pytest.raises(RuntimeError, match="callback failed"):
        getattr(clf, method)(X[::-1], y[::-1])
    _assert_unchanged(clf, before, X)


def test_a_failed_first_fit_leaves_no_fitted_attribute(iris):
    X, y = iris
    clf = NetClassifier(epochs=1)
    with pytest.raises(ValueError, match="only one class"):
        clf.fit(X, np.zeros(len(y)))
    assert not [k for k in vars(clf) if k.endswith("_")]
    with pytest.raises(FloatingPointError):
        NetRegressor(epochs=1).fit(X * 1e30, y.astype(float))


@pytest.mark.parametrize("params", [{"validation_split": 0.2}, {"early_stopping": True}])
def test_partial_fit_rejects_fit_only_options(iris, params):
    X, y = iris
    with pytest.raises(ValueError, match="apply to fit only"):
        NetClassifier(**params).partial_fit(X, y)


def test_partial_fit_of_the_regressor_has_no_classes_argument(regression_data):
    X, Y = regression_data
    with pytest.raises(TypeError, match="classes"):
        NetRegressor().partial_fit(X, Y, classes=[0, 1])


def test_callable_meta_uses_fitted_attribute_names(iris):
    X, y = iris
    seen = {}

    def build(meta):
        seen.update(meta)
        inputs = keras.Input(shape=meta["input_shape_"])
        return keras.Model(inputs, Dense(meta["n_outputs_"], activation=meta["out_activation_"])(inputs))

    clf = NetClassifier(build, epochs=1, random_state=0).fit(X, y)
    assert sorted(seen) == ["classes_", "input_shape_", "n_classes_", "n_features_in_", "n_outputs_",
                            "out_activation_", "target_type_"]
    for key in seen:  # meta is "the fitted attributes known before the network exists"
        np.testing.assert_array_equal(np.asarray(getattr(clf, key)), np.asarray(seen[key]))
