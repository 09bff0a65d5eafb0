"""Forecasting: the data config, and the series it names, read and cut into train / validation / test in
time order.

Where the series come from:

- a catalog series (``dataset: airline_passengers``) or one table (``dataset: csv``, ``path``);
- your own files, ``train`` (``validation``, ``test``): tables in the same columns, each continuing the
  series of the one before in time (a test file holds the steps after the training file's, say).

A table holds one series (a time column and a value column), or many in long format (``series_column``:
one row per series and time step, each series' rows in time order; windows never cross series), with
covariate columns beside them (:class:`CovariateConfig`).

Splits, by time (:func:`split_in_time`). The parts a file does not give are cut from the end of each
series, the test part last, and logged: ``test_size`` points when there is no test file, then
``val_size`` points before it when there is no validation file. This is the time-ordered counterpart of
:func:`rnnkit.data.splits.complete_splits` (which holds out a seeded fraction of unordered examples; a
series cannot be shuffled, so its held-out parts are counts of its last points); the files themselves are
found by :func:`rnnkit.data.splits.own_files`, as for every task.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from rnnkit.config import ConfigError
from rnnkit.data.reading import DataError
from rnnkit.data.records import TimeSeries
from rnnkit.tasks.forecasting.tables import SeriesFrame, concat_frames, read_frames

log = logging.getLogger("rnnkit")


@dataclass(frozen=True)
class CovariateConfig:
    """The columns beside the series that the model reads (``data.covariates``).

    Attributes:
        past: past-only columns, observed up to the forecast origin only (other measurements: dew point,
            pressure, ...). The model reads them over the history window; they are not needed for the
            horizon.
        future: known-future columns, given for the history and for every step of the horizon (calendar
            features, planned prices, ...). At predict time, the rows of the steps to forecast carry them.
        categorical: which of ``past`` / ``future`` hold categories (wind direction ``NE``, ``cv``, ...);
            the others are numbers. The category vocabulary is that of the training part, saved with the
            run; an unseen or missing category is the unknown category.
        encoding: categories ``"embedding"`` (a learnt vector each, ``model.category_embedding_dim``) or
            ``"one_hot"`` (a 0/1 column per category, scaled with the numeric columns).

    Example:
        >>> CovariateConfig(past=("dew", "wind"), future=("hour",), categorical=("wind",)).columns
        ('dew', 'wind', 'hour')
        >>> CovariateConfig(past=("a",), future=("a",))
        Traceback (most recent call last):
        ...
        ValueError: CovariateConfig: column 'a' is both past-only and known-future; name it once
    """

    past: tuple[str, ...] = ()
    future: tuple[str, ...] = ()
    categorical: tuple[str, ...] = ()
    encoding: Literal["embedding", "one_hot"] = "embedding"

    def __post_init__(self) -> None:
        for name in ("past", "future", "categorical"):
            columns = getattr(self, name)
            if isinstance(columns, str) or not all(isinstance(c, str) and c for c in columns):
                raise ValueError(f"CovariateConfig.{name} must be a list of column names, got {columns!r}")
            if len(set(columns)) != len(columns):
                raise ValueError(f"CovariateConfig.{name}: a column is named twice in {list(columns)}")
            object.__setattr__(self, name, tuple(columns))
        both = sorted(set(self.past) & set(self.future))
        if both:
            raise ValueError(
                f"CovariateConfig: column {both[0]!r} is both past-only and known-future; name it once"
            )
        unknown = [c for c in self.categorical if c not in self.columns]
        if unknown:
            raise ValueError(
                f"CovariateConfig.categorical: {unknown[0]!r} is not in past or future; list it there too"
            )

    @property
    def columns(self) -> tuple[str, ...]:
        """Every covariate column, past-only first."""
        return self.past + self.future


@dataclass(frozen=True)
class ForecastingData:
    """Which series, how it is cut into windows and parts, and how it is scored.

    Attributes:
        dataset: a catalog series (``airline_passengers``, ``daily_min_temperatures``) or ``"csv"`` for the
            table in ``path`` (csv, tsv or jsonl; rows in time order).
        path: a local copy of the catalog dataset (no download), or the file for ``dataset="csv"``.
        train, validation, test: your own tables instead of ``dataset`` (see the module docstring); each
            continues the series of the one before in time.
        format: the tables' format (None: from each file's suffix).
        time_column, value_column: the columns of the times and of the series (None: the first column is the
            time, and the value is the only other column not named elsewhere).
        series_column: the column naming the series of each row, for many series in one table (long
            format); each series is scaled on its own (by the mean and standard deviation of its training
            part, saved with the run) and windows never cross series. None: the table is one series.
        covariates: the columns beside the series that the model reads (:class:`CovariateConfig`).
        missing: a blank / ``NA`` / ``?`` value in a table (series or covariate): ``"error"``; or
            ``"interpolate"`` it linearly in time (each series on its own), then treat it as observed;
            or ``"mask"``: leave it out of the loss and of every test score, and feed the model (and the
            baselines) the last value observed before it (the first one at a series' start). A missing
            category is the unknown category in both.
        log_transform: the model sees ``log y`` and its forecasts are exponentiated (values must be > 0).
        window_level: subtract each window's ``"last"`` value or its ``"mean"`` from the window and its
            targets, and add it back to the forecast (with ``log_transform``, a division): the model learns
            the shape of what follows, not the level, and extrapolates a trend beyond the training range.
        history, horizon, stride: window inputs, steps forecast from each origin, steps between training
            windows.
        val_size, test_size: points held out at the end of each series, in time order (test last), where
            no ``validation`` / ``test`` file gives that part; 0 validation points: no validation (and no
            early stopping).
        season: the seasonal period m (12 for monthly data with a yearly cycle, 365 for daily) of the
            seasonal-naive baseline, Holt-Winters and the MASE scale; 1: none.
        baseline_seasonality: Holt-Winters seasonality; ``"auto"`` picks the better fit on the training part.
        encoding: how the tables are decoded:
            ``auto`` (detected per file, and logged: a byte-order mark, else UTF-8, else cp949 / EUC-KR
            for Korean bytes, else Latin-1) or any Python codec (``utf-8``, ``cp949``, ``utf-16``...).
        on_bad_rows: ``error`` (a bad row stops the run, naming its file and line) or ``skip`` (bad rows
            are left out, their count and first line numbers in a warning);
            a skipped row is a missing time step, so prefer ``missing`` for gaps.
        offline: never download (None: the ``RNNKIT_OFFLINE`` environment variable decides).
    """

    dataset: str = "airline_passengers"
    path: str | None = None
    train: str | None = None
    validation: str | None = None
    test: str | None = None
    format: Literal["csv", "tsv", "jsonl"] | None = None
    time_column: str | None = None
    value_column: str | None = None
    series_column: str | None = None
    covariates: CovariateConfig = field(default_factory=CovariateConfig)
    missing: Literal["error", "interpolate", "mask"] = "error"
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
    encoding: str = "auto"
    on_bad_rows: Literal["error", "skip"] = "error"

    def __post_init__(self) -> None:
        if isinstance(self.covariates, dict):  # ForecastingData(covariates={"past": [...]}) from Python
            object.__setattr__(self, "covariates", CovariateConfig(**self.covariates))
        from rnnkit.data.encodings import check_data_keys

        check_data_keys(self.encoding, self.on_bad_rows)
        for name in ("history", "horizon", "stride", "test_size", "season", "val_size"):
            value, low = getattr(self, name), 0 if name == "val_size" else 1
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise ValueError(f"ForecastingData.{name} must be an integer >= {low}, got {value!r}")
        if 0 < self.val_size < self.horizon:
            raise ValueError(
                f"ForecastingData.val_size must be 0 or >= horizon ({self.horizon}) so that a validation "
                f"window has all its targets inside it, got {self.val_size}"
            )
        if self.train is None and (self.validation is not None or self.test is not None):
            raise ValueError("ForecastingData: data.validation / data.test need data.train too")
        if self.train is not None and self.path is not None:
            raise ValueError("ForecastingData: data.train (your own files) replaces dataset and path")
        if self.dataset == "csv" and self.path is None and self.train is None:
            raise ValueError("ForecastingData: dataset='csv' needs path= (the csv/tsv/jsonl file)")
        if (self.covariates.columns or self.series_column) and not self.tables:
            raise ValueError(
                "ForecastingData: covariates and series_column need a table: dataset: csv with path, or "
                "your own files (train, validation, test)"
            )
        named = [self.time_column, self.series_column, *self.covariates.columns]
        if self.value_column is not None and self.value_column in named:
            raise ValueError(f"ForecastingData.value_column {self.value_column!r} is named elsewhere too")

    @property
    def tables(self) -> bool:
        """Whether the series come from tables (own files or ``dataset: csv``), not the catalog."""
        return self.train is not None or self.dataset == "csv"

    @property
    def multivariate(self) -> bool:
        """Whether the tables are read as frames: covariates, several series or own files."""
        return bool(self.covariates.columns or self.series_column or self.train is not None)


def load_series(data: ForecastingData) -> TimeSeries:
    """The one series of a catalog dataset or a ``dataset: csv`` table without covariates (``(T, 1)``
    values), missing values interpolated if asked (kept as NaN with ``missing="mask"``)."""
    missing = "error" if data.missing == "error" else "nan"
    if data.dataset == "csv":
        from rnnkit.data.loaders_series import load_series_csv

        series = load_series_csv(data.path, data.time_column, data.value_column, missing, data.format,
                                 data.encoding, data.on_bad_rows)  # fmt: skip
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
        raise DataError(f"data: column {series.columns[0]!r} has no values")
    if gaps.any() and data.missing == "interpolate":
        steps = np.arange(len(values))
        values[gaps] = np.interp(steps[gaps], steps[~gaps], values[~gaps])
    if data.log_transform and not (values[~np.isnan(values)] > 0).all():
        low = int(np.nanargmin(values))
        raise ConfigError(
            f"data.log_transform needs values > 0, but {series.columns[0]!r} is {values[low]:g} at "
            f"{series.times[low]}; set log_transform: false"
        )
    return TimeSeries(series.times, values, series.columns)


@dataclass
class SplitSeries:
    """One series and where its parts end: ``[0, n_train)`` train, ``[n_train, n_fit)`` validation,
    ``[n_fit, len)`` test."""

    frame: SeriesFrame
    n_train: int
    n_fit: int


def load_split_series(data: ForecastingData, where: str = "config") -> list[SplitSeries]:
    """Every series of ``data``, each cut into its train / validation / test parts in time order.

    Raises:
        ConfigError: a validation / test file naming a series the training file lacks, or a series too
            short for its parts, naming the series.
    """
    from rnnkit.data.splits import own_files

    if not data.multivariate:
        series = load_series(data)
        frame = SeriesFrame(series.columns[0], series.times, series.values[:, 0].astype(np.float64))
        return split_in_time({"train": [frame]}, data, where)
    files = own_files(data)
    labels = {name: f"data.{name}" for name in files}
    if not files:  # dataset: csv, one table
        files, labels = {"train": data.path}, {"train": "data.path"}
    parts = {name: read_frames(path, data, where=labels[name]) for name, path in files.items()}
    return split_in_time(parts, data, where)


def split_in_time(
    given: dict[str, list[SeriesFrame]], data: ForecastingData, where: str = "config"
) -> list[SplitSeries]:
    """Join each series' ``train``, ``validation`` and ``test`` frames (by name, in that order of time) and
    cut what no frame gives from the end (test last), logging each cut once.

    Example:
        >>> frame = SeriesFrame("y", [str(t) for t in range(100)], np.arange(100.0))
        >>> cut = split_in_time({"train": [frame]}, ForecastingData(val_size=12, test_size=24))
        >>> cut[0].n_train, cut[0].n_fit, len(cut[0].frame.values)
        (64, 76, 100)
    """
    names = [frame.name for frame in given["train"]]
    joined: list[SplitSeries] = []
    for split in ("validation", "test"):
        extra = [f.name for f in given.get(split, []) if f.name not in names]
        if extra:
            raise ConfigError(
                f"{where}: data.{split}: series {extra[0]!r} is not in data.train (a {split} file continues "
                f"the training series in time)"
            )
    by_split = {split: {f.name: f for f in frames} for split, frames in given.items()}
    for name in names:
        pieces = [by_split["train"][name]]
        ends = [len(pieces[0].values)]
        for split in ("validation", "test"):
            if split in given and name in by_split[split]:
                pieces.append(by_split[split][name])
            ends.append(sum(len(p.values) for p in pieces))
        frame = concat_frames(pieces)
        total = len(frame.values)
        n_fit = ends[1] if "test" in given else total - data.test_size
        n_train = ends[0] if "validation" in given else n_fit - data.val_size
        joined.append(SplitSeries(frame, n_train, n_fit))
    if "test" not in given:
        log.info("%s: data: no test file; held out the last %d points of each series for testing "
                 "(test_size)", where, data.test_size)  # fmt: skip
    if "validation" not in given and data.val_size:
        log.info("%s: data: no validation file; held out the %d points of each series before its test "
                 "part for validation (val_size)", where, data.val_size)  # fmt: skip
    need = data.history + data.horizon
    for part in joined:
        if part.n_train < max(need, data.season + 1) or part.n_fit < part.n_train:
            total, label = (
                len(part.frame.values),
                f"series {part.frame.name!r}: " if data.series_column else "",
            )
            raise ValueError(
                f"data: {label}{total} points leave {part.n_train} for training after val_size "
                f"{data.val_size} and test_size {data.test_size}; need at least history + horizon = {need} "
                f"and season + 1 = {data.season + 1}"
            )
    return joined
