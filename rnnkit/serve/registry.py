"""The runs a server holds: loaded once, warmed up, described; every model's work on its own thread.

:class:`Registry` checks the run folders when made (a wrong path fails before the server starts) and
loads them with :meth:`Registry.load_all` (the app runs it in the background: ``/v1/health/ready`` is 503
until it is done). Each :class:`ServedRun` uses only the Task protocol: ``parse_inputs`` to check inputs,
``predict`` for outputs, ``inspection_example`` (through :mod:`rnnkit.serve.views`) to look inside.

Warm-up: each model predicts one input taken from its run's own results (the ``samples`` of
``results.json``, where the task has them), or a word; the first input the model takes becomes the
page's example. A run whose every candidate is refused still serves; its example is empty.
"""

from __future__ import annotations

import gc
import hashlib
import json
import logging
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rnnkit.errors import InputError

if TYPE_CHECKING:
    from torch import nn

    from rnnkit.serve.exported import ServedExport
    from rnnkit.tasks.base import Task

__all__ = ["Registry", "Served", "ServedRun", "describe_state"]

log = logging.getLogger("rnnkit.serve")
FALLBACK_INPUTS = ("hello", "hello world")


def describe_state(state: dict[str, Any]) -> dict[str, Any]:
    """What a task's saved state (the file :meth:`Task.save_state` writes) says about its inputs and outputs:
    ``labels``, the kind of each tokenizer and the size of each vocabulary, found by their shape, not by a
    task's name.

    Example:
        >>> describe_state({"labels": ["a", "b"], "tokenizer": {"kind": "char"},
        ...                 "vocab": {"format": "rnnkit-vocab", "tokens": ["<pad>", "x"]}})
        {'labels': ['a', 'b'], 'tokenizers': {'tokenizer': 'char'}, 'vocab_sizes': {'vocab': 2}}
    """
    labels = state.get("labels")
    tokenizers, vocabs = {}, {}
    for key, value in state.items():
        if isinstance(value, dict) and isinstance(value.get("tokens"), list):
            vocabs[key] = len(value["tokens"])
        elif isinstance(value, dict) and isinstance(value.get("kind"), str):
            tokenizers[key] = value["kind"]
    return {
        "labels": [str(label) for label in labels] if isinstance(labels, list) else None,
        "tokenizers": tokenizers,
        "vocab_sizes": vocabs,
    }


