"""Shared estimator logic: parameters, validation, the fit/predict skeleton, tags.

Data flows one way: validate -> encode -> build -> train -> decode.
"""

import contextlib
import warnings
from abc import ABCMeta, abstractmethod
from numbers import Integral, Real

import keras
import numpy as np
from sklearn.base import BaseEstimator
from sklearn.model_selection import train_test_split
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import _check_sample_weight, check_is_fitted, validate_data

from . import _engine, _params, _parallel, _persist, _spec
from ._encoding import default_loss
from ._history import History

_MAX_SEED = np.iinfo(np.int32).max


class BaseNet(BaseEstimator, metaclass=ABCMeta):
    """Base class for sknet estimators. Use :class:`NetClassifier` or :class:`NetRegressor`.

    See :class:`NetClassifier` for the parameters.
    """

    _parameter_constraints = {
        "layers": "no_validation",  # checked by sknet._spec with clearer messages
        "optimizer": "no_validation",  # checked by sknet._params
        "loss": "no_validation",
        "metrics": [list, tuple, None],
        "epochs": [Interval(Integral, 1, None, closed="left")],
        "batch_size": [Interval(Integral, 1, None, closed="left")],
        "validation_split": [Interval(Real, 0, 1, closed="left")],
        "early_stopping": ["boolean"],
        "patience": [Interval(Integral, 1, None, closed="left")],
        "callbacks": [list, tuple, None],
        "warm_start": ["boolean"],
        "random_state": ["random_state"],
        "verbose": [StrOptions(set()), Interval(Integral, 0, 2, closed="both")],
        "distribute": "no_validation",  # checked by sknet._parallel.resolve_strategy
    }

    def __init__(
        self,
        layers=None,
        *,
        optimizer="adam",
        loss=None,
        metrics=None,
        epochs=100,
        batch_size=32,
        validation_split=0.0,
        early_stopping=False,
        patience=10,
        callbacks=None,
        warm_start=False,
        random_state=None,
        verbose=0,
        distribute=None,
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
        for key, value in kwargs.items():
            setattr(self, key, value)

    # ------------------------------------------------------------------ params

    def _extra_param_names(self):
        init = set(self._get_param_names())
        return sorted(
            k for k in vars(self) if k not in init and not k.startswith("_") and not k.endswith("_")
        )

    def get_params(self, deep=True):
        """Get parameters for this estimator.

        Parameters
        ----------
        deep : bool, default=True
            If True, also return ``layers__<index>__<key>`` for every config key
            of every layer of a list or ``keras.Sequential`` spec.

        Returns
        -------
        params : dict
            Parameter names mapped to their values, including ``optimizer__*``,
            ``loss__*`` and ``model__*`` parameters that were set.
        """
        params = super().get_params(deep=False)
        params.update({k: getattr(self, k) for k in self._extra_param_names()})
        if deep:
            for key, value in _spec.nested_layer_params(self.layers).items():
                params[f"layers__{key}"] = value
        return params

    def set_params(self, **params):
        """Set parameters, including nested ``layers__<i>__<key>`` and ``optimizer__<arg>``.

        Setting a nested layer key replaces ``layers`` with a new spec; the
        layer objects that were passed are never mutated.

        Parameters
        ----------
        **params : dict
            Estimator parameters.

        Returns
        -------
        self : estimator instance
        """
        valid = set(self._get_param_names()) | set(self._extra_param_names())
        layer_updates = {}
        for key, value in params.items():
            if key.startswith("layers__"):
                index, _, sub = key[len("layers__"):].partition("__")
                if not index.isdigit() or not sub:
                    raise ValueError(f"{key!r}: nested layer parameters are layers__<index>__<config key>.")
                layer_updates[(int(index), sub)] = value
            elif key in valid or key.startswith(_params.NESTED_PREFIXES):
                setattr(self, key, value)
            else:
                raise ValueError(
                    f"Invalid parameter {key!r} for estimator {type(self).__name__}. "
                    f"Valid parameters are: {sorted(valid)}, plus optimizer__<arg>, "
                    "loss__<arg>, model__<arg> and layers__<index>__<key>."
                )
        if layer_updates:
            with _spec.seeded_python_random(0):  # building templates draws default seeds
                self.layers = _spec.set_layer_params(self.layers, layer_updates)
        return self

    # ------------------------------------------------------------------ tags

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.non_deterministic = False
        tags.target_tags.required = True
        tags.target_tags.multi_output = True
        return tags

    def __sklearn_is_fitted__(self):
        return hasattr(self, "model_")

    # ------------------------------------------------------------------ subclass hooks

    @abstractmethod
    def _make_target(self):
        """A fresh target encoder (``sknet._encoding``)."""

    def _validate_y(self, y, reset):
        return y

    def _class_weight(self, target, y):
        return None

    def _split_stratify(self, y):
        return None

    # ------------------------------------------------------------------ validation

    def _validate_X(self, X, reset):
        return validate_data(
            self, X, reset=reset, dtype=[np.float32, np.float64], allow_nd=True, ensure_min_samples=1
        )

    def _validate_inputs(self, X, y, sample_weight, reset):
        X, y = validate_data(
            self,
            X,
            y,
            reset=reset,
            dtype=[np.float32, np.float64],
            allow_nd=True,
            multi_output=True,
            y_numeric=not self._is_classifier(),
        )
        y = self._validate_y(y, reset)
        if reset:
            self.input_shape_ = tuple(X.shape[1:])
        else:
            self._check_input_shape(X)
        if sample_weight is not None:
            sample_weight = _check_sample_weight(sample_weight, X, dtype=np.float64)
            if np.any(sample_weight < 0):
                raise ValueError("sample_weight must be non-negative.")
            if not np.any(sample_weight > 0):
                raise ValueError("sample_weight must not be all zero: nothing would be learned.")
        return X, y, sample_weight

    def _check_input_shape(self, X):
        if tuple(X.shape[1:]) != self.input_shape_:
            raise ValueError(
                f"X has per-sample shape {tuple(X.shape[1:])}, but {type(self).__name__} "
                f"was fitted on per-sample shape {self.input_shape_}."
            )

    def _is_classifier(self):
        return self.__sklearn_tags__().estimator_type == "classifier"

    def _check_fit_params(self):
        self._validate_params()
        nested = _params.split_nested({k: getattr(self, k) for k in self._extra_param_names()})
        _spec.spec_kind(self.layers)
        optimizer = _params.make_optimizer(self.optimizer, nested["optimizer"])  # raises on bad names/keys
        return nested, optimizer

    # ------------------------------------------------------------------ fit

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
        validation_data : tuple (X_val, y_val), default=None
            Data to report ``val_*`` metrics on after each epoch (and to
            monitor with ``early_stopping``); labels are encoded like ``y``.

        Returns
        -------
        self : object
            The fitted estimator.
        """
        continue_training = self.warm_start and self.__sklearn_is_fitted__()
        return self._fit(X, y, sample_weight, validation_data, reset=not continue_training, epochs=self.epochs)

    def partial_fit(self, X, y, classes=None, sample_weight=None):
        """Train the network for one pass (epoch) over ``(X, y)``.

        The first call builds the network; later calls continue from the
        current weights and optimizer state.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features) or (n_samples, ...)
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
        classes : array-like of shape (n_classes,), default=None
            Classifiers: every class that will ever appear; needed in the first
            call when its ``y`` does not contain them all. Ignored later.
        sample_weight : array-like of shape (n_samples,), default=None

        Returns
        -------
        self : object
        """
        first = not self.__sklearn_is_fitted__()
        return self._fit(X, y, sample_weight, None, reset=first, epochs=1, classes=classes, partial=True)

    def _fit(self, X, y, sample_weight, validation_data, *, reset, epochs, classes=None, partial=False):
        # A strategy first: MultiWorkerMirroredStrategy must exist before other TensorFlow work.
        strategy = _parallel.resolve_strategy(self.distribute) if self.distribute is not None else None
        nested, optimizer = self._check_fit_params()
        X, y, sample_weight = self._validate_inputs(X, y, sample_weight, reset)
        if reset:
            target = self._make_target().fit(y, classes)
        else:
            target = self.target_
            target.check(y)  # unseen labels, other output count
        rng = check_random_state(self.random_state)
        seed = int(rng.randint(_MAX_SEED))
        shuffle_rng = np.random.RandomState(rng.randint(_MAX_SEED))

        X, y, weights, X_val, y_val = self._training_data(
            X, y, sample_weight, validation_data, target, shuffle_rng, split=not partial
        )

        model = None if reset else self.model_
        if model is not None and strategy is not None and getattr(model, "_distribute_strategy", None) is not strategy:
            # Made under another strategy object, or loaded from a pickle: move it.
            model = _engine.rehome(model, strategy, metrics=list(self.metrics or []))
        with strategy.scope() if strategy is not None else contextlib.nullcontext():
            if strategy is not None:  # its variables must live under the strategy
                optimizer = _params.make_optimizer(self.optimizer, nested["optimizer"])
            if reset:
                model, activation = self._build(target, X.shape[1:], seed, nested)
            else:
                activation = self._head_activation
            units = int(model.outputs[0].shape[-1])
            y_enc = target.transform(y, units)
            loss = _params.make_loss(self.loss, default_loss(activation), nested["loss"])
            metrics = _params.make_metrics(
                self.metrics, activation, units, target.head.classifier, sparse=target.sparse
            )
            if reset:  # so that model_.evaluate / model_.fit work as in Keras
                model.compile(optimizer=optimizer, loss=loss, metrics=list(self.metrics or []))
        validation = None
        if X_val is not None:
            validation = (X_val, target.transform(y_val, units), np.ones(len(X_val), dtype="float32"))
        train = _engine.train if strategy is None else _engine.train_distributed
        history, status = train(
            model,
            (X, y_enc, weights),
            optimizer=optimizer,
            loss=loss,
            metrics=metrics,
            continue_optimizer=not reset,
            epochs=epochs,
            batch_size=self.batch_size,
            rng=shuffle_rng,
            callbacks=self._callbacks(has_validation=X_val is not None),
            verbose=self.verbose,
            validation=validation,
            strategy=strategy,
        )
        if status == "nan":
            raise FloatingPointError(
                f"the training loss became {history[-1]['loss']} in epoch {len(history)}; "
                "the estimator was left as it was before this fit. Lower the learning "
                "rate, scale X, or check the data."
            )
        self._store(model, target, activation, history, reset)
        if status == "interrupted":
            warnings.warn(
                f"training was interrupted (KeyboardInterrupt) after {len(history)} epoch(s); "
                "the estimator keeps the weights and history so far.",
                UserWarning,
                stacklevel=3,
            )
        return self

    def _training_data(self, X, y, sample_weight, validation_data, target, rng, split):
        """Training arrays and weights, plus validation arrays (or None)."""
        if validation_data is not None:
            X_val, y_val = self._validate_validation_data(validation_data, target)
        elif self.validation_split and split:
            X, X_val, y, y_val, sample_weight = self._split(X, y, sample_weight, rng)
        else:
            X_val = y_val = None
        weights = self._sample_weights(target, y, sample_weight)
        keep = weights > 0  # a zero weight is exactly an absent sample
        if not keep.all():
            X, y, weights = X[keep], y[keep], weights[keep]
        return X, y, weights, X_val, y_val

    def _callbacks(self, has_validation):
        """Fresh copies of the user's callbacks, plus early stopping when asked."""
        callbacks = _params.fresh_callbacks(self.callbacks)
        if self.early_stopping:
            monitor = "val_loss" if has_validation else "loss"
            callbacks.append(
                keras.callbacks.EarlyStopping(monitor=monitor, patience=self.patience, restore_best_weights=True)
            )
        return callbacks

    def _store(self, model, target, activation, history, reset):
        """Record a successful fit's results on the estimator."""
        self.model_ = model
        self._serving = _engine.ServingCache()  # a mutable holder: predict never changes __dict__
        self.target_ = target
        self._set_target_attributes(target)
        self._head_activation = activation
        if reset:
            self.history_ = History()
        for logs in history:
            self.history_.append(logs)
        self.n_iter_ = len(history)

    def _set_target_attributes(self, target):
        pass

    def _validate_validation_data(self, validation_data, target):
        try:
            X_val, y_val = validation_data
        except (TypeError, ValueError):
            raise ValueError("validation_data must be a tuple (X_val, y_val).") from None
        X_val = self._validate_X(X_val, reset=False)
        self._check_input_shape(X_val)
        y_val = np.asarray(y_val)
        if y_val.ndim == 2 and y_val.shape[1] == 1 and target.kind not in ("multilabel", "onehot"):
            y_val = y_val.ravel()
        if len(y_val) != len(X_val):
            raise ValueError(f"validation_data: X_val has {len(X_val)} samples but y_val has {len(y_val)}.")
        target.check(y_val)  # unseen labels, wrong width: before any TensorFlow work
        return X_val, y_val

    def _split(self, X, y, sample_weight, rng):
        stratify = self._split_stratify(y)
        sw = np.ones(len(X)) if sample_weight is None else sample_weight
        try:
            X, X_val, y, y_val, sw, _ = train_test_split(
                X, y, sw, test_size=self.validation_split, random_state=rng, stratify=stratify
            )
        except ValueError:  # too few samples of a class to stratify
            X, X_val, y, y_val, sw, _ = train_test_split(
                X, y, sw, test_size=self.validation_split, random_state=rng
            )
        return X, X_val, y, y_val, (None if sample_weight is None else sw)

    def _sample_weights(self, target, y, sample_weight):
        weights = np.ones(len(y), dtype="float32") if sample_weight is None else sample_weight.astype("float32")
        class_weights = self._class_weight(target, y)
        if class_weights is not None:
            weights = weights * class_weights
        return weights

    def _build(self, target, input_shape, seed, nested):
        meta = {
            "n_features_in_": self.n_features_in_,
            "input_shape": tuple(input_shape),
            "n_outputs": target.head.units,
            "target_type": target.kind,
            "output_activation": target.head.activation,
            "classes_": getattr(target, "classes_", None),
        }
        model, activation = _spec.build_model(
            self.layers, tuple(input_shape), target.head, seed=seed, model_kwargs=nested["model"], meta=meta
        )
        return model, activation

    # ------------------------------------------------------------------ predict

    def _forward(self, X):
        """Network outputs for validated ``X`` (float32 array)."""
        check_is_fitted(self)
        X = self._validate_X(X, reset=False)
        self._check_input_shape(X)
        return self._serving.predict(self.model_, _engine.as_float(X), self._x_spec())

    def _x_spec(self):
        return ((None,) + tuple(self.input_shape_), "float32")

    # ------------------------------------------------------------------ persistence

    def __getstate__(self):
        return _persist.getstate(self)

    def __setstate__(self, state):
        _persist.setstate(self, state)

