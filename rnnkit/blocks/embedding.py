"""Token embeddings with a zero padding row, and pretrained word vectors from word2vec/GloVe text files.

The vectors are read from the plain *text* formats only (never pickle, never a binary blob):

* GloVe: one ``word v_1 v_2 ... v_dim`` per line;
* word2vec text (``binary=False``): a first line ``count dim``, then the same lines as GloVe.

A ``.gz`` file is decompressed on the fly. Files are UTF-8 (a leading byte-order mark is ignored).
"""

from __future__ import annotations

import gzip
import math
import os
import unicodedata
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from rnnkit.cells.base import check_probability, check_size

Vocabulary = Mapping[str, int] | Sequence[str]
"""``{word: index}`` or the words in index order (``vocab[i]`` is the word of row ``i``)."""


class WordVectorsError(ValueError):
    """A malformed word-vector file; the message starts with ``file:line``."""


class Embedding(nn.Module):
    """A lookup table ``V x dim`` whose padding row is zero and stays zero.

        e_t = W[x_t]                        (W[padding_idx] = 0, and it gets no gradient)
        out_t = dropout(e_t)                (element-wise, training only)

    Args:
        vocab_size: V, the number of rows.
        dim: features per token.
        padding_idx: the row of the padding token (rnnkit's vocabularies put ``<pad>`` at 0); it is
            zero and receives no gradient. None: no padding row.
        freeze: keep the table fixed (``weight.requires_grad = False``); it is still saved with the model.
        dropout: probability of zeroing each feature of the output in training.

    Shape: ``tokens (B, T)`` integer -> ``(B, T, dim)``.

    Example:
        >>> emb = Embedding(10, 4)
        >>> out = emb(torch.tensor([[3, 5, 0]]))
        >>> out.shape, out[0, 2].abs().sum().item()
        (torch.Size([1, 3, 4]), 0.0)
    """

    def __init__(
        self,
        vocab_size: int,
        dim: int,
        padding_idx: int | None = 0,
        freeze: bool = False,
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        check_size("Embedding: vocab_size", vocab_size)
        check_size("Embedding: dim", dim)
        check_probability("Embedding: dropout", dropout)
        if padding_idx is not None:
            check_size("Embedding: padding_idx", padding_idx, 0)
            if padding_idx >= vocab_size:
                raise ValueError(
                    f"Embedding: padding_idx must be < vocab_size={vocab_size}, got {padding_idx}"
                )
        self.vocab_size, self.dim, self.padding_idx = vocab_size, dim, padding_idx
        self.weight = nn.Parameter(torch.randn(vocab_size, dim))  # N(0, 1), as torch.nn.Embedding
        self._zero_padding_row()
        self.weight.requires_grad_(not freeze)
        self.dropout = nn.Dropout(dropout)

    @property
    def frozen(self) -> bool:
        """Whether the table is fixed in training."""
        return not self.weight.requires_grad

    def _zero_padding_row(self) -> None:
        if self.padding_idx is not None:
            with torch.no_grad():
                self.weight[self.padding_idx].zero_()

    @classmethod
    def from_pretrained(
        cls,
        vectors: Tensor,
        padding_idx: int | None = 0,
        freeze: bool = True,
        dropout: float = 0.0,
    ) -> Embedding:
        """An embedding initialised from ``vectors (V, dim)`` (e.g. from :func:`load_word_vectors`).

        The padding row is set to zero whatever ``vectors`` holds there. ``freeze`` defaults to True,
        as in ``torch.nn.Embedding.from_pretrained``.

        Example:
            >>> emb = Embedding.from_pretrained(torch.ones(3, 2))
            >>> emb.weight.tolist(), emb.frozen
            ([[0.0, 0.0], [1.0, 1.0], [1.0, 1.0]], True)
        """
        if not isinstance(vectors, Tensor) or vectors.dim() != 2 or not vectors.is_floating_point():
            got = tuple(vectors.shape) if isinstance(vectors, Tensor) else type(vectors).__name__
            raise ValueError(f"Embedding.from_pretrained: expected a float tensor (V, dim), got {got}")
        embedding = cls(vectors.size(0), vectors.size(1), padding_idx, freeze, dropout)
        embedding.load_vectors(vectors)
        return embedding

    def load_vectors(self, vectors: Tensor) -> None:
        """Copy ``vectors (V, dim)`` into the table in place (``freeze`` is kept); the padding row stays 0."""
        if tuple(vectors.shape) != (self.vocab_size, self.dim):
            raise ValueError(
                f"Embedding: expected vectors of shape {(self.vocab_size, self.dim)}, "
                f"got {tuple(vectors.shape)}"
            )
        with torch.no_grad():
            self.weight.copy_(vectors)
        self._zero_padding_row()

    def forward(self, tokens: Tensor) -> Tensor:
        """Look up ``tokens (B, T)`` (any integer tensor of ids in ``[0, V)``) -> ``(B, T, dim)``."""
        if not isinstance(tokens, Tensor):
            raise TypeError(f"Embedding: tokens must be a Tensor of ids, got {type(tokens).__name__}")
        if tokens.is_floating_point() or tokens.is_complex() or tokens.dtype == torch.bool:
            raise TypeError(f"Embedding: tokens must be an integer tensor of ids, got dtype {tokens.dtype}")
        if tokens.numel():
            low, high = int(tokens.min()), int(tokens.max())
            if low < 0 or high >= self.vocab_size:
                bad = low if low < 0 else high
                raise ValueError(f"Embedding: token ids must be in [0, {self.vocab_size}), got {bad}")
        if tokens.dtype not in (torch.int32, torch.int64):  # F.embedding takes these two only
            tokens = tokens.long()
        return self.dropout(F.embedding(tokens, self.weight, self.padding_idx))

    def extra_repr(self) -> str:
        return f"{self.vocab_size}, {self.dim}, padding_idx={self.padding_idx}, freeze={self.frozen}" + (
            f", dropout={self.dropout.p}" if self.dropout.p else ""
        )


def load_word_vectors(
    path: str | os.PathLike,
    vocab: Vocabulary,
    dim: int | None = None,
    *,
    padding_idx: int | None = 0,
    generator: torch.Generator | None = None,
    std: float | None = None,
) -> tuple[Tensor, int]:
    """Read a GloVe or word2vec text file into a ``(V, dim)`` table for ``vocab``.

    Rows of words found in the file hold their vectors (first occurrence wins; matching is exact, case
    included). The other rows get small random vectors ``N(0, std^2)`` drawn from ``generator``, with
    ``std`` by default the standard deviation of the vectors found (0.1 when none are), so they look
    like the pretrained ones (Kim 2014 draws them uniformly with that variance). The padding row is zero.

    Fields are separated by single ASCII spaces (trailing spaces are ignored), so a word may contain other
    whitespace such as U+00A0. A first line of exactly two integers is a word2vec header ``count dim``.
    Without a header and without ``dim``, the first vector line sets ``dim``. A word may even contain
    ASCII spaces (GloVe 840B has a few) when the extra fields are not numbers; otherwise a line with more
    or fewer than ``dim`` values is an error. Values are parsed only for the words of ``vocab``, so the
    whole file need not be converted. Words are compared in Unicode NFC on both sides, so a file written
    in NFD (decomposed Hangul, say) still matches.

    Args:
        path: the text file (``.gz`` is decompressed).
        vocab: ``{word: index}`` or a list of words in index order; V is the largest index + 1.
        dim: the expected dimension (checked against the file), or None to take the file's.
        padding_idx: the row left zero (None: none).
        generator: the random source of the missing rows (seed it for reproducible tables).
        std: the standard deviation of the missing rows (default: as above).

    Returns:
        ``(vectors (V, dim) float32, found)``: the table and how many of its rows came from the file
        (never the padding row).

    Raises:
        WordVectorsError: (a ValueError) ``file:line`` and what is wrong: a dimension mismatch, a value that
            is not a finite number, a line that is not UTF-8, or a file without vectors.

    Example:
        >>> import tempfile, pathlib
        >>> path = pathlib.Path(tempfile.mkdtemp()) / "glove.txt"
        >>> _ = path.write_text("the 0.1 0.2\\n사과 0.5 -1.0\\n", encoding="utf-8")
        >>> vectors, found = load_word_vectors(path, ["<pad>", "<unk>", "사과"], generator=torch.Generator())
        >>> found, vectors.shape, vectors[2].tolist(), vectors[0].tolist()
        (1, torch.Size([3, 2]), [0.5, -1.0], [0.0, 0.0])
    """
    rows_of, size = _vocab_rows(vocab)
    if padding_idx is not None and not 0 <= padding_idx < size:
        raise ValueError(f"load_word_vectors: padding_idx must be in [0, {size}), got {padding_idx}")
    if dim is not None:
        check_size("load_word_vectors: dim", dim)
    if std is not None and not (isinstance(std, (int, float)) and std >= 0):
        raise ValueError(f"load_word_vectors: std must be a number >= 0, got {std!r}")
    path = Path(path)
    found: dict[int, list[float]] = {}
    seen: set[str] = set()
    header_count, lineno, vector_lines = None, 0, 0
    with gzip.open(path, "rb") if path.suffix == ".gz" else open(path, "rb") as file:
        for lineno, raw in enumerate(file, 1):
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError as error:
                raise WordVectorsError(f"{path}:{lineno}: not valid UTF-8 ({error.reason})") from None
            if lineno == 1:
                line = line.lstrip("\ufeff")
            line = line.rstrip("\r\n ")  # word2vec's own writer ends each line with a space
            if not line:
                continue
            # Fields are separated by ASCII spaces only: words may hold other whitespace (U+00A0, U+3000)
            fields = line.split(" ")
            if lineno == 1 and len(fields) == 2 and all(f.isascii() and f.isdigit() for f in fields):
                header_count, file_dim = int(fields[0]), int(fields[1])
                if dim is not None and file_dim != dim:
                    raise WordVectorsError(
                        f"{path}:1: dimension mismatch: the header says {file_dim}, expected dim={dim}"
                    )
                dim = file_dim
                continue
            if dim is None:
                dim = len(fields) - 1
                if dim < 1:
                    raise WordVectorsError(f"{path}:{lineno}: expected a word followed by its values")
            word = unicodedata.normalize("NFC", _split_word(fields, dim, line, f"{path}:{lineno}"))
            vector_lines += 1
            if word in seen or word not in rows_of:
                continue
            seen.add(word)
            values = _parse_values(fields[-dim:], f"{path}:{lineno}")
            for row in rows_of[word]:
                found[row] = values
    if dim is None or vector_lines == 0:
        raise WordVectorsError(f"{path}:{lineno}: no word vectors in this file")
    if header_count is not None and header_count != vector_lines:
        warnings.warn(
            f"{path}: the header announces {header_count} vectors, read {vector_lines}", stacklevel=2
        )
    if padding_idx is not None:
        found.pop(padding_idx, None)
    known = torch.tensor(list(found.values()), dtype=torch.float32).reshape(len(found), dim)
    if std is None:
        std = float(known.std()) if known.numel() > 1 else 0.1
    vectors = torch.randn(size, dim, generator=generator) * std
    if found:
        vectors[list(found)] = known
    if padding_idx is not None:
        vectors[padding_idx] = 0.0
    return vectors, len(found)


def _vocab_rows(vocab: Vocabulary) -> tuple[dict[str, list[int]], int]:
    """word -> the rows it fills, and V."""
    if isinstance(vocab, Mapping):
        pairs = list(vocab.items())
    elif isinstance(vocab, Sequence) and not isinstance(vocab, (str, bytes)):
        pairs = [(word, row) for row, word in enumerate(vocab)]
    else:
        raise TypeError(
            f"load_word_vectors: vocab must be a {{word: index}} mapping or a list of words, "
            f"got {type(vocab).__name__}"
        )
    if not pairs:
        raise ValueError("load_word_vectors: vocab is empty")
    rows: dict[str, list[int]] = {}
    for word, row in pairs:
        if not isinstance(word, str) or isinstance(row, bool) or not isinstance(row, int) or row < 0:
            raise TypeError(
                f"load_word_vectors: expected str words and int indices >= 0, got {word!r}: {row!r}"
            )
        rows.setdefault(unicodedata.normalize("NFC", word), []).append(row)
    return rows, max(row for _, row in pairs) + 1


def _split_word(fields: list[str], dim: int, line: str, where: str) -> str:
    """The word of a line whose last ``dim`` fields are the values; errors name ``where``."""
    if len(fields) < dim + 1:
        raise WordVectorsError(
            f"{where}: dimension mismatch: expected a word and {dim} values, got {len(fields) - 1} values"
        )
    if len(fields) == dim + 1:
        return fields[0]
    if any(_is_number(f) for f in fields[1:-dim]):  # more numbers than dim: not a word with spaces
        raise WordVectorsError(
            f"{where}: dimension mismatch: expected a word and {dim} values, got {len(fields) - 1} values"
        )
    return line.rsplit(" ", dim)[0]


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _parse_values(fields: list[str], where: str) -> list[float]:
    try:
        values = [float(f) for f in fields]
    except ValueError:
        bad = next(f for f in fields if not _is_number(f))
        raise WordVectorsError(f"{where}: expected numbers, got {bad!r}") from None
    if not all(math.isfinite(v) for v in values):
        raise WordVectorsError(
            f"{where}: values must be finite, got {next(v for v in values if not math.isfinite(v))}"
        )
    return values
