"""The Keras tutorial's examples, run through sknet (issue 28's "Done when").

The tutorial is ``../shared/seed/000_0de7b4b052244f77.txt`` (in Chinese, Keras 2 era). Each test
is one of its code examples translated to Keras 3 (``lr=`` -> ``learning_rate=``, ``keras.backend``
-> ``keras.ops`` / ``keras.config``), with ``model.compile(...)`` and ``model.fit(...)`` becoming the
estimator's parameters and ``fit``. For every example the network sknet trains has exactly the
parameters of the model Keras builds from the same code (``count_params``). MNIST is not available
offline: the MNIST examples run on small generated data of MNIST's shape and value range.

Examples the project does not implement: ``model.train_on_batch`` (sknet trains through ``fit``
and ``partial_fit``) and ``model.summary()`` (``clf.model_.summary()`` is Keras' own).
"""

import warnings

import keras
import numpy as np
import pytest
from keras.layers import Activation, Conv2D, Dense, Dropout, Flatten, MaxPooling2D
from keras.models import Sequential
from sklearn.exceptions import DataConversionWarning

from sknet import NetClassifier, NetRegressor


@pytest.fixture(autouse=True)
def _quiet_input_shape_warnings():
    # Keras 3 warns about the tutorial's input_dim= / input_shape= arguments; they are the point here.
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*input_shape.*", category=UserWarning)
        yield


def _dummy(n=1000, features=100, classes=2, seed=0):
    """The tutorial's "Generate dummy data", seeded: ``np.random.random`` rows and random integer labels."""
    rng = np.random.RandomState(seed)
    return rng.random_sample((n, features)), rng.randint(classes, size=(n, 1))


def _mnist_like(n, seed=0):
    """``(x, y)`` shaped like ``mnist.load_data()``'s: uint8 28x28 images of ten learnable classes."""
    strokes = np.random.RandomState(0).rand(10, 28, 28) > 0.8  # one pattern per class, train and test alike
    rng = np.random.RandomState(seed)
    y = rng.randint(10, size=n)
    images = 180 * strokes[y] + rng.randint(0, 75, size=(n, 28, 28))
    return images.astype("uint8"), y


def _params(clf):
    return clf.model_.count_params()


# -- Fast Overview and "Sequential model": the ways to write a Sequential ---------------------------------------


def _overview_model():
    model = Sequential()
    model.add(Dense(units=64, activation="relu", input_dim=100))
    model.add(Dense(units=10, activation="softmax"))
    return model


def _list_model():
    return Sequential([
        Dense(32, input_shape=(784,)),
        Activation("relu"),
        Dense(10),
        Activation("softmax"),
    ])


def _add_model():
    model = Sequential()
    model.add(Dense(32, input_dim=784))
    model.add(Activation("relu"))
    return model


def _input_shape_model():
    model = Sequential()
    model.add(Dense(32, input_shape=(784,)))
    return model


def _input_dim_model():
    model = Sequential()
    model.add(Dense(32, input_dim=784))
    return model


# name: (the tutorial's model, its input width, the output layer sknet adds or None when the model has one)
SEQUENTIAL_FORMS = {
    "overview .add with input_dim": (_overview_model, 100, None),
    "list with Activation layers": (_list_model, 784, None),
    ".add with an Activation layer": (_add_model, 784, Dense(10, activation="softmax")),
    "input_shape": (_input_shape_model, 784, Dense(10, activation="softmax")),
    "input_dim": (_input_dim_model, 784, Dense(10, activation="softmax")),
}


@pytest.mark.parametrize("form", sorted(SEQUENTIAL_FORMS))
def test_the_sequential_forms(form):
    make, width, head = SEQUENTIAL_FORMS[form]
    X, y = _dummy(n=64, features=width, classes=10)
    model = make()
    config = model.get_config()
    clf = NetClassifier(model, optimizer="sgd", loss="categorical_crossentropy", metrics=["accuracy"], epochs=1,
                        random_state=0).fit(X, y.ravel())
    # Keras' own model: the tutorial's, plus the output layer sknet adds to a model without one.
    own = make() if head is None else Sequential([keras.Input((width,)), *make().layers, head])
    assert _params(clf) == own.count_params()
    assert model.get_config() == config  # the template is never built further, trained or changed
    assert clf.predict_proba(X).shape == (64, 10)


