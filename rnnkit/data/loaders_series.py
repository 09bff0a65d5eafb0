"""Loaders for time series: UCR/UEA ``.ts`` classification files and time-series CSV for forecasting.

Values are returned raw. Scale them in the model (:class:`rnnkit.models.scaling.SeriesScaler`, fitted on the
training split), never here: statistics computed at load time would leak the test period into training.
"""

from __future__ import annotations

import csv
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from rnnkit.data.loaders_table import load_table, table_format
from rnnkit.data.reading import BadRowPolicy, BadRows, DataError, read_lines, refuse_nothing
from rnnkit.data.records import SeriesExample, TimeSeries

_TS_KEYS = {
    "problemname",
    "timestamps",
    "missing",
    "univariate",
    "dimensions",
    "equallength",
    "serieslength",
    "classlabel",
    "targetlabel",
    "data",
}


def load_ts(
    path: str | os.PathLike, encoding: str = "auto", on_bad_rows: BadRowPolicy = "error"
) -> list[SeriesExample]:
    """A UCR/UEA ``.ts`` file (sktime/aeon format) of labelled series, one :class:`SeriesExample` per row.

    Header lines (``@problemName``, ``@univariate``/``@dimensions``, ``@equalLength``, ``@seriesLength``,
    ``@classLabel true <labels>``) come before ``@data``; ``#`` lines are comments. Each data row holds the
    N dimensions separated by ``:``, each a comma-separated list of T values, then the class label after the
    last ``:``. Series may differ in length (JapaneseVowels: 7-29 steps); ``?`` is a missing value (NaN).

    Raises:
        DataError: a header not understood (timestamped or regression files are not supported), a row with
            the wrong number of dimensions, dimensions of different lengths, a value that is not a number,
            a length other than ``@seriesLength``, or a label not declared by ``@classLabel``.

    Example:
        >>> import tempfile, pathlib
        >>> p = pathlib.Path(tempfile.mkdtemp()) / "Toy_TRAIN.ts"
        >>> text = "@problemName Toy\\n@dimensions 2\\n@equalLength false\\n@classLabel true a b\\n@data\\n"
        >>> _ = p.write_text(text + "1,2,3:4,?,6:a\\n7:8:b\\n", encoding="utf-8")
        >>> first, second = load_ts(p)
        >>> first.values.tolist(), first.label, second.values.shape
        ([[1.0, 4.0], [2.0, nan], [3.0, 6.0]], 'a', (1, 2))
    """
    header: dict[str, str] = {}
    labels: set[str] | None = None
    dimensions: int | None = None
    length: int | None = None
    out: list[SeriesExample] = []
    in_data, lines = False, 0
    bad = BadRows(path, on_bad_rows)
    for number, line in read_lines(path, encoding, bad=bad):
        lines += 1
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if not in_data:
            if not line.startswith("@"):
                raise DataError(
                    f"{path}:{number}: expected a '@' header line or '@data' before the data, "
                    f"got {line[:60]!r}"
                )
            key, _, rest = line[1:].partition(" ")
            key, rest = key.lower(), rest.strip()
            if key not in _TS_KEYS:
                raise DataError(f"{path}:{number}: unknown header @{key}; expected one of {sorted(_TS_KEYS)}")
            if key in ("timestamps", "targetlabel") and rest.lower() == "true":
                raise DataError(
                    f"{path}:{number}: @{key} true is not supported (only labelled, untimed series)"
                )
            if key == "classlabel":
                flag, *names = rest.split()
                if flag.lower() != "true":
                    raise DataError(f"{path}:{number}: expected '@classLabel true <labels>', got {line!r}")
                labels = set(names)
            header[key] = rest
            if key == "data":
                dimensions, length = _ts_shape(header, path, number)
                in_data = True
            continue
        try:
            example = _ts_row(line, path, number, dimensions, length, labels)
        except DataError as error:
            bad.refuse(str(error), number)
            continue
        dimensions = example.values.shape[1]  # files without @dimensions: the first row decides
        out.append(example)
    bad.report()
    if lines == 0:
        refuse_nothing(path, 0, "'@' header lines, '@data', then one '<values>:<label>' row per series")
    if not in_data:
        raise DataError(f"{path}: expected a '@data' line, found none (is this a .ts file?)")
    if not out:
        skipped = f" ({len(bad.lines)} bad rows skipped)" if bad.lines else ""
        raise DataError(f"{path}: no series after the '@data' line{skipped}; add rows '<values>:<label>'")
    return out


def _ts_shape(header: dict[str, str], path: str | os.PathLike, number: int) -> tuple[int | None, int | None]:
    dims = 1 if header.get("univariate", "").lower() == "true" else None
    try:
        dims = int(header["dimensions"]) if "dimensions" in header else dims
        equal = header.get("equallength", "").lower() == "true"
        length = int(header["serieslength"]) if equal and "serieslength" in header else None
    except ValueError:
        raise DataError(
            f"{path}:{number}: @dimensions/@seriesLength must be integers, got {header}"
        ) from None
    return dims, length


