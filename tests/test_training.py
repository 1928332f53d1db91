"""Training features: validation, early stopping, callbacks, schedules, warm start, partial_fit, routing."""

import keras
import numpy as np
import pandas as pd
import pytest
import sklearn
from conftest import requires
from keras.layers import Dense
from sklearn.datasets import make_classification
from sklearn.metrics import log_loss
from sklearn.model_selection import GridSearchCV, StratifiedKFold
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.class_weight import compute_class_weight, compute_sample_weight

from sknet import NetClassifier, NetRegressor


def small(**kw):
    params = dict(layers=[Dense(16, activation="relu")], epochs=5, random_state=0)
    params.update(kw)
    return NetClassifier(**params)


def test_validation_split_is_reported(digits):
    X, y = digits
    clf = small(validation_split=0.2, metrics=["accuracy"]).fit(X, y)
    frame = clf.history_.to_frame()
    assert list(frame.columns) == ["loss", "accuracy", "val_loss", "val_accuracy"]
    assert len(frame) == 5 and frame.index[0] == 1
    assert frame["val_accuracy"].iloc[-1] > 0.5
    # held out before training: 1,797 - 360 rows train, in batches of 32
    assert int(clf.model_.optimizer.iterations) == 5 * int(np.ceil((len(X) - 360) / 32))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_validation_split_is_stratified(seed):
    """The held-out share of each class is the class's share of ``y``, for any ``random_state``.

    With every row of ``X`` equal, the network gives every row the same probability ``p``,
    so the last epoch's ``val_loss`` is ``-(f log p + (1 - f) log(1 - p))`` where ``f`` is the
    fraction of class 1 in the validation rows: ``f`` can be read back exactly.
    """
    y = np.array([0] * 950 + [1] * 50)
    X = np.zeros((len(y), 3))
    clf = NetClassifier([Dense(2, activation="relu")], epochs=2, batch_size=256, validation_split=0.2,
                        random_state=seed).fit(X, y)
    p = clf.predict_proba(X[:1])[0, 1]
    f = (clf.history_["val_loss"][-1] + np.log(1 - p)) / (np.log(1 - p) - np.log(p))
    assert f * 200 == pytest.approx(10, abs=0.05)  # 200 validation rows, 5 % of them class 1


def test_unstratifiable_validation_split_warns(iris):
    """A class too small to stratify: the split is drawn unstratified, and the user is told so."""
    X, y = iris
    X, y = X[:101], y[:101]  # one sample of class 2
    with pytest.warns(UserWarning, match="stratif"):
        small(validation_split=0.2, epochs=1).fit(X, y)


def test_validation_data_labels_are_encoded_like_y(iris):
    X, y = iris
    names = np.array(["a", "b", "c"])[y]
    clf = small(metrics=["accuracy"]).fit(X[::2], names[::2], validation_data=(X[1::2], names[1::2]))
    # The last epoch's validation metrics are those of the final network on (X_val, y_val).
    assert clf.history_["val_accuracy"][-1] == pytest.approx(clf.score(X[1::2], names[1::2]), abs=1e-6)
    proba = clf.predict_proba(X[1::2])
    assert clf.history_["val_loss"][-1] == pytest.approx(log_loss(names[1::2], proba, labels=clf.classes_), rel=1e-4)


def test_validation_data_with_unseen_label_raises(iris):
    X, y = iris
    with pytest.raises(ValueError, match="not in classes_"):
        small().fit(X[y < 2], y[y < 2], validation_data=(X, y))


def test_early_stopping_stops_and_restores_best_weights():
    rng = np.random.RandomState(0)
    X = rng.randn(300, 10)
    y = (X[:, 0] + 0.5 * rng.randn(300) > 0).astype(int)  # noisy: validation loss plateaus
    clf = small(
        layers=[Dense(64, activation="relu")], epochs=200, early_stopping=True, patience=5,
        validation_split=0.3, optimizer__learning_rate=0.01,
    ).fit(X, y)
    assert clf.n_iter_ < 200
    val = np.array(clf.history_["val_loss"])
    best = int(np.argmin(val))
    assert clf.n_iter_ == best + 1 + 5  # stopped `patience` epochs after the best one


