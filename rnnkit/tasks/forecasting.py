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

from __future__ import annotations

from dataclasses import dataclass
from itertools import product
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
from torch import Tensor, nn
from torch.utils.data import DataLoader, Dataset

from rnnkit.config import ConfigError
from rnnkit.data.records import TimeSeries
from rnnkit.losses import masked_mse, quantile_loss
from rnnkit.metrics import mae, mape, mase, rmse, seasonal_naive_forecast
from rnnkit.models.forecaster import Forecaster, ForecasterConfig
from rnnkit.tasks.base import InputError, Task, register_task


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


# ----- Holt-Winters ---------------------------------------------------------------------------------------
ALPHAS = (0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.99)
BETAS = (0.0, 0.01, 0.03, 0.05, 0.1, 0.2, 0.3)
GAMMAS = (0.0, 0.05, 0.1, 0.2, 0.3, 0.5, 0.7, 0.9)


def _smooth(y: np.ndarray, season: int, kind: str, params: np.ndarray, origins=(), horizon: int = 1):
    """Run G parameter sets ``params (G, 3)`` over ``y`` at once: ``(one-step MSE (G,), forecasts
    (G, len(origins), horizon))``, the forecast from origin o using ``y[:o]`` only."""
    alpha, beta, gamma = (params[:, k : k + 1] for k in range(3))  # (G, 1)
    mult, m = kind == "multiplicative", season
    level0 = y[:m].mean()
    trend0 = (y[m : 2 * m].mean() - level0) / m if m > 1 else y[1] - y[0]
    level, trend = np.full_like(alpha, level0), np.full_like(alpha, trend0)  # (G, 1)
    first = (y[:m] / level0 if mult else y[:m] - level0) if m > 1 else np.zeros(1)
    seas = np.tile(first, (len(params), 1))  # (G, m): slot j holds the latest s_t with t % m == j
    sse, steps, wanted = (
        np.zeros(len(params)),
        np.arange(1, horizon + 1),
        {o: k for k, o in enumerate(origins)},
    )
    out = np.empty((len(params), len(origins), horizon))
    with np.errstate(all="ignore"):
        for t in range(len(y) + 1):
            if t in wanted:  # ŷ_{t-1+h} = ℓ + h·b (+ or ×) s_{t-1+h-m}
                base, s = level + trend * steps, seas[:, (t - 1 + steps) % m]
                out[:, wanted[t]] = base * s if mult else base + s
            if t == len(y):
                break
            j = t % m
            pred = (level + trend)[:, 0] * seas[:, j] if mult else (level + trend)[:, 0] + seas[:, j]
            if t >= max(m, 2 if m == 1 else 0):  # the start values were fitted to the first season
                sse += (y[t] - pred) ** 2
            deseasoned = y[t] / seas[:, j : j + 1] if mult else y[t] - seas[:, j : j + 1]
            new = alpha * deseasoned + (1 - alpha) * (level + trend)
            trend = beta * (new - level) + (1 - beta) * trend
            seas[:, j] = (gamma * (y[t] / new if mult else y[t] - new) + (1 - gamma) * seas[:, j : j + 1])[
                :, 0
            ]
            level = new
    mse = sse / max(1, len(y) - max(m, 2))
    return np.where(np.isfinite(mse), mse, np.inf), out


