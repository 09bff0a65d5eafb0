"""What the long-memory experiment writes: the table, the learning curves and the gradient-flow figure."""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from pathlib import Path

import torch
from torch import Tensor

from rnnkit.inspect.experiments.long_memory import CELLS, Budget, Result, build_model
from rnnkit.inspect.experiments.problems import Problem
from rnnkit.inspect.figures import FORMATS, render
from rnnkit.inspect.gradient_flow import summarise_flow
from rnnkit.inspect.plot_flow import plot_flow_by_distance

__all__ = ["FAILED", "SOLVED", "flow_curves", "markdown_table", "plot_curves", "verdict"]

SOLVED, FAILED = 0.1, 0.9  # error / baseline: below 0.1 solved, above 0.9 no better than the baseline


def verdict(error: float, baseline: float) -> str:
    """``"✓"`` solved (error < 10% of the baseline's), ``"✗"`` stuck (> 90%), ``""`` in between.

    Example:
        >>> verdict(0.001, 0.167), verdict(0.166, 0.167), verdict(0.05, 0.167)
        ('✓', '✗', '')
    """
    if not math.isfinite(error) or error > FAILED * baseline:
        return "✗"
    return "✓" if error < SOLVED * baseline else ""


def markdown_table(results: Sequence[Result], cells: Sequence[str]) -> str:
    """Final test error per problem (rows) and cell (columns), next to the trivial baseline.

    Example:
        >>> r = Result("adding", "adding T=50", "gru", 1 / 6, [0, 10], [0.2, 0.004], 1.0, 100)
        >>> print(markdown_table([r], ["gru"]))
        | problem | error | baseline | GRU |
        |---|---|---:|---:|
        | adding T=50 | MSE | 0.167 | 0.004 ✓ |
    """
    measure = {"adding": "MSE", "copy": "cross-entropy", "digits": "error rate"}
    lines = ["| problem | error | baseline | " + " | ".join(CELLS[c] for c in cells) + " |",
             "|---|---|---:|" + "---:|" * len(cells)]  # fmt: skip
    labels = list(dict.fromkeys(r.label for r in results))
    for label in labels:
        row = {r.cell: r for r in results if r.label == label}
        first = next(iter(row.values()))
        values = []
        for cell in cells:
            r = row.get(cell)
            values.append("—" if r is None else f"{_format(r.final)} {verdict(r.final, r.baseline)}".strip())
        lines.append(
            f"| {label} | {measure[first.problem]} | {_format(first.baseline)} | " + " | ".join(values) + " |"
        )
    return "\n".join(lines)


def _format(value: float) -> str:
    return "nan" if not math.isfinite(value) else f"{value:.3g}"


def plot_curves(
    results: Sequence[Result], path: str | os.PathLike, formats: Sequence[str] = FORMATS
) -> list[Path]:
    """Test error against training step, one panel per problem, one line per cell, the baseline dashed."""
    labels = list(dict.fromkeys(r.label for r in results))
    cells = list(dict.fromkeys(r.cell for r in results))
    columns = min(4, len(labels))
    rows = -(-len(labels) // columns)

    def draw(figure) -> None:
        axes = figure.subplots(rows, columns, squeeze=False)
        for ax in axes.flat[len(labels) :]:
            ax.set_visible(False)
        for ax, label in zip(axes.flat, labels):
            for r in (r for r in results if r.label == label):
                ax.plot(r.steps, r.errors, color=f"C{cells.index(r.cell)}", lw=1.4, label=CELLS[r.cell])
            baseline = next(r.baseline for r in results if r.label == label)
            ax.axhline(baseline, color="0.3", ls="--", lw=1, label="trivial baseline")
            if next(r.problem for r in results if r.label == label) != "digits":
                ax.set_yscale("log")
            ax.set_title(label, fontsize=10)
            ax.set_xlabel("training step")
            ax.grid(alpha=0.3, which="both")
        axes[0, 0].set_ylabel("test error")
        axes[0, 0].legend(fontsize=8, loc="best")

    return render(draw, path, (4.0 * columns, 3.3 * rows + 0.4), labels, formats)


def flow_curves(
    problem: Problem,
    budget: Budget,
    cells: Sequence[str],
    states: dict[str, dict[str, Tensor]] | None,
    sequences: int = 64,
    projections: int = 16,
    seed: int = 0,
) -> dict[str, Tensor]:
    """Mean ‖∂h_T/∂s_t‖_F per distance for each cell on ``sequences`` test sequences of ``problem``:
    trained weights from ``states`` (cell -> state dict), or the initial ones when ``states`` is None.

    Computed in float64: a vanilla RNN's norms fall below float32's smallest number within 100 steps."""
    x = problem.encode(problem.test[0][:sequences]).double()
    curves = {}
    for cell in cells:
        model = build_model(problem, cell, budget, seed)
        if states is not None:
            model.load_state_dict(states[cell])
        model.double()
        generator = torch.Generator().manual_seed(seed)
        [summary] = summarise_flow(model, [x], lambda m, b: m(b).sum(), projections, generator=generator)
        curves[CELLS[cell]] = summary.jacobian
    return curves


def plot_flow(
    problem: Problem,
    budget: Budget,
    cells: Sequence[str],
    states: dict[str, dict[str, Tensor]],
    path: str | os.PathLike,
    formats: Sequence[str] = FORMATS,
) -> list[Path]:
    """‖∂h_T/∂s_t‖_F against distance for ``cells``, at initialisation and after training, side by side."""
    panels = {
        "at initialisation": flow_curves(problem, budget, cells, None),
        "after training": flow_curves(problem, budget, cells, states),
    }
    title = f"gradient flow on {problem.label}: ‖∂h_T/∂s_t‖_F"
    return plot_flow_by_distance(panels, path, title, formats=formats)