def test_early_stopping_without_validation_monitors_training_loss(iris):
    X, y = iris
    clf = small(epochs=300, early_stopping=True, patience=3, optimizer__learning_rate=0.05).fit(X, y)
    assert "val_loss" not in clf.history_
    assert clf.n_iter_ < 300


def test_restored_weights_have_the_best_validation_loss(iris):
    X, y = iris
    X_val, y_val = X[1::2], y[1::2]
    clf = small(epochs=60, early_stopping=True, patience=4, optimizer__learning_rate=0.1).fit(
        X[::2], y[::2], validation_data=(X_val, y_val)
    )
    loss = clf.model_.evaluate(X_val, keras.utils.to_categorical(y_val, 3), verbose=0, batch_size=len(X_val))
    assert loss == pytest.approx(min(clf.history_["val_loss"]), rel=1e-4)


class Recorder(keras.callbacks.Callback):
    """Records epochs and batches it sees (and has batch hooks: the per-batch path)."""

    def __init__(self):
        super().__init__()
        self.epochs, self.batches = [], 0

    def on_epoch_end(self, epoch, logs=None):
        self.epochs.append(epoch)

    def on_train_batch_end(self, batch, logs=None):
        self.batches += 1


def test_callbacks_are_fresh_copies(iris):
    X, y = iris
    template = Recorder()
    clf = small(callbacks=[template], batch_size=50).fit(X, y)
    assert template.epochs == [] and template.batches == 0  # the template is never used
    assert clf.callbacks[0] is template


class Sink(list):
    """A list that callbacks' per-fit deep copies share with the test."""

    def __deepcopy__(self, memo):
        return self


class BatchCounter(keras.callbacks.Callback):
    """Records batch hooks into a :class:`Sink`."""

    def __init__(self, seen):
        super().__init__()
        self.seen = seen

    def on_train_batch_begin(self, batch, logs=None):
        self.seen.append(("begin", batch))

    def on_train_batch_end(self, batch, logs=None):
        assert np.isfinite(logs["loss"])
        self.seen.append(("end", batch))


def test_batch_hook_path_learns_like_the_fast_path(iris):
    X, y = iris
    fast = small(batch_size=32).fit(X, y)
    seen = Sink()
    hooked = small(batch_size=32, callbacks=[BatchCounter(seen)]).fit(X, y)
    np.testing.assert_allclose(hooked.history_["loss"], fast.history_["loss"], rtol=1e-5)
    np.testing.assert_allclose(hooked.predict_proba(X), fast.predict_proba(X), rtol=1e-5, atol=1e-6)
    # every step fires its hooks: 150 rows in batches of 32 = 5 steps per epoch, 5 epochs
    steps = int(np.ceil(len(X) / 32))
    assert seen == [(kind, b) for _ in range(5) for b in range(steps) for kind in ("begin", "end")]


def test_reduce_lr_on_plateau(iris):
    X, y = iris
    cb = keras.callbacks.ReduceLROnPlateau(monitor="loss", factor=0.5, patience=1, min_delta=10.0)
    clf = small(callbacks=[cb], epochs=4, optimizer__learning_rate=0.01).fit(X, y)
    assert float(clf.model_.optimizer.learning_rate) < 0.01


def test_learning_rate_schedule(iris):
    X, y = iris
    schedule = keras.optimizers.schedules.ExponentialDecay(0.01, decay_steps=5, decay_rate=0.5)
    seen = Sink()
    clf = small(optimizer=keras.optimizers.SGD(learning_rate=schedule), epochs=3,
                callbacks=[LearningRates(seen)]).fit(X, y)
    assert clf.history_.n_epochs == 3
    assert int(clf.model_.optimizer.iterations) == 3 * 5
    np.testing.assert_allclose(seen, [0.005, 0.0025, 0.00125], rtol=1e-6)  # halved every 5 steps


