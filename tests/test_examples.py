"""Every example runs, with tiny settings, on local data."""

import os
import runpy
import sys

import numpy as np
import pytest

EXAMPLES = os.path.join(os.path.dirname(__file__), os.pardir, "examples")


@pytest.fixture
def tiny_mnist(tmp_path):
    """A small .npz in Keras' MNIST layout: digit-like blobs, learnable."""
    rng = np.random.RandomState(0)
    protos = rng.randint(0, 255, size=(10, 28, 28))

    def make(n):
        y = rng.randint(0, 10, n)
        x = np.clip(protos[y] + rng.randint(-40, 40, size=(n, 28, 28)), 0, 255).astype("uint8")
        return x, y.astype("uint8")

    (x_train, y_train), (x_test, y_test) = make(300), make(100)
    path = tmp_path / "mnist.npz"
    np.savez(path, x_train=x_train, y_train=y_train, x_test=x_test, y_test=y_test)
    return str(path)


def run_example(name, args, monkeypatch):
    monkeypatch.syspath_prepend(EXAMPLES)
    monkeypatch.setattr(sys, "argv", [name] + args)
    return runpy.run_path(os.path.join(EXAMPLES, name), run_name="__main__")


@pytest.mark.parametrize("name", ["mnist_mlp.py", "mnist_cnn.py"])
def test_mnist_examples(name, tiny_mnist, monkeypatch, capsys):
    run_example(name, ["--data", tiny_mnist, "--epochs", "2", "--limit", "200"], monkeypatch)
    out = capsys.readouterr().out
    assert "200 train samples" in out
    accuracy = float(out.split("Test accuracy:")[1].split()[0])
    assert accuracy > 0.3  # chance is 0.1


def test_grid_search_example(monkeypatch, capsys):
    run_example("grid_search_pipeline.py", ["--epochs", "2"], monkeypatch)
    assert "cross_val_score of the best pipeline" in capsys.readouterr().out


def test_regression_example(monkeypatch, capsys):
    run_example("regression.py", ["--epochs", "5"], monkeypatch)
    out = capsys.readouterr().out
    assert "sknet NetRegressor" in out and "Ridge" in out and "MLPRegressor" in out


def test_tabular_example(monkeypatch, capsys):
    run_example("tabular_pandas.py", ["--epochs", "3"], monkeypatch)
    out = capsys.readouterr().out
    assert "categorical: ['plan', 'region']" in out
    assert float(out.split("test ROC AUC, sknet NetClassifier, raw frame:")[1].split()[0]) > 0.8
    assert "mars" in out  # the unseen category was predicted, not refused


def test_save_and_serve_example(monkeypatch, capsys, tmp_path):
    run_example("save_and_serve.py", ["--epochs", "2", "--out", str(tmp_path)], monkeypatch)
    assert "identical predictions" in capsys.readouterr().out
    assert (tmp_path / "network.keras").exists()


def test_demo_writes_learning_curves(monkeypatch, capsys, tmp_path):
    png = tmp_path / "curves.png"
    run_example("demo.py", ["--epochs", "2", "--out", str(png)], monkeypatch)
    out = capsys.readouterr().out
    assert "5-fold CV accuracy" in out and png.stat().st_size > 1000


def test_text_classification_example(monkeypatch, capsys):
    run_example("text_classification.py", ["--epochs", "3", "--docs", "300"], monkeypatch)
    out = capsys.readouterr().out
    assert "csr_matrix" in out or "csr_array" in out  # what the pipeline hands the network is sparse
    assert float(out.split("Test accuracy of the best pipeline:")[1].split()[0]) > 0.6  # chance is 1/3
