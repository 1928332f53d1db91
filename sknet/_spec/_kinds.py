"""Spec kinds and layer configs: what the user passed, as a list of serialized layers.

Every fit turns a layer list, a list of dicts or a ``keras.Sequential`` into
serialized layer dicts (deep copies) and builds fresh layers from them, so the
objects a user passed are never built, trained, mutated or shared between
clones. This module also owns the ``layers__<index>__<key>`` parameters, which
index the same list.
"""

import copy
import inspect
import re

import keras

from .._faithful import pinned
from .._seeds import seeded_python_random

DEFAULT_HIDDEN_UNITS = 100

# Keys of a layer config that pin an input shape; sknet infers the input from X.
INPUT_SHAPE_KEYS = ("batch_input_shape", "batch_shape", "input_shape", "input_dim")


def default_layers():
    """Return the default hidden layers (a list of layer instances)."""
    return [keras.layers.Dense(DEFAULT_HIDDEN_UNITS, activation="relu", name="hidden")]


def spec_kind(spec):
    """Classify a spec; raise ``TypeError`` naming the problem for a bad one.

    Returns
    -------
    {"default", "sequential", "model", "layers", "dicts", "callable"}
    """
    if spec is None:
        return "default"
    if isinstance(spec, keras.Sequential):
        return "sequential"
    if isinstance(spec, keras.Model):
        return "model"
    if isinstance(spec, (list, tuple)):
        if not spec:
            return "layers"  # no hidden layers: a linear / logistic model
        if all(isinstance(item, keras.layers.Layer) for item in spec):
            return "layers"
        if all(isinstance(item, dict) for item in spec):
            for i, item in enumerate(spec):
                if "class_name" not in item:
                    raise ValueError(
                        f"layers[{i}] is a dict without 'class_name'; layer dicts "
                        "must be in keras.layers.serialize() form, e.g. "
                        "{'class_name': 'Dense', 'config': {'units': 64}}."
                    )
            return "dicts"
        kinds = sorted({type(item).__name__ for item in spec})
        raise TypeError(
            "layers must be a list of Keras layer instances or a list of "
            f"serialized layer dicts (not a mix); got elements of type {kinds}."
        )
    if callable(spec):
        return "callable"
    raise TypeError(
        "layers must be None, a list of Keras layers, a list of serialized layer "
        "dicts, a keras.Sequential, or a callable build(meta) -> keras.Model; "
        f"got {type(spec).__name__}."
    )


def _takes_input_dim(cls):
    """Whether ``input_dim`` is a real argument of ``cls`` (``Embedding``'s vocabulary size).

    For other layers it is Keras' legacy way to declare the input width
    (``Dense(64, input_dim=20)``) and is dropped. An unknown class keeps it.
    """
    if cls is None:
        return True
    try:
        return "input_dim" in inspect.signature(cls.__init__).parameters
    except (TypeError, ValueError):  # pragma: no cover - builtins without a signature
        return True


def layer_items(spec):
    """The spec's layer objects or dicts (a Sequential's without its input), or None for a callable."""
    kind = spec_kind(spec)
    if kind == "default":
        return default_layers()
    if kind == "sequential":
        return [layer for layer in spec.layers if not isinstance(layer, keras.layers.InputLayer)]
    return spec if kind in ("layers", "dicts") else None


def layer_configs(spec, objects=None):
    """Return the spec's layers as a list of serialized dicts (deep copies).

    Input layers and input-shape keys are dropped: the input comes from ``X``.
    With an ``objects`` dict, the user's functions a layer holds (a lambda or
    closure activation) are written as tokens that ``objects`` resolves to the
    very same functions (:func:`sknet._faithful.pinned`): deserialize under it.
    """
    kind = spec_kind(spec)
    if kind not in ("default", "sequential", "layers", "dicts"):
        raise TypeError(f"a {kind} spec has no layer list")
    configs = []
    for item in layer_items(spec):
        cls = getattr(keras.layers, item["class_name"], None) if isinstance(item, dict) else type(item)
        cfg = copy.deepcopy(item) if isinstance(item, dict) else keras.layers.serialize(
            item if objects is None else pinned(item, objects))
        cfg.setdefault("config", {})
        cfg.pop("build_config", None)  # built templates: shapes come from X, not the template
        if "module" not in cfg and hasattr(keras.layers, cfg["class_name"]):
            cfg["module"] = "keras.layers"  # short form {"class_name": "Dense", "config": {...}}
        for key in INPUT_SHAPE_KEYS:
            if key != "input_dim" or not _takes_input_dim(cls):
                cfg["config"].pop(key, None)
        configs.append(cfg)
    return configs


