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

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rnnkit.errors import InputError, PredictOptionError
from rnnkit.serve.registry import FALLBACK_INPUTS, Served

MANIFEST = "manifest.json"
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
        with other requests' inputs (parsing only, no model call; a forecasting table is not read)."""
        self.model.check(inputs, read_files=False)

    def check_options(self, options: dict[str, Any]) -> None:
        """Refuse every per-request option: the folder decodes as it was exported."""
        for key in options or {}:
            raise PredictOptionError(key, "an export folder predicts with the options saved at export; "
                                          "serve the run folder to set them per request")  # fmt: skip

    def predict(self, inputs: list[str], options: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        """The folder's predictions (what ``rnnkit predict EXPORT_DIR`` prints)."""
        return self.model.predict(inputs)  # options: refused before the batch (check_options)

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
        labels = getattr(model.predictor, "labels", None)  # the tasks with classes or tags
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
