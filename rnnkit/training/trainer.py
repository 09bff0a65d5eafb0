"""The training loop. Nothing here knows about RNNs or files (minGPT: "nothing in this file really has
anything to do with GPT"): the caller says how a batch becomes a loss and how a model is evaluated, and
callbacks (:mod:`rnnkit.training.callbacks`) draw progress bars, write logs and save checkpoints.

One step: move the batch to the device → ``loss = compute_loss(model, batch)`` under autocast → backward
(scaled, for fp16 on CUDA) → clip the global gradient norm → optimiser step → schedule step →
``on_step_end`` → an evaluation when one is due (every ``eval_every`` steps or at the end of each epoch),
which updates the best metric, the best weights and the early-stopping count, then ``on_evaluate``.

With ``parallel`` (a :class:`rnnkit.training.data_parallel.DataParallelStep`) the forward and backward
passes of a step are its own: the batches are a :class:`~rnnkit.training.data_parallel.ShardedLoader`'s,
cut into weighted micro-batches and synchronised by DistributedDataParallel across processes. The trainer
keeps the bare model as ``model`` (evaluation, best weights, checkpoints); the wrapper runs the training
forward only.

Resuming: ``trainer.load_state_dict(state)`` (see :func:`rnnkit.training.checkpoint.load_checkpoint`)
restores the step, the epoch and the batch within it; ``fit`` then skips the batches of that epoch already
done (the loader is re-seeded per epoch, :func:`rnnkit.training.seed.seed_loader`), with the global random
generators held still, so the run continues bit for bit as if it had never stopped. A checkpoint written in
``on_step_end`` precedes that step's evaluation; the resumed run does the evaluation first.

Weight averaging (``TrainConfig.ema_decay``, :class:`rnnkit.training.averaging.WeightAverage`): after each
optimiser step the average takes in the new weights. Evaluations (and so early stopping and the best
weights) see the averaged weights, the training steps the model's own; at the end of ``fit`` the model
holds the best averaged weights (``restore_best``) or the last average. A checkpoint keeps the model's own
weights (what the optimiser continues from) and the average beside them, in the trainer state.
"""

from __future__ import annotations

import contextlib
import math
import warnings
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import torch
from torch import Tensor, nn

from rnnkit.data.batching import move_to_device
from rnnkit.errors import UserError
from rnnkit.training.averaging import WeightAverage
from rnnkit.training.config import TrainConfig
from rnnkit.training.durable import fault_point
from rnnkit.training.optim import build_optimizer, build_scheduler
from rnnkit.training.seed import preserved_rng, seed_everything, seed_loader

LossFn = Callable[[nn.Module, Any], Tensor]
EvaluateFn = Callable[[nn.Module, Iterable[Any]], Mapping[str, float]]


@dataclass(frozen=True)
class TrainResult:
    """What :meth:`Trainer.fit` returns: the best monitored value and its step (None without evaluations),
    every evaluation as ``{"step", "epoch", **metrics}``, the steps done, and whether early stopping ended
    the run."""

    best_metric: float | None
    best_step: int | None
    history: list[dict[str, float]]
    steps: int
    stopped_early: bool


@dataclass
class TrainState:
    """The progress of a run, as plain JSON: all a resume needs besides weights, optimiser and RNGs.

    ``skipped_batches`` counts the updates skipped for a non-finite loss or gradient
    (``TrainConfig.on_nonfinite="skip_batch"``).

    ``epoch`` and ``batch_in_epoch`` count from 0: ``batch_in_epoch`` batches of epoch ``epoch`` are done.
    """

    epoch: int = 0
    batch_in_epoch: int = 0
    step: int = 0
    best_metric: float | None = None
    best_step: int | None = None
    bad_evaluations: int = 0
    last_eval_step: int | None = None
    stopped_early: bool = False
    skipped_batches: int = 0
    history: list[dict[str, float]] = field(default_factory=list)


class NonFiniteError(UserError):
    """A NaN or infinite loss or gradient with ``TrainConfig.on_nonfinite="stop"``."""


