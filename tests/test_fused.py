"""Fused optimizer kernels: the same updates as Keras, and Keras' path wherever they differ."""

import keras
import numpy as np
import pytest
import tensorflow as tf
from keras.layers import Dense, Dropout

from sknet import NetClassifier

try:  # the engine package (sknet/_engine/)
    from sknet._engine import _cache
    from sknet._engine._fused import fused_update
except ImportError:  # the engine module (sknet/_engine.py)
    from sknet._fused import fused_update

    from sknet import _engine as _cache

TRAINERS = getattr(_cache, "TRAINERS", None)  # the trainer cache
if TRAINERS is None:
    TRAINERS = _cache._TRAINERS

FUSED = {
    "sgd": lambda: keras.optimizers.SGD(learning_rate=0.05),
    "sgd-momentum": lambda: keras.optimizers.SGD(learning_rate=0.05, momentum=0.9),
    "sgd-nesterov": lambda: keras.optimizers.SGD(learning_rate=0.05, momentum=0.9, nesterov=True),
    "rmsprop": lambda: keras.optimizers.RMSprop(),
    "rmsprop-momentum": lambda: keras.optimizers.RMSprop(momentum=0.5),
    "rmsprop-centered": lambda: keras.optimizers.RMSprop(centered=True, momentum=0.3),
    "adam": lambda: keras.optimizers.Adam(learning_rate=0.01),
    "adam-amsgrad": lambda: keras.optimizers.Adam(learning_rate=0.01, amsgrad=True),
    "adam-schedule": lambda: keras.optimizers.Adam(
        learning_rate=keras.optimizers.schedules.ExponentialDecay(0.01, decay_steps=1, decay_rate=0.5)
    ),
    "adadelta": lambda: keras.optimizers.Adadelta(learning_rate=1.0),  # the seed convnet's
}

NOT_FUSED = {
    "clipnorm": lambda: keras.optimizers.Adam(clipnorm=1.0),
    "clipvalue": lambda: keras.optimizers.SGD(clipvalue=0.1),
    "global_clipnorm": lambda: keras.optimizers.RMSprop(global_clipnorm=1.0),
    "weight_decay": lambda: keras.optimizers.SGD(weight_decay=0.01),
    "adamw": lambda: keras.optimizers.AdamW(),
    "adagrad": lambda: keras.optimizers.Adagrad(),
    "ema": lambda: keras.optimizers.Adam(use_ema=True),
    "accumulation": lambda: keras.optimizers.Adam(gradient_accumulation_steps=2),
    "loss-scale": lambda: keras.optimizers.Adam(loss_scale_factor=8.0),
    "subclass": lambda: type("MyAdam", (keras.optimizers.Adam,), {})(),
}


def _variables(seed, constraint=None):
    rng = np.random.RandomState(seed)
    kernel = keras.Variable(rng.randn(5, 3).astype("float32"), name="kernel")
    kernel.constraint = constraint  # as a layer's add_weight(constraint=...) sets it
    return [kernel, keras.Variable(rng.randn(3).astype("float32"), name="bias")]


def _gradients(step):
    rng = np.random.RandomState(100 + step)
    return [tf.constant(rng.randn(5, 3).astype("float32")), tf.constant(rng.randn(3).astype("float32"))]


def _run(make_optimizer, fused, steps=4, constraint=None):
    variables = _variables(0, constraint)
    optimizer = make_optimizer()
    optimizer.build(variables)
    apply = fused_update(optimizer, variables) if fused else optimizer.apply
    assert apply is not None
    step = tf.function(lambda grads: apply(grads, variables), autograph=False)
    for i in range(steps):
        step(_gradients(i))
    return variables, optimizer


