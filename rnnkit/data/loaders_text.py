"""Loaders for text classification (NSMC, IMDB, MR, SST, TREC), translation pairs and plain text.

Each streams its file in the encoding it is given (``"auto"``, the default, detects UTF-8 with or without
a BOM, UTF-16, Korean cp949 / EUC-KR and Latin-1: :mod:`rnnkit.data.encodings`), keeps labels as the
strings in the file, and raises :class:`DataError` naming ``file:line``, what was expected and what came
(``on_bad_rows="skip"`` leaves such rows out, counted in one warning). Blank texts are skipped with a
:class:`DataWarning` giving their count (``empty="skip"``, the default) or raise (``empty="error"``).
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from rnnkit.data.loaders_table import load_table
from rnnkit.data.reading import (
    BadRowPolicy,
    BadRows,
    DataError,
    EmptyPolicy,
    EmptyText,
    read_lines,
    read_text,
    refuse_nothing,
)
from rnnkit.data.records import TextExample, TextPair


def load_nsmc(
    path: str | os.PathLike,
    empty: EmptyPolicy = "skip",
    encoding: str = "auto",
    on_bad_rows: BadRowPolicy = "error",
) -> list[TextExample]:
    """NSMC (Naver Sentiment Movie Corpus): TSV ``id<TAB>document<TAB>label`` with that header; label 0/1.

    No quote processing: reviews contain bare ``"`` (pandas needs ``quoting=3`` for the same reason).

    Example:
        >>> import tempfile, pathlib
        >>> p = pathlib.Path(tempfile.mkdtemp()) / "ratings_train.txt"
        >>> _ = p.write_text('id\\tdocument\\tlabel\\n9976970\\t아 더빙.. "진짜"\\t0\\n', encoding="utf-8")
        >>> load_nsmc(p)
        [TextExample(text='아 더빙.. "진짜"', label='0')]
    """
    blank, bad = EmptyText(path, empty, "document"), BadRows(path, on_bad_rows)
    out = []
    header = False
    for number, line in read_lines(path, encoding, bad=bad):
        fields = line.split("\t")
        if not header:
            if fields != ["id", "document", "label"]:
                raise DataError(
                    f"{path}:1: expected the header 'id<TAB>document<TAB>label', got {line[:80]!r}"
                )
            header = True
            continue
        if len(fields) != 3:
            bad.refuse(f"{path}:{number}: expected 3 tab-separated fields (id, document, label), got "
                       f"{len(fields)}", number)  # fmt: skip
        elif fields[2].strip() not in ("0", "1"):
            bad.refuse(f"{path}:{number}: expected label 0 or 1, got {fields[2]!r}", number)
        elif not blank.is_empty(fields[1], number):
            out.append(TextExample(fields[1], fields[2].strip()))
    if not header:
        raise DataError(f"{path}: empty file, expected the header 'id<TAB>document<TAB>label'")
    blank.report()
    bad.report()
    if not out:
        raise DataError(f"{path}: no reviews below the header 'id<TAB>document<TAB>label' (header only, "
                        "or every row blank or skipped); add rows 'id<TAB>review<TAB>0 or 1'")  # fmt: skip
    return out


_IMDB_NAME = re.compile(r"(\d+)_(\d+)\.txt")


def load_imdb(
    path: str | os.PathLike, include_unsup: bool = False, strip_br: bool = True, encoding: str = "auto"
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
        examples = load_table(path, "csv", text="review", label="sentiment", encoding=encoding)
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
                text = "\n".join(line for _, line in read_lines(file, encoding))
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
    path: str | os.PathLike,
    encoding: str = "auto",
    empty: EmptyPolicy = "skip",
    on_bad_rows: BadRowPolicy = "error",
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
        blank, bad = EmptyText(files[0], empty, "snippet"), BadRows(files[0], on_bad_rows)
        lines, before = 0, len(out)
        for number, line in read_lines(files[0], encoding, bad=bad):
            lines += 1
            if not blank.is_empty(line, number):
                out.append(TextExample(line.replace("\x85", " "), name))
        blank.report()
        bad.report()
        if len(out) == before:
            refuse_nothing(files[0], lines, "one snippet per line", bad)
    return out


def load_sst(
    path: str | os.PathLike,
    empty: EmptyPolicy = "skip",
    encoding: str = "auto",
    on_bad_rows: BadRowPolicy = "error",
) -> list[TextExample]:
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
    blank, bad = EmptyText(path, empty, "sentence"), BadRows(path, on_bad_rows)
    out, lines = [], 0
    for number, line in read_lines(path, encoding, bad=bad):
        lines += 1
        label, _, sentence = line.partition(" ")
        if not label.isdigit():
            bad.refuse(f"{path}:{number}: expected '<integer label> <sentence>', got {line[:80]!r}", number)
        elif not blank.is_empty(sentence, number):
            out.append(TextExample(sentence, label))
    blank.report()
    bad.report()
    if not out:
        refuse_nothing(path, lines, "'<integer label> <sentence>' per line", bad)
    return out


def load_trec(
    path: str | os.PathLike,
    fine: bool = False,
    encoding: str = "auto",
    empty: EmptyPolicy = "skip",
    on_bad_rows: BadRowPolicy = "error",
) -> list[TextExample]:
    """TREC question classification (Li & Roth 2002): ``COARSE:fine question``, e.g. ``DESC:manner How ...``.

    Args:
        fine: label with the 50 fine classes (``"DESC:manner"``) instead of the 6 coarse ones (``"DESC"``).
        encoding: the original files hold a few Latin-1 bytes; ``"auto"`` reads them.
    """
    blank, bad = EmptyText(path, empty, "question"), BadRows(path, on_bad_rows)
    out, lines = [], 0
    for number, line in read_lines(path, encoding, bad=bad):
        lines += 1
        label, _, question = line.partition(" ")
        coarse, colon, detail = label.partition(":")
        if not (coarse and colon and detail):
            bad.refuse(f"{path}:{number}: expected 'COARSE:fine question', got {line[:80]!r}", number)
        elif not blank.is_empty(question, number):
            out.append(TextExample(question, label if fine else coarse))
    blank.report()
    bad.report()
    if not out:
        refuse_nothing(path, lines, "'COARSE:fine question' per line", bad)
    return out


def load_pairs(
    path: str | os.PathLike,
    reverse: bool = False,
    empty: EmptyPolicy = "skip",
    encoding: str = "auto",
    on_bad_rows: BadRowPolicy = "error",
) -> list[TextPair]:
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
    blank, bad = EmptyText(path, empty, "sentence"), BadRows(path, on_bad_rows)
    out, lines = [], 0
    for number, line in read_lines(path, encoding, bad=bad):
        lines += 1
        fields = line.split("\t")
        if len(fields) not in (2, 3):
            bad.refuse(
                f"{path}:{number}: expected 2 or 3 tab-separated fields (source, target[, attribution]), "
                f"got {len(fields)}",
                number,
            )
            continue
        source, target = (fields[1], fields[0]) if reverse else (fields[0], fields[1])
        if not (blank.is_empty(source, number) or blank.is_empty(target, number)):
            out.append(TextPair(source, target, fields[2] if len(fields) == 3 else ""))
    blank.report()
    bad.report()
    if not out:
        refuse_nothing(path, lines, "'source<TAB>target[<TAB>attribution]' per line", bad)
    return out


def load_text(path: str | os.PathLike, encoding: str = "auto", on_bad_rows: BadRowPolicy = "error") -> str:
    """A plain-text corpus for language modelling (Tiny Shakespeare), as one string; ``\\r\\n`` -> ``\\n``.

    Args:
        encoding: ``"auto"`` (detected: :mod:`rnnkit.data.encodings`) or a codec, e.g. ``"cp949"``.
        on_bad_rows: ``"error"`` (a line with invalid bytes or a NUL byte stops, naming ``file:line``) or
            ``"skip"`` (such lines are left out, counted in one warning).
    """
    bad = BadRows(path, on_bad_rows)
    text = read_text(path, encoding, bad)
    bad.report()
    if not text.strip():
        refuse_nothing(path, len(text.splitlines()) + len(bad.lines), "some text", bad)
    return text


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
