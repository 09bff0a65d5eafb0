"""fit / evaluate / predict: the main job, for any registered task. The CLI commands call these.

A run folder holds everything about one run::

    runs/NAME/
      run.yaml            the run config (task, data, model, train), as given plus overrides, plus the
                          default recipe's choices (recipe.json: each with its reason)
      task.json           what the task learnt from the data (tokenizer, vocabulary, labels)
      model/              config.json + model.safetensors of the best model (rnnkit.models.load_model)
      checkpoints/        resumable training state (rnnkit train --resume runs/NAME), each step verified
                          by its manifest.json; a damaged newest one is passed over for the previous one
      .lock               while an ``rnnkit train`` writes here: its pid, host and start time (one writer)
      metrics.jsonl       the training log, one JSON object per line
      results.json        test metrics, the baseline, sample predictions
      learning_curves.png and the task's plots (confusion matrix, forecast, ...)
"""

from __future__ import annotations

import contextlib
import json
import os
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from rnnkit.config import ConfigError, atomic_write_text, save_config
from rnnkit.errors import ArgumentError, RunExistsError, RunFolderError
from rnnkit.models.io import load_model, save_model
from rnnkit.tasks.base import RunConfig, Task, load_run_config, task_class
from rnnkit.tasks.parallel import parallel_training, prepare_task, world_config
from rnnkit.training.callbacks import CheckpointCallback, JsonlLogger, ProgressBar, read_jsonl
from rnnkit.training.checkpoint import latest_checkpoint, resume
from rnnkit.training.distributed import (
    DEFAULT_TIMEOUT_S,
    World,
    barrier,
    broadcast,
    join_world,
    joined,
    leave_world,
    peer_errors,
    restarted,
    restarts_allowed,
)
from rnnkit.training.durable import fault_point
from rnnkit.training.manifest import MAX_JSON_BYTES, CheckpointCorruptError, check_safetensors
from rnnkit.training.run_lock import run_lock
from rnnkit.training.seed import seed_everything
from rnnkit.training.trainer import Trainer

RUN_CONFIG, RESULTS, LOG, RECIPE = "run.yaml", "results.json", "metrics.jsonl", "recipe.json"


@dataclass
class RunResult:
    """What ``fit`` produced: the run folder, the trained model, the task and the test results."""

    run_dir: Path
    model: Any
    task: Task
    results: dict[str, Any]


def _task(config: RunConfig, where: str) -> Task:
    return task_class(config.task, where).from_run_config(config, where)


def fit(
    config: RunConfig | str | os.PathLike,
    run_dir: str | os.PathLike | None = None,
    overrides: list[str] = (),
    resume_run: bool = False,
    quiet: bool = False,
    where: str | None = None,
    backend: str = "auto",
    timeout: float = DEFAULT_TIMEOUT_S,
) -> RunResult:
    """Train a model as the run config says, evaluate it on the test data, and save everything.

    Under torchrun (``rnnkit train --nproc-per-node N``, or ``torchrun ... -m rnnkit train``) every process
    calls ``fit``: it joins the process group, trains its share of each global batch with
    DistributedDataParallel, and rank 0 alone writes the run folder and returns the results (the other
    ranks return an empty ``results``). See ``docs/distributed.md``.

    Args:
        config: a :class:`RunConfig` or the path of a YAML/JSON run config.
        run_dir: the run folder (default ``runs/<name or task>``); with ``resume_run`` the folder to resume.
        overrides: ``section.key=value`` changes (the CLI's ``--set``).
        resume_run: continue the run in ``run_dir`` from its latest checkpoint (its own run.yaml).
        quiet: no progress bar.
        where: how error messages name the config (default: its path, or "config").
        backend: with several processes, ``"auto"`` (NCCL on GPUs, gloo on the CPU), ``"gloo"`` or ``"nccl"``.
        timeout: with several processes, the seconds a silent peer is waited for before the job stops.
    """
    if resume_run and run_dir is None:
        raise ArgumentError("resume needs the run folder: rnnkit train --resume RUN")
    if not resume_run and run_dir is not None and restarted() and latest_checkpoint(run_dir) is not None:
        resume_run, overrides = True, []  # torchrun restarted the job: go on from its last checkpoint
    if resume_run:
        run_dir = Path(run_dir)
        config = run_dir / RUN_CONFIG
        if latest_checkpoint(run_dir) is None:
            raise RunFolderError(
                f"{run_dir}: no checkpoint to resume from (checkpoints/ is empty or missing); "
                "train it anew without --resume, or give the folder of a started run"
            )
    where = where or (str(config) if not isinstance(config, RunConfig) else "config")
    if not isinstance(config, RunConfig):
        config = load_run_config(config, overrides)
    owned = not joined()
    world = join_world(config.train.device, backend, timeout)
    try:
        if world is not None and run_dir is None and restarts_allowed() > 0:
            raise ConfigError("torchrun may restart this job (--max-restarts): give its run folder, --output")
        run_dir = Path(broadcast(world, str(run_dir or new_run_dir(config.name or config.task))))
        hint = f"rnnkit train --resume {run_dir} --nproc-per-node N"
        with peer_errors(world, hint):
            return _fit(config, run_dir, resume_run, quiet, where, world)
    finally:
        if world is not None and owned:
            leave_world()


