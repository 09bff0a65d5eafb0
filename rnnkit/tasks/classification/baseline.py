"""Classification: the majority-class baseline, scored on the same test split as the model."""

from __future__ import annotations

from collections import Counter
from collections.abc import Hashable, Sequence
from typing import Any


def majority_baseline(train_labels: Sequence[Hashable], test_labels: Sequence[Hashable]) -> dict[str, Any]:
    """The most frequent training label, predicted for every test item: its name and test accuracy.

    Example:
        >>> majority_baseline(["pos", "neg", "pos"], ["pos", "neg"])
        {'name': 'majority class (pos)', 'test_accuracy': 0.5}
    """
    majority = Counter(train_labels).most_common(1)[0][0]
    hits = sum(label == majority for label in test_labels)
    return {"name": f"majority class ({majority})", "test_accuracy": hits / max(len(test_labels), 1)}
