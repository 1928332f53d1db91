"""NetClassifier / NetRegressor in scikit-learn workflows; determinism; no side effects."""

import random
import re
import subprocess
import sys
import textwrap

import keras
import numpy as np
import pandas as pd
import pytest
import tensorflow as tf
from keras.layers import Dense, Dropout
from sklearn.model_selection import GridSearchCV, cross_val_score
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler

from sknet import NetClassifier, NetRegressor


def tutorial_mlp(**kw):
    """The Keras tutorial MLP, written with sknet."""
    params = dict(
        layers=[Dense(64, activation="relu"), Dropout(0.2), Dense(64, activation="relu"), Dropout(0.2)],
        optimizer="rmsprop",
        epochs=5,
        batch_size=128,
        random_state=0,
    )
    params.update(kw)
    return NetClassifier(**params)


def test_tutorial_mlp_in_pipeline_cv_and_grid_search(digits):
    X, y = digits
    pipe = Pipeline([("scale", StandardScaler()), ("net", tutorial_mlp(epochs=10))])
    scores = cross_val_score(pipe, X, y, cv=3)
    assert scores.mean() > 0.85
    search = GridSearchCV(pipe, {"net__batch_size": [64, 128]}, cv=2).fit(X, y)
    assert search.best_score_ > 0.85
    assert search.best_estimator_.score(X, y) > 0.9