def test_input_shape_and_input_dim_are_the_same_network():
    X, y = _dummy(n=64, features=784, classes=10)
    by_shape = NetClassifier(_input_shape_model(), epochs=1, random_state=0).fit(X, y.ravel())
    by_dim = NetClassifier(_input_dim_model(), epochs=1, random_state=0).fit(X, y.ravel())
    assert [w.shape for w in by_shape.model_.get_weights()] == [w.shape for w in by_dim.model_.get_weights()]
    np.testing.assert_array_equal(by_shape.predict_proba(X), by_dim.predict_proba(X))


# -- the tutorial's Activation-layer head trains as Keras trains it (issue 28, item 0) ----------------------------


def _digits_model():
    """The tutorial's list form on digits: the output layer is ``Dense(10)`` then ``Activation('softmax')``."""
    return Sequential([Dense(32, input_shape=(64,)), Activation("relu"), Dense(10), Activation("softmax")])


def test_the_activation_head_takes_the_same_steps_as_keras_fit(digits):
    """Same initial weights, same (full) batches, rmsprop: sknet's losses are Keras' own, to 1e-4."""
    X, y = digits
    start = NetClassifier(_digits_model(), optimizer="sgd", optimizer__learning_rate=0.0, epochs=1,
                          random_state=0).fit(X, y)  # a step of size 0: sknet's initial weights
    clf = NetClassifier(_digits_model(), optimizer="rmsprop", batch_size=len(X), epochs=5, random_state=0).fit(X, y)
    own = _digits_model()
    own.set_weights(start.model_.get_weights())
    own.compile(optimizer="rmsprop", loss="categorical_crossentropy")
    history = own.fit(X, keras.utils.to_categorical(y, 10), batch_size=len(X), epochs=5, shuffle=False, verbose=0)
    assert _params(clf) == own.count_params()
    np.testing.assert_allclose(clf.history_["loss"], history.history["loss"], rtol=1e-4)
    np.testing.assert_allclose(clf.predict_proba(X), own.predict(X, verbose=0), rtol=1e-3, atol=1e-5)


def test_the_activation_head_learns_digits_as_keras_does(digits):
    """The issue's measurement: 10 epochs of rmsprop on digits; 0.53 with the doubled head, Keras about 0.95."""
    X, y = digits
    clf = NetClassifier(_digits_model(), optimizer="rmsprop", epochs=10, batch_size=32, random_state=0).fit(X, y)
    own = _digits_model()
    own.set_weights(NetClassifier(_digits_model(), optimizer="sgd", optimizer__learning_rate=0.0, epochs=1,
                                  random_state=0).fit(X, y).model_.get_weights())
    own.compile(optimizer="rmsprop", loss="categorical_crossentropy", metrics=["accuracy"])
    own.fit(X, keras.utils.to_categorical(y, 10), batch_size=32, epochs=10, shuffle=False, verbose=0)
    keras_accuracy = float(np.mean(own.predict(X, verbose=0).argmax(axis=1) == y))
    assert keras_accuracy > 0.9
    assert clf.score(X, y) > 0.9
    assert abs(clf.score(X, y) - keras_accuracy) < 0.04


# -- "Compilation": the compile examples ------------------------------------------------------------------------


def mean_pred(y_true, y_pred):
    """The tutorial's custom metric (``K.mean`` is ``keras.ops.mean`` in Keras 3)."""
    return keras.ops.mean(y_pred)


def test_compile_with_an_optimizer_instance():
    """``loss=keras.losses.categorical_crossentropy, optimizer=SGD(lr=0.01, momentum=0.9, nesterov=True)``."""
    X, y = _dummy(n=200, classes=10)
    optimizer = keras.optimizers.SGD(learning_rate=0.01, momentum=0.9, nesterov=True)
    clf = NetClassifier(_overview_model(), loss=keras.losses.categorical_crossentropy, optimizer=optimizer,
                        epochs=2, random_state=0).fit(X, y.ravel())
    trained = clf.model_.optimizer
    assert isinstance(trained, keras.optimizers.SGD) and trained is not optimizer
    assert (float(trained.learning_rate), trained.momentum, trained.nesterov) == (pytest.approx(0.01), 0.9, True)
    assert isinstance(clf.model_.loss, keras.losses.CategoricalCrossentropy)
    assert _params(clf) == _overview_model().count_params()


