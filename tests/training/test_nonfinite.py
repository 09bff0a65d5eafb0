"""train.on_nonfinite: a NaN / inf loss or gradient stops the run naming the step and the last good
checkpoint (stop), or skips that update and counts it in the metrics log (skip_batch)."""

import dataclasses
import math

import pytest
import torch
from torch.utils.data import DataLoader

from rnnkit.config import ConfigError, load_config
from rnnkit.errors import UserError
from rnnkit.training.callbacks import CheckpointCallback, JsonlLogger, read_jsonl
from rnnkit.training.config import TrainConfig
from rnnkit.training.trainer import NonFiniteError, Trainer
from tests.training.test_trainer import make_data, make_model, mse, one_thread  # noqa: F401 (autouse)

CONFIG = TrainConfig(epochs=2, lr=0.01, eval_every="epoch", log_every=1, seed=3, device="cpu")


def poisoned_loaders(value: float = math.inf, where: str = "target"):
    """8 batches of 8 in order; example 20 (batch 3 of each epoch) has ``value`` in its target (the loss
    is not finite) or its input (the GRU saturates: the loss is finite, its gradient NaN)."""
    data = make_data(64, 0)
    if where == "target":
        data.tensors[1][20] = value
    else:
        data.tensors[0][20, 2, 1] = value
    return DataLoader(data, batch_size=8), DataLoader(make_data(16, 1), batch_size=16)


def fit(config, tmp_path, loss=mse, value=math.inf, where="target"):
    callbacks = [JsonlLogger(tmp_path / "metrics.jsonl"), CheckpointCallback(tmp_path, every_steps=1)]
    trainer = Trainer(make_model(), config, loss, callbacks=callbacks)
    train_loader, val_loader = poisoned_loaders(value, where)
    return trainer, trainer.fit(train_loader, val_loader)


@pytest.mark.parametrize(
    "where, value, what",
    [
        ("target", math.inf, "loss is inf"),
        ("target", math.nan, "loss is nan"),
        ("input", math.inf, "gradient norm is nan"),
    ],
)
def test_stop_names_the_step_and_the_last_good_checkpoint(tmp_path, where, value, what):
    with pytest.raises(NonFiniteError) as caught:
        fit(CONFIG, tmp_path, value=value, where=where)
    message = str(caught.value)
    assert isinstance(caught.value, UserError)
    assert message.startswith(f"step 3: the {what}; ")
    assert f"the last good checkpoint is {tmp_path / 'checkpoints' / 'step-2'}" in message
    assert "train.on_nonfinite=skip_batch" in message


def test_stop_on_a_nan_gradient_with_a_finite_loss(tmp_path):
    def sqrt_of_zero(model, batch):  # loss 0, but d sqrt(u)/du at 0 is inf: the gradient is NaN
        return torch.sqrt((model(batch[0]) - batch[1]).pow(2).mean() * 0)

    with pytest.raises(NonFiniteError, match=r"^step 1: the gradient norm is nan; no checkpoint was saved"):
        fit(CONFIG, tmp_path, loss=sqrt_of_zero)


def test_skip_batch_skips_the_update_and_counts_it_in_the_metrics_log(tmp_path):
    trainer, result = fit(dataclasses.replace(CONFIG, on_nonfinite="skip_batch"), tmp_path)
    assert result.steps == 16 and trainer.state.skipped_batches == 2  # batch 3 of both epochs
    assert all(torch.isfinite(p).all() for p in trainer.model.parameters())
    records = read_jsonl(tmp_path / "metrics.jsonl")
    train = {r["step"]: r for r in records if r["event"] == "train"}
    assert train[3]["loss"] is None and train[3]["skipped_batches"] == 1
    assert train[2]["skipped_batches"] == 0 and train[11]["skipped_batches"] == 2
    assert records[-1]["event"] == "end" and records[-1]["skipped_batches"] == 2


def test_a_skipped_batch_changes_no_weight(tmp_path):
    config = dataclasses.replace(CONFIG, on_nonfinite="skip_batch", epochs=1, max_steps=3, lr=0.1)
    before = {}

    class Keep(CheckpointCallback):
        def on_step_end(self, trainer, step, loss, lr, batch_size):
            before[step] = {k: v.clone() for k, v in trainer.model.state_dict().items()}

    trainer = Trainer(make_model(), config, mse, callbacks=[Keep(tmp_path)])
    trainer.fit(*poisoned_loaders())
    assert all(torch.equal(before[2][k], before[3][k]) for k in before[2])
    assert not all(torch.equal(before[1][k], before[2][k]) for k in before[1])


def test_on_nonfinite_is_checked(tmp_path):
    with pytest.raises(
        ValueError, match=r"TrainConfig\.on_nonfinite must be one of \('stop', 'skip_batch'\)"
    ):
        TrainConfig(on_nonfinite="ignore")
    (tmp_path / "train.yaml").write_text("on_nonfinite: skip_batch\n")
    assert load_config(TrainConfig, tmp_path / "train.yaml").on_nonfinite == "skip_batch"
    (tmp_path / "train.yaml").write_text("on_nonfinite: skip\n")
    with pytest.raises((ConfigError, ValueError), match="on_nonfinite"):
        load_config(TrainConfig, tmp_path / "train.yaml")
