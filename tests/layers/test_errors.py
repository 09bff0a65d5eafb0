"""Bad arguments raise ValueError / TypeError saying what was expected and what came."""

import pytest
import torch

import rnnkit
from rnnkit.layers import Recurrent


@pytest.mark.parametrize("layer_type", [rnnkit.RNN, rnnkit.LSTM, rnnkit.GRU])
def test_bad_constructor_arguments(layer_type):
    with pytest.raises(ValueError, match="hidden_size must be >= 1, got -1"):
        layer_type(3, -1)
    with pytest.raises(ValueError, match="num_layers must be >= 1, got 0"):
        layer_type(3, 4, num_layers=0)
    with pytest.raises(ValueError, match=r"dropout must be in \[0, 1\], got 1.5"):
        layer_type(3, 4, num_layers=2, dropout=1.5)
    with pytest.raises(TypeError, match="input_size should be of type int, got: str"):
        layer_type("3", 4)
    with pytest.raises(
        ValueError, match=r"impl must be one of \('auto', 'reference', 'native', 'fused'\), got 'fast'"
    ):
        layer_type(3, 4, impl="fast")
    with pytest.raises(ValueError, match=r"RecurrentDropout: p must be in \[0, 1\], got -0.2"):
        layer_type(3, 4, recurrent_dropout=-0.2)
    with pytest.warns(UserWarning, match="non-zero dropout expects num_layers greater than 1"):
        layer_type(3, 4, dropout=0.5)


def test_lstm_projection_errors():
    with pytest.raises(ValueError, match="proj_size has to be smaller than hidden_size"):
        rnnkit.LSTM(3, 4, proj_size=4)
    with pytest.raises(ValueError, match="proj_size should be a positive integer or zero"):
        rnnkit.LSTM(3, 4, proj_size=-1)


@pytest.mark.parametrize("impl", ["reference", "native"])
def test_bad_forward_arguments(impl):
    lstm = rnnkit.LSTM(3, 4, num_layers=2, impl=impl)
    x = torch.randn(5, 2, 3)
    with pytest.raises(ValueError, match="input.size\\(-1\\) must be equal to input_size. Expected 3, got 6"):
        lstm(torch.randn(5, 2, 6))
    with pytest.raises(ValueError, match="Expected input to be 2D or 3D, got 4D"):
        lstm(torch.randn(5, 2, 3, 1))
    with pytest.raises(ValueError, match="lengths must be <= the number of steps 5, got a length of 6"):
        lstm(x, lengths=torch.tensor([6, 2]))
    with pytest.raises(ValueError, match="lengths must be >= 1 .* got a length of 0"):
        lstm(x, lengths=torch.tensor([0, 2]))
    with pytest.raises(ValueError, match=r"lengths must have shape \(2,\) \(one per sequence\), got \(3,\)"):
        lstm(x, lengths=torch.tensor([1, 2, 3]))
    with pytest.raises(TypeError, match="lengths must be an integer tensor, got dtype torch.float32"):
        lstm(x, lengths=torch.tensor([1.0, 2.0]))
    with pytest.raises(ValueError, match=r"Expected hidden\[0\] size \(2, 2, 4\), got \(1, 2, 4\)"):
        lstm(x, (torch.zeros(1, 2, 4), torch.zeros(2, 2, 4)))
    with pytest.raises(ValueError, match=r"Expected hidden\[1\] size \(2, 2, 4\), got \(2, 3, 4\)"):
        lstm(x, (torch.zeros(2, 2, 4), torch.zeros(2, 3, 4)))
    with pytest.raises(TypeError, match=r"hx must be a pair \(h_0, c_0\) of tensors"):
        lstm(x, torch.zeros(2, 2, 4))
    with pytest.raises(TypeError, match="hx must be a tensor"):
        rnnkit.GRU(3, 4, impl=impl)(x, (torch.zeros(1, 2, 4),))


def test_packed_sequence_and_lengths_together_are_refused():
    packed = torch.nn.utils.rnn.pack_padded_sequence(torch.randn(5, 2, 3), torch.tensor([5, 3]))
    with pytest.raises(ValueError, match="either a PackedSequence or lengths="):
        rnnkit.GRU(3, 4)(packed, lengths=torch.tensor([5, 3]))
    with pytest.raises(TypeError, match="record\\(\\) takes a padded tensor"):
        rnnkit.GRU(3, 4).record(packed)


def test_recurrent_layer_input_errors():
    layer = Recurrent(rnnkit.GRUCell(3, 4))
    with pytest.raises(ValueError, match="Recurrent: Expected input to be 3D"):
        layer(torch.randn(5, 3))
    with pytest.raises(
        ValueError, match="Recurrent: input.size\\(-1\\) must be equal to input_size. Expected 3, got 2"
    ):
        layer(torch.randn(5, 2, 2))
    with pytest.raises(ValueError, match=r"GRUCell: state\[0\] should have shape \(2, 4\), got \(3, 4\)"):
        layer(torch.randn(5, 2, 3), torch.zeros(3, 4))


def test_zoneout_pair_on_a_gru_layer_is_refused():
    with pytest.raises(ValueError, match="has no cell state c"):
        rnnkit.GRU(3, 4, zoneout=(0.1, 0.1))
    rnnkit.GRU(3, 4, zoneout=0.1)  # one probability: applies to h only
