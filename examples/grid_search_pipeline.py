"""Tune a Keras network like any scikit-learn model: nested layer keys in a grid search.

Digits, ``Pipeline(StandardScaler(), NetClassifier)``, ``GridSearchCV`` over a
layer's units, a dropout rate and the learning rate -- no build function --
then ``cross_val_score`` of the best pipeline, printed as a table.

Usage: python examples/grid_search_pipeline.py [--epochs 20] [--n-jobs 1]
"""

import argparse

from _quiet import quiet_tensorflow

quiet_tensorflow()  # before Keras/sknet import TensorFlow: its start-up chatter off, its errors kept

import pandas as pd  # noqa: E402
from keras.layers import Dense, Dropout  # noqa: E402
from sklearn.datasets import load_digits  # noqa: E402
from sklearn.model_selection import GridSearchCV, cross_val_score  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402

from sknet import NetClassifier  # noqa: E402


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--n-jobs", type=int, default=1)
    args = parser.parse_args(argv)

    X, y = load_digits(return_X_y=True)
    pipe = make_pipeline(
        StandardScaler(),
        NetClassifier([Dense(64, activation="relu"), Dropout(0.2)], epochs=args.epochs, random_state=0),
    )
    grid = {
        "netclassifier__layers__0__units": [32, 128],
        "netclassifier__layers__1__rate": [0.0, 0.3],
        "netclassifier__optimizer__learning_rate": [1e-3, 1e-2],
    }
    search = GridSearchCV(pipe, grid, cv=3, n_jobs=args.n_jobs).fit(X, y)
    table = pd.DataFrame(search.cv_results_)
    params = [f"param_{k}" for k in grid]
    table = table[params + ["mean_test_score", "std_test_score", "mean_fit_time"]]
    table.columns = [c.replace("param_netclassifier__", "") for c in table.columns]
    print(table.sort_values("mean_test_score", ascending=False).to_string(index=False, float_format="%.4f"))
    scores = cross_val_score(search.best_estimator_, X, y, cv=5)
    print(f"\nbest: {search.best_params_}")
    print(f"cross_val_score of the best pipeline: {scores.mean():.4f} +/- {scores.std():.4f}")
    return search


if __name__ == "__main__":
    main()