def test_predict_matches_keras_predict(digits):
    X, y = digits
    clf = tutorial_mlp(epochs=2).fit(X, y)
    np.testing.assert_allclose(clf.predict_proba(X), clf.model_.predict(X, verbose=0), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(clf.predict_proba(X[:1]), clf.model_.predict(X[:1], verbose=0), rtol=1e-5, atol=1e-6)


def test_same_random_state_same_predictions(digits):
    X, y = digits
    a = tutorial_mlp(epochs=3).fit(X, y).predict_proba(X)
    b = tutorial_mlp(epochs=3).fit(X, y).predict_proba(X)
    np.testing.assert_array_equal(a, b)
    c = tutorial_mlp(epochs=3, random_state=1).fit(X, y).predict_proba(X)
    assert not np.allclose(a, c)


_SUBPROCESS = textwrap.dedent(
    """
    import numpy as np
    from keras.layers import Dense, Dropout
    from sklearn.datasets import load_digits
    from sknet import NetClassifier
    X, y = load_digits(return_X_y=True)
    clf = NetClassifier([Dense(64, activation="relu"), Dropout(0.2)], epochs=3, batch_size=128,
                        random_state=0).fit(X / 16.0, y)
    np.save({path!r}, clf.predict_proba(X / 16.0))
    """
)


def test_same_random_state_same_predictions_in_a_new_process(tmp_path, digits):
    X, y = digits
    paths = [str(tmp_path / f"p{i}.npy") for i in range(2)]
    for path in paths:
        subprocess.run([sys.executable, "-c", _SUBPROCESS.format(path=path)], check=True)
    here = NetClassifier([Dense(64, activation="relu"), Dropout(0.2)], epochs=3, batch_size=128, random_state=0)
    here.fit(X.astype("float64"), y)
    first, second = (np.load(p) for p in paths)
    np.testing.assert_array_equal(first, second)
    np.testing.assert_allclose(here.predict_proba(X), first, rtol=1e-6, atol=1e-7)


def test_global_random_state_is_untouched(digits):
    X, y = digits
    clf = tutorial_mlp(epochs=1)  # creating Keras layers draws from `random`: not ours
    random.seed(123)
    np.random.seed(123)
    tf.random.set_seed(123)
    expected = (random.random(), np.random.rand(), float(tf.random.uniform(())))
    random.seed(123)
    np.random.seed(123)
    tf.random.set_seed(123)
    clf.fit(X, y)
    clf.set_params(layers__0__units=8)
    clf.predict(X)
    assert (random.random(), np.random.rand(), float(tf.random.uniform(()))) == expected


def test_inputs_are_not_mutated(digits):
    X, y = digits
    X_copy, y_copy = X.copy(), y.copy()
    w = np.ones(len(X))
    tutorial_mlp(epochs=1).fit(X, y, sample_weight=w)
    np.testing.assert_array_equal(X, X_copy)
    np.testing.assert_array_equal(y, y_copy)
    assert (w == 1).all()


def test_pandas_feature_names(iris):
    X, y = iris
    df = pd.DataFrame(X, columns=["sl", "sw", "pl", "pw"])
    clf = NetClassifier(epochs=2, random_state=0).fit(df, pd.Series(y))
    np.testing.assert_array_equal(clf.feature_names_in_, ["sl", "sw", "pl", "pw"])
    assert clf.n_features_in_ == 4
    with pytest.raises(ValueError, match="feature names"):
        clf.predict(df.rename(columns={"sl": "x"}))


def test_regressor_in_pipeline_scores_r2():
    from sklearn.datasets import load_diabetes

    X, y = load_diabetes(return_X_y=True)
    reg = make_pipeline(
        StandardScaler(),
        NetRegressor([Dense(32, activation="relu")], optimizer__learning_rate=0.05, epochs=30, random_state=0),
    )
    scores = cross_val_score(reg, X, y, cv=3)
    assert scores.mean() > 0.3


def test_verbose_zero_is_silent(iris, capfd):
    X, y = iris
    NetClassifier(epochs=2, random_state=0).fit(X, y).predict(X)
    out, err = capfd.readouterr()
    assert out == ""
    assert "tensorflow" not in err.lower()


BAR = "\u2501"  # the heavy horizontal line Keras' progress bar is drawn with
EPOCH_LINE = re.compile(r"^5/5 - \S+ - \S+/step - loss: \d+\.\d+$", re.M)  # 150 rows / 32 = 5 steps


def test_verbose_1_draws_a_progress_bar(iris, capsys):
    X, y = iris
    NetClassifier(epochs=2, verbose=1, random_state=0).fit(X, y)
    out = capsys.readouterr().out
    assert out.count("Epoch 1/2") == 1 and out.count("Epoch 2/2") == 1
    assert re.search(rf"5/5\S* \S*{BAR}+", out), out  # the full bar of the last step
    assert BAR in out and "loss: " in out
    assert not EPOCH_LINE.search(out)


def test_verbose_2_prints_one_line_per_epoch(iris, capsys):
    X, y = iris
    NetClassifier(epochs=2, verbose=2, random_state=0).fit(X, y)
    out = capsys.readouterr().out
    assert out.count("Epoch 1/2") == 1 and out.count("Epoch 2/2") == 1
    assert len(EPOCH_LINE.findall(out)) == 2, out
    assert BAR not in out and "\r" not in out


def test_random_state_none_draws_from_numpys_global_generator(iris):
    X, y = iris

    def fit_after_seed(seed):
        np.random.seed(seed)
        return NetClassifier(epochs=2, random_state=None).fit(X, y).predict_proba(X)

    np.testing.assert_array_equal(fit_after_seed(5), fit_after_seed(5))
    assert np.abs(fit_after_seed(6) - fit_after_seed(5)).max() > 1e-4
    np.random.seed(5)
    untouched = np.random.rand()
    np.random.seed(5)
    NetClassifier(epochs=1, random_state=None).fit(X, y)
    assert np.random.rand() != untouched  # the fit drew from the global generator


def test_default_epochs_and_batch_size(iris):
    X, y = iris
    clf = NetClassifier(random_state=0)
    assert (clf.epochs, clf.batch_size) == (100, "auto")  # "auto": 32 for an array (sknet._tabular.resolve)
    clf.fit(X, y)
    assert clf.n_iter_ == 100 and clf.history_.n_epochs == 100
    assert int(clf.model_.optimizer.iterations) == 100 * 5  # 150 rows in batches of 32: 5 steps per epoch
    reg = NetRegressor(random_state=0).fit(X[:40], X[:40, 0])
    assert reg.n_iter_ == 100 and int(reg.model_.optimizer.iterations) == 100 * 2


def test_unfitted_raises_not_fitted(iris):
    from sklearn.exceptions import NotFittedError

    with pytest.raises(NotFittedError):
        NetClassifier().predict(iris[0])


def test_model_is_a_keras_model(iris):
    X, y = iris
    clf = NetClassifier(epochs=1, metrics=["accuracy"], random_state=0).fit(X, y)
    assert isinstance(clf.model_, keras.Model)
    assert isinstance(clf.model_.optimizer, keras.optimizers.Optimizer)
    loss, acc = clf.model_.evaluate(X, keras.utils.to_categorical(y, 3), verbose=0)
    assert acc == pytest.approx(clf.score(X, y))
