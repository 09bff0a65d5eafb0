"""Recurrent dropout, weight drop and zoneout: exact semantics (rebuilt by hand from the same random
draws), one mask per sequence, inactive in eval(), deterministic under a seed, plain when p = 0."""

import pytest
import torch
import torch.nn.functional as F

import rnnkit
from rnnkit.cells.base import LSTMState

CELLS = {
    "rnn": lambda: rnnkit.RNNCell(3, 5),
    "lstm": lambda: rnnkit.LSTMCell(3, 5),
    "gru": lambda: rnnkit.GRUCell(3, 5),
    "gru_reset_before": lambda: rnnkit.GRUCell(3, 5, reset_after=False),
    "ln_lstm": lambda: rnnkit.LayerNormLSTMCell(3, 5),
}
WRAPPERS = {
    "recurrent_dropout": lambda cell: rnnkit.RecurrentDropout(cell, 0.5),
    "weight_drop": lambda cell: rnnkit.WeightDrop(cell, 0.5),
    "zoneout": lambda cell: rnnkit.Zoneout(cell, h=0.3, c=0.2 if len(cell.state_sizes) == 2 else 0.0),
}


def unroll(cell, x):
    return rnnkit.Recurrent(cell)(x)


@pytest.mark.parametrize("make_cell", CELLS.values(), ids=CELLS.keys())
@pytest.mark.parametrize("wrap", WRAPPERS.values(), ids=WRAPPERS.keys())
def test_deterministic_under_a_seed_and_random_otherwise(make_cell, wrap):
    cell = wrap(make_cell())
    x = torch.randn(6, 4, 3)
    torch.manual_seed(1)
    a = unroll(cell, x)[0]
    torch.manual_seed(1)
    b = unroll(cell, x)[0]
    torch.manual_seed(2)
    c = unroll(cell, x)[0]
    torch.testing.assert_close(a, b, rtol=0, atol=0)
    assert (a - c).abs().max() > 1e-4


@pytest.mark.parametrize("make_cell", CELLS.values(), ids=CELLS.keys())
@pytest.mark.parametrize("wrap", [WRAPPERS["recurrent_dropout"], WRAPPERS["weight_drop"]], ids=["rd", "wd"])
def test_dropouts_are_inactive_in_eval(make_cell, wrap):
    cell = make_cell()
    wrapped = wrap(cell).eval()
    x = torch.randn(6, 4, 3)
    torch.testing.assert_close(unroll(wrapped, x)[0], unroll(cell, x)[0], rtol=0, atol=0)


@pytest.mark.parametrize("make_cell", CELLS.values(), ids=CELLS.keys())
@pytest.mark.parametrize("wrapper", [rnnkit.RecurrentDropout, rnnkit.WeightDrop, rnnkit.Zoneout])
def test_probability_zero_is_the_plain_cell(make_cell, wrapper):
    cell = make_cell()
    x = torch.randn(6, 4, 3)
    torch.testing.assert_close(unroll(wrapper(cell), x)[0], unroll(cell, x)[0], rtol=0, atol=0)


def test_recurrent_dropout_uses_one_mask_per_sequence_on_h_only():
    """GRU (reset-after): the mask multiplies h where W_hh does, the carried z ⊙ h_{t-1} stays intact."""
    cell = rnnkit.GRUCell(3, 5)
    x = torch.randn(7, 4, 3)
    torch.manual_seed(5)
    got, _ = unroll(rnnkit.RecurrentDropout(cell, 0.4), x)
    torch.manual_seed(5)
    mask = F.dropout(torch.ones(4, 5), 0.4, training=True)  # the same single draw, for the whole sequence
    h, want = torch.zeros(4, 5), []
    for x_t in x:
        x_r, x_z, x_n = F.linear(x_t, cell.weight_ih, cell.bias_ih).chunk(3, -1)
        h_r, h_z, h_n = F.linear(h * mask, cell.weight_hh, cell.bias_hh).chunk(3, -1)
        r, z = torch.sigmoid(x_r + h_r), torch.sigmoid(x_z + h_z)
        n = torch.tanh(x_n + r * h_n)
        h = (1 - z) * n + z * h
        want.append(h)
    torch.testing.assert_close(got, torch.stack(want))


def test_recurrent_dropout_masks_the_projected_h_of_an_lstm_with_projection():
    cell = rnnkit.RecurrentDropout(rnnkit.LSTMCell(3, 6, proj_size=2), 0.5)
    rec = cell.recurrence(4)
    assert rec.h_mask.shape == (4, 2)
    assert set(rec.h_mask.unique().tolist()) <= {0.0, 2.0}


