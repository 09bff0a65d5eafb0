"""Tutorial 8: forecasting real series with a recurrent network, against seasonal-naive and Holt-Winters.

Run: ``python docs/tutorials/t08_forecasting.py [--small] [--out FOLDER]``. It trains rnnkit's
forecasting task, with a 10 % / 50 % / 90 % quantile head, on the monthly airline passengers
(1949-1960) and the daily minimum temperatures of Melbourne (1981-1990), from ``$RNNKIT_SHARED_DATA``
(or ``../shared/data`` beside the repository), with the settings of the shipped configs
``rnnkit/configs/airline_passengers.yaml`` and ``daily_temperatures.yaml`` (small: fewer epochs and a
smaller network). A series whose folder is absent is replaced by a synthetic one of the same length and
season, and the script says so. The report's own peers (seasonal naive, Holt-Winters, ridge) are scored
on the same test points; the figure draws each forecast with its quantile band.
"""

from __future__ import annotations

import csv
import shutil
import time
from pathlib import Path

import numpy as np
import torch
import yaml
from tutorial_args import Report, parse, save, shared_data, work_folder

import rnnkit

CONFIGS = Path(rnnkit.__file__).resolve().parent / "configs"
QUANTILES = [0.1, 0.5, 0.9]
# short name -> (shipped config, shared-data folder, its file, synthetic stand-in: length, season, trend)
SERIES = {
    "airline": ("airline_passengers", "airline_passengers", "airline-passengers.csv", (144, 12, True)),
    "temperatures": (
        "daily_temperatures",
        "daily_min_temperatures",
        "daily-min-temperatures.csv",
        (3650, 365, False),
    ),
}


def synthetic(path: Path, length: int, season: int, trend: bool) -> str:
    """A seasonal series written as a csv (time, value): growth times a yearly wave (``trend``), or a
    yearly wave around 11 with noise, like the series it stands in for."""
    rng = np.random.default_rng(0)
    t = np.arange(length)
    wave = np.sin(2 * np.pi * t / season)
    if trend:
        values = 120 * np.exp(0.01 * t) * (1 + 0.15 * wave) * np.exp(rng.normal(0, 0.02, length))
    else:
        values = 11 + 4 * wave + rng.normal(0, 2, length)
    rows = "\n".join(f"{k},{v:.3f}" for k, v in enumerate(values))
    path.write_text("time,value\n" + rows + "\n", encoding="utf-8")
    return str(path)


def run_config(name: str, work: Path, small: bool, report: Report) -> dict:
    """The shipped config of ``name`` with a quantile head, pointed at the data (or a synthetic series)."""
    shipped, folder_name, file, stand_in = SERIES[name]
    config = yaml.safe_load((CONFIGS / f"{shipped}.yaml").read_text(encoding="utf-8"))
    folder = shared_data(folder_name, file)
    if folder is None:
        report(f"{name}_data", f"synthetic series ({folder_name}/{file} not found in the shared data)")
        config["data"].update(dataset="csv", path=synthetic(work / f"t08_{name}.csv", *stand_in))
    else:
        report(f"{name}_data", f"{folder / file}")
        config["data"]["path"] = str(folder)
    config["name"] = f"t08_{name}"
    config["model"]["quantiles"] = QUANTILES
    config["train"]["device"] = "cpu"
    if small:
        config["model"]["rnn"]["hidden_size"] = 32
        config["train"].update(epochs=100 if name == "airline" else 3, early_stopping_patience=20)
    return config


def errors(results: dict, name: str, report: Report) -> None:
    """The test errors of the model and of the report's peers, as ``<series>_<forecast>_<metric>``."""
    rows = {"rnn": results, **results["baselines"]}
    for forecast, scores in rows.items():
        for metric in ("mae", "mape", "mase"):
            report(f"{name}_{forecast}_{metric}", float(scores[f"test_{metric}"]))
    report(f"{name}_holt_winters_fit", results["baselines"]["holt_winters"]["name"])
    interval = results["test_interval"]
    low, high = interval["quantiles"]
    report(f"{name}_coverage_{low:g}_{high:g}", float(interval["coverage"]))


