"""Crash safety of checkpoints: manifests verified on resume, fallback past damaged files, a full disk."""

import errno
import json
import types

import pytest
import torch

from rnnkit.errors import UserError
from rnnkit.training.checkpoint import (
    CheckpointWriteError,
    good_checkpoint,
    latest_checkpoint,
    resume,
    save_checkpoint,
)
from rnnkit.training.durable import FAULT_ENV, fault_point
from rnnkit.training.manifest import CheckpointCorruptError, check_safetensors, verify_manifest
from tests.training.test_checkpoint import state, trained
from tests.training.test_trainer import one_thread  # noqa: F401 (an autouse fixture)


def two_checkpoints(tmp_path):
    model, opt, sched = trained()
    first = save_checkpoint(tmp_path, model, opt, sched, state(4), keep_last=2)
    trained_more = trained(seed=1)
    second = save_checkpoint(tmp_path, *trained_more, state(8), keep_last=2)
    return first, second


def resumer():
    """What :func:`resume` needs of a trainer: model, optimizer, scheduler, load_state_dict."""
    model, opt, sched = trained(seed=2)
    holder = types.SimpleNamespace(model=model, optimizer=opt, scheduler=sched, loaded=None)
    holder.load_state_dict = lambda s: setattr(holder, "loaded", s)
    return holder


def truncate(path):
    path.write_bytes(path.read_bytes()[:-7])


def flip_bit(path):
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x10
    path.write_bytes(bytes(data))


def remove(path):
    path.unlink()


@pytest.mark.parametrize("damage", [truncate, flip_bit, remove])
@pytest.mark.parametrize(
    "name", ["model.safetensors", "optimizer.safetensors", "trainer.json", "rng.safetensors"]
)
def test_resume_falls_back_past_a_damaged_latest_checkpoint_saying_why(tmp_path, capsys, damage, name):
    first, second = two_checkpoints(tmp_path)
    assert verify_manifest(second) == "verified"
    damage(second / name)
    trainer = resumer()
    assert resume(trainer, tmp_path) == first
    assert trainer.loaded["progress"]["step"] == 4
    err = capsys.readouterr().err
    assert f"checkpoint {second} is damaged: {second / name}" in err
    assert "resuming from the previous checkpoint step-4 instead" in err


def test_every_checkpoint_damaged_is_a_clear_error(tmp_path):
    first, second = two_checkpoints(tmp_path)
    flip_bit(first / "model.safetensors")
    (second / "manifest.json").write_text('{"format": 1, "files": {"../../run.yaml": {"size": 1}}}')
    with pytest.raises(CheckpointCorruptError, match=r"points outside .*sha256 differs") as caught:
        good_checkpoint(tmp_path)
    assert isinstance(caught.value, UserError)


def test_a_checkpoint_without_manifest_loads_unverified_saying_so(tmp_path, capsys):
    _, second = two_checkpoints(tmp_path)
    (second / "manifest.json").unlink()  # as written by rnnkit before manifests
    assert resume(resumer(), tmp_path) == second
    assert "has no manifest.json (an older rnnkit wrote it): loaded unverified" in capsys.readouterr().err


@pytest.mark.parametrize("count", [1, 2, 3])
def test_a_full_disk_leaves_the_previous_checkpoint_intact_and_stops_clearly(tmp_path, monkeypatch, count):
    first, second = two_checkpoints(tmp_path)
    root = tmp_path / "checkpoints"
    before = {p.relative_to(root): p.read_bytes() for p in root.rglob("*") if p.is_file()}
    monkeypatch.setenv(FAULT_ENV, f"checkpoint:{count}:enospc")  # our own hook: the write raises ENOSPC
    fault_point.__globals__["_hits"].clear()
    with pytest.raises(
        CheckpointWriteError,
        match=r"step-12 \(No space left.*previous checkpoint .*step-8 is "
        r"intact; the disk is full: free some space, then `rnnkit train --resume",
    ) as caught:
        save_checkpoint(tmp_path, *trained(seed=3), state(12), keep_last=2)
    assert isinstance(caught.value, UserError) and caught.value.__cause__.errno == errno.ENOSPC
    after = {p.relative_to(root): p.read_bytes() for p in root.rglob("*") if p.is_file()}
    assert after == before and latest_checkpoint(tmp_path) == second


def test_a_save_killed_midway_leaves_a_temp_dir_that_the_next_save_removes(tmp_path):
    first, _ = two_checkpoints(tmp_path)
    root = tmp_path / "checkpoints"
    (root / ".step-9.abc.tmp").mkdir()
    (root / ".step-9.abc.tmp" / "model.safetensors").write_bytes(b"half")
    save_checkpoint(tmp_path, *trained(), state(12), keep_last=2)
    assert sorted(p.name for p in root.iterdir()) == ["latest.json", "step-12", "step-8"]


def test_absurd_safetensors_header_is_refused_before_allocation(tmp_path):
    bad = tmp_path / "model.safetensors"
    bad.write_bytes((2**62).to_bytes(8, "little") + b"{}")
    with pytest.raises(CheckpointCorruptError, match="header of 4611686018427387904 bytes in a file of 10"):
        check_safetensors(bad)
    header = json.dumps({"w": {"dtype": "F32", "shape": [2**40], "data_offsets": [0, 2**42]}}).encode()
    bad.write_bytes(len(header).to_bytes(8, "little") + header + b"\0" * 8)
    with pytest.raises(CheckpointCorruptError, match="tensor 'w' lies past the end"):
        check_safetensors(bad)
    from safetensors.torch import save_file

    save_file({"w": torch.zeros(3)}, str(bad))
    check_safetensors(bad)
