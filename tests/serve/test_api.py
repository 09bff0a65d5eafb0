"""The API on a real server: every route, every task that predict supports, the same numbers as
``rnnkit predict`` and ``rnnkit inspect``, errors as JSON."""

import gc

import httpx
import pytest
import torch

from rnnkit.inspect.examples import text_examples
from rnnkit.inspect.inspection import attention_of, call_steps, front_end_pool, saliency_of, sequence_values
from rnnkit.inspect.recording import record
from rnnkit.serve import Registry
from rnnkit.tasks.runner import load_run
from tests.serve.toy_runs import INPUTS

TASKS = list(INPUTS)


def test_health_and_readiness(server):
    assert httpx.get(server.url + "/v1/health/live").json() == {"status": "live", "models": []}
    ready = httpx.get(server.url + "/v1/health/ready")
    assert ready.status_code == 200 and set(ready.json()["models"]) == set(TASKS)


def test_models_describe_every_run(server, toy_runs):
    models = {m["name"]: m for m in httpx.get(server.url + "/v1/models").json()["models"]}
    assert set(models) == set(TASKS)
    for name, info in models.items():
        assert info["task"] == name and info["ready"] and info["error"] is None
        assert len(info["weights_sha256"]) == 64 and info["parameters"] > 0
        assert info["versions"]["torch"] == torch.__version__ and info["config"]
        assert info["limits"]["max_items"] == 64
        assert info == httpx.get(f"{server.url}/v1/models/{name}").json()
    assert models["classification"]["labels"] and models["classification"]["tokenizers"] == {
        "tokenizer": "char"
    }
    assert "test_accuracy" in models["classification"]["test_metrics"]
    assert models["translation"]["vocab_sizes"].keys() == {"source_vocab", "target_vocab"}
    assert models["series_classification"]["labels"] == ["fall", "rise"]
    assert {n for n, m in models.items() if m["inspectable"]} == set(TASKS)


@pytest.mark.parametrize("task", TASKS)
def test_predict_answers_what_rnnkit_predict_answers(server, toy_runs, task):
    answer = httpx.post(f"{server.url}/v1/models/{task}/predict", json={"inputs": INPUTS[task]})
    assert answer.status_code == 200, answer.text
    assert answer.json()["model"] == task
    run_task, model = load_run(toy_runs[task])
    assert answer.json()["outputs"] == run_task.predict(model, INPUTS[task])


@pytest.mark.parametrize("task", TASKS)
def test_inspect_gives_the_numbers_rnnkit_inspect_records(server, toy_runs, task):
    text = INPUTS[task][0]
    answer = httpx.post(f"{server.url}/v1/models/{task}/inspect", json={"input": text})
    assert answer.status_code == 200, answer.text
    view = answer.json()
    run_task, model = load_run(toy_runs[task])
    (example,) = text_examples(run_task, model, [text])  # what `rnnkit inspect --text` draws
    assert view["note"] == example.note
    with torch.no_grad(), record(model, check=True) as recording:
        run_task.compute_loss(model, example.batch)
    expected = [(call, k) for call in recording.calls if call.steps >= 2 for k in range(len(call.labels))]
    assert [(v["call"], v["label"]) for v in view["layers"]] == [(c.name, c.labels[k]) for c, k in expected]
    for layer, (call, k) in zip(view["layers"], expected):
        length, steps = call_steps(call, example, front_end_pool(model))
        assert layer["steps"] == steps and len(steps) == length
        values = sequence_values(call, k, length)
        assert set(layer["values"]) == set(values)
        for name, matrix in values.items():  # (T, H); the API sends units x steps
            got = torch.tensor(layer["values"][name])
            assert got.shape == (len(layer["units"]), length)
            torch.testing.assert_close(got, matrix[:, layer["units"]].T.float(), atol=1e-6, rtol=0)
    found = saliency_of(model, example)
    if found is None:
        assert view["saliency"] is None
    else:
        assert view["saliency"]["tokens"] == found[0]
        torch.testing.assert_close(
            torch.tensor(view["saliency"]["scores"]), found[1].float(), atol=1e-6, rtol=0
        )
    attention = attention_of(model, example, front_end_pool(model))
    if attention is None:
        assert view["attention"] is None
    else:
        got = torch.tensor(view["attention"]["weights"])
        torch.testing.assert_close(got, attention.weights.float(), atol=1e-6, rtol=0)
        assert view["attention"]["columns"] == attention.columns
        assert torch.allclose(got.sum(-1), torch.ones(len(got)), atol=1e-4)