@pytest.mark.parametrize("name", sorted(FUSED))
def test_fused_update_matches_keras(name):
    keras_vars, keras_opt = _run(FUSED[name], fused=False)
    fused_vars, fused_opt = _run(FUSED[name], fused=True)
    for ours, theirs in zip(fused_vars, keras_vars, strict=True):
        np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-5, atol=1e-6)
    assert int(fused_opt.iterations.numpy()) == int(keras_opt.iterations.numpy()) == 4
    # The optimizer's own slots hold the state: warm starts and pickles see Keras' state.
    for ours, theirs in zip(fused_opt.variables, keras_opt.variables, strict=True):
        np.testing.assert_allclose(np.asarray(ours), np.asarray(theirs), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name", sorted(NOT_FUSED))
def test_features_the_kernels_lack_use_keras_update(name):
    optimizer = NOT_FUSED[name]()
    optimizer.build(_variables(0))
    assert fused_update(optimizer, optimizer._trainable_variables) is None


def test_constraints_are_applied_after_the_fused_update():
    fused_vars, _ = _run(FUSED["sgd"], fused=True, constraint=keras.constraints.NonNeg())
    keras_vars, _ = _run(FUSED["sgd"], fused=False, constraint=keras.constraints.NonNeg())
    assert (fused_vars[0].numpy() >= 0).all() and (fused_vars[0].numpy() == 0).any()
    np.testing.assert_allclose(fused_vars[0].numpy(), keras_vars[0].numpy(), rtol=1e-6)


@pytest.mark.parametrize("name", sorted(FUSED))
def test_sparse_gradients_take_the_fused_kernel_with_keras_dense_semantics(name):
    """IndexedSlices (a sparse-input network's first layer) are densified: the same update as Keras'."""
    results = []
    for fused_path in (True, False):
        variables = _variables(0)
        optimizer = FUSED[name]()
        optimizer.build(variables)
        apply = optimizer.apply
        if fused_path:
            apply = fused_update(optimizer, variables)
            optimizer.apply = lambda *a, **k: pytest.fail("fell back to Keras' update")  # the kernel must run
        for step in range(3):  # rows touched at one step and not the next: their moments still decay
            rows = [0, 2] if step % 2 == 0 else [1]
            sparse = tf.IndexedSlices(tf.ones((len(rows), 3)) * (step + 1), tf.constant(rows), tf.constant([5, 3]))
            apply([sparse, tf.ones(3)], variables)
        results.append([v.numpy() for v in variables])
        assert int(optimizer.iterations.numpy()) == 3
    for ours, theirs in zip(*results, strict=True):
        np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=1e-6)


KERNELS = ["ResourceApplyGradientDescent", "ResourceApplyKerasMomentum", "ResourceApplyRMSProp",
           "ResourceApplyCenteredRMSProp", "ResourceApplyAdam", "ResourceApplyAdamWithAmsgrad", "ResourceApplyAdadelta"]


@pytest.fixture
def kernel_calls(monkeypatch):
    """Counts the fused TensorFlow kernels put into traced graphs (each fit below traces afresh)."""
    calls = dict.fromkeys(KERNELS, 0)

    def counting(name, kernel):
        def wrapper(*args, **kwargs):
            calls[name] += 1
            return kernel(*args, **kwargs)
        return wrapper

    for name in KERNELS:
        monkeypatch.setattr(tf.raw_ops, name, counting(name, getattr(tf.raw_ops, name)))
    _cache.clear_caches()  # so that the fit traces its training step with the counters in place
    yield calls
    _cache.clear_caches()  # no traced graph with the counters outlives the test


@pytest.mark.parametrize("optimizer, kernel", [
    ("adam", "ResourceApplyAdam"),
    ("rmsprop", "ResourceApplyRMSProp"),
    ("sgd", "ResourceApplyGradientDescent"),
    (keras.optimizers.SGD(momentum=0.9), "ResourceApplyKerasMomentum"),
    ("adadelta", "ResourceApplyAdadelta"),
])
def test_estimators_train_through_the_fused_kernels(iris, kernel_calls, optimizer, kernel):
    X, y = iris
    clf = NetClassifier([Dense(8, activation="relu")], optimizer=optimizer, epochs=2, random_state=0).fit(X, y)
    # one kernel per trainable variable (two Dense kernels, two biases) in the traced step, and no other
    assert kernel_calls[kernel] == len(clf.model_.trainable_variables) == 4
    assert sum(kernel_calls.values()) == 4


