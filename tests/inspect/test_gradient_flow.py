"""Gradient flow: the tool's norms equal autograd's on hand-written loops and torch.autograd.functional."""

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import rnnkit
from rnnkit.cells.base import LSTMState
from rnnkit.inspect.gradient_flow import gradient_flow, summarise_flow


def hand_states(cell, x, length, retain=True):
    """Run ``cell`` over one sequence ``x (T, I)``; every state a tensor that retains its grad."""
    state = cell.initial_state(1, dtype=x.dtype)
    states = []
    for t in range(length):
        state = cell(x[t : t + 1], state)
        for part in state if isinstance(state, tuple) and retain else (state,) if retain else ():
            part.retain_grad()
        states.append(state)
    return states


def fields(state):
    return list(state) if isinstance(state, tuple) else [state]


@pytest.mark.parametrize("kind", ["rnn", "lstm", "gru"])
def test_loss_gradients_equal_autograd_on_a_hand_loop(kind):
    """dL/ds_t with s_t = (h_t, c_t) the state handed to step t + 1, as leaf inputs of the rest of the loop."""
    torch.manual_seed(0)
    layer = {"rnn": rnnkit.RNN, "lstm": rnnkit.LSTM, "gru": rnnkit.GRU}[kind](3, 4, batch_first=True).double()
    cell = layer.recurrent_layers()[0].cell
    x = torch.randn(2, 6, 3, dtype=torch.float64)
    lengths = torch.tensor([6, 4])
    target = torch.randn(2, 4, dtype=torch.float64)

    def loss_fn(model, batch):
        output, h_n = model(batch, lengths=lengths)
        h_n = h_n[0] if isinstance(h_n, tuple) else h_n
        return ((h_n[0] - target) ** 2).sum() + output.pow(3).sum()

    [flow] = gradient_flow(layer, x, loss_fn, jacobian=False)
    assert all(p.grad is None for p in layer.parameters())  # the tool leaves no .grad behind
    for n, length in enumerate(lengths.tolist()):  # one sequence at a time: the loss is a sum over them
        with torch.no_grad():
            states = hand_states(cell, x[n], length, retain=False)
        outputs = [s[0] if isinstance(s, tuple) else s for s in states]
        for t in range(length):
            leaves = [part.clone().requires_grad_(True) for part in fields(states[t])]
            state = LSTMState(*leaves) if len(leaves) == 2 else leaves[0]
            rest = []
            for s in range(t + 1, length):
                state = cell(x[n, s : s + 1], state)
                rest.append(state[0] if isinstance(state, tuple) else state)
            every = torch.cat([*outputs[:t], leaves[0], *rest])  # (length, H): h_1 .. h_T
            loss = ((every[-1] - target[n]) ** 2).sum() + every.pow(3).sum()
            grads = torch.autograd.grad(loss, leaves, allow_unused=True)  # c_T is used by no later step
            expected = torch.sqrt(sum(g.pow(2).sum() for g in grads if g is not None))
            torch.testing.assert_close(flow.loss_grad[n, t].double(), expected, rtol=1e-5, atol=1e-8)
        assert bool((flow.loss_grad[n, length:] == 0).all())


@pytest.mark.parametrize("kind", ["lstm", "gru", "rnn"])
def test_exact_jacobian_norms_equal_torch_autograd_functional(kind):
    torch.manual_seed(1)
    layer = {"rnn": rnnkit.RNN, "lstm": rnnkit.LSTM, "gru": rnnkit.GRU}[kind](2, 3, batch_first=True).double()
    cell = layer.recurrent_layers()[0].cell
    x = torch.randn(1, 5, 2, dtype=torch.float64)
    [flow] = gradient_flow(layer, x, lambda m, b: m(b)[0].sum(), projections=None)
    with torch.no_grad():
        states = hand_states(cell, x[0], 5, retain=False)
    for t in range(5):

        def final_h(*parts, t=t):
            state = LSTMState(*parts) if len(parts) == 2 else parts[0]
            for s in range(t + 1, 5):
                state = cell(x[0, s : s + 1], state)
            return state[0] if isinstance(state, tuple) else state

        jacobians = torch.autograd.functional.jacobian(final_h, tuple(fields(states[t])))
        expected = torch.sqrt(sum(j.pow(2).sum() for j in jacobians))
        torch.testing.assert_close(flow.jacobian[0, t].double(), expected, rtol=1e-5, atol=1e-10)
    assert flow.jacobian[0, 4].item() == pytest.approx(3**0.5)  # distance 0: J = I


def test_the_backward_direction_ends_at_the_first_step_and_gaussian_projections_estimate_the_norm():
    torch.manual_seed(2)
    layer = rnnkit.GRU(2, 6, batch_first=True, bidirectional=True).double()
    x = torch.randn(3, 7, 2, dtype=torch.float64)
    lengths = torch.tensor([7, 5, 2])
    loss = lambda m, b: m(b, lengths=lengths)[0].sum()  # noqa: E731
    exact = gradient_flow(layer, x, loss, projections=None)
    estimate = gradient_flow(layer, x, loss, projections=1000, generator=torch.Generator().manual_seed(0))
    backward = exact[1]
    assert backward.label == "layer 0 reverse" and backward.reverse
    torch.testing.assert_close(backward.jacobian[:, 0], torch.full((3,), 6**0.5, dtype=torch.float64))
    assert backward.distances()[1].tolist() == [0, 1, 2, 3, 4, -1, -1]
    assert exact[0].distances()[1].tolist() == [4, 3, 2, 1, 0, -1, -1]
    for a, b in zip(exact, estimate):
        valid = a.jacobian > 0
        ratio = b.jacobian[valid] / a.jacobian[valid]
        assert float((ratio - 1).abs().max()) < 0.15  # Hutchinson: relative error ~ sqrt(1 / 2000) per entry


@settings(max_examples=15, deadline=None)
@given(sizes=st.lists(st.integers(1, 6), min_size=1, max_size=3), batch=st.integers(1, 3))
def test_the_summary_averages_over_every_sequence_with_that_distance(sizes, batch):
    torch.manual_seed(0)
    lstm = rnnkit.LSTM(2, 3, batch_first=True)
    batches = [torch.randn(batch, steps, 2) for steps in sizes]
    loss = lambda m, b: m(b)[0][:, -1].sum()  # noqa: E731
    [summary] = summarise_flow(lstm, batches, loss, projections=None)
    counts = [batch * sum(steps > d for steps in sizes) for d in range(max(sizes))]
    assert summary.count.tolist() == counts
    flows = [gradient_flow(lstm, b, loss, projections=None)[0] for b in batches]
    for d in range(max(sizes)):
        values = [f.jacobian[:, f.jacobian.size(1) - 1 - d] for f in flows if f.jacobian.size(1) > d]
        expected = torch.cat(values).double().mean()
        torch.testing.assert_close(summary.jacobian[d], expected, rtol=1e-5, atol=1e-7)


def test_the_model_mode_is_restored_and_bad_arguments_fail():
    lstm = rnnkit.LSTM(2, 3, dropout=0.0).train()
    gradient_flow(lstm, torch.randn(4, 2, 2), lambda m, b: m(b)[0].sum(), projections=2)
    assert lstm.training
    with pytest.raises(ValueError, match="projections"):
        gradient_flow(lstm, torch.randn(4, 2, 2), lambda m, b: m(b)[0].sum(), projections=0)
    with pytest.raises(ValueError, match="scalar"):
        gradient_flow(lstm, torch.randn(4, 2, 2), lambda m, b: m(b)[0], projections=2)
