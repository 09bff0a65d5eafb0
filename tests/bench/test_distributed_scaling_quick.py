"""benchmarks/distributed_scaling.py --quick runs 1 and 2 real processes end to end (never timed)."""

import subprocess
import sys
from pathlib import Path

import pytest
import torch.distributed as dist

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "distributed_scaling.py"


@pytest.mark.skipif(not dist.is_gloo_available(), reason="torch.distributed with gloo is not built")
def test_the_scaling_benchmark_trains_on_one_and_two_processes():
    done = subprocess.run(
        [sys.executable, str(SCRIPT), "--quick"], capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr
    rows = [line.split() for line in done.stdout.splitlines() if line.strip()[:1].isdigit()]
    assert [row[0] for row in rows] == ["1", "2"]
    assert rows[0][3] == rows[1][3]  # the same optimiser steps: train.batch_size is the global batch
