"""``rnnkit experiment long-memory``: vanilla RNN vs LSTM vs GRU (and friends) on long-memory tasks."""

from __future__ import annotations

import argparse
import shlex
import sys

EXAMPLES = """examples:
  rnnkit experiment long-memory                    # the full table and figures (< 20 min on 2 cores)
  rnnkit experiment long-memory --quick            # a small version (< 3 min)
  rnnkit experiment long-memory --cells rnn,lstm,gru --tasks adding --out /tmp/lm
"""


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    from rnnkit.inspect.experiments.long_memory import CELLS, default_workers

    parser = subparsers.add_parser(
        "experiment",
        help="run a built-in experiment (long-memory: adding, copy, sequential digits)",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("name", choices=["long-memory"], help="which experiment")
    size = parser.add_mutually_exclusive_group()
    size.add_argument("--quick", action="store_true", help="a small budget (< 3 min on 2 cores)")
    size.add_argument(
        "--smoke", action="store_true", help="a tiny budget that checks the machinery (seconds)"
    )
    parser.add_argument("--cells", default=",".join(CELLS), help=f"comma-separated, of {', '.join(CELLS)}")
    parser.add_argument(
        "--tasks", default="adding,copy,digits", help="comma-separated, of adding, copy, digits"
    )
    parser.add_argument(
        "--workers", type=int, default=default_workers(), help="processes (default: CPUs, <= 2)"
    )
    parser.add_argument("--out", "-o", default="benchmarks/results", help="folder for the table and figures")
    parser.add_argument("--format", choices=["png", "svg", "both"], default="both", help="figure files")
    parser.add_argument("--seed", type=int, default=0)
    parser.set_defaults(run=run)


def canonical_command(args: argparse.Namespace, mode: str) -> str:
    """The command that reproduces this run: the options that differ from their defaults."""
    from rnnkit.inspect.experiments.long_memory import CELLS

    parts = ["rnnkit experiment long-memory"] + ([f"--{mode}"] if mode != "full" else [])
    defaults = {
        "cells": ",".join(CELLS),
        "tasks": "adding,copy,digits",
        "seed": 0,
        "out": "benchmarks/results",
    }
    parts += [f"--{name} {shlex.quote(str(getattr(args, name)))}" for name, value in defaults.items()
              if getattr(args, name) != value]  # fmt: skip
    return " ".join(parts) + f"  # {args.workers} worker(s)"


def run(args: argparse.Namespace) -> int:
    from rnnkit.cli.inspect import formats_of
    from rnnkit.inspect.experiments.run import run_long_memory

    mode = "quick" if args.quick else "smoke" if args.smoke else "full"
    cells = [c.strip() for c in args.cells.split(",") if c.strip()]
    tasks = [t.strip() for t in args.tasks.split(",") if t.strip()]
    unknown = sorted(set(tasks) - {"adding", "copy", "digits"})
    if unknown:
        print(f"rnnkit experiment: unknown tasks {unknown} (known: adding, copy, digits)", file=sys.stderr)
        return 2

    def progress(result, done: int, total: int) -> None:
        print(f"[{done:2d}/{total}] {result.label:<12} {result.cell:<7} test error {result.final:.4g} "
              f"(baseline {result.baseline:.3g})  {result.seconds:.0f} s", flush=True)  # fmt: skip

    command = canonical_command(args, mode)
    try:
        outcome = run_long_memory(
            mode,
            args.out,
            cells,
            tasks,
            max(1, args.workers),
            args.seed,
            formats_of(args.format),
            command,
            progress,
        )
    except (ImportError, ValueError) as error:
        print(f"rnnkit experiment: {error}", file=sys.stderr)
        return 2
    print()
    print(outcome.table)
    print(f"\n{outcome.seconds / 60:.1f} min; wrote {', '.join(str(f) for f in outcome.files)}")
    return 0
