"""Resolve compile-time parameters (optimizer, loss, metrics, callbacks, dtype policy) to fresh Keras objects.

Every resolver builds a *new* object from the user's value, which is only a
template: the optimizer, loss, metric or callback a user passed is never used,
mutated or shared between fits.
"""

import copy
import functools
import inspect

import keras

from ._faithful import copy_instance, faithful_config, is_library, rebuild

_OPTIMIZER_NAMES = (
    "adadelta", "adafactor", "adagrad", "adam", "adamw", "adamax", "ftrl",
    "lamb", "lion", "nadam", "rmsprop", "sgd",
)


def _check_keys(what, overrides, valid):
    unknown = sorted(set(overrides) - set(valid))
    if unknown:
        names = ", ".join(f"{what}__{k}" for k in unknown)
        raise ValueError(f"{names}: not an argument of the {what}; valid choices are {sorted(valid)}.")


def loss_config(loss):
    """``loss.get_config()`` plus the function arguments some Keras losses leave out.

    Keras' ``Huber.get_config()`` drops ``delta`` (Keras 3.15); its wrapper
    still holds it in ``_fn_kwargs``, so every argument of the class's
    ``__init__`` found there is added back.
    """
    config = loss.get_config()
    params = inspect.signature(type(loss).__init__).parameters
    for key, value in (getattr(loss, "_fn_kwargs", None) or {}).items():
        if key in params:
            config.setdefault(key, value)
    return config


def _from_template(what, template, overrides, **fixed):
    """A new object of the template's class from its config with ``overrides`` applied.

    The config is :func:`faithful_config`'s: the functions and classes it
    names resolve to the template's own.
    """
    config, objects = faithful_config(template)
    if isinstance(template, keras.losses.Loss):
        config = {**loss_config(template), **config}
    return _from_config(what, type(template), config, overrides, objects, **fixed)


def _from_config(what, cls, config, overrides, objects=None, **fixed):
    """A new ``cls`` from ``config`` (the caller's own copy) with ``overrides`` applied."""
    _check_keys(what, overrides, config)
    config.update(overrides, **fixed)
    with keras.saving.custom_object_scope(objects or {}):
        return cls.from_config(config)


@functools.cache
def _optimizer_class(name):
    """The optimizer class ``keras.optimizers.get(name)`` resolves to.

    Looked up once per name: every ``keras.optimizers.get`` call leaves about
    70 KB of TensorFlow state behind (measured over 800 calls), which a
    process fitting thousands of estimators would accumulate.
    """
    return type(keras.optimizers.get(name))


@functools.lru_cache(maxsize=64)
def _default_config(cls):
    """``cls().get_config()``, read once per optimizer class.

    Building an optimizer creates its ``iteration`` and ``learning_rate``
    variables (about a millisecond); a name or class spec needs only the
    defaults' config, which the fit's optimizer is then made from.
    """
    return cls().get_config()


def make_optimizer(optimizer, overrides):
    """A fresh ``keras.optimizers.Optimizer`` from a name, instance or class."""
    # A stable name: TensorFlow keeps state per distinct variable name, and
    # auto-generated names (adam_1234) would grow memory over many fits.
    if isinstance(optimizer, str):
        try:
            cls = _optimizer_class(optimizer)
        except ValueError:
            raise ValueError(
                f"unknown optimizer {optimizer!r}; use a Keras optimizer name such as "
                f"{', '.join(_OPTIMIZER_NAMES)}, or an optimizer instance."
            ) from None
    elif isinstance(optimizer, keras.optimizers.Optimizer):
        return _from_template("optimizer", optimizer, overrides, name=type(optimizer).__name__.lower())
    elif isinstance(optimizer, type) and issubclass(optimizer, keras.optimizers.Optimizer):
        cls = optimizer
    else:
        raise TypeError(
            "optimizer must be a Keras optimizer name, instance or class; got "
            f"{type(optimizer).__name__}."
        )
    # A name or a class: the defaults' config stands in for a template instance.
    return _from_config("optimizer", cls, copy.deepcopy(_default_config(cls)), overrides,
                        name=cls.__name__.lower())


