"""The search: an Optuna study (TPE sampler, median pruner) over a task's space, trial after trial until
``trials`` are done or the budget is spent; then the best trial becomes an ordinary run folder whose test
split is evaluated once (:func:`finalize`), with ``tune.json`` beside it.

Two steps, so that nothing of the test split is read before the search has ended::

    result = search(config, trials=20, seconds=1200, output="runs/mr-tune")   # validation only
    results = finalize(result)                                               # the test split, once
"""

from __future__ import annotations

import dataclasses
import json
import shutil
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rnnkit.config import ConfigError, atomic_write_text, save_config
from rnnkit.errors import UserError
from rnnkit.tune.budget import Budget, format_seconds
from rnnkit.tune.objective import restore_test, search_config, train_trial
from rnnkit.tune.space import Param, centre, sample, space_for, with_params
from rnnkit.tune.table import format_value, short_key

TUNE_FILE = "tune.json"
Log = Callable[[str], None]


@dataclass
class SearchResult:
    """A finished search: its config (the default recipe applied, the test file set aside), the space,
    every trial's record (``number``, ``params``, ``value``, ``state``, ``epochs``, ``seconds``), the best
    trial's number, config and folder, and the budget's clock."""

    config: Any
    test: Any
    where: str
    output: Path
    space: list[Param]
    monitor: str
    direction: str
    budget: Budget
    trials_asked: int
    records: list[dict[str, Any]] = field(default_factory=list)
    best: int | None = None
    best_config: Any = None
    best_folder: Path | None = None
    best_outcome: Any = None
    stopped_by: str = "trials"
    choices: list[Any] = field(default_factory=list)


def _better(value: float, best: float | None, direction: str) -> bool:
    if best is None:
        return True
    return value > best if direction == "maximize" else value < best


def search(
    config: Any,
    trials: int,
    seconds: float,
    output: str | Path,
    where: str = "config",
    keep: Sequence[str] = (),
    log: Log | None = print,
) -> SearchResult:
    """Search ``trials`` settings of ``config`` (a :class:`rnnkit.tasks.base.RunConfig`) on its validation
    split within ``seconds``; the first trial is the config itself (its default recipe applied), the
    others are sampled by Optuna's TPE around it, and trials worse than the median at the same epoch are
    pruned. ``keep``: dotted keys left out of the search. Trials train in ``output/.trials``; only the
    best one is kept.

    Raises:
        ConfigError: ``trials`` below 1, a ``keep`` key that is not searched, ``output`` holding a run,
            or data without a validation split.
    """
    import optuna

    if isinstance(trials, bool) or not isinstance(trials, int) or trials < 1:
        raise ConfigError(f"--trials {trials}: must be an integer >= 1")
    budget = Budget.of(seconds)
    output = Path(output)
    if output.exists() and any(output.iterdir()):
        raise ConfigError(f"{output}: exists and is not empty; choose another folder with --output")
    from rnnkit.tasks.base import resolved_run_config, task_class

    searched, test = search_config(config)
    searched, choices = task_class(config.task, where).default_recipe(searched, where)
    stats = next((c.value for c in choices if c.key == "recipe.stats"), None)
    resolved = resolved_run_config(searched, where)
    space = space_for(config.task, resolved, stats)
    unknown = sorted(set(keep) - {p.key for p in space})
    if unknown:
        known = ", ".join(p.key for p in space)
        raise ConfigError(f"--keep {unknown[0]}: not a searched key (searched: {known})")
    space = [p for p in space if p.key not in keep]
    train = searched.train
    direction = "maximize" if train.mode == "max" else "minimize"
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(
        direction=direction,
        sampler=optuna.samplers.TPESampler(seed=train.seed, n_startup_trials=4),
        pruner=optuna.pruners.MedianPruner(n_startup_trials=2, n_warmup_steps=1),
    )
    study.enqueue_trial(centre(space, resolved), skip_if_exists=True)
    result = SearchResult(searched, test, where, output, space, train.monitor, direction, budget, trials,
                          choices=choices)  # fmt: skip
    if log:
        searched_keys = "; ".join(p.describe() for p in space)
        log(f"tune: {trials} trials of {config.task} within {format_seconds(seconds)}, {train.monitor} "
            f"on the validation split ({direction}); searching {searched_keys}")  # fmt: skip
    work = output / ".trials"
    for number in range(trials):
        slowest = max((r["setup_seconds"] + (r["first_epoch_seconds"] or 0) for r in result.records
                       if "setup_seconds" in r), default=0.0)  # fmt: skip
        if result.records and not budget.fits(slowest):  # the next trial may be as slow as any so far
            result.stopped_by = "budget"
            break
        _run_trial(study, number, result, work / f"{number:03d}", log)
    if result.best is None:
        raise UserError(
            f"{where}: no trial produced a model ({result.records[-1].get('error', 'see above')})"
        )
    return result


