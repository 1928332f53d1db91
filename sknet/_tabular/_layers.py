"""The network's table front: numbers clipped (and optionally embedded), categories embedded.

:class:`TableEmbedding` is the first layer of a network fitted on a table.
It reads the encoded table (:class:`sknet._tabular.TableEncoder`:
``[numbers, indicators, codes]``) and hands the user's layers one vector per
row: ``[numbers, indicators, embeddings]``.

* **Numbers** are robust-scaled by the encoder, then *smoothly clipped* here,
  ``x / sqrt(1 + (x / 3) ** 2)`` (RealMLP, Holzmüller et al. 2024): close to
  ``x`` within a few scales of the median, bounded by 3 far out, so a heavy
  tail (a price, a count) cannot dominate the first layer.
* ``numeric_embedding="periodic"`` adds, per number, RealMLP's "PBLD"
  embedding (after Gorishniy et al. 2022, "On Embeddings for Numerical
  Features in Tabular Deep Learning"): ``cos(2 pi w x + b)`` over
  ``n_frequencies`` trainable frequencies (``w ~ N(0, frequency_scale**2)``),
  mapped by a per-column linear layer to ``periodic_dim`` values; the clipped
  number itself stays beside them. It lets the network bend each number's
  effect before the numbers are mixed.
* ``numeric_embedding="piecewise"`` adds, per number, the piecewise-linear
  encoding of Gorishniy et al. (2022): with bin edges at the training
  column's quantiles (``bin_edges``, 16 bins, learned by the encoder and held
  as non-trainable weights), bin ``t`` reads ``clip((x - b[t-1]) / (b[t] -
  b[t-1]), 0, 1)`` (a step at ``b[t]`` for an empty bin). A threshold on a
  number, which trees find at once, is then one weight away.
* **Categories**: one trainable embedding per column, of
  :func:`embedding_dim` values, initialised with standard deviation
  ``1/sqrt(dim)`` so that a category starts with the weight of one one-hot
  entry. Code 0 (missing) and 1 (unseen or rare) have their own rows.
"""

import math

import keras
from keras import ops

MAX_EMBEDDING_DIM = 16


def embedding_dim(n_levels):
    """Width of a category's embedding: ``min(16, round(1.6 * n_levels ** 0.56))``, at least 1.

    The fastai rule of thumb (Howard & Gugger 2020), capped at 16: it grows
    slowly with the number of levels (``n_levels`` counts the missing and
    unknown buckets): 3 values for a binary column, 6 for 10 levels, 15 for 50.
    """
    return max(1, min(MAX_EMBEDDING_DIM, round(1.6 * n_levels**0.56)))


