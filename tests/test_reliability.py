"""Faults during training, and property-based checks of the scikit-learn invariants."""

import keras
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from keras.layers import Dense

from sknet import NetClassifier


class InterruptAt(keras.callbacks.Callback):
    def __init__(self, epoch, exc):
        super().__init__()
        self.epoch, self.exc = epoch, exc

    def on_epoch_end(self, epoch, logs=None):
        if epoch == self.epoch:
            raise self.exc


def test_keyboard_interrupt_keeps_weights_and_history(iris):
    X, y = iris
    clf = NetClassifier(epochs=50, callbacks=[InterruptAt(3, KeyboardInterrupt())], random_state=0)
    with pytest.warns(UserWarning, match="interrupted"):
        clf.fit(X, y)
    assert clf.n_iter_ == 3 and clf.history_.n_epochs == 3
    assert clf.predict(X).shape == (len(X),)


def test_callback_exception_propagates_and_leaves_unfitted(iris):
    X, y = iris
    clf = NetClassifier(epochs=5, callbacks=[InterruptAt(1, ValueError("callback says no"))], random_state=0)
    with pytest.raises(ValueError, match="callback says no"):
        clf.fit(X, y)
    assert not hasattr(clf, "model_")


def test_callback_exception_in_warm_start_keeps_previous_state(iris):
    X, y = iris
    clf = NetClassifier(epochs=2, warm_start=True, random_state=0).fit(X, y)
    before, history = clf.predict_proba(X), dict(clf.history_)
    clf.set_params(callbacks=[InterruptAt(0, RuntimeError("boom"))])
    with pytest.raises(RuntimeError, match="boom"):
        clf.fit(X, y)
    np.testing.assert_array_equal(clf.predict_proba(X), before)
    assert dict(clf.history_) == history


def test_failed_fit_does_not_poison_later_fits(iris):
    X, y = iris
    reference = NetClassifier(epochs=3, random_state=0).fit(X, y).predict_proba(X)
    with pytest.raises(ValueError, match="fails on purpose in epoch 2"):  # raised in training, not validation
        NetClassifier(epochs=3, callbacks=[InterruptAt(1, ValueError("fails on purpose in epoch 2"))],
                      random_state=0).fit(X, y)
    np.testing.assert_array_equal(NetClassifier(epochs=3, random_state=0).fit(X, y).predict_proba(X), reference)


LABELS = {
    "int": lambda k: np.arange(k) * 3 - 2,
    "str": lambda k: np.array([f"class-{i}" for i in range(k)]),
    "bool": lambda k: np.array([False, True][:k]),
}


@settings(max_examples=25, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(
    n_samples=st.integers(1, 30),
    n_features=st.integers(1, 4),
    dtype=st.sampled_from(["float32", "float64", "int64", "int32"]),
    label_kind=st.sampled_from(sorted(LABELS)),
    n_classes=st.integers(1, 4),
    seed=st.integers(0, 2**16),
)
def test_fit_predict_invariants(n_samples, n_features, dtype, label_kind, n_classes, seed):
    rng = np.random.RandomState(seed)
    X = (rng.randn(n_samples, n_features) * 3).astype(dtype)
    labels = LABELS[label_kind](n_classes)
    y = labels[rng.randint(0, len(labels), n_samples)]
    clf = NetClassifier([Dense(4, activation="relu")], epochs=1, batch_size=8, random_state=0)
    try:
        clf.fit(X, y)
    except ValueError as exc:  # the only acceptable failure: a clear ValueError
        assert "one class" in str(exc)
        assert len(np.unique(y)) < 2
        return
    pred = clf.predict(X)
    proba = clf.predict_proba(X)
    assert pred.shape == (n_samples,)
    assert set(pred) <= set(clf.classes_)
    np.testing.assert_array_equal(clf.classes_, np.unique(y))
    assert proba.shape == (n_samples, len(clf.classes_))
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-6)
    assert ((proba >= 0) & (proba <= 1)).all()
    np.testing.assert_array_equal(clf.classes_[proba.argmax(axis=1)], pred)
