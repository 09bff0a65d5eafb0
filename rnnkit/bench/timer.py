"""time_interleaved: warm up, then time contenders round-robin so that drift hits all of them equally.

Timing one contender after another lets a change in machine load, clock speed or thermal state land on
one of them only; running them in turn (a, b, c, a, b, c, ...) spreads it over all, so ratios measured in
the same run stay fair (fastrnns times its peers the same way). Report the median, which ignores the odd
sample slowed by another process or a garbage collection.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Sequence

import torch


def cuda_sync() -> None:
    """Wait for queued CUDA work when CUDA is in use (its context exists); a no-op otherwise."""
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        torch.cuda.synchronize()


def time_interleaved(
    contenders: dict[str, Callable[[], object]],
    repeats: int,
    warmup: int = 1,
    sync: Callable[[], None] = cuda_sync,
) -> dict[str, list[float]]:
    """Time each contender ``repeats`` times, interleaved, after ``warmup`` untimed calls of each.

    Each contender is first called ``warmup`` times in a row (caches, lazy initialisation, autotuning);
    then every round calls all contenders once, in the dict's order. ``sync`` runs before starting and
    after stopping each clock, so that asynchronous (CUDA) work is inside the sample that launched it.

    Args:
        contenders: name -> a call taking no arguments (its result is ignored).
        repeats: timed calls per contender, >= 1.
        warmup: untimed calls per contender first, >= 0.
        sync: waits for the device; the default synchronises CUDA when it is in use.

    Returns:
        name -> the ``repeats`` wall-clock samples in seconds, in the order they were taken.

    Raises:
        ValueError: ``repeats < 1`` or ``warmup < 0``.

    Example:
        >>> calls = []
        >>> samples = time_interleaved(
        ...     {"a": lambda: calls.append("a"), "b": lambda: calls.append("b")}, repeats=2, warmup=1
        ... )
        >>> calls
        ['a', 'b', 'a', 'b', 'a', 'b']
        >>> {name: len(times) for name, times in samples.items()}
        {'a': 2, 'b': 2}
    """
    if isinstance(repeats, bool) or not isinstance(repeats, int) or repeats < 1:
        raise ValueError(f"repeats must be an int >= 1, got {repeats!r}")
    if isinstance(warmup, bool) or not isinstance(warmup, int) or warmup < 0:
        raise ValueError(f"warmup must be an int >= 0, got {warmup!r}")
    for fn in contenders.values():
        for _ in range(warmup):
            fn()
    samples: dict[str, list[float]] = {name: [] for name in contenders}
    for _ in range(repeats):
        for name, fn in contenders.items():
            sync()
            start = time.perf_counter()
            fn()
            sync()
            samples[name].append(time.perf_counter() - start)
    return samples


def median(samples: Sequence[float]) -> float:
    """The median of the samples (the mean of the middle two for an even count).

    Raises:
        ValueError: no samples.

    Example:
        >>> median([0.3, 0.1, 0.2])
        0.2
        >>> median([4.0, 1.0, 2.0, 3.0])
        2.5
    """
    if len(samples) == 0:
        raise ValueError("median of no samples")
    return float(statistics.median(samples))
