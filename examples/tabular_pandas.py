"""A pandas DataFrame with numeric and categorical columns, end to end.

``ColumnTransformer(OneHotEncoder, StandardScaler)`` feeds a NetClassifier;
the pipeline keeps the column names (``feature_names_in_``) and checks them at
predict time. The data are generated (a small churn-like table).

Usage: python examples/tabular_pandas.py [--epochs 30]
"""

import argparse

from _quiet import quiet_tensorflow

quiet_tensorflow()  # before Keras/sknet import TensorFlow: its start-up chatter off, its errors kept

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from keras.layers import Dense, Dropout  # noqa: E402
from sklearn.compose import ColumnTransformer  # noqa: E402
from sklearn.model_selection import train_test_split  # noqa: E402
from sklearn.pipeline import Pipeline  # noqa: E402
from sklearn.preprocessing import OneHotEncoder, StandardScaler  # noqa: E402

from sknet import NetClassifier  # noqa: E402


def make_table(n=2000, seed=0):
    rng = np.random.RandomState(seed)
    frame = pd.DataFrame({
        "age": rng.randint(18, 80, n),
        "monthly_fee": rng.gamma(4.0, 12.0, n).round(2),
        "tenure_months": rng.randint(0, 72, n),
        "plan": rng.choice(["basic", "plus", "premium"], n, p=[0.5, 0.3, 0.2]),
        "region": rng.choice(["north", "south", "east", "west"], n),
    })
    score = (-0.04 * frame.tenure_months + 0.03 * frame.monthly_fee
             + frame.plan.map({"basic": 0.8, "plus": 0.0, "premium": -0.8}) + rng.normal(0, 0.5, n))
    frame["churn"] = np.where(score > score.median(), "yes", "no")
    return frame


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=30)
    args = parser.parse_args(argv)

    frame = make_table()
    X, y = frame.drop(columns="churn"), frame["churn"]
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.25, stratify=y, random_state=0)
    pre = ColumnTransformer([
        ("categorical", OneHotEncoder(handle_unknown="ignore"), ["plan", "region"]),
        ("numeric", StandardScaler(), ["age", "monthly_fee", "tenure_months"]),
    ])
    model = Pipeline([
        ("pre", pre),
        ("net", NetClassifier([Dense(32, activation="relu"), Dropout(0.1)], epochs=args.epochs,
                              random_state=0)),
    ]).fit(X_train, y_train)
    print("columns seen by the pipeline:", list(model.feature_names_in_))
    print("features seen by the network:", list(model["pre"].get_feature_names_out()))
    print("classes:", list(model.classes_))
    print(f"test accuracy: {model.score(X_test, y_test):.4f}")
    print(X_test.head(3).assign(predicted=model.predict(X_test.head(3))).to_string())
    return model


if __name__ == "__main__":
    main()
