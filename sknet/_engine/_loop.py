"""The epoch loop both engines share: callbacks, history, backups, NaN and interrupt handling."""

import keras
import numpy as np

from ._backup import split_backup


def val_name(name):
    """The history key of a validation metric: ``val_`` once."""
    return "val_" + name.removeprefix("val_")


def has_batch_hooks(callback):
    """Whether ``callback`` overrides a per-batch hook (the epoch then runs batch by batch)."""
    base = keras.callbacks.Callback
    return any(
        getattr(type(callback), hook) is not getattr(base, hook)
        for hook in ("on_train_batch_begin", "on_train_batch_end", "on_batch_begin", "on_batch_end")
    )


def callback_list(callbacks, model, verbose, epochs, steps):
    """Keras' ``CallbackList`` (with its progress bar for ``verbose`` 1 and 2)."""
    return keras.callbacks.CallbackList(
        callbacks, add_history=False, add_progbar=verbose in (1, 2), model=model, verbose=verbose,
        epochs=epochs, steps=steps,
    )


def monitor_directions(callbacks, metrics):
    """Give each ``mode="auto"`` monitor callback the direction of the metric it watches, as Keras' fit does.

    Keras' ``EarlyStopping``, ``ReduceLROnPlateau`` and ``ModelCheckpoint``
    look the monitored metric up among the compiled model's metrics and read
    its direction (``accuracy``: up). The model sknet's callbacks see is not
    compiled with the metrics, so the direction is found here, among this
    fit's ``metrics``, and set as the callback's ``mode`` (on the fit's own
    copy of the callback); Keras then flips ``min_delta`` itself. A metric
    without a direction is left to Keras, which raises as in its own fit.
    """
    directions = {m.name: m._direction for m in metrics if getattr(m, "_direction", None) in ("up", "down")}
    for callback in callbacks:
        monitor = getattr(callback, "monitor", None)
        if (not isinstance(monitor, str) or getattr(callback, "mode", None) != "auto"
                or getattr(callback, "monitor_op", None) is not None):
            continue
        direction = directions.get(monitor.removeprefix("val_"))
        if direction is not None and monitor.removeprefix("val_") != "loss":
            callback.mode = "max" if direction == "up" else "min"


class _Recorder(keras.callbacks.Callback):
    """The last callback of a fit: the epoch's logs as the callbacks before it left them.

    Keras' ``CallbackList`` hands every callback one copy of the logs, and
    callbacks write into it (``ReduceLROnPlateau`` and
    ``LearningRateScheduler`` add ``learning_rate``); Keras' ``History``,
    last in the list, records that. So does this.
    """

    def __init__(self):
        super().__init__()
        self.logs = None

    def on_epoch_end(self, epoch, logs=None):
        self.logs = dict(logs or {})


def run_epochs(run_epoch, callbacks, model, epochs, *, verbose, steps, variables, metrics=(), finalize=None):
    """Run up to ``epochs`` epochs of ``run_epoch(epoch, cb_list) -> logs`` with Keras callbacks.

    ``on_train_end`` is called on every way out: the last epoch, early
    stopping, a NaN loss, ``KeyboardInterrupt``, or an exception raised by a
    callback or by training (which then propagates), so that callbacks such as
    ``CSVLogger`` and ``TensorBoard`` close their files.

    A ``keras.callbacks.BackupAndRestore`` among ``callbacks`` is carried out
    here (:mod:`sknet._engine._backup`): ``variables`` (the working model's
    and optimizer's) are restored from its backup before the first epoch and
    saved after every epoch.

    Returns
    -------
    history : list of dict
        One dict of logs per completed epoch (restored epochs included).
    status : None, "nan" or "interrupted"
        "nan": the loss became NaN/inf (its epoch's logs end ``history``);
        "interrupted": a KeyboardInterrupt stopped training.

    ``metrics`` (the fit's metric objects) tell monitor callbacks in
    ``mode="auto"`` which way their metric improves (:func:`monitor_directions`).
    ``finalize`` is called when the epochs end without a NaN loss or an
    interrupt, before ``on_train_end``, where Keras' fit calls
    ``optimizer.finalize_variable_values`` (``use_ema``: the weights become
    their moving averages).
    """
    callbacks, backup = split_backup(callbacks)
    monitor_directions(callbacks, metrics)
    recorder = _Recorder()
    cb_list = callback_list(callbacks + [recorder], model, verbose, epochs, steps)
    model.stop_training = False
    history, logs, status = [], {}, None
    cb_list.on_train_begin()
    try:
        start = 0
        if backup is not None:
            start, history = backup.restore(variables, callbacks)
        for epoch in range(start, epochs):
            cb_list.on_epoch_begin(epoch)
            logs = run_epoch(epoch, cb_list)
            if not np.isfinite(logs["loss"]):
                history.append(logs)
                status = "nan"
                break
            recorder.logs = None
            cb_list.on_epoch_end(epoch, logs)
            history.append({**logs, **(recorder.logs or {})})  # in the engine's order, what callbacks added after
            if backup is not None:
                backup.save(epoch, history, variables, callbacks)
            if model.stop_training:
                break
        if finalize is not None and status is None and epochs > 0:
            finalize()
    except KeyboardInterrupt:
        status = "interrupted"
    finally:
        cb_list.on_train_end(logs)
    if backup is not None and status is None:
        backup.finish()
    return history, status
