"""``rnnkit train``: train the model a run config describes (default: the offline chatterbot classifier)."""

from __future__ import annotations

import argparse
import json
import sys
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING

from rnnkit.training.distributed import BACKENDS, DEFAULT_TIMEOUT_S
from rnnkit.training.launch import add_launch_arguments

if TYPE_CHECKING:
    from rnnkit.tasks.base import RunConfig

EXAMPLES = """examples:
  rnnkit train                                   # offline default: Korean+English topic classifier
  rnnkit train --task classification --train reviews.csv --test test.csv \\
               --text-column review --label-column sentiment
  rnnkit train --task tagging --train train.conllu --test test.conllu
  rnnkit train --task forecasting --train sales.csv --set data.horizon=7 --set data.season=7
  rnnkit train --task forecasting --train pm25.csv --time-column No --value-column pm2.5 \\
               --past-covariates DEWP,TEMP,PRES,cbwd,Iws --future-covariates hour \\
               --categorical cbwd,hour --set data.missing=mask --set data.season=24
  rnnkit train nsmc --set train.epochs=3     # an example config shipped in rnnkit/configs/
  rnnkit train my_run.yaml --set model.rnn.cell=gru
  rnnkit train --resume runs/chatterbot          # continue a killed run where it stopped
  rnnkit train sst2 --nproc-per-node 2           # 2 processes (torchrun, DDP); train.batch_size is global
  rnnkit train cfg.yaml -o runs/x --nnodes 2 --node-rank 0 --rdzv-endpoint 10.0.0.1:29500 --nproc-per-node 4
"""


def resolve_config(name: str | None) -> Path:
    """A config path, or the name of an example shipped in ``rnnkit/configs`` (``nsmc``, ``chatterbot``...);
    None: the chatterbot classifier, the offline default."""
    if name is not None and (Path(name).exists() or Path(name).suffix in (".yaml", ".yml", ".json")):
        return Path(name)
    packaged = Path(str(resources.files("rnnkit") / "configs"))
    path = packaged / f"{name or 'chatterbot'}.yaml"
    if not path.is_file():
        known = ", ".join(sorted(p.stem for p in packaged.glob("*.yaml")))
        raise FileNotFoundError(f"{name}: no such config file, nor an example config (examples: {known})")
    return path


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "train", help="train a model from a YAML run config", epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )  # fmt: skip
    parser.add_argument(
        "config",
        nargs="?",
        help="run config file, or an example's name (rnnkit/configs/); default: chatterbot",
    )
    files = parser.add_argument_group(
        "your own files, no YAML needed (the config used is written into the run folder as run.yaml)"
    )
    files.add_argument("--task", help="the task: classification, tagging, forecasting, translation, ...")
    for split in SPLITS:
        files.add_argument(f"--{split}", metavar="FILE", help=f"the {split} file (data.{split})")
    for flag, key in COLUMN_FLAGS.items():
        files.add_argument(f"--{flag}", metavar="NAME", dest=key, help=f"data.{key}")
    for flag, key in COVARIATE_FLAGS.items():
        files.add_argument(f"--{flag}", metavar="A,B", dest=f"covariates_{key}",
                           help=f"data.covariates.{key}: comma-separated columns (forecasting)")  # fmt: skip
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="override a config value, e.g. train.lr=0.01 (repeatable)")  # fmt: skip
    parser.add_argument("--output", "-o", help="run folder (default: runs/<name>)")
    parser.add_argument(
        "--resume", metavar="RUN", help="resume the run in this folder from its last checkpoint"
    )
    parser.add_argument("--quiet", "-q", action="store_true", help="no progress bar")
    parser.add_argument("--print-config", action="store_true",
                        help="print the resolved config (every default filled in) and exit")  # fmt: skip
    processes = parser.add_argument_group(
        "several processes and machines (torchrun + DistributedDataParallel; docs/distributed.md)"
    )
    add_launch_arguments(processes)
    processes.add_argument(
        "--backend",
        choices=BACKENDS,
        default="auto",
        help="process group backend (default: nccl on GPUs, gloo on CPUs)",
    )
    processes.add_argument("--dist-timeout", type=float, default=DEFAULT_TIMEOUT_S, metavar="SECONDS",
                           help="end the job when a peer is silent this long (%(default)s)")  # fmt: skip
    parser.set_defaults(run=run)


