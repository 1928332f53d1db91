"""Tables: a raw DataFrame in (sknet._tabular), the table defaults, and the regressor's target scaling."""

import pickle

import keras
import numpy as np
import pandas as pd
import pytest
from keras.layers import Dense
from sklearn.base import clone
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import r2_score

from sknet import NetClassifier, NetRegressor, NetTransformer
from sknet._tabular import TableEmbedding, TableEncoder, embedding_dim
from sknet._tabular._defaults import table_batch_size


def make_table(n=240, seed=0):
    """A table as users have one: numbers with gaps, strings, categories, nullable dtypes, booleans."""
    rng = np.random.RandomState(seed)
    frame = pd.DataFrame({
        "age": rng.normal(40, 12, n),
        "income": np.exp(rng.normal(10, 1, n)),
        "city": pd.Series(rng.choice(["Paris", "Lyon", "Nice", "Lille"], n), dtype=object),
        "plan": pd.Categorical(rng.choice(["basic", "pro"], n)),
        "visits": pd.array(rng.poisson(3, n), dtype="Int64"),
        "member": rng.rand(n) > 0.5,
        "note": pd.array(rng.choice(["a", "b", "c"], n), dtype="string"),
    })
    frame.loc[::9, "age"] = np.nan
    frame.loc[::13, "city"] = None
    frame.loc[::17, "visits"] = pd.NA
    frame.loc[::19, "note"] = pd.NA
    y = np.where((frame["city"] == "Paris") | frame["member"], "churn", "stay")
    return frame, y


FAST = dict(epochs=5, random_state=0)


def test_raw_dataframe_fits_and_predicts_original_labels():
    X, y = make_table()
    clf = NetClassifier(epochs=40, random_state=0).fit(X, y)
    assert set(clf.predict(X)) <= {"churn", "stay"}
    assert clf.predict_proba(X).shape == (len(X), 2)
    assert clf.score(X, y) > 0.9  # the label is a rule of a string column and a bool column
    assert list(clf.feature_names_in_) == list(X.columns)
    assert clf.n_features_in_ == 7
    assert isinstance(clf.model_.layers[0], TableEmbedding)


def test_the_frame_is_not_modified():
    X, y = make_table()
    before = X.copy(deep=True)
    clf = NetClassifier(**FAST).fit(X, y)
    clf.predict(X)
    pd.testing.assert_frame_equal(X, before)


def test_codes_missing_unseen_and_rare_levels():
    frame = pd.DataFrame({"c": ["a", "a", "b", "b", "rare", None, ""], "x": [1.0, 2, 3, 4, 5, 6, 7]})
    enc = TableEncoder().fit(frame)
    assert enc.categories_ == [["a", "b"]]  # "rare" is seen once: below min_frequency=2
    new = pd.DataFrame({"c": ["b", "a", "never seen", None, "rare", pd.NA], "x": [1.0, np.nan, 3, 4, 5, 6]})
    codes = enc.transform(new)[:, -1]
    np.testing.assert_array_equal(codes, [3, 2, 1, 0, 1, 0])  # 0 missing, 1 unknown or rare, k + 2 level k
    assert enc.transform(new)[1, 0] == 0.0  # a missing number is the median, scaled: 0


def test_robust_scale_and_its_fallbacks():
    frame = pd.DataFrame({
        "iqr": [1.0, 2, 3, 4, 5],  # median 3, IQR 2
        "mostly_zero": [0.0, 0, 0, 0, 10],  # IQR 0: half the range, 5
        "constant": [7.0] * 5,  # scale 1
    })
    enc = TableEncoder().fit(frame)
    np.testing.assert_allclose(enc.center_, [3, 0, 7])
    np.testing.assert_allclose(enc.scale_, [2, 5, 1])
    np.testing.assert_allclose(enc.transform(frame)[:, 1], [0, 0, 0, 0, 2])


def test_missing_indicators_only_for_columns_missing_in_fit():
    frame = pd.DataFrame({"gap": [1.0, np.nan, 3, 4], "full": [1.0, 2, 3, 4]})
    enc = TableEncoder().fit(frame)
    assert enc.indicators_ == [0]
    out = enc.transform(pd.DataFrame({"gap": [np.nan, 2.0], "full": [np.nan, 1.0]}))
    np.testing.assert_array_equal(out[:, 2], [1, 0])  # the indicator of "gap"
    assert out[0, 1] == 0.0  # "full" had no gap in fit: imputed, no error
    assert list(enc.get_feature_names_out()) == ["gap", "full", "gap_missing"]


