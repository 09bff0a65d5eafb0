"""Numbers written in a text field (a JSON list, or separated by commas or whitespace); standard library
only (no torch), so that an export folder (:mod:`rnnkit.export.decoder_runtime`) reads feature vectors
exactly as its run."""

from __future__ import annotations

import json
import math
from typing import Any


def parse_numbers(value: Any, where: str) -> list[float]:
    """A feature value as numbers: a number, a list of numbers, or a string holding a JSON list or
    numbers separated by commas or whitespace.

    Raises:
        ValueError: something else, naming ``where``.

    Example:
        >>> parse_numbers("[1, 2.5]", "x"), parse_numbers("1, 2 3", "x"), parse_numbers(4, "x")
        ([1.0, 2.5], [1.0, 2.0, 3.0], [4.0])
        >>> parse_numbers("1, two", "rows.csv:3: pixels")
        Traceback (most recent call last):
        ...
        ValueError: rows.csv:3: pixels: expected numbers, got 'two'
    """
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("["):
            try:
                value = json.loads(text)
            except json.JSONDecodeError:
                raise ValueError(f"{where}: expected a JSON list of numbers, got {text[:60]!r}") from None
        else:
            value = [part for part in text.replace(",", " ").split()]
    items = value if isinstance(value, (list, tuple)) else [value]
    out = []
    for item in items:
        try:
            number = float(item)
        except (TypeError, ValueError):
            raise ValueError(f"{where}: expected numbers, got {item!r:.60}") from None
        if not math.isfinite(number):
            raise ValueError(f"{where}: expected finite numbers, got {item!r}")
        out.append(number)
    if not out:
        raise ValueError(f"{where}: no numbers")
    return out


__all__ = ["parse_numbers"]
