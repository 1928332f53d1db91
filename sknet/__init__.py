"""sknet: scikit-learn estimators for Keras neural networks.

>>> from sknet import NetClassifier, NetRegressor, NetTransformer
"""

__version__ = "0.1.0"

from ._parallel import configure_threads as _configure_threads

_configure_threads()  # before TensorFlow starts: thread caps in joblib workers

# The imports below start TensorFlow, so they come after the thread setup (E402).
from . import exceptions  # noqa: E402  (public submodule: sknet.exceptions)
from ._classifier import NetClassifier  # noqa: E402
from ._history import History  # noqa: E402
from ._parallel import configure_worker_devices as _configure_worker_devices  # noqa: E402
from ._regressor import NetRegressor  # noqa: E402
from ._transformer import NetTransformer  # noqa: E402

_configure_worker_devices()  # one GPU per joblib worker, memory growth on

__all__ = ["NetClassifier", "NetRegressor", "NetTransformer", "History", "exceptions", "__version__"]
