"""ConvFrontend against a hand computation, one sequence at a time, with torch's "same" Conv1d."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from rnnkit.blocks.conv_frontend import ConvConfig, ConvFrontend

ACTIVATIONS = {"relu": torch.relu, "tanh": torch.tanh, "gelu": F.gelu, "none": lambda y: y}


def hand_frontend(
    front: ConvFrontend, x: torch.Tensor, lengths: torch.Tensor
) -> tuple[torch.Tensor, list[int]]:
    """One sequence at a time, cut to its length: torch's Conv1d(padding="same"), the activation, then the
    maximum of each window of ``pool_size`` steps, the last window holding what is left. Zero padding."""
    p = front.pool_size
    out = torch.zeros(x.size(0), math.ceil(x.size(1) / p), front.output_size, dtype=x.dtype)
    new_lengths = []
    for b in range(x.size(0)):
        n = int(lengths[b])
        seq = x[b, :n].T.unsqueeze(0)  # (1, C, n)
        features = []
        for conv in front.convs:
            same = nn.Conv1d(conv.in_channels, conv.out_channels, conv.kernel_size, padding="same").to(
                x.dtype
            )
            same.load_state_dict(conv.state_dict())
            features.append(same(seq))
        y = ACTIVATIONS[front.activation](torch.cat(features, 1))[0].T  # (n, C')
        windows = math.ceil(n / p)
        for j in range(windows):
            out[b, j] = y[j * p : min((j + 1) * p, n)].max(0).values
        new_lengths.append(windows)
    return out, new_lengths


@pytest.mark.filterwarnings("ignore:Using padding='same' with even kernel lengths")
@settings(max_examples=40, deadline=None)
@given(
    lengths=st.lists(st.integers(1, 13), min_size=1, max_size=4),
    extra=st.integers(0, 3),
    kernel_sizes=st.lists(st.integers(1, 6), min_size=1, max_size=3),
    pool_size=st.integers(1, 5),
    activation=st.sampled_from(sorted(ACTIVATIONS)),
    seed=st.integers(0, 2**16),
)
def test_matches_hand_computation_per_sequence(lengths, extra, kernel_sizes, pool_size, activation, seed):
    """Covers "same" padding (odd and even kernels), masking before the conv and before the pool (garbage
    in the padding, negative maxima with activation="none"), the ceil length rule and zeroed padding."""
    torch.manual_seed(seed)
    front = ConvFrontend(3, 2, tuple(kernel_sizes), pool_size, activation).double()
    lengths_t = torch.tensor(lengths)
    steps = max(lengths) + extra
    x = torch.randn(len(lengths), steps, 3, dtype=torch.float64)
    x[torch.arange(steps) >= lengths_t[:, None]] = 1e3  # padding garbage must not leak
    out, new_lengths = front(x, lengths_t)
    expected, expected_lengths = hand_frontend(front, x, lengths_t)
    assert new_lengths.tolist() == expected_lengths == [math.ceil(n / pool_size) for n in lengths]
    assert out.shape == expected.shape == (len(lengths), math.ceil(steps / pool_size), 2 * len(kernel_sizes))
    torch.testing.assert_close(out, expected, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("kernel_sizes", [(5,), (3, 4, 5)])
def test_alone_and_in_a_padded_batch_give_the_same_outputs(kernel_sizes):
    torch.manual_seed(0)
    front = ConvFrontend(4, 6, kernel_sizes, pool_size=4).eval()
    lengths = torch.tensor([11, 3, 8, 1])
    x = torch.randn(4, 14, 4)
    batch, new_lengths = front(x, lengths)
    for b, n in enumerate(lengths.tolist()):
        alone, alone_lengths = front(x[b : b + 1, :n])
        m = int(new_lengths[b])
        assert alone_lengths.tolist() == [m] and alone.shape[1] == m
        torch.testing.assert_close(batch[b, :m], alone[0], rtol=0, atol=1e-6)
        assert batch[b, m:].abs().sum() == 0


def test_padding_gets_no_gradient():
    torch.manual_seed(0)
    front = ConvFrontend(3, 4, (3, 4), pool_size=2)
    x = torch.randn(2, 9, 3, requires_grad=True)
    lengths = torch.tensor([9, 4])
    out, _ = front(x, lengths)
    (out * torch.randn_like(out)).sum().backward()
    assert x.grad[1, 4:].abs().sum() == 0
    assert x.grad[1, :4].abs().sum() > 0 and torch.isfinite(x.grad).all()


@settings(max_examples=50, deadline=None)
@given(n=st.integers(1, 1000), pool_size=st.integers(1, 9))
def test_length_rule_is_ceil(n, pool_size):
    front = ConvFrontend(1, 1, (1,), pool_size)
    assert front.output_lengths(torch.tensor([n])).tolist() == [math.ceil(n / pool_size)]


def test_no_lengths_means_all_valid_and_output_sizes():
    front = ConvFrontend(5, 7, (2, 3), pool_size=3)
    out, lengths = front(torch.randn(2, 10, 5))
    assert out.shape == (2, 4, 14) and lengths.tolist() == [4, 4] and front.output_size == 14


def test_dropout_is_training_only_and_keeps_padding_zero():
    torch.manual_seed(0)
    front = ConvFrontend(3, 32, (3,), pool_size=2, dropout=0.5)
    x, lengths = torch.randn(2, 8, 3), torch.tensor([8, 3])
    front.train()
    out, _ = front(x, lengths)
    assert out[1, 2:].abs().sum() == 0 and (out[:, :2] == 0).any()
    front.eval()
    first, second = front(x, lengths)[0], front(x, lengths)[0]
    torch.testing.assert_close(first, second, rtol=0, atol=0)


def test_from_config():
    config = ConvConfig(channels=8, kernel_sizes=(3, 5), pool_size=2, activation="tanh", dropout=0.1)
    front = ConvFrontend.from_config(config, 6)
    assert (front.input_size, front.channels, front.kernel_sizes, front.pool_size, front.activation) == (
        6, 8, (3, 5), 2, "tanh",
    )  # fmt: skip
    assert front.output_size == config.output_size == 16 and front.dropout.p == 0.1


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"channels": 0}, "ConvConfig.channels must be an int >= 1, got 0"),
        ({"pool_size": 1.5}, "ConvConfig.pool_size must be an int >= 1, got 1.5"),
        ({"kernel_sizes": ()}, "ConvConfig.kernel_sizes must be a non-empty tuple"),
        ({"kernel_sizes": (3, 0)}, "ConvConfig.kernel_sizes must be a non-empty tuple of ints >= 1"),
        ({"activation": "sigmoid"}, "ConvConfig.activation must be one of"),
        ({"dropout": 1.0}, r"ConvConfig.dropout must be in \[0, 1\), got 1.0"),
    ],
)
def test_config_errors(kwargs, match):
    with pytest.raises(ValueError, match=match):
        ConvConfig(**kwargs)


@pytest.mark.parametrize(
    "call, error, match",
    [
        (lambda f: f(torch.randn(2, 5)), ValueError, r"expected x of shape \(B, T, 3\), got \(2, 5\)"),
        (lambda f: f(torch.randn(2, 5, 4)), ValueError, r"expected x of shape \(B, T, 3\), got \(2, 5, 4\)"),
        (lambda f: f(torch.ones(2, 5, 3, dtype=torch.long)), TypeError, "must be a float tensor"),
        (
            lambda f: f(torch.randn(2, 5, 3), torch.tensor([5, 6])),
            ValueError,
            "lengths must be <= the number",
        ),
        (lambda f: f(torch.randn(2, 5, 3), torch.tensor([0, 5])), ValueError, "lengths must be >= 1"),
        (lambda f: f(torch.randn(2, 5, 3), torch.tensor([5])), ValueError, r"lengths must have shape \(2,\)"),
        (lambda f: f(torch.randn(2, 5, 3), torch.tensor([5.0, 5.0])), TypeError, "integer tensor"),
    ],
)
def test_input_errors(call, error, match):
    with pytest.raises(error, match=match):
        call(ConvFrontend(3, 2))


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"kernel_sizes": ()}, ValueError, "kernel_sizes must be a non-empty tuple"),
        ({"kernel_sizes": (0,)}, ValueError, "each kernel size must be >= 1, got 0"),
        ({"pool_size": 0}, ValueError, "pool_size must be >= 1, got 0"),
        ({"activation": "swish"}, ValueError, "activation must be one of"),
        ({"dropout": -0.1}, ValueError, "dropout must be in"),
    ],
)
def test_constructor_errors(kwargs, error, match):
    with pytest.raises(error, match=match):
        ConvFrontend(3, 2, **kwargs)
