"""Fuzzing the API: schemathesis drives every route of ``/openapi.json`` (valid and invalid requests made
from the schema itself), hypothesis posts hostile bodies to every model; a real server answers.

What must hold for every request: no 5xx, a response the schema documents (status, content type, body),
and every error in the one JSON shape ``{"error": {"code", "message", "field"}}``.

schemathesis's strategies are used under hypothesis's own ``@given`` (its pytest plugin's lazy fixture
reads a private attribute pytest 9 no longer has); each route, valid and invalid bodies, is one test.
"""

from __future__ import annotations

import json

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

schemathesis = pytest.importorskip("schemathesis", reason="the fuzz tests need schemathesis (the test extra)")

from schemathesis import GenerationMode  # noqa: E402
from schemathesis.checks import not_a_server_error  # noqa: E402
from schemathesis.specs.openapi.checks import (  # noqa: E402
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.serve.toy_runs import INPUTS  # noqa: E402

MODELS = list(INPUTS)
EXAMPLES = 100  # per route and mode: the file takes about 10 s here (2 shared cores), a minute at most
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    database=None,
)


def assert_error_shape(response: httpx.Response) -> None:
    """Every answer but a 2xx is JSON ``{"error": {"code": str, "message": str, "field": str | None}}``."""
    assert response.status_code < 500, f"{response.status_code}: {response.text[:500]}"
    if response.status_code < 400:
        return
    assert response.headers["content-type"].startswith("application/json"), response.headers
    body = response.json()
    assert set(body) == {"error"}, body
    error = body["error"]
    assert set(error) == {"code", "message", "field"}, body
    assert isinstance(error["code"], str) and error["code"], body
    assert isinstance(error["message"], str) and error["message"], body
    assert error["field"] is None or isinstance(error["field"], str), body


def error_shape(ctx, response, case) -> bool | None:
    """A schemathesis check: :func:`assert_error_shape` on the response it got."""
    if response.status_code >= 400:
        body = json.loads(response.content)
        assert set(body) == {"error"} and set(body["error"]) == {"code", "message", "field"}, body
    return None


ROUTES = [
    ("GET", "/v1/health/live"),
    ("GET", "/v1/health/ready"),
    ("GET", "/v1/models"),
    ("GET", "/v1/models/{name}"),
    ("POST", "/v1/models/{name}/predict"),
    ("POST", "/v1/models/{name}/inspect"),
    ("GET", "/v1/metrics"),
]
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    error_shape,
]


@pytest.fixture(scope="module")
def api_schema(server):
    """The server's own ``/openapi.json``, loaded by schemathesis."""
    return schemathesis.openapi.from_url(server.url + "/openapi.json")


def test_the_fuzzed_routes_are_every_route_of_the_schema(api_schema):
    documented = {
        (method.upper(), path) for path, item in api_schema.raw_schema["paths"].items() for method in item
    }
    assert documented == set(ROUTES)


def cases(operation, mode: GenerationMode) -> st.SearchStrategy:
    """Requests made from the schema; a ``{name}`` is as often a model the server holds as a random one,
    so that the generated bodies reach the models, not only the 404."""
    if "{name}" not in operation.path:
        return operation.as_strategy(mode)
    return st.one_of(
        operation.as_strategy(mode),
        *(operation.as_strategy(mode, path_parameters={"name": name}) for name in MODELS),
    )


FUZZED = [(method, path, GenerationMode.POSITIVE) for method, path in ROUTES] + [
    (method, path, GenerationMode.NEGATIVE) for method, path in ROUTES if method == "POST"
]  # a GET takes nothing (but a free-form name) that could be made invalid


@pytest.mark.parametrize(
    ("method", "path", "mode"), FUZZED, ids=[f"{m} {p} {mode.value}" for m, p, mode in FUZZED]
)
def test_every_route_answers_as_its_schema_says(api_schema, server, method, path, mode):
    operation = api_schema[path][method]

    @given(case=cases(operation, mode))
    @FUZZ
    def call(case):
        response = case.call(base_url=server.url, timeout=30)
        case.validate_response(response, checks=CHECKS)

    call()


# ----- hostile bodies, posted by hand to every model ------------------------------------------------
JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**40), max_value=10**40)
    | st.floats(allow_nan=False)
    | st.text(max_size=50),
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=10), inner, max_size=5),
    max_leaves=20,
)
HOSTILE_TEXT = st.text(
    alphabet=st.characters(codec=None, exclude_categories=()), max_size=40
)  # surrogates, NUL, controls


def _deep(depth: int) -> bytes:
    return b'{"inputs": ' + b"[" * depth + b'"a"' + b"]" * depth + b"}"


