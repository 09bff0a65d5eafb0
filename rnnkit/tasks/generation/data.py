"""Generation: the data config, the decoding options, and how its examples are read and split.

Two kinds of examples, one per conditioning:

    class   TextExample(text, label)                 a table of texts with a label column (NSMC reviews)
    vector  CaptionExample(features, text, label)    a table of feature vectors with a caption per row
                                                     (scikit-learn's 8x8 digits with their digit in words)
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np

from rnnkit.config import ConfigError
from rnnkit.data.numbers import parse_numbers
from rnnkit.data.reading import DataError
from rnnkit.data.records import TextExample, split_stratified
from rnnkit.data.splits import complete_splits, own_files, read_own_files

# the digits 0-9 written out: English, Sino-Korean (일, 이, 삼) and native Korean (하나, 둘, 셋) numerals
DIGIT_WORDS = {
    "english": ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"),
    "korean": ("영", "일", "이", "삼", "사", "오", "육", "칠", "팔", "구"),
    "korean_native": ("영", "하나", "둘", "셋", "넷", "다섯", "여섯", "일곱", "여덟", "아홉"),
}


@dataclass(frozen=True, eq=False)
class CaptionExample:
    """A feature vector (an image's, say) with its target sentence; ``label`` (may be empty) stratifies the
    split, e.g. the digit of a digits image.

    Example:
        >>> x = CaptionExample([0.0, 16.0], "seven", "7")
        >>> x.features.dtype, x.features.shape, x.text
        (dtype('float32'), (2,), 'seven')
    """

    features: np.ndarray
    text: str
    label: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "features", np.asarray(self.features, dtype=np.float32).reshape(-1))


@dataclass(frozen=True)
class DecodingOptions:
    """How texts are generated, for the report and for ``predict``.

    Attributes:
        strategy: ``"sample"`` (temperature, top_k, seed), ``"greedy"`` or ``"beam"`` (beam_size);
            ``"auto"``: sample for class conditioning (many texts per class), greedy for vectors (a caption).
        temperature: > 0; below 1 sharpens the distribution (sample only).
        top_k: sample among the k most likely tokens only; None: all (sample only).
        beam_size: beams (beam only).
        seed: the sampling seed: the same input gives the same texts.
        max_new_tokens: tokens per text at most (``<eos>`` included).
        count: texts per input of ``predict`` (``--set generation.count=5``).
        samples_per_class: texts generated per class by the report, for the judge (class conditioning).
    """

    strategy: Literal["auto", "sample", "greedy", "beam"] = "auto"
    temperature: float = 1.0
    top_k: int | None = None
    beam_size: int = 4
    seed: int = 0
    max_new_tokens: int = 150
    count: int = 1
    samples_per_class: int = 100

    def __post_init__(self) -> None:
        if self.strategy not in ("auto", "sample", "greedy", "beam"):
            raise ValueError(
                f"DecodingOptions.strategy must be auto, sample, greedy or beam, got {self.strategy!r}"
            )
        if not (math.isfinite(self.temperature) and self.temperature > 0):
            raise ValueError(f"DecodingOptions.temperature must be > 0, got {self.temperature}")
        for name in ("beam_size", "max_new_tokens", "count", "samples_per_class"):
            if getattr(self, name) < 1:
                raise ValueError(f"DecodingOptions.{name} must be >= 1, got {getattr(self, name)}")
        if self.top_k is not None and self.top_k < 1:
            raise ValueError(f"DecodingOptions.top_k must be >= 1 or None, got {self.top_k}")

    def resolved(self, condition: str) -> str:
        """The strategy for this conditioning (``"auto"`` decided)."""
        if self.strategy != "auto":
            return self.strategy
        return "sample" if condition == "class" else "greedy"


@dataclass(frozen=True)
class GenerationData:
    """Where the examples come from, how texts become tokens, and how the results are judged.

    Attributes:
        dataset: ``"digits"`` (scikit-learn's 1,797 8x8 digit images, each captioned with its digit in
            words: ``digit_words``; no download), a catalog name of labelled texts (``nsmc``, ``mr``, ...),
            or ``"table"`` (the file ``path``).
        path: a local copy of a catalog dataset (no download), or the file for ``dataset="table"``.
        train, validation, test: your own files (csv, tsv or jsonl), used instead of ``dataset``; without
            ``validation`` / ``test`` those splits are held out of ``train`` (stratified, seeded, logged).
        condition: ``"class"`` (generate texts of a given label) or ``"vector"`` (a caption of a feature
            vector); None: vector for ``digits`` and wherever ``feature_columns`` are named, else class.
        format, text_column, label_column: how to read tables (None format: by the file's suffix).
        feature_columns: vector conditioning: the columns holding the features, or one column holding a
            list per row (a JSON list, or numbers separated by commas or spaces); None: every column but
            ``text_column`` and ``label_column``.
        digit_words: ``english`` (seven), ``korean`` (칠) or ``korean_native`` (일곱), for ``digits``.
        standardize: scale every feature by its training mean and standard deviation (saved with the run).
        tokenizer: ``char`` (the default), ``word``, ``morpheme`` (Korean), ``bpe`` or ``unigram``.
        lowercase, subword_vocab_size, max_vocab, min_freq: as for classification.
        max_length: tokens kept per text (the first ones; ``<eos>`` follows them); None: all.
        val_fraction, test_fraction, split_seed: the held-out splits where none is given.
        eval_max_texts: score at most this many test texts (the first ones); None: all.
        judge: class conditioning: a classification run folder (``rnnkit train``) whose labels include
            these; it judges the generated texts beside the TF-IDF judge that is always fitted.
        generation: the decoding options (:class:`DecodingOptions`).
        encoding: how the table files are decoded:
            ``auto`` (detected per file, and logged: a byte-order mark, else UTF-8, else cp949 / EUC-KR
            for Korean bytes, else Latin-1) or any Python codec (``utf-8``, ``cp949``, ``utf-16``...).
        on_bad_rows: ``error`` (a bad row stops the run, naming its file and line) or ``skip`` (bad rows
            are left out, their count and first line numbers in a warning).
        offline: never download (None: the ``RNNKIT_OFFLINE`` environment variable decides).
    """

    dataset: str = "digits"
    path: str | None = None
    train: str | None = None
    validation: str | None = None
    test: str | None = None
    condition: Literal["class", "vector"] | None = None
    format: Literal["csv", "tsv", "jsonl"] | None = None
    text_column: str = "text"
    label_column: str = "label"
    feature_columns: tuple[str, ...] | None = None
    digit_words: Literal["english", "korean", "korean_native"] = "english"
    standardize: bool = True
    tokenizer: Literal["char", "word", "morpheme", "bpe", "unigram"] = "char"
    lowercase: bool = False
    subword_vocab_size: int = 4000
    max_vocab: int | None = None
    min_freq: int = 1
    max_length: int | None = 200
    val_fraction: float = 0.1
    test_fraction: float = 0.1
    split_seed: int = 0
    eval_max_texts: int | None = None
    judge: str | None = None
    generation: DecodingOptions = field(default_factory=DecodingOptions)
    offline: bool | None = None
    encoding: str = "auto"
    on_bad_rows: Literal["error", "skip"] = "error"

    def __post_init__(self) -> None:
        from rnnkit.data.encodings import check_data_keys

        check_data_keys(self.encoding, self.on_bad_rows)
        for name in ("val_fraction", "test_fraction"):
            if not 0.0 <= getattr(self, name) < 1.0:
                raise ValueError(f"GenerationData.{name} must be in [0, 1), got {getattr(self, name)}")
        if self.train is not None and (self.path is not None or self.dataset not in ("digits", "table")):
            raise ValueError(
                "GenerationData: data.train (your own files) replaces dataset and path; remove them"
            )
        if self.train is None and (self.validation is not None or self.test is not None):
            raise ValueError(
                "GenerationData: data.validation / data.test need data.train (the training file)"
            )
        if self.dataset == "table" and self.path is None and self.train is None:
            raise ValueError("GenerationData: dataset='table' needs path= (the csv/tsv/jsonl file)")
        if self.condition not in (None, "class", "vector"):
            raise ValueError(f"GenerationData.condition must be class or vector, got {self.condition!r}")
        if self.digit_words not in DIGIT_WORDS:
            raise ValueError(f"GenerationData.digit_words must be one of {sorted(DIGIT_WORDS)}, "
                             f"got {self.digit_words!r}")  # fmt: skip
        for name in ("max_length", "eval_max_texts", "subword_vocab_size", "min_freq"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise ValueError(f"GenerationData.{name} must be >= 1, got {value}")
        if self.judge is not None and self.mode == "vector":
            raise ValueError("GenerationData.judge: a judge classifies generated texts by class; "
                             "vector conditioning has none (remove data.judge)")  # fmt: skip
        if self.feature_columns is not None and self.mode == "class":
            raise ValueError("GenerationData.feature_columns: with condition='class' there are no features")

    @property
    def mode(self) -> str:
        """``"class"`` or ``"vector"``: ``condition``, or what the dataset implies.

        Example:
            >>> GenerationData().mode, GenerationData(dataset="nsmc").mode, GenerationData(train="t.csv").mode
            ('vector', 'class', 'class')
        """
        if self.condition is not None:
            return self.condition
        if self.feature_columns is not None or (self.dataset == "digits" and self.train is None):
            return "vector"
        return "class"


def table_format_of(data: GenerationData, path: str | Path) -> str:
    """``data.format``, else the file's suffix, else tsv.

    Example:
        >>> table_format_of(GenerationData(), "rows.jsonl"), table_format_of(GenerationData(), "x.txt")
        ('jsonl', 'tsv')
    """
    if data.format is not None:
        return data.format
    return {".csv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl"}.get(Path(path).suffix.lower(), "tsv")


def _header(path: str | Path, fmt: str, encoding: str = "auto") -> list[str]:
    from rnnkit.data.reading import read_lines

    for _, line in read_lines(path, encoding):
        if not line.strip():
            continue
        if fmt == "jsonl":
            try:
                return list(json.loads(line))
            except (json.JSONDecodeError, TypeError):
                raise DataError(f"{path}: the first line is not a JSON object") from None
        import csv

        return next(csv.reader([line], delimiter="," if fmt == "csv" else "\t"))
    raise DataError(f"{path}: empty file")


def read_captions(data: GenerationData, path: str | Path) -> list[CaptionExample]:
    """The captioned feature vectors of one table: ``text_column`` the caption, ``feature_columns`` (or
    every other column) the features; ``label_column`` too when the table has it (it stratifies the split).

    Raises:
        DataError: a missing column, a value that is not numbers, or rows of different feature sizes,
            naming ``file:line``.
    """
    from rnnkit.data.loaders_table import iter_table
    from rnnkit.data.reading import BadRows

    fmt = table_format_of(data, path)
    header = _header(path, fmt, data.encoding)
    label = data.label_column if data.label_column in header else None
    features = list(data.feature_columns or [c for c in header if c not in (data.text_column, label)])
    if not features:
        raise DataError(f"{path}: no feature columns (the header has {header}); set data.feature_columns")
    out, size = [], None
    bad = BadRows(path, data.on_bad_rows)
    columns = [data.text_column, *features, *([label] if label else [])]
    for number, row in iter_table(path, fmt, columns, data.encoding, bad):
        try:
            values = [
                x for column in features for x in parse_numbers(row[column], f"{path}:{number}: {column}")
            ]
        except ValueError as error:
            bad.refuse(str(error), number)
            continue
        if size is not None and len(values) != size:
            bad.refuse(f"{path}:{number}: {len(values)} features, but the rows before have {size}", number)
            continue
        size = len(values)
        caption = str(row[data.text_column]).strip()
        if not caption:
            raise DataError(f"{path}:{number}: {data.text_column}: empty caption")
        out.append(CaptionExample(values, caption, str(row[label]) if label else ""))
    bad.report()
    if not out:
        raise DataError(f"{path}: no rows")
    return out


def read_texts(data: GenerationData, path: str | Path) -> list[TextExample]:
    """The labelled texts of one table (``text_column``, ``label_column``)."""
    from rnnkit.data.loaders_table import load_table

    return load_table(path, table_format_of(data, path), text=data.text_column, label=data.label_column,
                      encoding=data.encoding, on_bad_rows=data.on_bad_rows)  # fmt: skip


def load_digits_captions(words: str = "english") -> list[CaptionExample]:
    """scikit-learn's 1,797 8x8 digit images (64 grey levels 0-16 each), each captioned with its digit in
    words; the digit is the label (it stratifies the split).

    Example:
        >>> rows = load_digits_captions("korean_native")
        >>> len(rows), rows[0].features.shape, rows[7].text, rows[7].label
        (1797, (64,), '일곱', '7')
    """
    try:
        from sklearn.datasets import load_digits
    except ImportError as error:
        raise ImportError("dataset 'digits' needs scikit-learn: pip install 'rnnkit[bench]'") from error
    digits = load_digits()
    names = DIGIT_WORDS[words]
    return [CaptionExample(x, names[int(y)], str(int(y))) for x, y in zip(digits.data, digits.target)]


def load_splits(data: GenerationData, where: str = "config") -> dict[str, list[Any]]:
    """Train / validation / test examples (:class:`TextExample` or :class:`CaptionExample`, by
    ``data.mode``): own files, the dataset's splits, or one table; what is missing is held out of the
    training data, stratified by label and seeded (:func:`complete_splits`)."""
    files, mode = own_files(data), data.mode
    read = read_captions if mode == "vector" else read_texts
    if files:
        splits: dict[str, Any] = read_own_files(files, lambda path: read(data, path))
    elif data.dataset == "digits":
        rows = load_digits_captions(data.digit_words)
        if mode == "class":  # the digit's word given its digit: a tiny class-conditioned example
            rows = [TextExample(r.text, r.label) for r in rows]
        splits = {"all": rows}
    elif data.dataset == "table":
        splits = {"all": read(data, data.path)}
    else:
        from rnnkit.data.catalog import load_dataset

        splits = load_dataset(data.dataset, data.path, offline=data.offline)
        if mode == "vector":
            raise ConfigError(f"{where}: data: dataset {data.dataset!r} has texts, not feature vectors; "
                              "use condition: class")  # fmt: skip
    train = splits.get("train", splits.get("all"))
    kind = CaptionExample if mode == "vector" else TextExample
    if not train or not isinstance(train[0], kind):
        raise ConfigError(f"{where}: data: dataset {data.dataset!r} has no labelled texts to generate")
    return complete_splits(splits, split_stratified, data.val_fraction, data.test_fraction, data.split_seed,
                           unit="texts" if mode == "class" else "rows", where=f"{where}: data")  # fmt: skip