def test_compile_the_model_itself_as_the_tutorial_does():
    """``model.compile(loss=..., optimizer='sgd', metrics=['accuracy'])`` on the spec: its loss and metrics train."""
    X, y = _dummy(n=200, classes=10)
    model = _overview_model()
    model.compile(loss="categorical_crossentropy", optimizer="sgd", metrics=["accuracy"])
    clf = NetClassifier(model, optimizer="sgd", epochs=2, random_state=0).fit(X, y.ravel())
    assert isinstance(clf.model_.loss, keras.losses.CategoricalCrossentropy)
    assert len(clf.history_["accuracy"]) == 2


def _binary_model():
    model = Sequential()
    model.add(Dense(32, activation="relu", input_dim=100))
    model.add(Dense(1, activation="sigmoid"))
    return model


def _ten_class_model():
    model = Sequential()
    model.add(Dense(32, activation="relu", input_dim=100))
    model.add(Dense(10, activation="softmax"))
    return model


def test_compile_for_a_multi_class_problem():
    X, y = _dummy(n=200, classes=10)
    clf = NetClassifier(_ten_class_model(), optimizer="rmsprop", loss="categorical_crossentropy",
                        metrics=["accuracy"], epochs=2, random_state=0).fit(X, y.ravel())
    assert isinstance(clf.model_.optimizer, keras.optimizers.RMSprop) and "accuracy" in clf.history_
    assert _params(clf) == _ten_class_model().count_params()


def test_compile_for_a_binary_problem():
    X, y = _dummy(n=200)
    clf = NetClassifier(_binary_model(), optimizer="rmsprop", loss="binary_crossentropy", metrics=["accuracy"],
                        epochs=2, random_state=0).fit(X, y.ravel())
    assert isinstance(clf.model_.loss, keras.losses.BinaryCrossentropy) and "accuracy" in clf.history_
    assert _params(clf) == _binary_model().count_params()


def test_compile_for_a_mean_squared_error_regression():
    X, _ = _dummy(n=200)
    target = X[:, :3].sum(axis=1)
    model = Sequential([Dense(32, activation="relu", input_dim=100), Dense(1)])
    reg = NetRegressor(model, optimizer="rmsprop", loss="mse", epochs=2, random_state=0).fit(X, target)
    assert isinstance(reg.model_.loss, keras.losses.MeanSquaredError)
    assert _params(reg) == Sequential([Dense(32, activation="relu", input_dim=100), Dense(1)]).count_params()


def test_compile_with_a_custom_metric():
    """``metrics=['accuracy', mean_pred]``: a plain function, reported per epoch like Keras' own."""
    X, y = _dummy(n=200)
    clf = NetClassifier(_binary_model(), optimizer="rmsprop", loss="binary_crossentropy",
                        metrics=["accuracy", mean_pred], epochs=2, random_state=0).fit(X, y.ravel())
    assert len(clf.history_["mean_pred"]) == 2
    assert 0.0 < clf.history_["mean_pred"][-1] < 1.0  # the mean predicted probability


# -- "Training": the two dummy-data examples ---------------------------------------------------------------------


def test_training_a_binary_classifier_on_dummy_data():
    data, labels = _dummy(1000, 100, 2)  # labels of shape (1000, 1), as the tutorial's
    clf = NetClassifier(_binary_model(), optimizer="rmsprop", loss="binary_crossentropy", metrics=["accuracy"],
                        epochs=10, batch_size=32, random_state=0)
    with pytest.warns(DataConversionWarning, match="column-vector y"):
        clf.fit(data, labels)
    assert _params(clf) == _binary_model().count_params() == 3265
    assert len(clf.history_["loss"]) == 10 and clf.history_["loss"][-1] < clf.history_["loss"][0]
    assert clf.predict(data).shape == (1000,)


def test_training_a_ten_class_classifier_on_one_hot_dummy_data():
    data, labels = _dummy(1000, 100, 10)
    one_hot_labels = keras.utils.to_categorical(labels, num_classes=10)
    clf = NetClassifier(_ten_class_model(), optimizer="rmsprop", loss="categorical_crossentropy",
                        metrics=["accuracy"], epochs=10, batch_size=32, random_state=0).fit(data, one_hot_labels)
    assert _params(clf) == _ten_class_model().count_params() == 3562
    assert clf.history_["loss"][-1] < clf.history_["loss"][0]
    predicted = clf.predict(data)
    assert predicted.shape == (1000, 10) and np.all(predicted.sum(axis=1) == 1)  # one-hot, as y was given


