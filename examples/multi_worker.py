"""Multi-worker training: one NetClassifier over several processes (or machines).

``distribute=tf.distribute.MultiWorkerMirroredStrategy`` trains one network
synchronously on every worker listed in ``TF_CONFIG``. On a real cluster, run
this script on every machine with its own ``TF_CONFIG``::

    TF_CONFIG='{"cluster": {"worker": ["host1:12345", "host2:12345"]},
                "task": {"type": "worker", "index": 0}}' python multi_worker.py --worker

Without ``--worker`` the script starts two local workers on loopback ports and
waits for them: a runnable demo on one machine.

``--memmap`` streams ``X`` from a ``.npy`` file instead (each worker reads only
its own shard of every global batch): the way to fit data larger than one
machine's memory on a cluster.

Usage: python examples/multi_worker.py [--workers 2] [--epochs 10] [--memmap [PATH]]
"""

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile


def free_ports(n):
    """``n`` distinct free loopback ports (all held open while choosing)."""
    sockets = [socket.socket() for _ in range(n)]
    try:
        for s in sockets:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


def worker(epochs, memmap=None):
    """Runs on every worker: the same code, the same data, one shared model.

    With ``memmap`` (a ``.npy`` file every worker can open, e.g. on shared
    storage), ``X`` streams from disk and each worker reads only its own
    shard of every global batch.
    """
    from _quiet import quiet_tensorflow

    quiet_tensorflow()  # TensorFlow's start-up chatter off, its errors kept (the launcher never imports it)
    import numpy as np
    import tensorflow as tf
    from keras.layers import Dense
    from sklearn.datasets import load_digits

    from sknet import NetClassifier

    X, y = load_digits(return_X_y=True)
    X = X / 16 if memmap is None else np.load(memmap, mmap_mode="r")
    clf = NetClassifier(
        [Dense(64, activation="relu")],
        distribute=tf.distribute.MultiWorkerMirroredStrategy,  # a class is a callable (picklable)
        epochs=epochs,
        batch_size=64,
        random_state=0,
        stream=memmap is not None,
    ).fit(X, y)
    task = json.loads(os.environ["TF_CONFIG"])["task"]["index"]
    replicas = clf.model_.distribute_strategy.num_replicas_in_sync
    accuracy = clf.score(X, y)
    source = "a streamed memmap" if memmap is not None else "memory"
    print(f"worker {task}: {replicas} replicas in sync, X from {source}, training accuracy {accuracy:.4f}",
          flush=True)


def write_memmap(directory):
    """Digits (scaled to [0, 1]) as a float32 ``.npy`` file, the shape of data too large for memory."""
    import numpy as np
    from sklearn.datasets import load_digits

    path = os.path.join(directory, "digits.npy")
    np.save(path, (load_digits().data / 16).astype("float32"))
    return path


def launch(n_workers, epochs, memmap=None):
    """Start ``n_workers`` local worker processes with loopback TF_CONFIGs and wait."""
    cluster = {"worker": [f"127.0.0.1:{port}" for port in free_ports(n_workers)]}
    procs = []
    for index in range(n_workers):
        tf_config = {"cluster": cluster, "task": {"type": "worker", "index": index}}
        env = dict(os.environ, TF_CONFIG=json.dumps(tf_config))
        command = [sys.executable, __file__, "--worker", "--epochs", str(epochs)]
        command += ["--memmap", memmap] if memmap else []
        procs.append(subprocess.Popen(command, env=env, stdout=subprocess.PIPE, text=True))
    outputs = [p.communicate(timeout=600)[0] for p in procs]
    for output in outputs:  # one worker after the other, never interleaved
        print(output, end="")
    codes = [p.returncode for p in procs]
    if any(codes):
        raise SystemExit(f"workers exited with {codes}")
    return codes


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--worker", action="store_true", help="run as one worker (TF_CONFIG must be set)")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--memmap", nargs="?", const="", default=None,
                        help="stream X from a .npy memmap (without a path: digits written to a temporary file)")
    args = parser.parse_args(argv)
    if args.worker:
        worker(args.epochs, args.memmap)
    elif args.memmap == "":
        with tempfile.TemporaryDirectory() as tmp:
            launch(args.workers, args.epochs, write_memmap(tmp))
    else:
        launch(args.workers, args.epochs, args.memmap)


if __name__ == "__main__":
    main()
