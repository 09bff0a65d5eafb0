"""Reading data files line by line: any encoding (``auto`` detects it), numbered lines, bounded memory,
errors naming ``file:line`` and what to do.

Every loader reads through :func:`read_lines`, so they share one behaviour:

- ``encoding="auto"`` (the default) detects the file's encoding once (:mod:`rnnkit.data.encodings`: a
  byte-order mark, UTF-8, Korean cp949 / EUC-KR, else Latin-1 for legacy English files such as the
  original MR and TREC) and logs what it chose when that is not plain UTF-8; any Python codec may be named
  instead (``utf-8``, ``cp949``, ``euc-kr``, ``latin-1``, ``utf-16``...);
- lines end at ``\\n`` (a ``\\r`` before it is dropped), or at ``\\r`` in files that have no ``\\n`` at
  all (old Mac files); never at the other characters :meth:`str.splitlines` treats as breaks (``\\x85``,
  ``\\u2028``...), which occur inside real reviews; so line numbers are the ones an editor shows;
- a byte-order mark at the start of the file is dropped;
- a line longer than :data:`MAX_LINE_BYTES` is refused without being read into memory, and so is a line
  holding a NUL byte or bytes not valid in the encoding; under ``on_bad_rows="skip"`` (:class:`BadRows`)
  such lines are left out instead and counted, with the first line numbers, in one :class:`DataWarning`.
"""

from __future__ import annotations

import codecs
import logging
import os
import warnings
from collections.abc import Iterator
from typing import BinaryIO, Literal

from rnnkit.data.encodings import LEGACY, NotText, detect_encoding, is_ascii_compatible
from rnnkit.errors import UserError

EmptyPolicy = Literal["skip", "error"]
BadRowPolicy = Literal["error", "skip"]
MAX_LINE_BYTES = 4 * 2**20  # 4 MiB: far above any text a line-per-example file holds
_CHUNK = 1 << 20
log = logging.getLogger("rnnkit.data")
_LOGGED: set[tuple[str, int, int]] = set()


class DataError(UserError, ValueError):
    """A data file that does not match its format; the message names ``file:line``, what was expected and
    what was found."""


class DataWarning(UserWarning):
    """Something legal but lossy happened while loading, e.g. examples with empty text were skipped."""


class BadRows:
    """The ``on_bad_rows`` policy of one file: ``"error"`` raises at the first bad row; ``"skip"`` leaves
    bad rows out and, at :meth:`report`, warns once with their count and the first line numbers.

    Example:
        >>> rows = BadRows("x.csv", "skip")
        >>> rows.refuse("x.csv:3: expected 2 fields, got 5", 3)
        >>> rows.lines
        [3]
    """

    def __init__(self, path: str | os.PathLike, policy: BadRowPolicy = "error") -> None:
        if policy not in ("error", "skip"):
            raise ValueError(f"on_bad_rows must be 'error' or 'skip', got {policy!r}")
        self.path, self.policy, self.lines, self.first = path, policy, [], ""

    def refuse(self, message: str, number: int) -> None:
        """Raise :class:`DataError` (``message`` + the way out) under ``"error"``; record under ``"skip"``."""
        if self.policy == "error":
            raise DataError(f"{message}; fix it, or set data.on_bad_rows=skip to leave such rows out")
        self.first = self.first or message
        self.lines.append(number)

    def report(self) -> None:
        """One :class:`DataWarning` (and log line) when rows were skipped."""
        if self.lines:
            shown = ", ".join(map(str, self.lines[:5])) + (", ..." if len(self.lines) > 5 else "")
            message = (f"{self.path}: skipped {len(self.lines)} bad row(s) (data.on_bad_rows=skip; lines "
                       f"{shown}); the first: {self.first}")  # fmt: skip
            log.warning("%s", message)
            warnings.warn(message, DataWarning, stacklevel=3)


