"""ONNX export of fitted sknet estimators, alone or inside scikit-learn pipelines.

``import sknet.onnx`` registers converters for :class:`~sknet.NetClassifier` and
:class:`~sknet.NetRegressor` with `skl2onnx <https://onnx.ai/sklearn-onnx/>`_, so
that skl2onnx's own ``to_onnx(pipeline, X_sample)`` converts any pipeline that
contains them (``Pipeline``, ``ColumnTransformer``, ``CalibratedClassifierCV``...).
The network goes through Keras' ONNX export (``model.export(path, format="onnx")``,
tf2onnx underneath) and its graph is merged into the pipeline's graph; the
label decoding happens inside the graph too, so the result runs in
onnxruntime alone, without Python, TensorFlow or sknet.

Outputs follow skl2onnx's conventions:

- classifiers give ``label`` (the original labels: int64, strings or bools; a
  0/1 matrix for a multilabel target and a one-hot matrix for a one-hot
  target) and ``probabilities`` (one column per class, two for binary). The
  ``zipmap`` option is honoured (``True`` by default, as in skl2onnx: a list
  of dicts; ``False``: a matrix; ``"columns"``: one output per class). Like
  skl2onnx's ZipMap, ``zipmap=True`` and ``"columns"`` give bool labels as
  int64 (0/1), ``zipmap=False`` as bools;
- regressors give ``variable``, of shape ``(n, n_outputs)``;
- :class:`~sknet.NetTransformer` gives ``variable``: ``transform``'s output,
  of shape ``(n, n_features_out)``.

A regressor trained on its standardized target (``scale_target``) maps the
network's output back in the graph (``out * target_.scale_ + target_.mean_``).
An estimator fitted on a raw DataFrame (``table_encoder_``) takes one input per
column, named as the column: a string tensor ``(None, 1)`` for a categorical
column (``str(value)``, ``""`` for a missing value; a string that is not a
fitted level goes to the unknown bucket), a double tensor for the others
(``NaN`` for a missing value; bools as 0/1, datetimes as days since
1970-01-01), encoded in the graph as ``table_encoder_.transform`` does. A
DataFrame of plain numbers (trained as its array) also gives one input per
column; a table given as an array (``categorical_features`` naming columns)
keeps one 2-D input, split into its columns in the graph.

float32 and float64 input both work (the network computes in float32, as
sknet's ``predict`` does; float64 input gives float64 probabilities). A
network trained with a reduced-precision ``dtype_policy`` (``"mixed_bfloat16"``,
``"mixed_float16"``...) is exported as a float32 graph of the same weights: its
outputs differ from ``predict``'s by the reduced precision's rounding (for
bfloat16, measured: probabilities within 0.01, regression outputs within 1% of
their scale; labels agree except for near-ties).

Needs the ``onnx`` extra: ``pip install "sknet-keras[onnx]"``.

Examples
--------
>>> import sknet.onnx  # doctest: +SKIP
>>> onx = sknet.onnx.to_onnx(pipeline, X[:1].astype("float32"), options={"zipmap": False})  # doctest: +SKIP
>>> import onnxruntime as rt  # doctest: +SKIP
>>> sess = rt.InferenceSession(onx.SerializeToString())  # doctest: +SKIP
>>> labels, proba = sess.run(None, {"X": X.astype("float32")})  # doctest: +SKIP
"""

import os
import re
import tempfile
import warnings

try:
    import onnx
    import skl2onnx
    import tf2onnx  # noqa: F401  (Keras' ONNX export runs on it)
    from onnx import TensorProto, helper, numpy_helper
    from skl2onnx import update_registered_converter
    from skl2onnx.common.data_types import (
        BooleanTensorType,
        DoubleTensorType,
        FloatTensorType,
        Int32TensorType,
        Int64TensorType,
        StringTensorType,
    )
    from skl2onnx.common.utils import check_input_and_output_numbers
except ImportError as exc:  # pragma: no cover - exercised without the extra
    raise ImportError(
        f"sknet.onnx needs skl2onnx, onnx, onnxruntime and tf2onnx ({exc}). "
        'Install them with: pip install "sknet-keras[onnx]"'
    ) from exc

import numpy as np

from ._classifier import NetClassifier
from ._compat import check_version
from ._regressor import NetRegressor
from ._spec import with_policy
from ._transformer import NetTransformer

__all__ = ["to_onnx", "network_to_onnx", "TF2ONNX_MAX_OPSET"]

#: The highest ONNX opset tf2onnx writes; a higher ``target_opset`` is reached with onnx's version converter.
TF2ONNX_MAX_OPSET = 18

_CLASSIFIER_OPTIONS = {"zipmap": [True, False, "columns"], "output_class_labels": [False, True], "nocl": [False]}


# ----------------------------------------------------------------------------- the network


