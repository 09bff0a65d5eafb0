"""train.on_nonfinite (stop names the step and the last good checkpoint; skip_batch skips and counts), and
the run-folder lock against a real second process (a stale lock of a killed one is cleared)."""

import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import replace

import pytest
import torch

from rnnkit.errors import UserError
from rnnkit.training.callbacks import CheckpointCallback
from rnnkit.training.run_lock import LOCK, RunLockedError, acquire, release
from rnnkit.training.trainer import NonFiniteError, Trainer
from tests.training.test_trainer import CONFIG, loaders, make_model, mse, one_thread  # noqa: F401


def poisoned(at_steps, value=float("nan"), where="loss"):
    """``mse``, but NaN (or inf) at the given calls: in the loss itself, or only in the gradient."""
    calls = {"n": 0}

    def loss(model, batch):
        calls["n"] += 1
        out = mse(model, batch)
        if calls["n"] in at_steps and model.training:
            if where == "loss":
                return out * value
            handles = []  # a finite loss, a non-finite gradient: a one-shot hook on the backward pass

            def hook(grad):
                handles.pop().remove()
                return grad * value

            handles.append(model.head.weight.register_hook(hook))
        return out

    return loss


@pytest.mark.parametrize("where", ["loss", "grad"])
def test_stop_names_the_step_and_the_last_good_checkpoint(tmp_path, where):
    train_loader, val_loader = loaders()
    saver = CheckpointCallback(tmp_path, every_steps=3)
    trainer = Trainer(make_model(), CONFIG, poisoned({5}, float("inf"), where), callbacks=[saver])
    what = "loss is inf" if where == "loss" else "gradient norm is"
    with pytest.raises(
        NonFiniteError, match=rf"step 5: the {what}.*last good checkpoint is .*step-3\. Lower"
    ) as e:
        trainer.fit(train_loader, val_loader)
    assert isinstance(e.value, UserError) and "train.on_nonfinite=skip_batch" in str(e.value)


def test_skip_batch_skips_the_update_and_counts_it():
    train_loader, val_loader = loaders()
    config = replace(CONFIG, on_nonfinite="skip_batch", epochs=1)
    trainer = Trainer(make_model(), config, poisoned({2, 4}, where="grad"))
    before = {}

    class Watch:  # the weights must not move on a skipped step
        def __getattr__(self, name):
            return lambda *a: None

        def on_step_end(self, tr, step, *rest):
            before[step] = tr.model.head.weight.detach().clone()

    trainer.callbacks.append(Watch())
    result = trainer.fit(train_loader, val_loader)
    assert trainer.state.skipped_batches == 2 and result.steps == len(train_loader)
    assert torch.equal(before[1], before[2]) and not torch.equal(before[2], before[3])
    assert all(torch.isfinite(p).all() for p in trainer.model.parameters())


HOLDER = "import sys, time; from rnnkit.training.run_lock import acquire; acquire(sys.argv[1]); print('held', flush=True); time.sleep(60)"


def test_a_second_writer_is_refused_naming_the_holder_and_a_dead_holders_lock_is_cleared(tmp_path):
    env = {**os.environ, "PYTHONPATH": os.getcwd()}
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(tmp_path)], stdout=subprocess.PIPE, env=env, text=True
    )
    try:
        assert holder.stdout.readline().strip() == "held"
        record = json.loads((tmp_path / LOCK).read_text())
        assert record["pid"] == holder.pid and record["host"] and record["started"] <= time.time()
        with pytest.raises(
            RunLockedError, match=rf"another rnnkit is writing into this run folder \(pid {holder.pid} on"
        ):
            acquire(tmp_path)
    finally:
        holder.send_signal(signal.SIGKILL)  # dies holding the lock: a stale lock is left
        holder.wait()
    assert json.loads((tmp_path / LOCK).read_text())["pid"] == holder.pid
    mine = acquire(tmp_path)  # the dead process's lock is cleared
    assert json.loads(mine.read_text())["pid"] == os.getpid()
    release(mine)
    assert not mine.exists()
