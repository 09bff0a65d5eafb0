"""Forecasting with an export folder, torch-free: what ``rnnkit predict RUN`` reads for the run, forecast by
the graph.

- a run of one series without covariates: comma-separated histories, one result ``{"history", "forecast"
  [, "quantiles"]}`` each (or tables, as below);
- a run with covariates or a ``series_column``: the path of a table in the training columns (see
  :mod:`rnnkit.tasks.forecasting.inputs`), one result ``{"input", "forecasts": [...]}`` with one forecast
  per series. The table becomes the graph's arrays in :mod:`rnnkit.data.forecast_tables`, the code the
  task reads it with, from the settings, vocabularies and per-series scaling in ``preprocessing.json``.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from rnnkit.data.covariates import CovariateEncoder
from rnnkit.data.forecast_tables import (
    TableSettings,
    TableWindow,
    is_table,
    read_table_windows,
    rounded,
    window_arrays,
)

CHUNK = 256  # windows per session call


class ForecastPredictor:
    """Forecasts of comma-separated histories or of tables, as ``rnnkit predict RUN`` (module docstring)."""

    def __init__(self, folder: Path, manifest: dict[str, Any]) -> None:
        from rnnkit.export.runtime import _json

        preprocessing = _json(folder, manifest, "preprocessing.json")
        self.history = int(preprocessing["history"])
        self.horizon = int(preprocessing["horizon"])
        self.log_transform = bool(preprocessing["log_transform"])
        self.quantiles = preprocessing["quantiles"]
        self.center = int(preprocessing["center"])
        saved = preprocessing.get("data")  # absent in folders of one series exported before covariates
        self.settings = (
            TableSettings(self.history, self.horizon, self.log_transform)
            if saved is None
            else TableSettings.from_dict(saved)
        )
        self.encoder = CovariateEncoder(self.settings.covariates, preprocessing.get("categories") or {})
        self.scalings = preprocessing.get("series_scaling") or {}
        self.reads_saved_tables = saved is not None  # the columns the run reads tables in are saved
        self.value_column = preprocessing.get("value_column") or "VALUE"
        self.names = [spec["name"] for spec in manifest.get("inputs", [])] or ["history"]

    def predict(self, session: Any, texts: Sequence[str]) -> list[dict[str, Any]]:
        from rnnkit.export.runtime import ExportInputError

        tables = {n: t.strip() for n, t in enumerate(texts, 1) if is_table(t)}
        plain = [(n, t) for n, t in enumerate(texts, 1) if n not in tables]
        results: dict[int, dict[str, Any]] = {}
        if plain:
            windows, counts = zip(*(self.window(text, number) for number, text in plain))
            forecasts = self._forecast(session, {"history": np.stack(windows)})
            for (number, _), count, f in zip(plain, counts, forecasts):
                results[number] = self._result(f, {"history": count})
        for number, path in tables.items():
            if not self.reads_saved_tables:
                reason = (
                    "this export folder predates tables: forecast comma-separated histories, or export again"
                )
                raise ExportInputError(number, reason)
            found = read_table_windows(
                path, number, self.settings, self.encoder, self.scalings, ExportInputError
            )
            forecasts = self._raw(
                self._forecast(session, window_arrays(found, self.history, self.horizon)), found
            )
            results[number] = {
                "input": path,
                "forecasts": [self._result(f, w.extra) for w, f in zip(found, forecasts)],
            }
        return [results[number] for number in range(1, len(texts) + 1)]

    def check(self, texts: Sequence[str], read_files: bool = True) -> None:
        """Raise the :class:`ExportInputError` :meth:`predict` would for a history that does not parse (a
        table is read only by :meth:`predict`; with ``read_files`` False naming one is refused)."""
        from rnnkit.export.runtime import ExportInputError

        for number, text in enumerate(texts, 1):
            if not is_table(text):
                self.window(text, number)
            elif not read_files:
                raise ExportInputError(number, "the server reads no files: send the comma-separated history")

    def window(self, text: str, number: int) -> tuple[np.ndarray, int]:
        """The model-level window of one comma-separated history and how many values it gave."""
        from rnnkit.export.runtime import ExportInputError

        if self.settings.reads_tables:
            d = self.settings
            columns = [d.time_column or "TIME", *([d.series_column] if d.series_column else []),
                       self.value_column, *d.covariates.columns]  # fmt: skip
            raise ExportInputError(number, "this run reads a table: give the path of a .csv/.tsv/.jsonl file "
                                           f"with the columns {', '.join(columns)} (the rows to forecast "
                                           "last, their value blank)")  # fmt: skip
        values = []
        for field in text.split(","):
            try:
                values.append(float(field))
            except ValueError:
                raise ExportInputError(
                    number, f"expected comma-separated numbers, got {field.strip()!r}"
                ) from None
        if len(values) < self.history:
            raise ExportInputError(number, f"expected at least {self.history} comma-separated values (the "
                                           f"model's history), got {len(values)}")  # fmt: skip
        window = np.array(values[-self.history :], dtype=np.float64)
        if not np.isfinite(window).all() or (self.log_transform and not (window > 0).all()):
            need = "finite values > 0 (the model forecasts log y)" if self.log_transform else "finite values"
            raise ExportInputError(number, f"expected {need}, got {window.min():g}")
        return (np.log(window) if self.log_transform else window), len(values)

    def _forecast(self, session: Any, arrays: dict[str, np.ndarray]) -> np.ndarray:
        """The graph's forecasts ``(W, H[, Q])`` of the arrays' windows, as float64 raw values (without the
        per-series scaling, which :meth:`_raw` undoes)."""
        out = []
        for start in range(0, len(arrays["history"]), CHUNK):
            feeds = {name: arrays[name][start : start + CHUNK].astype(np.float32) for name in self.names}
            out.append(session.run(["forecast"], feeds)[0].astype(np.float64))
        level = np.concatenate(out)
        return level if self.settings.series_column else self._exp(level)

    def _raw(self, level: np.ndarray, windows: list[TableWindow]) -> np.ndarray:
        if not self.settings.series_column:
            return level
        view = (-1,) + (1,) * (level.ndim - 1)
        shift = np.array([w.shift for w in windows]).reshape(view)
        scale = np.array([w.scale for w in windows]).reshape(view)
        return self._exp(level * scale + shift)

    def _exp(self, level: np.ndarray) -> np.ndarray:
        return np.exp(level) if self.log_transform else level

    def _result(self, forecast: np.ndarray, extra: dict[str, Any]) -> dict[str, Any]:
        point = forecast if self.quantiles is None else forecast[:, self.center]
        result: dict[str, Any] = {**extra, "forecast": rounded(point)}
        if self.quantiles is not None:
            result["quantiles"] = {f"{q:g}": rounded(forecast[:, k]) for k, q in enumerate(self.quantiles)}
        return result
