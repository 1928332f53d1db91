"""The seed convnet (Keras' classic MNIST CNN): training time per epoch, sknet against Keras model.fit.

28 x 28 x 1 -> Conv2D(32, 3x3, relu) -> Conv2D(64, 3x3, relu) -> MaxPooling2D(2)
-> Dropout(0.25) -> Flatten -> Dense(128, relu) -> Dropout(0.5) -> Dense(10,
softmax), Adadelta (learning rate 1.0, as the classic), batch 128
(``examples/mnist_cnn.py``). Per-epoch times as in ``bench_mnist_mlp.py``: a
callback records every epoch, every fit's first epoch (tracing) is left out,
and the contenders alternate over the rounds, so that a slow spell of a shared
machine hits all of them. Keras runs with its defaults (progress bar
captured and dropped).

Targets: sknet in float32 <= 0.6 x Keras ``model.fit`` (float32) per epoch;
sknet with ``dtype_policy="mixed_bfloat16"`` (bfloat16 compute, float32
weights) <= 0.4 x the same Keras float32 epoch, with test accuracy within
0.3 pp of Keras float32's.

Sizes: by default 6,000 synthetic MNIST-shaped images, 2 rounds of 3 epochs
(``--quick``: 1,500 images, 1 round of 2 epochs); only times are reported on
synthetic data. ``--mnist PATH`` (a local ``mnist.npz`` in the layout
``keras.datasets.mnist`` saves) trains on real MNIST images instead and also
scores the MNIST test set. ``--full`` (needs ``--mnist``) is the classic
itself: 60,000 images, 12 epochs, 3 rounds with seeds 0, 1 and 2 for every
contender; the table's times and the 12-epoch test accuracies (mean and
standard deviation over the seeds) come from the same fits. It takes about an
hour on a 2-core CPU.

The "peak %" column: the fraction of the machine's matmul peak (measured in
the same run, in the network's compute dtype; ``_common.matmul_peak``) that
sknet's epoch reaches with the network's convolution and matmul FLOPs, about
71.6 MFLOP per image forward and backward (the second convolution is 89% of it).

``--profile`` prints what an epoch is made of instead: the ops of sknet's
epochs (float32 and mixed_bfloat16) and of Keras' (float32) under
TensorFlow's profiler, grouped (convolutions forward and backward, matmuls,
optimizer, dropout...).

Usage: python benchmarks/bench_mnist_cnn.py [--quick | --full] [--mnist PATH] [--profile]
"""

import contextlib
import functools
import io
import os
import statistics
import time

from _common import (
    cli,
    epoch_timer,
    fmt_time,
    load_mnist,
    machine,
    matmul_peak,
    peak_fraction,
    peak_note,
    print_table,
    row,
    timed,
    training_flops,
)

BATCH, GAP = 128, 0.003
FULL_EPOCHS, FULL_SEEDS = 12, 3


def data(n, seed=0):
    """Synthetic MNIST-shaped images: ten noisy class templates, (n, 28, 28, 1) in [0, 1]."""
    import numpy as np

    centers = np.random.RandomState(0).rand(10, 784).astype("float32")
    rng = np.random.RandomState(seed + 1)
    y = rng.randint(0, 10, n)
    X = np.clip(centers[y] + 0.3 * rng.randn(n, 784).astype("float32"), 0, 1)
    return X.reshape(-1, 28, 28, 1), y


def layers():
    from keras.layers import Conv2D, Dense, Dropout, Flatten, MaxPooling2D

    return [Conv2D(32, kernel_size=(3, 3), activation="relu"), Conv2D(64, (3, 3), activation="relu"),
            MaxPooling2D(pool_size=(2, 2)), Dropout(0.25), Flatten(), Dense(128, activation="relu"), Dropout(0.5)]


def keras_model():
    import keras

    return keras.Sequential([keras.Input((28, 28, 1))] + layers() + [keras.layers.Dense(10, activation="softmax")])


def keras_fit(X, Y, epochs, timer=None, seed=None):
    """The classic's ``compile`` + ``fit``, default settings (progress bar captured)."""
    import keras

    if seed is not None:
        keras.utils.set_random_seed(seed)  # a benchmark may; sknet itself never does
    model = keras_model()
    model.compile(loss="categorical_crossentropy", optimizer=keras.optimizers.Adadelta(learning_rate=1.0),
                  metrics=["accuracy"])
    with contextlib.redirect_stdout(io.StringIO()):
        model.fit(X, Y, batch_size=BATCH, epochs=epochs, callbacks=[timer] if timer else None)
    return model