def test_unseen_category_and_missing_values_at_predict_are_not_errors():
    X, y = make_table()
    clf = NetClassifier(**FAST).fit(X, y)
    new = X.head(4).copy()
    new["city"] = ["Marseille", None, "Paris", pd.NA]
    new["age"] = np.nan
    new["plan"] = pd.Categorical(["enterprise", "basic", None, "pro"])
    assert clf.predict_proba(new).shape == (4, 2)


def test_datetimes_are_numbers_in_days():
    frame = pd.DataFrame({"when": pd.to_datetime(["1970-01-02", "1970-01-04", None, "1970-01-06"])})
    enc = TableEncoder().fit(frame)
    assert enc.numeric_ == [0] and enc.indicators_ == [0]
    np.testing.assert_allclose(enc.center_, [3.0])  # days since the epoch: 1, 3, 5


@pytest.mark.parametrize("categorical_features", [["city", "plan", "note"], [2, 3, 6],
                                                  [False, False, True, True, False, False, True]])
def test_categorical_features_as_names_indices_and_mask(categorical_features):
    X, y = make_table()
    enc = TableEncoder(categorical_features=categorical_features).fit(X)
    assert enc.categorical_ == [2, 3, 6]
    assert enc.numeric_ == [0, 1, 4, 5]


def test_from_dtype_roles():
    X, _ = make_table()
    enc = TableEncoder().fit(X)
    assert [X.columns[i] for i in enc.categorical_] == ["city", "plan", "note"]
    assert enc.n_levels_ == [4 + 2, 2 + 2, 3 + 2]


def test_array_with_categorical_indices_is_a_table():
    rng = np.random.RandomState(0)
    X = np.column_stack([rng.randn(120), rng.randint(0, 3, 120)]).astype(float)
    y = (X[:, 1] == 1).astype(int)
    clf = NetClassifier(categorical_features=[1], epochs=30, random_state=0).fit(X, y)
    assert clf.table_encoder_.categorical_ == [1]
    assert clf.table_encoder_.categories_ == [["0.0", "1.0", "2.0"]]
    assert clf.score(X, y) > 0.95
    # the encoded width equals the column count here: predict must still encode (no plain-array shortcut)
    assert clf.input_shape_ == (2,)
    network = clf.model_(clf.table_encoder_.transform(X))
    np.testing.assert_allclose(clf.predict_proba(X)[:, 1], keras.ops.convert_to_numpy(network)[:, 0], rtol=1e-5)
    assert not hasattr(NetClassifier(**FAST).fit(X, y), "table_encoder_")  # "from_dtype": an array is a tensor


@pytest.mark.parametrize("column, error, match", [
    (pd.Series([{"a": 1}] * 6, dtype=object), TypeError, "column 'bad' holds Python objects of type dict"),
    (pd.Series([np.nan] * 6), ValueError, "column 'bad' has no value"),
    (pd.Series([None] * 6, dtype=object), ValueError, "column 'bad' has no value"),
    (pd.Categorical(["a"] * 6, categories=list("abcdefgh")), ValueError, "column 'bad' is categorical with 8 levels"),
])
def test_bad_columns_are_named_before_any_training(column, error, match):
    X = pd.DataFrame({"ok": np.arange(6.0), "bad": column})
    clf = NetClassifier(**FAST)
    with pytest.raises(error, match=match):
        clf.fit(X, [0, 1] * 3)
    assert not hasattr(clf, "model_") and not hasattr(clf, "table_encoder_")


def test_string_column_marked_numeric_is_an_error():
    X, y = make_table()
    with pytest.raises(ValueError, match="column 'city' holds"):
        NetClassifier(categorical_features=None, **FAST).fit(X, y)
    with pytest.raises(ValueError, match="'town', which is not a column"):
        NetClassifier(categorical_features=["town"], **FAST).fit(X, y)
    with pytest.raises(ValueError, match="boolean mask of length 2"):
        NetClassifier(categorical_features=[True, False], **FAST).fit(X, y)