def _fit(
    config: RunConfig, run_dir: Path, resume_run: bool, quiet: bool, where: str, world: World | None
) -> RunResult:
    main = world is None or world.is_main
    with run_lock(run_dir) if main else contextlib.nullcontext():  # one writer: a second is refused
        return _fit_locked(config, run_dir, resume_run, quiet, where, world)


def _fit_locked(
    config: RunConfig, run_dir: Path, resume_run: bool, quiet: bool, where: str, world: World | None
) -> RunResult:
    if not resume_run and (latest_checkpoint(run_dir) is not None or (run_dir / RESULTS).exists()):
        raise RunExistsError(
            f"{run_dir} already holds a run; resume it with `rnnkit train --resume {run_dir}` "
            "or choose another folder with --output"
        )
    main = world is None or world.is_main
    choices: list[Any] = []
    if not resume_run:  # a resumed run's run.yaml holds the choices already
        config, choices = task_class(config.task, where).default_recipe(config, where)
    task = _task(world_config(config, world), where)
    if main:
        run_dir.mkdir(parents=True, exist_ok=True)
    seed_everything(config.train.seed)
    if main:
        save_config(config, run_dir / RUN_CONFIG)  # as run now, overrides included (a resume may change some)
        if choices:
            _record_recipe(choices, run_dir)
    prepare_task(task, run_dir, world, resume_run)
    model = task.build_model()
    train_loader, val_loader, _ = task.loaders()
    # a checkpoint every epoch, or every 200 steps when epochs are long: a kill loses little
    every = min(max(1, len(train_loader)), 200) if hasattr(train_loader, "__len__") else 200
    saver = CheckpointCallback(run_dir, every_steps=every, keep_last=2)  # two: a fallback if one is damaged
    callbacks = [JsonlLogger(run_dir / LOG), saver]
    if not quiet:
        callbacks.insert(0, ProgressBar())
    train_loader, val_loader, evaluate, parallel = parallel_training(
        task, config, world, train_loader, val_loader
    )
    trainer = Trainer(model, task.train, task.compute_loss, evaluate, callbacks if main else [], parallel)
    if resume_run:
        saver.last_saved = resume(trainer, run_dir)
    started = time.perf_counter()
    trained = trainer.fit(train_loader, val_loader)
    barrier(world)  # every rank is done training before rank 0 writes the model and the results
    if not main:
        return RunResult(run_dir, trainer.model, task, {})
    fault_point("final_save")
    model_dir = save_model(trainer.model, run_dir / "model", extra={"task": config.task})
    results = {
        "task": config.task,
        "train": {
            "steps": trained.steps,
            "best_step": trained.best_step,
            "seconds": round(time.perf_counter() - started, 1),
            "processes": 1 if world is None else world.size,
            "global_batch_size": config.train.batch_size,
            "skipped_batches": trainer.state.skipped_batches,
        },
        **task.report(trainer.model),
        "model_dir": str(model_dir),
    }
    task.write_artifacts(trainer.model, run_dir, results)
    _plot_curves(run_dir)
    fault_point("final_save")
    atomic_write_text(run_dir / RESULTS, json.dumps(results, indent=2, ensure_ascii=False) + "\n")
    return RunResult(run_dir, trainer.model, task, results)


def _record_recipe(choices: list[Any], run_dir: Path) -> None:
    """The default recipe's choices: ``recipe.json``, an event in the log, a line each on stdout."""
    records = [{"key": c.key, "value": c.value, "reason": c.reason} for c in choices]
    atomic_write_text(run_dir / RECIPE, json.dumps(records, indent=2, ensure_ascii=False) + "\n")
    JsonlLogger(run_dir / LOG).write({"event": "recipe", "choices": records})
    print(f"default recipe: {len(choices) - 1} settings chosen from the training data (the keys you gave "
          f"are kept; reasons in {run_dir / RECIPE}):")  # fmt: skip
    for choice in choices[1:]:
        print(f"  {choice.line()}")


def new_run_dir(name: str, root: str | os.PathLike = "runs") -> Path:
    """``runs/NAME``, or ``runs/NAME-2``, ``-3``... when it is taken: a new run never overwrites an old one.

    Example:
        >>> import tempfile; root = Path(tempfile.mkdtemp())
        >>> new_run_dir("bot", root).name
        'bot'
        >>> (root / "bot").mkdir(); new_run_dir("bot", root).name
        'bot-2'
    """
    root = Path(root)
    candidate, k = root / name, 1
    while candidate.exists():
        k += 1
        candidate = root / f"{name}-{k}"
    return candidate


