"""The fast engine: correct against Keras, cache reuse is invisible, thread-safe predict."""

import threading

import keras
import numpy as np
import pytest
import tensorflow as tf
from keras.layers import Dense, Dropout

from sknet import NetClassifier, NetRegressor, _engine
from sknet._engine._state import clone_architecture


def test_cached_trainer_gives_the_same_result_as_a_fresh_one(digits):
    X, y = digits
    make = lambda: NetClassifier([Dense(32, activation="relu"), Dropout(0.2)], epochs=3, random_state=0)  # noqa: E731
    _engine.clear_caches()
    fresh = make().fit(X, y).predict_proba(X)
    NetClassifier([Dense(32, activation="relu"), Dropout(0.2)], epochs=2, random_state=5).fit(X[:500], y[:500])
    reused = make().fit(X, y).predict_proba(X)  # same signature: the trainer is reused
    assert len(_engine._TRAINERS) == 1
    np.testing.assert_array_equal(fresh, reused)


def test_learning_rate_is_not_baked_into_the_cached_trace(iris):
    X, y = iris
    _engine.clear_caches()
    slow = NetClassifier(epochs=3, optimizer__learning_rate=1e-5, random_state=0).fit(X, y)
    fast = NetClassifier(epochs=3, optimizer__learning_rate=1e-1, random_state=0).fit(X, y)
    assert len(_engine._TRAINERS) == 1
    assert fast.history_["loss"][-1] < slow.history_["loss"][-1] - 0.1


def test_cache_is_bounded(iris):
    X, y = iris
    _engine.clear_caches()
    for units in range(1, _engine._MAX_CACHED + 4):
        NetClassifier([Dense(units)], epochs=1, random_state=0).fit(X, y).predict(X)
    assert len(_engine._TRAINERS) == _engine._MAX_CACHED
    assert len(_engine._PREDICTORS) == _engine._MAX_CACHED


def test_losses_of_different_classes_never_share_a_trace(regression_data):
    """Two loss classes with equal configs (the same name) are different losses."""
    X, Y = regression_data
    _engine.clear_caches()
    for loss in (keras.losses.MeanSquaredError(name="l"), keras.losses.MeanAbsoluteError(name="l")):
        reg = NetRegressor(loss=loss, epochs=1, random_state=0, scale_target=False).fit(X, Y, validation_data=(X, Y))
        expected = float(type(loss)()(Y, reg.model_.predict(X, verbose=0)))
        assert reg.history_["val_loss"][-1] == pytest.approx(expected, rel=1e-4)
    assert len(_engine._TRAINERS) == 2


def test_loss_matches_keras_evaluate_on_a_full_batch(iris):
    X, y = iris
    clf = NetClassifier(epochs=3, batch_size=len(X), random_state=0).fit(X, y, validation_data=(X, y))
    loss = clf.model_.evaluate(X, keras.utils.to_categorical(y, 3), batch_size=len(X), verbose=0)
    assert abs(loss - clf.history_["val_loss"][-1]) < 1e-5


def test_concurrent_predict_matches_sequential(digits):
    X, y = digits
    clf = NetClassifier([Dense(32, activation="relu")], epochs=2, random_state=0).fit(X, y)
    expected = clf.predict_proba(X)
    results, errors = [None] * 8, []

    def work(i):
        try:
            results[i] = clf.predict_proba(X)
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    for r in results:
        np.testing.assert_array_equal(r, expected)


