"""Text classification: texts and labels in, a :class:`SequenceClassifier` out, with accuracy, macro-F1,
a per-class report, the confusion matrix and the majority-class baseline."""

from __future__ import annotations

from rnnkit.tasks.classification.data import ClassificationData, load_splits
from rnnkit.tasks.classification.task import ClassificationTask, ClassifierMethods, classify_batches

__all__ = ["ClassificationData", "ClassificationTask", "ClassifierMethods", "classify_batches", "load_splits"]