def batch_size_of(batch: Any) -> int:
    """Items in ``batch``: the first dimension of its first tensor of one or more dimensions (0 if none).

    Example:
        >>> batch_size_of((torch.zeros(8, 5), torch.zeros(8)))
        8
    """
    if isinstance(batch, Tensor):
        return batch.size(0) if batch.dim() else 0
    values = batch.values() if isinstance(batch, Mapping) else batch if isinstance(batch, Sequence) else ()
    for value in values:
        if not isinstance(value, str) and (n := batch_size_of(value)):
            return n
    return 0


def resolve_device(name: str) -> torch.device:
    """``"auto"``: CUDA when available, else CPU; anything else as ``torch.device(name)``."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


def autocast_dtype(mixed_precision: str, device: torch.device) -> torch.dtype | None:
    """The autocast dtype of ``mixed_precision`` on ``device``; None: full precision.

    Example:
        >>> autocast_dtype("auto", torch.device("cpu")), autocast_dtype("bf16", torch.device("cpu"))
        (None, torch.bfloat16)
    """
    if mixed_precision == "auto":
        supported = device.type == "cuda" and torch.cuda.is_bf16_supported()
        return torch.bfloat16 if supported else None
    return {"off": None, "bf16": torch.bfloat16, "fp16": torch.float16}[mixed_precision]


class _OnDevice:
    """A view of a loader whose batches arrive on the trainer's device (handed to ``evaluate``)."""

    def __init__(self, loader: Iterable[Any], device: torch.device) -> None:
        self.loader, self.device = loader, device

    def __iter__(self) -> Iterator[Any]:
        return (move_to_device(batch, self.device) for batch in self.loader)

    def __len__(self) -> int:
        return len(self.loader)  # type: ignore[arg-type]


