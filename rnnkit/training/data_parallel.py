r"""One optimiser step over a global batch that many processes share, equal to the 1-process step.

``train.batch_size`` is the global batch ``B``. Each of the ``W`` processes (ranks) takes its part of every
global batch (:class:`~rnnkit.data.sharding.ShardedBatchSampler`), cut into micro-batches of at most
``train.micro_batch_size`` examples (gradient accumulation: one forward and backward per micro-batch, the
gradients summed, one all-reduce per step under :class:`DistributedDataParallel`'s ``no_sync``).

The weighting that makes W processes equal one. A task's loss is a mean over its *units* (examples; tokens
for a tagger or a language model: :meth:`rnnkit.tasks.base.Task.loss_units`). With ``N`` units in the
global batch and ``n_k`` in micro-batch ``k`` of a rank, the rank back-propagates

    W · (n_k / N) · loss_k

and DDP averages the gradients over the W ranks, so the step's gradient is

    (1/W) Σ_r Σ_k W (n_k / N) ∇loss_k = (1/N) Σ_{units u of the global batch} ∇ℓ_u,

the gradient of the global batch's mean loss, which is what one process computes from the whole batch
(up to the order of float additions). Averaging each rank's mean instead (plain DDP) weighs the tokens of
a rank with short sentences more than those of a rank with long ones. ``N`` costs one all-reduce of an
integer per step. A rank whose part of a short global batch is empty trains on a repeated example with
weight 0 (``StepBatch.padding``): it takes part in the all-reduce and changes nothing.

Randomness: with more than one process, every micro-batch's forward starts from a generator seeded by
``(seed, step, rank, micro-batch)``, so dropout, zoneout, recurrent dropout and word dropout are
reproducible for a seed and a world size, and a run resumed at the same world size draws the same masks
as if it had never stopped. (The masks still depend on the rank, so they differ between world sizes.)
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, nn
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader

from rnnkit.data.batching import move_to_device
from rnnkit.data.sharding import ShardedBatchSampler, strided_batches
from rnnkit.training.distributed import World, all_reduce_sum, gather
from rnnkit.training.seed import epoch_seed


@dataclass(frozen=True)
class StepBatch:
    """What one rank trains on in one optimiser step.

    Attributes:
        parts: this rank's micro-batches, each collated as the task's loader collates a batch.
        padding: True when the parts only stand in for an empty share (weight 0).
        global_size: the examples of the whole global batch (over all ranks).
    """

    parts: list[Any]
    padding: bool
    global_size: int


class ShardedLoader:
    """A task's training ``DataLoader`` as one rank's :class:`StepBatch` per global batch.

    Its ``batch_sampler`` is the :class:`ShardedBatchSampler` over the loader's own, so
    :func:`rnnkit.training.seed.seed_loader` seeds it exactly as it seeds the loader in one process.
    Items are read from ``loader.dataset`` and collated with ``loader.collate_fn`` in this process.

    Raises:
        TypeError: ``loader`` is not a ``DataLoader`` with a batch sampler.
    """

    def __init__(self, loader: Any, rank: int, world_size: int, micro_batch_size: int | None) -> None:
        if not isinstance(loader, DataLoader) or loader.batch_sampler is None:
            raise TypeError(
                f"training on several processes or in micro-batches needs a DataLoader with a batch sampler "
                f"as the training loader, got {type(loader).__name__}"
            )
        self.dataset, self.collate_fn = loader.dataset, loader.collate_fn
        self.batch_sampler = ShardedBatchSampler(loader.batch_sampler, rank, world_size)
        self.micro_batch_size = micro_batch_size

    def __len__(self) -> int:
        return len(self.batch_sampler)

    def __iter__(self) -> Iterator[StepBatch]:
        for shard in self.batch_sampler.shards():
            size = self.micro_batch_size or len(shard.indices)
            chunks = [shard.indices[i : i + size] for i in range(0, len(shard.indices), size)]
            parts = [self.collate_fn([self.dataset[i] for i in chunk]) for chunk in chunks]
            yield StepBatch(parts, shard.padding, shard.global_size)


class _DDP(DistributedDataParallel):
    """DistributedDataParallel that lets a task's ``compute_loss`` read the model's own attributes
    (``model.crf``, ``model.config``) through it, as it does on the bare model."""

    def __getattr__(self, name: str) -> Any:
        try:
            return super().__getattr__(name)
        except AttributeError:
            module = self.__dict__.get("_modules", {}).get("module")
            if module is None:
                raise
            return getattr(module, name)


def step_seed(seed: int, step: int, rank: int, part: int) -> int:
    """The seed of micro-batch ``part`` of rank ``rank`` at optimiser step ``step`` (counted from 0).

    Example:
        >>> step_seed(0, 5, 1, 0) == step_seed(0, 5, 1, 0), step_seed(0, 5, 1, 0) == step_seed(0, 5, 0, 0)
        (True, False)
    """
    return epoch_seed(epoch_seed(seed, step), rank * 65536 + part)


class DataParallelStep:
    """The forward and backward passes of a :class:`rnnkit.training.trainer.Trainer` step over a
    :class:`StepBatch` (see the module docstring); the trainer then clips and steps the optimiser.

    Args:
        world: the job (None: one process, micro-batches only).
        loss_units: ``batch -> int``, the units the task's loss averages over.
        seed: the run's seed (per-step generators, with a world).

    DDP runs without ``find_unused_parameters``: every rnnkit model uses all of its trainable parameters
    in each training forward (tested per task), so the extra graph traversal is not needed.
    """

    def __init__(self, world: World | None, loss_units: Callable[[Any], int], seed: int = 0) -> None:
        self.world, self.loss_units, self.seed = world, loss_units, seed
        self.wrapped: nn.Module | None = None

    @property
    def world_size(self) -> int:
        return 1 if self.world is None else self.world.size

    def attach(self, model: nn.Module) -> nn.Module:
        """Wrap ``model`` (already on its device) for gradient synchronisation; returns the wrapper.
        DDP's constructor broadcasts rank 0's parameters, so every rank starts from the same weights."""
        if self.world is None:
            self.wrapped = model
        else:
            on_gpu = self.world.device.type == "cuda"
            self.wrapped = _DDP(model, device_ids=[self.world.device] if on_gpu else None)
        return self.wrapped

    def _no_sync(self, last: bool) -> contextlib.AbstractContextManager:
        if last or not isinstance(self.wrapped, DistributedDataParallel):
            return contextlib.nullcontext()
        return self.wrapped.no_sync()  # accumulate locally; the last micro-batch all-reduces

    def step(self, trainer: Any, batch: StepBatch) -> tuple[Tensor, int]:
        """Forward and backward of every micro-batch of ``batch`` with its weight; returns this rank's
        mean loss (detached) and the examples of the global batch."""
        if not isinstance(batch, StepBatch):
            raise TypeError(f"DataParallelStep takes a ShardedLoader's StepBatch, got {type(batch).__name__}")
        if self.wrapped is None:
            raise RuntimeError("DataParallelStep.attach(model) must be called before step")
        parts = [move_to_device(part, trainer.device) for part in batch.parts]
        units = [0 if batch.padding else int(self.loss_units(part)) for part in parts]
        total = all_reduce_sum(self.world, sum(units))
        if total <= 0:
            raise ValueError(f"step {trainer.state.step + 1}: the global batch has no loss units (targets)")
        self.wrapped.train()
        loss_sum = torch.zeros((), device=trainer.device)
        for k, (part, count) in enumerate(zip(parts, units)):
            if self.world is not None:
                torch.manual_seed(step_seed(self.seed, trainer.state.step, self.world.rank, k))
            with self._no_sync(k == len(parts) - 1):
                loss = trainer.forward_loss(self.wrapped, part)
                trainer.backward(loss * (self.world_size * count / total))
            loss_sum += loss.detach().float() * count
        return loss_sum / max(sum(units), 1), batch.global_size


def shard_evaluation_loader(loader: Any, world: World) -> DataLoader:
    """Batches ``rank, rank + W, ...`` of an evaluation ``DataLoader`` for ``world.rank``, each one whole.

    Raises:
        TypeError: ``loader`` is not a ``DataLoader`` with a batch sampler.
    """
    if not isinstance(loader, DataLoader) or loader.batch_sampler is None:
        kind = type(loader).__name__
        raise TypeError(f"a sharded evaluation needs a DataLoader with a batch sampler, got {kind}")
    mine = strided_batches(loader.batch_sampler, world.rank, world.size)
    return DataLoader(loader.dataset, batch_sampler=mine, collate_fn=loader.collate_fn)


class ShardedEvaluation:
    """``evaluate(model, loader)`` over one rank's strided batches (:func:`shard_evaluation_loader`) whose
    metrics equal the 1-process metrics exactly.

    Each rank computes a record per batch (``evaluate_batch(model, batch)``); the records of all ranks are
    gathered and put back in the 1-process batch order, and ``merge(records)`` turns them into metrics on
    every rank. Each batch is computed whole, as one process computes it, and the merge adds the same
    numbers in the same order, so the metrics are equal bit for bit (on the same kind of hardware), which
    an all-reduce of float sums would not give.
    """

    def __init__(
        self,
        world: World,
        evaluate_batch: Callable[[nn.Module, Any], Any],
        merge: Callable[[list[Any]], dict[str, float]],
    ) -> None:
        self.world, self.evaluate_batch, self.merge = world, evaluate_batch, merge

    def __call__(self, model: nn.Module, loader: Any) -> dict[str, float]:
        mine = [self.evaluate_batch(model, batch) for batch in loader]
        everyone = gather(self.world, mine)
        size, total = self.world.size, sum(len(records) for records in everyone)
        return self.merge([everyone[i % size][i // size] for i in range(total)])
