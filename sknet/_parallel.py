"""Scale-out helpers: TensorFlow thread pools in joblib workers, device assignment.

TensorFlow ignores the limits joblib sets for BLAS libraries
(``OMP_NUM_THREADS`` etc.), so ``GridSearchCV(..., n_jobs=k)`` would start
``k`` workers that each use every core: oversubscription. This module runs
when sknet is imported, *before* TensorFlow starts, and gives TensorFlow the
same per-worker budget joblib computed.

Rules, in order:

1. ``TF_NUM_INTRAOP_THREADS`` / ``TF_NUM_INTEROP_THREADS`` already set: left alone.
2. ``SKNET_NUM_THREADS=n`` set: both pools get ``n`` threads (any process).
3. In a joblib/loky worker: both pools get joblib's ``OMP_NUM_THREADS``
   (``cores // n_jobs``).
4. Otherwise nothing is changed: the main process keeps TensorFlow's defaults.
"""

import multiprocessing
import os
import warnings

_THREAD_VARS = ("TF_NUM_INTRAOP_THREADS", "TF_NUM_INTEROP_THREADS")


def in_joblib_worker():
    """Whether this process is a joblib (loky) worker."""
    return multiprocessing.current_process().name.startswith("LokyProcess")


def thread_budget(environ=None, worker=None):
    """The thread count sknet gives TensorFlow's pools, or None to leave them alone."""
    environ = os.environ if environ is None else environ
    worker = in_joblib_worker() if worker is None else worker
    if any(var in environ for var in _THREAD_VARS):
        return None
    value = environ.get("SKNET_NUM_THREADS")
    if value is None and worker:
        value = environ.get("OMP_NUM_THREADS")
    try:
        return max(1, int(value)) if value is not None else None
    except ValueError:
        return None


def configure_threads():
    """Apply :func:`thread_budget` through the environment, before TensorFlow starts."""
    budget = thread_budget()
    if budget is not None:
        for var in _THREAD_VARS:
            os.environ[var] = str(budget)
    return budget


def assign_device(worker_index, devices):
    """Round-robin device for a worker: ``devices[worker_index % len(devices)]``, or None.

    Parameters
    ----------
    worker_index : int
        0-based index of the worker (e.g. a joblib or Dask worker number).
    devices : list of str
        Device names, e.g. ``["/GPU:0", "/GPU:1"]``.
    """
    if not devices:
        return None
    return devices[worker_index % len(devices)]


def worker_index():
    """A stable 0-based index of this worker process (loky names them LokyProcess-<n>)."""
    name = multiprocessing.current_process().name
    tail = name.rsplit("-", 1)[-1]
    return int(tail) - 1 if tail.isdigit() else 0


def configure_worker_devices():
    """In a joblib worker on a multi-GPU machine: one GPU per worker, memory growth on.

    Workers take GPUs round-robin by worker index. Does nothing outside joblib
    workers, without GPUs, or once TensorFlow's runtime has started.
    """
    if not in_joblib_worker():
        return None
    import tensorflow as tf

    gpus = tf.config.list_physical_devices("GPU")
    chosen = assign_device(worker_index(), gpus)
    if chosen is None:
        return None
    try:
        tf.config.set_visible_devices([chosen], "GPU")
        tf.config.experimental.set_memory_growth(chosen, True)
    except RuntimeError:  # the runtime already started in this worker
        warnings.warn("sknet could not pin this joblib worker to one GPU: TensorFlow had started.", stacklevel=2)
        return None
    return chosen


def resolve_strategy(distribute):
    """A ``tf.distribute.Strategy`` from the ``distribute`` parameter.

    ``"mirrored"`` mirrors over every local GPU, or over every logical CPU
    device when there is no GPU (e.g. CPUs split with
    ``tf.config.set_logical_device_configuration``).
    """
    import tensorflow as tf

    if isinstance(distribute, tf.distribute.Strategy):
        return distribute
    if isinstance(distribute, str):
        if distribute != "mirrored":
            raise ValueError(f"distribute={distribute!r}: the only strategy name is 'mirrored'; "
                             "pass a callable that returns a tf.distribute.Strategy for others.")
        devices = [d.name for d in tf.config.list_logical_devices("GPU")]
        devices = devices or [d.name for d in tf.config.list_logical_devices("CPU")]
        return tf.distribute.MirroredStrategy(devices=devices)
    if callable(distribute):
        strategy = distribute()
        if not isinstance(strategy, tf.distribute.Strategy):
            raise TypeError(f"the distribute callable returned {type(strategy).__name__}, "
                            "not a tf.distribute.Strategy.")
        return strategy
    raise TypeError("distribute must be None, 'mirrored', a tf.distribute.Strategy or a callable "
                    f"returning one; got {type(distribute).__name__}.")
