"""Lost workers, and results that do not depend on where a task runs.

* dask-ml's ``GridSearchCV`` on a 2-worker ``LocalCluster`` survives a worker
  killed with SIGKILL mid-search (Dask recomputes what was lost) and ends with
  the split scores of scikit-learn's ``GridSearchCV`` on one machine.
* joblib's loky backend: a worker killed mid-fit is a clear
  ``TerminatedWorkerError``; the parent process and its estimator stay usable.
* The same fit task gives identical predictions in the parent (before and
  after fits of other architectures, whatever Python's ``random`` holds), in
  loky workers in any order, and in a fresh process with another TensorFlow
  thread budget.

joblib's *Dask* backend does not survive a lost worker (docs/guide/scaling.md,
"Lost workers"): it is documented, not tested here.
"""

import os
import random
import signal
import subprocess
import sys
import textwrap
import threading
import time

import keras
import numpy as np
import pytest
from joblib import Parallel, delayed
from keras.layers import Dense, Dropout
from sklearn.datasets import load_digits
from sklearn.model_selection import GridSearchCV, StratifiedKFold, cross_val_score

from sknet import NetClassifier

GRID = {"layers__0__units": [8, 16], "optimizer__learning_rate": [1e-3, 1e-2]}  # 4 candidates


def _digits(n=400):
    X, y = load_digits(return_X_y=True)
    return (X[:n] / 16).astype("float32"), y[:n]


@pytest.mark.slow
def test_dask_ml_grid_search_survives_a_killed_worker():
    distributed = pytest.importorskip("distributed")
    dask_ml_model_selection = pytest.importorskip("dask_ml.model_selection")
    X, y = _digits()
    est = NetClassifier([Dense(16, activation="relu")], epochs=8, random_state=0)
    cv = StratifiedKFold(3)
    killed = {}
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster, distributed.Client(cluster) as client:
        pids = client.run(os.getpid)
        victim = sorted(pids)[0]
        search_done = threading.Event()

        def kill_when_fitting():
            # Wait until a fit task runs on the cluster, let it get going, then SIGKILL one worker.
            while not any("fit" in str(key) for keys in client.processing().values() for key in keys):
                if search_done.wait(0.05):
                    return
            time.sleep(1.0)
            if not search_done.is_set():
                os.kill(pids[victim], signal.SIGKILL)
                killed["during_search"] = True

        killer = threading.Thread(target=kill_when_fitting, daemon=True)
        killer.start()
        search = dask_ml_model_selection.GridSearchCV(est, GRID, cv=cv, refit=False).fit(X, y)
        search_done.set()
        killer.join()
        assert killed.get("during_search"), "the worker was not killed while the search ran"
        assert pids[victim] not in client.run(os.getpid).values()  # that process is gone
    reference = GridSearchCV(est, GRID, cv=cv, refit=False).fit(X, y)
    assert search.cv_results_["params"] == reference.cv_results_["params"]
    for split in range(cv.get_n_splits()):
        key = f"split{split}_test_score"
        np.testing.assert_array_equal(search.cv_results_[key], reference.cv_results_[key])


class KillWorkerAt(keras.callbacks.Callback):
    """SIGKILLs the process it runs in at the end of an epoch, unless that process is ``parent``."""

    def __init__(self, parent, epoch=0):
        super().__init__()
        self.parent, self.epoch = parent, epoch

    def on_epoch_end(self, epoch, logs=None):
        if epoch == self.epoch and os.getpid() != self.parent:
            os.kill(os.getpid(), signal.SIGKILL)


@pytest.mark.slow
def test_loky_killed_worker_is_a_clear_error_and_the_parent_stays_usable():
    from joblib.externals.loky.process_executor import TerminatedWorkerError

    X, y = _digits(300)
    clf = NetClassifier([Dense(16, activation="relu")], epochs=3, random_state=0,
                        callbacks=[KillWorkerAt(parent=os.getpid())])
    with pytest.raises(TerminatedWorkerError, match="SIGKILL|terminated"):
        cross_val_score(clf, X, y, cv=2, n_jobs=2)
    # The parent and the very estimator it passed stay usable: fit, predict, and a new n_jobs=2 run.
    assert clf.fit(X, y).predict(X).shape == (len(X),)  # in the parent the callback does nothing
    clf.set_params(callbacks=None)
    scores = cross_val_score(clf, X, y, cv=2, n_jobs=2)
    np.testing.assert_array_equal(scores, cross_val_score(clf, X, y, cv=2, n_jobs=1))


ARCHITECTURES = {
    "task": [Dense(24, activation="relu"), Dropout(0.2)],
    "deep": [Dense(8, activation="tanh"), Dense(8, activation="relu"), Dense(8, activation="relu")],
    "wide": [Dense(64, activation="relu")],
    "default": None,
}


def fit_task(name="task", random_state=0):
    """One task of a search: fit one architecture on digits and return its probabilities."""
    X, y = _digits(300)
    clf = NetClassifier(ARCHITECTURES[name], epochs=3, batch_size=32, random_state=random_state)
    return clf.fit(X, y).predict_proba(X)


@pytest.mark.slow
def test_a_task_gives_the_same_result_wherever_and_whenever_it_runs(tmp_path):
    first = fit_task()  # in the parent, before anything else
    # Process-level state a task must not depend on: other architectures in the trace caches
    # (more than the caches hold, so entries are evicted), Python's and NumPy's global random state.
    for seed, name in enumerate(["deep", "wide", "default", "deep", "wide"] * 2):
        fit_task(name, random_state=seed)
    random.seed(12345)
    np.random.seed(54321)
    np.testing.assert_array_equal(fit_task(), first)
    # In loky workers, in either order among other tasks.
    order_a = Parallel(n_jobs=2)(delayed(fit_task)(name) for name in ["task", "deep", "wide", "task"])
    order_b = Parallel(n_jobs=2)(delayed(fit_task)(name) for name in ["wide", "task", "default", "deep"])
    for result in (order_a[0], order_a[3], order_b[1]):
        np.testing.assert_array_equal(result, first)
    # In a fresh process with another TensorFlow thread budget.
    code = textwrap.dedent("""
        import sys, numpy as np
        sys.path.insert(0, sys.argv[1])
        import test_workers
        np.save(sys.argv[2], test_workers.fit_task())
    """)
    out = str(tmp_path / "task.npy")
    env = dict(os.environ, SKNET_NUM_THREADS="1")
    proc = subprocess.run([sys.executable, "-c", code, os.path.dirname(os.path.abspath(__file__)), out],
                          capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    np.testing.assert_array_equal(np.load(out), first)
