"""Targets: labels <-> network outputs, the head a target needs, and its default loss.

=====================  ===========================  ==========================  =====================
target (``y``)         head sknet adds              default loss                ``predict`` returns
=====================  ===========================  ==========================  =====================
binary                 ``Dense(1, "sigmoid")``      ``binary_crossentropy``     original labels
multiclass             ``Dense(k, "softmax")``      ``categorical_crossentropy``  original labels
                                                    (one-hot inside)
one-hot ``(n, k)`` +   ``Dense(k, "softmax")``      ``categorical_crossentropy``  one-hot ``(n, k)``
categorical loss
multilabel ``(n, k)``  ``Dense(k, "sigmoid")``      ``binary_crossentropy``     0/1 ``(n, k)``
continuous ``(n,)``    ``Dense(1)`` linear          ``mean_squared_error``      ``(n,)``
continuous ``(n, k)``  ``Dense(k)`` linear          ``mean_squared_error``      ``(n, k)``
=====================  ===========================  ==========================  =====================

The default loss follows the *target*, never the spec's last activation: a
regressor trains on mean squared error whatever its output activation.

A classifier's output layer gives either probabilities (softmax or sigmoid)
or *logits* (a linear output, the Keras convention for
``from_logits=True``). With logits, the cross-entropy loss is computed
``from_logits=True`` and ``predict_proba`` applies the softmax or sigmoid.

With ``loss="sparse_categorical_crossentropy"`` (or its class or function),
labels are passed to the network as integer class codes instead of one-hot
rows, and a binary target gets a two-unit softmax head. So does a binary
target with ``loss="categorical_crossentropy"`` (one-hot rows): on a single
sigmoid unit that loss is 0 whatever the weights, and nothing would train.
"""

import copy
import dataclasses
from dataclasses import dataclass

import numpy as np
from sklearn.preprocessing import LabelEncoder
from sklearn.utils.class_weight import compute_sample_weight
from sklearn.utils.multiclass import check_classification_targets, type_of_target

# Output activations of a regressor's head; a Dense layer with the target's
# width and another activation (relu, gelu, ...) is taken for a hidden layer.
REGRESSION_OUTPUT_ACTIVATIONS = ("linear", "sigmoid", "tanh", "softplus", "exponential")


@dataclass(frozen=True)
class Head:
    """The output layer a target needs.

    Attributes
    ----------
    units : int
        Width of the output layer.
    activation : str
        Activation of the output layer sknet adds when the spec has none.
    kind : str
        ``"binary"``, ``"multiclass"``, ``"onehot"``, ``"multilabel"``,
        ``"continuous"`` or ``"continuous-multioutput"``.
    sparse : bool
        The network's targets are integer class codes (a sparse loss).
    categorical : bool
        A binary target trained with a categorical cross-entropy: one-hot rows
        for two softmax units (on one sigmoid unit that loss is always 0).
    """

    units: int
    activation: str
    kind: str
    sparse: bool = False
    categorical: bool = False

    @property
    def classifier(self):
        return self.kind in ("binary", "multiclass", "onehot", "multilabel")

    def _class_outputs(self):
        """The (units, activation) pairs that give this target's probabilities."""
        if self.kind == "binary" and (self.sparse or self.categorical):
            return ((2, "softmax"),)
        if self.kind == "binary":
            return ((1, "sigmoid"), (2, "softmax"))
        return ((self.units, "sigmoid" if self.kind == "multilabel" else "softmax"),)

    def output_kind(self, units, activation):
        """How an output layer of ``units`` and ``activation`` serves this target.

        Returns
        -------
        "probabilities", "logits", "values" or None
            None: not an output layer for this target (a hidden layer).
        """
        if not self.classifier:
            fits = units == self.units and activation in REGRESSION_OUTPUT_ACTIVATIONS
            return "values" if fits else None
        widths = {width for width, _ in self._class_outputs()}
        if (units, activation) in self._class_outputs():
            return "probabilities"
        if activation == "linear" and units in widths:
            return "logits"
        return None

    def describe(self):
        """The output layers this target accepts, for error messages."""
        if not self.classifier:
            return f"Dense({self.units}) for a regression target with {self.units} output(s)"
        options = " or ".join(f"Dense({u}, '{a}')" for u, a in self._class_outputs())
        what = {"binary": "a binary target", "multilabel": f"{self.units} labels"}.get(
            self.kind, f"{self.units} classes"
        )
        loss = " with a sparse loss" if self.sparse else " with a categorical loss" if self.categorical else ""
        return f"{options} for {what}{loss} (or the same units, linear: logits)"


def default_loss(head, units):
    """The loss a target trains on by default (see the module table).

    Parameters
    ----------
    head : Head
    units : int
        Width of the network's output layer (binary targets have one or two).
    """
    if not head.classifier:
        return "mean_squared_error"
    if head.sparse:
        return "sparse_categorical_crossentropy"
    if head.kind == "multilabel" or units == 1:
        return "binary_crossentropy"
    return "categorical_crossentropy"


