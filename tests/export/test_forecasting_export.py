"""An exported forecaster forecasts as its run: window offset and scaler in the graph, log and quantiles
as the run reads them; runs with covariates (past-only, known-future, categorical) or several series export
a graph of the task's own input arrays, equal to the model and scoring the run's test windows as it does."""

import json

import numpy as np
import pytest
import yaml

pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")

from rnnkit.cli.main import main
from rnnkit.export.folder import export_run
from rnnkit.export.runtime import ExportInputError, load_export
from rnnkit.tasks.runner import load_run, predict
from tests.export.runs import make_run
from tests.tasks.test_forecasting import SMALL_DATA, seasonal_values, write_csv
from tests.tasks.test_forecasting_multivariate import pm25_data, pm25_rows, shops, write_rows

VARIANTS = {
    "gru-point": ({}, {"rnn": {"cell": "gru", "hidden_size": 8}}),
    "lstm-quantiles-log-last": (
        {"log_transform": True, "window_level": "last"},
        {"rnn": {"cell": "lstm", "hidden_size": 6}, "quantiles": [0.1, 0.5, 0.9]},
    ),
    "autoregressive-mean": ({"window_level": "mean"}, {"rnn": {"cell": "gru", "hidden_size": 5},
                                                       "mode": "autoregressive"}),
}  # fmt: skip


def histories(count, seed):
    values = seasonal_values(400, seed=seed)
    return [",".join(f"{v:.3f}" for v in values[k * 7 : k * 7 + 24 + k]) for k in range(count)]


@pytest.fixture(scope="module", params=sorted(VARIANTS))
def exported(request, tmp_path_factory):
    folder = tmp_path_factory.mktemp(request.param)
    data, model = VARIANTS[request.param]
    csv = write_csv(folder / "s.csv", seasonal_values())
    run = make_run(
        folder / "run", "forecasting", {"dataset": "csv", "path": str(csv), **SMALL_DATA, **data}, model
    )
    return run, export_run(run, run / "export").folder


def close(got, expected):
    """Forecasts to 4 places may differ in the last one (float32 in two runtimes): compare to 1e-3."""
    if isinstance(got, dict):
        return got.keys() == expected.keys() and all(close(got[k], expected[k]) for k in got)
    if isinstance(got, list):
        return len(got) == len(expected) and all(close(g, e) for g, e in zip(got, expected))
    if isinstance(got, float):
        return abs(got - expected) <= 1e-3 * max(1.0, abs(expected))
    return got == expected


def test_forecasts_equal_the_runs(exported):
    run, folder = exported
    model = load_export(folder)
    for texts in (histories(5, 1), histories(1, 2), histories(9, 3)):
        assert close(model.predict(texts), predict(run, texts))


def test_the_graph_matches_the_model_within_1e5(exported):
    run, folder = exported
    task, net = load_run(run, "cpu")
    windows = np.stack([np.array(h.split(","), dtype=np.float64)[-24:] for h in histories(6, 4)])
    levels = np.log(windows) if task.data.log_transform else windows
    got = load_export(folder).session.run(None, {"history": levels.astype(np.float32)})[0]
    expected = task.forecast_items(net, {"history": levels}, np.zeros(6), np.ones(6))
    expected = np.log(expected) if task.data.log_transform else expected
    assert np.abs(got - expected).max() <= 1e-5 * max(1.0, np.abs(expected).max())


def test_bad_histories_name_the_input(exported):
    _, folder = exported
    model = load_export(folder)
    with pytest.raises(ExportInputError, match="input 2: expected at least 24 comma-separated values"):
        model.predict([histories(1, 0)[0], "1,2,3"])
    with pytest.raises(ExportInputError, match="input 1: next_day.csv: no such file"):
        model.predict(["next_day.csv"])


def test_forecast_with_torch_imports_refused(exported, tmp_path):
    from tests.export.test_torch_free import predict_without_torch

    run, folder = exported
    texts = histories(3, 5)
    assert close(predict_without_torch(folder, texts, tmp_path), predict(run, texts))


# ----- runs that read tables: covariates, several series ---------------------------------------------------
MIXED = {"past": ["DEWP", "TEMP", "cbwd"], "future": ["PRES", "hour"], "categorical": ["cbwd", "hour"]}
TABLE_VARIANTS = {
    "covariates-embedded-quantiles": (
        {"covariates": MIXED},
        {"rnn": {"cell": "gru", "hidden_size": 6}, "quantiles": [0.1, 0.5, 0.9]},
    ),
    "covariates-one-hot-log-last": (
        {
            "covariates": {**MIXED, "encoding": "one_hot"},
            "log_transform": True,
            "window_level": "last",
            "missing": "interpolate",
        },
        {"rnn": {"cell": "lstm", "hidden_size": 5}},
    ),
    "future-only-autoregressive": (
        {"covariates": {"future": ["PRES", "hour"], "categorical": ["hour"]}, "window_level": "mean"},
        {"rnn": {"cell": "gru", "hidden_size": 5}, "mode": "autoregressive"},
    ),
    "series-column-quantiles": (
        None,
        {"rnn": {"cell": "gru", "hidden_size": 6}, "quantiles": [0.2, 0.5, 0.8]},
    ),
}


@pytest.fixture(scope="module", params=sorted(TABLE_VARIANTS))
def table_exported(request, tmp_path_factory):
    folder = tmp_path_factory.mktemp(request.param)
    extra, model = TABLE_VARIANTS[request.param]
    if extra is None:  # three shops of very different levels, each scaled on its own
        (folder / "shops.csv").write_text(shops()[0], encoding="utf-8")
        data = {"train": str(folder / "shops.csv"), "series_column": "shop", "history": 12, "horizon": 3,
                "val_size": 12, "test_size": 24, "season": 12, "window_level": "last"}  # fmt: skip
    else:
        data = pm25_data(write_rows(folder / "pm25.csv", pm25_rows(300)), **{**extra, "val_size": 24,
                                                                             "test_size": 48})  # fmt: skip
    run = make_run(folder / "run", "forecasting", data, model)
    return run, export_run(run, run / "export").folder


