"""Trace caches: traced training and prediction functions, keyed by what they compute.

Tracing a TensorFlow function costs more than a warm fit of a small network
(measured in ``make bench``: docs/guide/performance.md). Cross-validation folds and grid-search candidates
that change only the data, the learning rate, the epochs or the batch size
compute the same function, so the engine keys its traces by *signature*:

* the model's architecture: its config with layer names replaced by
  positional placeholders and seeds blanked (neither changes what a trace
  computes), and nothing else replaced, so two architectures that differ in
  anything but layer names and seeds never share a key;
* the input and target specs (shape and dtype);
* the optimizer's class and config, without a plain learning rate (a variable
  loaded per fit) but with a schedule (traced);
* the loss's and metrics' classes and complete configs;
* the *code* behind all of these (:mod:`sknet._engine._keys`): a config
  names its classes and functions, but two closures of one factory, two
  classes of one name (a notebook cell run again) or a function before and
  after an edit serialize alike. Classes are keyed by identity, the user's
  functions by their code, closure values and globals; anything whose
  sameness cannot be known makes a key that matches no other (no reuse).

Both caches are bounded (:data:`MAX_CACHED` entries each, least recently used
evicted), so a process that fits many architectures does not grow without limit.
"""

import json
import threading
import warnings
from collections import OrderedDict

import keras

from .._faithful import faithful_config
from .._params import loss_config
from ._keys import _Unknown, code_token, instance_token, model_token, optimizer_token

MAX_CACHED = 8
TRAINERS = OrderedDict()
PREDICTORS = OrderedDict()
_LOCK = threading.Lock()


# --------------------------------------------------------------------------- signatures


def _rename_history(node, rename):
    """Rename the layer names that ``keras_history`` entries of a node config point to."""
    if isinstance(node, dict):
        history = node.get("keras_history")
        if isinstance(history, list) and history and isinstance(history[0], str):
            history[0] = rename(history[0])
        for value in node.values():
            _rename_history(value, rename)
    elif isinstance(node, list):
        for value in node:
            _rename_history(value, rename)


def _rename_endpoints(endpoints, rename):
    """Rename ``[name, node_index, tensor_index]`` entries of ``input_layers``/``output_layers``."""
    if isinstance(endpoints, list) and len(endpoints) == 3 and isinstance(endpoints[0], str):
        endpoints[0] = rename(endpoints[0])
    elif isinstance(endpoints, list):
        for item in endpoints:
            _rename_endpoints(item, rename)


def _rename_layers(config, rename):
    """Replace layer names in a Sequential or functional model config, in place.

    Only the places where Keras writes a layer's *name* are touched: the
    model's ``name``, each layer entry's ``name`` and ``config.name``, the
    ``keras_history`` links between layers, and ``input_layers`` /
    ``output_layers``. A string that merely equals a layer name elsewhere (an
    activation ``"relu"`` in a layer named ``"relu"``) is left alone.
    """
    if isinstance(config.get("name"), str):
        config["name"] = rename(config["name"])
    for layer in config.get("layers") or []:
        if not isinstance(layer, dict):
            continue
        if isinstance(layer.get("name"), str):
            layer["name"] = rename(layer["name"])
        inner = layer.get("config")
        if isinstance(inner, dict):
            if isinstance(inner.get("layers"), list):  # a nested model
                _rename_layers(inner, rename)
            elif isinstance(inner.get("name"), str):
                inner["name"] = rename(inner["name"])
        _rename_history(layer.get("inbound_nodes"), rename)
    for key in ("input_layers", "output_layers"):
        _rename_endpoints(config.get(key), rename)


def _without_seeds(config):
    """``config`` with every ``seed`` value blanked.

    Seeds only decide initial values (weights, dropout seed-generator states),
    and every fit loads those into the cached working model: they are not
    part of what a trace computes. sknet's builds give every seed an explicit
    value derived from ``random_state``; blanking them lets fits with other
    seeds share one trace.
    """
    if isinstance(config, dict):
        return {key: None if key == "seed" else _without_seeds(value) for key, value in config.items()}
    if isinstance(config, list):
        return [_without_seeds(value) for value in config]
    return config


