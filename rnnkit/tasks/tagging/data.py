"""Tagging: the data config and how its examples are read and split."""

from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from rnnkit.config import ConfigError
from rnnkit.data.records import TaggedSentence
from rnnkit.data.splits import complete_splits, own_files, read_own_files, replace_splits
from rnnkit.data.words import split_words  # noqa: F401 - its home before rnnkit.data.words

DEFAULT_TAGS = {"conll2000": "chunk", "ud_korean_gsd": "upos", "conllu": "upos"}
SCHEMES = ("IOB1", "IOB2", "BIOES")
METRIC_SCHEME = {"IOB1": "IOB1", "IOB2": "IOB2", "BIOES": "IOBES"}  # chunk_f1 spells BIOES "IOBES"
MAX_PLOTTED_TAGS = 60


@dataclass(frozen=True)
class TaggingData:
    """Where the tagged sentences come from and how tokens become ids.

    Attributes:
        dataset: a catalog name (``conll2000``, ``ud_korean_gsd``), ``"conll"`` (a CoNLL column file) or
            ``"conllu"`` (a CoNLL-U file).
        path: a local copy of a catalog dataset (folder, no download), or the training file of conll/conllu.
        val_path, test_path: conll/conllu validation and test files; None: held out of the training file.
        train, validation, test: your own files, used instead of ``dataset``: CoNLL column files, CoNLL-U
            files or tables (``format``); without ``validation`` / ``test`` those splits are held out of
            ``train`` (seeded, logged).
        format: how own files are read: ``conll``, ``conllu`` or ``table`` (csv / tsv / jsonl with a
            ``tokens_column`` and a ``tags_column``, whitespace-separated or JSON lists); None: by the
            suffix (``.conllu``: CoNLL-U; ``.csv``, ``.jsonl``: a table; others: CoNLL columns).
        tokens_column, tags_column: the columns of a table.
        columns, separator: the column names of a conll file (the first is the token) and their separator
            (None: any whitespace).
        tag_column: the column to tag (None: ``chunk`` for conll2000, ``upos`` for UD / CoNLL-U, the last
            column of a conll file); e.g. ``pos`` for conll2000, ``xpos`` for UD.
        scheme: ``auto`` detects IOB1 / IOB2 / BIOES from the tag names and the training sentences (or
            none, for POS tags); a scheme forces it; ``none`` treats the tags as plain classes.
        lowercase: lowercase tokens (the vocabulary and the baseline); predictions keep the original case.
        max_vocab, min_freq: vocabulary limits (specials included in ``max_vocab``).
        suffix_backoff: n > 0 also puts the 1..n-character word endings into the vocabulary (``<suf>다``),
            and a word not in it becomes its longest known ending instead of ``<unk>``: Korean particles and
            endings (``-는``, ``-에서``, ``-었다``) or English ``-ing``, ``-ly`` then still tell the tagger
            something about words never seen in training. 0: unknown words are ``<unk>``.
        word_dropout: while training, replace this fraction of input tokens by what an unknown word gets
            (``<unk>``, or its ending with ``suffix_backoff``) so that those embeddings learn to stand in
            for words never seen in training (their characters stay, so the model learns to read them).
        characters: also give the model each word's characters (NFC, case kept even with ``lowercase``),
            from a character vocabulary fitted on the training words; the model section's ``char_*``
            options size its CharCNN.
        max_word_length: characters per word the model reads (the first this many).
        feature_columns: other columns of the data the model reads beside each word (``[pos]`` for
            conll2000 chunks), each with a vocabulary fitted on the training sentences; never the tag column.
            ``predict`` then takes each word with its columns attached, ``He/PRP reckons/VBZ`` (and does not
            split punctuation off: ``./.`` is a word of its own).
        column_separator: what joins a word and its columns in ``predict``'s input (the last ones win, so
            ``1/2/CD`` is the word ``1/2``).
        split_punctuation: ``predict`` only: split leading and trailing punctuation off the whitespace
            separated words (``"주었다."`` -> ``주었다 .``), as UD and Penn Treebank tokenisations do.
        val_fraction, test_fraction, split_seed: sentences held out of the training data, seeded, where the
            data have no such split of their own.
        max_sentences: keep only the first this many sentences of each split (quick trials); None: all.
        encoding: how CoNLL, CoNLL-U and table files are decoded:
            ``auto`` (detected per file, and logged: a byte-order mark, else UTF-8, else cp949 / EUC-KR
            for Korean bytes, else Latin-1) or any Python codec (``utf-8``, ``cp949``, ``utf-16``...).
        on_bad_rows: ``error`` (a bad row stops the run, naming its file and line) or ``skip`` (bad rows
            are left out, their count and first line numbers in a warning);
            a skipped line takes its whole sentence with it (its tags would not align).
        offline: never download (None: the ``RNNKIT_OFFLINE`` environment variable decides).
    """

    dataset: str = "conll2000"
    path: str | None = None
    val_path: str | None = None
    test_path: str | None = None
    train: str | None = None
    validation: str | None = None
    test: str | None = None
    format: Literal["conll", "conllu", "table"] | None = None
    tokens_column: str = "tokens"
    tags_column: str = "tags"
    columns: tuple[str, ...] = ("token", "pos", "chunk")
    separator: str | None = None
    tag_column: str | None = None
    scheme: Literal["auto", "IOB1", "IOB2", "BIOES", "none"] = "auto"
    lowercase: bool = False
    max_vocab: int | None = 50000
    min_freq: int = 1
    suffix_backoff: int = 0
    word_dropout: float = 0.0
    characters: bool = False
    max_word_length: int = 20
    feature_columns: tuple[str, ...] = ()
    column_separator: str = "/"
    split_punctuation: bool = False
    val_fraction: float = 0.1
    test_fraction: float = 0.1
    split_seed: int = 0
    max_sentences: int | None = None
    offline: bool | None = None
    encoding: str = "auto"
    on_bad_rows: Literal["error", "skip"] = "error"

    def __post_init__(self) -> None:
        object.__setattr__(self, "columns", tuple(self.columns))
        object.__setattr__(self, "feature_columns", tuple(self.feature_columns))
        from rnnkit.data.encodings import check_data_keys

        check_data_keys(self.encoding, self.on_bad_rows)
        if not self.column_separator or any(c.isspace() for c in self.column_separator):
            raise ValueError(f"TaggingData.column_separator must be non-empty, without spaces, "
                             f"got {self.column_separator!r}")  # fmt: skip
        for name in ("val_fraction", "test_fraction", "word_dropout"):
            if not 0.0 <= getattr(self, name) < 1.0:
                raise ValueError(f"TaggingData.{name} must be in [0, 1), got {getattr(self, name)}")
        if self.val_fraction + self.test_fraction >= 1.0:
            raise ValueError(f"TaggingData: val_fraction + test_fraction must be < 1, got "
                             f"{self.val_fraction} + {self.test_fraction}")  # fmt: skip
        if self.train is not None and (self.path is not None or self.val_path or self.test_path):
            raise ValueError("TaggingData: data.train (your own files) replaces path, val_path and test_path")
        if self.dataset in ("conll", "conllu") and self.path is None and self.train is None:
            raise ValueError(f"TaggingData: dataset={self.dataset!r} needs path= (the training file)")
        if self.dataset == "conll" and (
            len(self.columns) < 2 or self.tag_column not in (None, *self.columns[1:])
        ):
            raise ValueError(f"TaggingData.tag_column must name one of the columns after the token "
                             f"{list(self.columns[1:])}, got {self.tag_column!r}")  # fmt: skip
        if self.dataset == "conllu" and self.tag_column not in (None, "upos", "xpos"):
            raise ValueError(
                f"TaggingData.tag_column must be 'upos' or 'xpos' for CoNLL-U, got {self.tag_column!r}"
            )
        if self.suffix_backoff < 0:
            raise ValueError(f"TaggingData.suffix_backoff must be >= 0, got {self.suffix_backoff}")
        for name in ("min_freq", "max_sentences", "max_word_length"):
            if getattr(self, name) is not None and getattr(self, name) < 1:
                raise ValueError(f"TaggingData.{name} must be >= 1, got {getattr(self, name)}")


