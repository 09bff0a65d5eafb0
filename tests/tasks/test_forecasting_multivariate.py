"""Multivariate forecasting from tables: past-only and known-future covariates (numeric and categorical,
embedded or one-hot), several series in one file scaled per series, missing values interpolated or masked,
own train / validation / test files, the ridge baseline, predict on a table in the training columns, the
CLI flags, and old run folders (no covariate keys) still predicting. The tables are small synthetic ones of
the shape of hourly PM2.5 data (the Keras LSTM tutorial's): no dataset is needed."""

from __future__ import annotations

import csv
import json
import logging
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

from rnnkit.cli.main import main
from rnnkit.config import ConfigError
from rnnkit.data.reading import DataError
from rnnkit.models.io import save_model
from rnnkit.tasks import fit, load_run_config, predict
from rnnkit.tasks.base import RunConfig, check_run_config
from rnnkit.tasks.forecasting import CovariateEncoder, ForecastingData, ForecastingTask
from rnnkit.tasks.runner import evaluate
from rnnkit.training.config import TrainConfig

HEADER = "No,year,month,day,hour,pm2.5,DEWP,TEMP,PRES,cbwd,Iws"
COVARIATES = {
    "past": ["DEWP", "TEMP", "PRES", "cbwd", "Iws"],
    "future": ["hour"],
    "categorical": ["cbwd", "hour"],
}
SMALL = {"history": 24, "horizon": 6, "val_size": 48, "test_size": 72, "season": 24}
TINY_MODEL = {"rnn": {"cell": "gru", "hidden_size": 16}}


@pytest.fixture(autouse=True)
def one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def pm25_rows(n: int = 480, seed: int = 0, start: int = 0) -> list[list]:
    """Hourly rows shaped like the Beijing PM2.5 data: pm2.5 = daily cycle + 6 x dew point (a persistent
    AR(1), so its past tells the next hours) - 15 when the wind is NW, plus noise."""
    rng = np.random.default_rng(seed)
    t = np.arange(start, start + n)
    hour = t % 24
    dew = np.zeros(n)
    for i in range(1, n):
        dew[i] = 0.95 * dew[i - 1] + rng.normal()
    temp = 10 + 8 * np.sin(2 * np.pi * (hour - 6) / 24) + rng.normal(size=n)
    pres = 1015 + 0.1 * rng.normal(size=n).cumsum()
    wind = rng.choice(["NE", "NW", "SE", "cv"], n)
    iws = rng.gamma(2.0, 5.0, n)
    pm = 80 + 25 * np.sin(2 * np.pi * hour / 24) + 6 * dew - 15 * (wind == "NW") + rng.normal(size=n)
    return [
        [t[i] + 1, 2010, 1, t[i] // 24 + 1, hour[i], f"{pm[i]:.2f}", f"{dew[i]:.3f}", f"{temp[i]:.2f}",
         f"{pres[i]:.2f}", wind[i], f"{iws[i]:.2f}"]
        for i in range(n)
    ]  # fmt: skip


def write_rows(path: Path, rows: list[list], header: str = HEADER) -> Path:
    path.write_text(header + "\n" + "".join(",".join(map(str, r)) + "\n" for r in rows), encoding="utf-8")
    return path


def config(data: dict, model: dict | None = None, **train) -> RunConfig:
    train = {"epochs": 10, "batch_size": 32, "lr": 0.01, "device": "cpu", **train}
    return RunConfig(task="forecasting", data=data, model=model or TINY_MODEL, train=TrainConfig(**train))


def pm25_data(path: Path, **extra) -> dict:
    return {"dataset": "csv", "path": str(path), "time_column": "No", "value_column": "pm2.5",
            "covariates": COVARIATES, **SMALL, **extra}  # fmt: skip


@pytest.fixture(scope="module")
def pm25_run(tmp_path_factory):
    folder = tmp_path_factory.mktemp("pm25")
    table = write_rows(folder / "pm25.csv", pm25_rows())
    return fit(config(pm25_data(table)), run_dir=folder / "run", quiet=True)