def test_column_names_are_checked_at_predict():
    X, y = make_table()
    clf = NetClassifier(**FAST).fit(X, y)
    with pytest.raises(ValueError, match="feature names"):
        clf.predict(X[list(reversed(X.columns))])
    with pytest.raises(ValueError, match="missing"):
        clf.predict(X.iloc[:, :3])
    with pytest.raises(ValueError, match="expecting 7 features"), pytest.warns(UserWarning, match="feature names"):
        clf.predict(X.iloc[:, :3].to_numpy())


def test_arrays_train_exactly_as_before():
    rng = np.random.RandomState(0)
    X, y = rng.randn(100, 5), rng.randint(0, 2, 100)
    auto = NetClassifier(**FAST).fit(X, y)
    explicit = NetClassifier(batch_size=32, early_stopping=False, validation_split=0.0, **FAST).fit(X, y)
    np.testing.assert_array_equal(auto.predict_proba(X), explicit.predict_proba(X))
    assert auto.n_iter_ == 5 and "val_loss" not in auto.history_


def test_table_defaults_early_stopping_on_a_validation_fifth():
    X, y = make_table(n=300)
    clf = NetClassifier(epochs=200, random_state=0).fit(X, y)
    assert "val_loss" in clf.history_
    assert clf.n_iter_ < 200
    # three Dense(256) + Dropout(0.1) hidden layers between the table front and the head
    assert [layer.units for layer in clf.model_.layers if isinstance(layer, Dense)] == [256, 256, 256, 1]


def test_table_batch_size_grows_with_rows():
    assert [table_batch_size(n) for n in (100, 1176, 8000, 40000, 10**6)] == [32, 32, 128, 128, 128]


def test_explicit_parameters_win_over_the_table_recipe():
    X, y = make_table()
    clf = NetClassifier([Dense(8, activation="relu")], early_stopping=False, **FAST).fit(X, y)
    assert clf.n_iter_ == 5 and "val_loss" not in clf.history_
    assert [layer.units for layer in clf.model_.layers if isinstance(layer, Dense)] == [8, 1]


def test_nested_layer_parameters_index_the_users_layers():
    X, y = make_table()
    clf = NetClassifier([Dense(8, activation="relu")], layers__0__units=3, **FAST).fit(X, y)
    assert [layer.units for layer in clf.model_.layers if isinstance(layer, Dense)] == [3, 1]


def test_embedding_widths_follow_the_documented_rule():
    assert [embedding_dim(n) for n in (4, 12, 52, 10_000)] == [3, 6, 15, 16]
    X, y = make_table()
    clf = NetClassifier(**FAST).fit(X, y)
    front = clf.model_.layers[0]
    assert front.embedding_dims == [embedding_dim(n) for n in clf.table_encoder_.n_levels_]
    assert [tuple(w.shape) for w in front.embeddings] == [(6, 4), (4, 3), (5, 4)]


def test_periodic_numeric_embedding():
    X, y = make_table()
    clf = NetClassifier(numeric_embedding="periodic", **FAST).fit(X, y)
    front = clf.model_.layers[0]
    assert front.numeric_embedding == "periodic"
    assert front.output_width == 4 * (1 + 3) + 2 + sum(front.embedding_dims)
    plain = NetClassifier(numeric_embedding=None, **FAST).fit(X, y)
    assert plain.model_.layers[0].output_width == 4 + 2 + sum(front.embedding_dims)
    assert clf.model_.count_params() > plain.model_.count_params()
    assert clf.predict_proba(X).shape == (len(X), 2)


def test_piecewise_linear_numeric_embedding_is_the_default():
    X, y = make_table()
    clf = NetClassifier(**FAST).fit(X, y)
    front = clf.model_.layers[0]
    assert front.numeric_embedding == "piecewise"
    np.testing.assert_allclose(keras.ops.convert_to_numpy(front.bin_edges), clf.table_encoder_.quantiles_, rtol=1e-6)
    layer = TableEmbedding(1, 0, [], numeric_embedding="piecewise", n_bins=3, bin_edges=[[0.0, 1.0, 1.0, 3.0]])
    out = keras.ops.convert_to_numpy(layer(np.array([[-1.0], [0.5], [1.0], [2.0], [5.0]], dtype="float32")))
    clipped = np.array([-1.0, 0.5, 1.0, 2.0, 5.0]) / np.sqrt(1 + (np.array([-1.0, 0.5, 1.0, 2.0, 5.0]) / 3) ** 2)
    np.testing.assert_allclose(out[:, 0], clipped, rtol=1e-6)  # the smoothly clipped number itself
    # bins [0, 1], the empty bin at 1 (a step) and [1, 3], on the scaled number (the edges' scale)
    expected = [[0, 0, 0], [0.5, 0, 0], [1, 1, 0], [1, 1, 0.5], [1, 1, 1]]
    np.testing.assert_allclose(out[:, 1:], expected, rtol=1e-5, atol=1e-6)


