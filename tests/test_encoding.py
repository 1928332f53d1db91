"""Targets: raw labels in, original labels out; heads and losses inferred."""

import keras
import numpy as np
import pandas as pd
import pytest
from keras.layers import Dense

from sknet import NetClassifier, NetRegressor


def _fit(X, y, **kw):
    params = dict(layers=[Dense(16, activation="relu")], epochs=30, random_state=0)
    params.update(kw)
    return NetClassifier(**params).fit(X, y)


@pytest.mark.parametrize(
    "labels",
    [
        np.array(["setosa", "versicolor", "virginica"]),
        np.array([3, 10, 42]),
        np.array([-1.0, 0.0, 2.0]),
        np.array(["a", "b", "c"], dtype=object),
    ],
    ids=["str", "noncontiguous-int", "float-labels", "object"],
)
def test_multiclass_labels_round_trip(iris, labels):
    X, y = iris
    y_labels = labels[y]
    clf = _fit(X, y_labels)
    np.testing.assert_array_equal(clf.classes_, np.unique(y_labels))
    pred = clf.predict(X)
    assert pred.dtype == y_labels.dtype
    assert set(pred) <= set(labels)
    assert clf.score(X, y_labels) > 0.8
    proba = clf.predict_proba(X)
    assert proba.shape == (len(X), 3)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    np.testing.assert_array_equal(clf.classes_[proba.argmax(axis=1)], pred)


def test_binary_bool_labels(iris):
    X, y = iris
    y_bool = y == 0
    clf = _fit(X, y_bool)
    assert clf.model_.layers[-1].units == 1
    assert clf.model_.layers[-1].activation.__name__ == "sigmoid"
    assert clf.predict(X).dtype == bool
    assert clf.predict_proba(X).shape == (len(X), 2)
    assert clf.score(X, y_bool) > 0.9


def test_binary_with_softmax_head(iris):
    X, y = iris
    clf = _fit(X, y == 0, layers=[Dense(8, activation="relu"), Dense(2, activation="softmax")],
               optimizer__learning_rate=0.01)
    assert clf.model_.layers[-1].units == 2
    assert clf.predict_proba(X).shape == (len(X), 2)
    assert clf.score(X, y == 0) > 0.95


def test_multilabel_indicator(iris):
    X, y = iris
    Y = np.column_stack([y == 0, y == 2, X[:, 0] > 0]).astype(int)
    clf = _fit(X, Y)
    assert clf.model_.layers[-1].activation.__name__ == "sigmoid"
    pred = clf.predict(X)
    assert pred.shape == Y.shape and set(np.unique(pred)) <= {0, 1}
    proba = clf.predict_proba(X)
    assert proba.shape == Y.shape and proba.min() >= 0 and proba.max() <= 1
    assert (pred == Y).mean() > 0.85


def test_one_hot_target_with_categorical_loss(iris):
    X, y = iris
    Y = keras.utils.to_categorical(y, 3)
    clf = _fit(X, Y, loss="categorical_crossentropy")
    assert clf.model_.layers[-1].activation.__name__ == "softmax"
    pred = clf.predict(X)
    assert pred.shape == Y.shape
    np.testing.assert_array_equal(pred.sum(axis=1), 1)
    assert clf.score(X, Y) > 0.8


SPARSE_LOSSES = {
    "name": "sparse_categorical_crossentropy",
    "object": keras.losses.SparseCategoricalCrossentropy(),
    "function": keras.losses.sparse_categorical_crossentropy,
}


@pytest.mark.parametrize("form", sorted(SPARSE_LOSSES))
def test_sparse_loss_trains_on_class_codes_like_the_one_hot_loss(iris, form):
    """The Keras tutorials' sparse loss: codes go in, the same learning as one-hot + categorical."""
    X, y = iris
    labels = np.array(["setosa", "versicolor", "virginica"])[y]
    kw = dict(layers=[Dense(8, activation="relu")], epochs=5, metrics=["accuracy"], validation_split=0.2,
              random_state=0)
    sparse = NetClassifier(loss=SPARSE_LOSSES[form], **kw).fit(X, labels)
    dense = NetClassifier(loss="categorical_crossentropy", **kw).fit(X, labels)
    assert sparse.model_.layers[-1].units == 3
    np.testing.assert_allclose(sparse.history_["loss"], dense.history_["loss"], rtol=1e-5)
    np.testing.assert_allclose(sparse.history_["accuracy"], dense.history_["accuracy"])
    np.testing.assert_allclose(sparse.history_["val_loss"], dense.history_["val_loss"], rtol=1e-5)
    np.testing.assert_allclose(sparse.predict_proba(X), dense.predict_proba(X), rtol=1e-4, atol=1e-6)
    assert set(sparse.predict(X)) <= set(labels)


