"""A run folder is data, never code: a pickle that would run code, planted under every file name rnnkit
reads from a run folder, is never executed by predict, evaluate or a resume; absurd sizes are refused
before allocation; names in a manifest or latest.json cannot leave their folder."""

import json
import pickle
import shutil
from functools import partial

import pytest
import torch

from rnnkit.cli.main import main
from rnnkit.tasks.runner import evaluate, fit, load_run, predict
from rnnkit.training.checkpoint import load_checkpoint, resume
from rnnkit.training.manifest import MANIFEST, CheckpointCorruptError, write_manifest
from rnnkit.training.optim import build_optimizer, build_scheduler

TINY = ["model.rnn.hidden_size=8", "model.embedding_dim=8", "train.batch_size=8", "train.epochs=2"]


class Payload:
    """Unpickling this creates the marker file: proof that code ran."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    root = tmp_path_factory.mktemp("untrusted")
    rows = [(f"good great {i}", "pos") for i in range(20)] + [(f"bad awful {i}", "neg") for i in range(20)]
    (root / "train.csv").write_text("text,label\n" + "".join(f"{t},{y}\n" for t, y in rows), encoding="utf-8")
    args = ["train", "--task", "classification", "--train", str(root / "train.csv"), "-o", str(root / "run"),
            "--quiet", *[a for s in TINY for a in ("--set", s)]]  # fmt: skip
    assert main(args) == 0
    return root / "run"


def files_read(run):
    return sorted(
        str(p.relative_to(run)) for p in run.rglob("*") if p.suffix in (".json", ".yaml", ".safetensors")
    )


def plant(run, tmp_path, name, kind):
    """A copy of ``run`` with ``name`` replaced by a code-running pickle (plain, or in torch.save's zip)."""
    copy = tmp_path / "copy"
    shutil.copytree(run, copy)
    marker = tmp_path / "PWNED"
    target = copy / name
    if kind == "pickle":
        target.write_bytes(pickle.dumps(Payload(marker)))
    else:
        torch.save({"w": Payload(marker)}, target)
    if name.startswith("checkpoints/step-") and not name.endswith(MANIFEST):
        write_manifest(
            target.parent
        )  # the attacker rewrites the manifest too: the loaders themselves must refuse
    return copy, marker


@pytest.mark.parametrize("kind", ["pickle", "torch.save"])
def test_no_planted_pickle_runs_under_any_file_name(run, tmp_path, kind):
    names = files_read(run)
    assert {
        "run.yaml",
        "task.json",
        "model/model.safetensors",
        "model/config.json",
        "checkpoints/latest.json",
    } <= set(names)
    assert any(n.endswith("optimizer.safetensors") for n in names) and any(
        n.endswith("rng.safetensors") for n in names
    )
    for name in names:
        copy, marker = plant(run, tmp_path / name.replace("/", "_"), name, kind)
        for use in (partial(predict, copy, ["good great"]), partial(evaluate, copy), partial(load_all, copy)):
            try:
                use()
            except Exception:  # refused: fine, as long as nothing ran
                pass
            assert not marker.exists(), f"code ran from a planted {kind} at {name}"


def load_all(run):
    """What ``rnnkit train --resume`` loads: the run, then each checkpoint into model, optimizer, schedule."""
    task, model = load_run(run)
    optimizer = build_optimizer(model, task.train)
    for step in sorted((run / "checkpoints").glob("step-*")):
        load_checkpoint(step, model, optimizer, build_scheduler(optimizer, task.train, 10), restore_rng=False)


def test_a_resume_refuses_a_planted_checkpoint_and_runs_nothing(run, tmp_path, capsys):
    copy, marker = plant(run, tmp_path, "checkpoints/latest.json", "pickle")
    newest = max((copy / "checkpoints").glob("step-*"), key=lambda p: int(p.name[5:]))
    (newest / "optimizer.safetensors").write_bytes(pickle.dumps(Payload(marker)))  # manifest now mismatched
    result = fit(None, run_dir=copy, resume_run=True, quiet=True)
    assert not marker.exists() and result.results["task"] == "classification"
    assert f"checkpoint {newest} is damaged" in capsys.readouterr().err


def test_absurd_sizes_are_refused_before_allocation(run, tmp_path):
    copy = tmp_path / "copy"
    shutil.copytree(run, copy)
    with open(copy / "task.json", "ab") as handle:
        handle.truncate(65 * 2**20)  # sparse: no real disk used
    with pytest.raises(CheckpointCorruptError, match=r"task.json: 68157440 bytes, more than the"):
        predict(copy, ["good"])
    shutil.copy(run / "task.json", copy / "task.json")
    weights = copy / "model" / "model.safetensors"
    weights.write_bytes((2**40).to_bytes(8, "little") + b"{}")
    with pytest.raises(CheckpointCorruptError, match="safetensors header of 1099511627776 bytes"):
        predict(copy, ["good"])


def test_names_in_latest_json_and_manifests_cannot_leave_their_folder(run, tmp_path):
    copy = tmp_path / "copy"
    shutil.copytree(run, copy)
    (copy / "checkpoints" / "latest.json").write_text(json.dumps({"step": 1, "path": "../../../etc"}))
    step = max((copy / "checkpoints").glob("step-*"), key=lambda p: int(p.name[5:]))
    manifest = json.loads((step / MANIFEST).read_text())
    manifest["files"]["../../run.yaml"] = {"size": 1, "sha256": "0"}
    (step / MANIFEST).write_text(json.dumps(manifest))
    holder = type("T", (), {})()
    task, holder.model = load_run(copy)
    holder.optimizer = build_optimizer(holder.model, task.train)
    holder.scheduler = build_scheduler(holder.optimizer, task.train, 10)
    holder.load_state_dict = lambda state: None
    found = resume(holder, copy)
    assert (
        found.parent == copy / "checkpoints" and found != step
    )  # the pointer ignored, the bad manifest refused