# ----- covariates ---------------------------------------------------------------------------------------
def test_covariates_reach_the_model_and_the_run_saves_what_predict_needs(pm25_run):
    model, task, results = pm25_run.model, pm25_run.task, pm25_run.results
    cfg = model.config
    assert (cfg.num_past_only_covariates, cfg.past_only_categories) == (
        5,
        (5,),
    )  # 4 wind directions + unknown
    assert (cfg.num_covariates, cfg.known_categories) == (1, (25,))  # 24 hours + unknown
    saved = json.loads((pm25_run.run_dir / "task.json").read_text())
    assert saved["categories"] == {"cbwd": ["NE", "NW", "SE", "cv"], "hour": [str(h) for h in range(24)]}
    assert saved["covariates"] == {
        "past_only": ["DEWP", "TEMP", "PRES", "Iws", "cbwd"],
        "known_future": ["hour"],
    }
    batch = next(iter(task.loaders()[1]))  # validation windows: past-only over the history, hour also ahead
    assert batch["past_only_covariates"].shape[1:] == (24, 5) and batch["future_covariates"].shape[1:] == (
        6,
        1,
    )
    assert torch.equal(batch["future_covariates"][:, 0, 0] % 25, batch["past_covariates"][:, -1, 0] % 24 + 1)
    rows = pm25_rows()
    first = task.series[0]
    assert first.past[:3, 0].tolist() == pytest.approx([float(r[6]) for r in rows[:3]])  # DEWP, raw
    train_dew = torch.tensor([float(r[6]) for r in rows[: first.n_train]], dtype=torch.float64)
    assert model.past_only_scaler.shift[0].item() == pytest.approx(train_dew.mean().item(), rel=1e-5)
    baselines = results["baselines"]
    assert set(baselines) == {"seasonal_naive", "holt_winters", "ridge"}
    assert baselines["ridge"]["name"].startswith("ridge on 24 lags + 5 past-only and 1 known-future")
    assert baselines["ridge"]["test_mase"] < baselines["seasonal_naive"]["test_mase"]
    assert results["test_mase"] < baselines["seasonal_naive"]["test_mase"]


def test_predict_reads_a_table_in_the_training_columns_with_the_horizons_covariates(
    pm25_run, tmp_path, capsys
):
    run_dir, rows = pm25_run.run_dir, pm25_rows()
    origin = 480 - 72  # the first test origin: predict must give the reported first block
    history = rows[origin - 30 : origin]  # more history than needed: the last 24 rows count
    future = [[*r[:5], "", *r[6:]] for r in rows[origin : origin + 6]]  # value blank: the steps to forecast
    future[2][9] = "WSW"  # a wind direction never seen: the unknown category (and past-only: not read)
    table = write_rows(tmp_path / "next.csv", history + future)
    (result,) = predict(run_dir, [str(table)])
    (forecast,) = result["forecasts"]
    assert forecast["origin"] == str(origin) and forecast["times"] == [str(origin + k) for k in range(1, 7)]
    assert forecast["unseen_categories"] == {"cbwd": ["WSW"]}
    with open(run_dir / "forecast.csv", encoding="utf-8") as file:
        reported = [float(r["forecast"]) for r in csv.DictReader(file)][:6]
    assert forecast["forecast"] == pytest.approx(reported, abs=1e-3)
    assert main(["predict", str(run_dir), str(table)]) == 0
    assert json.loads(capsys.readouterr().out)["forecasts"][0]["forecast"] == forecast["forecast"]
    short = write_rows(tmp_path / "short.csv", history + future[:4])  # the hour of 2 steps missing
    with pytest.raises(ValueError, match=r"input 1: .*short.csv: expected 6 rows to forecast .* got 4"):
        predict(run_dir, [str(short)])
    with pytest.raises(ValueError, match=r"input 1: this run reads a table: .*columns No, pm2.5, DEWP"):
        predict(run_dir, ["1, 2, 3"])
    gap = [list(r) for r in history]
    gap[-2][6] = ""
    gappy = write_rows(tmp_path / "gap.csv", gap + future)
    with pytest.raises(ValueError, match=r"gap.csv:\d+: column 'DEWP': missing value"):
        predict(run_dir, [str(gappy)])


