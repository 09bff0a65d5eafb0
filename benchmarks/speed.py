"""rnnkit's fused kernels against torch.nn, a hand-written loop and rnnkit's reference loop (S1-S5).

Run from the repository root:

    python benchmarks/speed.py                  # S1-S5, variants, streaming, memory; about 10 minutes
    python benchmarks/speed.py --quick          # tiny sizes, 2 repeats: checks that it all runs (CI)
    python benchmarks/speed.py --peers          # also Keras/TensorFlow and ONNX Runtime when installed
    python benchmarks/speed.py --markdown benchmarks/results/speed-cpu.md
    python benchmarks/speed.py --only variants --scenarios S1 S3   # some rows only

Scenarios (float32; "train" = forward + backward of sum(outputs) to every weight and the input):
S1 train/infer B=64 T=100 I=128 H=256, one layer; S2 train B=32 T=200 I=64 H=128, 2 bidirectional
layers; S3 inference = S1 sizes under ``torch.inference_mode``; S4 streaming, batch 1, one step per call,
I=64 H=128, microseconds per step; S5 training step of Embedding(20000, 128) -> LSTM(128) -> Linear(2),
B=64 T=200. Systems are timed interleaved (round-robin after a warm-up) in one process; each row is the
median; ``ratio`` is the row's time over torch.nn's (lower is faster), ``speed-up`` its inverse, and
``% peak`` the row's matrix FLOP/s (2·G·H·(I+H)·B·T per layer and direction, train = 3x) over a
2048x2048 ``torch.mm`` timed in the same run. Variant rows are compared with rnnkit's plain fused layer.
"""

from __future__ import annotations

import argparse
import platform
import resource
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple

import torch
from torch import Tensor, nn

if __package__ in (None, ""):  # run as a script: use this checkout's rnnkit, installed or not
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import rnnkit
from rnnkit.bench.timer import median, time_interleaved
from rnnkit.fused.stream import Streamer

sys.path.insert(0, str(Path(__file__).resolve().parent))
from hand_loops import HandRNN
from peers import peer_systems

SECTIONS = ("layers", "variants", "streaming", "classifier", "memory")


class Scenario(NamedTuple):
    name: str
    batch: int
    steps: int
    input_size: int
    hidden_size: int
    num_layers: int = 1
    bidirectional: bool = False


FULL = {
    "S1": Scenario("S1", 64, 100, 128, 256),
    "S2": Scenario("S2", 32, 200, 64, 128, 2, True),
    "S4": Scenario("S4", 1, 1, 64, 128),
    "S5": Scenario("S5", 64, 200, 128, 128),
}
QUICK = {
    "S1": Scenario("S1", 8, 20, 16, 32),
    "S2": Scenario("S2", 4, 20, 8, 16, 2, True),
    "S4": Scenario("S4", 1, 1, 8, 16),
    "S5": Scenario("S5", 8, 20, 16, 16),
}
GATES = {"LSTM": 4, "GRU": 3, "RNN": 1}
VARIANTS = {
    "LSTM": {"layer_norm": {"layer_norm": True}, "peephole": {"peephole": True}},
    "GRU": {"layer_norm": {"layer_norm": True}},
    "RNN": {},
}
REGULARISERS = {
    "recurrent_dropout": {"recurrent_dropout": 0.25},
    "zoneout": {"zoneout": 0.1},
    "weight_drop": {"weight_drop": 0.5},
}


def flops(cell: str, sc: Scenario, train: bool) -> float:
    directions = 2 if sc.bidirectional else 1
    total = 0
    for layer in range(sc.num_layers):
        inputs = sc.input_size if layer == 0 else directions * sc.hidden_size
        total += 2 * GATES[cell] * sc.hidden_size * (inputs + sc.hidden_size) * sc.batch * sc.steps
    return total * directions * (3 if train else 1)


def layer_kwargs(sc: Scenario) -> dict:
    return {"num_layers": sc.num_layers, "bidirectional": sc.bidirectional}


