"""The README.md of the export folder of a decoding task (translation, language model, generation): its
graphs (and their int8 copies), how they are driven one token at a time, and their test metrics."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

USES = {
    "translation": 'rnnkit predict THIS_FOLDER "a sentence to translate"',
    "language_model": 'rnnkit predict THIS_FOLDER "a prompt to continue"',
    "generation": 'rnnkit predict THIS_FOLDER "LABEL"   # or "LABEL: a text\'s start", or a feature vector',
}
DRIVING = {
    "generation": """`prompt.onnx` runs `<bos>` and the given start of a text (`tokens`, `lengths`) with the
class id (`labels`) or the standardised feature vector (`condition`, `(x - feature_mean) / feature_std` of
`preprocessing.json`) and returns the logits of the next token and the state; `decoder_step.onnx` then takes
one token per row with that state and returns the next `logits` and the `next_*` state, until `<eos>`.
Greedy and beam decoding give the texts of `rnnkit predict` on the run. **Sampling** (`strategy: sample`)
draws with `numpy.random.default_rng(seed)`: reproducible for a seed and from the same distribution
(temperature, top_k), but not the same draws as the run's torch sampler, so the sampled texts differ.""",
    "translation": """`encoder.onnx` runs once per batch of sources (`src`, `src_lengths`) and returns the
decoder's first state and the attention memory; `decoder_step.onnx` then takes one token per row (`<bos>`
first) with that state and returns the next token's `logits` and the `next_*` state. Greedy decoding takes
the argmax at every step; beam search keeps `beam_size` prefixes, scored as rnnkit does (GNMT length
penalty `length_penalty`). Both give the tokens and scores of `rnnkit predict` on the run.""",
    "language_model": """`prompt.onnx` runs the whole prompt (`tokens`, `lengths`) and returns the
logits of the next token and the state after the prompt; `decoder_step.onnx` then takes one token per row
with that state and returns the next `logits` and the `next_*` state. Greedy decoding gives the text of
`rnnkit predict` on the run. **Sampling** (`strategy: sample`) draws with
`numpy.random.default_rng(seed)`: reproducible for a seed and from the same distribution (temperature,
top_k), but not the same draws as the run's torch sampler, so the sampled texts differ from the run's.""",
}


def _specs(specs: list[dict[str, Any]]) -> str:
    return ", ".join(f"`{s['name']}` {s['dtype']} {s['shape']}" for s in specs)


def decoder_readme(fields: dict[str, Any], run_dir: Path) -> str:
    """Markdown for the users of one decoding export folder (``fields``: the manifest's, files excepted)."""
    task = fields["task"]
    graphs = "\n".join(
        f"- `{name}`: inputs {_specs(io['inputs'])}; outputs {_specs(io['outputs'])}"
        for name, io in fields["graphs"].items()
    )
    if fields["export_test_metrics"]:
        title, shown = "of the exported graphs, in ONNX Runtime", fields["export_test_metrics"]
    else:
        title, shown = (
            "of the run; its test data was not on the exporting machine",
            fields["run_test_metrics"],
        )
    metrics = json.dumps(shown, indent=1)
    notes = "".join(f"\n- {note}" for note in fields["notes"])
    int8 = fields["models"].get("int8")
    quantized = (
        f"""

With `--quantize int8` each graph has an int8 copy beside it ({", ".join(f"`{n}`" for n in int8)}): the same
inputs and outputs, its weight matrices int8 (ONNX Runtime's dynamic quantisation, the recurrent weights
inside the Scan bodies included), driven the same way. `rnnkit predict THIS_FOLDER "..." --int8` or
`load_export("THIS_FOLDER", "int8")` uses them."""
        if int8
        else ""
    )
    return f"""# Exported rnnkit model ({task})

Exported from `{run_dir}` by rnnkit {fields["versions"]["rnnkit"]} (ONNX opset {fields["opset"]}).
`manifest.json` lists every file with its sha256 and size; rnnkit checks them before use.

## Use it

    pip install rnnkit numpy onnxruntime   # torch is not needed
    {USES[task]}

or in Python: `from rnnkit.export.runtime import load_export; load_export("THIS_FOLDER").predict([...])`.
`predict_options.json` holds how the run's `predict` decodes (strategy, beam size, lengths, sampling).

## The graphs (plain ONNX Runtime)

A str in a shape is a dynamic axis:

{graphs}{quantized}

{DRIVING[task]}

`decoding.json` holds the special ids (`bos_id`, `eos_id`, `pad_id`) and vocabulary sizes;
`preprocessing.json` the run's tokenizers and vocabularies, so texts become ids (and ids text) exactly as
in the run (`rnnkit/export/decoder_runtime.py`).{notes}

## Test metrics ({title})

{metrics}
"""
