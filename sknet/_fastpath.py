"""Fast paths: the common case of a call, recognised cheaply, everything else left to the full path.

* :func:`plain_rows`: a one-row ``predict`` of a small network is dominated
  by fixed costs, and scikit-learn's ``validate_data`` is one of the largest
  (about 100 us, most of it spent asking whether ``X`` is a dataframe of one
  of several libraries);
* :func:`clone`: scikit-learn's ``clone`` deep-copies a Keras layer
  template through Keras' pickling (milliseconds per layer, per
  cross-validation fold).

Each accepts only inputs for which the fast path provably gives what the
full path gives, and leaves anything else to the full path, which then
answers, raises or warns exactly as before.
"""

import copy as _copy
import math

import keras
import numpy as np

from ._faithful import faithful_config, rebuild

_FLOATS = (np.dtype(np.float32), np.dtype(np.float64))


def plain_rows(estimator, X):
    """``X`` if it is a plain float array the fitted ``estimator`` accepts as is, else None.

    Accepted: an exact ``numpy.ndarray`` (no subclass, no dataframe) of
    native float32 or float64, two-dimensional, with at least one row, the
    fitted number of features, and only finite values, for an estimator
    fitted without feature names. For such an array ``sknet._data.validate_X``
    (``validate_data`` with ``reset=False``, then the per-sample shape check)
    returns ``X`` itself: no conversion, no copy, no warning. Any other input
    (a list, a dataframe, another dtype or shape, a NaN, names to check)
    gives None.

    Parameters
    ----------
    estimator : fitted sknet estimator
    X : object
        What the user passed.

    Returns
    -------
    X or None
    """
    if type(X) is not np.ndarray or X.ndim != 2 or X.dtype not in _FLOATS:
        return None
    if hasattr(estimator, "feature_names_in_") or hasattr(estimator, "table_encoder_"):
        return None  # scikit-learn warns when X has no names; a table's X is encoded first
    n_samples, n_features = X.shape
    if n_samples < 1 or n_features != estimator.n_features_in_ or (n_features,) != estimator.input_shape_:
        return None
    # scikit-learn's own first pass: a finite sum means finite values (an
    # overflowing sum sends X to the full path, which checks element-wise).
    with np.errstate(over="ignore", invalid="ignore"):
        if not math.isfinite(X.sum()):
            return None
    return X


def clone(estimator, default):
    """scikit-learn's ``clone`` of ``estimator``, with its Keras layer templates copied through their configs.

    ``clone`` deep-copies every parameter, and a Keras layer's deepcopy is
    Keras' pickling: a round trip of the layer through an in-memory
    HDF5/zip archive of its config and weights (about 5 ms for one ``Dense``,
    paid per cross-validation fold and grid-search candidate, against 0.1 ms
    for a whole ``MLPClassifier``). For a layer without weights the archive
    holds only the config, so ``type(layer).from_config(layer.get_config())``
    makes the same copy directly (checked: the copy's config and ``built``
    flag equal the template's). Any other ``layers`` value (layers with
    weights, layers that define their own copying, dicts, a ``Sequential``, a
    callable) goes through ``default``.

    Parameters
    ----------
    estimator : sknet estimator
    default : callable
        scikit-learn's ``BaseEstimator.__sklearn_clone__`` (unbound).

    Returns
    -------
    estimator
        An unfitted estimator with the same parameters.
    """
    copies = _layer_copies(getattr(estimator, "layers", None))
    if copies is None:
        return default(estimator)
    # Clone a shallow stand-in without the layers (the estimator itself is
    # never modified, so concurrent use of it is safe), then give the clone
    # the copies.
    stand_in = object.__new__(type(estimator))
    stand_in.__dict__.update(vars(estimator))
    stand_in.layers = None
    new = default(stand_in)
    new.layers = copies
    return new


def _layer_copies(layers):
    """Config copies of a list or tuple of weightless Keras layers, each element on its own
    (as scikit-learn clones list elements), or None."""
    if type(layers) not in (list, tuple) or not layers:
        return None
    copies = []
    for layer in layers:
        if not isinstance(layer, keras.layers.Layer) or layer.weights or _copies_itself(type(layer)):
            return None
        try:
            # faithful_config/rebuild: a closure or lambda activation is carried over as the same
            # function (Keras' own copy looks it up by name and fails, its pickling too).
            config, objects = faithful_config(layer)
            copy = rebuild(layer, _copy.deepcopy(config), objects)
            same = faithful_config(copy)[0] == config and copy.built == layer.built
        except Exception:  # noqa: BLE001 - any doubt: scikit-learn's deepcopy decides
            return None
        if not same:
            return None
        copies.append(copy)
    return type(layers)(copies)


def _copies_itself(cls):
    """Whether ``cls`` changes how Keras layers are copied (its own ``__deepcopy__`` or pickling)."""
    return any(getattr(cls, name, None) is not getattr(keras.layers.Layer, name, None)
               for name in ("__deepcopy__", "__reduce__", "__reduce_ex__", "__getstate__"))