def test_options_the_kernels_lack_train_through_keras_update(iris, kernel_calls):
    X, y = iris
    clf = NetClassifier([Dense(8, activation="relu")], optimizer=keras.optimizers.Adam(clipnorm=1.0),
                        epochs=3, random_state=0).fit(X, y)
    assert sum(kernel_calls.values()) == 0
    assert clf.history_["loss"][-1] < clf.history_["loss"][0]  # and it learns


def test_a_nan_fit_does_not_leak_into_the_next_fit_of_the_cached_trainer(iris):
    """RMSprop's scratch buffer holds NaN after a diverged fit; the next fit must not see it."""
    X, y = iris
    make = lambda **kw: NetClassifier([Dense(8, activation="relu"), Dropout(0.1)], optimizer="rmsprop",  # noqa: E731
                                      epochs=3, random_state=0, **kw)
    _cache.clear_caches()
    expected = make().fit(X, y).predict_proba(X)
    with pytest.raises(FloatingPointError):
        make(optimizer__learning_rate=1e30).fit(X * 1e10, y)
    assert len(TRAINERS) == 1  # the diverged fit used the same trainer
    np.testing.assert_array_equal(make().fit(X, y).predict_proba(X), expected)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("shape", [(100,), (64, 100), (100, 10), (37, 3), (8192,)])
def test_elementwise_adam_is_bitwise_the_kernel(shape, dtype):
    """Mid-size variables take Adam as element-wise operations: bit for bit ResourceApplyAdam."""
    from sknet._engine._fused import _ELEMENTWISE_ADAM

    assert _ELEMENTWISE_ADAM[0] <= int(np.prod(shape)) <= _ELEMENTWISE_ADAM[1]
    rng = np.random.RandomState(0)
    start = rng.randn(*shape).astype(dtype)
    grads = [tf.constant(rng.randn(*shape).astype(dtype)) for _ in range(5)]
    results = []
    for elementwise in (True, False):
        variable = keras.Variable(start, name="kernel")
        optimizer = keras.optimizers.Adam(learning_rate=0.01)
        optimizer.build([variable])
        update = fused_update(optimizer, [variable])
        if not elementwise:
            update._update = _kernel_only(update)
        step = _stepper(update, variable)
        for grad in grads:
            step(grad)
        results.append([variable.numpy()] + [v.numpy() for v in optimizer.variables])
    for ours, kernel in zip(*results, strict=True):
        np.testing.assert_array_equal(ours, kernel)


def _stepper(update, variable):
    return tf.function(lambda grad: update([grad], [variable]), autograph=False)


def _kernel_only(update):
    """``update._update`` with the element-wise range emptied: every Adam variable takes the kernel."""
    from sknet._engine import _fused

    original = update._update

    def kernel(*args, **kwargs):
        saved, _fused._ELEMENTWISE_ADAM = _fused._ELEMENTWISE_ADAM, (1, 0)
        try:
            return original(*args, **kwargs)
        finally:
            _fused._ELEMENTWISE_ADAM = saved
    return kernel


def test_estimator_with_elementwise_adam_learns_what_the_kernel_learns(digits, monkeypatch):
    """End to end: a fit whose variables take the element-wise update equals the all-kernel fit."""
    from sknet._engine import _fused

    X, y = digits
    make = lambda: NetClassifier([Dense(100, activation="relu")], batch_size=200, epochs=3,  # noqa: E731
                                 random_state=0)
    _cache.clear_caches()
    ours = make().fit(X, y)
    monkeypatch.setattr(_fused, "_ELEMENTWISE_ADAM", (1, 0))
    _cache.clear_caches()
    kernel = make().fit(X, y)
    _cache.clear_caches()
    np.testing.assert_array_equal(ours.predict_proba(X), kernel.predict_proba(X))
    assert ours.history_["loss"] == kernel.history_["loss"]
    for a, b in zip(ours.model_.optimizer.variables, kernel.model_.optimizer.variables, strict=True):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
