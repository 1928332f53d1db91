"""Training features: validation, early stopping, callbacks, schedules, warm start, partial_fit, routing."""

import keras
import numpy as np
import pandas as pd
import pytest
import sklearn
from keras.layers import Dense
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from sknet import NetClassifier, NetRegressor


def small(**kw):
    params = dict(layers=[Dense(16, activation="relu")], epochs=5, random_state=0)
    params.update(kw)
    return NetClassifier(**params)


def test_validation_split_is_stratified_and_reported(digits):
    X, y = digits
    clf = small(validation_split=0.2, metrics=["accuracy"]).fit(X, y)
    frame = clf.history_.to_frame()
    assert list(frame.columns) == ["loss", "accuracy", "val_loss", "val_accuracy"]
    assert len(frame) == 5 and frame.index[0] == 1
    assert frame["val_accuracy"].iloc[-1] > 0.5


def test_validation_data_labels_are_encoded_like_y(iris):
    X, y = iris
    names = np.array(["a", "b", "c"])[y]
    clf = small(metrics=["accuracy"]).fit(X[::2], names[::2], validation_data=(X[1::2], names[1::2]))
    assert "val_accuracy" in clf.history_
    assert 0 <= clf.history_["val_accuracy"][-1] <= 1


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


def test_batch_hook_path_learns_like_the_fast_path(iris):
    X, y = iris
    fast = small(batch_size=32).fit(X, y)
    hooked = small(batch_size=32, callbacks=[Recorder()]).fit(X, y)
    np.testing.assert_allclose(hooked.history_["loss"], fast.history_["loss"], rtol=1e-5)
    np.testing.assert_allclose(hooked.predict_proba(X), fast.predict_proba(X), rtol=1e-5, atol=1e-6)


def test_reduce_lr_on_plateau(iris):
    X, y = iris
    cb = keras.callbacks.ReduceLROnPlateau(monitor="loss", factor=0.5, patience=1, min_delta=10.0)
    clf = small(callbacks=[cb], epochs=4, optimizer__learning_rate=0.01).fit(X, y)
    assert float(clf.model_.optimizer.learning_rate) < 0.01


def test_learning_rate_schedule(iris):
    X, y = iris
    schedule = keras.optimizers.schedules.ExponentialDecay(0.01, decay_steps=5, decay_rate=0.5)
    clf = small(optimizer=keras.optimizers.SGD(learning_rate=schedule), epochs=3).fit(X, y)
    assert clf.history_.n_epochs == 3
    assert int(clf.model_.optimizer.iterations) == 3 * 5


def test_warm_start_continues(digits):
    X, y = digits
    clf = small(warm_start=True, epochs=2).fit(X, y)
    weights = [w.copy() for w in clf.model_.get_weights()]
    first_loss = clf.history_["loss"][-1]
    clf.fit(X, y)
    assert clf.history_.n_epochs == 4
    assert clf.history_["loss"][-1] < first_loss
    assert int(clf.model_.optimizer.iterations) == 4 * int(np.ceil(len(X) / 32))
    assert not all(np.array_equal(a, b) for a, b in zip(weights, clf.model_.get_weights()))


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


def test_metadata_routing_of_sample_weight(iris):
    X, y = iris
    w = np.where(y == 2, 20.0, 1.0)
    with sklearn.config_context(enable_metadata_routing=True):
        scaler = StandardScaler().set_fit_request(sample_weight=False)
        net = small().set_fit_request(sample_weight=True).set_score_request(sample_weight=True)
        pipe = make_pipeline(scaler, net)
        pipe.fit(X, y, sample_weight=w)
        search = GridSearchCV(pipe, {"netclassifier__batch_size": [16, 32]}, cv=2).fit(X, y, sample_weight=w)
    assert np.isfinite(search.cv_results_["mean_test_score"]).all()
    plain = make_pipeline(StandardScaler(), small()).fit(X, y)
    assert (pipe.predict(X) == 2).sum() >= (plain.predict(X) == 2).sum()


def test_sample_weight_without_routing(iris):
    X, y = iris
    w = np.where(y == 2, 20.0, 1.0)
    pipe = make_pipeline(StandardScaler(), small()).fit(X, y, netclassifier__sample_weight=w)
    assert pipe.score(X, y) > 0.5


def test_regressor_early_stopping_and_metrics(regression_data):
    X, Y = regression_data
    reg = NetRegressor(epochs=50, metrics=["mae"], validation_split=0.2, early_stopping=True, patience=3,
                       random_state=0).fit(X, Y)
    assert {"loss", "mae", "val_loss", "val_mae"} <= set(reg.history_)
