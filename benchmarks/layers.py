"""rnnkit's LSTM / GRU / RNN layers and their variants against torch.nn's, timed in the same run.

Run from the repository root:

    python benchmarks/layers.py                       # S1 and S2, on CUDA if available, else CPU
    python benchmarks/layers.py --quick               # tiny sizes, 3 repeats: checks that it all runs
    python benchmarks/layers.py --threads 1 --repeats 20 --markdown benchmarks/results/layers-cpu.md

For every scenario, cell and mode the contenders are timed interleaved (round-robin, after a warm-up; see
:func:`rnnkit.bench.timer.time_interleaved`); each row shows the median over ``--repeats`` calls in ms.

* ``forward``: ``eval()`` under ``torch.inference_mode()`` (recurrent_dropout and weight_drop are off in
  eval, zoneout uses its expectation). ``fwd+bwd``: ``train()``, loss = sum of the outputs, backward to
  every parameter and the input, gradients set to None before each call.
* ``ratio``: the row's time / the torch.nn layer's time in the same scenario and mode (lower is faster).
  ``impl=auto`` on a plain layer runs torch's own kernel, so it should read about 1.00x; ``impl=reference``
  is rnnkit's Python loop over the cell, which every variant below it runs too.
* ``% peak``: the torch.nn layer's matrix FLOPs (2·G·H·(I+H)·B·T per layer and direction, G = 4 LSTM,
  3 GRU, 1 RNN; fwd+bwd counted as 3x forward) per second, over a 2048x2048 ``torch.mm`` timed in this run.
* ``*`` after a variant: its weights could not be copied from torch.nn (different shapes), so it starts
  from its own initialisation with the same seed; all other rnnkit layers hold torch.nn's weights.
"""

from __future__ import annotations

import argparse
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


class Scenario(NamedTuple):
    name: str
    batch: int  # B
    steps: int  # T
    input_size: int  # I
    hidden_size: int  # H
    num_layers: int = 1  # L
    bidirectional: bool = False


class Variant(NamedTuple):
    label: str
    options: dict  # rnnkit keyword arguments
    record: bool = False  # time .record() (forward only) instead of forward


class ModelDef(NamedTuple):
    """One contender, as fastrnns' ModelDef: what to run and what to reset between runs."""

    module: nn.Module
    inputs: list[Tensor]
    params: list[Tensor]
    forward: Callable[[], Tensor]  # -> output (T, B, D*H)
    backward: Callable[[Tensor], None] | None  # None: forward only


SCENARIOS = [Scenario("S1", 64, 100, 128, 256), Scenario("S2", 32, 200, 64, 128, 2, True)]
QUICK = {"batch": 8, "steps": 20, "input_size": 16, "hidden_size": 32}
GATES = {"LSTM": 4, "GRU": 3, "RNN": 1}
TORCH = "torch.nn"
REGULARISERS = [
    Variant("recurrent_dropout=0.25", {"recurrent_dropout": 0.25}),
    Variant("zoneout=0.1", {"zoneout": 0.1}),
]
PLAIN = [Variant("impl=auto", {"impl": "auto"}), Variant("impl=reference", {"impl": "reference"})]
WEIGHT_DROP = Variant("weight_drop=0.5", {"weight_drop": 0.5})
VARIANTS = {
    "LSTM": [
        *PLAIN,
        Variant("layer_norm", {"layer_norm": True}),
        Variant("peephole", {"peephole": True}),
        Variant("coupled", {"coupled": True}),
        *REGULARISERS,
        WEIGHT_DROP,
        Variant("learn_initial_state", {"learn_initial_state": True}),
        Variant("record()", {}, record=True),
    ],
    "GRU": [
        *PLAIN,
        Variant("reset_after=False", {"reset_after": False}),
        Variant("layer_norm", {"layer_norm": True}),
        *REGULARISERS,
        WEIGHT_DROP,
    ],
    "RNN": [*PLAIN, *REGULARISERS],
}
MODES = ("forward", "fwd+bwd")


def layer_args(sc: Scenario, device: torch.device) -> dict:
    return {
        "input_size": sc.input_size,
        "hidden_size": sc.hidden_size,
        "num_layers": sc.num_layers,
        "bidirectional": sc.bidirectional,
        "device": device,
    }


def copy_weights(peer: nn.Module, model: nn.Module) -> bool:
    """Load the peer's weights where every one of its keys exists in ``model`` with the same shape."""
    ours, theirs = model.state_dict(), peer.state_dict()
    if any(key not in ours or ours[key].shape != value.shape for key, value in theirs.items()):
        return False
    model.load_state_dict(theirs, strict=False)  # extra keys (norms, peepholes, h_0) keep their init
    return True


def make_def(model: nn.Module, x: Tensor, record: bool = False) -> ModelDef:
    run = model.record if record else model

    def forward() -> Tensor:
        return run(x)[0]

    def backward(output: Tensor) -> None:
        output.sum().backward()

    return ModelDef(model, [x], list(model.parameters()), forward, None if record else backward)


