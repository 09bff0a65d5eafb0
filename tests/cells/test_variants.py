"""LSTM and GRU variants: each equals its equations written out here, reduces to the plain cell when
switched off, and passes gradcheck in float64."""

import pytest
import torch
from torch import nn

import rnnkit
from rnnkit.cells.layer_norm import GateNorm

sig, tanh = torch.sigmoid, torch.tanh


def lstm_by_hand(cell, x, h, c, *, peephole=False, coupled=False, layer_norm=False):
    """The LSTM variants' equations, written independently of the cell's code."""
    H = cell.hidden_size
    wx = x @ cell.weight_ih.T
    wh = h @ cell.weight_hh.T
    if layer_norm:  # Ba et al.: LN over all gates together, gain only; biases added after
        wx = nn.functional.layer_norm(wx, wx.shape[-1:]) * cell.ln_ih.weight[0]
        wh = nn.functional.layer_norm(wh, wh.shape[-1:]) * cell.ln_hh.weight[0]
    pre = wx + wh + cell.bias_ih + cell.bias_hh
    if coupled:
        pf, pg, po = pre[:, :H], pre[:, H : 2 * H], pre[:, 2 * H :]
    else:
        pi, pf, pg, po = pre[:, :H], pre[:, H : 2 * H], pre[:, 2 * H : 3 * H], pre[:, 3 * H :]
    if peephole:
        pf = pf + cell.weight_cf * c
        if not coupled:
            pi = pi + cell.weight_ci * c
    f = sig(pf)
    i = 1 - f if coupled else sig(pi)
    c_new = f * c + i * tanh(pg)
    if peephole:
        po = po + cell.weight_co * c_new
    c_out = cell.ln_c(c_new) if layer_norm else c_new
    h_new = sig(po) * tanh(c_out)
    if cell.proj_size:
        h_new = h_new @ cell.weight_hr.T
    return h_new, c_new


def randomize(module, seed=0):
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in module.parameters():
            p.copy_(torch.randn(p.shape, generator=gen, dtype=p.dtype) * 0.5)
    return module


LSTM_VARIANTS = [
    {},
    {"peephole": True},
    {"coupled": True},
    {"peephole": True, "coupled": True},
    {"proj_size": 3},
    {"peephole": True, "proj_size": 3},
]


