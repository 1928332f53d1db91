"""Per-epoch training history."""

import math


class History(dict):
    """Per-epoch logs: ``{"loss": [...], "val_loss": [...], ...}``.

    A plain ``dict`` of equal-length lists (missing values are NaN), so
    ``pandas.DataFrame(est.history_)`` works as well as :meth:`to_frame`.
    It grows across ``warm_start`` fits and ``partial_fit`` calls.
    """

    @property
    def n_epochs(self):
        """Number of epochs recorded."""
        return len(next(iter(self.values()))) if self else 0

    def append(self, logs):
        """Record one epoch's logs."""
        n = self.n_epochs
        for key in list(self) + [k for k in logs if k not in self]:
            column = self.setdefault(key, [math.nan] * n)
            column.append(float(logs.get(key, math.nan)))

    def to_frame(self):
        """The history as a ``pandas.DataFrame`` indexed by epoch (1-based)."""
        import pandas as pd

        frame = pd.DataFrame(dict(self))
        frame.index = range(1, len(frame) + 1)
        frame.index.name = "epoch"
        return frame
