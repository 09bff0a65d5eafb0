"""build_rnn makes the layer an RNNConfig describes, for every cell and variant."""

import pytest
import torch

import rnnkit
from rnnkit.layers.factory import RNNConfig, build_rnn

CASES = [
    (RNNConfig(cell="lstm", hidden_size=6, proj_size=3, bidirectional=True), rnnkit.LSTM, 6),
    (
        RNNConfig(cell="lstm", hidden_size=6, layer_norm=True, peephole=True, coupled=True, forget_bias=1.0),
        rnnkit.LSTM,
        6,
    ),
    (RNNConfig(cell="gru", hidden_size=6, reset_after=False, num_layers=2, dropout=0.1), rnnkit.GRU, 6),
    (RNNConfig(cell="rnn", hidden_size=6, nonlinearity="relu", zoneout=0.1), rnnkit.RNN, 6),
    (RNNConfig(cell="indrnn", hidden_size=6, recurrent_max_abs=1.1), rnnkit.IndRNN, 6),
    (RNNConfig(cell="mingru", hidden_size=6, bidirectional=True), rnnkit.MinGRU, 12),
    (RNNConfig(cell="minlstm", hidden_size=6, learn_initial_state=True), rnnkit.MinLSTM, 6),
    (
        RNNConfig(cell="lstm", hidden_size=6, recurrent_dropout=0.2, weight_drop=0.3, zoneout=(0.1, 0.2)),
        rnnkit.LSTM,
        6,
    ),
]


@pytest.mark.parametrize(("config", "layer_type", "output_size"), CASES)
def test_build_rnn_gives_a_batch_first_layer_of_the_described_kind(config, layer_type, output_size):
    layer = build_rnn(config, 4)
    assert type(layer) is layer_type and layer.batch_first and layer.output_size == config.output_size
    out, _ = layer(torch.randn(2, 5, 4), lengths=torch.tensor([5, 3]))
    assert out.shape == (2, 5, output_size)


def test_options_are_passed_through():
    layer = build_rnn(
        RNNConfig(cell="gru", hidden_size=6, reset_after=False, layer_norm=True, weight_drop=0.3), 4
    )
    cell = layer.recurrent_layers()[0].cell
    assert isinstance(cell, rnnkit.WeightDrop) and cell.p == 0.3
    assert isinstance(cell.cell, rnnkit.LayerNormGRUCell) and not cell.cell.reset_after
    assert build_rnn(RNNConfig(cell="rnn", hidden_size=6), 4).nonlinearity == "tanh"
    assert build_rnn(RNNConfig(cell="indrnn", hidden_size=6), 4).nonlinearity == "relu"


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"cell": "gru", "peephole": True}, "RNNConfig.peephole does not apply to cell='gru'"),
        ({"cell": "mingru", "layer_norm": True}, "RNNConfig.layer_norm does not apply to cell='mingru'"),
        ({"cell": "lstm", "reset_after": False}, "RNNConfig.reset_after does not apply to cell='lstm'"),
        ({"cell": "transformer"}, "RNNConfig.cell must be one of"),
    ],
)
def test_options_a_cell_does_not_have_are_refused(options, message):
    with pytest.raises(ValueError, match=message):
        RNNConfig(**options)


def test_config_chooses_the_fused_kernel_and_recompute():
    from rnnkit.layers.factory import RNNConfig, build_rnn

    layer = build_rnn(RNNConfig(cell="gru", hidden_size=8, impl="fused", recompute=True), 4)
    assert layer.impl == "fused"
    assert all(r.impl == "fused" and r.recompute for r in layer.recurrent_layers())
