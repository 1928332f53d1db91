"""Data larger than memory: a fit and a predict on a 1,000,000 x 256 float32 np.memmap (1 GB).

The memmap is written to a temporary directory. sknet streams it (the
default ``stream="auto"``: an out-of-core X over the 256 MiB budget), reading
a block of rows at a time in the epoch's shuffled order. Peers, on the same
data and the same network (256 -> Dense(64, relu) -> Dense(10, softmax),
Adam, batch 256, 1 epoch):

* sknet on the same rows loaded into memory (``np.asarray``), the in-memory
  fast path;
* Keras ``model.fit`` on the memmap.

Memory is the peak growth of anonymous RSS (``RssAnon``: what the process
allocated, not the file pages the kernel caches) during the call, sampled
every 5 ms. The predictions of the streamed and the in-memory estimator are
compared: they are fitted on the same batches, so they must be equal. Target:
peak anonymous RSS growth of the streamed fit <= 400 MB.

Usage: python benchmarks/bench_stream.py [--quick]   (quick: 200,000 rows, under the budget: stream=True)
"""

import os
import tempfile

from _common import (
    cli,
    dense_flops,
    machine,
    peak_anon_growth,
    peak_fraction,
    peak_note,
    print_table,
    row,
    training_flops,
)

FEATURES, CLASSES, BATCH = 256, 10, 256
MEMORY_MB = 400


def make_memmap(path, n):
    """A memmap of ``n`` rows of learnable data (labels from a fixed linear rule), written in chunks."""
    import numpy as np

    rng = np.random.default_rng(0)
    w = rng.normal(size=(FEATURES, CLASSES)).astype("float32")
    X = np.lib.format.open_memmap(path, mode="w+", dtype="float32", shape=(n, FEATURES))
    y = np.empty(n, dtype="int64")
    for lo in range(0, n, 100_000):
        chunk = rng.normal(size=(min(100_000, n - lo), FEATURES)).astype("float32")
        X[lo : lo + len(chunk)] = chunk
        y[lo : lo + len(chunk)] = (chunk @ w).argmax(axis=1)
    X.flush()
    del X
    return np.load(path, mmap_mode="r"), y


def main(quick=False):
    import keras
    import numpy as np
    from keras.layers import Dense

    from sknet import NetClassifier

    n = 200_000 if quick else 1_000_000
    print(machine())
    with tempfile.TemporaryDirectory() as tmp:
        X, y = make_memmap(os.path.join(tmp, "X.npy"), n)
        print(f"X: np.memmap {X.shape} {X.dtype}, {X.nbytes / 2**30:.2f} GiB on disk")

        def net(stream="auto"):
            return NetClassifier([Dense(64, activation="relu")], epochs=1, batch_size=BATCH, random_state=0,
                                 stream=stream)

        # The full size streams by default (1 GB > the 256 MiB budget); the quick size is under it.
        mode = True if quick else "auto"

        # Warm-up: TensorFlow's start-up and the trace, on a slice in memory (same architecture).
        net().fit(np.asarray(X[:2048]), y[:2048]).predict(np.asarray(X[:10]))

        streamed_mem, streamed_time, streamed = peak_anon_growth(lambda: net(mode).fit(X, y))
        predict_mem, predict_time, p_streamed = peak_anon_growth(lambda: streamed.predict_proba(X))

        def in_memory():
            """The same rows loaded into memory: fit and predict, and the streamed model's predictions on them."""
            X_mem = np.array(X)
            fit_mem, fit_time, loaded = peak_anon_growth(lambda: net().fit(X_mem, y))
            pred_mem, pred_time, proba = peak_anon_growth(lambda: loaded.predict_proba(X_mem))
            same = float(np.abs(streamed.predict_proba(X_mem[:50_000]) - p_streamed[:50_000]).max())
            return fit_mem, fit_time, pred_mem, pred_time, proba, same

        loaded_mem, loaded_time, loaded_predict_mem, loaded_predict_time, p_loaded, same_model = in_memory()

        def keras_fit():
            model = keras.Sequential([keras.Input((FEATURES,)), Dense(64, activation="relu"),
                                      Dense(CLASSES, activation="softmax")])
            model.compile("adam", "sparse_categorical_crossentropy")
            model.fit(X, y, epochs=1, batch_size=BATCH, verbose=0)

        keras_mem, keras_time, _ = peak_anon_growth(keras_fit)
        fit_diff = float(np.abs(p_streamed - p_loaded).max())

    def mb(v):
        return f"{v:.0f} MB"

    flops = training_flops([dense_flops(FEATURES, 64), dense_flops(64, CLASSES)], n)
    fit_peak = peak_fraction(flops, streamed_time)
    print_table(
        f"Data larger than memory: {n:,} x {FEATURES} float32 memmap, Dense(64), 1 epoch",
        [
            ("fit, peak anonymous RSS growth", mb(streamed_mem), "Keras model.fit on the memmap", mb(keras_mem),
             "", f"<= {MEMORY_MB} MB", "yes" if streamed_mem <= MEMORY_MB else "NO", ""),
            ("fit, peak anonymous RSS growth", mb(streamed_mem), "sknet, X loaded in memory", mb(loaded_mem),
             "", "(info)", "", ""),
            row("fit time", streamed_time, "sknet, X loaded in memory", loaded_time, "(info)", peak=fit_peak),
            row("fit time", streamed_time, "Keras model.fit on the memmap", keras_time, "(info)", peak=fit_peak),
            ("predict_proba, peak anonymous RSS growth", mb(predict_mem), "sknet, X loaded in memory",
             mb(loaded_predict_mem), "", "(info)", "", ""),
            row("predict_proba time", predict_time, "sknet, X loaded in memory", loaded_predict_time, "(info)"),
        ],
        measure="memory or time",
    )
    equal = fit_diff == 0 and same_model == 0
    print(f"\n{peak_note()}")
    how = 'by default (stream="auto")' if mode == "auto" else "with stream=True"
    print(f"Streamed {how}. Max abs difference "
          f"of predicted probabilities, streamed fit vs in-memory fit: {fit_diff:.1e}; the same model predicting "
          f"on the memmap vs in memory: {same_model:.1e} (target: equal -> {'met' if equal else 'NOT met'})")


if __name__ == "__main__":
    cli(main)
