"""Migrating from scikeras: its build functions work unchanged (docs/guide/migrating.md)."""

import keras
import numpy as np
import pytest

from sknet import NetClassifier, NetRegressor


# Build functions in the style of scikeras' documentation: ``meta`` and ``compile_kwargs`` are
# keyword arguments among the model's own, and the function may compile the model itself.
def get_clf(hidden_layer_sizes, dropout, meta):
    model = keras.models.Sequential()
    model.add(keras.layers.Input(shape=(meta["n_features_in_"],)))
    for size in hidden_layer_sizes:
        model.add(keras.layers.Dense(size, activation="relu"))
        model.add(keras.layers.Dropout(dropout))
    model.add(keras.layers.Dense(meta["n_classes_"], activation="softmax"))
    return model


def get_model_for_target(meta, compile_kwargs):
    model = keras.models.Sequential([keras.layers.Input(shape=(meta["n_features_in_"],)),
                                     keras.layers.Dense(16, activation="relu")])
    if meta["target_type_"] == "binary":
        model.add(keras.layers.Dense(1, activation="sigmoid"))
        loss = "binary_crossentropy"
    else:
        model.add(keras.layers.Dense(meta["n_classes_"], activation="softmax"))
        loss = "sparse_categorical_crossentropy"
    model.compile(loss=loss, optimizer=compile_kwargs["optimizer"])
    return model


def get_reg(meta, compile_kwargs, hidden=8):
    inputs = keras.Input(shape=(meta["n_features_in_"],))
    x = keras.layers.Dense(hidden, activation="relu")(inputs)
    model = keras.Model(inputs, keras.layers.Dense(meta["n_outputs_"])(x))
    model.compile(**compile_kwargs)
    return model


SEEN = {}


def spy(meta, compile_kwargs):
    SEEN.update(meta=meta, compile_kwargs=compile_kwargs)
    return get_model_for_target(meta, compile_kwargs)


def test_a_scikeras_classifier_build_function_with_model_arguments(iris):
    X, y = iris
    clf = NetClassifier(get_clf, model__hidden_layer_sizes=(16, 8), model__dropout=0.1, epochs=40,
                        optimizer__learning_rate=0.01, random_state=0).fit(X, y)
    assert [layer.units for layer in clf.model_.layers if isinstance(layer, keras.layers.Dense)] == [16, 8, 3]
    assert clf.score(X, y) > 0.9


@pytest.mark.parametrize("binary", [True, False])
def test_a_scikeras_function_that_compiles_itself(iris, binary):
    X, y = iris
    y = y == 0 if binary else y
    clf = NetClassifier(spy, optimizer="sgd", optimizer__learning_rate=0.05, epochs=30, random_state=0).fit(X, y)
    assert clf.score(X, y) > 0.9
    assert isinstance(SEEN["compile_kwargs"]["optimizer"], keras.optimizers.SGD)
    assert float(SEEN["compile_kwargs"]["optimizer"].learning_rate) == pytest.approx(0.05)
    expected = "binary_crossentropy" if binary else "categorical_crossentropy"
    assert SEEN["compile_kwargs"]["loss"] == expected
    assert SEEN["meta"]["target_type_"] == ("binary" if binary else "multiclass")
    # loss=None: the loss the function compiled trains (scikeras' behaviour), class codes for the sparse one
    assert isinstance(clf.model_.loss, keras.losses.BinaryCrossentropy if binary
                      else keras.losses.SparseCategoricalCrossentropy)
    assert clf.target_.sparse is not binary


def test_a_scikeras_regressor_function(regression_data):
    X, Y = regression_data
    reg = NetRegressor(get_reg, loss="mae", model__hidden=12, epochs=30, optimizer__learning_rate=0.02,
                       random_state=0).fit(X, Y)
    assert reg.score(X, Y) > 0.5
    assert isinstance(reg.model_.loss, keras.losses.MeanAbsoluteError)
    assert reg.model_.layers[1].units == 12


def test_sknets_own_positional_meta_still_works(iris):
    X, y = iris

    def build(m, width=4):  # a first argument not named meta gets meta positionally
        inputs = keras.Input(shape=m["input_shape_"])
        return keras.Model(inputs, keras.layers.Dense(m["n_outputs_"], activation="softmax")(
            keras.layers.Dense(width)(inputs)))

    clf = NetClassifier(build, model__width=6, epochs=1, random_state=0).fit(X, y)
    assert clf.model_.layers[1].units == 6
    np.testing.assert_array_equal(clf.classes_, [0, 1, 2])
