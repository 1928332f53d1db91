"""Fit, save with joblib, load in a new process, predict; and export the Keras model.

Two ways out of a fitted estimator:

1. ``joblib.dump(estimator)``: the whole scikit-learn estimator (label
   encoding, classes, feature names). Like every pickle, load only files you
   trust: unpickling runs code.
2. ``estimator.model_.save("model.keras")``: Keras' own format for the network
   alone, loadable with ``keras.saving.load_model(path, safe_mode=True)``.

Usage: python examples/save_and_serve.py [--out DIR] [--epochs 20]
"""

import argparse
import os
import subprocess
import sys
import tempfile

from _quiet import quiet_tensorflow

quiet_tensorflow()  # before Keras/sknet import TensorFlow: its start-up chatter off, its errors kept

import joblib  # noqa: E402
import keras  # noqa: E402
import numpy as np  # noqa: E402
from keras.layers import Dense  # noqa: E402
from sklearn.datasets import load_iris  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402

from sknet import NetClassifier  # noqa: E402

SERVE = """
import sys
sys.path.insert(0, sys.argv[4])  # this folder, for _quiet: TensorFlow starts without its chatter
from _quiet import quiet_tensorflow
quiet_tensorflow()
import joblib, numpy as np
model = joblib.load(sys.argv[1])
X = np.load(sys.argv[2])
np.save(sys.argv[3], model.predict(X))
print("served", len(X), "predictions from a new process")
"""


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=None, help="directory for the files (default: a temporary one)")
    parser.add_argument("--epochs", type=int, default=20)
    args = parser.parse_args(argv)
    out = args.out or tempfile.mkdtemp(prefix="sknet-")
    os.makedirs(out, exist_ok=True)

    X, y = load_iris(return_X_y=True)
    names = np.array(["setosa", "versicolor", "virginica"])[y]
    model = make_pipeline(StandardScaler(), NetClassifier([Dense(16, activation="relu")], epochs=args.epochs,
                                                           random_state=0)).fit(X, names)

    path = os.path.join(out, "model.joblib")
    joblib.dump(model, path)
    np.save(os.path.join(out, "X.npy"), X)
    subprocess.run([sys.executable, "-c", SERVE, path, os.path.join(out, "X.npy"),
                    os.path.join(out, "served.npy"), os.path.dirname(os.path.abspath(__file__))], check=True)
    served = np.load(os.path.join(out, "served.npy"), allow_pickle=True)
    assert (served == model.predict(X)).all(), "the loaded model must predict exactly as the fitted one"
    print("joblib round trip: identical predictions", served[:3])

    keras_path = os.path.join(out, "network.keras")
    model[-1].model_.save(keras_path)
    network = keras.saving.load_model(keras_path, safe_mode=True)
    proba = network.predict(model[0].transform(X), verbose=0)
    assert np.allclose(proba, model.predict_proba(X), atol=1e-6)
    print(f"Keras export: {keras_path} (the network alone: inputs must be scaled by the pipeline's scaler)")
    return out


if __name__ == "__main__":
    main()
