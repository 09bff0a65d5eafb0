"""Kill a real ``rnnkit train`` with SIGKILL at chosen and random moments, resume it each time, and check
that the final weights and metrics equal those of an uninterrupted run, bit for bit (CPU).

Moments are chosen with ``RNNKIT_FAULT_AT=<point>:<count>`` (rnnkit.training.durable): during a step,
during an evaluation, during a checkpoint write, during the final save; plus kills at random wall-clock
times. Each trial chains several kills: the first process and each resumed one is killed in turn, then a
last resume runs to the end. After each kill the newest checkpoint is also corrupted now and then
(``--corrupt``), which the resume must detect and pass over.

    python scripts/fault_injection.py            # full: >= 20 kills, prints a table
    python scripts/fault_injection.py --quick    # a few kills, a tiny run, well under a minute
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TINY = ["model.rnn.hidden_size=8", "model.embedding_dim=8", "train.batch_size=8", "train.lr=0.02",
        "model.dropout=0.2"]  # fmt: skip


def write_data(folder: Path) -> list[str]:
    rows = [(f"good great fine {i}", "pos") for i in range(30)] + [
        (f"bad awful poor {i}", "neg") for i in range(30)
    ]
    random.Random(0).shuffle(rows)
    for name, part in [("train.csv", rows), ("test.csv", rows[:12])]:
        (folder / name).write_text("text,label\n" + "".join(f"{t},{y}\n" for t, y in part), encoding="utf-8")
    train, test = str(folder / "train.csv"), str(folder / "test.csv")
    return ["--task", "classification", "--train", train, "--test", test,
            "--text-column", "text", "--label-column", "label"]  # fmt: skip


def rnnkit(args: list[str], fault: str | None = None, kill_after: float | None = None) -> int:
    """Run ``rnnkit ARGS`` to its end (or kill it after ``kill_after`` seconds); its exit status."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}
    env.pop("RNNKIT_FAULT_AT", None)
    if fault:
        env["RNNKIT_FAULT_AT"] = fault
    proc = subprocess.Popen([sys.executable, "-m", "rnnkit", *args], env=env, cwd=ROOT,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)  # fmt: skip
    try:
        _, err = proc.communicate(timeout=kill_after)
    except subprocess.TimeoutExpired:
        proc.send_signal(signal.SIGKILL)
        _, err = proc.communicate()
    if proc.returncode not in (0, -signal.SIGKILL):
        raise RuntimeError(f"rnnkit {' '.join(args)} failed ({proc.returncode}):\n{err}")
    rnnkit.last_err = err  # type: ignore[attr-defined]
    return proc.returncode


def outcome(run: Path) -> dict[str, str]:
    """What must be equal: the final weights' bytes, the test results, every evaluation's metrics."""
    results = json.loads((run / "results.json").read_text(encoding="utf-8"))
    results["train"].pop("seconds")
    results.pop("model_dir")
    latest = json.loads((run / "checkpoints" / "latest.json").read_text())["path"]
    history = json.loads((run / "checkpoints" / latest / "trainer.json").read_text())["trainer"]["progress"]
    return {
        "weights": hashlib.sha256((run / "model" / "model.safetensors").read_bytes()).hexdigest(),
        "results": json.dumps(results, sort_keys=True),
        "history": json.dumps(history["history"], sort_keys=True),
    }


