"""The figure kit every rnnkit picture is drawn with: a matplotlib ``Figure`` on its own canvas (never
``pyplot``), the text style that draws Hangul, and an atomic save by the file's suffix (``.png``, ``.svg``).

Text that the default font cannot draw (Hangul labels, say) gets matplotlib's per-glyph font fallback:
installed fonts covering the missing characters are appended to ``font.family`` for that figure only.
When none is installed the figure is still written, with empty boxes and without "Glyph missing" warnings.
"""

from __future__ import annotations

import contextlib
import functools
import os
import shutil
import subprocess
import warnings
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

from rnnkit.config import atomic_write

__all__ = ["FORMATS", "as_array", "format_of", "new_figure", "save_figure", "text_style"]

FORMATS = {".png": "png", ".svg": "svg"}
_PREFERRED = ("Noto Sans CJK KR", "Noto Sans KR", "NanumGothic", "Malgun Gothic", "Apple SD Gothic Neo")


def format_of(path: str | os.PathLike) -> str:
    suffix = Path(path).suffix.lower()
    if suffix not in FORMATS:
        raise ValueError(f"path must end in .png or .svg (the file type comes from it), got {str(path)!r}")
    return FORMATS[suffix]


def as_array(value: Any, name: str) -> np.ndarray:
    """A float64 numpy copy of a list, ndarray or tensor (any device or dtype)."""
    if hasattr(value, "detach"):
        value = value.detach().cpu().double().numpy()
    try:
        return np.array(value, dtype=np.float64)
    except (TypeError, ValueError) as error:
        kind = type(value).__name__
        raise ValueError(f"{name} must be numbers (a list, ndarray or tensor), got {kind}") from error


@functools.cache
def _charmap(font_path: str) -> frozenset[int]:
    from matplotlib.ft2font import FT2Font

    try:
        return frozenset(FT2Font(font_path).get_charmap())
    except (OSError, RuntimeError, ValueError):
        return frozenset()


@functools.lru_cache(maxsize=1)
def _add_korean_fonts() -> None:
    """Register fontconfig's Korean fonts (matplotlib's font cache misses fonts installed after it)."""
    from matplotlib import font_manager

    if shutil.which("fc-list") is None:
        return
    try:
        found = subprocess.run(["fc-list", ":lang=ko", "file"], capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return
    for line in found.stdout.splitlines():
        with contextlib.suppress(Exception):  # a font matplotlib cannot read is simply not used
            font_manager.fontManager.addfont(line.split(":")[0].strip())


def _font_families(texts: Iterable[str]) -> list[str] | None:
    """``font.family`` drawing every character of ``texts``: the default family, then installed families
    covering what it lacks (greedily, most characters first). None when the default draws them all.

    Example:
        >>> _font_families(["loss", "accuracy"]) is None
        True
    """
    import matplotlib
    from matplotlib import font_manager

    family = list(matplotlib.rcParams["font.family"])
    default = font_manager.findfont(font_manager.FontProperties(family=family))
    chars = {ord(c) for text in texts for c in str(text) if c.isprintable() and not c.isspace()}
    missing = chars - _charmap(getattr(default, "path", str(default)))
    if not missing:
        return None
    if any(0xAC00 <= c <= 0xD7A3 or 0x1100 <= c <= 0x11FF or 0x3130 <= c <= 0x318F for c in missing):
        _add_korean_fonts()
    covers: dict[str, set[int]] = {}
    for entry in font_manager.fontManager.ttflist:
        if entry.style == "normal" and "Last Resort" not in entry.name:  # Last Resort: placeholder boxes
            covers.setdefault(entry.name, set()).update(missing & _charmap(entry.fname))
    extra = []
    while missing:
        gains = {name: len(found & missing) for name, found in covers.items()}
        best = min(covers, key=lambda name: (-gains[name], name not in _PREFERRED, name), default=None)
        if best is None or gains[best] == 0:
            break
        extra.append(best)
        missing = missing - covers[best]
    return family + extra


@contextlib.contextmanager
def text_style(texts: Iterable[str]) -> Iterator[None]:
    """Font fallback for ``texts``, reproducible SVG ids, and no "Glyph missing" warnings, for one figure."""
    import matplotlib

    rc: dict[str, Any] = {"svg.hashsalt": "rnnkit"}
    families = _font_families(texts)
    if families is not None:
        rc["font.family"] = families
    with matplotlib.rc_context(rc), warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r"Glyph \d+ .*missing from", category=UserWarning)
        yield


def new_figure(width: float, height: float) -> Any:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(width, height), dpi=100, layout="constrained")
    FigureCanvasAgg(figure)
    return figure


def save_figure(figure: Any, path: str | os.PathLike, fmt: str) -> Path:
    metadata = {"Date": None} if fmt == "svg" else None  # no timestamp: the same plot gives the same file
    atomic_write(path, lambda tmp: figure.savefig(tmp, format=fmt, metadata=metadata))
    return Path(path)


# ----- learning curves -------------------------------------------------------------------------------
