"""Trace-cache keys (sknet._engine._cache): two different architectures never share a trace."""

import keras
import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from keras.layers import Dense, Dropout

from sknet import NetClassifier, _engine
from sknet._engine._cache import canonical_model_config

ACTIVATIONS = ["relu", "tanh", "linear", "sigmoid"]
# Layer names that collide with config values (activation names, class names): the old key's trap.
NAMES = ACTIVATIONS + ["dense", "dropout", "sknet_input", "float32", "units"]

layer_strategy = st.one_of(
    st.tuples(st.just("dense"), st.sampled_from([2, 3, 4]), st.sampled_from(ACTIVATIONS)),
    st.tuples(st.just("dropout"), st.sampled_from([0.0, 0.5]), st.none()),
)
spec_strategy = st.lists(layer_strategy, min_size=1, max_size=3)


def _model(spec, names):
    layers = [
        Dense(a, activation=b, name=name) if kind == "dense" else Dropout(a, name=name)
        for (kind, a, b), name in zip(spec, names, strict=False)
    ]
    return keras.Sequential([keras.Input((3,))] + layers)


@settings(max_examples=60, derandomize=True, deadline=None)
@given(spec_strategy, spec_strategy, st.permutations(NAMES), st.permutations(NAMES))
def test_keys_are_equal_exactly_when_architectures_are(spec_a, spec_b, names_a, names_b):
    key_a = canonical_model_config(_model(spec_a, names_a))
    key_b = canonical_model_config(_model(spec_b, names_b))
    assert (key_a == key_b) == (spec_a == spec_b)


def test_a_layer_named_like_an_activation_does_not_share_a_trace(iris):
    X, y = iris
    _engine.clear_caches()
    relu = NetClassifier([Dense(32, activation="relu", name="relu")], epochs=3, random_state=0).fit(X, y)
    tanh = NetClassifier([Dense(32, activation="tanh", name="tanh")], epochs=3, random_state=0).fit(X, y)
    assert len(_engine._TRAINERS) == 2
    assert tanh.model_.layers[0].activation.__name__ == "tanh"
    expected = tanh.model_.predict(X, verbose=0)
    np.testing.assert_allclose(tanh.predict_proba(X), expected, atol=1e-6)
    assert not np.allclose(relu.predict_proba(X), tanh.predict_proba(X), atol=1e-3)


# --------------------------------------------------------------------------- what the code behind a config is
# Issue 28: a config names classes and functions; two objects of one name can compute differently.

from sknet import NetRegressor  # noqa: E402


def _pinball(q):
    def loss(y_true, y_pred):
        error = y_true - y_pred
        return keras.ops.mean(keras.ops.maximum(q * error, (q - 1) * error), axis=-1)

    return loss


def _quantile_data():
    rng = np.random.RandomState(0)
    X = rng.randn(300, 3).astype("float32")
    return X, X[:, 0] + rng.randn(300).astype("float32")


def test_closures_of_one_factory_train_on_their_own_values():
    """Quantile regressors fitted one after another each reach their own quantile (all reached 0.1 before)."""
    X, y = _quantile_data()
    _engine.clear_caches()
    below = {}
    for q in (0.1, 0.9):
        reg = NetRegressor(loss=_pinball(q), epochs=30, random_state=0, scale_target=False).fit(X, y)
        below[q] = float((y < reg.predict(X)).mean())
    assert below[0.1] < 0.25 and below[0.9] > 0.75, below
    assert len(_engine._TRAINERS) == 2


def test_equal_closures_share_a_trace_and_unknown_objects_never_do():
    from sknet._engine._keys import value_token

    assert value_token(_pinball(0.5)) == value_token(_pinball(0.5))
    assert value_token(_pinball(0.5)) != value_token(_pinball(0.9))
    opaque = object()
    assert value_token(opaque) != value_token(opaque)  # sameness cannot be known: never reuse
    X, y = _quantile_data()
    _engine.clear_caches()
    for _ in range(2):
        NetRegressor(loss=_pinball(0.5), epochs=1, random_state=0, scale_target=False).fit(X, y)
    assert len(_engine._TRAINERS) == 1


_ZERO = '''
class Scale(keras.layers.Layer):
    def call(self, x):
        return x * 0.0
'''
_IDENTITY = _ZERO.replace("x * 0.0", "x")