def sequential_input_shape(spec):
    """Return the per-sample input shape a ``keras.Sequential`` spec declares, or None."""
    if not isinstance(spec, keras.Sequential):
        return None
    try:
        shape = spec.input_shape
    except (AttributeError, ValueError):
        return None
    return None if shape is None else tuple(shape[1:])


def custom_objects(spec):
    """``{name: class}`` of the spec's layer objects, so that a user's unregistered layer class
    deserializes (Keras finds only registered classes by name)."""
    items = layer_items(spec) or []
    return {type(item).__name__: type(item) for item in items if isinstance(item, keras.layers.Layer)}


def deserialize(cfg, index, classes=None):
    """A fresh layer from the serialized ``cfg`` (``layers[index]``); a ``ValueError`` naming it if Keras fails."""
    try:
        return keras.layers.deserialize(copy.deepcopy(cfg), custom_objects=classes)
    except Exception as exc:  # Keras raises a zoo of types here
        raise ValueError(
            f"layers[{index}] could not be deserialized by Keras "
            f"(class_name={cfg.get('class_name')!r}): {exc}"
        ) from exc


def _snake(class_name):
    return re.sub(r"(?<!^)(?=[A-Z])", "_", class_name).lower()


def _auto_name(name, class_name):
    """Whether ``name`` is one Keras generates for an unnamed layer (``dense``, ``dense_12``)."""
    return re.fullmatch(rf"{re.escape(_snake(class_name))}(_\d+)?", name) is not None


def stable_names(configs):
    """Give every layer a unique name that is the same on every fit (in place; returns ``configs``).

    A name the user chose is kept. A name Keras generated for an unnamed
    template (``dense_1234``: a counter that grows with every layer created
    in the process), a missing name (a dict spec) and a duplicate (one layer
    object listed twice) become ``<class>_<index>``, the layer's position.
    Stable names matter for memory: TensorFlow keeps some state per distinct
    variable name for the life of the process (about 36 KB, measured), and
    the optimizer's slot variables are named after the layers, so fresh
    auto-named templates on every fit would grow memory without bound.
    """
    seen = set()
    for i, cfg in enumerate(configs):
        name = cfg["config"].get("name")
        if name is None or name in seen or _auto_name(name, cfg["class_name"]):
            name = f"{_snake(cfg['class_name'])}_{i}"
            cfg["config"]["name"] = name
        seen.add(name)
    return configs


# --------------------------------------------------------------------------- nested params


def nested_layer_params(spec):
    """``{"<index>__<key>": value}`` for every config key of every layer of the spec."""
    try:
        items = layer_items(spec)
    except (TypeError, ValueError):
        return {}
    params = {}
    for i, item in enumerate(items or []):
        config = item.get("config", {}) if isinstance(item, dict) else item.get_config()
        for key, value in config.items():
            if key not in INPUT_SHAPE_KEYS:
                params[f"{i}__{key}"] = value
    return params


def apply_layer_params(configs, updates, classes=None):
    """Apply ``{(index, key): value}`` to serialized layer configs (in place) and return them.

    Raises
    ------
    ValueError
        For an index out of range or a key that is not in the layer's config,
        naming the valid choices.
    """
    for (index, key), value in sorted(updates.items()):
        if not 0 <= index < len(configs):
            raise ValueError(
                f"layers__{index}__{key}: the spec has {len(configs)} layers "
                f"(valid indices 0..{len(configs) - 1})."
            )
        with seeded_python_random(0):  # building a layer to read its keys draws default seeds
            valid = deserialize(configs[index], index, classes).get_config()
        if key not in valid:
            raise ValueError(
                f"layers__{index}__{key}: {configs[index]['class_name']} has no config "
                f"key {key!r}; valid keys are {sorted(valid)}."
            )
        configs[index]["config"][key] = value
    return configs


def check_layer_params(spec, updates):
    """Raise ``ValueError`` if ``updates`` do not apply to ``spec`` (see :func:`apply_layer_params`)."""
    if not updates:
        return
    if layer_items(spec) is None:
        raise ValueError(
            "layers__<index>__<key> parameters need a layer list or keras.Sequential "
            f"spec; layers is a {spec_kind(spec)} spec (use model__<arg> for a callable)."
        )
    apply_layer_params(layer_configs(spec), updates, custom_objects(spec))
