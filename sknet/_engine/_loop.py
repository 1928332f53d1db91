"""The epoch loop both engines share: callbacks, history, NaN and interrupt handling."""

import keras
import numpy as np


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


def run_epochs(run_epoch, cb_list, model, epochs):
    """Run up to ``epochs`` epochs of ``run_epoch(epoch) -> logs`` with Keras callbacks.

    ``on_train_end`` is called on every way out: the last epoch, early
    stopping, a NaN loss, ``KeyboardInterrupt``, or an exception raised by a
    callback or by training (which then propagates), so that callbacks such as
    ``CSVLogger`` and ``TensorBoard`` close their files.

    Returns
    -------
    history : list of dict
        One dict of logs per completed epoch.
    status : None, "nan" or "interrupted"
        "nan": the loss became NaN/inf (its epoch's logs end ``history``);
        "interrupted": a KeyboardInterrupt stopped training.
    """
    model.stop_training = False
    history, logs, status = [], {}, None
    cb_list.on_train_begin()
    try:
        for epoch in range(epochs):
            cb_list.on_epoch_begin(epoch)
            logs = run_epoch(epoch)
            if not np.isfinite(logs["loss"]):
                history.append(logs)
                status = "nan"
                break
            cb_list.on_epoch_end(epoch, logs)
            history.append(dict(logs))
            if model.stop_training:
                break
    except KeyboardInterrupt:
        status = "interrupted"
    finally:
        cb_list.on_train_end(logs)
    return history, status
