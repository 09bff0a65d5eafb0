"""Time to accuracy: the seed's text classifier (Embedding -> Conv1D -> MaxPool1D -> LSTM -> Dense, rnnkit's
``conv_lstm`` preset) trained to the same validation accuracy by rnnkit's runner and by a hand-written
PyTorch loop (and Keras 3 where installed), with the same tokens, vocabulary, splits and hyperparameters.

    python benchmarks/time_to_accuracy.py [--datasets nsmc sst2] [--repeats R] [--target nsmc=0.78]
                                          [--epochs N] [--markdown PATH]
    python benchmarks/time_to_accuracy.py --quick     # a tiny synthetic set, 2 epochs: CI, not timed

Each system trains in its own subprocess (2 torch threads), one after the other, alternating (rnnkit, hand,
rnnkit, hand, ...). Time to target is measured from the start of training (after the data are tokenised,
which both share: the hand loop encodes with rnnkit's task) to the end of the first per-epoch validation
whose accuracy reaches the target; for rnnkit it is read from ``metrics.jsonl`` (the ``start`` event to
the first ``eval`` event at or above the target), since rnnkit has no stop-at-target key: its run goes on
to the epochs cap, and only the time to the target is reported. Peak RSS is the child's ``ru_maxrss``.

Both sides: AdamW (weight decay 0.01 on matrices only in rnnkit; on all weights by hand, torch's default
way), constant learning rate, no gradient clipping, no warm-up, the same batch size and epochs cap, seed 0.
Differences of implementation, on purpose: rnnkit buckets batches by length and masks padding; the hand
loop shuffles, pads each batch to its longest text and reads the LSTM output at each text's last real
(pooled) step, as the tutorials do.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("RNNKIT_SHARED_DATA") or REPO.parent / "shared" / "data")  # or --data DIR
THREADS = 2
KERAS_NOTE = "note: keras is not installed; its row is skipped (pip install keras tensorflow)"

# per dataset: the data section, the batch size, lr, epochs cap and the default target (validation accuracy)
DATASETS: dict[str, dict[str, Any]] = {
    "nsmc": {
        "data": {
            "dataset": "nsmc",
            "path": str(DATA / "nsmc"),
            "tokenizer": "word",
            "lowercase": True,
            "max_vocab": 30000,
            "min_freq": 2,
            "max_length": 60,
            "val_fraction": 0.05,
        },
        "batch_size": 128,
        "lr": 0.003,
        "epochs": 4,
        "target": 0.78,
    },
    "sst2": {
        "data": {
            "dataset": "sst2",
            "path": str(DATA / "sst2"),
            "tokenizer": "word",
            "lowercase": True,
            "max_vocab": 30000,
            "min_freq": 1,
            "max_length": 60,
            "train_table": None,
            "text_column": "text",
        },
        "batch_size": 32,
        "lr": 0.002,
        "epochs": 4,
        "target": 0.74,
    },
}
MODEL = {"preset": "conv_lstm", "pooling": "last", "dropout": 0.0}


def run_config(spec: dict[str, Any]) -> dict[str, Any]:
    """The rnnkit run config of one dataset spec: every key the default recipe would fill is given."""
    model = {**MODEL, **spec.get("model", {})}
    train = {"epochs": spec["epochs"], "batch_size": spec["batch_size"], "lr": spec["lr"],
             "weight_decay": 0.01, "optimizer": "adamw", "schedule": "constant", "warmup_ratio": 0.0,
             "warmup_steps": 0, "clip_grad_norm": None, "monitor": "val_accuracy", "mode": "max",
             "early_stopping_patience": None, "eval_every": "epoch", "mixed_precision": "off",
             "device": "cpu", "seed": 0}  # fmt: skip
    data = {"characters": False, "embeddings": None, "tfidf_baseline": False, **spec["data"]}
    return {"task": "classification", "name": "tta", "data": data, "model": model, "train": train}


def write_config(spec: dict[str, Any], folder: Path) -> Path:
    path = folder / "config.json"
    path.write_text(json.dumps(run_config(spec)), encoding="utf-8")
    return path


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


# ----- the systems (each in a child process) ---------------------------------------------------------------
def run_rnnkit(spec: dict[str, Any], folder: Path) -> dict[str, Any]:
    """rnnkit's runner on the config; the time to target from its metrics log."""
    from rnnkit.tasks.runner import fit

    fit(write_config(spec, folder), run_dir=folder / "run", quiet=True)
    records = [json.loads(line) for line in (folder / "run" / "metrics.jsonl").read_text().splitlines()]
    start = next(r["time"] for r in records if r["event"] == "start")
    evals = [r for r in records if r["event"] == "eval"]
    return at_target([(r["time"] - start, r["val_accuracy"]) for r in evals], spec["target"])


