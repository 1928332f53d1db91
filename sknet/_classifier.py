"""NetClassifier: a Keras network as a scikit-learn classifier."""

from sklearn.base import ClassifierMixin

from ._base import BaseNet
from ._compat import StrOptions, _fit_context
from ._encoding import ClassifierTarget
from ._params import takes_class_codes, takes_one_hot


class NetClassifier(ClassifierMixin, BaseNet):
    """A Keras network as a scikit-learn classifier.

    Give it the hidden layers the Keras way; sknet adds the input layer (from
    ``X``), the output layer and the loss (from ``y``), one-hot encodes the
    labels inside, and answers with the original labels.

    Parameters
    ----------
    layers : list, keras.Sequential, callable or None, default=None
        The network spec. One of:

        - a list of Keras layer instances, e.g. ``[Dense(64, activation="relu"),
          Dropout(0.2)]``: templates, never trained or mutated;
        - a list of serialized layer dicts (``keras.layers.serialize`` form);
        - a ``keras.Sequential`` (with or without its input and output layers);
        - a callable ``build(meta, **model_kwargs) -> keras.Model`` that returns a
          new model; ``meta`` maps fitted-attribute names to the values known
          before the network exists: ``n_features_in_``, ``input_shape_``,
          ``target_type_``, ``n_outputs_``, ``out_activation_``, ``classes_``
          and ``n_classes_`` (and ``feature_names_in_`` for a pandas ``X``);
        - ``None``: one hidden ``Dense(100, activation="relu")`` layer.

        The spec's last layers are the output layer only if they are an
        output block: a ``Dense`` layer, alone or followed by activation
        layers without weights (``Activation``, ``Softmax``: the Keras
        tutorial's ``Dense(10)`` then ``Activation("softmax")``), with the
        units the target needs and a softmax/sigmoid effective activation
        (probabilities) or a linear one (logits, trained
        ``from_logits=True``); otherwise sknet appends the output layer.
        Nested keys are parameters: ``layers__0__units``, ``layers__1__rate``.
    optimizer : str, keras optimizer or class, default="adam"
        A template: each fit builds a fresh optimizer from it. Its arguments
        are parameters too: ``optimizer__learning_rate=1e-2``.
    loss : str, keras loss, keras loss class, callable or None, default=None
        ``None`` infers it from the target: ``categorical_crossentropy`` for
        a softmax output, ``binary_crossentropy`` for a sigmoid one, with
        ``from_logits=True`` for a linear (logits) output. Any name or alias
        Keras accepts resolves to its loss class; ``loss__<arg>`` sets the
        loss's arguments (e.g. ``loss__label_smoothing=0.1``).
        ``"sparse_categorical_crossentropy"`` trains on integer class codes.
        A function ``fn(y_true, y_pred)`` returns per-sample losses.
    metrics : list or None, default=None
        Keras metrics reported per epoch in ``history_`` (e.g. ``["accuracy"]``).
    epochs : int, default=100
        Number of passes over the training data.
    batch_size : int or "auto", default="auto"
        Samples per gradient step. ``"auto"``: 32 for an array; for a table
        (a DataFrame), ``n_rows / 64`` rounded to a power of two in [32, 128].
    validation_split : float or "auto", default="auto"
        Fraction of the training data held out (stratified, drawn with
        ``random_state``; the rows keep their weights) to report ``val_*``
        metrics each epoch. ``fit`` only. ``"auto"``: 0.0 for an array; 0.2
        for a table when early stopping is on.
    early_stopping : bool or "auto", default="auto"
        Stop when the monitored loss (``val_loss`` with validation data,
        ``loss`` otherwise) has not improved for ``patience`` epochs, and
        restore the best weights. ``fit`` only. ``"auto"``: off for an
        array, on for a table.
    patience : int, default=10
        Epochs without improvement before early stopping.
    callbacks : list of keras.callbacks.Callback or None, default=None
        Templates: each fit uses fresh copies.
    class_weight : dict, "balanced" or None, default=None
        Weights of the classes in the loss, ``{label: weight}`` with the
        original labels.
    warm_start : bool, default=False
        If True, ``fit`` continues from the current weights and optimizer
        state (iterations, moments) instead of building a new network; the
        current optimizer hyperparameters (e.g. a new
        ``optimizer__learning_rate``) apply.
    random_state : int, RandomState instance or None, default=None
        Seeds weight initialisation, dropout, shuffling and
        ``validation_split``. An int makes fits reproducible, in the same and
        in a new process, without touching global random state.
    verbose : {0, 1, 2}, default=0
        0 silent, 1 progress bar, 2 one line per epoch.
    distribute : "mirrored", tf.distribute.Strategy, callable or None, default=None
        Train one network on several devices under a ``tf.distribute``
        strategy: ``"mirrored"`` uses every local GPU (or every logical CPU
        device), a callable returns a strategy (e.g.
        ``functools.partial(tf.distribute.MirroredStrategy, ["/gpu:0", "/gpu:1"])``;
        it keeps the estimator picklable, unlike a strategy instance;
        ``tf.distribute.MultiWorkerMirroredStrategy`` with ``TF_CONFIG`` trains
        over several workers). Each global batch is split over the replicas;
        the single-device engine's trace cache does not apply.
    dtype_policy : str or keras.DTypePolicy, default="float32"
        The Keras dtype policy of every layer sknet builds, the output layer
        included: ``"mixed_bfloat16"`` computes in bfloat16 with float32
        weights (fast on CPUs with AVX512_BF16 or AMX), ``"mixed_float16"``
        in float16 with loss scaling (GPUs with tensor cores). Predictions
        and probabilities are float32 whatever the policy; Keras' global
        policy is never changed.
    stream : "auto" or bool, default="auto"
        Whether ``X`` is read block by block during ``fit`` and ``predict``
        instead of being loaded. ``"auto"`` streams an out-of-core ``X`` (a
        ``np.memmap``, or an h5py/zarr-like array-like with ``shape``,
        ``dtype`` and slicing) whose float32 copy would exceed 256 MiB;
        ``True`` streams any dense ``X``, ``False`` never. A streamed fit
        trains on the same batches as an in-memory one, with the memory of
        a few blocks of 32 MiB.
    categorical_features : "from_dtype", None or array-like, default="from_dtype"
        The categorical columns of a table, as in
        ``HistGradientBoostingClassifier``: ``"from_dtype"`` takes
        ``category``, ``object`` and string columns of a DataFrame; ``None``
        none; or column names, indices or a boolean mask (which also makes a
        2-D array a table). A DataFrame with a non-numeric column or a missing
        value is encoded as a table (one of plain numbers trains as its array):
        numbers
        imputed (with a missing-value indicator), robust-scaled and smoothly
        clipped, categories coded (missing and unseen/rare buckets) and
        embedded, by ``table_encoder_`` and the network's first layer
        (docs/guide/tables.md). With ``layers=None`` a table gets three
        ``Dense(256, "relu")`` + ``Dropout(0.1)`` hidden layers.
    numeric_embedding : None, "periodic" or "piecewise", default="piecewise"
        How a table's numbers are embedded besides their clipped value: the
        piecewise-linear encoding over 16 quantile bins, RealMLP's periodic
        embedding, or nothing. Arrays are not affected.
    **kwargs
        Nested parameters: ``layers__<index>__<key>``, ``optimizer__<arg>``,
        ``loss__<arg>`` and ``model__<arg>`` (arguments of a callable spec).

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        Class labels (label indices for multilabel and one-hot targets).
    n_classes_ : int
        Number of classes.
    target_type_ : str
        ``type_of_target`` of ``y``: ``"binary"``, ``"multiclass"`` or
        ``"multilabel-indicator"``.
    n_outputs_ : int
        Number of output units of the network.
    out_activation_ : str
        Activation of the output layer (``"softmax"``, ``"sigmoid"``, or
        ``"linear"`` for logits).
    model_ : keras.Model
        The trained network.
    history_ : sknet.History
        Per-epoch ``loss``, metrics and ``val_*`` metrics, across warm-started
        fits and ``partial_fit`` calls; ``history_.to_frame()`` gives a
        DataFrame.
    n_iter_ : int
        Epochs run by the last ``fit`` (fewer than ``epochs`` after early stopping).
    n_features_in_ : int
        Number of features seen during fit (``X.shape[1]``).
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Column names of a pandas ``X`` (only set when they are all strings).
    input_shape_ : tuple of int
        Per-sample shape of ``X`` seen during fit (for a table: of the
        encoded table the network takes).
    table_encoder_ : sknet._tabular.TableEncoder
        Only after a fit on a table: the learned column roles, medians,
        scales and category levels.

    See Also
    --------
    NetRegressor : The regressor counterpart.
    sklearn.neural_network.MLPClassifier : scikit-learn's own MLP (CPU only).

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from sklearn.pipeline import make_pipeline
    >>> from sklearn.preprocessing import StandardScaler
    >>> from keras.layers import Dense, Dropout
    >>> from sknet import NetClassifier
    >>> X, y = load_iris(return_X_y=True)
    >>> clf = make_pipeline(
    ...     StandardScaler(),
    ...     NetClassifier([Dense(32, activation="relu"), Dropout(0.1)],
    ...                   optimizer__learning_rate=0.01, epochs=30, random_state=0),
    ... )
    >>> clf.fit(X, y).score(X, y) > 0.9
    True
    >>> clf.predict_proba(X[:2]).shape
    (2, 3)
    """

    _parameter_constraints = {
        **BaseNet._parameter_constraints,
        "class_weight": [dict, StrOptions({"balanced"}), None],
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
        class_weight=None,
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
        super().__init__(
            layers,
            optimizer=optimizer,
            loss=loss,
            metrics=metrics,
            epochs=epochs,
            batch_size=batch_size,
            validation_split=validation_split,
            early_stopping=early_stopping,
            patience=patience,
            callbacks=callbacks,
            warm_start=warm_start,
            random_state=random_state,
            verbose=verbose,
            distribute=distribute,
            dtype_policy=dtype_policy,
            stream=stream,
            categorical_features=categorical_features,
            numeric_embedding=numeric_embedding,
            **kwargs,
        )
        self.class_weight = class_weight

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_label = True
        return tags

    def _make_target(self):
        return ClassifierTarget(sparse=takes_class_codes(self.loss), one_hot=takes_one_hot(self.loss))

    def _set_target_attributes(self, target):
        self.classes_ = target.classes_
        self.n_classes_ = len(target.classes_)

    def _class_weights(self, target, y):
        if self.class_weight is None:
            return None
        return target.class_sample_weight(self.class_weight, y)

    def _stratify(self, y):
        return y if y.ndim == 1 else None

    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y, classes=None, sample_weight=None):
        """Train the network for one pass (epoch) over ``(X, y)``.

        The first call builds the network; later calls continue from the
        current weights and optimizer state.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features) or (n_samples, ...)
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
        classes : array-like of shape (n_classes,), default=None
            Every class that will ever appear; needed in the first call when
            its ``y`` does not contain them all. Ignored later.
        sample_weight : array-like of shape (n_samples,), default=None

        Returns
        -------
        self : object
        """
        return self._partial_fit(X, y, sample_weight, classes)

    def predict_proba(self, X):
        """Class probabilities for ``X``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features) or (n_samples, ...)

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes)
            One column per class of ``classes_`` (two for a binary target);
            per-label probabilities for a multilabel target. A network that
            outputs logits gets its softmax (or sigmoid) applied here.
        """
        out = self._forward(X)
        return self.target_.proba(out, logits=self._output == "logits")

    def predict(self, X):
        """Predict labels for ``X``, in the form ``y`` was given to ``fit``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features) or (n_samples, ...)

        Returns
        -------
        y : ndarray of shape (n_samples,) or (n_samples, n_outputs)
            Labels from ``classes_`` (of ``y``'s dtype; pandas nullable labels
            come back as the NumPy dtype they stand for); a 0/1 matrix for a
            multilabel target and a one-hot matrix for a one-hot target.
        """
        out = self._forward(X)
        return self.target_.decode(out, logits=self._output == "logits")
