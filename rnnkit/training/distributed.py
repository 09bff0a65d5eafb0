"""Many processes: torchrun's environment -> a process group, and the few collectives rnnkit needs.

``torchrun`` (``python -m torch.distributed.run``, which ``rnnkit train --nproc-per-node N`` calls) starts
the processes and gives each one ``RANK``, ``LOCAL_RANK``, ``WORLD_SIZE``, ``MASTER_ADDR``/``MASTER_PORT``
and ``TORCHELASTIC_RESTART_COUNT``. :func:`join_world` reads them and joins the process group: gloo when
the training device is the CPU, NCCL when it is a GPU (``cuda:LOCAL_RANK``: one GPU per process), or the
backend you name. Outside torchrun, or with one process, there is no world (None) and nothing changes.

Rank 0 is the main process: it alone writes the run folder (:func:`is_main_process`). A collective that
fails because another process died or stopped answering raises :class:`PeerLostError` (see
:func:`peer_errors`), at the latest ``timeout`` seconds after the peer went silent: never a hang.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import torch
import torch.distributed as dist
from torch import nn

BACKENDS = ("auto", "gloo", "nccl")
DEFAULT_TIMEOUT_S = 600.0  # a peer silent this long ends the job (a dead one is noticed at once)
SETUP_TIMEOUT_S = 3600.0  # the other ranks wait this long for rank 0 to prepare the data
_PEER_SIGNS = ("gloo", "nccl", "connection", "timed out", "timeout", "peer")


class PeerLostError(RuntimeError):
    """Another process of the job died or stopped answering, so this one stops too."""


@dataclass(frozen=True)
class World:
    """The processes of one job as this process sees them.

    Attributes:
        rank: this process's global rank (0 is the main process).
        local_rank: its rank on this machine (its GPU, on CUDA).
        size: the number of processes W.
        backend: ``"gloo"`` or ``"nccl"``.
        device: where this process trains (``cuda:LOCAL_RANK`` or ``cpu``).
        setup_group: a gloo group with a long timeout, for the one-time broadcasts while rank 0 prepares
            the data (tokenising a large corpus may take longer than the training timeout).
    """

    rank: int
    local_rank: int
    size: int
    backend: str
    device: torch.device
    setup_group: Any = None

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def launched() -> bool:
    """True inside a process that torchrun started for a job of more than one process."""
    return int(os.environ.get("WORLD_SIZE", "1")) > 1


def started_by_torchrun() -> bool:
    """True inside a worker process that torchrun started (any number of processes)."""
    return "TORCHELASTIC_RUN_ID" in os.environ or "LOCAL_RANK" in os.environ


def joined() -> bool:
    """True when this process is in a process group already."""
    return dist.is_available() and dist.is_initialized()


def restarted() -> bool:
    """True when torchrun restarted this job's processes after a failure (``--max-restarts``)."""
    return int(os.environ.get("TORCHELASTIC_RESTART_COUNT", "0")) > 0


def restarts_allowed() -> int:
    """``--max-restarts`` of the torchrun that started this process (0 outside torchrun)."""
    return int(os.environ.get("TORCHELASTIC_MAX_RESTARTS", "0"))


def world_device(device: str, local_rank: int) -> torch.device:
    """The device a process of a multi-process job trains on, from ``train.device``: ``auto`` and ``cuda``
    mean ``cuda:LOCAL_RANK`` when CUDA is available (one GPU per process), else the CPU.

    Raises:
        ValueError: ``device`` names one GPU (``cuda:1``), which every process would share.

    Example:
        >>> world_device("cpu", 3)
        device(type='cpu')
    """
    if device == "cpu" or (device == "auto" and not torch.cuda.is_available()):
        return torch.device("cpu")
    if device in ("auto", "cuda"):
        return torch.device("cuda", local_rank)
    raise ValueError(
        f"train.device={device!r}: with several processes each takes its own GPU (cuda:LOCAL_RANK); "
        "set train.device to auto, cuda or cpu"
    )


