"""Out-of-core ``X``: rows read from disk block by block, never materialised.

When ``X`` streams
------------------
``stream="auto"`` (the default) streams an ``X`` that is *out of core*, a
``np.memmap`` or an array-like that is not a NumPy array but has ``shape``,
``dtype`` and indexing (an h5py dataset, a zarr array), when a float32 copy
of it would take more than :data:`MEMORY_BUDGET` bytes (256 MiB). Smaller
out-of-core arrays, and everything already in memory, take the in-memory
path: one float32 tensor per fit, the fastest. ``stream=True`` streams any
dense ``X``; ``stream=False`` never streams.

What streaming keeps
--------------------
A streamed fit draws the same shuffle as an in-memory one, and reads each
block of :data:`BLOCK_BYTES` (a whole number of batches) in that shuffled
order. Every batch therefore holds the same rows in the same order as in
memory, and a fit on a memmap gives the same weights as a fit on the same
data in memory. Only ``y``, the sample weights and the permutation (a few
bytes per row) are held in memory.

Reading
-------
:class:`Rows` reads a block's rows in increasing order (one sequential pass
over the file per block) and puts them back in the shuffled order. A NumPy
memmap is read with ``np.take``; other array-likes with an increasing index
list (h5py, zarr), and, where that is not supported, run by run with slices,
the one thing every array-like has.
"""

import numbers

import numpy as np
import pandas as pd
import scipy.sparse as sp

MEMORY_BUDGET = 256 * 2**20
"""Bytes a float32 copy of an out-of-core ``X`` may take before ``stream="auto"`` streams it."""

BLOCK_BYTES = 32 * 2**20
"""Bytes of ``X`` read per block while streaming (two blocks are in flight at most)."""


def is_out_of_core(X):
    """Whether ``X`` lives outside memory: a ``np.memmap`` or a non-NumPy array-like with ``shape``/``dtype``."""
    if isinstance(X, np.memmap):
        return True
    if isinstance(X, (np.ndarray, list, tuple, pd.DataFrame, pd.Series)) or sp.issparse(X):
        return False
    return all(hasattr(X, name) for name in ("shape", "dtype", "__getitem__", "ndim"))


def float32_bytes(X):
    """Bytes of a float32 copy of ``X``."""
    return 4 * int(np.prod(X.shape, dtype=np.int64))


def should_stream(X, stream):
    """Whether ``X`` takes the streamed path under the ``stream`` parameter ("auto", True or False)."""
    if isinstance(X, Rows):
        return True
    if stream is False or sp.issparse(X) or not hasattr(X, "shape"):
        return False
    if stream is True:
        return True
    return is_out_of_core(X) and float32_bytes(X) > MEMORY_BUDGET


def block_rows(X, batch_size):
    """Rows per block: about :data:`BLOCK_BYTES`, a whole number of batches."""
    row_bytes = max(1, float32_bytes(X) // max(1, X.shape[0]))
    batches = max(1, BLOCK_BYTES // (row_bytes * batch_size))
    return batches * batch_size


def check_streamable(X):
    """Raise ``ValueError`` unless ``X`` is a numeric array-like of at least 2 dimensions and 1 row."""
    dtype = np.dtype(X.dtype)
    if dtype.kind not in "fiub":
        raise ValueError(f"X has dtype {dtype}; a streamed X must hold numbers (float, int, bool).")
    if len(X.shape) < 2:
        raise ValueError(f"Expected a 2-D (or N-D) X, got an array of shape {tuple(X.shape)}.")
    if X.shape[0] < 1:
        raise ValueError(f"Found array with 0 sample(s) (shape={tuple(X.shape)}) while a minimum of 1 is required.")


def check_finite(X, batch_size=1):
    """Raise ``ValueError`` if ``X`` holds NaN or infinity: one read, block by block."""
    if np.dtype(X.dtype).kind != "f":
        return
    step = block_rows(X, batch_size)
    for lo in range(0, X.shape[0], step):
        chunk = np.asarray(X[lo : lo + step])
        if not np.isfinite(chunk).all():
            row = lo + int(np.argwhere(~np.isfinite(chunk.reshape(len(chunk), -1)))[0, 0])
            raise ValueError(f"Input X contains NaN or infinity (first in row {row}).")


class Rows:
    """A view of rows of an out-of-core array, read as float32 on demand.

    Parameters
    ----------
    source : np.memmap or array-like
        The array; never modified, never read whole.
    index : range or ndarray of int, default=None
        The rows of ``source`` this view holds (all of them by default).
    """

    def __init__(self, source, index=None):
        self.source = source
        self.index = range(source.shape[0]) if index is None else index

    @property
    def shape(self):
        return (len(self.index),) + tuple(self.source.shape[1:])

    @property
    def ndim(self):
        return len(self.shape)

    dtype = np.dtype("float32")

    def __len__(self):
        return len(self.index)

    def __getitem__(self, key):
        """Rows ``key`` (a slice, an int array or a boolean mask) as a new view; nothing is read."""
        if isinstance(key, tuple):  # scikit-learn's _safe_indexing: array[key, ...]
            if len(key) != 2 or key[1] is not Ellipsis:
                raise IndexError("out-of-core X is indexed by rows only")
            key = key[0]
        if isinstance(key, numbers.Integral):
            key = slice(key, key + 1 if key != -1 else None)
        if isinstance(key, slice):
            return Rows(self.source, self.index[key])
        key = np.asarray(key)
        if key.dtype == bool:
            key = np.flatnonzero(key)
        return Rows(self.source, np.asarray(self.index)[key])

    def __array__(self, dtype=None, copy=None):
        out = self.read()
        return out if dtype is None else out.astype(dtype, copy=False)

    def read(self, positions=None):
        """Rows ``positions`` of this view (all by default), in that order, as a float32 array."""
        if positions is None:
            rows = self.index
        elif isinstance(self.index, range) and self.index.step == 1:
            rows = np.asarray(positions) + self.index.start
        else:
            rows = np.asarray(self.index)[positions]
        if isinstance(rows, range):
            return np.asarray(self.source[rows.start : rows.stop : rows.step], dtype=np.float32)
        return _read_rows(self.source, np.asarray(rows, dtype=np.int64))


def _read_rows(source, rows):
    """``source[rows]`` as float32, reading in increasing row order."""
    order = np.argsort(rows, kind="stable")
    increasing = rows[order]
    if len(increasing) and increasing[-1] - increasing[0] + 1 == len(increasing):  # one contiguous run
        data = np.asarray(source[int(increasing[0]) : int(increasing[-1]) + 1], dtype=np.float32)
    elif isinstance(source, np.ndarray):
        data = np.take(source, increasing, axis=0).astype(np.float32, copy=False)
    else:
        data = _read_increasing(source, increasing)
    out = np.empty_like(data)
    out[order] = data
    return out


def _read_increasing(source, rows):
    """Rows of a non-NumPy array-like: one index-list read, or one slice per run of consecutive rows."""
    try:
        return np.asarray(source[rows], dtype=np.float32)
    except (TypeError, IndexError, ValueError, NotImplementedError):
        pass
    breaks = np.flatnonzero(np.diff(rows) != 1) + 1
    runs = np.split(rows, breaks)
    return np.concatenate([np.asarray(source[int(r[0]) : int(r[-1]) + 1], dtype=np.float32) for r in runs])
