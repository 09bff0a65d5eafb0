"""Tiny data and run configs for the multi-process tests (test_distributed.py and ddp_worker.py).

Each ``write_*`` function writes a task's files into a folder and returns its run config as a dict. The
sizes are chosen so that the epoch's short batch is uneven: 73 texts at a global batch of 8 leave a batch
of 1, which gives the second of 2 processes nothing (the padding path); the tagged sentences have
different lengths, so the ranks' token counts differ (the weighting path).
"""

from __future__ import annotations

import os
import random
import subprocess
import sys
from pathlib import Path

import numpy as np
import torch
import yaml
from safetensors.torch import load_file

ROOT = Path(__file__).resolve().parents[2]
TRAIN = {"batch_size": 8, "max_steps": 20, "lr": 0.01, "device": "cpu", "mixed_precision": "off",
         "restore_best": False, "seed": 0, "log_every": 1}  # fmt: skip
POSITIVE, NEGATIVE = ["good", "great", "fine", "nice"], ["bad", "awful", "poor", "dull"]
FILLER = ["the", "a", "movie", "plot", "actor", "was", "is", "very", "really", "scene"]


def _texts(rng: random.Random, n: int) -> str:
    rows = []
    for _ in range(n):
        words = [rng.choice(POSITIVE + NEGATIVE + FILLER) for _ in range(rng.randint(2, 12))]
        score = sum(w in POSITIVE for w in words) - sum(w in NEGATIVE for w in words)
        rows.append(f"{' '.join(words)},{'pos' if score >= 0 else 'neg'}\n")
    return "text,label\n" + "".join(rows)


def write_classification(folder: Path, **model: object) -> dict:
    rng = random.Random(0)
    for split, n in (("train", 73), ("validation", 21), ("test", 10)):
        (folder / f"cls-{split}.csv").write_text(_texts(rng, n), encoding="utf-8")
    data = {split: str(folder / f"cls-{split}.csv") for split in ("train", "validation", "test")}
    rnn = {"cell": "lstm", "hidden_size": 8, **model.pop("rnn", {})}
    return {"task": "classification", "data": {**data, "tokenizer": "word"},
            "model": {"embedding_dim": 8, "rnn": rnn, **model}, "train": dict(TRAIN)}  # fmt: skip


def _sentences(rng: random.Random, n: int) -> str:
    lines = []
    for _ in range(n):
        for _ in range(rng.randint(1, 9)):
            word = rng.choice(POSITIVE + NEGATIVE + FILLER)
            lines.append(f"{word} W {'ADJ' if word in POSITIVE + NEGATIVE else 'X'}\n")  # token pos chunk
        lines.append("\n")
    return "".join(lines)


def write_tagging(folder: Path, **model: object) -> dict:
    rng = random.Random(1)
    for split, n in (("train", 61), ("validation", 19), ("test", 8)):
        (folder / f"tag-{split}.txt").write_text(_sentences(rng, n), encoding="utf-8")
    data = {split: str(folder / f"tag-{split}.txt") for split in ("train", "validation", "test")}
    rnn = {"cell": "gru", "hidden_size": 8, "bidirectional": True}
    return {"task": "tagging", "data": data, "model": {"embedding_dim": 8, "rnn": rnn, **model},
            "train": dict(TRAIN)}  # fmt: skip


def write_translation(folder: Path) -> dict:
    rng, words = random.Random(2), ["one", "two", "three", "four", "five"]
    pairs = [" ".join(rng.choice(words) for _ in range(rng.randint(1, 4))) for _ in range(60)]
    path = folder / "pairs.txt"
    path.write_text("".join(f"{p}\t{' '.join(reversed(p.split()))}\tCC-BY test\n" for p in pairs), "utf-8")
    rnn = {"cell": "gru", "hidden_size": 8}
    return {"task": "translation", "data": {"dataset": "pairs", "path": str(path), "source_tokenizer": "word",
            "target_tokenizer": "word", "eval_pairs": 4},
            "model": {"embedding_dim": 8, "encoder": {**rnn, "bidirectional": True}, "decoder": rnn},
            "train": dict(TRAIN)}  # fmt: skip


def write_language_model(folder: Path) -> dict:
    path = folder / "text.txt"
    path.write_text("the cat sat on the mat.\n" * 40, encoding="utf-8")
    return {"task": "language_model",
            "data": {"dataset": "text", "path": str(path), "bptt": 12,
                     "generation": {"prompt": "the", "max_new_tokens": 5, "strategy": "greedy"}},
            "model": {"embedding_dim": 8, "rnn": {"cell": "lstm", "hidden_size": 8}}, "train": dict(TRAIN)}  # fmt: skip


def write_forecasting(folder: Path) -> dict:
    t = np.arange(200)
    values = 20 + 5 * np.sin(2 * np.pi * t / 12) + np.random.default_rng(0).standard_normal(200)
    path = folder / "series.csv"
    path.write_text("time,value\n" + "".join(f"t{i},{v:.5f}\n" for i, v in enumerate(values)), "utf-8")
    data = {"dataset": "csv", "path": str(path), "history": 24, "horizon": 6, "val_size": 24,
            "test_size": 24, "season": 12}  # fmt: skip
    return {"task": "forecasting", "data": data, "model": {"rnn": {"cell": "gru", "hidden_size": 8}},
            "train": dict(TRAIN)}  # fmt: skip


def write_series_classification(folder: Path) -> dict:
    rng = np.random.default_rng(3)
    header = "@problemName Toy\n@dimensions 1\n@equalLength false\n@classLabel true up down\n@data\n"
    for split, n in (("TRAIN", 24), ("TEST", 8)):
        rows = []
        for k in range(n):
            label = ("up", "down")[k % 2]
            ramp = np.linspace(0, 1, int(rng.integers(4, 12))) * (1 if label == "up" else -1)
            rows.append(",".join(f"{v:.4f}" for v in ramp + rng.normal(0, 0.1, ramp.shape)) + f":{label}")
        (folder / f"Toy_{split}.ts").write_text(header + "\n".join(rows) + "\n", encoding="utf-8")
    model = {"rnn": {"cell": "gru", "hidden_size": 8}, "pooling": "mean"}
    return {"task": "series_classification", "data": {"dataset": "ts", "path": str(folder / "Toy_TRAIN.ts")},
            "model": model, "train": dict(TRAIN)}  # fmt: skip


def save(config: dict, path: Path) -> Path:
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    return path


def weights(run_dir: Path) -> dict[str, torch.Tensor]:
    """The saved model's tensors (the final weights: the configs do not restore the best)."""
    return load_file(str(Path(run_dir) / "model" / "model.safetensors"))


def max_difference(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> float:
    assert a.keys() == b.keys()
    return max(float((a[k] - b[k]).abs().max()) for k in a)


def environment() -> dict[str, str]:
    """This checkout first on the path, the C++ kernels as the test run has them, one thread a process."""
    return {**os.environ, "PYTHONPATH": f"{ROOT}{os.pathsep}{os.environ.get('PYTHONPATH', '')}",
            "OMP_NUM_THREADS": "1"}  # fmt: skip


def rnnkit(*args: str, timeout: float) -> subprocess.CompletedProcess:
    """``python -m rnnkit ARGS`` in a new process, its output captured."""
    return subprocess.run([sys.executable, "-m", "rnnkit", *args], capture_output=True, text=True,
                          env=environment(), timeout=timeout, cwd=ROOT)  # fmt: skip
