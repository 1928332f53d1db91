"""Side by side with Keras' own ``model.fit``: every optimizer option, schedule and callback sknet accepts.

Each test fits an sknet estimator and a plain Keras model from the same
initial weights on the same batches in the same order (sknet's shuffle is
replaced by the identity for the test, Keras fits with ``shuffle=False``), and
compares the final weights and the history. Tolerance: ``rtol=1e-5,
atol=1e-6`` on float32 weights after a few epochs (the two engines sum a
batch's gradients in different orders and sknet runs some updates as fused
kernels; both differ from Keras' own path by a few ulps per step). The
fused Adam kernel computes ``1 - beta`` in float32 where Keras rounds the
float64 difference, a relative 2e-7 per step that large steps (rates of 0.1
from a schedule) grow to some 4e-6 in 12 steps: Adam's schedule runs are
compared to ``rtol=1e-4, atol=1e-5``.
"""

import csv

import keras
import numpy as np
import pytest
from keras.layers import Dense

from sknet import NetClassifier
from sknet._engine import _epochs, _trainer

RTOL, ATOL = 1e-5, 1e-6
EPOCHS, BATCH = 3, 16

S = keras.optimizers.schedules


@pytest.fixture
def no_shuffle(monkeypatch):
    """sknet's epochs in row order, as Keras' ``shuffle=False`` (the test's own patch, undone after it)."""
    def in_order(seed, epoch, n):
        return np.arange(n, dtype="int32")

    monkeypatch.setattr(_trainer, "epoch_permutation", in_order)
    monkeypatch.setattr(_epochs, "epoch_permutation", in_order)


def _data():
    rng = np.random.RandomState(0)
    X = rng.randn(60, 4).astype("float32")
    y = (X[:, 0] + 0.5 * X[:, 1] > 0).astype(int) + (X[:, 2] > 1).astype(int)
    return X, y


def _estimator(optimizer, **kwargs):
    params = dict(optimizer=optimizer, epochs=EPOCHS, batch_size=BATCH, random_state=0)
    return NetClassifier([Dense(6, activation="tanh")], **{**params, **kwargs})


def _initial_model(X, y):
    """The network sknet starts from (random_state=0): one epoch at a zero learning rate leaves it as built."""
    still = _estimator(keras.optimizers.SGD(learning_rate=0.0), epochs=1).fit(X, y)
    return still.model_


def _keras_fit(initial, optimizer, X, y, **fit_kwargs):
    twin = keras.models.clone_model(initial)
    twin.set_weights(initial.get_weights())
    twin.compile(optimizer=optimizer, loss="categorical_crossentropy")
    history = twin.fit(X, keras.utils.to_categorical(y, 3), batch_size=BATCH, epochs=EPOCHS, shuffle=False,
                       verbose=0, **fit_kwargs)
    return twin, history.history


def _compare(ours, twin, keras_history, keys=("loss",), rtol=RTOL, atol=ATOL):
    for mine, theirs in zip(ours.model_.get_weights(), twin.get_weights(), strict=True):
        np.testing.assert_allclose(mine, theirs, rtol=rtol, atol=atol)
    for key in keys:
        np.testing.assert_allclose(ours.history_[key], keras_history[key], rtol=rtol, atol=atol)


# --------------------------------------------------------------------------- optimizers and their options

