"""RNNCell, LSTMCell, GRUCell against torch.nn's cells: outputs, gradients, init, state_dict, errors."""

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

import rnnkit
from tests.oracles import assert_same_outputs_and_grads

PAIRS = [
    (rnnkit.RNNCell, nn.RNNCell, {}),
    (rnnkit.RNNCell, nn.RNNCell, {"nonlinearity": "relu"}),
    (rnnkit.LSTMCell, nn.LSTMCell, {}),
    (rnnkit.GRUCell, nn.GRUCell, {}),
]
IDS = ["rnn_tanh", "rnn_relu", "lstm", "gru"]


@pytest.mark.parametrize(("ours_type", "torch_type", "kwargs"), PAIRS, ids=IDS)
@settings(max_examples=12, deadline=None)
@given(
    batch=st.integers(1, 5),
    input_size=st.integers(1, 7),
    hidden_size=st.integers(1, 9),
    bias=st.booleans(),
    with_state=st.booleans(),
    dtype=st.sampled_from([torch.float32, torch.float64]),
)
def test_cell_matches_torch(
    ours_type, torch_type, kwargs, batch, input_size, hidden_size, bias, with_state, dtype
):
    oracle = torch_type(input_size, hidden_size, bias=bias, dtype=dtype, **kwargs)
    ours = ours_type(input_size, hidden_size, bias=bias, dtype=dtype, **kwargs)
    ours.load_state_dict(oracle.state_dict())
    is_lstm = ours_type is rnnkit.LSTMCell

    def make_inputs():
        gen = torch.Generator().manual_seed(1)
        x = torch.randn(batch, input_size, generator=gen, dtype=dtype, requires_grad=True)
        h = torch.randn(batch, hidden_size, generator=gen, dtype=dtype, requires_grad=True)
        c = torch.randn(batch, hidden_size, generator=gen, dtype=dtype, requires_grad=True)
        return [x, h, c] if is_lstm and with_state else [x, h] if with_state else [x]

    def call(module, x, *state):
        return module(x, tuple(state) if is_lstm else state[0]) if state else module(x)

    assert_same_outputs_and_grads(ours, oracle, call, make_inputs)


@pytest.mark.parametrize(("ours_type", "torch_type", "kwargs"), PAIRS, ids=IDS)
def test_same_init_names_and_shapes_as_torch(ours_type, torch_type, kwargs):
    torch.manual_seed(3)
    oracle = torch_type(5, 7, **kwargs)
    torch.manual_seed(3)
    ours = ours_type(5, 7, **kwargs)
    assert [(n, p.shape) for n, p in ours.named_parameters()] == [
        (n, p.shape) for n, p in oracle.named_parameters()
    ]
    for (name, a), b in zip(ours.state_dict().items(), oracle.state_dict().values()):
        torch.testing.assert_close(a, b, rtol=0, atol=0, msg=name)


@pytest.mark.parametrize(("ours_type", "torch_type", "kwargs"), PAIRS, ids=IDS)
def test_state_dict_round_trips_both_ways(ours_type, torch_type, kwargs):
    ours, oracle = ours_type(4, 6, **kwargs), torch_type(4, 6, **kwargs)
    oracle.load_state_dict(ours.state_dict())
    x = torch.randn(3, 4)
    torch.testing.assert_close(ours(x), oracle(x))
    fresh = ours_type(4, 6, **kwargs)
    fresh.load_state_dict(oracle.state_dict())
    torch.testing.assert_close(fresh(x), oracle(x))


@pytest.mark.parametrize(("ours_type", "torch_type", "kwargs"), PAIRS, ids=IDS)
def test_unbatched_input(ours_type, torch_type, kwargs):
    ours = ours_type(4, 6, **kwargs)
    oracle = torch_type(4, 6, **kwargs)
    oracle.load_state_dict(ours.state_dict())
    x = torch.randn(4)
    torch.testing.assert_close(ours(x), oracle(x))
    state = ours(x)
    torch.testing.assert_close(ours(x, state), oracle(x, state))


@pytest.mark.parametrize("cell_type", [rnnkit.RNNCell, rnnkit.LSTMCell, rnnkit.GRUCell])
def test_bad_arguments_say_what_was_expected(cell_type):
    with pytest.raises(ValueError, match="hidden_size must be >= 1, got 0"):
        cell_type(3, 0)
    with pytest.raises(ValueError, match="input_size must be >= 0, got -2"):
        cell_type(-2, 4)
    with pytest.raises(TypeError, match="hidden_size should be of type int, got: float"):
        cell_type(3, 4.0)
    cell = cell_type(3, 4)
    with pytest.raises(ValueError, match="Expected 3, got 5"):
        cell(torch.randn(2, 5))
    with pytest.raises(ValueError, match="Expected input to be 1D or 2D, got 3D"):
        cell(torch.randn(2, 2, 3))
    bad_h = torch.randn(2, 5)
    state = (bad_h, torch.randn(2, 4)) if cell_type is rnnkit.LSTMCell else bad_h
    with pytest.raises(ValueError, match=r"should have shape \(2, 4\), got \(2, 5\)"):
        cell(torch.randn(2, 3), state)


def test_lstm_state_must_be_a_pair():
    with pytest.raises(TypeError, match="tuple of 2 tensors"):
        rnnkit.LSTMCell(3, 4)(torch.randn(2, 3), torch.randn(2, 4))


def test_rnn_cell_rejects_unknown_nonlinearity():
    with pytest.raises(ValueError, match="Unknown nonlinearity 'sigmoid'"):
        rnnkit.RNNCell(3, 4, nonlinearity="sigmoid")


def test_lstm_returns_named_state():
    h, c = out = rnnkit.LSTMCell(3, 4)(torch.randn(2, 3))
    assert isinstance(out, rnnkit.LSTMState) and out.h is h and out.c is c
