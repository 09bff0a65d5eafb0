"""Time to accuracy: the seed's text classifier (Embedding -> Conv1D -> MaxPool1D -> LSTM -> Dense, rnnkit's
``conv_lstm`` preset) trained to the same validation accuracy by rnnkit's runner, by a hand-written PyTorch
loop and by Keras 3, with the same tokens, vocabulary, splits and hyperparameters.

    python benchmarks/time_to_accuracy.py [--datasets nsmc sst2] [--repeats R] [--target nsmc=0.78]
                                          [--epochs N] [--markdown PATH] [--keras-python PATH]
                                          [--keras-init keras|torch]
    python benchmarks/time_to_accuracy.py --quick     # a tiny synthetic set, 2 epochs: CI, not timed

Each system trains in its own subprocess, one after the other, alternating (rnnkit, hand, Keras, rnnkit,
...). rnnkit and the hand loop run in this interpreter with 2 torch threads. Keras runs in
``--keras-python PATH`` (default: this interpreter, where ``import keras`` works), with ``KERAS_BACKEND``
from the environment, else ``jax`` (and ``JAX_PLATFORMS=cpu``); its process is pinned to 2 CPUs
(``os.sched_setaffinity``), since XLA sizes its CPU thread pools from the CPUs a process may use and has
no thread-count setting. Where neither has keras, its row is skipped with a note saying how to build the
venv: ``python3 -m venv /work/kvenv && /work/kvenv/bin/pip install torch==2.13.0 && /work/kvenv/bin/pip
install -e . keras jax jaxlib`` (torch pinned exactly, so pip does not pull a CUDA build; rnnkit is needed
there too: the Keras child tokenises with rnnkit's task). A ``--keras-python`` where keras does not import
is an error. ``--keras-init torch``, a diagnostic, gives the Keras model torch's default initialisers
(:func:`keras_classifier`) instead of Keras's.

Time to target is measured from the start of training (after the data are tokenised, which all share: the
hand loop and Keras encode with rnnkit's task) to the end of the first per-epoch validation whose accuracy
reaches the target; for rnnkit it is read from ``metrics.jsonl`` (the ``start`` event to the first
``eval`` event at or above the target), since rnnkit has no stop-at-target key: its run goes on to the
epochs cap, and only the time to the target is reported. Keras's time includes XLA's compilation of its
train and eval steps (in its first epoch). Peak RSS is each child's ``ru_maxrss`` (every child imports
torch and rnnkit for the tokens; the Keras child holds its backend besides).

All: AdamW (weight decay 0.01 on matrices only in rnnkit; on all weights by hand and in Keras, their
default way; eps 1e-8), constant learning rate, no gradient clipping, no warm-up, the same batch size for
training and validation, the same epochs cap, seed 0. Differences of implementation, on purpose: rnnkit
buckets batches by length and masks padding; the hand loop shuffles, pads each batch to its longest text
and reads the LSTM output at each text's last real (pooled) step, as the tutorials do; Keras shuffles and
pads every text to ``max_length`` (one static shape for XLA), zeroes the padding's embeddings and
convolution outputs and gives the LSTM the pooled mask (its output: the last real pooled step), so its
logits equal those of the unpadded text, as rnnkit's do. The hand loop starts from torch's default weights;
Keras and rnnkit's ``conv_lstm`` preset (``model.init: keras``) from Keras's.
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
KERAS = "Keras 3"
KERAS_NOTE = (
    "note: keras is not installed; its row is skipped. To get it, a venv of its own (torch exactly as here, "
    "so pip does not pull a CUDA build): python3 -m venv /work/kvenv && /work/kvenv/bin/pip install "
    "torch==2.13.0 && /work/kvenv/bin/pip install -e . keras jax jaxlib; then --keras-python "
    "/work/kvenv/bin/python"
)
# the Keras child's backend, unless the caller's environment names one: JAX, on the CPU
KERAS_ENV = {"KERAS_BACKEND": "jax", "JAX_PLATFORMS": "cpu"}

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
    times = [round(seconds, 1) for seconds, _ in curve]  # seconds since the start at each epoch's end
    for epoch, (seconds, accuracy) in enumerate(curve, 1):
        if accuracy >= target:
            return {
                "seconds": seconds,
                "epochs": epoch,
                "accuracy": accuracy,
                "reached": True,
                "curve": accuracies,
                "times": times,
            }
    seconds, accuracy = curve[-1]
    return {
        "seconds": seconds,
        "epochs": len(curve),
        "accuracy": accuracy,
        "reached": False,
        "curve": accuracies,
        "times": times,
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


def keras_classifier(preset: Any, vocab_size: int, num_classes: int, length: int, init: str = "keras") -> Any:
    """The ``conv_lstm`` classifier of rnnkit's ``preset`` (a ClassifierConfig) as a Keras 3 model of
    ``(B, length)`` int32 ids, padded with 0 after each text, to ``(B, num_classes)`` logits.

    ``init="keras"``: Keras's default initialisers (embedding U(-0.05, 0.05), Glorot kernels, orthogonal
    recurrent kernel, forget bias 1; rnnkit's preset starts so too); ``"torch"``: torch's defaults, as the
    hand loop has them (embedding N(0, 1); every other weight and bias U(-1/sqrt(fan_in), 1/sqrt(fan_in)),
    the LSTM's with fan_in = H; torch's LSTM has two biases, each so drawn, Keras one).

    Padding is zeroed after the embedding (rnnkit's ``padding_idx=0``) and after the relu convolution
    (relu >= 0, so a zero never wins a pooling window that holds a real step: rnnkit's -inf fill gives the
    same maximum), and the LSTM gets the pooled mask, so its output is each text's state at its last real
    pooled step: the logits do not depend on ``length``."""
    import keras
    from keras import ops

    if init not in ("keras", "torch"):
        raise ValueError(f"keras_classifier: init must be 'keras' or 'torch', got {init!r}")
    pool, kernel, hidden = preset.conv.pool_size, preset.conv.kernel_sizes[0], preset.rnn.hidden_size

    def torch_like(fan_in: int, *names: str) -> dict[str, Any]:
        """torch's default U(-1/sqrt(fan_in), 1/sqrt(fan_in)) for the named initialisers (init="torch")."""
        bound = fan_in**-0.5
        uniform = keras.initializers.RandomUniform(-bound, bound)
        return {name: uniform for name in names} if init == "torch" else {}

    normal = keras.initializers.RandomNormal(0.0, 1.0)
    embedding = {"embeddings_initializer": normal} if init == "torch" else {}
    conv = torch_like(kernel * preset.embedding_dim, "kernel_initializer", "bias_initializer")
    lstm = torch_like(hidden, "kernel_initializer", "recurrent_initializer", "bias_initializer")
    lstm |= {"unit_forget_bias": False} if init == "torch" else {}
    head = torch_like(hidden, "kernel_initializer", "bias_initializer")
    ids = keras.Input((length,), dtype="int32")
    valid = ops.expand_dims(ops.cast(ops.not_equal(ids, 0), "float32"), -1)  # (B, T, 1)
    x = keras.layers.Embedding(vocab_size, preset.embedding_dim, **embedding)(ids) * valid
    x = keras.layers.Dropout(preset.embedding_dropout)(x)
    x = keras.layers.Conv1D(preset.conv.channels, kernel, padding="same", activation="relu", **conv)(x)
    x = x * valid
    x = keras.layers.MaxPooling1D(pool, padding="same")(x)  # ceil(T / pool) steps, as ceil_mode
    pooled_valid = ops.squeeze(keras.layers.MaxPooling1D(pool, padding="same")(valid), -1) > 0
    x = keras.layers.LSTM(hidden, **lstm)(x, mask=pooled_valid)
    return keras.Model(ids, keras.layers.Dense(num_classes, **head)(x))


def run_keras(spec: dict[str, Any], folder: Path) -> dict[str, Any]:
    """Keras 3 (any backend; the benchmark's venv uses JAX): :func:`keras_classifier`, ``model.fit`` one
    epoch at a time (shuffled), ``model.evaluate`` after each. Texts are padded after their end to
    ``max_length``: one static shape, what XLA compiles for (plus the last, smaller batch)."""
    import keras
    import numpy as np

    task, splits = encoded_splits(spec, folder)
    length = spec["data"]["max_length"]

    def arrays(items: list[tuple[list[int], int]]) -> tuple[Any, Any]:
        ids = np.zeros((len(items), length), dtype="int32")  # task.encode keeps <= max_length ids
        for row, (tokens, _) in enumerate(items):
            ids[row, : len(tokens)] = tokens
        return ids, np.array([label for _, label in items], dtype="int32")

    keras.utils.set_random_seed(0)
    init = spec.get("keras_init", "keras")
    model = keras_classifier(task.model_config(), len(task.vocab), len(task.labels), length, init)
    optimizer = keras.optimizers.AdamW(spec["lr"], weight_decay=0.01, epsilon=1e-8)  # torch's eps
    model.compile(optimizer=optimizer, loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=[keras.metrics.SparseCategoricalAccuracy(name="accuracy")])  # fmt: skip
    (x_train, y_train), (x_val, y_val) = arrays(splits["train"]), arrays(splits["val"])
    curve: list[tuple[float, float]] = []
    started = time.perf_counter()
    for _ in range(spec["epochs"]):
        model.fit(x_train, y_train, batch_size=spec["batch_size"], epochs=1, verbose=0, shuffle=True)
        scores = model.evaluate(x_val, y_val, batch_size=spec["batch_size"], verbose=0, return_dict=True)
        curve.append((time.perf_counter() - started, float(scores["accuracy"])))
        if curve[-1][1] >= spec["target"]:
            break
    return {**at_target(curve, spec["target"]), "versions": f"{keras_versions()}, {init}'s initialisers"}


def keras_versions() -> str:
    """``keras 3.x (backend jax 0.y)``: what the Keras row ran with."""
    import importlib.metadata

    import keras

    backend = keras.backend.backend()
    try:
        version = importlib.metadata.version(backend)
    except importlib.metadata.PackageNotFoundError:
        version = "?"
    return f"keras {keras.__version__}, backend {backend} {version}"


SYSTEMS = {"rnnkit": run_rnnkit, "hand loop (torch.nn)": run_hand, KERAS: run_keras}


def child(system: str, spec: dict[str, Any]) -> None:
    """One system's run, in this process; prints its result as the last line of JSON.

    torch gets ``THREADS`` threads. Keras's backends have no thread-count setting that holds for every
    op (XLA sizes its CPU thread pools from the CPUs the process may run on), so its child is pinned to
    ``THREADS`` CPUs, before the backend loads."""
    if system == KERAS:
        os.sched_setaffinity(0, sorted(os.sched_getaffinity(0))[:THREADS])
    import torch

    torch.set_num_threads(THREADS)
    with tempfile.TemporaryDirectory() as folder:
        result = SYSTEMS[system](spec, Path(folder))
    print(json.dumps({**result, "rss_mib": peak_rss_mib()}))


# ----- the parent: alternate the systems, report ------------------------------------------------------------
def child_env(system: str) -> dict[str, str]:
    """The environment of a child: this one, the repository first on PYTHONPATH, Keras's backend."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
    return {**KERAS_ENV, **env} if system == KERAS else env


def keras_python(given: str | None) -> str | None:
    """The interpreter that runs the Keras child: ``given`` (an error if keras does not import there),
    else this one if keras imports here, else None (the row is skipped)."""
    python = given or sys.executable
    probe = [python, "-c", "import keras, rnnkit"]
    try:
        done = subprocess.run(probe, capture_output=True, text=True, timeout=300, env=child_env(KERAS))
    except OSError as error:
        raise SystemExit(f"--keras-python {python}: cannot run it ({error})") from None
    if done.returncode == 0:
        return python
    if given:
        raise SystemExit(f"--keras-python {given}: keras (or rnnkit) does not import:\n{done.stderr[-2000:]}")
    return None


def spawn(system: str, spec: dict[str, Any], timeout: float, python: str = sys.executable) -> dict[str, Any]:
    command = [python, __file__, "--child", system, "--spec", json.dumps(spec)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=timeout, cwd=REPO,
                          env=child_env(system))  # fmt: skip
    if done.returncode != 0:
        raise RuntimeError(f"{system} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def summarise(runs: list[dict[str, Any]]) -> dict[str, Any]:
    return {"seconds": statistics.median(r["seconds"] for r in runs),
            "epochs": statistics.median(r["epochs"] for r in runs),
            "accuracy": statistics.median(r["accuracy"] for r in runs),
            "reached": all(r["reached"] for r in runs),
            "rss_mib": max(r["rss_mib"] for r in runs),
            **({"versions": runs[0]["versions"]} if "versions" in runs[0] else {})}  # fmt: skip


def ratio(row: dict[str, Any], peer: dict[str, Any] | None) -> str:
    """``row``'s time over ``peer``'s, or "-" where either did not reach the target."""
    if peer is None or not (row["reached"] and peer["reached"]):
        return "-"
    return f"{row['seconds'] / peer['seconds']:.2f}x"


def table(results: dict[str, dict[str, dict[str, Any]]], specs: dict[str, dict[str, Any]], repeats: int,
          notes: list[str]) -> str:  # fmt: skip
    lines = [f"Time to a validation-accuracy target, median of {repeats} run(s) per system, {THREADS} torch "
             "threads; seconds from the start of training to the end of the first epoch's validation at or "
             "above the target.", ""]  # fmt: skip
    for name, rows in results.items():
        spec = specs[name]
        hand, keras = rows["hand loop (torch.nn)"], rows.get(KERAS)
        extra, rule = (" time / Keras 3 |", "---|") if keras else ("", "")
        lines += [f"### {name}: target val accuracy {spec['target']:.2f} (batch {spec['batch_size']}, "
                  f"lr {spec['lr']}, AdamW, epochs cap {spec['epochs']})", "",
                  "| system | seconds to target | epochs to target | val accuracy at stop | peak RSS MiB "
                  f"| time / hand loop |{extra}", f"|---|---|---|---|---|---|{rule}"]  # fmt: skip
        for system, row in rows.items():
            seconds = f"{row['seconds']:.1f}" if row["reached"] else f"not reached ({row['seconds']:.1f})"
            lines.append(f"| {system} | {seconds} | {row['epochs']:g} | {row['accuracy']:.4f} | "
                         f"{row['rss_mib']:.0f} | {ratio(row, hand)} |"
                         + (f" {ratio(row, keras)} |" if keras else ""))  # fmt: skip
        if keras:
            lines.append(f"\nKeras 3: {keras['versions']}, its child pinned to {THREADS} CPUs.")
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
    parser.add_argument("--keras-python", metavar="PATH",
                        help="the interpreter (a venv with keras and its backend) that runs the Keras 3 "
                        "child; default: this one, where keras imports")  # fmt: skip
    parser.add_argument("--keras-init", choices=["keras", "torch"], default="keras",
                        help="the Keras model's initialisers: Keras's defaults, or torch's (a diagnostic: "
                        "does the initialisation explain Keras's epochs to target?)")  # fmt: skip
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--spec", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, json.loads(args.spec))
        return
    systems = ["rnnkit", "hand loop (torch.nn)"]
    notes = []
    pythons = {system: sys.executable for system in systems}
    keras = keras_python(args.keras_python)
    if keras:
        systems.append(KERAS)
        pythons[KERAS] = keras
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
        specs = {name: {**spec, "keras_init": args.keras_init} for name, spec in specs.items()}
        results: dict[str, dict[str, dict[str, Any]]] = {}
        for name, spec in specs.items():
            runs: dict[str, list[dict[str, Any]]] = {system: [] for system in systems}
            for repeat in range(args.repeats):
                for system in systems:
                    run = spawn(system, spec, args.timeout, pythons[system])
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
