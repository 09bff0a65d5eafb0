"""Forecaster: learning on held-out windows, quantiles, scaling, covariates, padding, roll-out, io, errors."""

from __future__ import annotations

import json
import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from safetensors.torch import load_file, save_file

from rnnkit.config import ConfigError, load_config, save_config
from rnnkit.layers.factory import RNNConfig
from rnnkit.losses import quantile_loss
from rnnkit.models.forecaster import Forecaster, ForecasterConfig, non_crossing
from rnnkit.models.io import load_model, save_model
from rnnkit.models.scaling import NotFittedError

QUANTILES = (0.1, 0.5, 0.9)


@pytest.fixture(autouse=True)
def one_thread():
    """Tiny models: one thread is faster than two fighting over a shared 2-core machine."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


MODES = ("direct", "autoregressive")


# ----- data ------------------------------------------------------------------------------------------
def noisy_periodic(length: int, seed: int, noise: float = 0.25) -> torch.Tensor:
    """Two series (periods 12 and 7) far from 0 and of different sizes, with Gaussian noise: (length, 2)."""
    g = torch.Generator().manual_seed(seed)
    t = torch.arange(length, dtype=torch.float32)
    y0 = 10 + 3 * torch.sin(2 * math.pi * t / 12) + 3 * noise * torch.randn(length, generator=g)
    y1 = -5 + 0.5 * torch.cos(2 * math.pi * t / 7 + 1) + 0.5 * noise * torch.randn(length, generator=g)
    return torch.stack([y0, y1], dim=-1)


def covariate_driven(length: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """y_t = 50 + 4 x_t + sin(2πt/10) + noise with x_t i.i.d.: the past cannot predict it, x_t can."""
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(length, 1, generator=g) * 2 + 3
    t = torch.arange(length, dtype=torch.float32).unsqueeze(1)
    y = 50 + 4 * x + torch.sin(2 * math.pi * t / 10) + 0.2 * torch.randn(length, 1, generator=g)
    return y, x


def windows(values: torch.Tensor, starts: torch.Tensor, steps: int, horizon: int):
    """(history (B, T, ·), future (B, H, ·)) cut from one long series at ``starts``."""
    cut = values[starts.unsqueeze(1) + torch.arange(steps + horizon)]
    return cut[:, :steps], cut[:, steps:]


def train(model: Forecaster, sample, steps: int, seed: int, teacher: bool = False) -> Forecaster:
    """Adam on the loss at the scaled level; ``sample(generator)`` gives (history, targets, covariate kw)."""
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    g = torch.Generator().manual_seed(seed)
    quantiles = model.config.quantiles
    for _ in range(steps):
        history, targets, kw = sample(g)
        forecast = model(history, targets=targets if teacher else None, **kw)
        if quantiles is None:
            loss = (model.scaler.transform(forecast) - model.scaler.transform(targets)).abs().mean()
        else:
            scaled = model.scaler.transform(forecast, feature_dim=-2)
            loss = quantile_loss(scaled, model.scaler.transform(targets), quantiles)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return model.eval()


def periodic_model(mode: str, seed: int, quantiles=None, teacher=False, steps=60):
    """Train on the first 1800 steps of the series; return (model, held-out histories, held-out targets)."""
    torch.manual_seed(seed)
    series, length, horizon = noisy_periodic(2400, seed), 24, 6
    train_part, test_part = series[:1800], series[1800:]
    config = ForecasterConfig(
        num_series=2,
        horizon=horizon,
        mode=mode,
        quantiles=quantiles,
        rnn=RNNConfig(cell="gru", hidden_size=32),
    )
    model = Forecaster(config).fit_scaler(train_part)

    def sample(g):
        starts = torch.randint(0, len(train_part) - length - horizon, (64,), generator=g)
        return *windows(train_part, starts, length, horizon), {}

    train(model, sample, steps, seed, teacher)
    history, targets = windows(
        test_part, torch.arange(0, len(test_part) - length - horizon, 3), length, horizon
    )
    return model, history, targets


def scaled_mae(model: Forecaster, forecast: torch.Tensor, targets: torch.Tensor) -> float:
    """MAE in units of each series' training spread (so both series count alike)."""
    return ((forecast - targets).abs() / model.scaler.scale).mean().item()


