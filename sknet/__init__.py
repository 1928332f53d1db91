"""sknet: scikit-learn estimators for Keras neural networks.

>>> from sknet import NetClassifier, NetRegressor
"""

__version__ = "0.1.0"

from ._parallel import configure_threads as _configure_threads

_configure_threads()  # before TensorFlow starts: thread caps in joblib workers

from ._classifier import NetClassifier
from ._history import History
from ._parallel import configure_worker_devices as _configure_worker_devices
from ._regressor import NetRegressor
from . import exceptions

_configure_worker_devices()  # one GPU per joblib worker, memory growth on

__all__ = ["NetClassifier", "NetRegressor", "History", "__version__"]
