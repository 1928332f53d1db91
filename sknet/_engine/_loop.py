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


def run_epochs(run_epoch, callbacks, model, epochs, *, verbose, steps, variables):
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
    """
    callbacks, backup = split_backup(callbacks)
    cb_list = callback_list(callbacks, model, verbose, epochs, steps)
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
            cb_list.on_epoch_end(epoch, logs)
            history.append(dict(logs))
            if backup is not None:
                backup.save(epoch, history, variables, callbacks)
            if model.stop_training:
                break
    except KeyboardInterrupt:
        status = "interrupted"
    finally:
        cb_list.on_train_end(logs)
    if backup is not None and status is None:
        backup.finish()
    return history, status