def _layer_named_in(model, message):
    """The layer of ``model`` whose name appears as a graph scope in ``message``, or None."""
    for suffix in ("", r"_\d+"):  # TensorFlow name scopes may carry a "_1" suffix
        for layer in model.layers:
            if re.search(rf"(^|[/\s'\"]){re.escape(layer.name)}{suffix}(/|[\s'\":]|$)", message):
                return layer
    return None


def network_to_onnx(model, input_shape, opset=None):
    """Convert a Keras network to an ONNX model (float32 input ``x``, output ``y``).

    Parameters
    ----------
    model : keras.Model
        The network, e.g. a fitted estimator's ``model_``; a reduced-precision
        one is exported in float32.
    input_shape : tuple of int
        Per-sample input shape (the estimator's ``input_shape_``).
    opset : int, default=None
        Target ONNX opset; None: :data:`TF2ONNX_MAX_OPSET`. Keras < 3.12
        ignores the opset it is asked for and exports tf2onnx's default (15):
        a higher ``opset`` is then reached with onnx's version converter, a
        lower one is a ``ValueError`` that names Keras 3.12.

    Returns
    -------
    onnx.ModelProto

    Raises
    ------
    ValueError
        When Keras' exporter cannot convert the network; the message names
        the layer when it can be found.
    """
    opset = TF2ONNX_MAX_OPSET if opset is None else int(opset)
    import tensorflow as tf
    from tf2onnx.constants import PREFERRED_OPSET

    if opset < PREFERRED_OPSET:  # Keras < 3.12 ignores opset_version: tf2onnx writes its default opset
        check_version("keras", "3.12", f"An ONNX opset below {PREFERRED_OPSET} (opset={opset})")

    # A reduced-precision network (dtype_policy="mixed_bfloat16"...) is exported as the float32
    # network of the same weights: ONNX runtimes lack most bfloat16/float16 CPU kernels.
    model = with_policy(model, "float32")

    spec = tf.TensorSpec((None,) + tuple(input_shape), tf.float32, name="x")
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "network.onnx")
        try:
            with warnings.catch_warnings():
                warnings.filterwarnings("ignore", message=".*np.object.*", category=FutureWarning)  # Keras' patch
                model.export(path, format="onnx", input_signature=[spec],
                             opset_version=min(opset, TF2ONNX_MAX_OPSET), verbose=False)
            proto = onnx.load(path)
        except Exception as exc:
            raise _export_error(model, exc) from exc
    unknown = [n for n in proto.graph.node if not onnx.defs.has(n.op_type, n.domain)]
    if unknown:  # tf2onnx keeps the TensorFlow ops it cannot convert, under their TensorFlow names
        nodes = ", ".join(f"{n.name} ({n.op_type})" for n in unknown)
        raise _export_error(model, ValueError(f"TensorFlow ops without an ONNX equivalent: {nodes}"))
    exported = next(o.version for o in proto.opset_import if o.domain in ("", "ai.onnx"))
    if opset > exported:  # above tf2onnx's highest opset, or Keras < 3.12, which exports tf2onnx's default
        proto = onnx.version_converter.convert_version(proto, opset)
    return proto


def _export_error(model, exc):
    message = str(exc)
    layer = _layer_named_in(model, message)
    where = (f"layer {layer.name!r} ({type(layer).__name__})" if layer is not None
             else "a layer of the network")
    return ValueError(
        f"Keras' ONNX export (tf2onnx) cannot convert {where}: {message}. The layers that export are "
        "listed in the 'Saving and deploying' guide; replace this layer, or save the network with "
        "model_.save and serve it with TensorFlow."
    )


def _add_network(scope, container, estimator, x_name, model):
    """Merge ``model`` into the container; returns the name of its output."""
    proto = network_to_onnx(model, estimator.input_shape_, container.target_opset_onnx)
    graph = proto.graph
    prefix = scope.get_unique_variable_name(f"{type(estimator).__name__}_net")
    names = {graph.input[0].name: x_name}

    def rename(name):
        if name == "":
            return ""
        if name not in names:
            names[name] = scope.get_unique_variable_name(f"{prefix}_{name}")
        return names[name]

    for init in graph.initializer:
        tensor = numpy_helper.from_array(numpy_helper.to_array(init), rename(init.name))
        container.add_initializer(tensor.name, tensor.data_type, list(tensor.dims), tensor)
    for node in graph.node:
        attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
        container.add_node(node.op_type, [rename(n) for n in node.input], [rename(n) for n in node.output],
                           op_domain=node.domain, name=scope.get_unique_operator_name(f"{prefix}_{node.op_type}"),
                           **attrs)
    return names[graph.output[0].name]


