"""The forecasting task end to end: a test-written seasonal CSV (train, results, baselines, predict,
evaluate, resume), the chronological split and its windows, the Holt-Winters baseline against known series,
config errors, and the example configs on the real series in shared/data (skipped, with the reason, where
it is absent)."""

import csv
import json
import os
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from torch.utils.data import DataLoader

from rnnkit.cli.main import main
from rnnkit.config import ConfigError
from rnnkit.tasks import fit, load_run_config, predict
from rnnkit.tasks.base import RunConfig
from rnnkit.tasks.forecasting import ForecastingData, ForecastingTask, HoltWinters, load_series
from rnnkit.tasks.runner import evaluate
from rnnkit.training.config import TrainConfig

SHARED = Path(
    os.environ.get("RNNKIT_SHARED_DATA") or Path(__file__).resolve().parents[2].parent / "shared" / "data"
)
CONFIGS = Path(__file__).resolve().parents[2] / "rnnkit" / "configs"
SMALL_DATA = {"history": 24, "horizon": 6, "val_size": 24, "test_size": 48, "season": 12}


def seasonal_values(n: int = 360, seed: int = 0, noise: float = 0.8) -> np.ndarray:
    """Two seasonal waves (periods 12 and 4) and white noise: the seasonal-naive forecast carries last
    season's noise (error about noise·√2), a model of the wave only the new noise (about noise)."""
    t = np.arange(n)
    rng = np.random.default_rng(seed)
    return (
        20 + 5 * np.sin(2 * np.pi * t / 12) + 2 * np.cos(2 * np.pi * t / 4) + noise * rng.standard_normal(n)
    )


def write_csv(path: Path, values, header: str = "time,value") -> Path:
    path.write_text(
        header + "\n" + "".join(f"t{i},{v:.6g}\n" for i, v in enumerate(values)), encoding="utf-8"
    )
    return path


def run_config(path: Path, data: dict | None = None, model: dict | None = None, **train) -> RunConfig:
    train = {"epochs": 30, "batch_size": 32, "lr": 0.01, "device": "cpu", **train}
    return RunConfig(
        task="forecasting",
        data={"dataset": "csv", "path": str(path), **SMALL_DATA, **(data or {})},
        model=model or {"rnn": {"cell": "gru", "hidden_size": 32}},
        train=TrainConfig(**train),
    )


@pytest.fixture(scope="module")
def seasonal_run(tmp_path_factory):
    folder = tmp_path_factory.mktemp("forecast")
    csv = write_csv(folder / "seasonal.csv", seasonal_values())
    return fit(run_config(csv), run_dir=folder / "run", quiet=True)


def test_the_model_beats_seasonal_naive_and_writes_a_complete_run(seasonal_run):
    run_dir, results = seasonal_run.run_dir, seasonal_run.results
    assert {"run.yaml", "task.json", "model", "results.json", "forecast.png", "learning_curves.png"} <= {
        p.name for p in run_dir.iterdir()
    }
    saved = json.loads((run_dir / "results.json").read_text())
    for key in ("test_mae", "test_rmse", "test_mape", "test_mase"):
        assert saved[key] == pytest.approx(results[key]) and key in saved["baselines"]["holt_winters"]
    assert results["test_mae"] < 0.9 * results["baseline"]["test_mae"]  # the seasonal-naive forecast
    assert results["test_mase"] < results["baseline"]["test_mase"]
    assert results["baseline"]["name"] == "seasonal naive, m=12"
    assert results["sizes"] == {"train": 288, "val": 24, "test": 48, "train_windows": 288 - 30 + 1}
    assert results["forecast"] == {"file": "forecast.csv", "origins": 8, "first_origin": "t311", "horizon": 6}
    with open(run_dir / "forecast.csv", encoding="utf-8") as file:
        rows = list(csv.DictReader(file))
    assert list(rows[0]) == [
        "time",
        "origin",
        "actual",
        "forecast",
        "seasonal_naive",
        "holt_winters",
        "ridge",
    ]
    assert [r["time"] for r in rows] == [f"t{t}" for t in range(312, 360)]
    assert [r["origin"] for r in rows[5:7]] == ["t311", "t317"]  # a rolling origin, 6 steps apart
    values = seasonal_values()
    column = {
        name: np.array([float(r[name]) for r in rows]) for name in rows[0] if name not in ("time", "origin")
    }
    assert column["actual"] == pytest.approx(values[312:], rel=1e-5)
    assert column["seasonal_naive"][:12] == pytest.approx(values[300:312], rel=1e-5)  # the last season
    assert results["test_mae"] == pytest.approx(np.abs(column["forecast"] - values[312:]).mean(), rel=1e-4)