# ----- learning --------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("mode", "teacher"), [("direct", False), ("autoregressive", False), ("autoregressive", True)]
)
def test_beats_last_value_forecast_on_held_out_windows(mode, teacher):
    model, history, targets = periodic_model(mode, seed=0, teacher=teacher)
    with torch.no_grad():
        forecast = model(history)
    naive = history[:, -1:].expand_as(targets)
    # measured (seeds 0-3, 60 steps): ratio 0.22-0.24; the noise floor alone is about 0.21
    assert scaled_mae(model, forecast, targets) < 0.5 * scaled_mae(model, naive, targets)


@pytest.mark.parametrize("mode", MODES)
def test_quantiles_cover_held_out_targets_and_never_cross(mode):
    model, history, targets = periodic_model(mode, seed=1, quantiles=QUANTILES, steps=80)
    with torch.no_grad():
        forecast = model(history)  # (B, H, N, Q)
    assert forecast.shape == (*targets.shape, 3)
    assert bool((forecast.diff(dim=-1) >= 0).all())
    inside = ((targets >= forecast[..., 0]) & (targets <= forecast[..., 2])).float().mean().item()
    assert 0.6 <= inside <= 0.95  # nominal 0.8; measured (seeds 0-3) 0.78-0.81
    below_median = (targets < forecast[..., 1]).float().mean().item()
    assert 0.35 <= below_median <= 0.65
    naive = history[:, -1:].expand_as(targets)
    assert scaled_mae(model, forecast[..., 1], targets) < 0.5 * scaled_mae(model, naive, targets)


def covariate_errors(mode: str, seed: int) -> dict[bool, float]:
    """Held-out MAE of a forecaster trained with (True) and without (False) the known covariate."""
    y, x = covariate_driven(1600, seed)
    length, horizon, cut = 16, 4, 1200
    errors = {}
    for use in (True, False):
        torch.manual_seed(seed)
        config = ForecasterConfig(
            num_series=1,
            num_covariates=int(use),
            horizon=horizon,
            mode=mode,
            rnn=RNNConfig(cell="gru", hidden_size=32),
        )
        model = Forecaster(config).fit_scaler(y[:cut], x[:cut] if use else None)

        def sample(g, starts=None, use=use):
            if starts is None:
                starts = torch.randint(0, cut - length - horizon, (64,), generator=g)
            history, targets = windows(y, starts, length, horizon)
            past, future = windows(x, starts, length, horizon)
            return history, targets, ({"past_covariates": past, "future_covariates": future} if use else {})

        train(model, sample, 100, seed)
        history, targets, kw = sample(None, torch.arange(cut, len(y) - length - horizon, 2))
        with torch.no_grad():
            errors[use] = (model(history, **kw) - targets).abs().mean().item()
    return errors


@pytest.mark.parametrize("mode", MODES)
def test_known_future_covariates_are_learned(mode):
    """A series driven by a known covariate: held-out MAE with the covariate < 0.4 x without it."""
    errors = covariate_errors(mode, seed=0)
    assert errors[True] < 0.4 * errors[False]  # measured (seeds 0-2): ratio 0.10-0.15


# ----- small untrained models for the exact checks -------------------------------------------------
def make_model(mode="direct", covariates=0, quantiles=None, rnn=None, horizon=4, scaling="standard", seed=0):
    torch.manual_seed(seed)
    config = ForecasterConfig(
        num_series=2,
        num_covariates=covariates,
        horizon=horizon,
        mode=mode,
        quantiles=quantiles,
        rnn=rnn or RNNConfig(cell="gru", hidden_size=8),
        scaling=scaling,
    )
    model = Forecaster(config).double()
    g = torch.Generator().manual_seed(seed)
    model.fit_scaler(
        torch.randn(300, 2, generator=g, dtype=torch.float64) * torch.tensor([5.0, 0.5])
        + torch.tensor([20.0, -3.0]),
        torch.randn(300, covariates, generator=g, dtype=torch.float64) * 3 + 1 if covariates else None,
    )
    return model.eval()


