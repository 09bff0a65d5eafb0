"""A worker of test_distributed.py, run under torchrun: ``ddp_worker.py OUT NAME...``.

For each NAME it trains ``OUT/NAME.yaml`` with :func:`rnnkit.fit` into ``OUT/NAME-ddp`` (every process
calls ``fit``; rank 0 writes the run). Then rank 0 writes ``OUT/NAME-ddp/check.json`` with what the test
asserts:

- ``same_on_every_rank``: every rank ends with the same weights (the gradients were all-reduced; each rank
  saw other examples and other dropout masks, so unsynchronised weights would differ);
- ``sharded`` and ``whole`` (tasks that shard their evaluation): the validation metrics of the final
  weights, evaluated sharded over the ranks and by rank 0 alone over the whole loader.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import torch
import torch.distributed as dist


def main(out: Path, names: list[str]) -> None:
    from rnnkit.tasks.parallel import parallel_evaluation
    from rnnkit.tasks.runner import fit
    from rnnkit.training.distributed import World
    from rnnkit.training.trainer import Trainer

    dist.init_process_group("gloo")  # fit uses this group and leaves it open
    rank, size = dist.get_rank(), dist.get_world_size()
    for name in names:
        result = fit(out / f"{name}.yaml", run_dir=out / f"{name}-ddp", quiet=True)
        model, task = result.model, result.task
        digest = torch.cat([p.detach().flatten() for p in model.state_dict().values()]).double()
        digests = [torch.zeros_like(digest) for _ in range(size)]
        dist.all_gather(digests, digest)
        check = {"same_on_every_rank": all(torch.equal(d, digests[0]) for d in digests)}
        if task.shards_evaluation():
            world = World(rank, rank, size, "gloo", torch.device("cpu"))
            _, val_loader, _ = task.loaders()
            shard, evaluate = parallel_evaluation(task, world, val_loader)
            trainer = Trainer(model, task.train, task.compute_loss, evaluate)
            check["sharded"] = trainer.evaluate(shard)
            check["whole"] = Trainer(model, task.train, task.compute_loss, task.evaluate).evaluate(val_loader)
        if rank == 0:
            (out / f"{name}-ddp" / "check.json").write_text(json.dumps(check), encoding="utf-8")
    dist.destroy_process_group()


if __name__ == "__main__":
    main(Path(sys.argv[1]), sys.argv[2:])