_POLICY_NAMES = ("float32", "mixed_bfloat16", "mixed_float16", "bfloat16", "float16", "float64")


def make_policy(dtype_policy):
    """The ``keras.DTypePolicy`` a ``dtype_policy`` parameter names.

    Pure Python (no TensorFlow work), so a bad value fails before anything is built.

    Raises
    ------
    ValueError
        Naming the parameter, for a name Keras does not know, a policy that
        does not compute in floating point (``"int32"``) and a quantized or
        per-layer-map policy (those are for inference: quantize ``model_``
        after fitting).
    """
    if isinstance(dtype_policy, keras.DTypePolicy):
        policy = dtype_policy
    elif isinstance(dtype_policy, str):
        try:
            policy = keras.dtype_policies.get(dtype_policy)
        except (ValueError, TypeError):
            raise ValueError(
                f"dtype_policy={dtype_policy!r} is not a Keras dtype policy name; use one of "
                f"{', '.join(repr(n) for n in _POLICY_NAMES)}, or a keras.DTypePolicy."
            ) from None
    else:
        raise TypeError(f"dtype_policy must be a str or a keras.DTypePolicy; got {type(dtype_policy).__name__}.")
    if type(policy) not in (keras.DTypePolicy, keras.dtype_policies.FloatDTypePolicy):
        raise ValueError(
            f"dtype_policy={policy.name!r} is a {type(policy).__name__}: quantized and per-layer policies are "
            "for inference, not training; fit in float32 or a mixed policy and quantize model_ afterwards."
        )
    if not policy.compute_dtype.startswith(("float", "bfloat")):
        raise ValueError(
            f"dtype_policy={policy.name!r} computes in {policy.compute_dtype}; a network trains in floating "
            f"point: use one of {', '.join(repr(n) for n in _POLICY_NAMES)}."
        )
    return policy


def for_policy(optimizer, dtype_policy):
    """``optimizer`` as it must train under ``dtype_policy``: loss-scaled for float16 compute.

    float16 has a narrow exponent range: small gradients underflow to zero
    unless the loss is scaled up before differentiation and the gradients
    scaled back down before the update. Under a policy that computes in
    float16 (``"mixed_float16"``, as Keras' ``compile`` does, and also
    ``"float16"``), the optimizer is wrapped in a
    ``keras.optimizers.LossScaleOptimizer`` (dynamic scaling: the scale halves
    and the step is skipped when a gradient is not finite). bfloat16 has
    float32's range and needs no scaling. An optimizer that is already a
    ``LossScaleOptimizer`` is returned as is.

    Parameters
    ----------
    optimizer : keras.optimizers.Optimizer
        This fit's fresh optimizer (:func:`make_optimizer`).
    dtype_policy : str or keras.DTypePolicy
        The estimator's ``dtype_policy`` (validated by :func:`make_policy`).

    Returns
    -------
    keras.optimizers.Optimizer
    """
    policy = make_policy(dtype_policy)
    if policy.compute_dtype != "float16" or isinstance(optimizer, keras.optimizers.LossScaleOptimizer):
        return optimizer
    return keras.optimizers.LossScaleOptimizer(optimizer, name="loss_scale_optimizer")


@keras.saving.register_keras_serializable(package="sknet")
class FunctionLoss(keras.losses.Loss):
    """A ``keras.losses.Loss`` around a function ``fn(y_true, y_pred)`` of per-sample losses.

    Keras 3 keeps its own wrapper private; this one saves the function as
    Keras serializes functions (by registered name), so a model compiled with
    it loads wherever the function is registered.
    """

    def __init__(self, fn, name=None, reduction="sum_over_batch_size", dtype=None):
        super().__init__(name=name or getattr(fn, "__name__", "loss"), reduction=reduction, dtype=dtype)
        self.fn = fn

    def call(self, y_true, y_pred):
        return self.fn(y_true, y_pred)

    def get_config(self):
        return {**super().get_config(), "fn": keras.saving.serialize_keras_object(self.fn)}

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        try:
            config["fn"] = keras.saving.deserialize_keras_object(config["fn"])
        except (TypeError, ValueError):
            # An unregistered function: the estimator still loads (its ``loss``
            # parameter holds the function itself, and refits use it); only
            # ``model_.evaluate``/``model_.fit`` on the loaded network need it.
            config["fn"] = _unregistered(config["fn"])
        return cls(**config)


