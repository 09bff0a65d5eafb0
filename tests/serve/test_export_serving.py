"""``rnnkit serve EXPORT_DIR``: an export folder served on ONNX Runtime, in a process where torch cannot be
imported; its answers are the folder's own predictions, and what an export cannot do is a 422 saying why."""

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")
pytest.importorskip("fastapi")

from fastapi.testclient import TestClient

from rnnkit.export.folder import export_run
from rnnkit.export.runtime import load_export
from rnnkit.serve import Registry, create_app
from tests.export.runs import CHATTERBOT, make_run

REPO = Path(__file__).resolve().parents[2]
TEXTS = ["what is your favorite food?", "오늘 기분이 좋아", "hi"]
MODEL = {
    "embedding_dim": 8,
    "rnn": {"cell": "lstm", "hidden_size": 8, "bidirectional": True},
    "pooling": "max",
}

# Runs in a fresh interpreter with an import hook that refuses torch: the server, its app and the export
# runtime load, answer, and never import it.
SERVE_WITHOUT_TORCH = textwrap.dedent(
    """
    import json, sys, time

    class RefuseTorch:
        def find_spec(self, name, path=None, target=None):
            if name == "torch" or name.startswith("torch."):
                raise ImportError("torch is refused in this test")

    sys.meta_path.insert(0, RefuseTorch())
    from fastapi.testclient import TestClient
    from rnnkit.serve import Registry, create_app

    folder, precision, texts = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
    with TestClient(create_app(Registry([folder], names=["bot"], precision=precision))) as client:
        deadline = time.monotonic() + 60
        while client.get("/v1/health/ready").status_code != 200 and time.monotonic() < deadline:
            time.sleep(0.05)
        out = {
            "ready": client.get("/v1/health/ready").status_code,
            "predict": client.post("/v1/models/bot/predict", json={"inputs": texts}).json(),
            "info": client.get("/v1/models/bot").json(),
        }
    out["torch_imported"] = "torch" in sys.modules
    print(json.dumps(out))
    """
)


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    run = make_run(tmp_path_factory.mktemp("runs") / "bot", "classification", {**CHATTERBOT, "tokenizer": "char"},
                   MODEL)  # fmt: skip
    return export_run(run, run / "export", quantize="int8").folder


def serve_without_torch(folder: Path, precision: str) -> dict:
    result = subprocess.run([sys.executable, "-c", SERVE_WITHOUT_TORCH, str(folder), precision, json.dumps(TEXTS)],
                            capture_output=True, text=True, timeout=240, cwd=REPO)  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("precision", ["float32", "int8"])
def test_an_export_folder_is_served_without_torch_with_its_own_predictions(folder, precision):
    got = serve_without_torch(folder, precision)
    assert got["ready"] == 200 and got["torch_imported"] is False
    assert got["predict"]["outputs"] == load_export(folder, precision).predict(TEXTS)
    info, manifest = got["info"], json.loads((folder / "manifest.json").read_text())
    assert info["task"] == "classification" and info["inspectable"] is False
    assert info["labels"] == json.loads((folder / "labels.json").read_text())
    assert info["weights_sha256"] == manifest["files"][manifest["models"][precision]]["sha256"]
    assert "torch" not in info["versions"] and "onnxruntime" in info["versions"]
    assert info["test_metrics"] == manifest["export_test_metrics"][precision]


@pytest.fixture
def client(folder):
    with TestClient(create_app(Registry([folder], names=["bot"]))) as client:
        assert client.app.state.registry.loaded.wait(60) and client.get("/v1/health/ready").status_code == 200
        yield client


def test_options_and_inspect_are_refused_with_the_reason(client):
    refused = client.post("/v1/models/bot/predict", json={"inputs": TEXTS, "options": {"top_k": 3}})
    assert refused.status_code == 422
    assert refused.json()["error"]["field"] == "options.top_k"
    assert "saved at export" in refused.json()["error"]["message"]
    inspected = client.post("/v1/models/bot/inspect", json={"input": "hi"})
    assert inspected.status_code == 422 and "serve the run folder" in inspected.json()["error"]["message"]


def test_concurrent_requests_are_batched_and_answer_as_alone(client, folder):
    import concurrent.futures

    alone = load_export(folder).predict(TEXTS)
    with concurrent.futures.ThreadPoolExecutor(6) as pool:
        answers = list(pool.map(lambda k: client.post("/v1/models/bot/predict", json={"inputs": [TEXTS[k % 3]]}),
                                range(12)))  # fmt: skip
    assert [a.json()["outputs"][0] for a in answers] == [alone[k % 3] for k in range(12)]


def test_a_tampered_export_is_not_served(folder, tmp_path):
    import shutil

    copy = shutil.copytree(folder, tmp_path / "copy")
    labels = copy / "labels.json"
    labels.write_text(labels.read_text().replace("food", "f00d"))
    with TestClient(create_app(Registry([copy], names=["bot"]))) as client:
        registry = client.app.state.registry
        assert registry.loaded.wait(60)
        ready = client.get("/v1/health/ready")
        assert ready.status_code == 503 and "labels.json" in json.dumps(ready.json())
        assert client.post("/v1/models/bot/predict", json={"inputs": ["hi"]}).status_code == 503


def test_a_forecasting_export_refuses_file_names_and_bad_histories(tmp_path):
    from tests.tasks.test_forecasting import SMALL_DATA, seasonal_values, write_csv

    csv = write_csv(tmp_path / "s.csv", seasonal_values())
    run = make_run(tmp_path / "run", "forecasting", {"dataset": "csv", "path": str(csv), **SMALL_DATA},
                   {"rnn": {"cell": "gru", "hidden_size": 4}})  # fmt: skip
    exported = export_run(run, run / "export").folder
    history = ",".join(f"{v:.3f}" for v in seasonal_values(60))
    with TestClient(create_app(Registry([exported], names=["sales"]))) as client:
        assert client.app.state.registry.loaded.wait(60)
        ok = client.post("/v1/models/sales/predict", json={"inputs": [history]})
        assert ok.status_code == 200 and ok.json()["outputs"] == load_export(exported).predict([history])
        for bad, words in (("/etc/passwd.csv", "reads no files"), ("1,2,x", "comma-separated numbers")):
            answer = client.post("/v1/models/sales/predict", json={"inputs": [history, bad]})
            assert answer.status_code == 422, answer.json()
            assert (
                answer.json()["error"]["field"] == "inputs[1]" and words in answer.json()["error"]["message"]
            )


def test_a_folder_that_is_neither_a_run_nor_an_export_is_refused(tmp_path):
    with pytest.raises(FileNotFoundError, match="nor an export folder"):
        Registry([tmp_path])
