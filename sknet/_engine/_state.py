"""Model state: variables, copies between models of one architecture, clean clones.

The engine modules use it to move weights between the estimator's
``model_`` and the cached working models: plain Keras, and one traced
function that moves a whole list of variables in one call
(:class:`BatchAssign`).
"""

import keras
import tensorflow as tf

from .._compat import call_flat
from .._faithful import faithful_config, rebuild
from .._seeds import seeded_python_random


def state_variables(model):
    """All variables that define a model's behaviour (weights, BN statistics, RNG seeds)."""
    return list(model.trainable_variables) + list(model.non_trainable_variables)


def assign_all(variables, values):
    """Assign ``values`` (arrays or variables) to ``variables``, pairwise."""
    for variable, value in zip(variables, values, strict=True):
        variable.assign(value)


def copy_state(source, target):
    """Assign every state variable of ``source`` to ``target`` (same architecture)."""
    assign_all(state_variables(target), state_variables(source))


def _handle(value):
    """A Keras variable's TensorFlow variable; anything else as is."""
    return value.value if isinstance(value, keras.Variable) else value


class BatchAssign:
    """:func:`assign_all` in one call of a traced function.

    Each eager ``assign`` is a TensorFlow op dispatch of some tens of
    microseconds, and a fit moves about thirty variables (the initial weights
    and optimizer state into the trainer, the final ones out of it); one call
    moves a whole list for the price of one dispatch. The traced function
    takes variable *handles*, so the fresh model of every fit of one
    architecture reuses it; values are copied exactly. Tracing costs some
    25 ms, so the first :data:`EAGER_CALLS` calls of a layout assign one
    variable at a time: a trainer's first fit (one call in, one out) does not
    pay for the trace, its later fits take the traced call.
    """

    EAGER_CALLS = 2

    def __init__(self):
        self._functions = {}  # (dtype, source is a variable) per pair -> concrete function, or eager calls so far

    def __call__(self, variables, values):
        """Assign ``values`` (variables or tensors) to ``variables``, pairwise."""
        targets, sources = [_handle(v) for v in variables], [_handle(v) for v in values]
        if len(targets) != len(sources) or any(
            target.shape != source.shape for target, source in zip(targets, sources, strict=True)
        ):
            raise ValueError("BatchAssign: the variables and values differ in number or shapes.")
        pairs = list(zip(targets, sources, strict=True))
        key = tuple((target.dtype, isinstance(source, tf.Variable)) for target, source in pairs)
        function = self._functions.get(key, 0)
        if isinstance(function, int):
            if function < self.EAGER_CALLS:
                self._functions[key] = function + 1
                assign_all(targets, sources)
                return
            function = self._functions[key] = _assign_function(key)
        call_flat(function, [t.handle for t in targets] + [
            source.handle if isinstance(source, tf.Variable) else tf.convert_to_tensor(source, target.dtype)
            for target, source in pairs
        ])


def _assign_function(key):
    """A concrete ``f(target handles..., sources...)`` assigning each source to its target."""
    handle = tf.TensorSpec([], tf.resource)
    signature = [handle] * len(key) + [handle if variable else tf.TensorSpec(None, dtype) for dtype, variable in key]

    def assign(*args):
        targets, sources = args[: len(key)], args[len(key):]
        for target, source, (dtype, variable) in zip(targets, sources, key, strict=True):
            value = tf.raw_ops.ReadVariableOp(resource=source, dtype=dtype) if variable else source
            tf.raw_ops.AssignVariableOp(resource=target, value=value)

    return tf.function(assign, input_signature=signature, autograph=False).get_concrete_function()


def seeded_build():
    """Building or cloning a model draws Keras' default seeds from Python's ``random``.

    A fixed seed, under sknet's lock, keeps the user's ``random`` stream
    untouched (the weights of a clone are overwritten anyway).
    """
    return seeded_python_random(0)


def clone_architecture(model):
    """A fresh, uncompiled copy of ``model``'s architecture (new, unset weights).

    ``keras.models.clone_model`` re-compiles a compiled model from its compile
    config: that looks the optimizer up by its registered name (so it fails for
    a user's unregistered optimizer class) and builds an optimizer the copy
    never uses. Cloning a shallow stand-in marked uncompiled avoids both
    without touching ``model``.

    Every layer is copied by :func:`sknet._faithful.rebuild`: the copy calls
    the very functions the original holds (a closure or lambda activation,
    which Keras' own config copy could not find again by name), and nested
    models are cloned layer by layer the same way.
    """
    options = {"clone_function": rebuild, "recursive": True}
    if getattr(model.inputs[0], "sparse", False):  # clone_model would give the copy a dense Input
        tensor = keras.Input(batch_shape=model.inputs[0].shape, sparse=True, name=model.inputs[0].name)
        options["input_tensors"] = tensor if isinstance(model, keras.Sequential) else [tensor]
    if not getattr(model, "compiled", False):
        return keras.models.clone_model(model, **options)
    stand_in = object.__new__(type(model))
    stand_in.__dict__.update(model.__dict__)
    stand_in.__dict__["compiled"] = False
    return keras.models.clone_model(stand_in, **options)


def optimizer_with_state(template, variables, state=None, config=None):
    """A fresh optimizer of ``template``'s class and config, built on ``variables``.

    Parameters
    ----------
    template : keras.optimizers.Optimizer
        Only its class and config are used (this fit's hyperparameters).
    variables : list of variables
        The model variables the optimizer updates.
    state : list of variables or arrays, or None
        Values for the new optimizer's own variables (iterations, learning
        rate, moments), in order; None leaves them fresh.
    config : tuple or None
        ``sknet._faithful.faithful_config(template)`` read beforehand: a
        template whose variables live under another ``tf.distribute``
        strategy cannot be read inside the new strategy's scope.
    """
    config, objects = faithful_config(template) if config is None else config
    # A copy: LossScaleOptimizer.from_config pops its inner optimizer out of the dict it is given.
    optimizer = rebuild(template, dict(config), objects)
    optimizer.build(variables)
    if state is not None:
        assign_all(optimizer.variables, state)
    return optimizer


def continuable_state(source, target):
    """``source``'s variables if ``target`` (same class, same layout) can continue them, else None.

    A warm start continues the optimizer state (iterations, moments) when the
    optimizer class and its variable layout are unchanged; another class (or,
    e.g., ``amsgrad`` switched on) starts from a fresh state.
    """
    if source is None or not source.built or type(source) is not type(target):
        return None
    if [v.shape for v in source.variables] != [v.shape for v in target.variables]:
        return None
    return list(source.variables)
