"""One trial of a search: train on the training split, score every epoch on the validation split, stop
early when Optuna's pruner or the budget says so. The test split is never evaluated during a search, and a
test *file* of the user's is never opened (:func:`search_config`).
"""

from __future__ import annotations

import dataclasses
import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rnnkit.config import ConfigError
from rnnkit.training.callbacks import Callback
from rnnkit.tune.budget import Budget


def search_config(config: Any) -> tuple[Any, Any]:
    """``config`` as the search reads it, and the ``data.test`` value to restore for the final evaluation.

    A test file of the user's (``data.test``) is replaced by the validation file (or, without one, by the
    training file, from which validation is then held out exactly as in the real run): the search never
    opens it. Without a test file (test held out of the training data, or a dataset's own test split) the
    data are read as the run reads them, and the test part is left unused.

    Example:
        >>> from rnnkit.tasks.base import RunConfig
        >>> searched, test = search_config(RunConfig("tagging", data={"train": "a", "test": "b"}))
        >>> searched.data, test
        ({'train': 'a', 'test': 'a'}, 'b')
    """
    test = config.data.get("test")
    if test is None:
        return config, None
    stand_in = config.data.get("validation") or config.data.get("train")
    if stand_in is None:
        return config, None  # a dataset's own test split replaced by a file: read, never evaluated
    return dataclasses.replace(config, data={**config.data, "test": stand_in}), test


def restore_test(config: Any, test: Any) -> Any:
    """``config`` with the user's ``data.test`` back (see :func:`search_config`)."""
    if test is None:
        return config
    return dataclasses.replace(config, data={**config.data, "test": test})


@dataclass
class TrialMonitor(Callback):
    """Reports the monitored validation metric of each evaluation to an Optuna ``trial`` (step = the
    evaluation's number, from 1) and stops training when the trial should be pruned, or when the next
    epoch would end after the budget's deadline (an epoch is expected to take as long as the slowest so
    far). ``pruned``: None, ``"median"`` or ``"budget"``."""

    trial: Any
    monitor: str
    budget: Budget
    pruned: str | None = None
    evaluations: int = 0
    epoch_seconds: list[float] = field(default_factory=list)
    _epoch_start: float = 0.0

    def on_train_start(self, trainer: Any) -> bool | None:
        self._epoch_start = time.perf_counter()
        return None

    def on_evaluate(self, trainer: Any, step: int, metrics: dict[str, float]) -> bool | None:
        self.evaluations += 1
        value = metrics.get(self.monitor)
        if value is not None and math.isfinite(value):
            self.trial.report(value, self.evaluations)
            if self.trial.should_prune():
                self.pruned = "median"
                return True
        return None

    def on_epoch_end(self, trainer: Any, epoch: int) -> bool | None:
        now = time.perf_counter()
        self.epoch_seconds.append(now - self._epoch_start)
        self._epoch_start = now
        config = trainer.config
        more = trainer.state.epoch < config.epochs if config.max_steps is None else (
            trainer.state.step < config.max_steps
        )  # fmt: skip
        if more and not trainer.should_stop and not self.budget.fits(max(self.epoch_seconds)):
            self.pruned = "budget"
            return True
        return None


@dataclass
class TrialOutcome:
    """What a trial gave: the best monitored value (None without an evaluation), its history, how it
    ended (``complete``, ``pruned (median)``, ``pruned (budget)``) and its times."""

    value: float | None
    state: str
    epochs: int
    steps: int
    best_step: int | None
    seconds: float
    setup_seconds: float
    first_epoch_seconds: float | None


def train_trial(config: Any, folder: Path, trial: Any, budget: Budget, where: str) -> TrialOutcome:
    """Train ``config`` into ``folder`` (``run.yaml``, ``task.json``, ``metrics.jsonl``, ``model/``) with a
    :class:`TrialMonitor`; the model kept is the one best on validation (``train.restore_best``).

    Raises:
        ConfigError: the data have no validation split (nothing to tune on).
    """
    from rnnkit.config import save_config
    from rnnkit.models.io import save_model
    from rnnkit.tasks.base import task_class
    from rnnkit.tasks.parallel import prepare_task
    from rnnkit.tasks.runner import LOG, RUN_CONFIG
    from rnnkit.training.callbacks import JsonlLogger
    from rnnkit.training.seed import seed_everything
    from rnnkit.training.trainer import Trainer

    started = time.perf_counter()
    task = task_class(config.task, where).from_run_config(config, where)
    folder.mkdir(parents=True, exist_ok=True)
    seed_everything(config.train.seed)
    save_config(config, folder / RUN_CONFIG)
    prepare_task(task, folder, None, False)
    model = task.build_model()
    train_loader, val_loader, _ = task.loaders()
    if val_loader is None:
        raise ConfigError(
            f"{where}: data: no validation examples to tune on; give data.validation or data.val_fraction > 0"
        )
    monitor = TrialMonitor(trial, config.train.monitor, budget)
    trainer = Trainer(
        model, task.train, task.compute_loss, task.evaluate, [JsonlLogger(folder / LOG), monitor]
    )
    setup = time.perf_counter() - started
    result = trainer.fit(train_loader, val_loader)
    save_model(trainer.model, folder / "model", extra={"task": config.task})
    state = "complete" if monitor.pruned is None else f"pruned ({monitor.pruned})"
    return TrialOutcome(
        value=result.best_metric,
        state=state,
        epochs=len(monitor.epoch_seconds),
        steps=result.steps,
        best_step=result.best_step,
        seconds=round(time.perf_counter() - started, 2),
        setup_seconds=round(setup, 2),
        first_epoch_seconds=monitor.epoch_seconds[0] if monitor.epoch_seconds else None,
    )
