"""Pickle and skops support.

**pickle.** The fitted ``keras.Model`` travels as Keras' own in-memory archive:
Keras 3 models pickle natively (``Model.__reduce__`` writes a ``.keras``
archive to memory), so no Keras class is patched. sknet only records the
versions the state was written with, to warn clearly when it is loaded under
different ones.

**skops.** ``skops.io.dump`` asks for the same ``__getstate__``; for skops the
state holds no Keras object: the network is a ``.keras`` archive (bytes, with
its optimizer state) that loads through ``keras.saving.load_model(...,
safe_mode=True)``, and Keras objects among the parameters (layer templates,
optimizer, loss and metric instances or classes) are kept as their Keras
configs (or registered names) and rebuilt with ``safe_mode=True`` (so is a
``keras.DTypePolicy`` given as ``dtype_policy``). So a skops
file names no type but sknet's own (:data:`SKOPS_TYPES`), and a network that
holds code (a ``Lambda`` layer) is refused at load without running it.
"""

import copy
import os
import sys
import tempfile
import warnings

import numpy as np

from .exceptions import InconsistentVersionWarning

#: What ``skops.io.get_untrusted_types`` lists for a fitted sknet estimator
#: (besides the scikit-learn types skops does not trust by default, if any).
SKOPS_TYPES = (
    "sknet._classifier.NetClassifier",
    "sknet._regressor.NetRegressor",
    "sknet._transformer.NetTransformer",
    "sknet._encoding.ClassifierTarget",
    "sknet._encoding.RegressorTarget",
    "sknet._encoding.Head",
    "sknet._tabular._encoder.TableEncoder",
)

_SKOPS_FORMAT = "_sknet_skops_format"
_NETWORK = "_sknet_network"
_KERAS_CONFIG = "__sknet_keras_config__"
_KERAS_CLASS = "__sknet_keras_class__"
_DTYPE = "__sknet_dtype__"


def versions():
    """The library versions a pickled estimator depends on."""
    import keras
    import sklearn

    from . import __version__

    return {"sknet": __version__, "keras": keras.__version__, "sklearn": sklearn.__version__}


# Keras' .keras archive leaves out the dropout seed generators' state: a loaded
# network would draw new dropout masks from Python's global ``random``, so a
# warm start after loading would depend on the process. Their values travel here.
_NON_TRAINABLE = "_sknet_non_trainable"


def _check_registered(estimator):
    """Raise, naming them, if the fitted network holds functions a loaded copy could not find."""
    from ._faithful import unregistered_functions

    missing = unregistered_functions(estimator.model_, getattr(estimator, "metrics", None))
    if missing:
        names = ", ".join(f"{getattr(fn, '__module__', '?')}.{getattr(fn, '__qualname__', fn)}" for fn in missing)
        raise TypeError(
            f"this {type(estimator).__name__} cannot be saved: its network uses the function(s) {names}, "
            "which Keras can only find again when loading if they are registered. Define each at module "
            "level and decorate it with @keras.saving.register_keras_serializable(), then fit again and save. "
            "(Fitting and predicting need no registration.)"
        )


def getstate(estimator):
    state = dict(estimator.__dict__)
    if hasattr(estimator, "model_"):
        _check_registered(estimator)
        state["_sknet_versions"] = versions()
        state[_NON_TRAINABLE] = [v.numpy() for v in estimator.model_.non_trainable_variables]
    if _called_by_skops():
        return _skops_state(state)
    return state


def _major(version):
    return version.split(".")[0]


def setstate(estimator, state):
    state = dict(state)
    values = state.pop(_NON_TRAINABLE, None)
    if state.pop(_SKOPS_FORMAT, None) is not None:
        state = _from_skops_state(state)
    saved = state.pop("_sknet_versions", None)
    if saved is not None:
        current = versions()
        if _major(saved["keras"]) != _major(current["keras"]):
            raise RuntimeError(
                f"this {type(estimator).__name__} was pickled with Keras {saved['keras']} and "
                f"cannot be loaded with Keras {current['keras']}: the Keras major versions differ. "
                "Load it with the original versions and re-save model_ with keras.saving."
            )
        changed = {k: (saved[k], current[k]) for k in current if saved.get(k) != current[k]}
        if changed:
            detail = ", ".join(f"{k} {old} -> {new}" for k, (old, new) in changed.items())
            warnings.warn(
                f"loading a {type(estimator).__name__} pickled under other versions ({detail}); "
                "predictions may differ. Refit or re-save under the current versions.",
                InconsistentVersionWarning,
                stacklevel=3,
            )
    estimator.__dict__.update(state)
    variables = getattr(getattr(estimator, "model_", None), "non_trainable_variables", [])
    if values is not None and [tuple(v.shape) for v in variables] == [np.shape(value) for value in values]:
        for variable, value in zip(variables, values, strict=True):
            variable.assign(value)


# ----------------------------------------------------------------------------- skops