SPLITS = ("train", "validation", "test")
COLUMN_FLAGS = {
    "text-column": "text_column", "label-column": "label_column",  # classification
    "tokens-column": "tokens_column", "tags-column": "tags_column",  # tagging tables
    "time-column": "time_column", "value-column": "value_column",  # forecasting
    "series-column": "series_column",  # forecasting: many series in one table
}  # fmt: skip
COVARIATE_FLAGS = {"past-covariates": "past", "future-covariates": "future", "categorical": "categorical"}


def _flagged(args: argparse.Namespace) -> list[str]:
    """The own-file flags given (they go with --task)."""
    names = [*SPLITS, *COLUMN_FLAGS.values()]
    given = [f"--{name.replace('_', '-')}" for name in names if getattr(args, name, None)]
    return given + [
        f"--{flag}" for flag, key in COVARIATE_FLAGS.items() if getattr(args, f"covariates_{key}", None)
    ]


def config_from_flags(args: argparse.Namespace) -> tuple[RunConfig, str]:
    """The run config that ``--task`` with ``--train`` (``--validation``, ``--test``, column flags and
    ``--set`` overrides) describes, checked as a config file is; and a name for it in messages."""
    from rnnkit.config import ConfigError
    from rnnkit.tasks.base import apply_overrides, run_config_from_raw, with_recipe

    if args.config is not None:
        raise ConfigError(f"--task: give either a config ({args.config}) or --task with --train, not both")
    if args.train is None:
        raise ConfigError(f"--task {args.task}: needs --train FILE (your training data)")
    data = {split: str(Path(getattr(args, split))) for split in SPLITS if getattr(args, split) is not None}
    data.update({key: getattr(args, key) for key in COLUMN_FLAGS.values() if getattr(args, key) is not None})
    covariates = {
        key: [c.strip() for c in value.split(",") if c.strip()]
        for key in COVARIATE_FLAGS.values()
        if (value := getattr(args, f"covariates_{key}", None))
    }
    if covariates:
        data["covariates"] = covariates
    raw = {"task": args.task, "name": f"{args.task}-{Path(args.train).stem}", "data": data}
    where = f"--task {args.task}"
    raw = apply_overrides(with_recipe(raw), list(args.overrides), where=f"{where} (--set)")
    return run_config_from_raw(raw, where), where


def run(args: argparse.Namespace) -> int:
    from rnnkit.config import ConfigError
    from rnnkit.training.distributed import PeerLostError, started_by_torchrun

    flags = _flagged(args)
    if args.task is None and flags:
        raise ConfigError(f"{flags[0]}: goes with --task (e.g. --task classification --train FILE)")
    if args.nproc_per_node is not None and not args.print_config:
        if started_by_torchrun():
            raise ConfigError("--nproc-per-node: torchrun started this process already; drop the flag")
        return launch_job(args)
    try:
        return train(args)
    except PeerLostError as error:
        print(f"rnnkit train: {error}", file=sys.stderr, flush=True)
        return 1


def launch_job(args: argparse.Namespace) -> int:
    """Start ``rnnkit train`` in ``--nproc-per-node`` processes through torchrun, with one run folder."""
    from rnnkit.config import ConfigError
    from rnnkit.tasks.base import load_run_config
    from rnnkit.tasks.runner import new_run_dir
    from rnnkit.training.launch import LaunchOptions, launch, worker_argv

    options = LaunchOptions(
        args.nproc_per_node, args.nnodes, args.node_rank, args.rdzv_endpoint, args.max_restarts
    )
    output = None
    if args.output is None and args.resume is None:
        if options.nnodes > 1:
            raise ConfigError(f"--nnodes {options.nnodes}: give --output RUN, the same path on every machine")
        if args.task is not None:
            config = config_from_flags(args)[0]
        else:
            config = load_run_config(resolve_config(args.config), args.overrides)  # errors before any process
        output = str(new_run_dir(config.name or config.task))
    return launch(options, worker_argv(args.argv, output), output or args.output or args.resume)


