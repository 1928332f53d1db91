"""ONNX export (sknet.onnx): onnxruntime's outputs equal sknet's, alone and inside pipelines."""

import os
import subprocess
import sys

import numpy as np
import pytest

pytest.importorskip("skl2onnx")
rt = pytest.importorskip("onnxruntime")
pytest.importorskip("tf2onnx")

import keras  # noqa: E402
from keras import layers as L  # noqa: E402
from sklearn.calibration import CalibratedClassifierCV  # noqa: E402
from sklearn.impute import SimpleImputer  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import RobustScaler, StandardScaler  # noqa: E402

import sknet.onnx  # noqa: E402
from sknet import NetClassifier, NetRegressor  # noqa: E402

EXAMPLES = os.path.join(os.path.dirname(__file__), os.pardir, "examples")
ATOL = 1e-5


def run_onnx(model, X, **options):
    """Convert ``model`` (X's dtype) and run it in onnxruntime: the list of outputs."""
    onx = sknet.onnx.to_onnx(model, X[:1], **options)
    sess = rt.InferenceSession(onx.SerializeToString(), providers=["CPUExecutionProvider"])
    return sess.run(None, {sess.get_inputs()[0].name: X})


def check_classifier(model, X):
    label, proba = run_onnx(model, X, options={"zipmap": False})
    expected = model.predict(X)
    assert label.shape == expected.shape
    np.testing.assert_array_equal(label, expected)
    np.testing.assert_allclose(proba, model.predict_proba(X), atol=ATOL)
    return label, proba


def small_data(n=40, d=5, seed=0):
    rng = np.random.RandomState(seed)
    X = rng.randn(n, d).astype("float32")
    return X, X[:, 0] + 0.5 * X[:, 1]


MLP = [L.Dense(8, activation="relu"), L.Dropout(0.2)]


# ----------------------------------------------------------------------------- heads and labels


@pytest.mark.parametrize("labels", ["str", "int", "bool"])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_binary_labels_and_dtypes(labels, dtype):
    X, s = small_data()
    y = {"str": np.where(s > 0, "yes", "no"), "int": np.where(s > 0, 7, -3), "bool": s > 0}[labels]
    clf = NetClassifier(MLP, epochs=2, random_state=0).fit(X, y)
    Xd = X.astype(dtype)
    label, proba = check_classifier(clf, Xd)
    assert proba.dtype == np.dtype(dtype)
    assert label.dtype == (object if labels == "str" else np.dtype({"int": "int64", "bool": "bool"}[labels]))


def test_multiclass_strings_float64():
    X, s = small_data(60)
    y = np.array(["a", "b", "c"])[np.digitize(s, [-0.5, 0.5])]
    clf = NetClassifier(MLP, epochs=2, random_state=0).fit(X, y)
    check_classifier(clf, X.astype("float64"))


def test_binary_sparse_loss_two_units():
    X, s = small_data()
    clf = NetClassifier(MLP, loss="sparse_categorical_crossentropy", epochs=2, random_state=0).fit(X, s > 0)
    assert clf.n_outputs_ == 2
    check_classifier(clf, X)


def test_multilabel():
    X, s = small_data(60)
    Y = np.stack([s > 0, X[:, 2] > 0, X[:, 3] > 0.3], axis=1).astype(int)
    clf = NetClassifier(MLP, epochs=2, random_state=0).fit(X, Y)
    assert clf.target_.kind == "multilabel"
    label, _ = check_classifier(clf, X)
    assert label.shape == (60, 3)


def test_one_hot():
    X, s = small_data(60)
    Y = np.eye(3, dtype="float32")[np.digitize(s, [-0.5, 0.5])]
    clf = NetClassifier(MLP, loss="categorical_crossentropy", epochs=2, random_state=0).fit(X, Y)
    assert clf.target_.kind == "onehot"
    label, _ = check_classifier(clf, X)
    assert label.shape == (60, 3) and label.dtype == np.float32


def logits_model(meta, units=8):
    inputs = keras.Input(meta["input_shape_"])
    hidden = L.Dense(units, activation="tanh")(inputs)
    return keras.Model(inputs, L.Dense(meta["n_outputs_"])(hidden))  # linear: logits


