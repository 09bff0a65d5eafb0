"""A text classifier three ways in one run: rnnkit eager (torch) vs its ONNX export (float32) vs int8;
and its recurrent layer streamed one step at a time: rnnkit.Streamer vs an ONNX Runtime step graph.

The run is exported with ``--quantize int8`` into a temporary folder; the three contenders get the same
inputs, encoded once beforehand (encoding is the same code for all three, so only the model is timed):
batch 1 (latency per call) and batch 64 (throughput), texts of the run's test split (or the installed
chatterbot corpus). Calls are interleaved (``rnnkit.bench.timer``) so drift lands on all; medians and ratios
against eager. The test-split accuracy of each (the export's manifest) is printed beside.

Streaming (a live input, one step per call, batch 1): the forward direction of the run's first recurrent
layer, with its trained weights, stepped over 32 inputs by ``rnnkit.Streamer`` (pre-packed weights, no
allocation per step), by ONNX Runtime on that layer exported with its state as inputs and outputs (the form an
ONNX model streams in: ``(x, h, c) -> (y, h, c)``, ORT's native LSTM / GRU / RNN op) and by eager torch.nn
at T=1; microseconds per step.

    python benchmarks/export.py runs/chatterbot --markdown benchmarks/results/export-cpu.md
    python benchmarks/export.py --quick      # a tiny untrained run, 2 repeats: a smoke run (CI), never timed
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from pathlib import Path

import torch
import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from rnnkit.bench.timer import time_interleaved  # noqa: E402
from rnnkit.export.folder import export_run  # noqa: E402
from rnnkit.export.runtime import load_export  # noqa: E402
from rnnkit.tasks.runner import load_run  # noqa: E402

BATCHES = (1, 64)
STREAM_STEPS = 32


def tiny_run(folder: Path) -> Path:
    """An untrained chatterbot classifier saved as a run folder (for ``--quick``)."""
    from rnnkit.config import save_config
    from rnnkit.models.io import save_model
    from rnnkit.tasks.base import load_run_config, task_class

    given = folder / "given.yaml"
    folder.mkdir(parents=True)
    given.write_text(yaml.safe_dump({
        "task": "classification",
        "data": {"dataset": "chatterbot", "tokenizer": "char", "tfidf_baseline": False},
        "model": {"preset": "conv_lstm", "embedding_dim": 8, "conv": {"channels": 8, "kernel_sizes": [3],
                  "pool_size": 2}, "rnn": {"hidden_size": 8, "bidirectional": True}, "pooling": "max"},
    }))  # fmt: skip
    config = load_run_config(given)
    task = task_class(config.task, str(given)).from_run_config(config, str(given))
    task.prepare(folder)
    save_config(config, folder / "run.yaml")
    save_model(task.build_model(), folder / "model", extra={"task": "classification"})
    return folder


def texts_of(task, count: int) -> list[str]:
    """``count`` texts of the run's test split (repeated if it is short)."""
    task.loaders()
    pool = [e.text for e in task.splits["test"]] or [e.text for e in task.splits["train"]]
    return [pool[k % len(pool)] for k in range(count)]


def contenders(run: Path, folder: Path, texts: list[str], threads: int) -> dict[str, object]:
    """name -> a call on ``texts`` already encoded, for eager torch, ONNX float32 and ONNX int8."""
    task, model = load_run(run, "cpu")
    model.eval()
    batch = task.batch(texts)
    extras = task.model_extras(batch)

    def eager() -> object:
        with torch.no_grad():
            return model.predict_proba(batch["inputs"], batch["lengths"], **extras)

    calls = {"rnnkit eager (torch)": eager}
    for kind, name in (("float32", "ONNX Runtime float32"), ("int8", "ONNX Runtime int8")):
        exported = load_export(folder, kind, threads=threads)
        feeds = exported.predictor.encoder.encode(texts)
        calls[name] = lambda session=exported.session, feeds=feeds: session.run(None, feeds)
    return calls


