"""A smoke run of benchmarks/time_to_accuracy.py --quick: rnnkit and the hand loop both train the tiny
synthetic set in their own processes and report a row each; Keras has a row or the skip note, which says how
to get it. No timing is asserted. An interpreter given to --keras-python where keras does not import is an
error, not a silent skip (tests/bench/test_time_to_accuracy_keras.py runs the Keras row itself)."""

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
KERAS_NOTE = "note: keras is not installed; its row is skipped"


def test_time_to_accuracy_quick_mode_reports_every_system(tmp_path):
    table = tmp_path / "tta.md"
    result = subprocess.run([sys.executable, str(REPO / "benchmarks" / "time_to_accuracy.py"), "--quick",
                             "--markdown", str(table)], capture_output=True, text=True, timeout=240,
                            cwd=REPO)  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    text = table.read_text()
    rows = {line.split(" | ")[0].lstrip("| "): line.split(" | ") for line in text.splitlines()
            if line.startswith("| ") and not line.startswith("| system") and "---" not in line}  # fmt: skip
    assert {"rnnkit", "hand loop (torch.nn)"} <= set(rows)
    for name, row in rows.items():
        assert float(row[1].removeprefix("not reached (").rstrip(")")) > 0, name
        assert 0 <= float(row[3]) <= 1, name
        assert float(row[4]) > 0, name
    assert "Keras 3" in rows or (KERAS_NOTE in text and "--keras-python" in text and "pip install" in text)
    assert rows["hand loop (torch.nn)"][5].startswith("1.00x") or rows["hand loop (torch.nn)"][5] == "- |"


def test_keras_python_without_keras_is_an_error(tmp_path):
    python = tmp_path / "python"  # this interpreter without site-packages (-S) or PYTHONPATH (-I)
    python.write_text(f'#!/bin/sh\nexec {sys.executable} -I -S "$@"\n')
    python.chmod(0o755)
    result = subprocess.run([sys.executable, str(REPO / "benchmarks" / "time_to_accuracy.py"), "--quick",
                             "--keras-python", str(python)],
                            capture_output=True, text=True, timeout=120, cwd=REPO)  # fmt: skip
    assert result.returncode != 0
    assert f"--keras-python {python}: keras (or rnnkit) does not import" in result.stderr
