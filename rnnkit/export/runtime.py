"""Predict with an export folder (``rnnkit export RUN``) using numpy, onnxruntime and json alone: no torch.

:func:`load_export` checks every file of the folder against the sha256 and size in its ``manifest.json``
before reading any (a changed file is refused by name), then builds the predictor of the folder's task,
which encodes inputs exactly as the run does and returns what ``rnnkit predict RUN`` returns::

    model = load_export("runs/chatterbot/export")
    model.predict(["what is your favorite food?"])
    # [{"text": "what is your favorite food?", "label": "food", "probability": 0.93}]

Nothing on this module's import path imports torch (a test runs it in a virtual environment without it).
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from rnnkit.errors import InputError, UserError
from rnnkit.export.decoder_runtime import GenerationPredictor, LanguageModelPredictor, TranslationPredictor
from rnnkit.export.forecast_runtime import ForecastPredictor
from rnnkit.export.manifest import ExportFolderError, read_manifest

CHUNK = 256  # inputs per session call, as the tasks' own predict


class ExportInputError(InputError, UserError):
    """An input the exported model cannot read; ``number`` is its place among the inputs (from 1): the
    :class:`~rnnkit.errors.InputError` of a run's task, so the CLI and the server answer both alike."""


def _json(folder: Path, manifest: dict[str, Any], name: str) -> Any:
    """A JSON file of the folder that the manifest lists (and :func:`read_manifest` has checked)."""
    if name not in manifest["files"]:
        raise ExportFolderError(f"{folder / 'manifest.json'}: does not list {name}; export the run again")
    return json.loads((folder / name).read_text(encoding="utf-8"))


class ClassificationPredictor:
    """Text classification: the most likely label and its probability (``top`` with ``top_k`` > 1)."""

    def __init__(self, folder: Path, manifest: dict[str, Any]) -> None:
        from rnnkit.export.text_inputs import TextEncoder

        preprocessing = _json(folder, manifest, "preprocessing.json")
        self.encoder = TextEncoder(preprocessing)
        self.labels = list(_json(folder, manifest, "labels.json"))
        self.top_k = int(preprocessing.get("top_k", 1))

    def predict(self, session: Any, texts: Sequence[str]) -> list[dict[str, Any]]:
        results, k = [], min(self.top_k, len(self.labels))
        for start in range(0, len(texts), CHUNK):
            chunk = list(texts[start : start + CHUNK])
            (probabilities,) = session.run(["probabilities"], self.encoder.encode(chunk))
            for text, p in zip(chunk, probabilities):
                best = int(p.argmax())
                result = {"text": text, "label": self.labels[best], "probability": round(float(p[best]), 4)}
                if k > 1:
                    ids = np.argsort(-p, kind="stable")[:k]
                    result["top"] = [{"label": self.labels[int(i)], "probability": round(float(p[i]), 4)}
                                     for i in ids]  # fmt: skip
                results.append(result)
        return results


class TaggingPredictor:
    """Tagging: ``{"text", "tokens", "tags"}`` per sentence, plus ``"chunks"`` for IOB tag sets; tags by
    argmax of the emissions, or by the CRF's Viterbi path (``crf.json``, :mod:`rnnkit.export.viterbi`)."""

    def __init__(self, folder: Path, manifest: dict[str, Any]) -> None:
        from rnnkit.export.tag_inputs import SentenceEncoder

        preprocessing = _json(folder, manifest, "preprocessing.json")
        self.encoder = SentenceEncoder(preprocessing)
        self.labels = list(_json(folder, manifest, "labels.json"))
        self.chunk_scheme = preprocessing.get("chunk_scheme")
        self.crf = _json(folder, manifest, "crf.json") if "crf.json" in manifest["files"] else None

    def check(self, texts: Sequence[str], read_files: bool = True) -> list[tuple[list[str], Any]]:
        """Each text split into words (and columns), or the :class:`ExportInputError` of the first that
        does not split."""
        parsed = []
        for number, text in enumerate(texts, 1):
            try:
                parsed.append(self.encoder.split(text))
            except ValueError as error:
                raise ExportInputError(number, str(error)) from None
        return parsed

    def predict(self, session: Any, texts: Sequence[str]) -> list[dict[str, Any]]:
        from rnnkit.export.viterbi import decode_tags

        parsed = self.check(texts)
        tags: list[list[str]] = [[] for _ in parsed]
        todo = [k for k, (words, _) in enumerate(parsed) if words]
        for start in range(0, len(todo), CHUNK):
            chunk = todo[start : start + CHUNK]
            arrays = self.encoder.encode([parsed[k] for k in chunk])
            (emissions,) = session.run(["emissions"], arrays)
            for k, path in zip(chunk, decode_tags(emissions, arrays["lengths"], self.crf)):
                tags[k] = [self.labels[i] for i in path]
        return [self._result(text, words, found) for text, (words, _), found in zip(texts, parsed, tags)]

    def _result(self, text: str, tokens: list[str], tags: list[str]) -> dict[str, Any]:
        from rnnkit.metrics import extract_chunks

        result: dict[str, Any] = {"text": text, "tokens": tokens, "tags": tags}
        if self.chunk_scheme is not None:
            result["chunks"] = [
                {"type": kind, "start": s, "end": e, "text": " ".join(tokens[s:e])}
                for kind, s, e in extract_chunks(tags, self.chunk_scheme)
            ]
        return result


