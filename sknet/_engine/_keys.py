"""Behaviour tokens: the code behind a Keras object, as a part of a trace-cache key.

A config names the classes and functions an object calls (``"MyLayer"``,
``"loss"``) but not *which* ones: two closures of one factory
(``pinball(0.1)``, ``pinball(0.9)``), two classes of one name (a notebook cell
run twice) and a function before and after an edit all serialize alike. A
trace reused across them would run the first one's code. The tokens here tell
them apart:

* a class is itself (identity: kept alive by the key that holds it, so two
  classes of one name never compare equal), and for a class defined outside
  the libraries also the tokens of the methods it defines;
* a function of a library (Keras, TensorFlow, NumPy...) is its module and
  qualified name: libraries are not edited while a process runs, and Keras
  makes per-instance wrappers (``build``) that should not split the cache;
* any other function is its *content*: its code object (equal for equal
  source), its defaults, the values of its closure cells and of the globals
  its code reads. Two closures over equal values share a trace, two over
  different values do not, and an edited function never shares with the old;
* plain values (numbers, strings, arrays, containers) are their values;
* anything else is :data:`UNKNOWN`-like: a fresh object that equals only
  itself, so a key holding it never matches another (no reuse where sameness
  cannot be known).
"""

import functools
import json
import types

import keras
import numpy as np
import tensorflow as tf

from .._faithful import is_library

_PLAIN = (type(None), bool, int, float, complex, str, bytes)
_ARRAY_BYTES = 1 << 16  # larger arrays are keyed by a digest of their bytes


class _Same:
    """A key part that equals another exactly when both hold the same object (kept alive by the key)."""

    __slots__ = ("obj",)

    def __init__(self, obj):
        self.obj = obj

    def __eq__(self, other):
        return isinstance(other, _Same) and other.obj is self.obj

    def __hash__(self):
        return id(self.obj)


class _Unknown:
    """A key part that equals only itself: where sameness cannot be known, never reuse."""

    __slots__ = ()

    def __repr__(self):
        return "<unknown>"


def class_token(cls, seen=None):
    """A class's token: the class itself, plus its own methods' tokens when it is not a library's."""
    if is_library(cls):
        return cls
    seen = set() if seen is None else seen
    methods = []
    for klass in cls.__mro__:
        if is_library(klass) or klass is object:
            continue
        for name, value in sorted(vars(klass).items()):
            if isinstance(value, (staticmethod, classmethod)):
                value = value.__func__
            if isinstance(value, (types.FunctionType, property)):
                methods.append((klass.__qualname__, name, _callable(value, seen)))
    return (cls, tuple(methods))


def _function(fn, seen):
    if is_library(fn):
        return ("lib", getattr(fn, "__module__", None), getattr(fn, "__qualname__", None))
    if id(fn) in seen:
        return ("cycle", fn.__qualname__)
    seen.add(id(fn))
    try:
        code = fn.__code__
        cells = tuple(value_token(_cell(c), seen) for c in fn.__closure__ or ())
        names = sorted(_global_names(code))
        scope = fn.__globals__
        builtins = scope.get("__builtins__")
        glob = tuple((name, value_token(scope[name], seen)) for name in names if name in scope)
        missing = tuple(name for name in names if name not in scope and not _is_builtin(builtins, name))
        return ("fn", code, value_token(fn.__defaults__, seen), value_token(fn.__kwdefaults__, seen),
                cells, glob, missing)
    finally:
        seen.discard(id(fn))


def _is_builtin(builtins, name):
    if isinstance(builtins, dict):
        return name in builtins
    return hasattr(builtins, name)


def _cell(cell):
    try:
        return cell.cell_contents
    except ValueError:  # an empty cell
        return None


def _global_names(code):
    """Names the code (and the code of its nested functions) may look up as globals or attributes."""
    names = set(code.co_names)
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            names |= _global_names(const)
    return names


def _callable(value, seen):
    """Token of a function-like value (functions, methods, partials, properties)."""
    if isinstance(value, types.FunctionType):
        return _function(value, seen)
    if isinstance(value, types.MethodType):
        owner = value.__self__
        owner_token = class_token(owner) if isinstance(owner, type) else class_token(type(owner), seen)
        return ("method", _callable(value.__func__, seen), owner_token)
    if isinstance(value, functools.partial):
        return ("partial", _callable(value.func, seen), value_token(value.args, seen),
                value_token(value.keywords, seen))
    if isinstance(value, property):
        return ("property",) + tuple(_callable(f, seen) if f is not None else None
                                     for f in (value.fget, value.fset, value.fdel))
    if isinstance(value, (types.BuiltinFunctionType, types.BuiltinMethodType)):
        return ("builtin", getattr(value, "__module__", None), value.__qualname__)
    python_function = getattr(value, "python_function", None)  # a tf.function
    if python_function is not None:
        return ("tf.function", _callable(python_function, seen))
    return _Unknown()