@dataclass(frozen=True)
class HoltWinters:
    r"""Holt-Winters exponential smoothing, additive trend, additive or multiplicative seasonality (period m):

        ℓ_t = α (y_t - s_{t-m}) + (1 - α)(ℓ_{t-1} + b_{t-1})        (multiplicative: y_t / s_{t-m})
        b_t = β (ℓ_t - ℓ_{t-1}) + (1 - β) b_{t-1}
        s_t = γ (y_t - ℓ_t) + (1 - γ) s_{t-m}                        (multiplicative: y_t / ℓ_t)
        ŷ_{t+h} = ℓ_t + h b_t + s_{t+h-m}                            (multiplicative: (ℓ_t + h b_t) · s)

    Start: ℓ = the first season's mean, b = (2nd season's mean - 1st's) / m, s = the first season less
    (over) ℓ. With m = 1, or fewer than two seasons of data, Holt's linear trend (no seasonal term).
    :meth:`fit` picks (α, β, γ) from a small grid by the one-step in-sample MSE (``mse``).

    Example:
        >>> t = np.arange(96)
        >>> y = 100 + t + 10 * np.sin(2 * np.pi * t / 12)
        >>> hw = HoltWinters.fit(y[:72], season=12)
        >>> err = np.abs(hw.forecast(y, origins=[72, 84], horizon=12) - y[72:].reshape(2, 12)).max()
        >>> hw.seasonality, bool(err < 1.0)
        ('additive', True)
    """

    alpha: float
    beta: float
    gamma: float
    season: int
    seasonality: Literal["additive", "multiplicative", "none"]
    mse: float

    @classmethod
    def fit(cls, y: Any, season: int, seasonality: str = "auto") -> HoltWinters:
        """Grid-search the smoothing parameters on ``y`` (the training values only)."""
        y = np.asarray(y, dtype=np.float64)
        if len(y) < 3:
            raise ValueError(f"HoltWinters.fit needs at least 3 values, got {len(y)}")
        if season == 1 or len(y) < 2 * season:
            kinds, season = ["none"], 1
        elif seasonality == "auto":
            kinds = ["additive", "multiplicative"] if (y > 0).all() else ["additive"]
        else:
            kinds = [seasonality]
        best = None
        for kind in kinds:
            gammas = (0.0,) if kind == "none" else GAMMAS
            grid = np.array(list(product(ALPHAS, BETAS, gammas)))
            mse, _ = _smooth(y, season, kind, grid)
            k = int(mse.argmin())
            if best is None or mse[k] < best.mse:
                best = cls(*(float(v) for v in grid[k]), season, kind, float(mse[k]))
        return best

    def forecast(self, y: Any, origins: list[int], horizon: int) -> np.ndarray:
        """Forecasts ``(len(origins), horizon)``: from each origin o, the ``horizon`` values after ``y[:o]``
        (``y`` starts where the fitted series started; only values before each origin are used)."""
        params = np.array([[self.alpha, self.beta, self.gamma]])
        kind = "additive" if self.seasonality == "none" else self.seasonality
        return _smooth(np.asarray(y, dtype=np.float64), self.season, kind, params, origins, horizon)[1][0]

    def describe(self) -> str:
        name = "Holt (trend only)" if self.seasonality == "none" else f"Holt-Winters {self.seasonality}"
        return f"{name}, m={self.season}, alpha={self.alpha:g}, beta={self.beta:g}, gamma={self.gamma:g}"


# ----- the task -------------------------------------------------------------------------------------------
class _Windows(Dataset):
    def __init__(self, inputs: np.ndarray, targets: np.ndarray) -> None:
        self.inputs = torch.as_tensor(inputs, dtype=torch.float32).unsqueeze(-1)  # (W, T, 1)
        self.targets = torch.as_tensor(targets, dtype=torch.float32).unsqueeze(-1)  # (W, H, 1)

    def __len__(self) -> int:
        return len(self.inputs)

    def __getitem__(self, index: int) -> dict[str, Tensor]:
        return {"history": self.inputs[index], "targets": self.targets[index]}


def _scores(actual: np.ndarray, forecast: np.ndarray, in_sample: np.ndarray, season: int) -> dict[str, float]:
    return {
        "test_mae": mae(actual, forecast),
        "test_rmse": rmse(actual, forecast),
        "test_mape": mape(actual, forecast, zeros="skip"),
        "test_mase": mase(actual, forecast, in_sample, season),
    }


