"""Synthetic long-memory tasks, generated on the fly (no download)."""

from __future__ import annotations

import torch
from torch import Tensor


def adding_problem(
    batch_size: int, steps: int, generator: torch.Generator | None = None
) -> tuple[Tensor, Tensor]:
    """The adding problem (Hochreiter & Schmidhuber 1997; Le et al. 2015).

    Each step carries a value ~ U(0, 1) and a marker; exactly two steps are marked, one in each half of the
    sequence. The target is the sum of the two marked values. Predicting the mean, 1, scores MSE 1/6 ≈ 0.167:
    a model must remember a value across up to ``steps`` steps to beat that.

    Returns:
        inputs ``(B, T, 2)`` (value, marker) and targets ``(B,)``.

    Example:
        >>> x, y = adding_problem(4, 10, torch.Generator().manual_seed(0))
        >>> x.shape, y.shape, x[..., 1].sum(1).tolist()
        (torch.Size([4, 10, 2]), torch.Size([4]), [2.0, 2.0, 2.0, 2.0])
        >>> torch.allclose((x[..., 0] * x[..., 1]).sum(1), y)
        True
    """
    if steps < 2:
        raise ValueError(f"adding_problem needs steps >= 2 (one marker per half), got {steps}")
    values = torch.rand(batch_size, steps, generator=generator)
    half = steps // 2
    first = torch.randint(0, half, (batch_size,), generator=generator)
    second = torch.randint(half, steps, (batch_size,), generator=generator)
    markers = torch.zeros(batch_size, steps)
    rows = torch.arange(batch_size)
    markers[rows, first] = 1.0
    markers[rows, second] = 1.0
    return torch.stack([values, markers], dim=-1), (values * markers).sum(1)