def sknet_fit(X, y, epochs, timer=None, dtype_policy="float32", random_state=0):
    from sknet import NetClassifier

    return NetClassifier(layers(), optimizer="adadelta", optimizer__learning_rate=1.0, metrics=["accuracy"],
                         batch_size=BATCH, epochs=epochs, callbacks=[timer] if timer else None,
                         random_state=random_state, dtype_policy=dtype_policy).fit(X, y)


def measure_peaks():
    """The matmul peaks, measured again between the contenders: the fastest measurement of the run counts."""
    for dtype in ("float32", "bfloat16"):
        matmul_peak(dtype, refresh=True)


def keras_accuracy(model, X, y):
    import numpy as np

    return float(np.mean(model.predict(X, batch_size=1024, verbose=0).argmax(1) == y))


def mean_std(values):
    import numpy as np

    return f"{np.mean(values):.4f} +/- {np.std(values):.4f}"


def options(parser):
    parser.add_argument("--full", action="store_true", help=f"the classic: 60,000 MNIST images, {FULL_EPOCHS} "
                        f"epochs, seeds 0..{FULL_SEEDS - 1}, test accuracies (needs --mnist; over an hour)")
    parser.add_argument("--mnist", metavar="PATH", help="a local mnist.npz (keras.datasets.mnist layout)")
    parser.add_argument("--profile", action="store_true", help="print what an sknet epoch is made of instead")


