"""Every private or version-dependent API of Keras and scikit-learn that sknet uses.

Each entry names what it uses and the versions it is known to work with.
Supported: TensorFlow >= 2.16.1, Keras >= 3.8.0 (TensorFlow backend),
scikit-learn >= 1.6.1, NumPy >= 1.26.0, SciPy >= 1.10.0, pandas >= 2.0.0: the
floors of :mod:`sknet._min_dependencies`, where they are declared (and why),
and which ``make test-min`` tests. A feature that needs a newer release than
its floor checks the version where it is called (:func:`check_version`). When
one of these changes, this is the only module to adapt.

===========================================  ==========================  ======================
what                                          used for                    versions
===========================================  ==========================  ======================
``sklearn.utils._param_validation``          ``_parameter_constraints``  scikit-learn >= 1.2
``sklearn.base._fit_context``                ``fit`` decorators          scikit-learn >= 1.3
``sklearn.utils.validation._check_sample_weight``                        scikit-learn >= 1.6
  with ``ensure_non_negative``               weight validation           (renamed in 1.6)
``sklearn.utils.validation._check_y``        ``y`` of a streamed ``X``   scikit-learn >= 1.0
``keras.src.losses.ALL_OBJECTS_DICT``        every loss name and alias   Keras >= 3.0
``optimizer._get_variable_index``, slot      fused optimizer kernels     Keras >= 3.4
  lists (``_momentums``, ``_velocities``,
  ``_average_gradients``, ``_velocity_hats``)
``ConcreteFunction._call_flat``              calls of traced functions   TensorFlow >= 2.11
                                              on dense tensors            (else ``__call__``)
``float(keras.Variable)``                    the trainer's learning      Keras >= 3.5
                                              rate
``clone_model(input_tensors=)``             networks on sparse input    Keras >= 3.7
  on sparse ``KerasTensor`` inputs
``Model.export(input_signature=)``           ONNX export                 Keras >= 3.8
``Model._compile_config.config``            a compiled spec's metrics   Keras >= 3.0
``Model.export(opset_version=)``             ONNX opsets below 15        Keras >= 3.12 (ignored
                                                                          before: checked at the
                                                                          call)
===========================================  ==========================  ======================
"""

import numpy as np
import tensorflow as tf
from packaging.version import Version
from sklearn.base import _fit_context  # noqa: F401  (re-exported)
from sklearn.utils._param_validation import HasMethods, Interval, StrOptions  # noqa: F401
from sklearn.utils.validation import _check_sample_weight
from sklearn.utils.validation import _check_y as check_y  # noqa: F401  (re-exported)


def check_sample_weight(sample_weight, X):
    """Validated, non-negative, not all-zero ``sample_weight`` (float64) for ``X``."""
    sample_weight = _check_sample_weight(sample_weight, X, dtype=np.float64, ensure_non_negative=True)
    if not np.any(sample_weight > 0):
        raise ValueError("sample_weight must not be all zero: nothing would be learned.")
    return sample_weight


def loss_names():
    """Every name and alias that ``keras.losses.get`` accepts (Keras' private registry)."""
    from keras.src.losses import ALL_OBJECTS_DICT

    return sorted(ALL_OBJECTS_DICT)


def optimizer_slot(optimizer, slots, variable):
    """The slot variable of ``variable`` in an optimizer's private slot list ``slots``.

    Keras 3 optimizers keep their per-variable state in private lists
    (``Adam._momentums``...) indexed by ``_get_variable_index``.
    """
    return getattr(optimizer, slots)[optimizer._get_variable_index(variable)]


def call_flat(function, args):
    """``function(*args)`` for a ``tf.function``'s ``ConcreteFunction``, cheaper on dense tensors.

    ``ConcreteFunction.__call__`` binds its arguments to the traced signature
    before it runs the function through ``_call_flat(tensors,
    captured_inputs)`` (the binding costs some 50 us a call, measured on a
    one-row ``predict``). When every argument is a dense ``tf.Tensor`` (what
    sknet's own traced functions take, in the order of their flat signature)
    the binding has nothing to do, and the call goes to ``_call_flat``
    directly. Composite tensors (sparse, ragged), Python values and a
    TensorFlow without ``_call_flat`` take ``__call__``.
    """
    flat = getattr(function, "_call_flat", None)
    if flat is None or not all(isinstance(arg, tf.Tensor) for arg in args):
        return function(*args)
    return flat(list(args), function.captured_inputs)


def version_of(package):
    """The installed version of the distribution ``package`` (``"keras"``, ``"scikit-learn"``...)."""
    from importlib.metadata import version

    return Version(version(package))


def check_version(package, minimum, feature, error=ValueError):
    """Raise ``error`` naming ``feature`` and the version it needs when ``package`` is older than ``minimum``."""
    installed = version_of(package)
    if installed < Version(minimum):
        raise error(f"{feature} needs {package} >= {minimum}; this environment has {package} {installed}. "
                    f'Upgrade it: pip install "{package}>={minimum}"')


def compile_config(model):
    """The arguments ``model.compile`` was given (``{}`` if none are known).

    Keras keeps them in the private ``Model._compile_config`` (a serializable
    wrapper whose ``config`` holds the objects as given); the public
    ``model.metrics`` lists compiled metrics only after the model has trained.
    """
    return getattr(getattr(model, "_compile_config", None), "config", None) or {}
