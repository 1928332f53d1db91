"""Layer specifications: normalise any accepted ``layers=`` value to a fresh model.

A *spec* is what the user passes as ``layers``:

* ``None`` -- the default MLP, one ``Dense(100, activation="relu")`` hidden layer;
* a list of Keras layer instances (templates, never built or trained by us);
* a list of Keras-serialized layer dicts (``keras.layers.serialize`` form);
* a ``keras.Sequential`` (built or not, with or without input and output layers);
* a callable ``build(meta, **model_kwargs) -> keras.Model`` for anything else.

Every fit turns the spec into *fresh* layers from their configs, so the objects a
user passed are never built, trained, mutated or shared between clones.
"""

import copy
import inspect
import random
import threading
from contextlib import contextmanager

import keras

DEFAULT_HIDDEN_UNITS = 100

# Keys of a layer config that pin an input shape; sknet infers the input from X.
_INPUT_SHAPE_KEYS = ("batch_input_shape", "batch_shape", "input_shape", "input_dim")

# Keras draws its default seeds (initializers, dropout) from Python's ``random``
# module. A seeded build swaps that state for ours and puts the user's back.
_SEED_LOCK = threading.RLock()


@contextmanager
def seeded_python_random(seed):
    """Run the body with Python's global RNG seeded, then restore the user's state.

    Parameters
    ----------
    seed : int or None
        ``None`` leaves the global RNG alone (fresh, unseeded randomness).
    """
    if seed is None:
        yield
        return
    with _SEED_LOCK:
        state = random.getstate()
        random.seed(seed)
        try:
            yield
        finally:
            random.setstate(state)


def default_layers():
    """Return the default hidden layers (a list of layer instances)."""
    return [keras.layers.Dense(DEFAULT_HIDDEN_UNITS, activation="relu", name="hidden")]


def spec_kind(spec):
    """Classify a spec; raise ``TypeError`` naming the problem for a bad one."""
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


def layer_configs(spec):
    """Return the spec's layers as a list of serialized dicts (deep copies).

    Input layers and input-shape keys are dropped: the input comes from ``X``.
    """
    kind = spec_kind(spec)
    if kind == "default":
        spec = default_layers()
    elif kind == "sequential":
        spec = [
            layer for layer in spec.layers if not isinstance(layer, keras.layers.InputLayer)
        ]
    elif kind not in ("layers", "dicts"):
        raise TypeError(f"a {kind} spec has no layer list")
    configs = []
    for item in spec:
        cls = getattr(keras.layers, item["class_name"], None) if isinstance(item, dict) else type(item)
        cfg = copy.deepcopy(item) if isinstance(item, dict) else keras.layers.serialize(item)
        cfg.setdefault("config", {})
        cfg.pop("build_config", None)  # built templates: shapes come from X, not the template
        if "module" not in cfg and hasattr(keras.layers, cfg["class_name"]):
            cfg["module"] = "keras.layers"  # short form {"class_name": "Dense", "config": {...}}
        for key in _INPUT_SHAPE_KEYS:
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


def _deserialize(cfg, index):
    try:
        return keras.layers.deserialize(copy.deepcopy(cfg))
    except Exception as exc:  # Keras raises a zoo of types here
        raise ValueError(
            f"layers[{index}] could not be deserialized by Keras "
            f"(class_name={cfg.get('class_name')!r}): {exc}"
        ) from exc


def _stable_names(configs):
    """Give every layer a unique name that is the same on every fit.

    Names come from the templates; a layer without one (a dict spec) or a
    duplicate (one layer object listed twice) gets ``<class>_<index>``.
    Stable names matter: TensorFlow keeps a little state per distinct
    variable name, so auto-generated names (``dense_1234``) would grow memory
    over many fits.
    """
    seen = set()
    for i, cfg in enumerate(configs):
        name = cfg["config"].get("name")
        if name is None or name in seen:
            name = f"{cfg['class_name'].lower()}_{i}"
            cfg["config"]["name"] = name
        seen.add(name)
    return configs


# --------------------------------------------------------------------------- heads


def is_head(layer, head):
    """Whether ``layer`` already is the output layer the target needs.

    A ``Dense`` layer with the needed number of units is the head; for a
    classifier it must also end in softmax or sigmoid (a linear ``Dense(10)``
    before the head is a hidden layer). A ``Dense`` layer with a softmax or
    sigmoid activation and the wrong number of units is an error.
    """
    if not isinstance(layer, keras.layers.Dense):
        return False
    activation = keras.activations.serialize(layer.activation)
    activation = activation if isinstance(activation, str) else str(activation)
    squashing = activation in ("softmax", "sigmoid")
    if head.classifier and squashing and not head.accepts(layer.units, activation):
        raise ValueError(
            f"the last layer of the spec is Dense({layer.units}, "
            f"activation={activation!r}) but the target needs "
            f"{head.describe()}; remove it (sknet adds the right head) or fix its units."
        )
    if head.classifier:
        return squashing and head.accepts(layer.units, activation)
    return layer.units == head.units


def head_layer(head):
    """A fresh output layer for ``head``."""
    return keras.layers.Dense(head.units, activation=head.activation, name="sknet_head")


# --------------------------------------------------------------------------- building