@pytest.mark.parametrize("n_classes", [2, 3])
def test_logits_head_from_callable_spec(n_classes):
    X, s = small_data(60)
    y = np.digitize(s, [-0.5, 0.5])[:, None] if n_classes == 3 else (s > 0)[:, None]
    clf = NetClassifier(logits_model, epochs=2, random_state=0).fit(X, y.ravel())
    assert clf._output == "logits"
    check_classifier(clf, X)


def test_zipmap_options():
    X, s = small_data()
    y = np.where(s > 0, "yes", "no")
    clf = NetClassifier(MLP, epochs=2, random_state=0).fit(X, y)
    label, dicts = run_onnx(clf, X)  # zipmap=True by default, as in skl2onnx
    np.testing.assert_array_equal(label, clf.predict(X))
    proba = clf.predict_proba(X)
    assert [sorted(d) for d in dicts[:1]] == [["no", "yes"]]
    np.testing.assert_allclose([[d["no"], d["yes"]] for d in dicts], proba, atol=ATOL)
    columns = run_onnx(clf, X, options={"zipmap": "columns"})
    np.testing.assert_allclose(np.stack(columns[1:], axis=1), proba, atol=ATOL)
    # float64 input: ONNX's ZipMap takes float32 probabilities only (skl2onnx's MLPClassifier fails here)
    _, dicts = run_onnx(clf, X.astype("float64"))
    np.testing.assert_allclose([[d["no"], d["yes"]] for d in dicts], proba, atol=ATOL)
    columns = run_onnx(clf, X.astype("float64"), options={"zipmap": "columns"})
    assert columns[1].dtype == np.float64
    np.testing.assert_allclose(np.stack(columns[1:], axis=1), proba, atol=ATOL)


@pytest.fixture(scope="module")
def bool_classifiers():
    """A binary and a multilabel classifier of bool labels (issue #28 item 7)."""
    X, s = small_data(60)
    binary = NetClassifier(MLP, epochs=2, random_state=0).fit(X, s > 0)
    multilabel = NetClassifier(MLP, epochs=2, random_state=0).fit(X, np.stack([s > 0, X[:, 2] > 0], axis=1))
    return X, binary, multilabel


@pytest.mark.parametrize("zipmap", [True, False, "columns"])
def test_bool_labels_with_every_zipmap(bool_classifiers, zipmap):
    """onnxruntime loads bool-label models: ZipMap's int64 labels (as skl2onnx's MLPClassifier), else bools."""
    X, binary, multilabel = bool_classifiers
    for clf in (binary, multilabel):
        expected, proba = clf.predict(X), clf.predict_proba(X)
        assert expected.dtype == np.bool_
        outputs = run_onnx(clf, X, options={"zipmap": zipmap})
        label = outputs[0]
        assert label.dtype == (np.bool_ if zipmap is False else np.int64)
        np.testing.assert_array_equal(label, expected)
        if zipmap is True:
            assert sorted(outputs[1][0]) == [0, 1]
            onnx_proba = np.array([[d[k] for k in sorted(d)] for d in outputs[1]])
        elif zipmap == "columns":
            onnx_proba = np.stack(outputs[1:], axis=1)
        else:
            onnx_proba = outputs[1]
        np.testing.assert_allclose(onnx_proba, proba, atol=ATOL)


# ----------------------------------------------------------------------------- layers


def test_convnet_on_images():
    rng = np.random.RandomState(0)
    X = rng.rand(40, 8, 8, 1).astype("float32")
    y = (X[:, :4].mean(axis=(1, 2, 3)) > X[:, 4:].mean(axis=(1, 2, 3))).astype(int)
    spec = [L.Conv2D(4, 3, activation="relu"), L.MaxPooling2D(), L.Conv2D(4, 2, padding="same"),
            L.AveragePooling2D(2), L.Flatten(), L.Dense(8, activation="relu")]
    clf = NetClassifier(spec, epochs=2, random_state=0).fit(X, y)
    check_classifier(clf, X)
    check_classifier(clf, X.astype("float64"))


def test_batch_normalization_uses_moving_statistics():
    X, s = small_data(60)
    y = np.digitize(s, [-0.5, 0.5])
    clf = NetClassifier([L.Dense(8), L.BatchNormalization(), L.Activation("relu"), L.Dropout(0.3)],
                        epochs=3, random_state=0).fit(3 * X + 1, y)
    check_classifier(clf, 3 * X[:7] + 1)  # a batch of 7: batch statistics would differ


