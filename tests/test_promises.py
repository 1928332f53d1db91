"""README promises that no module's tests own: whole values reach the model; nothing passed is mutated."""

import copy

import keras
import numpy as np
from keras.layers import Dense, Dropout
from sklearn.model_selection import GridSearchCV

from sknet import NetClassifier, NetRegressor


def _dense_units(model):
    return [layer.units for layer in model.layers if isinstance(layer, Dense)]


def test_whole_values_reach_the_model(iris):
    """``layers=[...]`` and ``optimizer="sgd"``, set whole (as a search sets them), are the network's."""
    X, y = iris
    clf = NetClassifier(epochs=1, random_state=0).set_params(optimizer="sgd", layers=[Dense(4, activation="tanh")])
    clf.fit(X, y)
    assert type(clf.model_.optimizer) is keras.optimizers.SGD
    assert _dense_units(clf.model_) == [4, 3]
    assert clf.model_.layers[0].get_config()["activation"] == "tanh"


def test_searched_whole_values_reach_the_best_model(iris):
    X, y = iris
    grid = {"optimizer": ["sgd", "adam"], "layers": [[Dense(2)], [Dense(24, activation="relu")]]}
    search = GridSearchCV(NetClassifier(epochs=3, optimizer__learning_rate=0.05, random_state=0), grid, cv=2).fit(X, y)
    best = search.best_estimator_
    expected = {"sgd": keras.optimizers.SGD, "adam": keras.optimizers.Adam}[search.best_params_["optimizer"]]
    assert type(best.model_.optimizer) is expected
    assert _dense_units(best.model_) == [search.best_params_["layers"][0].units, 3]
    # and the candidates differ: their scores are not all equal
    assert len(set(np.round(search.cv_results_["mean_test_score"], 6))) > 1


def test_searched_model_kwargs_reach_the_network(regression_data):
    X, Y = regression_data

    def build(meta, hidden=4):
        inputs = keras.Input(shape=meta["input_shape_"])
        x = Dense(hidden, activation="relu")(inputs)
        return keras.Model(inputs, Dense(meta["n_outputs_"])(x))

    search = GridSearchCV(NetRegressor(build, epochs=2, random_state=0), {"model__hidden": [2, 6]}, cv=2).fit(X, Y)
    assert _dense_units(search.best_estimator_.model_) == [search.best_params_["model__hidden"], 2]


def test_nothing_passed_is_mutated(iris):
    X, y = iris
    layers = [Dense(8, activation="relu"), Dropout(0.1)]
    optimizer = keras.optimizers.Adam(learning_rate=0.01)
    callbacks = [keras.callbacks.EarlyStopping(monitor="loss", patience=1)]
    clf = NetClassifier(layers, optimizer=optimizer, callbacks=callbacks, epochs=2, random_state=0)
    params = {k: v for k, v in clf.get_params(deep=True).items() if k not in ("layers", "optimizer", "callbacks")}
    before = (copy.deepcopy(params), [layer.get_config() for layer in layers], optimizer.get_config(),
              vars(callbacks[0]).copy())
    X_copy, y_copy = X.copy(), y.copy()
    clf.fit(X, y)
    assert {k: v for k, v in clf.get_params(deep=True).items() if k in params} == before[0]  # values, not just keys
    clf.set_params(layers__0__units=4).fit(X, y)
    assert not layers[0].built and not optimizer.built  # (a Dropout is built from birth: it has no weights)
    assert [layer.get_config() for layer in layers] == before[1] and optimizer.get_config() == before[2]
    assert int(optimizer.iterations) == 0
    assert vars(callbacks[0]) == before[3]
    assert clf.optimizer is optimizer and clf.callbacks is callbacks
    np.testing.assert_array_equal(X, X_copy)
    np.testing.assert_array_equal(y, y_copy)
