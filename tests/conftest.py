import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
from sklearn.datasets import load_digits, load_iris  # noqa: E402


@pytest.fixture(scope="session")
def digits():
    """Digits scaled to [0, 1], float32."""
    X, y = load_digits(return_X_y=True)
    return (X / 16.0).astype("float32"), y


@pytest.fixture(scope="session")
def iris():
    X, y = load_iris(return_X_y=True)
    X = (X - X.mean(axis=0)) / X.std(axis=0)
    return X, y


@pytest.fixture
def regression_data():
    rng = np.random.RandomState(0)
    X = rng.randn(200, 5)
    coef = rng.randn(5, 2)
    Y = X @ coef + 0.05 * rng.randn(200, 2)
    return X, Y
