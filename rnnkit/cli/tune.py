"""``rnnkit tune CONFIG --trials N --budget 20m``: search a run config's settings on its validation split
within a time budget (Optuna), and keep the best trial as an ordinary run folder (docs/tune.md)."""

from __future__ import annotations

import argparse
import importlib.util

EXAMPLES = """examples:
  rnnkit tune my_run.yaml --trials 20 --budget 20m     # runs/<name>-tune: the best run, tune.json
  rnnkit tune mr --trials 30 --budget 1h -o runs/mr-tuned --set data.path=/data/mr
  rnnkit tune my_run.yaml --trials 10 --budget 90s --keep model.rnn.cell --keep train.batch_size
then: rnnkit predict runs/<name>-tune "some text"; rnnkit evaluate ...; rnnkit serve ...
"""


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "tune", help="search a config's settings on validation within a time budget (Optuna)",
        epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter,
    )  # fmt: skip
    parser.add_argument("config", help="run config file, or an example's name (rnnkit/configs/)")
    parser.add_argument("--trials", type=int, default=20, help="trials at most (default: %(default)s)")
    parser.add_argument(
        "--budget", default="20m", help="wall time for everything: 90s, 20m, 1h (%(default)s)"
    )
    parser.add_argument("--output", "-o", help="the best run's folder (default: runs/<name>-tune)")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="override a config value before the search (repeatable)")  # fmt: skip
    parser.add_argument("--keep", action="append", default=[], metavar="KEY",
                        help="keep this key (e.g. model.rnn.cell) as the config has it")  # fmt: skip
    parser.add_argument("--quiet", "-q", action="store_true", help="only the final table")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from rnnkit.cli.train import describe_baseline, resolve_config
    from rnnkit.config import ConfigError
    from rnnkit.tasks.base import load_run_config
    from rnnkit.tasks.runner import new_run_dir
    from rnnkit.tune.budget import format_seconds, parse_budget
    from rnnkit.tune.study import TUNE_FILE, tune
    from rnnkit.tune.table import trials_table

    seconds = parse_budget(args.budget)
    if args.trials < 1:
        raise ConfigError(f"--trials {args.trials}: must be 1 or more")
    if importlib.util.find_spec("optuna") is None:
        raise ConfigError("rnnkit tune needs Optuna: pip install 'rnnkit[tune]' (or pip install optuna)")
    try:
        path = resolve_config(args.config)
        config = load_run_config(path, args.overrides)
    except FileNotFoundError as error:
        raise ConfigError(str(error)) from None
    output = args.output or new_run_dir(f"{config.name or config.task}-tune")
    result, results = tune(config, args.trials, seconds, output, str(path), args.keep,
                           log=None if args.quiet else print)  # fmt: skip
    summary = results["tune"]
    ended = f"{result.stopped_by} ended the search"
    print(f"\n{len(result.records)} trials ({ended}); {result.monitor} on the validation split:")
    print(trials_table(result.records, result.monitor, summary["best"]["trial"]))
    used, budget = result.budget.used(), result.budget.seconds
    print(f"budget {format_seconds(budget)}: used {format_seconds(used)} ({used / budget:.0%})")
    best = summary["best"]
    print(f"best trial {best['trial']}: {result.monitor} {best['val']:.4f} on validation; "
          "on the test split (evaluated once, after the search):")  # fmt: skip
    for name, value in best["test"].items():
        print(f"  {name:<16} {value:.4f}")
    for baseline in (results.get("baselines") or {}).values():
        print("  " + describe_baseline(baseline))
    print(f'run saved in {result.output} (all trials: {result.output / TUNE_FILE}; '
          f'try: rnnkit predict {result.output} "...")')  # fmt: skip
    return 0
