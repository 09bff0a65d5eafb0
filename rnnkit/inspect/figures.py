"""What every picture of :mod:`rnnkit.inspect` shares: one figure drawn once, written as PNG and SVG.

The drawing follows :mod:`rnnkit.plots.charts`: matplotlib's object API on the Agg canvas (never
``pyplot``, no GUI backend), font fallback for any script in the labels (Hangul tokens), atomic writes and
SVGs without timestamps. matplotlib is imported only when a picture is drawn.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

from rnnkit.plots.figure import new_figure, save_figure, text_style

__all__ = ["FORMATS", "render", "tick_labels"]

FORMATS = ("png", "svg")


def render(
    draw: Callable[[Any], None],
    path: str | os.PathLike,
    size: tuple[float, float],
    texts: Iterable[str] = (),
    formats: Sequence[str] = FORMATS,
) -> list[Path]:
    """Draw one figure with ``draw(figure)`` and write it once per format.

    Args:
        draw: fills the (empty) matplotlib ``Figure``.
        path: the file name without its suffix (a suffix is replaced): ``out/gates`` -> ``out/gates.png``...
        size: (width, height) in inches, at 100 dpi.
        texts: the labels the figure shows (their characters choose the fallback fonts).
        formats: "png" and/or "svg".

    Returns:
        the files written, in the order of ``formats``.

    Example:
        >>> import tempfile
        >>> stem = Path(tempfile.mkdtemp()) / "line"
        >>> [p.name for p in render(lambda f: f.subplots().plot([1, 2]), stem, (3, 2))]
        ['line.png', 'line.svg']
    """
    unknown = [f for f in formats if f not in FORMATS]
    if unknown or not formats:
        raise ValueError(f"formats must be some of {FORMATS}, got {tuple(formats)}")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with text_style(list(texts)):
        figure = new_figure(*size)
        draw(figure)
        return [save_figure(figure, path.with_suffix(f".{fmt}"), fmt) for fmt in formats]


def tick_labels(tokens: Sequence[str], most: int = 60, width: int = 14) -> tuple[list[int], list[str]]:
    """Positions and labels for at most ``most`` ticks along a time axis, each cut to ``width`` characters.

    Example:
        >>> tick_labels(["a", "b", "c", "d", "e"], most=3)
        ([0, 2, 4], ['a', 'c', 'e'])
    """
    step = max(1, -(-len(tokens) // most))
    positions = list(range(0, len(tokens), step))
    return positions, [_cut(str(tokens[p]), width) for p in positions]


def _cut(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"