@pytest.mark.parametrize("outputs", [1, 3])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_regressor(outputs, dtype):
    X, s = small_data()
    y = s if outputs == 1 else np.stack([s, -s, 2 * s], axis=1)
    reg = NetRegressor(MLP, scale_target=False, epochs=2, random_state=0).fit(X, y)
    assert reg.target_.scale_ is None
    (values,) = run_onnx(reg, X.astype(dtype))
    assert values.shape == (len(X), outputs) and values.dtype == np.dtype(dtype)
    np.testing.assert_allclose(values, reg.predict(X).reshape(len(X), -1), atol=ATOL)


@pytest.mark.parametrize("outputs", [1, 3])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_regressor_scaled_target_in_original_units(outputs, dtype):
    """The network learns the standardized target; the graph maps its output back, as predict does."""
    X, s = small_data()
    y = 1000 + 300 * s if outputs == 1 else np.stack([1000 + 300 * s, -s, 5 + 0.01 * s], axis=1)
    reg = NetRegressor(MLP, scale_target=True, epochs=2, random_state=0).fit(X, y)
    assert reg.target_.scale_.shape == (outputs,) and reg.target_.mean_.shape == (outputs,)
    expected = reg.predict(X).reshape(len(X), -1)
    assert np.abs(expected).max() > 500  # in y's units, not the network's
    (values,) = run_onnx(reg, X.astype(dtype))
    assert values.shape == (len(X), outputs) and values.dtype == np.dtype(dtype)
    np.testing.assert_allclose(values, expected, rtol=1e-5, atol=ATOL)


def test_unconvertible_layer_named():
    import tensorflow as tf

    @keras.saving.register_keras_serializable(package="sknet_tests")
    class NumpyLayer(L.Layer):
        def call(self, x):
            y = tf.numpy_function(lambda a: a, [x], tf.float32, stateful=False)  # no ONNX equivalent
            return x + 0.0 * tf.stop_gradient(tf.reshape(y, tf.shape(x)))

        def compute_output_shape(self, shape):
            return shape

    X, s = small_data()
    clf = NetClassifier([L.Dense(4), NumpyLayer(name="py_step")], epochs=1, random_state=0).fit(X, s > 0)
    with pytest.raises(ValueError, match=r"cannot convert layer .py_step. \(NumpyLayer\)") as info:
        sknet.onnx.to_onnx(clf, X[:1])
    assert "PyFunc" in str(info.value)  # the TensorFlow op that has no ONNX equivalent


# ----------------------------------------------------------------------------- pipelines


def test_scaler_pipeline_and_skl2onnx_entry_point():
    from skl2onnx import to_onnx

    X, s = small_data()
    pipe = make_pipeline(StandardScaler(), NetClassifier(MLP, epochs=2, random_state=0))
    pipe.fit(10 * X + 3, np.where(s > 0, "yes", "no"))
    check_classifier(pipe, 10 * X + 3)
    onx = to_onnx(pipe, X[:1], options={"zipmap": False})  # skl2onnx's own entry point
    assert [o.name for o in onx.graph.output] == ["label", "probabilities"]


@pytest.mark.slow
@pytest.mark.parametrize("n_classes", [2, 3])
def test_calibrated_classifier(n_classes):
    # method="sigmoid": skl2onnx's isotonic calibration differs from scikit-learn's by up to ~0.05
    # for its own MLPClassifier too, so it cannot meet atol 1e-5 whatever the base estimator.
    X, s = small_data(90)
    y = np.array(["a", "b", "c"])[np.digitize(s, [-0.5, 0.5] if n_classes == 3 else [0.0])]
    cal = CalibratedClassifierCV(NetClassifier(MLP, epochs=2, random_state=0), cv=2).fit(X, y)
    check_classifier(cal, X)


@pytest.mark.slow
def test_column_transformer_with_string_column():
    import pandas as pd
    from sklearn.compose import ColumnTransformer
    from sklearn.preprocessing import OneHotEncoder

    rng = np.random.RandomState(0)
    df = pd.DataFrame({"age": rng.uniform(20, 70, 80), "income": rng.uniform(1, 9, 80),
                       "city": rng.choice(["paris", "lyon", "nice"], 80)})
    y = np.where((df.age > 45) ^ (df.city == "lyon"), "buy", "skip")
    pre = ColumnTransformer([("num", StandardScaler(), ["age", "income"]),
                             ("cat", OneHotEncoder(sparse_output=False), ["city"])])
    pipe = make_pipeline(pre, NetClassifier(MLP, epochs=3, random_state=0)).fit(df, y)
    onx = sknet.onnx.to_onnx(pipe, df[:1], options={"zipmap": False})
    sess = rt.InferenceSession(onx.SerializeToString(), providers=["CPUExecutionProvider"])
    feeds = {"age": df[["age"]].to_numpy(), "income": df[["income"]].to_numpy(),
             "city": df[["city"]].to_numpy().astype(object)}
    label, proba = sess.run(None, feeds)
    np.testing.assert_array_equal(label, pipe.predict(df))
    np.testing.assert_allclose(proba, pipe.predict_proba(df), atol=ATOL)