def test_predict_matches_the_reported_forecast_and_evaluate_reproduces_it(seasonal_run, capsys):
    run_dir, results = seasonal_run.run_dir, seasonal_run.results
    values = seasonal_values()
    first = ",".join(f"{v:.6g}" for v in values[312 - 24 : 312])
    longer = ",".join(f"{v:.6g}" for v in values[200:312])  # longer histories: the last 24 values count
    a, b = predict(run_dir, [first, longer])
    assert a["history"] == 24 and b["history"] == 112 and len(a["forecast"]) == 6
    with open(run_dir / "forecast.csv", encoding="utf-8") as file:
        reported = [float(row["forecast"]) for row in csv.DictReader(file)][:6]
    assert a["forecast"] == pytest.approx(reported, abs=1e-3)
    assert b["forecast"] == pytest.approx(a["forecast"], abs=1e-3)
    assert results["samples"][0]["forecast"] == pytest.approx(a["forecast"], abs=1e-3)
    (again,) = predict(run_dir, [results["samples"][0]["input"]])  # a sample's input is what predict takes
    assert again["forecast"] == pytest.approx(a["forecast"], abs=1e-3)
    assert evaluate(run_dir)["test_mae"] == pytest.approx(results["test_mae"])
    assert main(["predict", str(run_dir), first]) == 0
    assert json.loads(capsys.readouterr().out)["forecast"] == pytest.approx(a["forecast"], abs=1e-3)
    with pytest.raises(ValueError, match=r"input 1: expected at least 24 comma-separated values .* got 3"):
        predict(run_dir, ["1, 2, 3"])
    with pytest.raises(ValueError, match=r"input 2: expected comma-separated numbers, got 'x'"):
        predict(run_dir, [first, "1, x, 3"])
    assert main(["predict", str(run_dir), first, "1, x, 3"]) == 2  # the CLI names the argument or file line
    assert "rnnkit predict: argument 2: expected comma-separated numbers, got 'x'" in capsys.readouterr().err
    (run_dir.parent / "histories.txt").write_text(f"{first}\n\n1, 2, 3\n", encoding="utf-8")
    assert main(["predict", str(run_dir), "--input", str(run_dir.parent / "histories.txt")]) == 2
    assert f"{run_dir.parent / 'histories.txt'}:3: expected at least 24" in capsys.readouterr().err


def test_a_killed_run_resumes_to_the_same_result(tmp_path):
    csv = write_csv(tmp_path / "s.csv", seasonal_values())
    config = tmp_path / "run.yaml"
    plain = run_config(csv, model={"rnn": {"cell": "lstm", "hidden_size": 8}})
    train = {"epochs": 3, "lr": 0.01, "device": "cpu", "restore_best": False}
    config.write_text(
        yaml.safe_dump({"task": "forecasting", "data": plain.data, "model": plain.model, "train": train})
    )
    straight = fit(config, run_dir=tmp_path / "straight", quiet=True)
    fit(config, run_dir=tmp_path / "killed", quiet=True, overrides=["train.max_steps=13"])  # mid-epoch 2
    resumed = fit(
        None, run_dir=tmp_path / "killed", resume_run=True, quiet=True, overrides=["train.max_steps=null"]
    )
    for a, b in zip(straight.model.state_dict().values(), resumed.model.state_dict().values()):
        assert torch.equal(a, b)
    assert resumed.results["test_mae"] == straight.results["test_mae"]


def make_task(path: Path, **data) -> ForecastingTask:
    task = ForecastingTask.from_run_config(run_config(path, data))
    task._load()
    return task


