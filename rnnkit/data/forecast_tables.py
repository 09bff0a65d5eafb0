"""A forecasting predict table as the model's inputs, torch-free: read by ``rnnkit predict RUN`` (the task,
:mod:`rnnkit.tasks.forecasting.inputs`) and ``rnnkit predict EXPORT_DIR`` (:mod:`rnnkit.export.runtime`)
alike, so both forecast the same windows.

Per series of the table: its history (the rows before the trailing ones with a blank value), its level
(gaps filled as ``data.missing`` says, ``log`` with ``log_transform``, then, with a ``series_column``,
``(level - shift) / scale`` by the series' saved scaling, or its own history's for a series training did
not see) and its covariates encoded with the run's vocabularies (:class:`CovariateEncoder`). What the table
must hold is in :mod:`rnnkit.tasks.forecasting.inputs`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from rnnkit.data.covariates import CovariateEncoder, fill_gaps
from rnnkit.data.series_tables import SeriesFrame, read_frames

Fail = Callable[[int, str], Exception]  # (input number, reason) -> the error the caller raises


TABLE_SUFFIXES = (".csv", ".tsv", ".tab", ".jsonl", ".ndjson")  # an input naming a table file


def is_table(text: str) -> bool:
    """Whether a forecasting input names a table file rather than holding comma-separated values.

    Example:
        >>> is_table(" next.csv "), is_table("1, 2, 3")
        (True, False)
    """
    return Path(text.strip()).suffix.lower() in TABLE_SUFFIXES


def rounded(values: np.ndarray) -> list[float]:
    """Forecast values as the predictions print them: floats to 4 places."""
    return [round(float(v), 4) for v in values]


def model_level(filled: np.ndarray, log_transform: bool) -> np.ndarray:
    return np.log(filled) if log_transform else filled


def fill_rule(missing: str) -> str:
    """How gaps in inputs are filled: linearly for ``"interpolate"``, carried forward for ``"mask"``."""
    return "interpolate" if missing == "interpolate" else "carry"


def level_of(values: np.ndarray, missing: str, log_transform: bool) -> tuple[np.ndarray, np.ndarray]:
    """``(filled raw values, their model level before any per-series scaling)``."""
    filled = fill_gaps(values, fill_rule(missing))
    return filled, model_level(filled, log_transform)


def standardiser(level: np.ndarray) -> tuple[float, float]:
    """``(mean, standard deviation)`` of the non-NaN ``level`` values; a constant series gets scale 1.

    Example:
        >>> standardiser(np.array([1.0, 3.0, np.nan])), standardiser(np.array([5.0, 5.0]))
        ((2.0, 1.0), (5.0, 1.0))
    """
    shift = float(np.nanmean(level))
    scale = float(np.nanstd(level))
    return shift, scale if scale > 1e-12 * max(1.0, abs(shift)) else 1.0


@dataclass(frozen=True)
class CovariateColumns:
    """The covariate columns of a run (``data.covariates``' fields) as an export folder saves them."""

    past: tuple[str, ...] = ()
    future: tuple[str, ...] = ()
    categorical: tuple[str, ...] = ()
    encoding: str = "embedding"

    @property
    def columns(self) -> tuple[str, ...]:
        """Every covariate column, past-only first."""
        return self.past + self.future


@dataclass(frozen=True)
class TableSettings:
    """What :func:`read_table_windows` reads of a run's data section, saved as JSON in an export folder
    (``preprocessing.json``: ``data``) so that its runtime reads tables as the run does.

    Example:
        >>> hour = CovariateColumns(future=("hour",))
        >>> settings = TableSettings(24, 6, series_column="shop", covariates=hour)
        >>> TableSettings.from_dict(settings.to_dict()) == settings
        True
    """

    history: int
    horizon: int
    log_transform: bool = False
    missing: str = "interpolate"
    time_column: str | None = None
    value_column: str | None = None
    series_column: str | None = None
    format: str | None = None
    encoding: str = "auto"
    on_bad_rows: str = "error"
    covariates: CovariateColumns = CovariateColumns()

    @classmethod
    def of(cls, data: Any) -> TableSettings:
        """The settings of a ``ForecastingData``."""
        cov = data.covariates
        covariates = CovariateColumns(
            tuple(cov.past), tuple(cov.future), tuple(cov.categorical), cov.encoding
        )
        names = [f for f in cls.__dataclass_fields__ if f != "covariates"]
        return cls(**{name: getattr(data, name) for name in names}, covariates=covariates)

    def to_dict(self) -> dict[str, Any]:
        out = {f: getattr(self, f) for f in self.__dataclass_fields__ if f != "covariates"}
        cov = self.covariates
        out["covariates"] = {"past": list(cov.past), "future": list(cov.future),
                             "categorical": list(cov.categorical), "encoding": cov.encoding}  # fmt: skip
        return out

    @classmethod
    def from_dict(cls, saved: dict[str, Any]) -> TableSettings:
        cov = saved.get("covariates") or {}
        covariates = CovariateColumns(*(tuple(cov.get(k, ())) for k in ("past", "future", "categorical")),
                                      cov.get("encoding", "embedding"))  # fmt: skip
        names = [f for f in cls.__dataclass_fields__ if f != "covariates" and f in saved]
        return cls(**{name: saved[name] for name in names}, covariates=covariates)

    @property
    def reads_tables(self) -> bool:
        """Whether predict inputs are tables (covariates or a series_column), not comma-separated values."""
        return bool(self.series_column or self.covariates.columns)


@dataclass
class TableWindow:
    """One series of a predict table as the model reads it: ``level (history,)`` (scaled as in training),
    the encoded covariates of the history and the forecast rows (``past (T', P')`` past-only, ``known
    (T', C')`` known-future, None without; ``T'`` = history + the rows to forecast), its ``(shift,
    scale)`` and what its result says beside the forecast (``extra``)."""

    name: str
    level: np.ndarray
    past: np.ndarray | None
    known: np.ndarray | None
    shift: float
    scale: float
    extra: dict[str, Any]


def window_arrays(windows: list[TableWindow], history: int, horizon: int) -> dict[str, np.ndarray]:
    """The model's input arrays of some windows (the names of the task's batches, without targets)."""
    arrays = {"history": np.stack([w.level for w in windows])}
    if windows[0].known is not None:
        arrays["past_covariates"] = np.stack([w.known[:history] for w in windows])
        arrays["future_covariates"] = np.stack([w.known[history : history + horizon] for w in windows])
    if windows[0].past is not None:
        arrays["past_only_covariates"] = np.stack([w.past[:history] for w in windows])
    return arrays


def read_table_windows(
    path: str,
    number: int,
    data: Any,
    encoder: CovariateEncoder,
    scalings: dict[str, list[float]],
    fail: Fail,
) -> list[TableWindow]:
    """Each series of the predict table ``path`` (input ``number``) as a :class:`TableWindow`.

    ``data`` holds the run's data settings (``ForecastingData``'s fields: history, horizon, columns,
    covariates, missing, log_transform, ...); ``scalings`` the saved ``(shift, scale)`` per training series
    (with a ``series_column``). A bad table raises ``fail(number, reason)``.
    """
    from rnnkit.data.reading import DataError

    d, several = data, data.series_column is not None
    if not Path(path).is_file():
        raise fail(number, f"{path}: no such file")
    try:
        frames = read_frames(path, d, missing="nan")
    except (DataError, ValueError) as error:
        raise fail(number, str(error)) from None
    known_future = list(d.covariates.future)
    out = []
    for frame in frames:
        blank = np.isnan(frame.values)
        future = int(np.argmin(blank[::-1])) if not blank.all() else len(frame)  # trailing blank values
        where = f"{path}: series {frame.name!r}" if several else path
        if known_future and future != d.horizon:
            raise fail(
                number,
                f"{where}: expected {d.horizon} rows to forecast (blank value, known-future covariates "
                f"{', '.join(known_future)}) after the history, got {future}",
            )
        if future > d.horizon:
            raise fail(
                number,
                f"{where}: {future} rows with a blank value at the end; at most the horizon "
                f"({d.horizon}) can be forecast",
            )
        steps = len(frame) - future
        if steps < d.history:
            raise fail(number, f"{where}: expected at least {d.history} rows of history, got {steps}")
        history = frame.cut(steps - d.history, steps)
        _check_gaps(d, frame, steps, number, fail)
        values = history.values
        if d.log_transform and not (values[~np.isnan(values)] > 0).all():
            raise fail(number, f"{where}: expected values > 0 (the model forecasts log y)")
        _, level = level_of(values, d.missing, d.log_transform)
        extra: dict[str, Any] = {"series": frame.name} if several else {}
        extra.update({"origin": history.times[-1], "history": d.history})
        if future:
            extra["times"] = frame.times[steps:]
        shift, scale = 0.0, 1.0
        if several:
            if frame.name in scalings:
                shift, scale = scalings[frame.name]
            else:
                shift, scale = standardiser(level)
                extra["scaled_by"] = "its own history (not a series of the training data)"
        window = frame.cut(steps - d.history, len(frame))  # the history, then the rows to forecast
        unseen = encoder.unseen(window)
        if unseen:
            extra["unseen_categories"] = unseen
        try:
            past, known = encoder.encode(window, fill_rule(d.missing))
        except ValueError as error:
            raise fail(number, f"{path}: {error}") from None
        out.append(TableWindow(frame.name, (level - shift) / scale, past, known, shift, scale, extra))
    return out


def _check_gaps(d: Any, frame: SeriesFrame, steps: int, number: int, fail: Fail) -> None:
    """With ``missing: error``, a blank in the history (value or covariate) or in the horizon's known-future
    covariates is an error naming its row."""
    if d.missing != "error":
        return
    start = steps - d.history
    checks = [("value", frame.values, start, steps)]
    for column in d.covariates.columns:
        cells = frame.numeric.get(column)
        if cells is None:
            cells = np.array([np.nan if c is None else 0.0 for c in frame.categorical[column]])
        stop = len(frame) if column in d.covariates.future else steps
        checks.append((column, cells, start, stop))
    for column, cells, low, high in checks:
        gaps = np.flatnonzero(np.isnan(cells[low:high]))
        if len(gaps):
            raise fail(number, f"{frame.rows[low + gaps[0]]}: column {column!r}: missing value "
                               "(the run has data.missing: error)")  # fmt: skip
