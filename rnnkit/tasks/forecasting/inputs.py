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

from typing import TYPE_CHECKING, Any

import numpy as np
from torch import nn

from rnnkit.data.forecast_tables import is_table, read_table_windows, rounded, window_arrays
from rnnkit.tasks.base import InputError

if TYPE_CHECKING:
    from rnnkit.tasks.forecasting.task import ForecastingTask


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
    result = {**extra, "forecast": rounded(point)}
    if quantiles is not None:
        result["quantiles"] = {f"{q:g}": rounded(forecast[:, k]) for k, q in enumerate(quantiles)}
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
    scalings = getattr(task, "saved_state", {}).get("series_scaling", {})
    for number, path in tables.items():
        found = read_table_windows(path, number, d, task._encoder(), scalings, InputError)
        items = window_arrays(found, d.history, d.horizon)
        shifts, scales = np.array([w.shift for w in found]), np.array([w.scale for w in found])
        forecast = task.forecast_items(model, items, shifts, scales)
        forecasts = [_result(model, f, w.extra) for w, f in zip(found, forecast)]
        results[number] = {"input": path, "forecasts": forecasts}
    return [results[number] for number in range(1, len(inputs) + 1)]
