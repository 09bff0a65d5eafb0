"""A real training run whose newest checkpoint is damaged resumes from the previous one, saying so, and
ends with the weights of an uninterrupted run; a full disk during a real run stops it clearly."""

import pytest
import yaml

from rnnkit.tasks import fit
from rnnkit.training.checkpoint import CheckpointWriteError, latest_checkpoint
from rnnkit.training.durable import FAULT_ENV, fault_point
from rnnkit.training.manifest import verify_manifest


def config_file(tmp_path):
    rows = [(f"{'x' * (i % 5 + 1)} {i % 3}", f"c{i % 3}") for i in range(48)]
    (tmp_path / "data.tsv").write_text(
        "text\tlabel\n" + "".join(f"{t}\t{y}\n" for t, y in rows), encoding="utf-8"
    )
    config = tmp_path / "run.yaml"
    config.write_text(yaml.safe_dump({
        "task": "classification",
        "data": {"dataset": "table", "path": str(tmp_path / "data.tsv"), "tokenizer": "char"},
        "model": {"rnn": {"cell": "gru", "hidden_size": 6}, "embedding_dim": 6, "dropout": 0.2},
        "train": {"epochs": 3, "batch_size": 8, "lr": 0.01, "device": "cpu", "restore_best": False},
    }))  # fmt: skip
    return config


def flip_bit(path):
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x04
    path.write_bytes(bytes(data))


def truncate(path):
    path.write_bytes(path.read_bytes()[:-9])


@pytest.mark.parametrize(
    ("name", "damage"), [("model.safetensors", flip_bit), ("optimizer.safetensors", truncate)]
)
def test_a_damaged_newest_checkpoint_of_a_real_run_is_passed_over_and_the_result_is_exact(
    tmp_path, capsys, name, damage
):
    config = config_file(tmp_path)
    straight = fit(config, run_dir=tmp_path / "straight", quiet=True)
    run = tmp_path / "stopped"
    fit(config, run_dir=run, quiet=True, overrides=["train.max_steps=7"])  # stops in epoch 2, as a kill would
    newest = latest_checkpoint(run)
    assert newest.name == "step-7" and verify_manifest(newest) == "verified"
    damage(newest / name)
    capsys.readouterr()
    resumed = fit(None, run_dir=run, resume_run=True, quiet=True, overrides=["train.max_steps=null"])
    err = capsys.readouterr().err
    assert f"checkpoint {newest} is damaged: {newest / name}" in err
    assert "resuming from the previous checkpoint step-" in err
    for a, b in zip(straight.model.state_dict().values(), resumed.model.state_dict().values(), strict=True):
        assert (a == b).all()
    assert resumed.results["test_accuracy"] == straight.results["test_accuracy"]


def test_a_full_disk_during_a_real_run_stops_clearly_and_keeps_the_previous_checkpoint(tmp_path, monkeypatch):
    config = config_file(tmp_path)
    run = tmp_path / "run"
    fault_point.__globals__["_hits"].clear()
    monkeypatch.setenv(FAULT_ENV, "checkpoint:5:enospc")  # 3 points a save: the 2nd save, after its optimizer
    with pytest.raises(CheckpointWriteError, match=r"No space left.*intact; the disk is full") as caught:
        fit(config, run_dir=run, quiet=True)
    assert str(latest_checkpoint(run)) in str(caught.value)
    assert verify_manifest(latest_checkpoint(run)) == "verified"
    assert not any(p.name.endswith(".tmp") for p in (run / "checkpoints").iterdir())
    assert not (run / ".lock").exists() and not (run / "results.json").exists()
