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
import warnings
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np

from rnnkit.data.reading import (
    BadRowPolicy,
    BadRows,
    DataError,
    DataWarning,
    EmptyPolicy,
    EmptyText,
    read_lines,
)
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
    path: str | os.PathLike,
    format: str,
    columns: Sequence[str],
    encoding: str = "auto",
    bad: BadRows | None = None,
) -> Iterator[tuple[int, dict[str, Any]]]:
    """Yield ``(line_number, {column: value})`` for each row, restricted to ``columns`` (all checked present).

    Args:
        bad: the ``on_bad_rows`` policy (:class:`BadRows`); None: the first bad row raises.

    Raises:
        DataError: an empty file, a missing or duplicated column (naming it and the ones present), a row
            with the wrong number of fields, broken quoting, or a JSON line that is not an object; each
            names ``file:line`` and what to do.
    """
    bad = bad or BadRows(path)
    if format == "jsonl":
        yield from _jsonl_rows(path, columns, encoding, bad)
        return
    lines = (line for _, line in read_lines(path, encoding, keepends=True, bad=bad))
    quoting = csv.QUOTE_MINIMAL if format == "csv" else csv.QUOTE_NONE
    reader = csv.reader(lines, delimiter="," if format == "csv" else "\t", quoting=quoting, strict=True)
    try:
        header = next(reader)
    except StopIteration:
        raise DataError(f"{path}: empty file, expected a header row naming the columns") from None
    except csv.Error as error:
        raise DataError(f"{path}:1: malformed {format.upper()} header ({error})") from None
    header = [name.strip() for name in header]
    missing = [c for c in columns if c not in header]
    if missing:
        hint = (
            " (is the file tab-separated? set data.format=tsv)"
            if format == "csv" and len(header) == 1
            else ""
        )
        raise DataError(f"{path}:1: missing column(s) {missing}; the header has {header}{hint}; set the "
                        "matching data.*_column key to one of them, or rename the column")  # fmt: skip
    for c in columns:
        if header.count(c) > 1:
            fields = [i + 1 for i, name in enumerate(header) if name == c]
            raise DataError(f"{path}:1: column {c!r} appears {len(fields)} times in the header (fields "
                            f"{', '.join(map(str, fields))}); rename all but one")  # fmt: skip
    index = {c: header.index(c) for c in columns}
    rows = refused = 0
    while True:
        start = reader.line_num + 1
        try:
            row = next(reader)
        except StopIteration:
            break
        except csv.Error as error:
            refused += 1
            reason = (
                "a lone carriage return (\\r) inside an unquoted field: save the file with one kind of line "
                "end, or quote the field"
                if "new-line character" in str(error)
                else str(error)
            )
            bad.refuse(
                f"{path}:{start}: malformed {format.upper()} in the row starting here ({reason}); a field "
                "holding a comma, a quote or a line break must be in double quotes, a quote inside it "
                'doubled ("")',
                start,
            )
            continue
        if not row:  # a blank line
            continue
        if len(row) != len(header):
            refused += 1
            bad.refuse(
                f"{path}:{reader.line_num}: expected {len(header)} {format.upper()} fields "
                f"({', '.join(header)}), got {len(row)}",
                reader.line_num,
            )
            continue
        rows += 1
        yield reader.line_num, {c: row[i] for c, i in index.items()}
    if rows == refused == 0:
        raise DataError(f"{path}:1: only a header row ({', '.join(header)}), no data rows below it; add "
                        "the rows, or check that this is the right file")  # fmt: skip