def test_state_travels_clone_pickle_warm_start():
    X, y = make_table()
    clf = NetClassifier(**FAST).fit(X, y)
    again = pickle.loads(pickle.dumps(clf))
    np.testing.assert_array_equal(again.predict_proba(X), clf.predict_proba(X))
    assert again.table_encoder_.categories_ == clf.table_encoder_.categories_
    assert not hasattr(clone(clf), "table_encoder_")
    warm = NetClassifier(warm_start=True, **FAST).fit(X, y)
    categories = warm.table_encoder_.categories_
    more = X.copy()
    more["city"] = "Marseille"  # a new level in a continued fit: the unknown bucket, not a new code
    warm.fit(more, y)
    assert warm.table_encoder_.categories_ == categories
    assert len(warm.history_["loss"]) == 10


def test_partial_fit_on_frames():
    X, y = make_table()
    clf = NetClassifier(random_state=0)
    clf.partial_fit(X.iloc[:120], y[:120], classes=["churn", "stay"])
    encoder = clf.table_encoder_
    clf.partial_fit(X.iloc[120:], y[120:])
    assert clf.table_encoder_ is encoder and len(clf.history_["loss"]) == 2
    assert "val_loss" not in clf.history_


def test_a_refit_on_an_array_forgets_the_table():
    X, y = make_table()
    clf = NetClassifier(**FAST).fit(X, y)
    clf.fit(np.random.RandomState(0).randn(len(y), 3), y)
    assert not hasattr(clf, "table_encoder_")
    assert clf.predict(np.zeros((2, 3))).shape == (2,)


def test_polars_frame_works_like_pandas():
    pl = pytest.importorskip("polars")
    X, y = make_table()
    plain = X.astype({"visits": "float64", "note": object, "plan": object})
    plain["note"] = plain["note"].where(plain["note"].notna(), None)
    polars_frame = pl.from_dict({c: plain[c].tolist() for c in plain.columns})
    a = NetClassifier(**FAST).fit(polars_frame, y)
    b = NetClassifier(**FAST).fit(plain, y)
    assert list(a.feature_names_in_) == list(X.columns)
    np.testing.assert_allclose(a.predict_proba(polars_frame), b.predict_proba(plain), atol=1e-6)


def test_callable_spec_builds_on_the_tables_representation():
    X, y = make_table()
    seen = {}

    def build(meta):
        seen.update(meta)
        inputs = keras.Input(meta["input_shape_"])
        return keras.Model(inputs, Dense(meta["n_outputs_"], activation="sigmoid")(Dense(4)(inputs)))

    clf = NetClassifier(build, **FAST).fit(X, y)
    assert seen["n_features_in_"] == 7
    assert seen["input_shape_"] == (clf.model_.layers[1].output.shape[-1],)
    assert clf.predict_proba(X).shape == (len(X), 2)


def test_transformer_gives_the_tables_learned_representation():
    X, y = make_table()
    tr = NetTransformer(transform_layer="sknet_table", **FAST).fit(X, y)
    features = tr.transform(X)
    names = tr.get_feature_names_out()
    assert features.shape == (len(X), len(names))
    assert list(names[:4]) == ["age", "income", "visits", "member"]
    assert "age_missing" in names and "city_embedding0" in names
    # the learned category embeddings serve as features for another model
    assert LogisticRegression(max_iter=500).fit(features, y).score(features, y) > 0.9
    with pytest.raises(ValueError, match="autoencoder reconstructs a numeric X"):
        NetTransformer(**FAST).fit(X)


# --------------------------------------------------------------------------- the regressor's target scaling


def _regression(n=200, seed=0):
    rng = np.random.RandomState(seed)
    X = rng.randn(n, 4)
    return X, 250_000 + 80_000 * (X[:, 0] - 0.5 * X[:, 1])  # a price-like target


