r"""Forecasting: one time series in, a :class:`~rnnkit.models.forecaster.Forecaster` out, scored on the
series' last ``test_size`` points (MAE, RMSE, MAPE, MASE) beside a seasonal-naive and a Holt-Winters forecast.

The series is cut in time order, never shuffled::

    |<----------------- train ----------------->|<-- val_size -->|<-- test_size -->|
     training windows, scaler (and Holt-Winters)   validation         the last points

- A window is ``history`` inputs and the ``horizon`` values after them. Training windows (every ``stride``
  steps) lie wholly in the training part; validation and test windows have their targets in their own part
  and their inputs in the past only (reaching back into the previous parts): no window crosses into the
  future, and nothing is fitted on the validation or test values.
- The test forecast starts at the end of train+val: the first ``horizon`` test points are forecast from the
  ``history`` values before them; then the origin moves ``horizon`` steps on and the next block is forecast
  from the true values up to it (a rolling origin), until the ``test_size`` points are covered. With
  ``horizon == test_size`` this is the single forecast from the end of train+val. The baselines forecast the
  same blocks from the same origins.
- ``log_transform`` fits the model to ``log y`` (multiplicative growth, like airline passengers, becomes
  additive) and exponentiates its forecasts; metrics and baselines are always on the raw values.
  ``window_level`` makes each window relative to its last value or mean (and adds it back to the forecast),
  so the model learns shapes rather than levels and can follow a trend beyond the training range.

Loss: MSE on the model's scaled level, or the pinball loss when the model has ``quantiles`` (the point
forecast is then the quantile nearest 0.5). MASE divides by the in-sample (train+val) seasonal-naive MAE
with period ``season``; MAPE leaves out zero targets. The report also writes ``forecast.csv`` (per test step:
its origin, the truth, the model's and the baselines' forecasts) and ``forecast.png`` into the run folder.
"""

from rnnkit.tasks.forecasting.baseline import HoltWinters
from rnnkit.tasks.forecasting.data import ForecastingData, load_series
from rnnkit.tasks.forecasting.task import ForecastingTask

__all__ = ["ForecastingData", "ForecastingTask", "HoltWinters", "load_series"]
