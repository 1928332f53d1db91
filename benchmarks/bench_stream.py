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
compared: they are fitted on the same batches, so they must be equal.

Usage: python benchmarks/bench_stream.py [--quick]   (quick: 200,000 rows, under the budget: stream=True)
"""

import os
import tempfile
import threading
import time

from _common import cli, fmt_time, machine, print_table, row

FEATURES, CLASSES, BATCH = 256, 10, 256


def rss_anon_mb():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("RssAnon:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def peak_growth(fn):
    """``(peak RssAnon growth in MB, seconds, result)`` of ``fn()``."""
    import gc

    gc.collect()
    base = rss_anon_mb()
    peak = [base]
    done = threading.Event()

    def sample():
        while not done.is_set():
            peak[0] = max(peak[0], rss_anon_mb())
            time.sleep(0.005)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    start = time.perf_counter()
    try:
        result = fn()
    finally:
        seconds = time.perf_counter() - start
        done.set()
        sampler.join()
    peak[0] = max(peak[0], rss_anon_mb())
    return peak[0] - base, seconds, result


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

        streamed_mem, streamed_time, streamed = peak_growth(lambda: net(mode).fit(X, y))
        predict_mem, predict_time, p_streamed = peak_growth(lambda: streamed.predict_proba(X))

        def in_memory():
            """The same rows loaded into memory: fit, then both models' predictions on them."""
            X_mem = np.array(X)
            loaded_mem, loaded_time, loaded = peak_growth(lambda: net().fit(X_mem, y))
            same = float(np.abs(streamed.predict_proba(X_mem[:50_000]) - p_streamed[:50_000]).max())
            return loaded_mem, loaded_time, loaded.predict_proba(X_mem), same

        loaded_mem, loaded_time, p_loaded, same_model = in_memory()

        def keras_fit():
            model = keras.Sequential([keras.Input((FEATURES,)), Dense(64, activation="relu"),
                                      Dense(CLASSES, activation="softmax")])
            model.compile("adam", "sparse_categorical_crossentropy")
            model.fit(X, y, epochs=1, batch_size=BATCH, verbose=0)

        keras_mem, keras_time, _ = peak_growth(keras_fit)
        fit_diff = float(np.abs(p_streamed - p_loaded).max())

    def mb(v):
        return f"{v:.0f} MB"

    print_table(
        f"Out-of-core fit: {n:,} x {FEATURES} float32 memmap, Dense(64), 1 epoch",
        [
            ("fit, peak anonymous RSS growth", mb(streamed_mem), "Keras model.fit on the memmap", mb(keras_mem),
             "", "<= 400 MB" if not quick else "<= 400 MB (full size)",
             "yes" if streamed_mem <= 400 else "NO"),
            ("fit, peak anonymous RSS growth", mb(streamed_mem), "sknet, X loaded in memory", mb(loaded_mem),
             "", "", ""),
            row("fit time", streamed_time, "sknet, X loaded in memory", loaded_time, "(information)"),
            row("fit time", streamed_time, "Keras model.fit on the memmap", keras_time, "(information)"),
            ("predict_proba, peak anonymous RSS growth", mb(predict_mem), "", "", "", "", ""),
            ("predict_proba time", fmt_time(predict_time), "", "", "", "", ""),
            ("max abs diff, streamed vs in-memory fit", f"{fit_diff:.1e}", "", "", "", "== 0",
             "yes" if fit_diff == 0 else "NO"),
            ("max abs diff, predict on memmap vs in memory", f"{same_model:.1e}", "", "", "", "== 0",
             "yes" if same_model == 0 else "NO"),
        ],
        measure="memory or time",
    )


if __name__ == "__main__":
    cli(main)
