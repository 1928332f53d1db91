"""How ``X`` reaches the network: dense tensors, or the rows of a sparse matrix batch by batch.

A dense ``X`` is one float32 tensor; a training batch is gathered from it
inside the traced epoch. A scipy CSR matrix (``sknet._data`` turns CSC and
COO into CSR) becomes two ragged tensors, its values and its column indices
row by row, so that the same traced epoch gathers a batch's rows and builds
a ``tf.SparseTensor`` of ``batch_size`` rows: the whole matrix is never
densified. A network whose ``Input`` is sparse (sknet makes it so when the
spec starts with a ``Dense`` layer: a sparse-dense matmul, as
``keras.Input(sparse=True)`` does) consumes the sparse batch; any other
first layer gets the batch densified, one batch at a time.

An out-of-core ``X`` (:class:`sknet._stream.Rows`) stays on the host: the
trainer takes it block by block (:func:`blocks`), each block a dense tensor
of a whole number of batches.
"""

from concurrent.futures import ThreadPoolExecutor

import numpy as np
import scipy.sparse as sp
import tensorflow as tf

from .._stream import Rows, block_rows

_VALUES = tf.RaggedTensorSpec([None, None], tf.float32, ragged_rank=1, row_splits_dtype=tf.int64)
_COLUMNS = tf.RaggedTensorSpec([None, None], tf.int64, ragged_rank=1, row_splits_dtype=tf.int64)


def to_tensor(X):
    """``X`` for a trainer: a float32 tensor, ``(values, columns)`` ragged rows of a CSR matrix, or
    out-of-core :class:`sknet._stream.Rows` as they are (read block by block while training)."""
    if isinstance(X, Rows):
        return X
    if not sp.issparse(X):
        return tf.constant(np.asarray(X, dtype="float32"))
    splits = tf.constant(X.indptr.astype("int64"))
    values = tf.RaggedTensor.from_row_splits(tf.constant(X.data.astype("float32")), splits, validate=False)
    columns = tf.RaggedTensor.from_row_splits(tf.constant(X.indices.astype("int64")), splits, validate=False)
    return values, columns


def signature(x):
    """The ``tf.function`` input signature of what :func:`to_tensor` returned (a cache-key part)."""
    if isinstance(x, tuple):
        return _VALUES, _COLUMNS
    return tf.TensorSpec((None,) + tuple(x.shape[1:]), tf.float32 if isinstance(x, Rows) else x.dtype)


def n_rows(x):
    return int(x[0].nrows()) if isinstance(x, tuple) else int(x.shape[0])


def blocks(x, y, sw, order, batch_size):
    """``(x, y, sw, local_order)`` tensors of each block of rows ``order`` of ``x`` (host-side rows).

    In-memory ``x`` is one block: the tensors and ``order`` itself. Out-of-core
    :class:`sknet._stream.Rows` are read block by block in ``order``, a whole
    number of batches per block, the next block read in a background thread
    while the network trains on the current one; each block's ``local_order``
    is ``range(len(block))``, so that its batches hold the same rows, in the
    same order, as the in-memory path's.
    """
    if not isinstance(x, Rows):
        yield x, y, sw, tf.constant(order)
        return
    size = block_rows(x, batch_size)
    parts = [order[lo : lo + size] for lo in range(0, len(order), size)]
    with ThreadPoolExecutor(max_workers=1) as pool:
        pending = pool.submit(x.read, parts[0])
        for k, rows in enumerate(parts):
            host = pending.result()
            if k + 1 < len(parts):
                pending = pool.submit(x.read, parts[k + 1])
            idx = tf.constant(rows)
            yield tf.constant(host), tf.gather(y, idx), tf.gather(sw, idx), tf.range(len(rows), dtype=tf.int32)


