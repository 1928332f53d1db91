"""Layer specifications: normalise any accepted ``layers=`` value to a fresh model.

A *spec* is what the user passes as ``layers``:

* ``None`` -- the default MLP, one ``Dense(100, activation="relu")`` hidden layer;
* a list of Keras layer instances (templates, never built or trained by us);
* a list of Keras-serialized layer dicts (``keras.layers.serialize`` form);
* a ``keras.Sequential`` (built or not, with or without input and output layers);
* a callable ``build(meta, **model_kwargs) -> keras.Model`` for anything else.

Every fit turns the spec into *fresh* layers from their configs, so the objects a
user passed are never built, trained, mutated or shared between clones. Every
layer of the network, the inferred head included, gets the estimator's
``dtype_policy`` (see "dtype policies" below).
"""

import copy
import inspect
import re

import keras
import numpy as np

from ._params import make_policy
from ._seeds import seeded_python_random, with_seeds

DEFAULT_HIDDEN_UNITS = 100

# Keys of a layer config that pin an input shape; sknet infers the input from X.
_INPUT_SHAPE_KEYS = ("batch_input_shape", "batch_shape", "input_shape", "input_dim")

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


def custom_objects(spec):
    """``{name: class}`` of the spec's layer objects, so that a user's unregistered layer class
    deserializes (Keras finds only registered classes by name)."""
    items = _layer_items(spec) or []
    return {type(item).__name__: type(item) for item in items if isinstance(item, keras.layers.Layer)}


def _deserialize(cfg, index, classes=None):
    try:
        return keras.layers.deserialize(copy.deepcopy(cfg), custom_objects=classes)
    except Exception as exc:  # Keras raises a zoo of types here
        raise ValueError(
            f"layers[{index}] could not be deserialized by Keras "
            f"(class_name={cfg.get('class_name')!r}): {exc}"
        ) from exc


def _auto_name(name, class_name):
    """Whether ``name`` is one Keras generates for an unnamed layer (``dense``, ``dense_12``)."""
    snake = re.sub(r"(?<!^)(?=[A-Z])", "_", class_name).lower()
    return re.fullmatch(rf"{re.escape(snake)}(_\d+)?", name) is not None


def _stable_names(configs):
    """Give every layer a unique name that is the same on every fit.

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
            name = f"{re.sub(r'(?<!^)(?=[A-Z])', '_', cfg['class_name']).lower()}_{i}"
            cfg["config"]["name"] = name
        seen.add(name)
    return configs


# --------------------------------------------------------------------------- heads
#
# The head rule. A spec's last layer is the output layer ("the head") only
# when it is a ``Dense`` layer with the target's width *and* an output
# activation for the target:
#
# * classifier: softmax/sigmoid with the units the target needs
#   (probabilities), or a linear activation with those units (logits, the
#   Keras ``from_logits=True`` convention);
# * regressor: linear, sigmoid, tanh, softplus or exponential.
#
# Anything else (``Dense(100, "relu")`` when y happens to have 100 outputs)
# is a hidden layer, and sknet appends the head. A softmax/sigmoid ``Dense``
# with the wrong units is an error, never silently a hidden layer.


def activation_name(layer):
    """The name of a layer's output activation (``"linear"`` for none), or None if unknown."""
    if isinstance(layer, keras.layers.Softmax):
        return "softmax"
    activation = getattr(layer, "activation", None)
    if activation is None:
        return None
    name = keras.activations.serialize(activation)
    return name if isinstance(name, str) else str(name)


def is_head(layer, head):
    """Whether ``layer`` (a spec's last layer) is the output layer; see the head rule above."""
    if not isinstance(layer, keras.layers.Dense):
        return False
    activation = activation_name(layer)
    kind = head.output_kind(layer.units, activation)
    if kind is None and head.classifier and activation in ("softmax", "sigmoid"):
        raise ValueError(
            f"the last layer of the spec is Dense({layer.units}, activation={activation!r}) but "
            f"the target needs {head.describe()}; remove it (sknet adds the right head) or fix its units."
        )
    return kind is not None


