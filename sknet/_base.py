"""Shared estimator logic: parameters, their constraints, the fit skeleton, tags.

Data flows one way: validate -> encode -> build -> train -> decode. ``fit``
and ``partial_fit`` run the same named steps (:meth:`BaseNet._fit`):

1. ``_prepare``: resolve the strategy and nested parameters, validate ``X``,
   ``y`` and weights, learn (or check) the target encoding, split off
   validation rows, weight every row;
2. ``_network``: build a fresh network, or continue the fitted one;
3. ``_compile_args``: the loss, metrics and encoded targets for that network;
4. ``_train``: the single-device or the distributed engine;
5. ``_commit``: record the results on the estimator.

All five run inside one all-or-nothing block: if any step raises (bad
input, a NaN loss, a callback's exception), every attribute of the
estimator is exactly as it was before the call. ``KeyboardInterrupt``
during training is the documented exception: the epochs completed so far
are committed, with a warning.
"""

import contextlib
import warnings
from abc import ABCMeta, abstractmethod
from dataclasses import dataclass
from numbers import Integral, Real

import keras
import numpy as np
import scipy.sparse as sp
import tensorflow as tf
from sklearn.base import BaseEstimator, is_classifier
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted

from . import _data, _engine, _fastpath, _nested, _parallel, _params, _persist, _spec, _tabular
from ._compat import Interval, StrOptions, _fit_context
from ._encoding import default_loss
from ._history import History
from .exceptions import TrainingInterruptedWarning

_MAX_SEED = np.iinfo(np.int32).max

# Losses that standardizing the target leaves meaningful: their minimiser moves with the target's location
# and scale, and they have no parameter in the target's units. Others need y as it is: Poisson, MSLE, MAPE
# and KL read its values; Huber's delta and log-cosh's bend are in its units.
_STANDARDIZABLE_LOSSES = (keras.losses.MeanSquaredError, keras.losses.MeanAbsoluteError)


@dataclass
class _Run:
    """Everything one ``fit``/``partial_fit`` call has prepared for the network."""

    reset: bool
    strategy: object
    nested: dict
    optimizer: object
    target: object
    seed: int
    rng: np.random.RandomState
    train: tuple  # (X, y, weights)
    validation: tuple | None  # (X_val, y_val, weights_val)
    meta: dict
    callbacks: list  # fresh copies owned by this fit
    batch_size: int  # the parameter, "auto" resolved (sknet._tabular.resolve)
    table: bool  # X is a table, encoded by table_encoder_
    compiled: dict | None = None  # what the spec was compiled with (_spec.Built.compiled), set by _network