def inputs(model: Forecaster, batch: int, steps: int, seed: int = 1) -> dict:
    g = torch.Generator().manual_seed(seed)
    cfg = model.config
    kw = {"history": torch.randn(batch, steps, 2, generator=g, dtype=torch.float64) * 5 + 20}
    if cfg.num_covariates:
        kw["past_covariates"] = torch.randn(
            batch, steps, cfg.num_covariates, generator=g, dtype=torch.float64
        )
        kw["future_covariates"] = torch.randn(
            batch, cfg.horizon, cfg.num_covariates, generator=g, dtype=torch.float64
        )
    return kw


KINDS = [(mode, c, q) for mode in MODES for c in (0, 2) for q in (None, QUANTILES)]


@settings(max_examples=20, deadline=None)
@given(
    kind=st.sampled_from(KINDS),
    lengths=st.lists(st.integers(1, 9), min_size=1, max_size=4),
    seed=st.integers(0, 99),
)
def test_padding_never_changes_a_forecast(kind, lengths, seed):
    mode, covariates, quantiles = kind
    model = make_model(mode, covariates, quantiles)
    steps = max(lengths)
    batch = inputs(model, len(lengths), steps, seed)
    for name in ("history", "past_covariates"):
        if name in batch:
            for b, n in enumerate(lengths):
                batch[name][b, n:] = float("nan")  # padding may hold anything
    with torch.no_grad():
        together = model(lengths=torch.tensor(lengths), **batch)
        assert bool(together.isfinite().all())
        for b, n in enumerate(lengths):
            alone = {
                k: (v[b : b + 1, :n] if k != "future_covariates" else v[b : b + 1]) for k, v in batch.items()
            }
            torch.testing.assert_close(together[b : b + 1], model(**alone), rtol=1e-9, atol=1e-9)


def test_non_crossing_map_keeps_the_centre_and_orders_the_rest():
    raw = torch.randn(50, 5) * 30
    q = non_crossing(raw, center=2)
    assert torch.equal(q[:, 2], raw[:, 2])
    assert bool((q.diff(dim=-1) >= 0).all())
    one = non_crossing(raw[:, :1], center=0)
    assert torch.equal(one, raw[:, :1])


@pytest.mark.parametrize("mode", MODES)
def test_quantiles_never_cross_even_for_wild_weights_and_inputs(mode):
    model = make_model(mode, covariates=1, quantiles=(0.05, 0.2, 0.5, 0.7, 0.99))
    with torch.no_grad():
        for p in model.parameters():
            p.mul_(20)
        kw = inputs(model, 16, 7)
        kw = {k: v * 100 for k, v in kw.items()}
        forecast = model(**kw)
    assert forecast.shape == (16, 4, 2, 5)
    assert bool((forecast.diff(dim=-1) >= 0).all())


# ----- scaling --------------------------------------------------------------------------------------
@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("scaling", ["standard", "minmax"])
def test_raw_in_raw_out(kind, scaling):
    """Same weights, data rescaled by a > 0 and shifted by b (scaler refitted): forecast becomes a·f + b."""
    mode, covariates, quantiles = kind
    model = make_model(mode, covariates, quantiles, scaling=scaling)
    other = make_model(mode, covariates, quantiles, scaling=scaling)
    a, b = torch.tensor([7.0, 0.01], dtype=torch.float64), torch.tensor([-300.0, 4.0], dtype=torch.float64)
    g = torch.Generator().manual_seed(5)
    train_y = torch.randn(200, 2, generator=g, dtype=torch.float64) + 3
    train_x = torch.randn(200, covariates, generator=g, dtype=torch.float64) if covariates else None
    model.fit_scaler(train_y, train_x)
    other.fit_scaler(a * train_y + b, None if train_x is None else 100 * train_x - 1)
    kw = inputs(model, 3, 6)
    moved = dict(kw, history=a * kw["history"] + b)
    for name in ("past_covariates", "future_covariates"):
        if name in kw:
            moved[name] = 100 * kw[name] - 1
    with torch.no_grad():
        expected, got = model(**kw), other(**moved)
    view = (2, 1) if quantiles else (2,)
    torch.testing.assert_close(got, a.view(view) * expected + b.view(view), rtol=1e-9, atol=1e-9)