def call_of(module: nn.Module, x: Tensor, train: bool, record: bool = False) -> Callable[[], None]:
    """One timed call: inference under inference_mode, or forward + backward with fresh gradients."""
    module.train(train)
    params = list(module.parameters())
    run = module.record if record else module
    if not train:

        def infer() -> None:
            with torch.inference_mode():
                run(x)

        return infer

    def step() -> None:
        for p in [*params, x]:
            p.grad = None
        run(x)[0].sum().backward()

    return step


def layer_systems(cell: str, sc: Scenario, x: Tensor, train: bool) -> dict[str, Callable[[], None]]:
    torch.manual_seed(0)
    peer = getattr(nn, cell)(sc.input_size, sc.hidden_size, **layer_kwargs(sc))
    systems = {"torch.nn": call_of(peer, x, train)}
    hand = HandRNN(cell, sc.input_size, sc.hidden_size, **layer_kwargs(sc))
    systems["hand loop"] = call_of(hand, x, train)
    for impl in ("reference", "fused", "auto"):
        ours = getattr(rnnkit, cell)(sc.input_size, sc.hidden_size, impl=impl, **layer_kwargs(sc))
        ours.load_state_dict(peer.state_dict())
        systems[f"rnnkit {impl}"] = call_of(ours, x, train)
    return systems


def variant_systems(cell: str, sc: Scenario, x: Tensor, train: bool) -> dict[str, Callable[[], None]]:
    make = getattr(rnnkit, cell)
    systems = {
        "rnnkit fused (plain)": call_of(
            make(sc.input_size, sc.hidden_size, impl="fused", **layer_kwargs(sc)), x, train
        )
    }
    options = {**VARIANTS[cell], **REGULARISERS}
    for label, opts in options.items():
        if not train and label in ("recurrent_dropout", "weight_drop"):
            continue  # identity in eval: nothing to measure
        systems[label] = call_of(make(sc.input_size, sc.hidden_size, **layer_kwargs(sc), **opts), x, train)
    if not train:
        systems["record()"] = call_of(make(sc.input_size, sc.hidden_size, **layer_kwargs(sc)), x, False, True)
    return systems


class Table:
    """Rows printed as they come and kept for the Markdown file."""

    COLUMNS = ("scenario", "cell", "system", "mode", "time", "ratio", "speed-up", "% peak")

    def __init__(self) -> None:
        self.rows: list[tuple[str, ...]] = []
        print("  ".join(f"{c:<22}" if k == 2 else f"{c:<9}" for k, c in enumerate(self.COLUMNS)))

    def add(self, *row: str) -> None:
        self.rows.append(row)
        print("  ".join(f"{c:<22}" if k == 2 else f"{c:<9}" for k, c in enumerate(row)), flush=True)

    def add_timed(self, sc, cell, mode, times: dict[str, float], base: str, work: float | None, peak: float):
        for name, seconds in times.items():
            share = f"{100 * work / seconds / peak:.0f}" if work else ""
            ratio = seconds / times[base]
            self.add(
                sc.name,
                cell,
                name,
                mode,
                f"{seconds * 1e3:.2f} ms",
                f"{ratio:.2f}x",
                f"{1 / ratio:.2f}x",
                share,
            )


def timed(systems: dict[str, Callable[[], None]], args) -> dict[str, float]:
    samples = time_interleaved(systems, args.repeats, args.warmup)
    return {name: median(s) for name, s in samples.items()}


def stream_systems(cell: str, sc: Scenario, xs: list[Tensor], peers: bool) -> dict[str, Callable[[], None]]:
    """S4 contenders: torch.nn's layer and cell stepped one input at a time, and rnnkit's Streamer."""
    torch.manual_seed(0)
    layer = getattr(nn, cell)(sc.input_size, sc.hidden_size).eval()
    cell_module = getattr(nn, f"{cell}Cell")(sc.input_size, sc.hidden_size).eval()
    ours = getattr(rnnkit, cell)(sc.input_size, sc.hidden_size)
    ours.load_state_dict(layer.state_dict())
    stream, out = Streamer(ours), torch.empty(1, sc.hidden_size)

    def torch_layer() -> None:
        with torch.inference_mode():
            h = None
            for x in xs:
                _, h = layer(x.unsqueeze(0), h)

    def torch_cell() -> None:
        with torch.inference_mode():
            h = None
            for x in xs:
                h = cell_module(x, h)

    def rnnkit_stream() -> None:
        stream.reset()
        for x in xs:
            stream.step(x, out)

    systems = {"torch.nn layer (T=1)": torch_layer, f"torch.nn.{cell}Cell": torch_cell}
    systems["rnnkit Streamer"] = rnnkit_stream
    if peers:
        systems.update(peer_systems("stream", cell, sc, layer, xs))
    return systems