def test_scaled_target_equals_training_on_the_standardized_target():
    X, y = _regression()
    net = dict(layers=[Dense(16, activation="relu")], epochs=5, random_state=0)
    scaled = NetRegressor(**net).fit(X, y)
    mean, std = y.mean(), y.std()
    by_hand = NetRegressor(scale_target=False, **net).fit(X, (y - mean) / std)
    np.testing.assert_allclose(scaled.predict(X), by_hand.predict(X) * std + mean, rtol=1e-6)
    np.testing.assert_allclose(scaled.target_.mean_, [mean])
    np.testing.assert_allclose(scaled.target_.scale_, [std])


def test_scaled_target_learns_a_large_target_that_the_raw_one_does_not():
    X, y = _regression()
    net = dict(layers=[Dense(16, activation="relu")], epochs=30, random_state=0)
    assert r2_score(y, NetRegressor(**net).fit(X, y).predict(X)) > 0.9
    assert r2_score(y, NetRegressor(scale_target=False, **net).fit(X, y).predict(X)) < 0.5


@pytest.mark.parametrize("params, scaled", [
    ({}, True),
    ({"loss": "mae"}, True),
    ({"loss": "mape"}, False),
    ({"loss": keras.losses.Huber(delta=0.1)}, False),  # delta is in the target's units
    ({"layers": [Dense(1, activation="sigmoid")]}, False),
    ({"layers": [Dense(1, activation="sigmoid")], "scale_target": True}, True),
    ({"scale_target": False}, False),
])
def test_scale_target_auto_rule(params, scaled):
    X, y = _regression(60)
    reg = NetRegressor(epochs=1, random_state=0, **params).fit(X, np.abs(y) / 1e6)
    assert (reg.target_.scale_ is not None) is scaled


def test_regressor_on_a_raw_frame():
    X, _ = make_table()
    y = 3 * X["age"].fillna(40) + 100 * (X["city"] == "Paris")
    reg = NetRegressor(epochs=60, random_state=0).fit(X, y)
    assert reg.score(X, y) > 0.8


def test_the_tables_guide_example_runs():
    guide = open(__file__.replace("tests/test_tabular.py", "docs/guide/tables.md"), encoding="utf-8").read()
    code = guide.split("```python\n")[1].split("```")[0]
    namespace = {}
    exec(compile(code, "tables.md", "exec"), namespace)
    assert namespace["clf"].table_encoder_.categorical_ == [1, 2]


def test_a_frame_of_plain_numbers_trains_like_its_array():
    rng = np.random.RandomState(0)
    X = pd.DataFrame({"a": rng.randn(80), "b": rng.randint(0, 5, 80), "c": rng.rand(80) > 0.5})
    y = rng.randint(0, 2, 80)
    framed = NetClassifier(**FAST).fit(X, y)
    assert not hasattr(framed, "table_encoder_") and list(framed.feature_names_in_) == ["a", "b", "c"]
    arrayed = NetClassifier(**FAST).fit(X.to_numpy(dtype=float), y)
    np.testing.assert_array_equal(framed.predict_proba(X), arrayed.predict_proba(X.to_numpy(dtype=float)))
    gaps = X.assign(a=X["a"].where(X["a"] > -1.5))  # a missing value makes it a table
    assert hasattr(NetClassifier(**FAST).fit(gaps, y), "table_encoder_")
    assert hasattr(NetClassifier(categorical_features=["b"], **FAST).fit(X, y), "table_encoder_")


@pytest.mark.slow
def test_table_defaults_against_gradient_boosting_and_the_one_hot_mlp():
    """The reference check: default sknet on the raw frame against HistGradientBoosting on the frame and the
    one-hot MLPClassifier pipeline, on the example's generated churn table (held-out ROC AUC)."""
    import os
    import sys

    sys.path.insert(0, os.path.join(os.path.dirname(__file__), os.pardir, "examples"))
    from tabular_pandas import main

    _, scores = main(["--epochs", "100"])  # 25% held out, stratified; seeds fixed
    ours = scores["sknet NetClassifier, raw frame"]
    assert ours >= scores["one-hot MLPClassifier pipeline"] - 0.005
    assert ours >= scores["HistGradientBoosting (category dtype)"] - 0.005