HOSTILE_BODIES = st.one_of(
    JSON_VALUES.map(lambda v: json.dumps(v).encode()),
    st.dictionaries(
        st.sampled_from(["inputs", "options", "input", "max_units", "x"]), JSON_VALUES, max_size=3
    ).map(lambda v: json.dumps(v).encode()),
    st.lists(HOSTILE_TEXT, max_size=4).map(lambda v: json.dumps({"inputs": v}).encode()),
    HOSTILE_TEXT.map(lambda v: json.dumps({"input": v}).encode()),
    HOSTILE_TEXT.map(lambda v: ('{"inputs": ["' + v + '"]}').encode("utf-8", "surrogatepass")),
    st.binary(max_size=200),
    st.integers(min_value=1, max_value=3000).map(_deep),
    st.sampled_from(
        [
            b'{"inputs": []}',
            b'{"inputs": [""]}',
            b'{"input": ""}',
            b'{"inputs": ["\\u0000"]}',
            b'{"input": "\\ud800"}',
            b'{"inputs": ["\\udfff\\ud800"]}',
            b'{"inputs": ["a"], "options": {"top_k": 1e309}}',
            b'{"inputs": ["a"], "options": {"top_k": 99999999999999999999999999999}}',
            b'{"inputs": ["a"], "options": {"generation.max_new_tokens": 10000000000}}',
            b'{"inputs": ["a"], "options": {"generation.temperature": 1e-320}}',
            b'{"inputs": ["a"], "options": {"beam_size": 100000}}',
            b'{"inputs": ["a"], "options": {"max_output_length": 100000}}',
            b'{"input": "a", "max_units": 99999999999999999999999}',
            b'{"input": "a", "max_units": 1.5}',
            b'{"input": "a", "max_units": true}',
            b'{"inputs": ["a"], "options": null}',
            b'{"inputs": null}',
            b"\xff\xfe\x00{",
            b'{"inputs": ["\xff\xfe"]}',
            b"",
            b"null",
            b"NaN",
            b'{"inputs": [NaN]}',
            b'{"inputs": ["a"], "options": {"top_k": NaN}}',
            b'{"inputs": ["a"], "options": {"top_k": Infinity}}',
            b'{"inputs": ["a"], "inputs": ["b"]}',
        ]
    ),
)
CONTENT_TYPES = st.sampled_from(
    [
        "application/json",
        "application/json; charset=latin-1",
        "text/plain",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=x",
        "application/xml",
        "",
    ]
)


@pytest.fixture(scope="module")
def http(server):
    with httpx.Client(base_url=server.url, timeout=30) as client:
        yield client


@pytest.mark.parametrize("route", ["predict", "inspect"])
def test_hostile_bodies_are_never_a_server_error(http, route):
    @given(model=st.sampled_from(MODELS), body=HOSTILE_BODIES, content_type=CONTENT_TYPES)
    @FUZZ
    def post(model, body, content_type):
        headers = {"Content-Type": content_type} if content_type else {}
        answer = http.post(f"/v1/models/{model}/{route}", content=body, headers=headers)
        assert_error_shape(answer)

    post()


# ----- regressions: what the fuzzing found ------------------------------------------------------------
@pytest.mark.parametrize(
    ("route", "body", "said"),
    [
        ("predict", b'{"inputs": ["\\udfff\\ud800"]}', "inputs[0] holds a lone UTF-16 surrogate"),
        ("predict", b'{"inputs": ["ok", "a\\ud800"]}', "inputs[1] holds a lone UTF-16 surrogate"),
        ("predict", b'{"inputs": ["ok"], "options": {"\\ud800": 1}}', "options (a key) holds a lone"),
        ("inspect", b'{"input": "\\udc00x"}', "input: Input should be a valid string"),  # pydantic's own
    ],
)
def test_a_lone_surrogate_is_a_422_naming_where_it_is(http, route, body, said):
    # it was a 500: the prediction echoed the text back, and no JSON answer can hold a lone surrogate
    answer = http.post(
        f"/v1/models/classification/{route}", content=body, headers={"Content-Type": "application/json"}
    )
    assert answer.status_code == 422, answer.text
    assert_error_shape(answer)
    error = answer.json()["error"]
    assert error["code"] == "invalid_request" and said in error["message"], error
    paired = http.post("/v1/models/classification/predict", content=b'{"inputs": ["\\ud83d\\ude00"]}',
                       headers={"Content-Type": "application/json"})  # fmt: skip
    assert paired.status_code == 200 and paired.json()["outputs"][0]["text"] == "\U0001f600"


@pytest.mark.parametrize(
    ("model", "key", "value", "flag"),
    [
        ("language_model", "generation.max_new_tokens", 10_000_000_000, "--max-new-tokens"),
        ("translation", "max_output_length", 1001, "--max-new-tokens"),
        ("translation", "beam_size", 100_000, "--max-beams"),
        ("language_model", "generation.max_new_tokens", 1e309, "--max-new-tokens"),  # inf, as JSON reads it
    ],
)
def test_an_option_asking_for_unbounded_work_is_422_and_the_model_stays_free(http, model, key, value, flag):
    # it was accepted: the model's thread generated for ever (the 504 does not stop it), and every later
    # request to the model timed out too
    body = json.dumps({"inputs": INPUTS[model][:1], "options": {key: value}})
    answer = http.post(
        f"/v1/models/{model}/predict", content=body, headers={"Content-Type": "application/json"}
    )
    assert answer.status_code == 422, answer.text
    assert_error_shape(answer)
    error = answer.json()["error"]
    assert (
        error["code"] == "option_too_large"
        and error["field"] == f"options.{key}"
        and flag in error["message"]
    )
    assert (
        http.post(f"/v1/models/{model}/predict", json={"inputs": INPUTS[model][:1]}, timeout=10).status_code
        == 200
    )


@pytest.mark.parametrize("temperature", [1e-320, 1e-45])
def test_a_tiny_temperature_is_an_answer_not_a_500(http, temperature):
    # it was a 500: logits / temperature overflowed in float32 and torch.multinomial raised on the nan
    options = {"generation.temperature": temperature, "generation.strategy": "sample"}
    answer = http.post("/v1/models/language_model/predict", json={"inputs": ["the"], "options": options})
    assert answer.status_code == 200, answer.text


def test_the_limits_are_shown_with_every_model(http):
    limits = http.get("/v1/models/language_model").json()["limits"]
    assert limits["max_new_tokens"] == 1000 and limits["max_beams"] == 16
