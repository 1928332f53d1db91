"""Text classification: TfidfVectorizer -> NetClassifier, with the sparse matrix never densified.

The corpus is generated (nothing is downloaded): short documents on three
topics, written from topic words mixed with words every topic shares, so that
single words are ambiguous and the classifier has to weigh them. The
vectorizer's sparse TF-IDF matrix goes to the network as it is. A grid search
tunes the vectorizer and the network together, then cross-validation scores
the best pipeline.

Usage: python examples/text_classification.py [--epochs 10] [--docs 1500]
"""

import argparse

from _quiet import quiet_tensorflow

quiet_tensorflow()  # before Keras/sknet import TensorFlow: its start-up chatter off, its errors kept

import numpy as np  # noqa: E402
from keras.layers import Dense, Dropout  # noqa: E402
from sklearn.feature_extraction.text import TfidfVectorizer  # noqa: E402
from sklearn.model_selection import GridSearchCV, cross_val_score, train_test_split  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402

from sknet import NetClassifier  # noqa: E402

TOPICS = {
    "sports": "match goal team coach season player score league referee stadium win defeat training",
    "cooking": "recipe oven flour sugar butter bake simmer sauce garlic onion taste kitchen dinner",
    "computing": "code compiler memory server network kernel bug release python library thread cache",
}
SHARED = "the a new good great time day people week report today best first last long small big"


def corpus(n, seed=0):
    """``n`` generated documents and their topics."""
    rng = np.random.RandomState(seed)
    names = sorted(TOPICS)
    shared = SHARED.split()
    docs, labels = [], []
    for i in range(n):
        topic = names[i % len(names)]
        own = TOPICS[topic].split()
        other = TOPICS[names[(i + 1 + rng.randint(2)) % len(names)]].split()
        words = (list(rng.choice(own, rng.randint(2, 5))) + list(rng.choice(other, rng.randint(0, 3)))
                 + list(rng.choice(shared, rng.randint(5, 10))))
        rng.shuffle(words)
        docs.append(" ".join(words))
        labels.append(topic)
    return docs, np.array(labels)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--docs", type=int, default=1500)
    args = parser.parse_args(argv)

    docs, labels = corpus(args.docs)
    train_docs, test_docs, y_train, y_test = train_test_split(docs, labels, test_size=0.25, random_state=0,
                                                              stratify=labels)
    pipe = make_pipeline(
        TfidfVectorizer(),
        NetClassifier([Dense(32, activation="relu"), Dropout(0.2)], epochs=args.epochs, random_state=0),
    )
    search = GridSearchCV(pipe, {
        "tfidfvectorizer__ngram_range": [(1, 1), (1, 2)],
        "netclassifier__layers__0__units": [16, 64],
    }, cv=3).fit(train_docs, y_train)
    print(f"Best: {search.best_params_} (CV accuracy {search.best_score_:.3f})")
    X = search.best_estimator_[0].transform(test_docs)
    print(f"TF-IDF matrix of the test documents: {type(X).__name__} {X.shape}, {X.nnz} non-zeros")
    print(f"Test accuracy of the best pipeline: {search.score(test_docs, y_test):.3f}")
    scores = cross_val_score(search.best_estimator_, docs, labels, cv=3)
    print(f"3-fold cross_val_score of the best pipeline: {scores.mean():.3f} +/- {scores.std():.3f}")
    return search


if __name__ == "__main__":
    main()