class Trainer:
    """Fit any model with AdamW/SGD, warm-up and decay, gradient clipping, mixed precision, early stopping
    and best-weight selection, extended with callbacks.

    Args:
        model: moved to the config's device.
        config: a :class:`TrainConfig`.
        compute_loss: ``(model, batch) -> scalar loss``; the batch arrives on the device.
        evaluate: ``(model, loader) -> {metric: value}`` run in eval mode under ``no_grad``, the loader's
            batches on the device; None: the batch-size-weighted mean of ``compute_loss`` as ``"val_loss"``.
        callbacks: :class:`rnnkit.training.callbacks.Callback` objects, called in order.
        parallel: a :class:`rnnkit.training.data_parallel.DataParallelStep` for several processes or
            micro-batches (see the module docstring); None: one forward and backward per batch.

    Attributes: ``optimizer``, ``scheduler``, ``state`` (:class:`TrainState`), ``device``, ``total_steps``,
    ``best_weights`` (a copy of the best state dict when ``restore_best``), ``average`` (the
    :class:`~rnnkit.training.averaging.WeightAverage` with ``ema_decay``, else None), ``last_grad_norm``
    (before clipping), and ``should_stop``: set it (or return True from a hook) to end ``fit`` after the
    current hook.

    Example:
        >>> _ = torch.manual_seed(0); model = nn.Linear(2, 1)
        >>> x = torch.randn(64, 2); y = x.sum(1, keepdim=True)
        >>> data = [(x[i : i + 16], y[i : i + 16]) for i in range(0, 64, 16)]  # 4 batches
        >>> mse = lambda model, batch: nn.functional.mse_loss(model(batch[0]), batch[1])
        >>> trainer = Trainer(model, TrainConfig(epochs=30, lr=0.1, device="cpu"), mse)
        >>> result = trainer.fit(data, val_loader=data)
        >>> result.steps, result.best_metric < 1e-3
        (120, True)
    """

    def __init__(
        self,
        model: nn.Module,
        config: TrainConfig,
        compute_loss: LossFn,
        evaluate: EvaluateFn | None = None,
        callbacks: Sequence[Any] = (),
        parallel: Any = None,
    ) -> None:
        if not isinstance(config, TrainConfig):
            raise TypeError(f"config must be a TrainConfig, got {type(config).__name__}")
        self.config = config
        self.device = resolve_device(config.device)
        self.model = model.to(self.device)
        self.compute_loss, self.evaluate_fn = compute_loss, evaluate
        self.callbacks = list(callbacks)
        self.optimizer = build_optimizer(self.model, config)
        self.scheduler = build_scheduler(self.optimizer, config)
        self.amp_dtype = autocast_dtype(config.mixed_precision, self.device)
        use_scaler = self.amp_dtype == torch.float16 and self.device.type == "cuda"
        self.scaler = torch.amp.GradScaler("cuda") if use_scaler else None
        self.parallel = parallel
        if parallel is not None:
            parallel.attach(self.model)
        self.state = TrainState()
        self.best_weights: dict[str, Tensor] | None = None
        self.average = WeightAverage(self.model, config.ema_decay) if config.ema_decay is not None else None
        self.last_grad_norm: Tensor | None = None
        self.total_steps: int | None = None
        self.steps_per_epoch: int | None = None
        self.should_stop = False
        self.resumed = False

    # ----- the loop -----------------------------------------------------------------------------------
    def fit(self, train_loader: Iterable[Any], val_loader: Iterable[Any] | None = None) -> TrainResult:
        """Train until ``max_steps`` or ``epochs``, early stopping, or a stop request; see the module doc."""
        config, state = self.config, self.state
        self.steps_per_epoch = _length(train_loader)
        if self.steps_per_epoch == 0:
            raise ValueError("train_loader has no batches (len(train_loader) == 0)")
        epochs_total = config.epochs * self.steps_per_epoch if self.steps_per_epoch is not None else None
        self.total_steps = config.max_steps or epochs_total
        if self.scheduler.needs_total_steps and self.total_steps is None:
            raise ValueError(
                f"schedule={config.schedule!r} / warmup_ratio need the total number of steps, but "
                f"train_loader has no length: set TrainConfig.max_steps"
            )
        self.scheduler.set_total_steps(self.total_steps)
        if not self.resumed and state.step == 0:
            seed_everything(config.seed)
        if config.early_stopping_patience is not None and val_loader is None:
            warnings.warn("early_stopping_patience is set, but fit got no val_loader", stacklevel=2)
        self.should_stop = state.stopped_early
        self._call("on_train_start")
        if isinstance(config.eval_every, int) and state.step and state.step % config.eval_every == 0:
            self._evaluate_if_new(val_loader)  # a run stopped between this step and its evaluation
        while not self.should_stop and not self._done():
            seed_loader(train_loader, config.seed, state.epoch)
            with preserved_rng():  # skipping done batches must not move any generator
                batches = iter(train_loader)
                for index in range(state.batch_in_epoch):
                    if next(batches, _END) is _END:
                        raise ValueError(
                            f"train_loader has {index} batches in epoch {state.epoch}, but the resumed state "
                            f"has done {state.batch_in_epoch} of them: was the data changed?"
                        )
            for batch in batches:
                loss, lr, items = self._train_step(batch)
                state.step += 1
                state.batch_in_epoch += 1
                self._call("on_step_end", state.step, loss, lr, items)
                if not self.should_stop and isinstance(config.eval_every, int):
                    if state.step % config.eval_every == 0:
                        self._evaluate_if_new(val_loader)
                if self.should_stop or self._done():
                    break
            else:
                if state.batch_in_epoch == 0:
                    raise ValueError(f"train_loader yielded no batches in epoch {state.epoch}")
                if config.eval_every == "epoch":
                    self._evaluate_if_new(val_loader)
                finished, state.epoch, state.batch_in_epoch = state.epoch, state.epoch + 1, 0
                self._call("on_epoch_end", finished)
        if not self.should_stop:
            self._evaluate_if_new(val_loader)  # the last weights are a candidate for the best
        result = TrainResult(
            state.best_metric, state.best_step, list(state.history), state.step, state.stopped_early
        )
        self._call("on_train_end", result)
        if self.config.restore_best and self.best_weights is not None:
            self.model.load_state_dict(self.best_weights)
        elif self.average is not None:
            self.model.load_state_dict(self.average.weights)
        return result

    def _done(self) -> bool:
        if self.config.max_steps is not None:
            return self.state.step >= self.config.max_steps
        return self.state.epoch >= self.config.epochs

    def _train_step(self, batch: Any) -> tuple[Tensor, float, int]:
        self.model.train()
        self.optimizer.zero_grad(set_to_none=True)
        if self.parallel is None:
            batch = move_to_device(batch, self.device)
            loss = self.forward_loss(self.model, batch)
            self.backward(loss)
            items = batch_size_of(batch)
        else:
            loss, items = self.parallel.step(self, batch)
        if self.scaler is not None:
            self.scaler.unscale_(self.optimizer)  # clip the true gradients, not the scaled ones
        fault_point("step")
        params = [p for group in self.optimizer.param_groups for p in group["params"]]
        if self.config.clip_grad_norm is not None:
            self.last_grad_norm = nn.utils.clip_grad_norm_(params, self.config.clip_grad_norm)
        lr = float(self.optimizer.param_groups[0]["lr"])
        if not self._finite(loss, params):
            self.optimizer.zero_grad(set_to_none=True)
            self.state.skipped_batches += 1
            self.scheduler.step()
            return loss.detach(), lr, items
        if self.scaler is not None:
            self.scaler.step(self.optimizer)  # skipped when the gradients overflowed
            self.scaler.update()
        else:
            self.optimizer.step()
        self.scheduler.step()
        if self.average is not None:
            self.average.update(self.model)
        return loss.detach(), lr, items

    def _finite(self, loss: Tensor, params: list[Tensor]) -> bool:
        """False when the loss or the gradient norm is NaN / inf and ``on_nonfinite`` skips the batch;
        raises :class:`NonFiniteError` when it stops."""
        checks = [loss.detach().float()]
        if self.scaler is None:  # with a scaler, overflowing gradients are its to skip
            norm = self.last_grad_norm if self.config.clip_grad_norm is not None else None
            if norm is None:
                grads = [p.grad.detach().float().norm() for p in params if p.grad is not None]
                norm = torch.stack(grads).norm() if grads else torch.zeros((), device=self.device)
            checks.append(norm.float())
        values = torch.stack([c.to(self.device) for c in checks])
        if bool(torch.isfinite(values).all()):
            return True
        if self.config.on_nonfinite == "skip_batch":
            return False
        step = self.state.step + 1
        saved = next((c.last_saved for c in self.callbacks if getattr(c, "last_saved", None)), None)
        where = f"the last good checkpoint is {saved}" if saved else "no checkpoint was saved before it"
        what = "loss" if not math.isfinite(float(values[0])) else "gradient norm"
        raise NonFiniteError(
            f"step {step}: the {what} is {float(values[0] if what == 'loss' else values[1])}; {where}. "
            f"Lower train.lr (or set train.clip_grad_norm) and resume, or set train.on_nonfinite=skip_batch"
        )

    def forward_loss(self, model: nn.Module, batch: Any) -> Tensor:
        """``compute_loss(model, batch)`` under autocast, checked to be a scalar (``batch`` on the device)."""
        with self._autocast():
            loss = self.compute_loss(model, batch)
        if not isinstance(loss, Tensor) or loss.dim() != 0:
            shape = tuple(loss.shape) if isinstance(loss, Tensor) else type(loss).__name__
            raise ValueError(f"compute_loss must return a scalar tensor, got {shape}")
        return loss

    def backward(self, loss: Tensor) -> None:
        """Back-propagate ``loss`` (scaled by the gradient scaler for fp16 on CUDA); gradients add up."""
        if self.scaler is not None:
            self.scaler.scale(loss).backward()
        else:
            loss.backward()

    def _autocast(self) -> contextlib.AbstractContextManager:
        if self.amp_dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(device_type=self.device.type, dtype=self.amp_dtype)

    # ----- evaluation, best weights, early stopping ---------------------------------------------------
    def evaluate(self, loader: Iterable[Any]) -> dict[str, float]:
        """Metrics of the current weights on ``loader`` (eval mode, no gradients, autocast as in training).

        The global random generators are left as they were (a DataLoader draws a seed from them for every
        iterator), so training continues identically with or without an evaluation in between.
        """
        fault_point("eval")
        was_training = self.model.training
        self.model.eval()
        try:
            with torch.no_grad(), self._autocast(), preserved_rng():
                data = _OnDevice(loader, self.device)
                raw = self.evaluate_fn(self.model, data) if self.evaluate_fn else self._mean_loss(data)
        finally:
            self.model.train(was_training)
        if not isinstance(raw, Mapping):
            raise TypeError(f"evaluate must return a dict of metric name -> number, got {type(raw).__name__}")
        return {str(name): float(value) for name, value in raw.items()}

    def _mean_loss(self, data: Iterable[Any]) -> dict[str, float]:
        total, count = torch.zeros((), device=self.device), 0
        for batch in data:
            items = batch_size_of(batch) or 1
            total += self.compute_loss(self.model, batch).detach().float() * items
            count += items
        if count == 0:
            raise ValueError("val_loader yielded no batches")
        return {"val_loss": total.item() / count}

    def _evaluate_if_new(self, val_loader: Iterable[Any] | None) -> None:
        state, config = self.state, self.config
        if val_loader is None or state.last_eval_step == state.step or state.step == 0:
            return
        averaged = self.average.applied(self.model) if self.average is not None else contextlib.nullcontext()
        with averaged:  # the averaged weights are the ones evaluated and kept as the best
            metrics = self.evaluate(val_loader)
            if config.monitor not in metrics:
                raise ValueError(
                    f"TrainConfig.monitor is {config.monitor!r}, but the evaluation returned "
                    f"{sorted(metrics)}"
                )
            state.last_eval_step = state.step
            state.history.append({"step": state.step, "epoch": state.epoch, **metrics})
            value = metrics[config.monitor]
            improved = self._improves(value)
            if improved and config.restore_best:
                self.best_weights = {k: v.detach().clone() for k, v in self.model.state_dict().items()}
        if improved:
            state.best_metric, state.best_step, state.bad_evaluations = value, state.step, 0
        else:
            state.bad_evaluations += 1
            patience = config.early_stopping_patience
            if patience is not None and state.bad_evaluations >= patience:
                state.stopped_early = self.should_stop = True
        self._call("on_evaluate", state.step, metrics)

    def _improves(self, value: float) -> bool:
        best, delta = self.state.best_metric, self.config.min_delta
        if not math.isfinite(value):
            return False
        if best is None:
            return True
        return value < best - delta if self.config.mode == "min" else value > best + delta

    def _call(self, hook: str, *args: Any) -> None:
        for callback in self.callbacks:
            if getattr(callback, hook)(self, *args) is True:
                self.should_stop = True

    # ----- state for checkpoints ----------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        """Progress (JSON), the gradient scaler's state, the best weights and the weight average (tensors,
        or None)."""
        return {
            "progress": asdict(self.state),
            "seed": self.config.seed,
            "grad_scaler": self.scaler.state_dict() if self.scaler is not None else None,
            "best_weights": dict(self.best_weights) if self.best_weights is not None else None,
            "weight_average": self.average.state_dict() if self.average is not None else None,
        }

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Continue from ``state`` (as :meth:`state_dict` made it): the next ``fit`` resumes, unseeded."""
        self.state = TrainState(**state["progress"])
        if state.get("seed") != self.config.seed:
            warnings.warn(
                f"resuming a run seeded {state.get('seed')} with TrainConfig.seed={self.config.seed}: "
                f"later epochs will shuffle differently",
                stacklevel=2,
            )
        if self.scaler is not None and state.get("grad_scaler"):
            self.scaler.load_state_dict(state["grad_scaler"])
        best = state.get("best_weights")
        self.best_weights = {k: v.to(self.device) for k, v in best.items()} if best is not None else None
        self._load_average(state.get("weight_average"))
        self.resumed = True

    def _load_average(self, saved: Mapping[str, Any] | None) -> None:
        """The checkpoint's weight average; a run that had none starts one from the loaded weights."""
        if self.average is None:
            if saved is not None:
                warnings.warn(
                    "the checkpoint has a weight average, but TrainConfig.ema_decay is None: it is dropped "
                    "and evaluations now see the training weights",
                    stacklevel=3,
                )
            return
        if saved is None:
            warnings.warn(
                f"the checkpoint has no weight average: TrainConfig.ema_decay={self.config.ema_decay} starts "
                "one from the resumed weights",
                stacklevel=3,
            )
            self.average = WeightAverage(self.model, self.config.ema_decay)
            return
        self.average.load_state_dict(saved)


_END = object()


def _length(loader: Iterable[Any]) -> int | None:
    try:
        return len(loader)  # type: ignore[arg-type]
    except TypeError:
        return None
