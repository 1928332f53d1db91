import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402

from sknet import NetClassifier  # noqa: E402
from sknet.plotting import plot_history  # noqa: E402


def test_plot_history_writes_a_png(iris, tmp_path):
    X, y = iris
    pipe = make_pipeline(
        StandardScaler(), NetClassifier(epochs=4, metrics=["accuracy"], validation_split=0.25, random_state=0)
    ).fit(X, y)
    axes = plot_history(pipe)
    assert [ax.get_title() for ax in axes] == ["loss", "accuracy"]
    assert [line.get_label() for line in axes[0].get_lines()] == ["train", "validation"]
    history = pipe[-1].history_
    for ax, metric in zip(axes, ["loss", "accuracy"], strict=True):
        train, validation = ax.get_lines()
        np.testing.assert_array_equal(train.get_xdata(), [1, 2, 3, 4])  # epochs, counted from 1
        np.testing.assert_allclose(train.get_ydata(), history[metric])
        np.testing.assert_allclose(validation.get_ydata(), history["val_" + metric])
    path = tmp_path / "history.png"
    axes[0].figure.savefig(path)
    assert path.stat().st_size > 1000
    plt.close("all")


def test_plot_history_on_given_axes_and_metric(iris):
    X, y = iris
    clf = NetClassifier(epochs=2, metrics=["accuracy"], random_state=0).fit(X, y)
    _, ax = plt.subplots()
    axes = plot_history(clf, ax=ax, metrics=["accuracy"])
    assert axes[0] is ax and len(ax.get_lines()) == 1
    np.testing.assert_allclose(ax.get_lines()[0].get_ydata(), clf.history_["accuracy"])
    with pytest.raises(ValueError, match="not in history_"):
        plot_history(clf, metrics=["auc"])
    plt.close("all")


def test_plot_history_needs_a_fitted_estimator():
    with pytest.raises(ValueError, match="fitted sknet estimator"):
        plot_history(NetClassifier())
