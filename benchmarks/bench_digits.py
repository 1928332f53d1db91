"""Small data: one complete fit and 5-fold cross-validation on digits.

Same network everywhere: 64 -> Dense(100, relu) -> Dense(10, softmax), Adam
(lr 1e-3), batch 200, 20 epochs, one-hot categorical cross-entropy.

The "peak %" column: the fraction of the machine's float32 matmul peak
(measured in the same run) that sknet's fits reach with the network's matmul
FLOPs (forward + backward, 20 epochs; for cross-validation, the five fits' on
4/5 of the rows each, over the whole ``cross_val_score`` time).

The warm fits of sknet, MLPClassifier and Keras alternate call by call, and so
do the two cross-validations (median of 5 rounds; ``--quick``: 3), so that a slow
spell of a shared machine hits every contender alike.

Usage: python benchmarks/bench_digits.py [--quick]
"""

import warnings

from _common import (
    cli,
    dense_flops,
    machine,
    peak_fraction,
    peak_note,
    print_table,
    row,
    side_by_side,
    timed,
    training_flops,
)

EPOCHS, BATCH = 20, 200


def keras_fit(X, Y):
    import keras

    model = keras.Sequential([keras.Input((X.shape[1],)), keras.layers.Dense(100, activation="relu"),
                              keras.layers.Dense(10, activation="softmax")])
    model.compile(optimizer="adam", loss="categorical_crossentropy")
    model.fit(X, Y, epochs=EPOCHS, batch_size=BATCH, verbose=0)
    return model


def sknet_net(random_state=0):
    from keras.layers import Dense

    from sknet import NetClassifier

    return NetClassifier([Dense(100, activation="relu")], epochs=EPOCHS, batch_size=BATCH,
                         random_state=random_state)


def mlp():
    from sklearn.neural_network import MLPClassifier

    return MLPClassifier(hidden_layer_sizes=(100,), max_iter=EPOCHS, batch_size=BATCH, random_state=0)


def scikeras_net():
    from scikeras.wrappers import KerasClassifier

    def build(meta):
        import keras

        return keras.Sequential([keras.Input((meta["n_features_in_"],)),
                                 keras.layers.Dense(100, activation="relu"),
                                 keras.layers.Dense(meta["n_classes_"], activation="softmax")])

    return KerasClassifier(build, loss="categorical_crossentropy", optimizer="adam", epochs=EPOCHS,
                           batch_size=BATCH, verbose=0, random_state=0)


def main(quick=False):
    import keras
    import numpy as np
    from sklearn.datasets import load_digits
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.model_selection import cross_val_score, train_test_split

    warnings.filterwarnings("ignore", category=ConvergenceWarning)
    repeat = 3 if quick else 5
    X, y = load_digits(return_X_y=True)
    X = (X / 16.0).astype("float32")
    Y = keras.utils.to_categorical(y, 10)
    print(machine())

    keras_fit(X, Y)  # TensorFlow's own start-up, so that the cold row times sknet's first fit (its tracing) alone
    cold_time, _ = timed(lambda: sknet_net().fit(X, y))  # first fit of this architecture: traces
    # The contenders alternate, call by call, so that a slow spell of a shared machine hits all of them.
    warm_time, mlp_time, keras_time = side_by_side(
        [lambda: sknet_net().fit(X, y), lambda: mlp().fit(X, y), lambda: keras_fit(X, Y)], repeat)
    cv_sknet, cv_mlp = side_by_side(
        [lambda: cross_val_score(sknet_net(), X, y, cv=5), lambda: cross_val_score(mlp(), X, y, cv=5)], repeat)

    flops = training_flops([dense_flops(X.shape[1], 100), dense_flops(100, 10)], len(X), EPOCHS)
    cv_flops = 5 * flops * 4 // 5  # five fits on 4/5 of the rows each

    def peak(seconds, work=flops):
        return peak_fraction(work, seconds)

    rows = [
        row("digits fit, warm (architecture traced before)", warm_time, "Keras build+compile+fit", keras_time,
            "<= 0.3", bound=0.3, peak=peak(warm_time)),
        row("digits fit, cold (first fit in the process)", cold_time, "Keras build+compile+fit", keras_time,
            "(info)", peak=peak(cold_time)),
        row("digits fit, warm", warm_time, "MLPClassifier.fit", mlp_time, "<= 1.0", bound=1.0, peak=peak(warm_time)),
        row("digits cross_val_score(cv=5)", cv_sknet, "MLPClassifier", cv_mlp, "<= 1.0", bound=1.0,
            peak=peak(cv_sknet, cv_flops)),
    ]
    try:
        import scikeras  # noqa: F401

        sk_time, _ = timed(lambda: scikeras_net().fit(X, y), repeat)
        rows.append(row("digits fit, warm", warm_time, "scikeras KerasClassifier.fit", sk_time, "(info)",
                        peak=peak(warm_time)))
    except Exception as exc:  # scikeras is unmaintained and breaks on new scikit-learn
        reason = f"{type(exc).__name__}: {exc}".replace("|", "/")[:70]
        rows.append(("digits fit", "", "scikeras", f"does not run ({reason})", "", "(info)", ""))
    print_table("Small data (digits, 1,797 x 64)", rows)
    print(f"\n{peak_note()}")

    # Accuracy: the same network learns the same (held-out split, 5 seeds each).
    X_tr, X_te, y_tr, y_te, Y_tr, _ = train_test_split(X, y, Y, test_size=0.3, random_state=0, stratify=y)
    ours = [sknet_net(seed).fit(X_tr, y_tr).score(X_te, y_te) for seed in range(5)]
    theirs = []
    for seed in range(5):
        keras.utils.set_random_seed(seed)  # a benchmark may; sknet itself never does
        theirs.append(float(np.mean(keras_fit(X_tr, Y_tr).predict(X_te, verbose=0).argmax(1) == y_te)))
    print(f"\nHeld-out accuracy over 5 seeds: sknet {np.mean(ours):.4f} +/- {np.std(ours):.4f}, "
          f"Keras model.fit {np.mean(theirs):.4f} +/- {np.std(theirs):.4f}")


if __name__ == "__main__":
    cli(main)
