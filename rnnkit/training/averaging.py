"""Weight averaging (Polyak & Juditsky 1992): an exponential moving average of a model's weights.

After the ``n``-th optimiser step every floating-point entry ``w`` of the model's state dict (parameters
and buffers) moves its average ``a`` by

    d_n = min(decay, (1 + n) / (10 + n))
    a  <- d_n * a + (1 - d_n) * w

(the warm-up of TensorFlow's ``ExponentialMovingAverage(decay, num_updates)``: early on the average
follows the weights closely, so the initial weights are forgotten within a few steps; later it remembers
about ``1 / (1 - decay)`` steps). Integer entries (step counters) are copied, not averaged.

The trainer (``TrainConfig.ema_decay``) evaluates, early-stops and keeps the best weights with the
average in place of the training weights, and keeps :meth:`WeightAverage.state_dict` in its checkpoints, so
that a resumed run continues the same average.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping
from typing import Any

import torch
from torch import Tensor, nn


def ema_factor(decay: float, updates: int) -> float:
    """The weight ``d_n`` the old average keeps at update number ``updates`` (counting from 1).

    Example:
        >>> ema_factor(0.999, 1), ema_factor(0.999, 8), ema_factor(0.999, 100000)
        (0.18181818181818182, 0.5, 0.999)
    """
    return min(decay, (1 + updates) / (10 + updates))


class WeightAverage:
    """The moving average of ``model``'s state dict, starting at its current values.

    Args:
        model: the model whose weights are averaged (the same one is passed to :meth:`update`).
        decay: in (0, 1); the long-run ``d_n``.

    Example:
        >>> model = nn.Linear(1, 1, bias=False); _ = model.weight.data.fill_(0.0)
        >>> average = WeightAverage(model, decay=0.5)
        >>> _ = model.weight.data.fill_(1.0); average.update(model)  # d_1 = min(0.5, 2 / 11)
        >>> round(float(average.weights["weight"]), 4)
        0.8182
    """

    def __init__(self, model: nn.Module, decay: float) -> None:
        if not 0.0 < decay < 1.0:
            raise ValueError(f"WeightAverage: decay must be in (0, 1), got {decay!r}")
        self.decay = decay
        self.updates = 0
        self.weights: dict[str, Tensor] = {k: v.detach().clone() for k, v in model.state_dict().items()}

    @torch.no_grad()
    def update(self, model: nn.Module) -> None:
        """Fold the model's current weights into the average (after an optimiser step)."""
        self.updates += 1
        keep = ema_factor(self.decay, self.updates)
        for name, value in model.state_dict().items():
            average = self.weights[name]
            if average.is_floating_point():
                average.mul_(keep).add_(value.detach().to(average.dtype), alpha=1.0 - keep)
            else:
                average.copy_(value)

    @contextlib.contextmanager
    def applied(self, model: nn.Module) -> Iterator[None]:
        """Within the block the model holds the averaged weights; its own come back, bit for bit, after."""
        own = {k: v.detach().clone() for k, v in model.state_dict().items()}
        model.load_state_dict(self.weights)
        try:
            yield
        finally:
            model.load_state_dict(own)

    def state_dict(self) -> dict[str, Any]:
        """``{"decay", "updates", "weights"}``: what a checkpoint keeps to continue the same average."""
        return {"decay": self.decay, "updates": self.updates, "weights": dict(self.weights)}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Continue the average of ``state`` (as :meth:`state_dict` made it); the tensors keep this
        average's devices and dtypes."""
        weights = state["weights"]
        if set(weights) != set(self.weights):
            missing = sorted(set(self.weights) - set(weights))
            unexpected = sorted(set(weights) - set(self.weights))
            raise ValueError(
                f"the saved weight average does not match the model: missing {missing}, "
                f"unexpected {unexpected}"
            )
        for name, average in self.weights.items():
            average.copy_(weights[name])
        self.updates = int(state["updates"])