def create(cell: str, sc: Scenario, device: torch.device) -> dict[str, ModelDef]:
    """The torch.nn peer and every rnnkit variant of ``cell``, built with the same seed, on one input."""
    torch.manual_seed(0)
    x = torch.randn(sc.steps, sc.batch, sc.input_size, device=device, requires_grad=True)  # (T, B, I)
    torch.manual_seed(0)
    peer = getattr(nn, cell)(**layer_args(sc, device))
    defs = {TORCH: make_def(peer, x)}
    for variant in VARIANTS[cell]:
        torch.manual_seed(0)
        model = getattr(rnnkit, cell)(**layer_args(sc, device), **variant.options)
        label = variant.label if copy_weights(peer, model) else variant.label + " *"
        defs[label] = make_def(model, x, variant.record)
    return defs


def timed_call(d: ModelDef, mode: str) -> Callable[[], None]:
    if mode == "forward":

        def run() -> None:
            with torch.inference_mode():
                d.forward()

    else:

        def run() -> None:
            for tensor in d.params + d.inputs:
                tensor.grad = None
            d.backward(d.forward())

    return run


def matmul_peak(device: torch.device, repeats: int) -> float:
    """FLOP/s of a 2048x2048 ``torch.mm``: the yardstick for % of peak."""
    n = 2048
    a, b = torch.randn(n, n, device=device), torch.randn(n, n, device=device)
    seconds = median(time_interleaved({"mm": lambda: torch.mm(a, b)}, repeats, warmup=1)["mm"])
    return 2 * n**3 / seconds


def layer_flops(cell: str, sc: Scenario, mode: str) -> float:
    """Matrix FLOPs of the whole layer (all layers and directions); fwd+bwd counts 3x the forward."""
    directions = 2 if sc.bidirectional else 1
    total = 0
    for layer in range(sc.num_layers):
        inputs = sc.input_size if layer == 0 else directions * sc.hidden_size  # I of this layer
        total += 2 * GATES[cell] * sc.hidden_size * (inputs + sc.hidden_size) * sc.batch * sc.steps
    return total * directions * (3 if mode == "fwd+bwd" else 1)


COLUMNS = ("scenario", "cell", "variant", "mode", "ms", "ratio vs torch.nn", "% peak")


def format_row(row: tuple[str, ...]) -> str:
    widths = (8, 4, 24, 7, 10, 17, 6)
    return "  ".join(f"{v:<{w}}" if k < 4 else f"{v:>{w}}" for k, (v, w) in enumerate(zip(row, widths)))


def bench_cell(cell: str, sc: Scenario, args: argparse.Namespace, peak: float) -> list[tuple[str, ...]]:
    defs = create(cell, sc, args.device)
    rows = []
    for mode in MODES:
        chosen = {label: d for label, d in defs.items() if mode == "forward" or d.backward is not None}
        for d in chosen.values():
            d.module.train(mode == "fwd+bwd")
        calls = {label: timed_call(d, mode) for label, d in chosen.items()}
        times = {label: median(s) for label, s in time_interleaved(calls, args.repeats, args.warmup).items()}
        for label, seconds in times.items():
            share = f"{100 * layer_flops(cell, sc, mode) / seconds / peak:.1f}" if label == TORCH else ""
            ratio = f"{seconds / times[TORCH]:.2f}x"
            row = (sc.name, cell, label, mode, f"{1e3 * seconds:.3f}", ratio, share)
            print(format_row(row), flush=True)
            rows.append(row)
    return rows


def write_markdown(path: Path, rows: list[tuple[str, ...]], header: str) -> None:
    lines = [header, "", "| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes and 3 repeats, to check it runs")
    parser.add_argument("--repeats", type=int, default=None, help="timed calls per contender (default 10)")
    parser.add_argument("--warmup", type=int, default=None, help="untimed calls first (default 2)")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's)")
    default_device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--device", type=torch.device, default=default_device, help="default: cuda if any")
    parser.add_argument("--markdown", type=Path, default=None, help="also write the table to this file")
    args = parser.parse_args(argv)
    if (args.repeats is not None and args.repeats < 1) or (args.warmup is not None and args.warmup < 0):
        parser.error("--repeats must be >= 1 and --warmup >= 0")
    args.repeats = args.repeats if args.repeats is not None else (3 if args.quick else 10)
    args.warmup = args.warmup if args.warmup is not None else (1 if args.quick else 2)
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    scenarios = [sc._replace(**QUICK) for sc in SCENARIOS] if args.quick else SCENARIOS
    peak = matmul_peak(args.device, args.repeats)
    header = (
        f"torch {torch.__version__}, device {args.device}, {torch.get_num_threads()} threads, "
        f"median of {args.repeats} (warm-up {args.warmup}), mm peak {peak / 1e9:.1f} GFLOP/s"
    )
    print(header)
    for sc in scenarios:
        kind = f"L={sc.num_layers}" + (", bidirectional" if sc.bidirectional else "")
        print(f"{sc.name}: B={sc.batch} T={sc.steps} I={sc.input_size} H={sc.hidden_size} {kind}")
    print(format_row(COLUMNS))
    rows = [row for sc in scenarios for cell in VARIANTS for row in bench_cell(cell, sc, args, peak)]
    if any(row[2].endswith(" *") for row in rows):
        print("* weights not copied from torch.nn (state_dict shapes differ): same seed, own init")
    if args.markdown is not None:
        write_markdown(args.markdown, rows, header)
    return 0


if __name__ == "__main__":
    sys.exit(main())
