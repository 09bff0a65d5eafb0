"""Generation: the judges that say which class a text belongs to, to score class-conditioned generation.

Agreement = the share of texts generated for class c that a judge assigns to c. A judge is only as good as
its accuracy on real texts, so that is reported beside it (on the same test split). Two judges:

* the TF-IDF judge, always: character 1-3-gram TF-IDF (within word boundaries, sublinear term
  frequencies) and logistic regression, fitted on the training split (scikit-learn);
* a run judge, when ``data.judge`` names one: an rnnkit classification run (its ``predict``).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

from rnnkit.config import ConfigError


class Judge(Protocol):
    name: str

    def classify(self, texts: Sequence[str]) -> list[str]: ...


class TfidfJudge:
    """TF-IDF character 1-3-grams + logistic regression (scikit-learn, ``pip install 'rnnkit[bench]'``).

    Example:
        >>> texts = ["good fun", "bad mess", "great fun", "awful mess"] * 3
        >>> judge = TfidfJudge(texts, ["p", "n", "p", "n"] * 3)
        >>> judge.classify(["fun fun", "a mess"])
        ['p', 'n']
    """

    name = "TF-IDF (char 1-3 grams) + logistic regression"

    def __init__(self, texts: Sequence[str], labels: Sequence[str], c: float = 2.0) -> None:
        try:
            from sklearn.feature_extraction.text import TfidfVectorizer
            from sklearn.linear_model import LogisticRegression
            from sklearn.pipeline import make_pipeline
        except ImportError as error:
            raise ImportError(
                "the generation task's TF-IDF judge needs scikit-learn: pip install 'rnnkit[bench]'"
            ) from error
        features = TfidfVectorizer(analyzer="char_wb", ngram_range=(1, 3), sublinear_tf=True,
                                   min_df=2 if len(texts) >= 100 else 1)  # fmt: skip
        self.model = make_pipeline(features, LogisticRegression(C=c, max_iter=1000))
        self.model.fit(list(texts), list(labels))

    def classify(self, texts: Sequence[str]) -> list[str]:
        return [str(label) for label in self.model.predict(list(texts))] if texts else []


class RunJudge:
    """An rnnkit run whose ``predict`` names a ``label`` per text (a classification run).

    Raises:
        ConfigError: ``folder`` is not a run folder, or its labels lack some of ``labels``, naming
            ``data.judge``.
    """

    def __init__(self, folder: str, labels: Sequence[str], device: str | None = None) -> None:
        from rnnkit.tasks.runner import RUN_CONFIG, load_run

        path = Path(folder)
        if not (path / RUN_CONFIG).is_file():
            raise ConfigError(f"data.judge: {folder}: not a run folder (no {RUN_CONFIG}); train a classifier "
                              "of these texts with `rnnkit train` and name its folder")  # fmt: skip
        self.task, self.model = load_run(path, device)
        known = [str(label) for label in getattr(self.task, "labels", None) or []]
        missing = [label for label in labels if label not in known]
        if missing:
            raise ConfigError(f"data.judge: {folder}: its classes {known} lack {missing}; the judge must "
                              "classify the labels of the generated texts")  # fmt: skip
        self.name = f"rnnkit run {path.name} ({self.task.name})"

    def classify(self, texts: Sequence[str]) -> list[str]:
        if not texts:
            return []
        predictions = self.task.predict(self.model, list(texts))
        if not predictions or "label" not in predictions[0]:
            raise ConfigError(f"data.judge: the {self.task.name} run names no label per text")
        return [str(p["label"]) for p in predictions]


def agreement(requested: Sequence[str], judged: Sequence[str], labels: Sequence[str]) -> dict[str, Any]:
    """The share of texts judged as the class they were generated (or written) for, overall and per class.

    Example:
        >>> agreement(["0", "0", "1", "1"], ["0", "1", "1", "1"], ["0", "1"])
        {'all': 0.75, 'per_class': {'0': 0.5, '1': 1.0}}
    """
    if len(requested) != len(judged):
        raise ValueError(f"{len(requested)} requested labels but {len(judged)} judged")
    hits = [r == j for r, j in zip(requested, judged)]
    per_class = {}
    for label in labels:
        mine = [h for r, h in zip(requested, hits) if r == label]
        per_class[label] = sum(mine) / len(mine) if mine else None
    return {"all": sum(hits) / max(len(hits), 1), "per_class": per_class}