class LearningRates(keras.callbacks.Callback):
    def __init__(self, seen):
        super().__init__()
        self.seen = seen

    def on_epoch_end(self, epoch, logs=None):
        self.seen.append(float(self.model.optimizer.learning_rate))


@pytest.mark.parametrize("optimizer", [keras.optimizers.SGD, keras.optimizers.Adam])
def test_learning_rate_schedule_drives_the_updates(iris, optimizer):
    """A rate that drops to 0 after the first epoch's 5 steps: later epochs change nothing."""
    X, y = iris
    schedule = keras.optimizers.schedules.PiecewiseConstantDecay([4], [0.05, 0.0])
    one = small(optimizer=optimizer(learning_rate=schedule), epochs=1).fit(X, y)
    three = small(optimizer=optimizer(learning_rate=schedule), epochs=3).fit(X, y)
    np.testing.assert_array_equal(three.predict_proba(X), one.predict_proba(X))
    constant = small(optimizer=optimizer(learning_rate=0.05), epochs=3).fit(X, y)
    assert np.abs(constant.predict_proba(X) - one.predict_proba(X)).max() > 1e-3


def test_warm_start_continues(digits):
    X, y = digits
    clf = small(warm_start=True, epochs=2).fit(X, y)
    weights = [w.copy() for w in clf.model_.get_weights()]
    first_loss = clf.history_["loss"][-1]
    clf.fit(X, y)
    assert clf.history_.n_epochs == 4
    assert clf.history_["loss"][-1] < first_loss
    assert int(clf.model_.optimizer.iterations) == 4 * int(np.ceil(len(X) / 32))
    assert not all(np.array_equal(a, b) for a, b in zip(weights, clf.model_.get_weights(), strict=True))


def test_without_warm_start_refit_starts_over(iris):
    X, y = iris
    clf = small(epochs=2).fit(X, y)
    first = clf.predict_proba(X)
    clf.fit(X, y)
    assert clf.history_.n_epochs == 2
    np.testing.assert_array_equal(clf.predict_proba(X), first)


def test_partial_fit_over_minibatches(digits):
    X, y = digits
    clf = NetClassifier([Dense(64, activation="relu")], random_state=0)
    for _ in range(5):
        for start in range(0, len(X), 300):
            clf.partial_fit(X[start : start + 300], y[start : start + 300], classes=np.arange(10))
    assert clf.history_.n_epochs == 5 * 6
    assert clf.score(X, y) > 0.85


def test_partial_fit_needs_classes_up_front(iris):
    X, y = iris
    clf = NetClassifier(random_state=0).partial_fit(X[y < 2], y[y < 2])
    np.testing.assert_array_equal(clf.classes_, [0, 1])
    with pytest.raises(ValueError, match=r"labels \[2\] that are not in classes_"):
        clf.partial_fit(X, y)


def test_partial_fit_rejects_other_feature_counts(iris):
    X, y = iris
    clf = NetClassifier(random_state=0).partial_fit(X, y)
    with pytest.raises(ValueError, match="features"):
        clf.partial_fit(X[:, :2], y)


def test_history_to_frame_pads_missing_values(iris):
    X, y = iris
    clf = small(epochs=2, warm_start=True).fit(X, y)
    clf.fit(X, y, validation_data=(X, y))
    frame = clf.history_.to_frame()
    assert isinstance(frame, pd.DataFrame) and len(frame) == 4
    assert frame["val_loss"].isna().sum() == 2
    assert pd.DataFrame(clf.history_).shape == (4, 2)


def test_nan_loss_raises_and_leaves_estimator_unchanged(iris):
    X, y = iris
    clf = small(optimizer="sgd", optimizer__learning_rate=1e30, epochs=5)
    with pytest.raises(FloatingPointError, match="loss became"):
        clf.fit(X * 1e10, y)
    assert not hasattr(clf, "model_")


