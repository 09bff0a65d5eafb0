"""Which text encoding a data file is in: ``encoding="auto"`` (the default of every loader), explained.

:func:`detect_encoding` decides once per file, in this order:

1. a byte-order mark: UTF-8 (``utf-8-sig``), UTF-16 LE/BE or UTF-32 LE/BE;
2. NUL bytes or the signature of a known binary format in the first 64 KiB: not text, refused
   (:class:`~rnnkit.data.reading.DataError` naming the file and what it looks like);
3. the whole file is valid UTF-8: ``utf-8`` (what every UTF-8 file read as before ``auto`` existed);
4. the whole file decodes as ``cp949`` (Windows' Korean code page, a superset of EUC-KR: what Excel and
   Korean public-data portals write) and at least half of its non-ASCII characters are common Hangul
   syllables (the KS X 1001 set EUC-KR has): ``cp949``;
5. most of the lines that are not ASCII are valid UTF-8: a damaged UTF-8 file, read as ``utf-8`` so the
   invalid lines are refused, naming each (or skipped with ``data.on_bad_rows=skip``);
6. else Latin-1 for the lines that are not valid UTF-8 (legacy English files: the original MR and TREC).

The file is scanned in chunks (memory stays bounded); the answer is cached per file, size and mtime.
Every result carries its reason, which the loaders log (``rnnkit.data`` logger) when it is not plain UTF-8.

Example:
    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "ko.csv"
    >>> _ = p.write_bytes("text,label\\n재미있다,1\\n".encode("cp949"))
    >>> detect_encoding(p).encoding
    'cp949'
    >>> _ = p.write_bytes("text,label\\n재미있다,1\\n".encode("utf-8"))
    >>> detect_encoding(p)
    Detected(encoding='utf-8', reason='valid UTF-8')
"""

from __future__ import annotations

import codecs
import os
import re
from collections.abc import Iterator
from functools import lru_cache
from pathlib import Path
from typing import BinaryIO, NamedTuple

LEGACY = "utf-8/latin-1"  # UTF-8 where a line is valid UTF-8, else Latin-1 (which accepts every byte)
HEAD_BYTES = 1 << 16
_CHUNK = 1 << 20
_BOMS = (  # longest first: the UTF-32 LE mark starts with the UTF-16 LE one
    (codecs.BOM_UTF32_LE, "utf-32", "UTF-32 LE byte-order mark"),
    (codecs.BOM_UTF32_BE, "utf-32", "UTF-32 BE byte-order mark"),
    (codecs.BOM_UTF8, "utf-8-sig", "UTF-8 byte-order mark"),
    (codecs.BOM_UTF16_LE, "utf-16", "UTF-16 LE byte-order mark"),
    (codecs.BOM_UTF16_BE, "utf-16", "UTF-16 BE byte-order mark"),
)
_BINARY = (
    (b"\x1f\x8b", "a gzip archive: unpack it first (gunzip)"),
    (b"PK\x03\x04", "a zip archive (or an .xlsx workbook): unpack it, or save the sheet as CSV"),
    (b"%PDF", "a PDF document"),
    (b"\x89PNG", "a PNG image"),
    (b"\xd0\xcf\x11\xe0", "an old Office file (.xls): save the sheet as CSV"),
    (b"SQLite format 3", "an SQLite database"),
    (b"\x80\x04", "a Python pickle (never loaded)"),
)
# the 2,350 common Hangul syllables of KS X 1001 (EUC-KR proper: both bytes >= 0xA1); cp949's other
# syllables have a second byte that is an ASCII letter, which Latin-1 text ("\x85and") also makes
_HANGUL = re.compile(
    "["
    + "".join(
        bytes((lead, trail)).decode("cp949") for lead in range(0xB0, 0xC9) for trail in range(0xA1, 0xFF)
    )
    + "]"
)


class Detected(NamedTuple):
    """What ``encoding="auto"`` chose for a file, and why (for the run's log)."""

    encoding: str
    reason: str


class NotText(ValueError):
    """The file is binary (NUL bytes or a known signature); ``what`` says what it looks like."""

    def __init__(self, what: str, line: int, column: int) -> None:
        super().__init__(what)
        self.what, self.line, self.column = what, line, column


def detect_encoding(path: str | os.PathLike) -> Detected:
    """The encoding ``encoding="auto"`` reads ``path`` with (see the module's docstring for the rules).

    Raises:
        NotText: the file holds NUL bytes (and no UTF-16/32 mark) or starts like a known binary format.
        OSError: the file cannot be read.
    """
    stat = os.stat(path)
    return _detect(str(Path(path).resolve()), stat.st_size, stat.st_mtime_ns)


