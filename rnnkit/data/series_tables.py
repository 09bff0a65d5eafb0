"""Forecasting tables: rows of (time, [series id], value, covariates) read into one :class:`SeriesFrame` per
series, in time order. Values stay raw (NaN where missing); scaling happens later, on the training part."""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from rnnkit.config import ConfigError
from rnnkit.data.loaders_table import iter_table, parse_number, table_format
from rnnkit.data.reading import BadRows, DataError, read_lines

if TYPE_CHECKING:
    from rnnkit.tasks.forecasting.data import ForecastingData

_MISSING = {"", "?", "na", "nan", "null", "none"}


@dataclass
class SeriesFrame:
    """One series: its times, raw values ``(T,)`` (NaN: missing) and covariate columns, and where each row
    came from (``file:line``, for messages).

    Attributes:
        numeric: covariate name -> ``(T,)`` float64, NaN where missing.
        categorical: covariate name -> ``T`` category strings, None where missing.
    """

    name: str
    times: list[str]
    values: np.ndarray
    numeric: dict[str, np.ndarray] = field(default_factory=dict)
    categorical: dict[str, list[str | None]] = field(default_factory=dict)
    rows: list[str] = field(default_factory=list)
    column: str = ""  # the value column (the name, when the table holds one series)

    def __post_init__(self) -> None:
        self.values = np.asarray(self.values, dtype=np.float64)
        self.column = self.column or self.name
        if not self.rows:
            self.rows = [f"row {t + 1}" for t in range(len(self.values))]

    def __len__(self) -> int:
        return len(self.values)

    def cut(self, start: int, stop: int) -> SeriesFrame:
        """Steps ``[start, stop)`` of the frame."""
        return SeriesFrame(
            self.name,
            self.times[start:stop],
            self.values[start:stop],
            {k: v[start:stop] for k, v in self.numeric.items()},
            {k: v[start:stop] for k, v in self.categorical.items()},
            self.rows[start:stop],
            self.column,
        )


def concat_frames(frames: list[SeriesFrame]) -> SeriesFrame:
    """The frames of one series one after the other in time (train, then validation, then test)."""
    if len(frames) == 1:
        return frames[0]
    first = frames[0]
    return SeriesFrame(
        first.name,
        [t for f in frames for t in f.times],
        np.concatenate([f.values for f in frames]),
        {k: np.concatenate([f.numeric[k] for f in frames]) for k in first.numeric},
        {k: [c for f in frames for c in f.categorical[k]] for k in first.categorical},
        [r for f in frames for r in f.rows],
        first.column,
    )


def table_columns(path: str, data: ForecastingData, fmt: str) -> tuple[str | None, str]:
    """The time and value columns of a table: as configured, else the first column is the time and the value
    is the only column named nowhere else.

    Raises:
        DataError: an empty file. ConfigError: a value column that cannot be told, naming the candidates.
    """
    time, value = data.time_column, data.value_column
    if value is not None and (time is not None or fmt == "jsonl"):
        return time, value
    if fmt == "jsonl":
        raise ConfigError(f"data.value_column: {path} is JSON lines; name the value column (and the time)")
    header = next((line for _, line in read_lines(path, data.encoding)), "")
    quoting = csv.QUOTE_MINIMAL if fmt == "csv" else csv.QUOTE_NONE
    names = next(csv.reader([header], delimiter="," if fmt == "csv" else "\t", quoting=quoting), [])
    if not names:
        raise DataError(f"{path}: empty file, expected a header row naming the columns")
    time = names[0] if time is None else time
    if value is None:
        taken = {time, data.series_column, *data.covariates.columns}
        rest = [n for n in names if n not in taken]
        if len(rest) != 1:
            raise ConfigError(
                f"data.value_column: {path} has columns {rest} besides the time, series and covariates; "
                "choose the one to forecast with value_column"
            )
        value = rest[0]
    return time, value


def _category(cell: Any) -> str | None:
    if cell is None or (isinstance(cell, str) and cell.strip().lower() in _MISSING):
        return None
    return cell.strip() if isinstance(cell, str) else str(cell)


def read_frames(
    path: str, data: ForecastingData, where: str = "data", missing: str | None = None
) -> list[SeriesFrame]:
    """The series of one table, in the order they first appear, each in its rows' order.

    Args:
        path: a csv / tsv / jsonl file with a header (the columns of ``data``).
        missing: ``"error"`` or ``"nan"`` for blank values (None: from ``data.missing``).

    Raises:
        DataError: a missing column, a value that is not a number, or (with ``missing="error"``) a
            missing value, naming ``file:line`` and the column.

    Example:
        >>> import tempfile, pathlib
        >>> from rnnkit.tasks.forecasting.data import CovariateConfig, ForecastingData
        >>> p = pathlib.Path(tempfile.mkdtemp()) / "shops.csv"
        >>> _ = p.write_text("day,shop,sales,open\\n1,a,5,y\\n1,b,7,n\\n2,a,6,y\\n", encoding="utf-8")
        >>> cov = CovariateConfig(future=("open",), categorical=("open",))
        >>> a, b = read_frames(str(p), ForecastingData(train=str(p), series_column="shop", covariates=cov))
        >>> a.name, a.times, a.values.tolist(), a.categorical["open"], b.rows
        ('a', ['1', '2'], [5.0, 6.0], ['y', 'y'], ['shops.csv:3'])
    """
    from pathlib import Path

    if not Path(path).is_file():
        raise FileNotFoundError(f"{where}: {path}: no such file")
    fmt = table_format(path, data.format)
    time, value = table_columns(path, data, fmt)
    cov = data.covariates
    columns = [c for c in (time, data.series_column, value, *cov.columns) if c is not None]
    policy = missing or ("error" if data.missing == "error" else "nan")
    frames: dict[str, dict[str, list]] = {}
    short = Path(path).name
    bad = BadRows(path, data.on_bad_rows)
    for number, row in iter_table(path, fmt, columns, data.encoding, bad):
        at = f"{path}:{number}"
        try:
            parsed = {"values": parse_number(row[value], policy, f"{at}: column {value!r}")}
            for column in cov.columns:
                cell = row[column]
                if column not in cov.categorical:
                    parsed[column] = parse_number(cell, policy, f"{at}: column {column!r}")
                    continue
                parsed[column] = _category(cell)
                if parsed[column] is None and policy == "error":
                    raise DataError(f"{at}: column {column!r}: missing category {cell!r} (set data.missing)")
        except DataError as error:
            bad.refuse(str(error), number)
            continue
        name = str(row[data.series_column]).strip() if data.series_column else value
        frame = frames.setdefault(
            name, {"times": [], "values": [], "rows": [], **{c: [] for c in cov.columns}}
        )
        frame["times"].append(str(row[time]) if time else str(len(frame["times"])))
        frame["rows"].append(f"{short}:{number}")
        for key, item in parsed.items():
            frame[key].append(item)
    bad.report()
    if not frames:
        raise DataError(f"{path}: no data rows after the header")
    out = []
    for name, frame in frames.items():
        # values as float32, like every series rnnkit reads (TimeSeries), so a table gives the same numbers
        values = np.asarray(frame["values"], dtype=np.float32).astype(np.float64)
        numeric = {c: np.asarray(frame[c], dtype=np.float64) for c in cov.columns if c not in cov.categorical}
        categorical = {c: frame[c] for c in cov.columns if c in cov.categorical}
        if np.isnan(values).all():
            raise DataError(f"{path}: series {name!r}: column {value!r} has no values")
        out.append(SeriesFrame(name, frame["times"], values, numeric, categorical, frame["rows"], value))
    return out
