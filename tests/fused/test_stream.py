"""Streamer: one step per call gives the same states as running the layer over the whole sequence."""

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import rnnkit
from rnnkit.fused.stream import Streamer


@settings(max_examples=25, deadline=None)
@given(
    mode=st.sampled_from(["LSTM", "GRU", "RNN", "RNN_relu"]),
    layers=st.integers(1, 3),
    batch=st.integers(1, 3),
    steps=st.integers(1, 12),
    seed=st.integers(0, 2**16),
)
def test_streaming_equals_the_whole_sequence(mode, layers, batch, steps, seed):
    torch.manual_seed(seed)
    options = {"nonlinearity": "relu"} if mode == "RNN_relu" else {}
    layer = getattr(rnnkit, mode.split("_")[0])(5, 16, num_layers=layers, **options)
    x = torch.randn(steps, batch, 5)
    expected, _ = layer(x)
    stream = Streamer(layer, batch_size=batch)
    got = torch.stack([stream.step(x[t]) for t in range(steps)])
    torch.testing.assert_close(got, expected.detach(), rtol=1e-5, atol=1e-5)
    stream.reset()
    torch.testing.assert_close(stream.step(x[0]), expected[0].detach(), rtol=1e-5, atol=1e-5)


def test_streaming_writes_into_a_given_buffer_and_exposes_the_state():
    torch.manual_seed(0)
    lstm = rnnkit.LSTM(4, 8)
    stream = Streamer(lstm)
    out = torch.empty(1, 8)
    x = torch.randn(3, 1, 4)
    for t in range(3):
        result = stream.step(x[t], out=out)
    assert result is out
    _, (h, c) = lstm(x)
    ((h_s, c_s),) = stream.state
    torch.testing.assert_close(h_s, h[0].detach(), rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(c_s, c[0].detach(), rtol=1e-5, atol=1e-5)


def test_variants_stream_through_their_cells():
    torch.manual_seed(0)
    layer = rnnkit.LSTM(4, 8, layer_norm=True, peephole=True).eval()
    stream = Streamer(layer)
    assert not stream.fast
    x = torch.randn(5, 1, 4)
    got = torch.stack([stream.step(x[t]) for t in range(5)])
    torch.testing.assert_close(got, layer(x)[0].detach())


def test_streaming_refuses_what_cannot_stream():
    with pytest.raises(ValueError, match="bidirectional"):
        Streamer(rnnkit.GRU(3, 4, bidirectional=True))
    with pytest.raises(TypeError, match="rnnkit RNN/LSTM/GRU layer"):
        Streamer(torch.nn.GRU(3, 4))
    stream = Streamer(rnnkit.GRU(3, 4))
    with pytest.raises(ValueError, match=r"expected x of shape \(1, 3\), got \(1, 4\)"):
        stream.step(torch.randn(1, 4))
    with pytest.raises(ValueError, match=r"out must be a contiguous torch.float32 tensor of shape \(1, 4\)"):
        stream.step(torch.randn(1, 3), out=torch.empty(1, 2))  # the kernel would write past its end
    with pytest.raises(ValueError, match="out must be"):
        stream.step(torch.randn(1, 3), out=torch.empty(1, 8)[:, ::2])