# ----------------------------------------------------------------------------- raw DataFrames (issue #24 item 5)


def table(n=120, seed=0):
    """A frame as users have them: strings, a category, numbers with NaN, bools, ints and dates."""
    import pandas as pd

    rng = np.random.RandomState(seed)
    df = pd.DataFrame({
        "city": pd.Series(rng.choice(["paris", "lyon", "nice", "brest"], n), dtype=object),
        "plan": pd.Categorical(rng.choice(["basic", "pro", "team"], n)),
        "age": rng.uniform(20, 70, n),
        "member": rng.rand(n) > 0.5,
        "visits": rng.randint(0, 9, n),
        "since": pd.Timestamp("2020-01-01") + pd.to_timedelta(rng.randint(0, 900, n), unit="D"),
    })
    df.loc[::7, "age"] = np.nan
    df.loc[3::11, "city"] = None
    score = np.where(df.age.isna(), 0.0, (df.age - 45) / 10) + (df.city == "lyon") - (df.plan == "pro") + df.member
    return df, score.to_numpy(dtype="float64")


def unseen_and_missing(df):
    """``df`` with categories unseen in fit and missing values of every kind, where fit had none too."""
    import pandas as pd

    test = df.copy()
    test["plan"] = test["plan"].cat.add_categories(["enterprise"])
    test.loc[0, "city"] = "marseille"  # unseen
    test.loc[1, "plan"] = "enterprise"  # unseen
    test.loc[2, "plan"] = np.nan  # missing
    test.loc[5, "city"] = ""  # missing
    test.loc[6, "city"] = pd.NA  # missing
    test.loc[8, "age"] = np.nan
    if "since" in test:
        test.loc[9, "since"] = pd.NaT
    return test


def frame_feeds(sess, df):
    """onnxruntime's inputs for ``df``: strings as ``str(value)``, "" when missing; numbers as the input's type, NaN
    when missing; dates as days since 1970-01-01 (the documented recipe)."""
    import pandas as pd

    feeds = {}
    for inp in sess.get_inputs():
        col = df[inp.name]
        if inp.type == "tensor(string)":
            values = np.array(["" if pd.isna(v) else str(v) for v in col], dtype=object)
        elif pd.api.types.is_datetime64_any_dtype(col):
            values = ((col - pd.Timestamp(0)) / pd.Timedelta(days=1)).to_numpy(dtype="float64", na_value=np.nan)
        else:
            dtype = {"tensor(double)": "float64", "tensor(float)": "float32", "tensor(int64)": "int64",
                     "tensor(bool)": "bool"}[inp.type]
            values = col.to_numpy(dtype=dtype, **({"na_value": np.nan} if dtype.startswith("float") else {}))
        feeds[inp.name] = values.reshape(-1, 1)
    return feeds


def zipmapped_proba(outputs, zipmap):
    """The probability matrix from ``sess.run``'s outputs under ``zipmap``."""
    if zipmap is True:
        return np.array([[d[k] for k in sorted(d)] for d in outputs[1]])
    if zipmap == "columns":
        return np.stack(outputs[1:], axis=1)
    return outputs[1]


def run_onnx_frame(model, df, test=None, **options):
    onx = sknet.onnx.to_onnx(model, df[:1], **options)
    sess = rt.InferenceSession(onx.SerializeToString(), providers=["CPUExecutionProvider"])
    return sess.run(None, frame_feeds(sess, df if test is None else test))


@pytest.fixture(scope="module")
def frame_classifier():
    df, score = table()
    return df, NetClassifier(epochs=2, random_state=0).fit(df, np.where(score > 0.5, "buy", "skip"))