def _heavy_class_2(y):
    return np.where(y == 2, 20.0, 1.0)


def test_sample_weight_changes_the_fit(iris):
    """Non-zero weights are in the loss: heavy weights on one class pull predictions toward it."""
    X, y = iris
    w = _heavy_class_2(y)
    kw = dict(epochs=5, optimizer__learning_rate=0.01)
    plain = small(**kw).fit(X, y).predict_proba(X)
    weighted = small(**kw).fit(X, y, sample_weight=w).predict_proba(X)
    assert weighted[:, 2].mean() > plain[:, 2].mean() + 0.1
    # uniform unit weights are no weights
    np.testing.assert_array_equal(small(**kw).fit(X, y, sample_weight=np.ones(len(y))).predict_proba(X), plain)


def test_sample_weight_is_the_weight_of_the_loss():
    """One full-batch SGD step: the update is the gradient of ``sum(w * loss) / n`` (Keras' weighted loss)."""
    rng = np.random.RandomState(0)
    X = rng.randn(40, 3)
    y = X @ [1.0, -2.0, 0.5]
    w = rng.uniform(0.1, 3.0, len(y))
    reg = NetRegressor([], optimizer="sgd", optimizer__learning_rate=0.1, epochs=1, batch_size=len(y),
                       warm_start=True, random_state=0, scale_target=False).fit(X, y)
    kernel, bias = (v.copy() for v in reg.model_.get_weights())
    reg.fit(X, y, sample_weight=w)
    residual = X @ kernel[:, 0] + bias[0] - y
    grad_kernel = 2 * X.T @ (w * residual) / len(y)
    grad_bias = 2 * np.sum(w * residual) / len(y)
    new_kernel, new_bias = reg.model_.get_weights()
    np.testing.assert_allclose(new_kernel[:, 0], kernel[:, 0] - 0.1 * grad_kernel, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(new_bias[0], bias[0] - 0.1 * grad_bias, rtol=1e-4, atol=1e-5)


def _balanced_problem():
    X, y = make_classification(n_samples=300, n_features=6, n_informative=3, weights=[0.85, 0.15],
                               class_sep=0.5, random_state=0)
    return X, y


def test_class_weight_balanced_is_sklearns_balanced_weighting():
    X, y = _balanced_problem()
    kw = dict(epochs=5, optimizer__learning_rate=0.01)
    balanced = small(class_weight="balanced", **kw).fit(X, y).predict_proba(X)
    weights = compute_class_weight("balanced", classes=np.unique(y), y=y)
    as_dict = small(class_weight=dict(enumerate(weights)), **kw).fit(X, y).predict_proba(X)
    as_samples = small(**kw).fit(X, y, sample_weight=compute_sample_weight("balanced", y)).predict_proba(X)
    np.testing.assert_allclose(balanced, as_dict, rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(balanced, as_samples, rtol=1e-6, atol=1e-7)
    plain = small(**kw).fit(X, y).predict_proba(X)
    # the minority class (15 %) gets about 3.3 times the weight: its probability goes up
    assert balanced[:, 1].mean() > plain[:, 1].mean() + 0.05
    # class weights multiply sample weights
    w = np.where(np.arange(len(y)) % 2, 2.0, 0.5)
    both = small(class_weight="balanced", **kw).fit(X, y, sample_weight=w).predict_proba(X)
    product = small(**kw).fit(X, y, sample_weight=w * compute_sample_weight("balanced", y)).predict_proba(X)
    np.testing.assert_allclose(both, product, rtol=1e-5, atol=1e-6)


@requires("scikit-learn", "1.8", "Pipeline.score routes sample_weight to the last step's score request "
          "without a request of its own (1.6 to 1.7.2 raise UnsetMetadataPassedError)")
def test_metadata_routing_of_sample_weight(iris):
    X, y = iris
    w = _heavy_class_2(y)
    grid = {"netclassifier__batch_size": [16, 32]}
    with sklearn.config_context(enable_metadata_routing=True):
        scaler = StandardScaler().set_fit_request(sample_weight=False)
        net = small().set_fit_request(sample_weight=True).set_score_request(sample_weight=True)
        pipe = make_pipeline(scaler, net)
        pipe.fit(X, y, sample_weight=w)
        search = GridSearchCV(pipe, grid, cv=2).fit(X, y, sample_weight=w)
    # the pipeline's network saw the weights: it equals a direct weighted fit, not an unweighted one
    Xs = StandardScaler().fit_transform(X)
    direct = small().fit(Xs, y, sample_weight=w).predict_proba(Xs)
    np.testing.assert_allclose(pipe.predict_proba(X), direct, rtol=1e-6, atol=1e-7)
    assert np.abs(small().fit(Xs, y).predict_proba(Xs) - direct).max() > 1e-3
    # the search fitted and scored every fold with the weights (scores are weighted accuracies)
    for i, batch_size in enumerate(grid["netclassifier__batch_size"]):
        scores = []
        for train, test in StratifiedKFold(2).split(X, y):
            scale = StandardScaler().fit(X[train])
            clf = small(batch_size=batch_size).fit(scale.transform(X[train]), y[train], sample_weight=w[train])
            scores.append(clf.score(scale.transform(X[test]), y[test], sample_weight=w[test]))
        assert search.cv_results_["mean_test_score"][i] == pytest.approx(np.mean(scores), abs=1e-12)


def test_sample_weight_without_routing(iris):
    X, y = iris
    w = _heavy_class_2(y)
    pipe = make_pipeline(StandardScaler(), small()).fit(X, y, netclassifier__sample_weight=w)
    Xs = StandardScaler().fit_transform(X)
    np.testing.assert_allclose(pipe.predict_proba(X), small().fit(Xs, y, sample_weight=w).predict_proba(Xs),
                               rtol=1e-6, atol=1e-7)
    assert np.abs(small().fit(Xs, y).predict_proba(Xs) - pipe.predict_proba(X)).max() > 1e-3


def test_regressor_early_stopping_and_metrics():
    rng = np.random.RandomState(0)
    X = rng.randn(200, 5)
    y = X[:, 0] + rng.randn(200)  # noisy: the validation loss soon stops improving
    reg = NetRegressor([Dense(32, activation="relu")], epochs=200, metrics=["mae"], validation_split=0.2,
                       early_stopping=True, patience=3, optimizer__learning_rate=0.01, random_state=0).fit(X, y)
    assert {"loss", "mae", "val_loss", "val_mae"} <= set(reg.history_)
    assert reg.n_iter_ < 200 and reg.history_.n_epochs == reg.n_iter_
    val = np.array(reg.history_["val_loss"])
    assert reg.n_iter_ == int(np.argmin(val)) + 1 + 3  # stopped `patience` epochs after the best one


@pytest.mark.parametrize("monitor", ["val_accuracy", "accuracy"])
def test_monitor_callbacks_find_the_metrics_direction_as_keras_does(iris, monitor):
    """EarlyStopping(monitor="val_accuracy") raised "isn't able to automatically determine" (issue 28)."""
    X, y = iris
    runs = {}
    for mode in ("auto", "max"):
        callbacks = [keras.callbacks.EarlyStopping(monitor=monitor, mode=mode, patience=1, min_delta=0.5),
                     keras.callbacks.ReduceLROnPlateau(monitor=monitor, mode=mode, patience=1, min_delta=0.5)]
        clf = small(metrics=["accuracy"], validation_split=0.2, epochs=6, callbacks=callbacks).fit(X, y)
        runs[mode] = clf.history_
    assert {k: list(v) for k, v in runs["auto"].items()} == {k: list(v) for k, v in runs["max"].items()}
    assert len(runs["auto"]["loss"]) == 2  # no accuracy gain of 0.5: stopped after patience