def _head_config(head):
    """The serialized output layer for ``head`` (its initializer's seed still to be set)."""
    initializer = {"module": "keras.initializers", "class_name": "GlorotUniform", "config": {"seed": None}}
    return {"module": "keras.layers", "class_name": "Dense", "config": {
        "units": head.units, "activation": head.activation, "name": "sknet_head", "kernel_initializer": initializer,
    }}


# --------------------------------------------------------------------------- dtype policies
#
# ``dtype_policy`` is a property of the estimator, never of the process: it is
# written into every layer's config (nested layers, such as a wrapper's inner
# layer, included) before the layer is created, and a callable's model is
# copied layer by layer with it. Keras' global policy
# (``keras.config.set_dtype_policy``) is neither read nor set. Layers whose
# dtype is not a floating-point one (an integer lookup layer) keep it, and an
# explicit ``layers__<index>__dtype`` parameter overrides the policy for its layer.

_POLICY_CLASSES = ("DTypePolicy", "FloatDTypePolicy")


def _float_policy(value):
    """Whether a layer's ``dtype`` (a name, serialized policy, policy or None) is a plain floating-point one."""
    if value is None:
        return True
    try:
        policy = keras.dtype_policies.get(value)
    except (ValueError, TypeError):
        return False
    return policy.quantization_mode is None and policy.compute_dtype.startswith(("float", "bfloat"))


def with_dtype_policy(cfg, policy):
    """A copy of the serialized layer ``cfg`` whose layers (nested ones included) have ``policy``.

    Parameters
    ----------
    cfg : dict
        A layer in ``keras.layers.serialize`` form.
    policy : keras.DTypePolicy

    Returns
    -------
    dict
    """
    serialized = keras.dtype_policies.serialize(policy)

    def walk(node):
        if isinstance(node, dict):
            if node.get("class_name") in _POLICY_CLASSES and node.get("module") == "keras" and _float_policy(node):
                return copy.deepcopy(serialized)
            return {key: walk(value) for key, value in node.items()}
        if isinstance(node, list):
            return [walk(value) for value in node]
        return node

    cfg = dict(cfg)
    config = walk(cfg.get("config") or {})
    if _float_policy(config.get("dtype")):  # a short-form dict spec may have no dtype, or a name
        config["dtype"] = copy.deepcopy(serialized)
    cfg["config"] = config
    return cfg


def _all_layers(model):
    """Every layer of ``model`` but its inputs, the layers of nested models included."""
    for layer in model.layers:
        if not isinstance(layer, keras.layers.InputLayer):
            yield layer
        if isinstance(layer, keras.Model):
            yield from _all_layers(layer)


def computes_in(model, policy):
    """Whether every floating-point layer of ``model`` has ``policy`` (nested models' own policies aside:
    a model computes nothing itself, and a ``keras.Sequential`` cannot be given a dtype)."""
    name = make_policy(policy).name
    return all(layer.dtype_policy.name == name for layer in _all_layers(model)
               if not isinstance(layer, keras.Model) and _float_policy(layer.dtype_policy))


def with_policy(model, dtype_policy):
    """``model`` if every layer computes in ``dtype_policy``; else a copy whose layers do, with ``model``'s weights.

    The copy is a ``keras.models.clone_model`` of the functional or Sequential
    ``model`` (nested models included) whose layers are created from their
    configs with the policy; every variable is copied over, cast to the new
    variable dtype (a mixed policy keeps float32 variables: nothing is lost).

    Raises
    ------
    ValueError
        For a subclassed model, whose layers cannot be re-created from configs.
    """
    policy = make_policy(dtype_policy)
    if computes_in(model, policy):
        return model

    def clone(layer):
        return type(layer).from_config(with_dtype_policy({"config": layer.get_config()}, policy)["config"])

    try:
        copied = keras.models.clone_model(model, clone_function=clone, recursive=True)
    except (ValueError, NotImplementedError) as exc:
        raise ValueError(
            f"dtype_policy={policy.name!r} cannot be applied to a {type(model).__name__}: only functional and "
            "Sequential models can be re-created layer by layer. Create its layers with "
            f"dtype={policy.name!r} (e.g. through a model__dtype parameter) ({exc})."
        ) from exc
    source = list(model.trainable_variables) + list(model.non_trainable_variables)
    target = list(copied.trainable_variables) + list(copied.non_trainable_variables)
    if [tuple(v.shape) for v in source] != [tuple(v.shape) for v in target]:
        raise ValueError(f"dtype_policy={policy.name!r}: the copy of the {type(model).__name__} with this "
                         "policy does not have the original's variables; create its layers with that dtype.")
    for old, new in zip(source, target, strict=True):
        new.assign(keras.ops.cast(old, new.dtype))
    for layer in [copied, *_all_layers(copied)]:
        if isinstance(layer, keras.Model):  # containers too, as build_model's: a clone has the global policy
            layer.dtype_policy = policy
    return copied


