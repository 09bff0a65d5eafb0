"""Real processes (torchrun, gloo, 2 processes on this machine): 2 processes at a global batch B give the
1-process parameters; every task and variant trains under DistributedDataParallel; the sharded evaluation
equals the whole one exactly; dropout runs are reproducible; a run resumes at another world size; a
killed worker is restarted from the checkpoint; a silent peer ends the job within its timeout."""

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
import torch.distributed as dist

from rnnkit.tasks.runner import fit
from rnnkit.training.callbacks import read_jsonl
from rnnkit.training.checkpoint import latest_checkpoint
from tests.training import distributed_runs as runs

pytestmark = pytest.mark.skipif(
    not (dist.is_available() and dist.is_gloo_available()), reason="torch.distributed with gloo is not built"
)
# float32 sums in another order over 20 Adam steps of lr 0.01 (measured <= 2.3e-6; a wrong loss weighting
# moves the weights by ~3e-2): see docs/distributed.md
TOLERANCE = 2e-5
WORKER = Path(__file__).with_name("ddp_worker.py")
EQUAL = ("classification", "tagging")  # trained 20 steps by 1 and by 2 processes


def fused_available() -> bool:
    from rnnkit.fused.extension import disabled_reason, load

    return disabled_reason() is None and load() is not None


def variants(folder: Path) -> dict[str, dict]:
    """Every run the worker trains: the two equivalence runs (20 steps, no regularisers), two identical
    runs with every dropout-like regulariser on, and 3 steps of every other task and variant."""
    found = {"classification": runs.write_classification(folder), "tagging": runs.write_tagging(folder)}
    regularised = runs.write_classification(
        folder, rnn={"layer_norm": True, "recurrent_dropout": 0.2, "zoneout": 0.1}, embedding_dropout=0.2,
        dropout=0.2,
    )  # fmt: skip
    found["regularised-a"] = found["regularised-b"] = regularised
    short = {
        "weight-drop": runs.write_classification(
            folder, rnn={"weight_drop": 0.3, "num_layers": 2, "dropout": 0.2}
        ),
        "crf": runs.write_tagging(folder, crf=True),
        "translation": runs.write_translation(folder),
        "language-model": runs.write_language_model(folder),
        "forecasting": runs.write_forecasting(folder),
        "series-classification": runs.write_series_classification(folder),
    }
    short["crf"]["data"]["word_dropout"] = 0.1
    if fused_available():
        short["fused"] = runs.write_classification(folder, rnn={"cell": "gru", "impl": "fused"})
    for config in short.values():
        config["train"]["max_steps"] = 3
    return {**found, **short}


@pytest.fixture(scope="module")
def configs(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("distributed")
    for name, config in variants(folder).items():
        runs.save(config, folder / f"{name}.yaml")
    return folder


@pytest.fixture(scope="module")
def ddp(configs) -> Path:
    """Every variant trained by 2 processes in one torchrun job (one start-up for all)."""
    names = sorted(p.stem for p in configs.glob("*.yaml"))
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node=2",
               str(WORKER), str(configs), *names]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, env=runs.environment(), timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    return configs


@pytest.fixture(scope="module")
def single(configs) -> Path:
    """The equivalence runs trained by this one process."""
    for name in EQUAL:
        fit(configs / f"{name}.yaml", run_dir=configs / f"{name}-1", quiet=True)
    return configs


@pytest.mark.parametrize("name", EQUAL)
def test_two_processes_at_half_the_batch_each_give_the_one_process_weights(ddp, single, name):
    one, two = runs.weights(single / f"{name}-1"), runs.weights(ddp / f"{name}-ddp")
    assert runs.max_difference(one, two) < TOLERANCE
    results = json.loads((ddp / f"{name}-ddp" / "results.json").read_text())
    assert results["train"]["processes"] == 2 and results["train"]["steps"] == 20


def test_every_task_and_variant_trains_under_ddp_with_all_ranks_in_step(ddp):
    checks = {p.parent.name: json.loads(p.read_text()) for p in ddp.glob("*-ddp/check.json")}
    assert len(checks) == len(list(ddp.glob("*.yaml")))
    assert {name: check["same_on_every_rank"] for name, check in checks.items()} == dict.fromkeys(
        checks, True
    )


def test_the_sharded_evaluation_equals_the_whole_one_exactly(ddp):
    checks = [json.loads(p.read_text()) for p in ddp.glob("*-ddp/check.json")]
    sharded = [check for check in checks if "sharded" in check]
    assert len(sharded) >= 5  # classification (and its variants), tagging, forecasting, series
    for check in sharded:
        assert check["sharded"] == check["whole"]


def test_dropout_zoneout_and_recurrent_dropout_runs_are_reproducible(ddp):
    first, second = runs.weights(ddp / "regularised-a-ddp"), runs.weights(ddp / "regularised-b-ddp")
    assert all(torch.equal(first[name], second[name]) for name in first)


