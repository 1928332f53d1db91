"""NetRegressor on the diabetes data, against Ridge and MLPRegressor, in one table.

The target is standardised with ``TransformedTargetRegressor`` (networks train
better on unit-scale targets); predictions come back in the original units.

Usage: python examples/regression.py [--epochs 200]
"""

import argparse
import time
import warnings

from _quiet import quiet_tensorflow

quiet_tensorflow()  # before Keras/sknet import TensorFlow: its start-up chatter off, its errors kept

import pandas as pd  # noqa: E402
from keras.layers import Dense  # noqa: E402
from sklearn.compose import TransformedTargetRegressor  # noqa: E402
from sklearn.datasets import load_diabetes  # noqa: E402
from sklearn.exceptions import ConvergenceWarning  # noqa: E402
from sklearn.linear_model import Ridge  # noqa: E402
from sklearn.model_selection import cross_validate  # noqa: E402
from sklearn.neural_network import MLPRegressor  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402

from sknet import NetRegressor  # noqa: E402


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=200)
    args = parser.parse_args(argv)
    warnings.filterwarnings("ignore", category=ConvergenceWarning)

    X, y = load_diabetes(return_X_y=True)
    net = NetRegressor(
        [Dense(32, activation="relu")], optimizer__learning_rate=1e-3, epochs=args.epochs,
        early_stopping=True, validation_split=0.15, patience=20, random_state=0,
    )
    models = {
        "sknet NetRegressor": TransformedTargetRegressor(make_pipeline(StandardScaler(), net),
                                                         transformer=StandardScaler()),
        "Ridge": make_pipeline(StandardScaler(), Ridge()),
        "MLPRegressor": TransformedTargetRegressor(
            make_pipeline(StandardScaler(),
                          MLPRegressor(hidden_layer_sizes=(32,), max_iter=args.epochs, random_state=0)),
            transformer=StandardScaler(),
        ),
    }
    rows = []
    for name, model in models.items():
        start = time.perf_counter()
        cv = cross_validate(model, X, y, cv=5, scoring=("r2", "neg_mean_absolute_error"))
        seconds = time.perf_counter() - start
        rows.append({"model": name, "R^2": cv["test_r2"].mean(),
                     "MAE": -cv["test_neg_mean_absolute_error"].mean(), "seconds": seconds})
    table = pd.DataFrame(rows)
    print(table.to_string(index=False, float_format="%.3f"))
    return table


if __name__ == "__main__":
    main()
