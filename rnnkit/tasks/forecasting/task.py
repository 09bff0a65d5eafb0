"""Forecasting: the Task: windows, model, loss, validation metrics and prediction (the test report is in
:mod:`rnnkit.tasks.forecasting.report`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn
from torch.utils.data import DataLoader

from rnnkit.losses import masked_mse, quantile_loss
from rnnkit.metrics import mae, rmse
from rnnkit.models.forecaster import Forecaster, ForecasterConfig
from rnnkit.models.modes import eval_mode
from rnnkit.tasks.base import InputError, Task, register_task
from rnnkit.tasks.forecasting.covariates import CovariateEncoder
from rnnkit.tasks.forecasting.data import ForecastingData, load_split_series
from rnnkit.tasks.forecasting.panel import Series, Windows, fill_rule, level_of, standardiser, window_items
from rnnkit.tasks.forecasting.report import ReportMethods
from rnnkit.tasks.forecasting.tables import SeriesFrame

MODEL_INPUTS = ("past_covariates", "future_covariates", "past_only_covariates")


@register_task
class ForecastingTask(ReportMethods, Task):
    """Forecast ``horizon`` steps of each series from its last ``history`` values and covariates (see the
    package docstring).

    The model section is a :class:`ForecasterConfig` without the sizes the data decide (``num_series``,
    ``horizon``, the covariate counts and category sizes); the scalers are fitted on the training part.
    Predict inputs (:meth:`predict`) are comma-separated histories (``"112, 118, 132, ..."``, runs without
    covariates or ``series_column``), or the path of a table in the training columns.
    """

    name = "forecasting"
    data_config = ForecastingData

    # ----- data ---------------------------------------------------------------------------------------
    @property
    def several(self) -> bool:
        """Whether the run forecasts the series of a ``series_column`` (each scaled on its own)."""
        return self.data.series_column is not None

    def _encoder(self) -> CovariateEncoder:
        if not hasattr(self, "encoder"):  # a restored run: the vocabularies saved with it
            categories = getattr(self, "saved_state", {}).get("categories", {})
            self.encoder = CovariateEncoder(self.data.covariates, categories)
        return self.encoder

    def _load(self) -> None:
        if hasattr(self, "series"):
            return
        parts = load_split_series(self.data, self.where)
        self._column = parts[0].frame.column
        saved = getattr(self, "saved_state", {})
        if "categories" in saved or not self.data.covariates.categorical:
            self._encoder()
        else:
            self.encoder = CovariateEncoder.fit(
                self.data.covariates, [p.frame.cut(0, p.n_train) for p in parts]
            )
        scalings = saved.get("series_scaling", {})
        self.series = [
            self.prepare_series(p.frame, p.n_train, p.n_fit, scalings.get(p.frame.name)) for p in parts
        ]

    def prepare_series(
        self, frame: SeriesFrame, n_train: int, n_fit: int, scaling: list[float] | None = None
    ) -> Series:
        """A frame as the model sees it (:mod:`rnnkit.tasks.forecasting.panel`); ``scaling`` is the series'
        saved ``(shift, scale)`` (None: from its training part ``[0, n_train)``)."""
        d = self.data
        raw = frame.values
        present = ~np.isnan(raw)
        if d.log_transform and not (raw[present] > 0).all():
            low = int(np.nanargmin(raw))
            raise ValueError(
                f"data.log_transform needs values > 0, but {frame.name!r} is {raw[low]:g} at "
                f"{frame.times[low]} ({frame.rows[low]}); set log_transform: false"
            )
        filled, level = level_of(raw, d.missing, d.log_transform)
        shift, scale = 0.0, 1.0
        if self.several:
            shift, scale = (
                scaling if scaling is not None else standardiser(level[:n_train][present[:n_train]])
            )
            level = (level - shift) / scale
        past, known = self._encoder().encode(frame, fill_rule(d.missing))
        observed = present if d.missing == "mask" else np.ones(len(raw), dtype=bool)
        shown = raw if d.missing == "mask" else filled
        return Series(frame.name, frame.times, shown, filled, level, observed, past, known, shift, scale,
                      n_train, n_fit, frame.rows)  # fmt: skip

    def prepare(self, run_dir: Path) -> None:
        self._load()
        self.save_state(run_dir)

    def state(self) -> dict[str, Any]:
        first = self.series[0]
        tested = next((s for s in self.series if s.n_fit < len(s)), first)
        sizes = {
            "train": sum(s.n_train for s in self.series),
            "val": sum(s.n_fit - s.n_train for s in self.series),
            "test": sum(len(s) - s.n_fit for s in self.series),
        }
        state: dict[str, Any] = {
            "column": self.value_column,
            "train": [first.times[0], first.times[first.n_train - 1]],
            "test": [tested.times[min(tested.n_fit, len(tested) - 1)], tested.times[-1]],
            "sizes": sizes,
        }
        if self.several:
            sizes["series"] = len(self.series)
            state["series_scaling"] = {s.name: [s.shift, s.scale] for s in self.series}
        if self.data.covariates.columns:
            encoder = self._encoder()
            state["covariates"] = {
                "past_only": encoder.columns("past"),
                "known_future": encoder.columns("future"),
            }
            if self.data.covariates.categorical:
                state.update(encoder.state())
        return state

    @property
    def value_column(self) -> str:
        """The name of the forecast column (of the first series read, or saved with the run)."""
        if hasattr(self, "_column"):
            return self._column
        return getattr(self, "saved_state", {}).get("column", self.data.value_column or "value")

    def restore(self, state: dict[str, Any]) -> None:
        self.saved_state = dict(state)

    def _windows(self, part: str, stride: int = 1) -> Windows | None:
        """Windows whose targets lie in ``part`` of every series, inputs reaching back before it."""
        d = self.data
        items = window_items(
            self.series, part, d.history, d.horizon, stride, d.missing == "mask", self.several
        )
        return None if items is None else Windows(items)

    def loaders(self) -> tuple[Any, Any, Any]:
        self._load()
        size = self.train.batch_size
        windows = self._windows("train", self.data.stride)
        if windows is None:
            raise ValueError("data: no training window has an observed target; fewer missing values needed")
        train = DataLoader(windows, size, shuffle=True)
        val, test = (
            None if w is None else DataLoader(w, size) for w in (self._windows("val"), self._windows("test"))
        )
        return train, val, test

    # ----- model --------------------------------------------------------------------------------------
    model_config_class = ForecasterConfig
    DERIVED = ("num_series", "horizon", "num_covariates", "num_past_only_covariates", "known_categories",
               "past_only_categories")  # fmt: skip

    @classmethod
    def expand_model_section(cls, options: dict[str, Any], where: str = "model") -> dict[str, Any]:
        options = dict(options)
        if options.get("num_covariates") == 0:  # older configs said "no covariates" so
            options.pop("num_covariates")
        return super().expand_model_section(options, where)

    @classmethod
    def placeholder_sizes(cls, data: Any) -> dict[str, Any]:
        cov, sizes = data.covariates, {"num_series": 1, "horizon": data.horizon}
        for stream, count, categories in (("past", "num_past_only_covariates", "past_only_categories"),
                                          ("future", "num_covariates", "known_categories")):  # fmt: skip
            columns = getattr(cov, stream)
            embedded = [c for c in columns if c in cov.categorical] if cov.encoding == "embedding" else []
            sizes[count], sizes[categories] = len(columns), (2,) * len(embedded)
        return sizes

    def model_config(self) -> ForecasterConfig:
        self.check_model_section(self.model_options, self.data, f"{self.where}: model")
        encoder = self._encoder()
        return self.build_model_config(
            {
                "num_series": 1,
                "horizon": self.data.horizon,
                "num_covariates": len(encoder.columns("future")),
                "known_categories": encoder.categories("future"),
                "num_past_only_covariates": len(encoder.columns("past")),
                "past_only_categories": encoder.categories("past"),
            }
        )

    def build_model(self) -> nn.Module:
        self._load()
        model = Forecaster(self.model_config())
        train = self.series
        if self.data.window_level == "none":  # the training part's levels, observed ones only
            levels = [np.where(s.observed[: s.n_train], s.level[: s.n_train], np.nan) for s in train]
            fit_on = torch.as_tensor(np.concatenate(levels), dtype=torch.float32)[:, None]
        else:  # the values the model will see: each training window relative to its own level
            windows = self._windows("train", self.data.stride)
            offset = self._offset(windows.inputs)
            fit_on = torch.cat([windows.inputs - offset, windows.targets - offset], dim=1).reshape(-1, 1)
        covariates = {}
        for name, attr in (("covariates", "known"), ("past_only_covariates", "past")):
            if getattr(train[0], attr) is not None:
                parts = np.concatenate([getattr(s, attr)[: s.n_train] for s in train])
                covariates[name] = torch.as_tensor(parts, dtype=torch.float32)
        return model.fit_scaler(fit_on, **covariates)

    def _offset(self, history: Tensor) -> Tensor:
        """``(B, 1, 1)``: what ``window_level`` subtracts from a window and adds back to its forecast."""
        if self.data.window_level == "last":
            return history[:, -1:]
        if self.data.window_level == "mean":
            return history.mean(dim=1, keepdim=True)
        return torch.zeros_like(history[:, :1])

    def _relative_forecast(
        self, model: Forecaster, batch: dict[str, Tensor], teacher: Tensor | None = None
    ) -> tuple[Tensor, Tensor]:
        """The model's forecast relative to each window's offset, and the offsets ``(B, 1, 1)``."""
        history = batch["history"]
        offset = self._offset(history)
        extras = {name: batch[name] for name in MODEL_INPUTS if name in batch}
        targets = None if teacher is None else teacher - offset
        return model(history - offset, targets=targets, **extras), offset

    @staticmethod
    def _loss(model: Forecaster, forecast: Tensor, targets: Tensor, observed: Tensor | None = None) -> Tensor:
        scaled = model.scaler.transform(targets)  # on the scaled level, as the model works
        quantiles = model.config.quantiles
        guess = (
            model.scaler.transform(forecast) if quantiles is None else model.scaler.transform(forecast, -2)
        )
        if observed is not None:  # missing targets (data.missing: mask) count nowhere
            guess, scaled = guess[observed], scaled[observed]
        return masked_mse(guess, scaled) if quantiles is None else quantile_loss(guess, scaled, quantiles)

    def compute_loss(self, model: nn.Module, batch: dict[str, Tensor]) -> Tensor:
        teacher = batch["targets"] if model.config.mode == "autoregressive" else None  # DeepAR-style
        forecast, offset = self._relative_forecast(model, batch, teacher)
        return self._loss(model, forecast, batch["targets"] - offset, batch.get("observed"))

    @staticmethod
    def _point(model: Forecaster, forecast: Tensor) -> Tensor:
        return forecast if model.config.quantiles is None else forecast[..., model.center]

    def _scalings(self, index: Any) -> tuple[np.ndarray, np.ndarray]:
        """``(shift, scale)`` per window of the series ``index`` (``(W,)``); None: no per-series scaling."""
        if index is None:
            return np.zeros(1), np.ones(1)
        index = np.asarray(index.cpu() if isinstance(index, Tensor) else index)
        return (
            np.array([self.series[k].shift for k in index]),
            np.array([self.series[k].scale for k in index]),
        )

    def to_raw(self, level: np.ndarray | Tensor, shift: np.ndarray, scale: np.ndarray) -> np.ndarray:
        """Model levels ``(W, H, ...)`` back to raw values, each window by its series' shift and scale."""
        level = level.detach().double().cpu().numpy() if isinstance(level, Tensor) else level
        if self.several:
            view = (-1,) + (1,) * (level.ndim - 1)
            level = level * scale.reshape(view) + shift.reshape(view)
        return np.exp(level) if self.data.log_transform else level

    def evaluate(self, model: nn.Module, loader: Any) -> dict[str, float]:
        return self.merge_evaluation([self.evaluate_batch(model, batch) for batch in loader])

    def evaluate_batch(self, model: nn.Module, batch: dict[str, Tensor]) -> tuple:
        """(summed loss, windows, raw targets, raw point forecasts) of one batch, observed steps only."""
        forecast, offset = self._relative_forecast(model, batch)
        observed = batch.get("observed")
        loss = self._loss(model, forecast, batch["targets"] - offset, observed).item() * len(forecast)
        shift, scale = self._scalings(batch.get("series"))
        full = np.ones(batch["targets"].shape[:2], bool)
        seen = full if observed is None else observed[..., 0].cpu().numpy()
        truth = self.to_raw(batch["targets"][..., 0], shift, scale)[seen]
        guess = self.to_raw((self._point(model, forecast) + offset)[..., 0], shift, scale)[seen]
        return loss, len(forecast), truth, guess

    def merge_evaluation(self, records: list[tuple]) -> dict[str, float]:
        """The metrics of :meth:`evaluate` from the records of its batches (in any sharding)."""
        total = sum(record[0] for record in records)
        count = sum(record[1] for record in records)
        truth = np.concatenate([record[2] for record in records])
        guess = np.concatenate([record[3] for record in records])
        return {
            "val_loss": total / max(count, 1),
            "val_mae": mae(truth, guess),
            "val_rmse": rmse(truth, guess),
        }

    @torch.no_grad()
    def forecast_items(
        self, model: nn.Module, items: dict[str, np.ndarray], shift=None, scale=None
    ) -> np.ndarray:
        """Raw forecasts ``(W, H)`` or ``(W, H, Q)`` from window items (levels and covariates, no targets);
        ``shift`` / ``scale`` per window (default: by ``items["series"]``)."""
        eval_mode(model)
        batch = {
            name: torch.as_tensor(items[name], dtype=torch.float32, device=self.device)
            for name in ("history", *MODEL_INPUTS)
            if name in items
        }
        batch["history"] = batch["history"].unsqueeze(-1)  # (W, T, 1)
        forecast, offset = self._relative_forecast(model, batch)  # (W, H, 1) or (W, H, 1, Q)
        if model.config.quantiles is not None:
            offset = offset.unsqueeze(-1)
        if shift is None:
            shift, scale = self._scalings(items.get("series"))
        return self.to_raw((forecast + offset)[:, :, 0], shift, scale)

    @torch.no_grad()
    def inspection_example(
        self, model: nn.Module, text: str
    ) -> tuple[dict[str, Tensor], dict[str, list[str]], str]:
        """A comma-separated history (as :meth:`predict` takes it; its last ``data.history`` values) as a
        batch of one, with the model's own point forecast as its targets; the encoder's steps are labelled
        by their raw values.

        Raises:
            ValueError: not a history of enough finite numbers, or a run that reads tables (covariates or
                several series: inspect those with ``rnnkit report RUN``).
        """
        from rnnkit.tasks.forecasting.inputs import history_windows

        eval_mode(model)
        try:
            windows, _ = history_windows(self, [(1, text)])
        except InputError as error:
            raise ValueError(str(error)) from None
        device = next(model.parameters()).device
        batch = {"history": torch.as_tensor(windows, dtype=torch.float32, device=device).unsqueeze(-1)}
        forecast, offset = self._relative_forecast(model, batch)
        batch["targets"] = self._point(model, forecast) + offset  # (1, H, 1): the model's own forecast
        raw = self.to_raw(batch["targets"][..., 0], np.zeros(1), np.ones(1))[0]
        history = self.to_raw(windows, np.zeros(1), np.ones(1))[0]
        shown = ", ".join(f"{v:.4g}" for v in raw[:6]) + (", ..." if len(raw) > 6 else "")
        return batch, {"rnn": [f"{v:.4g}" for v in history]}, f"forecast of the next {len(raw)}: {shown}"

    def predict(self, model: nn.Module, inputs: list[str]) -> list[dict[str, Any]]:
        """One result per input: ``{"history", "forecast", ["quantiles"]}`` for a comma-separated history;
        for a table (a path), ``{"input", "forecasts": [...]}`` with one such result per series (and its
        ``series``, ``origin`` and the ``times`` of the forecast steps). See
        :mod:`rnnkit.tasks.forecasting.inputs` for what a table holds."""
        from rnnkit.tasks.forecasting.inputs import predict_inputs

        return predict_inputs(self, model, inputs)