# ----- data -----------------------------------------------------------------------------------------------
def hold_out(sentences: list[TaggedSentence], fraction: float, seed: int) -> tuple[list, list]:
    """A seeded random ``(rest, held)`` split; ``round(n · fraction)`` sentences held, both keep their order.

    Example:
        >>> data = [TaggedSentence((str(i),), ("X",)) for i in range(10)]
        >>> rest, held = hold_out(data, 0.2, seed=0)
        >>> len(rest), len(held), hold_out(data, 0.2, seed=0)[1] == held
        (8, 2, True)
    """
    ids = list(range(len(sentences)))
    random.Random(seed).shuffle(ids)
    held = set(ids[: round(len(sentences) * fraction)])
    return [s for i, s in enumerate(sentences) if i not in held], [
        s for i, s in enumerate(sentences) if i in held
    ]


def _retag(sentences: list[TaggedSentence], column: str | None, dataset: str, where: str) -> list:
    if column is None or column == DEFAULT_TAGS.get(dataset):
        return sentences
    if sentences and column not in sentences[0].features:
        known = [DEFAULT_TAGS.get(dataset, "(the default)"), *sorted(sentences[0].features)]
        raise ConfigError(
            f"{where}: data.tag_column {column!r} is not a column of {dataset} (known: {known})"
        )
    return [TaggedSentence(s.tokens, s.features[column], s.features) for s in sentences]


