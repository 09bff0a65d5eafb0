"""The baseline a practitioner tries first on text classification: TF-IDF n-grams + logistic regression.

Word 1-2-grams and character 2-5-grams (within word boundaries), sublinear term frequencies, both
L2-normalised and side by side; scikit-learn's logistic regression with its regularisation strength C
picked on the validation split (or by 5-fold cross-validation on train when there is none), then refitted
on train + validation, which is what the neural model sees too. Needs scikit-learn (``pip install
'rnnkit[bench]'``).
"""

from __future__ import annotations

from collections.abc import Sequence

C_GRID = (0.5, 1.0, 2.0, 4.0, 8.0, 16.0)


def _features():
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.pipeline import FeatureUnion

    words = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, token_pattern=r"(?u)\b\w+\b")
    chars = TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), sublinear_tf=True, min_df=2)
    return FeatureUnion([("words", words), ("chars", chars)])


def _model(c: float):
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    return make_pipeline(_features(), LogisticRegression(C=c, max_iter=2000))


def tfidf_logistic_regression(
    train: Sequence[tuple[str, str]], val: Sequence[tuple[str, str]], test: Sequence[tuple[str, str]]
) -> dict[str, object]:
    """Fit on ``(text, label)`` pairs and return test accuracy, the chosen C and how it was chosen.

    Example:
        >>> train = [("good film", "pos"), ("bad film", "neg"), ("great fun", "pos"), ("awful mess", "neg")]
        >>> test = [("good fun", "pos"), ("awful film", "neg")]
        >>> result = tfidf_logistic_regression(train * 5, train, test)
        >>> result["test_accuracy"]
        1.0
    """
    import numpy as np
    from sklearn.model_selection import cross_val_score

    texts, labels = [t for t, _ in train], [y for _, y in train]
    if val:
        scores = {}
        for c in C_GRID:
            model = _model(c).fit(texts, labels)
            scores[c] = float(np.mean(model.predict([t for t, _ in val]) == np.array([y for _, y in val])))
        chosen_by = "validation split"
    else:
        scores = {c: float(cross_val_score(_model(c), texts, labels, cv=5).mean()) for c in C_GRID}
        chosen_by = "5-fold cross-validation on train"
    best = max(C_GRID, key=lambda c: (scores[c], -c))
    model = _model(best).fit(texts + [t for t, _ in val], labels + [y for _, y in val])
    guess = model.predict([t for t, _ in test])
    accuracy = float(np.mean(guess == np.array([y for _, y in test])))
    return {
        "name": "TF-IDF (word 1-2 + char 2-5 grams) + logistic regression",
        "test_accuracy": accuracy,
        "C": best,
        "C_chosen_by": chosen_by,
    }