def _sha256(path: Path) -> str | None:
    if not path.is_file():
        return None
    digest = hashlib.sha256()
    with path.open("rb") as file:
        for chunk in iter(lambda: file.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _candidates(results: dict[str, Any]) -> list[str]:
    """Warm-up inputs: every string of the run's sample predictions, then a word or two."""
    found = []
    for sample in results.get("samples") or []:
        if isinstance(sample, dict):
            found += [value for value in sample.values() if isinstance(value, str) and value.strip()]
    return [*dict.fromkeys(found), *FALLBACK_INPUTS]


@dataclass
class Served:
    """What the server holds for one folder served under ``name``: its ``model`` (None until loaded), the
    description ``info`` of ``/v1/models``, the load ``error`` and the one thread its model runs on."""

    name: str
    run_dir: Path
    model: Any = None
    info: dict[str, Any] = field(default_factory=dict)
    error: str | None = None
    executor: ThreadPoolExecutor = field(default_factory=lambda: ThreadPoolExecutor(1, "rnnkit-model"))

    @property
    def ready(self) -> bool:
        return self.model is not None and self.error is None


@dataclass
class ServedRun(Served):
    """One run folder, served by torch through its task; ``task`` is None until loaded."""

    task: Task | None = None

    # ----- the Task protocol, run on the model's thread --------------------------------------------
    def check_inputs(self, inputs: list[str]) -> None:
        """Raise :class:`InputError` for an input the task cannot read (:meth:`Task.parse_inputs`)."""
        self.task.parse_inputs(inputs)

    def predict(self, inputs: list[str], options: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        """The task's predictions, with the request's ``options`` (checked: :class:`PredictOptionError`)."""
        import torch

        task = self.task.with_predict_options(options)
        with torch.no_grad():
            return task.predict(self.model, inputs)

    def check_options(self, options: dict[str, Any]) -> None:
        """Raise :class:`~rnnkit.tasks.base.PredictOptionError` for options the task refuses."""
        self.task.with_predict_options(options)

    def inspect(self, text: str, max_units: int) -> dict[str, Any]:
        from rnnkit.serve.views import inspect_input

        return inspect_input(self.task, self.model, text, max_units)

    # ----- loading ---------------------------------------------------------------------------------
    def load(self, device: str | None) -> None:
        import torch

        from rnnkit import __version__
        from rnnkit.models.io import read_header
        from rnnkit.tasks.runner import RESULTS, load_run

        self.task, model = load_run(self.run_dir, device)
        model.eval()
        results_path = self.run_dir / RESULTS
        results = json.loads(results_path.read_text(encoding="utf-8")) if results_path.is_file() else {}
        header = read_header(self.run_dir / "model")
        state = json.loads((self.run_dir / self.task.STATE_FILE).read_text(encoding="utf-8"))  # as saved
        example = self._warm_up(model, _candidates(results))
        self.info = {
            "task": self.task.name,
            **describe_state(state),
            "architecture": header["model"],
            "config": header["config"],
            "parameters": sum(p.numel() for p in model.parameters()),
            "weights_sha256": _sha256(self.run_dir / "model" / "model.safetensors"),
            "versions": {"rnnkit": __version__, "torch": torch.__version__},
            "test_metrics": {
                k: float(v)
                for k, v in results.items()
                if k.startswith("test_") and isinstance(v, (int, float))
            },
            "device": str(next(model.parameters()).device),
            "inspectable": example is not None and self._inspectable(model, example),
            "example_input": example,
            "predict_options": dict(self.task.PREDICT_OPTIONS),
        }
        self.model = model

    def _warm_up(self, model: nn.Module, candidates: list[str]) -> str | None:
        import torch

        for text in candidates:
            try:
                self.task.parse_inputs([text])
                with torch.no_grad():
                    self.task.predict(model, [text])
            except (InputError, ValueError, TypeError):
                continue
            return text
        return None

    def _inspectable(self, model: nn.Module, text: str) -> bool:
        try:
            self.task.inspection_example(model, text)
        except ValueError:
            return False
        return True


class Registry:
    """The runs of one server, by name (the run folder's name unless ``names`` are given).

    With ``freeze_gc`` (``rnnkit serve`` sets it: the process is the server's own) :meth:`load_all` ends with
    ``gc.collect(); gc.freeze()``: the ~200k objects of torch, the libraries and the models are left out of
    every later collection. Without it a full collection stopped every request for ~60 ms (more on busy
    cores) about once per 3000 requests, the p99 latency of a loaded server.

    A folder with an export's ``manifest.json`` is served on ONNX Runtime in ``precision`` with ``threads``
    (:class:`~rnnkit.serve.exported.ServedExport`); a run folder by torch.

    Raises:
        FileNotFoundError: a folder is neither a run folder (no ``run.yaml``) nor an export, naming it.
        ValueError: two runs would be served under one name.
    """

    def __init__(
        self,
        run_dirs: list[str | os.PathLike],
        device: str | None = None,
        names: list[str] | None = None,
        freeze_gc: bool = False,
        precision: str = "float32",
        threads: int | None = None,
    ) -> None:
        from rnnkit.serve.exported import ServedExport, is_export_folder

        if not run_dirs:
            raise ValueError("serve at least one run folder")
        paths = [Path(p) for p in run_dirs]
        names = list(names) if names is not None else [p.resolve().name for p in paths]
        if len(names) != len(paths):
            raise ValueError(f"{len(names)} names for {len(paths)} runs")
        self.runs: dict[str, ServedRun | ServedExport] = {}
        for name, path in zip(names, paths):
            if name in self.runs:
                raise ValueError(
                    f"two runs named {name!r} ({self.runs[name].run_dir} and {path}); rename a folder"
                )
            if is_export_folder(path):  # ONNX Runtime serves it: no torch
                self.runs[name] = ServedExport(name, path, precision=precision, threads=threads)
                continue
            from rnnkit.tasks.runner import RUN_CONFIG

            if not (path / RUN_CONFIG).is_file():
                raise FileNotFoundError(
                    f"{path}: not a run folder (no {RUN_CONFIG}) nor an export folder (no manifest.json); "
                    "train one with `rnnkit train` (or export a run with `rnnkit export`)"
                )
            self.runs[name] = ServedRun(name, path)
        self.device, self.freeze_gc = device, freeze_gc
        self.loaded = threading.Event()

    def load_all(self) -> None:
        """Load and warm up every run (errors are kept on the run and logged: the server stays up)."""
        for run in self.runs.values():
            try:
                run.load(self.device)
                log.info("loaded %s (%s) from %s", run.name, run.info["task"], run.run_dir)
            except Exception as error:  # a broken run must not take the others down
                run.error = f"{type(error).__name__}: {error}"
                log.error("could not load %s from %s: %s", run.name, run.run_dir, run.error)
        if self.freeze_gc:
            gc.collect()
            gc.freeze()
        self.loaded.set()

    @property
    def ready(self) -> bool:
        return self.loaded.is_set() and all(run.ready for run in self.runs.values())

    def close(self) -> None:
        for run in self.runs.values():
            run.executor.shutdown(wait=True)
