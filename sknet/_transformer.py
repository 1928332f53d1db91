"""NetTransformer: a Keras network as a scikit-learn transformer (a feature extractor).

Two ways to train, chosen by ``y``:

* **supervised** (``fit(X, y)``): the spec plus the head ``y`` needs, trained
  exactly as :class:`NetClassifier` (class labels) or :class:`NetRegressor`
  (continuous targets) would; ``transform`` returns the activations of the
  spec's last layer (or of ``transform_layer``);
* **unsupervised** (``fit(X)``): an autoencoder. The spec is the encoder, the
  decoder mirrors its ``Dense`` layers (or is ``decoder=``), and a linear
  output layer reconstructs ``X`` (mean squared error). ``transform`` returns
  the code (the encoder's last layer), ``inverse_transform`` the
  reconstruction.
"""

import copy

import keras
import numpy as np
from sklearn.base import ClassNamePrefixFeaturesOutMixin, TransformerMixin
from sklearn.utils.multiclass import type_of_target
from sklearn.utils.validation import check_is_fitted

from . import _data, _engine, _spec, _tabular
from ._base import BaseNet
from ._compat import StrOptions, _fit_context
from ._encoding import ClassifierTarget, RegressorTarget
from ._params import takes_class_codes, takes_one_hot

_CLASS_TARGETS = ("binary", "multiclass", "multilabel-indicator")


class _TargetFor:
    """The classifier or regressor encoding, picked from ``y`` (supervised transformer)."""

    def __init__(self, loss):
        self.loss = loss

    def fit(self, y, classes=None):
        if type_of_target(y) in _CLASS_TARGETS:
            target = ClassifierTarget(sparse=takes_class_codes(self.loss), one_hot=takes_one_hot(self.loss))
            return target.fit(y, classes)
        return RegressorTarget().fit(y)


class _Submodels:
    """The encoder/decoder views of a fitted network and their predict paths; never pickled."""

    def __init__(self):
        self.models = {}

    def __reduce__(self):
        return (_Submodels, ())

    def __deepcopy__(self, memo):
        return _Submodels()

    def get(self, name, make):
        if name not in self.models:
            self.models[name] = (make(), _engine.ServingCache())
        return self.models[name]


def _mirror(configs):
    """Decoder configs mirroring the encoder's ``Dense`` layers (all but the code layer)."""
    dense = [c for c in configs if c["class_name"] == "Dense"]
    return [
        {"class_name": "Dense", "module": "keras.layers",
         "config": {"units": c["config"]["units"], "activation": c["config"].get("activation", "linear"),
                    "name": f"decoder_{i}"}}
        for i, c in enumerate(reversed(dense[:-1]))
    ]


