"""Layer specifications: every accepted form, freshness, heads, nested params."""

import keras
import numpy as np
import pytest
from keras.layers import Conv2D, Dense, Dropout, Flatten, MaxPooling2D

from sknet import NetClassifier, NetRegressor


def _units(model):
    return [layer.units for layer in model.layers if isinstance(layer, Dense)]


def test_default_spec_is_one_hidden_layer(iris):
    X, y = iris
    clf = NetClassifier(epochs=2, random_state=0).fit(X, y)
    assert _units(clf.model_) == [100, 3]
    assert clf.model_.layers[-1].activation.__name__ == "softmax"


def test_list_of_layers_is_never_built_or_mutated(iris):
    X, y = iris
    layers = [Dense(16, activation="relu"), Dropout(0.2)]
    configs = [layer.get_config() for layer in layers]
    built = [layer.built for layer in layers]
    clf = NetClassifier(layers, epochs=2, random_state=0).fit(X, y)
    assert [layer.built for layer in layers] == built
    assert not layers[0].built and not layers[0].weights
    assert [layer.get_config() for layer in layers] == configs
    assert clf.layers is layers
    assert all(a is not b for a in clf.model_.layers for b in layers)
    assert _units(clf.model_) == [16, 3]


def test_serialized_dict_spec(iris):
    X, y = iris
    spec = [keras.layers.serialize(Dense(8, activation="tanh")), {"class_name": "Dropout", "config": {"rate": 0.1}}]
    clf = NetClassifier(spec, epochs=2, random_state=0).fit(X, y)
    assert _units(clf.model_) == [8, 3]
    assert spec[1] == {"class_name": "Dropout", "config": {"rate": 0.1}}


def _token_data():
    rng = np.random.RandomState(0)
    X = rng.randint(0, 10, (300, 5))
    return X, (X[:, 0] > 4).astype(int)


@pytest.mark.parametrize("form", ["layer", "dict", "sequential"])
def test_embedding_keeps_its_vocabulary_size(form):
    """``input_dim`` is Embedding's vocabulary, not a legacy input width: it must survive."""
    X, y = _token_data()
    layers = [keras.layers.Embedding(10, 4), Flatten(), Dense(8, activation="relu")]
    spec = {
        "layer": layers,
        "dict": [keras.layers.serialize(layer) for layer in layers],
        "sequential": keras.Sequential(layers),
    }[form]
    clf = NetClassifier(spec, epochs=30, optimizer__learning_rate=0.05, random_state=0).fit(X, y)
    assert clf.model_.layers[0].input_dim == 10
    assert clf.score(X, y) > 0.9  # sparse embedding gradients train (Keras' own update)


def test_legacy_input_dim_of_dense_is_ignored(iris):
    X, y = iris
    spec = [{"class_name": "Dense", "config": {"units": 8, "input_dim": 99}}]
    clf = NetClassifier(spec, epochs=1, random_state=0).fit(X, y)
    assert clf.model_.layers[0].kernel.shape == (4, 8)


def test_tutorial_sequential_keeps_its_head(digits):
    X, y = digits
    model = keras.Sequential()
    model.add(keras.Input(shape=(64,)))
    model.add(Dense(32, activation="relu"))
    model.add(Dropout(0.2))
    model.add(Dense(10, activation="softmax"))
    weights = [w.copy() for w in model.get_weights()]
    clf = NetClassifier(model, optimizer="rmsprop", epochs=2, batch_size=128, random_state=0).fit(X, y)
    assert _units(clf.model_) == [32, 10]  # no second head
    assert clf.model_ is not model
    assert all(np.array_equal(a, b) for a, b in zip(model.get_weights(), weights, strict=True))


def test_unbuilt_sequential_without_head(iris):
    X, y = iris
    clf = NetClassifier(keras.Sequential([Dense(8, activation="relu")]), epochs=2, random_state=0).fit(X, y)
    assert _units(clf.model_) == [8, 3]


def test_sequential_with_other_input_shape_is_rejected(iris):
    X, y = iris
    model = keras.Sequential([keras.Input((7,)), Dense(8)])
    with pytest.raises(ValueError, match=r"declares input shape \(7,\)"):
        NetClassifier(model, epochs=1).fit(X, y)


def build_functional(meta, hidden=8):
    inputs = keras.Input(shape=meta["input_shape_"])
    a = Dense(hidden, activation="relu")(inputs)
    b = Dense(hidden, activation="tanh")(inputs)
    x = keras.layers.Concatenate()([a, b])
    outputs = Dense(meta["n_outputs_"], activation=meta["out_activation_"])(x)
    return keras.Model(inputs, outputs)