def test_windows_never_reach_into_the_future_and_the_scaler_sees_training_values_only(tmp_path):
    steps = np.arange(240.0)  # the value is the time step, so every window shows where it lies
    task = make_task(write_csv(tmp_path / "steps.csv", steps))
    train, val, test = task.loaders()
    for loader, (low, high) in ((train, (24, 168)), (val, (168, 192)), (test, (192, 240))):
        batches = list(loader)  # one pass: the training loader shuffles
        history = torch.cat([b["history"] for b in batches])[..., 0]
        targets = torch.cat([b["targets"] for b in batches])[..., 0]
        assert targets.min() == low and targets.max() == high - 1  # the part's targets, no other
        assert (history.diff(dim=1) == 1).all() and (targets[:, 0] == history[:, -1] + 1).all()
    spiked = steps.copy()
    spiked[168:] = 1e6  # validation and test values must not move what training sees
    other = make_task(write_csv(tmp_path / "spiked.csv", spiked))
    scaler, other_scaler = task.build_model().scaler, other.build_model().scaler
    assert scaler.shift.item() == pytest.approx(steps[:168].mean()) and scaler.shift == other_scaler.shift
    assert scaler.scale.item() == pytest.approx(steps[:168].std()) and scaler.scale == other_scaler.scale
    first = next(iter(DataLoader(other.loaders()[0].dataset, batch_size=500)))
    assert first["targets"].max() == 167  # the training windows are the same too


def test_log_transform_and_window_level_reach_the_model_as_documented(tmp_path):
    values = 100 * 1.01 ** np.arange(240.0)
    task = make_task(write_csv(tmp_path / "growth.csv", values), log_transform=True)
    assert task.build_model().scaler.shift.item() == pytest.approx(np.log(values[:168]).mean(), rel=1e-6)
    relative = make_task(tmp_path / "growth.csv", log_transform=True, window_level="last")
    scaler = relative.build_model().scaler  # fitted on log(y / y_last) of the training windows
    expected = np.concatenate([np.arange(-23, 1), np.arange(1, 7)]) * np.log(1.01)
    assert scaler.shift.item() == pytest.approx(expected.mean(), abs=1e-5)
    assert scaler.scale.item() == pytest.approx(expected.std(), rel=1e-4)
    with pytest.raises(ValueError, match=r"log_transform needs values > 0, but 'value' is -1 at t5"):
        make_task(write_csv(tmp_path / "neg.csv", [1.0] * 5 + [-1.0] + [1.0] * 234), log_transform=True)


def test_quantiles_autoregressive_mode_and_multiplicative_growth(tmp_path):
    t = np.arange(240)
    values = (50 + t) * (1 + 0.2 * np.sin(2 * np.pi * t / 12))  # growing, multiplicative seasonality
    csv = write_csv(tmp_path / "growth.csv", values)
    model = {
        "mode": "autoregressive",
        "quantiles": [0.1, 0.5, 0.9],
        "rnn": {"cell": "lstm", "hidden_size": 8},
    }
    data = {"log_transform": True, "window_level": "mean"}
    result = fit(run_config(csv, data, model, epochs=3), run_dir=tmp_path / "run", quiet=True)
    interval = result.results["test_interval"]
    assert interval["quantiles"] == [0.1, 0.9] and 0 <= interval["coverage"] <= 1
    assert result.results["baselines"]["holt_winters"]["name"].startswith("Holt-Winters multiplicative")
    (out,) = predict(tmp_path / "run", [",".join(map(str, values[:24]))])
    bands = np.array([out["quantiles"][q] for q in ("0.1", "0.5", "0.9")])
    assert out["forecast"] == out["quantiles"]["0.5"] and (np.diff(bands, axis=0) >= 0).all()
    header = (tmp_path / "run" / "forecast.csv").read_text().splitlines()[0]
    assert header == "time,origin,actual,forecast,q0.1,q0.5,q0.9,seasonal_naive,holt_winters,ridge"
    assert (bands > 0).all()  # exp of the log forecast


def test_holt_winters_recovers_known_series():
    t = np.arange(120.0)
    multiplicative = (100 + 2 * t) * (1 + 0.3 * np.sin(2 * np.pi * t / 12))
    hw = HoltWinters.fit(multiplicative[:96], season=12)
    forecast = hw.forecast(multiplicative, origins=[96, 108], horizon=12).reshape(-1)
    assert hw.seasonality == "multiplicative"
    assert np.abs(forecast / multiplicative[96:] - 1).max() < 0.02
    line = 3.0 + 0.5 * t  # season 1 (or too little data for two seasons): Holt's linear trend
    for season in (1, 100):
        holt = HoltWinters.fit(line[:50], season=season)
        assert holt.seasonality == "none" and "Holt (trend only)" in holt.describe()
        assert holt.forecast(line, [50, 60], 5) == pytest.approx(np.stack([line[50:55], line[60:65]]))
    negative = np.sin(2 * np.pi * t / 12) - 5  # auto never tries multiplicative on values <= 0
    assert HoltWinters.fit(negative, season=12).seasonality == "additive"


