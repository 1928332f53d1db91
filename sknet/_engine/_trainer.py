"""The single-device trainer: a whole epoch of training steps in one traced call.

Why it is faster than ``model.fit``
-----------------------------------
* The data is converted to tensors once per fit; an epoch is shuffled by an
  index permutation and gathered batch by batch *inside* one ``tf.function``
  call (a graph ``while`` loop), so there is no per-step Python or
  ``tf.data`` overhead.
* A :class:`Trainer` owns a working copy of the model and its optimizer, and
  is cached by signature (:mod:`sknet._engine._cache`); each fit loads its
  fresh initial weights into it, so cross-validation folds and grid-search
  candidates re-use one trace instead of paying for a new one.
* SGD, RMSprop and Adam updates run as TensorFlow's fused kernels, one per
  variable (:mod:`sknet._engine._fused`).

Per-batch callbacks and ``verbose=1`` are honoured by running the epoch in
chunks (one batch per chunk for callbacks with batch hooks), on the same
traced function. A fit without callbacks, progress output or validation data
runs several epochs per traced call instead (:mod:`sknet._engine._epochs`).
"""

import keras
import numpy as np
import tensorflow as tf

from .._compat import call_flat
from .._faithful import rebuild
from .._stream import Rows
from . import _cache
from ._backup import epoch_permutation
from ._epochs import Epochs, unobserved
from ._fused import fused_update
from ._inputs import Feed, blocks, in_order, n_rows, signature, to_tensor
from ._loop import has_batch_hooks, run_epochs, val_name
from ._state import (
    BatchAssign,
    clone_architecture,
    continuable_state,
    optimizer_with_state,
    seeded_build,
    state_variables,
)


def _reset_if(condition, metrics, value):
    """In a graph: reset ``metrics`` when ``condition`` holds; returns ``value`` once that has run."""

    def reset():
        for metric in metrics:
            metric.reset_state()
        return tf.identity(value)

    return tf.cond(condition, reset, lambda: tf.identity(value))


class _Traced:
    """A ``tf.function`` of fixed signature, traced on first use and then called
    through its concrete function: that skips the polymorphic dispatch (argument
    binding, trace lookup), which an epoch would otherwise pay on every call.
    """

    def __init__(self, fn, signature):
        # autograph=False: the loops are explicit tf.while_loops and Keras layers
        # need no conversion; skipping autograph halves the tracing time.
        self._function = tf.function(fn, input_signature=signature, autograph=False)
        self._concrete = None

    def __call__(self, *args):
        if self._concrete is None:
            self._concrete = self._function.get_concrete_function()
        return call_flat(self._concrete, args)


