"""An exported text classifier predicts what its run predicts, encoded the same way, at any batch and length."""

import json

import numpy as np
import pytest
import torch

pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")

from rnnkit.export.folder import export_run
from rnnkit.export.runtime import load_export
from rnnkit.tasks.runner import load_run, predict
from tests.export.runs import CHATTERBOT, make_run

TEXTS = ["what is your favorite food?", "오늘 기분이 좋아", "", "hi", "Tell me a joke about computers, please!",
         "e\u0301t\u00e9 ÉTÉ", "a " * 40, "무엇을 도와드릴까요? 날씨가 참 좋네요"]  # fmt: skip

SMALL_RNN = {"cell": "lstm", "hidden_size": 6, "bidirectional": True}
VARIANTS = {
    "last": ({"tokenizer": "char"}, {"embedding_dim": 8, "rnn": SMALL_RNN, "pooling": "last"}),
    "mean-gru": ({"tokenizer": "word"}, {"embedding_dim": 8, "rnn": {"cell": "gru", "hidden_size": 5,
                                                                      "num_layers": 2}, "pooling": "mean"}),
    "conv-max": ({"tokenizer": "char", "max_length": 12, "top_k": 3},
                 {"preset": "conv_lstm", "embedding_dim": 8, "conv": {"channels": 6, "kernel_sizes": [3, 5],
                  "pool_size": 2}, "rnn": SMALL_RNN, "pooling": "max"}),
    "chars-attention": ({"tokenizer": "word", "characters": True, "max_word_length": 5},
                        {"embedding_dim": 8, "char_filters": 4, "char_embedding_dim": 3,
                         "rnn": {"cell": "rnn", "hidden_size": 5}, "pooling": "attention"}),
}  # fmt: skip


@pytest.fixture(scope="module", params=sorted(VARIANTS))
def exported(request, tmp_path_factory):
    data, model = VARIANTS[request.param]
    run = make_run(
        tmp_path_factory.mktemp("runs") / request.param, "classification", {**CHATTERBOT, **data}, model
    )
    return run, export_run(run, run / "export")


def test_predictions_equal_the_runs(exported):
    run, result = exported
    for texts in (TEXTS, TEXTS[:1], TEXTS[3:5] * 5):  # batch sizes and lengths unlike the export's (3, 9)
        assert [_rounded(p) for p in load_export(result.folder).predict(texts)] == [
            _rounded(p) for p in predict(run, texts)
        ]


def test_inputs_and_probabilities_match_the_model_within_1e5(exported):
    run, result = exported
    task, model = load_run(run, "cpu")
    exported_model = load_export(result.folder)
    arrays = exported_model.predictor.encoder.encode(TEXTS)
    batch = task.batch(TEXTS)
    assert np.array_equal(arrays["tokens"], batch["inputs"].numpy())
    assert np.array_equal(arrays["lengths"], batch["lengths"].numpy())
    if "chars" in batch:
        assert np.array_equal(arrays["chars"], batch["chars"].numpy())
    got = exported_model.session.run(["probabilities"], arrays)[0]
    with torch.no_grad():
        expected = model.predict_proba(batch["inputs"], batch["lengths"], **task.model_extras(batch)).numpy()
    assert np.abs(got - expected).max() <= 1e-5


def test_the_manifest_describes_the_folder(exported):
    _, result = exported
    manifest = json.loads((result.folder / "manifest.json").read_text())
    assert manifest["task"] == "classification" and manifest["opset"] == 17
    assert set(manifest["files"]) == {"model.onnx", "preprocessing.json", "labels.json", "README.md"}
    assert [s["name"] for s in manifest["inputs"]][:2] == ["tokens", "lengths"]
    assert manifest["inputs"][0]["shape"] == ["batch", "time"]
    assert {"rnnkit", "torch", "onnx", "onnxruntime"} <= set(manifest["versions"])
    assert set(manifest["export_test_metrics"]["float32"]) == {"test_accuracy", "test_macro_f1"}


def _rounded(prediction):
    """A prediction with its probabilities to 3 places: the 4th may round the other way (1e-7 apart)."""
    out = {**prediction, "probability": round(prediction["probability"], 3)}
    if "top" in out:
        out["top"] = [{**t, "probability": round(t["probability"], 3)} for t in out["top"]]
    return out