@pytest.mark.parametrize("zipmap", [False, True, "columns"])
def test_raw_frame_classifier_one_input_per_column(frame_classifier, zipmap):
    df, clf = frame_classifier
    assert hasattr(clf, "table_encoder_")
    onx = sknet.onnx.to_onnx(clf, df[3:4], options={"zipmap": zipmap})  # a sample row with a missing city
    sess = rt.InferenceSession(onx.SerializeToString(), providers=["CPUExecutionProvider"])
    assert [(i.name, i.type, i.shape) for i in sess.get_inputs()] == [
        ("city", "tensor(string)", [None, 1]), ("plan", "tensor(string)", [None, 1]),
        ("age", "tensor(double)", [None, 1]), ("member", "tensor(double)", [None, 1]),
        ("visits", "tensor(double)", [None, 1]), ("since", "tensor(double)", [None, 1])]
    test = unseen_and_missing(df)
    outputs = sess.run(None, frame_feeds(sess, test))
    np.testing.assert_array_equal(outputs[0], clf.predict(test))
    np.testing.assert_allclose(zipmapped_proba(outputs, zipmap), clf.predict_proba(test), atol=ATOL)


def test_raw_frame_transformer_feeds_a_next_step():
    """NetTransformer -> LogisticRegression on a frame: the next step is built for the transformer's float64 output
    (skl2onnx would declare it in the first column's type, a string: float32)."""
    from sklearn.linear_model import LogisticRegression

    from sknet import NetTransformer

    df, score = table()
    y = np.where(score > 0.5, "buy", "skip")
    pipe = make_pipeline(NetTransformer(epochs=2, random_state=0), LogisticRegression()).fit(df, y)
    onx = sknet.onnx.to_onnx(pipe, df[:1], options={"zipmap": False})
    sess = rt.InferenceSession(onx.SerializeToString(), providers=["CPUExecutionProvider"])
    test = unseen_and_missing(df)
    label, proba = sess.run(None, frame_feeds(sess, test))
    np.testing.assert_array_equal(label, pipe.predict(test))
    np.testing.assert_allclose(proba, pipe.predict_proba(test), atol=ATOL)


def test_raw_frame_float32_column_and_polars(frame_classifier):
    """A float32 column gets a float input; a polars frame converts as its pandas twin."""
    df, clf = frame_classifier
    df32 = df.astype({"age": "float32"})
    onx = sknet.onnx.to_onnx(clf, df32[:1], options={"zipmap": False})
    sess = rt.InferenceSession(onx.SerializeToString(), providers=["CPUExecutionProvider"])
    assert [i.type for i in sess.get_inputs() if i.name == "age"] == ["tensor(float)"]
    test = unseen_and_missing(df).astype({"age": "float32"})
    label, proba = sess.run(None, frame_feeds(sess, test))
    np.testing.assert_array_equal(label, clf.predict(test))
    np.testing.assert_allclose(proba, clf.predict_proba(test), atol=ATOL)
    pl = pytest.importorskip("polars")
    onx = sknet.onnx.to_onnx(clf, pl.from_pandas(df[:2].astype({"plan": str})), options={"zipmap": False})
    sess = rt.InferenceSession(onx.SerializeToString(), providers=["CPUExecutionProvider"])
    assert [i.type for i in sess.get_inputs()] == ["tensor(string)"] * 2 + ["tensor(double)"] * 4


def test_raw_frame_without_string_column_names():
    """Columns named by ints (feature_names_in_ x0, x1...): one input per column, matched by position."""
    df, score = table()
    df = df.set_axis(range(df.shape[1]), axis=1)
    clf = NetClassifier(epochs=2, random_state=0).fit(df, score > 0.5)
    onx = sknet.onnx.to_onnx(clf, df[:1], options={"zipmap": False})
    sess = rt.InferenceSession(onx.SerializeToString(), providers=["CPUExecutionProvider"])
    names = [i.name for i in sess.get_inputs()]
    assert names == ["_0", "_1", "_2", "_3", "_4", "_5"]  # skl2onnx's names for "0", "1"...
    test = unseen_and_missing(table()[0]).set_axis(names, axis=1)
    label, proba = sess.run(None, frame_feeds(sess, test))
    test.columns = range(6)
    np.testing.assert_array_equal(label, clf.predict(test))
    np.testing.assert_allclose(proba, clf.predict_proba(test), atol=ATOL)