def file_format(data: TaggingData, path: str) -> str:
    """How to read an own file: ``data.format``, else by its suffix.

    Example:
        >>> [file_format(TaggingData(), name) for name in ("ko.conllu", "train.txt", "sents.jsonl")]
        ['conllu', 'conll', 'table']
    """
    if data.format is not None:
        return data.format
    suffix = Path(path).suffix.lower()
    return (
        "conllu" if suffix == ".conllu" else "table" if suffix in (".csv", ".jsonl", ".ndjson") else "conll"
    )


def read_sentences(data: TaggingData, path: str, kind: str) -> list[TaggedSentence]:
    """The tagged sentences of one file read as ``kind`` (``conll``, ``conllu`` or ``table``)."""
    from rnnkit.data.loaders_tagging import load_conll, load_conllu

    if kind == "conllu":
        return load_conllu(path, data.tag_column or "upos", data.encoding, data.on_bad_rows)
    if kind == "table":
        from rnnkit.data.loaders_table import load_table

        if data.feature_columns:
            raise ConfigError(f"data.feature_columns: {path} is a table, which has tokens and tags only")
        fmt = {".csv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl"}.get(Path(path).suffix.lower(), "tsv")
        return load_table(path, fmt, tokens=data.tokens_column, tags=data.tags_column,
                          encoding=data.encoding, on_bad_rows=data.on_bad_rows)  # fmt: skip
    return load_conll(path, data.columns, data.tag_column or data.columns[-1], data.separator,
                      data.encoding, data.on_bad_rows)  # fmt: skip


def load_splits(data: TaggingData, where: str = "config") -> dict[str, list[TaggedSentence]]:
    """Train / validation / test sentences: the user's own files, or the data's own splits where it has
    them; what is missing is held out of the training sentences (:func:`complete_splits`)."""
    files = own_files(data)
    read_directly = "train" in files or data.dataset in ("conll", "conllu")  # these take tag_column
    if "train" in files:
        splits: dict[str, Any] = read_own_files(
            files, lambda p: read_sentences(data, p, file_format(data, p))
        )
    elif read_directly:
        given = {"train": data.path, "validation": data.val_path, "test": data.test_path}
        splits = {name: read_sentences(data, p, data.dataset) for name, p in given.items() if p}
    else:
        from rnnkit.data.catalog import load_dataset

        splits = load_dataset(data.dataset, data.path, offline=data.offline)
    if "train" not in files:
        splits = replace_splits(splits, files, lambda p: read_sentences(data, p, file_format(data, p)))
    train = splits.get("train", splits.get("all"))
    if not train or not isinstance(train[0], TaggedSentence):
        raise ConfigError(f"{where}: data: dataset {data.dataset!r} has no tagged sentences for tagging")
    out = complete_splits(splits, hold_out, data.val_fraction, data.test_fraction, data.split_seed,
                          unit="sentences", where=f"{where}: data")  # fmt: skip
    out = {name: part[: data.max_sentences] for name, part in out.items()}
    if read_directly:
        return out
    return {name: _retag(part, data.tag_column, data.dataset, where) for name, part in out.items()}