def test_one_hot_categories_are_numeric_columns_and_embedding_is_checked_before_data(tmp_path):
    table = write_rows(tmp_path / "pm.csv", pm25_rows(240))
    one_hot = {**COVARIATES, "encoding": "one_hot"}
    task = ForecastingTask.from_run_config(
        config(pm25_data(table, covariates=one_hot, val_size=24, test_size=24))
    )
    task._load()
    assert task.encoder.columns("past")[-4:] == ["cbwd=NE", "cbwd=NW", "cbwd=SE", "cbwd=cv"]
    model = task.build_model()
    assert (model.config.num_past_only_covariates, model.config.past_only_categories) == (8, ())
    assert model.config.num_covariates == 24 and model.covariate_scaler.num_features == 24
    wind = [r[9] for r in pm25_rows(240)]
    assert task.series[0].past[:, 4:].argmax(1).tolist() == [["NE", "NW", "SE", "cv"].index(w) for w in wind]
    autoregressive = config(pm25_data(table), {"mode": "autoregressive"})
    with pytest.raises(ConfigError, match=r"model: ForecasterConfig.num_past_only_covariates must be 0"):
        check_run_config(autoregressive, "run.yaml")  # before any data is read
    with pytest.raises(ConfigError, match=r"model.num_covariates: comes from the data; remove it"):
        check_run_config(config(pm25_data(table), {"num_covariates": 3}))
    assert check_run_config(config(pm25_data(table), {"num_covariates": 0}))  # older configs said so
    with pytest.raises(
        ConfigError, match=r"CovariateConfig: column 'hour' is both past-only and known-future"
    ):
        check_run_config(config(pm25_data(table, covariates={"past": ["hour"], "future": ["hour"]})))
    with pytest.raises(ConfigError, match=r"covariates and series_column need a table"):
        check_run_config(config({"dataset": "airline_passengers", "covariates": {"past": ["x"]}}))


def test_ridge_beats_naive_on_a_series_driven_by_a_known_covariate(tmp_path):
    """y_t = 10 + 3 x_t + noise with x_t i.i.d. and known ahead: the past alone cannot tell y, x can."""
    rng = np.random.default_rng(1)
    x = rng.normal(size=300)
    y = 10 + 3 * x + 0.1 * rng.normal(size=300)
    table = tmp_path / "driven.csv"
    table.write_text("t,y,x\n" + "".join(f"{t},{a:.5f},{b:.5f}\n" for t, (a, b) in enumerate(zip(y, x))))
    data = {"dataset": "csv", "path": str(table), "covariates": {"future": ["x"]}, "history": 12, "horizon": 4,
            "val_size": 24, "test_size": 48, "season": 12}  # fmt: skip
    results = fit(config(data, epochs=2), run_dir=tmp_path / "run", quiet=True).results
    ridge, naive = results["baselines"]["ridge"], results["baselines"]["seasonal_naive"]
    assert ridge["test_mae"] < 0.1 * naive["test_mae"] and ridge["test_mae"] < 0.2  # noise 0.1: MAE ~0.08
    header = (tmp_path / "run" / "forecast.csv").read_text().splitlines()[0]
    assert header == "time,origin,actual,forecast,seasonal_naive,holt_winters,ridge"


# ----- several series -----------------------------------------------------------------------------------
def shops(n: int = 150) -> tuple[str, dict[str, np.ndarray]]:
    """Three series of very different levels, rows interleaved by time (long format)."""
    t, noise = np.arange(n), np.random.default_rng(0).normal(size=(3, n))
    values = {
        "a": 10 + 2 * np.sin(2 * np.pi * t / 12) + 0.2 * noise[0],
        "b": 1000 + 300 * np.sin(2 * np.pi * t / 12 + 1) + 30 * noise[1],
        "c": -50 + 5 * np.cos(2 * np.pi * t / 12) + 0.5 * noise[2],
    }
    text = "day,shop,sales\n" + "".join(f"{i},{k},{values[k][i]:.4f}\n" for i in range(n) for k in values)
    return text, values


