"""sknet demo: the Keras tutorial MLP as a scikit-learn estimator, on digits.

Runs offline on scikit-learn's bundled digits data (1,797 8x8 images):

1. a grid search over nested layer keys and the learning rate, inside
   ``Pipeline(StandardScaler(), NetClassifier(...))``;
2. 5-fold cross-validation of the best pipeline;
3. a held-out test score and a learning-curve picture (``demo_history.png``).

Usage: ``python examples/demo.py [--out PATH] [--epochs N]`` (``make demo``).
"""

import argparse
import time

from _quiet import quiet_tensorflow

quiet_tensorflow()  # before Keras/sknet import TensorFlow: its start-up chatter off, its errors kept

import pandas as pd  # noqa: E402
from keras.layers import Dense, Dropout  # noqa: E402
from sklearn.datasets import load_digits  # noqa: E402
from sklearn.model_selection import GridSearchCV, cross_val_score, train_test_split  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402

from sknet import NetClassifier  # noqa: E402


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="demo_history.png", help="where to save the learning curves")
    parser.add_argument("--epochs", type=int, default=20)
    args = parser.parse_args(argv)

    X, y = load_digits(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.25, stratify=y, random_state=0)

    # The Keras tutorial MLP, without input layer, output layer or one-hot step.
    net = NetClassifier(
        layers=[Dense(512, activation="relu"), Dropout(0.2), Dense(512, activation="relu"), Dropout(0.2)],
        optimizer="rmsprop",
        metrics=["accuracy"],
        epochs=args.epochs,
        batch_size=128,
        random_state=0,
    )
    pipe = make_pipeline(StandardScaler(), net)
    grid = {
        "netclassifier__layers__0__units": [64, 256],
        "netclassifier__layers__1__rate": [0.0, 0.2],
        "netclassifier__optimizer__learning_rate": [1e-3, 1e-4],
    }
    start = time.perf_counter()
    search = GridSearchCV(pipe, grid, cv=3).fit(X_train, y_train)
    search_time = time.perf_counter() - start

    results = pd.DataFrame(search.cv_results_)
    columns = {f"param_{k}": k.split("__", 1)[1] for k in grid}
    table = results[list(columns) + ["mean_test_score", "std_test_score", "rank_test_score"]]
    table = table.rename(columns=columns).sort_values("rank_test_score")
    print(f"Grid search: {len(results)} candidates x 3 folds on digits ({search_time:.1f} s)\n")
    print(table.to_string(index=False, float_format="%.4f"))

    best = search.best_estimator_
    start = time.perf_counter()
    scores = cross_val_score(best, X_train, y_train, cv=5)
    cv_time = time.perf_counter() - start
    print(f"\nBest: {search.best_params_}")
    print(f"5-fold CV accuracy of the best pipeline: {scores.mean():.4f} +/- {scores.std():.4f} "
          f"({cv_time:.1f} s)")

    # Learning curves of the best pipeline, refitted with a validation split.
    best.set_params(netclassifier__validation_split=0.2).fit(X_train, y_train)
    print(f"Held-out test accuracy: {best.score(X_test, y_test):.4f}")
    try:
        import matplotlib

        matplotlib.use("Agg")
        from sknet.plotting import plot_history

        axes = plot_history(best)
        axes[0].figure.suptitle("sknet on digits: the tutorial MLP")
        axes[0].figure.tight_layout()
        axes[0].figure.savefig(args.out, dpi=100)
        print(f"Learning curves written to {args.out}")
    except ImportError:
        print("matplotlib is not installed: pip install 'sknet-keras[plot]' for the learning-curve picture")
    return search


if __name__ == "__main__":
    main()
