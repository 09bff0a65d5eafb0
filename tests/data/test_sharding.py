"""The sharded samplers: over all ranks each epoch is the 1-process epoch (a permutation of the data), every
rank gets the same number of batches, the order depends on (seed, epoch) only, and parts stay bucketed."""

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch.utils.data import BatchSampler, DataLoader, RandomSampler

from rnnkit.data.batching import BucketBatchSampler
from rnnkit.data.sharding import DistributedBucketSampler, ShardedBatchSampler, part_bounds, strided_batches
from rnnkit.training.seed import seed_loader

setups = st.fixed_dictionaries(
    {
        "lengths": st.lists(st.integers(0, 40), min_size=1, max_size=150),
        "batch_size": st.integers(1, 24),
        "world_size": st.integers(1, 8),
        "seed": st.integers(0, 2**32 - 1),
        "epoch": st.integers(0, 5),
        "bucket_size": st.integers(1, 6),
    }
)


def epoch_of(setup, world_size):
    """Every rank's shards of one epoch, rank by rank."""
    ranks = []
    for rank in range(world_size):
        sampler = DistributedBucketSampler(
            setup["lengths"], setup["batch_size"], rank, world_size, setup["seed"], setup["bucket_size"]
        )
        sampler.set_epoch(setup["epoch"])
        ranks.append(list(sampler.shards()))
    return ranks


def global_batches(ranks):
    """The global batch of each step: the ranks' real examples, in rank order."""
    return [
        [i for shards in step for i in (() if shards.padding else shards.indices)] for step in zip(*ranks)
    ]


@settings(max_examples=150, deadline=None)
@given(setups)
def test_an_epoch_over_all_ranks_is_a_permutation_with_equal_batch_counts(setup):
    world_size, n = setup["world_size"], len(setup["lengths"])
    ranks = epoch_of(setup, world_size)
    counts = {len(shards) for shards in ranks}
    assert counts == {-(-n // setup["batch_size"])}  # every rank: one batch per global batch
    seen = [i for step in global_batches(ranks) for i in step]
    assert sorted(seen) == list(range(n))  # no example lost or doubled
    for shards in ranks:
        for shard in shards:
            assert shard.indices  # never an empty batch: the model always has something to run on
            if shard.padding:  # only a global batch with fewer examples than ranks pads, with a repeat
                assert shard.global_size < world_size and len(shard.indices) == 1
    short = [size for size in (s.global_size for s in ranks[0]) if size < setup["batch_size"]]
    assert len(short) <= 1  # padding can only come from the epoch's one short batch


@settings(max_examples=100, deadline=None)
@given(setups, st.integers(1, 8))
def test_the_order_depends_on_seed_and_epoch_not_on_the_world_size(setup, other_world_size):
    one = global_batches(epoch_of(setup, 1))
    many = global_batches(epoch_of(setup, other_world_size))
    assert one == many
    again = global_batches(epoch_of(setup, other_world_size))
    assert again == many  # a function of (seed, epoch)
    single = BucketBatchSampler(
        setup["lengths"], setup["batch_size"], True, setup["seed"], setup["bucket_size"]
    )
    single.set_epoch(setup["epoch"])
    assert one == list(single)  # and the one-process sampler's batches, unchanged


@settings(max_examples=100, deadline=None)
@given(setups)
def test_parts_are_near_equal_contiguous_slices_so_buckets_still_cut_padding(setup):
    world_size, lengths = setup["world_size"], setup["lengths"]
    ranks = epoch_of(setup, world_size)
    for step, batch in zip(zip(*ranks), global_batches(epoch_of(setup, 1))):
        real = [shard.indices for shard in step if not shard.padding]
        assert [i for part in real for i in part] == batch  # rank r holds the r-th slice of its batch
        assert max(map(len, real)) - min(map(len, real)) <= 1
        for part in real:  # a bucket's batch is length-sorted, so each part is too
            assert [lengths[i] for i in part] == sorted(lengths[i] for i in part)


def test_two_epochs_differ_and_the_short_batch_pads_the_last_rank_only():
    lengths = list(range(17))  # 17 = 2 * 8 + 1: the short batch has one example for two ranks
    ranks = [DistributedBucketSampler(lengths, 8, rank, 2, seed=3) for rank in (0, 1)]
    epochs = []
    for epoch in (0, 1):
        for sampler in ranks:
            sampler.set_epoch(epoch)
        epochs.append(global_batches([list(s.shards()) for s in ranks]))
    assert epochs[0] != epochs[1]
    padded = [(rank, s.indices) for rank, sampler in enumerate(ranks) for s in sampler.shards() if s.padding]
    assert len(padded) == 1 and padded[0][0] == 1  # rank 0 gets the example, rank 1 repeats it


@settings(max_examples=50, deadline=None)
@given(st.integers(1, 60), st.integers(1, 16), st.integers(1, 6), st.integers(0, 1000), st.integers(0, 4))
def test_a_seeded_random_batch_sampler_shards_the_same_way(n, batch_size, world_size, seed, epoch):
    """A DataLoader(shuffle=True)'s batches (the forecasting task's), seeded per epoch as the trainer does."""

    def loader(sampler=None):
        data = DataLoader(list(range(n)), batch_size=batch_size, shuffle=True)
        if sampler is not None:
            data = DataLoader(list(range(n)), batch_sampler=sampler(data.batch_sampler))
        seed_loader(data, seed, epoch)
        return data

    one = [batch.tolist() for batch in loader()]
    shards = [
        list(loader(lambda inner, r=rank: ShardedBatchSampler(inner, r, world_size)))
        for rank in range(world_size)
    ]
    merged = [[i for part in step for i in part.tolist()] for step in zip(*shards)]
    if all(len(batch) >= world_size for batch in one):
        assert merged == one
    assert {len(s) for s in shards} == {len(one)}


def test_part_bounds_and_strided_batches():
    assert part_bounds(7, 3) == [(0, 3), (3, 5), (5, 7)]
    assert part_bounds(0, 2) == [(0, 0), (0, 0)]
    assert strided_batches(range(7), 2, 3) == [2, 5]
    with pytest.raises(ValueError, match="parts must be >= 1"):
        part_bounds(3, 0)


def test_bad_ranks_are_refused_with_the_value():
    batches = BatchSampler(RandomSampler(range(4), generator=torch.Generator()), 2, False)
    with pytest.raises(ValueError, match=r"rank must be in \[0, 2\), got 2"):
        ShardedBatchSampler(batches, 2, 2)
    with pytest.raises(ValueError, match="world_size must be an int >= 1, got 0"):
        ShardedBatchSampler(batches, 0, 0)
