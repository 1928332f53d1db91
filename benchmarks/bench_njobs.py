"""Scale-out on one machine: GridSearchCV(n_jobs=2) vs n_jobs=1 on small fits.

A grid of 8 candidates x 3 folds of small MLPs on digits. Both sides are
warmed first (loky workers import TensorFlow once, a few seconds each, and are
then reused by every later search; every process traces each architecture
once), so the figure is the steady-state speed-up.

Usage: python benchmarks/bench_njobs.py [--quick]
"""

import os

from _common import cli, machine, print_table, row, timed


def _warm():
    import sknet  # noqa: F401

    return os.getpid()


def main(quick=False):
    from joblib import Parallel, delayed
    from keras.layers import Dense
    from sklearn.datasets import load_digits
    from sklearn.model_selection import GridSearchCV

    from sknet import NetClassifier

    X, y = load_digits(return_X_y=True)
    X = X / 16.0
    epochs = 5 if quick else 20
    grid = {"layers__0__units": [16, 32, 64, 128], "optimizer__learning_rate": [1e-3, 1e-2]}
    net = NetClassifier([Dense(32, activation="relu")], epochs=epochs, batch_size=64, random_state=0)
    print(machine())

    cold2, _ = timed(lambda: GridSearchCV(net, grid, cv=3, n_jobs=2).fit(X, y))
    Parallel(n_jobs=2)(delayed(_warm)() for _ in range(4))
    GridSearchCV(net, grid, cv=3, n_jobs=1).fit(X, y)  # this process traces each architecture once too
    one, serial = timed(lambda: GridSearchCV(net, grid, cv=3, n_jobs=1).fit(X, y))
    two, parallel = timed(lambda: GridSearchCV(net, grid, cv=3, n_jobs=2).fit(X, y))
    same = (serial.cv_results_["mean_test_score"] == parallel.cv_results_["mean_test_score"]).all()
    speedup = one / two
    print_table(
        f"GridSearchCV, 8 candidates x 3 folds, {epochs} epochs ({os.cpu_count()} cores)",
        [
            row("n_jobs=2 (warm workers)", two, "n_jobs=1", one, "speed-up >= 1.5x", bound=1 / 1.5),
            row("n_jobs=2 (incl. starting workers)", cold2, "n_jobs=1", one, "(info)"),
        ],
    )
    print(f"\nSpeed-up n_jobs=2 over n_jobs=1: {speedup:.2f}x (target >= 1.5x: "
          f"{'met' if speedup >= 1.5 else 'NOT met'}); identical scores: {bool(same)}")


if __name__ == "__main__":
    cli(main)