def in_order(x, y, sw, batch_size):
    """``(x, y, sw)`` tensors of each block of every row of ``x``, in row order (validation data).

    :func:`blocks` over ``range(n_rows(x))``: in-memory ``x`` is one block,
    out-of-core :class:`sknet._stream.Rows` a whole number of ``batch_size``
    batches per block.
    """
    for xb, yb, swb, _ in blocks(x, y, sw, np.arange(n_rows(x), dtype="int32"), batch_size):
        yield xb, yb, swb


def sparse_input(model):
    """Whether ``model`` takes ``tf.SparseTensor`` input (``keras.Input(sparse=True)``)."""
    return bool(getattr(model.inputs[0], "sparse", False))


class Feed:
    """Batches of ``x`` in the form ``model`` takes (inside traced functions)."""

    def __init__(self, model):
        self.sparse = sparse_input(model)
        self.n_features = int(model.inputs[0].shape[-1])

    def _batch(self, values, columns):
        indices = tf.stack([values.value_rowids(), columns.flat_values], axis=1)
        shape = tf.stack([values.nrows(), tf.constant(self.n_features, tf.int64)])
        batch = tf.SparseTensor(indices, values.flat_values, shape)
        return batch if self.sparse else tf.sparse.to_dense(batch)

    def take(self, x, idx):
        """Rows ``idx`` of ``x``."""
        if isinstance(x, tuple):
            return self._batch(tf.gather(x[0], idx), tf.gather(x[1], idx))
        return tf.gather(x, idx)

    def rows(self, x, lo, hi):
        """Rows ``lo:hi`` of ``x``."""
        if isinstance(x, tuple):
            return self._batch(x[0][lo:hi], x[1][lo:hi])
        return x[lo:hi]


def predict_spec(model, input_shape):
    """The input signature of a traced prediction function for ``model``."""
    if sparse_input(model):
        return tf.SparseTensorSpec((None,) + tuple(input_shape), tf.float32)
    return tf.TensorSpec((None,) + tuple(input_shape), tf.float32)


def predict_input(chunk, spec):
    """A host chunk of rows (array or CSR) as the tensor ``spec`` describes."""
    if isinstance(spec, tf.SparseTensorSpec):
        coo = sp.coo_matrix(chunk)  # a dense chunk for a sparse-input network: one chunk at a time
        indices = np.stack([coo.row, coo.col], axis=1).astype("int64")
        return tf.SparseTensor(indices, coo.data.astype("float32"), coo.shape)
    if sp.issparse(chunk):
        chunk = chunk.toarray()  # one chunk at a time, never the whole matrix
    return tf.constant(np.asarray(chunk, dtype="float32"))


def distributed_blocks(strategy, x, y, sw, order, batch_size):
    """The global batches of rows ``order`` of out-of-core ``x``, each worker reading only its replicas' rows.

    Global batch ``k`` holds rows ``order[k * batch_size:(k + 1) * batch_size]``,
    as in memory; it is split into ``num_replicas_in_sync`` consecutive
    parts, and the input pipeline of each worker (``TF_CONFIG``'s task) reads
    only the parts of its own replicas: the workers share the reading, each
    one its own shard of every batch. ``y`` and ``sw`` are NumPy arrays.
    """
    spec = (
        tf.TensorSpec((None,) + tuple(x.shape[1:]), tf.float32),
        tf.TensorSpec((None,) + tuple(y.shape[1:]), tf.float32),
        tf.TensorSpec((None,), tf.float32),
    )

    def dataset_fn(context):
        replicas = context.num_replicas_in_sync
        local = replicas // context.num_input_pipelines
        mine = range(context.input_pipeline_id * local, (context.input_pipeline_id + 1) * local)

        def parts():
            for lo in range(0, len(order), batch_size):
                split = np.array_split(order[lo : lo + batch_size], replicas)
                for replica in mine:
                    rows = split[replica]
                    yield x.read(rows), y[rows], sw[rows]

        return tf.data.Dataset.from_generator(parts, output_signature=spec).prefetch(2 * local)

    return strategy.distribute_datasets_from_function(dataset_fn)
