"""Gate statistics over a whole dataset: recording at scale, one batch at a time, nothing kept but sums.

For every recorded call, layer, direction and gate, over the valid steps of every sequence:

    mean        the average activation (a forget gate near 1 keeps its cell state, near 0 resets it)
    saturated   the fraction of values below 0.1 or above 0.9 (a sigmoid gate acting as a switch)

Candidates (``g``, ``n``, ``h_tilde``) are tanh-ranged, so for them "saturated" means ``|v| > 0.9``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, nn

from rnnkit.inspect.recording import record

__all__ = ["GateStatistics", "gate_statistics"]

_TANH = {"g", "n", "h", "c", "h_tilde"}


@dataclass
class GateStatistics:
    """Per ``(call, label, gate)``: mean activation, saturated fraction and the number of values; plus the
    sequences recorded and the seconds it took."""

    rows: list[tuple[str, str, str, float, float, int]]
    sequences: int
    seconds: float


@torch.no_grad()
def gate_statistics(
    model: nn.Module,
    batches: Iterable[Any],
    run: Callable[[nn.Module, Any], Any],
    max_batches: int | None = None,
) -> GateStatistics:
    """Record ``run(model, batch)`` over ``batches`` (in eval mode) and summarise every gate.

    Args:
        run: runs the model on one batch (a task's ``compute_loss`` does).
        max_batches: stop after this many batches (None: all).

    Example:
        >>> import rnnkit
        >>> gru = rnnkit.GRU(2, 3, batch_first=True)
        >>> stats = gate_statistics(gru, [torch.randn(4, 5, 2)], lambda m, x: m(x))
        >>> [row[:3] for row in stats.rows], stats.sequences
        ([('', 'layer 0', 'r'), ('', 'layer 0', 'z'), ('', 'layer 0', 'n')], 4)
    """
    totals: dict[tuple[str, str, str], list[float]] = {}
    sequences, started = 0, time.perf_counter()
    was_training = model.training
    model.eval()
    try:
        for n, batch in enumerate(batches):
            if max_batches is not None and n >= max_batches:
                break
            with record(model) as recording:
                run(model, batch)
            for call in recording.calls:
                valid = _valid(call.valid_lengths(), call.steps)  # (B, T)
                name = call.name.split("#")[0]
                for label, internals in zip(call.labels, call.internals):
                    for gate, values in internals.items():
                        if gate in ("h", "c"):
                            continue
                        chosen = values.detach()[valid.to(values.device)]  # (N, H)
                        if gate in _TANH:
                            switched = chosen.abs() > 0.9
                        else:
                            switched = (chosen < 0.1) | (chosen > 0.9)
                        total = totals.setdefault((name, label, gate), [0.0, 0.0, 0.0])
                        total[0] += float(chosen.sum())
                        total[1] += float(switched.sum())
                        total[2] += chosen.numel()
            sequences += _batch_size(batch)
    finally:
        model.train(was_training)
    rows = [
        (c, label, g, s / max(k, 1), sat / max(k, 1), int(k)) for (c, label, g), (s, sat, k) in totals.items()
    ]
    return GateStatistics(rows, sequences, time.perf_counter() - started)


def _valid(lengths: Tensor, steps: int) -> Tensor:
    return torch.arange(steps).unsqueeze(0) < lengths.unsqueeze(1)


def _batch_size(batch: Any) -> int:
    if isinstance(batch, Tensor):
        return batch.size(0)
    if isinstance(batch, dict):
        return next(v.size(0) for v in batch.values() if isinstance(v, Tensor))
    if isinstance(batch, (tuple, list)) and batch and isinstance(batch[0], Tensor):
        return batch[0].size(0)
    return 0