OPTIMIZERS = {
    # the fused kernels (sknet._engine._fused)
    "sgd": lambda: keras.optimizers.SGD(learning_rate=0.1),
    "sgd-nesterov": lambda: keras.optimizers.SGD(learning_rate=0.1, momentum=0.9, nesterov=True),
    "rmsprop": lambda: keras.optimizers.RMSprop(learning_rate=0.01),
    "rmsprop-centered": lambda: keras.optimizers.RMSprop(learning_rate=0.01, momentum=0.5, centered=True),
    "adam": lambda: keras.optimizers.Adam(learning_rate=0.01),
    "adam-amsgrad": lambda: keras.optimizers.Adam(learning_rate=0.01, amsgrad=True),
    "adadelta": lambda: keras.optimizers.Adadelta(learning_rate=1.0),
    # Keras' own update
    "adagrad": lambda: keras.optimizers.Adagrad(learning_rate=0.1),
    "adamax": lambda: keras.optimizers.Adamax(learning_rate=0.01),
    "nadam": lambda: keras.optimizers.Nadam(learning_rate=0.01),
    "adamw": lambda: keras.optimizers.AdamW(learning_rate=0.01, weight_decay=0.1),
    "ftrl": lambda: keras.optimizers.Ftrl(learning_rate=0.1),
    "lion": lambda: keras.optimizers.Lion(learning_rate=0.001),
    "lamb": lambda: keras.optimizers.Lamb(learning_rate=0.01),
    "adafactor": lambda: keras.optimizers.Adafactor(learning_rate=0.01),
    # the base class's options, on fused and unfused optimizers
    "clipnorm": lambda: keras.optimizers.Adam(learning_rate=0.01, clipnorm=0.05),
    "clipvalue": lambda: keras.optimizers.SGD(learning_rate=0.1, clipvalue=0.01),
    "global_clipnorm": lambda: keras.optimizers.RMSprop(learning_rate=0.01, global_clipnorm=0.05),
    "weight_decay": lambda: keras.optimizers.SGD(learning_rate=0.1, weight_decay=0.05),
    "use_ema": lambda: keras.optimizers.Adam(learning_rate=0.05, use_ema=True, ema_momentum=0.5),
    "ema_overwrite_frequency": lambda: keras.optimizers.SGD(learning_rate=0.1, use_ema=True, ema_momentum=0.5,
                                                            ema_overwrite_frequency=3),
    "loss_scale_factor": lambda: keras.optimizers.Adam(learning_rate=0.01, loss_scale_factor=128.0),
    "gradient_accumulation_steps": lambda: keras.optimizers.Adam(learning_rate=0.01, gradient_accumulation_steps=3),
    "clipnorm-adagrad": lambda: keras.optimizers.Adagrad(learning_rate=0.1, clipnorm=0.05),
    "LossScaleOptimizer": lambda: keras.optimizers.LossScaleOptimizer(keras.optimizers.SGD(learning_rate=0.1),
                                                                      initial_scale=64.0),
}


@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_optimizer_and_options_train_as_keras_fit(no_shuffle, name):
    X, y = _data()
    initial = _initial_model(X, y)
    ours = _estimator(OPTIMIZERS[name]()).fit(X, y)
    twin, history = _keras_fit(initial, OPTIMIZERS[name](), X, y)
    _compare(ours, twin, history)


# --------------------------------------------------------------------------- schedules

SCHEDULES = {
    "ExponentialDecay": lambda: S.ExponentialDecay(0.05, decay_steps=2, decay_rate=0.5),
    "ExponentialDecay-staircase": lambda: S.ExponentialDecay(0.05, decay_steps=3, decay_rate=0.5, staircase=True),
    "PiecewiseConstantDecay": lambda: S.PiecewiseConstantDecay([3, 7], [0.1, 0.01, 0.001]),
    "PolynomialDecay": lambda: S.PolynomialDecay(0.1, decay_steps=8, end_learning_rate=0.01, power=2.0),
    "PolynomialDecay-cycle": lambda: S.PolynomialDecay(0.1, decay_steps=4, end_learning_rate=0.01, cycle=True),
    "InverseTimeDecay": lambda: S.InverseTimeDecay(0.1, decay_steps=2, decay_rate=0.5),
    "CosineDecay": lambda: S.CosineDecay(0.1, decay_steps=10, alpha=0.1),
    "CosineDecay-warmup": lambda: S.CosineDecay(0.0, decay_steps=8, warmup_target=0.1, warmup_steps=3),
    "CosineDecayRestarts": lambda: S.CosineDecayRestarts(0.1, first_decay_steps=3, t_mul=2.0, m_mul=0.5),
}