class SeriesPredictor:
    """Series classification: ``{"input", "length", "label", "probability"}`` per series written as text
    (steps ``;``-separated, values ``,``-separated: :func:`rnnkit.data.series_text.parse_series`)."""

    def __init__(self, folder: Path, manifest: dict[str, Any]) -> None:
        preprocessing = _json(folder, manifest, "preprocessing.json")
        self.labels = list(_json(folder, manifest, "labels.json"))
        self.num_features = int(preprocessing["num_features"])
        self.mean = np.asarray(preprocessing["mean"])
        self.std = np.asarray(preprocessing["std"])
        self.standardize = bool(preprocessing["standardize"])

    def check(self, texts: Sequence[str], read_files: bool = True) -> list[np.ndarray]:
        """Each series parsed (raw values), or the :class:`ExportInputError` of the first that does not."""
        from rnnkit.data.series_text import parse_series

        parsed = []
        for number, text in enumerate(texts, 1):
            try:
                parsed.append(parse_series(text, self.num_features))
            except (TypeError, ValueError) as error:
                raise ExportInputError(number, str(error)) from None
        return parsed

    def predict(self, session: Any, texts: Sequence[str]) -> list[dict[str, Any]]:
        from rnnkit.data.series_text import prepare_values

        series = [prepare_values(v, self.mean, self.std, self.standardize) for v in self.check(texts)]
        results = []
        for start in range(0, len(series), CHUNK):
            chunk = series[start : start + CHUNK]
            lengths = np.array([len(s) for s in chunk], dtype=np.int64)
            values = np.zeros((len(chunk), int(lengths.max()), self.num_features), dtype=np.float32)
            for k, s in enumerate(chunk):
                values[k, : len(s)] = s
            (probabilities,) = session.run(["probabilities"], {"values": values, "lengths": lengths})
            for text, length, p in zip(texts[start : start + CHUNK], lengths.tolist(), probabilities):
                best = int(p.argmax())
                results.append({"input": text, "length": length, "label": self.labels[best],
                                "probability": round(float(p[best]), 4)})  # fmt: skip
        return results


PREDICTORS = {
    "classification": ClassificationPredictor,
    "tagging": TaggingPredictor,
    "series_classification": SeriesPredictor,
    "forecasting": ForecastPredictor,
    "translation": TranslationPredictor,
    "language_model": LanguageModelPredictor,
    "generation": GenerationPredictor,
}


def _check_texts(inputs: Sequence[Any]) -> None:
    for number, text in enumerate(inputs, 1):
        if not isinstance(text, str):
            raise ExportInputError(number, f"expected a str, got {type(text).__name__}")


class ExportedModel:
    """An export folder, checked and loaded: :meth:`predict` as ``rnnkit predict`` on the run."""

    def __init__(self, folder: Path, manifest: dict[str, Any], session: Any, predictor: Any) -> None:
        self.folder, self.manifest, self.session, self.predictor = folder, manifest, session, predictor

    @property
    def task(self) -> str:
        return self.manifest["task"]

    def check(self, inputs: Sequence[str], read_files: bool = True) -> None:
        """Raise the :class:`ExportInputError` :meth:`predict` would for an input that does not parse,
        without running the model (``read_files`` False: an input naming a file is refused too)."""
        _check_texts(inputs)
        if hasattr(self.predictor, "check"):  # the tasks whose inputs are parsed (not any text)
            self.predictor.check(list(inputs), read_files)

    def predict(self, inputs: Sequence[str]) -> list[dict[str, Any]]:
        """Predictions for raw inputs (texts), one dict each, as the run's task returns them."""
        _check_texts(inputs)
        return self.predictor.predict(self.session, list(inputs)) if inputs else []


def load_export(
    folder: str | os.PathLike, model: str = "float32", threads: int | None = None
) -> ExportedModel:
    """Check and load an export folder; ``model``: ``"float32"`` (``model.onnx``) or ``"int8"``
    (``model_int8.onnx``; for a decoding task, its ``*.int8.onnx`` graphs).

    Raises:
        ExportFolderError: not an export folder, a file changed since the export (named), an unknown task
            or model kind, or onnxruntime missing.
    """
    folder = Path(folder)
    manifest = read_manifest(folder)  # every file checked before any is read
    task = manifest.get("task")
    if task not in PREDICTORS:
        raise ExportFolderError(
            f"{folder}: task {task!r} has no runtime in this rnnkit (known: {sorted(PREDICTORS)})"
        )
    models = manifest.get("models", {})
    if model not in models:
        raise ExportFolderError(
            f"{folder}: has no {model} model (it holds: {', '.join(models) or 'none'}); "
            + ("export with --quantize int8" if model == "int8" else "export the run again")
        )
    try:
        import onnxruntime
    except ImportError:
        raise ExportFolderError("an export folder runs in ONNX Runtime: pip install onnxruntime") from None
    if isinstance(models[model], list):  # several graphs, which the predictor drives (decoder_runtime)
        return ExportedModel(folder, manifest, None, PREDICTORS[task](folder, manifest, model))
    options = onnxruntime.SessionOptions()
    if threads is not None:
        options.intra_op_num_threads = threads
    session = onnxruntime.InferenceSession(
        str(folder / models[model]), options, providers=["CPUExecutionProvider"]
    )
    return ExportedModel(folder, manifest, session, PREDICTORS[task](folder, manifest))
