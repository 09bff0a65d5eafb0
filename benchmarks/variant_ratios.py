"""The variants' cost in S1, side by side: each variant's time over the plain layer, fused and as ``auto``.

Run from the repository root (about a minute per cell on 2 cores; ``--quick`` for a smoke run):

    python benchmarks/variant_ratios.py                      # LSTM, GRU, RNN; train and inference
    python benchmarks/variant_ratios.py --cells LSTM --modes train --repeats 5 --threads 1 --clock cpu

A narrower, faster view of speed.py's variant rows (same sizes, same interleaved timer): it adds the plain
layer as ``impl="auto"`` runs it (torch's oneDNN kernel for the plain LSTM) as a second baseline, and times
only the variants issue 18 asks about (layer norm, zoneout).
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path

import torch

if __package__ in (None, ""):  # run as a script: use this checkout's rnnkit, installed or not
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import rnnkit
from rnnkit.bench.timer import median, time_interleaved

sys.path.insert(0, str(Path(__file__).resolve().parent))
from speed import FULL, QUICK, call_of

VARIANTS = {
    "LSTM": {"layer_norm": {"layer_norm": True}, "zoneout": {"zoneout": 0.1}},
    "GRU": {"layer_norm": {"layer_norm": True}, "zoneout": {"zoneout": 0.1}},
    "RNN": {"zoneout": {"zoneout": 0.1}},
}


def systems_for(cell: str, train: bool, quick: bool) -> dict:
    sc = (QUICK if quick else FULL)["S1"]
    torch.manual_seed(0)
    x = torch.randn(sc.steps, sc.batch, sc.input_size, requires_grad=train)
    make = getattr(rnnkit, cell)
    systems = {
        "plain fused": call_of(make(sc.input_size, sc.hidden_size, impl="fused"), x, train),
        "plain auto": call_of(make(sc.input_size, sc.hidden_size, impl="auto"), x, train),
    }
    for label, options in VARIANTS[cell].items():
        if not train and label == "zoneout":
            continue  # eval zoneout is a constant mix: speed.py's rows show it costs nothing
        systems[label] = call_of(make(sc.input_size, sc.hidden_size, **options), x, train)
    return systems


def cpu_interleaved(systems: dict[str, Callable[[], None]], repeats: int) -> dict[str, list[float]]:
    """Like ``time_interleaved`` (one warm-up, then round-robin), on this process's CPU time: on a machine
    other jobs share, with one torch thread, the work done rather than the time waited for a core."""
    for call in systems.values():
        call()
    samples: dict[str, list[float]] = {name: [] for name in systems}
    for _ in range(repeats):
        for name, call in systems.items():
            start = time.process_time()
            call()
            samples[name].append(time.process_time() - start)
    return samples


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cells", nargs="+", default=list(VARIANTS), choices=list(VARIANTS))
    parser.add_argument("--modes", nargs="+", default=["train", "infer"], choices=["train", "infer"])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's)")
    parser.add_argument(
        "--clock",
        choices=["wall", "cpu"],
        default="wall",
        help="cpu: process CPU time (use with --threads 1)",
    )
    parser.add_argument("--quick", action="store_true", help="tiny sizes, 2 repeats (a smoke run)")
    args = parser.parse_args(argv)
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    repeats = 2 if args.quick else args.repeats
    threads = torch.get_num_threads()
    print(f"torch {torch.__version__}, {threads} threads, {args.clock} clock, median of {repeats}")
    print(f"{'cell':<5} {'mode':<6} {'system':<12} {'time':>10} {'/ fused':>8} {'/ auto':>8}")
    for cell in args.cells:
        for mode in args.modes:
            systems = systems_for(cell, mode == "train", args.quick)
            if args.clock == "cpu":
                samples = cpu_interleaved(systems, repeats)
            else:
                samples = time_interleaved(systems, repeats, 1)
            times = {name: median(s) for name, s in samples.items()}
            for name, seconds in times.items():
                fused, auto = seconds / times["plain fused"], seconds / times["plain auto"]
                print(f"{cell:<5} {mode:<6} {name:<12} {seconds * 1e3:8.2f}ms {fused:7.2f}x {auto:7.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
