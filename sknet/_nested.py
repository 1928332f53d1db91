"""Nested parameters: one declared table of prefixes, parsed and validated in one place.

Every nested parameter is ``<prefix>__<rest>`` and is stored on the
estimator like any other parameter (so ``get_params``, ``clone`` and
``GridSearchCV`` see it), then applied by its consumer at fit time:

=============  ================================  ===========================================
prefix         form                              applied to
=============  ================================  ===========================================
``layers``     ``layers__<index>__<key>``        key ``<key>`` of the config of layer
                                                 ``<index>`` of a list or ``keras.Sequential``
                                                 spec (the layer objects are never touched)
``optimizer``  ``optimizer__<arg>``              an argument of the optimizer
``loss``       ``loss__<arg>``                   an argument of the loss
``model``      ``model__<arg>``                  a keyword argument of a callable spec
=============  ================================  ===========================================

The table's keys are the only prefixes: any other ``a__b`` parameter of the
estimator itself is an error naming the valid forms. Arguments are checked
against the object they configure (an unknown layer config key or optimizer
argument lists the valid choices).
"""

PREFIXES = {
    "layers": "layers__<index>__<key>",
    "optimizer": "optimizer__<arg>",
    "loss": "loss__<arg>",
    "model": "model__<arg>",
}


def prefix_of(key):
    """The declared prefix of a nested parameter name, or None."""
    head, sep, rest = key.partition("__")
    return head if sep and rest and head in PREFIXES else None


def _forms():
    return ", ".join(PREFIXES.values())


def split(params):
    """Group nested parameters by prefix.

    Parameters
    ----------
    params : dict
        ``{name: value}`` of nested parameters.

    Returns
    -------
    dict
        ``{"layers": {(index, key): value}, "optimizer": {arg: value},
        "loss": {...}, "model": {...}}``.

    Raises
    ------
    ValueError
        For a name without a declared prefix, or a ``layers__`` name that is
        not ``layers__<index>__<key>``.
    """
    out = {prefix: {} for prefix in PREFIXES}
    for key, value in params.items():
        prefix = prefix_of(key)
        if prefix is None:
            raise ValueError(
                f"unknown parameter {key!r}; besides the estimator's own parameters, "
                f"parameters take one of the forms {_forms()}."
            )
        rest = key[len(prefix) + 2 :]
        if prefix == "layers":
            index, _, sub = rest.partition("__")
            if not index.isdigit() or not sub:
                raise ValueError(f"{key!r}: nested layer parameters are layers__<index>__<config key>.")
            out[prefix][(int(index), sub)] = value
        else:
            out[prefix][rest] = value
    return out


def unknown_parameter_message(key, estimator_name, valid):
    """The error message of ``set_params`` for a name that is neither a parameter nor nested."""
    return (
        f"Invalid parameter {key!r} for estimator {estimator_name}. Valid parameters are: "
        f"{sorted(valid)}, plus the nested forms {_forms()}."
    )
