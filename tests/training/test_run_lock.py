"""One writer per run folder: a live holder (a real second process) refuses a second training naming its
pid; the lock of a killed process is cleared with a note."""

import json
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from rnnkit.errors import UserError
from rnnkit.tasks import fit
from rnnkit.training.run_lock import LOCK, RunLockedError, acquire, release, run_lock

ROOT = Path(__file__).resolve().parents[2]
HOLD = (
    "import sys; from rnnkit.training.run_lock import run_lock\n"
    "with run_lock(sys.argv[1]):\n"
    "    print('held', flush=True); sys.stdin.read()\n"
)


@pytest.fixture
def holder(tmp_path):
    """A real process holding the lock of ``tmp_path / 'run'`` until its stdin closes."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(tmp_path / "run")],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env,
    )  # fmt: skip
    assert proc.stdout.readline() == "held\n"
    yield proc
    if proc.poll() is None:
        proc.stdin.close()
        proc.wait(timeout=30)


def tiny_config(tmp_path) -> Path:
    rows = [(f"good great fine {i}", "pos") for i in range(12)] + [
        (f"bad awful {i}", "neg") for i in range(12)
    ]
    (tmp_path / "data.tsv").write_text(
        "text\tlabel\n" + "".join(f"{t}\t{y}\n" for t, y in rows), encoding="utf-8"
    )
    config = tmp_path / "run.yaml"
    config.write_text(yaml.safe_dump({
        "task": "classification",
        "data": {"dataset": "table", "path": str(tmp_path / "data.tsv"), "tokenizer": "word"},
        "model": {"rnn": {"cell": "gru", "hidden_size": 4}, "embedding_dim": 4},
        "train": {"epochs": 1, "batch_size": 8, "device": "cpu"},
    }))  # fmt: skip
    return config


def test_a_second_training_into_a_held_run_folder_is_refused_naming_the_pid(tmp_path, holder):
    run = tmp_path / "run"
    lock = json.loads((run / LOCK).read_text())
    assert lock["pid"] == holder.pid and lock["host"] == socket.gethostname() and lock["started"] > 0
    with pytest.raises(RunLockedError) as caught:
        fit(tiny_config(tmp_path), run_dir=run, quiet=True)
    assert isinstance(caught.value, UserError)
    message = str(caught.value)
    assert f"{run}: another rnnkit is writing into this run folder (pid {holder.pid} on " in message
    assert f"delete {run / LOCK}" in message
    assert not (run / "checkpoints").exists() and (run / LOCK).exists()  # nothing written; theirs kept
    holder.stdin.close()
    holder.wait(timeout=30)
    assert not (run / LOCK).exists()  # the holder released it
    result = fit(tiny_config(tmp_path), run_dir=run, quiet=True)
    assert "test_accuracy" in result.results and not (run / LOCK).exists()


def test_the_stale_lock_of_a_killed_process_is_cleared_with_a_note(tmp_path, holder, capsys):
    run = tmp_path / "run"
    holder.send_signal(signal.SIGKILL)
    holder.wait(timeout=30)
    assert (run / LOCK).exists()  # kill -9: it could not release it
    with run_lock(run):
        assert json.loads((run / LOCK).read_text())["pid"] == os.getpid()
    err = capsys.readouterr().err
    assert f"cleared a stale lock of pid {holder.pid} on {socket.gethostname()}, no longer running" in err
    assert not (run / LOCK).exists()


def test_a_lock_of_another_host_is_never_cleared(tmp_path):
    (tmp_path / LOCK).write_text(json.dumps({"pid": 1, "host": "elsewhere.example", "started": 0}))
    with pytest.raises(RunLockedError, match="pid 1 on elsewhere.example"):
        acquire(tmp_path)
    path = tmp_path / LOCK
    release(path)  # not ours: kept
    assert path.exists()
