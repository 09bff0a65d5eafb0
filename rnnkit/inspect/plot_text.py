"""Pictures over tokens: attention alignment matrices (seq2seq) and saliency-coloured text."""

from __future__ import annotations

import html
import os
from collections.abc import Sequence
from pathlib import Path

from torch import Tensor

from rnnkit.inspect.figures import FORMATS, render, tick_labels

__all__ = ["plot_attention", "plot_saliency_text", "saliency_html"]


def plot_attention(
    weights: Tensor,
    path: str | os.PathLike,
    source: Sequence[str] | None = None,
    target: Sequence[str] | None = None,
    title: str = "attention",
    formats: Sequence[str] = FORMATS,
) -> list[Path]:
    """The alignment matrix of one sequence: output steps on rows, source steps on columns (Bahdanau et al.
    2015, Fig. 3); each row is a distribution over the source.

    Args:
        weights: ``(T_out, S)``.
        source, target: S and T_out labels (None: step numbers).

    Example:
        >>> import torch, tempfile
        >>> w = torch.softmax(torch.randn(3, 4), -1)
        >>> stem = Path(tempfile.mkdtemp()) / "attention"
        >>> [p.suffix for p in plot_attention(w, stem, list("wxyz"), ["A", "B", "C"])]
        ['.png', '.svg']
    """
    if weights.dim() != 2:
        raise ValueError(f"plot_attention: weights must be (T_out, S), got {tuple(weights.shape)}")
    rows, columns = weights.shape
    for name, labels, size in (("source", source, columns), ("target", target, rows)):
        if labels is not None and len(labels) != size:
            raise ValueError(f"plot_attention: {name}: expected {size} labels, got {len(labels)}")
    source = [str(s) for s in source] if source is not None else [str(s) for s in range(columns)]
    target = [str(t) for t in target] if target is not None else [str(t) for t in range(rows)]
    x_at, x_shown = tick_labels(source)
    y_at, y_shown = tick_labels(target)

    def draw(figure) -> None:
        ax = figure.subplots()
        image = ax.imshow(
            weights.detach().float().cpu().numpy(), cmap="Greys", vmin=0.0, vmax=1.0, aspect="auto"
        )
        ax.set_xticks(x_at, x_shown, rotation=60, ha="right", fontsize=8)
        ax.set_yticks(y_at, y_shown, fontsize=8)
        ax.set_xlabel("source")
        ax.set_ylabel("output")
        ax.set_title(title, fontsize=10)
        figure.colorbar(image, ax=ax, fraction=0.04, pad=0.02)

    size = (min(14.0, max(4.5, 1.8 + columns * 0.35)), min(14.0, max(3.5, 1.6 + rows * 0.3)))
    return render(draw, path, size, [title, *x_shown, *y_shown], formats)


def plot_saliency_text(
    tokens: Sequence[str],
    scores: Tensor,
    path: str | os.PathLike,
    title: str = "saliency (gradient × input)",
    per_line: int = 12,
    formats: Sequence[str] = FORMATS,
) -> list[Path]:
    """The tokens as text, each on a background coloured by its score: red pushes towards the explained
    class, blue away from it; the scale is symmetric around 0 (white).

    Example:
        >>> import torch, tempfile
        >>> stem = Path(tempfile.mkdtemp()) / "saliency"
        >>> out = plot_saliency_text(["not", "bad"], torch.tensor([-0.5, 1.0]), stem)
        >>> len(out)
        2
    """
    if len(tokens) != len(scores):
        raise ValueError(f"plot_saliency_text: {len(tokens)} tokens but {len(scores)} scores")
    values = [float(s) for s in scores]
    bound = max([abs(v) for v in values] + [1e-12])
    per_line = max(1, min(per_line, len(tokens)))
    lines = max(1, -(-len(tokens) // per_line))

    def draw(figure) -> None:
        from matplotlib import colormaps
        from matplotlib.cm import ScalarMappable
        from matplotlib.colors import Normalize

        norm = Normalize(-bound, bound)
        cmap = colormaps["RdBu_r"]
        ax = figure.subplots()
        ax.set_axis_off()
        ax.set_xlim(0, per_line)
        ax.set_ylim(lines, 0)
        for k, (token, value) in enumerate(zip(tokens, values)):
            row, column = divmod(k, per_line)
            box = {"boxstyle": "round,pad=0.25", "facecolor": cmap(norm(value)), "edgecolor": "0.8"}
            ink = "white" if abs(value) > 0.6 * bound else "black"
            ax.text(column + 0.5, row + 0.5, str(token)[:14], ha="center", va="center", fontsize=9, bbox=box,
                    color=ink)  # fmt: skip
        figure.colorbar(ScalarMappable(norm, cmap), ax=ax, orientation="horizontal", fraction=0.08, pad=0.02)
        ax.set_title(title, fontsize=10)

    return render(
        draw,
        path,
        (min(16.0, max(4.0, 1.0 + per_line * 0.95)), 1.4 + 0.55 * lines),
        [title, *tokens],
        formats,
    )


def saliency_html(tokens: Sequence[str], scores: Tensor) -> str:
    """The same colouring as inline HTML spans (escaped), for the report.

    Example:
        >>> import torch
        >>> saliency_html(["a<b"], torch.tensor([1.0]))
        '<span class="token" style="background: rgb(255, 128, 128)" title="+1">a&lt;b</span>'
    """
    values = [float(s) for s in scores]
    bound = max([abs(v) for v in values] + [1e-12])
    spans = []
    for token, value in zip(tokens, values):
        strength = min(1.0, abs(value) / bound)
        fade = round(255 - 127 * strength)
        color = f"rgb(255, {fade}, {fade})" if value >= 0 else f"rgb({fade}, {fade}, 255)"
        text = html.escape(str(token))
        spans.append(f'<span class="token" style="background: {color}" title="{value:+.3g}">{text}</span>')
    return " ".join(spans)
