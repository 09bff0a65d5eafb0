"""``rnnkit train``: train the model a run config describes (default: the offline chatterbot classifier)."""

from __future__ import annotations

import argparse
import json
from importlib import resources
from pathlib import Path

EXAMPLES = """examples:
  rnnkit train                                   # offline default: Korean+English topic classifier
  rnnkit train nsmc --set train.epochs=3     # an example config shipped in rnnkit/configs/
  rnnkit train my_run.yaml --set model.rnn.cell=gru
  rnnkit train --resume runs/chatterbot          # continue a killed run where it stopped
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
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="override a config value, e.g. train.lr=0.01 (repeatable)")  # fmt: skip
    parser.add_argument("--output", "-o", help="run folder (default: runs/<name>)")
    parser.add_argument(
        "--resume", metavar="RUN", help="resume the run in this folder from its last checkpoint"
    )
    parser.add_argument("--quiet", "-q", action="store_true", help="no progress bar")
    parser.add_argument("--print-config", action="store_true",
                        help="print the resolved config (every default filled in) and exit")  # fmt: skip
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from rnnkit.tasks.runner import fit

    if args.print_config:
        return print_config(resolve_config(args.config), args.overrides)
    if args.resume:
        result = fit(None, run_dir=args.resume, overrides=args.overrides, resume_run=True, quiet=args.quiet)
    else:
        config = resolve_config(args.config)
        result = fit(config, run_dir=args.output, overrides=args.overrides, quiet=args.quiet)
    print_summary(result.results, result.run_dir)
    return 0


def print_config(path: Path, overrides: list[str]) -> int:
    """Print the run config at ``path`` (with ``overrides``) fully resolved, as YAML that trains as it is."""
    import yaml

    from rnnkit.tasks.base import load_run_config, resolved_run_config

    resolved = resolved_run_config(load_run_config(path, overrides), str(path))
    print(f"# {path}, resolved (every default filled in; the model's sizes come from the data)")
    print(yaml.safe_dump(resolved, sort_keys=False, allow_unicode=True), end="")
    return 0


def print_summary(results: dict, run_dir: Path) -> None:
    """The headline numbers, a few predictions and where things are."""
    metrics = {k: v for k, v in results.items() if k.startswith("test_") and isinstance(v, float)}
    print(f"\ntrained {results['train']['steps']} steps in {results['train']['seconds']} s")
    for name, value in metrics.items():
        print(f"  {name:<16} {value:.4f}")
    baselines = results.get("baselines") or {k: v for k, v in results.items() if k.startswith("baseline")}
    for baseline in baselines.values():
        shown = ", ".join(f"{k} {v:.4f}" for k, v in baseline.items() if isinstance(v, float))
        print(f"  baseline: {baseline.get('name', '')}: {shown}")
    for sample in results.get("samples", [])[:5]:
        print("  " + json.dumps(sample, ensure_ascii=False))
    print(f'run saved in {run_dir}  (model: {results["model_dir"]}; try: rnnkit predict {run_dir} "...")')
