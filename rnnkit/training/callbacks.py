"""Callbacks: what a run shows and keeps, outside the loop (minGPT ``on_batch_end``).

Every hook receives the trainer first, so it can read ``trainer.state``, ``trainer.config`` and
``trainer.model``. A hook returning True (or setting ``trainer.should_stop``) ends training after it.
The loss reaches ``on_step_end`` as a detached scalar tensor: ``float(loss)`` is a device sync, so the
callbacks here do it only every ``log_every`` steps.
"""

from __future__ import annotations

import json
import math
import os
import sys
import time
from pathlib import Path
from typing import IO, Any

from torch import Tensor

from rnnkit.config import atomic_write_text, to_dict
from rnnkit.training.checkpoint import save_checkpoint


class Callback:
    """Base class: every hook does nothing. Override the ones you need.

    Example:
        >>> class StopAt(Callback):
        ...     def on_step_end(self, trainer, step, loss, lr, batch_size):
        ...         return step >= 3  # True stops training
    """

    def on_train_start(self, trainer: Any) -> bool | None:
        """Before the first step of this ``fit`` (``trainer.resumed``: whether it continues a run)."""

    def on_step_end(self, trainer: Any, step: int, loss: Tensor, lr: float, batch_size: int) -> bool | None:
        """After optimiser step ``step`` (counted from 1), before that step's evaluation, if any."""

    def on_evaluate(self, trainer: Any, step: int, metrics: dict[str, float]) -> bool | None:
        """After an evaluation; ``trainer.state`` already holds the updated best metric and patience count."""

    def on_epoch_end(self, trainer: Any, epoch: int) -> bool | None:
        """After epoch ``epoch`` (from 0) and its evaluation; ``trainer.state.epoch`` is the next one."""

    def on_train_end(self, trainer: Any, result: Any) -> bool | None:
        """At the end of ``fit`` (not after an exception), before the best weights are restored."""


def _number(value: Any) -> float | None:
    """A JSON-safe float: non-finite values become None (JSON has no NaN or Infinity)."""
    value = float(value)
    return value if math.isfinite(value) else None


class ProgressBar(Callback):
    """A tqdm bar over the steps: loss, learning rate, items/s and ETA; metrics after each evaluation.

    Args:
        quiet: no bar at all. Without it the bar still hides itself when ``file`` is not a terminal.
        every: refresh the loss and throughput every this many steps (None: ``config.log_every``).
        file: where to draw (default: standard error).
    """

    def __init__(self, quiet: bool = False, every: int | None = None, file: IO[str] | None = None) -> None:
        self.quiet, self.every, self.file = quiet, every, file
        self.bar = None
        self.postfix: dict[str, str] = {}

    def on_train_start(self, trainer: Any) -> None:
        from tqdm.auto import tqdm

        self.every_ = self.every or trainer.config.log_every
        self.bar = tqdm(
            total=trainer.total_steps,
            initial=trainer.state.step,
            unit="step",
            dynamic_ncols=True,
            file=self.file or sys.stderr,
            disable=True if self.quiet else None,  # None: disabled when not a terminal
            desc=f"epoch {trainer.state.epoch + 1}",
        )
        self.items, self.since = 0, time.perf_counter()

    def on_step_end(self, trainer: Any, step: int, loss: Tensor, lr: float, batch_size: int) -> None:
        self.items += batch_size
        self.bar.update(1)
        if step % self.every_ == 0 and not self.bar.disable:
            now = time.perf_counter()
            rate = self.items / max(now - self.since, 1e-9)
            self.items, self.since = 0, now
            self.postfix.update(loss=f"{float(loss):.4g}", lr=f"{lr:.3g}", items_s=f"{rate:.0f}")
            self.bar.set_postfix(self.postfix, refresh=False)

    def on_evaluate(self, trainer: Any, step: int, metrics: dict[str, float]) -> None:
        self.postfix.update({name: f"{value:.4g}" for name, value in metrics.items()})
        self.bar.set_postfix(self.postfix)

    def on_epoch_end(self, trainer: Any, epoch: int) -> None:
        self.bar.set_description(f"epoch {epoch + 2}")

    def on_train_end(self, trainer: Any, result: Any) -> None:
        self.bar.close()


