"""Tagging: IOB / BIOES tag schemes: detection and transition checks."""

from __future__ import annotations

from collections.abc import Sequence

from rnnkit.blocks.crf import iob_constraints
from rnnkit.data.records import TaggedSentence


def detect_scheme(
    labels: Sequence[str], sentences: Sequence[TaggedSentence]
) -> tuple[str | None, str | None]:
    """``(scheme, crf_constraints)`` of a tag set: the IOB scheme its names follow (None: not chunk tags),
    and the scheme whose transition constraints every training sentence obeys (None: none does).

    Example:
        >>> s = [TaggedSentence(("a", "b", "c"), ("B-NP", "I-NP", "O"))]
        >>> detect_scheme(["B-NP", "I-NP", "O"], s), detect_scheme(["NOUN", "VERB"], [])
        (('IOB2', 'IOB2'), (None, None))
        >>> detect_scheme(["B-NP", "I-NP", "O"], [TaggedSentence(("a", "b"), ("O", "I-NP"))])
        ('IOB2', 'IOB1')
    """
    prefixes = {label.partition("-")[0] for label in labels if label != "O"}
    if not prefixes or not _parses(labels, "BIOES"):  # BIOES reads every prefix IOB1/IOB2 have
        return None, None
    candidates = ("BIOES",) if prefixes - {"B", "I"} else ("IOB2", "IOB1")
    for scheme in candidates:
        if not transition_violations(labels, sentences, scheme):
            return candidates[0], scheme
    return candidates[0], None


def _parses(labels: Sequence[str], scheme: str) -> bool:
    try:
        iob_constraints(list(labels), scheme)
    except ValueError:
        return False
    return True


def transition_violations(
    labels: Sequence[str], sentences: Sequence[TaggedSentence], scheme: str
) -> list[str]:
    """The tag transitions of ``sentences`` (START and END included) that ``scheme`` forbids, as text."""
    allowed, index = iob_constraints(list(labels), scheme), {label: k for k, label in enumerate(labels)}
    start, end = len(labels), len(labels) + 1
    found = []
    for number, sentence in enumerate(sentences):
        path = [start, *(index[t] for t in sentence.tags), end]
        names = ["START", *sentence.tags, "END"]
        found += [f"sentence {number}: {names[i]} -> {names[i + 1]}"
                  for i in range(len(path) - 1) if not allowed[path[i], path[i + 1]]]  # fmt: skip
    return found


# ----- the task -------------------------------------------------------------------------------------------