def test_sparse_loss_on_a_binary_target_gets_two_softmax_units(iris):
    X, y = iris
    clf = _fit(X, y == 0, loss="sparse_categorical_crossentropy")
    assert clf.model_.layers[-1].units == 2
    assert clf.model_.layers[-1].activation.__name__ == "softmax"
    assert clf.predict(X).dtype == bool and clf.predict_proba(X).shape == (len(X), 2)
    assert clf.score(X, y == 0) > 0.9
    with pytest.raises(ValueError, match="Dense\\(2, 'softmax'\\) for a binary target with a sparse loss"):
        _fit(X, y == 0, loss="sparse_categorical_crossentropy", layers=[Dense(1, activation="sigmoid")])


@pytest.mark.parametrize("loss", ["categorical_crossentropy", keras.losses.categorical_crossentropy,
                                  keras.losses.CategoricalCrossentropy()])
def test_categorical_loss_on_a_binary_target_gets_two_softmax_units(iris, loss):
    """On one sigmoid unit the categorical cross-entropy is 0 whatever the weights (issue 28, item 3)."""
    X, y = iris
    clf = _fit(X, y == 0, loss=loss, epochs=10)
    assert clf.model_.layers[-1].units == 2
    assert clf.model_.layers[-1].activation.__name__ == "softmax"
    assert min(clf.history_["loss"]) > 0.01  # a loss that can train
    assert clf.history_["loss"][-1] < clf.history_["loss"][0]
    assert clf.predict(X).dtype == bool and clf.predict_proba(X).shape == (len(X), 2)
    assert clf.score(X, y == 0) > 0.9
    with pytest.raises(ValueError, match="Dense\\(2, 'softmax'\\) for a binary target with a categorical loss"):
        _fit(X, y == 0, loss=loss, layers=[Dense(1, activation="sigmoid")])


def test_sparse_loss_with_a_one_hot_y_is_a_clear_error(iris):
    X, y = iris
    with pytest.raises(ValueError, match="takes 1-D class labels"):
        _fit(X, keras.utils.to_categorical(y, 3), loss="sparse_categorical_crossentropy")


def test_column_vector_y_is_raveled_with_warning(iris):
    from sklearn.exceptions import DataConversionWarning

    X, y = iris
    with pytest.warns(DataConversionWarning):
        clf = _fit(X, y.reshape(-1, 1), epochs=2)
    assert clf.predict(X).shape == (len(X),)


def test_continuous_target_is_rejected_by_the_classifier(iris):
    X, _ = iris
    with pytest.raises(ValueError, match="Unknown label type"):
        NetClassifier(epochs=1).fit(X, np.linspace(0, 1, len(X)))


def test_single_class_is_a_clear_error(iris):
    X, _ = iris
    with pytest.raises(ValueError, match="only one class"):
        NetClassifier(epochs=1).fit(X, np.zeros(len(X)))


@pytest.mark.parametrize("class_weight", ["balanced", {0: 1.0, 1: 5.0}])
def test_class_weight(iris, class_weight):
    X, y = iris
    clf = _fit(X, y, class_weight=class_weight, epochs=5)
    assert clf.predict(X).shape == (len(X),)


def test_class_weight_shifts_predictions(iris):
    X, y = iris
    plain = _fit(X, y, epochs=5)
    heavy = _fit(X, y, epochs=5, class_weight={2: 50.0})
    assert (heavy.predict(X) == 2).sum() > (plain.predict(X) == 2).sum()


def test_class_weight_with_unknown_label(iris):
    X, y = iris
    with pytest.raises(ValueError, match="not classes of y"):
        _fit(X, y, class_weight={7: 2.0}, epochs=1)


def test_sample_weight_zero_equals_removal(iris):
    X, y = iris
    w = np.ones(len(X))
    w[::3] = 0
    a = _fit(X, y, epochs=3).fit(X, y, sample_weight=w)
    b = _fit(X[w > 0], y[w > 0], epochs=3)
    np.testing.assert_allclose(a.predict_proba(X), b.predict_proba(X), rtol=1e-6)


def test_multi_output_regression(regression_data):
    X, Y = regression_data
    reg = NetRegressor([Dense(32, activation="relu")], epochs=60, random_state=0).fit(X, Y)
    assert reg.model_.layers[-1].units == 2
    pred = reg.predict(X)
    assert pred.shape == Y.shape and pred.dtype == np.float64
    assert reg.score(X, Y) > 0.8
    single = NetRegressor([Dense(8)], epochs=2, random_state=0).fit(X, Y[:, 0])
    assert single.predict(X).shape == (len(X),)


