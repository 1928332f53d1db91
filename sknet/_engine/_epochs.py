"""Several epochs in one traced call, for fits whose single epochs nobody watches.

A :class:`~sknet._engine._trainer.Trainer` runs an epoch per call of its
traced step loop, so that callbacks, the progress bar and validation see
every epoch. Each call also costs a fixed amount outside the steps: the call
of the traced function (its runtime, the argument binding), the epoch's
shuffle as a tensor, the metric results as Python floats, the callback
hooks. On small data that is a large share of the fit (20 epochs of 9 steps
on digits: about a tenth of the fit).

When a fit has no callbacks, no progress output and no validation data,
and ``X`` is in memory (not streamed block by block), nothing needs control
between epochs, and :class:`Epochs` runs them in a
graph loop around the trainer's own step loop (``Trainer._steps``, the same
steps in the same order: results are bitwise those of one call per epoch).
The loop stops after an epoch whose loss is not finite, as the epoch loop
does (:func:`sknet._engine._loop.run_epochs`).

Each call covers as many epochs as fit in :data:`CALL_SECONDS` at the pace
of the trainer's previous call (the trainer's first call runs one epoch),
so that a ``KeyboardInterrupt`` is still noticed within a fraction of a
second: it stops the fit after the epochs of the calls completed so far, as
between epochs of the epoch loop. How the epochs fall into calls does not
change any result.
"""

import time

import numpy as np
import tensorflow as tf

from ._backup import epoch_permutation
from ._inputs import n_rows, signature

CALL_SECONDS = 0.25


def unobserved(callbacks, verbose, validation):
    """Whether nothing in a fit needs control between its epochs."""
    return not callbacks and verbose == 0 and validation is None


class Epochs:
    """Runs a trainer's epochs several per traced call (see the module docstring).

    Parameters
    ----------
    trainer : sknet._engine._trainer.Trainer
    traced : callable
        ``traced(fn, input_signature)``: the trainer module's traced-function
        wrapper (one trace, called through its concrete function).
    x, y : tensors
        A fit's data, whose specs the function is traced for (those of the
        trainer's signature).
    """

    def __init__(self, trainer, traced, x, y):
        self.trainer = trainer
        scalar = tf.TensorSpec((), tf.int32)
        specs = [signature(x), tf.TensorSpec((None,) + tuple(y.shape[1:]), y.dtype), tf.TensorSpec((None,), tf.float32),
                 tf.TensorSpec((None, None), tf.int32), scalar, scalar]
        # A closure, not a bound method: TensorFlow's retracing heuristics count
        # traces per Python function, and each trainer legitimately traces once.
        self._run = traced(lambda *args: self._epochs(*args), specs)
        self._row_seconds = None  # seconds per row and epoch, measured on the last call

    def _epochs(self, x, y, sw, perms, batch_size, steps):
        """One epoch per row of ``perms`` until a loss is not finite: ``(epochs run, results)``.

        ``results`` holds one float64 vector per tracker (the loss, then the
        metrics), one entry per epoch run: the trackers' results at the end
        of each epoch (float64 holds any float32 result exactly).
        """
        count = tf.shape(perms)[0]
        trackers = [self.trainer.loss_tracker] + self.trainer.metrics
        zero = tf.constant(0, tf.int32)

        def body(epoch, finite, arrays):
            # reset: the step loop resets the trackers first, as for a new epoch.
            results = self.trainer._steps(x, y, sw, perms[epoch], batch_size, zero, steps, tf.constant(True))
            arrays = [a.write(epoch, tf.cast(r, tf.float64)) for a, r in zip(arrays, results, strict=True)]
            return epoch + 1, tf.math.is_finite(results[0]), arrays

        arrays = [tf.TensorArray(tf.float64, size=count) for _ in trackers]
        epochs, _, arrays = tf.while_loop(
            lambda epoch, finite, arrays: tf.logical_and(epoch < count, finite),
            body, (zero, tf.constant(True), arrays),
        )
        return [epochs] + [a.stack() for a in arrays]

    def fit(self, data, *, seed, epochs, batch_size, steps, names):
        """Train for up to ``epochs`` epochs; returns ``(history, status)`` like ``run_epochs``."""
        x, y, sw = data
        n = n_rows(x)
        batch_size, steps = tf.constant(batch_size, tf.int32), tf.constant(steps, tf.int32)
        history, done = [], 0
        try:
            while done < epochs:
                count = min(self._per_call(n), epochs - done)
                perms = tf.constant(np.stack([epoch_permutation(seed, e, n) for e in range(done, done + count)]))
                start = time.perf_counter()
                ran, *results = self._run(x, y, sw, perms, batch_size, steps)
                elapsed = time.perf_counter() - start
                ran, results = int(ran), [r.numpy() for r in results]
                self._row_seconds = elapsed / (ran * max(n, 1))
                history.extend({name: float(r[i]) for name, r in zip(names, results, strict=True)}
                               for i in range(ran))
                done += ran
                if not np.isfinite(history[-1]["loss"]):
                    return history, "nan"
        except KeyboardInterrupt:
            return history, "interrupted"
        return history, None

    def _per_call(self, n):
        """Epochs of ``n`` rows for the next call: as many as :data:`CALL_SECONDS` holds at the
        pace of the trainer's last call (one epoch before any was measured)."""
        if self._row_seconds is None:
            return 1
        return max(1, int(CALL_SECONDS / max(self._row_seconds * n, 1e-9)))
