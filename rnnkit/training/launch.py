"""``rnnkit train ... --nproc-per-node N``: start the job through ``torch.distributed.run``, torchrun's own
code (rendezvous, one process per rank, ``--max-restarts``, stopping every worker when one fails).

Each worker runs the same ``rnnkit train ...`` command less the launch flags (:func:`worker_argv`), with the
run folder given once (``--output``), so that every worker and every restart uses the same folder. A
failed job is summarised in one message naming the worker that failed first and how to resume
(:func:`failure_message`), below torchrun's own report.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class LaunchOptions:
    """How many processes, on how many machines.

    Attributes:
        nproc_per_node: processes on this machine (one per GPU on CUDA machines).
        nnodes: machines in the job.
        node_rank: this machine's place in ``[0, nnodes)`` (fixed ranks: machine 0 holds rank 0); None with
            ``nnodes > 1``: torchrun's c10d rendezvous assigns them.
        rdzv_endpoint: ``HOST:PORT`` every machine can reach (machine 0's address with ``node_rank``).
        max_restarts: times torchrun restarts all workers after one fails; each restart resumes from the
            run's last checkpoint.
    """

    nproc_per_node: int
    nnodes: int = 1
    node_rank: int | None = None
    rdzv_endpoint: str | None = None
    max_restarts: int = 0

    def __post_init__(self) -> None:
        for name, low in (("nproc_per_node", 1), ("nnodes", 1), ("max_restarts", 0)):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                flag = "--" + name.replace("_", "-")
                raise ValueError(f"{flag} must be an integer >= {low}, got {value!r}")
        if self.node_rank is not None and not 0 <= self.node_rank < self.nnodes:
            raise ValueError(f"--node-rank must be in [0, {self.nnodes}), got {self.node_rank}")
        if self.nnodes > 1 and self.rdzv_endpoint is None:
            raise ValueError(f"--nnodes {self.nnodes}: give --rdzv-endpoint HOST:PORT (reachable from all)")


def add_launch_arguments(parser: argparse.ArgumentParser | Any) -> None:
    """The launch flags of ``rnnkit train`` (on a parser or an argument group)."""
    parser.add_argument(
        "--nproc-per-node",
        type=int,
        metavar="N",
        help="train with N processes on this machine (torchrun; one per GPU on CUDA)",
    )
    parser.add_argument("--nnodes", type=int, default=1, metavar="M", help="machines in the job (default 1)")
    parser.add_argument("--node-rank", type=int, metavar="K", help="this machine's rank in [0, M)")
    parser.add_argument(
        "--rdzv-endpoint",
        metavar="HOST:PORT",
        help="rendezvous address every machine can reach (machine 0's, with --node-rank)",
    )
    parser.add_argument("--max-restarts", type=int, default=0, metavar="R",
                        help="restart the workers up to R times, from the last checkpoint")  # fmt: skip


def launch_parser() -> argparse.ArgumentParser:
    """A parser of the launch flags alone, which leaves every other argument as it is."""
    parser = argparse.ArgumentParser(add_help=False)  # abbreviations as rnnkit train's own parser
    add_launch_arguments(parser)
    return parser


def worker_argv(argv: Sequence[str], output: str | None) -> list[str]:
    """The command line of each worker: ``argv`` (``train CONFIG ...``) less the launch flags, plus
    ``--output`` when given.

    Example:
        >>> worker_argv(["train", "cfg.yaml", "--nproc-per-node", "2", "--set", "train.lr=0.1"], "runs/a")
        ['train', 'cfg.yaml', '--set', 'train.lr=0.1', '--output', 'runs/a']
    """
    _, rest = launch_parser().parse_known_args(list(argv))
    return [*rest, "--output", output] if output is not None else rest


def torchrun_args(options: LaunchOptions, argv: Sequence[str]) -> list[str]:
    """torchrun's command line for ``options``, running ``python -m rnnkit`` with ``argv`` in each worker.

    Example:
        >>> torchrun_args(LaunchOptions(2), ["train", "cfg.yaml"])
        ['--nproc-per-node=2', '--nnodes=1', '--max-restarts=0', '--standalone', '-m', 'rnnkit', 'train', ...]
        >>> torchrun_args(LaunchOptions(1, 2, 1, "10.0.0.1:29500"), ["train"])[3:6]
        ['--rdzv-backend=static', '--rdzv-endpoint=10.0.0.1:29500', '--node-rank=1']
    """
    args = [f"--nproc-per-node={options.nproc_per_node}", f"--nnodes={options.nnodes}",
            f"--max-restarts={options.max_restarts}"]  # fmt: skip
    if options.nnodes == 1 and options.rdzv_endpoint is None:
        args.append("--standalone")  # a free local port, no address to give
    elif options.node_rank is not None:
        args += ["--rdzv-backend=static", f"--rdzv-endpoint={options.rdzv_endpoint}",
                 f"--node-rank={options.node_rank}"]  # fmt: skip
    else:
        args += ["--rdzv-backend=c10d", f"--rdzv-endpoint={options.rdzv_endpoint}", "--rdzv-id=rnnkit"]
    return [*args, "-m", "rnnkit", *argv]


def failure_message(error: Any, options: LaunchOptions, run_dir: str | None) -> str:
    """One paragraph about a failed job: which worker failed first and how, and how to resume.

    ``error`` is torchrun's ``ChildFailedError`` (its ``get_first_failure()``).
    """
    rank, failure = error.get_first_failure()
    code = failure.exitcode
    if code is not None and code < 0:
        try:
            how = f"was killed by {signal.Signals(-code).name}"
        except ValueError:
            how = f"was killed by signal {-code}"
    else:
        how = f"exited with status {code}"
    restarts = f" after {options.max_restarts} restart(s)" if options.max_restarts else ""
    where = run_dir or "RUN"
    return (
        f"rnnkit train: worker rank {rank} (pid {failure.pid}) {how}{restarts}; torchrun stopped the other "
        f"workers (its report and the workers' messages are above). The run folder keeps the last "
        f"checkpoint: resume with `rnnkit train --resume {where} --nproc-per-node {options.nproc_per_node}` "
        f"(any number of processes)."
    )


def launch(options: LaunchOptions, argv: Sequence[str], run_dir: str | None) -> int:
    """Run the job through ``torch.distributed.run``; returns the exit status (1 when a worker failed).

    Args:
        options: the launch flags.
        argv: the ``rnnkit`` command line of the workers (:func:`worker_argv`).
        run_dir: the run folder, for the message after a failure.
    """
    from torch.distributed.elastic.multiprocessing.errors import ChildFailedError
    from torch.distributed.run import get_args_parser, run

    if options.max_restarts:
        # Restarted workers would otherwise read the failed attempt's addresses from the rendezvous store
        # torchrun shares with them, and fail to connect (pytorch#135712): each attempt gets its own store.
        os.environ.setdefault("TORCH_DISABLE_SHARE_RDZV_TCP_STORE", "1")
    try:
        run(get_args_parser().parse_args(torchrun_args(options, argv)))
    except ChildFailedError as error:
        print(failure_message(error, options, run_dir), file=sys.stderr, flush=True)
        return 1
    return 0