def is_ascii_compatible(encoding: str) -> bool:
    """True when ``\\n`` and ``\\r`` are single bytes in ``encoding`` that never occur inside a character
    (UTF-8, cp949, Latin-1, ...), so lines can be split before decoding; False for UTF-16/32.

    Example:
        >>> is_ascii_compatible("cp949"), is_ascii_compatible("utf-16")
        (True, False)
    """
    if encoding in ("auto", LEGACY):
        return True
    name = codecs.lookup(encoding).name
    return not name.startswith(("utf-16", "utf-32", "utf_16", "utf_32"))


def check_encoding(encoding: str) -> str:
    """``encoding`` if Python knows it (or it is ``"auto"``), else a ValueError naming it.

    Example:
        >>> check_encoding("euc-kr")
        'euc-kr'
        >>> check_encoding("korean-excel")
        Traceback (most recent call last):
        ...
        ValueError: unknown encoding 'korean-excel': use auto, utf-8, cp949 (Korean Windows/Excel, ...
    """
    if encoding != "auto":
        try:
            codecs.lookup(encoding)
        except LookupError:
            raise ValueError(
                f"unknown encoding {encoding!r}: use auto, utf-8, cp949 (Korean Windows/Excel, a superset "
                "of euc-kr), latin-1, utf-16 or another Python codec name"
            ) from None
    return encoding


def check_data_keys(encoding: str, on_bad_rows: str) -> None:
    """Check a task's ``data.encoding`` and ``data.on_bad_rows``; a ValueError naming the key otherwise
    (a data section turns it into a :class:`~rnnkit.config.ConfigError` naming the config).

    Example:
        >>> check_data_keys("cp949", "skip")
        >>> check_data_keys("utf-8", "ignore")
        Traceback (most recent call last):
        ...
        ValueError: data.on_bad_rows: expected 'error' (stop at a bad row) or 'skip' (leave it out), got ...
    """
    try:
        check_encoding(encoding)
    except ValueError as error:
        raise ValueError(f"data.encoding: {error}") from None
    if on_bad_rows not in ("error", "skip"):
        raise ValueError(f"data.on_bad_rows: expected 'error' (stop at a bad row) or 'skip' (leave it out), "
                         f"got {on_bad_rows!r}")  # fmt: skip


@lru_cache(maxsize=256)
def _detect(path: str, size: int, mtime_ns: int) -> Detected:
    with open(path, "rb") as f:
        head = f.read(HEAD_BYTES)
    for bom, encoding, reason in _BOMS:
        if head.startswith(bom):
            return Detected(encoding, reason)
    for signature, what in _BINARY:
        if head.startswith(signature):
            raise NotText(f"not a text file: it looks like {what}", 1, 1)
    if b"\x00" in head:
        at = head.index(b"\x00")
        line = head.count(b"\n", 0, at) + 1
        column = at - (head.rfind(b"\n", 0, at) + 1) + 1
        raise NotText("NUL byte: a binary file, or text in UTF-16 without a byte-order mark", line, column)
    if _valid(path, "utf-8"):
        return Detected("utf-8", "valid UTF-8")
    return _not_utf8(path)


def _valid(path: str, encoding: str) -> bool:
    decoder = codecs.getincrementaldecoder(encoding)()
    with open(path, "rb") as f:
        try:
            while chunk := f.read(_CHUNK):
                decoder.decode(chunk)
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            return False
    return True


def _not_utf8(path: str) -> Detected:
    """Line by line (only for files that are not valid UTF-8): is it Korean, damaged UTF-8 or Latin-1?"""
    utf8_lines = bad_lines = non_ascii = hangul = 0
    korean = True
    with open(path, "rb") as f:
        for raw in _bounded_lines(f):
            if raw.isascii():
                continue
            try:
                raw.decode("utf-8")
                utf8_lines += 1
            except UnicodeDecodeError:
                bad_lines += 1
            if korean:
                try:
                    text = raw.decode("cp949")
                except UnicodeDecodeError:
                    korean = False
                    continue
                non_ascii += len(text) - len(text.encode("ascii", "ignore"))
                hangul += len(_HANGUL.findall(text))
    if korean and hangul and 2 * hangul >= non_ascii:
        return Detected(
            "cp949", f"not UTF-8; decodes as cp949 (EUC-KR compatible), {hangul} Hangul syllables"
        )
    if utf8_lines > bad_lines:
        return Detected("utf-8", f"UTF-8 but {bad_lines} line(s) are not: a damaged UTF-8 file")
    return Detected(LEGACY, "not UTF-8 nor Korean: Latin-1 where a line is not UTF-8 (legacy English files)")


def _bounded_lines(f: BinaryIO, limit: int = _CHUNK) -> Iterator[bytes]:
    """Lines of a binary file split on ``\\n``, each cut at ``limit`` bytes (enough to sniff them)."""
    while raw := f.readline(limit):
        yield raw
