"""dtype policies: the estimator's ``dtype_policy`` written into every layer it builds.

``dtype_policy`` is a property of the estimator, never of the process: it is
written into every layer's config (nested layers, such as a wrapper's inner
layer, included) before the layer is created, and a callable's model is
copied layer by layer with it. Keras' global policy
(``keras.config.set_dtype_policy``) is neither read nor set. Layers whose
dtype is not a floating-point one (an integer lookup layer) keep it, and an
explicit ``layers__<index>__dtype`` parameter overrides the policy for its layer.
"""

import copy

import keras

from .._params import make_policy

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