def test_unfitted_scaler_is_rejected():
    model = Forecaster(ForecasterConfig(num_series=2, horizon=3, rnn=RNNConfig(cell="gru", hidden_size=8)))
    with pytest.raises(NotFittedError, match="fit_scaler"):
        model(torch.randn(1, 5, 2))
    cov = Forecaster(ForecasterConfig(num_covariates=1, rnn=RNNConfig(cell="gru", hidden_size=8)))
    with pytest.raises(ValueError, match="covariates .* are needed"):
        cov.fit_scaler(torch.randn(10, 1))
    with pytest.raises(ValueError, match="num_covariates=0"):
        model.fit_scaler(torch.randn(10, 2), torch.randn(10, 1))
    none = Forecaster(
        ForecasterConfig(num_series=2, scaling="none", rnn=RNNConfig(cell="gru", hidden_size=8))
    )
    assert none(torch.randn(1, 5, 2)).shape == (1, 1, 2)  # nothing to fit


# ----- autoregressive roll-out --------------------------------------------------------------------
@pytest.mark.parametrize("covariates", [0, 1])
@pytest.mark.parametrize("quantiles", [None, QUANTILES])
def test_rollout_equals_refeeding_the_extended_history(covariates, quantiles):
    """The O(H) roll-out with carried state == re-running the whole model on history + its predictions."""
    model = make_model("autoregressive", covariates, quantiles, horizon=5)
    kw = inputs(model, 3, 6)
    with torch.no_grad():
        forecast = model(**kw)
        point = forecast if quantiles is None else forecast[..., model.center]
        for k in range(1, 5):
            again = {"history": torch.cat([kw["history"], point[:, :k]], dim=1)}
            if covariates:
                future = kw["future_covariates"]
                again["past_covariates"] = torch.cat([kw["past_covariates"], future[:, :k]], dim=1)
                again["future_covariates"] = torch.cat(
                    [future[:, k:], torch.zeros_like(future[:, :k])], dim=1
                )
            torch.testing.assert_close(model(**again)[:, : 5 - k], forecast[:, k:], rtol=1e-9, atol=1e-9)
        # teacher forcing with its own predictions as targets is the same forecast
        torch.testing.assert_close(model(targets=point, **kw), forecast, rtol=1e-9, atol=1e-9)
        other = model(targets=point + torch.randn_like(point), **kw)
    assert torch.equal(other[:, 0], forecast[:, 0])
    assert not torch.allclose(other[:, 1:], forecast[:, 1:])


@pytest.mark.parametrize("mode", MODES)
def test_future_covariates_change_the_forecast_where_they_should(mode):
    model = make_model(mode, covariates=2, horizon=5)
    kw = inputs(model, 3, 6)
    with torch.no_grad():
        before = model(**kw)
        kw["future_covariates"][:, 2] += 1.0
        after = model(**kw)
    assert not torch.allclose(after[:, 2], before[:, 2])
    if mode == "autoregressive":  # causal: a step's covariate cannot change earlier steps
        assert torch.equal(after[:, :2], before[:, :2])


