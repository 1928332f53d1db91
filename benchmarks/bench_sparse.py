"""Sparse input: a TF-IDF-shaped CSR matrix, sknet against Keras model.fit on the same matrix.

60,000 x 200,000 CSR with 30 non-zeros per row (dense, it would take 48 GB), a
``Dense(64, "relu")`` network with a sigmoid output, 2 epochs, batch 32, Adam.
Keras trains through ``keras.Input(sparse=True)``, fed the same scipy matrix.
Each side runs in its own process, so that its peak memory is its own.
Targets: time <= 0.7 x Keras; peak anonymous RSS growth during the fit
<= 600 MB; the training loss matches Keras' (same data, same optimizer).

The "peak %" column counts only the useful FLOPs: those of the sparse first
layer's non-zeros (2 x nnz x 64 forward, as many for its weight gradient, no
input gradient) plus the small dense rest, over the whole fit's time, against
the machine's float32 matmul peak measured in this run (in this process). A
dense computation of the same layer would do 200,000 / 30 times more.

Usage: python benchmarks/bench_sparse.py [--quick]   (quick: 3,000 rows)
"""

import json
import os
import subprocess
import sys

from _common import (
    cli,
    dense_flops,
    fmt_time,
    machine,
    peak_anon_growth,
    peak_fraction,
    peak_note,
    print_table,
    row,
    training_flops,
)

N_FEATURES, NNZ, UNITS, EPOCHS = 200_000, 30, 64, 2
MEMORY_MB = 600


def data(n):
    import numpy as np
    import scipy.sparse as sp

    rng = np.random.RandomState(0)
    cols = rng.randint(0, N_FEATURES, size=n * NNZ)
    X = sp.csr_matrix((rng.rand(n * NNZ).astype("float32"), (np.repeat(np.arange(n), NNZ), cols)),
                      shape=(n, N_FEATURES))
    y = (X @ rng.randn(N_FEATURES).astype("float32") > 0).astype(int)
    return X, y


def child(who, n):
    """Fit one side in this process; print time, peak anonymous RSS growth and the losses."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import keras
    from keras.layers import Dense

    from sknet import NetClassifier

    X, y = data(n)

    def fit():
        if who == "sknet":
            clf = NetClassifier([Dense(UNITS, activation="relu")], epochs=EPOCHS, batch_size=32, random_state=0)
            return clf.fit(X, y).history_["loss"]
        model = keras.Sequential([keras.Input((N_FEATURES,), sparse=True), Dense(UNITS, activation="relu"),
                                  Dense(1, activation="sigmoid")])
        model.compile(optimizer="adam", loss="binary_crossentropy")
        return model.fit(X, y.astype("float32"), epochs=EPOCHS, batch_size=32, verbose=0).history["loss"]

    peak_mb, elapsed, losses = peak_anon_growth(fit, interval=0.05)
    print("RESULT " + json.dumps({"time": elapsed, "peak_mb": peak_mb, "losses": [float(v) for v in losses]}))


def run(who, n):
    out = subprocess.run([sys.executable, __file__, "--child", who, str(n)], capture_output=True, text=True)
    line = [ln for ln in out.stdout.splitlines() if ln.startswith("RESULT ")]
    if out.returncode or not line:
        raise RuntimeError(f"{who} failed: {out.stderr[-2000:]}")
    return json.loads(line[0][len("RESULT "):])


def main(quick=False):
    n = 3_000 if quick else 60_000
    print(machine())
    ours, keras_ = run("sknet", n), run("keras", n)
    # The sparse layer's useful work: 2 x nnz x units forward and as much for its weight gradient; the rest dense.
    flops = 2 * 2 * NNZ * UNITS * n * EPOCHS + training_flops([0, dense_flops(UNITS, 1)], n, EPOCHS)
    rows = [
        row(f"fit, {n:,} x {N_FEATURES:,} CSR, {EPOCHS} epochs", ours["time"], "Keras model.fit (sparse Input)",
            keras_["time"], "<= 0.7", bound=0.7, peak=peak_fraction(flops, ours["time"])),
        ("peak anonymous RSS growth during the fit", f"{ours['peak_mb']:.0f} MB", "Keras model.fit (sparse Input)",
         f"{keras_['peak_mb']:.0f} MB", "", f"<= {MEMORY_MB} MB", "yes" if ours["peak_mb"] <= MEMORY_MB else "NO"),
    ]
    print_table("Sparse input (TF-IDF-shaped CSR)", rows)
    print(f"\n{peak_note()} Sparse first layer: only its non-zeros' FLOPs count.")
    gap = max(abs(a - b) for a, b in zip(ours["losses"], keras_["losses"], strict=True))
    print(f"\nTraining loss per epoch: sknet {[round(v, 4) for v in ours['losses']]}, Keras "
          f"{[round(v, 4) for v in keras_['losses']]} (largest gap {gap:.4f}); sknet epoch time "
          f"{fmt_time(ours['time'] / EPOCHS)}")


if __name__ == "__main__":
    if len(sys.argv) > 3 and sys.argv[1] == "--child":
        child(sys.argv[2], int(sys.argv[3]))
    else:
        cli(main)