def _plot_curves(run_dir: Path) -> None:
    from rnnkit.plots.charts import plot_learning_curves

    records = read_jsonl(run_dir / LOG)
    if records:
        plot_learning_curves(records, run_dir / "learning_curves.png")


def load_run(
    run_dir: str | os.PathLike, device: str | None = None, data_overrides: list[str] = ()
) -> tuple[Task, Any]:
    """The task (with its tokenizer, vocabulary, labels) and the trained model of a run folder;
    ``data_overrides`` (``generation.temperature=0.5``) change its data section for this use only."""
    run_dir = require_run_folder(run_dir)
    check_run_files(run_dir)
    config = load_run_config(run_dir / RUN_CONFIG, _data_keys(data_overrides))
    if device is not None:
        config = replace(config, train=replace(config.train, device=device))
    task = _task(config, str(run_dir / RUN_CONFIG))
    task.load_state(run_dir)
    model = load_model(run_dir / "model", device=task.device)
    return task, model


def require_run_folder(run_dir: str | os.PathLike) -> Path:
    """``run_dir`` as a Path, if it holds a ``run.yaml``; else a :class:`RunFolderError` saying what it is.

    Example:
        >>> require_run_folder("no/such/run")
        Traceback (most recent call last):
        ...
        rnnkit.errors.RunFolderError: no/such/run: no such folder; give a run folder made by `rnnkit train`
    """
    run_dir = Path(run_dir)
    if not run_dir.exists():
        raise RunFolderError(f"{run_dir}: no such folder; give a run folder made by `rnnkit train`")
    if not run_dir.is_dir():
        raise RunFolderError(f"{run_dir}: a file, not a run folder; give the folder `rnnkit train` wrote")
    if not (run_dir / RUN_CONFIG).is_file():
        raise RunFolderError(f"{run_dir}: not a run folder (no {RUN_CONFIG}); train one with `rnnkit train`")
    return run_dir


def check_run_files(run_dir: Path) -> None:
    """Refuse, before anything is parsed or allocated, a run folder whose config, task state or model
    config is absurdly large, or whose weights' safetensors header is absurd. (Nothing in a run folder is
    ever unpickled: YAML is read with ``safe_load``, weights with safetensors, the rest as JSON.)"""
    for name in (RUN_CONFIG, "task.json", "model/config.json"):
        path = run_dir / name
        if path.is_file() and path.stat().st_size > MAX_JSON_BYTES:
            raise CheckpointCorruptError(
                f"{path}: {path.stat().st_size} bytes, more than the {MAX_JSON_BYTES} such a file may have; "
                "this is not a run folder rnnkit wrote"
            )
    weights = run_dir / "model" / "model.safetensors"
    if weights.is_file():
        check_safetensors(weights)


def predict(
    run_dir: str | os.PathLike, inputs: list[str], device: str | None = None, data_overrides: list[str] = ()
) -> list[dict[str, Any]]:
    """Predictions of a trained run for raw inputs (texts, for text tasks), with ``data_overrides`` (e.g.
    ``generation.count=5``: how a generation run samples) applied to its data section."""
    task, model = load_run(run_dir, device, data_overrides)
    return task.predict(model, inputs)


def _data_keys(overrides: list[str]) -> list[str]:
    """Overrides of the data section, ``data.`` prefixed where it is left out.

    Example:
        >>> _data_keys(["generation.seed=3", "data.path=x.csv"])
        ['data.generation.seed=3', 'data.path=x.csv']
    """
    return [o if o.startswith("data.") else f"data.{o}" for o in overrides]


def evaluate(
    run_dir: str | os.PathLike,
    data_overrides: list[str] = (),
    device: str | None = None,
    output: str | os.PathLike | None = None,
) -> dict[str, Any]:
    """Test metrics of a trained run, on its own test data or on other data (``data.path=...`` overrides).

    The run folder is left as it is. With ``output``, the results (``results.json``) and the task's
    pictures (confusion matrix, forecast, ...) are written into that folder instead.
    """
    run_dir = require_run_folder(run_dir)
    check_run_files(run_dir)
    config = load_run_config(run_dir / RUN_CONFIG, _data_keys(data_overrides))
    if device is not None:
        config = replace(config, train=replace(config.train, device=device))
    task = _task(config, str(run_dir / RUN_CONFIG))
    task.load_state(run_dir)
    model = load_model(run_dir / "model", device=task.device)
    results = task.report(model)
    if output is not None:
        output = Path(output)
        if output.resolve() == run_dir.resolve():
            raise ArgumentError(
                f"--output {output}: is the run folder itself; evaluate writes elsewhere, never over a run"
            )
        output.mkdir(parents=True, exist_ok=True)
        task.write_artifacts(model, output, results)
        atomic_write_text(output / RESULTS, json.dumps(results, indent=2, ensure_ascii=False) + "\n")
    return results
