"""Scale-out: joblib workers, Dask, tf.distribute, device assignment."""

import os
import subprocess
import sys
import textwrap

import joblib
import numpy as np
import pytest
from conftest import requires
from joblib import Parallel, delayed
from keras.layers import Dense
from sklearn.model_selection import GridSearchCV, cross_val_score

from sknet import NetClassifier, _parallel


@pytest.mark.parametrize(
    "environ, worker, expected",
    [
        ({}, False, None),  # main process: TensorFlow's defaults
        ({"OMP_NUM_THREADS": "1"}, False, None),  # a user's BLAS setting is not ours to copy
        ({"OMP_NUM_THREADS": "1"}, True, 1),  # joblib worker: joblib's budget
        ({"OMP_NUM_THREADS": "4"}, True, 4),
        ({"SKNET_NUM_THREADS": "3"}, False, 3),  # explicit override anywhere
        ({"SKNET_NUM_THREADS": "3", "OMP_NUM_THREADS": "1"}, True, 3),
        ({"OMP_NUM_THREADS": "1", "TF_NUM_INTRAOP_THREADS": "2"}, True, None),  # the user decided
        ({"SKNET_NUM_THREADS": "many"}, False, None),
    ],
)
def test_thread_budget(environ, worker, expected):
    assert _parallel.thread_budget(environ, worker) == expected


def test_round_robin_device_assignment():
    gpus = ["/GPU:0", "/GPU:1"]
    assert [_parallel.assign_device(i, gpus) for i in range(5)] == ["/GPU:0", "/GPU:1", "/GPU:0", "/GPU:1", "/GPU:0"]
    assert _parallel.assign_device(3, []) is None


def _tensorflow_threads():
    """The threads of TensorFlow's inter-op pool (named ``tf_Compute``) once it has run an op.

    ``tf.config.threading.get_*_parallelism_threads()`` report only what was set through that API
    (0 otherwise), not the pools TensorFlow built from ``TF_NUM_*_THREADS``; the OS threads are the truth.
    """
    import os

    import tensorflow as tf

    import sknet  # noqa: F401  (importing sknet applies the budget, before TensorFlow starts)

    tf.reduce_sum(tf.matmul(tf.ones((64, 64)), tf.ones((64, 64)))).numpy()
    names = [open(f"/proc/self/task/{task}/comm").read().strip() for task in os.listdir("/proc/self/task")]
    env = (os.environ.get("TF_NUM_INTRAOP_THREADS"), os.environ.get("TF_NUM_INTEROP_THREADS"))
    return names.count("tf_Compute"), env


linux_only = pytest.mark.skipif(not os.path.isdir("/proc/self/task"), reason="reads /proc/self/task")
# TensorFlow < 2.21 leaves its pool threads unnamed ("python"), so they cannot be told apart (checked on 2.16 to 2.20).
names_pool_threads = requires("tensorflow", "2.21", "its inter-op pool threads are named tf_Compute")


@linux_only
@names_pool_threads
def test_joblib_workers_cap_tensorflow_threads():
    budget = max(1, joblib.cpu_count() // 2)  # joblib's per-worker share for n_jobs=2
    results = Parallel(n_jobs=2)(delayed(_tensorflow_threads)() for _ in range(2))
    assert results == [(budget, (str(budget), str(budget)))] * 2


@linux_only
@names_pool_threads
def test_sknet_num_threads_sizes_tensorflows_pools():
    code = "import test_parallel; print(test_parallel._tensorflow_threads()[0])"
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([os.path.dirname(__file__)] + sys.path), SKNET_NUM_THREADS="3")
    env.pop("TF_NUM_INTRAOP_THREADS", None)
    env.pop("TF_NUM_INTEROP_THREADS", None)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert out.returncode == 0, out.stderr[-2000:]
    assert int(out.stdout.split()[-1]) == 3  # in the main process too, whatever the core count


class _FakeConfig:
    """Records what ``configure_worker_devices`` asks of ``tf.config``."""

    def __init__(self, gpus, started=False):
        self.gpus, self.started, self.visible, self.growth = gpus, started, None, {}

    def list_physical_devices(self, kind):
        return list(self.gpus) if kind == "GPU" else []

    def set_visible_devices(self, devices, kind):
        if self.started:
            raise RuntimeError("Visible devices cannot be modified after being initialized")
        self.visible = (list(devices), kind)

    def set_memory_growth(self, device, enable):
        self.growth[device] = enable


@pytest.fixture
def fake_worker(monkeypatch):
    import tensorflow as tf

    def make(index, gpus, started=False, worker=True):
        fake = _FakeConfig(gpus, started)
        monkeypatch.setattr(_parallel, "in_joblib_worker", lambda: worker)
        monkeypatch.setattr(_parallel, "worker_index", lambda: index)
        monkeypatch.setattr(tf.config, "list_physical_devices", fake.list_physical_devices)
        monkeypatch.setattr(tf.config, "set_visible_devices", fake.set_visible_devices)
        monkeypatch.setattr(tf.config.experimental, "set_memory_growth", fake.set_memory_growth)
        return fake

    return make


