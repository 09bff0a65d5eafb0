"""Recurrent / Bidirectional / Stacked against a hand loop over the cell; lengths, reverse, record,
learned initial state, a user's own cell, and the Stateful (truncated BPTT) API."""

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import Tensor, nn

import rnnkit
from rnnkit.cells.base import Recurrence, RecurrentCell
from rnnkit.layers import Bidirectional, Recurrent, Stacked
from tests.oracles import hand_loop, stack_finals

CELLS = {
    "rnn": lambda: rnnkit.RNNCell(3, 4, dtype=torch.float64),
    "lstm": lambda: rnnkit.LSTMCell(3, 4, dtype=torch.float64),
    "lstm_peephole_proj": lambda: rnnkit.LSTMCell(3, 4, peephole=True, proj_size=2, dtype=torch.float64),
    "lstm_coupled": lambda: rnnkit.LSTMCell(3, 4, coupled=True, dtype=torch.float64),
    "gru": lambda: rnnkit.GRUCell(3, 4, dtype=torch.float64),
    "gru_reset_before": lambda: rnnkit.GRUCell(3, 4, reset_after=False, dtype=torch.float64),
    "ln_lstm": lambda: rnnkit.LayerNormLSTMCell(3, 4, dtype=torch.float64),
    "ln_gru": lambda: rnnkit.LayerNormGRUCell(3, 4, dtype=torch.float64),
    "zoneout_eval": lambda: rnnkit.Zoneout(rnnkit.LSTMCell(3, 4, dtype=torch.float64), 0.3, 0.2).eval(),
}


@pytest.mark.parametrize("make_cell", CELLS.values(), ids=CELLS.keys())
@settings(max_examples=10, deadline=None)
@given(
    batch=st.integers(1, 4),
    steps=st.integers(1, 6),
    data=st.data(),
    reverse=st.booleans(),
    with_state=st.booleans(),
)
def test_layer_equals_the_cell_called_step_by_step(make_cell, batch, steps, data, reverse, with_state):
    cell = make_cell()
    lengths = torch.tensor(data.draw(st.lists(st.integers(1, steps), min_size=batch, max_size=batch)))
    use_lengths = data.draw(st.booleans())
    x = torch.randn(steps, batch, 3, dtype=torch.float64)
    state = cell.initial_state(batch)
    state = (
        type(state)(*(torch.randn_like(s) for s in state))
        if isinstance(state, tuple)
        else torch.randn_like(state)
    )
    state = state if with_state else None
    layer = Recurrent(cell, reverse=reverse)
    out, final = layer(x, state, lengths=lengths if use_lengths else None)
    want_out, want_finals = hand_loop(cell, x, state, lengths if use_lengths else None, reverse)
    torch.testing.assert_close(out, want_out, rtol=1e-12, atol=1e-12)
    want_final = stack_finals(want_finals)
    for got, want in zip(
        final if isinstance(final, tuple) else (final,),
        want_final if isinstance(want_final, tuple) else (want_final,),
    ):
        torch.testing.assert_close(got, want, rtol=1e-12, atol=1e-12)


def test_padding_never_changes_a_result():
    layer = rnnkit.LSTM(3, 4, num_layers=2, bidirectional=True, batch_first=True, layer_norm=True)
    x = torch.randn(2, 6, 3)
    lengths = torch.tensor([6, 3])
    out, (h, c) = layer(x, lengths=lengths)
    noisy = x.clone()
    noisy[1, 3:] = 1e3 * torch.randn(3, 3)
    out2, (h2, c2) = layer(noisy, lengths=lengths)
    torch.testing.assert_close(out, out2)
    torch.testing.assert_close(h, h2)
    alone, (h_alone, _) = layer(x[1:, :3])
    torch.testing.assert_close(out[1, :3], alone[0])
    torch.testing.assert_close(h[:, 1], h_alone[:, 0])
    assert torch.all(out[1, 3:] == 0)


def test_lengths_may_live_on_any_device_and_be_unsorted_int32():
    layer = rnnkit.GRU(3, 4, bidirectional=True, layer_norm=True)
    x = torch.randn(5, 3, 3)
    a, _ = layer(x, lengths=torch.tensor([2, 5, 1], dtype=torch.int32))
    b, _ = layer(x, lengths=torch.tensor([2, 5, 1]))
    torch.testing.assert_close(a, b)


