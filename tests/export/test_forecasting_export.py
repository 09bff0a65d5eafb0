"""An exported forecaster forecasts as its run: window offset and scaler in the graph, log and quantiles
as the run reads them; runs with covariates or several series are refused, saying why."""

import numpy as np
import pytest

pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")

from rnnkit.export.folder import export_run
from rnnkit.export.manifest import NotExportable
from rnnkit.export.runtime import ExportInputError, load_export
from rnnkit.tasks.runner import load_run, predict
from tests.export.runs import make_run
from tests.tasks.test_forecasting import SMALL_DATA, seasonal_values, write_csv

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
    with pytest.raises(ExportInputError, match="input 1: an export folder forecasts comma-separated"):
        model.predict(["next_day.csv"])


def test_a_run_with_covariates_is_refused_saying_why(tmp_path):
    rng = np.random.default_rng(0)
    rows = "".join(f"t{i},{20 + np.sin(i / 2):.4f},{rng.normal():.4f}\n" for i in range(200))
    (tmp_path / "c.csv").write_text("time,value,temp\n" + rows, encoding="utf-8")
    data = {"dataset": "csv", "path": str(tmp_path / "c.csv"), **SMALL_DATA,
            "covariates": {"past": ["temp"]}}  # fmt: skip
    run = make_run(tmp_path / "run", "forecasting", data, {"rnn": {"cell": "gru", "hidden_size": 4}})
    with pytest.raises(
        NotExportable, match=r"task 'forecasting' with covariates .*Predict with the run folder"
    ):
        export_run(run, tmp_path / "out")


def test_forecast_with_torch_imports_refused(exported, tmp_path):
    from tests.export.test_torch_free import predict_without_torch

    run, folder = exported
    texts = histories(3, 5)
    assert close(predict_without_torch(folder, texts, tmp_path), predict(run, texts))