@pytest.mark.parametrize("layer_norm", [False, True])
@pytest.mark.parametrize("options", LSTM_VARIANTS, ids=str)
def test_lstm_variant_equals_its_equations(options, layer_norm):
    cell_type = rnnkit.LayerNormLSTMCell if layer_norm else rnnkit.LSTMCell
    cell = randomize(cell_type(4, 6, dtype=torch.float64, **options))
    x = torch.randn(5, 4, dtype=torch.float64)
    h = torch.randn(5, options.get("proj_size") or 6, dtype=torch.float64)
    c = torch.randn(5, 6, dtype=torch.float64)
    want = lstm_by_hand(
        cell,
        x,
        h,
        c,
        peephole=options.get("peephole", False),
        coupled=options.get("coupled", False),
        layer_norm=layer_norm,
    )
    got = cell(x, (h, c))
    torch.testing.assert_close(got.h, want[0], rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(got.c, want[1], rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize(
    ("cell_type", "options"),
    [(rnnkit.LSTMCell, o) for o in LSTM_VARIANTS[1:]]
    + [(rnnkit.LayerNormLSTMCell, {}), (rnnkit.LayerNormLSTMCell, {"peephole": True, "proj_size": 2})]
    + [
        (rnnkit.GRUCell, {"reset_after": False}),
        (rnnkit.LayerNormGRUCell, {}),
        (rnnkit.LayerNormGRUCell, {"reset_after": False}),
    ],
    ids=str,
)
def test_variant_gradcheck(cell_type, options):
    cell = randomize(cell_type(3, 4, dtype=torch.float64, **options))
    x = torch.randn(2, 3, dtype=torch.float64, requires_grad=True)
    h = torch.randn(2, options.get("proj_size") or 4, dtype=torch.float64, requires_grad=True)
    if issubclass(cell_type, rnnkit.LSTMCell):
        c = torch.randn(2, 4, dtype=torch.float64, requires_grad=True)
        inputs = (x, h, c, *cell.parameters())
        assert torch.autograd.gradcheck(lambda x, h, c, *_: tuple(cell(x, (h, c))), inputs)
    else:
        assert torch.autograd.gradcheck(lambda x, h, *_: cell(x, h), (x, h, *cell.parameters()))


def test_peephole_with_zero_peepholes_is_the_plain_cell():
    plain = rnnkit.LSTMCell(4, 6)
    peephole = rnnkit.LSTMCell(4, 6, peephole=True)
    peephole.load_state_dict(
        {**plain.state_dict(), **{k: torch.zeros(6) for k in ("weight_ci", "weight_cf", "weight_co")}}
    )
    x, state = torch.randn(3, 4), (torch.randn(3, 6), torch.randn(3, 6))
    torch.testing.assert_close(peephole(x, state), plain(x, state), rtol=0, atol=0)


def test_options_off_give_torch_lstm_cell():
    cell = rnnkit.LSTMCell(4, 6, proj_size=0, peephole=False, coupled=False, forget_bias=None)
    oracle = nn.LSTMCell(4, 6)
    oracle.load_state_dict(cell.state_dict())
    x = torch.randn(3, 4)
    torch.testing.assert_close(cell(x), oracle(x))


def test_coupled_cell_has_three_gate_blocks_and_ties_i_to_f():
    cell = rnnkit.LSTMCell(4, 6, coupled=True)
    assert cell.weight_ih.shape == (18, 4) and cell.weight_hh.shape == (18, 6)
    layer = rnnkit.Recurrent(cell)
    _, _, [internals] = layer.record(torch.randn(5, 2, 4))
    torch.testing.assert_close(internals["i"], 1 - internals["f"])


@pytest.mark.parametrize("coupled", [False, True])
def test_forget_bias_initialises_the_total_forget_bias(coupled):
    cell = rnnkit.LSTMCell(4, 6, forget_bias=1.0, coupled=coupled)
    f = slice(0, 6) if coupled else slice(6, 12)
    torch.testing.assert_close(cell.bias_ih[f] + cell.bias_hh[f], torch.ones(6))
    other = slice(6, 18) if coupled else slice(0, 6)
    assert cell.bias_ih[other].abs().max() > 0  # the other gates keep torch's uniform init


def test_forget_bias_needs_a_bias():
    with pytest.raises(ValueError, match="forget_bias needs bias=True"):
        rnnkit.LSTMCell(4, 6, bias=False, forget_bias=1.0)


def test_proj_size_must_be_smaller_than_hidden_size():
    with pytest.raises(ValueError, match="proj_size has to be smaller than hidden_size, got 6 >= 6"):
        rnnkit.LSTMCell(4, 6, proj_size=6)


def test_gru_reset_before_equals_the_original_paper():
    cell = randomize(rnnkit.GRUCell(4, 6, dtype=torch.float64, reset_after=False))
    x, h = torch.randn(5, 4, dtype=torch.float64), torch.randn(5, 6, dtype=torch.float64)
    W_ir, W_iz, W_in = cell.weight_ih.chunk(3)
    W_hr, W_hz, W_hn = cell.weight_hh.chunk(3)
    b_ir, b_iz, b_in = cell.bias_ih.chunk(3)
    b_hr, b_hz, b_hn = cell.bias_hh.chunk(3)
    r = sig(x @ W_ir.T + b_ir + h @ W_hr.T + b_hr)
    z = sig(x @ W_iz.T + b_iz + h @ W_hz.T + b_hz)
    n = tanh(x @ W_in.T + b_in + (r * h) @ W_hn.T + b_hn)
    torch.testing.assert_close(cell(x, h), (1 - z) * n + z * h, rtol=1e-12, atol=1e-12)
    after = rnnkit.GRUCell(4, 6, dtype=torch.float64)
    after.load_state_dict(cell.state_dict())
    assert (after(x, h) - cell(x, h)).abs().max() > 1e-3  # the two forms really differ


@pytest.mark.parametrize("reset_after", [True, False])
def test_layer_norm_gru_equals_its_equations(reset_after):
    cell = randomize(rnnkit.LayerNormGRUCell(4, 6, dtype=torch.float64, reset_after=reset_after))
    x, h = torch.randn(5, 4, dtype=torch.float64), torch.randn(5, 6, dtype=torch.float64)

    def ln(v, gain):
        return nn.functional.layer_norm(v, (6,)) * gain

    W_i, W_h = cell.weight_ih.chunk(3), cell.weight_hh.chunk(3)
    b_i, b_h = cell.bias_ih.chunk(3), cell.bias_hh.chunk(3)
    gi, gh = cell.ln_ih.weight, cell.ln_hh.weight
    xr, xz, xn = (ln(x @ W_i[k].T, gi[k]) + b_i[k] for k in range(3))
    hr, hz = (ln(h @ W_h[k].T, gh[k]) + b_h[k] for k in range(2))
    r, z = sig(xr + hr), sig(xz + hz)
    if reset_after:
        n = tanh(xn + r * (ln(h @ W_h[2].T, gh[2]) + b_h[2]))
    else:
        n = tanh(xn + ln((r * h) @ W_h[2].T, gh[2]) + b_h[2])
    torch.testing.assert_close(cell(x, h), (1 - z) * n + z * h, rtol=1e-12, atol=1e-12)


def test_gate_norm_normalises_each_block():
    norm = GateNorm(3, 5)
    y = norm(torch.randn(4, 15) * 10 + 3).view(4, 3, 5)
    torch.testing.assert_close(y.mean(-1), torch.zeros(4, 3), atol=1e-5, rtol=0)
    torch.testing.assert_close(y.var(-1, unbiased=False), torch.ones(4, 3), atol=1e-3, rtol=0)


def test_layer_norm_cells_reset_their_norms():
    cell = rnnkit.LayerNormLSTMCell(3, 4)
    with torch.no_grad():
        cell.ln_c.weight.fill_(5.0)
        cell.ln_ih.weight.fill_(5.0)
    cell.reset_parameters()
    assert torch.equal(cell.ln_c.weight, torch.ones(4)) and torch.equal(cell.ln_ih.weight, torch.ones(1, 16))