@keras.saving.register_keras_serializable(package="sknet")
class TableEmbedding(keras.layers.Layer):
    """Clip the numbers of an encoded table and embed its categories.

    Parameters
    ----------
    n_numeric : int
        Leading columns that are robust-scaled numbers.
    n_indicators : int
        Following 0/1 missing-value indicators, passed through.
    n_levels : list of int
        For each trailing code column, its number of codes.
    embedding_dims : list of int or None
        Width of each category's embedding (None: :func:`embedding_dim`).
    numeric_embedding : None, "periodic" or "piecewise"
        Embed each number (see the module docstring).
    n_frequencies, periodic_dim : int
        Sizes of the periodic embedding.
    frequency_scale : float
        Standard deviation of the initial frequencies.
    n_bins : int
        Bins of the piecewise-linear embedding.
    seed : int or None
        Seed of the initializers.
    bin_edges : array-like of shape (n_numeric, n_bins + 1) or None
        Initial bin edges (the encoder's ``quantiles_``); not part of the
        config: they are weights, saved and loaded with the others.
    """

    def __init__(self, n_numeric, n_indicators, n_levels, embedding_dims=None, numeric_embedding=None,
                 n_frequencies=16, periodic_dim=3, frequency_scale=0.1, n_bins=16, seed=None, bin_edges=None,
                 **kwargs):
        super().__init__(**kwargs)
        if numeric_embedding not in (None, "periodic", "piecewise"):
            raise ValueError(f"numeric_embedding={numeric_embedding!r}: use None, 'periodic' or 'piecewise'.")
        self.n_numeric = int(n_numeric)
        self.n_indicators = int(n_indicators)
        self.n_levels = [int(n) for n in n_levels]
        self.embedding_dims = [int(d) for d in (embedding_dims or [embedding_dim(n) for n in self.n_levels])]
        self.numeric_embedding = numeric_embedding
        self.n_frequencies = int(n_frequencies)
        self.periodic_dim = int(periodic_dim)
        self.frequency_scale = float(frequency_scale)
        self.n_bins = int(n_bins)
        self.seed = seed
        self._bin_edges = bin_edges

    def _initializer(self, kind, offset, **kwargs):
        seed = None if self.seed is None else int(self.seed) + offset
        return getattr(keras.initializers, kind)(seed=seed, **kwargs)

    def build(self, input_shape):
        self.embeddings = [
            self.add_weight(shape=(n, d), name=f"embedding_{j}",
                            initializer=self._initializer("RandomNormal", j, stddev=1 / math.sqrt(d)))
            for j, (n, d) in enumerate(zip(self.n_levels, self.embedding_dims, strict=True))
        ]
        if self.numeric_embedding == "periodic" and self.n_numeric:
            n, k, d = self.n_numeric, self.n_frequencies, self.periodic_dim
            offset = len(self.n_levels)
            self.frequencies = self.add_weight(
                shape=(n, k), name="frequencies",
                initializer=self._initializer("RandomNormal", offset, stddev=self.frequency_scale))
            self.phases = self.add_weight(
                shape=(n, k), name="phases",
                initializer=self._initializer("RandomUniform", offset + 1, minval=-math.pi, maxval=math.pi))
            self.periodic_kernel = self.add_weight(
                shape=(n, k, d), name="periodic_kernel",
                initializer=self._initializer("GlorotUniform", offset + 2))
            self.periodic_bias = self.add_weight(shape=(n, d), name="periodic_bias", initializer="zeros")
        if self.numeric_embedding == "piecewise" and self.n_numeric:
            edges = self._bin_edges
            initializer = "zeros" if edges is None else keras.initializers.Constant(ops.convert_to_tensor(edges))
            self.bin_edges = self.add_weight(shape=(self.n_numeric, self.n_bins + 1), name="bin_edges",
                                             initializer=initializer, trainable=False)

    def call(self, inputs):
        parts = []
        numbers = inputs[:, : self.n_numeric]
        if self.n_numeric:
            clipped = numbers / ops.sqrt(1.0 + ops.square(numbers / 3.0))
            parts.append(clipped)
            if self.numeric_embedding == "periodic":
                angles = 2 * math.pi * clipped[:, :, None] * self.frequencies[None] + self.phases[None]
                periodic = ops.einsum("bnk,nkd->bnd", ops.cos(angles), self.periodic_kernel) + self.periodic_bias
                parts.append(ops.reshape(periodic, (-1, self.n_numeric * self.periodic_dim)))
            elif self.numeric_embedding == "piecewise":
                parts.append(self._piecewise(numbers))
        start = self.n_numeric + self.n_indicators
        if self.n_indicators:
            parts.append(inputs[:, self.n_numeric : start])
        if self.n_levels:
            codes = ops.cast(inputs[:, start:], "int32")
            parts.extend(ops.take(table, codes[:, j], axis=0) for j, table in enumerate(self.embeddings))
        return parts[0] if len(parts) == 1 else ops.concatenate(parts, axis=-1)

    def _piecewise(self, numbers):
        low = ops.cast(self.bin_edges[None, :, :-1], numbers.dtype)
        high = ops.cast(self.bin_edges[None, :, 1:], numbers.dtype)
        width = high - low
        x = numbers[:, :, None]
        ramp = ops.clip((x - low) / ops.where(width > 0, width, 1.0), 0.0, 1.0)
        encoded = ops.where(width > 0, ramp, ops.cast(x >= high, numbers.dtype))
        return ops.reshape(encoded, (-1, self.n_numeric * self.n_bins))

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.output_width)

    @property
    def output_width(self):
        """Width of the representation the user's layers receive."""
        per_number = {"periodic": self.periodic_dim, "piecewise": self.n_bins}.get(self.numeric_embedding, 0)
        return self.n_numeric * (1 + per_number) + self.n_indicators + sum(self.embedding_dims)

    def feature_names(self, encoder):
        """Names of the output columns, from the fitted :class:`TableEncoder`."""
        names = [str(n) for n in encoder.feature_names_in_]
        numeric = [names[i] for i in encoder.numeric_]
        out = list(numeric)
        if self.numeric_embedding == "periodic":
            out += [f"{name}_periodic{d}" for name in numeric for d in range(self.periodic_dim)]
        if self.numeric_embedding == "piecewise":
            out += [f"{name}_bin{t}" for name in numeric for t in range(self.n_bins)]
        out += [f"{numeric[k]}_missing" for k in encoder.indicators_]
        for i, width in zip(encoder.categorical_, self.embedding_dims, strict=True):
            out += [f"{names[i]}_embedding{d}" for d in range(width)]
        return out

    def get_config(self):
        return {
            **super().get_config(),
            "n_numeric": self.n_numeric, "n_indicators": self.n_indicators, "n_levels": list(self.n_levels),
            "embedding_dims": list(self.embedding_dims), "numeric_embedding": self.numeric_embedding,
            "n_frequencies": self.n_frequencies, "periodic_dim": self.periodic_dim,
            "frequency_scale": self.frequency_scale, "n_bins": self.n_bins, "seed": self.seed,
        }