def test_frame_of_plain_numbers_one_input_per_column():
    """A DataFrame of plain numbers trains as its array (no table_encoder_); it still gets one input per column."""
    import pandas as pd
    from skl2onnx import to_onnx

    X, s = small_data(60, 4)
    df = pd.DataFrame({"a": X[:, 0].astype("float64"), "b": X[:, 1], "c": np.round(3 * X[:, 2]).astype("int64"),
                       "d": X[:, 3] > 0})
    clf = NetClassifier(MLP, epochs=2, random_state=0).fit(df, s > 0)
    assert not hasattr(clf, "table_encoder_") and list(clf.feature_names_in_) == ["a", "b", "c", "d"]
    for convert, types in [(sknet.onnx.to_onnx, ["double", "float", "double", "double"]),
                           (to_onnx, ["double", "float", "int64", "bool"])]:  # skl2onnx's own guess
        onx = convert(clf, df[:1], options={"zipmap": False})
        sess = rt.InferenceSession(onx.SerializeToString(), providers=["CPUExecutionProvider"])
        assert [i.name for i in sess.get_inputs()] == ["a", "b", "c", "d"]
        assert [i.type for i in sess.get_inputs()] == [f"tensor({t})" for t in types]
        label, proba = sess.run(None, frame_feeds(sess, df))
        np.testing.assert_array_equal(label, clf.predict(df))
        np.testing.assert_allclose(proba, clf.predict_proba(df), atol=ATOL)


@pytest.mark.parametrize("dtype", ["float64", "int64"])
def test_array_table_one_input_split_in_the_graph(dtype):
    """An array whose categorical_features are named: one 2-D input, split into its columns in the graph."""
    rng = np.random.RandomState(0)
    X = np.stack([rng.randint(0, 4, 120), 10 * rng.randn(120), rng.randint(0, 3, 120)], axis=1).astype(dtype)
    if dtype == "float64":
        X[::9, 1] = np.nan
        X[::13, 0] = np.nan  # a missing category
    y = (X[:, 0] == 2) ^ (np.nan_to_num(X[:, 1]) > 0)
    clf = NetClassifier(categorical_features=[0, 2], epochs=2, random_state=0).fit(X, y)
    assert clf.table_encoder_.categorical_ == [0, 2]
    test = X.copy()
    test[0, 0], test[1, 2] = 7, 5  # unseen levels
    (sess_input,) = rt.InferenceSession(sknet.onnx.to_onnx(clf, X[:1]).SerializeToString(),
                                        providers=["CPUExecutionProvider"]).get_inputs()
    assert sess_input.shape == [None, 3]
    check_classifier(clf, test)


def test_raw_frame_multiclass_in_a_pipeline_through_skl2onnx():
    """skl2onnx's own to_onnx: its per-column guess (int64, bool, double, string) is taken as it comes."""
    from skl2onnx import to_onnx

    df, score = table()
    df = df.drop(columns="since")  # skl2onnx cannot guess a type for datetime64 (sknet.onnx.to_onnx can)
    y = np.digitize(score, [0.0, 1.0])
    pipe = make_pipeline(NetClassifier(epochs=2, random_state=0)).fit(df, y)
    onx = to_onnx(pipe, df[:1], options={"zipmap": False})
    sess = rt.InferenceSession(onx.SerializeToString(), providers=["CPUExecutionProvider"])
    assert [i.type for i in sess.get_inputs()] == ["tensor(string)", "tensor(string)", "tensor(double)",
                                                   "tensor(bool)", "tensor(int64)"]
    test = unseen_and_missing(df)
    label, proba = sess.run(None, frame_feeds(sess, test))
    np.testing.assert_array_equal(label, pipe.predict(test))
    np.testing.assert_allclose(proba, pipe.predict_proba(test), atol=ATOL)


@pytest.mark.parametrize("numeric_embedding", [None, "periodic", "piecewise"])
def test_raw_frame_regressor_scaled_target(numeric_embedding):
    df, score = table()
    y = 2000 + 500 * score
    reg = NetRegressor(numeric_embedding=numeric_embedding, epochs=2, random_state=0).fit(df, y)
    assert reg.target_.scale_ is not None  # "auto" standardizes this target
    onx = sknet.onnx.to_onnx(reg, df[:1])
    sess = rt.InferenceSession(onx.SerializeToString(), providers=["CPUExecutionProvider"])
    test = unseen_and_missing(df)
    (values,) = sess.run(None, frame_feeds(sess, test))
    assert values.dtype == np.float64
    np.testing.assert_allclose(values[:, 0], reg.predict(test), rtol=1e-5, atol=ATOL)


