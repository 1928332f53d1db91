"""Input data (sknet._data): validation rows are weighted like training rows."""

import numpy as np
import pytest
from keras.layers import Dense

from sknet import NetClassifier, NetRegressor


def _zero_rate(**kw):
    """A network that does not move: losses then depend only on the data and the weights."""
    return NetClassifier([Dense(8, activation="relu")], epochs=1, optimizer__learning_rate=0.0,
                         random_state=0, **kw)


def test_validation_split_rows_carry_their_sample_weight(iris):
    X, y = iris
    plain = _zero_rate(validation_split=0.3).fit(X, y)
    doubled = _zero_rate(validation_split=0.3).fit(X, y, sample_weight=np.full(len(y), 2.0))
    assert doubled.history_["loss"][0] == pytest.approx(2 * plain.history_["loss"][0], rel=1e-5)
    assert doubled.history_["val_loss"][0] == pytest.approx(2 * plain.history_["val_loss"][0], rel=1e-5)


def test_validation_split_rows_carry_their_class_weight(iris):
    X, y = iris
    plain = _zero_rate(validation_split=0.3).fit(X, y)
    weighted = _zero_rate(validation_split=0.3, class_weight={0: 3.0, 1: 3.0, 2: 3.0}).fit(X, y)
    assert weighted.history_["val_loss"][0] == pytest.approx(3 * plain.history_["val_loss"][0], rel=1e-5)


def test_validation_data_takes_a_third_element_of_weights(regression_data):
    X, Y = regression_data
    reg = NetRegressor([Dense(8)], epochs=1, optimizer__learning_rate=0.0, scale_target=False, random_state=0)
    w_val = np.linspace(0.5, 2.0, 100)
    reg.fit(X[:100], Y[:100], validation_data=(X[100:], Y[100:], w_val))
    errors = ((reg.predict(X[100:]) - Y[100:]) ** 2).mean(axis=1)
    assert reg.history_["val_loss"][0] == pytest.approx(float(np.mean(w_val * errors)), rel=1e-4)
    unweighted = NetRegressor([Dense(8)], epochs=1, optimizer__learning_rate=0.0, scale_target=False,
                              random_state=0)
    unweighted.fit(X[:100], Y[:100], validation_data=(X[100:], Y[100:]))
    assert unweighted.history_["val_loss"][0] == pytest.approx(float(np.mean(errors)), rel=1e-4)


@pytest.mark.parametrize(
    "validation_data, match",
    [((1,), "validation_data must be a tuple"), ("xy", "validation_data must be a tuple")],
)
def test_malformed_validation_data(iris, validation_data, match):
    X, y = iris
    with pytest.raises(ValueError, match=match):
        NetClassifier(epochs=1).fit(X, y, validation_data=validation_data)


def test_negative_validation_weights_are_rejected(iris):
    X, y = iris
    with pytest.raises(ValueError, match="Negative values"):
        NetClassifier(epochs=1).fit(X, y, validation_data=(X, y, -np.ones(len(y))))


def test_a_split_that_cannot_be_stratified_says_so(iris):
    X, y = iris
    y = y.copy()
    y[0] = 3  # a class with a single row cannot be stratified
    with pytest.warns(UserWarning, match="validation_split is not stratified"):
        NetClassifier(epochs=1, validation_split=0.2, random_state=0).fit(X, y)
