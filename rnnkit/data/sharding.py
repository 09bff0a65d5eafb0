"""Batches for many processes: every global batch cut into one part per process (rank).

``train.batch_size`` is the *global* batch: the examples of one optimiser step, however many processes
share it. :class:`ShardedBatchSampler` wraps a batch sampler whose order depends only on the seed and the
epoch (:class:`~rnnkit.data.batching.BucketBatchSampler`, or a ``BatchSampler`` over a seeded
``RandomSampler``) and gives rank ``r`` of ``W`` its part of each of its batches:

- **the order depends on (seed, epoch) only**: the global batches are the wrapped sampler's, the same for
  every world size, so 1 process and W processes take the same examples at the same step, and a run stopped
  at one world size resumes at another with the same remaining examples;
- **a permutation**: over all ranks an epoch holds every example of the wrapped sampler's epoch once (for
  a ``BucketBatchSampler``, every example of the dataset);
- **the same number of batches on every rank** (``len(sampler)``, one per global batch), so no rank waits
  for a step that another never takes (the hang of uneven inputs);
- **buckets still cut padding**: each global batch is cut into W contiguous parts of near-equal size
  (:func:`part_bounds`), and a bucketed batch is sorted by length, so each part holds similar lengths.

Padding, the one exception: a global batch with fewer examples than ranks (only the epoch's short last
batch can be one, when ``N mod batch_size < W``) leaves some ranks without an example. Such a rank gets
the batch's first example again, marked ``padding`` in :meth:`ShardedBatchSampler.shards`; rnnkit's
training step gives it weight 0, so it changes no gradient and the step equals the 1-process step.
Iterating the sampler as a plain batch sampler (``DataLoader(batch_sampler=...)``) yields that repeated
example like any other.

Example:
    >>> from rnnkit.data.batching import BucketBatchSampler
    >>> batches = BucketBatchSampler([3, 1, 2, 5, 4], batch_size=4, shuffle=False)
    >>> list(batches)
    [[1, 2, 0, 4], [3]]
    >>> [list(ShardedBatchSampler(batches, rank, 2)) for rank in (0, 1)]
    [[[1, 2], [3]], [[0, 4], [3]]]
    >>> [shard.padding for shard in ShardedBatchSampler(batches, 1, 2).shards()]
    [False, True]
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from torch.utils.data import Sampler

from rnnkit.data.batching import BucketBatchSampler


def part_bounds(size: int, parts: int) -> list[tuple[int, int]]:
    """``(start, stop)`` of ``parts`` contiguous parts of ``range(size)``, the first ``size % parts`` one
    longer than the rest (sizes differ by at most one; parts past the end are empty).

    Example:
        >>> part_bounds(5, 2), part_bounds(1, 3)
        ([(0, 3), (3, 5)], [(0, 1), (1, 1), (1, 1)])
    """
    if parts < 1:
        raise ValueError(f"parts must be >= 1, got {parts}")
    base, extra = divmod(size, parts)
    bounds, start = [], 0
    for k in range(parts):
        stop = start + base + (k < extra)
        bounds.append((start, stop))
        start = stop
    return bounds


@dataclass(frozen=True)
class Shard:
    """One rank's part of one global batch.

    Attributes:
        indices: the dataset indices of this rank's examples (never empty).
        padding: True when the global batch had no example left for this rank and ``indices`` repeats its
            first one: weigh it 0.
        global_size: the number of examples in the whole global batch (over all ranks).
    """

    indices: list[int]
    padding: bool
    global_size: int


class ShardedBatchSampler(Sampler[list[int]]):
    """Rank ``rank``'s part of every batch of ``batch_sampler`` (see the module docstring).

    Args:
        batch_sampler: yields the global batches (lists of indices); its order must depend only on the
            seed and the epoch. ``set_epoch`` is passed on to it; its ``sampler`` (a ``RandomSampler`` of a
            ``BatchSampler``) is exposed so that :func:`rnnkit.training.seed.seed_loader` seeds it.
        rank: this process's rank, in ``[0, world_size)``.
        world_size: the number of processes W.

    Raises:
        ValueError: a rank outside ``[0, world_size)``.
    """

    def __init__(self, batch_sampler: Iterable[Sequence[int]], rank: int, world_size: int) -> None:
        super().__init__()
        for name, value, low in (("world_size", world_size, 1), ("rank", rank, 0)):
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise ValueError(f"{name} must be an int >= {low}, got {value!r}")
        if rank >= world_size:
            raise ValueError(f"rank must be in [0, {world_size}), got {rank}")
        self.batch_sampler, self.rank, self.world_size = batch_sampler, rank, world_size
        self.sampler = getattr(batch_sampler, "sampler", None)

    def set_epoch(self, epoch: int) -> None:
        """Select the epoch of the wrapped sampler (when it has ``set_epoch``)."""
        if hasattr(self.batch_sampler, "set_epoch"):
            self.batch_sampler.set_epoch(epoch)

    def __len__(self) -> int:
        return len(self.batch_sampler)  # type: ignore[arg-type]

    def shards(self) -> Iterator[Shard]:
        """This rank's :class:`Shard` of each global batch, in order."""
        for batch in self.batch_sampler:
            batch = list(batch)
            if not batch:
                raise ValueError("the wrapped batch sampler yielded an empty batch")
            start, stop = part_bounds(len(batch), self.world_size)[self.rank]
            if start == stop:
                yield Shard([batch[0]], True, len(batch))
            else:
                yield Shard(batch[start:stop], False, len(batch))

    def __iter__(self) -> Iterator[list[int]]:
        return (shard.indices for shard in self.shards())


class DistributedBucketSampler(ShardedBatchSampler):
    """Length-bucketed global batches (:class:`~rnnkit.data.batching.BucketBatchSampler`, shuffled), cut
    into one part per rank: each epoch a permutation of the dataset over all ranks, the same number of
    batches on every rank, an order that depends on ``(seed, epoch)`` only.

    Args:
        lengths: the length of every example.
        batch_size: the global batch (examples per optimiser step over all ranks).
        rank, world_size: this process and the number of processes.
        seed, bucket_size, drop_last: as :class:`BucketBatchSampler`'s.

    Example:
        >>> parts = [DistributedBucketSampler([4, 2, 3, 1, 5, 2, 6], 4, rank, 2, seed=1) for rank in (0, 1)]
        >>> epoch = [index for sampler in parts for batch in sampler for index in batch]
        >>> sorted(epoch), [len(sampler) for sampler in parts]
        ([0, 1, 2, 3, 4, 5, 6], [2, 2])
    """

    def __init__(
        self,
        lengths: Sequence[int],
        batch_size: int,
        rank: int,
        world_size: int,
        seed: int = 0,
        bucket_size: int = 100,
        drop_last: bool = False,
    ) -> None:
        inner = BucketBatchSampler(lengths, batch_size, True, seed, bucket_size, drop_last)
        super().__init__(inner, rank, world_size)


def strided_batches(batch_sampler: Iterable[Any], rank: int, world_size: int) -> list[Any]:
    """Batches ``rank, rank + W, rank + 2W, ...`` of ``batch_sampler``: one rank's share of an evaluation
    that keeps every batch whole (so each batch is computed exactly as one process computes it).

    Example:
        >>> strided_batches([[0, 1], [2], [3, 4], [5]], 1, 2)
        [[2], [5]]
    """
    return list(batch_sampler)[rank::world_size]