def test_bidirectional_backward_state_is_the_state_at_the_first_step():
    fwd, bwd = rnnkit.GRUCell(3, 4), rnnkit.GRUCell(3, 4)
    bi = Bidirectional(Recurrent(fwd), Recurrent(bwd, reverse=True), batch_first=True)
    x = torch.randn(2, 5, 3)
    lengths = torch.tensor([5, 2])
    out, (h_f, h_b) = bi(x, lengths=lengths)
    want_b, finals_b = hand_loop(bwd, x.transpose(0, 1), None, lengths, reverse=True)
    torch.testing.assert_close(out[..., 4:], want_b.transpose(0, 1))
    torch.testing.assert_close(h_b, stack_finals(finals_b))
    torch.testing.assert_close(out[:, 0, 4:], h_b)  # the backward direction ends at t = 0
    summed = Bidirectional(Recurrent(fwd), Recurrent(bwd, reverse=True), merge="sum", batch_first=True)
    torch.testing.assert_close(summed(x, lengths=lengths)[0], out[..., :4] + out[..., 4:])


def test_stacked_feeds_each_layer_the_previous_output_with_dropout_between():
    cells = [rnnkit.LSTMCell(3, 4), rnnkit.LSTMCell(4, 5)]
    stack = Stacked([Recurrent(cells[0]), Recurrent(cells[1])], dropout=0.5)
    x = torch.randn(6, 2, 3)
    stack.eval()
    out, states = stack(x)
    mid, _ = Recurrent(cells[0])(x)
    want, want_state = Recurrent(cells[1])(mid)
    torch.testing.assert_close(out, want)
    torch.testing.assert_close(states[1].c, want_state.c)
    stack.train()
    torch.manual_seed(0)
    dropped, _ = stack(x)
    torch.manual_seed(0)
    mask_mid = nn.functional.dropout(mid, 0.5, training=True)
    torch.testing.assert_close(dropped, Recurrent(cells[1])(mask_mid)[0])


def test_record_gives_gates_that_match_the_equations():
    cell = rnnkit.LSTMCell(3, 4, dtype=torch.float64)
    layer = rnnkit.Recurrent(cell, batch_first=True)
    x = torch.randn(2, 5, 3, dtype=torch.float64)
    out, state, [rec] = layer.record(x, lengths=torch.tensor([5, 3]))
    assert set(rec) == {"i", "f", "g", "o", "h", "c"} and rec["f"].shape == (2, 5, 4)
    h = c = torch.zeros(1, 4, dtype=torch.float64)
    for t in range(5):  # sequence 0, by hand
        pre = x[0, t] @ cell.weight_ih.T + cell.bias_ih + h @ cell.weight_hh.T + cell.bias_hh
        i, f, g, o = pre.chunk(4, -1)
        i, f, g, o = torch.sigmoid(i), torch.sigmoid(f), torch.tanh(g), torch.sigmoid(o)
        c = f * c + i * g
        h = o * torch.tanh(c)
        for name, value in zip("ifgohc", (i, f, g, o, h, c)):
            torch.testing.assert_close(rec[name][0, t], value[0])
    assert torch.all(rec["f"][1, 3:] == 0)  # padded steps are zero
    torch.testing.assert_close(out, layer(x, lengths=torch.tensor([5, 3]))[0])


def test_layer_record_has_every_layer_and_direction_and_does_not_change_outputs():
    lstm = rnnkit.LSTM(3, 4, num_layers=2, bidirectional=True, batch_first=True)
    x = torch.randn(2, 5, 3)
    out, (h, c), internals = lstm.record(x, lengths=torch.tensor([5, 2]))
    ref_out, (ref_h, _) = lstm(x, lengths=torch.tensor([5, 2]))
    torch.testing.assert_close(out, ref_out)
    torch.testing.assert_close(h, ref_h)
    assert len(internals) == 4 and internals[3]["o"].shape == (2, 5, 4)
    torch.testing.assert_close(internals[3]["h"], out[..., 4:])  # layer 1 backward h is the output's 2nd half
    gru = rnnkit.GRU(3, 4)
    assert set(gru.record(torch.randn(5, 2, 3))[2][0]) == {"r", "z", "n", "h"}
    assert set(rnnkit.RNN(3, 4).record(torch.randn(5, 2, 3))[2][0]) == {"h"}


def test_learned_initial_state_is_used_and_trained():
    lstm = rnnkit.LSTM(3, 4, learn_initial_state=True, batch_first=True)
    with torch.no_grad():
        lstm.initial_h_l0.fill_(0.5)
        lstm.initial_c_l0.fill_(-0.5)
    x = torch.randn(2, 5, 3)
    h0, c0 = torch.full((1, 2, 4), 0.5), torch.full((1, 2, 4), -0.5)
    torch.testing.assert_close(lstm(x)[0], lstm(x, (h0, c0))[0])
    assert lstm.stack.layers[0].cell is not None
    lstm(x)[0].sum().backward()
    assert lstm.initial_h_l0.grad.abs().sum() > 0 and lstm.initial_c_l0.grad.abs().sum() > 0
    assert rnnkit.fused.dispatch.choose_path(lstm.impl, []) == "native"  # plain cells: still the fused kernel