_FUNCTION_TYPES = (types.FunctionType, types.MethodType, functools.partial, types.BuiltinFunctionType)
# Attribute values that are never code: skipped at once by :func:`code_token` (it runs on every layer of every fit).
_NOT_CODE = frozenset({type(None), bool, int, float, str, bytes, list, tuple, dict, set})
_HELD = (keras.initializers.Initializer, keras.regularizers.Regularizer, keras.constraints.Constraint,
         keras.layers.Layer)


def is_function(value):
    """Whether ``value`` is function-like (what :func:`_callable` tokenizes)."""
    # A tf.function: its class has ``python_function`` (an isinstance check against TensorFlow's
    # protocol class would cost a protocol walk per attribute of every layer of every fit).
    return isinstance(value, _FUNCTION_TYPES) or hasattr(type(value), "python_function")


def value_token(value, seen=None):
    """The token of any value (see the module docstring); cycles are cut, unknown objects never match."""
    seen = set() if seen is None else seen
    if isinstance(value, _PLAIN):
        return (type(value), value)
    if isinstance(value, type):
        return class_token(value, seen)
    if isinstance(value, types.ModuleType):
        return ("module", value.__name__)
    if is_function(value) or isinstance(value, property):
        return _callable(value, seen)
    if isinstance(value, np.ndarray) or isinstance(value, np.generic):
        array = np.asarray(value)
        data = array.tobytes() if array.nbytes <= _ARRAY_BYTES else _digest(array)
        return ("array", array.dtype.str, array.shape, data)
    if isinstance(value, (tf.Variable, keras.Variable)):
        return ("variable", _Same(value))  # read when the trace runs: the same variable computes the same
    if isinstance(value, tf.Tensor):
        return value_token(value.numpy(), seen) if hasattr(value, "numpy") else _Unknown()
    if id(value) in seen:
        return ("cycle",)
    seen.add(id(value))
    try:
        if isinstance(value, (list, tuple)):
            return (type(value), tuple(value_token(v, seen) for v in value))
        if isinstance(value, (set, frozenset)):
            return (type(value), frozenset(value_token(v, seen) for v in value))
        if isinstance(value, dict):
            return (type(value), tuple(sorted(((repr(k), value_token(v, seen)) for k, v in value.items()),
                                              key=lambda item: item[0])))
        if isinstance(value, (keras.DTypePolicy, keras.initializers.Initializer, keras.regularizers.Regularizer,
                              keras.constraints.Constraint, keras.optimizers.schedules.LearningRateSchedule,
                              keras.losses.Loss)):
            return instance_token(value, seen)
        if is_library(type(value)):
            return _Unknown()  # a library object whose state we cannot compare
        return instance_token(value, seen)  # a user's object: its class and its attributes
    finally:
        seen.discard(id(value))


def _digest(array):
    import hashlib

    return hashlib.sha256(np.ascontiguousarray(array).tobytes()).hexdigest()


def instance_token(obj, seen=None):
    """An object's class and every attribute of it: for objects used as they are (losses, schedules)."""
    seen = set() if seen is None else seen
    try:
        attributes = vars(obj)
    except TypeError:
        return _Unknown()
    return (class_token(type(obj), seen),
            tuple((name, value_token(v, seen)) for name, v in sorted(attributes.items())))


def code_token(obj, seen=None):
    """An object rebuilt from its config (a layer, a metric, an optimizer): its class and the code it holds.

    Its config is keyed elsewhere; here are the classes and functions behind
    it: its class, every function-like attribute, and the same for the Keras
    objects it holds (initializers, regularizers, constraints, a schedule).
    """
    seen = set() if seen is None else seen
    parts = []
    for name, value in vars(obj).items():
        kind = type(value)
        if kind in _NOT_CODE:
            continue
        if is_function(value):
            parts.append((name, _callable(value, seen)))
        elif isinstance(value, _HELD) and value is not obj:
            if id(value) not in seen:
                seen.add(id(value))
                parts.append((name, code_token(value, seen)))
        elif isinstance(value, keras.optimizers.schedules.LearningRateSchedule):
            parts.append((name, instance_token(value, seen)))  # traced as it is
    parts.sort(key=lambda part: part[0])
    return (class_token(type(obj), seen), tuple(parts))


def model_token(model):
    """The code behind every layer of ``model`` (nested models included), in order."""
    layers = model._flatten_layers(include_self=True, recursive=True)
    return tuple(code_token(layer) for layer in layers)


def optimizer_token(optimizer):
    """The optimizer's classes (a LossScaleOptimizer's inner one too) and its schedule's code and state."""
    parts = [code_token(optimizer)]
    inner = getattr(optimizer, "inner_optimizer", None)
    if inner is not None:
        parts.append(code_token(inner))
    return tuple(parts)


def json_key(config):
    """Canonical JSON of a config (a key part)."""
    return json.dumps(config, sort_keys=True, default=str)
