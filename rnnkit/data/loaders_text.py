"""Loaders for text classification (NSMC, IMDB, MR, SST, TREC), translation pairs and plain text.

Each streams its file, reads UTF-8 (a BOM is dropped), keeps labels as the strings in the file, and raises
:class:`DataError` naming ``file:line``, what was expected and what came. Blank texts are skipped with a
:class:`DataWarning` giving their count (``empty="skip"``, the default) or raise (``empty="error"``).
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from rnnkit.data.loaders_table import load_table
from rnnkit.data.reading import DataError, EmptyPolicy, EmptyText, read_lines, read_text
from rnnkit.data.records import TextExample, TextPair


def load_nsmc(path: str | os.PathLike, empty: EmptyPolicy = "skip") -> list[TextExample]:
    """NSMC (Naver Sentiment Movie Corpus): TSV ``id<TAB>document<TAB>label`` with that header; label 0/1.

    No quote processing: reviews contain bare ``"`` (pandas needs ``quoting=3`` for the same reason).

    Example:
        >>> import tempfile, pathlib
        >>> p = pathlib.Path(tempfile.mkdtemp()) / "ratings_train.txt"
        >>> _ = p.write_text('id\\tdocument\\tlabel\\n9976970\\t아 더빙.. "진짜"\\t0\\n', encoding="utf-8")
        >>> load_nsmc(p)
        [TextExample(text='아 더빙.. "진짜"', label='0')]
    """
    blank = EmptyText(path, empty, "document")
    out = []
    for number, line in read_lines(path):
        fields = line.split("\t")
        if number == 1:
            if fields != ["id", "document", "label"]:
                raise DataError(
                    f"{path}:1: expected the header 'id<TAB>document<TAB>label', got {line[:80]!r}"
                )
            continue
        if len(fields) != 3:
            raise DataError(
                f"{path}:{number}: expected 3 tab-separated fields (id, document, label), got {len(fields)}"
            )
        if fields[2] not in ("0", "1"):
            raise DataError(f"{path}:{number}: expected label 0 or 1, got {fields[2]!r}")
        if not blank.is_empty(fields[1], number):
            out.append(TextExample(fields[1], fields[2]))
    blank.report()
    return out


_IMDB_NAME = re.compile(r"(\d+)_(\d+)\.txt")


def load_imdb(
    path: str | os.PathLike, include_unsup: bool = False, strip_br: bool = True
) -> dict[str, list[TextExample]] | list[TextExample]:
    """IMDB reviews (Maas et al. 2011): the ``aclImdb`` folder, or a CSV with ``review,sentiment`` columns.

    Folder layout ``aclImdb/{train,test}/{neg,pos[,unsup]}/<id>_<rating>.txt``: returns ``{"train": ...,
    "test": ...}`` with labels ``"neg"``/``"pos"`` (and ``"unsup"`` if ``include_unsup``), files in id order.
    ``path`` may be ``aclImdb`` itself or its parent. A ``.csv`` file (the Kaggle "IMDB Dataset.csv") gives
    one list with the file's labels (``"positive"``/``"negative"``).

    Args:
        strip_br: replace the HTML line breaks ``<br />`` of the reviews by a space.
    """
    path = Path(path)
    if path.is_file():
        examples = load_table(path, "csv", text="review", label="sentiment")
        return [TextExample(_strip_br(e.text, strip_br), e.label) for e in examples]
    root = path / "aclImdb" if (path / "aclImdb").is_dir() else path
    labels = ("neg", "pos", "unsup") if include_unsup else ("neg", "pos")
    splits: dict[str, list[TextExample]] = {}
    for split in ("train", "test"):
        for label in labels:
            folder = root / split / label
            if not folder.is_dir():
                continue
            for file in sorted(folder.iterdir(), key=lambda f: _imdb_key(f)):
                text = "\n".join(line for _, line in read_lines(file))
                splits.setdefault(split, []).append(TextExample(_strip_br(text, strip_br), label))
    if not splits:
        raise DataError(
            f"{path}: expected the aclImdb layout train/pos, train/neg, test/pos, test/neg; none found"
        )
    return splits


def _imdb_key(file: Path) -> tuple[int, int]:
    match = _IMDB_NAME.fullmatch(file.name)
    if match is None:
        raise DataError(f"{file}: expected an IMDB review named <id>_<rating>.txt, got {file.name!r}")
    return int(match.group(1)), int(match.group(2))


def _strip_br(text: str, strip: bool) -> str:
    return re.sub(r"<br\s*/?>", " ", text) if strip else text


def load_mr(
    path: str | os.PathLike, encoding: str = "auto", empty: EmptyPolicy = "skip"
) -> list[TextExample]:
    """MR sentence polarity v1.0 (Pang & Lee 2005): ``rt-polarity.pos`` and ``rt-polarity.neg``, a snippet
    per line; labels ``"pos"`` then ``"neg"``, in file order. There is no official split: use
    :func:`rnnkit.data.records.split_stratified` (fixed seed) or 10-fold cross-validation.

    ``path`` is the folder holding the two files, or a folder above it (the Cornell tarball extracts to
    ``rt-polaritydata/``). The original files are Latin-1, NLTK's copy is UTF-8: ``encoding="auto"`` reads
    both the same, and the NEL character (``\\x85``) of the original becomes a space, as in NLTK's copy.
    """
    root = Path(path)
    found = {name: sorted(root.rglob(f"rt-polarity.{name}")) for name in ("pos", "neg")}
    for name, files in found.items():
        if len(files) != 1:
            raise DataError(f"{path}: expected exactly one rt-polarity.{name} under it, found {len(files)}")
    out = []
    for name, files in found.items():
        blank = EmptyText(files[0], empty, "snippet")
        for number, line in read_lines(files[0], encoding):
            if not blank.is_empty(line, number):
                out.append(TextExample(line.replace("\x85", " "), name))
        blank.report()
    return out


def load_sst(path: str | os.PathLike, empty: EmptyPolicy = "skip") -> list[TextExample]:
    """SST in the ``stsa.binary.*`` / ``stsa.fine.*`` line format: ``<label> <sentence>``, label an integer.

    Example:
        >>> import tempfile, pathlib
        >>> p = pathlib.Path(tempfile.mkdtemp()) / "stsa.binary.dev"
        >>> _ = p.write_text("1 a stirring , funny film\\nbad line\\n", encoding="utf-8")
        >>> load_sst(p)
        Traceback (most recent call last):
        ...
        rnnkit.data.reading.DataError: ...stsa.binary.dev:2: expected '<integer label> <sentence>', got ...
    """
    blank = EmptyText(path, empty, "sentence")
    out = []
    for number, line in read_lines(path):
        label, _, sentence = line.partition(" ")
        if not label.isdigit():
            raise DataError(f"{path}:{number}: expected '<integer label> <sentence>', got {line[:80]!r}")
        if not blank.is_empty(sentence, number):
            out.append(TextExample(sentence, label))
    blank.report()
    return out


def load_trec(
    path: str | os.PathLike, fine: bool = False, encoding: str = "auto", empty: EmptyPolicy = "skip"
) -> list[TextExample]:
    """TREC question classification (Li & Roth 2002): ``COARSE:fine question``, e.g. ``DESC:manner How ...``.

    Args:
        fine: label with the 50 fine classes (``"DESC:manner"``) instead of the 6 coarse ones (``"DESC"``).
        encoding: the original files hold a few Latin-1 bytes; ``"auto"`` reads them.
    """
    blank = EmptyText(path, empty, "question")
    out = []
    for number, line in read_lines(path, encoding):
        label, _, question = line.partition(" ")
        coarse, colon, detail = label.partition(":")
        if not (coarse and colon and detail):
            raise DataError(f"{path}:{number}: expected 'COARSE:fine question', got {line[:80]!r}")
        if not blank.is_empty(question, number):
            out.append(TextExample(question, label if fine else coarse))
    blank.report()
    return out


def load_pairs(path: str | os.PathLike, reverse: bool = False, empty: EmptyPolicy = "skip") -> list[TextPair]:
    """Tab-separated sentence pairs (Tatoeba / ManyThings ``eng<TAB>kor<TAB>attribution``; the third column,
    optional, is kept in ``TextPair.attribution``: Tatoeba's CC BY licence asks to keep it).

    Args:
        reverse: swap the direction (second column as source).

    Example:
        >>> import tempfile, pathlib
        >>> p = pathlib.Path(tempfile.mkdtemp()) / "kor.txt"
        >>> _ = p.write_text("Go.\\t가.\\tCC-BY 2.0 (France) Attribution: tatoeba.org #2877272\\n")
        >>> load_pairs(p, reverse=True)[0].source
        '가.'
    """
    blank = EmptyText(path, empty, "sentence")
    out = []
    for number, line in read_lines(path):
        fields = line.split("\t")
        if len(fields) not in (2, 3):
            raise DataError(
                f"{path}:{number}: expected 2 or 3 tab-separated fields (source, target[, attribution]), "
                f"got {len(fields)}"
            )
        source, target = (fields[1], fields[0]) if reverse else (fields[0], fields[1])
        if not (blank.is_empty(source, number) or blank.is_empty(target, number)):
            out.append(TextPair(source, target, fields[2] if len(fields) == 3 else ""))
    blank.report()
    return out


def load_text(path: str | os.PathLike, encoding: str = "utf-8") -> str:
    """A plain-text corpus for language modelling (Tiny Shakespeare), as one string; ``\\r\\n`` -> ``\\n``."""
    return read_text(path, encoding)


def split_text(text: str, val_fraction: float = 0.1) -> tuple[str, str]:
    """The first ``1 - val_fraction`` of the characters for training, the rest for validation (char-rnn,
    nanoGPT); a contiguous cut, so no passage is in both.

    Example:
        >>> split_text("abcdefghij", 0.2)
        ('abcdefgh', 'ij')
    """
    if not 0.0 < val_fraction < 1.0:
        raise ValueError(f"split_text: val_fraction must be in (0, 1), got {val_fraction}")
    cut = round(len(text) * (1.0 - val_fraction))
    return text[:cut], text[cut:]
