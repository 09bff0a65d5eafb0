"""Limits, keys and time on a real server: 401, 413, 422, 429 (with Retry-After), 504, all as JSON."""

import asyncio

import httpx
import pytest

from rnnkit.serve import ServeConfig
from tests.serve.live import LiveServer

KEY = "s3cret-key"
AUTH = {"Authorization": f"Bearer {KEY}"}


@pytest.fixture(scope="module")
def guarded(toy_runs):
    config = ServeConfig(api_key=KEY, max_body_bytes=2000, max_items=3, max_chars=50)
    with LiveServer([toy_runs["classification"]], config) as live:
        yield live


def error_of(answer: httpx.Response) -> dict:
    body = answer.json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message", "field"}
    return body["error"]


def test_every_v1_route_but_health_needs_the_key(guarded):
    assert httpx.get(guarded.url + "/v1/health/live").status_code == 200
    assert httpx.get(guarded.url + "/v1/health/ready").status_code == 200
    assert httpx.get(guarded.url + "/").status_code == 200  # the page asks for the key itself
    for method, path, body in [("GET", "/v1/models", None), ("GET", "/v1/models/classification", None),
                               ("POST", "/v1/models/classification/predict", {"inputs": ["hi"]}),
                               ("POST", "/v1/models/classification/inspect", {"input": "hi"}),
                               ("GET", "/v1/metrics", None)]:  # fmt: skip
        for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": f"Basic {KEY}"}):
            answer = httpx.request(method, guarded.url + path, json=body, headers=headers)
            assert answer.status_code == 401, (path, headers)
            assert (
                answer.headers["WWW-Authenticate"] == "Bearer" and error_of(answer)["code"] == "unauthorized"
            )
        assert httpx.request(method, guarded.url + path, json=body, headers=AUTH).status_code == 200, path


def test_a_large_body_is_413_declared_or_streamed(guarded):
    big = {"inputs": ["x" * 3000]}
    answer = httpx.post(guarded.url + "/v1/models/classification/predict", json=big, headers=AUTH)
    assert answer.status_code == 413 and error_of(answer)["code"] == "body_too_large"

    def chunks():  # no Content-Length: the server counts what arrives
        for _ in range(10):
            yield b" " * 500

    answer = httpx.post(guarded.url + "/v1/models/classification/predict", content=chunks(),
                        headers={**AUTH, "Content-Type": "application/json"})  # fmt: skip
    assert answer.status_code == 413
    assert httpx.get(guarded.url + "/v1/health/live").status_code == 200  # still up


def test_too_many_items_and_too_long_inputs_are_422_naming_the_field(guarded):
    url = guarded.url + "/v1/models/classification/predict"
    answer = httpx.post(url, json={"inputs": ["a", "b", "c", "d"]}, headers=AUTH)
    assert answer.status_code == 422
    assert error_of(answer)["field"] == "inputs" and "at most 3" in error_of(answer)["message"]
    answer = httpx.post(url, json={"inputs": ["short", "y" * 51]}, headers=AUTH)
    assert answer.status_code == 422
    assert error_of(answer) == {
        "code": "input_too_long",
        "field": "inputs[1]",
        "message": "inputs[1]: 51 characters, at most 50 (rnnkit serve --max-chars)",
    }
    answer = httpx.post(
        guarded.url + "/v1/models/classification/inspect", json={"input": "z" * 60}, headers=AUTH
    )
    assert answer.status_code == 422 and error_of(answer)["field"] == "input"
    answer = httpx.post(guarded.url + "/v1/models/classification/inspect", json={"input": "hi", "max_units": 5000},
                        headers=AUTH)  # fmt: skip
    assert answer.status_code == 422 and error_of(answer)["field"] == "max_units"


async def _concurrently(url: str, bodies: list[dict]) -> list[httpx.Response]:
    async with httpx.AsyncClient(timeout=30) as client:
        return await asyncio.gather(*(client.post(url, json=body) for body in bodies))


def test_a_full_queue_is_429_with_retry_after(toy_runs):
    # the first request waits 600 ms for company, so the queue (2 inputs) is still full when the third comes
    config = ServeConfig(max_queue=2, max_batch=8, max_wait_ms=600, timeout_s=20)
    with LiveServer([toy_runs["classification"]], config) as live:
        url = live.url + "/v1/models/classification/predict"
        answers = asyncio.run(_concurrently(url, [{"inputs": [f"hello {k}"]} for k in range(4)]))
        codes = sorted(a.status_code for a in answers)
        assert codes == [200, 200, 429, 429]
        refused = next(a for a in answers if a.status_code == 429)
        assert refused.headers["Retry-After"] == "1" and error_of(refused)["code"] == "queue_full"
        metrics = httpx.get(live.url + "/v1/metrics").json()["models"]["classification"]
        assert metrics["rejected"] == 2 and metrics["requests"] == 2 and metrics["queued"] == 0
        assert httpx.post(url, json={"inputs": ["again"]}).status_code == 200  # the queue drained


def test_a_request_over_its_time_is_504(toy_runs):
    config = ServeConfig(max_wait_ms=800, timeout_s=0.1)  # every batch waits longer than a request may
    with LiveServer([toy_runs["classification"]], config) as live:
        answer = httpx.post(live.url + "/v1/models/classification/predict", json={"inputs": ["hello"]})
        assert answer.status_code == 504 and error_of(answer)["code"] == "timeout"
        assert "--timeout-s" in error_of(answer)["message"]
        assert httpx.get(live.url + "/v1/health/live").status_code == 200


def test_ready_is_503_until_the_models_are_loaded(toy_runs):
    live = LiveServer([toy_runs["classification"]], wait_ready=False)
    live.registry.load_all = lambda: None  # hold the loading back: only the app's start, no model yet
    with live:
        answer = httpx.get(live.url + "/v1/health/ready")
        assert answer.status_code == 503 and answer.headers["Retry-After"] == "1"
        assert "0 of 1 ready" in error_of(answer)["message"]
        answer = httpx.post(live.url + "/v1/models/classification/predict", json={"inputs": ["hi"]})
        assert answer.status_code == 503 and error_of(answer)["code"] == "not_ready"
        info = httpx.get(live.url + "/v1/models/classification").json()
        assert info["ready"] is False
        type(live.registry).load_all(live.registry)  # now load for real
        live.wait_ready()
        assert (
            httpx.post(live.url + "/v1/models/classification/predict", json={"inputs": ["hi"]}).status_code
            == 200
        )