def _run_trial(study: Any, number: int, result: SearchResult, folder: Path, log: Log | None) -> None:
    """Ask for a trial, train it, tell Optuna how it went, keep its folder if it is the best so far."""
    from optuna.trial import TrialState

    trial = study.ask()
    params = sample(trial, result.space)
    record: dict[str, Any] = {"number": number, "params": params}
    try:
        config = with_params(result.config, params, result.where)
        outcome = train_trial(config, folder, trial, result.budget, result.where)
    except Exception as error:  # a trial's failure (say, out of memory) ends only that trial
        if number == 0:
            raise  # the config itself does not train: nothing to search around
        study.tell(trial, state=TrialState.FAIL)
        shutil.rmtree(folder, ignore_errors=True)
        record.update(state="failed", value=None, seconds=None, error=f"{type(error).__name__}: {error}")
        result.records.append(record)
        if log:
            log(f"trial {number}: failed: {record['error']}")
        return
    record.update(
        value=outcome.value, **{k: v for k, v in dataclasses.asdict(outcome).items() if k != "value"}
    )
    result.records.append(record)
    if outcome.value is None:
        study.tell(trial, state=TrialState.FAIL)
    elif outcome.state == "complete":
        study.tell(trial, outcome.value)
    else:
        study.tell(trial, state=TrialState.PRUNED)
    best_value = None if result.best is None else result.records[result.best]["value"]
    if outcome.value is not None and _better(outcome.value, best_value, result.direction):
        if result.best_folder is not None:
            shutil.rmtree(result.best_folder, ignore_errors=True)
        result.best, result.best_config, result.best_folder = len(result.records) - 1, config, folder
        result.best_outcome = outcome
    else:
        shutil.rmtree(folder, ignore_errors=True)
    if log:
        shown = ", ".join(f"{short_key(k)}={format_value(v)}" for k, v in params.items())
        mark = " (best so far)" if result.best == len(result.records) - 1 else ""
        log(f"trial {number}: {outcome.state}, {result.monitor} {format_value(outcome.value)}{mark}, "
            f"{outcome.epochs} epochs in {outcome.seconds:.1f}s ({shown})")  # fmt: skip


def finalize(result: SearchResult, log: Log | None = print) -> dict[str, Any]:
    """The best trial as the run folder ``result.output`` (``run.yaml`` with the user's test split back,
    ``task.json``, ``model/``, ``metrics.jsonl``), its test split evaluated once (``results.json``, the
    task's pictures) and ``tune.json``; returns the results (``results.json``'s content)."""
    from rnnkit.models.io import load_model
    from rnnkit.plots.charts import plot_learning_curves
    from rnnkit.tasks.base import task_class
    from rnnkit.tasks.runner import LOG, RECIPE, RESULTS, RUN_CONFIG
    from rnnkit.training.callbacks import read_jsonl

    output, outcome = result.output, result.best_outcome
    output.mkdir(parents=True, exist_ok=True)
    for child in result.best_folder.iterdir():
        shutil.move(str(child), output / child.name)
    shutil.rmtree(output / ".trials", ignore_errors=True)
    final = restore_test(result.best_config, result.test)
    save_config(final, output / RUN_CONFIG)
    if result.choices:
        records = [{"key": c.key, "value": c.value, "reason": c.reason} for c in result.choices]
        atomic_write_text(output / RECIPE, json.dumps(records, indent=2, ensure_ascii=False) + "\n")
    task = task_class(final.task, result.where).from_run_config(final, str(output / RUN_CONFIG))
    task.load_state(output)
    model = load_model(output / "model", device=task.device)
    if log:
        number = result.records[result.best]["number"]
        log(f"tune: best trial {number}; evaluating it on the test split (once)")
    results = {
        "task": final.task,
        "train": {"steps": outcome.steps, "best_step": outcome.best_step, "seconds": outcome.seconds,
                  "processes": 1, "global_batch_size": final.train.batch_size},
        **task.report(model),
        "model_dir": str(output / "model"),
    }  # fmt: skip
    task.write_artifacts(model, output, results)
    curves = read_jsonl(output / LOG)
    if curves:
        plot_learning_curves(curves, output / "learning_curves.png")
    summary = tune_summary(result, results)
    results["tune"] = {k: summary[k] for k in ("best", "trials_run", "budget_seconds", "seconds_used")}
    atomic_write_text(output / RESULTS, json.dumps(results, indent=2, ensure_ascii=False) + "\n")
    summary["seconds_used"] = round(result.budget.used(), 2)
    summary["budget_used"] = round(summary["seconds_used"] / result.budget.seconds, 4)
    atomic_write_text(output / TUNE_FILE, json.dumps(summary, indent=2, ensure_ascii=False) + "\n")
    return results


def tune_summary(result: SearchResult, results: dict[str, Any]) -> dict[str, Any]:
    """``tune.json``: the search (space, budget, why it stopped), the best trial with its test metrics
    and the baselines, and every trial."""
    best = result.records[result.best]
    return {
        "task": result.config.task,
        "monitor": result.monitor,
        "direction": result.direction,
        "budget_seconds": result.budget.seconds,
        "seconds_used": round(result.budget.used(), 2),
        "trials_asked": result.trials_asked,
        "trials_run": len(result.records),
        "stopped_by": result.stopped_by,
        "space": [p.describe() for p in result.space],
        "best": {
            "trial": best["number"],
            "params": best["params"],
            "val": best["value"],
            "test": {k: v for k, v in results.items() if k.startswith("test_") and isinstance(v, float)},
        },
        "baselines": results.get("baselines", {}),
        "trials": [
            {
                k: r.get(k)
                for k in ("number", "state", "value", "epochs", "seconds", "params", "error")
                if k in r
            }
            for r in result.records
        ],
    }


def tune(
    config: Any,
    trials: int,
    seconds: float,
    output: str | Path,
    where: str = "config",
    keep: Sequence[str] = (),
    log: Log | None = print,
) -> tuple[SearchResult, dict[str, Any]]:
    """:func:`search`, then :func:`finalize`: the search result and the best run's test results."""
    result = search(config, trials, seconds, output, where, keep, log)
    return result, finalize(result, log)
