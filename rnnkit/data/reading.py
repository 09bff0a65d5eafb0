"""Reading data files line by line: UTF-8 with or without a BOM, numbered lines, errors naming ``file:line``.

Every loader in :mod:`rnnkit.data.datasets` reads through :func:`read_lines`, so they share one behaviour:

- lines are split on ``\\n`` only (``\\r\\n`` is accepted, the ``\\r`` dropped), never on the other characters
  :meth:`str.splitlines` treats as breaks (``\\x85``, ``\\u2028``, ``\\x1c``...), which occur inside real
  reviews; so the line numbers in error messages are the ones an editor shows;
- a UTF-8 byte-order mark at the start of the file is dropped;
- ``encoding="auto"`` decodes each line as UTF-8, or as Latin-1 when it is not valid UTF-8 (the original MR
  and TREC files are Latin-1; their UTF-8 re-encodings, e.g. NLTK's MR, read the same).
"""

from __future__ import annotations

import codecs
import os
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Literal

from rnnkit.errors import UserError

EmptyPolicy = Literal["skip", "error"]


class DataError(UserError, ValueError):
    """A data file that does not match its format; the message names ``file:line``, what was expected and
    what was found."""


class DataWarning(UserWarning):
    """Something legal but lossy happened while loading, e.g. examples with empty text were skipped."""


def read_lines(
    path: str | os.PathLike, encoding: str = "utf-8", keepends: bool = False
) -> Iterator[tuple[int, str]]:
    """Yield ``(line_number, line)`` for each line of a text file, streaming (one line in memory).

    Args:
        path: the file.
        encoding: ``"utf-8"`` (default), ``"auto"`` (UTF-8, else Latin-1 for that line) or any Python codec.
        keepends: keep the line ending (as ``"\\n"``); the csv module needs it for quoted multi-line fields.

    Raises:
        DataError: a line that is not valid in ``encoding``, naming ``file:line`` and the byte.

    Example:
        >>> import tempfile, pathlib
        >>> p = pathlib.Path(tempfile.mkdtemp()) / "a.txt"
        >>> _ = p.write_bytes(b"\\xef\\xbb\\xbfone\\r\\ntwo\\xc2\\x85half\\n")  # U+0085: no line break
        >>> list(read_lines(p))
        [(1, 'one'), (2, 'two\\x85half')]
        >>> _ = p.write_bytes(b"caf\\xe9\\n")
        >>> list(read_lines(p, encoding="auto"))
        [(1, 'café')]
    """
    strip_bom = codecs.lookup("utf-8").name == codecs.lookup(_codec(encoding)).name
    with open(path, "rb") as f:
        for number, raw in enumerate(f, 1):
            ending = raw.endswith(b"\n")
            raw = raw[:-1] if ending else raw
            raw = raw[:-1] if raw.endswith(b"\r") else raw
            if number == 1 and strip_bom and raw.startswith(codecs.BOM_UTF8):
                raw = raw[len(codecs.BOM_UTF8) :]
            line = decode_line(raw, encoding, path, number)
            yield number, (line + "\n" if keepends and ending else line)


def _codec(encoding: str) -> str:
    return "utf-8" if encoding in ("auto", "utf-8-sig") else encoding


def decode_line(raw: bytes, encoding: str, path: str | os.PathLike, number: int) -> str:
    """Decode one line; ``"auto"`` falls back to Latin-1 (which accepts every byte)."""
    try:
        return raw.decode(_codec(encoding))
    except UnicodeDecodeError as error:
        if encoding == "auto":
            return raw.decode("latin-1")
        bad = raw[error.start : error.start + 1].hex()
        raise DataError(
            f"{path}:{number}: not valid {encoding} (byte 0x{bad} at column {error.start + 1}); if the file "
            "is Latin-1 (as the original MR and TREC files are), pass encoding='latin-1' or encoding='auto'"
        ) from None


def read_text(path: str | os.PathLike, encoding: str = "utf-8") -> str:
    """The whole file as one string (for language modelling), BOM dropped, ``\\r\\n`` turned into ``\\n``.

    Raises:
        DataError: invalid bytes, naming ``file:line``.
    """
    data = Path(path).read_bytes()
    if data.startswith(codecs.BOM_UTF8) and _codec(encoding) == "utf-8":
        data = data[len(codecs.BOM_UTF8) :]
    try:
        text = data.decode(_codec(encoding))
    except UnicodeDecodeError as error:
        if encoding != "auto":  # re-decode the offending line alone, for a message naming file:line
            start = data.rfind(b"\n", 0, error.start) + 1
            end = data.find(b"\n", error.start)
            line = data[start : len(data) if end < 0 else end]
            decode_line(line, encoding, path, data.count(b"\n", 0, error.start) + 1)
        text = data.decode("latin-1")
    return text.replace("\r\n", "\n")


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