def test_a_run_resumes_at_another_world_size_with_the_same_remaining_examples(single, tmp_path):
    """1 process to step 4, 2 processes to step 12, 1 process to step 20 (each stop in mid-epoch: an epoch
    is 10 steps) give the weights of 20 steps in one process."""
    run = tmp_path / "run"
    fit(single / "classification.yaml", run_dir=run, overrides=["train.max_steps=4"], quiet=True)
    two = runs.rnnkit("train", "--resume", str(run), "--set", "train.max_steps=12", "-q",
                      "--nproc-per-node", "2", timeout=180)  # fmt: skip
    assert two.returncode == 0, two.stderr[-3000:]
    assert "trained 12 steps" in two.stdout and "on 2 processes (global batch 8)" in two.stdout
    fit(None, run_dir=run, resume_run=True, overrides=["train.max_steps=20"], quiet=True)
    assert runs.max_difference(runs.weights(run), runs.weights(single / "classification-1")) < TOLERANCE
    starts = [r for r in read_jsonl(run / "metrics.jsonl") if r["event"] == "start"]
    assert [(r["step"], r["resumed"]) for r in starts] == [(0, False), (4, True), (12, True)]


# ----- failures: real kills, each test bounded by its own timeouts ---------------------------------------
def children(pid: int) -> list[int]:
    """Live child processes of ``pid`` (from /proc)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid and fields[0] != "Z":
                found.append(int(entry.name))
    return found


def worker(launcher: int, rank: int) -> int:
    """The pid of the worker of global rank ``rank`` that a launcher started."""
    for pid in children(launcher):
        try:
            env = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
        except OSError:
            continue
        if f"RANK={rank}".encode() in env:
            return pid
    raise LookupError(f"no worker of rank {rank} under pid {launcher}")


def wait_for(condition, seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"waited {seconds} s for {what}")
        time.sleep(0.05)


def launch(*args: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "rnnkit", "train", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=runs.environment(), cwd=runs.ROOT)  # fmt: skip


def stop(*processes: subprocess.Popen) -> None:
    """Kill what a test left running: each launcher's workers, then the launcher."""
    for process in processes:
        if process.poll() is None:
            for pid in children(process.pid):
                os.kill(pid, signal.SIGKILL)
            process.kill()
            process.communicate()


def resumed_once(run: Path) -> bool:
    path = run / "metrics.jsonl"
    return path.is_file() and any(r.get("resumed") for r in read_jsonl(path) if r["event"] == "start")


@pytest.mark.timeout(200)
def test_a_killed_worker_restarts_from_the_checkpoint_and_a_second_kill_ends_the_job(configs, tmp_path):
    run = tmp_path / "run"
    job = launch(str(configs / "classification.yaml"), "-o", str(run), "-q", "--nproc-per-node", "2",
                 "--max-restarts", "1", "--set", "train.max_steps=1000000")  # fmt: skip
    try:
        wait_for(lambda: latest_checkpoint(run) is not None, 90, "a first checkpoint")
        os.kill(worker(job.pid, 1), signal.SIGKILL)
        wait_for(lambda: resumed_once(run), 90, "the restarted workers to resume")
        os.kill(worker(job.pid, 1), signal.SIGKILL)  # no restart left: the job ends
        _, err = job.communicate(timeout=60)
    finally:
        stop(job)
    assert job.returncode == 1
    assert "worker rank 1" in err and "killed by SIGKILL after 1 restart(s)" in err
    assert f"rnnkit train --resume {run}" in err


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.mark.timeout(200)
def test_a_silent_peer_on_another_machine_ends_the_job_within_its_timeout(configs, tmp_path):
    """Two 'machines' (two launchers, --nnodes 2 --node-rank K) on this one; machine 1's worker is frozen
    (SIGSTOP: alive, connected, silent), so machine 0's worker times out after --dist-timeout seconds."""
    run, port = tmp_path / "run", free_port()
    common = [str(configs / "classification.yaml"), "-o", str(run), "-q", "--nnodes", "2", "--nproc-per-node",
              "1", "--rdzv-endpoint", f"127.0.0.1:{port}", "--dist-timeout", "8",
              "--set", "train.max_steps=1000000"]  # fmt: skip
    machines = [launch(*common, "--node-rank", str(k)) for k in (0, 1)]
    try:
        wait_for(lambda: latest_checkpoint(run) is not None, 90, "a first checkpoint")
        frozen = worker(machines[1].pid, 1)
        os.kill(frozen, signal.SIGSTOP)
        frozen_at = time.monotonic()
        _, err = machines[0].communicate(timeout=90)
        waited = time.monotonic() - frozen_at
    finally:
        stop(*machines)
    assert machines[0].returncode == 1
    assert "rank 0 of 2: another process of this job died or stopped answering" in err
    assert "worker rank 0" in err  # the launcher's summary
    assert 8 <= waited < 60  # the timeout, then torchrun's shutdown