def _network_output(scope, operator, container, model=None):
    """Cast and reshape the operator's input for ``model`` (default: ``model_``); returns ``(out, proto_type)``.

    An estimator fitted on a DataFrame takes one input per column, encoded in
    the graph as its ``table_encoder_`` does (:func:`_encoded_table`).
    """
    estimator = operator.raw_operator
    proto_type = TensorProto.DOUBLE if _float_type(operator) is DoubleTensorType else TensorProto.FLOAT
    encoder = _table_encoder(estimator)
    if encoder is not None:
        x = _encoded_table(scope, operator, container, encoder)
    elif len(operator.inputs) > 1:  # a DataFrame of plain numbers, trained as its array: its columns side by side
        x = _node(scope, container, "Concat", _number_columns(scope, container, operator), "x_columns", axis=1)
    else:
        var = operator.inputs[0]
        x = var.full_name
        if not isinstance(var.type, FloatTensorType):
            x = _node(scope, container, "Cast", [x], "x32", to=TensorProto.FLOAT)
    shape = _const(scope, container, "shape", np.array((-1,) + tuple(estimator.input_shape_), dtype=np.int64))
    x = _node(scope, container, "Reshape", [x, shape], "x_net")
    return _add_network(scope, container, estimator, x, estimator.model_ if model is None else model), proto_type


# ----------------------------------------------------------------------------- raw DataFrames


def _table_encoder(estimator):
    """The encoder of an estimator fitted on a raw DataFrame (``table_encoder_``), or None."""
    return getattr(estimator, "table_encoder_", None)


def _input_count(operator):
    """How many inputs the operator takes: one 2-D array, or one per column of a DataFrame it was fitted on."""
    estimator = operator.raw_operator
    encoder = _table_encoder(estimator)
    if encoder is not None:
        return [1, int(encoder.n_features_in_)]
    if hasattr(estimator, "feature_names_in_") and len(estimator.input_shape_) == 1:
        return [1, int(estimator.n_features_in_)]
    return 1


def _number_columns(scope, container, operator):
    """The float32 ``(n, 1)`` columns of a DataFrame of plain numbers, in ``feature_names_in_``'s order."""
    estimator = operator.raw_operator
    names = [str(name) for name in estimator.feature_names_in_]
    inputs = list(operator.inputs)
    by_name = {v.raw_name: v for v in inputs}
    ordered = [by_name[name] for name in names] if set(names) <= set(by_name) else inputs
    columns = []
    for var in ordered:
        if not isinstance(var.type, _NUMBER_TYPES):
            raise TypeError(f"column {var.raw_name!r}: {type(estimator).__name__} was fitted on numbers; its ONNX "
                            f"input must be a number tensor, not {type(var.type).__name__}.")
        x = var.full_name
        if var.type.shape is None or len(var.type.shape) != 2:
            x = _node(scope, container, "Reshape", [x, _const(scope, container, "col_shape",
                                                              np.array([-1, 1], dtype=np.int64))], "col2d")
        if not isinstance(var.type, FloatTensorType):
            x = _node(scope, container, "Cast", [x], "col32", to=TensorProto.FLOAT)
        columns.append(x)
    return columns


def _float_type(operator):
    """The float type of the outputs: float64 when an input is float64 (a number column of a frame), else float32."""
    return (DoubleTensorType if any(isinstance(v.type, DoubleTensorType) for v in operator.inputs)
            else FloatTensorType)


_NUMBER_TYPES = (FloatTensorType, DoubleTensorType, Int64TensorType, Int32TensorType, BooleanTensorType)


def _table_columns(scope, container, operator, encoder):
    """``(name, tensor, type)`` of each column in the encoder's order, each tensor ``(n, 1)``.

    The operator's inputs are matched to the fitted columns by name, else by
    position; a single 2-D input (a table given as an array, with
    ``categorical_features`` naming its columns) is split into its columns.
    """
    names = [str(name) for name in encoder.feature_names_in_]
    inputs = list(operator.inputs)
    if len(inputs) == 1 and len(names) > 1:
        var = inputs[0]
        width = var.type.shape[1] if var.type.shape is not None and len(var.type.shape) == 2 else None
        if width is not None and width != len(names):
            raise ValueError(f"{type(operator.raw_operator).__name__} was fitted on a table of {len(names)} "
                             f"columns; its ONNX input {var.raw_name!r} has {width}.")
        split = _const(scope, container, "split", np.ones(len(names), dtype=np.int64))
        parts = [scope.get_unique_variable_name(f"{var.raw_name}_col") for _ in names]
        container.add_node("Split", [var.full_name, split], parts, name=scope.get_unique_operator_name("Split"),
                           axis=1)
        return [(name, part, var.type) for name, part in zip(names, parts, strict=True)]
    by_name = {v.raw_name: v for v in inputs}
    if not set(names) <= set(by_name):
        if len(inputs) != len(names):
            raise ValueError(f"{type(operator.raw_operator).__name__} was fitted on a DataFrame of {len(names)} "
                             f"columns and takes one ONNX input per column, got {len(inputs)}.")
        by_name = dict(zip(names, inputs, strict=True))
    columns = []
    for name in names:
        var = by_name[name]
        tensor = var.full_name
        if var.type.shape is None or len(var.type.shape) != 2:
            shape = _const(scope, container, "col_shape", np.array([-1, 1], dtype=np.int64))
            tensor = _node(scope, container, "Reshape", [tensor, shape], "col2d")
        columns.append((var.raw_name, tensor, var.type))
    return columns


