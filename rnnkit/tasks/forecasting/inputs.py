"""What ``rnnkit predict RUN ...`` takes for a forecasting run: one input per argument (or ``--input`` line).

- ``"112, 118, 132, ..."``: a history of comma-separated values (at least ``history``; the last ``history``
  are used), for runs without covariates and without ``series_column``.
- the path of a table (``.csv``, ``.tsv``, ``.jsonl``) in the columns of training: time, series id (with
  ``series_column``), value and every covariate. Each series' rows are its history, in time order, then the
  steps to forecast: the trailing rows whose value is blank. With known-future covariates there must be
  ``horizon`` such rows, holding those covariates; without, up to ``horizon`` (their times name the
  forecast steps). Past-only covariates are read over the history only. Missing values in the history are
  treated as in training (``data.missing``); categories use the vocabulary saved with the run (an unseen
  one is the unknown category, and the result says so). A series of the training data is scaled by its
  saved statistics; another one by those of its own history (the result says so).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from torch import nn

from rnnkit.tasks.base import InputError
from rnnkit.tasks.forecasting.panel import Series, fill_rule, gather, level_of, standardiser

if TYPE_CHECKING:
    from rnnkit.tasks.forecasting.task import ForecastingTask

TABLE_SUFFIXES = (".csv", ".tsv", ".tab", ".jsonl", ".ndjson")


def _rounded(values: np.ndarray) -> list[float]:
    return [round(float(v), 4) for v in values]


def is_table(text: str) -> bool:
    """Whether an input names a table file rather than holding comma-separated values."""
    return Path(text.strip()).suffix.lower() in TABLE_SUFFIXES


def parse_history(text: str, number: int) -> np.ndarray:
    """``"1, 2.5,3"`` -> ``[1.0, 2.5, 3.0]``; errors name the input's number and the bad field.

    Example:
        >>> parse_history("1, 2.5,3", 1).tolist()
        [1.0, 2.5, 3.0]
    """
    values = []
    for field in text.split(","):
        try:
            values.append(float(field))
        except ValueError:
            raise InputError(number, f"expected comma-separated numbers, got {field.strip()!r}") from None
    return np.array(values, dtype=np.float64)


def _result(model: nn.Module, forecast: np.ndarray, extra: dict[str, Any]) -> dict[str, Any]:
    quantiles = model.config.quantiles
    point = forecast if quantiles is None else forecast[:, model.center]
    result = {**extra, "forecast": _rounded(point)}
    if quantiles is not None:
        result["quantiles"] = {f"{q:g}": _rounded(forecast[:, k]) for k, q in enumerate(quantiles)}
    return result


def history_windows(task: ForecastingTask, inputs: list[tuple[int, str]]) -> tuple[np.ndarray, list[int]]:
    d, windows, counts = task.data, [], []
    if d.covariates.columns or task.several:
        number = inputs[0][0]
        columns = [d.time_column or "TIME", *([d.series_column] if task.several else []), task.value_column,
                   *d.covariates.columns]  # fmt: skip
        raise InputError(
            number,
            f"this run reads a table: give the path of a .csv/.tsv/.jsonl file with the columns "
            f"{', '.join(columns)} (the rows to forecast last, their value blank)",
        )
    for number, text in inputs:
        values = parse_history(text, number)
        counts.append(len(values))
        if len(values) < d.history:
            raise InputError(
                number,
                f"expected at least {d.history} comma-separated values (the model's history), "
                f"got {len(values)}",
            )
        values = values[-d.history :]
        if not np.isfinite(values).all() or (d.log_transform and not (values > 0).all()):
            need = "finite values > 0 (the model forecasts log y)" if d.log_transform else "finite values"
            raise InputError(number, f"expected {need}, got {values.min():g}")
        windows.append(np.log(values) if d.log_transform else values)
    return np.stack(windows), counts


def _table_series(task: ForecastingTask, path: str, number: int) -> list[tuple[Series, dict[str, Any]]]:
    """Each series of a predict table as a :class:`Series` (history, then the forecast rows) and what its
    result says beside the forecast."""
    from rnnkit.data.reading import DataError
    from rnnkit.tasks.forecasting.tables import read_frames

    d = task.data
    if not Path(path).is_file():
        raise InputError(number, f"{path}: no such file")
    try:
        frames = read_frames(path, d, missing="nan")
    except (DataError, ValueError) as error:
        raise InputError(number, str(error)) from None
    saved = getattr(task, "saved_state", {}).get("series_scaling", {})
    encoder, out = task._encoder(), []
    known_future = list(d.covariates.future)
    for frame in frames:
        blank = np.isnan(frame.values)
        future = int(np.argmin(blank[::-1])) if not blank.all() else len(frame)  # trailing blank values
        where = f"{path}: series {frame.name!r}" if task.several else path
        if known_future and future != d.horizon:
            raise InputError(
                number,
                f"{where}: expected {d.horizon} rows to forecast (blank value, known-future covariates "
                f"{', '.join(known_future)}) after the history, got {future}",
            )
        if future > d.horizon:
            raise InputError(
                number,
                f"{where}: {future} rows with a blank value at the end; at most the horizon "
                f"({d.horizon}) can be forecast",
            )
        steps = len(frame) - future
        if steps < d.history:
            raise InputError(number, f"{where}: expected at least {d.history} rows of history, got {steps}")
        history = frame.cut(steps - d.history, steps)
        _check_gaps(task, frame, steps, future, number)
        values = history.values
        if d.log_transform and not (values[~np.isnan(values)] > 0).all():
            raise InputError(number, f"{where}: expected values > 0 (the model forecasts log y)")
        _, level = level_of(values, d.missing, d.log_transform)
        extra: dict[str, Any] = {"series": frame.name} if task.several else {}
        extra.update({"origin": history.times[-1], "history": d.history})
        if future:
            extra["times"] = frame.times[steps:]
        shift, scale = 0.0, 1.0
        if task.several:
            if frame.name in saved:
                shift, scale = saved[frame.name]
            else:
                shift, scale = standardiser(level)
                extra["scaled_by"] = "its own history (not a series of the training data)"
        unseen = encoder.unseen(frame.cut(steps - d.history, len(frame)))
        if unseen:
            extra["unseen_categories"] = unseen
        # the window: history then the forecast rows (their covariates), starting at step 0
        window = frame.cut(steps - d.history, len(frame))
        past, known = encoder.encode(window, fill_rule(d.missing))
        if known is not None and len(window) < d.history + d.horizon:  # not reached: future == horizon
            raise InputError(number, f"{where}: the known-future covariates of the horizon are missing")
        level = np.concatenate([(level - shift) / scale, np.zeros(future)])
        ones = np.ones(len(level), dtype=bool)
        series = Series(frame.name, window.times, level, level, level, ones, past, known, shift, scale, 0, 0,
                        window.rows)  # fmt: skip
        out.append((series, extra))
    return out


def _check_gaps(task: ForecastingTask, frame, steps: int, future: int, number: int) -> None:
    """With ``missing: error``, a blank in the history (value or covariate) or in the horizon's known-future
    covariates is an error naming its row."""
    d = task.data
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
            raise InputError(number, f"{frame.rows[low + gaps[0]]}: column {column!r}: missing value "
                                     "(the run has data.missing: error)")  # fmt: skip


def predict_inputs(task: ForecastingTask, model: nn.Module, inputs: list[str]) -> list[dict[str, Any]]:
    """Forecasts for ``inputs`` (comma-separated histories or table paths), one result per input."""
    d = task.data
    tables = {number: text.strip() for number, text in enumerate(inputs, 1) if is_table(text)}
    plain = [(number, text) for number, text in enumerate(inputs, 1) if number not in tables]
    results: dict[int, dict[str, Any]] = {}
    if plain:
        windows, counts = history_windows(task, plain)
        forecast = task.forecast_items(
            model, {"history": windows}, np.zeros(len(windows)), np.ones(len(windows))
        )
        for (number, _), count, f in zip(plain, counts, forecast):
            results[number] = _result(model, f, {"history": count})
    for number, path in tables.items():
        found = _table_series(task, path, number)
        series = [s for s, _ in found]
        items = gather(series, [(k, 0) for k in range(len(series))], d.history, d.horizon, targets=False)
        shifts, scales = np.array([s.shift for s in series]), np.array([s.scale for s in series])
        forecast = task.forecast_items(model, items, shifts, scales)
        forecasts = [_result(model, f, extra) for (_, extra), f in zip(found, forecast)]
        results[number] = {"input": path, "forecasts": forecasts}
    return [results[number] for number in range(1, len(inputs) + 1)]
