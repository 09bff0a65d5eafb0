"""``rnnkit export RUN`` for the tasks that decode token by token: translation, language models, generation.

Their model is not one graph of a whole input but a loop of decoder steps, so the folder holds several
graphs (:mod:`rnnkit.export.seq2seq`) that :mod:`rnnkit.export.ort_decoding` drives::

    EXPORT/
      encoder.onnx, decoder_step.onnx   translation: the source once, then one target token per call
      prompt.onnx, decoder_step.onnx    language model, generation: the prompt, then one new token per call
      *.int8.onnx                       with --quantize int8: each graph again, int8 weights (same inputs)
      decoding.json                     the special ids and vocabulary sizes the searches need
      preprocessing.json                the run's tokenizers and vocabularies (and lowercasing)
      predict_options.json              how the run's ``predict`` decodes (strategy, beam size, lengths, ...)
      manifest.json, README.md          as every export folder

:mod:`rnnkit.export.decoder_runtime` predicts with such a folder (numpy and onnxruntime, no torch).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import onnx
import torch
from torch import nn

from rnnkit.export.decoder_readme import decoder_readme
from rnnkit.export.manifest import NotExportable, write_manifest
from rnnkit.export.plans import check_modules

PREPROCESSING, OPTIONS = "preprocessing.json", "predict_options.json"


def translation_files(task: Any) -> dict[str, Any]:
    """The tokenisation of both sides and the decoding of a translation run's ``predict``."""
    from rnnkit.tasks.translation.data import DECODE_BATCH

    d = task.data
    preprocessing = {
        "source_tokenizer": task.source_tokenizer.to_dict(),
        "target_tokenizer": task.target_tokenizer.to_dict(),
        "source_vocab": task.source_vocab.to_dict(),
        "target_vocab": task.target_vocab.to_dict(),
        "source_lowercase": d.source_lowercase,
        "target_lowercase": d.target_lowercase,
    }
    options = {"strategy": d.strategy, "beam_size": d.beam_size, "length_penalty": d.length_penalty,
               "max_output_length": d.max_output_length or task.longest_target + 10,
               "decode_batch": DECODE_BATCH}  # fmt: skip
    return {PREPROCESSING: preprocessing, OPTIONS: options}


def language_model_files(task: Any) -> dict[str, Any]:
    """The tokenizer and vocabulary of a language model run, and how its ``predict`` continues a prompt."""
    g = task.data.generation
    options = {"strategy": g.strategy, "max_new_tokens": g.max_new_tokens, "temperature": g.temperature,
               "top_k": g.top_k, "seed": g.seed}  # fmt: skip
    preprocessing = {"tokenizer": task.tokenizer.to_dict(), "vocab": task.vocab.to_dict()}
    return {PREPROCESSING: preprocessing, OPTIONS: options}


def generation_files(task: Any) -> dict[str, Any]:
    """A generation run's tokenizer, vocabulary and conditioning (its labels, or its features' mean and
    std), and how its ``predict`` decodes (the strategy ``auto`` resolved, beam size, count, ...)."""
    d, g = task.data, task.data.generation
    preprocessing = {"tokenizer": task.tokenizer.to_dict(), "vocab": task.vocab.to_dict(),
                     "max_length": d.max_length, "mode": task.mode, "labels": task.labels,
                     "feature_mean": task.mean, "feature_std": task.std}  # fmt: skip
    options = {"strategy": g.resolved(task.mode), "max_new_tokens": g.max_new_tokens, "count": g.count,
               "temperature": g.temperature, "top_k": g.top_k, "seed": g.seed,
               "beam_size": g.beam_size}  # fmt: skip
    return {PREPROCESSING: preprocessing, OPTIONS: options}


DECODING_TASKS: dict[str, Callable[[Any], dict[str, Any]]] = {
    "translation": translation_files,
    "language_model": language_model_files,
    "generation": generation_files,
}

