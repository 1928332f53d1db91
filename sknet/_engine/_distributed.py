"""Training under a ``tf.distribute`` strategy: one network on several devices or workers.

A custom training loop over ``strategy.experimental_distribute_dataset``:
each global batch of ``batch_size`` rows is split over the replicas (and,
with ``MultiWorkerMirroredStrategy``, over the workers of ``TF_CONFIG``), and
the optimizer all-reduces the gradients. Keras' own ``model.fit`` is not used
because it does not run under ``MultiWorkerMirroredStrategy`` in Keras 3.

The loop optimises and reports the same objective as the single-device
engine: per step, the weighted loss summed over the global batch and divided
by the *actual* global batch size (the last, partial batch included), plus
the layers' regularization losses once; the reported epoch ``loss`` is that
step objective averaged over the epoch's samples. Under a float16 policy the
optimizer is a ``LossScaleOptimizer``: the step scales the loss before
differentiation, as the single-device trainer does.
"""

import keras
import numpy as np
import tensorflow as tf

from .._faithful import copy_instance, faithful_config, rebuild
from .._stream import Rows
from ._backup import epoch_permutation
from ._inputs import distributed_blocks, in_order
from ._loop import run_epochs, val_name
from ._state import (
    assign_all,
    clone_architecture,
    continuable_state,
    optimizer_with_state,
    state_variables,
)
from ._trainer import as_tensors


def rehome(model, strategy):
    """A copy of a fitted ``model`` whose variables live under ``strategy``.

    Weights, every other state variable and the optimizer state are copied, so
    a warm-started distributed fit continues where ``model`` stopped; it is
    needed when ``model`` was made outside ``strategy`` (under an earlier
    strategy object, or loaded from a pickle). ``model`` is not modified. Call
    it outside any strategy scope: variables of another strategy can only be
    read outside the new one.
    """
    state = [v.numpy() for v in state_variables(model)]
    source = model.optimizer
    slots = [v.numpy() for v in source.variables] if source is not None and source.built else None
    config = None if source is None else faithful_config(source)  # readable only outside the new scope
    with strategy.scope():
        new = clone_architecture(model)
        assign_all(state_variables(new), state)
        if source is not None:
            optimizer = optimizer_with_state(source, new.trainable_variables, slots, config=config)
            new.compile(optimizer=optimizer, loss=model.loss)
    return new


def _per_example(loss):
    """``loss`` without reduction: per-sample weighted losses (a copy of this fit's own loss)."""
    per_example = copy_instance(loss)
    per_example.reduction = None
    return per_example