def read_lines(
    path: str | os.PathLike,
    encoding: str = "auto",
    keepends: bool = False,
    bad: BadRows | None = None,
    max_line_bytes: int = MAX_LINE_BYTES,
) -> Iterator[tuple[int, str]]:
    """Yield ``(line_number, line)`` for each line of a text file, streaming (one line in memory).

    Args:
        path: the file.
        encoding: ``"auto"`` (detect: :func:`rnnkit.data.encodings.detect_encoding`) or a Python codec.
        keepends: keep the line ending (as ``"\\n"``); the csv module needs it for quoted multi-line fields.
        bad: where bad lines (invalid bytes, NUL bytes, too long) go; None: refuse them.
        max_line_bytes: the longest line accepted.

    Raises:
        DataError: a binary file, or a bad line under ``on_bad_rows="error"``, naming ``file:line``, the
            column and what to do.

    Example:
        >>> import tempfile, pathlib
        >>> p = pathlib.Path(tempfile.mkdtemp()) / "a.txt"
        >>> _ = p.write_bytes(b"\\xef\\xbb\\xbfone\\r\\ntwo\\xc2\\x85half\\n")  # U+0085: no line break
        >>> list(read_lines(p))
        [(1, 'one'), (2, 'two\\x85half')]
        >>> _ = p.write_bytes(b"caf\\xe9\\n")
        >>> list(read_lines(p))
        [(1, 'café')]
        >>> _ = p.write_bytes("영화,1\\r".encode("cp949") * 2)  # Korean Windows, old Mac line ends
        >>> list(read_lines(p))
        [(1, '영화,1'), (2, '영화,1')]
    """
    bad = bad or BadRows(path)
    if encoding == "auto":
        encoding = _detected(path)
    if not is_ascii_compatible(encoding):
        yield from _wide_lines(path, encoding, keepends, max_line_bytes)
        return
    codec = "utf-8" if encoding in (LEGACY, "utf-8-sig") else encoding
    strip_bom = codecs.lookup(codec).name == "utf-8"
    with open(path, "rb") as f:
        head = f.read(_CHUNK)
        separator = b"\r" if b"\n" not in head and b"\r" in head else b"\n"
        f.seek(0)
        for number, raw, ending in _split(f, separator, max_line_bytes):
            if raw is None:
                bad.refuse(
                    f"{path}:{number}: line longer than {max_line_bytes // 2**20} MiB (no line break); "
                    "is this a line-per-record text file?",
                    number,
                )
                continue
            raw = raw[:-1] if raw.endswith(b"\r") else raw
            if number == 1 and strip_bom and raw.startswith(codecs.BOM_UTF8):
                raw = raw[len(codecs.BOM_UTF8) :]
            if b"\x00" in raw:
                bad.refuse(f"{path}:{number}: NUL byte at column {raw.index(0) + 1} (a binary or damaged "
                           "file; tr -d '\\000' removes NUL bytes)", number)  # fmt: skip
                continue
            line = decode_line(raw, encoding, path, number, bad)
            if line is not None:
                yield number, (line + "\n" if keepends and ending else line)


def _detected(path: str | os.PathLike) -> str:
    try:
        detected = detect_encoding(path)
    except NotText as error:
        hint = (
            " (if it is UTF-16 text, set data.encoding=utf-16-le or utf-16-be)"
            if "UTF-16" in error.what
            else ""
        )
        raise DataError(
            f"{path}:{error.line}:{error.column}: {error.what}; rnnkit reads text files (CSV, TSV, JSONL, "
            f"CoNLL, .ts, plain text){hint}"
        ) from None
    stat = os.stat(path)
    key = (os.path.abspath(path), stat.st_size, stat.st_mtime_ns)
    if key not in _LOGGED:  # once per file (a loader may read a file twice: its header, then its rows)
        _LOGGED.add(key)
        shown = "UTF-8, else Latin-1 per line" if detected.encoding == LEGACY else detected.encoding
        log.info("%s: %s (data.encoding=auto: %s)", path, shown, detected.reason)
    return detected.encoding


def _split(f: BinaryIO, separator: bytes, limit: int) -> Iterator[tuple[int, bytes | None, bool]]:
    """``(number, line bytes or None when longer than limit, ended by the separator)``; memory stays
    under ``limit`` plus one chunk."""
    number, buffer, skipping = 1, b"", False
    while chunk := f.read(_CHUNK):
        parts = (buffer + chunk).split(separator)
        buffer = parts.pop()
        for part in parts:
            if skipping:  # the end of a line too long to keep
                skipping = False
            else:
                yield number, (None if len(part) > limit else part), True
            number += 1
        if not skipping and len(buffer) > limit:
            yield number, None, False
            skipping = True
        if skipping:
            buffer = b""
    if buffer and not skipping:
        yield number, buffer, False


