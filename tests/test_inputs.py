"""How X reaches the network (sknet._engine._inputs): sparse matrices stay sparse."""

import keras
import numpy as np
import pytest
import scipy.sparse as sp
from keras.layers import Dense, Dropout
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.pipeline import make_pipeline

from sknet import NetClassifier, NetRegressor, NetTransformer


@pytest.fixture(scope="module")
def sparse_digits(digits):
    X, y = digits
    return sp.csr_matrix(X), X, y


@pytest.mark.parametrize("fmt", ["csr", "csc", "coo"])
def test_sparse_fit_follows_the_dense_fit_and_predicts_the_same(sparse_digits, fmt):
    S, X, y = sparse_digits
    sparse = NetClassifier([Dense(32, activation="relu")], epochs=3, random_state=0).fit(S.asformat(fmt), y)
    dense = NetClassifier([Dense(32, activation="relu")], epochs=3, random_state=0).fit(X, y)
    assert sparse.model_.inputs[0].sparse  # a sparse-dense matmul, not a densified X
    np.testing.assert_allclose(sparse.history_["loss"], dense.history_["loss"], rtol=1e-4)
    np.testing.assert_allclose(sparse.predict_proba(S.asformat(fmt)), sparse.predict_proba(X), atol=1e-5)
    np.testing.assert_allclose(sparse.predict_proba(S), dense.predict_proba(X), atol=1e-4)
    for _ in range(3):  # the estimator's dedicated serving function takes sparse input too
        np.testing.assert_allclose(sparse.predict_proba(S[:7]), sparse.predict_proba(X[:7]), atol=1e-5)
    assert sparse.predict(S[:1]).shape == (1,)


def test_a_first_layer_without_sparse_support_gets_densified_batches(sparse_digits):
    S, X, y = sparse_digits
    clf = NetClassifier([Dropout(0.1), Dense(32, activation="relu")], epochs=2, random_state=0).fit(S, y)
    assert not clf.model_.inputs[0].sparse
    dense = NetClassifier([Dropout(0.1), Dense(32, activation="relu")], epochs=2, random_state=0).fit(X, y)
    np.testing.assert_allclose(clf.history_["loss"], dense.history_["loss"], rtol=1e-4)
    np.testing.assert_allclose(clf.predict_proba(S), clf.predict_proba(X), atol=1e-5)


def test_sparse_with_validation_weights_partial_fit_and_regression(sparse_digits):
    S, X, y = sparse_digits
    clf = NetClassifier([Dense(16, activation="relu")], epochs=2, validation_split=0.2, random_state=0)
    clf.fit(S, y, sample_weight=np.where(y == 3, 2.0, 1.0))
    assert np.isfinite(clf.history_["val_loss"]).all()
    online = NetClassifier([Dense(16, activation="relu")], random_state=0)
    for _ in range(2):
        online.partial_fit(S, y, classes=np.arange(10))
    assert online.history_.n_epochs == 2
    reg = NetRegressor([Dense(8, activation="relu")], epochs=2, random_state=0).fit(S, X[:, 20])
    np.testing.assert_allclose(reg.predict(S), reg.predict(X), atol=1e-5)
    codes = NetTransformer([Dense(8, activation="relu")], epochs=1, random_state=0).fit(S, y).transform(S)
    assert codes.shape == (S.shape[0], 8)


def test_a_wide_sparse_matrix_is_never_densified():
    """100,000 rows x 2,000,000 columns: dense, X alone would take 800 GB."""
    rng = np.random.RandomState(0)
    n, d = 100_000, 2_000_000
    rows = np.repeat(np.arange(n), 3)
    cols = rng.randint(0, d, size=3 * n)
    X = sp.csr_matrix((np.ones(3 * n, dtype="float32"), (rows, cols)), shape=(n, d))
    y = (cols.reshape(n, 3)[:, 0] < d // 2).astype(int)
    clf = NetClassifier([Dense(2, activation="relu")], epochs=1, batch_size=4096, random_state=0).fit(X, y)
    assert clf.predict_proba(X[:10_000]).shape == (10_000, 2)


def test_the_users_sparse_matrix_is_not_modified(sparse_digits):
    S, _, y = sparse_digits
    unsorted = S.copy()
    unsorted.indices = unsorted.indices.copy()
    row = slice(unsorted.indptr[5], unsorted.indptr[6])
    unsorted.indices[row] = unsorted.indices[row][::-1]
    unsorted.data[row] = unsorted.data[row][::-1]
    unsorted.has_sorted_indices = False
    before = (unsorted.indices.copy(), unsorted.data.copy())
    clf = NetClassifier([Dense(8)], epochs=1, random_state=0).fit(unsorted, y)
    np.testing.assert_array_equal(unsorted.indices, before[0])
    np.testing.assert_array_equal(unsorted.data, before[1])
    np.testing.assert_allclose(clf.predict_proba(unsorted), clf.predict_proba(S), atol=1e-6)


def test_text_pipeline():
    docs = ["good movie", "great film", "bad movie", "awful film", "great story", "bad plot"] * 20
    labels = np.array([1, 1, 0, 0, 1, 0] * 20)
    pipe = make_pipeline(TfidfVectorizer(), NetClassifier([Dense(8, activation="relu")], epochs=20,
                                                          optimizer__learning_rate=0.05, random_state=0))
    assert pipe.fit(docs, labels).score(docs, labels) == 1.0


def test_distribute_with_sparse_x_is_a_clear_error(sparse_digits):
    S, _, y = sparse_digits
    with pytest.raises(ValueError, match="distribute= trains on dense X"):
        NetClassifier(distribute="mirrored", epochs=1).fit(S, y)


def test_keras_sees_the_same_sparse_network(sparse_digits):
    S, X, y = sparse_digits
    clf = NetClassifier([Dense(32, activation="relu")], epochs=1, random_state=0).fit(S, y)
    coo = S[:20].tocoo()
    batch = keras.ops.convert_to_tensor(X[:20].astype("float32"))
    np.testing.assert_allclose(clf.predict_proba(S[:20]), np.asarray(clf.model_(
        __import__("tensorflow").SparseTensor(np.stack([coo.row, coo.col], 1), coo.data.astype("float32"),
                                              coo.shape))), atol=1e-6)
    assert batch.shape == (20, 64)


def test_the_cached_trainer_and_predictor_keep_the_sparse_input(sparse_digits):
    from sknet import _engine
    from sknet._engine._state import clone_architecture

    S, _, y = sparse_digits
    _engine.clear_caches()
    clf = NetClassifier([Dense(16, activation="relu")], epochs=1, random_state=0).fit(S, y)
    clf.predict(S)
    (trainer,) = _engine._TRAINERS.values()
    (predictor,) = _engine._PREDICTORS.values()
    assert trainer.model.inputs[0].sparse and predictor.template.inputs[0].sparse
    assert clone_architecture(clf.model_).inputs[0].sparse