# --------------------------------------------------------------------------- building


def build_model(spec, input_shape, head, seed=None, layer_params=None, model_kwargs=None, meta=None,
                compile_kwargs=None, sparse=False, dtype_policy="float32", front=None):
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
    layer_params : dict or None
        ``{(index, key): value}`` from ``layers__<index>__<key>`` parameters.
    model_kwargs : dict or None
        ``model__<arg>`` parameters, routed to a callable spec.
    meta : dict or None
        Facts about the data passed to a callable spec.
    compile_kwargs : dict or None
        ``optimizer``, ``loss`` and ``metrics`` for a callable that takes a
        ``compile_kwargs`` argument (scikeras' convention); sknet compiles the
        network itself whatever the callable does with them.
    sparse : bool
        ``X`` is a sparse matrix: a spec that starts with a ``Dense`` layer gets
        a sparse ``Input`` (sparse-dense matmuls); other first layers get
        densified batches.
    dtype_policy : str or keras.DTypePolicy
        The policy of every layer, the head included (a ``ValueError`` for
        one Keras does not know, before anything is built).
    front : list of keras.layers.Layer or None
        Layers sknet places between the input and the spec's first layer (the
        table encoding of :mod:`sknet._tabular`); they are not part of the
        spec, so ``layers__<index>`` parameters keep indexing the spec's layers.
        A callable spec's model gets them in front of it.

    Returns
    -------
    model : keras.Model
    output : str
        ``"probabilities"``, ``"logits"`` or ``"values"``: what the model's
        output layer gives (decides the loss and how outputs are decoded).
    """
    policy = make_policy(dtype_policy)
    kind = spec_kind(spec)  # which nested parameters fit which spec: BaseNet._more_validate_params
    if kind == "callable":
        # A user's build function creates layers Keras seeds from Python's ``random``.
        with seeded_python_random(seed):
            model, output = _build_from_callable(spec, input_shape, head, model_kwargs or {}, meta, compile_kwargs,
                                                 front=front)
            return with_policy(model, policy), output
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
    classes = custom_objects(spec)
    configs = [with_dtype_policy(cfg, policy) for cfg in layer_configs(spec)]
    configs = apply_layer_params(configs, layer_params or {}, classes)  # layers__<i>__dtype wins
    seeds = np.random.RandomState(seed)
    configs = [with_seeds(cfg, seeds) for cfg in _stable_names(configs)]
    layers = [_deserialize(cfg, i, classes) for i, cfg in enumerate(configs)]
    if kind == "default" or not (layers and is_head(layers[-1], head)):
        layers.append(_deserialize(with_seeds(with_dtype_policy(_head_config(head), policy), seeds), len(layers)))
    sparse = sparse and not front and isinstance(layers[0], keras.layers.Dense)
    inputs = keras.Input(shape=tuple(input_shape), name="sknet_input", sparse=sparse)
    try:  # a Sequential that starts with an Input builds itself
        model = keras.Sequential([inputs] + list(front or []) + layers, name="sknet_model")
    except Exception as exc:
        raise ValueError(
            f"the layers spec cannot be built on input of per-sample shape "
            f"{tuple(input_shape)}: {exc}"
        ) from exc
    model.dtype_policy = policy  # the container too: model_.dtype_policy names the network's policy
    _check_output_rank(model, input_shape)
    return model, head.output_kind(layers[-1].units, activation_name(layers[-1]))


def _check_output_rank(model, input_shape):
    out_shape = tuple(model.outputs[0].shape)
    if len(out_shape) != 2:
        raise ValueError(
            f"the network maps inputs of per-sample shape {tuple(input_shape)} to outputs of "
            f"shape {out_shape[1:]}; add a Flatten (or pooling) layer so that each sample "
            "gives a vector."
        )


def _call_arguments(build, meta, model_kwargs, compile_kwargs):
    """``(args, kwargs)`` for a build callable: sknet's ``build(meta, **model_kwargs)``, or scikeras'
    style, where ``meta`` and ``compile_kwargs`` are keyword arguments among the model's own."""
    try:
        params = inspect.signature(build).parameters
    except (TypeError, ValueError):  # pragma: no cover - builtins without a signature
        params = {}
    kwargs = dict(model_kwargs)
    if "compile_kwargs" in params:
        kwargs["compile_kwargs"] = dict(compile_kwargs or {})
    meta_param = params.get("meta")
    if meta_param is not None and meta_param.kind is not inspect.Parameter.POSITIONAL_ONLY:
        return (), {**kwargs, "meta": meta}
    return (meta,), kwargs


