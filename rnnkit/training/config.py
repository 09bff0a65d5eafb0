"""TrainConfig: how to train, as one frozen dataclass (what to train is the model's config).

It round-trips through :func:`rnnkit.config.save_config` / :func:`rnnkit.config.load_config` like every
other rnnkit config, so a run directory can record it next to the model's config.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

OPTIMIZERS = ("adamw", "sgd")
SCHEDULES = ("constant", "linear", "cosine")
PRECISIONS = ("off", "bf16", "fp16", "auto")
NONFINITE = ("stop", "skip_batch")


@dataclass(frozen=True)
class TrainConfig:
    """Optimiser, schedule, stopping, precision, seed and device of a training run.

    Fields:
        epochs: passes over the training data. Ignored when ``max_steps`` is set (the data then repeats).
        max_steps: stop after this many optimiser steps; None: ``epochs`` decides.
        batch_size: for the caller that builds the data loaders; the trainer itself takes batches as given.
            In an rnnkit run it is the *global* batch: the examples of one optimiser step, shared by all
            processes of a multi-process job (each takes about ``batch_size / W``).
        micro_batch_size: at most this many examples per forward and backward pass in each process, the
            gradients of a step's micro-batches accumulated before the optimiser step (the step is the same,
            the memory smaller); None: each process's share of the batch in one pass.
        lr, weight_decay: peak learning rate; decoupled weight decay (AdamW) or L2 (SGD), applied to
            weights of two or more dimensions only (see :func:`rnnkit.training.optim.param_groups`).
        optimizer: ``"adamw"`` (with ``betas``, ``eps``) or ``"sgd"`` (with ``momentum``).
        clip_grad_norm: rescale the gradient so its global L2 norm is at most this; None: no clipping.
            Recurrent nets explode (Pascanu et al. 2013), hence a default of 1.0.
        warmup_steps / warmup_ratio: linear warm-up length, in steps or as a fraction of the total steps
            (give one of the two).
        schedule: after warm-up, ``"constant"``, ``"linear"`` or ``"cosine"`` decay to ``min_lr_ratio * lr``.
        early_stopping_patience: stop after this many evaluations in a row without improvement of
            ``monitor`` (by more than ``min_delta``, in direction ``mode``); None: never stop early.
        restore_best: at the end of ``fit``, load the weights of the best evaluation (when there was one).
        mixed_precision: ``"auto"`` = bf16 autocast on a CUDA device that supports it, else off;
            ``"bf16"`` / ``"fp16"`` autocast on any device (fp16 adds a gradient scaler on CUDA only).
        seed: seeds python, numpy and torch at the start of a fresh run, and the shuffling of each epoch.
        log_every: how often the logging callbacks record the loss (in steps).
        eval_every: evaluate every this many steps, or ``"epoch"`` at the end of each epoch.
        device: ``"auto"`` (CUDA when available, else CPU) or any torch device string (``"cuda:1"``).
        on_nonfinite: what a NaN or infinite loss or gradient norm does: ``"stop"`` ends the run with an
            error naming the step and the last good checkpoint (resume from it with a lower ``lr``);
            ``"skip_batch"`` skips that optimiser update (the schedule still advances) and counts it in
            ``TrainState.skipped_batches``. Under fp16 with a gradient scaler, infinite gradients are the
            scaler's to skip and only the loss is checked.
        ema_decay: keep an exponential moving average of the weights (Polyak averaging,
            :mod:`rnnkit.training.averaging`; e.g. 0.999, about the last 1,000 steps) and evaluate,
            early-stop, restore the best and save with the averaged weights; checkpoints hold the average
            too, so a resumed run continues it exactly. None: no averaging.

    Example:
        >>> TrainConfig(lr=3e-4, schedule="cosine", warmup_steps=100).optimizer
        'adamw'
        >>> TrainConfig(mode="largest")
        Traceback (most recent call last):
        ...
        ValueError: TrainConfig.mode must be one of ('min', 'max'), got 'largest'
    """

    epochs: int = 10
    max_steps: int | None = None
    batch_size: int = 32
    micro_batch_size: int | None = None
    lr: float = 1e-3
    weight_decay: float = 0.01
    optimizer: Literal["adamw", "sgd"] = "adamw"
    momentum: float = 0.9
    betas: tuple[float, float] = (0.9, 0.999)
    eps: float = 1e-8
    clip_grad_norm: float | None = 1.0
    warmup_steps: int = 0
    warmup_ratio: float = 0.0
    schedule: Literal["constant", "linear", "cosine"] = "constant"
    min_lr_ratio: float = 0.1
    early_stopping_patience: int | None = None
    min_delta: float = 0.0
    monitor: str = "val_loss"
    mode: Literal["min", "max"] = "min"
    restore_best: bool = True
    mixed_precision: Literal["off", "bf16", "fp16", "auto"] = "auto"
    seed: int = 0
    log_every: int = 10
    eval_every: int | Literal["epoch"] = "epoch"
    device: str = "auto"
    on_nonfinite: Literal["stop", "skip_batch"] = "stop"
    ema_decay: float | None = None

    def __post_init__(self) -> None:
        if isinstance(self.betas, list):  # a list from hand-written code; keep the config hashable
            object.__setattr__(self, "betas", tuple(self.betas))
        _integer("epochs", self.epochs, 1)
        _integer("batch_size", self.batch_size, 1)
        _integer("warmup_steps", self.warmup_steps, 0)
        _integer("log_every", self.log_every, 1)
        _integer("seed", self.seed, 0, 2**32 - 1)  # numpy's seed range
        if self.max_steps is not None:
            _integer("max_steps", self.max_steps, 1)
        if self.micro_batch_size is not None:
            _integer("micro_batch_size", self.micro_batch_size, 1)
        if self.early_stopping_patience is not None:
            _integer("early_stopping_patience", self.early_stopping_patience, 1)
        if self.eval_every != "epoch":
            if isinstance(self.eval_every, str):
                raise ValueError(
                    f"TrainConfig.eval_every must be a step count or 'epoch', got {self.eval_every!r}"
                )
            _integer("eval_every", self.eval_every, 1)
        _number("lr", self.lr, 0.0, math.inf, low_open=True)
        _number("weight_decay", self.weight_decay, 0.0, math.inf)
        _number("momentum", self.momentum, 0.0, 1.0, high_open=True)
        _number("eps", self.eps, 0.0, math.inf, low_open=True)
        _number("warmup_ratio", self.warmup_ratio, 0.0, 1.0, high_open=True)
        _number("min_lr_ratio", self.min_lr_ratio, 0.0, 1.0)
        _number("min_delta", self.min_delta, 0.0, math.inf)
        if self.ema_decay is not None:
            _number("ema_decay", self.ema_decay, 0.0, 1.0, low_open=True, high_open=True)
        if self.clip_grad_norm is not None:
            _number("clip_grad_norm", self.clip_grad_norm, 0.0, math.inf, low_open=True)
        if not isinstance(self.betas, tuple) or len(self.betas) != 2:
            raise ValueError(f"TrainConfig.betas must be two numbers in [0, 1), got {self.betas!r}")
        for beta in self.betas:
            _number("betas", beta, 0.0, 1.0, high_open=True)
        if self.warmup_steps and self.warmup_ratio:
            raise ValueError(
                f"TrainConfig: give warmup_steps or warmup_ratio, not both "
                f"(got {self.warmup_steps} and {self.warmup_ratio})"
            )
        for name, options in [
            ("optimizer", OPTIMIZERS),
            ("schedule", SCHEDULES),
            ("mode", ("min", "max")),
            ("mixed_precision", PRECISIONS),
            ("on_nonfinite", NONFINITE),
        ]:
            if getattr(self, name) not in options:
                raise ValueError(f"TrainConfig.{name} must be one of {options}, got {getattr(self, name)!r}")
        if not isinstance(self.monitor, str) or not self.monitor:
            raise ValueError(f"TrainConfig.monitor must be a metric name, got {self.monitor!r}")
        if not isinstance(self.restore_best, bool):
            raise ValueError(f"TrainConfig.restore_best must be True or False, got {self.restore_best!r}")
        if self.device != "auto":
            try:
                import torch

                torch.device(self.device)
            except (RuntimeError, TypeError) as error:
                raise ValueError(
                    f"TrainConfig.device must be 'auto' or a torch device such as 'cpu' or 'cuda:0', "
                    f"got {self.device!r}"
                ) from error


def _integer(name: str, value: object, low: int, high: int | None = None) -> None:
    ok = isinstance(value, int) and not isinstance(value, bool)
    if not ok or value < low or (high is not None and value > high):
        bound = f">= {low}" if high is None else f"in [{low}, {high}]"
        raise ValueError(f"TrainConfig.{name} must be an integer {bound}, got {value!r}")


def _number(
    name: str, value: object, low: float, high: float, low_open: bool = False, high_open: bool = False
) -> None:
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    ok = ok and (value > low if low_open else value >= low) and (value < high if high_open else value <= high)
    if not ok:
        interval = f"{'(' if low_open else '['}{low}, {high}{')' if high_open else ']'}"
        raise ValueError(f"TrainConfig.{name} must be a finite number in {interval}, got {value!r}")