def _wide_lines(
    path: str | os.PathLike, encoding: str, keepends: bool, limit: int
) -> Iterator[tuple[int, str]]:
    """Lines of a UTF-16/32 file: decoded in chunks, then split (``\\n`` and ``\\r`` are not single bytes)."""
    decoder = codecs.getincrementaldecoder(encoding)()
    number, buffer = 1, ""
    with open(path, "rb") as f:
        while True:
            chunk = f.read(_CHUNK)
            try:
                buffer += decoder.decode(chunk, final=not chunk)
            except UnicodeDecodeError as error:
                raise DataError(
                    f"{path}:{number}: not valid {encoding} ({error.reason}); set data.encoding to the "
                    "file's encoding, or auto to detect it"
                ) from None
            *lines, buffer = buffer.split("\n")
            for line in lines:
                line = line.removeprefix("\ufeff") if number == 1 else line
                yield number, line.removesuffix("\r") + ("\n" if keepends else "")
                number += 1
            if len(buffer) > limit // 2:
                raise DataError(f"{path}:{number}: line longer than {limit // 2**20} MiB (no line break)")
            if not chunk:
                break
    if buffer:
        yield number, buffer.removeprefix("\ufeff") if number == 1 else buffer


def decode_line(
    raw: bytes, encoding: str, path: str | os.PathLike, number: int, bad: BadRows | None = None
) -> str | None:
    """Decode one line; the legacy ``auto`` choice falls back to Latin-1 (which accepts every byte).
    None: the line was bad and ``bad`` skips it."""
    codec = "utf-8" if encoding in (LEGACY, "utf-8-sig", "auto") else encoding
    try:
        return raw.decode(codec)
    except UnicodeDecodeError as error:
        if encoding in (LEGACY, "auto"):
            return raw.decode("latin-1")
        byte = raw[error.start : error.start + 1].hex()
        (bad or BadRows(path)).refuse(
            f"{path}:{number}: not valid {encoding} (byte 0x{byte} at column {error.start + 1}); set "
            "data.encoding (encoding=) to the file's encoding: auto to detect it, cp949 for Korean files "
            "from Excel or Windows, latin-1, utf-16",
            number,
        )
        return None


def read_text(path: str | os.PathLike, encoding: str = "auto", bad: BadRows | None = None) -> str:
    """The whole file as one string (for language modelling), BOM dropped, ``\\r\\n`` turned into ``\\n``.

    Raises:
        DataError: a binary file or invalid bytes, naming ``file:line``.
    """
    return "".join(line for _, line in read_lines(path, encoding, keepends=True, bad=bad))


def refuse_nothing(path: str | os.PathLike, lines: int, expected: str, bad: BadRows | None = None) -> None:
    """Refuse a file that gave no example: empty (``lines == 0``), or every line blank, a header or
    skipped. ``expected`` says what a line should hold.

    Example:
        >>> refuse_nothing("stsa.binary.dev", 0, "'<integer label> <sentence>' per line")
        Traceback (most recent call last):
        ...
        rnnkit.data.reading.DataError: stsa.binary.dev: empty file, expected '<integer label> <sentence>' ...
    """
    if lines == 0:
        raise DataError(f"{path}: empty file, expected {expected}")
    skipped = f", {len(bad.lines)} of them bad rows skipped" if bad is not None and bad.lines else ""
    raise DataError(f"{path}: no examples in its {lines} line(s) (blank, comments or header only{skipped}); "
                    f"expected {expected}")  # fmt: skip


class EmptyText:
    """Applies the empty-text policy of a loader and reports what it skipped.

    ``"skip"`` drops examples whose text is empty or only whitespace and, at :meth:`report`, warns once
    with a :class:`DataWarning` giving the count and the first line numbers; ``"error"`` raises a
    :class:`DataError` at the first such line. Raw NSMC has a few empty reviews: skipping them is the usual
    practice, and the warning keeps it visible.
    """

    def __init__(self, path: str | os.PathLike, policy: EmptyPolicy, what: str = "text") -> None:
        if policy not in ("skip", "error"):
            raise ValueError(f"empty must be 'skip' or 'error', got {policy!r}")
        self.path, self.policy, self.what, self.lines = path, policy, what, []

    def is_empty(self, text: str, number: int) -> bool:
        """True (and recorded) when ``text`` is blank and should be skipped; raises under ``"error"``."""
        if text.strip():
            return False
        if self.policy == "error":
            raise DataError(f"{self.path}:{number}: empty {self.what} (pass empty='skip' to drop such lines)")
        self.lines.append(number)
        return True

    def report(self) -> None:
        if self.lines:
            shown = ", ".join(map(str, self.lines[:10])) + (", ..." if len(self.lines) > 10 else "")
            warnings.warn(
                f"{self.path}: skipped {len(self.lines)} example(s) with empty {self.what} (lines {shown})",
                DataWarning,
                stacklevel=3,
            )