def train_distributed(model, data, *, optimizer, loss, metrics, continue_optimizer, epochs, batch_size,
                      rng, callbacks, verbose, validation=None, strategy):
    """Train ``model`` (built under ``strategy.scope()``) on every replica.

    Parameters and returns as :func:`sknet._engine.train`. ``model`` is
    trained in place; if the loss becomes NaN or an exception escapes, its
    weights are put back as they were.
    """
    data = as_tensors(*data)
    n = int(data[0].shape[0])
    seed = int(rng.randint(np.iinfo(np.int32).max))
    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA

    streamed = isinstance(data[0], Rows)
    host = (data[1].numpy(), data[2].numpy()) if streamed else None

    def epoch_batches(epoch):
        """The epoch's global batches, shuffled by ``(seed, epoch)`` alone (resumable)."""
        perm = epoch_permutation(seed, epoch, n)
        if streamed:  # out of core: every worker reads its own replicas' rows of each batch
            return distributed_blocks(strategy, data[0], *host, perm, batch_size)
        dataset = tf.data.Dataset.from_tensor_slices(tuple(tf.gather(t, perm) for t in data))
        return strategy.experimental_distribute_dataset(dataset.batch(batch_size).with_options(options))
    per_example = _per_example(loss)
    config = faithful_config(optimizer)  # this fit's hyperparameters, read outside the strategy's scope
    # A LossScaleOptimizer (float16 compute) keeps the learning rate in its inner optimizer's config.
    rate_config = config[0]["inner_optimizer"]["config"] if "inner_optimizer" in config[0] else config[0]
    rate = None if isinstance(rate_config.get("learning_rate"), dict) else float(rate_config["learning_rate"])
    with strategy.scope():
        optimizer = optimizer_with_state(optimizer, model.trainable_variables, config=config)
        state = continuable_state(model.optimizer, optimizer) if continue_optimizer else None
        if state is not None:
            assign_all(optimizer.variables, state)
            if rate is not None:  # this fit's rate, not the restored one
                optimizer.learning_rate = rate
        trackers = [keras.metrics.Mean(name="loss")] + list(metrics)
        val_trackers = [keras.metrics.Mean(name="val_loss")] + [rebuild(m) for m in metrics]

    def forward(xb, yb, swb, training):
        """Predictions, per-sample weighted losses and the regularization loss of a batch."""
        pred = model(xb, training=training)
        losses = per_example(yb, pred, sample_weight=swb)
        regularization = tf.add_n(model.losses) if model.losses else tf.zeros((), losses.dtype)
        return pred, losses, regularization

    def track(tracker, losses, regularization):
        """Record a batch as the single-device engine does: (mean loss + regularization) per sample."""
        local = tf.cast(tf.shape(losses)[0], losses.dtype)
        tracker.update_state(tf.math.divide_no_nan(tf.reduce_sum(losses), local) + regularization,
                             sample_weight=local)

    def replica_step(xb, yb, swb, global_size):
        with tf.GradientTape() as tape:
            pred, losses, regularization = forward(xb, yb, swb, training=True)
            # This replica's share: summed over the replicas, the mean over the
            # actual global batch (the last one may be partial), plus regularization once.
            share = tf.reduce_sum(losses) / tf.cast(global_size, losses.dtype)
            share += tf.nn.scale_regularization_loss(regularization)
            scaled = optimizer.scale_loss(share)  # a LossScaleOptimizer's loss scale; else unchanged
        grads = tape.gradient(scaled, model.trainable_variables)
        optimizer.apply(grads, model.trainable_variables)
        track(trackers[0], losses, regularization)
        for metric in trackers[1:]:
            metric.update_state(yb, pred)

    @tf.function
    def train_step(batch, global_size):
        strategy.run(replica_step, args=(*batch, global_size))

    @tf.function
    def evaluate(xv, yv, swv):
        pred, losses, regularization = forward(xv, yv, swv, training=False)
        track(val_trackers[0], losses, regularization)
        for metric in val_trackers[1:]:
            metric.update_state(yv, pred)

    validation = None if validation is None else as_tensors(*validation)
    # Trained in place: keep what a failed fit must give back.
    before = [v.numpy() for v in state_variables(model)]
    sizes = [tf.constant(min(batch_size, n - lo), tf.int32) for lo in range(0, n, batch_size)]

    def run_epoch(epoch, cb_list):
        for tracker in trackers + val_trackers:
            tracker.reset_state()
        for step, batch in enumerate(epoch_batches(epoch)):
            train_step(batch, sizes[min(step, len(sizes) - 1)])
        logs = {t.name: float(t.result()) for t in trackers}
        if validation is not None:
            x_val, y_val, sw_val = validation
            for xb, yb, swb in in_order(x_val, y_val, sw_val, 1024):
                evaluate(xb, yb, swb)
            logs.update({val_name(t.name): float(t.result()) for t in val_trackers})
        return logs

    try:
        history, status = run_epochs(run_epoch, callbacks, model, epochs, verbose=verbose,
                                     steps=len(sizes), variables=state_variables(model) + list(optimizer.variables),
                                     metrics=trackers[1:],
                                     finalize=lambda: optimizer.finalize_variable_values(model.trainable_variables))
    except BaseException:
        assign_all(state_variables(model), before)
        raise
    if status == "nan":
        assign_all(state_variables(model), before)
        return history, status, None
    return history, status, optimizer