def join_world(
    device: str = "auto", backend: str = "auto", timeout: float = DEFAULT_TIMEOUT_S
) -> World | None:
    """Join the process group torchrun set up (None outside torchrun or with one process).

    Args:
        device: ``train.device`` (see :func:`world_device`).
        backend: ``"auto"`` (NCCL for CUDA, gloo for the CPU), ``"gloo"`` or ``"nccl"``.
        timeout: seconds a collective may wait for the other processes before the job stops.

    A process group that already exists (initialised by your own script) is used as it is.
    """
    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {BACKENDS}, got {backend!r}")
    if not launched() and not joined():
        return None
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    where = world_device(device, local_rank)
    if where.type == "cuda":
        torch.cuda.set_device(where)
    if not joined():
        chosen = backend if backend != "auto" else ("nccl" if where.type == "cuda" else "gloo")
        options = {"device_id": where} if chosen == "nccl" else {}
        dist.init_process_group(chosen, timeout=timedelta(seconds=timeout), **options)
    setup = dist.new_group(backend="gloo", timeout=timedelta(seconds=max(timeout, SETUP_TIMEOUT_S)))
    return World(dist.get_rank(), local_rank, dist.get_world_size(), dist.get_backend(), where, setup)


def leave_world() -> None:
    """Destroy the default process group (after :func:`join_world`)."""
    if joined():
        dist.destroy_process_group()


def is_main_process() -> bool:
    """True in rank 0 of a job, and in any single process."""
    return not joined() or dist.get_rank() == 0


def unwrap_model(model: nn.Module) -> nn.Module:
    """The model inside a DistributedDataParallel (or ``torch.compile``) wrapper; others as they are.

    Example:
        >>> layer = nn.Linear(2, 2); unwrap_model(layer) is layer
        True
    """
    while True:
        inner = getattr(model, "module", None) or getattr(model, "_orig_mod", None)
        if not isinstance(inner, nn.Module):
            return model
        model = inner


def barrier(world: World | None) -> None:
    """Wait until every process of ``world`` is here (nothing without a world)."""
    if world is not None:
        dist.barrier()


def broadcast(world: World | None, value: Any) -> Any:
    """Rank 0's ``value`` on every rank (JSON-like values: paths, the task's state); the setup group's
    long timeout applies, as the other ranks may wait for rank 0 to prepare the data."""
    if world is None:
        return value
    box = [value if world.is_main else None]
    dist.broadcast_object_list(box, src=0, group=world.setup_group)
    return box[0]


def gather(world: World | None, value: Any) -> list[Any]:
    """Every rank's ``value``, in rank order, on every rank (``[value]`` without a world)."""
    if world is None:
        return [value]
    values: list[Any] = [None] * world.size
    dist.all_gather_object(values, value)
    return values


def all_reduce_sum(world: World | None, value: int) -> int:
    """The sum of an integer over all ranks."""
    if world is None:
        return value
    device = world.device if world.backend == "nccl" else "cpu"  # NCCL reduces GPU tensors only
    total = torch.tensor([value], dtype=torch.int64, device=device)
    dist.all_reduce(total)
    return int(total.item())


def is_peer_failure(error: BaseException) -> bool:
    """Whether ``error`` is a collective failing because another process died or went silent."""
    if isinstance(error, getattr(dist, "DistError", ())):
        return True
    text = str(error).lower()
    return isinstance(error, RuntimeError) and any(sign in text for sign in _PEER_SIGNS)


@contextmanager
def peer_errors(world: World | None, resume_hint: str) -> Iterator[None]:
    """Turn a failed collective into a :class:`PeerLostError` that says what happened and how to go on.

    Args:
        world: the job (without one, errors pass unchanged).
        resume_hint: the command that resumes the run, for the message.
    """
    try:
        yield
    except RuntimeError as error:
        if world is None or isinstance(error, PeerLostError) or not is_peer_failure(error):
            raise
        first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise PeerLostError(
            f"rank {world.rank} of {world.size}: another process of this job died or stopped answering "
            f"({first}); this process stops too. Resume from the last checkpoint with: {resume_hint}"
        ) from error