@pytest.mark.parametrize("index, chosen", [(0, "GPU:0"), (1, "GPU:1"), (2, "GPU:2"), (3, "GPU:0"), (5, "GPU:2")])
def test_each_worker_gets_one_gpu_with_memory_growth(fake_worker, index, chosen):
    fake = fake_worker(index, ["GPU:0", "GPU:1", "GPU:2"])
    assert _parallel.configure_worker_devices() == chosen
    assert fake.visible == ([chosen], "GPU")
    assert fake.growth == {chosen: True}


def test_worker_devices_left_alone_without_gpus_or_outside_workers(fake_worker):
    fake = fake_worker(0, [])
    assert _parallel.configure_worker_devices() is None
    assert fake.visible is None and fake.growth == {}
    fake = fake_worker(0, ["GPU:0", "GPU:1"], worker=False)
    assert _parallel.configure_worker_devices() is None
    assert fake.visible is None and fake.growth == {}


def test_worker_devices_warn_once_tensorflow_started(fake_worker):
    fake = fake_worker(1, ["GPU:0", "GPU:1"], started=True)
    with pytest.warns(UserWarning, match="could not pin this joblib worker to one GPU"):
        assert _parallel.configure_worker_devices() is None
    assert fake.growth == {}


def test_worker_index_from_loky_process_names(monkeypatch):
    import multiprocessing

    for name, index in [("LokyProcess-1", 0), ("LokyProcess-4", 3), ("MainProcess", 0)]:
        monkeypatch.setattr(multiprocessing.current_process(), "name", name)
        assert _parallel.worker_index() == index
        assert _parallel.in_joblib_worker() == name.startswith("LokyProcess")


@pytest.mark.slow
def test_grid_search_n_jobs_2_equals_n_jobs_1(digits):
    X, y = digits
    X, y = X[:600], y[:600]
    grid = {"layers__0__units": [8, 32], "optimizer__learning_rate": [1e-3, 1e-2]}
    net = NetClassifier([Dense(16, activation="relu")], epochs=3, random_state=0)
    serial = GridSearchCV(net, grid, cv=2, n_jobs=1).fit(X, y)
    parallel = GridSearchCV(net, grid, cv=2, n_jobs=2).fit(X, y)
    np.testing.assert_allclose(parallel.cv_results_["mean_test_score"], serial.cv_results_["mean_test_score"])
    assert parallel.best_params_ == serial.best_params_
    scores = cross_val_score(net, X, y, cv=2, n_jobs=-1)
    np.testing.assert_allclose(scores, cross_val_score(net, X, y, cv=2))


@pytest.mark.slow
def test_dask_local_cluster_grid_search(digits):
    distributed = pytest.importorskip("distributed")
    import joblib

    X, y = digits
    X, y = X[:400], y[:400]
    grid = {"layers__0__units": [8, 16]}
    net = NetClassifier([Dense(16, activation="relu")], epochs=2, random_state=0)
    local = GridSearchCV(net, grid, cv=2).fit(X, y)
    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1", dashboard_address=None
    ) as cluster, distributed.Client(cluster):
        with joblib.parallel_config(backend="dask"):
            remote = GridSearchCV(net, grid, cv=2).fit(X, y)
    np.testing.assert_allclose(remote.cv_results_["mean_test_score"], local.cv_results_["mean_test_score"])


