"""Language model: the data config and how its examples are read and split."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Literal

from rnnkit.config import ConfigError
from rnnkit.data.reading import DataError
from rnnkit.data.splits import complete_splits, own_files, read_own_files, replace_splits


@dataclass(frozen=True)
class GenerationOptions:
    """How the report's sample and ``predict`` continue a prompt.

    Attributes:
        prompt: the report's prompt (``predict`` takes its own prompts).
        max_new_tokens: tokens generated per prompt.
        strategy: ``"sample"`` (temperature, top_k, seed) or ``"greedy"`` (argmax at every step).
        temperature: > 0; below 1 sharpens the distribution (sample only).
        top_k: sample among the k most likely tokens only; None: all (sample only).
        seed: the sampling seed: the same prompt gives the same text.
    """

    prompt: str = "\n"
    max_new_tokens: int = 300
    strategy: Literal["sample", "greedy"] = "sample"
    temperature: float = 0.8
    top_k: int | None = None
    seed: int = 0

    def __post_init__(self) -> None:
        if not self.prompt:
            raise ValueError("GenerationOptions.prompt must be a non-empty string, got ''")
        if self.max_new_tokens < 1:
            raise ValueError(f"GenerationOptions.max_new_tokens must be >= 1, got {self.max_new_tokens}")
        if self.strategy not in ("sample", "greedy"):
            raise ValueError(
                f"GenerationOptions.strategy must be 'sample' or 'greedy', got {self.strategy!r}"
            )
        if not (math.isfinite(self.temperature) and self.temperature > 0):
            raise ValueError(f"GenerationOptions.temperature must be > 0, got {self.temperature}")
        if self.top_k is not None and self.top_k < 1:
            raise ValueError(f"GenerationOptions.top_k must be >= 1 or None, got {self.top_k}")


@dataclass(frozen=True)
class LanguageModelData:
    """Where the text comes from, how it becomes tokens and chunks, and how text is generated.

    Attributes:
        dataset: a catalog name of plain text (``tinyshakespeare``), or ``"text"`` for the file ``path``.
        path: a local copy of the catalog dataset (no download), or the UTF-8 file for ``dataset="text"``.
        train, validation, test: your own text files, used instead of ``dataset``; without ``validation`` /
            ``test`` those parts are cut off the end of ``train`` (contiguous, logged).
        encoding: how the text files (own files and ``dataset: text``) are decoded:
            ``auto`` (detected per file, and logged: a byte-order mark, else UTF-8, else cp949 / EUC-KR
            for Korean bytes, else Latin-1) or any Python codec (``utf-8``, ``cp949``, ``utf-16``...).
        on_bad_rows: ``error`` (a bad row stops the run, naming its file and line) or ``skip`` (bad rows
            are left out, their count and first line numbers in a warning);
            a bad line is one with invalid bytes or a NUL byte.
        tokenizer: ``char`` (the default), ``word`` (words and punctuation; ``detokenize`` joins them with
            spaces, so generated text loses line breaks) or ``bpe`` (``subword_vocab_size`` pieces trained on
            the training text, spacing and line breaks kept; a prompt is encoded as the start of a text, a
            ``▁`` before its first word, which may split it unlike the same words inside the text).
        lowercase: for char and word tokens.
        max_vocab, min_freq: vocabulary limits (specials included in ``max_vocab``); the rest is ``<unk>``.
        val_fraction, test_fraction: the last characters of the text, in that order (contiguous cuts).
        bptt: tokens per training chunk (backpropagation through time), also the evaluation window.
        chunks: ``"random"`` starts (``chunks_per_epoch`` of them, default: training tokens // bptt) or
            ``"strided"`` starts every ``stride`` tokens (default: bptt, non-overlapping), shuffled.
        eval_max_tokens: score at most this many tokens of the validation and test texts (their start);
            None: all.
        generation: the sampling options (:class:`GenerationOptions`).
        offline: never download (None: the ``RNNKIT_OFFLINE`` environment variable decides).
    """

    dataset: str = "tinyshakespeare"
    path: str | None = None
    train: str | None = None
    validation: str | None = None
    test: str | None = None
    encoding: str = "auto"
    on_bad_rows: Literal["error", "skip"] = "error"
    tokenizer: Literal["char", "word", "bpe"] = "char"
    lowercase: bool = False
    subword_vocab_size: int = 1000
    max_vocab: int | None = None
    min_freq: int = 1
    val_fraction: float = 0.05
    test_fraction: float = 0.05
    bptt: int = 128
    chunks: Literal["random", "strided"] = "random"
    chunks_per_epoch: int | None = None
    stride: int | None = None
    eval_max_tokens: int | None = 100_000
    generation: GenerationOptions = field(default_factory=GenerationOptions)
    offline: bool | None = None

    def __post_init__(self) -> None:
        from rnnkit.data.encodings import check_data_keys

        check_data_keys(self.encoding, self.on_bad_rows)
        for name in ("val_fraction", "test_fraction"):
            if not 0.0 < getattr(self, name) < 1.0:
                raise ValueError(f"LanguageModelData.{name} must be in (0, 1), got {getattr(self, name)}")
        if self.val_fraction + self.test_fraction >= 1.0:
            raise ValueError(
                f"LanguageModelData: val_fraction + test_fraction must be < 1 (some text must remain for "
                f"training), got {self.val_fraction} + {self.test_fraction}"
            )
        if self.train is not None and self.path is not None:
            raise ValueError("LanguageModelData: data.train (your own files) replaces dataset and path")
        if self.dataset == "text" and self.path is None and self.train is None:
            raise ValueError("LanguageModelData: dataset='text' needs path= (a UTF-8 text file)")
        if self.tokenizer not in ("char", "word", "bpe"):
            raise ValueError(f"LanguageModelData.tokenizer must be char, word or bpe, got {self.tokenizer!r}")
        if self.lowercase and self.tokenizer == "bpe":
            raise ValueError("LanguageModelData.lowercase applies to char and word tokens, not bpe")
        positive = ("bptt", "subword_vocab_size", "min_freq", "chunks_per_epoch", "stride", "eval_max_tokens")
        for name in positive:
            value = getattr(self, name)
            if value is not None and value < 1:
                raise ValueError(f"LanguageModelData.{name} must be >= 1, got {value}")
        if self.chunks == "strided" and self.chunks_per_epoch is not None:
            raise ValueError("LanguageModelData.chunks_per_epoch applies to chunks='random', not 'strided'")
        if self.chunks == "random" and self.stride is not None:
            raise ValueError("LanguageModelData.stride applies to chunks='strided', not 'random'")


def split_contiguous(text: str, val_fraction: float, test_fraction: float) -> tuple[str, str, str]:
    """``(train, val, test)``: the last ``round(n * test_fraction)`` characters for test, the
    ``round(n * val_fraction)`` before them for validation, the rest for training. Contiguous cuts, so no
    passage lies in two parts.

    Example:
        >>> split_contiguous("abcdefghijklmnopqrst", 0.1, 0.05)
        ('abcdefghijklmnopq', 'rs', 't')
    """
    n = len(text)
    test_start = n - round(n * test_fraction)
    val_start = max(0, test_start - round(n * val_fraction))
    return text[:val_start], text[val_start:test_start], text[test_start:]


def cut_tail(text: str, fraction: float, seed: int = 0) -> tuple[str, str]:
    """``(rest, tail)``: the last ``round(len(text) * fraction)`` characters cut off (``seed`` is unused: a
    contiguous cut has no randomness).

    Example:
        >>> cut_tail("abcdefghij", 0.2)
        ('abcdefgh', 'ij')
    """
    cut = len(text) - round(len(text) * fraction)
    return text[:cut], text[cut:]


def load_text_splits(data: LanguageModelData) -> dict[str, str]:
    """The ``train`` / ``val`` / ``test`` texts of ``data``: the user's own files (missing parts cut off the
    end of ``train``), or one text cut by :func:`split_contiguous`."""
    from rnnkit.data.loaders_text import load_text

    files = own_files(data)
    if "train" in files:
        texts = read_own_files(files, lambda path: load_text(path, data.encoding, data.on_bad_rows))
        if not texts["train"]:
            raise DataError(f"data.train: {files['train']}: the text is empty")
        return complete_splits(texts, cut_tail, data.val_fraction, data.test_fraction, 0, unit="characters")
    if data.dataset == "text":
        text: Any = load_text(data.path, data.encoding, data.on_bad_rows)
    else:
        from rnnkit.data.catalog import load_dataset

        text = load_dataset(data.dataset, data.path, offline=data.offline).get("all")
        if not isinstance(text, str):
            raise ConfigError(f"data: dataset {data.dataset!r} is not plain text (try tinyshakespeare)")
    if not text:
        raise DataError(f"data: {data.path or data.dataset}: the text is empty")
    if not files:
        train, val, test = split_contiguous(text, data.val_fraction, data.test_fraction)
        return {"train": train, "val": val, "test": test}
    read = lambda path: load_text(path, data.encoding, data.on_bad_rows)  # noqa: E731
    texts = replace_splits({"train": text}, files, read)
    return complete_splits(texts, cut_tail, data.val_fraction, data.test_fraction, 0, unit="characters")
