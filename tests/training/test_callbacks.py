"""Callbacks: hook order and stop requests, the JSON-lines log, the progress bar, periodic checkpoints."""

import io
import json

import pytest

from rnnkit.config import from_dict
from rnnkit.training.callbacks import Callback, CheckpointCallback, JsonlLogger, ProgressBar, read_jsonl
from rnnkit.training.checkpoint import checkpoint_info
from rnnkit.training.config import TrainConfig
from tests.training.test_trainer import one_thread, train  # noqa: F401 (an autouse fixture)


class Recorder(Callback):
    def __init__(self, stop_at=None, by_flag=False):
        self.calls, self.stop_at, self.by_flag = [], stop_at, by_flag

    def on_train_start(self, trainer):
        self.calls.append(("start", trainer.state.step))

    def on_step_end(self, trainer, step, loss, lr, batch_size):
        self.calls.append(("step", step, batch_size))
        if step == self.stop_at:
            if self.by_flag:
                trainer.should_stop = True
                return None
            return True
        return None

    def on_evaluate(self, trainer, step, metrics):
        self.calls.append(("eval", step, sorted(metrics)))

    def on_epoch_end(self, trainer, epoch):
        self.calls.append(("epoch", epoch, trainer.state.epoch))

    def on_train_end(self, trainer, result):
        self.calls.append(("end", result.steps))


def test_hooks_run_in_order():
    recorder = Recorder()
    train(TrainConfig(epochs=2, eval_every="epoch", device="cpu"), [recorder])
    steps = [("step", s, 8) for s in range(1, 9)]
    steps2 = [("step", s, 8) for s in range(9, 17)]
    assert recorder.calls == [
        ("start", 0), *steps, ("eval", 8, ["val_loss"]), ("epoch", 0, 1),
        *steps2, ("eval", 16, ["val_loss"]), ("epoch", 1, 2), ("end", 16),
    ]  # fmt: skip


@pytest.mark.parametrize("by_flag", [False, True])
def test_a_hook_can_stop_training(by_flag):
    recorder = Recorder(stop_at=5, by_flag=by_flag)
    trainer, result = train(TrainConfig(epochs=3, eval_every=5, device="cpu"), [recorder])
    assert result.steps == 5 and not result.stopped_early
    assert recorder.calls[-2:] == [("step", 5, 8), ("end", 5)]  # stopped before step 5's evaluation
    assert (trainer.state.epoch, trainer.state.batch_in_epoch) == (0, 5)


def strict_json(line):
    def reject(constant):
        raise ValueError(f"not JSON: {constant}")

    return json.loads(line, parse_constant=reject)


def test_jsonl_log_is_valid_json_and_appends_on_resume(tmp_path):
    log = tmp_path / "run" / "log.jsonl"
    nan_after = iter([0.5, float("nan"), 0.4, 0.3, 0.2, 0.1])
    evaluate = lambda model, loader: {"val_loss": next(nan_after), "acc": 1.0}  # noqa: E731
    config = TrainConfig(epochs=3, eval_every=4, log_every=3, device="cpu")
    run = tmp_path / "run"
    train(config, [JsonlLogger(log), CheckpointCallback(run), Recorder(stop_at=10)], evaluate=evaluate)
    first = log.read_text().splitlines()
    train(config, [JsonlLogger(log)], evaluate=evaluate, resume_from=run)
    lines = log.read_text().splitlines()
    records = [strict_json(line) for line in lines]
    assert lines[: len(first)] == first  # appended
    assert [r["resumed"] for r in records if r["event"] == "start"] == [False, True]
    assert [r["step"] for r in records if r["event"] == "train"] == [3, 6, 9, 12, 15, 18, 21, 24]
    evals = [(r["step"], r["val_loss"]) for r in records if r["event"] == "eval"]
    assert evals == [(4, 0.5), (8, None), (12, 0.4), (16, 0.3), (20, 0.2), (24, 0.1)]  # NaN -> null
    train_record = next(r for r in records if r["event"] == "train")
    assert set(train_record) == {
        "event",
        "step",
        "epoch",
        "time",
        "loss",
        "lr",
        "grad_norm",
        "items_per_s",
        "skipped_batches",
    }
    assert [r["epoch"] for r in records if r["event"] == "epoch_end"] == [0, 1, 2]
    assert records[-1]["event"] == "end" and records[-1]["best_step"] == 24


def test_jsonl_resume_drops_records_of_steps_done_again(tmp_path):
    run, log = tmp_path / "run", tmp_path / "run" / "log.jsonl"
    config = TrainConfig(epochs=2, eval_every=4, log_every=1, device="cpu")
    with pytest.raises(RuntimeError):
        train(config, [JsonlLogger(log), CheckpointCallback(run, every_steps=4), Crash(10)])
    train(config, [JsonlLogger(log)], resume_from=run)  # resumes at step 8, before its evaluation
    records = read_jsonl(log)
    assert [r["step"] for r in records if r["event"] == "train"] == list(range(1, 17))
    assert [r["step"] for r in records if r["event"] == "eval"] == [4, 8, 12, 16]


class Crash(Callback):
    def __init__(self, step):
        self.step = step

    def on_step_end(self, trainer, step, loss, lr, batch_size):
        if step == self.step:
            raise RuntimeError("crash")


class Terminal(io.StringIO):
    def isatty(self):
        return True


@pytest.mark.parametrize(
    "file, quiet, shown", [(Terminal, False, True), (io.StringIO, False, False), (Terminal, True, False)]
)
def test_progress_bar_shows_loss_rate_and_metrics_on_a_terminal_only(file, quiet, shown):
    out = file()
    train(TrainConfig(epochs=2, log_every=2, device="cpu"), [ProgressBar(quiet=quiet, file=out)])
    text = out.getvalue()
    if shown:
        for part in ("16/16", "loss=", "lr=", "items_s=", "val_loss=", "epoch 2"):
            assert part in text, part
    else:
        assert text == ""


def test_checkpoint_callback_saves_every_n_steps_and_at_the_end(tmp_path):
    saved = []

    class Watch(Callback):
        def on_step_end(self, trainer, step, loss, lr, batch_size):
            saved.append(sorted(p.name for p in (tmp_path / "checkpoints").glob("step-*")))

    config = TrainConfig(epochs=2, lr=0.02, device="cpu")
    callback = CheckpointCallback(tmp_path, every_steps=3, keep_last=2, extra={"data": {"name": "toy"}})
    train(config, [callback, Watch()])
    assert saved[2] == ["step-3"] and saved[5] == ["step-3", "step-6"] and saved[8] == ["step-6", "step-9"]
    assert sorted(p.name for p in (tmp_path / "checkpoints").glob("step-*")) == ["step-15", "step-16"]
    info = checkpoint_info(tmp_path)
    assert info["step"] == 16 and info["extra"]["data"] == {"name": "toy"}
    assert from_dict(TrainConfig, info["extra"]["train_config"]) == config
    with pytest.raises(ValueError, match="every_steps"):
        CheckpointCallback(tmp_path, every_steps=0)
    with pytest.raises(ValueError, match="keep_last"):
        CheckpointCallback(tmp_path, keep_last=0)
