"""Tables: a DataFrame in, as it is, and the defaults that train well on it.

================================  ==========================================================
module                            concern
================================  ==========================================================
:mod:`._columns`                  column roles from dtypes (``categorical_features``), the
                                  values of a column as numbers or as strings
:mod:`._encoder`                  :class:`TableEncoder`: medians, robust scales, indicators,
                                  category codes with missing and unknown buckets
:mod:`._layers`                   :class:`TableEmbedding`: the network's first layer
:mod:`._defaults`                 what ``"auto"`` parameters and ``layers=None`` mean for a
                                  table
================================  ==========================================================

This package never imports the engine: the estimators fit the encoder in
``fit``, give the network a :class:`TableEmbedding` in front of the user's
layers (``sknet._spec.build_model(front=...)``) and train on the encoded
float32 array like on any other.
"""

from ._columns import is_frame, is_table
from ._defaults import default_layers, resolve
from ._encoder import TableEncoder
from ._layers import TableEmbedding, embedding_dim

__all__ = ["TableEmbedding", "TableEncoder", "default_layers", "embedding_dim", "is_frame", "is_table", "resolve"]
