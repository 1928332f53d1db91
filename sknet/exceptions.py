"""Warnings and errors that sknet raises (the public home of its exception classes).

sknet otherwise raises the standard types: ``ValueError``/``TypeError`` for
bad input (before any TensorFlow work), ``FloatingPointError`` when the
training loss becomes NaN or inf, and scikit-learn's ``NotFittedError``.
"""


class InconsistentVersionWarning(UserWarning):
    """A pickled sknet estimator is loaded under other sknet, Keras or scikit-learn versions."""


class TrainingInterruptedWarning(UserWarning):
    """``KeyboardInterrupt`` stopped training; the estimator keeps the epochs completed so far."""


__all__ = ["InconsistentVersionWarning", "TrainingInterruptedWarning"]
