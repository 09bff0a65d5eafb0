"""Variable lengths as pure functions on time-major tensors ``(T, B, ...)``.

Padding sits after each sequence's valid prefix; ``lengths`` is a ``(B,)`` integer tensor on any device.
"""

from __future__ import annotations

import torch
from torch import Tensor


def check_lengths(lengths: Tensor, batch_size: int, steps: int) -> Tensor:
    """Validate ``lengths`` against a batch of ``batch_size`` sequences of ``steps`` steps.

    Raises:
        TypeError: not an integer tensor.
        ValueError: wrong shape, or a length outside ``[1, steps]``.
    """
    if not isinstance(lengths, Tensor):
        raise TypeError(f"lengths must be a Tensor of shape (B,), got {type(lengths).__name__}")
    if lengths.dtype.is_floating_point or lengths.dtype.is_complex or lengths.dtype == torch.bool:
        raise TypeError(f"lengths must be an integer tensor, got dtype {lengths.dtype}")
    if lengths.dim() != 1 or lengths.size(0) != batch_size:
        raise ValueError(
            f"lengths must have shape ({batch_size},) (one per sequence), got {tuple(lengths.shape)}"
        )
    low, high = int(lengths.min()), int(lengths.max())
    if low < 1:
        raise ValueError(f"lengths must be >= 1 (empty sequences have no last state), got a length of {low}")
    if high > steps:
        raise ValueError(f"lengths must be <= the number of steps {steps}, got a length of {high}")
    return lengths


def lengths_to_mask(lengths: Tensor, steps: int, device: torch.device | None = None) -> Tensor:
    """Boolean ``(T, B)`` mask, True on the valid steps.

    Example:
        >>> lengths_to_mask(torch.tensor([2, 3]), 3).T
        tensor([[ True,  True, False],
                [ True,  True,  True]])
    """
    lengths = lengths.to(device) if device is not None else lengths
    return torch.arange(steps, device=lengths.device).unsqueeze(1) < lengths.unsqueeze(0)


def reverse_padded(x: Tensor, lengths: Tensor | None) -> Tensor:
    """Reverse each sequence's valid prefix in time, leaving its padding in place (flax ``flip_sequences``).

    Applying it twice gives ``x`` back.

    Example:
        >>> x = torch.tensor([[1, 2, 0], [4, 5, 6]]).T  # (T=3, B=2), first sequence has length 2
        >>> reverse_padded(x, torch.tensor([2, 3])).T
        tensor([[2, 1, 0],
                [6, 5, 4]])
    """
    if lengths is None:
        return x.flip(0)
    steps = x.size(0)
    t = torch.arange(steps, device=x.device).unsqueeze(1)  # (T, 1)
    lengths = lengths.to(x.device).unsqueeze(0)  # (1, B)
    index = torch.where(t < lengths, lengths - 1 - t, t)  # (T, B)
    index = index.view(*index.shape, *([1] * (x.dim() - 2))).expand_as(x)
    return x.gather(0, index)
