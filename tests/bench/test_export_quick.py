"""A smoke run of benchmarks/export.py --quick: eager, ONNX float32 and int8 all run, and the three streaming
contenders; no timing is asserted."""

import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")

REPO = Path(__file__).resolve().parents[2]


def test_export_benchmark_quick_mode_runs_every_system(tmp_path):
    table = tmp_path / "export.md"
    result = subprocess.run([sys.executable, str(REPO / "benchmarks" / "export.py"), "--quick", "--markdown",
                             str(table)], capture_output=True, text=True, timeout=300, cwd=REPO)  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    rows = [line.split(" | ") for line in table.read_text().splitlines() if line.startswith("| 1 ")
            or line.startswith("| 64 ")]  # fmt: skip
    assert {(row[0].lstrip("| "), row[1]) for row in rows} == {
        (b, s)
        for b in ("1", "64")
        for s in ("rnnkit eager (torch)", "ONNX Runtime float32", "ONNX Runtime int8")
    }
    assert all(float(row[2]) > 0 for row in rows)
    assert "| int8 |" in table.read_text()
    streaming = table.read_text().split("streaming ", 1)[1]
    rows = [line for line in streaming.splitlines() if line.startswith("| ")][1:]  # after the header
    names = [row.split(" | ")[0].lstrip("| ") for row in rows]
    assert names == ["rnnkit Streamer", "ONNX Runtime step graph (T=1)", "torch.nn at T=1"]
    assert "| 1.00x |" in streaming
