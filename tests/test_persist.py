"""Pickle, joblib, deepcopy and clone; fresh-process loading; version records."""

import copy
import pickle
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
    for other in (pickle.loads(pickle.dumps(clf)), copy.deepcopy(clf), clone(clf)):
        assert other.get_params(deep=False).keys() == clf.get_params(deep=False).keys()
        assert other.optimizer__learning_rate == 0.1
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


def test_state_records_versions_and_warns_on_mismatch(fitted):
    state = fitted.__getstate__()
    assert set(state["_sknet_versions"]) == {"sknet", "keras", "sklearn"}
    state["_sknet_versions"] = dict(state["_sknet_versions"], sknet="0.0.1")
    other = NetClassifier.__new__(NetClassifier)
    with pytest.warns(InconsistentVersionWarning, match="sknet 0.0.1"):
        other.__setstate__(state)


def test_incompatible_keras_major_version_is_a_clear_error(fitted):
    state = fitted.__getstate__()
    state["_sknet_versions"] = dict(state["_sknet_versions"], keras="2.15.0")
    with pytest.raises(RuntimeError, match="Keras major versions differ"):
        NetClassifier.__new__(NetClassifier).__setstate__(state)


def test_same_versions_load_silently(fitted):
    with warnings.catch_warnings():
        warnings.simplefilter("error", InconsistentVersionWarning)
        pickle.loads(pickle.dumps(fitted))


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
