"""Sentences -> the arrays an exported tagger reads, exactly as its run encodes them; numpy, no torch.

As :class:`~rnnkit.tasks.tagging.task.TaggingTask`: whitespace words (punctuation split off with
``split_punctuation``; ``He/PRP`` words with feature columns), NFC, lowercase where the run lowercases,
unknown words backed off to their longest known ending, character ids of the first ``max_word_length``
characters, and the feature columns' ids (unknown ``<unk>``); padding 0 on every axis.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from typing import Any

import numpy as np

from rnnkit.data.vocab import PAD, Vocab, encode_characters
from rnnkit.data.words import backoff_id, split_columns
from rnnkit.export.text_inputs import pad_characters, pad_ids


class SentenceEncoder:
    """The run's sentence encoding, from the ``preprocessing.json`` of its export folder."""

    def __init__(self, preprocessing: dict[str, Any]) -> None:
        self.vocab = Vocab.from_dict(preprocessing["vocab"], "preprocessing.json: vocab")
        chars = preprocessing.get("chars")
        self.chars = None if chars is None else Vocab.from_dict(chars, "preprocessing.json: chars")
        self.columns = [Vocab.from_dict(v, "preprocessing.json: columns") for v in preprocessing["columns"]]
        self.names = list(preprocessing["feature_columns"])
        self.separator = preprocessing["column_separator"]
        self.split_punctuation = bool(preprocessing["split_punctuation"])
        self.lowercase = bool(preprocessing["lowercase"])
        self.suffix_backoff = int(preprocessing["suffix_backoff"])
        self.max_word_length = int(preprocessing["max_word_length"])

    def split(self, text: str) -> tuple[list[str], list[list[str]]]:
        """The words of a raw sentence and its feature columns' values (ValueError: a word lacks them)."""
        return split_columns(text, self.names, self.separator, self.split_punctuation)

    def encode(self, sentences: Sequence[tuple[list[str], list[list[str]]]]) -> dict[str, np.ndarray]:
        """``tokens``, ``lengths`` and, where the model reads them, ``chars`` and ``columns`` of non-empty
        ``(words, columns)`` sentences."""
        words = [[unicodedata.normalize("NFC", w) for w in ws] for ws, _ in sentences]
        normalized = [[w.lower() for w in ws] if self.lowercase else ws for ws in words]
        ids = [[backoff_id(self.vocab, w, self.suffix_backoff) for w in ws] for ws in normalized]
        tokens, lengths = pad_ids(ids)
        arrays = {"tokens": tokens, "lengths": lengths}
        if self.chars is not None:
            arrays["chars"] = pad_characters(
                [encode_characters(self.chars, ws, self.max_word_length) for ws in words]
            )
        if self.columns:
            columns = np.full((*tokens.shape, len(self.columns)), PAD, dtype=np.int64)
            for b, (_, values) in enumerate(sentences):
                for k, (vocab, column) in enumerate(zip(self.columns, values)):
                    columns[b, : len(column), k] = vocab.encode(column)
            arrays["columns"] = columns
        return arrays
