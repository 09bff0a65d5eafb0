"""``rnnkit evaluate``: test metrics of a trained run, on its own test data or other data."""

from __future__ import annotations

import argparse
import json

EXAMPLES = """examples:
  rnnkit evaluate runs/chatterbot
  rnnkit evaluate runs/nsmc --data path=/data/nsmc          # another copy of the data
  rnnkit evaluate runs/nsmc --data test=new.csv -o eval/new  # results.json and plots into eval/new

The run folder is never changed: pictures and results.json are written only with --output.
"""


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "evaluate", help="evaluate a trained run on test data", epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )  # fmt: skip
    parser.add_argument("run_dir", metavar="RUN", help="a run folder made by rnnkit train")
    parser.add_argument("--data", action="append", default=[], metavar="KEY=VALUE",
                        help="change the run's data section, e.g. path=FILE or dataset=table")  # fmt: skip
    parser.add_argument("--device", help="cpu, cuda, ... (default: the run's)")
    parser.add_argument("--output", "-o", metavar="DIR", help="write results.json and the plots here")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from rnnkit.tasks.runner import evaluate

    report = evaluate(args.run_dir, args.data, args.device, args.output)
    shown = {k: v for k, v in report.items() if k not in ("per_class", "confusion_matrix")}
    print(json.dumps(shown, indent=2, ensure_ascii=False))
    return 0
