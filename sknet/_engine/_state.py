"""Model state: variables, copies between models of one architecture, clean clones.

Everything here is plain Keras; the engine modules use it to move weights
between the estimator's ``model_`` and the cached working models.
"""

import keras

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
    """
    options = {}
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
    config : dict or None
        ``template.get_config()`` read beforehand: a template whose variables
        live under another ``tf.distribute`` strategy cannot be read inside
        the new strategy's scope.
    """
    # A copy: LossScaleOptimizer.from_config pops its inner optimizer out of the dict it is given.
    optimizer = type(template).from_config(template.get_config() if config is None else dict(config))
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