def test_config_and_data_errors_name_the_field(tmp_path):
    csv = write_csv(tmp_path / "s.csv", seasonal_values(120))
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        yaml.safe_dump({"task": "forecasting", "data": {"dataset": "csv", "path": str(csv), "horizn": 3}})
    )
    with pytest.raises(ConfigError, match=r"bad.yaml: data: unknown key 'horizn' in ForecastingData"):
        fit(bad, run_dir=tmp_path / "run", quiet=True)
    bad.write_text(yaml.safe_dump({"task": "forecasting", "data": {"dataset": "csv", "path": str(csv)},
                                   "model": {"horizon": 3}}))  # fmt: skip
    with pytest.raises(ConfigError, match=r"bad.yaml: model.horizon: comes from the data; remove it"):
        fit(bad, run_dir=tmp_path / "run2", quiet=True)
    with pytest.raises(ConfigError, match=r"model: unknown key 'hidden' in ForecasterConfig"):
        fit(run_config(csv, model={"hidden": 3}), run_dir=tmp_path / "run3", quiet=True)
    with pytest.raises(ValueError, match=r"val_size must be 0 or >= horizon \(12\).* got 6"):
        ForecastingData(val_size=6, horizon=12)
    with pytest.raises(ValueError, match=r"dataset='csv' needs path="):
        ForecastingData(dataset="csv")
    with pytest.raises(
        ValueError, match=r"120 points leave 48 for training .* need at least history \+ horizon"
    ):
        make_task(csv, history=48, val_size=24, test_size=48)
    wide = tmp_path / "wide.csv"
    wide.write_text("time,a,b\n" + "".join(f"{i},{i},{-i}\n" for i in range(100)), encoding="utf-8")
    with pytest.raises(
        ConfigError, match=r"columns \['a', 'b'\]; choose the one to forecast with value_column"
    ):
        load_series(ForecastingData(dataset="csv", path=str(wide)))
    assert load_series(ForecastingData(dataset="csv", path=str(wide), value_column="b")).values[3, 0] == -3
    gaps = tmp_path / "gaps.csv"
    gaps.write_text("time,v\n0,1\n1,\n2,3\n", encoding="utf-8")
    with pytest.raises(ValueError, match="gaps.csv"):
        load_series(ForecastingData(dataset="csv", path=str(gaps)))
    filled = load_series(ForecastingData(dataset="csv", path=str(gaps), missing="interpolate"))
    assert filled.values[:, 0].tolist() == [1.0, 2.0, 3.0]


def test_the_example_configs_are_valid():
    for name in ("airline_passengers", "daily_temperatures", "pm25"):
        config = load_run_config(CONFIGS / f"{name}.yaml")
        assert config.task == "forecasting"
        ForecastingData(**config.data)
        text = (CONFIGS / f"{name}.yaml").read_text(encoding="utf-8")
        assert (
            "--set data.path=/path/to/" in text and "/work/" not in text
        )  # a placeholder, no machine's path


@pytest.mark.parametrize(
    "config, folder, overrides, naive_mape, hw_mape",
    [
        ("airline_passengers", "airline_passengers", ["train.epochs=3"], 10.52, 3.96),
        ("daily_temperatures", "daily_min_temperatures", ["train.max_steps=20"], 28.23, 23.91),
    ],
)
def test_example_config_on_the_real_series(config, folder, overrides, naive_mape, hw_mape, tmp_path):
    if not (SHARED / folder).is_dir():
        pytest.skip(f"real dataset {folder}: {SHARED / folder} not found (set RNNKIT_SHARED_DATA)")
    small = [*overrides, "train.early_stopping_patience=null", "model.rnn.hidden_size=8", "train.device=cpu"]
    sets = [f"--set={o}" for o in (*small, f"data.path={SHARED / folder}")]
    assert main(["train", config, "--quiet", "-o", str(tmp_path / "run"), *sets]) == 0
    results = json.loads((tmp_path / "run" / "results.json").read_text())
    baselines = results["baselines"]
    assert baselines["seasonal_naive"]["test_mape"] == pytest.approx(naive_mape, abs=0.01)
    assert baselines["holt_winters"]["test_mape"] == pytest.approx(hw_mape, abs=0.01)
    assert baselines["holt_winters"]["test_mase"] < baselines["seasonal_naive"]["test_mase"]
    assert (tmp_path / "run" / "forecast.png").stat().st_size > 10_000