def test_several_series_are_scaled_on_their_own_and_windows_never_cross(tmp_path):
    text, values = shops()
    table = tmp_path / "shops.csv"
    table.write_text(text)
    data = {"train": str(table), "series_column": "shop", "history": 12, "horizon": 3, "val_size": 12,
            "test_size": 12, "season": 12}  # fmt: skip
    result = fit(config(data, epochs=3), run_dir=tmp_path / "run", quiet=True)
    task = result.task
    assert [s.name for s in task.series] == ["a", "b", "c"]
    for s in task.series:  # each by the mean and standard deviation of its own training part
        train = np.float32(np.round(values[s.name][: s.n_train], 4)).astype(np.float64)  # as written, read
        assert (s.shift, s.scale) == pytest.approx((train.mean(), train.std()), rel=1e-9)
        assert s.to_raw(s.level, False) == pytest.approx(values[s.name], abs=1e-3)
    windows = task.loaders()[0].dataset
    level, series = windows.items["history"][..., 0], windows.items["series"]
    for k, s in enumerate(task.series):  # every window is a contiguous stretch of one series
        mine = level[series == k].double().numpy()
        starts = [int(np.argmin(np.abs(s.level - w[0]))) for w in mine]
        assert all(np.allclose(w, s.level[b : b + 12], atol=1e-5) for w, b in zip(mine, starts))
    assert len(windows) == 3 * (150 - 24 - 12 - 3 + 1)
    results = result.results
    assert results["sizes"] == {
        "train": 3 * 126,
        "val": 36,
        "test": 36,
        "series": 3,
        "train_windows": len(windows),
    }
    assert set(results["per_series"]) == {"a", "b", "c"}
    saved = json.loads((tmp_path / "run" / "task.json").read_text())["series_scaling"]
    assert saved["b"] == pytest.approx([task.series[1].shift, task.series[1].scale])
    with open(tmp_path / "run" / "forecast.csv", encoding="utf-8") as file:
        rows = list(csv.DictReader(file))
    assert list(rows[0])[:3] == ["time", "series", "origin"] and len(rows) == 36
    # predict: a training series by its saved scaling (== the report), another one by its own history
    history = "".join(f"{i},{k},{values[k][i]:.4f}\n" for i in range(126, 138) for k in ("b",))
    history += "".join(f"{i},new,{5 * values['a'][i]:.4f}\n" for i in range(126, 138))
    ask = tmp_path / "ask.csv"
    ask.write_text("day,shop,sales\n" + history)
    (answer,) = predict(tmp_path / "run", [str(ask)])
    b, new = answer["forecasts"]
    assert (b["series"], new["series"]) == ("b", "new") and "scaled_by" in new and "scaled_by" not in b
    reported = [float(r["forecast"]) for r in rows if r["series"] == "b"][:3]
    assert b["forecast"] == pytest.approx(reported, abs=1e-2)


# ----- missing values -----------------------------------------------------------------------------------
def test_missing_values_interpolated_masked_or_refused(tmp_path):
    rows = pm25_rows(240)
    for i in (30, 31, 100, 220):  # gaps in the value (two in training, one in the test part)
        rows[i][5] = "NA"
    rows[50][6] = ""  # and in a covariate
    table = write_rows(tmp_path / "gaps.csv", rows)
    sizes = {"val_size": 24, "test_size": 24}
    with pytest.raises(DataError, match=r"gaps.csv:32: column 'pm2.5': missing value"):
        ForecastingTask.from_run_config(config(pm25_data(table, **sizes)))._load()
    value = lambda i: float(pm25_rows(240)[i][5])  # noqa: E731
    linear = ForecastingTask.from_run_config(config(pm25_data(table, missing="interpolate", **sizes)))
    linear._load()
    s = linear.series[0]
    assert s.raw[30] == pytest.approx(value(29) + (value(32) - value(29)) / 3) and s.observed.all()
    dew = [float(r[6]) for r in pm25_rows(240)]
    assert s.past[50, 0] == pytest.approx((dew[49] + dew[51]) / 2)
    masked = ForecastingTask.from_run_config(config(pm25_data(table, missing="mask", **sizes), epochs=2))
    masked._load()
    s = masked.series[0]
    assert np.isnan(s.raw[[30, 31, 100, 220]]).all() and not s.observed[[30, 31, 100, 220]].any()
    assert s.filled[31] == s.filled[29] == pytest.approx(value(29)) and s.past[50, 0] == dew[49]  # causal
    batches = list(masked.loaders()[0])
    batch = next(b for b in batches if not b["observed"].all())
    model = masked.build_model()
    loss = masked.compute_loss(model, batch)
    moved = {**batch, "targets": torch.where(batch["observed"], batch["targets"], batch["targets"] + 1e3)}
    assert masked.compute_loss(model, moved).item() == pytest.approx(
        loss.item()
    )  # missing targets count nowhere
    result = fit(
        config(pm25_data(table, missing="mask", **sizes), epochs=2), run_dir=tmp_path / "run", quiet=True
    )
    with open(tmp_path / "run" / "forecast.csv", encoding="utf-8") as file:
        rows = [r for r in csv.DictReader(file)]
    seen = [r for r in rows if r["actual"] != "nan"]
    assert len(seen) == len(rows) - 1  # step 220 is missing: no score counts it
    error = np.mean([abs(float(r["forecast"]) - float(r["actual"])) for r in seen])
    assert result.results["test_mae"] == pytest.approx(error, rel=1e-4)


