"""Sequence tagging: a tag per token (chunks, parts of speech, named entities) with a :class:`SequenceTagger`.

Data are :class:`~rnnkit.data.records.TaggedSentence` s: the catalog's ``conll2000`` (chunk tags, or POS
with ``tag_column: pos``) and ``ud_korean_gsd`` (UPOS, or ``xpos``), or local CoNLL column / CoNLL-U files.
Tokens come given, so there is no tokenizer: a word vocabulary (NFC, optionally lowercased) is fitted on
the training sentences. Tag sets in an IOB scheme (``O``, ``B-NP``, ``I-NP``, ...) are detected
(``scheme: auto``); they add chunk-level F1 (conlleval's) to the token accuracy and, with ``model.crf``,
the CRF's transition constraints, so Viterbi never outputs ``O -> I-NP``.

Unknown words get ``<unk>``, or with ``suffix_backoff`` their longest ending seen in training; with
``characters`` the model also reads each word's characters (a :class:`~rnnkit.blocks.char_cnn.CharCNN`),
which tell it about a word it never saw: its case, its digits, its endings. ``feature_columns`` gives it
other columns of the data too, each embedded: the part-of-speech tags of CoNLL-2000 when tagging chunks.
The baseline is the most frequent training tag of each word (unknown words: the most frequent tag overall),
scored like the model: chunk F1 0.70 on CoNLL-2000 (the shared task's POS-based baseline: 0.77).
"""

from __future__ import annotations

from rnnkit.tasks.tagging.baseline import MostFrequentTag
from rnnkit.tasks.tagging.data import (
    DEFAULT_TAGS,
    MAX_PLOTTED_TAGS,
    METRIC_SCHEME,
    SCHEMES,
    TaggingData,
    hold_out,
    load_splits,
    split_words,
)
from rnnkit.tasks.tagging.schemes import detect_scheme, transition_violations
from rnnkit.tasks.tagging.task import TaggingTask

__all__ = [
    "DEFAULT_TAGS",
    "MAX_PLOTTED_TAGS",
    "METRIC_SCHEME",
    "SCHEMES",
    "MostFrequentTag",
    "TaggingData",
    "TaggingTask",
    "detect_scheme",
    "hold_out",
    "load_splits",
    "split_words",
    "transition_violations",
]
