"""pool_sequence and AttentionPooling against per-sequence hand computations and the layers' final states."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from rnnkit.blocks.pooling import AttentionPooling, pool_sequence
from rnnkit.layers.factory import RNNConfig, build_rnn


def hand_pool(outputs: torch.Tensor, lengths: list[int], how: str, directions: int) -> torch.Tensor:
    rows = []
    for b, n in enumerate(lengths):
        valid = outputs[b, :n]  # (n, H)
        if how == "mean":
            rows.append(valid.sum(0) / n)
        elif how == "max":
            rows.append(valid.max(0).values)
        elif directions == 1:
            rows.append(valid[n - 1])
        else:
            half = outputs.size(-1) // 2
            rows.append(torch.cat([valid[n - 1, :half], valid[0, half:]]))
    return torch.stack(rows)


def garbage_padding(outputs: torch.Tensor, lengths: torch.Tensor, value: float = 1e4) -> torch.Tensor:
    steps = outputs.size(1)
    return outputs.masked_fill((torch.arange(steps) >= lengths[:, None]).unsqueeze(-1), value)


@settings(max_examples=40, deadline=None)
@given(
    lengths=st.lists(st.integers(1, 9), min_size=1, max_size=5),
    extra=st.integers(0, 3),
    half=st.integers(1, 4),
    how=st.sampled_from(["last", "mean", "max"]),
    directions=st.sampled_from([1, 2]),
    seed=st.integers(0, 2**16),
)
def test_pool_sequence_matches_hand_computation(lengths, extra, half, how, directions, seed):
    """Padding holds large values (and the valid ones are negative) so that any leak shows."""
    generator = torch.Generator().manual_seed(seed)
    lengths_t = torch.tensor(lengths)
    outputs = -torch.rand(
        len(lengths), max(lengths) + extra, 2 * half, generator=generator, dtype=torch.float64
    )
    outputs = garbage_padding(outputs, lengths_t)
    expected = hand_pool(outputs, lengths, how, directions)
    torch.testing.assert_close(pool_sequence(outputs, lengths_t, how, directions), expected)


@pytest.mark.parametrize("how", ["last", "mean", "max"])
def test_no_lengths_means_all_steps(how):
    outputs = torch.randn(3, 5, 4)
    full = torch.full((3,), 5)
    torch.testing.assert_close(pool_sequence(outputs, None, how), pool_sequence(outputs, full, how))


@pytest.mark.parametrize(
    "config",
    [
        RNNConfig(cell="gru", hidden_size=5),
        RNNConfig(cell="gru", hidden_size=5, num_layers=2, bidirectional=True),
        RNNConfig(cell="lstm", hidden_size=6, bidirectional=True),
        RNNConfig(cell="lstm", hidden_size=6, proj_size=3, bidirectional=True),
        RNNConfig(cell="mingru", hidden_size=4, bidirectional=True, impl="reference"),
    ],
)
def test_last_is_each_directions_final_state(config):
    """For a (bi)directional layer run with lengths, "last" equals the last layer's h_n."""
    torch.manual_seed(0)
    layer = build_rnn(config, 3)
    lengths = torch.tensor([7, 2, 5, 1])
    output, h_n = layer(torch.randn(4, 7, 3), lengths=lengths)
    h_n = h_n[0] if isinstance(h_n, tuple) else h_n  # (L*D, B, H)
    directions = 2 if config.bidirectional else 1
    expected = torch.cat(list(h_n[-directions:]), dim=-1)  # (B, D*H), forward first
    torch.testing.assert_close(pool_sequence(output, lengths, "last", directions), expected)


def hand_attention(pool: AttentionPooling, outputs: torch.Tensor, lengths: list[int]):
    pooled, weights = [], torch.zeros(outputs.shape[:2], dtype=outputs.dtype)
    w, b, v = pool.project.weight, pool.project.bias, pool.query.weight[0]
    for i, n in enumerate(lengths):
        scores = torch.stack([v @ torch.tanh(w @ outputs[i, t] + b) for t in range(n)])
        alpha = torch.exp(scores - scores.max())
        alpha = alpha / alpha.sum()
        weights[i, :n] = alpha
        pooled.append((alpha[:, None] * outputs[i, :n]).sum(0))
    return torch.stack(pooled), weights


@settings(max_examples=30, deadline=None)
@given(
    lengths=st.lists(st.integers(1, 8), min_size=1, max_size=4),
    extra=st.integers(0, 3),
    hidden=st.integers(1, 6),
    attention=st.one_of(st.none(), st.integers(1, 5)),
    seed=st.integers(0, 2**16),
)
def test_attention_matches_hand_computation(lengths, extra, hidden, attention, seed):
    torch.manual_seed(seed)
    pool = AttentionPooling(hidden, attention).double()
    lengths_t = torch.tensor(lengths)
    outputs = garbage_padding(
        torch.randn(len(lengths), max(lengths) + extra, hidden, dtype=torch.float64), lengths_t
    )
    pooled, weights = pool(outputs, lengths_t)
    expected_pooled, expected_weights = hand_attention(pool, outputs, lengths)
    torch.testing.assert_close(pooled, expected_pooled)
    torch.testing.assert_close(weights, expected_weights)
    torch.testing.assert_close(weights.sum(1), torch.ones(len(lengths), dtype=torch.float64))
    assert (weights[torch.arange(outputs.size(1)) >= lengths_t[:, None]] == 0).all()


def test_attention_sends_no_gradient_to_padding():
    torch.manual_seed(0)
    pool = AttentionPooling(4)
    outputs = torch.randn(2, 6, 4, requires_grad=True)
    pooled, _ = pool(outputs, torch.tensor([6, 2]))
    pooled.sum().backward()
    assert outputs.grad[1, 2:].abs().sum() == 0 and outputs.grad[1, :2].abs().sum() > 0


@pytest.mark.parametrize(
    "call, error, match",
    [
        (lambda: pool_sequence(torch.randn(2, 3), None), ValueError, r"float tensor \(B, T, H\), got 2D"),
        (lambda: pool_sequence(torch.ones(2, 3, 4, dtype=torch.long)), ValueError, "float tensor"),
        (lambda: pool_sequence(torch.randn(2, 3, 4), None, "median"), ValueError, "how must be one of"),
        (lambda: pool_sequence(torch.randn(2, 3, 3), None, "last", 2), ValueError, "divide H=3"),
        (
            lambda: pool_sequence(torch.randn(2, 3, 4), None, "last", 3),
            ValueError,
            "directions must be 1 or 2",
        ),
        (
            lambda: pool_sequence(torch.randn(2, 3, 4), torch.tensor([4, 1])),
            ValueError,
            "<= the number of steps",
        ),
        (
            lambda: pool_sequence(torch.randn(2, 3, 4), torch.tensor([0, 1])),
            ValueError,
            "lengths must be >= 1",
        ),
        (
            lambda: AttentionPooling(4)(torch.randn(2, 3, 5)),
            ValueError,
            "expected outputs with H=4 features, got 5",
        ),
        (lambda: AttentionPooling(0), ValueError, "hidden_size must be >= 1"),
        (lambda: AttentionPooling(4)(torch.randn(2, 3, 4), torch.tensor([3])), ValueError, r"shape \(2,\)"),
    ],
)
def test_errors(call, error, match):
    with pytest.raises(error, match=match):
        call()