def test_callable_spec_gets_meta_and_model_kwargs(iris):
    X, y = iris
    clf = NetClassifier(build_functional, model__hidden=5, epochs=20, random_state=0).fit(X, y)
    assert sorted(_units(clf.model_)) == [3, 5, 5]
    assert clf.score(X, y) > 0.5
    assert clf.get_params()["model__hidden"] == 5


def test_callable_spec_with_wrong_output_is_rejected(iris):
    X, y = iris

    def build(meta):
        inputs = keras.Input(shape=meta["input_shape_"])
        return keras.Model(inputs, Dense(2, activation="softmax")(inputs))

    with pytest.raises(ValueError, match=r"ends in 2 unit\(s\) with activation 'softmax'.*Dense\(3, 'softmax'\)"):
        NetClassifier(build, epochs=1).fit(X, y)


def test_callable_returning_non_model_is_rejected(iris):
    X, y = iris
    with pytest.raises(TypeError, match="must return a keras.Model"):
        NetClassifier(lambda meta: "nope", epochs=1).fit(X, y)


def test_explicit_head_with_wrong_units_is_rejected(digits):
    X, y = digits
    with pytest.raises(ValueError, match=r"needs Dense\(10, 'softmax'\) for 10 classes"):
        NetClassifier([Dense(3, activation="softmax")], epochs=1).fit(X, y)


def test_regressor_linear_head_is_kept(regression_data):
    X, Y = regression_data
    reg = NetRegressor([Dense(16, activation="relu"), Dense(2)], epochs=2, random_state=0).fit(X, Y)
    assert _units(reg.model_) == [16, 2]


@pytest.mark.parametrize(
    "layers, error, match",
    [
        ("dense", TypeError, "The 'layers' parameter of NetClassifier must be"),
        (42, TypeError, "The 'layers' parameter of NetClassifier must be"),
        ([Dense(3), "relu"], TypeError, "not a mix"),
        ([{"config": {}}], ValueError, "class_name"),
        ([{"class_name": "NoSuchLayer", "config": {}}], ValueError, "could not be deserialized"),
    ],
)
def test_invalid_layers(iris, layers, error, match):
    X, y = iris
    with pytest.raises(error, match=match):
        NetClassifier(layers, epochs=1).fit(X, y)


def test_conv2d_spec_on_images(digits):
    X, y = digits
    images = X[:300].reshape(-1, 8, 8, 1)
    spec = [
        Conv2D(8, 3, activation="relu"),
        MaxPooling2D(2),
        Dropout(0.25),
        Flatten(),
        Dense(32, activation="relu"),
    ]
    clf = NetClassifier(spec, epochs=20, batch_size=32, random_state=0).fit(images, y[:300])
    assert clf.input_shape_ == (8, 8, 1)
    assert clf.predict_proba(images[:5]).shape == (5, 10)
    assert clf.score(images, y[:300]) > 0.5
    with pytest.raises(ValueError, match="per-sample shape"):
        clf.predict(X[:5].reshape(-1, 8, 4, 2))


def test_dense_spec_on_3d_input_is_a_clear_error():
    X = np.random.RandomState(0).rand(20, 4, 3)
    y = np.arange(20) % 2
    with pytest.raises(ValueError, match="Flatten"):
        NetClassifier([Dense(4)], epochs=1).fit(X, y)


# -- the head rule (regression tests of the correctness pass) -----------------------------------


def test_default_regressor_on_100_outputs_gets_a_linear_head():
    rng = np.random.RandomState(0)
    X, Y = rng.rand(40, 5), rng.randn(40, 100)
    reg = NetRegressor(epochs=1, random_state=0).fit(X, Y)
    assert _units(reg.model_) == [100, 100]
    assert reg.model_.layers[-1].activation.__name__ == "linear"
    assert (reg.predict(X) < 0).any()  # a relu output could never predict these targets


@pytest.mark.parametrize("activation", ["relu", "gelu", "elu"])
def test_a_hidden_activation_with_the_targets_width_stays_hidden(regression_data, activation):
    X, Y = regression_data  # two outputs
    reg = NetRegressor([Dense(16, activation="relu"), Dense(2, activation=activation)], epochs=1,
                       random_state=0).fit(X, Y)
    assert _units(reg.model_) == [16, 2, 2]
    assert reg.out_activation_ == "linear"


