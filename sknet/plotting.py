"""Learning curves from ``history_`` (needs the optional ``matplotlib``).

Install with ``pip install "sknet-keras[plot]"``.
"""

__all__ = ["plot_history"]


def _history_of(estimator):
    """The ``History`` of a fitted sknet estimator, or of the last step of a pipeline."""
    history = getattr(estimator, "history_", None)
    if history is None and hasattr(estimator, "steps"):
        history = getattr(estimator.steps[-1][1], "history_", None)
    if history is None:
        raise ValueError(
            "plot_history needs a fitted sknet estimator (or a Pipeline ending in one) "
            "with a history_ attribute."
        )
    return history


def plot_history(estimator, ax=None, metrics=None):
    """Plot per-epoch training (and validation) curves of a fitted estimator.

    Parameters
    ----------
    estimator : NetClassifier, NetRegressor or Pipeline ending in one
        A fitted estimator.
    ax : matplotlib.axes.Axes or array of Axes, default=None
        Where to draw: one axes per metric. ``None`` creates a figure with one
        subplot per metric.
    metrics : list of str, default=None
        Metric names to plot (without the ``val_`` prefix); all by default.

    Returns
    -------
    axes : numpy.ndarray of matplotlib.axes.Axes
        One axes per metric; the training curve and, when recorded, the
        validation curve (``val_<metric>``) share it.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from sklearn.datasets import load_iris
    >>> from sknet import NetClassifier
    >>> from sknet.plotting import plot_history
    >>> X, y = load_iris(return_X_y=True)
    >>> clf = NetClassifier(epochs=5, metrics=["accuracy"], validation_split=0.2,
    ...                     random_state=0).fit(X, y)
    >>> [a.get_title() for a in plot_history(clf)]
    ['loss', 'accuracy']
    """
    try:
        import matplotlib.pyplot as plt
        from matplotlib.ticker import MaxNLocator
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError("plot_history needs matplotlib: pip install 'sknet-keras[plot]'") from exc
    import numpy as np

    history = _history_of(estimator)
    names = [k for k in history if not k.startswith("val_")]
    if metrics is not None:
        unknown = sorted(set(metrics) - set(names))
        if unknown:
            raise ValueError(f"metrics {unknown} are not in history_ (available: {names}).")
        names = list(metrics)
    if ax is None:
        _, ax = plt.subplots(1, len(names), figsize=(4.5 * len(names), 3.5), squeeze=False)
    axes = np.atleast_1d(np.asarray(ax, dtype=object)).ravel()
    if len(axes) != len(names):
        raise ValueError(f"ax has {len(axes)} axes but {len(names)} metrics are plotted ({names}).")
    epochs = np.arange(1, history.n_epochs + 1)
    for axis, name in zip(axes, names, strict=True):
        axis.plot(epochs, history[name], label="train")
        if "val_" + name in history:
            axis.plot(epochs, history["val_" + name], label="validation")
        axis.set_title(name)
        axis.set_xlabel("epoch")
        axis.xaxis.set_major_locator(MaxNLocator(integer=True))
        axis.legend()
    return axes
