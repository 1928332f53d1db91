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
