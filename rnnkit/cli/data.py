"""``rnnkit data``: the named datasets: list them, describe one, download one into the cache."""

from __future__ import annotations

import argparse
import sys

EXAMPLES = """examples:
  rnnkit data list
  rnnkit data describe nsmc
  rnnkit data download sst2
"""


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "data", help="list, describe or download datasets", epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )  # fmt: skip
    parser.add_argument("action", choices=["list", "describe", "download"])
    parser.add_argument("name", nargs="?", help="dataset name (describe, download)")
    parser.add_argument("--cache-dir", help="download cache (default: $RNNKIT_CACHE or ~/.cache/rnnkit)")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from rnnkit.data.catalog import DATASETS, describe, get_info
    from rnnkit.data.download import fetch

    if args.action == "list":
        width = max(len(name) for name in DATASETS)
        print(f"{'chatterbot':<{width}}  classification  installed with rnnkit (chatterbot-corpus, BSD-3)")
        for name, info in sorted(DATASETS.items()):
            print(f"{name:<{width}}  {info.task:<14}  {info.description.splitlines()[0]}")
        return 0
    if not args.name:
        print(f"rnnkit data {args.action}: give a dataset name (see rnnkit data list)", file=sys.stderr)
        return 2
    if args.action == "describe":
        print(describe(args.name))
        return 0
    for file in get_info(args.name).files:
        print(fetch(file, args.cache_dir))
    return 0
