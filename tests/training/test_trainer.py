"""Trainer: reproducible runs, exact kill-and-resume, early stopping, best weights, clipping, precision."""

import dataclasses
import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

import rnnkit
from rnnkit.config import ConfigError, load_config, save_config
from rnnkit.training.callbacks import Callback, CheckpointCallback, JsonlLogger, read_jsonl
from rnnkit.training.checkpoint import resume
from rnnkit.training.config import TrainConfig
from rnnkit.training.trainer import Trainer, batch_size_of, move_to_device


@pytest.fixture(autouse=True)
def one_thread():
    """Tiny models run ~10x faster on one thread than on two contended ones; restored afterwards."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


class Toy(nn.Module):
    """A GRU regressor with LayerNorm and dropout (dropout makes the RNG state matter on resume)."""

    def __init__(self, dropout: float = 0.3) -> None:
        super().__init__()
        self.rnn = rnnkit.GRU(3, 8, batch_first=True)
        self.norm = nn.LayerNorm(8)
        self.drop = nn.Dropout(dropout)
        self.head = nn.Linear(8, 1)

    def forward(self, x):
        out, _ = self.rnn(x)
        return self.head(self.drop(self.norm(out[:, -1]))).squeeze(-1)


def make_model(seed: int = 0, dropout: float = 0.3) -> Toy:
    torch.manual_seed(seed)
    return Toy(dropout)


def make_data(n: int, seed: int, scale: float = 1.0) -> TensorDataset:
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 6, 3, generator=g)
    y = scale * (0.5 * x[:, :, 0].sum(1) + 0.1 * torch.randn(n, generator=g))
    return TensorDataset(x, y)


def mse(model, batch):
    x, y = batch
    return F.mse_loss(model(x), y)


def loaders(scale: float = 1.0):
    """Train: 64 examples in 8 shuffled batches (no generator given); validation: 32 in 2 batches."""
    train = DataLoader(make_data(64, 0, scale), batch_size=8, shuffle=True)
    return train, DataLoader(make_data(32, 1, scale), batch_size=16)


def weights(model) -> dict:
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def assert_same_weights(a: dict, b: dict) -> None:
    assert a.keys() == b.keys()
    for name in a:
        assert torch.equal(a[name], b[name]), name


class Snapshot(Callback):
    """Keeps the weights at the end of training (before the best ones are restored) and at each evaluation."""

    def __init__(self):
        self.at_end, self.at_eval = None, {}

    def on_evaluate(self, trainer, step, metrics):
        self.at_eval[step] = weights(trainer.model)

    def on_train_end(self, trainer, result):
        self.at_end = weights(trainer.model)


class Kill(Callback):
    """Ends a run at ``step``: by raising (a crash) or by requesting a stop."""

    def __init__(self, step: int, how: str):
        self.step, self.how = step, how

    def on_step_end(self, trainer, step, loss, lr, batch_size):
        if step == self.step:
            if self.how == "raise":
                raise RuntimeError("killed")
            return True
        return None


CONFIG = TrainConfig(
    epochs=3, lr=0.01, weight_decay=0.1, schedule="cosine", warmup_steps=4, clip_grad_norm=0.5,
    eval_every=5, log_every=1, seed=7, device="cpu",
)  # fmt: skip


def train(config, callbacks=(), model_seed=0, scale=1.0, evaluate=None, resume_from=None):
    model = make_model(model_seed)
    train_loader, val_loader = loaders(scale)
    trainer = Trainer(model, config, mse, evaluate=evaluate, callbacks=list(callbacks))
    if resume_from is not None:
        resume(trainer, resume_from)
    return trainer, trainer.fit(train_loader, val_loader)


def test_same_seed_gives_bit_identical_weights_and_another_seed_does_not():
    runs = [train(CONFIG, model_seed=0)[0], train(CONFIG, model_seed=0)[0]]
    assert_same_weights(weights(runs[0].model), weights(runs[1].model))
    other = train(TrainConfig(**{**CONFIG.__dict__, "seed": 8}), model_seed=0)[0]
    assert not torch.equal(other.model.head.weight, runs[0].model.head.weight)


def logged(path):
    keep = ("train", "eval", "epoch_end")
    return [(r["event"], r["step"], r["epoch"], r.get("loss"), r.get("val_loss")) for r in read_jsonl(path)
            if r["event"] in keep]  # fmt: skip


@pytest.mark.parametrize(
    "how, kill_at, every, eval_every, ema_decay",
    [
        ("raise", 13, 5, 5, None),  # crash mid-epoch; latest checkpoint at 10, before that step's evaluation
        ("stop", 10, None, 5, None),  # stop request at an evaluation step; checkpoint saved at the end
        ("raise", 17, 8, "epoch", None),  # checkpoint at the last step of epoch 2, before its evaluation
        ("raise", 13, 5, 5, 0.9),  # with weight averaging: the average is in the checkpoint
    ],
)
def test_killed_and_resumed_run_equals_the_straight_run(tmp_path, how, kill_at, every, eval_every, ema_decay):
    config = TrainConfig(**{**CONFIG.__dict__, "eval_every": eval_every, "ema_decay": ema_decay})
    straight_snap = Snapshot()
    straight, straight_result = train(config, [JsonlLogger(tmp_path / "a.jsonl"), straight_snap])

    run = tmp_path / "run"
    logger = JsonlLogger(run / "log.jsonl")
    callbacks = [logger, CheckpointCallback(run, every_steps=every, keep_last=2), Kill(kill_at, how)]
    if how == "raise":
        with pytest.raises(RuntimeError, match="killed"):
            train(config, callbacks)
    else:
        assert train(config, callbacks)[1].steps == kill_at
    killed_log = (run / "log.jsonl").read_text().splitlines()

    # Everything rebuilt from scratch, from a model initialised differently, and a fresh loader.
    snap = Snapshot()
    resumed, result = train(config, [JsonlLogger(run / "log.jsonl"), snap], model_seed=123, resume_from=run)

    assert_same_weights(snap.at_end, straight_snap.at_end)  # last weights
    assert_same_weights(weights(resumed.model), weights(straight.model))  # best weights, restored
    assert result == straight_result
    assert logged(run / "log.jsonl") == logged(tmp_path / "a.jsonl")
    assert (run / "log.jsonl").read_text().splitlines()[:3] == killed_log[:3]  # appended, not rewritten
    assert resumed.optimizer.param_groups[0]["lr"] == straight.optimizer.param_groups[0]["lr"]
    if ema_decay is not None:
        assert resumed.average.updates == straight.average.updates == straight_result.steps
        assert_same_weights(resumed.average.weights, straight.average.weights)


def test_early_stopping_after_patience_evaluations_and_best_weights_restored():
    values = iter([5.0, 4.0, 3.0, 3.5, 3.2, 3.0, 2.0, 1.0])  # best at the 3rd evaluation, never beaten
    scripted = lambda model, loader: {"val_loss": next(values)}  # noqa: E731
    snap = Snapshot()
    config = TrainConfig(epochs=20, eval_every=2, early_stopping_patience=3, device="cpu", lr=0.01)
    trainer, result = train(config, [snap], evaluate=scripted)
    assert result.stopped_early and result.steps == 12  # evaluations at 2, 4, ..., 12
    assert (result.best_metric, result.best_step) == (3.0, 6)  # 3.0 again at step 12 is no improvement
    assert [h["val_loss"] for h in result.history] == [5.0, 4.0, 3.0, 3.5, 3.2, 3.0]
    assert_same_weights(weights(trainer.model), snap.at_eval[6])
    assert not torch.equal(snap.at_end["head.weight"], snap.at_eval[6]["head.weight"])


def test_mode_max_min_delta_and_default_validation_loss():
    values = iter([0.5, 0.52, 0.9, 0.95])
    config = TrainConfig(
        epochs=4, eval_every="epoch", mode="max", monitor="acc", min_delta=0.05, device="cpu"
    )
    result = train(config, evaluate=lambda m, loader: {"acc": next(values)})[1]
    assert (result.best_metric, result.best_step) == (0.9, 24)  # 0.52 and 0.95 are within min_delta
    trainer, result = train(TrainConfig(epochs=3, device="cpu", restore_best=False))
    losses = [h["val_loss"] for h in result.history]
    assert len(losses) == 3 and result.best_metric == min(losses)
    val = loaders()[1]
    trainer.model.eval()
    with torch.no_grad():
        expected = sum(mse(trainer.model, b).item() * len(b[0]) for b in val) / 32
    assert result.history[-1]["val_loss"] == pytest.approx(expected, rel=1e-6)  # last weights kept


class GradNorm(Callback):
    def __init__(self):
        self.after, self.before = [], []

    def on_step_end(self, trainer, step, loss, lr, batch_size):
        grads = [p.grad for p in trainer.model.parameters() if p.grad is not None]
        self.after.append(torch.linalg.vector_norm(torch.stack([g.norm() for g in grads])).item())
        if trainer.last_grad_norm is not None:
            self.before.append(trainer.last_grad_norm.item())


@pytest.mark.parametrize("clip", [None, 0.25])
def test_gradient_clipping_bounds_the_global_norm(clip):
    probe = GradNorm()
    config = TrainConfig(epochs=1, clip_grad_norm=clip, device="cpu")
    train(config, [probe], scale=50.0)  # large targets: large gradients
    if clip is None:
        assert max(probe.after) > 1.0 and probe.before == []
    else:
        assert max(probe.after) <= clip * (1 + 1e-5)
        assert min(probe.before) > clip  # clipping was active, and after == clip on every step
        assert probe.after == pytest.approx([clip] * 8, rel=1e-5)


def test_mixed_precision_auto_is_float32_on_cpu_and_bf16_autocasts():
    seen = []

    def loss(model, batch):
        seen.append((torch.is_autocast_enabled("cpu"), model.head(batch[0][:, -1, :1].expand(-1, 8)).dtype))
        return mse(model, batch)

    for precision in ("auto", "bf16", "fp16"):
        seen.clear()
        trainer = Trainer(make_model(), TrainConfig(epochs=1, mixed_precision=precision, device="cpu"), loss)
        trainer.fit(loaders()[0])
        assert trainer.scaler is None and all(p.dtype == torch.float32 for p in trainer.model.parameters())
        expected = {
            "auto": (False, torch.float32),
            "bf16": (True, torch.bfloat16),
            "fp16": (True, torch.float16),
        }
        assert set(seen) == {expected[precision]}
        assert all(torch.isfinite(p).all() for p in trainer.model.parameters())


def test_max_steps_spans_epochs_and_unsized_loaders_need_it():
    trainer, result = train(TrainConfig(max_steps=20, epochs=1, device="cpu", schedule="linear"))
    assert result.steps == 20 and (trainer.state.epoch, trainer.state.batch_in_epoch) == (2, 4)
    assert trainer.optimizer.param_groups[0]["lr"] == pytest.approx(0.1 * 1e-3)  # decayed to min_lr_ratio
    batches = list(loaders()[0])
    unsized = (b for b in batches)  # a generator: no len
    with pytest.raises(ValueError, match="max_steps"):
        Trainer(make_model(), TrainConfig(schedule="cosine", device="cpu"), mse).fit(unsized)
    result = Trainer(make_model(), TrainConfig(epochs=1, device="cpu"), mse).fit(b for b in batches)
    assert result.steps == 8


def test_bad_inputs_raise_clear_errors():
    with pytest.raises(ValueError, match="scalar"):
        Trainer(make_model(), TrainConfig(device="cpu"), lambda m, b: m(b[0])).fit(loaders()[0])
    with pytest.raises(ValueError, match=r"monitor is 'val_acc'.*\['val_loss'\]"):
        train(TrainConfig(epochs=1, monitor="val_acc", device="cpu"))
    with pytest.raises(ValueError, match="no batches"):
        Trainer(make_model(), TrainConfig(device="cpu"), mse).fit([])
    with pytest.raises(TypeError, match="TrainConfig"):
        Trainer(make_model(), {"lr": 0.1}, mse)
    with pytest.raises(ValueError, match="no parameters"):
        Trainer(nn.ReLU(), TrainConfig(device="cpu"), mse)


def test_move_to_device_and_batch_size_of_nested_batches():
    batch = {"x": torch.zeros(5, 2), "meta": ("id", [torch.ones(5)]), "n": 3}
    moved = move_to_device(batch, "cpu")
    assert moved["meta"][0] == "id" and torch.equal(moved["meta"][1][0], torch.ones(5)) and moved["n"] == 3
    assert batch_size_of(batch) == 5 and batch_size_of(["a", torch.tensor(1.0)]) == 0


@pytest.mark.parametrize(
    "field, value",
    [
        ("epochs", 0), ("max_steps", 0), ("lr", 0.0), ("lr", math.nan), ("weight_decay", -1.0),
        ("optimizer", "adam"), ("momentum", 1.0), ("betas", (0.9,)), ("clip_grad_norm", 0.0),
        ("warmup_steps", -1), ("warmup_ratio", 1.0), ("schedule", "step"), ("min_lr_ratio", 2.0),
        ("early_stopping_patience", 0), ("mode", "up"), ("mixed_precision", "fp8"), ("seed", -1),
        ("log_every", 0), ("eval_every", "step"), ("eval_every", 0), ("device", "tpu9"), ("epochs", True),
    ],
)  # fmt: skip
def test_config_rejects_bad_values_naming_the_field(field, value):
    with pytest.raises(ValueError, match=rf"TrainConfig\.{field}"):
        TrainConfig(**{field: value})


def test_config_round_trips_through_json_and_yaml(tmp_path):
    config = TrainConfig(
        max_steps=100, betas=(0.8, 0.9), clip_grad_norm=None, eval_every=50, warmup_ratio=0.1
    )
    for name in ("train.json", "train.yaml"):
        save_config(config, tmp_path / name)
        assert load_config(TrainConfig, tmp_path / name) == config
    (tmp_path / "bad.yaml").write_text("lr: 0.1\nlearning_rate: 0.2\n")
    with pytest.raises(ConfigError, match=r"bad\.yaml.*'learning_rate'"):
        load_config(TrainConfig, tmp_path / "bad.yaml")
    with pytest.raises(ValueError, match="warmup_steps or warmup_ratio"):
        TrainConfig(warmup_steps=5, warmup_ratio=0.1)


class EpochSampler(torch.utils.data.Sampler):
    """A sampler that shuffles by ``set_epoch`` (as DistributedSampler does)."""

    def __init__(self, n):
        self.n, self.epochs = n, []

    def set_epoch(self, epoch):
        self.epochs.append(epoch)

    def __iter__(self):
        return iter(torch.randperm(self.n, generator=torch.Generator().manual_seed(self.epochs[-1])).tolist())

    def __len__(self):
        return self.n


def test_seed_loader_makes_each_epoch_order_a_function_of_seed_and_epoch():
    from torch.utils.data import SubsetRandomSampler

    from rnnkit.training.seed import seed_loader

    def order(make, seed, epoch):
        loader = make()
        torch.manual_seed(epoch * 31 + seed)  # the global RNG must not matter
        seed_loader(loader, seed, epoch)
        return torch.cat([b[0] for b in loader]).tolist()

    data = TensorDataset(torch.arange(20))
    makers = [
        lambda: DataLoader(data, batch_size=4, shuffle=True),
        lambda: DataLoader(data, batch_size=4, shuffle=True, generator=torch.Generator()),
        lambda: DataLoader(data, batch_size=4, sampler=SubsetRandomSampler(range(20))),
        lambda: DataLoader(data, batch_size=4, sampler=EpochSampler(20)),
    ]
    for make in makers:
        assert order(make, 0, 3) == order(make, 0, 3)
        assert sorted(order(make, 0, 3)) == list(range(20))
        assert order(make, 0, 3) != order(make, 0, 4)
    assert order(makers[0], 0, 3) != order(makers[0], 1, 3)
    sampler = EpochSampler(4)
    trainer = Trainer(
        nn.Linear(1, 1), TrainConfig(epochs=3, device="cpu"), lambda m, b: m(b[0].float()).mean()
    )
    trainer.fit(DataLoader(TensorDataset(torch.arange(4.0).unsqueeze(1)), sampler=sampler))
    assert sampler.epochs == [0, 1, 2]


def test_evaluating_does_not_change_the_training_run():
    """A DataLoader draws from the global generator for every iterator; evaluation must not shift dropout."""
    config = dataclasses.replace(CONFIG, restore_best=False)
    often, _ = train(dataclasses.replace(config, eval_every=1))
    rarely, _ = train(dataclasses.replace(config, eval_every="epoch"))
    assert_same_weights(weights(often.model), weights(rarely.model))