def _jsonl_rows(
    path: str | os.PathLike, columns: Sequence[str], encoding: str, bad: BadRows
) -> Iterator[tuple[int, dict[str, Any]]]:
    rows = 0
    for number, line in read_lines(path, encoding, bad=bad):
        if not line.strip():
            continue
        rows += 1
        try:
            row = json.loads(line)
        except json.JSONDecodeError as error:
            bad.refuse(f"{path}:{number}: expected a JSON object, got invalid JSON ({error.msg} at column "
                       f"{error.colno})", number)  # fmt: skip
            continue
        if not isinstance(row, dict):
            bad.refuse(f"{path}:{number}: expected a JSON object, got {type(row).__name__}", number)
            continue
        missing = [c for c in columns if c not in row]
        if missing:
            bad.refuse(f"{path}:{number}: missing key(s) {missing}; the object has {sorted(row)}", number)
            continue
        yield number, {c: row[c] for c in columns}
    if rows == 0:
        raise DataError(f"{path}: empty file, expected one JSON object per line")


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
    encoding: str = "auto",
    on_bad_rows: BadRowPolicy = "error",
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
        encoding: ``"auto"`` (detected: :mod:`rnnkit.data.encodings`) or a codec, e.g. ``"cp949"``.
        on_bad_rows: ``"error"`` (raise at the first malformed row) or ``"skip"`` (leave such rows out,
            warning once with their count and first line numbers).

    Labels lose surrounding whitespace (``" pos"`` is ``"pos"``); labels that differ only in case are
    kept apart, with a :class:`DataWarning` naming them.

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
        rnnkit.data.reading.DataError: ...reviews.csv:1: missing column(s) ['comment']; the header has ...
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
        return _series(path, format, time, values, missing, encoding, on_bad_rows)
    columns = [given[r] for r in _ROLES[tasks[0]] if r in given]
    bad = BadRows(path, on_bad_rows)
    rows = iter_table(path, format, columns, encoding, bad)
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
                bad.refuse(f"{path}:{number}: expected as many tags as tokens, got {len(words)} tokens "
                           f"and {len(marks)} tags", number)  # fmt: skip
                continue
            out.append(TaggedSentence(words, marks))
    blank.report()
    bad.report()
    if tasks[0] == "classification":
        warn_case_labels(path, [e.label for e in out])
    return out


def warn_case_labels(path: str | os.PathLike, labels: Sequence[str]) -> None:
    """Warn (:class:`DataWarning`) when labels differ only in case (``pos`` and ``Pos``): kept apart, as
    they may mean different things, but usually a typo.

    Example:
        >>> import warnings
        >>> with warnings.catch_warnings(record=True) as caught:
        ...     warnings.simplefilter("always")
        ...     warn_case_labels("a.csv", ["pos", "Pos", "neg"])
        >>> print(caught[0].message)  # doctest: +ELLIPSIS
        a.csv: labels that differ only in case are different classes: 'Pos' (1 rows), 'pos' (1 rows); ...
    """
    counts: dict[str, int] = {}
    for label in labels:
        counts[label] = counts.get(label, 0) + 1
    groups: dict[str, list[str]] = {}
    for label in sorted(counts):
        groups.setdefault(label.casefold(), []).append(label)
    for spellings in groups.values():
        if len(spellings) > 1:
            shown = ", ".join(f"{s!r} ({counts[s]} rows)" for s in spellings)
            warnings.warn(f"{path}: labels that differ only in case are different classes: {shown}; make "
                          "them one spelling if they mean the same", DataWarning, stacklevel=3)  # fmt: skip


def _text(value: Any) -> str:
    return "" if value is None else str(value)  # JSON null is an empty text


def _label(value: Any) -> str:
    # JSON numbers become their usual spelling: 1 -> "1" (not "1.0" unless the file says 1.0).
    return value.strip() if isinstance(value, str) else json.dumps(value)


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
        raise DataError(
            f"{where}: expected a number, got {value!r} (blank, ? or NA mark a missing value)"
        ) from None


def _series(
    path: str | os.PathLike,
    format: str,
    time: str | None,
    values: list[str],
    missing: str,
    encoding: str,
    on_bad_rows: BadRowPolicy = "error",
) -> TimeSeries:
    if missing not in ("error", "nan"):
        raise ValueError(f"missing must be 'error' or 'nan', got {missing!r}")
    times: list[str] = []
    rows: list[list[float]] = []
    bad = BadRows(path, on_bad_rows)
    for number, row in iter_table(path, format, ([time] if time else []) + values, encoding, bad):
        try:
            parsed = [parse_number(row[c], missing, f"{path}:{number}: column {c!r}") for c in values]
        except DataError as error:
            bad.refuse(str(error), number)
            continue
        times.append(str(row[time]) if time else str(len(times)))
        rows.append(parsed)
    bad.report()
    if not rows:
        raise DataError(f"{path}: no data rows after the header")
    return TimeSeries(times, np.asarray(rows, dtype=np.float32), values)