def _unregistered(fn_config):
    name = fn_config.get("config") if isinstance(fn_config, dict) else fn_config

    def missing(y_true, y_pred):
        raise TypeError(
            f"the loss function {name!r} of this loaded model is not registered with Keras; "
            "decorate it with @keras.saving.register_keras_serializable() to use it after "
            "loading (the sknet estimator itself predicts and refits without it)."
        )

    missing.__name__ = str(name)
    return missing


@functools.cache
def _loss_classes():
    """``{function: class}`` for every Keras loss class that wraps a loss function.

    Built from the classes themselves (each instance holds its function in
    ``fn``), so every name and alias ``keras.losses.get`` resolves to a
    function (``"kld"``, ``"kl_divergence"``, ``"mse"``...) maps to its class
    without guessing class names from the function's name.
    """
    table = {}
    for value in vars(keras.losses).values():
        if not (isinstance(value, type) and issubclass(value, keras.losses.Loss)):
            continue
        try:
            fn = getattr(value(), "fn", None)
        except TypeError:  # pragma: no cover - a class with required arguments
            continue
        if callable(fn):
            table.setdefault(fn, value)
    return table


def loss_template(loss):
    """The user's ``loss`` (name, instance, class or function) as a ``keras.losses.Loss``.

    Keras loss functions and their names become their loss classes (so that
    ``loss__<arg>`` parameters reach them); a user's own function is wrapped
    in :class:`FunctionLoss`. The result is a template: never trained with.
    """
    if isinstance(loss, str):
        try:
            resolved = keras.losses.get(loss)
        except ValueError:
            raise ValueError(
                f"unknown loss {loss!r}; use a Keras loss name such as "
                "'categorical_crossentropy', 'binary_crossentropy', 'mse' or 'mae', "
                "or a keras.losses.Loss instance."
            ) from None
        if isinstance(resolved, keras.losses.Loss):
            return resolved
        loss = resolved
    if isinstance(loss, keras.losses.Loss):
        return loss
    if isinstance(loss, type) and issubclass(loss, keras.losses.Loss):
        return loss()
    if callable(loss) and not isinstance(loss, type):
        cls = _loss_classes().get(loss)
        return cls() if cls is not None else FunctionLoss(loss)
    raise TypeError(f"loss must be a Keras loss name, instance, class or function; got {type(loss).__name__}.")


def takes_class_codes(loss):
    """Whether ``loss`` (any accepted form, or None) trains on integer class codes."""
    return loss is not None and isinstance(loss_template(loss), keras.losses.SparseCategoricalCrossentropy)


def takes_one_hot(loss):
    """Whether ``loss`` is a categorical cross-entropy (a 2-D indicator ``y`` is then one-hot)."""
    categorical = (keras.losses.CategoricalCrossentropy, keras.losses.CategoricalFocalCrossentropy)
    return loss is not None and isinstance(loss_template(loss), categorical)