def stream_contenders(model: torch.nn.Module) -> tuple[dict[str, object], str]:
    """name -> a call stepping ``STREAM_STEPS`` inputs one at a time through the forward direction of
    ``model.rnn``'s first layer (its weights), and a description of that layer."""
    sys.path.insert(0, str(REPO / "benchmarks"))
    from peers import _WithState, onnx_session  # the speed benchmark's S4 ONNX Runtime contender

    import rnnkit
    from rnnkit.fused.stream import Streamer

    layer = model.rnn
    cell = {"lstm": "LSTM", "gru": "GRU", "rnn": "RNN"}[model.config.rnn.cell]
    weights = {key: value for key, value in layer.state_dict().items() if key.endswith("_l0")}
    plain = getattr(torch.nn, cell)(layer.input_size, layer.hidden_size).eval()
    plain.load_state_dict(weights)
    ours = getattr(rnnkit, cell)(layer.input_size, layer.hidden_size)
    ours.load_state_dict(weights)
    stream, out = Streamer(ours), torch.empty(1, layer.hidden_size)
    xs = list(torch.randn(STREAM_STEPS, 1, layer.input_size, generator=torch.Generator().manual_seed(0)))
    zeros = torch.zeros(1, 1, layer.hidden_size)
    state = (zeros, zeros.clone()) if cell == "LSTM" else (zeros,)
    session, names = onnx_session(_WithState(plain), (xs[0].unsqueeze(0), *state))
    steps = [x.unsqueeze(0).numpy() for x in xs]

    def streamer() -> None:
        stream.reset()
        for x in xs:
            stream.step(x, out)

    def onnx_step() -> None:
        carried = [s.numpy() for s in state]
        for x in steps:
            carried = session.run(None, {names[0]: x, **dict(zip(names[1:], carried))})[1:]

    def eager() -> None:
        with torch.inference_mode():
            h = None
            for x in xs:
                _, h = plain(x.unsqueeze(0), h)

    described = f"{cell}({layer.input_size}, {layer.hidden_size}), the forward direction of layer 0"
    calls = {"rnnkit Streamer": streamer, "ONNX Runtime step graph (T=1)": onnx_step,
             "torch.nn at T=1": eager}  # fmt: skip
    return calls, described + ("" if stream.fast else " (Streamer without its C++ kernel)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", nargs="?", type=Path, help="a classification run folder")
    parser.add_argument("--quick", action="store_true", help="a tiny untrained run, 2 repeats (smoke run)")
    parser.add_argument("--repeats", type=int, default=None, help="timed calls per contender (default 50)")
    parser.add_argument("--threads", type=int, default=1, help="CPU threads of torch and ONNX Runtime")
    parser.add_argument("--markdown", type=Path, default=None, help="also write the table here")
    args = parser.parse_args(argv)
    if args.run is None and not args.quick:
        parser.error("give a classification run folder (or --quick)")
    repeats = args.repeats or (2 if args.quick else 50)
    torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory() as scratch:
        run = args.run or tiny_run(Path(scratch) / "run")
        result = export_run(run, Path(scratch) / "export", quantize="int8")
        task, model = load_run(run, "cpu")
        rows = []
        for size in BATCHES:
            texts = texts_of(task, size)
            samples = time_interleaved(contenders(run, result.folder, texts, args.threads), repeats, warmup=3)
            medians = {name: statistics.median(times) for name, times in samples.items()}
            eager = medians["rnnkit eager (torch)"]
            for name, median in medians.items():
                rows.append((size, name, median * 1e3, size / median, eager / median))
        calls, described = stream_contenders(model.eval())
        samples = time_interleaved(calls, repeats, warmup=3)
        streamed = {name: statistics.median(times) / STREAM_STEPS for name, times in samples.items()}
        metrics = result.manifest["export_test_metrics"]
        accuracy = lambda kind: metrics.get(kind, {}).get("test_accuracy", float("nan"))  # noqa: E731
        sizes = {kind: result.size(name) for kind, name in result.manifest["models"].items()}
    lines = [
        f"threads: {args.threads}, repeats: {repeats}, torch {torch.__version__}, "
        f"onnxruntime {result.manifest['versions']['onnxruntime']}",
        "",
        "| batch | system | median ms / call | texts / s | speed-up over eager |",
        "|---|---|---|---|---|",
        *(f"| {b} | {name} | {ms:.3f} | {rate:,.0f} | {ratio:.2f}x |" for b, name, ms, rate, ratio in rows),
        "",
        "| model file | size | test accuracy |",
        "|---|---|---|",
        *(f"| {kind} | {sizes[kind] / 2**10:,.0f} KiB | {accuracy(kind):.4f} |" for kind in sizes),
        "",
        f"streaming {described}, batch 1, {STREAM_STEPS} steps per call:",
        "",
        "| system | median µs / step | time over rnnkit Streamer |",
        "|---|---|---|",
        *(f"| {name} | {t * 1e6:.1f} | {t / streamed['rnnkit Streamer']:.2f}x |"
          for name, t in streamed.items()),
    ]  # fmt: skip
    table = "\n".join(lines)
    print(table)
    if args.markdown:
        args.markdown.parent.mkdir(parents=True, exist_ok=True)
        args.markdown.write_text(table + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
