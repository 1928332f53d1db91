"""Resume after a crash (sknet._engine._backup): a fit killed with SIGKILL and run again ends
exactly like a fit that was never interrupted.

Each case runs two real processes: the first is killed (SIGKILL, from a callback) at the end of
an epoch; the second runs the same fit again, which resumes from the backup, and then an
uninterrupted reference fit in the same process, and compares them.
"""

import json
import os
import signal
import subprocess
import sys

import pytest

_SCRIPT = r"""
import json, os, pickle, signal, sys
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
import keras
import numpy as np
from keras.layers import Dense, Dropout
from sklearn.datasets import load_digits
from sknet import NetClassifier

case, mode, workdir = sys.argv[1:4]
backup_dir = os.path.join(workdir, "backup")
X, y = load_digits(return_X_y=True)
X, y = (X[:600] / 16).astype("float32"), y[:600]


# Early stopping: killed after its best epoch (9) with patience left, so the resumed fit must carry
# EarlyStopping's best value, patience counter and best weights to stop where the reference does.
KILL_AT = 11 if case == "early_stopping" else 3


class Kill(keras.callbacks.Callback):
    def on_epoch_end(self, epoch, logs=None):
        if epoch == KILL_AT:
            os.kill(os.getpid(), signal.SIGKILL)


EPOCHS_RUN = []


class Record(keras.callbacks.Callback):
    def on_epoch_begin(self, epoch, logs=None):
        EPOCHS_RUN.append(epoch)


def estimator(callbacks):
    params = dict(layers=[Dense(32, activation="relu"), Dropout(0.3)], epochs=8, random_state=0,
                  callbacks=callbacks)
    if case == "early_stopping":
        params.update(epochs=40, early_stopping=True, patience=3, validation_split=0.25,
                      optimizer__learning_rate=0.05)
    if case == "warm_start":
        with open(os.path.join(workdir, "base.pkl"), "rb") as f:
            base = pickle.load(f)
        return base.set_params(callbacks=callbacks, warm_start=True, epochs=6)
    return NetClassifier(**params)


if mode == "base":  # the fitted estimator a warm start continues from
    with open(os.path.join(workdir, "base.pkl"), "wb") as f:
        pickle.dump(NetClassifier([Dense(32, activation="relu"), Dropout(0.3)], epochs=2,
                                  random_state=0).fit(X, y), f)
elif mode == "kill":
    estimator([keras.callbacks.BackupAndRestore(backup_dir), Kill()]).fit(X, y)
else:
    resumed = estimator([keras.callbacks.BackupAndRestore(backup_dir), Record()]).fit(X, y)
    reference = estimator(None).fit(X, y)
    print("RESULT" + json.dumps({
        "max_diff": float(np.abs(resumed.predict_proba(X) - reference.predict_proba(X)).max()),
        "history": {k: v for k, v in resumed.history_.items()},
        "reference_history": {k: v for k, v in reference.history_.items()},
        "n_iter": [resumed.n_iter_, reference.n_iter_],
        "backup_left": os.path.exists(backup_dir),
        "epochs_run": EPOCHS_RUN,
    }))
"""


def _run(case, mode, workdir):
    return subprocess.run([sys.executable, "-c", _SCRIPT, case, mode, str(workdir)],
                          capture_output=True, text=True, timeout=600)


@pytest.mark.slow
@pytest.mark.parametrize("case", ["plain", "early_stopping", "warm_start"])
def test_a_killed_fit_resumes_to_the_uninterrupted_result(tmp_path, case):
    if case == "warm_start":
        assert _run(case, "base", tmp_path).returncode == 0
    killed = _run(case, "kill", tmp_path)
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-2000:]
    assert os.path.exists(tmp_path / "backup" / "sknet_backup.npz")  # written after every completed epoch
    out = _run(case, "resume", tmp_path)
    assert out.returncode == 0, out.stderr[-3000:]
    result = json.loads(out.stdout.split("RESULT", 1)[1])
    kill_at = 11 if case == "early_stopping" else 3  # killed in that epoch, before its backup
    assert result["epochs_run"][0] == kill_at  # it continued after the last completed epoch, not from 0
    assert result["max_diff"] <= 1e-6
    assert result["history"] == result["reference_history"]  # the epochs before the kill included
    assert result["n_iter"][0] == result["n_iter"][1]
    assert not result["backup_left"]  # deleted once the fit completed, as Keras does
    if case == "early_stopping":
        assert 12 < result["n_iter"][0] < 40  # it stopped early, after the kill