# ----- own files ----------------------------------------------------------------------------------------
def test_own_files_continue_in_time_and_match_one_file_held_out(tmp_path, caplog):
    rows = pm25_rows(300)
    whole = write_rows(tmp_path / "all.csv", rows)
    train, test = (
        write_rows(tmp_path / "train.csv", rows[:240]),
        write_rows(tmp_path / "test.csv", rows[240:]),
    )
    sizes = {"val_size": 24, "test_size": 60}
    one = fit(config(pm25_data(whole, **sizes), epochs=2), run_dir=tmp_path / "one", quiet=True).results
    own = {k: v for k, v in pm25_data(whole, **sizes).items() if k not in ("dataset", "path")}
    with caplog.at_level(logging.INFO, logger="rnnkit"):
        two = fit(config({**own, "train": str(train), "test": str(test), "test_size": 1}, epochs=2),
                  run_dir=tmp_path / "two", quiet=True).results  # fmt: skip
    assert "no validation file; held out the 24 points of each series before its test part" in caplog.text
    assert two["sizes"] == one["sizes"] == {"train": 216, "val": 24, "test": 60, "train_windows": 216 - 29}
    for key in ("test_mae", "test_mase"):  # the same parts, so the same run
        assert two[key] == pytest.approx(one[key], rel=1e-6)
        assert two["baselines"]["ridge"][key] == pytest.approx(one["baselines"]["ridge"][key], rel=1e-9)
    validation = write_rows(tmp_path / "val.csv", rows[200:240])
    short = write_rows(tmp_path / "train_short.csv", rows[:200])
    task = ForecastingTask.from_run_config(config({**own, "train": str(short), "validation": str(validation),
                                                   "test": str(test)}))  # fmt: skip
    task._load()
    s = task.series[0]
    assert (s.n_train, s.n_fit, len(s)) == (200, 240, 300) and s.times[200] == "201"
    other = write_rows(tmp_path / "other.csv", [[*r[:5], r[5], *r[6:]] for r in rows[240:]], HEADER + ",x")
    with pytest.raises(DataError, match=r"other.csv:2: expected 12 CSV fields"):
        ForecastingTask.from_run_config(config({**own, "train": str(train), "test": str(other)}))._load()
    with pytest.raises(ConfigError, match=r"data.test: .*nowhere.csv: no such file"):
        ForecastingTask.from_run_config(config({**own, "train": str(train), "test": "nowhere.csv"}))._load()
    with pytest.raises(ValueError, match=r"data.validation / data.test need data.train too"):
        ForecastingData(test=str(test))


def test_cli_flags_for_covariates_and_series(tmp_path, capsys):
    train, test = (
        write_rows(tmp_path / "tr.csv", pm25_rows(240)),
        write_rows(tmp_path / "te.csv", pm25_rows(48, 0, 240)),
    )
    args = ["train", "--task", "forecasting", "--train", str(train), "--test", str(test), "--time-column", "No",
            "--value-column", "pm2.5", "--past-covariates", "DEWP,TEMP,PRES,cbwd,Iws", "--future-covariates",
            "hour", "--categorical", "cbwd,hour", "--set", "data.history=24", "--set", "data.horizon=6",
            "--set", "data.val_size=24", "--set", "data.season=24", "--set", "train.epochs=1",
            "--set", "model.rnn.hidden_size=8", "--quiet", "-o", str(tmp_path / "run")]  # fmt: skip
    assert main([*args, "--print-config"]) == 0
    shown = yaml.safe_load(capsys.readouterr().out)
    assert shown["data"]["covariates"] == {**COVARIATES, "encoding": "embedding"}
    assert main(args) == 0
    saved = load_run_config(tmp_path / "run" / "run.yaml")
    assert saved.data["covariates"] == COVARIATES and saved.data["train"] == str(train)
    assert json.loads((tmp_path / "run" / "results.json").read_text())["sizes"]["test"] == 48
    with pytest.raises(ConfigError, match=r"--past-covariates: goes with --task"):
        main(["train", "--past-covariates", "a"])


