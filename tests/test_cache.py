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
