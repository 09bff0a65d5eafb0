"""Conv1d + MaxPool1d over time in front of a recurrent layer, with the length arithmetic and masks.

Only the pooling shortens a sequence: the convolutions use "same" padding, so every kernel size gives
``T`` steps and their outputs concatenate along the channels; the max-pool
(window = stride = ``pool_size``) gives ``ceil(T / pool_size)`` steps. Lengths follow the same rule,
``ceil(length / pool_size)``: a window holding at least one valid step is valid, and its maximum is taken
over its valid steps only. So no length becomes 0 (the recurrent layer needs >= 1), and a sequence alone
(``T = length``) and the same sequence inside a padded batch give identical valid outputs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from rnnkit.cells.base import check_probability, check_size
from rnnkit.layers.masking import check_lengths

Activation = Literal["relu", "tanh", "gelu", "none"]
_ACTIVATIONS = {"relu": F.relu, "tanh": torch.tanh, "gelu": F.gelu, "none": lambda y: y}


@dataclass(frozen=True)
class ConvConfig:
    """The convolutional front-end of a model (see :class:`ConvFrontend` for the meaning of each field).

    Example:
        >>> ConvConfig(channels=32, kernel_sizes=(3, 4, 5)).output_size
        96
    """

    channels: int = 64
    kernel_sizes: tuple[int, ...] = (5,)
    pool_size: int = 4
    activation: Activation = "relu"
    dropout: float = 0.0

    def __post_init__(self) -> None:
        for name in ("channels", "pool_size"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"ConvConfig.{name} must be an int >= 1, got {value!r}")
        sizes = self.kernel_sizes
        if (
            not isinstance(sizes, (tuple, list))
            or not sizes
            or any(isinstance(k, bool) or not isinstance(k, int) or k < 1 for k in sizes)
        ):
            raise ValueError(f"ConvConfig.kernel_sizes must be a non-empty tuple of ints >= 1, got {sizes!r}")
        if self.activation not in _ACTIVATIONS:
            raise ValueError(
                f"ConvConfig.activation must be one of {sorted(_ACTIVATIONS)}, got {self.activation!r}"
            )
        if (
            isinstance(self.dropout, bool)
            or not isinstance(self.dropout, (int, float))
            or not 0 <= self.dropout < 1
        ):
            raise ValueError(f"ConvConfig.dropout must be in [0, 1), got {self.dropout!r}")

    @property
    def output_size(self) -> int:
        """Channels of the output: ``channels * len(kernel_sizes)``."""
        return self.channels * len(self.kernel_sizes)


class ConvFrontend(nn.Module):
    r"""Parallel 1-D convolutions over time, an activation, a max-pool over time, dropout; masked throughout.

        x_t    = 0                                        for t >= length (zeroed before the convolutions)
        y^k    = act(Conv1d_k(x)),   "same" padding       one per kernel size k, each (B, channels, T)
        y      = concat_k y^k                             (B, channels * len(kernel_sizes), T)
        y_t    = -inf                                     for t >= length (so the max never picks padding)
        z_j    = max(y_{jp}, ..., y_{jp+p-1})             p = pool_size, j < ceil(T / p)
        z_j    = 0                                        for j >= ceil(length / p)
        out    = dropout(z)

    "Same" padding puts ``(k - 1) // 2`` zeros before and ``k // 2`` after the sequence (TF/Keras's
    choice for even ``k``). Keras's ``Conv1D(padding="valid")`` would shorten each sequence by ``k - 1``;
    "same" keeps several kernel sizes aligned and keeps short sequences non-empty.

    Args:
        input_size: C, features per input step.
        channels: output channels per kernel size.
        kernel_sizes: the widths of the parallel convolutions, e.g. ``(5,)`` or ``(3, 4, 5)`` (Kim 2014).
        pool_size: window and stride of the max-pool over time (1: no pooling).
        activation: ``"relu"``, ``"tanh"``, ``"gelu"`` or ``"none"``, applied before pooling.
        dropout: dropout on the output (training only).

    Shape: ``x (B, T, C)``, ``lengths (B,)`` or None -> ``(B, ceil(T/p), C')`` with
    ``C' = channels * len(kernel_sizes)``, and the new lengths ``ceil(lengths/p)`` (always a tensor).
    Padded output steps are zero.

    Example:
        >>> front = ConvFrontend(8, channels=16, kernel_sizes=(3, 4), pool_size=4)
        >>> out, lengths = front(torch.randn(2, 10, 8), torch.tensor([10, 5]))
        >>> out.shape, lengths.tolist(), out[1, 2:].abs().sum().item()
        (torch.Size([2, 3, 32]), [3, 2], 0.0)
    """

    def __init__(
        self,
        input_size: int,
        channels: int,
        kernel_sizes: tuple[int, ...] = (5,),
        pool_size: int = 4,
        activation: Activation = "relu",
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        check_size("ConvFrontend: input_size", input_size)
        check_size("ConvFrontend: channels", channels)
        check_size("ConvFrontend: pool_size", pool_size)
        check_probability("ConvFrontend: dropout", dropout)
        if not isinstance(kernel_sizes, (tuple, list)) or not kernel_sizes:
            raise ValueError(f"ConvFrontend: kernel_sizes must be a non-empty tuple, got {kernel_sizes!r}")
        for k in kernel_sizes:
            check_size("ConvFrontend: each kernel size", k)
        if activation not in _ACTIVATIONS:
            raise ValueError(
                f"ConvFrontend: activation must be one of {sorted(_ACTIVATIONS)}, got {activation!r}"
            )
        self.input_size, self.channels, self.pool_size = input_size, channels, pool_size
        self.kernel_sizes, self.activation = tuple(kernel_sizes), activation
        self.output_size = channels * len(self.kernel_sizes)
        self.convs = nn.ModuleList(nn.Conv1d(input_size, channels, k) for k in self.kernel_sizes)
        self.dropout = nn.Dropout(dropout)

    @classmethod
    def from_config(cls, config: ConvConfig, input_size: int) -> ConvFrontend:
        """The front-end described by ``config``, taking ``input_size`` features."""
        return cls(input_size, config.channels, config.kernel_sizes, config.pool_size, config.activation,
                   config.dropout)  # fmt: skip

    def output_lengths(self, lengths: Tensor) -> Tensor:
        """``ceil(lengths / pool_size)``: the valid steps after pooling.

        Example:
            >>> ConvFrontend(1, 1, pool_size=4).output_lengths(torch.tensor([1, 4, 5, 8, 9])).tolist()
            [1, 1, 2, 2, 3]
        """
        return torch.div(lengths + self.pool_size - 1, self.pool_size, rounding_mode="floor")

    def forward(self, x: Tensor, lengths: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """Convolve, pool and mask ``x (B, T, C)``; returns ``(output (B, T', C'), lengths (B,))``."""
        if not isinstance(x, Tensor) or not x.is_floating_point():
            got = f"dtype {x.dtype}" if isinstance(x, Tensor) else type(x).__name__
            raise TypeError(f"ConvFrontend: x must be a float tensor (B, T, C), got {got}")
        if x.dim() != 3 or x.size(-1) != self.input_size:
            raise ValueError(
                f"ConvFrontend: expected x of shape (B, T, {self.input_size}), got {tuple(x.shape)}"
            )
        batch, steps, _ = x.shape
        if lengths is None:
            lengths = torch.full((batch,), steps, dtype=torch.long, device=x.device)
        else:
            lengths = check_lengths(lengths, batch, steps).to(device=x.device, dtype=torch.long)
        valid = torch.arange(steps, device=x.device) < lengths.unsqueeze(1)  # (B, T)
        x = x.masked_fill(~valid.unsqueeze(-1), 0.0).transpose(1, 2)  # (B, C, T), padding zeroed
        y = torch.cat(
            [conv(F.pad(x, ((k - 1) // 2, k // 2))) for conv, k in zip(self.convs, self.kernel_sizes)], 1
        )
        y = _ACTIVATIONS[self.activation](y)  # (B, C', T)
        y = y.masked_fill(~valid.unsqueeze(1), float("-inf"))
        # ceil_mode keeps the partial last window: T' = ceil(T / p), with no Python arithmetic on T (so an
        # ONNX export keeps T dynamic)
        z = F.max_pool1d(y, self.pool_size, ceil_mode=True).transpose(1, 2)  # (B, T', C')
        lengths = self.output_lengths(lengths)
        pooled_valid = torch.arange(z.size(1), device=x.device) < lengths.unsqueeze(1)  # (B, T')
        z = z.masked_fill(~pooled_valid.unsqueeze(-1), 0.0)
        return self.dropout(z), lengths

    def extra_repr(self) -> str:
        return (
            f"{self.input_size}, channels={self.channels}, kernel_sizes={self.kernel_sizes}, "
            f"pool_size={self.pool_size}, activation={self.activation!r}"
        )