@pytest.mark.parametrize("activation", ["linear", "sigmoid", "tanh", "softplus"])
def test_an_output_activation_with_the_targets_width_is_the_head(regression_data, activation):
    X, Y = regression_data
    reg = NetRegressor([Dense(16, activation="relu"), Dense(2, activation=activation)], epochs=1,
                       random_state=0).fit(X, Y)
    assert _units(reg.model_) == [16, 2] and reg.out_activation_ == activation


def test_a_classifier_relu_layer_with_the_class_count_stays_hidden(iris):
    X, y = iris
    clf = NetClassifier([Dense(3, activation="relu")], epochs=1, random_state=0).fit(X, y)
    assert _units(clf.model_) == [3, 3] and clf.out_activation_ == "softmax"


# -- output blocks: a Dense followed by activation layers is one output layer (issue 28, item 0) --------------


def _tutorial_tail(form):
    """The Keras tutorial's output layer, written three ways (the last two end in separate activation layers)."""
    return {
        "dense": [Dense(10, activation="softmax")],
        "activation": [Dense(10), keras.layers.Activation("softmax")],
        "softmax": [Dense(10), keras.layers.Softmax()],
    }[form]


@pytest.mark.parametrize("spec_form", ["layers", "dicts", "sequential"])
@pytest.mark.parametrize("tail", ["dense", "activation", "softmax"])
def test_a_dense_followed_by_its_activation_is_the_head(digits, spec_form, tail):
    X, y = digits
    layers = [Dense(32), keras.layers.Activation("relu"), *_tutorial_tail(tail)]
    spec = {"layers": layers, "dicts": [keras.layers.serialize(layer) for layer in layers],
            "sequential": keras.Sequential(layers)}[spec_form]
    clf = NetClassifier(spec, epochs=1, random_state=0).fit(X, y)
    assert _units(clf.model_) == [32, 10]  # no second head after the softmax
    assert "sknet_head" not in [layer.name for layer in clf.model_.layers]
    assert clf.out_activation_ == "softmax" and clf._output == "probabilities"
    np.testing.assert_allclose(clf.predict_proba(X[:5]), clf.model_.predict(X[:5], verbose=0), rtol=1e-5, atol=1e-6)


def test_the_tutorial_head_trains_like_a_softmax_dense(digits):
    """Dense(10) + Activation("softmax") and Dense(10, "softmax"): the same network, the same fit."""
    X, y = digits
    params = dict(optimizer="rmsprop", epochs=3, random_state=0)
    split = NetClassifier([Dense(32, activation="relu"), Dense(10), keras.layers.Activation("softmax")],
                          **params).fit(X, y)
    fused = NetClassifier([Dense(32, activation="relu"), Dense(10, activation="softmax")], **params).fit(X, y)
    np.testing.assert_allclose(split.history_["loss"], fused.history_["loss"], rtol=1e-5)
    np.testing.assert_allclose(split.predict_proba(X), fused.predict_proba(X), rtol=1e-4, atol=1e-6)


def test_a_binary_dense_followed_by_a_sigmoid_is_the_head(iris):
    X, y = iris
    clf = NetClassifier([Dense(8, activation="relu"), Dense(1), keras.layers.Activation("sigmoid")], epochs=1,
                        random_state=0).fit(X, y == 0)
    assert _units(clf.model_) == [8, 1] and clf.out_activation_ == "sigmoid" and clf._output == "probabilities"


def test_a_dense_followed_by_a_linear_activation_gives_logits(iris):
    X, y = iris
    clf = NetClassifier([Dense(3), keras.layers.Activation("linear")], epochs=1, random_state=0).fit(X, y)
    assert _units(clf.model_) == [3] and clf._output == "logits" and clf.out_activation_ == "linear"
    assert clf.model_.loss.get_config()["from_logits"]


@pytest.mark.parametrize("layers", [
    [Dense(3), keras.layers.Activation("softmax")],
    [Dense(32, activation="relu"), keras.layers.Activation("softmax")],
    [Dense(3), keras.layers.Softmax()],
])
def test_a_softmax_block_with_the_wrong_units_is_rejected(digits, layers):
    X, y = digits
    with pytest.raises(ValueError, match=r"followed by .*needs Dense\(10, 'softmax'\) for 10 classes"):
        NetClassifier(layers, epochs=1).fit(X, y)


def test_a_regressor_dense_followed_by_an_output_activation_is_the_head(regression_data):
    X, Y = regression_data
    reg = NetRegressor([Dense(16, activation="relu"), Dense(2), keras.layers.Activation("tanh")], epochs=1,
                       random_state=0).fit(X, Y)
    assert _units(reg.model_) == [16, 2] and reg.out_activation_ == "tanh"