def test_classifier_inspect_has_saliency_and_seq2seq_has_attention(server):
    bot = httpx.post(
        f"{server.url}/v1/models/classification/inspect", json={"input": "오늘 기분이 좋아"}
    ).json()
    assert bot["saliency"]["tokens"][:2] == ["오", "늘"] and bot["attention"] is None
    assert {v["label"] for v in bot["layers"]} == {"layer 0", "layer 0 reverse"}
    pair = httpx.post(f"{server.url}/v1/models/translation/inspect", json={"input": "one two three"}).json()
    assert pair["attention"]["columns"][:3] == ["one", "two", "three"] and pair["saliency"] is None
    assert {v["call"] for v in pair["layers"]} == {"encoder", "decoder"}


def test_a_wide_layer_is_summarised_by_its_most_varying_units(server):
    view = httpx.post(
        f"{server.url}/v1/models/tagging/inspect", json={"input": "the dog sees a cat .", "max_units": 3}
    ).json()
    for layer in view["layers"]:
        assert len(layer["units"]) == 3 and layer["size"] == 8 and "3 of 8 units" in layer["summary"]
        assert layer["units"] == sorted(layer["units"]) and all(len(r) == 6 for r in layer["values"]["f"])


def test_series_runs_are_inspected_over_their_steps(server):
    series = INPUTS["series_classification"][1]
    view = httpx.post(f"{server.url}/v1/models/series_classification/inspect", json={"input": series}).json()
    assert view["note"].startswith("predicted: ") and view["layers"]
    steps = len(series.split(";"))
    assert all(layer["steps"] == [str(t + 1) for t in range(steps)] for layer in view["layers"])
    scores = view["saliency"]["scores"]  # gradient x input on the standardised values, one per step
    assert len(scores) == steps and any(abs(s) > 0 for s in scores)
    history = INPUTS["forecasting"][0].split(",")
    view = httpx.post(f"{server.url}/v1/models/forecasting/inspect", json={"input": INPUTS["forecasting"][0]})
    assert view.status_code == 200, view.text
    (layer, *_) = view.json()["layers"]
    assert layer["steps"] == [f"{float(v):.4g}" for v in history[-len(layer["steps"]) :]]
    assert view.json()["note"].startswith("forecast of the next") and view.json()["saliency"] is None
    short = httpx.post(f"{server.url}/v1/models/forecasting/inspect", json={"input": "1,2,3"})
    assert short.status_code == 422 and short.json()["error"]["field"] == "input"
    assert "at least" in short.json()["error"]["message"]


def test_bad_inputs_are_422_naming_the_input(server):
    answer = httpx.post(
        f"{server.url}/v1/models/series_classification/predict", json={"inputs": ["1,2;3,4", "1,2,3;4"]}
    )
    assert answer.status_code == 422
    error = answer.json()["error"]
    assert error["field"] == "inputs[1]" and "expected 2" in error["message"]
    answer = httpx.post(f"{server.url}/v1/models/forecasting/predict", json={"inputs": ["1,2,x"]})
    assert answer.status_code == 422 and answer.json()["error"]["field"] == "inputs[0]"


@pytest.mark.parametrize(
    ("body", "status", "field"),
    [
        (b"{not json", 400, None),
        (b"[1, 2]", 400, None),
        (b'{"inputs": []}', 422, "inputs"),
        (b'{"inputs": ["a", 3]}', 422, "inputs[1]"),
        (b'{"inputs": ["a"], "extra": 1}', 422, "extra"),
        (b'{"texts": ["a"]}', 422, "inputs"),
    ],
)
def test_malformed_bodies_are_json_errors_never_500(server, body, status, field):
    answer = httpx.post(
        f"{server.url}/v1/models/classification/predict",
        content=body,
        headers={"Content-Type": "application/json"},
    )
    assert answer.status_code == status, answer.text
    assert set(answer.json()["error"]) == {"code", "message", "field"}
    assert answer.json()["error"]["field"] == field


