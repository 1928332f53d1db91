"""Training and inference engine: the only package that knows TensorFlow performance tricks.

============================  ====================================================
module                        concern
============================  ====================================================
:mod:`._cache`                trace caches and their keys (architecture signatures)
:mod:`._trainer`              the single-device trainer: an epoch per traced call
:mod:`._loop`                 the epoch loop, callbacks, NaN and interrupt handling
:mod:`._epochs`               several epochs per traced call when nothing watches them
:mod:`._predict`              prediction without ``model.predict``
:mod:`._inputs`               dense tensors or sparse rows, batch by batch
:mod:`._distributed`          the ``tf.distribute`` training loop
:mod:`._fused`                fused optimizer kernels (SGD, RMSprop, Adam)
:mod:`._state`                weights and optimizer state between models
============================  ====================================================
"""

from ._cache import MAX_CACHED as _MAX_CACHED
from ._cache import PREDICTORS as _PREDICTORS
from ._cache import TRAINERS as _TRAINERS
from ._cache import clear_caches
from ._distributed import rehome, train_distributed
from ._inputs import predict_spec
from ._predict import PREDICT_CHUNK, ServingCache, as_float
from ._trainer import train

__all__ = [
    "PREDICT_CHUNK", "ServingCache", "as_float", "clear_caches", "predict_spec", "rehome", "train",
    "train_distributed",
    "_MAX_CACHED", "_PREDICTORS", "_TRAINERS",
]