class ClassifierTarget:
    """Encode classification labels for the network and decode its outputs.

    Parameters
    ----------
    sparse : bool
        The loss takes integer class codes (sparse categorical cross-entropy).
    one_hot : bool
        A categorical cross-entropy was asked for: a 2-D indicator ``y`` with
        one 1 per row is a one-hot multiclass target rather than a multilabel
        one, and a binary target gets two softmax units (one-hot rows).
    """

    def __init__(self, sparse=False, one_hot=False):
        self.sparse = sparse
        self.one_hot = one_hot

    def fit(self, y, classes=None):
        """Learn the classes and the head; ``y`` is validated (1-D or 2-D)."""
        y = np.asarray(y)
        self.y_dtype_ = y.dtype
        if y.ndim == 2 and y.shape[1] > 1:
            return self._fit_indicator(y)
        check_classification_targets(y)
        self._encoder = LabelEncoder().fit(y if classes is None else np.asarray(classes))
        self.classes_ = self._encoder.classes_
        if classes is not None:
            self._check_known(y)
        if len(self.classes_) < 2:
            raise ValueError(
                "Classifier can't train when only one class is present "
                f"(got the single class {self.classes_[0]!r}); a classifier needs at "
                "least two classes in y."
            )
        self.kind = "binary" if len(self.classes_) == 2 else "multiclass"
        self.target_type_ = self.kind
        if self.kind == "binary" and (self.sparse or self.one_hot):  # a categorical loss needs two columns
            self.head = Head(2, "softmax", "binary", sparse=self.sparse, categorical=self.one_hot)
        elif self.kind == "binary":
            self.head = Head(1, "sigmoid", "binary")
        else:
            self.head = Head(len(self.classes_), "softmax", "multiclass", self.sparse)
        return self

    def _fit_indicator(self, y):
        if self.sparse:
            raise ValueError(
                "loss='sparse_categorical_crossentropy' takes 1-D class labels, but y is "
                f"2-D with {y.shape[1]} columns; pass the labels, or use "
                "loss='categorical_crossentropy' for a one-hot y."
            )
        check_classification_targets(y)
        kind = type_of_target(y, input_name="y", raise_unknown=True)
        if kind != "multilabel-indicator":
            raise ValueError(
                f"2-D y of type {kind!r} is not supported; NetClassifier takes 1-D "
                "labels, a multilabel indicator matrix or a one-hot matrix."
            )
        self.target_type_ = kind
        self.kind = "onehot" if self.one_hot and np.all(y.sum(axis=1) == 1) else "multilabel"
        self.classes_ = np.arange(y.shape[1])
        self.head = Head(y.shape[1], "softmax" if self.kind == "onehot" else "sigmoid", self.kind)
        return self

    def for_loss(self, codes, categorical, units):
        """This target, or a copy that encodes labels for another loss (a build function's compiled one).

        Parameters
        ----------
        codes : bool
            The loss takes integer class codes (a sparse categorical cross-entropy).
        categorical : bool
            The loss is a categorical cross-entropy (one-hot rows).
        units : int
            Width of the network's output layer.

        Raises
        ------
        ValueError
            When the loss cannot train on this target and output layer: class
            codes for an indicator ``y`` or one unit, one-hot rows for one unit.
        """
        if self.kind in ("onehot", "multilabel"):
            if codes:
                raise ValueError("a sparse categorical loss takes 1-D class labels, but y is a 2-D indicator "
                                 "matrix; use loss='categorical_crossentropy' for a one-hot y.")
            return self
        if codes == self.sparse and not (categorical and units == 1):
            return self
        if units == 1:
            raise ValueError(
                f"a {'sparse ' if codes else ''}categorical cross-entropy on one sigmoid output unit is 0 whatever "
                "the weights, so nothing would train; end the network in Dense(2, activation='softmax') (use "
                "meta['n_classes_']), or use binary_crossentropy."
            )
        if not codes:
            raise ValueError("the network was trained on integer class codes (a sparse loss); keep "
                             "loss='sparse_categorical_crossentropy', or refit it with warm_start=False.")
        target = copy.copy(self)
        target.sparse = True
        target.head = dataclasses.replace(self.head, sparse=True, categorical=False)
        return target

    def _check_known(self, y):
        unseen = np.setdiff1d(np.unique(y), self.classes_)
        if unseen.size:
            raise ValueError(
                f"y contains labels {unseen.tolist()} that are not in classes_ "
                f"{self.classes_.tolist()}; pass every class to the first "
                "partial_fit call with classes=."
            )

    def check(self, y):
        """Raise ``ValueError`` for labels this target cannot encode (unseen classes, wrong width)."""
        if self.kind in ("onehot", "multilabel"):
            if np.ndim(y) != 2 or np.shape(y)[1] != len(self.classes_):
                raise ValueError(
                    f"y must be a ({len(self.classes_)})-column indicator matrix, got shape {np.shape(y)}."
                )
        else:
            self._check_known(y)

    def codes(self, y):
        """Integer class codes of 1-D labels."""
        self._check_known(y)
        return self._encoder.transform(y)

    def transform(self, y, units):
        """Network targets (float32) for an output layer of ``units``."""
        y = np.asarray(y)
        if self.kind in ("onehot", "multilabel"):
            self.check(y)
            return y.astype("float32")
        codes = self.codes(y)
        if self.sparse:
            return codes.astype("float32")
        if units == 1:
            return codes.astype("float32").reshape(-1, 1)
        return np.eye(units, dtype="float32")[codes]

    def class_sample_weight(self, class_weight, y):
        """Per-sample weights from ``class_weight`` (``"balanced"`` or a dict)."""
        if self.kind == "multilabel":
            raise ValueError("class_weight is not supported for multilabel targets.")
        if self.kind == "onehot":
            y = np.argmax(y, axis=1)
        if isinstance(class_weight, dict):
            unknown = [k for k in class_weight if k not in set(self.classes_.tolist())]
            if unknown:
                raise ValueError(
                    f"class_weight names labels {unknown} that are not classes of y "
                    f"(classes: {self.classes_.tolist()})."
                )
            class_weight = {**{c: 1.0 for c in self.classes_.tolist()}, **class_weight}
        return compute_sample_weight(class_weight, y).astype("float32")

    def probabilities(self, out, logits):
        """Per-class (or per-label) probabilities from network outputs, float64."""
        out = np.asarray(out, dtype="float64")
        if logits and out.shape[1] > 1 and self.kind != "multilabel":
            out = np.exp(out - out.max(axis=1, keepdims=True))
            return out / out.sum(axis=1, keepdims=True)
        if logits:
            return 0.5 * (1.0 + np.tanh(0.5 * out))  # the logistic sigmoid, without overflow
        if self.kind != "multilabel" and out.shape[1] > 1:
            out = np.clip(out, 0.0, None)  # float32 softmax rounding
            out /= out.sum(axis=1, keepdims=True)
        return out

    def proba(self, out, logits=False):
        """``predict_proba`` from network outputs: one column per class (two for binary)."""
        proba = self.probabilities(out, logits)
        if self.kind == "binary" and proba.shape[1] == 1:
            return np.hstack([1.0 - proba, proba])
        return proba

    def decode(self, out, logits=False):
        """Labels (in the form ``y`` was given) from network outputs."""
        proba = self.probabilities(out, logits)
        if self.kind == "multilabel":
            return (proba > 0.5).astype(self.y_dtype_)
        codes = (proba[:, 0] > 0.5).astype(int) if proba.shape[1] == 1 else np.argmax(proba, axis=1)
        if self.kind == "onehot":
            return np.eye(len(self.classes_), dtype=self.y_dtype_)[codes]
        return self.classes_[codes]  # LabelEncoder.inverse_transform, without its per-call checks


