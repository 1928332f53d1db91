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
``dtype_policy``.

The package has one module per concern; :func:`build_model` puts them together:

=================  ==========================================================
``_kinds``         spec kinds, layer configs, stable names, ``layers__`` params
``_heads``         the head rule: a spec's output block and what it outputs
``_policy``        dtype policies written into every layer
``_callable``      build callables: calling them, what they compiled
=================  ==========================================================
"""

import keras
import numpy as np

from .._params import make_policy
from .._seeds import seeded_python_random, with_seeds
from ._callable import call_build, check_output_rank, compiled_settings
from ._heads import activation_name, block_output, head_config, is_head_block, output_activation, output_block
from ._kinds import (
    DEFAULT_HIDDEN_UNITS,
    apply_layer_params,
    check_layer_params,
    custom_objects,
    default_layers,
    deserialize,
    layer_configs,
    nested_layer_params,
    sequential_input_shape,
    spec_kind,
    stable_names,
)
from ._policy import computes_in, with_dtype_policy, with_policy

__all__ = [
    "DEFAULT_HIDDEN_UNITS", "Built", "activation_name", "apply_layer_params", "build_model", "check_layer_params",
    "compiled_settings", "computes_in", "custom_objects", "default_layers", "layer_configs", "nested_layer_params",
    "output_activation", "output_block", "sequential_input_shape", "spec_kind", "with_dtype_policy", "with_policy",
]


class Built(tuple):
    """``(model, output)``, as :func:`build_model` returns it, plus what the spec was compiled with.

    A tuple, so ``model, output = build_model(...)`` unpacks it.

    Attributes
    ----------
    compiled : dict or None
        ``{"loss", "metrics", "optimizer"}`` given to ``compile`` by a build
        callable (or on a compiled ``keras.Sequential`` spec), each None when
        not given; None when nothing was compiled
        (:func:`sknet._spec._callable.compiled_settings`).
    """

    compiled = None

    def __new__(cls, model, output, compiled=None):
        built = super().__new__(cls, (model, output))
        built.compiled = compiled
        return built


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
        network itself (what the callable compiled is returned in
        ``Built.compiled``).
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
    Built
        ``(model, output)``: the ``keras.Model``, and ``"probabilities"``,
        ``"logits"`` or ``"values"``, what its output block gives (decides the
        loss and how outputs are decoded); ``.compiled`` holds what a build
        callable or a compiled Sequential spec was compiled with.
    """
    policy = make_policy(dtype_policy)
    kind = spec_kind(spec)  # which nested parameters fit which spec: BaseNet._more_validate_params
    if kind == "callable":
        # A user's build function creates layers Keras seeds from Python's ``random``.
        with seeded_python_random(seed):
            model, output, compiled = call_build(spec, input_shape, head, model_kwargs or {}, meta, compile_kwargs,
                                                 front=front)
            return Built(with_policy(model, policy), output, compiled)
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
    configs = [with_dtype_policy(cfg, policy) for cfg in layer_configs(spec, classes)]
    configs = apply_layer_params(configs, layer_params or {}, classes)  # layers__<i>__dtype wins
    seeds = np.random.RandomState(seed)
    configs = [with_seeds(cfg, seeds) for cfg in stable_names(configs)]
    layers = [deserialize(cfg, i, classes) for i, cfg in enumerate(configs)]
    if kind == "default" or not is_head_block(layers, head):
        layers.append(deserialize(with_seeds(with_dtype_policy(head_config(head), policy), seeds), len(layers)))
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
    check_output_rank(model, input_shape)
    compiled = compiled_settings(spec, "the keras.Sequential spec") if kind == "sequential" else None
    return Built(model, head.output_kind(*block_output(layers)), compiled)
