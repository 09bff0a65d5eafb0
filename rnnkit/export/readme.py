"""The README.md of an export folder: what is in it and how to use it, with or without rnnkit."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def folder_readme(fields: dict[str, Any], run_dir: Path) -> str:
    """Markdown for the users of one export folder (``fields``: the manifest's, files excepted)."""
    inputs = "\n".join(
        f"- `{s['name']}` {s['dtype']} {s['shape']}: {s['description']}" for s in fields["inputs"]
    )
    outputs = "\n".join(
        f"- `{s['name']}` {s['dtype']} {s['shape']}: {s['description']}" for s in fields["outputs"]
    )
    models = ", ".join(f"`{name}` ({kind})" for kind, name in fields["models"].items())
    metrics = json.dumps(fields["export_test_metrics"] or fields["run_test_metrics"], indent=1)
    notes = "".join(f"\n- {note}" for note in fields["notes"])
    return f"""# Exported rnnkit model ({fields["task"]})

Exported from `{run_dir}` by rnnkit {fields["versions"]["rnnkit"]} (ONNX opset {fields["opset"]}).
Models: {models}. `manifest.json` lists every file with its sha256 and size; rnnkit checks them before use.

## Use it

    pip install rnnkit numpy onnxruntime   # torch is not needed
    rnnkit predict THIS_FOLDER "a text to predict"

or in Python: `from rnnkit.export.runtime import load_export; load_export("THIS_FOLDER").predict([...])`.
The predictions are those of `rnnkit predict` on the run (probabilities within 1e-5).

## The graph (plain ONNX Runtime)

Inputs (a str in a shape is a dynamic axis):

{inputs}

Outputs:

{outputs}

`preprocessing.json` says how a text becomes those inputs (tokenizer, vocabulary, maximum length); the
runtime (`rnnkit/export/runtime.py`) does it exactly as the run did.{notes}

## Test metrics

{metrics}
"""