# ----- old run folders ----------------------------------------------------------------------------------
def test_an_old_layout_run_folder_still_predicts_and_evaluates(tmp_path):
    """A run folder as the single-series layout wrote it: run.yaml and task.json without covariate keys,
    the model's config.json without the covariate fields."""
    t = np.arange(200)
    values = 20 + 5 * np.sin(2 * np.pi * t / 12) + np.random.default_rng(0).normal(size=200)
    table = tmp_path / "s.csv"
    table.write_text("time,value\n" + "".join(f"t{i},{v:.6g}\n" for i, v in enumerate(values)))
    run = tmp_path / "old"
    (run / "model").mkdir(parents=True)
    data = {"dataset": "csv", "path": str(table), "history": 24, "horizon": 6, "val_size": 24, "test_size": 24,
            "season": 12}  # fmt: skip
    old = {"task": "forecasting", "data": data, "model": {"num_covariates": 0, "rnn": {"cell": "gru",
           "hidden_size": 8}}, "train": {"epochs": 1, "device": "cpu"}}  # fmt: skip
    (run / "run.yaml").write_text(yaml.safe_dump(old))
    state = {"column": "value", "train": ["t0", "t151"], "test": ["t176", "t199"],
             "sizes": {"train": 152, "val": 24, "test": 24}}  # fmt: skip
    (run / "task.json").write_text(json.dumps(state))
    task = ForecastingTask.from_run_config(load_run_config(run / "run.yaml"))
    torch.manual_seed(0)
    model = task.build_model()
    save_model(model, run / "model", extra={"task": "forecasting"})
    written = json.loads((run / "model" / "config.json").read_text())
    section = written["config"] if "config" in written else written
    for key in (
        "num_past_only_covariates",
        "known_categories",
        "past_only_categories",
        "category_embedding_dim",
    ):
        section.pop(key)  # the fields of this layout only
    (run / "model" / "config.json").write_text(json.dumps(written))
    history = ",".join(f"{v:.6g}" for v in values[150:176])
    (got,) = predict(run, [history])
    with torch.no_grad():
        want = model(torch.tensor(values[152:176], dtype=torch.float32)[None, :, None])[0, :, 0]
    assert got["history"] == 26 and got["forecast"] == pytest.approx(want.tolist(), abs=1e-3)
    assert evaluate(run)["samples"][0]["forecast"] == pytest.approx(
        predict(run, [",".join(f"{v:.6g}" for v in values[152:176])])[0]["forecast"], abs=1e-3
    )
    assert CovariateEncoder(ForecastingData().covariates, {}).columns("past") == []


def test_the_pm25_example_config_trains_on_a_table_of_that_shape(tmp_path):
    table = write_rows(tmp_path / "pm25.csv", pm25_rows(300))
    shrink = ["data.history=24", "data.horizon=6", "data.val_size=24", "data.test_size=48", "train.max_steps=2",
              "model.rnn.hidden_size=8", "train.device=cpu", f"data.path={table}"]  # fmt: skip
    assert (
        main(["train", "pm25", "--quiet", "-o", str(tmp_path / "run"), *[f"--set={o}" for o in shrink]]) == 0
    )
    results = json.loads((tmp_path / "run" / "results.json").read_text())
    assert results["baselines"]["ridge"]["name"].startswith(
        "ridge on 24 lags + 5 past-only and 2 known-future"
    )
    text = (Path(__file__).resolve().parents[2] / "rnnkit" / "configs" / "pm25.yaml").read_text()
    assert "--set data.path=/path/to/pm25.csv" in text and "/work/" not in text
