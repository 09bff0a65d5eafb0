"""Weight averaging (TrainConfig.ema_decay): the average itself, what evaluations see, the final model."""

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from rnnkit.training.averaging import WeightAverage, ema_factor
from rnnkit.training.callbacks import Callback
from rnnkit.training.config import TrainConfig
from rnnkit.training.trainer import Trainer


class Recorder(Callback):
    """The model's own weights after every step, in float64."""

    def __init__(self):
        self.after_step = []

    def on_step_end(self, trainer, step, loss, lr, batch_size):
        self.after_step.append(
            {k: v.detach().double().clone() for k, v in trainer.model.state_dict().items()}
        )


def tiny_run(ema_decay, evaluate=None, restore_best=True):
    torch.manual_seed(0)
    model = nn.Linear(3, 1)
    x = torch.randn(24, 3)
    y = x.sum(1, keepdim=True)
    data = [(x[i : i + 6], y[i : i + 6]) for i in range(0, 24, 6)]  # 4 batches
    mse = lambda model, batch: F.mse_loss(model(batch[0]), batch[1])  # noqa: E731
    config = TrainConfig(
        epochs=5, lr=0.05, device="cpu", ema_decay=ema_decay, restore_best=restore_best, eval_every=4
    )
    initial = {k: v.detach().double().clone() for k, v in model.state_dict().items()}
    recorder = Recorder()
    trainer = Trainer(model, config, mse, evaluate=evaluate, callbacks=[recorder])
    trainer.fit(data, val_loader=data if evaluate else None)
    return trainer, initial, recorder.after_step


def hand_average(decay, initial, after_step):
    """a_n = d_n a_(n-1) + (1 - d_n) w_n with d_n = min(decay, (1 + n) / (10 + n)), a_0 = the initial weights."""
    average = dict(initial)
    for n, weights in enumerate(after_step, start=1):
        d = min(decay, (1 + n) / (10 + n))
        average = {k: d * average[k] + (1 - d) * weights[k] for k in average}
    return average


def test_the_average_equals_the_hand_computed_one_and_is_the_final_model():
    trainer, initial, after_step = tiny_run(0.9, restore_best=False)
    assert len(after_step) == 20
    expected = hand_average(0.9, initial, after_step)
    for name, value in expected.items():
        torch.testing.assert_close(trainer.average.weights[name].double(), value, rtol=1e-5, atol=1e-6)
        torch.testing.assert_close(trainer.model.state_dict()[name].double(), value, rtol=1e-5, atol=1e-6)
    assert trainer.average.updates == 20
    assert not torch.allclose(expected["weight"], after_step[-1]["weight"])  # an average, not the last


def test_evaluations_see_the_average_and_training_goes_on_from_the_own_weights():
    seen = []

    def evaluate(model, loader):
        seen.append({k: v.detach().double().clone() for k, v in model.state_dict().items()})
        return {"val_loss": float(sum(F.mse_loss(model(x), y) for x, y in loader))}

    trainer, initial, after_step = tiny_run(0.9, evaluate=evaluate)
    plain, _, plain_steps = tiny_run(None)
    for own, reference in zip(after_step, plain_steps):  # averaging never changes the training steps
        torch.testing.assert_close(own["weight"], reference["weight"], rtol=0, atol=0)
    assert len(seen) == 5
    for k, weights in enumerate(seen, start=1):  # an evaluation every 4 steps
        expected = hand_average(0.9, initial, after_step[: 4 * k])
        torch.testing.assert_close(weights["weight"], expected["weight"], rtol=1e-5, atol=1e-6)
    best = trainer.state.best_step // 4
    torch.testing.assert_close(trainer.model.weight.double(), seen[best - 1]["weight"], rtol=0, atol=0)


def test_factor_warm_up_state_round_trip_and_bad_values():
    assert ema_factor(0.999, 1) == pytest.approx(2 / 11)
    assert ema_factor(0.9, 1000) == 0.9
    model = nn.Linear(2, 2)
    average = WeightAverage(model, 0.99)
    average.update(model)
    other = WeightAverage(nn.Linear(2, 2), 0.99)
    other.load_state_dict(average.state_dict())
    assert other.updates == 1 and torch.equal(other.weights["weight"], average.weights["weight"])
    with pytest.raises(ValueError, match="missing"):
        WeightAverage(nn.Linear(2, 2, bias=False), 0.99).load_state_dict(average.state_dict())
    for bad in (0.0, 1.0, 1.5):
        with pytest.raises(ValueError, match=r"TrainConfig\.ema_decay"):
            TrainConfig(ema_decay=bad)
