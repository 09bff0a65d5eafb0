"""Tiny trained runs of every task ``rnnkit predict`` supports, made in seconds from data written here.

Each run trains a few steps only: the server tests need real run folders (config, task state, weights),
not good models.
"""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import yaml

from rnnkit.tasks import fit

QUICK = {
    "epochs": 1,
    "batch_size": 16,
    "lr": 0.01,
    "device": "cpu",
    "seed": 0,
    "early_stopping_patience": None,
}

# the input the tests send to each run, one per task (and a second, of another length, for batching)
INPUTS = {
    "classification": ["what is your favorite food?", "오늘 기분이 좋아"],
    "tagging": ["the big dog sees a cat .", "a man walks in the park ."],
    "translation": ["one two three", "five"],
    "language_model": ["the cat", "on the mat"],
    "forecasting": [
        ",".join(f"{20 + 5 * np.sin(t / 2):.3f}" for t in range(30)),
        ",".join(f"{21 + 4 * np.cos(t / 2):.3f}" for t in range(26)),
    ],
    "series_classification": ["1,10;2,11;3,9;4,10;5,12", "5,9;4,10;3,11;2,10;1,9;0,10;-1,11"],
}


def _write(path: Path, config: dict) -> Path:
    path.write_text(yaml.safe_dump(config, allow_unicode=True), encoding="utf-8")
    return path


def _classification(folder: Path) -> Path:
    return _write(
        folder / "run.yaml",
        {
            "task": "classification",
            "data": {
                "dataset": "chatterbot",
                "languages": ["korean", "english"],
                "tokenizer": "char",
                "lowercase": True,
            },
            "model": {
                "preset": "conv_lstm",
                "embedding_dim": 8,
                "conv": {"channels": 8, "kernel_sizes": [3], "pool_size": 2},
                "rnn": {"hidden_size": 8, "bidirectional": True},
            },
            "train": {**QUICK, "epochs": 2},
        },
    )


def _tagging(folder: Path) -> Path:
    rng = random.Random(0)
    words = {
        "DT": ["the", "a"],
        "JJ": ["big", "old"],
        "NN": ["dog", "cat", "man", "park"],
        "VB": ["sees", "walks"],
        "IN": ["in"],
        ".": ["."],
    }

    def sentence() -> list[tuple[str, str]]:
        shape = (
            ["DT", "JJ", "NN", "VB", "DT", "NN", "."]
            if rng.random() < 0.5
            else ["DT", "NN", "VB", "IN", "DT", "NN", "."]
        )
        return [(rng.choice(words[tag]), tag) for tag in shape]

    paths = {}
    for name, count in (("train", 60), ("dev", 10), ("test", 10)):
        paths[name] = folder / f"{name}.txt"
        paths[name].write_text(
            "".join("".join(f"{w} {t}\n" for w, t in sentence()) + "\n" for _ in range(count)),
            encoding="utf-8",
        )
    return _write(
        folder / "run.yaml",
        {
            "task": "tagging",
            "data": {
                "dataset": "conll",
                "path": str(paths["train"]),
                "val_path": str(paths["dev"]),
                "test_path": str(paths["test"]),
                "columns": ["token", "pos"],
                "tag_column": "pos",
            },
            "model": {
                "embedding_dim": 8,
                "rnn": {"cell": "lstm", "hidden_size": 8, "bidirectional": True, "num_layers": 2},
            },
            "train": QUICK,
        },
    )