def make_loss(loss, default, overrides, logits=None):
    """A fresh ``keras.losses.Loss`` for this fit.

    Parameters
    ----------
    loss : str, keras.losses.Loss, Loss class, callable or None
        The user's value; None means ``default``.
    default : str
        The target's default loss name.
    overrides : dict
        ``loss__<arg>`` parameters.
    logits : bool or None
        For a classifier: whether the network outputs logits (a linear output
        layer) rather than probabilities. A cross-entropy loss then gets
        ``from_logits`` to match; a loss whose ``from_logits`` was set
        explicitly against the output layer is a ``ValueError``. None (a
        regressor) leaves ``from_logits`` as given.
    """
    explicit = isinstance(loss, keras.losses.Loss) or "from_logits" in overrides
    template = loss_template(default if loss is None else loss)
    if isinstance(template, FunctionLoss):
        if overrides:
            raise ValueError("a loss function takes no loss__<arg> parameters; use a keras.losses.Loss.")
        return FunctionLoss(template.fn, name=template.name)
    overrides = dict(overrides)
    config = loss_config(template)
    if logits is not None and "from_logits" in config:
        given = bool(overrides.get("from_logits", config["from_logits"]))
        if explicit and given != logits:
            output = "a linear output layer (logits)" if logits else "a softmax/sigmoid output layer (probabilities)"
            raise ValueError(
                f"the loss has from_logits={given}, but the network ends in {output}; "
                f"set from_logits={logits}, or change the last layer's activation."
            )
        overrides["from_logits"] = logits
    if not is_library(type(template)) and all(config.get(k, k) == v for k, v in overrides.items()):
        # A loss of the user's own class is used as Keras' compile would use
        # it: as it is (a copy of all its attributes), not rebuilt from a
        # config that may not hold all its state.
        return copy_instance(template)
    return _from_template("loss", template, overrides)


_ACCURACY = {"accuracy", "acc"}


def make_metrics(metrics, head, units, logits=False):
    """Fresh metric objects; ``"accuracy"`` picks the variant the head and targets need.

    Parameters
    ----------
    metrics : list or None
        The user's ``metrics``.
    head : sknet._encoding.Head
        The target's head (classifier or not, class codes or not).
    units : int
        Width of the network's output layer.
    logits : bool
        The outputs are logits: binary accuracy then thresholds at 0.
    """
    out = []
    for metric in metrics or []:
        if isinstance(metric, str) and metric in _ACCURACY:
            if not head.classifier:
                raise ValueError("metric 'accuracy' is for classifiers; use e.g. 'mae' or 'r2_score'.")
            if head.sparse:
                out.append(keras.metrics.SparseCategoricalAccuracy(name="accuracy"))
            elif head.kind != "multilabel" and units > 1:
                out.append(keras.metrics.CategoricalAccuracy(name="accuracy"))
            else:
                out.append(keras.metrics.BinaryAccuracy(name="accuracy", threshold=0.0 if logits else 0.5))
            continue
        if isinstance(metric, keras.metrics.Metric):
            out.append(rebuild(metric))
            continue
        if isinstance(metric, str):
            try:
                resolved = keras.metrics.get(metric)
            except ValueError:
                raise ValueError(
                    f"unknown metric {metric!r}; use a Keras metric name (e.g. 'accuracy', "
                    "'mae', 'auc') or a keras.metrics.Metric instance."
                ) from None
            if isinstance(resolved, keras.metrics.Metric):
                out.append(type(resolved).from_config({**resolved.get_config(), "name": metric}))
            else:
                out.append(keras.metrics.MeanMetricWrapper(resolved, name=metric))
            continue
        if callable(metric):
            out.append(keras.metrics.MeanMetricWrapper(metric, name=getattr(metric, "__name__", "metric")))
            continue
        raise TypeError(
            f"metrics must be names, keras.metrics.Metric instances or functions; got {type(metric).__name__}."
        )
    names = [m.name for m in out]
    duplicated = sorted({n for n in names if names.count(n) > 1})
    if duplicated:
        raise ValueError(f"metrics {duplicated} are listed twice.")
    return out


def fresh_callbacks(callbacks):
    """Independent copies of callback templates (their model link is not copied)."""
    out = []
    for cb in callbacks or []:
        if not isinstance(cb, keras.callbacks.Callback):
            raise TypeError(f"callbacks must be keras.callbacks.Callback instances; got {type(cb).__name__}.")
        if isinstance(cb, keras.callbacks.History):
            # Keras' fit fills a History it is given; sknet never writes into a parameter.
            raise ValueError(
                "callbacks holds a keras.callbacks.History: an estimator never writes into its parameters, "
                "so it would stay empty. Remove it and read the fitted estimator's history_ (e.g. "
                "est.history_['loss'], est.history_.to_frame())."
            )
        memo = {}
        model = getattr(cb, "_model", None)
        if model is not None:
            memo[id(model)] = None
        out.append(copy.deepcopy(cb, memo))
    return out