def streaming(sc: Scenario, args, table: Table) -> None:
    """S4: microseconds per step at batch 1 for LSTM, GRU and RNN."""
    steps = 200 if args.quick else 2000
    xs = list(torch.randn(steps, 1, sc.input_size).unbind(0))
    for cell in ("LSTM", "GRU", "RNN"):
        times = timed(stream_systems(cell, sc, xs, args.peers), args)
        base = times["torch.nn layer (T=1)"]
        for name, seconds in times.items():
            us = f"{seconds / steps * 1e6:.1f} us"
            table.add(sc.name, cell, name, "step", us, f"{seconds / base:.2f}x", f"{base / seconds:.2f}x", "")


class TextClassifier(nn.Module):
    """The classic Embedding -> LSTM -> Linear text classifier (S5) on any LSTM layer class."""

    def __init__(self, lstm: nn.Module, vocab: int = 20000, dim: int = 128) -> None:
        super().__init__()
        self.embedding, self.lstm, self.head = nn.Embedding(vocab, dim), lstm, nn.Linear(lstm.hidden_size, 2)

    def forward(self, tokens: Tensor) -> Tensor:
        out, _ = self.lstm(self.embedding(tokens))
        return self.head(out[-1])


def classifier(sc: Scenario, args, table: Table) -> None:
    tokens = torch.randint(0, 20000, (sc.steps, sc.batch))
    labels = torch.randint(0, 2, (sc.batch,))
    systems = {}
    torch.manual_seed(0)
    peer = nn.LSTM(sc.input_size, sc.hidden_size)
    contenders = {"torch.nn": peer}
    for impl in ("auto", "fused"):
        contenders[f"rnnkit {impl}"] = rnnkit.LSTM(sc.input_size, sc.hidden_size, impl=impl)
    for name, lstm in contenders.items():
        if lstm is not peer:
            lstm.load_state_dict(peer.state_dict())
        model = TextClassifier(lstm, dim=sc.input_size)

        def step(model=model) -> None:
            model.zero_grad(set_to_none=True)
            nn.functional.cross_entropy(model(tokens), labels).backward()

        systems[name] = step
    table.add_timed(sc, "LSTM", "train", timed(systems, args), "torch.nn", flops("LSTM", sc, True), args.peak)


def peak_rss_child(system: str, sc: Scenario) -> None:
    """Print the growth of peak RSS (MiB) over one S1 LSTM training step of ``system``."""
    torch.manual_seed(0)
    x = torch.randn(sc.steps, sc.batch, sc.input_size, requires_grad=True)
    if system == "torch.nn":
        module = nn.LSTM(sc.input_size, sc.hidden_size)
    else:
        recompute = system.endswith("recompute")
        module = rnnkit.LSTM(sc.input_size, sc.hidden_size, impl="fused", recompute=recompute)
    module(x[:2])[0].sum().backward()  # lazy initialisation (and the extension) before the baseline
    before = _reset_peak_rss()
    module(x)[0].sum().backward()
    print((_peak_rss_kib() - before) / 1024)


def _status_kib(key: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1])
    raise KeyError(key)