class RegressorTarget:
    """Encode continuous targets (single or multi-output), standardized or as given.

    ``fit`` learns each output's mean and standard deviation (1 for a
    constant output). When the estimator decides to train on the standardized
    target (:meth:`use_scaling`, the regressor's ``scale_target``), the
    network learns ``(y - mean_) / scale_`` and :meth:`decode` maps its
    outputs back to the original units; otherwise ``mean_`` and ``scale_``
    are None and ``y`` is trained as given.
    """

    sparse = False

    def fit(self, y, classes=None):
        y = np.asarray(y)
        self.ndim_ = y.ndim
        units = 1 if y.ndim == 1 else y.shape[1]
        self.kind = "continuous" if y.ndim == 1 else "continuous-multioutput"
        self.target_type_ = self.kind
        self.head = Head(units, "linear", self.kind)
        values = np.asarray(y, dtype="float64").reshape(len(y), units)
        scale = values.std(axis=0)
        self.mean_ = values.mean(axis=0)
        self.scale_ = np.where(np.isfinite(scale) & (scale > 0), scale, 1.0)
        return self

    def use_scaling(self, active):
        """Train on the standardized target (``active``) or on ``y`` as given."""
        if not active:
            self.mean_ = self.scale_ = None
        return self

    def check(self, y):
        """Raise ``ValueError`` for targets with another number of outputs."""
        outputs = 1 if np.ndim(y) == 1 else np.shape(y)[1]
        if outputs != self.head.units:
            raise ValueError(f"y has {outputs} output(s) but the estimator has {self.head.units}.")

    def transform(self, y, units):
        """Network targets (float32): ``y``, standardized when :meth:`use_scaling` said so."""
        y = np.asarray(y, dtype="float64").reshape(len(y), -1)
        if getattr(self, "scale_", None) is not None:
            y = (y - self.mean_) / self.scale_
        return y.astype("float32")

    def decode(self, out, logits=False):
        """Predictions in the units of ``y`` from network outputs."""
        out = np.asarray(out, dtype="float64")
        if getattr(self, "scale_", None) is not None:
            out = out * self.scale_ + self.mean_
        return out[:, 0] if self.ndim_ == 1 else out