class JsonlLogger(Callback):
    """One JSON object per line in ``path``, each appended and flushed as written: the run's metrics log.

    Records, each with ``event``, ``step``, ``epoch`` and ``time`` (Unix seconds):
    ``start`` (``resumed``), ``train`` every ``every`` steps (``loss``, ``lr``, ``grad_norm`` before
    clipping, ``items_per_s``, ``skipped_batches``: updates skipped so far for a non-finite loss or
    gradient), ``eval`` (the metrics, ``best``), ``epoch_end``, and ``end``
    (``best_metric``, ``best_step``, ``stopped_early``, ``skipped_batches``).
    Non-finite numbers are written as null.

    On resume the file is appended to; records the stopped run wrote after its checkpoint (steps the
    resumed run does again) are removed first, so each step appears once.

    Args:
        path: the log file (its directory is created).
        every: log the training loss every this many steps (None: ``config.log_every``).
    """

    def __init__(self, path: str | os.PathLike, every: int | None = None) -> None:
        self.path, self.every = Path(path), every

    def write(self, record: dict[str, Any]) -> None:
        """Append one record (a line). The file is opened for each record, so nothing is left open or
        unflushed when a run is killed."""
        with open(self.path, "a", encoding="utf-8") as file:
            file.write(json.dumps(record, allow_nan=False) + "\n")

    def on_train_start(self, trainer: Any) -> None:
        self.every_ = self.every or trainer.config.log_every
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if trainer.resumed and self.path.is_file():
            self._drop_redone(trainer.state)
        self.items, self.since = 0, time.perf_counter()
        self.write(self._record(trainer, "start", resumed=trainer.resumed))

    def _drop_redone(self, state: Any) -> None:
        step, kept = state.step, []
        for line in self.path.read_text(encoding="utf-8").splitlines():
            try:
                record = json.loads(line)
            except ValueError:
                continue  # a line cut short by the kill
            event, at = record.get("event"), record.get("step", 0)
            if event == "eval":
                keep = at < step or (at == step and state.last_eval_step == step)
            elif event == "epoch_end":
                keep = record.get("epoch", 0) < state.epoch
            else:
                keep = at <= step
            if keep:
                kept.append(line + "\n")
        atomic_write_text(self.path, "".join(kept))

    def _record(self, trainer: Any, event: str, **fields: Any) -> dict[str, Any]:
        state = trainer.state
        return {"event": event, "step": state.step, "epoch": state.epoch, "time": time.time(), **fields}

    def on_step_end(self, trainer: Any, step: int, loss: Tensor, lr: float, batch_size: int) -> None:
        self.items += batch_size
        if step % self.every_:
            return
        now = time.perf_counter()
        rate, self.items, self.since = self.items / max(now - self.since, 1e-9), 0, now
        norm = trainer.last_grad_norm
        self.write(
            self._record(
                trainer,
                "train",
                loss=_number(loss),
                lr=lr,
                grad_norm=_number(norm) if norm is not None else None,
                items_per_s=round(rate, 1),
                skipped_batches=getattr(trainer.state, "skipped_batches", 0),
            )
        )

    def on_evaluate(self, trainer: Any, step: int, metrics: dict[str, float]) -> None:
        metrics = {name: _number(value) for name, value in metrics.items()}
        best = trainer.state.best_metric
        self.write(self._record(trainer, "eval", **metrics, best=_number(best) if best is not None else None))

    def on_epoch_end(self, trainer: Any, epoch: int) -> None:
        self.write({**self._record(trainer, "epoch_end"), "epoch": epoch})

    def on_train_end(self, trainer: Any, result: Any) -> None:
        best = result.best_metric
        self.write(
            self._record(
                trainer,
                "end",
                best_metric=_number(best) if best is not None else None,
                best_step=result.best_step,
                stopped_early=result.stopped_early,
                skipped_batches=getattr(trainer.state, "skipped_batches", 0),
            )
        )


def read_jsonl(path: str | os.PathLike) -> list[dict[str, Any]]:
    """The records of a :class:`JsonlLogger` file.

    Example:
        >>> import tempfile; p = Path(tempfile.mkdtemp()) / "log.jsonl"
        >>> _ = p.write_text('{"event": "train", "step": 1}\\n')
        >>> read_jsonl(p)
        [{'event': 'train', 'step': 1}]
    """
    return [json.loads(line) for line in Path(path).read_text(encoding="utf-8").splitlines() if line.strip()]


class CheckpointCallback(Callback):
    """Save a resumable checkpoint (:func:`rnnkit.training.checkpoint.save_checkpoint`) into ``directory``
    every ``every_steps`` steps and at the end of training, keeping the newest ``keep_last``.

    The checkpoint's ``extra`` holds ``train_config`` (the trainer's :class:`TrainConfig` as a dict) and
    whatever ``extra`` is given here (say, the data config), so a resume can rebuild the run.

    Args:
        directory: the run directory (checkpoints go to ``directory/checkpoints``).
        every_steps: save after every this many steps; None: only at the end.
        keep_last: checkpoints kept (None: all).
        save_on_end: also save when ``fit`` ends (including after early stopping).
        extra: JSON-able metadata stored with every checkpoint.
    """

    def __init__(
        self,
        directory: str | os.PathLike,
        every_steps: int | None = None,
        keep_last: int | None = 3,
        save_on_end: bool = True,
        extra: dict[str, Any] | None = None,
    ) -> None:
        if every_steps is not None and every_steps < 1:
            raise ValueError(f"every_steps must be >= 1 or None, got {every_steps}")
        if keep_last is not None and keep_last < 1:
            raise ValueError(f"keep_last must be >= 1 or None, got {keep_last}")
        self.directory, self.every_steps, self.keep_last = Path(directory), every_steps, keep_last
        self.save_on_end, self.extra = save_on_end, dict(extra or {})
        self.last_saved: Path | None = None

    def save(self, trainer: Any) -> Path:
        """Write a checkpoint of ``trainer`` now; returns its directory."""
        extra = {"train_config": to_dict(trainer.config), **self.extra}
        self.last_saved = save_checkpoint(
            self.directory,
            trainer.model,
            trainer.optimizer,
            trainer.scheduler,
            trainer.state_dict(),
            extra=extra,
            keep_last=self.keep_last,
        )
        return self.last_saved

    def on_step_end(self, trainer: Any, step: int, loss: Tensor, lr: float, batch_size: int) -> None:
        if self.every_steps is not None and step % self.every_steps == 0:
            self.save(trainer)

    def on_train_end(self, trainer: Any, result: Any) -> None:
        if self.save_on_end and trainer.state.step > 0:
            self.save(trainer)