@pytest.mark.parametrize("transform_layer", [None, "sknet_table"])
def test_raw_frame_transformer(frame_classifier, transform_layer):
    from sknet import NetTransformer

    df, clf = frame_classifier
    net = NetTransformer(transform_layer=transform_layer, epochs=2, random_state=0).fit(df, clf.predict(df))
    test = unseen_and_missing(df)
    (codes,) = run_onnx_frame(net, df, test)
    np.testing.assert_allclose(codes, net.transform(test), atol=ATOL)


# ----------------------------------------------------------------------------- extra and example


def test_missing_extra_names_the_install_command():
    code = ("import sys; sys.modules['skl2onnx'] = None\n"
            "try:\n    import sknet.onnx\nexcept ImportError as e:\n    print('ERR', e)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300).stdout
    assert 'pip install "sknet-keras[onnx]"' in out


@pytest.mark.slow
def test_export_example_serves_without_tensorflow(tmp_path):
    proc = subprocess.run([sys.executable, os.path.join(EXAMPLES, "export_onnx.py"), "--epochs", "2",
                           "--out", str(tmp_path / "pipe.onnx")],
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "served without TensorFlow: True" in proc.stdout
    assert "predictions identical: True" in proc.stdout


@pytest.mark.parametrize("supervised", [False, True])
def test_transformer_in_a_pipeline(supervised):
    from sklearn.linear_model import LogisticRegression

    from sknet import NetTransformer

    X, s = small_data(60)
    y = (s > 0).astype(int)
    net = NetTransformer([L.Dense(6, activation="tanh"), L.Dense(3, activation="relu")], epochs=2, random_state=0)
    net.fit(X, y) if supervised else net.fit(X)
    (codes,) = run_onnx(net, X)
    np.testing.assert_allclose(codes, net.transform(X), atol=ATOL)
    pipe = make_pipeline(StandardScaler(), net, LogisticRegression()).fit(X, y)
    check_classifier(pipe, X)


@pytest.mark.parametrize(
    "steps",
    [
        [StandardScaler()],
        [RobustScaler()],
        [StandardScaler(), RobustScaler()],  # the second Scaler's input is the first one's output
        [SimpleImputer(), StandardScaler()],  # behind an Imputer, which ONNX's type inference does not type
    ],
    ids=["standard", "robust", "two-scalers", "imputer-scaler"],
)
def test_float32_scalers_become_standard_ops_with_the_same_bits(steps):
    """sknet.onnx.to_onnx rewrites skl2onnx's Scaler on float32 as Sub and Mul: same bits, no Scaler left."""
    from skl2onnx import to_onnx

    X, s = small_data()
    X = 10 * X + 3
    if isinstance(steps[0], SimpleImputer):
        X[::7, 1] = np.nan  # values for the Imputer to fill
    pipe = make_pipeline(*steps, NetClassifier(MLP, epochs=2, random_state=0)).fit(X, s > 0)
    ours = sknet.onnx.to_onnx(pipe, X[:1], options={"zipmap": False})
    theirs = to_onnx(pipe, X[:1], options={"zipmap": False})
    n_scalers = sum(isinstance(step, (StandardScaler, RobustScaler)) for step in steps)
    assert [n.op_type for n in theirs.graph.node].count("Scaler") == n_scalers
    assert "Scaler" not in [n.op_type for n in ours.graph.node]
    outputs = []
    for onx in (ours, theirs):
        sess = rt.InferenceSession(onx.SerializeToString(), providers=["CPUExecutionProvider"])
        outputs.append(sess.run(None, {sess.get_inputs()[0].name: X}))
    for a, b in zip(*outputs, strict=True):
        np.testing.assert_array_equal(a, b)
    check_classifier(pipe, X)


def test_scaler_of_integers_is_left_alone():
    """A Scaler that casts its (int64) input first is not rewritten: Sub and Mul would compute in integers."""
    X, s = small_data()
    X = np.round(10 * X + 3).astype("int64")
    pipe = make_pipeline(StandardScaler(), NetClassifier(MLP, epochs=2, random_state=0)).fit(X, s > 0)
    onx = sknet.onnx.to_onnx(pipe, X[:1], options={"zipmap": False})
    assert "Scaler" in [n.op_type for n in onx.graph.node]
    check_classifier(pipe, X)