def _ts_row(
    line: str,
    path: str | os.PathLike,
    number: int,
    dims: int | None,
    length: int | None,
    labels: set[str] | None,
) -> SeriesExample:
    *channels, label = line.split(":")
    label = label.strip()
    if not channels:
        raise DataError(f"{path}:{number}: expected '<values>:<label>', got no ':'")
    if dims is not None and len(channels) != dims:
        raise DataError(
            f"{path}:{number}: expected {dims} dimension(s) separated by ':', got {len(channels)}"
        )
    if labels is not None and label not in labels:
        raise DataError(f"{path}:{number}: label {label!r} is not one of @classLabel {sorted(labels)}")
    series = [_ts_values(channel, path, number, d) for d, channel in enumerate(channels)]
    sizes = {len(values) for values in series}
    if len(sizes) != 1:
        raise DataError(
            f"{path}:{number}: expected dimensions of equal length, got lengths {[len(s) for s in series]}"
        )
    if length is not None and sizes != {length}:
        raise DataError(f"{path}:{number}: expected @seriesLength {length} values, got {sizes.pop()}")
    return SeriesExample(np.stack(series, axis=1), label)


def _ts_values(channel: str, path: str | os.PathLike, number: int, dim: int) -> np.ndarray:
    fields = channel.split(",")
    try:
        return np.asarray(fields, dtype=np.float32)  # fast path: every field a number
    except ValueError:
        pass
    values = np.empty(len(fields), dtype=np.float32)
    for i, field in enumerate(fields):
        field = field.strip()
        if field == "?":
            values[i] = np.nan
            continue
        try:
            values[i] = float(field)
        except ValueError:
            raise DataError(
                f"{path}:{number}: dimension {dim + 1}, value {i + 1}: expected a number or '?', "
                f"got {field!r}"
            ) from None
    return values


def load_ts_splits(folder: str | os.PathLike, name: str) -> dict[str, list[SeriesExample]]:
    """``{"train": ..., "test": ...}`` from ``<folder>/<name>_TRAIN.ts`` and ``<name>_TEST.ts``."""
    folder = Path(folder)
    return {split.lower(): load_ts(folder / f"{name}_{split}.ts") for split in ("TRAIN", "TEST")}


def load_series_csv(
    path: str | os.PathLike,
    time: str | None = None,
    value: str | Sequence[str] | None = None,
    missing: str = "error",
    format: str | None = None,
    encoding: str = "auto",
    on_bad_rows: BadRowPolicy = "error",
) -> TimeSeries:
    """A time series from a table with a header, rows in time order (e.g. ``"Month","Passengers"``).

    Args:
        time: the time column; None takes the first column.
        value: the value column(s); None takes every column but the time.
        missing: ``"error"`` or ``"nan"`` for blank / ``?`` / ``NA`` / ``NaN`` values.
        format: ``"csv"``, ``"tsv"`` or ``"jsonl"`` (None: by suffix; JSONL needs ``time``/``value``).
        encoding, on_bad_rows: see :func:`rnnkit.data.loaders_table.load_table` (a skipped row is a
            missing time step: prefer ``missing="nan"`` for gaps).

    Returns:
        a :class:`TimeSeries`; cut it with ``chronological_split`` and window it with ``windows``.

    Example:
        >>> import tempfile, pathlib
        >>> p = pathlib.Path(tempfile.mkdtemp()) / "airline.csv"
        >>> _ = p.write_text('"Month","Passengers"\\r\\n"1949-01",112\\r\\n"1949-02",118', encoding="utf-8")
        >>> s = load_series_csv(p)
        >>> s.times, s.columns, s.values[:, 0].tolist()
        (['1949-01', '1949-02'], ['Passengers'], [112.0, 118.0])
    """
    format = table_format(path, format)
    if format != "jsonl" and (time is None or value is None):
        header = next((line for _, line in read_lines(path, encoding)), "")
        quoting = csv.QUOTE_MINIMAL if format == "csv" else csv.QUOTE_NONE  # as iter_table reads the rows
        names = next(csv.reader([header], delimiter="," if format == "csv" else "\t", quoting=quoting), [])
        if not names:
            raise DataError(f"{path}: empty file, expected a header row naming the columns")
        time = names[0] if time is None else time
        value = [n for n in names if n != time] if value is None else value
        if not value:
            raise DataError(f"{path}:1: the header has only {names}: a series needs a value column "
                            f"besides the time column {time!r}; check the delimiter (data.format: csv or "
                            "tsv)")  # fmt: skip
    if value is None:
        raise ValueError("load_series_csv: JSONL needs value= (and usually time=)")
    return load_table(  # type: ignore[return-value]
        path, format, time=time, value=value, missing=missing, encoding=encoding, on_bad_rows=on_bad_rows
    )
