"""A smoke run of benchmarks/speed.py --quick: every scenario and system runs; no timing is asserted."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_speed_benchmark_quick_mode_runs_every_scenario(tmp_path):
    table = tmp_path / "speed.md"
    result = subprocess.run(
        [sys.executable, str(REPO / "benchmarks" / "speed.py"), "--quick", "--peers", "--threads", "1",
         "--markdown", str(table)],
        capture_output=True, text=True, timeout=600, cwd=REPO,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    rows = [line.split(" | ") for line in table.read_text().splitlines() if line.startswith("| S")]
    scenarios = {row[0].lstrip("| ") for row in rows}
    assert scenarios == {"S1", "S2", "S3", "S4", "S5"}
    systems = {row[2] for row in rows}
    assert {
        "torch.nn",
        "hand loop",
        "rnnkit reference",
        "rnnkit fused",
        "rnnkit auto",
        "rnnkit Streamer",
    } <= systems
    assert {"layer_norm", "peephole", "zoneout", "record()", "rnnkit fused recompute"} <= systems
    for row in rows:  # every timed row has a positive time
        value = row[4].split()[0].lstrip("+")
        assert float(value) >= 0.0
