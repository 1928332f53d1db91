"""The head rule: which layers of a spec are its output block, and what the block outputs.

A spec ends in its own output layer ("the head") only when its last layers
are an *output block*: a ``Dense`` layer with the target's width, optionally
followed by parameter-free activation layers (``Activation``, ``Softmax``,
``ReLU``, ``LeakyReLU``, ``ELU``), whose *effective activation* is an output
activation for the target:

* classifier: softmax/sigmoid with the units the target needs
  (probabilities), or linear with those units (logits, the Keras
  ``from_logits=True`` convention);
* regressor: linear, sigmoid, tanh, softplus or exponential.

The block's effective activation is the last non-linear activation applied
(the ``Dense`` layer's own, then each activation layer's in turn): the Keras
tutorial's ``Dense(10)`` followed by ``Activation("softmax")`` is a softmax
output exactly as ``Dense(10, activation="softmax")`` is, and Keras trains
both the same way. A block is one unit: either it is the head, kept as
written, or all of it is hidden and sknet appends the head after it.

Anything else (``Dense(100, "relu")`` when y happens to have 100 outputs,
``Dense(1)`` followed by ``ReLU()`` for a regressor) is hidden, and sknet
appends the head. A softmax/sigmoid block with the wrong units is an error,
never silently a hidden layer. ``ReLU``, ``LeakyReLU`` and ``ELU`` are never
output activations; they belong to the block only so that the block's
effective activation (and ``out_activation_``) says what it computes.
"""

import keras

from .._faithful import is_library

# Parameter-free layers that apply an activation: the tail of an output block.
_ACTIVATION_LAYERS = {
    keras.layers.ReLU: "relu",
    keras.layers.LeakyReLU: "leaky_relu",
    keras.layers.ELU: "elu",
}


def activation_name(layer):
    """The name of a layer's output activation (``"linear"`` for none), or None if unknown."""
    if isinstance(layer, keras.layers.Softmax):
        return "softmax" if layer.axis in (-1, [-1]) else f"softmax(axis={layer.axis})"
    for cls, name in _ACTIVATION_LAYERS.items():
        if isinstance(layer, cls):
            return name
    activation = getattr(layer, "activation", None)
    if activation is None:
        return None
    if not is_library(activation):  # the user's own function (a closure, a lambda): never a Keras name
        return f"<{getattr(activation, '__qualname__', type(activation).__name__)}>"
    name = keras.activations.serialize(activation)
    return name if isinstance(name, str) else str(name)


def is_activation_layer(layer):
    """Whether ``layer`` only applies an activation (no weights): part of an output block's tail."""
    return isinstance(layer, (keras.layers.Activation, keras.layers.Softmax, *_ACTIVATION_LAYERS))


def effective_activation(names):
    """The activation of layers applied in order ``names``: the last non-linear one (None: unknown)."""
    effective = "linear"
    for name in names:
        if name != "linear":
            effective = name
    return effective


def output_block(layers):
    """``(index of its Dense, effective activation)`` of the output block that ends ``layers``, or None.

    Parameters
    ----------
    layers : list of keras.layers.Layer
        A spec's fresh layers, in order.
    """
    start = len(layers)
    while start > 0 and is_activation_layer(layers[start - 1]):
        start -= 1
    if start == 0 or not isinstance(layers[start - 1], keras.layers.Dense):
        return None
    return start - 1, effective_activation(activation_name(layer) for layer in layers[start - 1:])


def _describe_block(layers, index):
    dense = layers[index]
    if index == len(layers) - 1:
        return f"Dense({dense.units}, activation={activation_name(dense)!r})"
    tail = ", ".join(f"{type(layer).__name__}({activation_name(layer)!r})" for layer in layers[index + 1:])
    return f"Dense({dense.units}, activation={activation_name(dense)!r}) followed by {tail}"


def is_head_block(layers, head):
    """Whether ``layers`` (a spec's fresh layers) end in the output block ``head`` needs; see the head rule.

    Raises
    ------
    ValueError
        For a classifier's softmax/sigmoid block with units the target does not take.
    """
    block = output_block(layers)
    if block is None:
        return False
    index, activation = block
    units = layers[index].units
    kind = head.output_kind(units, activation)
    if kind is None and head.classifier and activation in ("softmax", "sigmoid"):
        raise ValueError(
            f"the spec ends in {_describe_block(layers, index)}: {units} unit(s) with activation {activation!r}, "
            f"but the target needs {head.describe()}; remove it (sknet adds the right head) or fix its units."
        )
    return kind is not None


def block_output(layers):
    """``(units, activation)`` of the output block that ends a built network's ``layers`` (the head)."""
    index, activation = output_block(layers)
    return layers[index].units, activation


def _feeds(previous, layer):
    """Whether ``previous``'s output is ``layer``'s input (a chain in a functional model)."""
    try:
        return previous.output is layer.input
    except Exception:  # Keras raises AttributeError or ValueError: a layer called more than once, or never
        return False


def output_activation(model):
    """The effective activation of ``model``'s output (``"linear"``, ``"softmax"``...), or None if unknown.

    Walks back from the output layer over activation layers (the output
    block's tail) to the layer that computes the output, through nested
    models; any model works, a build callable's included.
    """
    layers = [layer for layer in model.layers if not isinstance(layer, keras.layers.InputLayer)]
    names = []
    for position in range(len(layers) - 1, -1, -1):
        layer = layers[position]
        if isinstance(layer, keras.Model):
            names.append(output_activation(layer))
            break
        names.append(activation_name(layer))
        if not is_activation_layer(layer):
            break
        if position and not isinstance(model, keras.Sequential) and not _feeds(layers[position - 1], layer):
            names.append(None)  # the activation's input comes from elsewhere: unknown
            break
    return effective_activation(reversed(names)) if names else None


def head_config(head):
    """The serialized output layer sknet adds for ``head`` (its initializer's seed still to be set)."""
    initializer = {"module": "keras.initializers", "class_name": "GlorotUniform", "config": {"seed": None}}
    return {"module": "keras.layers", "class_name": "Dense", "config": {
        "units": head.units, "activation": head.activation, "name": "sknet_head", "kernel_initializer": initializer,
    }}
