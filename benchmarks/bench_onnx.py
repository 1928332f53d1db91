"""Serving an exported pipeline: onnxruntime against sknet's predict and skl2onnx's MLPClassifier.

The tutorial MLP (784 -> 512 -> 512 -> 10) behind a StandardScaler, string
labels, trained for one epoch on synthetic MNIST-shaped data and exported with
``sknet.onnx.to_onnx``; skl2onnx's own StandardScaler + MLPClassifier pipeline
with the same hidden layers is the peer that already deploys this way.
Targets: one row <= 50 us and <= 0.1 x sknet's predict; 10,000 rows at least
as fast as sknet's predict. The two onnxruntime sessions alternate in rounds
of 100 one-row calls each (the median of all calls). The last row converts the
same sknet pipeline with skl2onnx's own ``to_onnx`` (its ``Scaler`` node kept):
what ``sknet.onnx.to_onnx``'s rewrite of that node as ``Sub`` and ``Mul`` gains.

Usage: python benchmarks/bench_onnx.py [--quick]
"""

import time
import warnings

from _common import cli, fmt_time, machine, print_table, row, side_by_side, timed
from bench_mnist_mlp import data, layers


def session(onx):
    import onnxruntime as rt

    sess = rt.InferenceSession(onx.SerializeToString(), providers=["CPUExecutionProvider"])
    name = sess.get_inputs()[0].name
    return lambda X: sess.run(["label"], {name: X})[0]


def main(quick=False):
    import numpy as np
    from skl2onnx import to_onnx
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    import sknet.onnx
    from sknet import NetClassifier

    warnings.filterwarnings("ignore", category=ConvergenceWarning)
    print(machine())
    X, y = data(2_000 if quick else 10_000)
    labels = np.array([f"digit {d}" for d in range(10)])[y]
    pipe = make_pipeline(StandardScaler(), NetClassifier(layers(), optimizer="rmsprop", batch_size=128, epochs=1,
                                                         random_state=0)).fit(X, labels)
    start = time.perf_counter()
    ours = session(sknet.onnx.to_onnx(pipe, X[:1], options={"zipmap": False}))
    export_time = time.perf_counter() - start
    plain = session(to_onnx(pipe, X[:1], options={"zipmap": False}))  # the same pipeline, skl2onnx's Scaler kept
    mlp = make_pipeline(StandardScaler(), MLPClassifier(hidden_layer_sizes=(512, 512), max_iter=1, random_state=0))
    mlp.fit(X[:2000], labels[:2000])
    peer = session(to_onnx(mlp, X[:1], options={"zipmap": False}))

    one = X[:1]
    assert ours(one)[0] == pipe.predict(one)[0]
    n = 200 if quick else 2000
    for fn in (lambda: pipe.predict(one), lambda: ours(one), lambda: peer(one)):
        fn(), fn(), fn()  # warm: sknet's serving path, onnxruntime's first run
    # The contenders alternate in rounds (warm within a round), so that load hits them alike.
    onnx_one, peer_one = side_by_side([lambda: ours(one), lambda: peer(one)], n // 100, calls=100)
    (sknet_one,) = side_by_side([lambda: pipe.predict(one)], n // 100, calls=25)

    big = np.concatenate([X] * (10_000 // len(X)))[:10_000]
    ours(big), pipe.predict(big), peer(big), plain(big)
    # Rounds of 5 calls: right after one session's call its idle threads still spin for a moment, which would
    # slow the other session's next call if the two alternated call by call.
    onnx_big, plain_big = side_by_side([lambda: ours(big), lambda: plain(big)], 3, calls=5)
    sknet_big, _ = timed(lambda: pipe.predict(big), 5)
    peer_big, _ = timed(lambda: peer(big), 5)
    rate = lambda v: f"{v:,.0f}"  # noqa: E731
    rows = [
        row("one-row predict in onnxruntime (median)", onnx_one, "sknet pipeline.predict", sknet_one, "<= 0.1",
            bound=0.1),
        row("one-row predict in onnxruntime (median)", onnx_one, "skl2onnx MLPClassifier pipeline", peer_one,
            "(info)"),
        row(f"{len(big):,}-row predict in onnxruntime: rows/s", len(big) / onnx_big, "sknet pipeline.predict",
            len(big) / sknet_big, ">= 1.0", lower_is_better=False, bound=1.0, fmt=rate),
        row(f"{len(big):,}-row predict in onnxruntime: rows/s", len(big) / onnx_big,
            "skl2onnx MLPClassifier pipeline", len(big) / peer_big, "(info)", lower_is_better=False, fmt=rate),
        row(f"{len(big):,}-row predict in onnxruntime: rows/s", len(big) / onnx_big,
            "skl2onnx.to_onnx of the same pipeline", len(big) / plain_big, "(info)", lower_is_better=False,
            fmt=rate),
    ]
    print_table("ONNX serving (tutorial MLP pipeline)", rows, measure="time or rate")
    print(f"\nExport (sknet.onnx.to_onnx): {fmt_time(export_time)}. One-row latency target <= 50 us: "
          f"onnxruntime {fmt_time(onnx_one)} -> {'met' if onnx_one <= 50e-6 else 'NOT met'}")


if __name__ == "__main__":
    cli(main)
