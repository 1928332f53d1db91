"""The epoch loop (sknet._engine._loop): callbacks see on_train_end on every way out."""

import keras
import pytest

from sknet import NetClassifier

EVENTS = []  # callbacks are copied per fit: they report here


class _Recorder(keras.callbacks.Callback):
    def __init__(self, raise_at=None):
        super().__init__()
        self.raise_at = raise_at

    def on_train_begin(self, logs=None):
        EVENTS.append("begin")

    def on_epoch_end(self, epoch, logs=None):
        EVENTS.append(f"epoch{epoch}")
        if epoch == self.raise_at:
            raise RuntimeError("stop here")

    def on_train_end(self, logs=None):
        EVENTS.append("end")


@pytest.fixture(autouse=True)
def _clear():
    EVENTS.clear()


def test_on_train_end_runs_when_the_loss_becomes_nan(iris):
    X, y = iris
    with pytest.raises(FloatingPointError):
        NetClassifier(epochs=3, callbacks=[_Recorder()], random_state=0).fit(X * 1e30, y)
    assert EVENTS == ["begin", "end"]


def test_on_train_end_runs_when_a_callback_raises(iris):
    X, y = iris
    with pytest.raises(RuntimeError, match="stop here"):
        NetClassifier(epochs=3, callbacks=[_Recorder(raise_at=0)], random_state=0).fit(X, y)
    assert EVENTS == ["begin", "epoch0", "end"]