def test_a_layer_class_redefined_under_its_name_trains_and_predicts_the_new_code():
    """A notebook cell run again: the new fit and its predict run the new class, not the cached old one."""
    rng = np.random.RandomState(0)
    X = rng.randn(200, 3).astype("float32")
    y = X @ np.array([1.0, 2.0, -1.0], "float32")
    scores = []
    for source in (_ZERO, _IDENTITY):
        namespace = {"keras": keras, "__name__": "__main__"}  # a notebook cell
        exec(source, namespace)
        Scale = namespace["Scale"]
        reg = NetRegressor([Scale(), Dense(16, activation="relu")], epochs=30, random_state=0,
                           scale_target=False).fit(X, y)
        np.testing.assert_allclose(reg.predict(X), np.asarray(reg.model_(X)).ravel(), rtol=1e-5, atol=1e-5)
        scores.append(reg.score(X, y))
    assert scores[0] < 0.05 and scores[1] > 0.5, scores


def test_a_loss_function_redefined_under_its_name_trains_the_new_code():
    rng = np.random.RandomState(0)
    X = rng.randn(200, 3).astype("float32")
    y = X @ np.array([1.0, 2.0, -1.0], "float32")
    scores = []
    for factor in ("0.0", "1.0"):
        namespace = {"keras": keras, "__name__": "__main__"}
        exec(f"def my_loss(t, p):\n    return keras.ops.mean(keras.ops.square(t - p) * {factor}, axis=-1)", namespace)
        reg = NetRegressor(loss=namespace["my_loss"], epochs=20, random_state=0, scale_target=False).fit(X, y)
        scores.append(reg.score(X, y))
    assert scores[0] < 0.2 and scores[1] > 0.5, scores


def test_a_function_reading_a_changed_global_does_not_reuse_the_old_trace():
    from sknet._engine._keys import value_token

    namespace = {"keras": keras, "FACTOR": 0.0, "__name__": "__main__"}
    exec("def my_loss(t, p):\n    return keras.ops.mean(keras.ops.square(t - p) * FACTOR, axis=-1)", namespace)
    before = value_token(namespace["my_loss"])
    namespace["FACTOR"] = 1.0
    assert value_token(namespace["my_loss"]) != before


class _Quantile(keras.losses.Loss):
    """A loss whose state (``q``) is not in its config: Keras' compile uses the instance as it is."""

    def __init__(self, q, **kwargs):
        super().__init__(**kwargs)
        self.q = q

    def call(self, y_true, y_pred):
        error = y_true - y_pred
        return keras.ops.mean(keras.ops.maximum(self.q * error, (self.q - 1) * error), axis=-1)

    def get_config(self):  # forgets q, as hand-written configs do
        return {"name": self.name, "reduction": self.reduction}

    @classmethod
    def from_config(cls, config):
        return cls(q=0.5, **config)


def test_a_loss_instance_trains_with_its_state_outside_its_config():
    X, y = _quantile_data()
    _engine.clear_caches()
    below = {}
    for q in (0.1, 0.9):
        reg = NetRegressor(loss=_Quantile(q), epochs=30, random_state=0, scale_target=False).fit(X, y)
        below[q] = float((y < reg.predict(X)).mean())
    assert below[0.1] < 0.25 and below[0.9] > 0.75, below


def test_cross_validation_folds_and_learning_rates_still_share_one_trace(iris):
    """The stricter keys keep the speed-up: clones of one estimator (fresh layer copies, another
    learning rate) compute the same function and reuse one trainer and one predictor."""
    from sklearn.model_selection import GridSearchCV

    X, y = iris
    _engine.clear_caches()
    net = NetClassifier([Dense(8, activation=_scaled_relu_for_cache(1.0))], epochs=1, random_state=0,
                        metrics=["accuracy"])
    GridSearchCV(net, {"optimizer__learning_rate": [1e-3, 1e-2]}, cv=3).fit(X, y)
    assert len(_engine._TRAINERS) == 1 and len(_engine._PREDICTORS) == 1


def _scaled_relu_for_cache(scale):
    def activation(x):
        return keras.ops.relu(x) * scale

    return activation
