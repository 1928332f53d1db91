"""Fit a pipeline, export it to ONNX, and serve it with onnxruntime alone.

The serving process imports onnxruntime and NumPy only: no TensorFlow, no
Keras, no sknet, no scikit-learn. It checks that TensorFlow was never imported
and that its labels equal the pipeline's ``predict``.

Needs the onnx extra: pip install "sknet-keras[onnx]"

Usage: python examples/export_onnx.py [--out PATH] [--epochs 20]
"""

import argparse
import os
import subprocess
import sys
import tempfile
import textwrap

from _quiet import quiet_tensorflow

quiet_tensorflow()  # before Keras/sknet import TensorFlow: its start-up chatter off, its errors kept

import numpy as np  # noqa: E402
from keras.layers import Dense, Dropout  # noqa: E402
from sklearn.datasets import load_iris  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402

import sknet.onnx  # noqa: E402  (registers sknet's converters with skl2onnx)
from sknet import NetClassifier  # noqa: E402

SERVE = """
    import sys
    import numpy as np
    import onnxruntime as rt

    sess = rt.InferenceSession(sys.argv[1], providers=["CPUExecutionProvider"])
    X = np.load(sys.argv[2])
    labels, proba = sess.run(None, {sess.get_inputs()[0].name: X})
    np.save(sys.argv[3], labels.astype(str))
    print("labels:", list(labels[:5]))
    print("served without TensorFlow:", "tensorflow" not in sys.modules and "keras" not in sys.modules)
"""


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=None, help="where to write the .onnx file (default: a temporary folder)")
    parser.add_argument("--epochs", type=int, default=20)
    args = parser.parse_args()

    X, y = load_iris(return_X_y=True)
    species = np.array(["setosa", "versicolor", "virginica"])[y]  # string labels, decoded inside the graph
    pipe = make_pipeline(
        StandardScaler(),
        NetClassifier([Dense(32, activation="relu"), Dropout(0.1)], optimizer__learning_rate=0.01,
                      epochs=args.epochs, random_state=0),
    ).fit(X, species)

    X32 = X.astype("float32")
    onx = sknet.onnx.to_onnx(pipe, X32[:1], options={"zipmap": False})
    with tempfile.TemporaryDirectory() as tmp:
        path = args.out or os.path.join(tmp, "iris_pipeline.onnx")
        with open(path, "wb") as f:
            f.write(onx.SerializeToString())
        print(f"exported the pipeline to {path} ({os.path.getsize(path):,} bytes); outputs:",
              [o.name for o in onx.graph.output])
        np.save(os.path.join(tmp, "X.npy"), X32)
        served = os.path.join(tmp, "labels.npy")
        proc = subprocess.run([sys.executable, "-c", textwrap.dedent(SERVE), path, os.path.join(tmp, "X.npy"), served],
                              capture_output=True, text=True, check=True)
        print(proc.stdout, end="")
        identical = np.array_equal(np.load(served), pipe.predict(X32).astype(str))
    print("predictions identical:", identical)


if __name__ == "__main__":
    main()
