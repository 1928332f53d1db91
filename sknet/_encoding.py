"""Target encoding: labels <-> network outputs, and the head/loss inference table.

=====================  ===========================  ==========================  =====================
target (``y``)         head (output layer)          default loss                ``predict`` returns
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

With ``loss="sparse_categorical_crossentropy"`` (or its class or function),
labels are passed to the network as integer class codes instead of one-hot
rows, and a binary target gets a ``Dense(2, "softmax")`` head.
"""

from dataclasses import dataclass

import numpy as np
from sklearn.utils.class_weight import compute_sample_weight
from sklearn.utils.multiclass import check_classification_targets, type_of_target

_CATEGORICAL_LOSSES = {"categorical_crossentropy", "CategoricalCrossentropy", "categorical_focal_crossentropy", "CategoricalFocalCrossentropy"}
_SPARSE_LOSSES = {"sparse_categorical_crossentropy", "SparseCategoricalCrossentropy"}


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
    """

    units: int
    activation: str
    kind: str

    @property
    def classifier(self):
        return self.kind in ("binary", "multiclass", "onehot", "multilabel")

    def accepts(self, units, activation):
        """Whether an explicit output layer fits this target."""
        if self.kind == "binary" and self.units == 2:  # a sparse loss needs two softmax units
            return (units, activation) == (2, "softmax")
        if self.kind == "binary":
            return (units, activation) in ((1, "sigmoid"), (2, "softmax"))
        if self.kind in ("multiclass", "onehot"):
            return (units, activation) == (self.units, "softmax")
        if self.kind == "multilabel":
            return (units, activation) == (self.units, "sigmoid")
        return units == self.units

    def describe(self):
        if self.kind == "binary" and self.units == 2:
            return "Dense(2, 'softmax') for a binary target with a sparse loss"
        if self.kind == "binary":
            return "Dense(1, 'sigmoid') or Dense(2, 'softmax') for a binary target"
        if self.kind in ("multiclass", "onehot"):
            return f"Dense({self.units}, 'softmax') for {self.units} classes"
        if self.kind == "multilabel":
            return f"Dense({self.units}, 'sigmoid') for {self.units} labels"
        return f"{self.units} output(s) for a regression target"


def default_loss(activation):
    """The loss for an output activation (see the module table)."""
    if activation == "softmax":
        return "categorical_crossentropy"
    if activation == "sigmoid":
        return "binary_crossentropy"
    return "mean_squared_error"


def _loss_name(loss):
    if isinstance(loss, str):
        return loss
    return getattr(loss, "name", None) or getattr(loss, "__name__", None) or type(loss).__name__


def is_sparse_loss(loss):
    """Whether ``loss`` takes integer class codes (sparse categorical cross-entropy)."""
    return loss is not None and (_loss_name(loss) in _SPARSE_LOSSES or type(loss).__name__ in _SPARSE_LOSSES)


class ClassifierTarget:
    """Encode classification labels for the network and decode its outputs.

    Parameters
    ----------
    loss : str, keras loss or None
        The user's ``loss`` (decides whether a one-hot ``y`` is one-hot
        multiclass or multilabel).
    """

    sparse = False  # the class default keeps targets pickled by earlier sknet versions loadable

    def __init__(self, loss=None):
        self.loss = loss
        self.sparse = is_sparse_loss(loss)

    def fit(self, y, classes=None):
        """Learn the classes and the head; ``y`` is validated (1-D or 2-D)."""
        y = np.asarray(y)
        if y.ndim == 2 and y.shape[1] > 1:
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
            one_hot = np.all(y.sum(axis=1) == 1)
            if one_hot and _loss_name(self.loss) in _CATEGORICAL_LOSSES:
                self.kind = "onehot"
            else:
                self.kind = "multilabel"
            self.classes_ = np.arange(y.shape[1])
            self.y_dtype_ = y.dtype
            self.head = Head(y.shape[1], "softmax" if self.kind == "onehot" else "sigmoid", self.kind)
            return self
        check_classification_targets(y)
        present = np.unique(y)
        self.classes_ = present if classes is None else np.unique(np.asarray(classes))
        if classes is not None:
            self._check_known(y)
        if len(self.classes_) < 2:
            raise ValueError(
                "Classifier can't train when only one class is present "
                f"(got the single class {self.classes_[0]!r}); a classifier needs at "
                "least two classes in y."
            )
        self.kind = "binary" if len(self.classes_) == 2 else "multiclass"
        self.y_dtype_ = y.dtype
        if self.kind == "binary":
            self.head = Head(2, "softmax", "binary") if self.sparse else Head(1, "sigmoid", "binary")
        else:
            self.head = Head(len(self.classes_), "softmax", "multiclass")
        return self

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
        return np.searchsorted(self.classes_, y)

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
        if self.kind in ("onehot", "multilabel"):
            if self.kind == "multilabel":
                raise ValueError("class_weight is not supported for multilabel targets.")
            y = np.argmax(y, axis=1)
        if isinstance(class_weight, dict):
            unknown = [k for k in class_weight if k not in set(self.classes_.tolist())]
            if unknown:
                raise ValueError(
                    f"class_weight names labels {unknown} that are not classes of y "
                    f"(classes: {self.classes_.tolist()})."
                )
            default = {c: 1.0 for c in self.classes_.tolist()}
            class_weight = {**default, **class_weight}
        elif class_weight != "balanced":
            raise ValueError(
                f"class_weight must be None, 'balanced' or a dict, got {class_weight!r}."
            )
        return compute_sample_weight(class_weight, y).astype("float32")

    def proba(self, out):
        """``predict_proba`` from network outputs."""
        out = np.asarray(out, dtype="float64")
        if self.kind == "binary" and out.shape[1] == 1:
            return np.hstack([1.0 - out, out])
        if self.kind != "multilabel":
            out = np.clip(out, 0.0, None)
            out /= out.sum(axis=1, keepdims=True)
        return out

    def decode(self, out):
        """Labels (in the form ``y`` was given) from network outputs."""
        if self.kind == "multilabel":
            return (np.asarray(out) > 0.5).astype(self.y_dtype_)
        if out.shape[1] == 1:
            codes = (np.asarray(out)[:, 0] > 0.5).astype(int)
        else:
            codes = np.argmax(out, axis=1)
        if self.kind == "onehot":
            return np.eye(len(self.classes_), dtype=self.y_dtype_)[codes]
        return self.classes_[codes]


class RegressorTarget:
    """Encode continuous targets (single or multi-output)."""

    sparse = False  # targets are never class codes

    def fit(self, y, classes=None):
        y = np.asarray(y)
        self.ndim_ = y.ndim
        units = 1 if y.ndim == 1 else y.shape[1]
        kind = "continuous" if y.ndim == 1 else "continuous-multioutput"
        self.head = Head(units, "linear", kind)
        self.kind = kind
        return self

    def check(self, y):
        """Raise ``ValueError`` for targets with another number of outputs."""
        outputs = 1 if np.ndim(y) == 1 else np.shape(y)[1]
        if outputs != self.head.units:
            raise ValueError(f"y has {outputs} output(s) but the estimator has {self.head.units}.")

    def transform(self, y, units):
        y = np.asarray(y, dtype="float32")
        return y.reshape(len(y), -1)

    def decode(self, out):
        out = np.asarray(out, dtype="float64")
        return out[:, 0] if self.ndim_ == 1 else out