def test_weight_drop_drops_w_hh_once_per_sequence():
    cell = rnnkit.LSTMCell(3, 5)
    x = torch.randn(7, 4, 3)
    torch.manual_seed(9)
    got, _ = unroll(rnnkit.WeightDrop(cell, 0.5), x)
    torch.manual_seed(9)
    dropped = F.dropout(cell.weight_hh, 0.5, training=True)
    plain = rnnkit.LSTMCell(3, 5)
    plain.load_state_dict({**cell.state_dict(), "weight_hh": dropped.detach()})
    torch.testing.assert_close(got, unroll(plain, x)[0])


def test_zoneout_keeps_each_unit_old_or_new_in_training_and_the_expectation_in_eval():
    cell = rnnkit.LSTMCell(3, 5)
    zone = rnnkit.Zoneout(cell, h=0.3, c=0.6)
    x_t = torch.randn(200, 3)
    state = LSTMState(torch.randn(200, 5), torch.randn(200, 5))
    new = cell(x_t, state)
    out = zone(x_t, state)
    for field, p in (("h", 0.3), ("c", 0.6)):
        old_f, new_f, out_f = getattr(state, field), getattr(new, field), getattr(out, field)
        kept_old = out_f == old_f
        assert torch.all(kept_old | (out_f == new_f))
        assert abs(kept_old.float().mean().item() - p) < 0.05
    zone.eval()
    out = zone(x_t, state)
    torch.testing.assert_close(out.h, 0.3 * state.h + 0.7 * new.h)
    torch.testing.assert_close(out.c, 0.6 * state.c + 0.4 * new.c)


def test_wrappers_nest_and_gradients_flow():
    cell = rnnkit.Zoneout(
        rnnkit.WeightDrop(rnnkit.RecurrentDropout(rnnkit.LSTMCell(3, 5), 0.2), 0.3), 0.1, 0.1
    )
    out, _ = unroll(cell, torch.randn(6, 2, 3))
    out.sum().backward()
    assert all(p.grad is not None for p in cell.parameters())


def test_regularised_layers_are_plain_layers_in_eval():
    torch.manual_seed(0)
    oracle = torch.nn.LSTM(3, 5, num_layers=2, bidirectional=True)
    layer = rnnkit.LSTM(3, 5, num_layers=2, bidirectional=True, recurrent_dropout=0.3, weight_drop=0.2)
    layer.load_state_dict(oracle.state_dict())
    x = torch.randn(6, 4, 3)
    layer.eval()
    torch.testing.assert_close(layer(x)[0], oracle(x)[0])
    layer.train()
    assert (layer(x)[0] - oracle(x)[0]).abs().max() > 1e-4


@pytest.mark.parametrize("wrapper", [rnnkit.RecurrentDropout, rnnkit.WeightDrop])
@pytest.mark.parametrize("p", [-0.1, 1.5])
def test_probabilities_outside_zero_one_are_rejected(wrapper, p):
    with pytest.raises(ValueError, match=rf"p must be in \[0, 1\], got {p}"):
        wrapper(rnnkit.LSTMCell(3, 4), p)


def test_zoneout_on_c_needs_a_cell_state():
    with pytest.raises(ValueError, match="has no cell state c"):
        rnnkit.Zoneout(rnnkit.GRUCell(3, 4), h=0.1, c=0.1)
    with pytest.raises(ValueError, match=r"Zoneout: h must be in \[0, 1\]"):
        rnnkit.Zoneout(rnnkit.GRUCell(3, 4), h=2.0)


def test_wrappers_need_an_rnnkit_cell():
    with pytest.raises(TypeError, match="wraps an rnnkit cell"):
        rnnkit.Zoneout(torch.nn.LSTMCell(3, 4), h=0.1)


@pytest.mark.parametrize("wrap", WRAPPERS.values(), ids=WRAPPERS.keys())
def test_regularised_sequence_passes_gradcheck(wrap):
    """float64 gradcheck through a whole masked, reversed sequence; the seed is reset on every call so
    the random masks are the same function of the inputs each time gradcheck evaluates it."""
    cell = wrap(rnnkit.LSTMCell(2, 3, dtype=torch.float64))
    layer = rnnkit.Recurrent(cell, reverse=True)
    x = torch.randn(4, 2, 2, dtype=torch.float64, requires_grad=True)
    lengths = torch.tensor([4, 2])

    def run(x, *params):
        torch.manual_seed(0)
        out, (h, c) = layer(x, lengths=lengths)
        return out, h, c

    assert torch.autograd.gradcheck(run, (x, *cell.parameters()))
