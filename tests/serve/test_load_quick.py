"""Smoke runs of benchmarks/serve_load.py --quick (load, and --soak): every request is answered without a
5xx and the servers exit 0 on SIGTERM; no timing is asserted."""

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_the_load_benchmark_runs_and_stops_by_itself(toy_runs, tmp_path):
    table = tmp_path / "load.md"
    result = subprocess.run(
        [sys.executable, str(REPO / "benchmarks" / "serve_load.py"), str(toy_runs["classification"]), "--quick",
         "--markdown", str(table)],
        capture_output=True, text=True, timeout=600, cwd=REPO,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-3000:]
    rows = [line for line in table.read_text().splitlines() if line.startswith("| ") and "batch" in line]
    assert len(rows) == 3 and "micro-batching" in rows[1] and "no batching" in rows[2]
    for row in rows[1:]:
        cells = [c.strip() for c in row.strip("|").split("|")]
        assert cells[1] == cells[2] == "40" and cells[4] == cells[5] == "0"  # every request 2xx
    assert "servers exited [0, 0]" in table.read_text()


def test_the_soak_gives_no_5xx_and_stops_by_itself(toy_runs, tmp_path):
    table = tmp_path / "soak.md"
    result = subprocess.run(
        [sys.executable, str(REPO / "benchmarks" / "serve_load.py"), str(toy_runs["classification"]), "--quick",
         "--soak", "60", "--markdown", str(table)],
        capture_output=True, text=True, timeout=600, cwd=REPO,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-3000:]
    text = table.read_text()
    assert "soak: 3 s" in text and "zero 5xx: yes" in text and "server exited 0" in text
    row = next(line for line in text.splitlines() if line.startswith("| ") and line[2].isdigit())
    cells = [c.strip() for c in row.strip("|").split("|")]
    assert int(cells[0]) > 0 and cells[4] == cells[5] == cells[7] == "0"  # 5xx, failed, unexpected