class MinimalCell(RecurrentCell):
    """A user's own cell: h_t = tanh(W x_t + U h_{t-1}) ⊙ s, a learned scale."""

    def __init__(self, input_size: int, hidden_size: int) -> None:
        super().__init__()
        self.input_size, self.hidden_size = input_size, hidden_size
        self.weight_ih = nn.Parameter(torch.randn(hidden_size, input_size) * 0.3)
        self.weight_hh = nn.Parameter(torch.randn(hidden_size, hidden_size) * 0.3)
        self.bias_ih = self.bias_hh = None
        self.scale = nn.Parameter(torch.ones(hidden_size))

    def step(self, xp_t: Tensor, h: Tensor, rec: Recurrence) -> tuple[Tensor, tuple]:
        return torch.tanh(xp_t + rec(h)) * self.scale, ()


def test_a_users_own_cell_is_unrolled_stacked_reversed_and_regularised():
    x = torch.randn(5, 2, 3)
    cell = MinimalCell(3, 4)
    out, _ = Recurrent(cell)(x)
    want, _ = hand_loop(cell, x)
    torch.testing.assert_close(out, want)
    bi = Bidirectional(Recurrent(MinimalCell(3, 4)), Recurrent(MinimalCell(3, 4), reverse=True))
    stack = Stacked([bi, Recurrent(rnnkit.RecurrentDropout(MinimalCell(8, 4), 0.3))])
    out, states = stack(x, lengths=torch.tensor([5, 3]))
    assert out.shape == (5, 2, 4) and len(states) == 3
    out.sum().backward()


def test_composition_errors_are_clear():
    with pytest.raises(ValueError, match="backward_layer must have reverse=True"):
        Bidirectional(Recurrent(rnnkit.GRUCell(3, 4)), Recurrent(rnnkit.GRUCell(3, 4)))
    with pytest.raises(ValueError, match="layer 1 takes input_size 4 but layer 0 outputs 5 features"):
        Stacked([Recurrent(rnnkit.GRUCell(3, 5)), Recurrent(rnnkit.GRUCell(4, 4))])
    with pytest.raises(TypeError, match="expects an rnnkit cell"):
        Recurrent(nn.GRUCell(3, 4))
    with pytest.raises(ValueError, match=r"expected 2 states \(one per layer and direction\), got 1"):
        Stacked([Recurrent(rnnkit.GRUCell(3, 4)), Recurrent(rnnkit.GRUCell(4, 4))])(
            torch.randn(2, 1, 3), [torch.zeros(1, 4)]
        )


@pytest.mark.parametrize(
    "make_layer",
    [
        lambda: rnnkit.LSTM(4, 8, batch_first=True, num_layers=2, layer_norm=True),
        lambda: torch.nn.GRU(4, 8, batch_first=True),
        lambda: Recurrent(rnnkit.GRUCell(4, 8), batch_first=True),
    ],
    ids=["rnnkit_lstm", "torch_gru", "recurrent"],
)
def test_stateful_chunks_equal_one_long_call(make_layer):
    layer = rnnkit.Stateful(make_layer())
    x = torch.randn(3, 12, 4)
    chunks = torch.cat([layer(c) for c in x.split(5, dim=1)], dim=1)
    torch.testing.assert_close(chunks, layer.layer(x)[0], rtol=1e-5, atol=1e-6)
    layer.reset()
    torch.testing.assert_close(layer(x[:, :5]), layer.layer(x[:, :5])[0])


def test_stateful_truncates_backprop_and_checks_the_batch():
    layer = rnnkit.Stateful(rnnkit.LSTM(4, 8, batch_first=True))
    x = torch.randn(2, 10, 4, requires_grad=True)
    layer(x[:, :5])
    layer(x[:, 5:]).sum().backward()
    assert torch.all(x.grad[:, :5] == 0) and x.grad[:, 5:].abs().sum() > 0  # gradients stop at the boundary
    whole = rnnkit.Stateful(layer.layer, detach=False)
    x.grad = None
    whole(x[:, :5])
    whole(x[:, 5:]).sum().backward()
    assert x.grad[:, :5].abs().sum() > 0
    with pytest.raises(ValueError, match="batch size 3 but the carried state has 2; call reset"):
        layer(torch.randn(3, 5, 4))


def test_stateful_resets_only_finished_streams():
    layer = rnnkit.Stateful(rnnkit.GRU(4, 8, batch_first=True))
    x = torch.randn(2, 5, 4)
    layer(x)
    kept = layer.state[:, 0].clone()
    layer.reset(torch.tensor([False, True]))
    torch.testing.assert_close(layer.state[:, 0], kept)
    assert torch.all(layer.state[:, 1] == 0)
    torch.testing.assert_close(layer(x[1:2, :3].expand(2, 3, 4))[1], layer.layer(x[1:2, :3])[0][0])