def at_target(curve: list[tuple[float, float]], target: float) -> dict[str, Any]:
    """The first (seconds, accuracy) of ``curve`` (one per epoch) at or above ``target``; else the last."""
    accuracies = [round(accuracy, 4) for _, accuracy in curve]
    for epoch, (seconds, accuracy) in enumerate(curve, 1):
        if accuracy >= target:
            return {
                "seconds": seconds,
                "epochs": epoch,
                "accuracy": accuracy,
                "reached": True,
                "curve": accuracies,
            }
    seconds, accuracy = curve[-1]
    return {
        "seconds": seconds,
        "epochs": len(curve),
        "accuracy": accuracy,
        "reached": False,
        "curve": accuracies,
    }


def encoded_splits(spec: dict[str, Any], folder: Path) -> tuple[Any, dict[str, list[tuple[list[int], int]]]]:
    """rnnkit's task for the same config (recipe applied, vocabulary built) and its (ids, label) splits."""
    from rnnkit.tasks.base import load_run_config, task_class

    cls = task_class("classification")
    config, _ = cls.default_recipe(load_run_config(write_config(spec, folder)))
    task = cls.from_run_config(config)
    task.prepare(folder)
    index = {label: k for k, label in enumerate(task.labels)}
    return task, {name: [(task.encode(e.text), index[e.label]) for e in examples]
                  for name, examples in task.splits.items() if name in ("train", "val")}  # fmt: skip


