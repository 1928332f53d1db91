"""Pickle, joblib, deepcopy and clone; fresh-process loading; version records."""

import copy
import functools
import pickle
import re
import subprocess
import sys
import warnings

import joblib
import keras
import numpy as np
import pytest
from keras.layers import Dense, Dropout
from sklearn.base import clone

from sknet import NetClassifier, NetRegressor

try:
    from sknet.exceptions import InconsistentVersionWarning
except ImportError:  # before the public sknet.exceptions module
    from sknet._persist import InconsistentVersionWarning


@pytest.fixture
def fitted(iris):
    X, y = iris
    return NetClassifier([Dense(16, activation="relu"), Dropout(0.1)], epochs=3, random_state=0).fit(X, y)


@pytest.mark.parametrize("roundtrip", ["pickle", "joblib", "deepcopy"])
def test_fitted_roundtrip_predicts_identically(fitted, iris, tmp_path, roundtrip):
    X, _ = iris
    if roundtrip == "pickle":
        other = pickle.loads(pickle.dumps(fitted))
    elif roundtrip == "joblib":
        joblib.dump(fitted, tmp_path / "clf.joblib")
        other = joblib.load(tmp_path / "clf.joblib")
    else:
        other = copy.deepcopy(fitted)
    np.testing.assert_array_equal(other.predict_proba(X), fitted.predict_proba(X))
    np.testing.assert_array_equal(other.classes_, fitted.classes_)
    assert other.history_ == fitted.history_
    assert other.model_ is not fitted.model_


def test_unfitted_roundtrip_and_clone():
    clf = NetClassifier([Dense(4)], optimizer__learning_rate=0.1, random_state=3)
    expected = {k: v for k, v in clf.get_params(deep=True).items() if k != "layers"}
    assert expected["layers__0__units"] == 4 and expected["optimizer__learning_rate"] == 0.1
    for other in (pickle.loads(pickle.dumps(clf)), copy.deepcopy(clf), clone(clf)):
        params = other.get_params(deep=True)
        assert {k: v for k, v in params.items() if k != "layers"} == expected  # every value, nested ones too
        assert [type(layer) for layer in params["layers"]] == [Dense]
        assert not hasattr(other, "model_")


def test_clone_of_fitted_is_unfitted(fitted):
    assert not hasattr(clone(fitted), "model_")


def _variant(kind, iris, tmp_path):
    X, y = iris
    if kind == "unfitted":
        return NetClassifier([Dense(8)], optimizer__learning_rate=0.05, epochs=3, random_state=0)
    if kind == "warm-started":
        return NetClassifier(epochs=2, warm_start=True, random_state=0).fit(X, y).fit(X, y)
    if kind == "with-callbacks":
        logger = keras.callbacks.CSVLogger(str(tmp_path / "log.csv"))
        return NetClassifier(epochs=2, callbacks=[logger], random_state=0).fit(X, y)
    return NetClassifier([Dense(16, activation="relu"), Dropout(0.1)], epochs=3, random_state=0).fit(X, y)