class BaseNet(BaseEstimator, metaclass=ABCMeta):
    """Base class for sknet estimators. Use :class:`NetClassifier` or :class:`NetRegressor`.

    See :class:`NetClassifier` for the parameters.
    """

    _parameter_constraints = {
        "layers": [list, tuple, keras.Sequential, callable, None],
        "optimizer": [str, keras.optimizers.Optimizer, type],
        "loss": [str, keras.losses.Loss, type, callable, None],
        "metrics": [list, tuple, None],
        "epochs": [Interval(Integral, 1, None, closed="left")],
        "batch_size": [Interval(Integral, 1, None, closed="left"), StrOptions({"auto"})],
        "validation_split": [Interval(Real, 0, 1, closed="left"), StrOptions({"auto"})],
        "early_stopping": ["boolean", StrOptions({"auto"})],
        "patience": [Interval(Integral, 1, None, closed="left")],
        "callbacks": [list, tuple, None],
        "warm_start": ["boolean"],
        "random_state": ["random_state"],
        "verbose": [Interval(Integral, 0, 2, closed="both")],
        "distribute": [StrOptions({"mirrored"}), tf.distribute.Strategy, callable, None],
        "dtype_policy": [str, keras.DTypePolicy],
        "stream": [StrOptions({"auto"}), "boolean"],
        "categorical_features": [StrOptions({"from_dtype"}), "array-like", None],
        "numeric_embedding": [StrOptions({"periodic", "piecewise"}), None],
    }

    def __init__(
        self,
        layers=None,
        *,
        optimizer="adam",
        loss=None,
        metrics=None,
        epochs=100,
        batch_size="auto",
        validation_split="auto",
        early_stopping="auto",
        patience=10,
        callbacks=None,
        warm_start=False,
        random_state=None,
        verbose=0,
        distribute=None,
        dtype_policy="float32",
        stream="auto",
        categorical_features="from_dtype",
        numeric_embedding="piecewise",
        **kwargs,
    ):
        self.layers = layers
        self.optimizer = optimizer
        self.loss = loss
        self.metrics = metrics
        self.epochs = epochs
        self.batch_size = batch_size
        self.validation_split = validation_split
        self.early_stopping = early_stopping
        self.patience = patience
        self.callbacks = callbacks
        self.warm_start = warm_start
        self.random_state = random_state
        self.verbose = verbose
        self.distribute = distribute
        self.dtype_policy = dtype_policy
        self.stream = stream
        self.categorical_features = categorical_features
        self.numeric_embedding = numeric_embedding
        for key, value in kwargs.items():
            setattr(self, key, value)

    # ------------------------------------------------------------------ params

    def _nested_param_names(self):
        """Names of the extra (nested) parameters stored on the estimator."""
        init = set(self._get_param_names())
        return sorted(k for k in vars(self) if k not in init and not k.startswith("_") and not k.endswith("_"))

    def _nested_params(self):
        return {k: getattr(self, k) for k in self._nested_param_names()}

    def get_params(self, deep=True):
        """Get parameters for this estimator.

        Parameters
        ----------
        deep : bool, default=True
            If True, also return ``layers__<index>__<key>`` for every config
            key of every layer of a list or ``keras.Sequential`` spec (with
            the ``layers__`` parameters that were set applied).

        Returns
        -------
        params : dict
            Parameter names mapped to their values, including the nested
            ``layers__*``, ``optimizer__*``, ``loss__*`` and ``model__*``
            parameters that were set.
        """
        params = super().get_params(deep=False)
        nested = self._nested_params()
        if deep:
            params.update({f"layers__{key}": v for key, v in _spec.nested_layer_params(self.layers).items()})
        params.update(nested)
        return params

    def set_params(self, **params):
        """Set parameters, including the nested forms of :mod:`sknet._nested`.

        Nested parameters are stored like the others and applied at fit time:
        ``layers__0__units=32`` leaves the ``layers`` objects untouched.

        Parameters
        ----------
        **params : dict
            Estimator parameters.

        Returns
        -------
        self : estimator instance
        """
        valid = set(self._get_param_names()) | set(self._nested_param_names())
        for key in params:
            if key not in valid and _nested.prefix_of(key) is None:
                raise ValueError(_nested.unknown_parameter_message(key, type(self).__name__, valid))
        for key, value in params.items():
            setattr(self, key, value)
        if any(_nested.prefix_of(key) == "layers" for key in params):
            _spec.check_layer_params(self.layers, _nested.split(self._nested_params())["layers"])
        return self

    # ------------------------------------------------------------------ tags

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.non_deterministic = False
        tags.target_tags.required = True
        tags.target_tags.multi_output = True
        tags.input_tags.sparse = True
        return tags

    def __sklearn_is_fitted__(self):
        return hasattr(self, "model_")

    def __sklearn_clone__(self):
        # scikit-learn's clone, but Keras layer templates are copied through their
        # configs rather than deepcopy (Keras' pickling, ~5 ms a layer): _fastpath.clone.
        return _fastpath.clone(self, BaseEstimator.__sklearn_clone__)

    # ------------------------------------------------------------------ subclass hooks

    @abstractmethod
    def _make_target(self):
        """A fresh target encoder (``sknet._encoding``) for this estimator's ``loss``."""

    def _class_weights(self, target, y):
        """Per-row class weights, or None."""
        return None

    def _stratify(self, y):
        """What ``validation_split`` stratifies on, or None."""
        return None

    def _set_target_attributes(self, target):
        """Record target facts (``classes_``...) on the estimator."""

    def _network_spec(self):
        """The spec the network is built from (the transformer's autoencoder adds a decoder)."""
        return self._layers_for_data()

    def _layers_for_data(self):
        """``layers``, with ``None`` on a table meaning the table recipe (:mod:`sknet._tabular`)."""
        if self.layers is None and hasattr(self, "table_encoder_"):
            return _tabular.default_layers()
        return self.layers

    def _target_scaling(self, model, loss):
        """Whether this fit trains on a standardized target (``scale_target``, on continuous targets).

        ``"auto"``: when the output block is linear and ``loss`` (what this fit
        trains with: the estimator's, a compiled one, or None for the default)
        is one whose minimiser moves with the target's location and scale.
        """
        mode = getattr(self, "scale_target", False)
        if mode != "auto":
            return bool(mode)
        if _spec.output_activation(model) != "linear":
            return False
        return loss is None or isinstance(_params.loss_template(loss), _STANDARDIZABLE_LOSSES)

    def _classification(self, y):
        """Whether ``y`` is trained as class labels (decides how it is validated)."""
        return is_classifier(self)

    # ------------------------------------------------------------------ validation

    def _more_validate_params(self, for_partial_fit=False):
        """Rules that span parameters, checked with the parameter constraints (all of them here)."""
        nested = _nested.split(self._nested_params())
        kind = _spec.spec_kind(self.layers)
        if nested["model"] and kind != "callable":
            names = ", ".join(f"model__{k}" for k in sorted(nested["model"]))
            raise ValueError(f"{names}: model__<arg> parameters are passed to a callable layers spec, "
                             f"but layers is a {kind} spec.")
        if nested["layers"] and kind not in ("default", "layers", "dicts", "sequential"):
            raise ValueError("layers__<index>__<key> parameters need a layer list or keras.Sequential "
                             f"spec; layers is a {kind} spec (use model__<arg> for a callable).")
        if for_partial_fit and (self.validation_split not in (0, "auto") or self.early_stopping is True):
            raise ValueError(
                "partial_fit trains one epoch on the data it is given; validation_split and "
                "early_stopping apply to fit only. Set validation_split=0.0 and "
                "early_stopping=False, or call fit."
            )

    # ------------------------------------------------------------------ fit

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, sample_weight=None, validation_data=None):
        """Train the network on ``(X, y)``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features) or (n_samples, ...)
            Training data; N-D arrays (e.g. images) are fed to the network as is.
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
            Targets, as scikit-learn accepts them.
        sample_weight : array-like of shape (n_samples,), default=None
            Per-sample weights of the loss.
        validation_data : tuple, default=None
            ``(X_val, y_val)`` or ``(X_val, y_val, sample_weight_val)``: data to
            report ``val_*`` metrics on after each epoch (and to monitor with
            ``early_stopping``); labels are encoded like ``y`` and rows are
            weighted like training rows (``sample_weight_val`` times
            ``class_weight``).

        Returns
        -------
        self : object
            The fitted estimator.
        """
        self._more_validate_params()
        reset = not (self.warm_start and self.__sklearn_is_fitted__())
        return self._fit(X, y, sample_weight, validation_data, reset=reset, epochs=self.epochs)

    def _partial_fit(self, X, y, sample_weight=None, classes=None):
        # The subclasses' partial_fit is wrapped in _fit_context, which validates
        # the parameters on the first call (scikit-learn skips it once fitted).
        self._more_validate_params(for_partial_fit=True)
        reset = not self.__sklearn_is_fitted__()
        return self._fit(X, y, sample_weight, None, reset=reset, epochs=1, classes=classes, partial_fit=True)

    def _fit(self, X, y, sample_weight, validation_data, *, reset, epochs, classes=None, partial_fit=False):
        with self._all_or_nothing():
            run = self._prepare(X, y, sample_weight, validation_data, reset=reset, classes=classes,
                                partial_fit=partial_fit)
            model, output = self._network(run)
            loss, metrics, data, validation = self._compile_args(run, model, output)
            history, status, optimizer = self._train(run, model, loss, metrics, data, validation, epochs)
            if status == "nan":
                raise FloatingPointError(
                    f"the training loss became {history[-1]['loss']} in epoch {len(history)}; "
                    "the estimator was left as it was before this fit. Lower the learning "
                    "rate, scale X, or check the data."
                )
            self._commit(run, model, output, loss, optimizer, history)
        if status == "interrupted":
            warnings.warn(
                f"training was interrupted (KeyboardInterrupt) after {len(history)} epoch(s); "
                "the estimator keeps the weights and history so far.",
                TrainingInterruptedWarning,
                stacklevel=3,
            )
        return self

    @contextlib.contextmanager
    def _all_or_nothing(self):
        """Restore every attribute if the body raises (a failed fit changes nothing)."""
        saved = dict(self.__dict__)
        try:
            yield
        except BaseException:
            self.__dict__.clear()
            self.__dict__.update(saved)
            raise

    def _prepare(self, X, y, sample_weight, validation_data, *, reset, classes, partial_fit=False):
        """Step 1: validate and encode everything, before any TensorFlow work."""
        # A strategy first: MultiWorkerMirroredStrategy must exist before other TensorFlow work.
        strategy = _parallel.resolve_strategy(self.distribute) if self.distribute is not None else None
        nested = _nested.split(self._nested_params())  # checked by _more_validate_params
        optimizer = _params.for_policy(_params.make_optimizer(self.optimizer, nested["optimizer"]), self.dtype_policy)
        X, y, sample_weight = _data.validate_fit_data(
            self, X, y, sample_weight, reset=reset, classifier=self._classification(y)
        )
        table = hasattr(self, "table_encoder_")  # validate_fit_data fitted it (reset) or encoded X with it
        batch_size, early_stopping, validation_split = _tabular.resolve(
            self.batch_size, self.early_stopping, self.validation_split, table=table, n_rows=X.shape[0],
            partial_fit=partial_fit,
        )
        callbacks = self._callbacks(validation_data is not None or bool(validation_split), early_stopping)
        if strategy is not None and sp.issparse(X):
            raise ValueError("distribute= trains on dense X; densify it (X.toarray()) or train without distribute.")
        if not reset:
            fitted, wanted = self.model_.layers[-1].dtype_policy.name, _params.make_policy(self.dtype_policy).name
            if fitted != wanted:
                raise ValueError(f"dtype_policy={wanted!r}, but the fitted network computes in {fitted!r}; a warm "
                                 "start or partial_fit continues that network. Set warm_start=False to refit.")
        target = self._make_target().fit(y, classes) if reset else self.target_
        if not reset:
            target.check(y)  # unseen labels, other output count
        rng = check_random_state(self.random_state)
        seed = int(rng.randint(_MAX_SEED))
        shuffle_rng = np.random.RandomState(rng.randint(_MAX_SEED))
        if validation_data is not None:
            X_val, y_val, sw_val = _data.validate_validation_data(self, validation_data, target)
        elif validation_split:
            X, X_val, y, y_val, sample_weight, sw_val = _data.split(
                X, y, sample_weight, test_size=validation_split, stratify=self._stratify(y), rng=shuffle_rng
            )
        else:
            X_val = None
        train = _data.drop_zero_weights(X, y, _data.weights(len(y), sample_weight, self._class_weights(target, y)))
        validation = None
        if X_val is not None:
            w_val = _data.weights(len(y_val), sw_val, self._class_weights(target, y_val))
            validation = _data.drop_zero_weights(X_val, y_val, w_val)
        return _Run(reset, strategy, nested, optimizer, target, seed, shuffle_rng, train, validation,
                    self._meta(target) if reset else {}, callbacks, batch_size, table)

    def _meta(self, target):
        """What a callable spec learns about the data: fitted-attribute names and values."""
        meta = {
            "n_features_in_": self.n_features_in_,
            "input_shape_": self.input_shape_,
            "target_type_": target.target_type_,
            "n_outputs_": target.head.units,
            "out_activation_": target.head.activation,
        }
        if hasattr(self, "feature_names_in_"):
            meta["feature_names_in_"] = self.feature_names_in_
        if hasattr(self, "table_encoder_"):  # a callable spec builds on the table's representation
            meta["input_shape_"] = (self._table_front(seed=None).output_width,)
        if target.head.classifier:
            meta.update(classes_=target.classes_, n_classes_=len(target.classes_))
        return meta

    def _scope(self, run):
        return run.strategy.scope() if run.strategy is not None else contextlib.nullcontext()

    def _network(self, run):
        """Step 2: a fresh network (``reset``), or the fitted one to continue."""
        if not run.reset:
            model = self.model_
            if run.strategy is not None and getattr(model, "_distribute_strategy", None) is not run.strategy:
                # Made under another strategy object, or loaded from a pickle: move it.
                model = _engine.rehome(model, run.strategy)
            if self.loss is None or self.metrics is None:  # keep training on what the network was compiled with
                run.compiled = self._fitted_compile_settings()
            return model, self._output
        with self._scope(run):
            built = _spec.build_model(
                self._network_spec(), run.train[0].shape[1:], run.target.head, seed=run.seed,
                layer_params=run.nested["layers"], model_kwargs=run.nested["model"], meta=run.meta,
                compile_kwargs=self._compile_kwargs(run) if _spec.spec_kind(self.layers) == "callable" else None,
                sparse=sp.issparse(run.train[0]), dtype_policy=self.dtype_policy,
                front=[self._table_front(run.seed)] if run.table else None,
            )
        run.compiled = built.compiled
        if built.compiled is not None:
            self._warn_compiled(run, built.compiled)
        return built

    def _table_front(self, seed):
        """The network's first layer for the fitted ``table_encoder_`` (:class:`sknet._tabular.TableEmbedding`)."""
        encoder = self.table_encoder_
        return _tabular.TableEmbedding(
            len(encoder.numeric_), len(encoder.indicators_), encoder.n_levels_,
            numeric_embedding=self.numeric_embedding, seed=seed, name="sknet_table", bin_edges=encoder.quantiles_,
            n_bins=encoder.quantiles_.shape[1] - 1,
            dtype=_params.make_policy(self.dtype_policy),
        )

    def _compile_kwargs(self, run):
        """What a scikeras-style build callable gets as ``compile_kwargs``."""
        head = run.target.head
        loss = default_loss(head, head.units) if self.loss is None else self.loss
        optimizer = _params.make_optimizer(self.optimizer, run.nested["optimizer"])
        return {"optimizer": optimizer, "loss": loss, "metrics": list(self.metrics or [])}

    def _loss_and_metrics(self, run):
        """``(loss, metrics)`` this fit trains with: the estimator's, else what the spec was compiled with.

        A build function migrated from scikeras compiles its model; its loss
        and metrics are honoured when ``loss``/``metrics`` are None (a
        continued fit keeps those of the fitted network).
        """
        compiled = run.compiled or {}
        loss = self.loss if self.loss is not None else compiled.get("loss")
        metrics = self.metrics if self.metrics is not None else compiled.get("metrics")
        return loss, metrics

    def _fitted_compile_settings(self):
        """What the fitted network trains with, for a continued fit of a callable or Sequential spec."""
        spec = self._network_spec()
        kind = _spec.spec_kind(spec)
        if kind == "sequential":
            return _spec.compiled_settings(spec)
        return _spec.compiled_settings(self.model_) if kind == "callable" else None

    def _warn_compiled(self, run, compiled):
        """Warn when the spec was compiled with a loss, metrics or optimizer that this fit does not use."""
        given = {"loss": self.loss, "metrics": self.metrics}
        for what in ("loss", "metrics"):
            if given[what] is not None and compiled[what] is not None and not _same(what, given[what], compiled[what]):
                warnings.warn(f"the spec was compiled with {what}={compiled[what]!r}, but the estimator's "
                              f"{what}={given[what]!r} is used; drop one of them.", UserWarning, stacklevel=5)
        ours = getattr(run.optimizer, "inner_optimizer", run.optimizer)
        theirs = getattr(compiled["optimizer"], "inner_optimizer", compiled["optimizer"])
        if theirs is not None and not _same("optimizer", ours, theirs):
            warnings.warn(f"the spec was compiled with the optimizer {_describe_optimizer(theirs, ours)}, but sknet "
                          f"trains with the estimator's optimizer {_describe_optimizer(ours, theirs)}; pass it as "
                          "optimizer= (and optimizer__<arg>=).", UserWarning, stacklevel=5)

    def _compile_args(self, run, model, output):
        """Step 3: loss, metrics and network targets for this network's output layer."""
        units = int(model.outputs[0].shape[-1])
        logits = output == "logits"
        loss_spec, metric_spec = self._loss_and_metrics(run)
        if run.target.head.classifier:  # a build function's compiled loss may take class codes
            run.target = run.target.for_loss(_params.takes_class_codes(loss_spec), _params.takes_one_hot(loss_spec),
                                             units)
        head = run.target.head
        with self._scope(run):
            loss = _params.make_loss(loss_spec, default_loss(head, units), run.nested["loss"],
                                     logits=logits if head.classifier else None)
            metrics = _params.make_metrics(metric_spec, head, units, logits)
        if run.reset and not head.classifier:
            run.target.use_scaling(self._target_scaling(model, loss_spec))
        X, y, w = run.train
        data = (X, run.target.transform(y, units), w)
        validation = None
        if run.validation is not None:
            X_val, y_val, w_val = run.validation
            validation = (X_val, run.target.transform(y_val, units), w_val)
        return loss, metrics, data, validation

    def _train(self, run, model, loss, metrics, data, validation, epochs):
        """Step 4: run the engine; returns ``(history, status, final optimizer)``."""
        train = _engine.train if run.strategy is None else _engine.train_distributed
        options = {} if run.strategy is None else {"strategy": run.strategy}
        return train(
            model, data, optimizer=run.optimizer, loss=loss, metrics=metrics,
            continue_optimizer=not run.reset, epochs=epochs, batch_size=run.batch_size, rng=run.rng,
            callbacks=run.callbacks, verbose=self.verbose,
            validation=validation, **options,
        )

    def _callbacks(self, has_validation, early_stopping):
        """Fresh copies of the user's callbacks, plus early stopping when asked."""
        callbacks = _params.fresh_callbacks(self.callbacks)
        if early_stopping:
            monitor = "val_loss" if has_validation else "loss"
            callbacks.append(
                keras.callbacks.EarlyStopping(monitor=monitor, patience=self.patience, restore_best_weights=True)
            )
        return callbacks

    def _commit(self, run, model, output, loss, optimizer, history):
        """Step 5: record a successful fit's results on the estimator."""
        with self._scope(run):  # so that model_.evaluate / model_.fit work as in Keras
            model.compile(optimizer=optimizer, loss=loss, metrics=list(self._loss_and_metrics(run)[1] or []))
        past = History() if run.reset else History({key: list(values) for key, values in self.history_.items()})
        for logs in history:
            past.append(logs)
        self.model_ = model
        self._serving = _engine.ServingCache()  # a mutable holder: predict never changes __dict__
        self._output = output
        self.target_ = run.target
        self.target_type_ = run.target.target_type_
        self.n_outputs_ = int(model.outputs[0].shape[-1])
        self.out_activation_ = _spec.output_activation(model)
        self._set_target_attributes(run.target)
        self.history_ = past
        self.n_iter_ = len(history)

    # ------------------------------------------------------------------ predict

    def _forward(self, X):
        """Network outputs for ``X`` (validated here), as a NumPy array."""
        check_is_fitted(self)
        rows = _fastpath.plain_rows(self, X)  # a plain float array: skip validate_data's fixed cost (not a table's)
        X = _data.validate_X(self, X, reset=False) if rows is None else rows
        x_spec = _engine.predict_spec(self.model_, self.input_shape_)
        return self._serving.predict(self.model_, _engine.as_float(X), x_spec)

    # ------------------------------------------------------------------ persistence

    def __getstate__(self):
        return _persist.getstate(self)

    def __setstate__(self, state):
        _persist.setstate(self, state)


