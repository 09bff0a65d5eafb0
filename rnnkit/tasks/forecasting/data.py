"""Forecasting: the data config and how the series is read."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

from rnnkit.config import ConfigError
from rnnkit.data.records import TimeSeries


@dataclass(frozen=True)
class ForecastingData:
    """Which series, how it is cut into windows and parts, and how it is scored.

    Attributes:
        dataset: a catalog series (``airline_passengers``, ``daily_min_temperatures``) or ``"csv"`` for the
            table in ``path`` (csv, tsv or jsonl; rows in time order).
        path: a local copy of the catalog dataset (no download), or the file for ``dataset="csv"``.
        format: the file's format for ``dataset="csv"`` (None: from its suffix).
        time_column, value_column: the columns of the times and of the series (None: the first column is the
            time, and the value is the only other column).
        missing: ``"error"`` on a blank/NA value in the csv, or ``"interpolate"`` it linearly.
        log_transform: the model sees ``log y`` and its forecasts are exponentiated (values must be > 0).
        window_level: subtract each window's ``"last"`` value or its ``"mean"`` from the window and its
            targets, and add it back to the forecast (with ``log_transform``, a division): the model learns
            the shape of what follows, not the level, and extrapolates a trend beyond the training range.
        history, horizon, stride: window inputs, steps forecast from each origin, steps between training
            windows.
        val_size, test_size: points held out at the end, in time order (test last); 0 validation points:
            no validation (and no early stopping).
        season: the seasonal period m (12 for monthly data with a yearly cycle, 365 for daily) of the
            seasonal-naive baseline, Holt-Winters and the MASE scale; 1: none.
        baseline_seasonality: Holt-Winters seasonality; ``"auto"`` picks the better fit on the training part.
        offline: never download (None: the ``RNNKIT_OFFLINE`` environment variable decides).
    """

    dataset: str = "airline_passengers"
    path: str | None = None
    format: Literal["csv", "tsv", "jsonl"] | None = None
    time_column: str | None = None
    value_column: str | None = None
    missing: Literal["error", "interpolate"] = "error"
    log_transform: bool = False
    window_level: Literal["none", "last", "mean"] = "none"
    history: int = 24
    horizon: int = 12
    stride: int = 1
    val_size: int = 12
    test_size: int = 24
    season: int = 12
    baseline_seasonality: Literal["auto", "additive", "multiplicative"] = "auto"
    offline: bool | None = None

    def __post_init__(self) -> None:
        for name in ("history", "horizon", "stride", "test_size", "season", "val_size"):
            value, low = getattr(self, name), 0 if name == "val_size" else 1
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise ValueError(f"ForecastingData.{name} must be an integer >= {low}, got {value!r}")
        if 0 < self.val_size < self.horizon:
            raise ValueError(
                f"ForecastingData.val_size must be 0 or >= horizon ({self.horizon}) so that a validation "
                f"window has all its targets inside it, got {self.val_size}"
            )
        if self.dataset == "csv" and self.path is None:
            raise ValueError("ForecastingData: dataset='csv' needs path= (the csv/tsv/jsonl file)")


def load_series(data: ForecastingData) -> TimeSeries:
    """The one series to forecast (``(T, 1)`` values), missing values interpolated if asked."""
    missing = "nan" if data.missing == "interpolate" else "error"
    if data.dataset == "csv":
        from rnnkit.data.loaders_series import load_series_csv

        series = load_series_csv(data.path, data.time_column, data.value_column, missing, data.format)
    else:
        from rnnkit.data.catalog import load_dataset

        series = load_dataset(data.dataset, data.path, offline=data.offline).get("all")
        if not isinstance(series, TimeSeries):
            raise ConfigError(
                f"data: dataset {data.dataset!r} is not a time series (use a forecasting dataset)"
            )
    if data.value_column is not None and data.dataset != "csv":
        if data.value_column not in series.columns:
            raise ConfigError(f"data.value_column: {data.value_column!r} is not one of {series.columns}")
        column = series.columns.index(data.value_column)
        series = TimeSeries(series.times, series.values[:, column], [data.value_column])
    if series.values.shape[1] != 1:
        raise ConfigError(
            f"data: the series has columns {series.columns}; choose the one to forecast with value_column"
        )
    values = series.values[:, 0].astype(np.float64)
    gaps = np.isnan(values)
    if gaps.all():
        raise ValueError(f"data: column {series.columns[0]!r} has no values")
    if gaps.any():  # only reached with missing="interpolate"
        steps = np.arange(len(values))
        values[gaps] = np.interp(steps[gaps], steps[~gaps], values[~gaps])
    if data.log_transform and not (values > 0).all():
        low = int(values.argmin())
        raise ValueError(
            f"data.log_transform needs values > 0, but {series.columns[0]!r} is {values[low]:g} at "
            f"{series.times[low]}; set log_transform: false"
        )
    return TimeSeries(series.times, values, series.columns)
