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


def test_speed_benchmark_runs_only_the_sections_and_scenarios_asked_for(tmp_path):
    table = tmp_path / "speed.md"
    result = subprocess.run(
        [sys.executable, str(REPO / "benchmarks" / "speed.py"), "--quick", "--threads", "1", "--only", "variants",
         "--scenarios", "S3", "--markdown", str(table)],
        capture_output=True, text=True, timeout=600, cwd=REPO,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    rows = [line.split(" | ") for line in table.read_text().splitlines() if line.startswith("| S")]
    assert rows and {row[0].lstrip("| ") for row in rows} == {"S3"}
    assert "torch.nn" not in {row[2] for row in rows}  # the layers section did not run


def test_variant_ratios_quick_mode_prints_both_baselines():
    result = subprocess.run(
        [sys.executable, str(REPO / "benchmarks" / "variant_ratios.py"), "--quick", "--threads", "1",
         "--clock", "cpu", "--cells", "GRU"],
        capture_output=True, text=True, timeout=600, cwd=REPO,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    lines = [line.split() for line in result.stdout.splitlines() if line.startswith("GRU")]
    assert {line[2] for line in lines} == {"plain", "layer_norm", "zoneout"}
    assert all(line[-1].endswith("x") and line[-2].endswith("x") for line in lines)