def _optimizer_config(optimizer):
    """An optimizer's config without its name, for comparing two optimizers."""
    config = dict(optimizer.get_config())
    config.pop("name", None)
    return config


def _describe_optimizer(optimizer, other):
    """``Name(arg=value, ...)`` with the settings in which ``optimizer`` differs from ``other``."""
    config, others = _optimizer_config(optimizer), _optimizer_config(other)
    if type(optimizer) is not type(other):
        return type(optimizer).__name__
    args = ", ".join(f"{key}={value:.4g}" if isinstance(value, float) else f"{key}={value!r}"
                     for key, value in config.items() if others.get(key) != value)
    return f"{type(optimizer).__name__}({args})"


def _same(what, ours, theirs):
    """Whether two losses, metric lists or optimizers given in any accepted form train the same way."""
    if ours is theirs:
        return True
    try:
        if what == "optimizer":
            return type(ours) is type(theirs) and _optimizer_config(ours) == _optimizer_config(theirs)
        if what == "metrics":
            return len(ours) == len(theirs) and all(a is b or a == b for a, b in zip(ours, theirs, strict=True))
        ours, theirs = _params.loss_template(ours), _params.loss_template(theirs)
        return type(ours) is type(theirs) and _params.loss_config(ours) == _params.loss_config(theirs)
    except (TypeError, ValueError):
        return False
