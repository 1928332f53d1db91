"""Memory: resident-set growth over many consecutive fits in one process.

Fits (and predicts with) fresh NetClassifier estimators on digits, as a grid
search or a notebook session would, and reports the RSS growth between the
10th and the last fit. Keras model.fit in a loop is measured the same way.

Usage: python benchmarks/bench_memory.py [--quick]   (quick: 30 fits)
"""

import gc
import os

from _common import cli, machine, print_table


def rss_mb():
    with open(f"/proc/{os.getpid()}/statm") as f:
        pages = int(f.read().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


def growth(fit, n):
    for i in range(n):
        fit(i)
        if i == 9:
            gc.collect()
            start = rss_mb()
    gc.collect()
    return rss_mb() - start


def main(quick=False):
    import keras
    from keras.layers import Dense, Dropout
    from sklearn.datasets import load_digits

    from sknet import NetClassifier

    n = 30 if quick else 200
    X, y = load_digits(return_X_y=True)
    X = X / 16.0
    Y = keras.utils.to_categorical(y, 10)
    print(machine())

    def sknet_fit(i):
        clf = NetClassifier([Dense(64, activation="relu"), Dropout(0.1)], epochs=2, random_state=i)
        clf.fit(X, y).predict(X)

    def keras_fit(i):
        model = keras.Sequential([keras.Input((64,)), Dense(64, activation="relu"), Dropout(0.1),
                                  Dense(10, activation="softmax")])
        model.compile("adam", "categorical_crossentropy")
        model.fit(X, Y, epochs=2, verbose=0)
        model.predict(X, verbose=0)

    ours = growth(sknet_fit, n)
    theirs = growth(keras_fit, n)
    print_table(
        f"Memory over {n} consecutive fits",
        [
            (f"RSS growth, fits 10..{n}", f"{ours:.1f} MB", "Keras model.fit loop", f"{theirs:.1f} MB", "",
             "<= 100 MB", "yes" if ours <= 100 else "NO"),
        ],
        measure="growth",
    )


if __name__ == "__main__":
    cli(main)
