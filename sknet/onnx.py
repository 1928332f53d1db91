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
  skl2onnx's ZipMap, ``zipmap=True`` casts bool labels to int64;
- regressors give ``variable``, of shape ``(n, n_outputs)``;
- :class:`~sknet.NetTransformer` gives ``variable``: ``transform``'s output,
  of shape ``(n, n_features_out)``.

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
        Target ONNX opset; None: :data:`TF2ONNX_MAX_OPSET`.

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
    if opset > TF2ONNX_MAX_OPSET:
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
    """Cast and reshape the operator's input for ``model`` (default: ``model_``); returns ``(out, proto_type)``."""
    estimator = operator.raw_operator
    var = operator.inputs[0]
    proto_type = TensorProto.DOUBLE if isinstance(var.type, DoubleTensorType) else TensorProto.FLOAT
    x = var.full_name
    if not isinstance(var.type, FloatTensorType):
        x = _node(scope, container, "Cast", [x], "x32", to=TensorProto.FLOAT)
    shape = _const(scope, container, "shape", np.array((-1,) + tuple(estimator.input_shape_), dtype=np.int64))
    x = _node(scope, container, "Reshape", [x, shape], "x_net")
    return _add_network(scope, container, estimator, x, estimator.model_ if model is None else model), proto_type


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


def _classifier_shape(operator):
    check_input_and_output_numbers(operator, input_count_range=1, output_count_range=[1, 2])
    estimator = operator.raw_operator
    n = operator.inputs[0].get_first_dimension()
    table, width = _decoded(estimator)
    if table is None:
        label_type = _label_type(np.zeros(1, dtype=estimator.target_.y_dtype_))[0]
    else:
        label_type = _label_type(table)[0]
    operator.outputs[0].type = label_type([n] if width is None else [n, width])
    if len(operator.outputs) == 2:
        proba_type = DoubleTensorType if isinstance(operator.inputs[0].type, DoubleTensorType) else FloatTensorType
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
    if target.kind == "multilabel":
        to = {BooleanTensorType: TensorProto.BOOL, Int64TensorType: TensorProto.INT64,
              FloatTensorType: TensorProto.FLOAT, DoubleTensorType: TensorProto.DOUBLE}
        label_type = _label_type(np.zeros(1, dtype=target.y_dtype_))[0]
        _node(scope, container, "Cast", [positive], "label", outputs=label, to=to[label_type])
    else:
        if units == 1:
            codes = _node(scope, container, "Cast", [positive], "codes2d", to=TensorProto.INT64)
            axis = _const(scope, container, "axis", np.array([1], dtype=np.int64))
            codes = _node(scope, container, "Squeeze", [codes, axis], "codes")
        else:
            codes = _node(scope, container, "ArgMax", [out], "codes", axis=1, keepdims=0)
        values = _const(scope, container, "classes", _label_type(table)[1])
        _node(scope, container, "Gather", [values, codes], "label", outputs=label, axis=0)
    if len(operator.outputs) == 2:
        _node(scope, container, "Cast", [proba], "probabilities", outputs=operator.outputs[1].full_name,
              to=proto_type)


def _float_output_shape(width):
    """A shape calculator for one float output of ``width(estimator)`` columns, in the input's float type."""

    def shape(operator):
        check_input_and_output_numbers(operator, input_count_range=1, output_count_range=1)
        n = operator.inputs[0].get_first_dimension()
        out_type = DoubleTensorType if isinstance(operator.inputs[0].type, DoubleTensorType) else FloatTensorType
        operator.outputs[0].type = out_type([n, width(operator.raw_operator)])

    return shape


def _regressor_converter(scope, operator, container):
    out, proto_type = _network_output(scope, operator, container)
    _node(scope, container, "Cast", [out], "variable", outputs=operator.outputs[0].full_name, to=proto_type)


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


def register():
    """Register sknet's converters with skl2onnx (done on ``import sknet.onnx``; calling again is harmless)."""
    update_registered_converter(NetClassifier, "SknetNetClassifier", _classifier_shape, _classifier_converter,
                                options=_CLASSIFIER_OPTIONS)
    update_registered_converter(NetRegressor, "SknetNetRegressor",
                                _float_output_shape(lambda est: est.n_outputs_), _regressor_converter)
    update_registered_converter(NetTransformer, "SknetNetTransformer",
                                _float_output_shape(lambda est: est._n_features_out), _transformer_converter)


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
    X_sample : array-like or pandas.DataFrame
        A few rows of input: their dtype (float32 or float64) and per-row
        shape set the ONNX input (a DataFrame gives one input per column).
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