@register_task
class ForecastingTask(Task):
    """Forecast ``horizon`` steps of one series from its last ``history`` values (see the module docstring).

    The model section is a :class:`ForecasterConfig` without ``num_series`` and ``horizon`` (from the data);
    the scaler is fitted on the training part. Predict inputs are comma-separated histories (at least
    ``history`` values; the last ``history`` are used), e.g. ``"112, 118, 132, ..."``.
    """

    name = "forecasting"
    data_config = ForecastingData

    # ----- data ---------------------------------------------------------------------------------------
    def _load(self) -> None:
        if hasattr(self, "series"):
            return
        d = self.data
        self.series = load_series(d)
        self.values = self.series.values[:, 0].astype(np.float64)  # raw
        self.level = np.log(self.values) if d.log_transform else self.values  # what the model sees
        total = len(self.values)
        self.n_train, self.n_fit = total - d.val_size - d.test_size, total - d.test_size
        need = d.history + d.horizon
        if self.n_train < max(need, d.season + 1):
            raise ValueError(
                f"data: {total} points leave {self.n_train} for training after val_size {d.val_size} and "
                f"test_size {d.test_size}; need at least history + horizon = {need} and season + 1 = "
                f"{d.season + 1}"
            )

    def prepare(self, run_dir: Path) -> None:
        self._load()
        self.save_state(run_dir)

    def state(self) -> dict[str, Any]:
        times = self.series.times
        return {
            "column": self.series.columns[0],
            "train": [times[0], times[self.n_train - 1]],
            "test": [times[self.n_fit], times[-1]],
            "sizes": {
                "train": self.n_train,
                "val": self.n_fit - self.n_train,
                "test": len(times) - self.n_fit,
            },
        }

    def restore(self, state: dict[str, Any]) -> None:
        self.saved_state = dict(state)

    def _windows(self, start: int, stop: int, stride: int) -> _Windows | None:
        """Windows whose targets lie in ``[start, stop)``, inputs reaching back before ``start``."""
        d = self.data
        low = start - d.history if start else 0  # held-out windows see the values before their part
        part = TimeSeries(self.series.times[low:stop], self.level[low:stop], ["y"])
        if len(part) < d.history + d.horizon:
            return None
        inputs, targets = part.windows(d.history, d.horizon, stride)
        return _Windows(inputs[..., 0], targets[..., 0])

    def loaders(self) -> tuple[Any, Any, Any]:
        self._load()
        size = self.train.batch_size
        train = DataLoader(self._windows(0, self.n_train, self.data.stride), size, shuffle=True)
        held_out = [
            self._windows(a, b, 1) for a, b in ((self.n_train, self.n_fit), (self.n_fit, len(self.values)))
        ]
        val, test = (None if w is None else DataLoader(w, size) for w in held_out)
        return train, val, test

    def _raw(self, level: np.ndarray | Tensor) -> np.ndarray:
        level = level.detach().double().cpu().numpy() if isinstance(level, Tensor) else level
        return np.exp(level) if self.data.log_transform else level

    # ----- model --------------------------------------------------------------------------------------
    model_config_class = ForecasterConfig
    DERIVED = ("num_series", "horizon")

    @classmethod
    def placeholder_sizes(cls, data: Any) -> dict[str, Any]:
        return {"num_series": 1, "horizon": data.horizon}

    @classmethod
    def check_model_section(cls, options: dict[str, Any], data: Any, where: str = "model") -> Any:
        if options.get("num_covariates", 0) != 0:
            raise ConfigError(f"{where}.num_covariates: must be 0 (this task has no covariates)")
        return super().check_model_section(options, data, where)

    def model_config(self) -> ForecasterConfig:
        self.check_model_section(self.model_options, self.data, f"{self.where}: model")
        return self.build_model_config({"num_series": 1, "horizon": self.data.horizon})

    def build_model(self) -> nn.Module:
        self._load()
        model = Forecaster(self.model_config())
        if self.data.window_level == "none":
            fit_on = torch.as_tensor(self.level[: self.n_train], dtype=torch.float32)[:, None]
        else:  # the values the model will see: each training window relative to its own level
            windows = self._windows(0, self.n_train, self.data.stride)
            offset = self._offset(windows.inputs)
            fit_on = torch.cat([windows.inputs - offset, windows.targets - offset], dim=1).reshape(-1, 1)
        return model.fit_scaler(fit_on)

    def _offset(self, history: Tensor) -> Tensor:
        """``(B, 1, 1)``: what ``window_level`` subtracts from a window and adds back to its forecast."""
        if self.data.window_level == "last":
            return history[:, -1:]
        if self.data.window_level == "mean":
            return history.mean(dim=1, keepdim=True)
        return torch.zeros_like(history[:, :1])

    def _relative_forecast(
        self, model: Forecaster, history: Tensor, teacher: Tensor | None = None
    ) -> tuple[Tensor, Tensor]:
        """The model's forecast relative to each window's offset, and the offsets ``(B, 1, 1)``."""
        offset = self._offset(history)
        return model(history - offset, targets=None if teacher is None else teacher - offset), offset

    @staticmethod
    def _loss(model: Forecaster, forecast: Tensor, targets: Tensor) -> Tensor:
        scaled = model.scaler.transform(targets)  # on the scaled level, as the model works
        if model.config.quantiles is None:
            return masked_mse(model.scaler.transform(forecast), scaled)
        return quantile_loss(model.scaler.transform(forecast, feature_dim=-2), scaled, model.config.quantiles)

    def compute_loss(self, model: nn.Module, batch: dict[str, Tensor]) -> Tensor:
        teacher = batch["targets"] if model.config.mode == "autoregressive" else None  # DeepAR-style
        forecast, offset = self._relative_forecast(model, batch["history"], teacher)
        return self._loss(model, forecast, batch["targets"] - offset)

    @staticmethod
    def _point(model: Forecaster, forecast: Tensor) -> Tensor:
        return forecast if model.config.quantiles is None else forecast[..., model.center]

    def evaluate(self, model: nn.Module, loader: Any) -> dict[str, float]:
        total, count, truth, guess = 0.0, 0, [], []
        for batch in loader:
            forecast, offset = self._relative_forecast(model, batch["history"])
            total += self._loss(model, forecast, batch["targets"] - offset).item() * len(forecast)
            count += len(forecast)
            truth.append(self._raw(batch["targets"][..., 0]))
            guess.append(self._raw((self._point(model, forecast) + offset)[..., 0]))
        truth, guess = np.concatenate(truth), np.concatenate(guess)
        return {
            "val_loss": total / max(count, 1),
            "val_mae": mae(truth, guess),
            "val_rmse": rmse(truth, guess),
        }

    @torch.no_grad()
    def _forecast(self, model: nn.Module, windows: np.ndarray) -> np.ndarray:
        """Raw forecasts ``(W, H)`` or ``(W, H, Q)`` from level windows ``(W, history)``."""
        model.eval()
        history = torch.as_tensor(windows, dtype=torch.float32, device=self.device).unsqueeze(-1)
        forecast, offset = self._relative_forecast(model, history)  # (W, H, 1) or (W, H, 1, Q)
        if model.config.quantiles is not None:
            offset = offset.unsqueeze(-1)
        return self._raw((forecast + offset)[:, :, 0])

    def _test_forecasts(self, model: nn.Module) -> dict[str, Any]:
        """The test forecasts of the model and the baselines, block by block from each origin."""
        self._load()
        d, values = self.data, self.values
        origins = list(range(self.n_fit, len(values), d.horizon))
        actual = values[self.n_fit :]

        def joined(blocks: np.ndarray) -> np.ndarray:  # (O, H, ...) -> (test_size, ...)
            return blocks.reshape(-1, *blocks.shape[2:])[: len(actual)]

        model_all = joined(self._forecast(model, np.stack([self.level[o - d.history : o] for o in origins])))
        quantiles = model.config.quantiles
        naive = joined(np.stack([seasonal_naive_forecast(values[:o], d.horizon, d.season) for o in origins]))
        hw = HoltWinters.fit(values[: self.n_train], d.season, d.baseline_seasonality)
        return {
            "origins": origins,
            "actual": actual,
            "in_sample": values[: self.n_fit],
            "model_all": model_all,
            "model_point": model_all if quantiles is None else model_all[:, model.center],
            "quantiles": quantiles,
            "naive": naive,
            "holt_winters": hw,
            "smoothed": joined(hw.forecast(values, origins, d.horizon)),
        }

    def report(self, model: nn.Module) -> dict[str, Any]:
        f = self._test_forecasts(model)
        d, values, origins, actual, in_sample = (
            self.data,
            self.values,
            f["origins"],
            f["actual"],
            f["in_sample"],
        )
        model_all, model_point, quantiles = f["model_all"], f["model_point"], f["quantiles"]
        results: dict[str, Any] = _scores(actual, model_point, in_sample, d.season)
        if quantiles is not None:
            inside = (model_all[:, 0] <= actual) & (actual <= model_all[:, -1])
            results["test_interval"] = {
                "quantiles": [quantiles[0], quantiles[-1]],
                "coverage": float(inside.mean()),
            }
        naive_name = "seasonal naive" if d.season > 1 else "naive (last value)"
        results["baseline"] = {
            "name": f"{naive_name}, m={d.season}",
            **_scores(actual, f["naive"], in_sample, d.season),
        }
        results["baselines"] = {
            "seasonal_naive": results["baseline"],
            "holt_winters": {
                "name": f["holt_winters"].describe(),
                **_scores(actual, f["smoothed"], in_sample, d.season),
            },
        }
        times = self.series.times
        results["sizes"] = {
            **self.state()["sizes"],
            "train_windows": len(self._windows(0, self.n_train, d.stride)),
        }
        results["forecast"] = {
            "file": "forecast.csv",
            "origins": len(origins),
            "first_origin": times[self.n_fit - 1],
            "horizon": d.horizon,
        }
        shown = origins[:3]
        samples = self.predict(
            model, [",".join(f"{v:.9g}" for v in values[o - d.history : o]) for o in shown]
        )
        results["samples"] = [
            {"origin": times[o - 1], **s, "true": _rounded(values[o : o + d.horizon])}
            for o, s in zip(shown, samples)
        ]
        return results

    def write_artifacts(self, model: nn.Module, folder: Path, results: dict[str, Any]) -> list[Path]:
        """``forecast.csv`` (every test step: actual, forecast, quantiles, baselines) and ``forecast.png``."""
        from rnnkit.plots.charts import plot_forecast

        f = self._test_forecasts(model)
        d, times, origins, actual = self.data, self.series.times, f["origins"], f["actual"]
        columns = {"actual": actual, "forecast": f["model_point"]}
        if f["quantiles"] is not None:
            columns.update({f"q{q:g}": f["model_all"][:, k] for k, q in enumerate(f["quantiles"])})
        columns.update({"seasonal_naive": f["naive"], "holt_winters": f["smoothed"]})
        origin_of = [times[o - 1] for o in origins for _ in range(d.horizon)][: len(actual)]
        _write_forecast(folder / "forecast.csv", times[self.n_fit :], origin_of, columns)
        tail = min(self.n_fit, max(3 * len(actual), 2 * d.season, d.history))
        blocks = f"{len(origins)} x {d.horizon}-step" if len(origins) > 1 else f"{d.horizon}-step"
        mase_text = f"MASE {results['test_mase']:.3f} (seasonal naive {results['baseline']['test_mase']:.3f})"
        plot_forecast(f["in_sample"][-tail:], actual, f["model_all"], folder / "forecast.png", f["quantiles"],
                      title=f"{self.series.columns[0]}: {blocks} test forecast, {mase_text}")  # fmt: skip
        return [folder / "forecast.csv", folder / "forecast.png"]

    def predict(self, model: nn.Module, inputs: list[str]) -> list[dict[str, Any]]:
        d, windows, counts = self.data, [], []
        for number, text in enumerate(inputs, 1):
            values = _parse_history(text, number)
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
        if not windows:
            return []
        forecast = self._forecast(model, np.stack(windows))
        quantiles = model.config.quantiles
        results = []
        for count, f in zip(counts, forecast):
            point = f if quantiles is None else f[:, model.center]
            result: dict[str, Any] = {"history": count, "forecast": _rounded(point)}
            if quantiles is not None:
                result["quantiles"] = {f"{q:g}": _rounded(f[:, k]) for k, q in enumerate(quantiles)}
            results.append(result)
        return results


def _write_forecast(path: Path, times: list[str], origins: list[str], columns: dict[str, np.ndarray]) -> None:
    """One row per test step: its time, the origin it was forecast from, the truth and every forecast."""
    import csv
    import io

    from rnnkit.config import atomic_write_text

    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(["time", "origin", *columns])
    for row, (time, origin) in enumerate(zip(times, origins)):
        writer.writerow([time, origin, *(f"{float(v[row]):.6g}" for v in columns.values())])
    atomic_write_text(path, text.getvalue())


def _rounded(values: np.ndarray) -> list[float]:
    return [round(float(v), 4) for v in values]


def _parse_history(text: str, number: int) -> np.ndarray:
    """``"1, 2.5,3"`` -> ``[1.0, 2.5, 3.0]``; errors name the input's number and the bad field."""
    values = []
    for field in text.split(","):
        try:
            values.append(float(field))
        except ValueError:
            raise InputError(number, f"expected comma-separated numbers, got {field.strip()!r}") from None
    return np.array(values, dtype=np.float64)