# -- "Examples": the MNIST MLP and convnet, on generated MNIST-shaped data ----------------------------------------


def _mnist_mlp_data(n_train, n_test, num_classes=10):
    (x_train, y_train), (x_test, y_test) = _mnist_like(n_train, seed=0), _mnist_like(n_test, seed=1)
    x_train = x_train.reshape(n_train, 784).astype("float32") / 255
    x_test = x_test.reshape(n_test, 784).astype("float32") / 255
    return (x_train, keras.utils.to_categorical(y_train, num_classes),
            x_test, keras.utils.to_categorical(y_test, num_classes))


def _mnist_mlp(num_classes=10):
    model = Sequential()
    model.add(Dense(512, activation="relu", input_shape=(784,)))
    model.add(Dropout(0.2))
    model.add(Dense(512, activation="relu"))
    model.add(Dropout(0.2))
    model.add(Dense(num_classes, activation="softmax"))
    return model


def test_the_mnist_mlp():
    x_train, y_train, x_test, y_test = _mnist_mlp_data(512, 128)
    clf = NetClassifier(_mnist_mlp(), loss="categorical_crossentropy", optimizer=keras.optimizers.RMSprop(),
                        metrics=["accuracy"], batch_size=128, epochs=3, verbose=0, random_state=0)
    clf.fit(x_train, y_train, validation_data=(x_test, y_test))
    assert _params(clf) == _mnist_mlp().count_params() == 669_706
    assert {"loss", "accuracy", "val_loss", "val_accuracy"} <= set(clf.history_)
    score = clf.model_.evaluate(x_test, y_test, verbose=0)  # the tutorial's model.evaluate: Keras' own
    assert score[1] == pytest.approx(clf.score(x_test, y_test), abs=1e-6)
    assert clf.score(x_test, y_test) > 0.9


def _mnist_convnet_data(n_train, n_test, num_classes=10, img_rows=28, img_cols=28):
    (x_train, y_train), (x_test, y_test) = _mnist_like(n_train, seed=0), _mnist_like(n_test, seed=1)
    if keras.config.image_data_format() == "channels_first":
        x_train = x_train.reshape(x_train.shape[0], 1, img_rows, img_cols)
        x_test = x_test.reshape(x_test.shape[0], 1, img_rows, img_cols)
        input_shape = (1, img_rows, img_cols)
    else:
        x_train = x_train.reshape(x_train.shape[0], img_rows, img_cols, 1)
        x_test = x_test.reshape(x_test.shape[0], img_rows, img_cols, 1)
        input_shape = (img_rows, img_cols, 1)
    x_train = x_train.astype("float32") / 255
    x_test = x_test.astype("float32") / 255
    return (x_train, keras.utils.to_categorical(y_train, num_classes),
            x_test, keras.utils.to_categorical(y_test, num_classes), input_shape)


def _mnist_convnet(input_shape, num_classes=10):
    model = Sequential()
    model.add(Conv2D(32, kernel_size=(3, 3), activation="relu", input_shape=input_shape))
    model.add(Conv2D(64, (3, 3), activation="relu"))
    model.add(MaxPooling2D(pool_size=(2, 2)))
    model.add(Dropout(0.25))
    model.add(Flatten())
    model.add(Dense(128, activation="relu"))
    model.add(Dropout(0.5))
    model.add(Dense(num_classes, activation="softmax"))
    return model


@pytest.mark.slow
def test_the_mnist_convnet():
    x_train, y_train, x_test, y_test, input_shape = _mnist_convnet_data(256, 64)
    # Keras 2's Adadelta() defaulted to lr=1.0, the tutorial's setting; Keras 3's default is 0.001.
    clf = NetClassifier(_mnist_convnet(input_shape), loss=keras.losses.categorical_crossentropy,
                        optimizer=keras.optimizers.Adadelta(learning_rate=1.0), metrics=["accuracy"],
                        batch_size=128, epochs=2, verbose=0, random_state=0)
    clf.fit(x_train, y_train, validation_data=(x_test, y_test))
    assert _params(clf) == _mnist_convnet(input_shape).count_params() == 1_199_882
    score = clf.model_.evaluate(x_test, y_test, verbose=0)
    assert score[1] == pytest.approx(clf.score(x_test, y_test), abs=1e-6)
    assert clf.score(x_test, y_test) > 0.5
