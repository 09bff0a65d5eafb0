"""Sentences -> words for tagging, and a word's id with suffix back-off: plain Python (no torch), shared by
the tagging task (:mod:`rnnkit.tasks.tagging`) and the runtime of its ONNX export (:mod:`rnnkit.export`)."""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence

from rnnkit.data.vocab import UNK, Vocab

SUFFIX = "<suf>"
"""The prefix of a word ending in a tagging vocabulary (``<suf>ing``): what an unknown word backs off to."""


def split_words(text: str, split_punctuation: bool = False) -> list[str]:
    """Whitespace-separated words (NFC); optionally with leading/trailing punctuation split off, a run of
    one punctuation character staying together (``...``).

    Example:
        >>> split_words("잡스는 350달러만을 주었다.", split_punctuation=True)
        ['잡스는', '350달러만을', '주었다', '.']
        >>> split_words('("Wait..." he said)', split_punctuation=True)
        ['(', '"', 'Wait', '...', '"', 'he', 'said', ')']
    """
    words = unicodedata.normalize("NFC", text).split()
    if not split_punctuation:
        return words
    out: list[str] = []
    for word in words:
        head: list[str] = []
        tail: list[str] = []
        while word and unicodedata.category(word[0]).startswith("P"):
            n = len(word) - len(word.lstrip(word[0]))
            head.append(word[:n])
            word = word[n:]
        while word and unicodedata.category(word[-1]).startswith("P"):
            n = len(word) - len(word.rstrip(word[-1]))
            tail.insert(0, word[-n:])
            word = word[:-n]
        out += head + ([word] if word else []) + tail
    return out


def split_columns(
    text: str, names: Sequence[str], separator: str, split_punctuation: bool = False
) -> tuple[list[str], list[list[str]]]:
    """A raw sentence -> its words and the values of each feature column ``names`` (``He/PRP`` -> ``He``,
    ``PRP``); without columns the words of :func:`split_words`.

    Example:
        >>> split_columns("He/PRP ran/VBD", ["pos"], "/")
        (['He', 'ran'], [['PRP', 'VBD']])

    Raises:
        ValueError: a word does not carry every column.
    """
    if not names:
        return split_words(text, split_punctuation), []
    words: list[str] = []
    columns: list[list[str]] = [[] for _ in names]
    for word in split_words(text):
        parts = word.rsplit(separator, len(names))
        if len(parts) != len(names) + 1 or not all(parts):
            example = separator.join(["He", *(f"<{name}>" for name in names)])
            raise ValueError(
                f"this model also reads {list(names)}: write each word as {example}, got {word!r}"
            )
        words.append(parts[0])
        for values, value in zip(columns, parts[1:]):
            values.append(value)
    return words, columns


def backoff_id(vocab: Vocab, word: str, suffix_backoff: int, known: bool = True) -> int:
    """The id of ``word``; an unknown one (or any, with ``known=False``) gets its longest ending in the
    vocabulary (``<suf>`` + up to ``suffix_backoff`` characters), else ``<unk>``.

    Example:
        >>> vocab = Vocab(["<pad>", "<unk>", "<bos>", "<eos>", "walk", "<suf>ing"])
        >>> backoff_id(vocab, "walk", 3), backoff_id(vocab, "talking", 3), backoff_id(vocab, "xyz", 3)
        (4, 5, 1)
    """
    if known and word in vocab:
        return vocab.token_to_id(word)
    for n in range(min(suffix_backoff, len(word)), 0, -1):
        if SUFFIX + word[-n:] in vocab:
            return vocab.token_to_id(SUFFIX + word[-n:])
    return UNK