def _called_by_skops():
    """Whether the first caller outside sknet is skops (``skops.io.dump`` asks for the state)."""
    frame = sys._getframe(1)
    while frame is not None and frame.f_globals.get("__name__", "").startswith("sknet."):
        frame = frame.f_back
    return frame is not None and frame.f_globals.get("__name__", "").startswith("skops.")


def _keras_bases():
    import keras

    return (keras.layers.Layer, keras.optimizers.Optimizer, keras.losses.Loss, keras.metrics.Metric,
            keras.initializers.Initializer, keras.regularizers.Regularizer, keras.constraints.Constraint,
            keras.DTypePolicy)


def _class_namespaces():
    import keras

    return (keras.layers, keras.optimizers, keras.losses, keras.metrics, keras.initializers,
            keras.regularizers, keras.constraints, keras.callbacks)


def _to_configs(value, bases):
    """``value`` with every Keras object replaced by a marker dict holding its config."""
    if isinstance(value, bases):
        import keras

        return {_KERAS_CONFIG: keras.saving.serialize_keras_object(value)}
    if isinstance(value, type) and issubclass(value, bases):
        import keras

        return {_KERAS_CLASS: keras.saving.get_registered_name(value)}
    if isinstance(value, (list, tuple)):
        return type(value)(_to_configs(v, bases) for v in value)
    if isinstance(value, dict) and type(value) is dict:
        return {k: _to_configs(v, bases) for k, v in value.items()}
    return value


def _from_configs(value):
    """Undo :func:`_to_configs`, deserializing with Keras' ``safe_mode=True``."""
    if isinstance(value, dict) and set(value) == {_KERAS_CONFIG}:
        import keras

        return keras.saving.deserialize_keras_object(value[_KERAS_CONFIG], safe_mode=True)
    if isinstance(value, dict) and set(value) == {_KERAS_CLASS}:
        return _keras_class(value[_KERAS_CLASS])
    if isinstance(value, (list, tuple)):
        return type(value)(_from_configs(v) for v in value)
    if isinstance(value, dict):
        return {k: _from_configs(v) for k, v in value.items()}
    return value


def _keras_class(name):
    """A Keras class by registered name: a registered custom class, or a public Keras one (never an import)."""
    import keras

    found = keras.saving.get_registered_object(name)
    if found is None and "." not in name and ">" not in name:
        found = next((getattr(ns, name) for ns in _class_namespaces() if isinstance(getattr(ns, name, None), type)),
                     None)
    if found is None:
        raise ValueError(f"cannot load the Keras class {name!r}: register it with "
                         "@keras.saving.register_keras_serializable() before loading.")
    return found


def _skops_state(state):
    bases = _keras_bases()
    state.pop("_serving", None)  # predict caches: rebuilt on load
    state.pop("_submodels", None)
    model = state.pop("model_", None)
    state = {k: _to_configs(v, bases) for k, v in state.items()}
    if model is not None:
        state[_NETWORK] = _network_bytes(model)
    if "history_" in state:
        state["history_"] = {k: list(v) for k, v in state["history_"].items()}
    if hasattr(state.get("target_"), "y_dtype_"):  # a numpy.dtype would be one more type to trust
        target = copy.copy(state["target_"])
        target.y_dtype_ = {_DTYPE: target.y_dtype_.str}
        state["target_"] = target
    state[_SKOPS_FORMAT] = 1
    return state


def _network_bytes(model):
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "network.keras")
        model.save(path)
        with open(path, "rb") as f:
            return f.read()


def _network_from_bytes(data):
    import keras

    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "network.keras")
        with open(path, "wb") as f:
            f.write(data)
        try:
            return keras.saving.load_model(path, safe_mode=True)
        except Exception as exc:
            raise ValueError(
                "the network in this skops file cannot be loaded safely: Keras' safe_mode=True "
                f"refused it ({exc}). Nothing it holds was run. Load it only if you trust its author "
                "(keras.config.enable_unsafe_deserialization() does not apply to skops files)."
            ) from exc


def _from_skops_state(state):
    from ._engine import ServingCache
    from ._history import History

    data = state.pop(_NETWORK, None)
    try:
        state = {k: _from_configs(v) for k, v in state.items()}
    except Exception as exc:
        raise ValueError(
            "a parameter in this skops file cannot be loaded safely: Keras' safe_mode=True refused its "
            f"config ({exc}). Nothing it holds was run."
        ) from exc
    if data is not None:
        state["model_"] = _network_from_bytes(bytes(data))
        state["_serving"] = ServingCache()
    if "history_" in state:
        state["history_"] = History(state["history_"])
    y_dtype = getattr(state.get("target_"), "y_dtype_", None)
    if isinstance(y_dtype, dict) and set(y_dtype) == {_DTYPE}:
        import numpy as np

        state["target_"].y_dtype_ = np.dtype(y_dtype[_DTYPE])
    return state