_MIRRORED = textwrap.dedent(
    """
    import numpy as np
    import tensorflow as tf

    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(
        cpu, [tf.config.LogicalDeviceConfiguration(), tf.config.LogicalDeviceConfiguration()]
    )
    from keras.layers import Dense
    from sklearn.datasets import load_iris
    from sknet import NetClassifier

    X, y = load_iris(return_X_y=True)
    X = (X - X.mean(0)) / X.std(0)
    kw = dict(layers=[Dense(16, activation="relu")], epochs=40, batch_size=30,
              optimizer__learning_rate=0.01, random_state=0)
    mirrored = NetClassifier(distribute="mirrored", **kw).fit(X, y)
    single = NetClassifier(**kw).fit(X, y)
    assert len(tf.config.list_logical_devices("CPU")) == 2
    replicas = mirrored.model_.distribute_strategy.num_replicas_in_sync
    print("replicas", replicas)
    print("scores", mirrored.score(X, y), single.score(X, y))
    assert replicas == 2
    assert mirrored.score(X, y) > 0.9 and single.score(X, y) > 0.9
    agree = (mirrored.predict(X) == single.predict(X)).mean()
    print("agreement", agree)
    assert agree > 0.9
    assert mirrored.history_["loss"][-1] < mirrored.history_["loss"][0]
    import pickle
    from sklearn.base import clone
    restored = pickle.loads(pickle.dumps(mirrored))  # the stored "mirrored" is a string: picklable
    assert (restored.predict(X) == mirrored.predict(X)).all()
    assert clone(mirrored).distribute == "mirrored"
    stopped = NetClassifier(distribute="mirrored", validation_split=0.2, early_stopping=True, patience=2,
                            metrics=["accuracy"], **dict(kw, epochs=200)).fit(X, y)
    assert {"loss", "accuracy", "val_loss", "val_accuracy"} <= set(stopped.history_)
    print("early stopping after", stopped.n_iter_)
    assert stopped.n_iter_ < 200
    import numpy as np
    # Warm starts: under a new "mirrored" strategy per fit (the model moves), under
    # one strategy object (trained in place), and after a pickle round trip.
    for distribute in ["mirrored", tf.distribute.MirroredStrategy()]:
        warm = NetClassifier(distribute=distribute, warm_start=True, **dict(kw, epochs=2)).fit(X, y)
        before = warm.predict_proba(X)
        try:
            warm.fit(X * 1e30, y)
            raise AssertionError("no FloatingPointError")
        except FloatingPointError:
            pass
        assert np.array_equal(warm.predict_proba(X), before), "a diverged warm fit changed the weights"
        warm.fit(X, y)  # and it still continues from where it was
        assert warm.history_.n_epochs == 4
        assert warm.model_.optimizer.iterations.numpy() == 4 * 5  # 150 rows / batch 30, 4 epochs
    loaded = pickle.loads(pickle.dumps(NetClassifier(distribute="mirrored", warm_start=True,
                                                     **dict(kw, epochs=2)).fit(X, y)))
    loaded.fit(X, y)
    assert loaded.history_.n_epochs == 4 and loaded.model_.optimizer.iterations.numpy() == 20
    online = NetClassifier(distribute="mirrored", **kw)
    for _ in range(3):
        online.partial_fit(X, y, classes=[0, 1, 2])
    assert online.model_.optimizer.iterations.numpy() == 3 * 5 and online.history_.n_epochs == 3
    print("warm starts ok")
    """
)


@pytest.mark.slow
def test_mirrored_strategy_on_two_logical_cpus():
    out = subprocess.run([sys.executable, "-c", _MIRRORED], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr[-3000:]
    assert "replicas 2" in out.stdout
    assert "warm starts ok" in out.stdout


def test_bad_distribute_values(iris):
    X, y = iris
    must = r"'distribute' parameter of NetClassifier must be a str among \{'mirrored'\}.* Got 'tpu'"
    with pytest.raises(ValueError, match=must):
        NetClassifier(distribute="tpu", epochs=1).fit(X, y)
    with pytest.raises(TypeError, match=r"'distribute' parameter of NetClassifier must be .* Got 3 instead"):
        NetClassifier(distribute=3, epochs=1).fit(X, y)
    with pytest.raises(TypeError, match="not a tf.distribute.Strategy"):
        NetClassifier(distribute=dict, epochs=1).fit(X, y)


@pytest.mark.slow
def test_multi_worker_example_two_local_workers():
    """Two local workers train one model, on X in memory and on X streamed from a memmap (each
    worker reading its own shard of every batch): the same global batches, the same model."""
    example = os.path.join(os.path.dirname(__file__), os.pardir, "examples", "multi_worker.py")
    accuracies = {}
    for source, args in [("memory", []), ("a streamed memmap", ["--memmap"])]:
        out = subprocess.run([sys.executable, example, "--epochs", "3", *args], capture_output=True, text=True,
                             timeout=600)
        assert out.returncode == 0, out.stderr[-3000:]
        lines = sorted(line for line in out.stdout.splitlines() if line.startswith("worker"))
        assert len(lines) == 2 and all(f"2 replicas in sync, X from {source}" in line for line in lines)
        assert lines[0].split("accuracy")[1] == lines[1].split("accuracy")[1]  # one shared model
        accuracies[source] = float(lines[0].split("accuracy")[1])
    assert accuracies["memory"] == accuracies["a streamed memmap"] > 0.8


def test_distributed_loss_keeps_its_arguments():
    """The per-example loss of a distributed fit is the user's loss with every argument (Huber's delta)."""
    import keras
    import tensorflow as tf

    from sknet import NetRegressor

    rng = np.random.RandomState(0)
    X = rng.randn(64, 3).astype("float32")
    y = (5 * X[:, 0] + 3).astype("float32")  # residuals well above delta at first
    reg = NetRegressor([Dense(4, activation="relu")], loss=keras.losses.Huber(delta=0.1), epochs=1,
                       batch_size=16, random_state=0, distribute=lambda: tf.distribute.MirroredStrategy(["/cpu:0"]))
    reg.fit(X, y, validation_data=(X, y))
    expected = float(keras.losses.Huber(delta=0.1)(y[:, None], reg.model_.predict(X, verbose=0)))
    assert reg.history_["val_loss"][-1] == pytest.approx(expected, rel=1e-5)
