"""Large data: training time per epoch of the MNIST-shaped tutorial MLP.

784 -> Dense(512, relu) -> Dropout(0.2) -> Dense(512, relu) -> Dropout(0.2)
-> Dense(10, softmax), RMSprop, batch 128, on 60,000 synthetic MNIST-shaped rows
(no download). Per-epoch time = (time of a 3-epoch fit - time of a 1-epoch fit) / 2,
so that set-up and tracing cancel out for both contenders.

Usage: python benchmarks/bench_mnist_mlp.py [--quick]   (quick: 12,000 rows)
"""


from _common import cli, machine, print_table, row, timed


def data(n, seed=0):
    import numpy as np

    centers = np.random.RandomState(0).rand(10, 784).astype("float32")
    rng = np.random.RandomState(seed + 1)
    y = rng.randint(0, 10, n)
    X = np.clip(centers[y] + 0.3 * rng.randn(n, 784).astype("float32"), 0, 1)
    return X, y


def layers():
    from keras.layers import Dense, Dropout

    return [Dense(512, activation="relu"), Dropout(0.2), Dense(512, activation="relu"), Dropout(0.2)]


def keras_fit(X, Y, epochs):
    import keras

    model = keras.Sequential([keras.Input((784,))] + layers() + [keras.layers.Dense(10, activation="softmax")])
    model.compile(loss="categorical_crossentropy", optimizer=keras.optimizers.RMSprop(), metrics=["accuracy"])
    model.fit(X, Y, batch_size=128, epochs=epochs, verbose=0)
    return model


def sknet_fit(X, y, epochs):
    from sknet import NetClassifier

    return NetClassifier(layers(), optimizer="rmsprop", metrics=["accuracy"], batch_size=128, epochs=epochs,
                         random_state=0).fit(X, y)


def main(quick=False):
    import keras

    n = 12_000 if quick else 60_000
    X, y = data(n)
    Y = keras.utils.to_categorical(y, 10)
    print(machine())
    keras_fit(X[:256], Y[:256], 1)  # warm up the runtime
    sknet_fit(X[:256], y[:256], 1)  # and sknet's trace of this architecture, so that s3 - s1 is pure training
    k1, _ = timed(lambda: keras_fit(X, Y, 1))
    k3, _ = timed(lambda: keras_fit(X, Y, 3))
    s1, _ = timed(lambda: sknet_fit(X, y, 1))
    s3, clf = timed(lambda: sknet_fit(X, y, 3))
    keras_epoch, sknet_epoch = (k3 - k1) / 2, (s3 - s1) / 2
    print_table(
        f"MNIST-shaped MLP ({n:,} x 784, batch 128)",
        [
            row("time per epoch", sknet_epoch, "Keras model.fit (defaults)", keras_epoch, "<= 0.6", bound=0.6),
            row("3-epoch fit, end to end (traced before)", s3, "Keras build+compile+fit", k3, "(info)"),
        ],
    )
    X_test, y_test = data(5_000, seed=7)
    print(f"\nTraining accuracy after 3 epochs: sknet {clf.history_['accuracy'][-1]:.4f}; "
          f"test accuracy {clf.score(X_test, y_test):.4f}")


if __name__ == "__main__":
    cli(main)