# ----- variants, io, config ------------------------------------------------------------------------
VARIANTS = [
    RNNConfig(cell="gru", hidden_size=8, reset_after=False),
    RNNConfig(cell="lstm", hidden_size=8, layer_norm=True, bidirectional=True),
    RNNConfig(cell="lstm", hidden_size=8, num_layers=2, proj_size=4),
    RNNConfig(cell="mingru", hidden_size=8, num_layers=2),
    RNNConfig(cell="minlstm", hidden_size=8),
    RNNConfig(cell="indrnn", hidden_size=8),
    RNNConfig(cell="rnn", hidden_size=8, learn_initial_state=True, zoneout=0.1),
    RNNConfig(cell="gru", hidden_size=8, num_layers=2, bidirectional=True, recurrent_dropout=0.1),
]


@pytest.mark.parametrize(
    "rnn", VARIANTS, ids=lambda r: f"{r.cell}-{r.num_layers}-{'bi' if r.bidirectional else 'uni'}"
)
@pytest.mark.parametrize("mode", MODES)
def test_variants_train_pad_and_round_trip(rnn, mode, tmp_path):
    if mode == "autoregressive" and rnn.bidirectional:
        with pytest.raises(ValueError, match=r"rnn\.bidirectional"):
            make_model(mode, rnn=rnn)
        return
    model = make_model(mode, covariates=1, quantiles=QUANTILES, rnn=rnn).train()
    kw = inputs(model, 3, 7)
    lengths = torch.tensor([7, 3, 5])
    model(lengths=lengths, **kw).sum().backward()
    missing = [n for n, p in model.named_parameters() if p.grad is None or not bool(p.grad.isfinite().all())]
    assert not missing
    model.eval()
    with torch.no_grad():
        together = model(lengths=lengths, **kw)
        alone = model(history=kw["history"][1:2, :3], past_covariates=kw["past_covariates"][1:2, :3],
                      future_covariates=kw["future_covariates"][1:2])  # fmt: skip
        torch.testing.assert_close(together[1:2], alone, rtol=1e-9, atol=1e-9)
        model.float()  # load_model builds float32 models
        kw32 = {k: v.float() for k, v in kw.items()}
        loaded = load_model(save_model(model, tmp_path / "m")).eval()
        assert torch.equal(loaded(lengths=lengths, **kw32), model(lengths=lengths, **kw32))


def test_save_load_keeps_weights_and_scaling_and_rejects_bad_weight_files(tmp_path):
    model = make_model("autoregressive", covariates=1, quantiles=QUANTILES).float()
    kw = {k: v.float() for k, v in inputs(model, 2, 5).items()}
    directory = save_model(model, tmp_path / "m")
    loaded = load_model(directory).eval()
    for name in (
        "scaler.shift",
        "scaler.scale",
        "scaler.fitted",
        "covariate_scaler.shift",
        "covariate_scaler.scale",
    ):
        assert torch.equal(loaded.get_buffer(name), model.get_buffer(name))
    assert loaded.config == model.config
    assert torch.equal(loaded(**kw), model(**kw))
    weights = load_file(directory / "model.safetensors")
    for name, change in [("scaler.scale", lambda w: w.pop("scaler.scale")), ("bogus.weight", lambda w: w.update({"bogus.weight": torch.zeros(1)}))]:  # fmt: skip
        broken = dict(weights)
        change(broken)
        save_file(broken, directory / "model.safetensors")
        with pytest.raises(ValueError, match=name.replace(".", r"\.")):
            load_model(directory)


@pytest.mark.parametrize("suffix", [".json", ".yaml"])
def test_config_round_trips_and_rejects_unknown_keys(suffix, tmp_path):
    config = ForecasterConfig(
        num_series=3, num_covariates=2, horizon=7, mode="autoregressive", quantiles=[0.1, 0.5, 0.9],
        rnn=RNNConfig(cell="lstm", hidden_size=16, layer_norm=True), dropout=0.2, scaling="minmax",
    )  # fmt: skip
    assert config.quantiles == QUANTILES  # a list is stored as a tuple
    path = tmp_path / f"forecaster{suffix}"
    save_config(config, path)
    assert load_config(ForecasterConfig, path) == config
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"num_series": 1, "horizn": 3}))
    with pytest.raises(ConfigError, match=r"bad\.json.*'horizn'"):
        load_config(ForecasterConfig, bad)
    bad.write_text(json.dumps({"quantiles": [0.9, 0.1]}))
    with pytest.raises(ConfigError, match=r"bad\.json.*quantiles"):
        load_config(ForecasterConfig, bad)