def _translation(folder: Path) -> Path:
    numbers = {"one": "하나", "two": "둘", "three": "셋", "four": "넷", "five": "다섯"}
    rng, sources = random.Random(0), set()
    while len(sources) < 80:
        sources.add(" ".join(rng.sample(list(numbers), rng.randint(1, 4))))
    pairs = folder / "pairs.txt"
    pairs.write_text(
        "".join(
            f"{s}\t{' '.join(numbers[w] for w in reversed(s.split()))}\tCC-BY test\n" for s in sorted(sources)
        ),
        encoding="utf-8",
    )
    return _write(
        folder / "run.yaml",
        {
            "task": "translation",
            "data": {
                "dataset": "pairs",
                "path": str(pairs),
                "source_tokenizer": "word",
                "target_tokenizer": "word",
                "beam_size": 2,
                "eval_pairs": 10,
            },
            "model": {
                "embedding_dim": 8,
                "encoder": {"cell": "lstm", "hidden_size": 8, "bidirectional": True},
                "decoder": {"cell": "lstm", "hidden_size": 8},
            },
            "train": {**QUICK, "epochs": 6, "lr": 0.03},
        },
    )


def _language_model(folder: Path) -> Path:
    (folder / "text.txt").write_text("the cat sat on the mat.\n" * 40, encoding="utf-8")
    return _write(
        folder / "run.yaml",
        {
            "task": "language_model",
            "data": {
                "dataset": "text",
                "path": str(folder / "text.txt"),
                "bptt": 16,
                "generation": {"prompt": "the", "max_new_tokens": 12, "strategy": "sample", "seed": 3},
            },
            "model": {"embedding_dim": 8, "rnn": {"cell": "gru", "hidden_size": 8}},
            "train": QUICK,
        },
    )


def _forecasting(folder: Path) -> Path:
    t = np.arange(200)
    values = 20 + 5 * np.sin(2 * np.pi * t / 12) + np.random.default_rng(0).normal(0, 0.5, len(t))
    csv = folder / "series.csv"
    csv.write_text(
        "time,value\n" + "".join(f"t{i},{v:.5g}\n" for i, v in enumerate(values)), encoding="utf-8"
    )
    return _write(
        folder / "run.yaml",
        {
            "task": "forecasting",
            "data": {
                "dataset": "csv",
                "path": str(csv),
                "history": 24,
                "horizon": 6,
                "val_size": 24,
                "test_size": 24,
                "season": 12,
            },
            "model": {"rnn": {"cell": "lstm", "hidden_size": 8}, "quantiles": [0.1, 0.5, 0.9]},
            "train": QUICK,
        },
    )


def _series_classification(folder: Path) -> Path:
    rng = np.random.default_rng(0)

    def row(label: str) -> str:
        length = int(rng.integers(5, 9))
        ramp = np.linspace(-1, 1, length) * (1 if label == "rise" else -1)
        columns = [3 + 2 * ramp, rng.normal(10, 1, length)]
        return ":".join(",".join(f"{v:.3f}" for v in c) for c in columns) + f":{label}"

    header = "@problemName Toy\n@dimensions 2\n@equalLength false\n@classLabel true rise fall\n@data\n"
    for name, n in (("TRAIN", 16), ("TEST", 8)):
        rows = [row(label) for _ in range(n) for label in ("rise", "fall")]
        (folder / f"Toy_{name}.ts").write_text(header + "\n".join(rows) + "\n", encoding="utf-8")
    return _write(
        folder / "run.yaml",
        {
            "task": "series_classification",
            "data": {"dataset": "ts", "path": str(folder / "Toy_TRAIN.ts")},
            "model": {"rnn": {"cell": "gru", "hidden_size": 8}, "pooling": "mean"},
            "train": {**QUICK, "batch_size": 8},
        },
    )


MAKERS = {
    "classification": _classification,
    "tagging": _tagging,
    "translation": _translation,
    "language_model": _language_model,
    "forecasting": _forecasting,
    "series_classification": _series_classification,
}


def train_toy_runs(root: Path, tasks: tuple[str, ...] = tuple(MAKERS)) -> dict[str, Path]:
    """One tiny trained run folder per task, ``root/<task>`` (so that it is served under the task's name),
    its data in ``root/<task>_data``; by task name."""
    runs = {}
    for task in tasks:
        folder = root / f"{task}_data"
        folder.mkdir(parents=True, exist_ok=True)
        runs[task] = fit(MAKERS[task](folder), run_dir=root / task, quiet=True).run_dir
    return runs
