"""Request and response bodies of the API (pydantic): they are its OpenAPI schema at ``/openapi.json``.

A body that does not fit is a 422 naming the field (``inputs[2]``); the limits that depend on the server's
settings (items per request, characters per input) are checked by the handlers, with the same answer.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

__all__ = [
    "AttentionView",
    "ErrorBody",
    "ErrorDetail",
    "Health",
    "InspectRequest",
    "InspectResponse",
    "LayerView",
    "ModelInfo",
    "ModelList",
    "PredictRequest",
    "PredictResponse",
    "SaliencyView",
]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", protected_namespaces=())


def lone_surrogate(value: Any, where: str = "") -> str | None:
    """Where ``value`` (a JSON value: strings, lists, objects) holds a string with a lone UTF-16 surrogate
    (a JSON ``\\ud800`` escape without its pair: no Unicode text, and no answer could carry it back),
    as a path below ``where``; None where it holds none.

    Example:
        >>> lone_surrogate(["ok", "\\ud800"], "inputs"), lone_surrogate({"a": ["\\U0001f600"]}) is None
        ('inputs[1]', True)
    """
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return where or "the value"
        return None
    if isinstance(value, list):
        return next((p for i, v in enumerate(value) if (p := lone_surrogate(v, f"{where}[{i}]"))), None)
    if isinstance(value, dict):
        for key, item in value.items():
            found = lone_surrogate(key, f"{where} (a key)") or lone_surrogate(item, f"{where}.{key}")
            if found:
                return found
    return None


class TextRequest(Strict):
    """A request body whose every string must be Unicode text: a lone surrogate is a 422 naming where."""

    @field_validator("*", mode="after")
    @classmethod
    def _unicode_text(cls, value: Any, info: Any) -> Any:
        found = lone_surrogate(value, info.field_name)
        if found:
            raise ValueError(
                f"{found} holds a lone UTF-16 surrogate (a \\ud800-\\udfff escape without its pair), which "
                "is not Unicode text; send the text as UTF-8, or escape characters outside the BMP as a pair"
            )
        return value


class PredictRequest(TextRequest):
    """Inputs to predict, one raw string each, as ``rnnkit predict`` takes them: a text or a sentence; a
    prompt (language models); comma-separated values (forecasting); ``a,b;c,d`` steps (series)."""

    inputs: list[str] = Field(min_length=1, description="one raw input per item", examples=[["hello there"]])
    options: dict[str, Any] = Field(
        default_factory=dict,
        description="per-request options of this model's task, for these inputs only (GET /v1/models/{name}: "
        "predict_options lists them): top_k for classifiers; strategy, beam_size, length_penalty, "
        "max_output_length for translation; generation.temperature, generation.top_k, generation.seed, "
        "generation.max_new_tokens, generation.strategy (and generation.count, generation.beam_size for "
        "the generation task) for generators",
        examples=[{"top_k": 3}],
    )


class PredictResponse(Strict):
    model: str
    outputs: list[dict[str, Any]] = Field(description="one result per input, in order (the task's predict)")


class InspectRequest(TextRequest):
    input: str = Field(min_length=1, description="one raw input", examples=["what is your favorite food?"])
    max_units: int | None = Field(
        None, ge=1, description="units shown per layer and direction (default: the server's --max-units)"
    )


class LayerView(Strict):
    """One layer and direction of one recurrent call: every gate and state, a matrix (units × steps)."""

    call: str = Field(description="the layer's path in the model: rnn, encoder, decoder")
    label: str = Field(description="layer and direction: 'layer 0', 'layer 0 reverse'")
    reverse: bool
    steps: list[str] = Field(description="a label per step (the tokens; joined when a front-end pooled them)")
    size: int = Field(description="the layer's units (H)")
    units: list[int] = Field(description="the units shown (rows of every matrix), in index order")
    summary: str = Field(description="which units are shown and why")
    values: dict[str, list[list[float]]] = Field(
        description="name -> (units shown × steps): gates (i f g o, r z n, ...) and states (h, c)"
    )


class SaliencyView(Strict):
    tokens: list[str]
    scores: list[float] = Field(description="gradient × input of the predicted class, per token")


class AttentionView(Strict):
    rows: list[str] | None = Field(description="a label per output step (None when they do not fit)")
    columns: list[str] | None = Field(description="a label per input step")
    weights: list[list[float]] = Field(description="rows × columns; each row sums to 1")
    caption: str


class InspectResponse(Strict):
    model: str
    input: str
    note: str = Field(description="what the model predicted for the input")
    loss: float = Field(description="the task's loss of the model's own prediction")
    layers: list[LayerView]
    saliency: SaliencyView | None = None
    attention: AttentionView | None = None


class ModelInfo(Strict):
    name: str
    task: str
    ready: bool
    error: str | None = None
    labels: list[str] | None = Field(None, description="classes or tags, where the task has them")
    tokenizers: dict[str, str] = Field(default_factory=dict, description="state key -> tokenizer kind")
    vocab_sizes: dict[str, int] = Field(default_factory=dict, description="state key -> vocabulary size")
    architecture: str | None = Field(None, description="the saved model's class")
    config: dict[str, Any] | None = Field(None, description="the saved model's config")
    parameters: int | None = None
    weights_sha256: str | None = None
    versions: dict[str, str] = Field(default_factory=dict)
    test_metrics: dict[str, float] = Field(default_factory=dict)
    device: str | None = None
    inspectable: bool = False
    example_input: str | None = Field(None, description="an input the model took at warm-up")
    predict_options: dict[str, str] = Field(
        default_factory=dict, description="the options a predict request may set: key -> what it changes"
    )
    limits: dict[str, float] = Field(default_factory=dict)


class ModelList(Strict):
    models: list[ModelInfo]


class Health(Strict):
    status: str
    models: list[str] = Field(default_factory=list)


class ErrorDetail(Strict):
    code: str
    message: str
    field: str | None = None


class ErrorBody(Strict):
    error: ErrorDetail
