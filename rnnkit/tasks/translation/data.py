"""Translation: the data config and how its examples are read and split."""

from __future__ import annotations

import random
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from rnnkit.config import ConfigError
from rnnkit.data.detokenize import detokenize, join_words  # noqa: F401  (re-exported: moved there)
from rnnkit.data.records import TextPair
from rnnkit.data.splits import complete_splits, own_files, read_own_files, replace_splits

TokenizerName = Literal["char", "word", "morpheme", "bpe", "unigram"]
DECODE_BATCH = 64  # sentences decoded at once


@dataclass(frozen=True)
class TranslationData:
    """Where the sentence pairs come from, how each side becomes token ids, and how outputs are decoded.

    Attributes:
        dataset: a catalog name (``tatoeba_eng_kor``: English -> Korean, the default), ``"pairs"`` (a
            tab-separated ``source<TAB>target[<TAB>attribution]`` file at ``path``) or ``"table"``.
        path: a local copy of a catalog dataset (no download), or the file for ``pairs`` / ``table``.
        train, validation, test: your own files, used instead of ``dataset``: ``.csv`` / ``.tsv`` /
            ``.jsonl`` tables (``source_column``, ``target_column``; a header row) or tab-separated pair
            files without a header (any other suffix, as ``dataset="pairs"``); without ``validation`` /
            ``test`` those splits are held out of ``train`` (by source sentence, seeded, logged).
        reverse: swap the two sides (Korean -> English on ``tatoeba_eng_kor``).
        format, source_column, target_column: how to read ``dataset="table"`` (csv, tsv or jsonl).
        source_tokenizer, target_tokenizer: ``char``, ``word``, ``morpheme`` (Korean, kiwipiepy), ``bpe`` or
            ``unigram`` (trained on that side of the training pairs, ``subword_vocab_size`` pieces).
        source_lowercase, target_lowercase: lowercase that side before tokenizing; a lowercased target is
            scored against lowercased references.
        max_vocab, min_freq: limits of each vocabulary (specials included in ``max_vocab``).
        max_length: training pairs with more tokens on either side are left out (None: keep all);
            validation and test pairs are all kept.
        val_fraction, test_fraction: held out where the dataset has no such split, seeded with
            ``split_seed``; pairs sharing a source sentence stay in one split, so no test source is seen
            in training.
        eval_pairs: validation sentences decoded greedily at each evaluation for ``val_bleu``/``val_chrf``.
        max_output_length: most tokens per translation (None: the longest training target + 10).
        strategy, beam_size, length_penalty: how ``predict`` decodes (``report`` scores both strategies
            with this beam size); ``length_penalty`` is GNMT's alpha.
        bleu_tokenize: sacrebleu tokenizer for BLEU; ``auto``: ``char`` for Hangul/CJK targets, else ``13a``.
        encoding: how pair files and tables are decoded:
            ``auto`` (detected per file, and logged: a byte-order mark, else UTF-8, else cp949 / EUC-KR
            for Korean bytes, else Latin-1) or any Python codec (``utf-8``, ``cp949``, ``utf-16``...).
        on_bad_rows: ``error`` (a bad row stops the run, naming its file and line) or ``skip`` (bad rows
            are left out, their count and first line numbers in a warning).
        offline: never download (None: the ``RNNKIT_OFFLINE`` environment variable decides).
    """

    dataset: str = "tatoeba_eng_kor"
    path: str | None = None
    train: str | None = None
    validation: str | None = None
    test: str | None = None
    reverse: bool = False
    format: Literal["csv", "tsv", "jsonl"] = "tsv"
    source_column: str = "source"
    target_column: str = "target"
    source_tokenizer: TokenizerName = "word"
    target_tokenizer: TokenizerName = "char"
    source_lowercase: bool = True
    target_lowercase: bool = False
    subword_vocab_size: int = 4000
    max_vocab: int | None = 30000
    min_freq: int = 1
    max_length: int | None = 60
    val_fraction: float = 0.1
    test_fraction: float = 0.1
    split_seed: int = 0
    eval_pairs: int = 200
    max_output_length: int | None = None
    strategy: Literal["greedy", "beam"] = "beam"
    beam_size: int = 5
    length_penalty: float = 0.6
    bleu_tokenize: Literal["auto", "13a", "intl", "char", "zh", "none"] = "auto"
    offline: bool | None = None
    encoding: str = "auto"
    on_bad_rows: Literal["error", "skip"] = "error"

    def __post_init__(self) -> None:
        from rnnkit.data.encodings import check_data_keys

        check_data_keys(self.encoding, self.on_bad_rows)
        for name in ("val_fraction", "test_fraction"):
            if not 0.0 <= getattr(self, name) < 1.0:
                raise ValueError(f"TranslationData.{name} must be in [0, 1), got {getattr(self, name)}")
        if self.val_fraction + self.test_fraction >= 1.0:
            raise ValueError(f"TranslationData: val_fraction + test_fraction must be < 1, got "
                             f"{self.val_fraction} + {self.test_fraction}")  # fmt: skip
        if self.train is not None and self.path is not None:
            raise ValueError("TranslationData: data.train (your own files) replaces dataset and path")
        if self.dataset in ("pairs", "table") and self.path is None and self.train is None:
            raise ValueError(f"TranslationData: dataset={self.dataset!r} needs path= (the file of pairs)")
        for name in ("eval_pairs", "beam_size", "max_length", "max_output_length", "min_freq"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise ValueError(f"TranslationData.{name} must be >= 1, got {value}")
        if self.subword_vocab_size <= 4:
            raise ValueError(f"TranslationData.subword_vocab_size must be > 4, got {self.subword_vocab_size}")
        if self.length_penalty < 0:
            raise ValueError(f"TranslationData.length_penalty must be >= 0, got {self.length_penalty}")


def split_pairs(
    pairs: Sequence[TextPair], fraction: float, seed: int
) -> tuple[list[TextPair], list[TextPair]]:
    """A seeded split that keeps every pair of one source sentence on the same side.

    ``round(fraction · S)`` of the S distinct sources (at least one when ``fraction > 0``), drawn by
    ``random.Random(seed)``, go to the held-out part; both parts keep the input order.

    Example:
        >>> pairs = [TextPair(s, s.upper()) for s in ["a", "b", "a", "c", "d"]]
        >>> rest, held = split_pairs(pairs, 0.25, seed=0)
        >>> len(rest) + len(held), {p.source for p in rest} & {p.source for p in held}
        (5, set())
    """
    sources = sorted({p.source for p in pairs})
    if fraction <= 0 or len(sources) < 2:
        return list(pairs), []
    random.Random(seed).shuffle(sources)
    held = set(sources[: max(1, round(fraction * len(sources)))])
    return [p for p in pairs if p.source not in held], [p for p in pairs if p.source in held]


TABLE_SUFFIXES = {".csv": "csv", ".tsv": "tsv", ".jsonl": "jsonl", ".ndjson": "jsonl"}


def read_pairs(data: TranslationData, path: str, table_format: str | None) -> list[TextPair]:
    """The pairs of one file: a table (``table_format``: csv, tsv or jsonl) or a tab-separated pairs file."""
    if table_format is None:
        from rnnkit.data.loaders_text import load_pairs

        return load_pairs(path, encoding=data.encoding, on_bad_rows=data.on_bad_rows)
    from rnnkit.data.loaders_table import load_table

    return load_table(path, table_format, source=data.source_column, target=data.target_column,
                      encoding=data.encoding, on_bad_rows=data.on_bad_rows)  # fmt: skip


def load_splits(data: TranslationData) -> dict[str, list[TextPair]]:
    """Train / validation / test pairs: the user's own files, or the dataset's own splits where it has
    them; what is missing is held out of the training pairs by source sentence (:func:`complete_splits`)."""
    files = own_files(data)
    read = lambda path: read_pairs(data, path, TABLE_SUFFIXES.get(Path(path).suffix.lower()))  # noqa: E731
    if "train" in files:
        splits: dict[str, Any] = read_own_files(files, read)
    elif data.dataset in ("pairs", "table"):
        splits = {"all": read_pairs(data, data.path, data.format if data.dataset == "table" else None)}
    else:
        from rnnkit.data.catalog import load_dataset

        splits = load_dataset(data.dataset, data.path, offline=data.offline)
    if "train" not in files:
        splits = replace_splits(splits, files, read)
    train = splits.get("train", splits.get("all"))
    if not train or not isinstance(train, list) or not isinstance(train[0], TextPair):
        raise ConfigError(f"data: dataset {data.dataset!r} has no sentence pairs for translation")
    if data.reverse:
        splits = {k: [TextPair(p.target, p.source, p.attribution) for p in v] for k, v in splits.items()}
    return complete_splits(splits, split_pairs, data.val_fraction, data.test_fraction, data.split_seed,
                           unit="pairs")  # fmt: skip


def auto_bleu_tokenize(texts: Sequence[str]) -> str:
    """``"char"`` when most letters of ``texts`` are Hangul, CJK or kana (sacrebleu's 13a would score whole
    eojeols or unsegmented runs), else ``"13a"``.

    Example:
        >>> auto_bleu_tokenize(["나는 학생이야."]), auto_bleu_tokenize(["I am a student."])
        ('char', '13a')
    """
    letters = [c for text in texts for c in text if c.isalpha()]
    wide = sum(unicodedata.east_asian_width(c) == "W" for c in letters)
    return "char" if letters and wide > len(letters) / 2 else "13a"
