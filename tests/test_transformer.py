"""NetTransformer: the network as a pipeline step that produces features."""

import pickle

import keras
import numpy as np
import pandas as pd
import pytest
from keras.layers import Dense, Dropout
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from sknet import NetClassifier, NetRegressor, NetTransformer


def _spec():
    return [Dense(16, activation="relu"), Dense(4, activation="tanh")]


def _activations(model, index, X):
    view = keras.Model(model.inputs, model.layers[index].output)
    return view.predict(X, verbose=0)


@pytest.mark.parametrize("kind", ["classification", "regression"])
def test_supervised_training_is_the_estimators_training(iris, kind):
    X, y = iris
    estimator = NetClassifier if kind == "classification" else NetRegressor
    y = y if kind == "classification" else X[:, 0] * 2.0
    ours = NetTransformer(_spec(), epochs=3, random_state=0).fit(X, y)
    theirs = estimator(_spec(), epochs=3, random_state=0).fit(X, y)
    for a, b in zip(ours.model_.get_weights(), theirs.model_.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)
    assert ours.history_ == theirs.history_
    assert not ours.autoencoder_
    np.testing.assert_allclose(ours.transform(X), _activations(ours.model_, 1, X), atol=1e-6)
    assert ours.transform(X).shape == (150, 4) and ours.transform(X).dtype == np.float64


def test_autoencoder_reconstructs_and_inverts(digits):
    X, _ = digits
    ae = NetTransformer([Dense(32, activation="relu"), Dense(8, activation="linear")], epochs=20,
                        optimizer__learning_rate=0.01, random_state=0).fit(X)
    assert ae.autoencoder_
    assert [layer.units for layer in ae.model_.layers] == [32, 8, 32, 64]  # encoder, mirrored decoder, output
    codes = ae.transform(X)
    assert codes.shape == (len(X), 8)
    np.testing.assert_allclose(codes, _activations(ae.model_, 1, X), atol=1e-5)
    reconstruction = ae.inverse_transform(codes)
    np.testing.assert_allclose(reconstruction, ae.model_.predict(X, verbose=0), atol=1e-5)
    baseline = ((X - X.mean(axis=0)) ** 2).mean()
    assert ((reconstruction - X) ** 2).mean() < 0.6 * baseline  # it learnt more than the mean


def test_a_given_decoder_replaces_the_mirror(digits):
    X, _ = digits
    ae = NetTransformer([Dense(8)], decoder=[Dense(24, activation="relu")], epochs=1, random_state=0).fit(X)
    assert [layer.units for layer in ae.model_.layers] == [8, 24, 64]


def test_transform_layer_by_name_and_index(iris):
    X, y = iris
    spec = [Dense(16, activation="relu", name="wide"), Dense(4, activation="tanh", name="narrow")]
    by_name = NetTransformer(spec, transform_layer="wide", epochs=2, random_state=0).fit(X, y)
    assert by_name.transform(X).shape == (150, 16)
    by_index = NetTransformer(spec, transform_layer=0, epochs=2, random_state=0).fit(X, y)
    np.testing.assert_array_equal(by_index.transform(X), by_name.transform(X))
    assert list(by_name.get_feature_names_out()) == [f"nettransformer{i}" for i in range(16)]


def test_bad_transform_layer_changes_nothing(iris):
    X, y = iris
    t = NetTransformer(_spec(), epochs=1, random_state=0).fit(X, y)
    before = t.transform(X)
    with pytest.raises(ValueError, match="not a layer of the network"):
        t.set_params(transform_layer="nope").fit(X, y)
    np.testing.assert_array_equal(t.transform(X), before)


def test_errors(iris):
    X, y = iris
    supervised = NetTransformer(_spec(), epochs=1, random_state=0).fit(X, y)
    with pytest.raises(ValueError, match="needs an autoencoder"):
        supervised.inverse_transform(supervised.transform(X))
    with pytest.raises(ValueError, match="2-D X"):
        NetTransformer(epochs=1).fit(np.zeros((10, 3, 2)))
    ae = NetTransformer(_spec(), epochs=1, random_state=0).fit(X)
    with pytest.raises(ValueError, match=r"shape \(n_samples, 4\)"):
        ae.inverse_transform(np.zeros((3, 5)))


def test_pandas_output_and_pipeline_search(iris):
    X, y = iris
    frame = pd.DataFrame(X, columns=["a", "b", "c", "d"])
    t = NetTransformer(_spec(), epochs=1, random_state=0).set_output(transform="pandas").fit(frame, y)
    out = t.transform(frame)
    assert isinstance(out, pd.DataFrame) and list(out.columns) == [f"nettransformer{i}" for i in range(4)]
    pipe = make_pipeline(StandardScaler(), NetTransformer(_spec(), epochs=3, random_state=0),
                         LogisticRegression(max_iter=500))
    search = GridSearchCV(pipe, {"nettransformer__layers__1__units": [2, 6]}, cv=2).fit(X, y)
    best = search.best_estimator_
    units = search.best_params_["nettransformer__layers__1__units"]
    assert best[-1].coef_.shape[1] == units  # the searched width reached the features
    again = pickle.loads(pickle.dumps(best))
    np.testing.assert_array_equal(again.predict_proba(X), best.predict_proba(X))


def test_dropout_is_off_in_transform(digits):
    X, y = digits
    t = NetTransformer([Dense(16, activation="relu"), Dropout(0.5)], epochs=1, random_state=0).fit(X, y)
    np.testing.assert_array_equal(t.transform(X[:50]), t.transform(X[:50]))
    np.testing.assert_allclose(t.transform(X[:50]), _activations(t.model_, 0, X[:50]), atol=1e-6)