class Trainer:
    """A working model, its optimizer, loss and metrics, and their traced functions.

    Parameters
    ----------
    model : keras.Model
        A model of the target architecture; the trainer builds its own copy.
    optimizer, loss : keras objects (fresh, owned by the trainer)
    metrics : list of keras.metrics.Metric (fresh, owned by the trainer)
    x_spec : tf.TypeSpec
        The input signature of ``x`` (:func:`sknet._engine._inputs.signature`).
    y_spec : (shape, dtype) pair with a ``None`` batch dimension
    """

    def __init__(self, model, optimizer, loss, metrics, x_spec, y_spec):
        self.model = clone_architecture(model)
        self._feed = Feed(self.model)
        self.optimizer = optimizer
        self.loss = loss
        self.model.compile(optimizer=optimizer, loss=loss)
        self.optimizer.build(self.model.trainable_variables)
        # One fused TensorFlow kernel per variable where the update allows it.
        self._fused = fused_update(self.optimizer, self.model.trainable_variables)
        self._apply = self._fused or self.optimizer.apply
        # The optimizer's initial state, held in variables so that loading it and
        # copying the final state out are the same traced assignment (one trace).
        self._optimizer_init = [tf.Variable(v.value, trainable=False) for v in self.optimizer.variables]
        self.assign = BatchAssign()  # weights and optimizer state in and out, one call each way
        self.loss_tracker = keras.metrics.Mean(name="loss")
        self.metrics = list(metrics)
        self.val_loss_tracker = keras.metrics.Mean(name="val_loss")
        self.val_metrics = [rebuild(m) for m in self.metrics]
        data = [
            x_spec,
            tf.TensorSpec(*y_spec),
            tf.TensorSpec((None,), tf.float32),
        ]
        scalar = tf.TensorSpec((), tf.int32)
        flag = tf.TensorSpec((), tf.bool)
        # Closures, not bound methods: TensorFlow's retracing heuristics count
        # traces per Python function, and each trainer legitimately traces once.
        self._run_steps = _Traced(
            lambda *args: self._steps(*args),
            data + [tf.TensorSpec((None,), tf.int32), scalar, scalar, scalar, flag],
        )
        self._evaluate = _Traced(lambda *args: self._eval(*args), data + [scalar, flag])
        self._epochs = None  # sknet._engine._epochs.Epochs, made on first use

    # -- traced bodies ------------------------------------------------------

    def _total_loss(self, y, pred, sw):
        """The weighted loss plus the layers' regularization losses."""
        loss = self.loss(y, pred, sample_weight=sw)
        if self.model.losses:
            loss = loss + tf.add_n(self.model.losses)
        return loss

    def _step(self, x, y, sw):
        variables = self.model.trainable_variables
        with tf.GradientTape() as tape:
            pred = self.model(x, training=True)
            loss = self._total_loss(y, pred, sw)
            scaled = self.optimizer.scale_loss(loss)
        grads = tape.gradient(scaled, variables)
        self._apply(grads, variables)
        n = tf.shape(x)[0]
        self.loss_tracker.update_state(loss, sample_weight=tf.cast(n, loss.dtype))
        for metric in self.metrics:
            metric.update_state(y, pred)

    def _steps(self, x, y, sw, perm, batch_size, start, stop, reset):
        """Steps ``start`` to ``stop`` over rows ``perm`` of ``x``; returns the epoch's metric results so far.

        The first call of an epoch (``reset``) resets the metrics in the graph.
        """
        n = tf.shape(perm)[0]
        trackers = [self.loss_tracker] + self.metrics
        start = _reset_if(reset, trackers, start)

        def body(i):
            lo = i * batch_size
            idx = perm[lo : tf.minimum(lo + batch_size, n)]
            self._step(self._feed.take(x, idx), tf.gather(y, idx), tf.gather(sw, idx))
            return (i + 1,)

        end = tf.while_loop(lambda i: i < stop, body, (start,))[0]
        with tf.control_dependencies([end]):
            return [m.result() for m in trackers]

    def _eval(self, x, y, sw, batch_size, reset):
        """Evaluate on ``(x, y, sw)`` (after resetting the metrics if ``reset``); returns the results."""
        n = tf.shape(y)[0]
        trackers = [self.val_loss_tracker] + self.val_metrics
        # Ordered before the loop: both touch the metrics' variables.
        zero = _reset_if(reset, trackers, tf.constant(0))

        def body(lo):
            hi = tf.minimum(lo + batch_size, n)
            xb, yb, swb = self._feed.rows(x, lo, hi), y[lo:hi], sw[lo:hi]
            pred = self.model(xb, training=False)
            loss = self._total_loss(yb, pred, swb)
            self.val_loss_tracker.update_state(loss, sample_weight=tf.cast(hi - lo, loss.dtype))
            for metric in self.val_metrics:
                metric.update_state(yb, pred)
            return (hi,)

        end = tf.while_loop(lambda lo: lo < n, body, (zero,))[0]
        with tf.control_dependencies([end]):
            return [m.result() for m in trackers]

    # -- state --------------------------------------------------------------

    def load(self, model, optimizer_state=None, learning_rate=None):
        """Load a model's weights and an optimizer state (or a fresh one), then this fit's rate.

        The learning rate is set *after* the state: a warm start continues
        the moments and the iteration count, but with the learning rate of
        the current parameters (the restored state holds the previous one).
        """
        optimizer_state = self._optimizer_init if optimizer_state is None else optimizer_state
        self.assign(state_variables(self.model) + list(self.optimizer.variables),
                    state_variables(model) + list(optimizer_state))
        if self._fused is not None:
            self._fused.reset()
        if learning_rate is not None:
            self.optimizer.learning_rate = learning_rate

    # -- the loop -----------------------------------------------------------

    def evaluate(self, x, y, sw, batch_size):
        bs = tf.constant(batch_size, tf.int32)
        for k, (xb, yb, swb) in enumerate(in_order(x, y, sw, batch_size)):
            results = self._evaluate(xb, yb, swb, bs, tf.constant(k == 0))
        return {
            val_name(m.name): float(value)
            for m, value in zip([self.val_loss_tracker] + self.val_metrics, results, strict=True)
        }

    def fit(self, data, *, epochs, batch_size, rng, callbacks, verbose, validation=None):
        """Train for up to ``epochs`` epochs.

        Parameters
        ----------
        data : tuple of tensors ``(x, y, sample_weight)``
        rng : numpy.random.RandomState
            Draws the fit's shuffle seed; epoch ``k`` is shuffled by
            ``epoch_permutation(seed, k)``, so that a fit resumed from a
            backup sees the same data order as an uninterrupted one.
        callbacks : list of keras.callbacks.Callback
            Fresh callbacks owned by this fit.
        validation : tuple of tensors or None

        Returns
        -------
        history, status : see :func:`run_epochs`
        """
        x, y, sw = data
        n = n_rows(x)
        steps = -(-n // batch_size)
        chunk = steps
        if any(has_batch_hooks(cb) for cb in callbacks if not isinstance(cb, keras.callbacks.BackupAndRestore)):
            chunk = 1
        elif verbose == 1:
            chunk = max(1, steps // 20)
        bs = tf.constant(batch_size, tf.int32)
        seed = int(rng.randint(np.iinfo(np.int32).max))
        names = [m.name for m in [self.loss_tracker] + self.metrics]
        if unobserved(callbacks, verbose, validation) and not isinstance(x, Rows):  # sknet._engine._epochs
            if self._epochs is None:
                self._epochs = Epochs(self, _Traced, x, y)
            history, status = self._epochs.fit(data, seed=seed, epochs=epochs, batch_size=batch_size, steps=steps,
                                               names=names)
            if status is None:
                self.finalize()
            return history, status

        def run_epoch(epoch, cb_list):
            done = 0  # steps of this epoch before the current block
            for xb, yb, swb, order in blocks(x, y, sw, epoch_permutation(seed, epoch, n), batch_size):
                block_steps = -(-int(order.shape[0]) // batch_size)
                for start in range(0, block_steps, chunk):
                    stop = min(start + chunk, block_steps)
                    if chunk < steps:
                        cb_list.on_train_batch_begin(done + start)
                    results = self._run_steps(xb, yb, swb, order, bs, tf.constant(start), tf.constant(stop),
                                              tf.constant(done == 0 and start == 0))
                    if chunk < steps:
                        cb_list.on_train_batch_end(done + stop - 1, {names[0]: float(results[0])})
                done += block_steps
            logs = {name: float(value) for name, value in zip(names, results, strict=True)}
            if validation is not None:
                # As Keras' fit evaluates: between on_test_begin and on_test_end (SwapEMAWeights
                # swaps the moving averages in for the validation there).
                cb_list.on_test_begin()
                results = self.evaluate(*validation, batch_size=max(batch_size, 1024))
                cb_list.on_test_end({name.removeprefix("val_"): value for name, value in results.items()})
                logs.update(results)
            return logs

        # The fused RMSprop scratch is overwritten on every step: not part of the state.
        variables = state_variables(self.model) + list(self.optimizer.variables)
        return run_epochs(run_epoch, callbacks, self.model, epochs, verbose=verbose, steps=steps,
                          variables=variables, metrics=self.metrics, finalize=self.finalize)

    def finalize(self):
        """The end of a fit, as Keras' fit ends it: ``use_ema`` replaces the weights by their moving averages."""
        self.optimizer.finalize_variable_values(self.model.trainable_variables)


def as_tensors(X, y, sample_weight):
    """The ``(x, y, sample_weight)`` tensors a :class:`Trainer` consumes."""
    return (
        to_tensor(X),
        tf.constant(np.asarray(y, dtype="float32")),
        tf.constant(np.asarray(sample_weight, dtype="float32")),
    )


def _spec_of(tensor):
    return ((None,) + tuple(tensor.shape[1:]), tensor.dtype)


def train(model, data, *, optimizer, loss, metrics, continue_optimizer, epochs, batch_size,
          rng, callbacks, verbose, validation=None):
    """Train ``model`` on ``data`` with a cached :class:`Trainer`.

    ``data`` and ``validation`` are ``(X, y, sample_weight)`` NumPy arrays.
    ``optimizer`` is this fit's own optimizer (a trainer builds its own copy;
    unbuilt, it becomes the returned optimizer);
    ``loss`` and ``metrics`` shape a new trainer. When a trainer of the same
    signature is cached, they contribute just their learning rate. With
    ``continue_optimizer``, the state of ``model.optimizer`` (an earlier
    fit's) is continued, with this fit's hyperparameters.

    ``model``'s weights are written only when training ends without a NaN
    loss and without an exception.

    Returns
    -------
    history : list of dict
    status : None, "nan" or "interrupted"
    optimizer : keras.optimizers.Optimizer or None
        An optimizer of this fit's config (``optimizer`` itself if it was
        unbuilt, else a fresh copy), built on ``model``'s variables and
        holding the final optimizer state (None on "nan"), to be attached to
        ``model`` when the fit commits.
    """
    data = as_tensors(*data)
    validation = None if validation is None else as_tensors(*validation)
    x_spec, y_spec = signature(data[0]), _spec_of(data[1])
    key = (
        _cache.model_signature(model, x_spec),
        y_spec,
        _cache.optimizer_signature(optimizer),
        _cache.loss_key(loss),
        tuple(_cache.metric_key(m) for m in metrics),
    )
    trainer = _cache.checkout(_cache.TRAINERS, key)
    if trainer is None:
        with seeded_build():
            own = rebuild(optimizer)
            trainer = Trainer(model, own, loss, metrics, x_spec, y_spec)
    final = None
    try:
        state = continuable_state(getattr(model, "optimizer", None), trainer.optimizer) if continue_optimizer else None
        rate = None if _cache.has_schedule(optimizer) else float(optimizer.learning_rate)
        trainer.load(model, state, rate)
        history, status = trainer.fit(
            data, epochs=epochs, batch_size=batch_size, rng=rng, callbacks=callbacks,
            verbose=verbose, validation=validation,
        )
        if status != "nan":
            if optimizer.built:
                final = optimizer_with_state(optimizer, model.trainable_variables)
            else:  # the fit's own fresh template: building it spares making a copy
                final = optimizer
                final.build(model.trainable_variables)
            trainer.assign(state_variables(model) + list(final.variables),
                           state_variables(trainer.model) + list(trainer.optimizer.variables))
    finally:
        _cache.checkin(_cache.TRAINERS, key, trainer)
    return history, status, final
