"""A smoke run of benchmarks/serve_load.py --quick: both servers answer every request without a 5xx and
exit 0 on SIGTERM; no timing is asserted."""

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
