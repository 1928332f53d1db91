"""Inference: one-row latency and 10,000-row throughput.

The tutorial MLP (784 -> 512 -> 512 -> 10), trained for one epoch on synthetic
MNIST-shaped data; scikit-learn's MLPClassifier with the same hidden layers.

Usage: python benchmarks/bench_predict.py [--quick]
"""

import statistics
import time
import warnings

from _common import cli, fmt_time, machine, print_table, row, timed
from bench_mnist_mlp import data, layers


def latency(fn, n):
    times = []
    for _ in range(n):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


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
    for fn in (lambda: clf.predict(one), lambda: model.predict(one, verbose=0),
               lambda: model.predict_on_batch(one)):
        fn()  # first calls trace
    ours = latency(lambda: clf.predict(one), n)
    keras_predict = latency(lambda: model.predict(one, verbose=0), n // 4)
    on_batch = latency(lambda: model.predict_on_batch(one), n)
    mlp_time = latency(lambda: mlp.predict(one), n)

    big = X[:10_000]
    clf.predict(big)
    model.predict(big, verbose=0)
    ours_big, _ = timed(lambda: clf.predict_proba(big), 5)
    keras_big, _ = timed(lambda: model.predict(big, verbose=0), 5)
    rows = [
        row("one-row predict (median)", ours, "Keras model.predict", keras_predict, "<= 0.05", bound=0.05),
        row("one-row predict (median)", ours, "Keras predict_on_batch", on_batch, "(info)"),
        row("one-row predict (median)", ours, "MLPClassifier.predict", mlp_time, "<= 1.0", bound=1.0),
        row(f"{len(big):,}-row predict_proba: rows/s", len(big) / ours_big, "Keras model.predict",
            len(big) / keras_big, ">= 1.0", lower_is_better=False, bound=1.0, fmt=lambda v: f"{v:,.0f}"),
    ]
    print_table("Inference (tutorial MLP)", rows, measure="time or rate")
    print(f"\nOne-row predict latency target <= 1 ms: sknet {fmt_time(ours)} -> "
          f"{'met' if ours <= 1e-3 else 'NOT met'}")


if __name__ == "__main__":
    cli(main)
