"""The plain-ONNX-Runtime example of docs/export.md runs on an export folder and agrees with the runtime."""

import re
from pathlib import Path

import pytest

pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")

from rnnkit.export.folder import export_run
from rnnkit.export.runtime import load_export
from tests.export.runs import CHATTERBOT, make_run

DOC = Path(__file__).resolve().parents[2] / "docs" / "export.md"


def test_the_plain_onnxruntime_example_prints_the_runtimes_label(tmp_path, capsys):
    text = DOC.read_text(encoding="utf-8")
    block = re.search(r"<!-- tested: [^>]*-->\n```python\n(.*?)```", text, re.S).group(1)
    assert len(block.strip().splitlines()) <= 16
    model = {"embedding_dim": 8, "rnn": {"cell": "gru", "hidden_size": 6}, "pooling": "max"}
    run = make_run(tmp_path / "run", "classification", {**CHATTERBOT, "tokenizer": "char"}, model)
    folder = export_run(run, tmp_path / "bot_onnx").folder
    exec(compile(block.replace('"bot_onnx"', repr(str(folder))), str(DOC), "exec"), {})
    label, probability = capsys.readouterr().out.split()
    expected = load_export(folder).predict(["what is your favorite food?"])[0]
    assert label == expected["label"] and abs(float(probability) - expected["probability"]) <= 2e-4
