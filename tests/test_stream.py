"""Out-of-core X (sknet._stream): memmaps and array-likes stream block by block, with in-memory answers."""

import numpy as np
import pytest
from keras.layers import Dense, Dropout
from sklearn.datasets import load_digits

from sknet import NetClassifier, NetRegressor, NetTransformer, _stream
from sknet._stream import Rows, should_stream

BLOCK = 64 * 64 * 4  # 64 digits rows per block: 2 batches of 32, a partial last block


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    return (X[:500] / 16).astype("float32"), y[:500]


@pytest.fixture
def memmap(tmp_path, digits):
    X, _ = digits
    path = tmp_path / "X.npy"
    out = np.lib.format.open_memmap(path, mode="w+", dtype="float32", shape=X.shape)
    out[:] = X
    out.flush()
    return np.load(path, mmap_mode="r")


@pytest.fixture
def small_blocks(monkeypatch):
    monkeypatch.setattr(_stream, "BLOCK_BYTES", BLOCK)


class SliceOnly:
    """An array-like that has shape, dtype and slicing, nothing more (the weakest contract);
    it records every read and refuses to be read whole."""

    def __init__(self, array, max_rows):
        self._array, self.max_rows, self.reads = array, max_rows, []
        self.shape, self.dtype, self.ndim = array.shape, array.dtype, array.ndim

    def __getitem__(self, key):
        if not isinstance(key, slice):
            raise TypeError("slices only")
        out = self._array[key]
        if len(out) > self.max_rows:
            raise AssertionError(f"read {len(out)} rows at once")
        self.reads.append(len(out))
        return out

    def __len__(self):
        return self.shape[0]


class IncreasingLists(SliceOnly):
    """Like h5py: slices, and lists of increasing row indices."""

    def __getitem__(self, key):
        if isinstance(key, slice):
            return super().__getitem__(key)
        key = np.asarray(key)
        if np.any(np.diff(key) <= 0):
            raise TypeError("Indexing elements must be in increasing order")
        self.reads.append(len(key))
        return self._array[key]


def net(**kwargs):
    params = dict(layers=[Dense(16, activation="relu"), Dropout(0.1)], epochs=3, batch_size=32, random_state=0)
    return NetClassifier(**{**params, **kwargs})


def test_the_decision_follows_the_documented_budget(memmap, monkeypatch):
    assert not should_stream(memmap, "auto")  # 500 x 64 float32: under the budget
    assert should_stream(np.asarray(memmap), True)
    assert should_stream(memmap, True)
    monkeypatch.setattr(_stream, "MEMORY_BUDGET", memmap.nbytes - 1)
    assert should_stream(memmap, "auto")
    assert not should_stream(memmap, False)
    assert not should_stream(np.array(memmap), "auto")  # in memory already: the fast path
    assert should_stream(SliceOnly(np.array(memmap), 10**6), "auto")


@pytest.mark.parametrize("split", [0.0, 0.2])
def test_a_streamed_fit_equals_the_in_memory_fit(digits, memmap, small_blocks, split):
    X, y = digits
    weights = np.where(np.arange(len(y)) % 7 == 0, 0.0, 1.0 + (y % 3))  # zero weights drop rows
    loaded = net(validation_split=split).fit(X, y, sample_weight=weights)
    streamed = net(validation_split=split, stream=True).fit(memmap, y, sample_weight=weights)
    assert streamed.history_["loss"] == loaded.history_["loss"]
    assert streamed.history_.get("val_loss") == loaded.history_.get("val_loss")
    np.testing.assert_array_equal(streamed.predict_proba(memmap), loaded.predict_proba(X))


