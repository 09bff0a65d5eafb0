"""An exported series classifier predicts as its run, from raw series strings, standardised the same way."""

import numpy as np
import pytest
import torch

pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")

from rnnkit.export.folder import export_run
from rnnkit.export.runtime import ExportInputError, load_export
from rnnkit.tasks.runner import load_run, predict
from tests.export.runs import make_run
from tests.tasks.test_series_classification import write_pair

SERIES = ["1,10;2,12;3,9;4,11;5,10", "5,8", "9,10;8,?;7,12;6,10;5,9;4,10;3,11;2,9;1,10;0,10;-1,12;-2,9",
          "3.5,7.25;" * 30]  # fmt: skip


@pytest.fixture(scope="module", params=["gru-mean", "conv-lstm-last"])
def exported(request, tmp_path_factory):
    folder = tmp_path_factory.mktemp(request.param)
    data = {"dataset": "ts", "path": str(write_pair(folder / "data"))}
    model = {"rnn": {"cell": "gru", "hidden_size": 6}, "pooling": "mean"}
    if request.param == "conv-lstm-last":
        model = {"conv": {"channels": 4, "kernel_sizes": [3], "pool_size": 2},
                 "rnn": {"cell": "lstm", "hidden_size": 5, "bidirectional": True}, "pooling": "last"}  # fmt: skip
    run = make_run(folder / "run", "series_classification", data, model)
    return run, export_run(run, run / "export").folder


def test_predictions_equal_the_runs(exported):
    run, folder = exported
    model = load_export(folder)
    for batch in (SERIES, SERIES[1:2], SERIES[::-1] * 4):
        got, expected = model.predict(batch), predict(run, batch)
        assert [{**g, "probability": round(g["probability"], 3)} for g in got] == [
            {**e, "probability": round(e["probability"], 3)} for e in expected
        ]


def test_probabilities_match_the_model_within_1e5(exported):
    run, folder = exported
    task, net = load_run(run, "cpu")
    values = task.encode_inputs(task.parse_inputs(SERIES))
    session = load_export(folder).session
    got = session.run(None, {"values": values["inputs"].numpy(), "lengths": values["lengths"].numpy()})[0]
    with torch.no_grad():
        expected = net.predict_proba(values["inputs"], values["lengths"]).numpy()
    assert np.abs(got - expected).max() <= 1e-5


def test_a_malformed_series_names_the_input(exported):
    _, folder = exported
    with pytest.raises(ExportInputError, match="input 2: step 1 has 3 values, expected 2"):
        load_export(folder).predict(["1,2;3,4", "1,2,3"])


def test_series_predict_with_torch_imports_refused(exported, tmp_path):
    from tests.export.test_torch_free import predict_without_torch

    run, folder = exported
    got = predict_without_torch(folder, SERIES, tmp_path)
    assert [g["label"] for g in got] == [e["label"] for e in predict(run, SERIES)]