def test_a_table_run_exports_its_inputs(table_exported):
    run, folder = table_exported
    task, net = load_run(run, "cpu")
    manifest = json.loads((folder / "manifest.json").read_text())
    names = [spec["name"] for spec in manifest["inputs"]]
    config = net.config
    expected = ["history"] + ["past_covariates", "future_covariates"] * bool(config.num_covariates)
    assert names == expected + ["past_only_covariates"] * bool(config.num_past_only_covariates)
    preprocessing = json.loads((folder / "preprocessing.json").read_text())
    state = json.loads((run / "task.json").read_text())
    assert preprocessing["categories"] == state.get("categories", {})
    if task.several:
        assert preprocessing["series_scaling"] == state["series_scaling"]
        assert sorted(preprocessing["series_scaling"]) == ["a", "b", "c"]
    readme = (folder / "README.md").read_text()
    assert all(f"`{name}`" in readme for name in names)


def test_a_table_runs_graph_matches_the_model_within_1e5_at_other_batch_sizes(table_exported):
    run, folder = table_exported
    task, net = load_run(run, "cpu")
    items = task.loaders()[2].dataset.items  # the test windows, as the run batches them
    session = load_export(folder).session
    for size in (1, 5, 17):  # the example had 3
        chunk = {name: value[:size].numpy() for name, value in items.items()}
        feeds = {spec.name: chunk[spec.name][..., 0] if spec.name == "history" else chunk[spec.name]
                 for spec in session.get_inputs()}  # fmt: skip
        got = session.run(None, feeds)[0].astype(np.float64)
        expected = task.forecast_items(net, {**chunk, "history": chunk["history"][..., 0]},
                                       np.zeros(size), np.ones(size))  # fmt: skip
        expected = np.log(expected) if task.data.log_transform else expected
        assert got.shape == expected.shape
        assert np.abs(got - expected).max() <= 1e-5 * max(1.0, np.abs(expected).max())


def test_a_table_runs_export_scores_the_test_windows_as_the_run(table_exported):
    run, folder = table_exported
    task, net = load_run(run, "cpu")
    expected = task.evaluate(net, task.loaders()[2])
    got = json.loads((folder / "manifest.json").read_text())["export_test_metrics"]["float32"]
    assert got["test_mae"] == pytest.approx(expected["val_mae"], rel=1e-5)
    assert got["test_rmse"] == pytest.approx(expected["val_rmse"], rel=1e-5)


def predict_tables(run, folder):
    """Predict tables for a table run (two, one with an unseen category or series) in its columns."""
    data = yaml.safe_load((run / "run.yaml").read_text())["data"]
    if data.get("series_column"):
        text = shops()[0].splitlines()
        header, rows = text[0], text[1:]
        recent = rows[-3 * 20 :]  # the last 20 days of the three shops
        new = [f"{150 + k},d,{5 + np.sin(k):.3f}" for k in range(16)]  # a shop training never saw
        blanks = [f"{150 + k},{shop}," for k in range(2) for shop in "ab"]  # 2 of 3 steps, times given
        first = folder.parent / "next_shops.csv"
        first.write_text("\n".join([header, *recent, *blanks]) + "\n", encoding="utf-8")
        second = folder.parent / "new_shop.csv"
        second.write_text("\n".join([header, *recent[-36:], *new]) + "\n", encoding="utf-8")
        return [str(first), str(second)]
    rows = pm25_rows(300)
    if data.get("missing") == "interpolate":  # gaps in the history, filled as in training
        rows[210][6], rows[215][5], rows[216][9] = "", "", ""
    future = [[*r[:5], "", *r[6:]] for r in rows[230:236]]  # value blank: the steps to forecast
    future[2][9] = "WSW"  # a wind direction never seen: the unknown category
    future[3][4] = "99"  # and an hour
    first = write_rows(folder.parent / "next.csv", rows[200:230] + future)
    second = write_rows(
        folder.parent / "later.csv", rows[250:274] + [[*r[:5], "", *r[6:]] for r in rows[274:280]]
    )
    return [str(first), str(second)]


def test_a_table_runs_export_forecasts_tables_as_the_run(table_exported, capsys):
    run, folder = table_exported
    tables = predict_tables(run, folder)
    expected = predict(run, tables)
    got = load_export(folder).predict(tables)
    assert close(got, expected)
    assert any("unseen_categories" in f or "scaled_by" in f for r in got for f in r["forecasts"])
    assert main(["predict", str(folder), *tables]) == 0
    printed = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert close(printed, expected)


def test_a_table_runs_export_refuses_what_the_run_refuses(table_exported):
    run, folder = table_exported
    model = load_export(folder)
    with pytest.raises(ValueError) as from_run:
        predict(run, ["1, 2, 3"])
    with pytest.raises(ExportInputError, match=r"input 1: this run reads a table: .*columns") as from_export:
        model.predict(["1, 2, 3"])
    assert str(from_export.value) == str(from_run.value)
    missing = str(folder.parent / "missing.csv")
    with pytest.raises(ExportInputError, match=r"input 2: .*missing.csv: no such file"):
        model.predict([predict_tables(run, folder)[0], missing])


def test_a_table_forecast_with_torch_imports_refused(table_exported, tmp_path):
    from tests.export.test_torch_free import predict_without_torch

    run, folder = table_exported
    tables = predict_tables(run, folder)
    assert close(predict_without_torch(folder, tables, tmp_path), predict(run, tables))
