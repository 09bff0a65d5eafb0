"""Multi-layer, bidirectional variant layers (no torch.nn twin) against a hand composition of their cells."""

import pytest
import torch

import rnnkit
from rnnkit.cells.regularizers import base_cell
from tests.oracles import hand_loop, stack_finals

LAYERS = {
    "indrnn": lambda **kw: rnnkit.IndRNN(3, 4, recurrent_max_abs=1.2, **kw),
    "min_gru": lambda **kw: rnnkit.MinGRU(3, 4, **kw),
    "min_lstm": lambda **kw: rnnkit.MinLSTM(3, 4, **kw),
    "ln_peephole_lstm": lambda **kw: rnnkit.LSTM(3, 4, layer_norm=True, peephole=True, proj_size=2, **kw),
    "coupled_lstm": lambda **kw: rnnkit.LSTM(3, 4, coupled=True, forget_bias=1.0, **kw),
    "gru_reset_before_ln": lambda **kw: rnnkit.GRU(3, 4, reset_after=False, layer_norm=True, **kw),
    "gru_zoneout_eval": lambda **kw: rnnkit.GRU(3, 4, zoneout=0.2, **kw).eval(),
}


@pytest.mark.parametrize("make_layer", LAYERS.values(), ids=LAYERS.keys())
@pytest.mark.parametrize("use_lengths", [False, True])
def test_layer_equals_its_cells_composed_by_hand(make_layer, use_lengths):
    layer = make_layer(num_layers=2, bidirectional=True, dtype=torch.float64)
    x = torch.randn(6, 3, 3, dtype=torch.float64)
    lengths = torch.tensor([6, 2, 4]) if use_lengths else None
    out, h_n = layer(x, lengths=lengths)
    h_n = h_n if isinstance(h_n, tuple) else (h_n,)
    cells = [
        base_cell(r.cell) if not isinstance(r.cell, rnnkit.Zoneout) else r.cell
        for r in layer.recurrent_layers()
    ]
    inputs, finals = x, []
    for k in range(0, len(cells), 2):
        fwd, fwd_final = hand_loop(cells[k], inputs, None, lengths)
        bwd, bwd_final = hand_loop(cells[k + 1], inputs, None, lengths, reverse=True)
        inputs = torch.cat([fwd, bwd], dim=-1)
        finals += [stack_finals(fwd_final), stack_finals(bwd_final)]
    torch.testing.assert_close(out, inputs, rtol=1e-10, atol=1e-10)
    for field, got in enumerate(h_n):
        want = torch.stack([f if isinstance(f, torch.Tensor) else f[field] for f in finals])
        torch.testing.assert_close(got, want, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("make_layer", LAYERS.values(), ids=LAYERS.keys())
def test_variant_layers_train_and_record(make_layer):
    layer = make_layer(batch_first=True)
    x = torch.randn(2, 5, 3, requires_grad=True)
    out, _ = layer(x, lengths=torch.tensor([5, 3]))
    out.sum().backward()
    assert x.grad is not None and all(p.grad is not None for p in layer.parameters())
    rec_out, _, internals = layer.record(x, lengths=torch.tensor([5, 3]))
    torch.testing.assert_close(rec_out, out, rtol=1e-5, atol=1e-6)
    assert internals[0]["h"].shape == out.shape


def test_layers_without_a_torch_kernel_refuse_native():
    with pytest.raises(ValueError, match="torch has no fused kernel for this cell type"):
        rnnkit.IndRNN(3, 4, impl="native")(torch.randn(5, 2, 3))


def test_indrnn_state_dict_uses_torch_style_names():
    layer = rnnkit.IndRNN(3, 4, num_layers=2, bidirectional=True)
    assert list(layer.state_dict())[:3] == ["weight_ih_l0", "weight_hh_l0", "bias_ih_l0"]
    assert layer.weight_hh_l1_reverse.shape == (4,)


def test_min_layers_have_no_recurrent_weights_to_drop():
    with pytest.raises(TypeError, match="MinGRUCell has none"):
        rnnkit.MinGRU(3, 4, recurrent_dropout=0.2)
    rnnkit.MinLSTM(3, 4, zoneout=0.1)(torch.randn(5, 2, 3))
