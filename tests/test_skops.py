"""skops persistence: shareable files that name only sknet's types and never run code."""

import json
import os
import pickle
import subprocess
import sys
import textwrap
import zipfile

import numpy as np
import pytest

sio = pytest.importorskip("skops.io")

import keras  # noqa: E402
from keras import layers as L  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402

from sknet import NetClassifier, NetRegressor  # noqa: E402
from sknet._persist import SKOPS_TYPES  # noqa: E402

ROOT = os.path.join(os.path.dirname(__file__), os.pardir)


def data(n=60, seed=0):
    rng = np.random.RandomState(seed)
    X = rng.randn(n, 4).astype("float32")
    return X, np.array(["a", "b", "c"])[np.digitize(X[:, 0] + X[:, 1], [-0.5, 0.5])]


def modules_in(path):
    """Every ``__module__`` the skops file's schema names."""
    with zipfile.ZipFile(path) as zf:
        schema = json.loads(zf.read("schema.json"))
    found = set()

    def walk(node):
        if isinstance(node, dict):
            if isinstance(node.get("__module__"), str):
                found.add(node["__module__"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(schema)
    return found


@pytest.fixture(scope="module")
def fitted_pipeline():
    X, y = data()
    clf = NetClassifier([L.Dense(8, activation="relu"), L.Dropout(0.1)], optimizer=keras.optimizers.Adam(0.01),
                        loss=keras.losses.CategoricalCrossentropy(label_smoothing=0.1), metrics=["accuracy"],
                        epochs=2, random_state=0)
    return make_pipeline(StandardScaler(), clf).fit(X, y)


def test_untrusted_types_are_sknet_types_only(fitted_pipeline, tmp_path):
    path = tmp_path / "pipe.skops"
    sio.dump(fitted_pipeline, path)
    untrusted = sio.get_untrusted_types(file=path)
    assert untrusted == ["sknet._classifier.NetClassifier", "sknet._encoding.ClassifierTarget",
                         "sknet._encoding.Head"]
    assert set(untrusted) <= set(SKOPS_TYPES)
    # Layer templates, optimizer and loss are Keras configs, not Keras objects: no keras module in the file.
    assert not [m for m in modules_in(path) if m.startswith(("keras", "tensorflow"))]
    with pytest.raises(Exception, match="[Uu]ntrusted"):
        sio.load(path)  # skops' own rule: nothing untrusted without trusted=


def test_loaded_pipeline_predicts_warm_starts_and_refits(fitted_pipeline, tmp_path):
    X, y = data()
    path = tmp_path / "pipe.skops"
    sio.dump(fitted_pipeline, path)
    loaded = sio.load(path, trusted=list(SKOPS_TYPES))
    clf, original = loaded[-1], fitted_pipeline[-1]
    np.testing.assert_array_equal(loaded.predict_proba(X), fitted_pipeline.predict_proba(X))
    assert [type(layer) for layer in clf.layers] == [L.Dense, L.Dropout] and clf.layers[0].units == 8
    assert isinstance(clf.optimizer, keras.optimizers.Adam)
    assert clf.optimizer.get_config()["learning_rate"] == pytest.approx(0.01)
    assert clf.loss.get_config()["label_smoothing"] == 0.1
    assert dict(clf.history_) == dict(original.history_) and clf.history_.n_epochs == 2
    # Warm start continues the saved optimizer state; a plain fit starts over.
    iterations = int(clf.model_.optimizer.iterations)
    assert iterations == int(original.model_.optimizer.iterations) > 0
    loaded.set_params(netclassifier__warm_start=True).fit(X, y)
    assert clf.history_.n_epochs == 4 and int(clf.model_.optimizer.iterations) == 2 * iterations
    loaded.set_params(netclassifier__warm_start=False).fit(X, y)
    assert clf.history_.n_epochs == 2
    assert loaded.score(X, y) > 0.3
    # The same skops file pickles like any estimator.
    np.testing.assert_array_equal(pickle.loads(pickle.dumps(loaded)).predict(X), loaded.predict(X))


def test_regressor_with_class_params(tmp_path):
    X, _ = data()
    y = X @ np.array([1.0, -2.0, 0.5, 0.0])
    reg = NetRegressor([L.Dense(6, activation="tanh")], optimizer=keras.optimizers.RMSprop, loss="huber",
                       optimizer__learning_rate=0.01, epochs=2, random_state=0).fit(X, y)
    path = tmp_path / "reg.skops"
    sio.dump(reg, path)
    assert sio.get_untrusted_types(file=path) == ["sknet._encoding.Head", "sknet._encoding.RegressorTarget",
                                                  "sknet._regressor.NetRegressor"]
    loaded = sio.load(path, trusted=list(SKOPS_TYPES))
    assert loaded.optimizer is keras.optimizers.RMSprop
    np.testing.assert_array_equal(loaded.predict(X), reg.predict(X))


def test_unfitted_estimator_roundtrip(tmp_path):
    clf = NetClassifier([L.Dense(3)], epochs=3, layers__0__units=5)
    sio.dump(clf, tmp_path / "u.skops")
    loaded = sio.load(tmp_path / "u.skops", trusted=list(SKOPS_TYPES))
    assert loaded.get_params()["layers__0__units"] == 5 and not hasattr(loaded, "model_")


def _run(code, **env):
    proc = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True,
                          timeout=300, cwd=ROOT, env={**os.environ, **env})
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc.stdout


@pytest.mark.slow
def test_loads_and_predicts_identically_in_a_fresh_process(fitted_pipeline, tmp_path):
    X, _ = data()
    sio.dump(fitted_pipeline, tmp_path / "pipe.skops")
    np.save(tmp_path / "X.npy", X)
    _run(f"""
        import numpy as np, skops.io as sio
        from sknet._persist import SKOPS_TYPES
        pipe = sio.load({str(tmp_path / "pipe.skops")!r}, trusted=list(SKOPS_TYPES))
        np.save({str(tmp_path / "proba.npy")!r}, pipe.predict_proba(np.load({str(tmp_path / "X.npy")!r})))
    """)
    np.testing.assert_array_equal(np.load(tmp_path / "proba.npy"), fitted_pipeline.predict_proba(X))


@pytest.mark.slow
def test_network_with_lambda_code_is_refused_and_never_runs(tmp_path):
    flag = tmp_path / "lambda_ran.txt"

    # sknet refuses to build a Lambda from a spec, so the attacker crafts the file: a fitted estimator
    # whose network is swapped for one with a Lambda that writes the flag whenever it runs with
    # SKNET_TEST_FLAG set (not here).
    X, y = data()
    clf = NetClassifier([L.Dense(4)], epochs=1, random_state=0).fit(X, y)
    inputs = keras.Input((4,))
    evil = L.Lambda(lambda x: x + 0.0 * len([open(p, "w").write("ran")
                                             for p in [__import__("os").environ.get("SKNET_TEST_FLAG")] if p]),
                    output_shape=(4,))
    clf.model_ = keras.Model(inputs, L.Dense(3, activation="softmax")(evil(inputs)))
    path = tmp_path / "evil.skops"
    sio.dump(clf, path)
    assert not flag.exists()
    # Even when every listed type is trusted, loading refuses the network (and the template) without running it.
    out = _run(f"""
        import skops.io as sio
        path = {str(path)!r}
        try:
            sio.load(path, trusted=sio.get_untrusted_types(file=path))
        except ValueError as e:
            print("REFUSED", e)
    """, SKNET_TEST_FLAG=str(flag))
    assert "REFUSED" in out and "safe_mode" in out and "Lambda" in out
    assert not flag.exists()
    # Control: the same network loaded unsafely (a pickle) does run the code, so the flag would show it.
    with open(tmp_path / "evil.pkl", "wb") as f:
        pickle.dump(clf, f)
    _run(f"""
        import pickle
        import numpy as np
        with open({str(tmp_path / "evil.pkl")!r}, "rb") as f:
            pickle.load(f).model_(np.zeros((1, 4), "float32"))
    """, SKNET_TEST_FLAG=str(flag))
    assert flag.read_text() == "ran"


def test_transformer_roundtrip(tmp_path):
    from sknet import NetTransformer

    X, _ = data()
    ae = NetTransformer([L.Dense(6, activation="relu"), L.Dense(2)], epochs=2, random_state=0).fit(X)
    codes = ae.transform(X)  # builds the predict caches, which skops files leave out
    sio.dump(ae, tmp_path / "t.skops")
    assert set(sio.get_untrusted_types(file=tmp_path / "t.skops")) <= set(SKOPS_TYPES)
    loaded = sio.load(tmp_path / "t.skops", trusted=list(SKOPS_TYPES))
    np.testing.assert_array_equal(loaded.transform(X), codes)
    np.testing.assert_array_equal(loaded.inverse_transform(codes), ae.inverse_transform(codes))


def frame(n=80, seed=0):
    """A raw DataFrame: a string column, a category, numbers with NaN, bools; and a test frame with unseen and
    missing categories."""
    import pandas as pd

    rng = np.random.RandomState(seed)
    df = pd.DataFrame({"city": pd.Series(rng.choice(["paris", "lyon", "nice"], n), dtype=object),
                       "plan": pd.Categorical(rng.choice(["basic", "pro"], n)),
                       "age": rng.uniform(20, 70, n), "member": rng.rand(n) > 0.5})
    df.loc[::7, "age"] = np.nan
    y = np.where((df.age.fillna(45) > 45) ^ (df.city == "lyon"), "buy", "skip")
    test = df.copy()
    test.loc[0, "city"], test.loc[1, "city"], test.loc[2, "plan"] = "brest", None, np.nan
    return df, y, test


@pytest.mark.parametrize("kind", ["classifier", "regressor"])
def test_raw_frame_estimator_names_only_sknet_types(kind, tmp_path):
    """A model fitted on a DataFrame (its table_encoder_ included) loads with only sknet's types trusted."""
    df, y, test = frame()
    est = (NetClassifier(epochs=2, random_state=0).fit(df, y) if kind == "classifier"
           else NetRegressor(epochs=2, random_state=0).fit(df, 1000.0 * (y == "buy") + df.age.fillna(0)))
    assert hasattr(est, "table_encoder_")
    path = tmp_path / "frame.skops"
    sio.dump(est, path)
    untrusted = sio.get_untrusted_types(file=path)
    assert "sknet._tabular._encoder.TableEncoder" in untrusted
    assert all(t.startswith("sknet.") for t in untrusted) and set(untrusted) <= set(SKOPS_TYPES)
    assert not [m for m in modules_in(path) if m.startswith(("keras", "tensorflow", "pandas"))]
    loaded = sio.load(path, trusted=list(SKOPS_TYPES))
    np.testing.assert_array_equal(loaded.predict(test), est.predict(test))
    if kind == "classifier":
        np.testing.assert_array_equal(loaded.predict_proba(test), est.predict_proba(test))


@pytest.mark.slow
def test_raw_frame_estimator_loads_in_a_fresh_process(tmp_path):
    df, y, test = frame()
    clf = NetClassifier(epochs=2, random_state=0).fit(df, y)
    sio.dump(clf, tmp_path / "frame.skops")
    test.to_pickle(tmp_path / "test.pkl")
    _run(f"""
        import numpy as np, pandas as pd, skops.io as sio
        from sknet._persist import SKOPS_TYPES
        clf = sio.load({str(tmp_path / "frame.skops")!r}, trusted=list(SKOPS_TYPES))
        np.save({str(tmp_path / "proba.npy")!r}, clf.predict_proba(pd.read_pickle({str(tmp_path / "test.pkl")!r})))
    """)
    np.testing.assert_array_equal(np.load(tmp_path / "proba.npy"), clf.predict_proba(test))