def run_hand(spec: dict[str, Any], folder: Path) -> dict[str, Any]:
    """The tutorial loop: torch.nn layers, a shuffling DataLoader padding to the batch's longest, AdamW."""
    import torch
    from torch import nn
    from torch.utils.data import DataLoader

    task, splits = encoded_splits(spec, folder)
    preset = task.model_config()
    embedding_dim, channels = preset.embedding_dim, preset.conv.channels
    kernel, pool, hidden = preset.conv.kernel_sizes[0], preset.conv.pool_size, preset.rnn.hidden_size

    class ConvLSTM(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.embedding = nn.Embedding(len(task.vocab), embedding_dim, padding_idx=0)
            self.dropout = nn.Dropout(preset.embedding_dropout)
            self.conv = nn.Conv1d(embedding_dim, channels, kernel, padding=kernel // 2)
            self.pool = nn.MaxPool1d(pool, ceil_mode=True)
            self.lstm = nn.LSTM(channels, hidden, batch_first=True)
            self.head = nn.Linear(hidden, len(task.labels))

        def forward(self, ids: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
            x = self.dropout(self.embedding(ids)).transpose(1, 2)
            x = self.pool(torch.relu(self.conv(x))).transpose(1, 2)
            out, _ = self.lstm(x)
            last = (lengths + pool - 1) // pool - 1  # each text's last pooled step
            return self.head(out[torch.arange(len(ids)), last])

    def collate(items: list[tuple[list[int], int]]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        lengths = torch.tensor([len(ids) for ids, _ in items])
        ids = torch.zeros(len(items), int(lengths.max()), dtype=torch.long)
        for row, (tokens, _) in enumerate(items):
            ids[row, : len(tokens)] = torch.tensor(tokens)
        return ids, lengths, torch.tensor([label for _, label in items])

    torch.manual_seed(0)
    random.seed(0)
    train = DataLoader(splits["train"], batch_size=spec["batch_size"], shuffle=True, collate_fn=collate)
    val = DataLoader(splits["val"], batch_size=spec["batch_size"], collate_fn=collate)
    model = ConvLSTM()
    optimizer = torch.optim.AdamW(model.parameters(), lr=spec["lr"], weight_decay=0.01)
    loss_fn = nn.CrossEntropyLoss()
    curve: list[tuple[float, float]] = []
    started = time.perf_counter()
    for _ in range(spec["epochs"]):
        model.train()
        for ids, lengths, labels in train:
            optimizer.zero_grad()
            loss_fn(model(ids, lengths), labels).backward()
            optimizer.step()
        model.eval()
        correct = 0
        with torch.no_grad():
            for ids, lengths, labels in val:
                correct += int((model(ids, lengths).argmax(-1) == labels).sum())
        curve.append((time.perf_counter() - started, correct / len(splits["val"])))
        if curve[-1][1] >= spec["target"]:
            break
    return at_target(curve, spec["target"])


def run_keras(spec: dict[str, Any], folder: Path) -> dict[str, Any]:
    """Keras 3: the same layers (Embedding, Conv1D same, MaxPooling1D, LSTM with masking off, Dense)."""
    import keras
    import numpy as np

    task, splits = encoded_splits(spec, folder)
    preset = task.model_config()
    length = spec["data"]["max_length"]

    def arrays(items: list[tuple[list[int], int]]) -> tuple[Any, Any]:
        ids = np.zeros((len(items), length), dtype="int32")
        for row, (tokens, _) in enumerate(items):
            ids[row, : len(tokens)] = tokens[:length]
        return ids, np.array([label for _, label in items])

    keras.utils.set_random_seed(0)
    model = keras.Sequential([
        keras.layers.Embedding(len(task.vocab), preset.embedding_dim),
        keras.layers.Dropout(preset.embedding_dropout),
        keras.layers.Conv1D(preset.conv.channels, preset.conv.kernel_sizes[0], padding="same",
                            activation="relu"),
        keras.layers.MaxPooling1D(preset.conv.pool_size, padding="same"),
        keras.layers.LSTM(preset.rnn.hidden_size),
        keras.layers.Dense(len(task.labels)),
    ])  # fmt: skip
    model.compile(optimizer=keras.optimizers.AdamW(spec["lr"], weight_decay=0.01), metrics=["accuracy"],
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))  # fmt: skip
    (x, y), (vx, vy) = arrays(splits["train"]), arrays(splits["val"])
    curve: list[tuple[float, float]] = []
    started = time.perf_counter()
    for _ in range(spec["epochs"]):
        model.fit(x, y, batch_size=spec["batch_size"], epochs=1, verbose=0, shuffle=True)
        curve.append((time.perf_counter() - started, float(model.evaluate(vx, vy, verbose=0)[1])))
        if curve[-1][1] >= spec["target"]:
            break
    return at_target(curve, spec["target"])


SYSTEMS = {"rnnkit": run_rnnkit, "hand loop (torch.nn)": run_hand, "Keras 3": run_keras}


def child(system: str, spec: dict[str, Any]) -> None:
    """One system's run, in this process; prints its result as the last line of JSON."""
    import torch

    torch.set_num_threads(THREADS)
    with tempfile.TemporaryDirectory() as folder:
        result = SYSTEMS[system](spec, Path(folder))
    print(json.dumps({**result, "rss_mib": peak_rss_mib()}))


# ----- the parent: alternate the systems, report ------------------------------------------------------------
def keras_available() -> bool:
    try:
        import keras  # noqa: F401
    except ImportError:
        return False
    return True


def spawn(system: str, spec: dict[str, Any], timeout: float) -> dict[str, Any]:
    command = [sys.executable, __file__, "--child", system, "--spec", json.dumps(spec)]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
    done = subprocess.run(command, capture_output=True, text=True, timeout=timeout, cwd=REPO, env=env)
    if done.returncode != 0:
        raise RuntimeError(f"{system} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def summarise(runs: list[dict[str, Any]]) -> dict[str, Any]:
    return {"seconds": statistics.median(r["seconds"] for r in runs),
            "epochs": statistics.median(r["epochs"] for r in runs),
            "accuracy": statistics.median(r["accuracy"] for r in runs),
            "reached": all(r["reached"] for r in runs),
            "rss_mib": max(r["rss_mib"] for r in runs)}  # fmt: skip


def table(results: dict[str, dict[str, dict[str, Any]]], specs: dict[str, dict[str, Any]], repeats: int,
          notes: list[str]) -> str:  # fmt: skip
    lines = [f"Time to a validation-accuracy target, median of {repeats} run(s) per system, {THREADS} torch "
             "threads; seconds from the start of training to the end of the first epoch's validation at or "
             "above the target.", ""]  # fmt: skip
    for name, rows in results.items():
        spec = specs[name]
        lines += [f"### {name}: target val accuracy {spec['target']:.2f} (batch {spec['batch_size']}, "
                  f"lr {spec['lr']}, AdamW, epochs cap {spec['epochs']})", "",
                  "| system | seconds to target | epochs to target | val accuracy at stop | peak RSS MiB "
                  "| time / hand loop |", "|---|---|---|---|---|---|"]  # fmt: skip
        hand = rows["hand loop (torch.nn)"]
        for system, row in rows.items():
            seconds = f"{row['seconds']:.1f}" if row["reached"] else f"not reached ({row['seconds']:.1f})"
            ratio = f"{row['seconds'] / hand['seconds']:.2f}x" if row["reached"] and hand["reached"] else "-"
            lines.append(f"| {system} | {seconds} | {row['epochs']:g} | {row['accuracy']:.4f} | "
                         f"{row['rss_mib']:.0f} | {ratio} |")  # fmt: skip
        lines.append("")
    return "\n".join(lines + notes) + "\n"


def quick_spec(folder: Path) -> dict[str, Any]:
    """A tiny synthetic sentiment set (a word decides the label) in ``folder``: for CI, not timed."""
    rng = random.Random(0)
    words = [f"w{k}" for k in range(40)]
    for split, n in (("train", 240), ("val", 60), ("test", 60)):
        rows = ["text\tlabel"]
        for _ in range(n):
            label = rng.randrange(2)
            text = [rng.choice(words) for _ in range(rng.randrange(4, 16))]
            text.insert(rng.randrange(len(text)), "good" if label else "bad")
            rows.append(f"{' '.join(text)}\t{label}")
        (folder / f"{split}.tsv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    data = {"train": str(folder / "train.tsv"), "validation": str(folder / "val.tsv"),
            "test": str(folder / "test.tsv"), "tokenizer": "word", "lowercase": True, "max_vocab": 1000,
            "min_freq": 1, "max_length": 20}  # fmt: skip
    return {"data": data, "batch_size": 16, "lr": 0.005, "epochs": 2, "target": 0.5,
            "model": {"embedding_dim": 16, "conv": {"channels": 8, "kernel_sizes": [3], "pool_size": 2},
                      "rnn": {"cell": "lstm", "hidden_size": 8, "bidirectional": False}}}  # fmt: skip


def parse_targets(values: list[str]) -> dict[str, float]:
    targets = {}
    for value in values:
        name, _, number = value.partition("=")
        if name not in DATASETS or not number:
            raise SystemExit(f"--target {value!r}: give DATASET=ACCURACY, DATASET one of {sorted(DATASETS)}")
        targets[name] = float(number)
    return targets


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--datasets", nargs="+", choices=sorted(DATASETS), default=["nsmc", "sst2"])
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--target", nargs="*", default=[], help="DATASET=ACCURACY, e.g. nsmc=0.80")
    parser.add_argument("--epochs", type=int, help="the epochs cap (default: per dataset)")
    parser.add_argument("--quick", action="store_true", help="a tiny synthetic set: a smoke test, not timed")
    parser.add_argument("--markdown", type=Path, help="write the table here")
    parser.add_argument("--timeout", type=float, default=900, help="seconds per child run")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--spec", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, json.loads(args.spec))
        return
    systems = ["rnnkit", "hand loop (torch.nn)"]
    notes = []
    if keras_available():
        systems.append("Keras 3")
    else:
        print(KERAS_NOTE)
        notes.append(KERAS_NOTE)
    with tempfile.TemporaryDirectory() as scratch:
        if args.quick:
            specs = {"quick (synthetic)": quick_spec(Path(scratch))}
        else:
            targets = parse_targets(args.target)
            specs = {name: {**DATASETS[name], "target": targets.get(name, DATASETS[name]["target"])}
                     for name in args.datasets}  # fmt: skip
        if args.epochs:
            specs = {name: {**spec, "epochs": args.epochs} for name, spec in specs.items()}
        results: dict[str, dict[str, dict[str, Any]]] = {}
        for name, spec in specs.items():
            runs: dict[str, list[dict[str, Any]]] = {system: [] for system in systems}
            for repeat in range(args.repeats):
                for system in systems:
                    run = spawn(system, spec, args.timeout)
                    runs[system].append(run)
                    print(f"{name} repeat {repeat + 1} {system}: {json.dumps(run)}", flush=True)
            results[name] = {system: summarise(r) for system, r in runs.items()}
    text = table(results, specs, args.repeats, notes)
    print(text)
    if args.markdown:
        args.markdown.parent.mkdir(parents=True, exist_ok=True)
        args.markdown.write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main()