def _build_from_callable(build, input_shape, head, model_kwargs, meta, compile_kwargs=None, front=None):
    name = getattr(build, "__name__", build)
    args, kwargs = _call_arguments(build, dict(meta or {}), model_kwargs, compile_kwargs)
    try:
        model = build(*args, **kwargs)
    except TypeError as exc:
        if model_kwargs:
            raise TypeError(f"the build callable {name!r} rejected the model__ arguments "
                            f"{sorted(model_kwargs)}: {exc}") from exc
        raise
    if not isinstance(model, keras.Model):
        raise TypeError(f"the build callable {name!r} must return a keras.Model, got {type(model).__name__}.")
    last = model.layers[-1] if model.layers else None
    if front:  # the callable built its model for the encoded table (meta["input_shape_"] is its width)
        inputs = keras.Input(shape=tuple(input_shape), name="sknet_input")
        x = inputs
        for layer in front:
            x = layer(x)
        model = keras.Model(inputs, model(x), name="sknet_model")
    if not model.built:
        model.build((None,) + tuple(input_shape))
    _check_output_rank(model, input_shape)
    units = int(model.outputs[0].shape[-1])
    if not head.classifier:
        if units != head.units:
            raise ValueError(f"the model returned by the build callable {name!r} has {units} output "
                             f"unit(s) but the target needs {head.describe()}.")
        return model, "values"
    activation = activation_name(last)
    output = head.output_kind(units, activation)
    if output is None:
        raise ValueError(
            f"the model returned by the build callable {name!r} ends in {units} unit(s) with "
            f"activation {activation!r}, but the target needs {head.describe()}."
        )
    return model, output


# --------------------------------------------------------------------------- nested params


def _layer_items(spec):
    kind = spec_kind(spec)
    if kind == "default":
        return default_layers()
    if kind == "sequential":
        return [layer for layer in spec.layers if not isinstance(layer, keras.layers.InputLayer)]
    return spec if kind in ("layers", "dicts") else None


def nested_layer_params(spec):
    """``{"<index>__<key>": value}`` for every config key of every layer of the spec."""
    try:
        items = _layer_items(spec)
    except (TypeError, ValueError):
        return {}
    params = {}
    for i, item in enumerate(items or []):
        config = item.get("config", {}) if isinstance(item, dict) else item.get_config()
        for key, value in config.items():
            if key not in _INPUT_SHAPE_KEYS:
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
            valid = _deserialize(configs[index], index, classes).get_config()
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
    if _layer_items(spec) is None:
        raise ValueError(
            "layers__<index>__<key> parameters need a layer list or keras.Sequential "
            f"spec; layers is a {spec_kind(spec)} spec (use model__<arg> for a callable)."
        )
    apply_layer_params(layer_configs(spec), updates, custom_objects(spec))
