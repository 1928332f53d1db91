"""MNIST loading shared by the MNIST examples: Keras' download, or a local .npz."""

import numpy as np


def load_mnist(path=None, limit=None):
    """``(x_train, y_train), (x_test, y_test)`` as uint8 images and int labels.

    Parameters
    ----------
    path : str or None
        A local ``.npz`` in Keras' MNIST layout (``x_train, y_train, x_test,
        y_test``); ``None`` downloads with ``keras.datasets.mnist.load_data()``.
    limit : int or None
        Keep only the first ``limit`` training rows (and as many test rows).
    """
    if path is None:
        import keras

        (x_train, y_train), (x_test, y_test) = keras.datasets.mnist.load_data()
    else:
        with np.load(path) as data:
            x_train, y_train, x_test, y_test = (data[k] for k in ("x_train", "y_train", "x_test", "y_test"))
    if limit is not None:
        x_train, y_train, x_test, y_test = x_train[:limit], y_train[:limit], x_test[:limit], y_test[:limit]
    return (x_train, y_train), (x_test, y_test)


def add_arguments(parser, epochs):
    parser.add_argument("--data", default=None, help="local MNIST .npz (default: download with Keras)")
    parser.add_argument("--epochs", type=int, default=epochs)
    parser.add_argument("--limit", type=int, default=None, help="use only the first N training rows")
    return parser


def fit_and_report(model, x_train, y_train, x_test, y_test):
    """Fit with the test set as validation data, then print loss and accuracy like the originals."""
    from sklearn.metrics import log_loss

    model.fit(x_train, y_train, validation_data=(x_test, y_test))
    print("Test loss:", log_loss(y_test, model.predict_proba(x_test), labels=model.classes_))
    print("Test accuracy:", model.score(x_test, y_test))
    return model