class NetTransformer(ClassNamePrefixFeaturesOutMixin, TransformerMixin, BaseNet):
    """A Keras network as a scikit-learn transformer: learned features for a pipeline.

    With ``y``, the network is trained on the task ``y`` describes (the head
    and loss are inferred as by :class:`NetClassifier` for class labels and
    :class:`NetRegressor` for continuous targets) and ``transform`` returns
    the activations of its last hidden layer. Without ``y``, it is trained as
    an autoencoder of ``X`` and ``transform`` returns the code.

    Parameters
    ----------
    layers : list, keras.Sequential, callable or None, default=None
        The network spec, as for :class:`NetClassifier` (without ``y``: the
        encoder). ``None`` is one hidden ``Dense(100, activation="relu")``
        layer. A callable must build the whole network (for an autoencoder,
        encoder and decoder); name ``transform_layer`` then.
    decoder : list or None, default=None
        Autoencoder only: the decoder's hidden layers (Keras layers or
        serialized dicts); sknet appends the linear output layer. ``None``
        mirrors the encoder's ``Dense`` layers, without the code layer.
    transform_layer : str, int or None, default=None
        The layer whose activations ``transform`` returns: a name or an index
        into ``model_.layers``. ``None``: the spec's last layer (supervised)
        or the encoder's last layer (autoencoder); for a callable spec, the
        layer before the output layer.
    optimizer, loss, metrics, epochs, batch_size, validation_split, early_stopping, \
patience, callbacks, warm_start, random_state, verbose, distribute, dtype_policy, stream, \
categorical_features, numeric_embedding, **kwargs
        As for :class:`NetClassifier` (``scale_target`` as for :class:`NetRegressor`,
        for continuous ``y``; an autoencoder reconstructs ``X`` as it is); ``loss=None`` infers the loss from
        ``y`` (mean squared error for the autoencoder). A table (a DataFrame)
        is encoded as for :class:`NetClassifier`; ``transform_layer="sknet_table"``
        then returns the table's learned representation (numbers and category
        embeddings), with names from ``get_feature_names_out``.

    Attributes
    ----------
    model_ : keras.Model
        The trained network (for an autoencoder: encoder, decoder and output).
    autoencoder_ : bool
        Whether the network was trained without ``y``.
    classes_ : ndarray
        Supervised classification only: the class labels.
    n_features_in_ : int
        Number of features seen during fit.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Column names of a pandas ``X`` (only set when they are all strings).
    history_ : sknet.History
        Per-epoch losses and metrics.

    See Also
    --------
    NetClassifier, NetRegressor : The supervised estimators it trains like.
    sklearn.decomposition.PCA : A linear feature extractor.

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from keras.layers import Dense
    >>> from sknet import NetTransformer
    >>> X, y = load_digits(return_X_y=True)
    >>> codes = NetTransformer([Dense(32, activation="relu"), Dense(8)], epochs=5,
    ...                        random_state=0).fit_transform(X / 16)
    >>> codes.shape
    (1797, 8)
    """

    _parameter_constraints = {
        **BaseNet._parameter_constraints,
        "decoder": [list, tuple, None],
        "transform_layer": [str, int, None],
        "scale_target": ["boolean", StrOptions({"auto"})],
    }

    def __init__(
        self,
        layers=None,
        *,
        decoder=None,
        transform_layer=None,
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
        scale_target="auto",
        **kwargs,
    ):
        super().__init__(
            layers, optimizer=optimizer, loss=loss, metrics=metrics, epochs=epochs, batch_size=batch_size,
            validation_split=validation_split, early_stopping=early_stopping, patience=patience,
            callbacks=callbacks, warm_start=warm_start, random_state=random_state, verbose=verbose,
            distribute=distribute, dtype_policy=dtype_policy, stream=stream,
            categorical_features=categorical_features, numeric_embedding=numeric_embedding, **kwargs,
        )
        self.decoder = decoder
        self.transform_layer = transform_layer
        self.scale_target = scale_target

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.required = False
        return tags

    # ------------------------------------------------------------------ BaseNet hooks

    def _make_target(self):
        return _TargetFor(self.loss)

    def _target_scaling(self, model, loss):
        # An autoencoder reconstructs X as it is (inverse_transform returns the network's output).
        return False if self._fitting_autoencoder else super()._target_scaling(model, loss)

    def _classification(self, y):
        if self._fitting_autoencoder:
            return False
        try:
            return type_of_target(_data.target_to_numpy(y)) in _CLASS_TARGETS
        except ValueError:
            return False  # validate_data names the problem

    def _class_weights(self, target, y):
        return None

    def _stratify(self, y):
        classes = not self._fitting_autoencoder and np.ndim(y) == 1 and type_of_target(y) in _CLASS_TARGETS
        return y if classes else None

    def _set_target_attributes(self, target):
        if target.head.classifier:
            self.classes_ = target.classes_

    def _network_spec(self):
        if not self._fitting_autoencoder:
            return self._layers_for_data()
        if _spec.spec_kind(self.layers) == "callable":
            if self.transform_layer is None:
                raise ValueError("an autoencoder from a callable spec needs transform_layer= (the code layer).")
            return self.layers
        encoder = _spec.layer_configs(self.layers)
        decoder = _mirror(encoder) if self.decoder is None else _spec.layer_configs(list(self.decoder))
        head = {"class_name": "Dense", "module": "keras.layers",
                "config": {"units": self.n_features_in_, "activation": "linear", "name": "sknet_head"}}
        return copy.deepcopy(encoder) + decoder + [head]

    # ------------------------------------------------------------------ fit

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None, sample_weight=None, validation_data=None):
        """Train the network: on ``y`` (supervised), or as an autoencoder of ``X``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features) or (n_samples, ...)
            Training data (2-D for an autoencoder).
        y : array-like of shape (n_samples,) or (n_samples, n_outputs), default=None
            Class labels or continuous targets; ``None`` trains an autoencoder.
        sample_weight : array-like of shape (n_samples,), default=None
        validation_data : tuple, default=None
            ``(X_val, y_val[, sample_weight_val])``; for an autoencoder
            ``(X_val, None)``.

        Returns
        -------
        self : object
        """
        self._more_validate_params()
        reset = not (self.warm_start and self.__sklearn_is_fitted__())
        autoencoder = y is None if reset else self.autoencoder_
        if autoencoder:
            if _tabular.is_table(X, self.categorical_features):
                raise ValueError("an autoencoder reconstructs a numeric X; a table (a DataFrame, or categorical "
                                 "columns) needs y. Encode the table first (e.g. with a ColumnTransformer), or "
                                 "fit with y and use transform_layer='sknet_table'.")
            if np.ndim(X) != 2:
                raise ValueError(f"an autoencoder takes 2-D X (n_samples, n_features); got {np.ndim(X)}-D X.")
            y = X
            if validation_data is not None and len(validation_data) >= 2 and validation_data[1] is None:
                validation_data = (validation_data[0], validation_data[0], *validation_data[2:])
        self._fitting_autoencoder = autoencoder
        try:
            return self._fit(X, y, sample_weight, validation_data, reset=reset, epochs=self.epochs)
        finally:
            del self._fitting_autoencoder

    def _commit(self, run, model, output, loss, optimizer, history):
        super()._commit(run, model, output, loss, optimizer, history)
        self.autoencoder_ = self._fitting_autoencoder
        self._submodels = _Submodels()
        self._code = self._code_index()  # inside the fit's all-or-nothing block: a bad name changes nothing
        self._n_features_out = int(np.prod(self.model_.layers[self._code].output.shape[1:]))

    def _code_index(self):
        """Index into ``model_.layers`` of the layer ``transform`` reads."""
        layers = self.model_.layers
        if isinstance(self.transform_layer, str):
            names = [layer.name for layer in layers]
            if self.transform_layer not in names:
                raise ValueError(f"transform_layer={self.transform_layer!r} is not a layer of the network; "
                                 f"its layers are {names}.")
            return names.index(self.transform_layer)
        if isinstance(self.transform_layer, int):
            if not -len(layers) < self.transform_layer < len(layers) - 1:
                raise ValueError(f"transform_layer={self.transform_layer}: the network has {len(layers)} "
                                 "layers, and the output layer is not a feature layer.")
            return self.transform_layer % len(layers)
        kind = _spec.spec_kind(self.layers)
        if self.autoencoder_ and kind != "callable":
            index = len(_spec.layer_configs(self.layers)) - 1
        else:  # the layer before the output block (a Dense, maybe followed by activation layers)
            block = _spec.output_block(layers)
            index = (block[0] if block is not None else len(layers) - 1) - 1
        if index < 0:
            raise ValueError("the network has no hidden layer to transform with; give layers= a hidden layer.")
        return index

    def get_feature_names_out(self, input_features=None):
        """Names of ``transform``'s columns.

        ``nettransformer0, nettransformer1, ...`` for a network's layer; for
        ``transform_layer="sknet_table"`` (a network fitted on a table), the
        names of the table's representation: each number, its periodic
        embedding (``<name>_periodic<k>``), its missing-value indicator
        (``<name>_missing``) and each category's embedding
        (``<name>_embedding<k>``).

        Parameters
        ----------
        input_features : array-like of str or None, default=None
            Ignored (the output names do not depend on them).

        Returns
        -------
        feature_names_out : ndarray of str objects
        """
        check_is_fitted(self)
        layer = self.model_.layers[self._code]
        if isinstance(layer, _tabular.TableEmbedding):
            return np.asarray(layer.feature_names(self.table_encoder_), dtype=object)
        return super().get_feature_names_out(input_features)

    # ------------------------------------------------------------------ transform

    def _run(self, name, make, X):
        check_is_fitted(self)
        submodels = self.__dict__.setdefault("_submodels", _Submodels())  # not in skops files
        model, serving = submodels.get(name, make)
        x_spec = _engine.predict_spec(model, model.inputs[0].shape[1:])
        out = serving.predict(model, _engine.as_float(X), x_spec)
        return np.asarray(out, dtype="float64").reshape(len(out), -1)

    def transform(self, X):
        """The activations of the transform layer for ``X`` (2-D: one row per sample).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features) or (n_samples, ...)

        Returns
        -------
        X_new : ndarray of shape (n_samples, n_features_out)
        """
        check_is_fitted(self)
        X = _data.validate_X(self, X, reset=False)
        layer = self.model_.layers[self._code]
        return self._run("encoder", lambda: keras.Model(self.model_.inputs, layer.output), X)

    def inverse_transform(self, X):
        """The autoencoder's reconstruction of ``X`` from codes.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features_out)
            Codes, as ``transform`` returns them.

        Returns
        -------
        X_original : ndarray of shape (n_samples, n_features_in_)
        """
        check_is_fitted(self)
        if not self.autoencoder_:
            raise ValueError("inverse_transform needs an autoencoder: fit without y.")
        X = np.asarray(X, dtype="float32")
        if X.ndim != 2 or X.shape[1] != self._n_features_out:
            raise ValueError(f"X must have shape (n_samples, {self._n_features_out}) (the codes); "
                             f"got {X.shape}.")
        return self._run("decoder", self._decoder, X)

    def _decoder(self):
        layer = self.model_.layers[self._code]
        inputs = keras.Input(shape=tuple(layer.output.shape[1:]))
        x = inputs
        for following in self.model_.layers[self._code + 1 :]:
            x = following(x)
        return keras.Model(inputs, x)
