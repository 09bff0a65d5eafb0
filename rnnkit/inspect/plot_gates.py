"""Pictures of recorded internals: gate heatmaps with the tokens on the time axis, cell-state trajectories.

Both take the internals of one sequence, one layer and direction: name -> ``(T, H)`` (one row of a
:class:`rnnkit.inspect.recording.LayerCall`'s ``internals[k][name][b, :length]``).
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path

from torch import Tensor

from rnnkit.inspect.figures import FORMATS, render, tick_labels

__all__ = ["GATE_TITLES", "choose_units", "plot_cell_trajectories", "plot_gates"]

GATE_TITLES = {
    "i": "input gate i",
    "f": "forget gate f",
    "g": "candidate g",
    "o": "output gate o",
    "r": "reset gate r",
    "z": "update gate z",
    "n": "candidate n",
    "h_tilde": "candidate h̃",
    "c": "cell state c",
    "h": "hidden state h",
}
_SIGNED = {
    "g",
    "n",
    "h",
    "c",
    "h_tilde",
}  # tanh-range values (c is unbounded): a diverging colour map around 0


def _check(internals: Mapping[str, Tensor], tokens: Sequence[str] | None) -> int:
    if not internals:
        raise ValueError("no internals to draw")
    steps = {v.shape[0] for v in internals.values()}
    if len(steps) != 1 or any(v.dim() != 2 for v in internals.values()):
        raise ValueError(
            f"internals must be (T, H) with the same T, got {[tuple(v.shape) for v in internals.values()]}"
        )
    (count,) = steps
    if tokens is not None and len(tokens) != count:
        raise ValueError(f"tokens: expected {count} labels (one per step), got {len(tokens)}")
    return count


def plot_gates(
    internals: Mapping[str, Tensor],
    path: str | os.PathLike,
    tokens: Sequence[str] | None = None,
    title: str = "",
    names: Sequence[str] | None = None,
    formats: Sequence[str] = FORMATS,
) -> list[Path]:
    """One heatmap per gate (units on rows, steps on columns), the tokens under the time axis.

    Sigmoid gates use a 0-1 scale; candidates and states a diverging scale centred on 0.

    Args:
        internals: name -> ``(T, H)`` values of one sequence.
        path: file stem; ``.png`` and ``.svg`` are written.
        tokens: T labels for the time axis (None: step numbers).
        title: the figure's title.
        names: which entries, in order (default: every gate, then ``h``; ``c`` is for the trajectories).

    Example:
        >>> import torch, tempfile
        >>> gates = {"f": torch.rand(4, 6), "h": torch.rand(4, 6) * 2 - 1}
        >>> [p.suffix for p in plot_gates(gates, Path(tempfile.mkdtemp()) / "g", list("abcd"))]
        ['.png', '.svg']
    """
    count = _check(internals, tokens)
    if names is None:
        names = [n for n in internals if n not in ("h", "c")] + (["h"] if "h" in internals else [])
    labels = [str(t) for t in tokens] if tokens is not None else [str(t) for t in range(count)]
    positions, shown = tick_labels(labels)
    units = max(v.shape[1] for v in internals.values())
    panel_height = min(2.6, 0.9 + units * 0.03)
    width = min(16.0, max(6.0, 2.5 + count * 0.22))

    def draw(figure) -> None:
        axes = figure.subplots(len(names), 1, sharex=True, squeeze=False)[:, 0]
        for ax, name in zip(axes, names):
            values = internals[name].detach().float().cpu().numpy().T  # (H, T)
            if name in _SIGNED:
                bound = max(1e-6, float(abs(values).max())) if name == "c" else 1.0
                image = ax.imshow(
                    values, aspect="auto", cmap="RdBu_r", vmin=-bound, vmax=bound, interpolation="nearest"
                )
            else:
                image = ax.imshow(
                    values, aspect="auto", cmap="viridis", vmin=0.0, vmax=1.0, interpolation="nearest"
                )
            ax.set_ylabel(f"{GATE_TITLES.get(name, name)}\nunit", fontsize=8)
            figure.colorbar(image, ax=ax, pad=0.01, fraction=0.03)
        axes[-1].set_xticks(
            positions,
            shown,
            rotation=60 if tokens is not None else 0,
            ha="right" if tokens is not None else "center",
            fontsize=8,
        )
        axes[-1].set_xlabel("step" if tokens is None else "token")
        if title:
            axes[0].set_title(title, fontsize=10)

    return render(draw, path, (width, 0.8 + panel_height * len(names)), [title, *shown], formats)


def choose_units(values: Tensor, count: int = 6) -> list[int]:
    """The ``count`` units whose value changes most over time (largest range), most changing first.

    Example:
        >>> import torch
        >>> choose_units(torch.tensor([[0.0, 0.0, 1.0], [0.0, 5.0, 1.0]]), 2)
        [1, 0]
    """
    spread = values.max(0).values - values.min(0).values  # (H,)
    return spread.argsort(descending=True)[:count].tolist()


def plot_cell_trajectories(
    internals: Mapping[str, Tensor],
    path: str | os.PathLike,
    tokens: Sequence[str] | None = None,
    units: Sequence[int] | None = None,
    title: str = "",
    formats: Sequence[str] = FORMATS,
) -> list[Path]:
    """The cell state ``c_t`` (or ``h_t`` for cells without one) of chosen units, one line per unit.

    Args:
        units: which units (default: the 6 with the largest range, :func:`choose_units`).

    Example:
        >>> import torch, tempfile
        >>> stem = Path(tempfile.mkdtemp()) / "cells"
        >>> paths = plot_cell_trajectories({"c": torch.randn(5, 8)}, stem, units=[0, 3])
        >>> len(paths)
        2
    """
    count = _check(internals, tokens)
    name = "c" if "c" in internals else "h"
    values = internals[name].detach().float().cpu()  # (T, H)
    units = choose_units(values) if units is None else list(units)
    bad = [u for u in units if not 0 <= u < values.shape[1]]
    if bad:
        raise ValueError(f"units {bad} out of range: the layer has {values.shape[1]} units")
    labels = [str(t) for t in tokens] if tokens is not None else [str(t) for t in range(count)]
    positions, shown = tick_labels(labels)

    def draw(figure) -> None:
        ax = figure.subplots()
        for unit in units:
            ax.plot(
                range(count),
                values[:, unit].numpy(),
                marker="." if count <= 60 else "",
                lw=1.3,
                label=f"unit {unit}",
            )
        ax.axhline(0.0, color="0.6", lw=0.8)
        ax.set_xticks(
            positions,
            shown,
            rotation=60 if tokens is not None else 0,
            ha="right" if tokens is not None else "center",
            fontsize=8,
        )
        ax.set_ylabel(GATE_TITLES[name])
        ax.set_title(title or f"{GATE_TITLES[name]} trajectories", fontsize=10)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8, ncol=min(3, max(1, len(units))), loc="best")

    width = min(16.0, max(6.0, 2.5 + count * 0.22))
    return render(draw, path, (width, 3.6), [title, *shown], formats)