@pytest.mark.parametrize("name", sorted(SCHEDULES))
@pytest.mark.parametrize("optimizer", [keras.optimizers.SGD, keras.optimizers.Adam])
def test_schedules_train_as_keras_fit(no_shuffle, name, optimizer):
    X, y = _data()
    initial = _initial_model(X, y)
    ours = _estimator(optimizer(learning_rate=SCHEDULES[name]())).fit(X, y)
    twin, history = _keras_fit(initial, optimizer(learning_rate=SCHEDULES[name]()), X, y)
    tolerance = dict(rtol=1e-4, atol=1e-5) if optimizer is keras.optimizers.Adam else {}
    _compare(ours, twin, history, **tolerance)
    assert int(ours.model_.optimizer.iterations) == int(twin.optimizer.iterations)


class _HalfEveryStep(S.LearningRateSchedule):
    """A user's own, unregistered schedule class (Keras' fit takes it)."""

    def __init__(self, rate):
        self.rate = rate

    def __call__(self, step):
        return self.rate * keras.ops.power(0.5, keras.ops.cast(step, "float32"))

    def get_config(self):
        return {"rate": self.rate}


def test_a_users_unregistered_schedule_trains_as_keras_fit(no_shuffle):
    X, y = _data()
    initial = _initial_model(X, y)
    ours = _estimator(keras.optimizers.SGD(learning_rate=_HalfEveryStep(0.2))).fit(X, y)
    twin, history = _keras_fit(initial, keras.optimizers.SGD(learning_rate=_HalfEveryStep(0.2)), X, y)
    _compare(ours, twin, history)


# --------------------------------------------------------------------------- callbacks


def _validation():
    rng = np.random.RandomState(1)
    X = rng.randn(30, 4).astype("float32")
    return X, (X[:, 0] + 0.5 * X[:, 1] > 0).astype(int) + (X[:, 2] > 1).astype(int)


def _side_by_side(make_callbacks, optimizer=lambda: keras.optimizers.SGD(learning_rate=0.5), epochs=EPOCHS,
                  metrics=None):
    X, y = _data()
    Xv, yv = _validation()
    initial = _initial_model(X, y)
    ours = _estimator(optimizer(), callbacks=make_callbacks("sknet"), epochs=epochs, metrics=metrics).fit(
        X, y, validation_data=(Xv, yv))
    twin = keras.models.clone_model(initial)
    twin.set_weights(initial.get_weights())
    twin.compile(optimizer=optimizer(), loss="categorical_crossentropy", metrics=metrics)
    history = twin.fit(X, keras.utils.to_categorical(y, 3), batch_size=BATCH, epochs=epochs, shuffle=False,
                       verbose=0, callbacks=make_callbacks("keras"),
                       validation_data=(Xv, keras.utils.to_categorical(yv, 3))).history
    return ours, twin, history


EARLY_STOPPING = {
    "patience": dict(monitor="val_loss", patience=1, min_delta=0.05),
    "baseline": dict(monitor="val_loss", patience=2, baseline=0.01),
    "start_from_epoch": dict(monitor="loss", patience=0, min_delta=1.0, start_from_epoch=3),
    "restore_best_weights": dict(monitor="val_loss", patience=2, restore_best_weights=True),
    "max": dict(monitor="val_accuracy", patience=1, min_delta=0.2),
}


@pytest.mark.parametrize("name", sorted(EARLY_STOPPING))
def test_early_stopping_stops_and_restores_as_keras_fit(no_shuffle, name):
    options = EARLY_STOPPING[name]
    ours, twin, history = _side_by_side(lambda _: [keras.callbacks.EarlyStopping(**options)], epochs=8,
                                        optimizer=lambda: keras.optimizers.SGD(learning_rate=2.0),
                                        metrics=["accuracy"])
    assert len(ours.history_["loss"]) == len(history["loss"])
    _compare(ours, twin, history, keys=("loss", "val_loss", "accuracy", "val_accuracy"))


