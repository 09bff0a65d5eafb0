"""Run the long-memory experiment end to end and write its table, figures and raw results.

Files written to ``out`` (``NAME`` is ``long_memory`` for the full budget, ``long_memory_quick``... else):

    NAME.md                  the table (final test error vs the trivial baseline) and how it was made
    NAME.json                every learning curve, the budget, the timings
    NAME_curves.png/.svg     test error against training step, per problem
    NAME_flow.png/.svg       ‖∂h_T/∂s_t‖ against distance for RNN, LSTM, GRU (untrained and trained)
"""

from __future__ import annotations

import json
import os
import platform
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import torch

from rnnkit.inspect.experiments.long_memory import BUDGETS, CELLS, Result, problems_of, run_all
from rnnkit.inspect.experiments.outputs import FAILED, SOLVED, markdown_table, plot_curves, plot_flow
from rnnkit.inspect.experiments.problems import make_problem
from rnnkit.inspect.figures import FORMATS

__all__ = ["Outcome", "run_long_memory"]

BASIC = ("rnn", "lstm", "gru")


@dataclass
class Outcome:
    """What :func:`run_long_memory` did: the results, the table and the files, and how long it took."""

    results: list[Result]
    table: str
    files: list[Path]
    seconds: float


def run_long_memory(
    mode: str = "full",
    out: str | os.PathLike = "benchmarks/results",
    cells: Sequence[str] = tuple(CELLS),
    tasks: Sequence[str] = ("adding", "copy", "digits"),
    workers: int = 1,
    seed: int = 0,
    formats: Sequence[str] = FORMATS,
    command: str = "",
    progress: Callable[[Result, int, int], None] | None = None,
) -> Outcome:
    """Train, measure and write everything for one budget (``"full"``, ``"quick"`` or ``"smoke"``)."""
    if mode not in BUDGETS:
        raise ValueError(f"unknown mode {mode!r} (known: {', '.join(BUDGETS)})")
    budget = BUDGETS[mode]
    started = time.perf_counter()
    results, states = run_all(budget, cells, tasks, workers, seed, progress)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    name = "long_memory" if mode == "full" else f"long_memory_{mode}"
    files = plot_curves(results, out / f"{name}_curves", formats)
    basic = [c for c in BASIC if c in cells]
    adding = [t for name_, t in problems_of(budget, tasks) if name_ == "adding"]
    if basic and adding:
        problem = make_problem("adding", max(adding), budget.test_size)
        trained = {c: states[(problem.label, c)] for c in basic}
        files += plot_flow(problem, budget, basic, trained, out / f"{name}_flow", formats)
    seconds = time.perf_counter() - started
    table = markdown_table(results, list(cells))
    environment = {
        "torch": torch.__version__,
        "python": platform.python_version(),
        "machine": platform.machine(),
        "cpus_available": len(os.sched_getaffinity(0))
        if hasattr(os, "sched_getaffinity")
        else os.cpu_count(),
        "workers": workers,
        "torch_threads_per_worker": 1,
    }
    raw = {"mode": mode, "budget": asdict(budget), "seconds": round(seconds, 1), "environment": environment,
           "command": command, "results": [asdict(r) for r in results]}  # fmt: skip
    (out / f"{name}.json").write_text(json.dumps(raw, indent=1) + "\n", encoding="utf-8")
    (out / f"{name}.md").write_text(
        _page(mode, table, budget, seconds, workers, command, name), encoding="utf-8"
    )
    files += [out / f"{name}.json", out / f"{name}.md"]
    return Outcome(results, table, files, seconds)


def _page(mode: str, table: str, budget, seconds: float, workers: int, command: str, name: str) -> str:
    steps = ", ".join(f"{k} {v}" for k, v in budget.steps.items())
    return f"""# Long-memory experiment ({mode})

{table}

Final test error after the same budget for every cell: Adam (lr {budget.lr}), batch {budget.batch_size},
hidden size {budget.hidden_size}, one layer, gradient clipping at norm {budget.clip}, training steps: {steps}.
✓: solved (error below {SOLVED:.0%} of the trivial baseline's); ✗: no better than the baseline (above
{FAILED:.0%} of it). Adding: MSE, baseline 1/6 (always predict 1); copy: cross-entropy per step, baseline
10 log 8 / (T + 20); digits: error rate, baseline the most frequent class.

![learning curves]({name}_curves.png)

![gradient flow]({name}_flow.png)

Made in {seconds / 60:.1f} min with {workers} worker process(es), one torch thread each, by:

    {command or "rnnkit experiment long-memory"}
"""