def _encoded_table(scope, operator, container, encoder):
    """The network input ``table_encoder_.transform`` gives, float32 ``(n, width)``, from one input per column.

    - numbers: ``(x - center_) / scale_`` (float64, as the encoder computes
      it), 0 where ``x`` is NaN; then a 0/1 indicator for each column of
      ``indicators_``, 1 where ``x`` is NaN;
    - categories (``ai.onnx.ml.LabelEncoder``): ``k + 2`` for
      ``categories_[j][k]``, 0 for the empty string (missing), 1 for any other
      string (unseen or rare).
    """
    columns = _table_columns(scope, container, operator, encoder)
    parts = []
    if len(encoder.numeric_):
        numbers = []
        for i in encoder.numeric_:
            name, x, var_type = columns[i]
            if not isinstance(var_type, _NUMBER_TYPES):
                raise TypeError(f"column {name!r} is numeric for {type(operator.raw_operator).__name__}; "
                                f"its ONNX input must be a number tensor, not {type(var_type).__name__}.")
            if not isinstance(var_type, DoubleTensorType):
                x = _node(scope, container, "Cast", [x], "num64", to=TensorProto.DOUBLE)
            numbers.append(x)
        x = numbers[0] if len(numbers) == 1 else _node(scope, container, "Concat", numbers, "numbers", axis=1)
        missing = _node(scope, container, "IsNaN", [x], "missing")
        center = _const(scope, container, "center", np.asarray(encoder.center_, dtype=np.float64).reshape(1, -1))
        scale = _const(scope, container, "scale", np.asarray(encoder.scale_, dtype=np.float64).reshape(1, -1))
        z = _node(scope, container, "Div", [_node(scope, container, "Sub", [x, center], "centred"), scale], "z")
        zero = _const(scope, container, "zero", np.array(0.0, dtype=np.float64))
        z = _node(scope, container, "Where", [missing, zero, z], "z_filled")
        parts.append(_node(scope, container, "Cast", [z], "z32", to=TensorProto.FLOAT))
        if len(encoder.indicators_):
            which = _const(scope, container, "indicators", np.asarray(encoder.indicators_, dtype=np.int64))
            flags = _node(scope, container, "Gather", [missing, which], "missing_flags", axis=1)
            parts.append(_node(scope, container, "Cast", [flags], "indicators32", to=TensorProto.FLOAT))
    for j, i in enumerate(encoder.categorical_):
        parts.append(_category_codes(scope, container, operator, columns[i], encoder.categories_[j]))
    return parts[0] if len(parts) == 1 else _node(scope, container, "Concat", parts, "table", axis=1)


def _category_codes(scope, container, operator, column, categories):
    """A float32 ``(n, 1)`` column of category codes: 0 missing (""), 1 unseen, ``k + 2`` for ``categories[k]``."""
    name, x, var_type = column
    if isinstance(var_type, (FloatTensorType, DoubleTensorType)):
        return _float_category_codes(scope, container, x, var_type, categories)
    if isinstance(var_type, (Int64TensorType, Int32TensorType)):  # skl2onnx types an int category column so
        x = _node(scope, container, "Cast", [x], "category_str", to=TensorProto.STRING)  # "3", as str(3)
    elif isinstance(var_type, BooleanTensorType):
        true, false = (_const(scope, container, "word", np.array(word, dtype=object)) for word in ("True", "False"))
        x = _node(scope, container, "Where", [x, true, false], "category_str")  # as str(True)
    elif not isinstance(var_type, StringTensorType):
        raise TypeError(
            f"column {name!r} is categorical for {type(operator.raw_operator).__name__}; its ONNX input must "
            f"be a string tensor (the categories as str(value), '' for a missing value), not "
            f"{type(var_type).__name__}: pass initial_types, or convert with sknet.onnx.to_onnx, which types it so.")
    keys = [str(c) for c in categories]
    values = [k + 2.0 for k in range(len(keys))]
    if "" in keys:  # the empty string is the missing value's
        del values[keys.index("")], keys[keys.index("")]
    return _node(scope, container, "LabelEncoder", [x], "codes", op_domain="ai.onnx.ml", op_version=2,
                 keys_strings=keys + [""], values_floats=values + [0.0], default_float=1.0)


