"""Faithful copies of the user's Keras objects: the same functions and classes, not look-alikes by name.

Keras copies an object through its config, and a config names the functions
it holds (an activation, a metric's or a loss's function) only by name: a
closure, a local function or a lambda cannot be found again by that name (and
a lambda without source cannot even be serialized). The copies made here put
a placeholder named by a token in each function's place before the config is
written, and resolve the token to the very same function object when the
copy is made, so the copy calls exactly what the original calls. An object
Keras would use as it is (a loss of the user's own class) is copied
attribute by attribute instead (:func:`copy_instance`).
"""

import copy
import functools
import types

import keras

_LIBRARIES = frozenset({
    "builtins", "functools", "jax", "keras", "math", "numpy", "operator", "optree", "scipy", "sklearn",
    "sknet", "tensorflow", "tf_keras", "torch",
})


def is_library(obj):
    """Whether a class or function comes from a library (fixed for the process), not from the user's code."""
    module = getattr(obj, "__module__", None)
    return isinstance(module, str) and module.split(".", 1)[0] in _LIBRARIES


def _user_function(value):
    """Whether ``value`` is a function of the user's (possibly a lambda or closure) that Keras would look up by name."""
    if isinstance(value, functools.partial):
        return _user_function(value.func)
    if isinstance(value, types.MethodType):
        return _user_function(value.__func__)
    return isinstance(value, types.FunctionType) and not is_library(value)


def held_functions(obj):
    """``{attribute: function}`` of the user's functions ``obj`` holds (an activation, a metric's ``_fn``).

    An attribute named like a method of ``obj``'s class is Keras' per-instance
    wrapper of that method (``build``), part of the class, not a held function.
    """
    cls = type(obj)
    return {name: value for name, value in vars(obj).items()
            if _user_function(value) and not callable(getattr(cls, name, None))}


def _placeholder(token):
    def placeholder(*args, **kwargs):  # pragma: no cover - only its name is ever used
        raise RuntimeError(f"sknet placeholder {token} called")

    placeholder.__name__ = placeholder.__qualname__ = token
    return placeholder


def pinned(obj, objects):
    """``obj``, or a shallow stand-in whose user functions are placeholders, for writing its config.

    Each of ``obj``'s attributes that holds a user function (an activation,
    a metric's ``_fn``...) is replaced in the stand-in by a placeholder named
    by a new token, and ``objects[token]`` is set to the function: under
    ``keras.saving.custom_object_scope(objects)``, the config deserializes to
    the very same function. The classes of the Keras objects ``obj`` holds are
    added under their registered names, so an unregistered class is found too.
    ``obj`` itself is never modified.
    """
    replaced = held_functions(obj)
    _add_classes(obj, objects)
    if not replaced:
        return obj
    stand_in = object.__new__(type(obj))
    stand_in.__dict__.update(vars(obj))
    for name, fn in replaced.items():
        token = f"sknet_fn_{len(objects)}_{getattr(fn, '__name__', 'fn').strip('<>')}"
        objects[token] = fn
        stand_in.__dict__[name] = _placeholder(token)
    return stand_in


def _add_classes(obj, objects, depth=3):
    """Add the user-defined classes of ``obj`` and of the Keras objects it holds (a few levels deep)."""
    if not is_library(type(obj)):
        objects.setdefault(keras.saving.get_registered_name(type(obj)), type(obj))
    if depth == 0:
        return
    for value in getattr(obj, "__dict__", {}).values():
        if hasattr(value, "get_config") and not isinstance(value, type):
            _add_classes(value, objects, depth - 1)


def rebuild(obj, config=None, objects=None):
    """A fresh copy of a Keras object from its config, calling the same functions and classes.

    Parameters
    ----------
    obj : Keras object with ``get_config``/``from_config``
    config : dict or None
        A config to build from instead of ``obj``'s own (overrides applied);
        it must come from :func:`faithful_config` of ``obj`` with ``objects``.
    objects : dict or None
        The tokens of that config.
    """
    if config is None:
        config, objects = faithful_config(obj)
    with keras.saving.custom_object_scope(objects or {}):
        return type(obj).from_config(config)


def faithful_config(obj):
    """``(config, objects)``: ``obj.get_config()`` with its user functions pinned (see :func:`pinned`)."""
    objects = {}
    return pinned(obj, objects).get_config(), objects


def copy_instance(obj):
    """A copy of ``obj`` holding the same attributes (containers copied), made without its config.

    For an object Keras would use as it is (a loss of the user's own class):
    its ``get_config`` may not hold all its state.
    """
    new = object.__new__(type(obj))
    new.__dict__.update({key: copy.copy(value) if type(value) in (list, dict, set) else value
                         for key, value in vars(obj).items()})
    return new


def unregistered_functions(model, metrics=()):
    """The user's functions that a saved ``model`` (compiled with ``metrics``) could not be loaded without.

    Keras saves a function by its registered name and finds it again only if
    it is registered (``@keras.saving.register_keras_serializable()``):
    fitting and predicting need no registration, saving does. Looked at: the
    function attributes of every layer (activations, a ``Lambda``'s function)
    and the metric functions. Lambdas are left out (Keras saves their code),
    and so are loss functions (:class:`FunctionLoss` loads without them).
    """
    found = []
    holders = list(model._flatten_layers(include_self=False, recursive=True))
    for metric in metrics or ():
        holders.append(metric if isinstance(metric, keras.metrics.Metric) else types.SimpleNamespace(fn=metric))
    for holder in holders:
        for value in held_functions(holder).values():
            fn = getattr(value, "func", value)
            if (getattr(fn, "__name__", "") != "<lambda>"
                    and keras.saving.get_registered_object(keras.saving.get_registered_name(fn)) is not fn
                    and fn not in found):
                found.append(fn)
    return found
