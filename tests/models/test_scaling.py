"""SeriesScaler: statistics against numpy-free hand formulas, round trips, NaN handling, errors."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from safetensors.torch import load_file, save_file

from rnnkit.models.scaling import NotFittedError, SeriesScaler


def _data(seed: int, shape=(50, 3)) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.randn(shape, generator=g, dtype=torch.float64) * torch.tensor(
        [1.0, 10.0, 0.1]
    ) + torch.tensor([0.0, -100.0, 5.0])


def test_standard_statistics_are_mean_and_population_std():
    data = _data(0)
    scaler = SeriesScaler(3).fit(data)
    torch.testing.assert_close(scaler.shift, data.mean(0).float())
    torch.testing.assert_close(scaler.scale, data.std(0, correction=0).float())
    scaled = scaler.transform(data.float())
    torch.testing.assert_close(scaled.mean(0), torch.zeros(3), atol=1e-5, rtol=0)
    torch.testing.assert_close(scaled.std(0, correction=0), torch.ones(3), atol=1e-5, rtol=0)


def test_minmax_maps_training_data_onto_unit_interval():
    data = _data(1).float()
    scaled = SeriesScaler(3, "minmax").fit(data).transform(data)
    torch.testing.assert_close(scaled.amin(0), torch.zeros(3), atol=1e-6, rtol=0)
    torch.testing.assert_close(scaled.amax(0), torch.ones(3), atol=1e-6, rtol=0)


def test_none_is_identity_without_fitting():
    scaler = SeriesScaler(3, "none")
    assert scaler.is_fitted
    x = _data(2).float()
    assert torch.equal(scaler.transform(x), x)
    scaler.fit(x * 100)  # a no-op
    assert torch.equal(scaler.inverse_transform(x), x)


@settings(max_examples=25, deadline=None)
@given(
    method=st.sampled_from(["standard", "minmax"]),
    batch=st.integers(1, 4),
    steps=st.integers(2, 9),
    seed=st.integers(0, 1000),
)
def test_inverse_transform_undoes_transform(method, batch, steps, seed):
    scaler = SeriesScaler(3, method).fit(_data(seed))
    x = _data(seed + 1, (batch, steps, 3)).float()
    torch.testing.assert_close(scaler.inverse_transform(scaler.transform(x)), x, atol=1e-4, rtol=1e-5)


def test_feature_dim_minus_two_broadcasts_over_a_trailing_quantile_axis():
    scaler = SeriesScaler(3).fit(_data(3))
    x = _data(4, (2, 5, 3)).float()
    quantiles = torch.stack([x - 1, x, x + 1], dim=-1)  # (B, H, N, Q)
    scaled = scaler.transform(quantiles, feature_dim=-2)
    for q in range(3):
        torch.testing.assert_close(scaled[..., q], scaler.transform(quantiles[..., q]))


def test_sequence_of_series_of_different_lengths_and_nan_are_ignored():
    a, b = _data(5, (30, 3)), _data(6, (7, 3))
    whole = SeriesScaler(3).fit(torch.cat([a, b]))
    parts = SeriesScaler(3).fit([a, b])
    padded = torch.full((2, 30, 3), float("nan"), dtype=torch.float64)
    padded[0], padded[1, :7] = a, b
    nan_padded = SeriesScaler(3).fit(padded)
    for scaler in (parts, nan_padded):
        torch.testing.assert_close(scaler.shift, whole.shift)
        torch.testing.assert_close(scaler.scale, whole.scale)


def test_constant_feature_is_only_shifted():
    data = _data(7)
    data[:, 1] = 0.1
    scaler = SeriesScaler(3).fit(data)
    assert scaler.scale[1] == 1.0
    assert scaler.shift[1] == pytest.approx(0.1)


def test_statistics_survive_a_safetensors_round_trip(tmp_path):
    scaler = SeriesScaler(3, "minmax").fit(_data(8))
    save_file(scaler.state_dict(), tmp_path / "s.safetensors")
    loaded = SeriesScaler(3, "minmax")
    loaded.load_state_dict(load_file(tmp_path / "s.safetensors"))
    assert loaded.is_fitted
    x = _data(9).float()
    assert torch.equal(loaded.transform(x), scaler.transform(x))


def test_unfitted_scaler_is_rejected():
    with pytest.raises(NotFittedError, match="not fitted"):
        SeriesScaler(2).transform(torch.zeros(3, 2))


@pytest.mark.parametrize(
    ("make", "error", "match"),
    [
        (lambda: SeriesScaler(0), ValueError, "num_features"),
        (lambda: SeriesScaler(2, "robust"), ValueError, "method"),
        (lambda: SeriesScaler(2).fit(torch.zeros(5, 3)), ValueError, "2 features"),
        (lambda: SeriesScaler(2).fit([]), TypeError, "non-empty sequence"),
        (lambda: SeriesScaler(2).fit("abc"), TypeError, "tensor"),
        (lambda: SeriesScaler(2).fit(torch.tensor([[1.0, float("inf")]])), ValueError, "infinite"),
        (lambda: SeriesScaler(2).fit(torch.tensor([[1.0, float("nan")]])), ValueError, r"feature\(s\) \[1\]"),
        (
            lambda: SeriesScaler(2).fit(torch.zeros(4, 2)).transform(torch.zeros(4, 3)),
            ValueError,
            "2 features",
        ),
        (lambda: SeriesScaler(2).fit(torch.zeros(4, 2)).transform([1.0, 2.0]), TypeError, "Tensor"),
    ],
)
def test_bad_inputs(make, error, match):
    with pytest.raises(error, match=match):
        make()
