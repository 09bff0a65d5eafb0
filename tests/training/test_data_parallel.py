"""Gradient accumulation and loss weighting in one process: micro-batches weighted by their loss units
give the whole-batch step; plain averaging of the micro-batch means does not (the reason for the weights)."""

import random

import pytest
import torch
from torch import nn
from torch.utils.data import DataLoader

from rnnkit.data.batching import BucketBatchSampler, collate_tagging
from rnnkit.losses import masked_cross_entropy
from rnnkit.tasks.runner import fit
from rnnkit.training.config import TrainConfig
from rnnkit.training.data_parallel import DataParallelStep, ShardedLoader, StepBatch
from rnnkit.training.trainer import Trainer
from tests.training.distributed_runs import max_difference, weights, write_classification

TOLERANCE = 2e-5  # float32 sums in another order over 20 Adam steps of lr 0.01 (docs/distributed.md)


class Tagger(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.embedding, self.rnn, self.head = (
            nn.Embedding(20, 8),
            nn.GRU(8, 8, batch_first=True),
            nn.Linear(8, 3),
        )

    def forward(self, inputs, lengths):
        return self.head(self.rnn(self.embedding(inputs))[0])  # (B, T, 3); padded steps are ignored


def token_loss(model, batch):
    return masked_cross_entropy(
        model(batch["inputs"], batch["lengths"]), batch["targets"]
    )  # mean over tokens


def loader():
    rng = random.Random(0)
    items = []
    for _ in range(45):  # 45 = 5 * 8 + 5: a short batch
        ids = [rng.randrange(1, 20) for _ in range(rng.randint(1, 12))]
        items.append((ids, [i % 3 for i in ids]))
    sampler = BucketBatchSampler([len(ids) for ids, _ in items], batch_size=8, seed=0)
    return DataLoader(items, batch_sampler=sampler, collate_fn=collate_tagging)


def train(micro_batch_size=None, units=None):
    torch.manual_seed(0)
    model = Tagger()
    config = TrainConfig(max_steps=20, lr=0.01, device="cpu", mixed_precision="off", restore_best=False)
    data, parallel = loader(), None
    if micro_batch_size is not None:
        data = ShardedLoader(data, 0, 1, micro_batch_size)
        parallel = DataParallelStep(None, units)
    Trainer(model, config, token_loss, parallel=parallel).fit(data)
    return {name: value.detach().clone() for name, value in model.state_dict().items()}


def test_micro_batches_weighted_by_their_tokens_equal_the_whole_batch():
    whole = train()
    tokens = train(micro_batch_size=3, units=lambda batch: int(batch["lengths"].sum()))
    assert max_difference(whole, tokens) < TOLERANCE
    naive = train(micro_batch_size=3, units=lambda batch: 1)  # the mean of the micro-batch means
    assert max_difference(whole, naive) > 100 * TOLERANCE  # the tolerance tells the two apart


def test_the_sharded_loader_cuts_each_global_batch_into_micro_batches():
    data = ShardedLoader(loader(), 0, 1, 3)
    steps = list(data)
    assert len(steps) == len(data) == 6
    assert all(isinstance(step, StepBatch) and not step.padding for step in steps)
    assert [step.global_size for step in steps].count(5) == 1
    assert all(len(part["lengths"]) <= 3 for step in steps for part in step.parts)
    assert sum(len(part["lengths"]) for step in steps for part in step.parts) == 45
    with pytest.raises(TypeError, match="needs a DataLoader with a batch sampler"):
        ShardedLoader([1, 2], 0, 1, None)


def test_train_micro_batch_size_gives_the_same_run(tmp_path):
    config = write_classification(tmp_path)
    config["train"]["max_steps"] = 12
    runs = {}
    for micro in (None, 3):
        from rnnkit.config import from_dict
        from rnnkit.tasks.base import RunConfig

        changed = {**config, "train": {**config["train"], "micro_batch_size": micro}}
        runs[micro] = fit(
            from_dict(RunConfig, changed, "test"), run_dir=tmp_path / f"run-{micro}", quiet=True
        )
    assert max_difference(weights(runs[None].run_dir), weights(runs[3].run_dir)) < TOLERANCE
    assert runs[3].results["train"]["global_batch_size"] == 8
