"""The time budget of a search: parsed from ``90s`` / ``20m`` / ``1h30m``, and the clock that says whether
another epoch or another trial still fits."""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field

from rnnkit.errors import UserError

UNITS = {"s": 1, "m": 60, "h": 3600}
_PART = re.compile(r"(\d+(?:\.\d+)?)([smh])")


class BudgetError(UserError, ValueError):
    """A ``--budget`` that is not a duration such as ``90s``, ``20m`` or ``1h``."""


def parse_budget(text: str) -> float:
    """Seconds of a duration: a number with ``s``, ``m`` or ``h``, or several (``1h30m``); a bare number
    is seconds.

    Raises:
        BudgetError: anything else, or a duration of zero.

    Example:
        >>> parse_budget("90s"), parse_budget("20m"), parse_budget("1h30m"), parse_budget("45")
        (90.0, 1200.0, 5400.0, 45.0)
        >>> parse_budget("soon")
        Traceback (most recent call last):
        ...
        rnnkit.tune.budget.BudgetError: --budget 'soon': expected a duration such as 90s, 20m or 1h
    """
    raw = str(text).strip().lower()
    hint = f"--budget {text!r}: expected a duration such as 90s, 20m or 1h"
    if re.fullmatch(r"\d+(?:\.\d+)?", raw):
        seconds = float(raw)
    elif raw and _PART.sub("", raw) == "":
        seconds = sum(float(n) * UNITS[unit] for n, unit in _PART.findall(raw))
    else:
        raise BudgetError(hint)
    if seconds <= 0:
        raise BudgetError(f"--budget {text!r}: must be more than zero")
    return seconds


def format_seconds(seconds: float) -> str:
    """``75.3`` -> ``'1m15s'``; under a minute, tenths of a second.

    Example:
        >>> format_seconds(75.3), format_seconds(9.94), format_seconds(3700)
        ('1m15s', '9.9s', '1h01m40s')
    """
    if seconds < 60:
        return f"{seconds:.1f}s"
    whole = round(seconds)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}h{minutes:02d}m{secs:02d}s" if hours else f"{minutes}m{secs:02d}s"


@dataclass
class Budget:
    """A deadline ``seconds`` after creation, less a ``reserve`` kept for the final test evaluation.

    Example:
        >>> budget = Budget(100.0, reserve=5.0)
        >>> budget.fits(10.0), budget.fits(99.0)
        (True, False)
    """

    seconds: float
    reserve: float = 0.0
    started: float = field(default_factory=time.perf_counter)

    def used(self) -> float:
        """Seconds since the start."""
        return time.perf_counter() - self.started

    def left(self) -> float:
        """Seconds left for trials (the reserve excluded; negative once overrun)."""
        return self.seconds - self.reserve - self.used()

    def fits(self, estimate: float) -> bool:
        """Whether work expected to take ``estimate`` seconds ends before the trials' deadline."""
        return estimate <= self.left()

    @classmethod
    def of(cls, seconds: float) -> Budget:
        """A budget of ``seconds`` keeping 5% (at least 2 s, at most 60 s) for the final evaluation."""
        return cls(seconds, reserve=min(60.0, max(2.0, 0.05 * seconds)))