@pytest.mark.parametrize("kind", ["fitted", "unfitted", "warm-started", "with-callbacks"])
def test_loading_in_a_fresh_process(kind, iris, tmp_path):
    X, y = iris
    est = _variant(kind, iris, tmp_path)
    path = tmp_path / "clf.joblib"
    joblib.dump(est, path)
    np.save(tmp_path / "X.npy", X)
    np.save(tmp_path / "y.npy", y)
    code = (
        "import joblib, numpy as np; "
        f"clf = joblib.load({str(path)!r}); X = np.load({str(tmp_path / 'X.npy')!r}); "
        f"clf = clf if hasattr(clf, 'model_') else clf.fit(X, np.load({str(tmp_path / 'y.npy')!r})); "
        f"np.save({str(tmp_path / 'p.npy')!r}, clf.predict_proba(X))"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
    expected = est.predict_proba(X) if hasattr(est, "model_") else est.fit(X, y).predict_proba(X)
    np.testing.assert_array_equal(np.load(tmp_path / "p.npy"), expected)


def test_warm_started_estimator_pickles_and_continues(iris):
    X, y = iris
    clf = NetClassifier(epochs=2, warm_start=True, random_state=0).fit(X, y).fit(X, y)
    other = pickle.loads(pickle.dumps(clf))
    clf.fit(X, y)
    other.fit(X, y)
    np.testing.assert_allclose(other.predict_proba(X), clf.predict_proba(X), rtol=1e-6)
    assert other.history_.n_epochs == 6


@keras.saving.register_keras_serializable(package="sknet_tests")
class RegisteredRMSprop(keras.optimizers.RMSprop):
    """A user's optimizer class, registered as Keras requires for loading."""


def test_custom_optimizer_class_fits_pickles_and_continues(iris):
    X, y = iris
    clf = NetClassifier(optimizer=RegisteredRMSprop(learning_rate=0.01), epochs=2, warm_start=True,
                        random_state=0).fit(X, y)
    other = pickle.loads(pickle.dumps(clf))
    assert type(other.model_.optimizer) is RegisteredRMSprop
    clf.fit(X, y)
    other.fit(X, y)
    np.testing.assert_allclose(other.predict_proba(X), clf.predict_proba(X), rtol=1e-6)


def test_estimator_with_callbacks_pickles(iris, tmp_path):
    X, y = iris
    callbacks = [
        keras.callbacks.CSVLogger(str(tmp_path / "log.csv")),
        keras.callbacks.TensorBoard(log_dir=str(tmp_path / "tb")),
    ]
    clf = NetClassifier(epochs=2, callbacks=callbacks, random_state=0).fit(X, y)
    assert (tmp_path / "log.csv").read_text().count("\n") == 3
    other = pickle.loads(pickle.dumps(clf))
    np.testing.assert_array_equal(other.predict(X), clf.predict(X))


def _other_minor(version):
    major, minor, *_ = version.split(".")
    return f"{major}.{int(minor) + 1}.0"


@pytest.mark.parametrize("library, saved", [
    ("sknet", lambda current: "0.0.1"),
    ("keras", _other_minor),  # same major version: loads, with a warning
    ("sklearn", _other_minor),
])
def test_state_records_versions_and_warns_on_mismatch(fitted, iris, library, saved):
    state = fitted.__getstate__()
    assert set(state["_sknet_versions"]) == {"sknet", "keras", "sklearn"}
    old = saved(state["_sknet_versions"][library])
    state["_sknet_versions"] = dict(state["_sknet_versions"], **{library: old})
    other = NetClassifier.__new__(NetClassifier)
    with pytest.warns(InconsistentVersionWarning, match=rf"{library} {re.escape(old)} -> "):
        other.__setstate__(state)
    np.testing.assert_array_equal(other.predict_proba(iris[0]), fitted.predict_proba(iris[0]))


def test_incompatible_keras_major_version_is_a_clear_error(fitted):
    state = fitted.__getstate__()
    state["_sknet_versions"] = dict(state["_sknet_versions"], keras="2.15.0")
    with pytest.raises(RuntimeError, match="Keras major versions differ"):
        NetClassifier.__new__(NetClassifier).__setstate__(state)


def test_same_versions_load_silently(fitted):
    with warnings.catch_warnings():
        warnings.simplefilter("error", InconsistentVersionWarning)
        pickle.loads(pickle.dumps(fitted))


class Scale(keras.layers.Layer):
    """A user's layer with a trainable weight, not registered with Keras."""

    def __init__(self, init=1.0, **kwargs):
        super().__init__(**kwargs)
        self.init = init

    def build(self, input_shape):
        self.scale = self.add_weight(shape=(), initializer=keras.initializers.Constant(self.init), name="scale")

    def call(self, x):
        return x * self.scale

    def get_config(self):
        return {**super().get_config(), "init": self.init}


@keras.saving.register_keras_serializable(package="sknet_tests")
class RegisteredScale(Scale):
    """The same layer, registered as Keras requires for loading."""


def test_unregistered_custom_layer_fits_and_predicts(iris):
    X, y = iris
    clf = NetClassifier([Dense(8, activation="relu"), Scale(0.5)], epochs=20, optimizer__learning_rate=0.02,
                        random_state=0).fit(X, y)
    (layer,) = [layer for layer in clf.model_.layers if isinstance(layer, Scale)]
    assert float(layer.scale.numpy()) != 0.5  # it was part of the trained network
    assert clf.predict(X).shape == (150,) and clf.score(X, y) > 0.5


def test_registered_custom_layer_pickles(iris):
    X, y = iris
    clf = NetClassifier([Dense(8, activation="relu"), RegisteredScale(0.5)], epochs=3, random_state=0).fit(X, y)
    other = pickle.loads(pickle.dumps(clf))
    assert any(type(layer) is RegisteredScale for layer in other.model_.layers)
    np.testing.assert_array_equal(other.predict_proba(X), clf.predict_proba(X))


def test_strategy_factory_pickles(iris):
    """``distribute=functools.partial(MirroredStrategy, devices=...)`` keeps the estimator picklable."""
    import tensorflow as tf

    X, y = iris
    factory = functools.partial(tf.distribute.MirroredStrategy, devices=["/cpu:0"])
    clf = NetClassifier([Dense(8, activation="relu")], distribute=factory, epochs=2, random_state=0).fit(X, y)
    assert isinstance(clf.model_.distribute_strategy, tf.distribute.MirroredStrategy)
    other = pickle.loads(pickle.dumps(clf))
    assert other.distribute.func is tf.distribute.MirroredStrategy and other.distribute.keywords == factory.keywords
    np.testing.assert_array_equal(other.predict_proba(X), clf.predict_proba(X))
    cloned = clone(clf).distribute
    assert cloned.func is tf.distribute.MirroredStrategy and cloned.keywords == factory.keywords
    unfitted = pickle.loads(pickle.dumps(NetClassifier(distribute=factory, epochs=1)))
    assert unfitted.distribute.keywords == {"devices": ["/cpu:0"]}


def test_regressor_roundtrip(regression_data):
    X, Y = regression_data
    reg = NetRegressor(epochs=2, random_state=0).fit(X, Y)
    np.testing.assert_array_equal(pickle.loads(pickle.dumps(reg)).predict(X), reg.predict(X))


def test_keras_export_loads_in_safe_mode(fitted, iris, tmp_path):
    X, _ = iris
    path = tmp_path / "model.keras"
    fitted.model_.save(path)
    model = keras.saving.load_model(path, safe_mode=True)
    np.testing.assert_allclose(model.predict(X, verbose=0), fitted.predict_proba(X), rtol=1e-5, atol=1e-6)


def test_a_loaded_estimator_warm_starts_the_same_way_every_time(digits):
    """The dropout seed generators' state travels in the pickle (Keras' archive leaves it out)."""
    X, y = digits
    clf = NetClassifier([Dense(32, activation="relu"), keras.layers.Dropout(0.3)], epochs=2,
                        random_state=0).fit(X[:600], y[:600])
    blob = pickle.dumps(clf)
    histories = []
    for _ in range(2):
        loaded = pickle.loads(blob)
        np.testing.assert_array_equal(loaded.model_.non_trainable_variables[0].numpy(),
                                      clf.model_.non_trainable_variables[0].numpy())
        histories.append(loaded.set_params(warm_start=True, epochs=2).fit(X[:600], y[:600]).history_["loss"])
    assert histories[0] == histories[1]