@pytest.mark.parametrize("tail", [keras.layers.ReLU(), keras.layers.Activation("relu"), keras.layers.ELU()])
def test_a_regressor_block_with_a_hidden_activation_stays_hidden(regression_data, tail):
    X, Y = regression_data
    reg = NetRegressor([Dense(2), tail], epochs=1, random_state=0).fit(X, Y)
    assert _units(reg.model_) == [2, 2] and reg.model_.layers[-1].name == "sknet_head"
    assert reg.out_activation_ == "linear"


def test_a_callable_output_block_is_read_through_its_activation_layers(iris):
    X, y = iris

    def build(meta):
        inputs = keras.Input(shape=meta["input_shape_"])
        probabilities = Dense(meta["n_classes_"], activation="softmax")(Dense(8, activation="relu")(inputs))
        return keras.Model(inputs, keras.layers.Activation("linear")(probabilities))

    clf = NetClassifier(build, epochs=1, random_state=0).fit(X, y)
    assert clf._output == "probabilities" and clf.out_activation_ == "softmax"  # not logits: a softmax ran


# -- what a build function compiled (issue 28, item 6) -----------------------------------------------------------


def _compiling(loss=None, metrics=None, optimizer="adam", units=None, activation=None):
    def build(meta):
        inputs = keras.Input(shape=meta["input_shape_"])
        hidden = Dense(16, activation="relu")(inputs)
        outputs = Dense(units or meta["n_outputs_"], activation=activation or meta["out_activation_"])(hidden)
        model = keras.Model(inputs, outputs)
        model.compile(optimizer=optimizer, loss=loss, metrics=metrics)
        return model

    return build


def test_a_build_functions_compiled_loss_and_metrics_are_honoured(regression_data):
    X, Y = regression_data
    reg = NetRegressor(_compiling(loss="mean_absolute_error", metrics=["mse"]), epochs=2, random_state=0).fit(X, Y)
    assert isinstance(reg.model_.loss, keras.losses.MeanAbsoluteError)
    assert "mse" in reg.history_
    reg.set_params(warm_start=True, epochs=1).fit(X, Y)  # a continued fit keeps them
    assert isinstance(reg.model_.loss, keras.losses.MeanAbsoluteError) and len(reg.history_["mse"]) == 3


def test_the_estimators_loss_wins_over_the_compiled_one_with_a_warning(regression_data):
    X, Y = regression_data
    with pytest.warns(UserWarning, match=r"compiled with loss='mean_absolute_error', but the estimator's loss='mse'"):
        reg = NetRegressor(_compiling(loss="mean_absolute_error"), loss="mse", epochs=1, random_state=0).fit(X, Y)
    assert isinstance(reg.model_.loss, keras.losses.MeanSquaredError)


def test_the_same_loss_twice_does_not_warn(regression_data):
    import warnings

    X, Y = regression_data
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        NetRegressor(_compiling(loss="mean_squared_error"), loss="mse", epochs=1, random_state=0).fit(X, Y)


def test_a_compiled_sparse_loss_trains_on_class_codes(iris):
    X, y = iris
    build = _compiling(loss="sparse_categorical_crossentropy", metrics=["accuracy"], optimizer="rmsprop")
    clf = NetClassifier(build, optimizer="rmsprop", epochs=30, random_state=0).fit(X, y)
    assert isinstance(clf.model_.loss, keras.losses.SparseCategoricalCrossentropy) and clf.target_.sparse
    assert clf.history_["accuracy"][-1] > 0.8 and clf.score(X, y) > 0.8


def test_a_compiled_categorical_loss_on_one_sigmoid_unit_is_a_clear_error(iris):
    X, y = iris
    with pytest.raises(ValueError, match="on one sigmoid output unit is 0"):
        NetClassifier(_compiling(loss="categorical_crossentropy"), epochs=1).fit(X, y == 0)


def test_another_compiled_optimizer_is_reported(iris):
    X, y = iris
    with pytest.warns(UserWarning, match=r"compiled with the optimizer SGD.*the estimator's optimizer Adam"):
        NetClassifier(_compiling(optimizer="sgd"), epochs=1, random_state=0).fit(X, y)


def test_a_compiled_sequential_specs_loss_is_honoured(iris):
    X, y = iris
    model = keras.Sequential([keras.Input((4,)), Dense(8, activation="relu"), Dense(3, activation="softmax")])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    clf = NetClassifier(model, epochs=2, random_state=0).fit(X, y)
    assert isinstance(clf.model_.loss, keras.losses.SparseCategoricalCrossentropy) and "accuracy" in clf.history_
    assert model.loss == "sparse_categorical_crossentropy"  # the template is left as it was