def build_model(spec, input_shape, head, seed=None, model_kwargs=None, meta=None):
    """Build a fresh, built ``keras.Model`` from a spec.

    Parameters
    ----------
    spec : any accepted spec
    input_shape : tuple of int
        Per-sample input shape (``X.shape[1:]``).
    head : sknet._encoding.Head
        Output layer the target needs.
    seed : int or None
        Seed for every initializer and random layer of this build.
    model_kwargs : dict or None
        ``model__<arg>`` parameters, routed to a callable spec.
    meta : dict or None
        Facts about the data passed to a callable spec.

    Returns
    -------
    model : keras.Model
    head_activation : str
        The activation of the model's output (decides the default loss).
    """
    kind = spec_kind(spec)
    if model_kwargs and kind != "callable":
        names = ", ".join(f"model__{k}" for k in sorted(model_kwargs))
        raise ValueError(
            f"{names}: model__<arg> parameters are passed to a callable layers spec, "
            f"but layers is a {kind} spec."
        )
    with seeded_python_random(seed):
        if kind == "callable":
            return _build_from_callable(spec, input_shape, head, model_kwargs or {}, meta)
        if kind == "model":
            raise TypeError(
                "layers is a functional keras.Model; pass a callable that builds it "
                "instead (layers=build where build(meta) returns a new keras.Model), "
                "so that every fit gets fresh weights."
            )
        declared = sequential_input_shape(spec)
        if declared is not None and tuple(declared) != tuple(input_shape):
            raise ValueError(
                f"the keras.Sequential spec declares input shape {declared} but X has "
                f"per-sample shape {tuple(input_shape)}."
            )
        configs = _stable_names(layer_configs(spec))
        layers = [_deserialize(cfg, i) for i, cfg in enumerate(configs)]
        if not (layers and is_head(layers[-1], head)):
            layers.append(head_layer(head))
        inputs = keras.Input(shape=tuple(input_shape), name="sknet_input")
        try:  # a Sequential that starts with an Input builds itself
            model = keras.Sequential([inputs] + layers, name="sknet_model")
        except Exception as exc:
            raise ValueError(
                f"the layers spec cannot be built on input of per-sample shape "
                f"{tuple(input_shape)}: {exc}"
            ) from exc
    _check_output_rank(model, input_shape)
    activation = keras.activations.serialize(layers[-1].activation)
    return model, activation


def _check_output_rank(model, input_shape):
    out_shape = tuple(model.outputs[0].shape)
    if len(out_shape) != 2:
        raise ValueError(
            f"the network maps inputs of per-sample shape {tuple(input_shape)} to outputs of "
            f"shape {out_shape[1:]}; add a Flatten (or pooling) layer so that each sample "
            "gives a vector."
        )


def _build_from_callable(build, input_shape, head, model_kwargs, meta):
    try:
        model = build(dict(meta or {}), **model_kwargs)
    except TypeError as exc:
        if model_kwargs:
            raise TypeError(
                f"the build callable {getattr(build, '__name__', build)!r} rejected "
                f"the model__ arguments {sorted(model_kwargs)}: {exc}"
            ) from exc
        raise
    if not isinstance(model, keras.Model):
        raise TypeError(
            f"the build callable {getattr(build, '__name__', build)!r} must return a "
            f"keras.Model, got {type(model).__name__}."
        )
    if not model.built:
        model.build((None,) + tuple(input_shape))
    _check_output_rank(model, input_shape)
    out_shape = tuple(model.outputs[0].shape[1:])
    if out_shape != (head.units,):
        raise ValueError(
            f"the model returned by the build callable outputs shape {out_shape} but "
            f"the target needs {head.describe()} (output shape ({head.units},))."
        )
    last = model.layers[-1]
    activation = getattr(last, "activation", None)
    activation = keras.activations.serialize(activation) if activation else head.activation
    return model, activation


# --------------------------------------------------------------------------- nested params


def _layer_config_keys(cfg, index):
    layer = _deserialize(cfg, index)
    return layer.get_config()


def nested_layer_params(spec):
    """``{"<index>__<key>": value}`` for every config key of every layer of the spec."""
    try:
        kind = spec_kind(spec)
    except (TypeError, ValueError):
        return {}
    if kind not in ("layers", "dicts", "sequential"):
        return {}
    params = {}
    items = spec if kind != "sequential" else [
        layer for layer in spec.layers if not isinstance(layer, keras.layers.InputLayer)
    ]
    for i, item in enumerate(items):
        config = item.get("config", {}) if isinstance(item, dict) else item.get_config()
        for key, value in config.items():
            if key not in _INPUT_SHAPE_KEYS:
                params[f"{i}__{key}"] = value
    return params


def set_layer_params(spec, updates):
    """Return a new spec with ``{(index, key): value}`` applied; never mutates ``spec``.

    Raises
    ------
    ValueError
        For an index out of range or a key that is not in the layer's config,
        naming the valid choices.
    """
    kind = spec_kind(spec)
    if kind == "default":
        spec, kind = default_layers(), "layers"
    if kind not in ("layers", "dicts", "sequential"):
        raise ValueError(
            f"layers__<index>__<key> parameters need a layer list or keras.Sequential "
            f"spec; layers is a {kind} spec (use model__<arg> for a callable)."
        )
    configs = layer_configs(spec)
    for (index, key), value in updates.items():
        if not 0 <= index < len(configs):
            raise ValueError(
                f"layers__{index}__{key}: the spec has {len(configs)} layers "
                f"(valid indices 0..{len(configs) - 1})."
            )
        valid = _layer_config_keys(configs[index], index)
        if key not in valid:
            raise ValueError(
                f"layers__{index}__{key}: {configs[index]['class_name']} has no config "
                f"key {key!r}; valid keys are {sorted(valid)}."
            )
        configs[index]["config"][key] = value
    if kind == "dicts":
        return configs
    layers = [_deserialize(cfg, i) for i, cfg in enumerate(configs)]
    if kind == "layers":
        return type(spec)(layers) if isinstance(spec, tuple) else layers
    declared = sequential_input_shape(spec)
    head = [keras.Input(shape=declared)] if declared is not None else []
    return keras.Sequential(head + layers, name=spec.name)
