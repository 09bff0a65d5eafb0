r"""Forecasting: time series in (one, or many in one table, with covariates), a
:class:`~rnnkit.models.forecaster.Forecaster` out, scored on each series' test part (MAE, RMSE, MAPE, MASE)
beside a seasonal-naive, a Holt-Winters and a ridge forecast on the same blocks.

Each series is cut in time order, never shuffled (the parts are counts of its last points, or your own
files: :mod:`rnnkit.tasks.forecasting.data`)::

    |<----------------- train ----------------->|<-- val_size -->|<-- test_size -->|
     training windows, scalers, vocabularies       validation         the last points
     (and the baselines' fit)

- A window is ``history`` inputs and the ``horizon`` values after them. Training windows (every ``stride``
  steps) lie wholly in the training part; validation and test windows have their targets in their own part
  and their inputs in the past only (reaching back into the previous parts): no window crosses into the
  future, and nothing is fitted on the validation or test values.
- The test forecast starts at the end of train+val: the first ``horizon`` test points are forecast from the
  ``history`` values before them; then the origin moves ``horizon`` steps on and the next block is forecast
  from the true values up to it (a rolling origin), until the ``test_size`` points are covered. With
  ``horizon == test_size`` this is the single forecast from the end of train+val. The baselines forecast the
  same blocks from the same origins.
- Covariates (``data.covariates``): past-only columns, observed up to the origin (the model reads them over
  the history window), and known-future columns (given for the horizon too: the direct head reads them
  for every forecast step), numeric or categorical (embedded, or one-hot); scaled by the model's scalers,
  fitted on the training part, and the category vocabularies saved with the run (``task.json``). Several
  series (``data.series_column``): one model for all, each series standardised by its own training
  statistics (saved with the run); windows never cross series. Missing values: ``data.missing``.
- ``log_transform`` fits the model to ``log y`` (multiplicative growth, like airline passengers, becomes
  additive) and exponentiates its forecasts; metrics and baselines are always on the raw values.
  ``window_level`` makes each window relative to its last value or mean (and adds it back to the forecast),
  so the model learns shapes rather than levels and can follow a trend beyond the training range.

Loss: MSE on the model's scaled level, or the pinball loss when the model has ``quantiles`` (the point
forecast is then the quantile nearest 0.5). MASE divides by the in-sample (train+val) seasonal-naive MAE
with period ``season`` (several series: each by its own, then the mean); MAPE leaves out zero targets;
missing targets (``missing: mask``) count in no score. The baselines: the seasonal naive (univariate),
Holt-Winters (univariate, fitted per series) and ridge regression on the lagged levels and the covariates
(:class:`RidgeBaseline`). The report also writes ``forecast.csv`` (per test step: its origin, the truth, the
model's and the baselines' forecasts) and ``forecast.png`` into the run folder.

Config for the classic multivariate case, hourly PM2.5 with weather covariates (the Keras LSTM tutorial's
``pollution`` data): ``rnnkit/configs/pm25.yaml``.
"""

from rnnkit.tasks.forecasting.baseline import HoltWinters, RidgeBaseline
from rnnkit.tasks.forecasting.covariates import CovariateEncoder, fill_gaps
from rnnkit.tasks.forecasting.data import (
    CovariateConfig,
    ForecastingData,
    SplitSeries,
    load_series,
    load_split_series,
    split_in_time,
)
from rnnkit.tasks.forecasting.tables import SeriesFrame, read_frames
from rnnkit.tasks.forecasting.task import ForecastingTask

__all__ = [
    "CovariateConfig",
    "CovariateEncoder",
    "ForecastingData",
    "ForecastingTask",
    "HoltWinters",
    "RidgeBaseline",
    "SeriesFrame",
    "SplitSeries",
    "fill_gaps",
    "load_series",
    "load_split_series",
    "read_frames",
    "split_in_time",
]
