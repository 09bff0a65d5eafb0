"""A task trained by several processes (or in micro-batches): what the runner changes for it.

- :func:`world_config`: each process trains on its own device (``cuda:LOCAL_RANK`` or the CPU).
- :func:`prepare_task`: rank 0 fits the tokenizer, vocabulary and labels and writes them into the run
  folder; the other ranks receive the same state from it (they never write, and need no shared folder for
  a fresh run).
- :func:`parallel_training`: the training loader becomes each rank's share of the global batches, cut into
  micro-batches (:class:`~rnnkit.training.data_parallel.ShardedLoader`), trained by a
  :class:`~rnnkit.training.data_parallel.DataParallelStep` (DistributedDataParallel, the loss weighted by
  :meth:`Task.loss_units`); the validation batches are dealt out to the ranks when the task can merge
  per-batch records (:meth:`Task.shards_evaluation`), else every rank evaluates them all.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

from torch import nn
from torch.utils.data import DataLoader

from rnnkit.config import ConfigError
from rnnkit.tasks.base import RunConfig, Task
from rnnkit.training.data_parallel import (
    DataParallelStep,
    ShardedEvaluation,
    ShardedLoader,
    shard_evaluation_loader,
)
from rnnkit.training.distributed import World, broadcast

Evaluate = Callable[[nn.Module, Any], dict[str, float]]


def world_config(config: RunConfig, world: World | None) -> RunConfig:
    """``config`` with this process's device (unchanged without a world)."""
    if world is None:
        return config
    return replace(config, train=replace(config.train, device=str(world.device)))


def prepare_task(task: Task, run_dir: Path, world: World | None, resume: bool) -> None:
    """Load the task's state from the run folder (``resume``: every rank reads it), or fit it on rank 0,
    which saves it, and send it to the other ranks."""
    if resume:
        task.load_state(run_dir)
        return
    if world is None or world.is_main:
        task.prepare(run_dir)
    state = broadcast(world, task.state() if world is None or world.is_main else None)
    if world is not None and not world.is_main:
        task.restore(state)


def parallel_training(
    task: Task, config: RunConfig, world: World | None, train_loader: Any, val_loader: Any
) -> tuple[Any, Any, Evaluate, DataParallelStep | None]:
    """``(train_loader, val_loader, evaluate, parallel)`` for the trainer: as the task gives them in one
    process without micro-batches, else sharded as the module docstring says.

    Raises:
        ConfigError: ``train.batch_size`` is smaller than the number of processes.
    """
    train = config.train
    if world is None and train.micro_batch_size is None:
        return train_loader, val_loader, task.evaluate, None
    rank, size = (0, 1) if world is None else (world.rank, world.size)
    if train.batch_size < size:
        raise ConfigError(
            f"train.batch_size={train.batch_size} is the global batch, shared by {size} processes: "
            f"make it at least {size}"
        )
    train_loader = ShardedLoader(train_loader, rank, size, train.micro_batch_size)
    parallel = DataParallelStep(world, task.loss_units, train.seed)
    return train_loader, *parallel_evaluation(task, world, val_loader), parallel


def parallel_evaluation(task: Task, world: World | None, val_loader: Any) -> tuple[Any, Evaluate]:
    """``(val_loader, evaluate)``: this rank's strided batches and a :class:`ShardedEvaluation` when the
    task shards its evaluation, else the loader and ``task.evaluate`` as they are."""
    shardable = isinstance(val_loader, DataLoader) and val_loader.batch_sampler is not None
    if world is None or not shardable or not task.shards_evaluation():
        return val_loader, task.evaluate
    shard = shard_evaluation_loader(val_loader, world)
    return shard, ShardedEvaluation(world, task.evaluate_batch, task.merge_evaluation)
