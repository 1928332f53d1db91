"""A raw pandas DataFrame in: numbers, strings, categories, booleans and missing values, as they are.

No ColumnTransformer: ``NetClassifier`` reads the column roles from the
dtypes (``categorical_features="from_dtype"``, as in
``HistGradientBoostingClassifier``), learns the encoding in ``fit`` (medians,
robust scales and missing-value indicators for numbers; codes with missing and
unknown buckets and an embedding per category column) and trains its table
recipe (early stopping on a held-out fifth). The same frame goes to gradient
boosting and to the usual one-hot ``MLPClassifier`` pipeline for comparison.
A category never seen in ``fit`` and missing values at ``predict`` are not
errors. The data are generated (a small churn-like table).

Usage: python examples/tabular_pandas.py [--epochs 100]
"""

import argparse

from _quiet import quiet_tensorflow

quiet_tensorflow()  # before Keras/sknet import TensorFlow: its start-up chatter off, its errors kept

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from sklearn.compose import make_column_selector, make_column_transformer  # noqa: E402
from sklearn.ensemble import HistGradientBoostingClassifier  # noqa: E402
from sklearn.impute import SimpleImputer  # noqa: E402
from sklearn.metrics import roc_auc_score  # noqa: E402
from sklearn.model_selection import train_test_split  # noqa: E402
from sklearn.neural_network import MLPClassifier  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import OneHotEncoder, StandardScaler  # noqa: E402

from sknet import NetClassifier  # noqa: E402


def make_table(n=3000, seed=0):
    """A churn-like table with the column types and gaps of real ones."""
    rng = np.random.RandomState(seed)
    frame = pd.DataFrame({
        "age": rng.randint(18, 80, n).astype(float),
        "monthly_fee": rng.gamma(4.0, 12.0, n).round(2),
        "tenure_months": pd.array(rng.randint(0, 72, n), dtype="Int64"),
        "support_calls": rng.poisson(1.5, n),
        "plan": pd.Categorical(rng.choice(["basic", "plus", "premium"], n, p=[0.5, 0.3, 0.2])),
        "region": rng.choice(["north", "south", "east", "west"], n).astype(object),
        "paperless": rng.rand(n) > 0.4,
    })
    score = (-0.04 * frame.tenure_months.astype(float) + 0.03 * frame.monthly_fee
             + 1.5 * (frame.support_calls >= 4) + frame.plan.map({"basic": 0.8, "plus": 0.0, "premium": -0.8}
                                                               ).astype(float)
             + 0.3 * (frame.region == "south") + rng.normal(0, 0.5, n))
    frame["churn"] = np.where(score > score.median(), "yes", "no")
    frame.loc[rng.rand(n) < 0.1, "age"] = np.nan  # gaps, as in real tables
    frame.loc[rng.rand(n) < 0.05, "region"] = None
    frame.loc[rng.rand(n) < 0.05, "tenure_months"] = pd.NA
    return frame


def one_hot_mlp(seed):
    """The usual pipeline: impute and scale the numbers, impute and one-hot the categories, MLPClassifier."""
    numbers = make_pipeline(SimpleImputer(strategy="median"), StandardScaler())
    categories = make_pipeline(SimpleImputer(strategy="most_frequent"), OneHotEncoder(handle_unknown="ignore"))
    encode = make_column_transformer((numbers, make_column_selector(dtype_include="number")),
                                     (categories, make_column_selector(dtype_exclude="number")))
    return make_pipeline(encode, MLPClassifier(random_state=seed))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=100, help="at most this many (early stopping decides)")
    args = parser.parse_args(argv)

    frame = make_table()
    X, y = frame.drop(columns="churn"), frame["churn"]
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.25, stratify=y, random_state=0)
    print("dtypes:", dict(X.dtypes.astype(str)))

    net = NetClassifier(epochs=args.epochs, random_state=0).fit(X_train, y_train)  # the raw frame
    encoder = net.table_encoder_
    print("numeric columns:", [X.columns[i] for i in encoder.numeric_],
          "| categorical:", [X.columns[i] for i in encoder.categorical_])
    print(f"epochs run (early stopping): {net.n_iter_}, classes: {list(net.classes_)}")

    hgb_X = X_train.astype({"region": "category"})
    hgb = HistGradientBoostingClassifier(categorical_features="from_dtype", random_state=0).fit(hgb_X, y_train)
    mlp = one_hot_mlp(0).fit(X_train.astype({"tenure_months": float}), y_train)
    scores = {
        "sknet NetClassifier, raw frame": roc_auc_score(y_test, net.predict_proba(X_test)[:, 1]),
        "HistGradientBoosting (category dtype)": roc_auc_score(
            y_test, hgb.predict_proba(X_test.astype({"region": hgb_X["region"].dtype}))[:, 1]),
        "one-hot MLPClassifier pipeline": roc_auc_score(
            y_test, mlp.predict_proba(X_test.astype({"tenure_months": float}))[:, 1]),
    }
    for name, auc in scores.items():
        print(f"test ROC AUC, {name}: {auc:.4f}")

    new = X_test.head(3).copy()
    new["region"] = ["mars", None, "north"]  # an unseen category and a missing one: buckets, not errors
    new["age"] = np.nan
    print(new.assign(predicted=net.predict(new)).to_string())
    return net, scores


if __name__ == "__main__":
    main()