def main(quick=False, args=None):
    full, mnist = (args.full, args.mnist) if args is not None else (False, None)
    if full and quick:
        raise SystemExit("bench_mnist_cnn: --full and --quick exclude each other")
    if full and not mnist:
        raise SystemExit("bench_mnist_cnn: --full reports test accuracy on real MNIST, which this benchmark does "
                         "not download: pass --mnist PATH to a local mnist.npz (x_train, y_train, x_test, y_test "
                         "as keras.datasets.mnist saves it)")
    if mnist and not os.path.isfile(mnist):
        raise SystemExit(f"bench_mnist_cnn: --mnist {mnist}: no such file")
    import keras

    if full:
        n, epochs, rounds = 60_000, FULL_EPOCHS, FULL_SEEDS
    else:
        n, epochs, rounds = (1_500, 2, 1) if quick else (6_000, 3, 2)
    if mnist:
        (X, y), (X_test, y_test) = load_mnist(mnist)
        X, y = X[:n], y[:n]
        n = len(X)
    else:
        X, y = data(n)
    if args is not None and args.profile:
        return profile(X, y)
    Y = keras.utils.to_categorical(y, 10)
    print(machine())
    keras_fit(X[:256], Y[:256], 1)  # warm up the runtime
    measure_peaks()
    times = {"keras": [], "float32": [], "bf16": []}
    totals = {"keras": [], "float32": []}
    accuracy = {"keras": [], "float32": [], "bf16": []}
    for seed in range(rounds):
        timer = epoch_timer()
        total, model = timed(functools.partial(keras_fit, X, Y, epochs, timer, seed))
        totals["keras"].append(total)
        times["keras"] += timer.times[1:]
        measure_peaks()
        timer = epoch_timer()
        total, clf = timed(functools.partial(sknet_fit, X, y, epochs, timer, random_state=seed))
        totals["float32"].append(total)
        times["float32"] += timer.times[1:]
        measure_peaks()
        timer = epoch_timer()
        clf_bf16 = sknet_fit(X, y, epochs, timer, dtype_policy="mixed_bfloat16", random_state=seed)
        times["bf16"] += timer.times[1:]
        measure_peaks()
        if mnist:
            accuracy["keras"].append(keras_accuracy(model, X_test, y_test))
            accuracy["float32"].append(clf.score(X_test, y_test))
            accuracy["bf16"].append(clf_bf16.score(X_test, y_test))
    flops = training_flops(clf.model_, n)  # one epoch
    bf16_policy = clf_bf16.model_.layers[0].dtype_policy.name
    med = {k: statistics.median(v) for k, v in times.items()}
    fast = {k: min(v) for k, v in times.items()}
    bf16 = 'dtype_policy="mixed_bfloat16"'
    print_table(
        f"MNIST convnet ({n:,} x 28 x 28 x 1 {'MNIST' if mnist else 'synthetic: times only'}, batch {BATCH}; "
        f"{rounds} x {epochs} epochs each)",
        [
            row(f"time per epoch (median of {len(times['float32'])}), float32", med["float32"],
                "Keras model.fit (defaults)", med["keras"], "<= 0.6", bound=0.6,
                peak=peak_fraction(flops, med["float32"])),
            row(f"time per epoch (median of {len(times['bf16'])}), {bf16}", med["bf16"],
                "Keras model.fit (defaults)", med["keras"], "<= 0.4", bound=0.4,
                peak=peak_fraction(flops, med["bf16"], bf16_policy)),
            row("time per epoch (fastest), float32", fast["float32"], "Keras model.fit (defaults)", fast["keras"],
                "(info)", peak=peak_fraction(flops, fast["float32"])),
            row(f"time per epoch (fastest), {bf16}", fast["bf16"], "Keras model.fit (defaults)", fast["keras"],
                "(info)", peak=peak_fraction(flops, fast["bf16"], bf16_policy)),
            row(f"time per epoch (median), {bf16}", med["bf16"], "sknet float32", med["float32"], "(info)",
                peak=peak_fraction(flops, med["bf16"], bf16_policy)),
            row(f"{epochs}-epoch fit, end to end (median), float32", statistics.median(totals["float32"]),
                "Keras build+compile+fit", statistics.median(totals["keras"]), "(info)"),
        ],
    )
    print(f"\n{peak_note()} Keras model.fit's median epoch: {fmt_time(med['keras'])}, "
          f"{100 * peak_fraction(flops, med['keras']):.1f}% of the float32 peak; the network's "
          f"{flops / n / 1e6:.1f} MFLOP per image and epoch.")
    if bf16_policy != "mixed_bfloat16":
        print(f"\nNote: this sknet does not apply dtype_policy yet (the fitted network computes in {bf16_policy}): "
              "the mixed_bfloat16 rows timed float32.")
    if not mnist:
        print("\nSynthetic MNIST-shaped data: times only, no accuracy (pass --mnist PATH to a local mnist.npz; "
              f"--full --mnist PATH reports the {FULL_EPOCHS}-epoch test accuracy over {FULL_SEEDS} seeds).")
        return
    line = (f"\nTest accuracy on MNIST after {epochs} epochs, seeds 0..{rounds - 1} (mean +/- std): sknet float32 "
            f"{mean_std(accuracy['float32'])}, sknet mixed_bfloat16 {mean_std(accuracy['bf16'])}, Keras model.fit "
            f"float32 {mean_std(accuracy['keras'])}")
    gap = abs(statistics.mean(accuracy["bf16"]) - statistics.mean(accuracy["keras"]))
    if full:
        line += (f"; mixed_bfloat16 against Keras float32: gap {100 * gap:.2f} pp (target within {100 * GAP:.1f} "
                 f"pp: {'met' if gap <= GAP else 'NOT met'})")
    else:
        line += f" (information: the accuracy target needs --full, {FULL_EPOCHS} epochs on all 60,000 images)"
    print(line)


# --- what an epoch is made of ------------------------------------------------------------------------------------

# Op categories of the profile, by op type or name (first match wins).
CATEGORIES = [
    ("convolutions, backward (input and weight gradients)", ("Conv2DBackprop",)),
    ("convolutions, forward (fused with bias and ReLU)", ("Conv2D",)),
    ("Dense matmuls, forward and backward", ("MatMul",)),
    ("Adadelta update (Keras', unfused)", ("adadelta",)),
    ("Dropout (random numbers, select, scale; both passes)", ("dropout",)),
    ("ReLU gradients", ("ReluGrad",)),
    ("max pooling, forward and backward", ("MaxPool",)),
    ("float32 <-> bfloat16 casts", ("Cast",)),
    ("gathering the batch", ("GatherV2",)),
    ("softmax and loss", ("Softmax", "crossentropy", "softmax")),
]