def _holds_lambda(model):
    """Whether a layer of ``model`` holds a lambda (an activation...), which Keras warns about when serializing."""
    return any(getattr(value, "__name__", None) == "<lambda>"
               for layer in model._flatten_layers(include_self=False, recursive=True)
               for value in vars(layer).values())


def canonical_model_config(model):
    """The model's architecture as canonical JSON, layer names replaced by ``<layerN>``, seeds blanked.

    Placeholders are numbered in order of first appearance, so two configs
    get the same string exactly when they are equal up to a renaming of
    their layers and their seeds.
    """
    # get_config, not serialize_keras_object: the compile config (learning
    # rate...) is not part of the architecture.
    try:
        if _holds_lambda(model):
            with warnings.catch_warnings():  # not thread-safe: only when there is a lambda to silence
                warnings.simplefilter("ignore")  # Keras warns on every lambda it serializes
                config = _without_seeds(model.get_config())
        else:
            config = _without_seeds(model.get_config())
    except Exception:  # noqa: BLE001 - e.g. a lambda without source: no key can be trusted
        return _Unknown()
    names = {}
    _rename_layers(config, lambda name: names.setdefault(name, f"<layer{len(names)}>"))
    return json.dumps({"class_name": type(model).__name__, "config": config}, sort_keys=True, default=str)


def config_json(obj):
    """The class and complete config of a Keras object, as canonical JSON (a key part).

    The user's functions appear as placeholders (:func:`sknet._faithful.faithful_config`):
    which function each one is, is keyed by :func:`loss_key` and :func:`metric_key`.
    """
    config, _ = faithful_config(obj)
    if isinstance(obj, keras.losses.Loss):
        config = {**loss_config(obj), **config}  # with the arguments some losses leave out
    name = keras.saving.get_registered_name(type(obj))
    return json.dumps({"class_name": name, "config": config}, sort_keys=True, default=str)


def loss_key(loss):
    """Key part of a loss: class, config and, as it is used as it is, every attribute (functions by code)."""
    return (config_json(loss), instance_token(loss))


def metric_key(metric):
    """Key part of a metric: class, config and the code it calls."""
    return (config_json(metric), code_token(metric))


def model_signature(model, x_spec):
    """Key of a model's traces: its canonical architecture, the input spec and the code of its layers."""
    return (canonical_model_config(model), x_spec, model_token(model))


def rate_config(config):
    """The part of an optimizer config that holds the learning rate: a LossScaleOptimizer's inner optimizer's."""
    inner = config.get("inner_optimizer")
    return inner["config"] if isinstance(inner, dict) else config


def has_schedule(optimizer):
    """Whether the learning rate is a schedule (traced) rather than a variable (loaded per fit)."""
    return isinstance(rate_config(optimizer.get_config()).get("learning_rate"), dict)


def optimizer_signature(optimizer):
    """Key part of an optimizer: class and config, without a plain learning rate."""
    config = optimizer.get_config()
    config.pop("name", None)
    if not has_schedule(optimizer):
        rate_config(config).pop("learning_rate", None)  # a variable: loaded per fit, not traced
    return (type(optimizer).__name__ + json.dumps(config, sort_keys=True, default=str), optimizer_token(optimizer))


# --------------------------------------------------------------------------- the caches


def checkout(cache, key):
    """Take the entry for ``key`` out of ``cache`` (None if absent): one user at a time."""
    with _LOCK:
        return cache.pop(key, None)


def checkin(cache, key, item):
    """Put ``item`` back as the most recently used entry; evict beyond :data:`MAX_CACHED`."""
    with _LOCK:
        cache[key] = item
        cache.move_to_end(key)
        while len(cache) > MAX_CACHED:
            cache.popitem(last=False)


def lookup(cache, key):
    """The shared entry for ``key`` (None if absent), marked as recently used."""
    with _LOCK:
        item = cache.get(key)
        if item is not None:
            cache.move_to_end(key)
        return item


def clear_caches():
    """Forget every cached trainer and predictor (frees their graphs)."""
    with _LOCK:
        TRAINERS.clear()
        PREDICTORS.clear()
