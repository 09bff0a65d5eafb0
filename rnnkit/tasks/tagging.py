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

import random
import unicodedata
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import torch
from torch import Tensor, nn
from torch.utils.data import DataLoader

from rnnkit.blocks.crf import iob_constraints
from rnnkit.config import ConfigError, from_dict
from rnnkit.data.batching import BucketBatchSampler, collate_tagging, pad_batch, pad_words
from rnnkit.data.records import TaggedSentence
from rnnkit.data.vocab import PAD, SPECIALS, UNK, Vocab, character_vocab, encode_characters
from rnnkit.models.tagger import SequenceTagger, TaggerConfig
from rnnkit.tasks.base import InputError, Task, character_sizes, register_task
from rnnkit.training.losses import crf_negative_log_likelihood, masked_cross_entropy
from rnnkit.training.metrics import (
    accuracy,
    chunk_f1,
    classification_report,
    confusion_matrix,
    extract_chunks,
)

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
        offline: never download (None: the ``RNNKIT_OFFLINE`` environment variable decides).
    """

    dataset: str = "conll2000"
    path: str | None = None
    val_path: str | None = None
    test_path: str | None = None
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

    def __post_init__(self) -> None:
        object.__setattr__(self, "columns", tuple(self.columns))
        object.__setattr__(self, "feature_columns", tuple(self.feature_columns))
        if not self.column_separator or any(c.isspace() for c in self.column_separator):
            raise ValueError(f"TaggingData.column_separator must be non-empty, without spaces, "
                             f"got {self.column_separator!r}")  # fmt: skip
        for name in ("val_fraction", "test_fraction", "word_dropout"):
            if not 0.0 <= getattr(self, name) < 1.0:
                raise ValueError(f"TaggingData.{name} must be in [0, 1), got {getattr(self, name)}")
        if self.val_fraction + self.test_fraction >= 1.0:
            raise ValueError(f"TaggingData: val_fraction + test_fraction must be < 1, got "
                             f"{self.val_fraction} + {self.test_fraction}")  # fmt: skip
        if self.dataset in ("conll", "conllu") and self.path is None:
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


def load_splits(data: TaggingData, where: str = "config") -> dict[str, list[TaggedSentence]]:
    """Train / validation / test sentences, using the data's own splits where it has them."""
    from rnnkit.data.loaders_tagging import load_conll, load_conllu

    if data.dataset in ("conll", "conllu"):

        def read(path: str) -> list[TaggedSentence]:
            if data.dataset == "conllu":
                return load_conllu(path, tags=data.tag_column or "upos")
            return load_conll(path, data.columns, data.tag_column or data.columns[-1], data.separator)

        splits: dict[str, Any] = {"train": read(data.path)}
        splits.update({name: read(p) for name, p in (("dev", data.val_path), ("test", data.test_path)) if p})
    else:
        from rnnkit.data.catalog import load_dataset

        splits = load_dataset(data.dataset, data.path, offline=data.offline)
    train = splits.get("train", splits.get("all"))
    if not train or not isinstance(train[0], TaggedSentence):
        raise ConfigError(f"{where}: data: dataset {data.dataset!r} has no tagged sentences for tagging")
    test, fraction = splits.get("test"), data.val_fraction
    if test is None:
        train, test = hold_out(train, data.test_fraction, data.split_seed)
        fraction = data.val_fraction / (1 - data.test_fraction)  # of what is left
    val = splits.get("dev", splits.get("validation"))
    if val is None:
        train, val = hold_out(train, fraction, data.split_seed + 1)
    if not test:
        raise ConfigError(f"{where}: data: no test sentences; set data.test_fraction > 0 or data.test_path")
    out = {"train": train, "val": val, "test": test}
    out = {name: part[: data.max_sentences] for name, part in out.items()}
    if data.dataset in ("conll", "conllu"):  # their loaders took tag_column already
        return out
    return {name: _retag(part, data.tag_column, data.dataset, where) for name, part in out.items()}


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
@register_task
class TaggingTask(Task):
    """Many-to-many aligned: a tag per token. The model section is a :class:`TaggerConfig` without
    ``vocab_size``, ``num_tags`` and ``labels`` (taken from the data); ``crf: true`` gets the detected IOB
    scheme's constraints unless ``constraints`` is given (``null`` allows every transition)."""

    name = "tagging"
    data_config = TaggingData

    def prepare(self, run_dir: Path) -> None:
        self.splits = load_splits(self.data, self.where)
        train = self.splits["train"]
        words = [self.normalize(s.tokens) for s in train]
        endings = [
            [self._ending(w, n) for w in ws for n in range(1, self.data.suffix_backoff + 1)] for ws in words
        ]
        self.vocab, self._unknown = (
            Vocab.build(words + endings, self.data.max_vocab, self.data.min_freq),
            None,
        )
        self.chars = None
        if self.data.characters:
            self.chars = character_vocab(w for s in train for w in self._words(s.tokens))
        self.column_vocabs = [
            Vocab.build([s.features[c] for s in train], None, 1) for c in self._columns(train)
        ]
        # tags of every split: a tag seen only in test (CoNLL-2000's I-LST) still has an id and a score
        self.labels = sorted({t for part in self.splits.values() for s in part for t in s.tags})
        if self.data.scheme == "auto":
            self.scheme, self.crf_constraints = detect_scheme(self.labels, train)
        elif self.data.scheme == "none":
            self.scheme = self.crf_constraints = None
        else:
            if not _parses(self.labels, self.data.scheme):
                raise ConfigError(
                    f"{self.where}: data.scheme {self.data.scheme!r}: the tags {self.labels[:8]} are not "
                    "'O' and prefixed chunk tags of that scheme"
                )
            self.scheme = self.crf_constraints = self.data.scheme
            broken = transition_violations(self.labels, train, self.data.scheme)
            if broken:
                self.crf_constraints = None
                if self.model_options.get("crf") is True and "constraints" not in self.model_options:
                    raise ConfigError(
                        f"{self.where}: data.scheme {self.data.scheme!r}: {len(broken)} training transitions "
                        f"break it ({broken[0]}), so the CRF constraints would forbid gold paths; use "
                        "scheme: auto, or model.constraints: null"
                    )
        self.save_state(run_dir)

    def _columns(self, train: list[TaggedSentence]) -> tuple[str, ...]:
        """``data.feature_columns``, checked against the data and the tag column."""
        wanted, known = self.data.feature_columns, sorted(train[0].features) if train else []
        tag = self.data.tag_column or DEFAULT_TAGS.get(self.data.dataset) or self.data.columns[-1]
        for name in wanted:
            if name == tag:
                raise ConfigError(
                    f"{self.where}: data.feature_columns: {name!r} is the tag column (the answers)"
                )
            if name not in known:
                raise ConfigError(f"{self.where}: data.feature_columns: {name!r} is not a column of the data "
                                  f"(its other columns: {known})")  # fmt: skip
        return wanted

    def state(self) -> dict[str, Any]:
        return {"vocab": self.vocab.to_dict(), "labels": self.labels, "scheme": self.scheme,
                "crf_constraints": self.crf_constraints,
                "chars": None if self.chars is None else self.chars.to_dict(),
                "columns": [vocab.to_dict() for vocab in self.column_vocabs]}  # fmt: skip

    def restore(self, state: dict[str, Any]) -> None:
        self.vocab, self._unknown = Vocab.from_dict(state["vocab"]), None
        chars = state.get("chars")  # runs saved before character features have none
        self.chars = None if chars is None else Vocab.from_dict(chars, "task state: chars")
        self.column_vocabs = [Vocab.from_dict(v, "task state: columns") for v in state.get("columns", [])]
        self.labels = list(state["labels"])
        self.scheme, self.crf_constraints = state["scheme"], state["crf_constraints"]

    SUFFIX = "<suf>"

    def _ending(self, word: str, n: int) -> str:
        return self.SUFFIX + word[-n:]

    def encode(self, tokens: Sequence[str]) -> list[int]:
        """Ids of (normalized) tokens; an unknown word gets its longest known ending, else ``<unk>``."""
        return [self._id(word) for word in self.normalize(tokens)]

    def _id(self, word: str, known: bool = True) -> int:
        if known and word in self.vocab:
            return self.vocab.token_to_id(word)
        for n in range(min(self.data.suffix_backoff, len(word)), 0, -1):
            if self._ending(word, n) in self.vocab:
                return self.vocab.token_to_id(self._ending(word, n))
        return UNK

    def _unknown_ids(self, device: torch.device) -> Tensor:
        """``(V,)``: for each id, the id its word would get were it unknown (what word dropout feeds in)."""
        if getattr(self, "_unknown", None) is None or self._unknown.device != device:
            tokens = self.vocab.tokens
            ids = [
                i if i < len(SPECIALS) or t.startswith(self.SUFFIX) else self._id(t, known=False)
                for i, t in enumerate(tokens)
            ]
            self._unknown = torch.tensor(ids, device=device)
        return self._unknown

    def normalize(self, tokens: Sequence[str]) -> list[str]:
        tokens = self._words(tokens)
        return [t.lower() for t in tokens] if self.data.lowercase else tokens

    @staticmethod
    def _words(tokens: Sequence[str]) -> list[str]:
        return [unicodedata.normalize("NFC", t) for t in tokens]

    def encode_chars(self, tokens: Sequence[str]) -> list[list[int]]:
        """Each token's character ids (the first ``max_word_length``; unknown characters ``<unk>``)."""
        return encode_characters(self.chars, self._words(tokens), self.data.max_word_length)

    def encode_columns(self, columns: Sequence[Sequence[str]]) -> list[list[int]]:
        """``(T, F)`` ids of the feature columns (one sequence of values per column; unknown -> ``<unk>``)."""
        encoded = [vocab.encode(values) for vocab, values in zip(self.column_vocabs, columns)]
        return [list(step) for step in zip(*encoded)]

    def _item(self, tokens: Sequence[str], tags: list[int], columns: Sequence[Sequence[str]]) -> dict:
        item: dict[str, Any] = {"inputs": self.encode(tokens), "targets": tags}
        if self.chars is not None:
            item["chars"] = self.encode_chars(tokens)
        if self.column_vocabs:
            item["columns"] = self.encode_columns(columns)
        return item

    def _encode(self, sentences: list[TaggedSentence]) -> list[dict[str, Any]]:
        """One item per sentence: word ids, tag ids, and the character and column ids the model reads."""
        index = {label: k for k, label in enumerate(self.labels)}
        unknown = sorted({t for s in sentences for t in s.tags} - set(index))
        if unknown:
            raise ValueError(f"tags {unknown[:5]} do not occur in the data the run was prepared on "
                             f"(known: {self.labels})")  # fmt: skip
        names = self.data.feature_columns
        return [
            self._item(s.tokens, [index[t] for t in s.tags], [s.features[c] for c in names])
            for s in sentences
        ]

    @staticmethod
    def collate(items: Sequence[dict[str, Any]]) -> dict[str, Tensor]:
        """``collate_tagging`` of the words and tags, plus ``chars (B, T, L)`` and ``columns (B, T, F)`` for
        items that have them."""
        batch = collate_tagging([(item["inputs"], item["targets"]) for item in items])
        if items and "chars" in items[0]:
            batch["chars"] = pad_words([item["chars"] for item in items])
        if items and "columns" in items[0]:
            batch["columns"] = pad_batch([item["columns"] for item in items])[0]
        return batch

    def batch(
        self,
        token_lists: Sequence[Sequence[str]],
        column_lists: Sequence[Sequence[Sequence[str]]] | None = None,
    ) -> dict[str, Tensor]:
        """A batch of raw token lists (and their column values, one sequence per column) as the model reads
        them, tags all 0: ``predict`` and inspection."""
        column_lists = column_lists or [[] for _ in token_lists]
        return self.collate([self._item(t, [0] * len(t), c) for t, c in zip(token_lists, column_lists)])

    def split_text(self, text: str) -> tuple[list[str], list[list[str]]]:
        """A raw sentence -> its words and the values of each feature column (``He/PRP`` -> ``He``, ``PRP``).

        Raises:
            ValueError: the model reads columns and a word does not carry them.
        """
        names = self.data.feature_columns
        if not names:
            return split_words(text, self.data.split_punctuation), []
        words, columns, sep = [], [[] for _ in names], self.data.column_separator
        for word in split_words(text):
            parts = word.rsplit(sep, len(names))
            if len(parts) != len(names) + 1 or not all(parts):
                example = sep.join(["He", *(f"<{name}>" for name in names)])
                raise ValueError(
                    f"this model also reads {list(names)}: write each word as {example}, got {word!r}"
                )
            words.append(parts[0])
            for values, value in zip(columns, parts[1:]):
                values.append(value)
        return words, columns

    def loaders(self) -> tuple[Any, Any, Any]:
        if not hasattr(self, "splits"):
            self.splits = load_splits(self.data, self.where)

        def loader(sentences: list[TaggedSentence], shuffle: bool) -> DataLoader | None:
            if not sentences:
                return None
            items = self._encode(sentences)
            sizes = [len(item["inputs"]) for item in items]
            sampler = BucketBatchSampler(sizes, self.train.batch_size, shuffle=shuffle, seed=self.train.seed)
            return DataLoader(items, batch_sampler=sampler, collate_fn=self.collate)

        return (
            loader(self.splits["train"], True),
            loader(self.splits["val"], False),
            loader(self.splits["test"], False),
        )

    # ----- model --------------------------------------------------------------------------------------
    def model_config(self) -> TaggerConfig:
        options, where = dict(self.model_options), f"{self.where}: model"
        derived = {"vocab_size", "num_tags", "labels", "input_size", "char_vocab_size", "column_vocab_sizes"}
        derived &= set(options)
        if derived:
            raise ConfigError(f"{where}: {sorted(derived)[0]!r} comes from the data; remove it")
        if "column_embedding_dim" in options and not self.column_vocabs:
            raise ConfigError(f"{where}.column_embedding_dim: no data.feature_columns to embed")
        if "constraints" not in options:
            options["constraints"] = self.crf_constraints if options.get("crf") is True else None
        sizes = {"vocab_size": len(self.vocab), "num_tags": len(self.labels), "labels": list(self.labels)}
        sizes.update(character_sizes(self.chars, options, where))
        if self.column_vocabs:
            sizes["column_vocab_sizes"] = [len(vocab) for vocab in self.column_vocabs]
        return from_dict(TaggerConfig, {**options, **sizes}, where)

    def build_model(self) -> nn.Module:
        return SequenceTagger(self.model_config())

    @staticmethod
    def _loss(model: nn.Module, emissions: Tensor, batch: dict[str, Tensor]) -> Tensor:
        if model.crf is not None:  # per token, as the softmax head's cross-entropy
            return crf_negative_log_likelihood(
                model.crf, emissions, batch["targets"], batch["lengths"], "token_mean"
            )
        return masked_cross_entropy(emissions, batch["targets"])  # padded targets are -100

    def compute_loss(self, model: nn.Module, batch: dict[str, Tensor]) -> Tensor:
        inputs = batch["inputs"]
        if model.training and self.data.word_dropout > 0:
            drop = (torch.rand(inputs.shape, device=inputs.device) < self.data.word_dropout) & (inputs != PAD)
            inputs = torch.where(drop, self._unknown_ids(inputs.device)[inputs], inputs)
        return self._loss(model, model(inputs, batch["lengths"], **self.model_extras(batch)), batch)

    def _run(self, model: nn.Module, loader: Any) -> tuple[list[list[int]], list[list[int]], float]:
        """Gold and predicted tag ids per sentence, and the token-weighted mean loss."""
        gold, guess, loss_sum, count = [], [], 0.0, 0
        for batch in loader:
            batch = {k: v.to(self.device) for k, v in batch.items()}
            emissions = model(batch["inputs"], batch["lengths"], **self.model_extras(batch))
            tokens = int(batch["lengths"].sum())
            loss_sum += self._loss(model, emissions, batch).item() * tokens
            count += tokens
            paths = model.decode(batch["inputs"], batch["lengths"], **self.model_extras(batch)).tolist()
            for n, truth, path in zip(batch["lengths"].tolist(), batch["targets"].tolist(), paths):
                gold.append(truth[:n])
                guess.append(path[:n])
        return gold, guess, loss_sum / max(count, 1)

    def _scores(self, gold: list[list[str]], guess: list[list[str]], prefix: str) -> dict[str, float]:
        flat = lambda lists: [t for tags in lists for t in tags]  # noqa: E731
        scores = {f"{prefix}_accuracy": accuracy(flat(gold), flat(guess))}
        if self.scheme is not None:
            chunks = chunk_f1(gold, guess, METRIC_SCHEME[self.scheme])
            scores.update({f"{prefix}_chunk_{k}": chunks[k] for k in ("f1", "precision", "recall")})
        return scores

    def _names(self, id_lists: list[list[int]]) -> list[list[str]]:
        return [[self.labels[i] for i in ids] for ids in id_lists]

    def evaluate(self, model: nn.Module, loader: Any) -> dict[str, float]:
        gold, guess, loss = self._run(model, loader)
        return {"val_loss": loss, **self._scores(self._names(gold), self._names(guess), "val")}

    def report(self, model: nn.Module, run_dir: Path) -> dict[str, Any]:
        _, _, test_loader = self.loaders()
        model.eval()
        with torch.no_grad():
            gold_ids, guess_ids, loss = self._run(model, test_loader)
        test = sorted(self.splits["test"], key=len)  # the loader's order (sorted by length, ties by index)
        gold, guess = self._names(gold_ids), self._names(guess_ids)
        if [list(s.tags) for s in test] != gold:
            raise RuntimeError("tagging report: the test loader's order is not the sorted test sentences")
        train = self.splits["train"]
        base = MostFrequentTag.fit([self.normalize(s.tokens) for s in train], [s.tags for s in train])
        base_guess = [base.tag(self.normalize(s.tokens)) for s in test]
        unknown = [[t not in self.vocab for t in self.normalize(s.tokens)] for s in test]
        pairs = [
            (g, p) for s, gs, ps, us in zip(test, gold, guess, unknown) for g, p, u in zip(gs, ps, us) if u
        ]
        names = list(range(len(self.labels)))
        flat_gold, flat_guess = [t for s in gold_ids for t in s], [t for s in guess_ids for t in s]
        if len(self.labels) <= MAX_PLOTTED_TAGS:
            from rnnkit.training.plots import plot_confusion_matrix

            matrix = confusion_matrix(flat_gold, flat_guess, labels=names)
            plot_confusion_matrix(matrix, self.labels, run_dir / "confusion_matrix.png")
        per_tag = classification_report(flat_gold, flat_guess, labels=names, names=self.labels)
        shown = self.splits["test"][:: max(1, len(self.splits["test"]) // 5)][:5]
        columns = self.data.feature_columns
        samples = self._tag_tokens(
            model, [list(s.tokens) for s in shown], [[s.features[c] for c in columns] for s in shown]
        )
        results = {
            "test_loss": loss,
            **self._scores(gold, guess, "test"),
            "test_accuracy_unknown_words": accuracy(*zip(*pairs)) if pairs else None,
            "baseline": {
                "name": f"most frequent tag per word (unknown words: {base.default})",
                **self._scores(gold, base_guess, "test"),
            },
            "scheme": self.scheme,
            "unknown_word_rate": sum(map(sum, unknown)) / sum(map(len, unknown)),
            "sizes": {name: len(part) for name, part in self.splits.items()},
            "tokens": {name: sum(map(len, part)) for name, part in self.splits.items()},
            "per_tag": per_tag,
            "samples": [{**r, "true": list(s.tags)} for r, s in zip(samples, shown)],
        }
        if self.scheme is not None:
            results["per_chunk_type"] = chunk_f1(gold, guess, METRIC_SCHEME[self.scheme])["per_type"]
        return results

    # ----- inference ----------------------------------------------------------------------------------
    @torch.no_grad()
    def _tag_tokens(
        self,
        model: nn.Module,
        token_lists: list[list[str]],
        column_lists: list[list[list[str]]] | None = None,
    ) -> list[dict[str, Any]]:
        model.eval()
        column_lists = column_lists or [[] for _ in token_lists]
        tags: list[list[str]] = [[] for _ in token_lists]
        todo = [k for k, tokens in enumerate(token_lists) if tokens]
        for start in range(0, len(todo), 256):
            chunk = todo[start : start + 256]
            batch = self.batch([token_lists[k] for k in chunk], [column_lists[k] for k in chunk])
            batch = {k: v.to(self.device) for k, v in batch.items()}
            paths = model.decode(batch["inputs"], batch["lengths"], **self.model_extras(batch)).tolist()
            for k, n, path in zip(chunk, batch["lengths"].tolist(), paths):
                tags[k] = [self.labels[i] for i in path[:n]]
        results = []
        for tokens, predicted in zip(token_lists, tags):
            result: dict[str, Any] = {"text": " ".join(tokens), "tokens": tokens, "tags": predicted}
            if self.scheme is not None:
                chunks = extract_chunks(predicted, METRIC_SCHEME[self.scheme])
                result["chunks"] = [
                    {"type": kind, "start": s, "end": e, "text": " ".join(tokens[s:e])}
                    for kind, s, e in chunks
                ]
            results.append(result)
        return results

    def predict(self, model: nn.Module, inputs: list[str]) -> list[dict[str, Any]]:
        """Tags for raw sentences, split on whitespace (and punctuation, with ``data.split_punctuation``):
        ``{"text", "tokens", "tags"}`` each, plus ``"chunks"`` (type, start, end, text) for IOB tags.
        With ``data.feature_columns`` each word carries its columns (``He/PRP``); tokens are the words.

        Raises:
            ValueError: a word without the feature columns the model reads, naming the input line.
        """
        words, columns = [], []
        for number, text in enumerate(inputs, 1):
            try:
                w, c = self.split_text(text)
            except ValueError as error:
                raise InputError(number, str(error)) from None
            words.append(w)
            columns.append(c)
        results = self._tag_tokens(model, words, columns)
        for result, text in zip(results, inputs):
            result["text"] = text
        return results
