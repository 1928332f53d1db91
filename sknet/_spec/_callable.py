"""Build callables: calling a user's ``build`` function, and reading what it compiled.

A callable spec returns its own ``keras.Model``. sknet calls it in its own
convention, ``build(meta, **model_kwargs)``, or in scikeras' (``meta`` and
``compile_kwargs`` as keyword arguments among the model's own), checks that
the model ends in an output the target takes, and records what the function
compiled the model with: a scikeras build function compiles, and its loss and
metrics are what its author trains with (``BaseNet._compile_args`` honours
them when the estimator's ``loss``/``metrics`` are None).
"""

import inspect

import keras

from .._compat import compile_config
from ._heads import output_activation


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


def _single(value, what, name):
    """The one loss (or metric list) of a single-output model given as a list or dict of one."""
    if isinstance(value, dict) and len(value) == 1:
        return next(iter(value.values()))
    if what == "loss" and isinstance(value, (list, tuple)) and len(value) == 1:
        return value[0]
    if isinstance(value, dict) or (what == "loss" and isinstance(value, (list, tuple))):
        raise ValueError(f"{name} compiled its model with one {what} per output ({value!r}); an sknet network has "
                         f"one output: compile it with a single {what}, or pass {what}= to the estimator.")
    return value


def compiled_settings(model, name="the build callable"):
    """``{"loss", "metrics", "optimizer"}`` that ``model`` was compiled with (None for each not given), or None.

    The values are the objects given to ``model.compile`` (a name, a function,
    a ``keras.losses.Loss``...): templates sknet builds this fit's own from.
    The metrics are read from the compile config Keras keeps
    (:func:`sknet._compat.compile_config`, private; Keras 3.0 to 3.15 at least): the
    public ``model.metrics`` lists them only after the model has been trained.
    """
    if not getattr(model, "compiled", False):
        return None
    config = compile_config(model)
    loss = _single(model.loss, "loss", name) if model.loss is not None else None
    metrics = config.get("metrics")
    if metrics is not None:
        metrics = _single(metrics, "metrics", name)
        metrics = list(metrics) if isinstance(metrics, (list, tuple)) else [metrics]
    return {"loss": loss, "metrics": metrics, "optimizer": getattr(model, "optimizer", None)}


def check_output_rank(model, input_shape):
    """Raise ``ValueError`` unless ``model`` maps each sample to a vector (a ``Flatten`` may be missing)."""
    out_shape = tuple(model.outputs[0].shape)
    if len(out_shape) != 2:
        raise ValueError(
            f"the network maps inputs of per-sample shape {tuple(input_shape)} to outputs of "
            f"shape {out_shape[1:]}; add a Flatten (or pooling) layer so that each sample "
            "gives a vector."
        )


def call_build(build, input_shape, head, model_kwargs, meta, compile_kwargs=None, front=None):
    """``(model, output, compiled)`` from a build callable; see :func:`sknet._spec.build_model`.

    Raises
    ------
    TypeError
        For a callable that rejects the ``model__`` arguments or does not return a ``keras.Model``.
    ValueError
        For a model whose output the target cannot take.
    """
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
    compiled = compiled_settings(model, f"the build callable {name!r}")
    activation = output_activation(model) if model.layers else None
    if front:  # the callable built its model for the encoded table (meta["input_shape_"] is its width)
        inputs = keras.Input(shape=tuple(input_shape), name="sknet_input")
        x = inputs
        for layer in front:
            x = layer(x)
        model = keras.Model(inputs, model(x), name="sknet_model")
    if not model.built:
        model.build((None,) + tuple(input_shape))
    check_output_rank(model, input_shape)
    units = int(model.outputs[0].shape[-1])
    if not head.classifier:
        if units != head.units:
            raise ValueError(f"the model returned by the build callable {name!r} has {units} output "
                             f"unit(s) but the target needs {head.describe()}.")
        return model, "values", compiled
    output = head.output_kind(units, activation)
    if output is None:
        raise ValueError(
            f"the model returned by the build callable {name!r} ends in {units} unit(s) with "
            f"activation {activation!r}, but the target needs {head.describe()}."
        )
    return model, output, compiled
