"""Resolve compile-time parameters (optimizer, loss, metrics, callbacks) to fresh Keras objects.

Every resolver builds a *new* object from the user's value, which is only a
template: the optimizer, loss, metric or callback a user passed is never used,
mutated or shared between fits.
"""

import copy
import inspect

import keras

NESTED_PREFIXES = ("optimizer__", "loss__", "model__")

_OPTIMIZER_NAMES = (
    "adadelta", "adafactor", "adagrad", "adam", "adamw", "adamax", "ftrl",
    "lamb", "lion", "nadam", "rmsprop", "sgd",
)


def split_nested(params):
    """Split ``{"optimizer__lr": 1}``-style params by prefix; reject unknown names."""
    out = {prefix[:-2]: {} for prefix in NESTED_PREFIXES}
    for key, value in params.items():
        for prefix in NESTED_PREFIXES:
            if key.startswith(prefix) and len(key) > len(prefix):
                out[prefix[:-2]][key[len(prefix):]] = value
                break
        else:
            raise ValueError(
                f"unknown parameter {key!r}; extra parameters must start with one of "
                f"{', '.join(p + '<arg>' for p in NESTED_PREFIXES)} or be layers__<index>__<key>."
            )
    return out


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
    """A new object of the template's class from its config with ``overrides`` applied."""
    config = loss_config(template) if isinstance(template, keras.losses.Loss) else template.get_config()
    _check_keys(what, overrides, config)
    config.update(overrides, **fixed)
    return type(template).from_config(config)


def make_optimizer(optimizer, overrides):
    """A fresh ``keras.optimizers.Optimizer`` from a name, instance or class."""
    if isinstance(optimizer, str):
        try:
            template = keras.optimizers.get(optimizer)
        except ValueError:
            raise ValueError(
                f"unknown optimizer {optimizer!r}; use a Keras optimizer name such as "
                f"{', '.join(_OPTIMIZER_NAMES)}, or an optimizer instance."
            ) from None
    elif isinstance(optimizer, keras.optimizers.Optimizer):
        template = optimizer
    elif isinstance(optimizer, type) and issubclass(optimizer, keras.optimizers.Optimizer):
        template = optimizer()
    else:
        raise TypeError(
            "optimizer must be a Keras optimizer name, instance or class; got "
            f"{type(optimizer).__name__}."
        )
    # A stable name: TensorFlow keeps state per distinct variable name, and
    # auto-generated names (adam_1234) would grow memory over many fits.
    return _from_template("optimizer", template, overrides, name=type(template).__name__.lower())


def _camel(name):
    return "".join(part.capitalize() for part in name.split("_"))


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


def _builtin_loss_name(fn):
    """The name of a Keras loss function (``keras.losses.mse``...), or None for a user's."""
    name = getattr(fn, "__name__", None)
    try:
        return name if name and keras.losses.get(name) is fn else None
    except ValueError:
        return None


def make_loss(loss, default, overrides):
    """A fresh ``keras.losses.Loss`` from a name, instance, class or function."""
    loss = default if loss is None else loss
    if callable(loss) and not isinstance(loss, (keras.losses.Loss, type)):
        # keras.losses.mse -> "mse": its Loss class, with loss__ params
        loss = _builtin_loss_name(loss) or loss
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
            template = resolved
        else:
            try:
                template = keras.losses.get({"class_name": _camel(resolved.__name__), "config": {}})
            except (ValueError, TypeError):
                if overrides:
                    raise ValueError(f"loss {loss!r} takes no loss__<arg> parameters.") from None
                return FunctionLoss(resolved)
    elif isinstance(loss, keras.losses.Loss):
        template = loss
    elif isinstance(loss, type) and issubclass(loss, keras.losses.Loss):
        template = loss()
    elif callable(loss):
        if overrides:
            raise ValueError("a loss function takes no loss__<arg> parameters; use a keras.losses.Loss.")
        return FunctionLoss(loss)
    else:
        raise TypeError(f"loss must be a Keras loss name, instance, class or function; got {type(loss).__name__}.")
    return _from_template("loss", template, overrides)


_ACCURACY = {"accuracy", "acc"}


def make_metrics(metrics, head_activation, n_outputs, classifier, sparse=False):
    """Fresh metric objects; ``"accuracy"`` picks the variant the head and targets need.

    ``sparse``: the network's targets are integer class codes (a sparse loss).
    """
    out = []
    for metric in metrics or []:
        if isinstance(metric, str) and metric in _ACCURACY:
            if not classifier:
                raise ValueError("metric 'accuracy' is for classifiers; use e.g. 'mae' or 'r2_score'.")
            if sparse:
                out.append(keras.metrics.SparseCategoricalAccuracy(name="accuracy"))
            elif head_activation == "softmax" and n_outputs > 1:
                out.append(keras.metrics.CategoricalAccuracy(name="accuracy"))
            else:
                out.append(keras.metrics.BinaryAccuracy(name="accuracy"))
            continue
        if isinstance(metric, keras.metrics.Metric):
            out.append(type(metric).from_config(metric.get_config()))
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
        raise TypeError(f"metrics must be names, keras.metrics.Metric instances or functions; got {type(metric).__name__}.")
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
        memo = {}
        model = getattr(cb, "_model", None)
        if model is not None:
            memo[id(model)] = None
        out.append(copy.deepcopy(cb, memo))
    return out

