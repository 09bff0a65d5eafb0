"""Optimisers and schedules: decay only on matrices, warm-up/decay values, JSON state."""

import json
import math

import pytest
import torch
from torch import nn

import rnnkit
from rnnkit.training.config import TrainConfig
from rnnkit.training.optim import LRSchedule, build_optimizer, build_scheduler, param_groups


class Mixed(nn.Module):
    def __init__(self):
        super().__init__()
        self.embed = nn.Embedding(10, 4)
        self.rnn = rnnkit.LSTM(4, 5, batch_first=True)
        self.norm = nn.LayerNorm(5)
        self.head = nn.Linear(5, 2)
        self.frozen = nn.Linear(2, 2)
        self.frozen.requires_grad_(False)


def test_param_groups_decay_matrices_only_and_skip_frozen():
    model = Mixed()
    groups = {g["name"]: g for g in param_groups(model, 0.3)}
    names = {id(p): n for n, p in model.named_parameters()}
    decay = sorted(names[id(p)] for p in groups["decay"]["params"])
    no_decay = sorted(names[id(p)] for p in groups["no_decay"]["params"])
    assert all(p.dim() >= 2 for p in groups["decay"]["params"])
    assert "embed.weight" in decay and "head.weight" in decay and any("weight_hh" in n for n in decay)
    assert no_decay == sorted(n for n, p in model.named_parameters() if p.dim() < 2 and p.requires_grad)
    assert "norm.weight" in no_decay and "head.bias" in no_decay
    assert not any(n.startswith("frozen") for n in decay + no_decay)
    assert (groups["decay"]["weight_decay"], groups["no_decay"]["weight_decay"]) == (0.3, 0.0)


@pytest.mark.parametrize("optimizer", ["adamw", "sgd"])
def test_weight_decay_shrinks_matrices_and_leaves_biases_and_norms(optimizer):
    """With zero gradients the only change is decay: w ← w·(1 − lr·wd) for matrices, nothing for vectors."""
    torch.manual_seed(0)
    model = Mixed()
    with torch.no_grad():
        model.norm.weight.uniform_(0.5, 1.5)
        model.head.bias.uniform_(-1, 1)
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    config = TrainConfig(optimizer=optimizer, lr=0.1, weight_decay=0.5, momentum=0.0)
    opt = build_optimizer(model, config)
    for p in model.parameters():
        p.grad = torch.zeros_like(p)
    opt.step()
    for name, p in model.named_parameters():
        factor = 1 - 0.1 * 0.5 if p.dim() >= 2 and p.requires_grad else 1.0
        torch.testing.assert_close(p.detach(), before[name] * factor, rtol=1e-6, atol=1e-7, msg=name)


def rates(schedule: LRSchedule, steps: int) -> list[float]:
    out = []
    for _ in range(steps):
        out.append(schedule.optimizer.param_groups[0]["lr"])
        schedule.step()
    return out


@pytest.mark.parametrize(
    "kind, expected",
    [
        # warm-up (s+1)/W for s < W=4, then decay over S - W = 8 steps to lr_min = 0.1 at step 12 and after
        ("constant", [0.25, 0.5, 0.75, 1.0] + [1.0] * 10),
        ("linear", [0.25, 0.5, 0.75, 1.0] + [0.1 + 0.9 * (1 - k / 8) for k in range(9)] + [0.1]),
        (
            "cosine",
            [0.25, 0.5, 0.75, 1.0] + [0.1 + 0.45 * (1 + math.cos(math.pi * k / 8)) for k in range(9)] + [0.1],
        ),
    ],
)
def test_schedule_values_at_warmup_and_decay_steps(kind, expected):
    opt = torch.optim.SGD(nn.Linear(2, 2).parameters(), lr=2.0)
    schedule = LRSchedule(opt, kind, warmup_steps=4, total_steps=12, min_lr_ratio=0.1)
    assert rates(schedule, 14) == pytest.approx([2.0 * f for f in expected], rel=1e-12)


def test_schedule_keys_each_group_to_its_base_rate_and_warmup_ratio():
    model = Mixed()
    opt = build_optimizer(model, TrainConfig(lr=1e-3))
    opt.param_groups[1]["lr"] = 1e-2  # a different peak for the no-decay group
    schedule = build_scheduler(opt, TrainConfig(schedule="linear", warmup_ratio=0.25, min_lr_ratio=0.0), 8)
    assert schedule.warmup == 2
    assert schedule.get_last_lr() == pytest.approx([0.5e-3, 0.5e-2])
    rates(schedule, 8)
    assert schedule.get_last_lr() == [0.0, 0.0]


def test_schedule_state_is_json_and_resumes_the_same_rates():
    def fresh():
        opt = torch.optim.AdamW(nn.Linear(2, 2).parameters(), lr=0.5)
        return LRSchedule(opt, "cosine", warmup_steps=3, total_steps=20, min_lr_ratio=0.2)

    straight = fresh()
    expected = rates(straight, 20)
    first = fresh()
    rates(first, 7)
    state = json.loads(json.dumps(first.state_dict()))
    second = fresh()
    second.load_state_dict(state)
    assert expected[:7] + rates(second, 13) == expected


def test_decays_need_the_total_steps():
    opt = torch.optim.SGD(nn.Linear(2, 2).parameters(), lr=1.0)
    schedule = LRSchedule(opt, "cosine", warmup_steps=2)  # S unknown: warm-up not applied yet either
    assert opt.param_groups[0]["lr"] == 1.0
    with pytest.raises(ValueError, match="total number of steps"):
        schedule.factor(3)
    schedule.set_total_steps(10)
    assert opt.param_groups[0]["lr"] == 0.5
    assert LRSchedule(opt, "constant").factor(10**6) == 1.0
    with pytest.raises(ValueError, match="schedule must be"):
        LRSchedule(opt, "exponential")
    with pytest.raises(ValueError, match="total_steps"):
        schedule.set_total_steps(0)


def test_build_optimizer_follows_the_config():
    model = nn.Linear(3, 2)
    adamw = build_optimizer(model, TrainConfig(lr=0.01, betas=(0.8, 0.9), eps=1e-6, weight_decay=0.2))
    assert isinstance(adamw, torch.optim.AdamW)
    assert [g["weight_decay"] for g in adamw.param_groups] == [0.2, 0.0]
    assert adamw.param_groups[0]["betas"] == (0.8, 0.9) and adamw.param_groups[0]["eps"] == 1e-6
    sgd = build_optimizer(model, TrainConfig(optimizer="sgd", lr=0.05, momentum=0.5))
    assert isinstance(sgd, torch.optim.SGD) and sgd.param_groups[0]["momentum"] == 0.5
    with pytest.raises(ValueError, match="no parameters"):
        build_optimizer(nn.Tanh(), TrainConfig())
