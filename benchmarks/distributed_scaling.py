"""1 process against N processes (torchrun + DDP, gloo) training the same run to the same epoch count.

Each system is a real ``rnnkit train CONFIG --nproc-per-node N`` subprocess at the same global batch; the
systems alternate in rounds, so that both see the same machine. Printed per system: the median wall time of
the whole command (start-up and evaluation included), the median training seconds and optimiser steps per
second that the run itself wrote to ``results.json``, the test accuracy, and the ratio to 1 process.

    python benchmarks/distributed_scaling.py                # the offline default, 3 epochs, 2 rounds
    python benchmarks/distributed_scaling.py --processes 1 2 4 --epochs 5 --rounds 3
    python benchmarks/distributed_scaling.py --quick        # a smoke run (CI): never timed

On a machine with C cores, N processes share them: each process gets ``C // N`` threads
(``OMP_NUM_THREADS``), as torchrun itself sets by default.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def train_once(config: str, processes: int, epochs: int, folder: Path, extra: list[str]) -> dict:
    """One ``rnnkit train`` run; its wall time and what it wrote to ``results.json``."""
    run_dir = folder / f"p{processes}-{time.monotonic_ns()}"
    threads = max(1, (os.cpu_count() or 1) // processes)
    command = [sys.executable, "-m", "rnnkit", "train", config, "-o", str(run_dir), "-q",
               "--set", f"train.epochs={epochs}", *extra]  # fmt: skip
    if processes > 1:
        command += ["--nproc-per-node", str(processes)]
    environment = {**os.environ, "OMP_NUM_THREADS": str(threads)}
    start = time.perf_counter()
    subprocess.run(command, check=True, env=environment, stdout=subprocess.DEVNULL)
    wall = time.perf_counter() - start
    results = json.loads((run_dir / "results.json").read_text(encoding="utf-8"))
    trained = results["train"]
    return {
        "wall": wall,
        "seconds": trained["seconds"],
        "steps": trained["steps"],
        "accuracy": results.get("test_accuracy", float("nan")),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("config", nargs="?", default="chatterbot", help="a config file or a shipped name")
    parser.add_argument("--processes", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--quick", action="store_true", help="1 epoch, 1 round, tiny model: a smoke run")
    args = parser.parse_args(argv)
    extra: list[str] = []
    if args.quick:
        args.epochs, args.rounds = 1, 1
        tiny = ("model.hidden_size=8", "model.embedding_dim=8", "model.channels=8")
        extra = [word for key in tiny for word in ("--set", key)]
    found: dict[int, list[dict]] = {n: [] for n in args.processes}
    with tempfile.TemporaryDirectory() as scratch:
        for _ in range(args.rounds):
            for n in args.processes:
                found[n].append(train_once(args.config, n, args.epochs, Path(scratch), extra))
    base = statistics.median(r["wall"] for r in found[args.processes[0]])
    print(f"{args.config}: {args.epochs} epochs, median of {args.rounds} rounds, {os.cpu_count()} cores")
    print(f"{'processes':>9} {'wall s':>8} {'train s':>8} {'steps':>6} {'steps/s':>8} {'accuracy':>9} "
          f"{'wall vs first':>13}")  # fmt: skip
    for n, runs in found.items():
        wall = statistics.median(r["wall"] for r in runs)
        seconds = statistics.median(r["seconds"] for r in runs)
        steps = runs[0]["steps"]
        accuracy = statistics.median(r["accuracy"] for r in runs)
        print(f"{n:>9} {wall:>8.1f} {seconds:>8.1f} {steps:>6} {steps / seconds:>8.1f} {accuracy:>9.4f} "
              f"{wall / base:>12.2f}x")  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
