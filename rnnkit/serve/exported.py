"""An export folder (``rnnkit export RUN``) served on ONNX Runtime: no torch in the process.

:class:`ServedExport` answers what :class:`~rnnkit.serve.registry.ServedRun` answers (inputs checked, the
predictions of ``rnnkit predict EXPORT_DIR``, the model's description) through
:func:`rnnkit.export.runtime.load_export`, which checks every file against the folder's manifest before
reading it. What an export cannot do, the server refuses with a 422 that says why:

- per-request options: the folder predicts with the decoding and ``top_k`` saved at export;
- ``inspect``: the graph returns outputs only, not gates or cell states (serve the run folder);
- forecasting tables: a request names no file the server would read; send comma-separated histories.

Nothing on this module's import path imports torch (tested with an import hook that refuses it).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rnnkit.errors import InputError, PredictOptionError
from rnnkit.serve.registry import FALLBACK_INPUTS, Served

MANIFEST = "manifest.json"
TABLE_SUFFIXES = (".csv", ".tsv", ".jsonl", ".json", ".parquet")
NO_INSPECT = (
    "an export folder holds the graph's outputs only, not its gates or cell states: serve the run folder "
    "(rnnkit serve RUN) to inspect"
)


def is_export_folder(path: Path) -> bool:
    """Whether ``path`` holds an export's ``manifest.json`` (and so is served on ONNX Runtime)."""
    return (path / MANIFEST).is_file()


@dataclass
class ServedExport(Served):
    """One export folder served in ``precision`` (``float32`` or ``int8``) with ``threads`` for ONNX
    Runtime; ``model`` is the loaded :class:`~rnnkit.export.runtime.ExportedModel`."""

    precision: str = "float32"
    threads: int | None = None

    def check_inputs(self, inputs: list[str]) -> None:
        """Raise :class:`InputError` for an input the folder's runtime cannot read, before it is batched
        with other requests' inputs (parsing only, no model call)."""
        predictor, task = self.model.predictor, self.model.task
        for number, text in enumerate(inputs, 1):
            if not isinstance(text, str):
                raise InputError(number, f"expected a str, got {type(text).__name__}")
            if task == "forecasting":
                if Path(text.strip()).suffix.lower() in TABLE_SUFFIXES:
                    raise InputError(number, "the server reads no files: send the comma-separated history")
                predictor.window(text, number)
            elif task == "series_classification":
                from rnnkit.data.series_text import parse_series

                try:
                    parse_series(text, predictor.num_features)
                except (TypeError, ValueError) as error:
                    raise InputError(number, str(error)) from None
            elif task == "tagging":
                try:
                    predictor.encoder.split(text)
                except ValueError as error:
                    raise InputError(number, str(error)) from None

    def check_options(self, options: dict[str, Any]) -> None:
        """Refuse every per-request option: the folder decodes as it was exported."""
        for key in options or {}:
            raise PredictOptionError(key, "an export folder predicts with the options saved at export; "
                                          "serve the run folder to set them per request")  # fmt: skip

    def predict(self, inputs: list[str], options: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        """The folder's predictions (what ``rnnkit predict EXPORT_DIR`` prints)."""
        self.check_options(options or {})
        return self.model.predict(inputs)

    def inspect(self, text: str, max_units: int) -> dict[str, Any]:
        raise ValueError(NO_INSPECT)

    def load(self, device: str | None = None) -> None:
        """Check and load the folder (``device`` must be None or ``cpu``: ONNX Runtime's CPU provider)."""
        import onnxruntime

        from rnnkit import __version__
        from rnnkit.export.runtime import load_export

        if device not in (None, "cpu"):
            raise ValueError(f"{self.run_dir}: an export folder runs on ONNX Runtime's CPU provider, "
                             f"not on {device!r}")  # fmt: skip
        model = load_export(self.run_dir, self.precision, threads=self.threads)
        manifest = model.manifest
        labels = json.loads((self.run_dir / "labels.json").read_text(encoding="utf-8")) if (
            "labels.json" in manifest["files"]) else None  # fmt: skip
        graphs = manifest["models"][self.precision]
        first = graphs[0] if isinstance(graphs, list) else graphs
        example = None
        for text in FALLBACK_INPUTS:
            try:
                model.predict([text])
            except (InputError, ValueError):
                continue
            example = text
            break
        metrics = manifest.get("export_test_metrics", {}).get(self.precision) or {}
        self.info = {
            "task": model.task,
            "labels": [str(label) for label in labels] if isinstance(labels, list) else None,
            "architecture": f"ONNX ({self.precision}, opset {manifest.get('opset')})",
            "weights_sha256": manifest["files"].get(first, {}).get("sha256"),
            "versions": {"rnnkit": __version__, "onnxruntime": onnxruntime.__version__},
            "test_metrics": {k: float(v) for k, v in metrics.items() if isinstance(v, (int, float))},
            "device": "cpu (onnxruntime)",
            "inspectable": False,
            "example_input": example,
            "predict_options": {},
        }
        self.model = model