def categorize(op_type, name):
    for label, keys in CATEGORIES:
        if any(key in op_type or key in name for key in keys):
            return label
    return "other (metrics, bias gradients, bookkeeping)"


def op_times(fit, logdir):
    """{category: seconds} of the TensorFlow ops that ``fit()`` runs, and its wall time, from TF's profiler.

    Self time of every op, summed over the threads that ran it (two
    concurrent ops both count), from the profiler's own framework-op
    statistics; idle time is left out.
    """
    import glob
    import json
    import shutil

    import tensorflow as tf
    from tensorflow.python.profiler.internal import _pywrap_profiler_plugin as plugin

    shutil.rmtree(logdir, ignore_errors=True)
    tf.profiler.experimental.start(logdir)
    start = time.perf_counter()
    fit()
    wall = time.perf_counter() - start
    tf.profiler.experimental.stop()
    (path,) = glob.glob(f"{logdir}/**/*.xplane.pb", recursive=True)
    data, ok = plugin.xspace_to_tools_data([path], "framework_op_stats", {})
    shutil.rmtree(logdir, ignore_errors=True)
    if not ok:
        raise RuntimeError("TensorFlow's profiler could not convert its trace")
    table = json.loads(data)[0]
    cols = [c["id"] for c in table["cols"]]
    times = {}
    for r in table["rows"]:
        op = {c: (cell or {}).get("v") for c, cell in zip(cols, r["c"], strict=False)}
        if op["type"] != "IDLE":
            label = categorize(op["type"], op["operation"])
            times[label] = times.get(label, 0.0) + op["total_self_time"] / 1e6
    return times, wall


def profile(X, y, epochs=2):
    """Print what a training epoch of the convnet is made of: sknet float32 and mixed_bfloat16, Keras float32.

    Each contender is traced by a first fit, then a fit of ``epochs`` epochs
    runs under TensorFlow's profiler; its ops are grouped into categories
    (convolutions forward and backward, matmuls, the optimizer, dropout...).
    Times are per epoch; "op time" sums the ops' own times over the threads
    that ran them, so it exceeds the wall time where ops ran concurrently.
    """
    import tempfile

    import keras

    print(machine())
    for policy in ("float32", "mixed_bfloat16"):
        matmul_peak(policy)
    Y = keras.utils.to_categorical(y, 10)
    fits = {
        "sknet float32": lambda e: sknet_fit(X, y, e),
        "sknet mixed_bfloat16": lambda e: sknet_fit(X, y, e, dtype_policy="mixed_bfloat16"),
        "Keras model.fit float32": lambda e: keras_fit(X, Y, e),
    }
    results, walls = {}, {}
    with tempfile.TemporaryDirectory() as tmp:
        for name, fit in fits.items():
            fit(1)  # traces
            results[name], walls[name] = op_times(functools.partial(fit, epochs), f"{tmp}/trace")
    labels = [label for label, _ in CATEGORIES] + ["other (metrics, bias gradients, bookkeeping)"]
    print(f"\n### What an epoch of the convnet is made of ({len(X):,} images, batch {BATCH}; TF profiler, "
          f"{epochs} epochs each)\n")
    print("| per epoch | " + " | ".join(fits) + " |")
    print("|---|" + "---|" * len(fits))
    for label in labels:
        cells = []
        for name in fits:
            seconds, total = results[name].get(label, 0.0) / epochs, sum(results[name].values()) / epochs
            cells.append(f"{fmt_time(seconds)} ({100 * seconds / total:.0f}%)" if seconds else "-")
        print(f"| {label} | " + " | ".join(cells) + " |")
    print("| op time, all ops | " + " | ".join(fmt_time(sum(results[n].values()) / epochs) for n in fits) + " |")
    print("| wall time (fit / epochs, set-up included) | " + " | ".join(fmt_time(walls[n] / epochs) for n in fits)
          + " |")
    flops = training_flops(sknet_fit(X[:256], y[:256], 1).model_, len(X))
    print("| peak % (wall time) | " + " | ".join(
        f"{100 * peak_fraction(flops, walls[n] / epochs, 'bfloat16' if 'bfloat16' in n else 'float32'):.1f}%"
        for n in fits) + " |")
    print(f"\n{peak_note()} One epoch: {flops / 1e9:.1f} GFLOP.")


if __name__ == "__main__":
    cli(main, options)