# -- regression tests of the correctness pass (each failed before it) --------------------------


def test_regressor_default_loss_is_mse_whatever_the_last_activation():
    """A sigmoid output for targets in [0, 1] is a regressor, not a binary classifier."""
    rng = np.random.RandomState(0)
    X = rng.rand(64, 3)
    y = X.mean(axis=1)
    reg = NetRegressor([Dense(8, activation="relu"), Dense(1, activation="sigmoid")], epochs=1,
                       random_state=0).fit(X, y)
    assert reg.model_.layers[-1].activation.__name__ == "sigmoid"  # the spec's own head is kept
    assert isinstance(reg.model_.loss, keras.losses.MeanSquaredError)
    mse = float(np.mean((reg.predict(X) - y) ** 2))
    # the reported loss after one more zero-rate epoch is the MSE of the predictions
    reg.set_params(warm_start=True, optimizer__learning_rate=0.0, epochs=1).fit(X, y)
    assert reg.history_["loss"][-1] == pytest.approx(mse, rel=1e-4)


def _logits_model(meta):
    inputs = keras.Input(shape=meta["input_shape_"])
    x = Dense(16, activation="relu")(inputs)
    return keras.Model(inputs, Dense(meta["n_outputs_"])(x))  # linear: logits


@pytest.mark.parametrize("binary", [False, True], ids=["multiclass", "binary"])
def test_a_linear_classifier_output_is_trained_and_read_as_logits(iris, binary):
    X, y = iris
    y = (y == 0) if binary else y
    clf = NetClassifier(_logits_model, epochs=40, optimizer__learning_rate=0.05, random_state=0).fit(X, y)
    assert clf.model_.loss.get_config()["from_logits"] is True
    assert clf.out_activation_ == "linear"
    raw = clf.model_.predict(X, verbose=0).astype("float64")
    expected = keras.ops.convert_to_numpy(
        keras.activations.sigmoid(raw) if binary else keras.activations.softmax(raw)
    ).astype("float64")
    proba = clf.predict_proba(X)
    np.testing.assert_allclose(proba[:, 1:] if binary else proba, expected, atol=1e-6)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    assert clf.score(X, y) > 0.9


def test_the_keras_tutorial_logits_spec_keeps_its_linear_head(digits):
    """``[..., Dense(10)]`` with ``SparseCategoricalCrossentropy(from_logits=True)``, as in the TF tutorial."""
    X, y = digits
    clf = NetClassifier([Dense(32, activation="relu"), Dense(10)], epochs=3, random_state=0,
                        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True)).fit(X, y)
    assert [layer.units for layer in clf.model_.layers] == [32, 10]
    assert clf.out_activation_ == "linear" and clf.score(X, y) > 0.8


def test_a_loss_whose_from_logits_contradicts_the_output_layer_is_a_clear_error(iris):
    X, y = iris
    with pytest.raises(ValueError, match="from_logits=True, but the network ends in a softmax"):
        NetClassifier(loss=keras.losses.CategoricalCrossentropy(from_logits=True), epochs=1).fit(X, y)
    with pytest.raises(ValueError, match="from_logits=False, but the network ends in a linear"):
        NetClassifier(_logits_model, loss="categorical_crossentropy", loss__from_logits=False, epochs=1).fit(X, y)


@pytest.mark.parametrize(
    "dtype, labels",
    [("Int64", [3, 10, 42]), ("UInt8", [1, 2, 3]), ("boolean", [True, False]), ("string", ["a", "b", "c"]),
     ("category", ["x", "y", "z"])],
)
def test_nullable_labels_come_back_in_their_type(iris, dtype, labels):
    X, y = iris
    labels = np.array(labels, dtype=object)
    y = pd.Series(labels[y % len(labels)], dtype=dtype)
    clf = NetClassifier(epochs=2, random_state=0).fit(X, y)
    pred = clf.predict(X)
    expected = y.to_numpy(dtype=getattr(y.dtype, "numpy_dtype", None) or object)
    if dtype == "category":
        expected = np.asarray(y.astype(object))
    assert pred.dtype == expected.dtype
    assert set(pred.tolist()) <= set(expected.tolist())
    assert clf.classes_.dtype == expected.dtype


def test_nullable_labels_with_missing_values_are_a_clear_error(iris):
    X, y = iris
    y = pd.Series(y, dtype="Int64")
    y[3] = pd.NA
    with pytest.raises(ValueError, match="y contains missing values"):
        NetClassifier(epochs=1).fit(X, y)