def read_table(path: Path) -> dict[str, np.ndarray]:
    """The columns of a csv table: times (the first column, and ``origin``) as text, the others as numbers."""
    with path.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.reader(handle))
    header, body = rows[0], rows[1:]
    columns = {key: [row[k] for row in body] for k, key in enumerate(header)}
    text = {header[0], "origin"}
    return {k: np.array(v) if k in text else np.array(v, dtype=float) for k, v in columns.items()}


def series_values(data: dict) -> np.ndarray:
    """Every value of the series the run read (its ``dataset: csv`` file, or the catalog file in ``path``)."""
    path = Path(data["path"])
    table = read_table(path if path.is_file() else next(path.glob("*.csv")))
    return list(table.values())[1]


def draw(axis, name: str, run_dir: Path, data: dict, series: np.ndarray) -> None:
    """The last seasons before the test part, the test values, the median forecast with its 10-90 % band,
    and the seasonal-naive and Holt-Winters forecasts."""
    test = read_table(run_dir / "forecast.csv")
    steps = len(test["actual"])
    shown = steps if steps <= 60 else 8 * data["horizon"]  # a daily year is too dense: its first 8 blocks
    before = series[: len(series) - steps][-min(3 * data["season"], 60) :]
    past, future = np.arange(-len(before), 0), np.arange(shown)
    test = {k: v[:shown] for k, v in test.items()}
    axis.plot(past, before, color="C0", lw=1, label="history")
    axis.plot(future, test["actual"], color="black", lw=1, marker=".", ms=3, label="actual")
    axis.fill_between(future, test["q0.1"], test["q0.9"], color="C1", alpha=0.25, lw=0, label="RNN 10-90 %")
    axis.plot(future, test["q0.5"], color="C1", lw=1.4, label="RNN median")
    axis.plot(future, test["seasonal_naive"], color="C2", lw=1, ls="--", label="seasonal naive")
    axis.plot(future, test["holt_winters"], color="C3", lw=1, ls=":", label="Holt-Winters")
    for origin in range(0, shown, data["horizon"]):  # each block is forecast from the true values before it
        axis.axvline(origin - 0.5, color="0.6", lw=0.6)
    part = "the test part" if shown == steps else f"the first {shown} of {steps} test steps"
    axis.set(title=f"{name}: {part}, forecast {data['horizon']} steps at a time",
             xlabel="step from the start of the test part")  # fmt: skip
    axis.legend(fontsize=7, ncol=3)


def main() -> None:
    args = parse(__doc__.splitlines()[0])
    report = Report("t08_forecasting", args.out, args.small)
    if args.small:  # small models gain nothing from a second thread, and lose much on busy shared cores
        torch.set_num_threads(1)
    import matplotlib.pyplot as plt

    work = work_folder(args.out)
    figure, axes = plt.subplots(len(SERIES), 1, figsize=(9, 3.4 * len(SERIES)))
    for axis, name in zip(axes, SERIES):
        config = run_config(name, work, args.small, report)
        path = work / f"t08_{name}.yaml"
        path.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
        run_dir = work / f"t08_{name}"
        shutil.rmtree(run_dir, ignore_errors=True)  # this script's run of last time
        start = time.perf_counter()
        run = rnnkit.fit(path, run_dir=run_dir, quiet=True)
        report(f"{name}_train_seconds", time.perf_counter() - start)
        data = config["data"]
        shape = f"history {data['history']}, horizon {data['horizon']}, season {data['season']}"
        report(f"{name}_windows", shape)
        report(f"{name}_train_windows", run.results["sizes"]["train_windows"])
        errors(run.results, name, report)
        series = series_values(data)
        draw(axis, name, run_dir, data, series)
        history = ", ".join(f"{v:g}" for v in series[-data["history"] :])  # what `rnnkit predict` takes
        forecast = rnnkit.predict(run.run_dir, [history])[0]
        report(f"{name}_after_the_data", [round(v, 1) for v in forecast["forecast"]])
    figure.tight_layout()
    save(figure, args.out, "t08_forecasting")
    report.save()


if __name__ == "__main__":
    main()
