"""Generic tables (CSV, TSV, JSON lines) with a column mapping, for data in no named format.

``load_table(path, text="review", label="sentiment")`` gives :class:`TextExample` s; ``source=/target=``
gives :class:`TextPair` s; ``tokens=/tags=`` gives :class:`TaggedSentence` s (whitespace-separated strings in
CSV/TSV, lists in JSONL); ``time=/value=`` gives one :class:`TimeSeries`.

Formats: CSV uses standard quoting (``"a, b"``); TSV uses none (``csv.QUOTE_NONE``, as NSMC and GLUE need:
their reviews contain bare double quotes); JSONL has one object per line. CSV/TSV start with a header row.
"""

from __future__ import annotations

import csv
import json
import math
import os
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np

from rnnkit.data.reading import DataError, EmptyPolicy, EmptyText, read_lines
from rnnkit.data.records import TaggedSentence, TextExample, TextPair, TimeSeries

TableFormat = Literal["csv", "tsv", "jsonl"]
_SUFFIXES = {".csv": "csv", ".tsv": "tsv", ".tab": "tsv", ".jsonl": "jsonl", ".ndjson": "jsonl"}
_MISSING = {"", "?", "na", "nan", "null"}
_REQUIRED = {
    "classification": ("text",),
    "translation": ("source", "target"),
    "tagging": ("tokens", "tags"),
    "series": ("value",),
}
_ROLES = {
    "classification": ("text", "label"),
    "translation": ("source", "target"),
    "tagging": ("tokens", "tags"),
    "series": ("time", "value"),
}


def table_format(path: str | os.PathLike, format: str | None) -> str:
    """``format`` if given, else guessed from the suffix (.csv, .tsv/.tab, .jsonl/.ndjson)."""
    if format is None:
        format = _SUFFIXES.get(Path(path).suffix.lower())
        if format is None:
            raise ValueError(
                f"{path}: cannot tell the table format from the suffix; pass format='csv'|'tsv'|'jsonl'"
            )
    if format not in ("csv", "tsv", "jsonl"):
        raise ValueError(f"table format must be 'csv', 'tsv' or 'jsonl', got {format!r}")
    return format


def iter_table(
    path: str | os.PathLike, format: str, columns: Sequence[str], encoding: str = "utf-8"
) -> Iterator[tuple[int, dict[str, Any]]]:
    """Yield ``(line_number, {column: value})`` for each row, restricted to ``columns`` (all checked present).

    Raises:
        DataError: a missing column (naming it and the ones present), a row with the wrong number of fields,
            or a JSON line that is not an object; each names ``file:line``.
    """
    if format == "jsonl":
        for number, line in read_lines(path, encoding):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as error:
                raise DataError(
                    f"{path}:{number}: expected a JSON object, got invalid JSON ({error.msg})"
                ) from None
            if not isinstance(row, dict):
                raise DataError(f"{path}:{number}: expected a JSON object, got {type(row).__name__}")
            missing = [c for c in columns if c not in row]
            if missing:
                raise DataError(f"{path}:{number}: missing key(s) {missing}; the object has {sorted(row)}")
            yield number, {c: row[c] for c in columns}
        return
    lines = (line for _, line in read_lines(path, encoding, keepends=True))
    quoting = csv.QUOTE_MINIMAL if format == "csv" else csv.QUOTE_NONE
    reader = csv.reader(lines, delimiter="," if format == "csv" else "\t", quoting=quoting, strict=True)
    try:
        header = next(reader)
    except StopIteration:
        raise DataError(f"{path}: empty file, expected a header row naming the columns") from None
    missing = [c for c in columns if c not in header]
    if missing:
        raise DataError(f"{path}: missing column(s) {missing}; the header has {header}")
    index = {c: header.index(c) for c in columns}
    try:
        for row in reader:
            if not row:  # a blank line
                continue
            if len(row) != len(header):
                raise DataError(
                    f"{path}:{reader.line_num}: expected {len(header)} {format.upper()} fields "
                    f"({', '.join(header)}), got {len(row)}"
                )
            yield reader.line_num, {c: row[i] for c, i in index.items()}
    except csv.Error as error:
        raise DataError(f"{path}:{reader.line_num}: malformed {format.upper()} ({error})") from None