def _float_category_codes(scope, container, x, var_type, categories):
    """Category codes of a float column (a table given as a float array): a level is ``float(level)``, NaN missing.

    The levels' strings (``"3.0"`` for the float 3, ``"3"`` for the int) are
    matched by value, as float32 (``ai.onnx.ml.LabelEncoder``'s keys).
    """
    keys, values = [], []
    for k, level in enumerate(categories):
        try:
            key = np.float32(float(level))
        except ValueError:
            continue  # a string level: no float input equals it
        if np.isfinite(key) and key not in keys:
            keys.append(float(key))
            values.append(k + 2.0)
    if not isinstance(var_type, FloatTensorType):
        x32 = _node(scope, container, "Cast", [x], "category32", to=TensorProto.FLOAT)
    else:
        x32 = x
    if keys:
        codes = _node(scope, container, "LabelEncoder", [x32], "codes", op_domain="ai.onnx.ml", op_version=2,
                      keys_floats=keys, values_floats=values, default_float=1.0)
    else:  # every value unknown (or missing)
        codes = _const(scope, container, "unknown", np.array(1.0, dtype=np.float32))
    missing = _node(scope, container, "IsNaN", [x32], "category_missing")
    return _node(scope, container, "Where", [missing, _const(scope, container, "zero32", np.array(0.0, "float32")),
                                             codes], "codes_filled")


def _frame_estimator(model):
    """The frame-fitted estimator that first receives ``model``'s input (itself or a pipeline's first step), or None."""
    from sklearn.pipeline import Pipeline

    while isinstance(model, Pipeline):
        steps = [step for _, step in model.steps if step not in (None, "passthrough")]
        if not steps:
            return None
        model = steps[0]
    if _table_encoder(model) is not None:
        return model
    if isinstance(model, (NetClassifier, NetRegressor, NetTransformer)) and hasattr(model, "feature_names_in_"):
        return model if len(model.input_shape_) == 1 else None  # a DataFrame of plain numbers
    return None


def _frame_types(model, X):
    """skl2onnx initial types for a DataFrame sample when ``model`` starts with a frame-fitted sknet estimator.

    One input per column, named as the column: a string tensor ``(None, 1)``
    for a categorical column, ``float`` for a float32 number column and
    ``double`` for the others (floats, ints, bools, datetimes as days since
    1970-01-01).
    """
    estimator = _frame_estimator(model)
    if estimator is None or not hasattr(X, "columns"):
        return None
    encoder = _table_encoder(estimator)
    names = [str(name) for name in (estimator if encoder is None else encoder).feature_names_in_]
    columns = [str(column) for column in X.columns]
    if not set(columns) <= set(names):  # columns without a string name (x0, x1... when fitted): by position
        if len(columns) != len(names):
            return None  # not the fitted table: skl2onnx's own guess, and the converter's error
        columns = list(names) if len(set(columns)) < len(columns) else columns
        names = columns
    categorical = set() if encoder is None else {names[i] for i in encoder.categorical_}
    types = []
    for position, name in enumerate(columns):
        if name in categorical:
            types.append((name, StringTensorType([None, 1])))
        elif str(X.dtypes.iloc[position]) == "float32":
            types.append((name, FloatTensorType([None, 1])))
        else:
            types.append((name, DoubleTensorType([None, 1])))
    return types


def _node(scope, container, op_type, inputs, hint, outputs=None, **attrs):
    out = outputs or scope.get_unique_variable_name(hint)
    container.add_node(op_type, inputs, out, name=scope.get_unique_operator_name(op_type), **attrs)
    return out


def _const(scope, container, hint, value):
    name = scope.get_unique_variable_name(hint)
    value = np.asarray(value)
    if value.dtype == object:  # strings: string_data (raw_data cannot hold them)
        container.add_initializer(name, TensorProto.STRING, list(value.shape),
                                  [str(v).encode("utf-8") for v in value.ravel()])
        return name
    tensor = numpy_helper.from_array(value, name)
    container.add_initializer(name, tensor.data_type, list(tensor.dims), tensor)
    return name


# ----------------------------------------------------------------------------- labels


def _label_type(values):
    """The skl2onnx tensor type and the array to store for labels ``values``."""
    values = np.asarray(values)
    if values.dtype == np.bool_:
        return BooleanTensorType, values
    if values.dtype.kind in "iu":
        return Int64TensorType, values.astype(np.int64)
    if values.dtype.kind == "f":
        if values.dtype == np.float32:
            return FloatTensorType, values
        return DoubleTensorType, values.astype(np.float64)
    if values.dtype.kind in "OUS":
        if not all(isinstance(v, (str, bytes, np.str_)) for v in values.ravel()):
            raise TypeError(
                f"ONNX labels must be ints, strings, bools or floats; classes_ holds {values.dtype} values "
                f"{values.ravel()[:5].tolist()}."
            )
        return StringTensorType, np.array([str(v) for v in values.ravel()], dtype=object).reshape(values.shape)
    raise TypeError(f"ONNX labels must be ints, strings, bools or floats, not {values.dtype}.")