def corrupt_newest(run: Path, rng: random.Random) -> str | None:
    """Flip a bit in, truncate, or remove a file of the newest checkpoint, if there are two."""
    steps = sorted((run / "checkpoints").glob("step-*"), key=lambda p: int(p.name[5:]))
    if len(steps) < 2:
        return None
    target = rng.choice(sorted(p for p in steps[-1].iterdir() if p.name != "manifest.json"))
    how = rng.choice(["flip", "truncate", "remove"])
    if how == "remove":
        target.unlink()
    else:
        data = bytearray(target.read_bytes())
        if how == "flip":
            data[rng.randrange(len(data))] ^= 1 << rng.randrange(8)
        else:
            data = data[: len(data) // 2]
        target.write_bytes(bytes(data))
    return f"{how} {steps[-1].name}/{target.name}"


def trial(data: list[str], sets: list[str], run: Path, faults: list[str | float], expected: dict,
          rng: random.Random, corrupt: str) -> list[dict]:  # fmt: skip
    """Kill at each fault in turn (a point:count, or seconds of wall clock), resuming in between; after a
    kill, corrupt the newest checkpoint half the time (``corrupt="often"``) or after the last (``"last"``)."""
    rows = []
    for index, fault in enumerate([*faults, None]):
        has_checkpoint = (run / "checkpoints" / "latest.json").is_file()
        args = (
            ["train", "--resume", str(run), "-q"]
            if has_checkpoint
            else ["train", *data, "-o", str(run), "-q", *sets]
        )
        if isinstance(fault, float):
            rc = rnnkit(args, kill_after=fault)
        else:
            rc = rnnkit(args, fault=fault)
        wanted = rng.random() < 0.5 if corrupt == "often" else index == len(faults) - 1
        damaged = corrupt_newest(run, rng) if rc != 0 and wanted else None
        if fault is None:
            assert rc == 0, rc
        moment = f"{fault:.2f}s" if isinstance(fault, float) else fault
        start = "checkpoint" if has_checkpoint else "start"
        rows.append({"moment": moment, "killed": rc != 0, "resumed_from": start, "corrupted": damaged})
    got = outcome(run)
    for row in rows:
        row["equal"] = got == expected
    return rows[:-1]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a few kills and a tiny run (CI)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--keep", help="keep the run folders in this folder")
    args = parser.parse_args(argv)
    rng = random.Random(args.seed)
    work = Path(args.keep or tempfile.mkdtemp(prefix="rnnkit-faults-"))
    work.mkdir(parents=True, exist_ok=True)
    data = write_data(work)
    epochs = 2 if args.quick else 6
    sets = [a for s in [*TINY, f"train.epochs={epochs}"] for a in ("--set", s)]
    started = time.perf_counter()
    assert rnnkit(["train", *data, "-o", str(work / "reference"), "-q", *sets]) == 0
    duration = time.perf_counter() - started
    expected = outcome(work / "reference")
    if args.quick:
        plans = [["step:9", "eval:1", "checkpoint:2", "final_save:1"]]
    else:
        points = ["step:3", "step:11", "eval:1", "eval:3", "checkpoint:1", "checkpoint:4", "final_save:1",
                  "final_save:2"]  # fmt: skip
        plans = []
        for _ in range(7):  # 7 trials x 3 kills: >= 20 kills
            plan: list[str | float] = rng.sample(points, 2)
            plan.append(round(rng.uniform(0.4, 1.0) * duration, 2))
            plans.append(plan)
    rows = []
    for number, plan in enumerate(plans):
        run = work / f"trial-{number}"
        rows += trial(data, sets, run, plan, expected, rng, corrupt="last" if args.quick else "often")
        if not args.keep:
            shutil.rmtree(run, ignore_errors=True)
    print(f"{'moment':<14} {'killed':<7} {'run began at':<13} {'corrupted before resume':<34} equal")
    for row in rows:
        print(f"{row['moment']:<14} {row['killed']!s:<7} {row['resumed_from']:<13} "
              f"{row['corrupted'] or '-':<34} {row['equal']}")  # fmt: skip
    kills = sum(row["killed"] for row in rows)
    equal = all(row["equal"] for row in rows)
    corrupted = sum(bool(row["corrupted"]) for row in rows)
    print(f"kills: {kills}, corruptions: {corrupted}, trials: {len(plans)}, all equal to the "
          f"uninterrupted run: {equal}, {time.perf_counter() - started:.0f} s")  # fmt: skip
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)
    return 0 if equal else 1


if __name__ == "__main__":
    sys.exit(main())