@pytest.mark.parametrize(
    ("options", "field"),
    [
        ({"num_series": 0}, "num_series"),
        ({"num_covariates": -1}, "num_covariates"),
        ({"horizon": 0}, "horizon"),
        ({"horizon": True}, "horizon"),
        ({"mode": "seq2seq"}, "mode"),
        ({"scaling": "log"}, "scaling"),
        ({"quantiles": (0.5, 0.1)}, "quantiles"),
        ({"quantiles": (0.1, 0.1)}, "quantiles"),
        ({"quantiles": (0.0, 0.5)}, "quantiles"),
        ({"quantiles": (0.5, 1.0)}, "quantiles"),
        ({"quantiles": ()}, "quantiles"),
        ({"quantiles": 0.5}, "quantiles"),
        ({"dropout": 1.0}, "dropout"),
        ({"rnn": {"cell": "gru"}}, "rnn"),
        ({"mode": "autoregressive", "rnn": RNNConfig(bidirectional=True)}, r"rnn\.bidirectional"),
    ],
)
def test_bad_config_names_the_field(options, field):
    with pytest.raises(ValueError, match=rf"ForecasterConfig\.{field}"):
        ForecasterConfig(**options)


@pytest.mark.parametrize(
    ("change", "error", "match"),
    [
        (lambda kw: kw.update(history=kw["history"][0]), ValueError, r"history must have shape \(B, T, N\)"),
        (lambda kw: kw.update(history=kw["history"][..., :1]), ValueError, "history"),
        (lambda kw: kw.update(history=kw["history"][:, :0]), ValueError, "history"),
        (lambda kw: kw.update(history=kw["history"].long()), TypeError, "floating-point"),
        (lambda kw: kw.update(history=kw["history"].tolist()), TypeError, "Tensor"),
        (lambda kw: kw.update(lengths=torch.tensor([2.0, 3.0])), TypeError, "integer"),
        (lambda kw: kw.update(lengths=torch.tensor([2, 9])), ValueError, "<= the number of steps"),
        (lambda kw: kw.update(lengths=torch.tensor([0, 3])), ValueError, ">= 1"),
        (lambda kw: kw.pop("past_covariates"), ValueError, "past_covariates .* is required"),
        (lambda kw: kw.pop("future_covariates"), ValueError, "future_covariates .* is required"),
        (lambda kw: kw.update(future_covariates=kw["future_covariates"][:, :2]), ValueError, r"\(B, H, C\)"),
        (lambda kw: kw.update(past_covariates=kw["past_covariates"][:, :3]), ValueError, r"\(B, T, C\)"),
        (lambda kw: kw.update(targets=torch.zeros(2, 4, 2)), ValueError, "autoregressive"),
    ],
)
def test_bad_inputs(change, error, match):
    model = make_model("direct", covariates=1)
    kw = inputs(model, 2, 5)
    change(kw)
    with pytest.raises(error, match=match):
        model(**kw)


def test_bad_inputs_autoregressive_and_without_covariates():
    model = make_model("autoregressive")
    kw = inputs(model, 2, 5)
    with pytest.raises(ValueError, match=r"targets must have shape \(B, H, N\)"):
        model(targets=torch.zeros(2, 3, 2, dtype=torch.float64), **kw)
    with pytest.raises(ValueError, match="num_covariates=0"):
        model(future_covariates=torch.zeros(2, 4, 1, dtype=torch.float64), **kw)
    with pytest.raises(TypeError, match="ForecasterConfig"):
        Forecaster({"num_series": 2})