def _decoded(estimator):
    """What ``predict`` returns per row: ``(label table, row width)``: the table is gathered with the class codes."""
    target = estimator.target_
    k = len(estimator.classes_)
    if target.kind == "multilabel":
        return None, k
    if target.kind == "onehot":
        return np.eye(k, dtype=target.y_dtype_), k
    return estimator.classes_, None


def _zipmap_of(operator):
    """skl2onnx's ZipMap operator (``zipmap=True`` or ``"columns"``) that takes the operator's labels, or None.

    skl2onnx's ZipMap casts the labels to int64 but declares its output with
    the type of its input, so bool labels must reach it as int64 already
    (skl2onnx's own classifiers declare bool labels as int64). ONNX's
    ``ZipMap`` (``zipmap=True``) takes float32 probabilities only, and
    ``"columns"`` declares its outputs at parsing, in the float type of the
    first input.
    """
    label = operator.outputs[0]
    return next((op for op in operator.scope_inst.operators.values()
                 if op.type in ("SklearnZipMap", "SklearnZipMapColumns") and op.inputs and op.inputs[0] is label),
                None)


def _classifier_shape(operator):
    check_input_and_output_numbers(operator, input_count_range=_input_count(operator), output_count_range=[1, 2])
    estimator = operator.raw_operator
    n = operator.inputs[0].get_first_dimension()
    table, width = _decoded(estimator)
    if table is None:
        label_type = _label_type(np.zeros(1, dtype=estimator.target_.y_dtype_))[0]
    else:
        label_type = _label_type(table)[0]
    zipmap = _zipmap_of(operator)
    if label_type is BooleanTensorType and zipmap is not None:
        label_type = Int64TensorType  # skl2onnx's ZipMap casts its label input to int64, declared as its input
    operator.outputs[0].type = label_type([n] if width is None else [n, width])
    if len(operator.outputs) == 2:
        proba_type = _float_type(operator)
        if zipmap is not None and zipmap.type == "SklearnZipMap":
            proba_type = FloatTensorType  # (skl2onnx's own classifiers fail on float64 input with zipmap=True)
        elif zipmap is not None and len(zipmap.outputs) > 1 and zipmap.outputs[1].type is not None:
            proba_type = type(zipmap.outputs[1].type)  # "columns": the per-class outputs' declared type
        operator.outputs[1].type = proba_type([n, len(estimator.classes_)])


def _classifier_converter(scope, operator, container):
    """Network -> probabilities -> codes -> labels, as ``predict``/``predict_proba`` compute them."""
    estimator = operator.raw_operator
    target = estimator.target_
    out, proto_type = _network_output(scope, operator, container)
    logits = estimator._output == "logits"
    units = estimator.n_outputs_
    sigmoid = target.kind == "multilabel" or units == 1
    proba = out
    if logits:
        proba = _node(scope, container, "Sigmoid" if sigmoid else "Softmax", [out], "proba32",
                      **({} if sigmoid else {"axis": -1}))
    if target.kind == "binary" and units == 1:
        one = _const(scope, container, "one", np.array(1.0, dtype=np.float32))
        neg = _node(scope, container, "Sub", [one, proba], "proba_neg")
        proba = _node(scope, container, "Concat", [neg, proba], "proba_binary", axis=1)
    # Labels from the network output: a threshold at 0.5 (0 for logits), else the argmax.
    if sigmoid:
        cut = _const(scope, container, "cut", np.array(0.0 if logits else 0.5, dtype=np.float32))
        positive = _node(scope, container, "Greater", [out, cut], "positive")
    table, _ = _decoded(estimator)
    label = operator.outputs[0].full_name
    label_type = type(operator.outputs[0].type)  # as _classifier_shape declared it (bool labels to a ZipMap: int64)
    if target.kind == "multilabel":
        to = {BooleanTensorType: TensorProto.BOOL, Int64TensorType: TensorProto.INT64,
              FloatTensorType: TensorProto.FLOAT, DoubleTensorType: TensorProto.DOUBLE}
        _node(scope, container, "Cast", [positive], "label", outputs=label, to=to[label_type])
    else:
        if units == 1:
            codes = _node(scope, container, "Cast", [positive], "codes2d", to=TensorProto.INT64)
            axis = _const(scope, container, "axis", np.array([1], dtype=np.int64))
            codes = _node(scope, container, "Squeeze", [codes, axis], "codes")
        else:
            codes = _node(scope, container, "ArgMax", [out], "codes", axis=1, keepdims=0)
        values = _label_type(table)[1]
        if label_type is Int64TensorType:
            values = values.astype(np.int64)
        values = _const(scope, container, "classes", values)
        _node(scope, container, "Gather", [values, codes], "label", outputs=label, axis=0)
    if len(operator.outputs) == 2:
        to = TensorProto.DOUBLE if isinstance(operator.outputs[1].type, DoubleTensorType) else TensorProto.FLOAT
        _node(scope, container, "Cast", [proba], "probabilities", outputs=operator.outputs[1].full_name, to=to)


