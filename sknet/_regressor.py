"""NetRegressor: a Keras network as a scikit-learn regressor."""

from sklearn.base import RegressorMixin

from ._base import BaseNet
from ._compat import StrOptions, _fit_context
from ._encoding import RegressorTarget


class NetRegressor(RegressorMixin, BaseNet):
    """A Keras network as a scikit-learn regressor.

    The output layer (``Dense(n_outputs)``, linear) and the loss (mean squared
    error) are inferred from ``y``; single- and multi-output targets are
    supported. The default loss is mean squared error whatever the spec's
    last activation (a sigmoid output for targets in [0, 1] is a regressor).
    Parameters, fit options and attributes are those of
    :class:`NetClassifier`, without ``class_weight``, ``classes_`` and
    ``n_classes_``. The spec's last layer is the output layer only if it is a
    ``Dense`` layer with ``n_outputs_`` units and a linear, sigmoid, tanh,
    softplus or exponential activation; otherwise sknet appends a linear one.

    Parameters
    ----------
    layers : list, keras.Sequential, callable or None, default=None
        The network spec; see :class:`NetClassifier`.
    optimizer : str, keras optimizer or class, default="adam"
    loss : str, keras loss, keras loss class, callable or None, default=None
        ``None`` means ``"mean_squared_error"``. ``loss__<arg>`` sets the
        loss's arguments (e.g. ``loss="huber", loss__delta=0.5``). A function
        ``fn(y_true, y_pred)`` returns per-sample losses.
    metrics : list or None, default=None
    epochs : int, default=100
    batch_size : int or "auto", default="auto"
    validation_split : float or "auto", default="auto"
    early_stopping : bool or "auto", default="auto"
        ``"auto"``: as before tables for an array (32, 0.0, off); the table
        recipe for a table (see :class:`NetClassifier`).
    patience : int, default=10
    callbacks : list of keras.callbacks.Callback or None, default=None
    warm_start : bool, default=False
    random_state : int, RandomState instance or None, default=None
    verbose : {0, 1, 2}, default=0
    distribute : "mirrored", tf.distribute.Strategy, callable or None, default=None
    dtype_policy : str or keras.DTypePolicy, default="float32"
    stream : "auto" or bool, default="auto"
    categorical_features : "from_dtype", None or array-like, default="from_dtype"
    numeric_embedding : None, "periodic" or "piecewise", default="piecewise"
        See :class:`NetClassifier`.
    scale_target : "auto" or bool, default="auto"
        Train on the standardized target ``(y - mean) / std`` (per output) and
        map predictions back to the units of ``y``, as
        ``TransformedTargetRegressor(transformer=StandardScaler())`` would:
        a target in the hundreds of thousands (a price) then trains as well
        as one around 1. ``"auto"`` standardizes when the output block is
        linear and the loss (the estimator's, or what a callable or
        ``Sequential`` spec compiled) is the default, mean squared error or
        mean absolute error (their minimiser moves with the target's location
        and scale); an output activation such as ``sigmoid``, losses that read
        the target's values (Poisson, MAPE...) and losses with a parameter in
        its units (Huber's ``delta``) keep ``y`` as it is. ``True`` always standardizes,
        ``False`` never. When standardized, the ``loss`` and metrics in
        ``history_`` are computed on the standardized target, and ``model_``
        outputs standardized values (``predict`` and the ONNX export apply
        ``target_.scale_`` and ``target_.mean_``).
    **kwargs
        Nested parameters: ``layers__<index>__<key>``, ``optimizer__<arg>``,
        ``loss__<arg>`` and ``model__<arg>``.

    Attributes
    ----------
    model_ : keras.Model
        The trained network.
    history_ : sknet.History
        Per-epoch ``loss``, metrics and ``val_*`` metrics.
    n_iter_ : int
        Epochs run by the last ``fit`` (fewer than ``epochs`` after early stopping).
    target_type_ : str
        ``"continuous"`` or ``"continuous-multioutput"``.
    n_outputs_ : int
        Number of output units of the network.
    out_activation_ : str
        Activation of the output layer.
    n_features_in_ : int
        Number of features seen during fit (``X.shape[1]``).
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Column names of a pandas ``X`` (only set when they are all strings).
    input_shape_ : tuple of int
        Per-sample shape of ``X`` seen during fit.

    See Also
    --------
    NetClassifier : The classifier counterpart.
    sklearn.neural_network.MLPRegressor : scikit-learn's own MLP (CPU only).

    Examples
    --------
    >>> from sklearn.datasets import load_diabetes
    >>> from sklearn.pipeline import make_pipeline
    >>> from sklearn.preprocessing import StandardScaler
    >>> from keras.layers import Dense
    >>> from sknet import NetRegressor
    >>> X, y = load_diabetes(return_X_y=True)
    >>> reg = make_pipeline(
    ...     StandardScaler(),
    ...     NetRegressor([Dense(32, activation="relu")], optimizer__learning_rate=0.05,
    ...                  epochs=30, random_state=0),
    ... )
    >>> reg.fit(X, y).score(X, y) > 0.4
    True
    """

    _parameter_constraints = {
        **BaseNet._parameter_constraints,
        "scale_target": ["boolean", StrOptions({"auto"})],
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
        self.scale_target = scale_target

    def _make_target(self):
        return RegressorTarget()

    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y, sample_weight=None):
        """Train the network for one pass (epoch) over ``(X, y)``.

        The first call builds the network; later calls continue from the
        current weights and optimizer state.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features) or (n_samples, ...)
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
        sample_weight : array-like of shape (n_samples,), default=None

        Returns
        -------
        self : object
        """
        return self._partial_fit(X, y, sample_weight)

    def predict(self, X):
        """Predict targets for ``X``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features) or (n_samples, ...)

        Returns
        -------
        y : ndarray of shape (n_samples,) or (n_samples, n_outputs)
            The shape follows the ``y`` given to ``fit``.
        """
        out = self._forward(X)  # checks that the estimator is fitted
        return self.target_.decode(out)