def train(args: argparse.Namespace) -> int:
    """Train in this process (one of a torchrun job's, or alone)."""
    from rnnkit.tasks.base import load_run_config
    from rnnkit.tasks.runner import RUN_CONFIG, fit

    job = {"backend": args.backend, "timeout": args.dist_timeout, "quiet": args.quiet}
    if args.resume:
        result = fit(None, run_dir=args.resume, overrides=args.overrides, resume_run=True, **job)
        print_summary(result.results, result.run_dir)
        return 0
    if args.task is not None:
        config, where = config_from_flags(args)
        source, overrides = config, []
    else:
        path = resolve_config(args.config)
        config, where = load_run_config(path, args.overrides), str(path)
        source, overrides = path, args.overrides
    if args.print_config:
        return print_config(config, where)
    result = fit(source, run_dir=args.output, overrides=overrides, where=where, **job)
    print_summary(result.results, result.run_dir)
    if args.task is not None and result.results:
        print(f"the config used is {result.run_dir / RUN_CONFIG}: edit it and rerun with "
              f"`rnnkit train {result.run_dir / RUN_CONFIG} -o runs/NEW`")  # fmt: skip
    return 0


def print_config(config: RunConfig, where: str) -> int:
    """Print ``config`` fully resolved, as YAML that trains as it is."""
    import yaml

    from rnnkit.tasks.base import resolved_run_config

    resolved = resolved_run_config(config, where)
    print(f"# {where}, resolved (every default filled in; the model's sizes come from the data)")
    print(yaml.safe_dump(resolved, sort_keys=False, allow_unicode=True), end="")
    return 0


def print_summary(results: dict, run_dir: Path) -> None:
    """The headline numbers, a few predictions and where things are (nothing in ranks other than 0)."""
    if not results:
        return
    metrics = {k: v for k, v in results.items() if k.startswith("test_") and isinstance(v, float)}
    trained, processes = results["train"], results["train"].get("processes", 1)
    shared = f" on {processes} processes" if processes > 1 else ""
    batch = trained.get("global_batch_size")
    print(f"\ntrained {trained['steps']} steps in {trained['seconds']} s{shared}"
          + (f" (global batch {batch})" if batch else ""))  # fmt: skip
    for name, value in metrics.items():
        print(f"  {name:<16} {value:.4f}")
    baselines = results.get("baselines") or {k: v for k, v in results.items() if k.startswith("baseline")}
    for baseline in baselines.values():
        print("  " + describe_baseline(baseline))
    for sample in results.get("samples", [])[:5]:
        print("  " + json.dumps(sample, ensure_ascii=False))
    print(f'run saved in {run_dir}  (model: {results["model_dir"]}; try: rnnkit predict {run_dir} "...")')


def describe_baseline(baseline: dict) -> str:
    """One summary line for a baseline record: its name, its test metrics and, where the record has a
    ``gap`` (the model minus the baseline, per metric), the gap.

    Example:
        >>> describe_baseline({"name": "majority class (pos)", "test_accuracy": 0.5, "C": 2.0,
        ...                    "gap": {"test_accuracy": 0.25}})
        'baseline: majority class (pos): test_accuracy 0.5000; rnnkit - baseline: test_accuracy +0.2500'
    """
    floats = {k: v for k, v in baseline.items() if isinstance(v, float)}
    shown = {k: v for k, v in floats.items() if k.startswith("test_")} or floats
    line = f"baseline: {baseline.get('name', '')}: " + ", ".join(f"{k} {v:.4f}" for k, v in shown.items())
    gap = baseline.get("gap") or {}
    if gap:
        line += "; rnnkit - baseline: " + ", ".join(f"{k} {v:+.4f}" for k, v in gap.items())
    return line
