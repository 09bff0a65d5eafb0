"""scripts/fault_injection.py --quick: a real ``rnnkit train`` killed with SIGKILL during a step, an
evaluation, a checkpoint write and the final save (one checkpoint corrupted too), resumed each time, ends
with the weights and metrics of an uninterrupted run, bit for bit."""

import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "fault_injection.py"


def test_killed_and_resumed_runs_equal_the_uninterrupted_one():
    done = subprocess.run(
        [sys.executable, str(SCRIPT), "--quick"], capture_output=True, text=True, timeout=400
    )
    assert done.returncode == 0, done.stdout + done.stderr
    rows = [line.split() for line in done.stdout.splitlines()[1:-1]]
    assert [row[0] for row in rows] == ["step:9", "eval:1", "checkpoint:2", "final_save:1"]
    assert all(row[1] == "True" and row[-1] == "True" for row in rows)  # killed, and equal in the end
    assert rows[-1][3] != "-"  # the newest checkpoint was corrupted before the last resume
    assert "kills: 4, corruptions: 1, trials: 1, all equal to the uninterrupted run: True" in done.stdout