NOTES = {
    "translation": "translations: encoder.onnx once, then decoder_step.onnx per token, greedy or beam search "
    "as predict_options.json says (rnnkit.export.ort_decoding); the same tokens and scores as the run",
    "generation": "texts: prompt.onnx (<bos>, the given start, the class or feature vector), then "
    "decoder_step.onnx per token (rnnkit.export.ort_decoding). Greedy and beam decoding give the run's "
    "texts; sampling is seeded with NumPy, reproducible and from the same distribution, but not the same "
    "draws as the run's torch sampler",
    "language_model": "continuations: prompt.onnx, then decoder_step.onnx per token "
    "(rnnkit.export.ort_decoding). Greedy decoding gives the run's text; sampling is seeded with NumPy, "
    "reproducible and from the same distribution, but not the same draws as the run's torch sampler",
}


def _graph_io(path: Path) -> dict[str, list[dict[str, Any]]]:
    """The inputs and outputs of a graph file: name, dtype and shape (a str is a dynamic axis)."""
    graph = onnx.load(str(path), load_external_data=False).graph

    def spec(value: Any) -> dict[str, Any]:
        tensor = value.type.tensor_type
        shape = [d.dim_param or d.dim_value for d in tensor.shape.dim]
        return {"name": value.name, "dtype": onnx.helper.tensor_dtype_to_np_dtype(tensor.elem_type).name,
                "shape": shape}  # fmt: skip

    return {"inputs": [spec(v) for v in graph.input], "outputs": [spec(v) for v in graph.output]}


def quantize_graphs(folder: Path, graphs: list[str]) -> list[str]:
    """Write ``<stem>.int8.onnx`` beside each float graph ``<stem>.onnx`` (:func:`quantize_int8`: int8
    weights, the Scan bodies included); returns their names, in the order of ``graphs``."""
    from rnnkit.export.ort_decoding import graph_file
    from rnnkit.export.quantize import quantize_int8

    written = []
    for graph in graphs:
        name = graph_file(graph.removesuffix(".onnx"), "int8")
        quantize_int8(folder / graph, folder / name)
        written.append(name)
    return written


def export_decoding_run(folder: Path, run_dir: Path, task: Any, model: nn.Module, opset: int,
                        common: dict[str, Any], quantize: str | None = None) -> dict[str, Any]:  # fmt: skip
    """Write the graphs, JSON files, README.md and manifest.json of a decoding task's run into ``folder``
    (``common``: the manifest fields of every export, such as versions; ``quantize`` "int8": also an int8
    copy of every graph, ``<stem>.int8.onnx``); returns the manifest. The test metrics of each precision's
    graphs are measured in ONNX Runtime (:mod:`rnnkit.export.decoder_eval`) where the test data is here.

    Raises:
        NotExportable: a module of the model has no export, or torch.onnx could not trace it.
    """
    from rnnkit.export.decoder_eval import export_metrics
    from rnnkit.export.seq2seq import export_generator, export_seq2seq

    name = type(task).name
    check_modules(model)
    export = export_seq2seq if name == "translation" else export_generator
    try:
        written = export(model, folder, opset)
    except (RuntimeError, torch.onnx.errors.OnnxExporterError, onnx.checker.ValidationError) as error:
        first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise NotExportable(
            f"model {type(model).__name__}: torch.onnx could not export it at opset {opset}: {first}"
        ) from error
    for file_name, content in DECODING_TASKS[name](task).items():
        (folder / file_name).write_text(json.dumps(content, ensure_ascii=False) + "\n", encoding="utf-8")
    graphs = [path.name for key, path in written.items() if key != "decoding"]
    models = {"float32": graphs}
    if quantize == "int8":
        models["int8"] = quantize_graphs(folder, graphs)
    fields = {
        "task": name,
        "models": models,
        "graphs": {graph: _graph_io(folder / graph) for graph in graphs},
        "opset": opset,
        **common,
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "run": str(run_dir.resolve()),
        "export_test_metrics": export_metrics(task, folder, list(models)),
        "notes": [NOTES[name]],
    }
    (folder / "README.md").write_text(decoder_readme(fields, run_dir), encoding="utf-8")
    return write_manifest(folder, fields)


__all__ = ["DECODING_TASKS", "OPTIONS", "PREPROCESSING", "export_decoding_run", "quantize_graphs"]