def _reset_peak_rss() -> int:
    """Reset the peak RSS to the current RSS (Linux: ``echo 5 > /proc/self/clear_refs``); return it in KiB.

    Without the reset, the peak of importing torch and building the model would hide the step's own peak.
    Elsewhere the lifetime peak (``ru_maxrss``) is the best there is.
    """
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return _status_kib("VmRSS")
    except OSError:
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def _peak_rss_kib() -> int:
    try:
        return _status_kib("VmHWM")
    except (OSError, KeyError):
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def memory(sc: Scenario, table: Table) -> None:
    for system in ("torch.nn", "rnnkit fused", "rnnkit fused recompute"):
        args = [sys.executable, __file__, "--rss-child", system, "--rss-sizes", ",".join(map(str, sc[1:5]))]
        result = subprocess.run(args, capture_output=True, text=True, check=True)
        grown = f"+{float(result.stdout.split()[-1]):.1f} MiB"
        table.add(sc.name, "LSTM", system, "peak RSS", grown, "", "", "")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes, 2 repeats (a smoke run)")
    parser.add_argument("--peers", action="store_true", help="add Keras/TensorFlow and ONNX Runtime")
    parser.add_argument("--repeats", type=int, default=None, help="timed calls per system (default 7)")
    parser.add_argument("--warmup", type=int, default=1)
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's)")
    parser.add_argument("--markdown", type=Path, default=None, help="also write the table here")
    parser.add_argument("--only", nargs="+", choices=SECTIONS, default=list(SECTIONS), help="sections to run")
    parser.add_argument(
        "--scenarios",
        nargs="+",
        choices=["S1", "S2", "S3"],
        default=["S1", "S2", "S3"],
        help="of layers/variants",
    )
    parser.add_argument("--rss-child", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--rss-sizes", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    args.repeats = args.repeats or (2 if args.quick else 7)
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    if args.rss_child is not None:
        batch, steps, inputs, hidden = map(int, args.rss_sizes.split(","))
        peak_rss_child(args.rss_child, Scenario("S1", batch, steps, inputs, hidden))
        return 0
    sizes = QUICK if args.quick else FULL
    n = 256 if args.quick else 2048
    a, b = torch.randn(n, n), torch.randn(n, n)
    args.peak = 2 * n**3 / median(time_interleaved({"mm": lambda: torch.mm(a, b)}, args.repeats)["mm"])
    header = (
        f"rnnkit {rnnkit.__version__}, torch {torch.__version__}, Python {platform.python_version()}, "
        f"{platform.machine()} {platform.processor() or ''}, {torch.get_num_threads()} threads; median of "
        f"{args.repeats}; mm peak {args.peak / 1e9:.0f} GFLOP/s"
    )
    print(header)
    table = Table()
    for name, train in (("S1", True), ("S1", False), ("S2", True)):
        sc = sizes[name]
        x = torch.randn(sc.steps, sc.batch, sc.input_size, requires_grad=train)
        label = "S3" if not train else name
        if label not in args.scenarios:
            continue
        for cell in GATES if "layers" in args.only else ():
            systems = layer_systems(cell, sc, x, train)
            if args.peers:
                systems.update(peer_systems("layer", cell, sc, None, x, train=train))
            mode, work = ("train" if train else "infer"), flops(cell, sc, train)
            table.add_timed(
                sc._replace(name=label), cell, mode, timed(systems, args), "torch.nn", work, args.peak
            )
        for cell in GATES if "variants" in args.only else ():
            if name == "S2" and cell == "RNN":
                continue
            times = timed(variant_systems(cell, sc, x, train), args)
            table.add_timed(
                sc._replace(name=label),
                cell,
                "train" if train else "infer",
                times,
                "rnnkit fused (plain)",
                None,
                args.peak,
            )
    if "streaming" in args.only:
        streaming(sizes["S4"], args, table)
    if "classifier" in args.only:
        classifier(sizes["S5"], args, table)
    if "memory" in args.only:
        memory(sizes["S1"], table)
    if args.markdown is not None:
        lines = [header, "", "| " + " | ".join(Table.COLUMNS) + " |", "|" + "---|" * len(Table.COLUMNS)]
        lines += ["| " + " | ".join(row) + " |" for row in table.rows]
        args.markdown.parent.mkdir(parents=True, exist_ok=True)
        args.markdown.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
