"""Pictures of gradient flow: norms against distance on a log scale, several models in one figure, and the
per-step gradient of one example along its tokens (see :mod:`rnnkit.inspect.gradient_flow`)."""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path

from torch import Tensor

from rnnkit.inspect.figures import FORMATS, render, tick_labels

__all__ = ["plot_flow_by_distance", "plot_step_gradients"]


def _positive(values: Tensor) -> tuple[list[int], list[float]]:
    """The distances with a finite positive value (a log axis cannot show 0 or NaN)."""
    pairs = [(d, float(v)) for d, v in enumerate(values.tolist()) if math.isfinite(v) and v > 0]
    return [d for d, _ in pairs], [v for _, v in pairs]


def plot_flow_by_distance(
    curves: Mapping[str, Tensor | Mapping[str, Tensor]],
    path: str | os.PathLike,
    title: str = "gradient flow",
    ylabel: str = "‖∂h_T/∂s_t‖_F",
    formats: Sequence[str] = FORMATS,
) -> list[Path]:
    """Norm against distance ``T - t`` on a log scale: one line per curve, or one panel per group.

    Args:
        curves: name -> ``(D,)`` mean norm per distance (e.g. ``{"RNN": ..., "LSTM": ..., "GRU": ...}``),
            or panel title -> (name -> values) for several panels side by side (one per sequence length,
            say). Zeros and NaNs are left out (a log axis has no 0).
        ylabel: what the values are.

    Example:
        >>> import torch, tempfile
        >>> curves = {"RNN": 0.5 ** torch.arange(20.0), "LSTM": 0.97 ** torch.arange(20.0)}
        >>> stem = Path(tempfile.mkdtemp()) / "flow"
        >>> [p.name for p in plot_flow_by_distance(curves, stem, formats=["png"])]
        ['flow.png']
    """
    if not curves:
        raise ValueError("plot_flow_by_distance: no curves")
    nested = all(isinstance(v, Mapping) for v in curves.values())
    panels = dict(curves) if nested else {"": curves}
    names = list(dict.fromkeys(name for group in panels.values() for name in group))
    colors = {name: f"C{i}" for i, name in enumerate(names)}

    def draw(figure) -> None:
        axes = figure.subplots(1, len(panels), squeeze=False, sharey=True)[0]
        for ax, (panel, group) in zip(axes, panels.items()):
            for name, values in group.items():
                distance, norms = _positive(values)
                ax.plot(distance, norms, color=colors[name], lw=1.6, label=name)
            ax.set_yscale("log")
            ax.set_xlabel("distance T − t (steps)")
            ax.grid(alpha=0.3, which="both")
            if panel:
                ax.set_title(panel, fontsize=10)
        axes[0].set_ylabel(ylabel)
        axes[0].legend(fontsize=9, loc="best")
        figure.suptitle(title, fontsize=11)

    return render(draw, path, (max(6.0, 4.2 * len(panels)), 4.2), [title, ylabel, *names], formats)


def plot_step_gradients(
    values: Mapping[str, Tensor],
    path: str | os.PathLike,
    tokens: Sequence[str] | None = None,
    title: str = "‖dL/ds_t‖ per step",
    formats: Sequence[str] = FORMATS,
) -> list[Path]:
    """The gradient norm at each step of one sequence, one line per layer and direction, on a log scale.

    Args:
        values: label (``"layer 0"``, ``"layer 0 reverse"``) -> ``(T,)`` norms of one sequence.
        tokens: T labels for the time axis.

    Example:
        >>> import torch, tempfile
        >>> stem = Path(tempfile.mkdtemp()) / "steps"
        >>> out = plot_step_gradients({"layer 0": torch.rand(4) + 0.1}, stem, list("abcd"))
        >>> len(out)
        2
    """
    if not values:
        raise ValueError("plot_step_gradients: no values")
    count = max(len(v) for v in values.values())
    if tokens is not None and len(tokens) != count:
        raise ValueError(f"tokens: expected {count} labels (one per step), got {len(tokens)}")
    labels = [str(t) for t in tokens] if tokens is not None else [str(t) for t in range(count)]
    positions, shown = tick_labels(labels)

    def draw(figure) -> None:
        ax = figure.subplots()
        for i, (label, norms) in enumerate(values.items()):
            steps, positive = _positive(norms.detach().double().cpu())
            ax.plot(
                steps, positive, marker="o" if count <= 60 else "", ms=3, lw=1.3, color=f"C{i}", label=label
            )
        ax.set_yscale("log")
        ax.set_xticks(
            positions,
            shown,
            rotation=60 if tokens is not None else 0,
            ha="right" if tokens is not None else "center",
            fontsize=8,
        )
        ax.set_ylabel("‖dL/ds_t‖")
        ax.set_title(title, fontsize=10)
        ax.grid(alpha=0.3, which="both")
        ax.legend(fontsize=8, loc="best")

    width = min(16.0, max(6.0, 2.5 + count * 0.22))
    return render(draw, path, (width, 3.6), [title, *shown, *values], formats)
