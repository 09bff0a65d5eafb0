"""``rnnkit <command>``: registers the sub-commands and runs the chosen one.

:func:`main` raises what a command raises (for tests and callers); :func:`run`, the console script, turns an
error the user can fix into one line on stderr and exit status 2, and anything else (a bug) into its
traceback, a request to report it, and status 1. ``--debug`` (anywhere) or ``RNNKIT_DEBUG=1`` keeps the
traceback of user errors too.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import sys
import traceback
from collections.abc import Sequence

from rnnkit import __version__
from rnnkit.errors import UserError

COMMANDS = ("train", "evaluate", "predict", "export", "inspect", "report", "experiment", "data", "demo",
            "serve", "tune")  # fmt: skip
"""The sub-commands, each a module of :mod:`rnnkit.cli` with ``add_parser(subparsers)``; a module is imported
only when its command runs (or for the help), so ``rnnkit predict EXPORT_DIR`` never imports torch."""


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The argument parser of every command, or of the command ``only`` alone (what :func:`main` runs).

    Example:
        >>> build_parser("predict").parse_args(["predict", "runs/x", "hi"]).texts
        ['hi']
    """
    parser = argparse.ArgumentParser(
        prog="rnnkit", description="Readable, fast, inspectable RNNs on PyTorch."
    )
    parser.add_argument("--version", action="version", version=f"rnnkit {__version__}")
    parser.add_argument(
        "--debug", action="store_true", help="print the traceback of every error (also: RNNKIT_DEBUG=1)"
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS if only is None else (only,):
        importlib.import_module(f"rnnkit.cli.{name}").add_parser(subparsers)
    return parser


class StderrLines(logging.Handler):
    """Writes each record as ``rnnkit: <message>`` to the ``sys.stderr`` of the moment (not the one at
    creation: tests and callers swap it)."""

    def emit(self, record: logging.LogRecord) -> None:
        print(f"rnnkit: {record.getMessage()}", file=sys.stderr)


def show_data_log() -> None:
    """Let the ``rnnkit.data`` logger's INFO lines reach stderr: what ``data.encoding=auto`` detected per
    file (``train.csv: cp949 (data.encoding=auto: ...)``). Once per process."""
    logger = logging.getLogger("rnnkit.data")
    if not any(isinstance(h, StderrLines) for h in logger.handlers):
        logger.addHandler(StderrLines(logging.INFO))
        logger.setLevel(min(logger.getEffectiveLevel(), logging.INFO))


def chosen_command(argv: Sequence[str]) -> str | None:
    """The command ``argv`` names (its first word that is not an option), if it is one of :data:`COMMANDS`.

    Example:
        >>> chosen_command(["--debug", "predict", "runs/x"]), chosen_command(["--help"])
        ('predict', None)
    """
    first = next((a for a in argv if not a.startswith("-")), None)
    return first if first in COMMANDS else None


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``rnnkit`` console script; returns the exit status."""
    show_data_log()
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser(chosen_command(argv))
    args = parser.parse_args(argv)
    args.argv = argv  # as given: a launcher passes it on
    if args.command is None:
        parser.print_help()
        return 2
    return args.run(args)


USER_ERRORS = (UserError, FileNotFoundError, FileExistsError, IsADirectoryError, NotADirectoryError,
               PermissionError)  # fmt: skip
"""What :func:`run` reports in one line: rnnkit's own :class:`~rnnkit.errors.UserError` and the file
system's errors about a path the user gave."""


def run(argv: Sequence[str] | None = None) -> int:
    """The ``rnnkit`` console script: :func:`main`, with user errors as one line on stderr (status 2) and
    bugs as a traceback plus a request to report them (status 1).

    Example:
        >>> run(["train", "no_such_config.yaml"])  # doctest: +SKIP
        rnnkit train: error: no_such_config.yaml: no such file ...
        2
    """
    args = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in args or os.environ.get("RNNKIT_DEBUG", "") not in ("", "0")
    args = [a for a in args if a != "--debug"]
    command = next((a for a in args if not a.startswith("-")), "")
    where = f"rnnkit {command}".rstrip()
    try:
        return main(args)
    except USER_ERRORS as error:
        if debug:
            traceback.print_exc()
        print(f"{where}: error: {one_line(error)}", file=sys.stderr)
        if not debug:
            print("(run again with --debug for the traceback)", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"{where}: interrupted", file=sys.stderr)
        return 130
    except Exception:
        traceback.print_exc()
        print(
            f"{where}: this is a bug in rnnkit, not in your input: please report it with the traceback "
            f"above, the command and `rnnkit --version` ({__version__})",
            file=sys.stderr,
        )
        return 1


def one_line(error: BaseException) -> str:
    """The error's message on one line (a file error names its path).

    Example:
        >>> one_line(FileNotFoundError(2, "No such file or directory", "x.csv"))
        'x.csv: No such file or directory'
        >>> one_line(ValueError("a\\nb"))
        'a b'
    """
    if isinstance(error, OSError) and error.filename is not None and error.strerror:
        return f"{error.filename}: {error.strerror}"
    return " ".join(str(error).split()) or type(error).__name__