def test_reduce_lr_on_plateau_and_learning_rate_scheduler_as_keras_fit(no_shuffle):
    def callbacks(_):
        return [keras.callbacks.LearningRateScheduler(lambda epoch, lr: lr * 0.5 if epoch == 1 else lr),
                keras.callbacks.ReduceLROnPlateau(monitor="val_loss", factor=0.1, patience=0, min_delta=0.02)]

    ours, twin, history = _side_by_side(callbacks, epochs=5)
    _compare(ours, twin, history, keys=("loss", "val_loss", "learning_rate"))
    assert float(ours.model_.optimizer.learning_rate) == pytest.approx(float(twin.optimizer.learning_rate))


def test_logging_callbacks_see_what_keras_fit_shows_them(no_shuffle, tmp_path):
    seen = {"sknet": [], "keras": []}

    def callbacks(side):
        return [keras.callbacks.CSVLogger(str(tmp_path / f"{side}.csv")),
                keras.callbacks.LambdaCallback(on_epoch_end=lambda epoch, logs: seen[side].append(dict(logs))),
                keras.callbacks.TerminateOnNaN()]

    ours, twin, history = _side_by_side(callbacks, metrics=["accuracy"])
    _compare(ours, twin, history, keys=("loss", "val_loss", "accuracy", "val_accuracy"))
    assert [sorted(logs) for logs in seen["sknet"]] == [sorted(logs) for logs in seen["keras"]]
    for mine, theirs in zip(seen["sknet"], seen["keras"], strict=True):
        np.testing.assert_allclose([mine[k] for k in sorted(mine)], [theirs[k] for k in sorted(theirs)],
                                   rtol=RTOL, atol=ATOL)
    rows = {side: list(csv.DictReader(open(tmp_path / f"{side}.csv"))) for side in seen}
    assert [sorted(row) for row in rows["sknet"]] == [sorted(row) for row in rows["keras"]]
    for mine, theirs in zip(rows["sknet"], rows["keras"], strict=True):
        np.testing.assert_allclose([float(mine[k]) for k in sorted(mine)], [float(theirs[k]) for k in sorted(theirs)],
                                   rtol=RTOL, atol=ATOL)


def test_model_checkpoint_saves_the_best_weights_as_keras_fit(no_shuffle, tmp_path):
    def callbacks(side):
        return [keras.callbacks.ModelCheckpoint(str(tmp_path / f"{side}.weights.h5"), monitor="val_accuracy",
                                                save_best_only=True, save_weights_only=True)]

    ours, twin, history = _side_by_side(callbacks, metrics=["accuracy"], epochs=4)
    _compare(ours, twin, history, keys=("loss", "val_accuracy"))
    mine, theirs = keras.models.clone_model(twin), keras.models.clone_model(twin)
    mine.load_weights(str(tmp_path / "sknet.weights.h5"))
    theirs.load_weights(str(tmp_path / "keras.weights.h5"))
    for a, b in zip(mine.get_weights(), theirs.get_weights(), strict=True):
        np.testing.assert_allclose(a, b, rtol=RTOL, atol=ATOL)


@pytest.mark.parametrize("swap_on_epoch", [False, True])
def test_swap_ema_weights_validates_on_the_moving_averages_as_keras_fit(no_shuffle, swap_on_epoch):
    ours, twin, history = _side_by_side(
        lambda _: [keras.callbacks.SwapEMAWeights(swap_on_epoch=swap_on_epoch)],
        optimizer=lambda: keras.optimizers.SGD(learning_rate=0.5, use_ema=True, ema_momentum=0.5))
    _compare(ours, twin, history, keys=("loss", "val_loss"))


def test_a_history_callback_is_refused_not_left_empty():
    X, y = _data()
    with pytest.raises(ValueError, match="history_"):
        _estimator("sgd", callbacks=[keras.callbacks.History()]).fit(X, y)
