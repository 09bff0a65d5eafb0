"""``rnnkit <command>``: registers the sub-commands and runs the chosen one."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from rnnkit import __version__
from rnnkit.cli import data, demo, evaluate, experiment, inspect, predict, report, serve, train, tune

COMMANDS = (train, evaluate, predict, inspect, report, experiment, data, demo, serve, tune)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="rnnkit", description="Readable, fast, inspectable RNNs on PyTorch."
    )
    parser.add_argument("--version", action="version", version=f"rnnkit {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for command in COMMANDS:
        command.add_parser(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``rnnkit`` console script; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    args.argv = list(sys.argv[1:] if argv is None else argv)  # as given: a launcher passes it on
    if args.command is None:
        parser.print_help()
        return 2
    return args.run(args)
