"""Pickle support: the fitted ``keras.Model`` travels as Keras' own in-memory archive.

Keras 3 models pickle natively (``Model.__reduce__`` writes a ``.keras``
archive to memory), so no Keras class is patched. sknet only records the versions the state was
written with, to warn clearly when it is loaded under different ones.
"""

import warnings

from .exceptions import InconsistentVersionWarning


def versions():
    """The library versions a pickled estimator depends on."""
    import keras
    import sklearn

    from . import __version__

    return {"sknet": __version__, "keras": keras.__version__, "sklearn": sklearn.__version__}


def getstate(estimator):
    state = dict(estimator.__dict__)
    if hasattr(estimator, "model_"):
        state["_sknet_versions"] = versions()
    return state


def _major(version):
    return version.split(".")[0]


def setstate(estimator, state):
    saved = state.pop("_sknet_versions", None)
    if saved is not None:
        current = versions()
        if _major(saved["keras"]) != _major(current["keras"]):
            raise RuntimeError(
                f"this {type(estimator).__name__} was pickled with Keras {saved['keras']} and "
                f"cannot be loaded with Keras {current['keras']}: the Keras major versions differ. "
                "Load it with the original versions and re-save model_ with keras.saving."
            )
        changed = {k: (saved[k], current[k]) for k in current if saved.get(k) != current[k]}
        if changed:
            detail = ", ".join(f"{k} {old} -> {new}" for k, (old, new) in changed.items())
            warnings.warn(
                f"loading a {type(estimator).__name__} pickled under other versions ({detail}); "
                "predictions may differ. Refit or re-save under the current versions.",
                InconsistentVersionWarning,
                stacklevel=3,
            )
    estimator.__dict__.update(state)