def test_two_estimators_fit_in_two_threads(iris, regression_data):
    X, y = iris
    Xr, Yr = regression_data
    out = {}

    def fit_clf():
        out["clf"] = NetClassifier(epochs=3, random_state=0).fit(X, y)

    def fit_reg():
        out["reg"] = NetRegressor(epochs=3, random_state=0).fit(Xr, Yr)

    threads = [threading.Thread(target=fit_clf), threading.Thread(target=fit_reg)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    solo = NetClassifier(epochs=3, random_state=0).fit(X, y)
    np.testing.assert_array_equal(out["clf"].predict_proba(X), solo.predict_proba(X))
    assert out["reg"].predict(Xr).shape == Yr.shape


def test_serving_path_predicts_like_the_shared_path(digits):
    X, y = digits
    clf = NetClassifier([Dense(32, activation="relu"), Dropout(0.3)], epochs=1, random_state=0).fit(X, y)
    shared = [clf.predict_proba(X), clf.predict_proba(X[:1])]  # first calls: shared traced function
    for _ in range(3):
        clf.predict_proba(X[:2])
    assert clf._serving.dedicated is not None
    np.testing.assert_array_equal(clf.predict_proba(X), shared[0])
    np.testing.assert_array_equal(clf.predict_proba(X[:1]), shared[1])


def test_same_learning_as_keras_fit(iris):
    """Full-batch SGD from the same weights: sknet's engine and Keras' fit take the same steps."""
    X, y = iris
    clf = NetClassifier([Dense(8, activation="tanh")], optimizer="sgd", optimizer__learning_rate=0.1,
                        batch_size=len(X), epochs=1, warm_start=True, random_state=0).fit(X, y)
    twin = keras.models.clone_model(clf.model_)
    twin.set_weights(clf.model_.get_weights())
    twin.compile(optimizer=keras.optimizers.SGD(learning_rate=0.1), loss="categorical_crossentropy")
    keras_history = twin.fit(X, keras.utils.to_categorical(y, 3), batch_size=len(X), epochs=5, shuffle=False,
                             verbose=0).history["loss"]
    clf.set_params(epochs=5).fit(X, y)
    np.testing.assert_allclose(clf.history_["loss"][1:], keras_history, rtol=1e-4)
    np.testing.assert_allclose(clf.predict_proba(X), twin.predict(X, verbose=0), rtol=1e-4, atol=1e-5)


def test_unregistered_optimizer_class_trains_and_predicts(iris):
    """Keras' clone_model would re-compile from the config and fail to find the class."""
    X, y = iris

    class MyRMSprop(keras.optimizers.RMSprop):
        pass

    _engine.clear_caches()
    clf = NetClassifier(optimizer=MyRMSprop(learning_rate=0.01), epochs=3, random_state=0).fit(X, y)
    (trainer,) = _engine._TRAINERS.values()
    assert trainer._fused is None  # a subclass may change update_step: Keras' own update runs
    assert type(clf.model_.optimizer) is MyRMSprop
    plain = NetClassifier(optimizer=keras.optimizers.RMSprop(learning_rate=0.01), epochs=3, random_state=0).fit(X, y)
    np.testing.assert_allclose(clf.predict_proba(X), plain.predict_proba(X), rtol=1e-4, atol=1e-6)
    assert clf.predict(X[:1]).shape == (1,)


def test_cloned_architectures_are_uncompiled_and_leave_the_model_compiled(iris):
    X, y = iris
    clf = NetClassifier(epochs=1, random_state=0).fit(X, y)
    copy = clone_architecture(clf.model_)
    assert not copy.compiled and clf.model_.compiled
    assert copy.get_config()["layers"] == clf.model_.get_config()["layers"]


def _zoo_data(kind):
    rng = np.random.RandomState(0)
    if kind == "sequence":
        X = rng.randn(120, 12, 3).astype("float32")
        return X, (X[:, :, 0].sum(1) > 0).astype(int)
    X = rng.randn(120, 10).astype("float32")
    return X, (X[:, 0] + X[:, 1] > 0).astype(int)


ZOO = {
    "batchnorm": ("table", lambda L: [L.Dense(16), L.BatchNormalization(), L.Activation("relu")]),
    "layernorm": ("table", lambda L: [L.Dense(16), L.LayerNormalization(), L.Activation("gelu")]),
    "noise": ("table", lambda L: [L.GaussianNoise(0.1), L.Dense(16, activation="relu")]),
    "regularized": ("table", lambda L: [L.Dense(16, activation="relu", kernel_regularizer="l2",
                                                kernel_constraint=keras.constraints.MaxNorm(1.0))]),
    "lstm": ("sequence", lambda L: [L.LSTM(8)]),
    "gru": ("sequence", lambda L: [L.GRU(8)]),
    "conv1d": ("sequence", lambda L: [L.Conv1D(8, 3, activation="relu"), L.GlobalAveragePooling1D()]),
}


@pytest.mark.parametrize("name", sorted(ZOO))
def test_layer_families_train_predict_like_keras_and_pickle(name):
    """State the engine must carry: BN statistics, RNG seeds, recurrent kernels, constraints."""
    import pickle

    kind, make = ZOO[name]
    X, y = _zoo_data(kind)
    clf = NetClassifier(make(keras.layers), epochs=20, optimizer__learning_rate=0.01, random_state=0).fit(X, y)
    proba = clf.predict_proba(X)
    assert clf.score(X, y) > 0.8
    np.testing.assert_allclose(proba[:, 1], clf.model_.predict(X, verbose=0)[:, 0], atol=1e-6)
    np.testing.assert_array_equal(pickle.loads(pickle.dumps(clf)).predict_proba(X), proba)
    if name == "regularized":
        norms = np.sqrt((clf.model_.layers[0].kernel.numpy() ** 2).sum(axis=0))
        assert norms.max() <= 1.0 + 1e-5  # the constraint ran after the (fused) update
    if name == "batchnorm":
        assert not np.allclose(clf.model_.layers[1].moving_mean.numpy(), 0)  # statistics were learnt


class _Watcher(keras.callbacks.Callback):
    """A callback with only epoch hooks: the fit then runs one traced call per epoch."""


@pytest.mark.parametrize("per_call", [None, 1, 3])
def test_epochs_in_one_call_match_one_call_per_epoch(digits, monkeypatch, per_call):
    """Fits nobody watches run several epochs per traced call, with bitwise the same results."""
    from sknet._engine import _epochs

    X, y = digits
    if per_call is not None:  # pin the number of epochs per call (1: each its own; 3: uneven last call)
        monkeypatch.setattr(_epochs.Epochs, "_per_call", lambda self, n: per_call)
    make = lambda **kw: NetClassifier([Dense(100, activation="relu"), Dropout(0.1)], batch_size=200,  # noqa: E731
                                      epochs=7, metrics=["accuracy"], random_state=3, **kw)
    watched = make(callbacks=[_Watcher()]).fit(X, y)
    unwatched = make().fit(X, y)
    np.testing.assert_array_equal(unwatched.predict_proba(X), watched.predict_proba(X))
    assert unwatched.history_ == watched.history_ and unwatched.n_iter_ == 7
    for a, b in zip(unwatched.model_.optimizer.variables, watched.model_.optimizer.variables, strict=True):
        np.testing.assert_array_equal(a.numpy(), b.numpy())


def test_epochs_in_one_call_stop_at_a_nan_loss_like_the_epoch_loop(iris):
    X, y = iris
    make = lambda **kw: NetClassifier(optimizer="sgd", optimizer__learning_rate=1e6, epochs=30,  # noqa: E731
                                      random_state=0, **kw)
    messages = []
    for kw in ({}, {"callbacks": [_Watcher()]}):
        clf = make(**kw)
        with pytest.raises(FloatingPointError) as info:
            clf.fit(X * 1e3, y)
        assert not hasattr(clf, "model_")  # the failed fit changed nothing
        messages.append(str(info.value))
    assert messages[0] == messages[1]


def test_interrupt_between_calls_keeps_the_epochs_completed(iris, monkeypatch):
    """A KeyboardInterrupt between two calls commits the epochs of the completed calls."""
    from sknet._engine import _epochs
    from sknet.exceptions import TrainingInterruptedWarning

    X, y = iris
    monkeypatch.setattr(_epochs.Epochs, "_per_call", lambda self, n: 1)
    permutation = _epochs.epoch_permutation

    def interrupt_at_third_epoch(seed, epoch, n):
        if epoch == 2:
            raise KeyboardInterrupt
        return permutation(seed, epoch, n)

    monkeypatch.setattr(_epochs, "epoch_permutation", interrupt_at_third_epoch)
    with pytest.warns(TrainingInterruptedWarning, match="interrupted"):
        interrupted = NetClassifier(epochs=10, random_state=0).fit(X, y)
    monkeypatch.setattr(_epochs, "epoch_permutation", permutation)
    assert interrupted.n_iter_ == 2
    two = NetClassifier(epochs=2, random_state=0).fit(X, y)
    np.testing.assert_array_equal(interrupted.predict_proba(X), two.predict_proba(X))
    assert interrupted.history_ == two.history_


def test_batch_assign_copies_exactly_and_checks_shapes():
    from sknet._engine._state import BatchAssign

    rng = np.random.RandomState(0)
    targets = [keras.Variable(np.zeros((3, 4), "float32")), keras.Variable(np.zeros(4, "float64")),
               keras.Variable(np.zeros((), "int64"))]
    assign = BatchAssign()
    for call in range(BatchAssign.EAGER_CALLS + 2):  # eager calls first, then the traced function
        sources = [keras.Variable(rng.randn(3, 4).astype("float32")), tf.constant(rng.randn(4)),
                   keras.Variable(np.array(call, "int64"))]
        assign(targets, sources)
        for target, source in zip(targets, sources, strict=True):
            np.testing.assert_array_equal(target.numpy(), np.asarray(source))
    assert not any(isinstance(f, int) for f in assign._functions.values())
    with pytest.raises(ValueError, match="shapes"):
        assign(targets[:1], [tf.zeros((4, 3))])
    with pytest.raises(ValueError, match="number"):
        assign(targets, sources[:2])