def test_auto_streams_an_out_of_core_X_over_the_budget(digits, memmap, small_blocks, monkeypatch):
    X, y = digits
    monkeypatch.setattr(_stream, "MEMORY_BUDGET", 1024)
    reads = []
    read = Rows.read
    monkeypatch.setattr(Rows, "read", lambda self, positions=None: reads.append(1) or read(self, positions))
    streamed = net().fit(memmap, y)
    assert len(reads) == 3 * -(-len(y) // 64)  # three epochs of blocks
    np.testing.assert_array_equal(streamed.predict_proba(memmap), net().fit(X, y).predict_proba(X))


@pytest.mark.parametrize("kind", [SliceOnly, IncreasingLists])
def test_array_likes_stream_without_being_read_whole(digits, small_blocks, kind):
    X, y = digits
    source = kind(X, max_rows=64)
    # Validation blocks are whole evaluation batches (1,024 rows here).
    streamed = net(stream=True).fit(source, y, validation_data=(kind(X[:100], max_rows=1024), y[:100]))
    assert max(source.reads) <= 64
    loaded = net().fit(X, y, validation_data=(X[:100], y[:100]))
    assert streamed.history_["val_loss"] == loaded.history_["val_loss"]
    np.testing.assert_array_equal(streamed.predict(X), loaded.predict(X))


def test_h5py_and_zarr_arrays_stream(digits, tmp_path, small_blocks):
    import h5py
    import zarr

    X, y = digits
    with h5py.File(tmp_path / "X.h5", "w") as f:
        f["X"] = X
    z = zarr.open_array(str(tmp_path / "X.zarr"), mode="w", shape=X.shape, dtype="float32", chunks=(100, 64))
    z[:] = X
    loaded = net(validation_split=0.2).fit(X, y)
    with h5py.File(tmp_path / "X.h5", "r") as f:
        for source in (f["X"], zarr.open_array(str(tmp_path / "X.zarr"), mode="r")):
            assert should_stream(source, True) and not should_stream(source, "auto")  # 128 kB: loaded
            streamed = net(validation_split=0.2, stream=True).fit(source, y)
            assert streamed.history_["val_loss"] == loaded.history_["val_loss"]
            np.testing.assert_array_equal(streamed.predict_proba(source), loaded.predict_proba(X))


def test_predict_and_transform_read_in_chunks(digits, memmap, small_blocks, monkeypatch):
    X, y = digits
    monkeypatch.setattr("sknet._engine._predict.PREDICT_CHUNK", 128)
    clf = net().fit(X, y)
    source = SliceOnly(X, max_rows=128)
    with pytest.raises(AssertionError, match="read 500 rows"):
        SliceOnly(X, max_rows=128)[:]
    np.testing.assert_array_equal(net(stream=True).set_params().fit(X, y).predict_proba(source),
                                  clf.predict_proba(X))
    tr = NetTransformer([Dense(8, activation="relu")], epochs=2, random_state=0, stream=True).fit(X, y)
    np.testing.assert_array_equal(tr.transform(SliceOnly(X, max_rows=128)), tr.transform(X))
    np.testing.assert_array_equal(clf.predict(memmap), clf.predict(X))


def test_partial_fit_and_regression_stream(digits, memmap, small_blocks):
    X, y = digits
    target = X[:, :3].sum(axis=1)
    a = NetRegressor([Dense(8)], epochs=2, random_state=0).fit(X, target)
    b = NetRegressor([Dense(8)], epochs=2, random_state=0, stream=True).fit(memmap, target)
    np.testing.assert_array_equal(a.predict(X), b.predict(memmap))
    c = net(stream=True).partial_fit(memmap, y, classes=np.arange(10))
    d = net().partial_fit(X, y, classes=np.arange(10))
    np.testing.assert_array_equal(c.predict_proba(X), d.predict_proba(X))


def test_the_users_memmap_is_untouched(tmp_path, digits, small_blocks):
    X, y = digits
    path = tmp_path / "X.npy"
    np.save(path, X)
    writable = np.load(path, mmap_mode="r+")
    net(stream=True, validation_split=0.2).fit(writable, y).predict(writable)
    np.testing.assert_array_equal(np.load(path), X)


def test_bad_streamed_input_is_refused_before_training(digits, tmp_path):
    X, y = digits
    bad = X.copy()
    bad[321, 5] = np.nan
    path = tmp_path / "bad.npy"
    np.save(path, bad)
    clf = net(stream=True)
    with pytest.raises(ValueError, match="NaN or infinity .*row 321"):
        clf.fit(np.load(path, mmap_mode="r"), y)
    assert not hasattr(clf, "model_")
    strings = np.lib.format.open_memmap(tmp_path / "s.npy", mode="w+", dtype="U3", shape=(10, 2))
    with pytest.raises(ValueError, match="dtype <U3"):
        clf.fit(strings, y[:10])
    with pytest.raises(ValueError, match="inconsistent numbers of samples"):
        clf.fit(np.load(path, mmap_mode="r")[:100], y)
    fitted = net().fit(X, y)
    with pytest.raises(ValueError, match="64 features"):
        fitted.set_params(stream=True).predict(SliceOnly(X[:, :10], max_rows=500))


def test_each_worker_reads_only_its_own_shard_of_every_batch(digits):
    import tensorflow as tf

    from sknet._engine._inputs import distributed_blocks

    X, y = digits
    order = np.random.default_rng(0).permutation(len(y)).astype("int32")

    class OnePipeline:  # what MultiWorkerMirroredStrategy does on worker ``index`` of 2, one replica each
        def __init__(self, index):
            self.context = tf.distribute.InputContext(2, index, 2)

        def distribute_datasets_from_function(self, fn):
            return fn(self.context)

    read = {}
    for worker in (0, 1):
        rows = Rows(X)
        rows.read = lambda positions, rows=rows, worker=worker: (
            read.setdefault(worker, []).extend(positions) or Rows.read(rows, positions))
        dataset = distributed_blocks(OnePipeline(worker), rows, y.astype("float32"), np.ones(len(y), "float32"),
                                     order, 64)
        parts = list(dataset)
        np.testing.assert_array_equal(np.concatenate([xb.numpy() for xb, _, _ in parts]), X[read[worker]])
        np.testing.assert_array_equal(np.concatenate([yb.numpy() for _, yb, _ in parts]), y[read[worker]])
    batches = [order[lo : lo + 64] for lo in range(0, len(y), 64)]  # the last one partial (52 rows)
    assert read[0] == [r for b in batches for r in b[: -(-len(b) // 2)]]
    assert read[1] == [r for b in batches for r in b[-(-len(b) // 2) :]]


def test_batch_callbacks_see_the_in_memory_steps(digits, memmap, small_blocks):
    from test_training import BatchCounter, Sink

    X, y = digits
    a, b = Sink(), Sink()
    loaded = net(epochs=2, callbacks=[BatchCounter(a)]).fit(X, y)
    streamed = net(epochs=2, callbacks=[BatchCounter(b)], stream=True).fit(memmap, y)
    steps = -(-len(y) // 32)  # 16 steps over 8 blocks
    assert b == [(kind, s) for _ in range(2) for s in range(steps) for kind in ("begin", "end")]
    assert streamed.history_["loss"] == loaded.history_["loss"]
