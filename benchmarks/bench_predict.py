"""Inference: one-row latency and 10,000-row throughput.

The tutorial MLP (784 -> 512 -> 512 -> 10), trained for one epoch on synthetic
MNIST-shaped data; scikit-learn's MLPClassifier with the same hidden layers.

The one-row contenders alternate in rounds of 10 calls each (the median of all
calls), so that a slow spell of a shared machine hits all of them alike, while
each is measured warm, as a serving process that predicts again and again is.
The "traced network call alone" row is the floor of any TensorFlow predict
path: the network in one ``tf.function``, called on a tensor made in advance
through its concrete function's flat call (as sknet calls its own), with no
validation, no conversion, no argument binding and no label decoding.

Usage: python benchmarks/bench_predict.py [--quick]
"""

import warnings

from _common import cli, fmt_time, machine, print_table, row, side_by_side, timed
from bench_mnist_mlp import data, layers


def traced_call(model, one):
    """The network alone, traced once: ``call()`` runs it on a two-row tensor made in advance."""
    import numpy as np
    import tensorflow as tf

    from sknet._compat import call_flat

    # Two rows, as sknet's predict passes one (the matrix-matrix kernel's rounding).
    rows = tf.constant(np.repeat(one, 2, axis=0))
    fn = tf.function(lambda x: model(x, training=False)).get_concrete_function(rows)
    return lambda: call_flat(fn, [rows])


def main(quick=False):
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPClassifier

    from sknet import NetClassifier

    warnings.filterwarnings("ignore", category=ConvergenceWarning)
    print(machine())
    X, y = data(2_000 if quick else 10_000)
    clf = NetClassifier(layers(), optimizer="rmsprop", batch_size=128, epochs=1, random_state=0).fit(X, y)
    model = clf.model_
    mlp = MLPClassifier(hidden_layer_sizes=(512, 512), max_iter=1, random_state=0).fit(X[:2000], y[:2000])
    one = X[:1]
    n = 50 if quick else 200
    floor = traced_call(model, one)
    contenders = [lambda: clf.predict(one), lambda: mlp.predict(one), lambda: model.predict_on_batch(one), floor]
    for fn in [*contenders, lambda: model.predict(one, verbose=0)]:
        fn()  # first calls trace
    ours, mlp_time, on_batch, floor_time = side_by_side(contenders, n // 10, calls=10)
    (keras_predict,) = side_by_side([lambda: model.predict(one, verbose=0)], 1, calls=n // 4)

    big = X[:10_000]
    clf.predict(big)
    model.predict(big, verbose=0)
    ours_big, _ = timed(lambda: clf.predict_proba(big), 5)
    keras_big, _ = timed(lambda: model.predict(big, verbose=0), 5)
    rows = [
        row("one-row predict (median)", ours, "Keras model.predict", keras_predict, "<= 0.05", bound=0.05),
        row("one-row predict (median)", ours, "Keras predict_on_batch", on_batch, "(info)"),
        row("one-row predict (median)", ours, "MLPClassifier.predict", mlp_time, "<= 1.0", bound=1.0),
        row("one-row predict (median)", ours, "traced network call alone", floor_time, "(info)"),
        row("traced network call alone (median)", floor_time, "MLPClassifier.predict", mlp_time, "(info)"),
        row(f"{len(big):,}-row predict_proba: rows/s", len(big) / ours_big, "Keras model.predict",
            len(big) / keras_big, ">= 1.0", lower_is_better=False, bound=1.0, fmt=lambda v: f"{v:,.0f}"),
    ]
    print_table("Inference (tutorial MLP)", rows, measure="time or rate")
    print(f"\nOne-row predict latency target <= 1 ms: sknet {fmt_time(ours)} -> "
          f"{'met' if ours <= 1e-3 else 'NOT met'}")


if __name__ == "__main__":
    cli(main)
