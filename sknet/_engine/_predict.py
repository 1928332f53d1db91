"""Prediction without ``model.predict``.

``model.predict`` pays tens of milliseconds of setup per call. Here a new
fitted model predicts through a traced ``outputs = f(weights, x)`` shared by
every model of its architecture (no tracing per fold or grid candidate), and
an estimator that is predicted repeatedly gets its own traced function with
the weights captured, so that a one-row prediction costs well under a
millisecond.
"""

import numpy as np
import scipy.sparse as sp
import tensorflow as tf

from .._compat import call_flat
from .._stream import Rows
from . import _cache
from ._inputs import predict_input
from ._state import clone_architecture, seeded_build

PREDICT_CHUNK = 8192


def as_float(X):
    """``X`` as float32 (a NumPy array or a CSR matrix; a copy only when the dtype differs).

    Out-of-core :class:`sknet._stream.Rows` stay as they are: :func:`chunked`
    reads them chunk by chunk.
    """
    if isinstance(X, Rows):
        return X
    if sp.issparse(X):
        return X.astype("float32", copy=False)
    return np.asarray(X, dtype="float32")


def chunked(fn, x):
    """``fn`` over ``x`` (array or CSR) in chunks of at most :data:`PREDICT_CHUNK` rows, as NumPy."""
    if x.shape[0] == 1:
        # A one-row matmul takes a matrix-vector kernel whose rounding differs
        # from the matrix-matrix one; two rows keep predictions independent of
        # how a data set is split into calls.
        two = sp.vstack([x, x], format="csr") if sp.issparse(x) else np.repeat(x, 2, axis=0)
        return fn(two).numpy()[:1]
    if x.shape[0] <= PREDICT_CHUNK:
        return fn(x).numpy()
    return np.concatenate(
        [fn(x[i : i + PREDICT_CHUNK]).numpy() for i in range(0, x.shape[0], PREDICT_CHUNK)]
    )


class Predictor:
    """A traced ``outputs = f(weights, x)`` shared by every model of one architecture."""

    def __init__(self, model, x_spec):
        self.template = model
        weights = [tf.TensorSpec(v.shape, v.dtype) for v in model.trainable_variables]
        others = [tf.TensorSpec(v.shape, v.dtype) for v in model.non_trainable_variables]
        template = self.template

        def forward(trainable, non_trainable, x):
            out, _ = template.stateless_call(trainable, non_trainable, x, training=False)
            return tf.cast(out, tf.float32)  # a reduced-precision network's outputs come back as float32

        # A closure per predictor: TensorFlow's retracing heuristics count calls
        # per Python function, and each architecture legitimately traces once.
        self._spec = x_spec
        self._fn = tf.function(
            forward, input_signature=[weights, others, x_spec], autograph=False
        ).get_concrete_function()

    def __call__(self, model, x):
        trainable = [v.value for v in model.trainable_variables]
        others = [v.value for v in model.non_trainable_variables]
        return chunked(lambda chunk: self._fn(trainable, others, predict_input(chunk, self._spec)), x)


def predictor_for(model, x_spec):
    """The cached :class:`Predictor` for this architecture and input spec."""
    key = _cache.model_signature(model, x_spec)
    predictor = _cache.lookup(_cache.PREDICTORS, key)
    if predictor is None:
        with seeded_build():
            predictor = Predictor(clone_architecture(model), x_spec)
        _cache.checkin(_cache.PREDICTORS, key, predictor)
    return predictor


class ServingCache:
    """Per-estimator predict path, never pickled or copied.

    The first calls use the shared :class:`Predictor` of the architecture (no
    tracing). An estimator predicted more than ``SERVE_AFTER`` times is being
    served: it gets its own traced function with the weights captured, which
    skips passing every weight per call (the one-row latency in ``make bench``).
    """

    SERVE_AFTER = 2

    def __init__(self):
        self.calls = 0
        self.shared = None
        self.dedicated = None

    def __reduce__(self):
        return (ServingCache, ())

    def __deepcopy__(self, memo):
        return ServingCache()

    def predict(self, model, x, x_spec):
        """``model``'s outputs for ``x`` (array or CSR); ``x_spec``: :func:`predict_spec`'s signature."""
        self.calls += 1
        if self.dedicated is None and self.calls > self.SERVE_AFTER:
            fn = tf.function(lambda batch: tf.cast(model(batch, training=False), tf.float32),
                             input_signature=[x_spec])
            self.dedicated = fn.get_concrete_function()
        if self.dedicated is not None:
            fn = self.dedicated
            return chunked(lambda chunk: call_flat(fn, [predict_input(chunk, x_spec)]), x)
        if self.shared is None:
            self.shared = predictor_for(model, x_spec)
        return self.shared(model, x)
