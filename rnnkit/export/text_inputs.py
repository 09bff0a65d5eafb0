"""Texts -> the arrays an exported text classifier reads, exactly as its run encodes them; numpy, no torch.

The steps are the run's own (:class:`~rnnkit.tasks.classification.task.ClassificationTask`): the saved
tokenizer (NFC, lowercase, ...), the vocabulary (unknown tokens ``<unk>``), the first ``max_length`` ids
(an empty text one ``<unk>``), and with character features the first ``max_word_length`` characters of
each kept token; padding is 0 (``<pad>``) on every axis.

Example:
    >>> from rnnkit.data.tokenizers import CharTokenizer
    >>> from rnnkit.data.vocab import Vocab
    >>> vocab = Vocab.build([["a", "b"]]).to_dict()
    >>> encoder = TextEncoder({"tokenizer": CharTokenizer().to_dict(), "vocab": vocab, "chars": None,
    ...                        "max_length": 3, "max_word_length": 20})
    >>> arrays = encoder.encode(["abba!", ""])
    >>> arrays["tokens"].tolist(), arrays["lengths"].tolist()
    ([[4, 5, 5], [1, 0, 0]], [3, 1])
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from rnnkit.data.tokenizers import tokenizer_from_dict
from rnnkit.data.vocab import PAD, UNK, Vocab, encode_characters


def pad_ids(rows: Sequence[Sequence[int]]) -> tuple[np.ndarray, np.ndarray]:
    """Right-padded ``(B, T)`` int64 ids and their ``(B,)`` lengths (as ``batching.pad_batch``)."""
    lengths = np.array([len(row) for row in rows], dtype=np.int64)
    padded = np.full((len(rows), int(lengths.max())), PAD, dtype=np.int64)
    for k, row in enumerate(rows):
        padded[k, : len(row)] = row
    return padded, lengths


def pad_characters(sentences: Sequence[Sequence[Sequence[int]]]) -> np.ndarray:
    """``(B, T, L)`` int64 character ids padded in words and characters (as ``batching.pad_words``)."""
    steps = max(len(words) for words in sentences)
    width = max(1, max((len(word) for words in sentences for word in words), default=0))
    padded = np.full((len(sentences), steps, width), PAD, dtype=np.int64)
    for b, words in enumerate(sentences):
        for t, word in enumerate(words):
            padded[b, t, : len(word)] = word
    return padded


class TextEncoder:
    """The run's text encoding, from the ``preprocessing.json`` of its export folder."""

    def __init__(self, preprocessing: dict[str, Any]) -> None:
        self.tokenizer = tokenizer_from_dict(preprocessing["tokenizer"])
        self.vocab = Vocab.from_dict(preprocessing["vocab"], "preprocessing.json: vocab")
        chars = preprocessing.get("chars")
        self.chars = None if chars is None else Vocab.from_dict(chars, "preprocessing.json: chars")
        self.max_length = preprocessing.get("max_length")
        self.max_word_length = int(preprocessing.get("max_word_length", 20))

    def tokens(self, text: str) -> list[str]:
        """The tokens the model reads (the first ``max_length``)."""
        return self.tokenizer.tokenize(text)[: self.max_length]

    def encode(self, texts: Sequence[str]) -> dict[str, np.ndarray]:
        """``tokens (B, T)``, ``lengths (B,)`` and, with character features, ``chars (B, T, L)``."""
        token_lists = [self.tokens(text) for text in texts]
        tokens, lengths = pad_ids([self.vocab.encode(t) or [UNK] for t in token_lists])
        arrays = {"tokens": tokens, "lengths": lengths}
        if self.chars is not None:
            words = [encode_characters(self.chars, t, self.max_word_length) or [[]] for t in token_lists]
            arrays["chars"] = pad_characters(words)
        return arrays
