"""Threads: what docs/guide/scaling.md ("Thread safety") promises.

* ``predict`` / ``predict_proba`` on one fitted estimator from many threads at
  once give exactly the answers of a single thread (the shared trace caches
  and the per-estimator serving path are used concurrently);
* fits of *different* estimators in several threads at once give exactly the
  results of the same fits run one by one (fixed ``random_state``).
"""

import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from keras.layers import Dense, Dropout

from sknet import NetClassifier, NetRegressor

N_THREADS = 16


def _run_together(fns):
    """Call every ``fn`` in its own thread, all released at once; results in order (errors re-raised)."""
    barrier = threading.Barrier(len(fns))

    def start(fn):
        barrier.wait()
        return fn()

    with ThreadPoolExecutor(max_workers=len(fns)) as pool:
        return [f.result() for f in [pool.submit(start, fn) for fn in fns]]


@pytest.mark.parametrize("method", ["predict", "predict_proba"])
def test_predict_from_16_threads_is_identical(digits, method):
    X, y = digits
    clf = NetClassifier([Dense(32, activation="relu"), Dropout(0.2)], epochs=2, random_state=0).fit(X, y)
    slices = [slice(None), slice(0, 1), slice(5, 300), slice(100, None)]
    # One call per slice, alone: the reference for the same rows in the same batch (on a CPU without
    # AVX-512 a row's float32 result depends on its position in the batch, so each slice has its own).
    reference = {(s.start, s.stop): getattr(clf, method)(X[s]) for s in slices}
    fresh = NetClassifier([Dense(32, activation="relu"), Dropout(0.2)], epochs=2, random_state=0).fit(X, y)
    # Threads ask for all rows, one row and slices, through the shared predictor (a fresh estimator's
    # first calls) and the dedicated serving function it switches to after a few calls.
    results = _run_together([(lambda s=s: (s, [getattr(fresh, method)(X[s]) for _ in range(4)]))
                             for s in slices * (N_THREADS // 4)])
    for s, answers in results:
        for answer in answers:
            np.testing.assert_array_equal(answer, reference[(s.start, s.stop)])


def _fits():
    """Four different estimators (architectures, targets) and their data; fixed seeds."""
    rng = np.random.RandomState(0)
    X = rng.randn(300, 8).astype("float32")
    y_cls = (X[:, 0] + X[:, 1] > 0).astype(int) + (X[:, 2] > 1)
    Y_reg = X[:, :2] @ rng.randn(2, 2)
    return [
        (lambda: NetClassifier([Dense(16, activation="relu")], epochs=3, random_state=1), X, y_cls),
        (lambda: NetClassifier([Dense(24, activation="tanh"), Dropout(0.3)], epochs=3, batch_size=16,
                               validation_split=0.2, random_state=2), X, y_cls),
        (lambda: NetRegressor([Dense(12, activation="relu"), Dense(12, activation="relu")], epochs=3,
                              random_state=3), X, Y_reg),
        (lambda: NetClassifier(None, optimizer="sgd", epochs=3, random_state=4), X, y_cls.astype(str)),
    ]


def _fit_and_predict(est, X, y):
    est.fit(X, y)
    out = est.predict_proba(X) if hasattr(est, "predict_proba") else est.predict(X)
    return out, est.history_["loss"]


@pytest.mark.parametrize("made", ["before the threads", "inside the threads"])
def test_fits_in_4_threads_equal_fits_one_by_one(made):
    # "inside": each thread creates its estimator and Keras layer templates while others fit. Creating a
    # layer draws a seed from Python's ``random``; sknet's builds give every seed an explicit value, so
    # another thread's draws never reach a fit.
    fits = _fits()
    sequential = [_fit_and_predict(make(), X, y) for make, X, y in fits]
    for _ in range(3):  # threads share the cached trainers and predictors
        if made == "inside the threads":
            work = [(lambda make=make, X=X, y=y: _fit_and_predict(make(), X, y)) for make, X, y in fits]
        else:
            estimators = [make() for make, _, _ in fits]
            work = [(lambda est=est, X=X, y=y: _fit_and_predict(est, X, y))
                    for est, (_, X, y) in zip(estimators, fits, strict=True)]
        together = _run_together(work)
        for (out, loss), (ref_out, ref_loss) in zip(together, sequential, strict=True):
            np.testing.assert_array_equal(out, ref_out)
            assert loss == ref_loss


def test_same_architecture_fitted_in_4_threads(digits):
    """Four fits sharing one cached trainer (same architecture, different seeds) at once."""
    X, y = digits
    X, y = X[:600], y[:600]
    make = lambda seed: NetClassifier([Dense(32, activation="relu")], epochs=2, random_state=seed)  # noqa: E731
    sequential = [make(seed).fit(X, y).predict_proba(X) for seed in range(4)]
    estimators = [make(seed) for seed in range(4)]
    together = _run_together([(lambda est=est: est.fit(X, y).predict_proba(X)) for est in estimators])
    for out, ref in zip(together, sequential, strict=True):
        np.testing.assert_array_equal(out, ref)