def test_unknown_models_and_routes_are_404_and_no_file_is_read(server):
    answer = httpx.post(f"{server.url}/v1/models/nope/predict", json={"inputs": ["a"]})
    assert answer.status_code == 404 and "classification" in answer.json()["error"]["message"]
    for path in ("/nothing", "/static/../run.yaml", "/static/%2e%2e/registry.py", "/v1/models/..%2Frun.yaml"):
        answer = httpx.get(server.url + path)
        assert answer.status_code == 404 and "error" in answer.json()
    answer = httpx.get(server.url + "/v1/models/classification/predict")
    assert answer.status_code == 405 and answer.json()["error"]["code"] == "method_not_allowed"


def test_openapi_schema_documents_the_api(server):
    schema = httpx.get(server.url + "/openapi.json").json()
    paths = schema["paths"]
    for path in (
        "/v1/health/live",
        "/v1/health/ready",
        "/v1/models",
        "/v1/models/{name}",
        "/v1/models/{name}/predict",
        "/v1/models/{name}/inspect",
        "/v1/metrics",
    ):
        assert path in paths, path
    predict = paths["/v1/models/{name}/predict"]["post"]
    assert {"200", "401", "413", "422", "429", "504"} <= set(predict["responses"])
    assert {"PredictRequest", "InspectResponse", "LayerView", "ErrorBody"} <= set(
        schema["components"]["schemas"]
    )


def test_the_page_and_its_files_are_served_offline(server):
    page = httpx.get(server.url + "/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    for name in ("static/app.js", "static/style.css"):
        asset = httpx.get(f"{server.url}/{name}")
        assert asset.status_code == 200
        assert (
            "http://" not in asset.text.replace("http://www.w3.org/2000/svg", "")
            and "https://" not in asset.text
        )
    assert "https://" not in page.text and 'src="static/app.js"' in page.text


def test_predict_takes_per_request_options_and_batches_only_equal_options(server, toy_runs):
    url = f"{server.url}/v1/models/classification/predict"
    info = httpx.get(f"{server.url}/v1/models/classification").json()
    assert "top_k" in info["predict_options"]
    top = httpx.post(url, json={"inputs": INPUTS["classification"], "options": {"top_k": 2}}).json()[
        "outputs"
    ]
    run_task, model = load_run(toy_runs["classification"], data_overrides=["top_k=2"])
    assert top == run_task.predict(model, INPUTS["classification"])  # as `rnnkit predict --set top_k=2`
    assert all(len(o["top"]) == 2 and o["top"][0]["label"] == o["label"] for o in top)
    plain = httpx.post(url, json={"inputs": INPUTS["classification"]}).json()["outputs"]
    assert all("top" not in o for o in plain)

    lm = f"{server.url}/v1/models/language_model/predict"
    prompt = INPUTS["language_model"][:1]

    def sample(seed):
        options = {"generation.seed": seed, "generation.temperature": 1.5, "generation.max_new_tokens": 30}
        return httpx.post(lm, json={"inputs": prompt, "options": options}).json()["outputs"][0][
            "continuation"
        ]

    assert sample(1) == sample(1) and len({sample(s) for s in range(1, 6)}) > 1  # reproducible, seeded


@pytest.mark.parametrize(
    ("model", "options", "fragment"),
    [
        ("classification", {"temperature": 2}, "options.temperature: unknown option for classification"),
        ("classification", {"top_k": 0}, "top_k must be an integer >= 1"),
        ("language_model", {"generation.temperature": -1}, "temperature must be > 0"),
        ("tagging", {"top_k": 2}, "known: none for this task"),
    ],
)
def test_bad_options_are_422_naming_the_option(server, model, options, fragment):
    answer = httpx.post(
        f"{server.url}/v1/models/{model}/predict", json={"inputs": INPUTS[model], "options": options}
    )
    assert answer.status_code == 422, answer.text
    body = answer.json()
    assert fragment in answer.text and body["error"]["field"].startswith("options."), body


def test_a_server_registry_freezes_what_it_loaded_out_of_the_collector(toy_runs):
    # rnnkit serve's registry: the loaded objects leave the collector's generations (no 60 ms full
    # collections under load); a library registry leaves the process's collector alone
    assert gc.get_freeze_count() == 0
    library = Registry([toy_runs["classification"]])
    library.load_all()
    library.close()
    assert library.ready and gc.get_freeze_count() == 0
    registry = Registry([toy_runs["classification"]], freeze_gc=True)
    try:
        registry.load_all()
        assert registry.ready and gc.get_freeze_count() > 1000
    finally:
        gc.unfreeze()
        registry.close()