def _float_output_shape(width):
    """A shape calculator for one float output of ``width(estimator)`` columns, in the input's float type."""

    def shape(operator):
        check_input_and_output_numbers(operator, input_count_range=_input_count(operator), output_count_range=1)
        n = operator.inputs[0].get_first_dimension()
        operator.outputs[0].type = _float_type(operator)([n, width(operator.raw_operator)])

    return shape


def _regressor_converter(scope, operator, container):
    """The network's output, mapped back to the target's units when it trained on a scaled target."""
    estimator = operator.raw_operator
    out, proto_type = _network_output(scope, operator, container)
    variable = operator.outputs[0].full_name
    scale = getattr(estimator.target_, "scale_", None)
    if scale is None:
        _node(scope, container, "Cast", [out], "variable", outputs=variable, to=proto_type)
        return
    # predict: out * scale_ + mean_, computed here in the output's float type.
    dtype = np.float64 if proto_type == TensorProto.DOUBLE else np.float32
    out = _node(scope, container, "Cast", [out], "scaled", to=proto_type)
    scale = _const(scope, container, "target_scale", np.asarray(scale, dtype=dtype).reshape(1, -1))
    mean = _const(scope, container, "target_mean", np.asarray(estimator.target_.mean_, dtype=dtype).reshape(1, -1))
    out = _node(scope, container, "Mul", [out, scale], "unscaled")
    _node(scope, container, "Add", [out, mean], "variable", outputs=variable)


def _transformer_converter(scope, operator, container):
    """``transform``: the activations of the transform layer, one flat row per sample."""
    import keras

    estimator = operator.raw_operator
    encoder = keras.Model(estimator.model_.inputs, estimator.model_.layers[estimator._code].output)
    out, proto_type = _network_output(scope, operator, container, encoder)
    shape = _const(scope, container, "shape", np.array([-1, estimator._n_features_out], dtype=np.int64))
    flat = _node(scope, container, "Reshape", [out, shape], "codes_flat")
    _node(scope, container, "Cast", [flat], "variable", outputs=operator.outputs[0].full_name, to=proto_type)


# ----------------------------------------------------------------------------- registration


def _float_output_parser(scope, model, inputs, custom_parsers=None):
    """skl2onnx's parsing of a regressor or transformer, with its output declared in :func:`_float_type`'s type.

    skl2onnx declares it in the type of the first input, which for a
    DataFrame is its first column's (a string column: float32): a step after
    it (``LogisticRegression`` after a ``NetTransformer``) would then be
    built for float32 while the output is float64.
    """
    from skl2onnx._parse import _get_sklearn_operator_name

    operator = scope.declare_local_operator(_get_sklearn_operator_name(type(model)), model)
    operator.inputs = inputs
    out_type = DoubleTensorType if any(isinstance(v.type, DoubleTensorType) for v in inputs) else FloatTensorType
    operator.outputs.append(scope.declare_local_variable("variable", out_type()))
    return operator.outputs


def register():
    """Register sknet's converters with skl2onnx (done on ``import sknet.onnx``; calling again is harmless)."""
    update_registered_converter(NetClassifier, "SknetNetClassifier", _classifier_shape, _classifier_converter,
                                options=_CLASSIFIER_OPTIONS)
    update_registered_converter(NetRegressor, "SknetNetRegressor", _float_output_shape(lambda est: est.n_outputs_),
                                _regressor_converter, parser=_float_output_parser)
    update_registered_converter(NetTransformer, "SknetNetTransformer",
                                _float_output_shape(lambda est: est._n_features_out), _transformer_converter,
                                parser=_float_output_parser)


register()


