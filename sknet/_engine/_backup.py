"""Resume after a crash: ``keras.callbacks.BackupAndRestore`` with sknet's engine.

A ``BackupAndRestore(backup_dir)`` among a fit's callbacks is carried out by
the epoch loop itself. At the end of every epoch it writes one file,
``<backup_dir>/sknet_backup.npz``, holding everything the rest of the fit
depends on:

* every state variable of the working network (weights, normalization
  statistics, the dropout seed generators) and of its optimizer
  (iterations, learning rate, moments);
* the epoch counter and the logs of the epochs so far (``history_``);
* the state of the callbacks whose future depends on the past
  (``EarlyStopping``: the best value, the patience counter, the best
  weights; ``ReduceLROnPlateau``: its counters and best value).

The file is written to a temporary name, flushed to disk and then renamed,
so a process killed while saving leaves the previous backup intact (Keras'
own ``.weights.h5`` file can be left half-written, and fails to open on the
rerun). Shuffling is derived from ``(random_state, epoch)``
(:func:`epoch_permutation`), so the epochs after a restore see the same data
order as an uninterrupted fit: a resumed fit ends with the same network.

When the fit completes (or stops early), the backup directory is deleted,
as Keras does, unless ``delete_checkpoint=False``.
"""

import json
import os
import shutil

import keras
import numpy as np

from ._state import assign_all

# Callback class -> attributes that decide its behaviour in later epochs.
_STATEFUL = (
    (keras.callbacks.EarlyStopping, ("wait", "stopped_epoch", "best", "best_epoch", "best_weights")),
    (keras.callbacks.ReduceLROnPlateau, ("wait", "cooldown_counter", "best")),
)
_FILE = "sknet_backup.npz"


def epoch_permutation(seed, epoch, n):
    """The shuffle of ``n`` rows for ``epoch``: a function of ``(seed, epoch)`` alone."""
    return np.random.default_rng([seed, epoch]).permutation(n).astype("int32")


def split_backup(callbacks):
    """``(other_callbacks, Backup or None)``: the loop carries out ``BackupAndRestore`` itself."""
    backups = [cb for cb in callbacks if isinstance(cb, keras.callbacks.BackupAndRestore)]
    if len(backups) > 1:
        raise ValueError("callbacks holds more than one BackupAndRestore; one backup directory per fit.")
    others = [cb for cb in callbacks if not isinstance(cb, keras.callbacks.BackupAndRestore)]
    return others, (Backup(backups[0]) if backups else None)


def _stateful(callbacks):
    """``(key, callback, attributes)`` of the stateful callbacks; keys count per class
    (``EarlyStopping:0``), so that another callback list around them still matches."""
    seen = {}
    for callback in callbacks:
        for cls, attributes in _STATEFUL:
            if isinstance(callback, cls):
                name = type(callback).__name__
                seen[name] = seen.get(name, -1) + 1
                yield f"{name}:{seen[name]}", callback, attributes
                break


class Backup:
    """Save and restore one fit's training state (see the module docstring).

    Parameters
    ----------
    template : keras.callbacks.BackupAndRestore
        Its ``backup_dir`` and ``delete_checkpoint`` are used; ``save_freq``
        must be ``"epoch"``.
    """

    def __init__(self, template):
        if template.save_freq != "epoch":
            raise ValueError(
                f"BackupAndRestore(save_freq={template.save_freq!r}): sknet's engine backs up at the end "
                "of every epoch; use save_freq='epoch'."
            )
        self.directory = template.backup_dir
        self.delete = template.delete_checkpoint
        self.path = os.path.join(self.directory, _FILE)

    def restore(self, variables, callbacks):
        """Load the backup, if any, into ``variables`` and ``callbacks``.

        Returns
        -------
        start_epoch : int
            The first epoch still to run (0 without a backup).
        history : list of dict
            The logs of the epochs before it.
        """
        if not os.path.exists(self.path):
            return 0, []
        with np.load(self.path, allow_pickle=False) as data:
            meta = json.loads(str(data["meta"]))
            values = [data[f"v{i}"] for i in range(meta["variables"])]
            if [tuple(v.shape) for v in variables] != [value.shape for value in values]:
                raise ValueError(
                    f"the backup in {self.directory!r} was written by a fit of another network; "
                    "delete the directory or use another backup_dir."
                )
            assign_all(variables, values)
            for key, callback, _ in _stateful(callbacks):
                state = meta["callbacks"].get(key)
                if state is None:
                    continue
                weights = state.pop("best_weights", None)
                if weights is not None:
                    state["best_weights"] = [data[f"{key.replace(':', '_')}_w{j}"] for j in range(weights)]
                for attribute, value in state.items():
                    setattr(callback, attribute, value)
        return meta["epoch"], meta["history"]

    def save(self, epoch, history, variables, callbacks):
        """Write the state after ``epoch`` (0-based) atomically."""
        arrays = {f"v{i}": np.asarray(v.numpy()) for i, v in enumerate(variables)}
        states = {}
        for key, callback, attributes in _stateful(callbacks):
            state = {}
            for attribute in attributes:
                value = getattr(callback, attribute, None)
                if attribute == "best_weights" and value is not None:
                    for j, weight in enumerate(value):
                        arrays[f"{key.replace(':', '_')}_w{j}"] = np.asarray(weight)
                    value = len(value)
                state[attribute] = float(value) if isinstance(value, np.floating) else value
            states[key] = state
        meta = {"epoch": epoch + 1, "history": history, "variables": len(variables), "callbacks": states}
        os.makedirs(self.directory, exist_ok=True)
        temporary = self.path + ".tmp"
        with open(temporary, "wb") as file:
            np.savez(file, meta=np.array(json.dumps(meta)), **arrays)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, self.path)

    def finish(self):
        """The fit completed: remove the backup (unless ``delete_checkpoint=False``)."""
        if self.delete:
            shutil.rmtree(self.directory, ignore_errors=True)
