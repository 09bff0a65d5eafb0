"""Tagging: the baseline the model is scored beside."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class MostFrequentTag:
    """The baseline tagger: each word's most frequent training tag; unknown words get ``default``, the
    most frequent tag overall (ties go to the tag that sorts first).

    Example:
        >>> tokens, tags = [["the", "dog", "runs"], ["the", "runs"]], [["D", "N", "V"], ["D", "N"]]
        >>> base = MostFrequentTag.fit(tokens, tags)
        >>> base.tag(["the", "runs", "cat"]), base.default
        (['D', 'N', 'D'], 'D')
    """

    table: dict[str, str]
    default: str

    @classmethod
    def fit(cls, token_lists: Sequence[Sequence[str]], tag_lists: Sequence[Sequence[str]]) -> MostFrequentTag:
        counts: dict[str, Counter] = defaultdict(Counter)
        overall: Counter = Counter()
        for tokens, tags in zip(token_lists, tag_lists):
            overall.update(tags)
            for token, tag in zip(tokens, tags):
                counts[token][tag] += 1
        if not overall:
            raise ValueError("MostFrequentTag.fit: no tagged tokens")
        best = lambda c: min(c.items(), key=lambda kv: (-kv[1], kv[0]))[0]  # noqa: E731
        return cls({token: best(c) for token, c in counts.items()}, best(overall))

    def tag(self, tokens: Sequence[str]) -> list[str]:
        return [self.table.get(token, self.default) for token in tokens]
