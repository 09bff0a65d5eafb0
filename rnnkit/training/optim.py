"""Optimisers and learning-rate schedules (nanoGPT's ``configure_optimizers`` and ``get_lr``).

Weight decay applies to tensors of two or more dimensions (the matrices of linear maps, recurrent weights,
convolution kernels and embeddings, as in nanoGPT) and not to biases, norm scales or other vectors; an
IndRNN's element-wise recurrent weight, a vector, is therefore not decayed either. Parameters with
``requires_grad=False`` (a frozen embedding) are left out.

The schedule is a small class rather than a ``LambdaLR`` so its state is a plain JSON dict (a lambda
cannot be saved without pickle)::

    warm-up   (s < W):  lr(s) = lr · (s + 1) / W
    decay     (s ≥ W):  p = min(1, (s − W) / max(1, S − W))
        constant:  lr(s) = lr
        linear:    lr(s) = lr_min + (lr − lr_min) · (1 − p)
        cosine:    lr(s) = lr_min + (lr − lr_min) · ½ (1 + cos πp)

with ``s`` the 0-based optimiser step, ``W`` the warm-up steps, ``S`` the total steps and
``lr_min = min_lr_ratio · lr``.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import nn

from rnnkit.training.config import TrainConfig


def param_groups(model: nn.Module, weight_decay: float) -> list[dict[str, Any]]:
    """Two optimiser groups: ``"decay"`` (tensors of 2+ dims) and ``"no_decay"`` (the rest).

    Empty groups are dropped. The order of parameters follows ``model.named_parameters()``, so it is the
    same for every model built from the same config (an optimizer checkpoint relies on that).

    Example:
        >>> model = nn.Sequential(nn.Linear(3, 4), nn.LayerNorm(4))
        >>> [(g["name"], len(g["params"]), g["weight_decay"]) for g in param_groups(model, 0.1)]
        [('decay', 1, 0.1), ('no_decay', 3, 0.0)]
    """
    decay, no_decay = [], []
    for _, param in model.named_parameters():
        if param.requires_grad:
            (decay if param.dim() >= 2 else no_decay).append(param)
    groups = [
        {"name": "decay", "params": decay, "weight_decay": weight_decay},
        {"name": "no_decay", "params": no_decay, "weight_decay": 0.0},
    ]
    return [group for group in groups if group["params"]]


def build_optimizer(model: nn.Module, config: TrainConfig) -> torch.optim.Optimizer:
    """AdamW or SGD (with momentum) over :func:`param_groups`, as ``config`` says.

    Raises:
        ValueError: the model has no trainable parameters.

    Example:
        >>> opt = build_optimizer(nn.Linear(2, 2), TrainConfig(optimizer="sgd", lr=0.1))
        >>> type(opt).__name__, [g["lr"] for g in opt.param_groups]
        ('SGD', [0.1, 0.1])
    """
    groups = param_groups(model, config.weight_decay)
    if not groups:
        raise ValueError(f"{type(model).__name__} has no parameters with requires_grad=True to optimise")
    if config.optimizer == "adamw":
        return torch.optim.AdamW(groups, lr=config.lr, betas=config.betas, eps=config.eps)
    return torch.optim.SGD(groups, lr=config.lr, momentum=config.momentum)


class LRSchedule:
    """Warm-up then constant, linear or cosine decay (the module docstring has the formula).

    Call :meth:`step` after each ``optimizer.step()``; the schedule writes the rate of the next step into
    the optimizer's groups (each group keeps its own base rate, the group's ``lr`` at construction).

    Args:
        optimizer: its groups' current ``lr`` are the peak rates.
        schedule: ``"constant"``, ``"linear"`` or ``"cosine"``.
        warmup_steps: W in steps; or warmup_ratio: W as a fraction of S (give one).
        total_steps: S; None until known (:meth:`set_total_steps`). Decays and ``warmup_ratio`` need it.
        min_lr_ratio: ``lr_min / lr``.

    Example:
        >>> opt = torch.optim.SGD(nn.Linear(1, 1).parameters(), lr=1.0)
        >>> sched = LRSchedule(opt, "cosine", warmup_steps=2, total_steps=6, min_lr_ratio=0.0)
        >>> rates = []
        >>> for _ in range(7):
        ...     rates.append(round(opt.param_groups[0]["lr"], 3)); sched.step()
        >>> rates
        [0.5, 1.0, 1.0, 0.854, 0.5, 0.146, 0.0]
        >>> sched.state_dict()
        {'step': 7, 'total_steps': 6, 'base_lrs': [1.0]}
    """

    def __init__(
        self,
        optimizer: torch.optim.Optimizer,
        schedule: str = "constant",
        warmup_steps: int = 0,
        total_steps: int | None = None,
        min_lr_ratio: float = 0.0,
        warmup_ratio: float = 0.0,
    ) -> None:
        if schedule not in ("constant", "linear", "cosine"):
            raise ValueError(f"schedule must be 'constant', 'linear' or 'cosine', got {schedule!r}")
        if warmup_steps < 0 or not 0.0 <= warmup_ratio < 1.0 or not 0.0 <= min_lr_ratio <= 1.0:
            raise ValueError(
                f"need warmup_steps >= 0, warmup_ratio in [0, 1) and min_lr_ratio in [0, 1], "
                f"got {warmup_steps}, {warmup_ratio}, {min_lr_ratio}"
            )
        if warmup_steps and warmup_ratio:
            raise ValueError("give warmup_steps or warmup_ratio, not both")
        self.optimizer = optimizer
        self.schedule, self.min_lr_ratio = schedule, min_lr_ratio
        self.warmup_steps, self.warmup_ratio = warmup_steps, warmup_ratio
        self.base_lrs = [float(group["lr"]) for group in optimizer.param_groups]
        self.last_step = 0
        self.total_steps: int | None = None
        self.set_total_steps(total_steps)

    @property
    def needs_total_steps(self) -> bool:
        """Whether the rates depend on S (a decay, or a warm-up given as a ratio)."""
        return self.schedule != "constant" or self.warmup_ratio > 0

    @property
    def warmup(self) -> int:
        """W in steps."""
        if not self.warmup_ratio:
            return self.warmup_steps
        if self.total_steps is None:
            raise ValueError("warmup_ratio needs the total number of steps (max_steps or a sized loader)")
        return round(self.warmup_ratio * self.total_steps)

    def set_total_steps(self, total_steps: int | None) -> None:
        """Fix S once the length of the run is known, and apply the rate of the current step."""
        if total_steps is not None and (isinstance(total_steps, bool) or total_steps < 1):
            raise ValueError(f"total_steps must be a positive integer, got {total_steps!r}")
        self.total_steps = total_steps
        self._apply()

    def factor(self, step: int) -> float:
        """``lr(step) / lr``: the multiplier of the peak rate at 0-based optimiser step ``step``.

        Raises:
            ValueError: the rate depends on S and S is unknown.
        """
        if self.needs_total_steps and self.total_steps is None:
            raise ValueError(
                f"the {self.schedule!r} schedule needs the total number of steps: set TrainConfig.max_steps "
                f"or use a loader with a length"
            )
        warmup = self.warmup
        if step < warmup:
            return (step + 1) / warmup
        if self.schedule == "constant":
            return 1.0
        progress = min(1.0, (step - warmup) / max(1, self.total_steps - warmup))
        shape = 1.0 - progress if self.schedule == "linear" else 0.5 * (1.0 + math.cos(math.pi * progress))
        return self.min_lr_ratio + (1.0 - self.min_lr_ratio) * shape

    def step(self) -> None:
        """Advance one optimiser step and set the rate of the next one."""
        self.last_step += 1
        self._apply()

    def get_last_lr(self) -> list[float]:
        """The rate of each group for the coming step (torch's scheduler name)."""
        return [float(group["lr"]) for group in self.optimizer.param_groups]

    def _apply(self) -> None:
        if self.needs_total_steps and self.total_steps is None:
            return  # nothing to apply until S is known
        factor = self.factor(self.last_step)
        for group, base in zip(self.optimizer.param_groups, self.base_lrs):
            group["lr"] = base * factor

    def state_dict(self) -> dict[str, Any]:
        """Plain JSON: ``{"step", "total_steps", "base_lrs"}`` (the rest comes from the config)."""
        return {"step": self.last_step, "total_steps": self.total_steps, "base_lrs": list(self.base_lrs)}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Continue from ``state``; the optimizer's rates are set for the saved step."""
        if len(state["base_lrs"]) != len(self.optimizer.param_groups):
            raise ValueError(
                f"schedule state has {len(state['base_lrs'])} parameter groups, the optimizer has "
                f"{len(self.optimizer.param_groups)}"
            )
        self.last_step = int(state["step"])
        self.base_lrs = [float(lr) for lr in state["base_lrs"]]
        self.set_total_steps(state["total_steps"])


def build_scheduler(
    optimizer: torch.optim.Optimizer, config: TrainConfig, total_steps: int | None = None
) -> LRSchedule:
    """The :class:`LRSchedule` of ``config`` over ``total_steps`` optimiser steps (None: set later).

    Example:
        >>> opt = build_optimizer(nn.Linear(2, 2), TrainConfig(lr=0.1))
        >>> sched = build_scheduler(opt, TrainConfig(lr=0.1, schedule="linear", warmup_ratio=0.1), 100)
        >>> sched.warmup, round(sched.factor(9), 3), round(sched.factor(55), 3), sched.factor(100)
        (10, 1.0, 0.55, 0.1)
    """
    return LRSchedule(
        optimizer, config.schedule, config.warmup_steps, total_steps, config.min_lr_ratio, config.warmup_ratio
    )
