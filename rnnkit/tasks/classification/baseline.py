"""Classification baselines, scored on the same test split as the model: the majority class, and the one a
practitioner tries first on text, TF-IDF n-grams + logistic regression.

TF-IDF + LR: word 1-2-grams and character 2-5-grams (within word boundaries), sublinear term frequencies,
both L2-normalised and side by side; scikit-learn's logistic regression with its regularisation strength C
picked on the validation split (or by 5-fold cross-validation on train when there is none), then refitted
on train + validation, which is what the neural model sees too. It needs scikit-learn (``pip install
'rnnkit[bench]'``); :func:`cached_tfidf_baseline` keeps each split's result, keyed by a hash of the split.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections import Counter
from collections.abc import Hashable, Mapping, Sequence
from pathlib import Path
from typing import Any

C_GRID = (0.5, 1.0, 2.0, 4.0, 8.0, 16.0)
TFIDF_NAME = "TF-IDF (word 1-2 + char 2-5 grams) + logistic regression"
Pairs = Sequence[tuple[str, str]]  # (text, label)


def majority_baseline(train_labels: Sequence[Hashable], test_labels: Sequence[Hashable]) -> dict[str, Any]:
    """The most frequent training label, predicted for every test item: its name and test accuracy.

    Example:
        >>> majority_baseline(["pos", "neg", "pos"], ["pos", "neg"])
        {'name': 'majority class (pos)', 'test_accuracy': 0.5}
    """
    majority = Counter(train_labels).most_common(1)[0][0]
    hits = sum(label == majority for label in test_labels)
    return {"name": f"majority class ({majority})", "test_accuracy": hits / max(len(test_labels), 1)}


def sklearn_available() -> bool:
    """Whether scikit-learn can be imported (the TF-IDF baseline needs it)."""
    try:
        import sklearn  # noqa: F401
    except ImportError:
        return False
    return True


def _features() -> Any:
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.pipeline import FeatureUnion

    words = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, token_pattern=r"(?u)\b\w+\b")
    chars = TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), sublinear_tf=True, min_df=2)
    return FeatureUnion([("words", words), ("chars", chars)])


def _scores_by_c(train: Pairs, held: Pairs) -> dict[float, float]:
    """Accuracy on ``held`` of the model fitted on ``train``, per C; the features are fitted once (on
    ``train``: the same as refitting them with each C, only faster)."""
    import numpy as np
    from sklearn.linear_model import LogisticRegression

    features = _features()
    x = features.fit_transform([t for t, _ in train])
    x_held, y_held = features.transform([t for t, _ in held]), np.array([y for _, y in held])
    labels = [y for _, y in train]
    return {
        c: float(np.mean(LogisticRegression(C=c, max_iter=2000).fit(x, labels).predict(x_held) == y_held))
        for c in C_GRID
    }


def tfidf_logistic_regression(train: Pairs, val: Pairs, test: Pairs) -> dict[str, Any]:
    """Fit on ``(text, label)`` pairs; test accuracy and macro-F1, the chosen C and how it was chosen.

    Example:
        >>> train = [("good film", "pos"), ("bad film", "neg"), ("great fun", "pos"), ("awful mess", "neg")]
        >>> test = [("good fun", "pos"), ("awful film", "neg")]
        >>> result = tfidf_logistic_regression(train * 5, train, test)
        >>> result["test_accuracy"], result["C_chosen_by"]
        (1.0, 'validation split')
    """
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold
    from threadpoolctl import threadpool_limits

    from rnnkit.metrics import accuracy, macro_f1

    train, val, test = list(train), list(val), list(test)
    with threadpool_limits(1):  # one BLAS thread: twice as fast as two on these sparse problems
        if val:
            scores = _scores_by_c(train, val)
            chosen_by = "validation split"
        else:
            folds = StratifiedKFold(5).split(train, [y for _, y in train])
            per_fold = [_scores_by_c([train[i] for i in a], [train[i] for i in b]) for a, b in folds]
            scores = {c: sum(fold[c] for fold in per_fold) / len(per_fold) for c in C_GRID}
            chosen_by = "5-fold cross-validation on train"
        best = max(C_GRID, key=lambda c: (scores[c], -c))
        features = _features()
        x = features.fit_transform([t for t, _ in train + val])
        model = LogisticRegression(C=best, max_iter=2000).fit(x, [y for _, y in train + val])
        guess = list(model.predict(features.transform([t for t, _ in test])))
    truth = [y for _, y in test]
    return {
        "name": TFIDF_NAME,
        "test_accuracy": accuracy(truth, guess),
        "test_macro_f1": macro_f1(truth, guess, labels=sorted({y for _, y in train})),
        "C": best,
        "C_chosen_by": chosen_by,
    }


def split_digest(splits: Mapping[str, Pairs]) -> str:
    """A hash of the ``train`` / ``val`` / ``test`` pairs, this file's code and scikit-learn's version: the
    key of a cached baseline (another split, or another baseline, is another key).

    Example:
        >>> a = split_digest({"train": [("a", "x")], "val": [], "test": [("b", "y")]})
        >>> b = split_digest({"train": [("a", "x")], "val": [], "test": [("b", "x")]})
        >>> len(a), a == b
        (32, False)
    """
    import sklearn

    digest = hashlib.sha256(Path(__file__).read_bytes())
    digest.update(sklearn.__version__.encode())
    pairs = {name: [list(pair) for pair in splits[name]] for name in ("train", "val", "test")}
    digest.update(json.dumps(pairs, ensure_ascii=False).encode())
    return digest.hexdigest()[:32]


def baseline_cache_dir() -> Path:
    """Where baselines are cached: ``baselines/`` in the rnnkit cache (``$RNNKIT_CACHE`` or
    ``~/.cache/rnnkit``)."""
    from rnnkit.data.download import default_cache_dir

    return default_cache_dir() / "baselines"


def cached_tfidf_baseline(
    splits: Mapping[str, Pairs], cache: str | os.PathLike | None = None
) -> dict[str, Any] | None:
    """:func:`tfidf_logistic_regression` on the ``train`` / ``val`` / ``test`` pairs, fitted once per split:
    its record is kept as ``<cache>/<split_digest>.json`` (default cache: :func:`baseline_cache_dir`), since
    refitting takes minutes on tens of thousands of texts. None without scikit-learn."""
    if not sklearn_available():
        return None
    from rnnkit.config import atomic_write_text

    path = Path(cache if cache is not None else baseline_cache_dir()) / f"{split_digest(splits)}.json"
    if path.is_file():
        try:
            return json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            pass  # a damaged cache entry: fit again and replace it
    record = tfidf_logistic_regression(splits["train"], splits["val"], splits["test"])
    try:
        atomic_write_text(path, json.dumps(record) + "\n")
    except OSError:
        pass  # a read-only cache costs a refit next time, nothing else
    return record
