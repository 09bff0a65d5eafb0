"""Checkpoints: safetensors + JSON only, exact round trip, atomic saves, keep_last, latest pointer."""

import json
import random
from dataclasses import dataclass

import numpy as np
import pytest
import torch
from safetensors import safe_open
from torch import nn

from rnnkit.models.io import MODELS, load_model, register_model
from rnnkit.training.checkpoint import (
    checkpoint_info,
    latest_checkpoint,
    load_checkpoint,
    merge_tensors,
    save_checkpoint,
    split_tensors,
)
from rnnkit.training.config import TrainConfig
from rnnkit.training.optim import build_optimizer, build_scheduler
from tests.training.test_trainer import make_model, one_thread  # noqa: F401 (an autouse fixture)


def trained(seed=0, optimizer="adamw", steps=3):
    """A model, optimizer and schedule after a few real steps (so the optimizer has state)."""
    model = make_model(seed)
    config = TrainConfig(optimizer=optimizer, lr=0.01, schedule="cosine", warmup_steps=2)
    opt = build_optimizer(model, config)
    sched = build_scheduler(opt, config, 10)
    for _ in range(steps):
        x = torch.randn(4, 5, 3)
        loss = model(x).pow(2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
    return model, opt, sched


def state(step, **more):
    return {"progress": {"step": step, "epoch": 0}, **more}


def test_files_are_safetensors_and_json_only(tmp_path):
    model, opt, sched = trained()
    best = {k: v.clone() for k, v in model.state_dict().items()}
    path = save_checkpoint(tmp_path, model, opt, sched, state(3, best_weights=best), extra={"data": "x"})
    assert path == tmp_path / "checkpoints" / "step-3"
    names = sorted(p.name for p in path.iterdir())
    assert names == [
        "manifest.json", "model.safetensors", "optimizer.json", "optimizer.safetensors", "rng.safetensors",
        "trainer.json", "trainer.safetensors",
    ]  # fmt: skip
    for file in path.iterdir():
        if file.suffix == ".json":
            json.loads(file.read_text())
        else:
            with safe_open(str(file), "pt") as f:
                assert list(f.keys())
    with safe_open(str(path / "optimizer.safetensors"), "pt") as f:
        assert "state.0.exp_avg" in f.keys() and "state.0.step" in f.keys()
    assert json.loads((tmp_path / "checkpoints" / "latest.json").read_text()) == {"step": 3, "path": "step-3"}
    assert checkpoint_info(tmp_path)["extra"] == {"data": "x"}


@pytest.mark.parametrize("optimizer", ["adamw", "sgd"])
def test_round_trip_restores_weights_optimizer_schedule_rng_and_state(tmp_path, optimizer):
    model, opt, sched = trained(optimizer=optimizer)
    best = {k: v + 1 for k, v in model.state_dict().items()}
    progress = {"step": 3, "epoch": 1, "best_metric": 0.25, "history": [{"step": 2, "val_loss": 0.25}]}
    save_checkpoint(tmp_path, model, opt, sched, {"progress": progress, "best_weights": best, "scaler": None})
    expected = (torch.rand(3), random.random(), np.random.rand())  # the draws right after the save

    model2, opt2, sched2 = trained(seed=1, optimizer=optimizer, steps=1)
    torch.manual_seed(99), random.seed(99), np.random.seed(99)
    trainer_state = load_checkpoint(tmp_path, model2, opt2, sched2)
    got = (torch.rand(3), random.random(), np.random.rand())
    assert torch.equal(got[0], expected[0]) and got[1:] == expected[1:]
    for name, value in model.state_dict().items():
        assert torch.equal(model2.state_dict()[name], value), name
    a, b = opt.state_dict(), opt2.state_dict()
    assert a["param_groups"] == b["param_groups"]
    for index, entries in a["state"].items():
        for key, value in entries.items():
            assert torch.equal(b["state"][index][key], value), (index, key)
    assert sched2.state_dict() == sched.state_dict()
    assert trainer_state["progress"] == progress and trainer_state["scaler"] is None
    assert all(torch.equal(trainer_state["best_weights"][k], v) for k, v in best.items())


def test_failed_save_leaves_previous_checkpoint_and_latest_intact(tmp_path):
    model, opt, sched = trained()
    good = save_checkpoint(tmp_path, model, opt, sched, state(3))
    root = tmp_path / "checkpoints"
    before = {p.relative_to(root): p.read_bytes() for p in root.rglob("*") if p.is_file()}
    with pytest.raises(TypeError, match="not JSON serializable"):  # fails before any file is written
        save_checkpoint(tmp_path, model, opt, sched, state(4), extra={"bad": object()})
    opt.param_groups[0]["note"] = object()  # fails after model.safetensors is in the temp directory
    with pytest.raises(TypeError, match="not JSON serializable"):
        save_checkpoint(tmp_path, model, opt, sched, state(4))
    with pytest.raises(TypeError):  # the same step saved again, failing: the old one must survive
        save_checkpoint(tmp_path, model, opt, sched, state(3))
    after = {p.relative_to(root): p.read_bytes() for p in root.rglob("*") if p.is_file()}
    assert after == before  # no temp directories left, nothing changed
    assert latest_checkpoint(tmp_path) == good


def test_keep_last_and_resaving_a_step(tmp_path):
    model, opt, sched = trained()
    for step in (1, 2, 3, 4, 5):
        save_checkpoint(tmp_path, model, opt, sched, state(step), keep_last=2)
    root = tmp_path / "checkpoints"
    assert sorted(p.name for p in root.iterdir()) == ["latest.json", "step-4", "step-5"]
    save_checkpoint(tmp_path, model, opt, sched, state(5, note="again"), keep_last=2)
    assert sorted(p.name for p in root.iterdir()) == ["latest.json", "step-4", "step-5"]
    assert checkpoint_info(tmp_path)["trainer"]["note"] == "again"
    with pytest.raises(ValueError, match="keep_last"):
        save_checkpoint(tmp_path, model, opt, sched, state(6), keep_last=0)


def test_latest_checkpoint_falls_back_to_the_highest_complete_step(tmp_path):
    assert latest_checkpoint(tmp_path) is None
    model, opt, sched = trained()
    for step in (7, 12):
        save_checkpoint(tmp_path, model, opt, sched, state(step))
    root = tmp_path / "checkpoints"
    (root / "latest.json").write_text('{"step": 99, "path": "step-99"}')
    (root / "step-40").mkdir()  # incomplete: no trainer.json
    assert latest_checkpoint(tmp_path) == root / "step-12"
    (root / "latest.json").write_text("{not json")
    assert latest_checkpoint(tmp_path) == root / "step-12"
    assert checkpoint_info(root / "step-7")["step"] == 7  # a step directory works directly
    with pytest.raises(FileNotFoundError, match="no checkpoint"):
        load_checkpoint(tmp_path / "elsewhere", model)


def test_mismatched_model_is_rejected_naming_the_tensors(tmp_path):
    model, opt, sched = trained()
    save_checkpoint(tmp_path, model, opt, sched, state(1))
    bigger = nn.ModuleDict({"extra": nn.Linear(2, 2), **dict(model.named_children())})
    with pytest.raises(
        ValueError, match=r"missing tensors \['extra.bias', 'extra.weight'\], unexpected tensors \[\]"
    ):
        load_checkpoint(tmp_path, bigger)
    smaller = nn.ModuleDict({k: v for k, v in model.named_children() if k != "head"})
    with pytest.raises(
        ValueError, match=r"missing tensors \[\], unexpected tensors \['head.bias', 'head.weight'\]"
    ):
        load_checkpoint(tmp_path, smaller)


@dataclass(frozen=True)
class TinyConfig:
    size: int = 3


def test_registered_model_checkpoint_is_also_a_saved_model(tmp_path):
    @register_model("test-checkpoint-tiny")
    class Tiny(nn.Module):
        config_class = TinyConfig

        def __init__(self, config):
            super().__init__()
            self.config = config
            self.linear = nn.Linear(config.size, 1)
            self.tied = self.linear  # shared weights are stored once

    try:
        model = Tiny(TinyConfig(4))
        path = save_checkpoint(tmp_path, model, None, None, state(2), extra={"vocab": ["a"]})
        loaded = load_model(path)
        assert torch.equal(loaded.linear.weight, model.linear.weight)
        assert json.loads((path / "config.json").read_text())["extra"] == {"vocab": ["a"]}
    finally:
        MODELS.pop("test-checkpoint-tiny", None)


def test_split_and_merge_tensors_round_trip_and_copy_shared_memory():
    shared = torch.arange(6.0)
    value = {"a": shared, "b": [shared, {"c": shared[2:4]}], "n": 3, "s": "text"}
    plain, tensors = split_tensors(value)
    json.dumps(plain)
    assert sorted(tensors) == ["a", "b.0", "b.1.c"]
    ptrs = {t.untyped_storage().data_ptr() for t in tensors.values()}
    assert len(ptrs) == 3  # each in its own memory, as safetensors requires
    back = merge_tensors(plain, tensors)
    assert torch.equal(back["b"][1]["c"], shared[2:4]) and back["n"] == 3 and back["s"] == "text"
