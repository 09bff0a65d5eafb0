"""``rnnkit export RUN``: a run folder -> a self-contained export folder that runs without torch.

::

    EXPORT/
      model.onnx          the model (float32); its recurrent layers are ONNX Scans; batch and time dynamic
      model_int8.onnx     with --quantize int8: the same graph with int8 weights (dynamic quantisation)
      preprocessing.json  how inputs are encoded, exactly as the run does (tokenizer, vocabulary, ...)
      labels.json         the labels or tags (classification, tagging)
      crf.json            tagging with a CRF: its transition, start and end scores (Viterbi in numpy)
      manifest.json       task, inputs, outputs, opset, versions, test metrics, sha256 + size of every file
      README.md           how to use the folder

Translation, language model and generation runs decode token by token: their folder holds several graphs
instead of model.onnx, and with --quantize int8 an int8 copy of each, ``<graph>.int8.onnx``
(:mod:`rnnkit.export.decoders`).

:mod:`rnnkit.export.runtime` loads such a folder with numpy and onnxruntime alone (``rnnkit predict EXPORT``).
"""

from __future__ import annotations

import json
import os
import platform
import shutil
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import torch

from rnnkit import __version__
from rnnkit.export.decoders import DECODING_TASKS, export_decoding_run
from rnnkit.export.graph import DEFAULT_OPSET, MIN_OPSET, to_onnx
from rnnkit.export.manifest import MANIFEST, NotExportable, write_manifest
from rnnkit.export.plans import ExportPlan, export_plan
from rnnkit.export.readme import folder_readme

MODEL, MODEL_INT8 = "model.onnx", "model_int8.onnx"
QUANTIZATIONS = ("int8",)


@dataclass
class ExportResult:
    """What :func:`export_run` wrote and measured."""

    folder: Path
    manifest: dict[str, Any]

    def size(self, name: str) -> int:
        return self.manifest["files"][name]["bytes"]


def export_run(
    run_dir: str | os.PathLike,
    output: str | os.PathLike | None = None,
    opset: int = DEFAULT_OPSET,
    quantize: str | None = None,
) -> ExportResult:
    """Export the trained model of ``run_dir`` (default folder: ``RUN/export``); see the module docstring.

    Raises:
        NotExportable: the run's task or a module of its model has no export (named, with why).
        FileExistsError: ``output`` exists and is not empty.
    """
    from rnnkit.tasks.runner import load_run

    run_dir = Path(run_dir)
    folder = Path(output) if output is not None else run_dir / "export"
    if opset < MIN_OPSET:
        raise NotExportable(f"--opset {opset}: the export needs opset {MIN_OPSET} or newer")
    if quantize is not None and quantize not in QUANTIZATIONS:
        raise NotExportable(f"--quantize {quantize}: known: {', '.join(QUANTIZATIONS)}")
    if folder.exists() and any(folder.iterdir()):
        raise FileExistsError(f"{folder}: exists and is not empty; choose another folder with -o")
    task, model = load_run(run_dir, device="cpu")
    if type(task).name in DECODING_TASKS:  # several graphs, driven token by token (rnnkit.export.decoders)
        return _export_decoding(folder, run_dir, task, model.cpu().eval(), opset, quantize)
    plan = export_plan(task, model.cpu().eval())
    graph = _trace(plan, opset, type(model).__name__)
    folder.mkdir(parents=True, exist_ok=True)
    try:
        return _write(folder, run_dir, task, plan, graph, opset, quantize)
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)  # never a half-written export folder
        raise


def _export_decoding(folder: Path, run_dir: Path, task: Any, model: torch.nn.Module, opset: int,
                     quantize: str | None) -> ExportResult:  # fmt: skip
    folder.mkdir(parents=True, exist_ok=True)
    common = {"versions": _versions(), "run_test_metrics": _run_metrics(run_dir)}
    try:
        return ExportResult(
            folder, export_decoding_run(folder, run_dir, task, model, opset, common, quantize)
        )
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)  # never a half-written export folder
        raise


def _trace(plan: ExportPlan, opset: int, name: str) -> onnx.ModelProto:
    try:
        names = [s.name for s in plan.inputs], [s.name for s in plan.outputs]
        return to_onnx(plan.module, plan.example, *names, plan.dynamic_axes(), opset)
    except (RuntimeError, torch.onnx.errors.OnnxExporterError, onnx.checker.ValidationError) as error:
        first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise NotExportable(
            f"model {name}: torch.onnx could not export it at opset {opset}: {first}"
        ) from error


def _write(folder: Path, run_dir: Path, task: Any, plan: ExportPlan, graph: onnx.ModelProto, opset: int,
           quantize: str | None) -> ExportResult:  # fmt: skip
    onnx.save(graph, folder / MODEL)
    for name, content in plan.files.items():
        (folder / name).write_text(json.dumps(content, ensure_ascii=False) + "\n", encoding="utf-8")
    models = {"float32": MODEL}
    if quantize == "int8":
        from rnnkit.export.quantize import quantize_int8

        quantize_int8(folder / MODEL, folder / MODEL_INT8)
        models["int8"] = MODEL_INT8
    evaluation = {kind: plan.evaluate(_session(folder / name)) for kind, name in models.items()}
    fields = {
        "task": type(task).name,
        "models": models,
        "inputs": [s.to_dict() for s in plan.inputs],
        "outputs": [s.to_dict() for s in plan.outputs],
        "opset": opset,
        "versions": _versions(),
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "run": str(run_dir.resolve()),
        "run_test_metrics": _run_metrics(run_dir),
        "export_test_metrics": {kind: metrics for kind, metrics in evaluation.items() if metrics is not None},
        "notes": plan.notes,
    }
    (folder / "README.md").write_text(folder_readme(fields, run_dir), encoding="utf-8")
    return ExportResult(folder, write_manifest(folder, fields))


def _session(path: Path):
    import onnxruntime

    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return lambda feeds: session.run(None, feeds)


def _versions() -> dict[str, str]:
    import onnxruntime

    return {"rnnkit": __version__, "torch": torch.__version__, "onnx": onnx.__version__,
            "onnxruntime": onnxruntime.__version__, "numpy": np.__version__,
            "python": platform.python_version()}  # fmt: skip


def _run_metrics(run_dir: Path) -> dict[str, float]:
    """The run's own test metrics (``results.json``: its numbers ``test_*``), or none."""
    path = run_dir / "results.json"
    if not path.is_file():
        return {}
    results = json.loads(path.read_text(encoding="utf-8"))
    return {k: v for k, v in results.items() if k.startswith("test_") and isinstance(v, (int, float))}


__all__ = ["MANIFEST", "MODEL", "MODEL_INT8", "ExportResult", "export_run"]