def load_table(
    path: str | os.PathLike,
    format: TableFormat | None = None,
    *,
    text: str | None = None,
    label: str | None = None,
    source: str | None = None,
    target: str | None = None,
    tokens: str | None = None,
    tags: str | None = None,
    time: str | None = None,
    value: str | Sequence[str] | None = None,
    empty: EmptyPolicy = "skip",
    missing: Literal["error", "nan"] = "error",
    encoding: str = "utf-8",
) -> list[TextExample] | list[TextPair] | list[TaggedSentence] | TimeSeries:
    """Read a CSV/TSV/JSONL table, mapping its columns to the fields of one record type.

    Args:
        path: the file. format: ``"csv"``, ``"tsv"``, ``"jsonl"``, or None to go by the suffix.
        text, label: column names for classification (no ``label``: every label is ``""``, for prediction).
        source, target: column names for translation pairs.
        tokens, tags: column names for tagging (whitespace-separated strings, or JSON lists).
        time, value: for one time series; ``value`` is a column or a list of columns; no ``time``: the row
            numbers become the times.
        empty: ``"skip"`` (warn with the count) or ``"error"`` for rows whose text/source/target is blank.
        missing: for series, ``"error"`` on a blank/``?``/``NA``/``NaN`` value, or ``"nan"`` to keep NaN.
        encoding: see :func:`rnnkit.data.reading.read_lines`.

    Returns:
        a list of records, or a :class:`TimeSeries`.

    Raises:
        ValueError: no columns or columns of two tasks named. DataError: see :func:`iter_table`.

    Example:
        >>> import tempfile, pathlib
        >>> p = pathlib.Path(tempfile.mkdtemp()) / "reviews.csv"
        >>> _ = p.write_text('review,sentiment\\n"good, really",positive\\n', encoding="utf-8")
        >>> load_table(p, text="review", label="sentiment")
        [TextExample(text='good, really', label='positive')]
        >>> load_table(p, text="comment")
        Traceback (most recent call last):
        ...
        rnnkit.data.reading.DataError: ...reviews.csv: missing column(s) ['comment']; the header has [...]
    """
    roles = dict(text=text, label=label, source=source, target=target, tokens=tokens, tags=tags, time=time)
    given = {k: v for k, v in {**roles, "value": value}.items() if v is not None}
    tasks = [task for task, roles in _ROLES.items() if any(r in given for r in roles)]
    if len(tasks) != 1:
        raise ValueError(
            f"load_table: name the columns of one task: text=, label= | source=, target= | tokens=, tags= | "
            f"time=, value=; got {sorted(given) or 'none'}"
        )
    need = _REQUIRED[tasks[0]]
    absent = [r for r in need if r not in given]
    if absent:
        raise ValueError(f"load_table: {tasks[0]} also needs {', '.join(f'{r}=' for r in absent)}")
    format = table_format(path, format)
    if tasks[0] == "series":
        values = [value] if isinstance(value, str) else list(value)
        return _series(path, format, time, values, missing, encoding)
    columns = [given[r] for r in _ROLES[tasks[0]] if r in given]
    rows = iter_table(path, format, columns, encoding)
    blank = EmptyText(path, empty, "text")
    out: list = []
    for number, row in rows:
        if tasks[0] == "classification":
            if not blank.is_empty(_text(row[text]), number):
                out.append(TextExample(_text(row[text]), "" if label is None else _label(row[label])))
        elif tasks[0] == "translation":
            pair = TextPair(_text(row[source]), _text(row[target]))
            if not (blank.is_empty(pair.source, number) or blank.is_empty(pair.target, number)):
                out.append(pair)
        else:
            words, marks = _sequence(row[tokens]), _sequence(row[tags])
            if len(words) != len(marks):
                raise DataError(
                    f"{path}:{number}: expected as many tags as tokens, got {len(words)} tokens "
                    f"and {len(marks)} tags"
                )
            out.append(TaggedSentence(words, marks))
    blank.report()
    return out


def _text(value: Any) -> str:
    return "" if value is None else str(value)  # JSON null is an empty text


def _label(value: Any) -> str:
    # JSON numbers become their usual spelling: 1 -> "1" (not "1.0" unless the file says 1.0).
    return value if isinstance(value, str) else json.dumps(value)


def _sequence(value: Any) -> tuple[str, ...]:
    return tuple(str(v) for v in value) if isinstance(value, list) else tuple(str(value).split())


def parse_number(value: Any, missing: str, where: str) -> float:
    """A float from a table cell; blank/``?``/``NA``/``NaN``/``null`` is missing (NaN or DataError)."""
    if value is None or (isinstance(value, str) and value.strip().lower() in _MISSING):
        if missing == "nan":
            return math.nan
        raise DataError(f"{where}: missing value {value!r} (pass missing='nan' to keep it as NaN)")
    try:
        return float(value)
    except (TypeError, ValueError):
        raise DataError(f"{where}: expected a number, got {value!r}") from None


def _series(
    path: str | os.PathLike, format: str, time: str | None, values: list[str], missing: str, encoding: str
) -> TimeSeries:
    if missing not in ("error", "nan"):
        raise ValueError(f"missing must be 'error' or 'nan', got {missing!r}")
    times: list[str] = []
    rows: list[list[float]] = []
    for number, row in iter_table(path, format, ([time] if time else []) + values, encoding):
        times.append(str(row[time]) if time else str(len(times)))
        rows.append([parse_number(row[c], missing, f"{path}:{number}: column {c!r}") for c in values])
    if not rows:
        raise DataError(f"{path}: no data rows after the header")
    return TimeSeries(times, np.asarray(rows, dtype=np.float32), values)
