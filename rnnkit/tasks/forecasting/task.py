"""Forecasting: the Task: windows, model, loss, metrics, artefacts and prediction."""

from __future__ import annotations

from pathlib import Path
from typing import Any

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
from rnnkit.tasks.forecasting.baseline import HoltWinters
from rnnkit.tasks.forecasting.data import ForecastingData, load_series


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