def to_onnx(model, X_sample, **options):
    """Convert a fitted sknet estimator, or a pipeline that contains one, to ONNX.

    skl2onnx's ``to_onnx`` with sknet's converters registered.

    Parameters
    ----------
    model : estimator
        A fitted :class:`~sknet.NetClassifier`, :class:`~sknet.NetRegressor`, or
        any scikit-learn estimator (``Pipeline``, ``ColumnTransformer``,
        ``CalibratedClassifierCV``...) that contains them.
    X_sample : array-like or DataFrame
        A few rows of input: their dtype (float32 or float64) and per-row
        shape set the ONNX input (a DataFrame gives one input per column).
        For an estimator fitted on a raw DataFrame (or a pipeline that starts
        with one), each column's input type comes from its fitted role, not
        from the sample's values: string for a categorical column, double
        (float for a float32 column) for the others. A polars DataFrame is
        read as pandas.
    **options
        Passed to ``skl2onnx.to_onnx``: ``options={"zipmap": False}`` (or
        ``{id(clf): {...}}``), ``target_opset``, ``initial_types``...

    Returns
    -------
    onnx.ModelProto
        Serialize it with ``.SerializeToString()`` and run it with
        ``onnxruntime.InferenceSession``.

    Notes
    -----
    Unlike skl2onnx's ``to_onnx``, this one rewrites every ``ai.onnx.ml``
    ``Scaler`` node on a float32 input (what skl2onnx makes of
    ``StandardScaler``, ``RobustScaler``, ``MaxAbsScaler``...) as the
    standard ``Sub`` and ``Mul`` it computes. The outputs are bitwise the
    same; onnxruntime runs ``Scaler`` on one thread, element by element,
    which took 14% of a 10,000-row call of the tutorial MLP pipeline.
    """
    if not hasattr(X_sample, "iloc") and hasattr(X_sample, "to_pandas"):  # a polars DataFrame
        X_sample = X_sample.to_pandas()
    if "initial_types" not in options:
        types = _frame_types(model, X_sample)
        if types is not None:
            return _standard_scalers(skl2onnx.to_onnx(model, initial_types=types, **options))
    return _standard_scalers(skl2onnx.to_onnx(model, X_sample, **options))


def _standard_scalers(onx):
    """``onx`` with each ``Scaler`` of a float32 tensor replaced by ``Sub(x, offset)`` then ``Mul(., scale)``.

    ``Scaler`` computes ``(x - offset) * scale`` in float32 for a float32 ``x``,
    so the two standard ops give the same bits. A ``Scaler`` of any other input
    type (float64, integers: it casts them first), or of an input whose type
    cannot be told, is left as it is.
    """
    graph = onx.graph
    if not any(node.op_type == "Scaler" and node.domain == "ai.onnx.ml" for node in graph.node):
        return onx
    elem_types = _element_types(onx)
    nodes = []
    for index, node in enumerate(graph.node):
        attrs = {a.name: list(a.floats) for a in node.attribute}
        if (node.op_type != "Scaler" or node.domain != "ai.onnx.ml"
                or elem_types.get(node.input[0]) != TensorProto.FLOAT):
            nodes.append(node)
            continue
        base = f"sknet_{node.name or 'Scaler'}_{index}"
        offset, scale, centred = (f"{base}_{part}" for part in ("offset", "scale", "centred"))
        for name, values in ((offset, attrs.get("offset", [0.0])), (scale, attrs.get("scale", [1.0]))):
            graph.initializer.append(numpy_helper.from_array(np.asarray(values, dtype=np.float32), name))
        nodes += [helper.make_node("Sub", [node.input[0], offset], [centred], name=f"{base}_Sub"),
                  helper.make_node("Mul", [centred, scale], list(node.output), name=f"{base}_Mul")]
    del graph.node[:]
    graph.node.extend(nodes)
    return onx


# ai.onnx.ml operators that ONNX's shape inference does not type: their outputs' element type.
_ML_OUTPUT_TYPES = {
    "Scaler": lambda inputs: TensorProto.FLOAT,
    "Normalizer": lambda inputs: TensorProto.FLOAT,
    "FeatureVectorizer": lambda inputs: TensorProto.FLOAT,
    "Imputer": lambda inputs: inputs[0],
    "Binarizer": lambda inputs: inputs[0],
}


def _element_types(onx):
    """Element type of every tensor of ``onx`` whose type can be told: name -> ``TensorProto`` type.

    ONNX's shape inference types the standard operators but stops at
    ``ai.onnx.ml`` ones such as ``Imputer`` and ``Scaler``; their output types
    (fixed by the operator's definition) are declared on a copy of the model
    and the inference run again, until nothing new is learnt.
    """
    model = onnx.ModelProto()
    model.CopyFrom(onx)
    types = {init.name: init.data_type for init in model.graph.initializer}
    for _ in range(len(model.graph.node) + 1):
        try:
            inferred = onnx.shape_inference.infer_shapes(model).graph
        except Exception:  # e.g. a model over protobuf's 2 GB: keep what is known
            break
        for value in [*inferred.input, *inferred.value_info, *inferred.output]:
            if value.type.tensor_type.elem_type:
                types[value.name] = value.type.tensor_type.elem_type
        learnt = False
        for node in model.graph.node:
            rule = _ML_OUTPUT_TYPES.get(node.op_type) if node.domain == "ai.onnx.ml" else None
            inputs = [types.get(name) for name in node.input]
            if rule is None or None in inputs:
                continue
            out_type = rule(inputs)
            for name in node.output:
                if name not in types and out_type:
                    types[name] = out_type
                    model.graph.value_info.append(helper.make_tensor_value_info(name, out_type, None))
                    learnt = True
        if not learnt:
            break
    return types
