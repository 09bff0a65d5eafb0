"""Forecasting: the test report. The model and the baselines forecast the same blocks from the same origins
of every series; the scores pool the test points of all series (MASE: the mean of each series' own).

Blocks: from each origin ``o = n_fit, n_fit + H, ...`` the next H steps, forecast from the true values up to
``o`` (a rolling origin). When the model reads known-future covariates and the last block would run past
the end of a series (whose covariates are not given there), that block's origin moves back to ``len - H``
and only its steps not forecast yet are kept.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from torch import nn

from rnnkit.metrics import mae, mape, mase, rmse, seasonal_naive_forecast
from rnnkit.tasks.forecasting.baseline import HoltWinters, RidgeBaseline
from rnnkit.tasks.forecasting.panel import gather, window_items

BASELINES = ("seasonal_naive", "holt_winters", "ridge")


def _scores(parts: list[dict[str, np.ndarray]], key: str, season: int) -> dict[str, float]:
    """Test scores of forecast ``key`` pooled over the series' observed test points; MASE per series, then
    their mean (one series: its MASE)."""
    actual = np.concatenate([p["actual"][p["observed"]] for p in parts])
    guess = np.concatenate([p[key][p["observed"]] for p in parts])
    scaled = [mase(p["actual"][p["observed"]], p[key][p["observed"]], p["in_sample"], season) for p in parts]
    return {
        "test_mae": mae(actual, guess),
        "test_rmse": rmse(actual, guess),
        "test_mape": mape(actual, guess, zeros="skip"),
        "test_mase": float(np.mean(scaled)),
    }


def _rounded(values: np.ndarray) -> list[float | None]:
    """Values for JSON: 4 decimals, None where missing (JSON has no NaN)."""
    return [None if np.isnan(v) else round(float(v), 4) for v in values]


class ReportMethods:
    """The report, the artefacts and the test forecasts of :class:`ForecastingTask` (a mixin)."""

    def _blocks(self) -> list[tuple[int, int, int]]:
        """``(series, first step forecast, first step kept)`` of every test block (module docstring)."""
        horizon, blocks = self.data.horizon, []
        for k, s in enumerate(self.series):
            for origin in range(s.n_fit, len(s), horizon):
                start = len(s) - horizon if s.known is not None and origin + horizon > len(s) else origin
                blocks.append((k, start, origin))
        return blocks

    def _ridge(self) -> RidgeBaseline:
        d = self.data
        train = window_items(self.series, "train", d.history, d.horizon, 1, d.missing == "mask", False)
        if "observed" in train and train["observed"].all(axis=1).any():  # windows with every target seen
            whole = train["observed"].all(axis=1)
            train = {name: value[whole] for name, value in train.items()}
        val = window_items(self.series, "val", d.history, d.horizon, 1, False, False)
        encoder = self._encoder()
        categories = {"past_only_covariates": encoder.categories("past"),
                      "future_covariates": encoder.categories("future")}  # fmt: skip
        return RidgeBaseline.fit(
            train, train["targets"], val, None if val is None else val["targets"], categories
        )

    def _test_forecasts(self, model: nn.Module) -> dict[str, Any]:
        """Per series: the test values and the forecasts of the model and the baselines, block by block."""
        self._load()
        d = self.data
        blocks = self._blocks()
        starts = [(k, start - d.history) for k, start, _ in blocks]
        items = gather(self.series, starts, d.history, d.horizon, several=True, targets=False)
        model_blocks = self.forecast_items(model, items)
        if not hasattr(self, "_fitted_baselines"):  # they depend on the data only: fitted once per task
            ridge = self._ridge()
            hw = [
                HoltWinters.fit(s.filled[: s.n_train], d.season, d.baseline_seasonality) for s in self.series
            ]
            self._fitted_baselines = (
                ridge,
                hw,
                self.to_raw(ridge.predict(items), *self._scalings(items["series"])),
            )
        ridge, fitted, ridge_blocks = self._fitted_baselines
        parts = []
        for k, s in enumerate(self.series):
            mine = [(b, start, origin) for b, (j, start, origin) in enumerate(blocks) if j == k]
            keep = [slice(origin - start, min(d.horizon, len(s) - start)) for _, start, origin in mine]

            def joined(forecasts: list[np.ndarray], keep=keep) -> np.ndarray:
                if not forecasts:
                    return np.zeros((0, *model_blocks.shape[2:]))
                return np.concatenate([f[cut] for f, cut in zip(forecasts, keep)])

            hw_blocks = (
                fitted[k].forecast(s.filled, [start for _, start, _ in mine], d.horizon) if mine else []
            )
            model_all = joined([model_blocks[b] for b, _, _ in mine])
            part = {
                "series": s,
                "origins": [start for _, start, _ in mine],
                "origin_of": [
                    start for (_, start, _), cut in zip(mine, keep) for _ in range(cut.stop - cut.start)
                ],
                "actual": s.raw[s.n_fit :],
                "observed": s.observed[s.n_fit :],
                "in_sample": s.filled[: s.n_fit],
                "model_all": model_all,
                "model_point": model_all if model.config.quantiles is None else model_all[:, model.center],
                "seasonal_naive": joined(
                    [seasonal_naive_forecast(s.filled[:start], d.horizon, d.season) for _, start, _ in mine]
                ),
                "holt_winters": joined(list(hw_blocks)),
                "ridge": joined([ridge_blocks[b] for b, _, _ in mine]),
                "hw": fitted[k],
            }
            parts.append(part)
        tested = [p for p in parts if len(p["actual"])]
        return {"parts": tested, "quantiles": model.config.quantiles, "ridge": ridge}

    def report(self, model: nn.Module) -> dict[str, Any]:
        f = self._test_forecasts(model)
        d, parts, quantiles = self.data, f["parts"], f["quantiles"]
        results: dict[str, Any] = _scores(parts, "model_point", d.season)
        if quantiles is not None:
            inside = np.concatenate(
                [
                    (p["model_all"][:, 0] <= p["actual"]) & (p["actual"] <= p["model_all"][:, -1])
                    for p in parts
                ]
            )[np.concatenate([p["observed"] for p in parts])]
            results["test_interval"] = {
                "quantiles": [quantiles[0], quantiles[-1]],
                "coverage": float(inside.mean()),
            }
        naive_name = "seasonal naive" if d.season > 1 else "naive (last value)"
        results["baseline"] = {
            "name": f"{naive_name}, m={d.season}",
            **_scores(parts, "seasonal_naive", d.season),
        }
        hw_name = parts[0]["hw"].describe() + (", fitted per series" if len(parts) > 1 else "")
        first = self.series[0]
        past, future = (0 if x is None else x.shape[1] for x in (first.past, first.known))
        results["baselines"] = {
            "seasonal_naive": results["baseline"],
            "holt_winters": {"name": hw_name, **_scores(parts, "holt_winters", d.season)},
            "ridge": {
                "name": f["ridge"].describe(d.history, past, future),
                **_scores(parts, "ridge", d.season),
            },
        }
        if self.several:
            results["per_series"] = {
                p["series"].name: {k: v for k, v in _scores([p], "model_point", d.season).items()}
                for p in parts
            }
        results["sizes"] = {**self.state()["sizes"], "train_windows": len(self._windows("train", d.stride))}
        lead = parts[0]["series"]
        results["forecast"] = {
            "file": "forecast.csv",
            "origins": sum(len(p["origins"]) for p in parts),
            "first_origin": lead.times[lead.n_fit - 1],
            "horizon": d.horizon,
        }
        results["samples"] = self._samples(model, parts[0])
        return results

    def _samples(self, model: nn.Module, part: dict[str, Any]) -> list[dict[str, Any]]:
        """The first three test blocks of a series: origin, the history as ``rnnkit predict`` takes it (a run
        without covariates or several series), forecast (and quantiles), the true values."""
        d, s, quantiles = self.data, part["series"], model.config.quantiles
        samples, done = [], 0
        for start in part["origins"][:3]:
            block = (
                part["model_all"][done : done + min(d.horizon, len(s) - start)] if start >= s.n_fit else None
            )
            if block is None:
                break
            done += len(block)
            point = block if quantiles is None else block[:, model.center]
            sample: dict[str, Any] = {"series": s.name} if self.several else {}
            sample.update({"origin": s.times[start - 1], "history": d.history})
            seen = s.raw[max(start - d.history, 0) : start]
            if (
                not self.several
                and not d.covariates.columns
                and len(seen) == d.history
                and np.isfinite(seen).all()
            ):
                sample["input"] = ",".join(f"{v:.9g}" for v in seen)  # what predict takes
            sample["forecast"] = _rounded(point)
            if quantiles is not None:
                sample["quantiles"] = {f"{q:g}": _rounded(block[:, k]) for k, q in enumerate(quantiles)}
            sample["true"] = _rounded(s.raw[start : start + d.horizon])
            samples.append(sample)
        return samples

    def write_artifacts(self, model: nn.Module, folder: Path, results: dict[str, Any]) -> list[Path]:
        """``forecast.csv`` (every test step of every series: actual, forecast, quantiles, baselines) and
        ``forecast.png`` (the first series)."""
        from rnnkit.plots.charts import plot_forecast

        f = self._test_forecasts(model)
        d, parts = self.data, f["parts"]
        header = ["time", *(["series"] if self.several else []), "origin", "actual", "forecast"]
        if f["quantiles"] is not None:
            header += [f"q{q:g}" for q in f["quantiles"]]
        rows = []
        for p in parts:
            s = p["series"]
            columns = [p["actual"], p["model_point"]]
            if f["quantiles"] is not None:
                columns += [p["model_all"][:, k] for k in range(len(f["quantiles"]))]
            columns += [p[name] for name in BASELINES]
            for row, time in enumerate(s.times[s.n_fit :]):
                lead = [time, *([s.name] if self.several else []), s.times[p["origin_of"][row] - 1]]
                rows.append(lead + [f"{float(c[row]):.6g}" for c in columns])
        _write_csv(folder / "forecast.csv", header + list(BASELINES), rows)
        p = parts[0]
        blocks = f"{len(p['origins'])} x {d.horizon}-step" if len(p["origins"]) > 1 else f"{d.horizon}-step"
        mase_text = f"MASE {results['test_mase']:.3f} (seasonal naive {results['baseline']['test_mase']:.3f})"
        tail = min(len(p["in_sample"]), max(3 * len(p["actual"]), 2 * d.season, d.history))
        name = p["series"].name if self.several else self.value_column
        title = f"{name}: {blocks} test forecast, {mase_text}"
        plot_forecast(p["in_sample"][-tail:], p["actual"], p["model_all"], folder / "forecast.png",
                      f["quantiles"], title=title)  # fmt: skip
        return [folder / "forecast.csv", folder / "forecast.png"]


def _write_csv(path: Path, header: list[str], rows: list[list[str]]) -> None:
    import csv
    import io

    from rnnkit.config import atomic_write_text

    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    atomic_write_text(path, text.getvalue())
