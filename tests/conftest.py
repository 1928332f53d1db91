import json
import os
import subprocess
import sys
from importlib.metadata import version as _installed_version

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
from packaging.version import Version  # noqa: E402
from sklearn.datasets import load_digits, load_iris  # noqa: E402


def requires(package, minimum, why=""):
    """Skip mark for a test that needs ``package >= minimum``, newer than its floor (``make test-min``).

    The reason names the version needed and the one installed, so the min run's
    ``-ra`` summary lists every test it could not hold and why:
    ``@requires("keras", "3.9", "LossScaleOptimizer.iterations follows the inner optimizer")``.
    """
    installed = Version(_installed_version(package))
    reason = f"needs {package} >= {minimum} (installed: {installed})" + (f": {why}" if why else "")
    return pytest.mark.skipif(installed < Version(minimum), reason=reason)


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


# Two logical CPU devices, configured before TensorFlow starts: only a fresh interpreter can have them.
_TWO_CPUS = r"""
import json, os
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
import tensorflow as tf
cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
"""


def _run_on_two_cpus(script):
    """Run ``script`` in a subprocess with two logical CPU devices; returns the JSON it printed after ``RESULT``.

    ``script`` runs after ``json`` and ``os`` are imported and the devices set up,
    and prints ``"RESULT" + json.dumps(...)``; the rest of the suite keeps a clean runtime.
    """
    out = subprocess.run([sys.executable, "-c", _TWO_CPUS + script], capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]
    return json.loads(out.stdout.split("RESULT", 1)[1])


@pytest.fixture
def run_on_two_cpus():
    """:func:`_run_on_two_cpus`: a script's result, run on two logical CPU devices in a subprocess."""
    return _run_on_two_cpus
