"""IndRNNCell: the step against its equation, the layer against a hand loop, the clamp, regularisers, errors."""

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from rnnkit.cells.indrnn import IndRNNCell
from rnnkit.cells.regularizers import RecurrentDropout, WeightDrop
from rnnkit.layers.unroll import Recurrent

TOL = {torch.float32: {"rtol": 1e-5, "atol": 1e-6}, torch.float64: {"rtol": 1e-10, "atol": 1e-10}}
ACT = {"relu": torch.relu, "tanh": torch.tanh}


def randomize(cell: IndRNNCell, seed: int) -> None:
    """Weights of both signs and |u| around 1, so the recurrence matters and relu sees negative inputs."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in cell.parameters():
            p.copy_(torch.randn(p.shape, generator=gen, dtype=p.dtype))


def by_hand(
    cell: IndRNNCell, x: torch.Tensor, h: torch.Tensor, u: torch.Tensor | None = None
) -> torch.Tensor:
    """h_t = σ(W_ih x_t + b_ih + u ⊙ h_{t-1}), written out."""
    u = cell.weight_hh if u is None else u
    pre = x @ cell.weight_ih.T + u * h
    if cell.bias_ih is not None:
        pre = pre + cell.bias_ih
    return ACT[cell.nonlinearity](pre)


def hand_unroll(step, x, h0, lengths, reverse):
    """Each sequence alone, truncated to its length, one ``step(x_t, h)`` call at a time (batch of 1)."""
    steps, batch = x.shape[:2]
    outputs, finals = [], []
    for b in range(batch):
        n = int(lengths[b])
        h = h0[b : b + 1]
        out = x.new_zeros(steps, h.size(1))
        for t in range(n - 1, -1, -1) if reverse else range(n):
            h = step(x[t, b : b + 1], h)
            out[t] = h[0]
        outputs.append(out)
        finals.append(h)
    return torch.stack(outputs, 1), torch.cat(finals)


@settings(max_examples=20, deadline=None)
@given(
    batch=st.integers(1, 4),
    input_size=st.integers(1, 5),
    hidden_size=st.integers(1, 6),
    bias=st.booleans(),
    nonlinearity=st.sampled_from(["relu", "tanh"]),
    dtype=st.sampled_from([torch.float32, torch.float64]),
    seed=st.integers(0, 2**16),
)
def test_step_is_the_equation(batch, input_size, hidden_size, bias, nonlinearity, dtype, seed):
    cell = IndRNNCell(input_size, hidden_size, bias=bias, nonlinearity=nonlinearity, dtype=dtype)
    randomize(cell, seed)
    gen = torch.Generator().manual_seed(seed + 1)
    x = torch.randn(batch, input_size, generator=gen, dtype=dtype)
    h = torch.randn(batch, hidden_size, generator=gen, dtype=dtype)
    torch.testing.assert_close(cell(x, h), by_hand(cell, x, h), **TOL[dtype])
    torch.testing.assert_close(cell(x[0], h[0]), by_hand(cell, x[:1], h[:1])[0], **TOL[dtype])  # unbatched
    torch.testing.assert_close(cell(x), by_hand(cell, x, torch.zeros_like(h)), **TOL[dtype])  # h_0 = 0


@settings(max_examples=20, deadline=None)
@given(
    data=st.data(),
    batch=st.integers(1, 4),
    steps=st.integers(1, 7),
    hidden_size=st.integers(1, 5),
    with_lengths=st.booleans(),
    reverse=st.booleans(),
    nonlinearity=st.sampled_from(["relu", "tanh"]),
    seed=st.integers(0, 2**16),
)
def test_layer_equals_hand_loop(data, batch, steps, hidden_size, with_lengths, reverse, nonlinearity, seed):
    dtype = torch.float64
    cell = IndRNNCell(3, hidden_size, nonlinearity=nonlinearity, dtype=dtype, recurrent_max_abs=1.5)
    randomize(cell, seed)
    lengths = (
        torch.tensor(data.draw(st.lists(st.integers(1, steps), min_size=batch, max_size=batch)))
        if with_lengths
        else torch.full((batch,), steps)
    )
    gen = torch.Generator().manual_seed(seed + 1)
    x = torch.randn(steps, batch, 3, generator=gen, dtype=dtype)
    h0 = torch.randn(batch, hidden_size, generator=gen, dtype=dtype)
    weights = torch.randn(steps, batch, hidden_size, generator=gen, dtype=dtype)

    def run(fn):
        cell.zero_grad(set_to_none=True)
        xs, hs = x.clone().requires_grad_(), h0.clone().requires_grad_()
        out, h_n = fn(xs, hs)
        ((out * weights).sum() + (h_n * weights[0]).sum()).backward()
        return [out, h_n, xs.grad, hs.grad] + [p.grad for p in cell.parameters()]

    layer = Recurrent(cell, reverse=reverse)
    ours = run(lambda xs, hs: layer(xs, hs, lengths=lengths if with_lengths else None))
    oracle = run(lambda xs, hs: hand_unroll(cell, xs, hs, lengths, reverse))
    for name, a, b in zip(
        ["output", "h_n", "x.grad", "h0.grad", "weight_ih", "weight_hh", "bias_ih"], ours, oracle
    ):
        torch.testing.assert_close(a, b, **TOL[dtype], msg=lambda m, n=name: f"{n}: {m}")


def test_recurrent_max_abs_clamps_u_in_the_step():
    cell = IndRNNCell(2, 4, nonlinearity="tanh", recurrent_max_abs=0.5)
    with torch.no_grad():
        cell.weight_hh.copy_(torch.tensor([2.0, -3.0, 0.25, -0.5]))
    clamped = torch.tensor([0.5, -0.5, 0.25, -0.5])
    torch.testing.assert_close(cell.recurrence(3).weight, clamped)
    x, h = torch.randn(3, 2), torch.randn(3, 4)
    out = cell(x, h)
    torch.testing.assert_close(out, by_hand(cell, x, h, u=clamped))
    out.sum().backward()
    grad = cell.weight_hh.grad
    assert (grad[:2] == 0).all() and (grad[2:] != 0).all()  # clamp's gradient: zero where it clamps
    torch.testing.assert_close(cell.weight_hh.detach(), torch.tensor([2.0, -3.0, 0.25, -0.5]))  # untouched
    # without the bound the same weights give another answer
    free = IndRNNCell(2, 4, nonlinearity="tanh")
    free.load_state_dict(cell.state_dict())
    assert not torch.allclose(free(x, h), out)


@pytest.mark.parametrize("nonlinearity", ["relu", "tanh"])
@pytest.mark.parametrize("recurrent_max_abs", [None, 0.8])
def test_gradcheck(nonlinearity, recurrent_max_abs):
    cell = IndRNNCell(
        3, 4, nonlinearity=nonlinearity, dtype=torch.float64, recurrent_max_abs=recurrent_max_abs
    )
    randomize(cell, 0)
    names = [n for n, _ in cell.named_parameters()]
    x = torch.randn(2, 3, dtype=torch.float64, requires_grad=True)
    h = torch.randn(2, 4, dtype=torch.float64, requires_grad=True)
    params = [p.detach().clone().requires_grad_() for p in cell.parameters()]

    def fn(x, h, *params):
        return torch.func.functional_call(cell, dict(zip(names, params)), (x, h))

    assert torch.autograd.gradcheck(fn, (x, h, *params))


def test_parameters_and_init():
    torch.manual_seed(0)
    cell = IndRNNCell(5, 64)
    assert [(n, tuple(p.shape)) for n, p in cell.named_parameters()] == [
        ("weight_ih", (64, 5)),
        ("weight_hh", (64,)),
        ("bias_ih", (64,)),
    ]
    bound = 1 / math.sqrt(64)
    assert cell.weight_ih.abs().max() <= bound and cell.bias_ih.abs().max() <= bound
    u = cell.weight_hh
    assert u.min() >= 0 and u.max() <= 1 and u.max() > 2 * bound  # U(0, 1), not torch's bound
    assert "bias_hh" not in cell.state_dict()
    assert [n for n, _ in IndRNNCell(5, 3, bias=False).named_parameters()] == ["weight_ih", "weight_hh"]
    assert "recurrent_max_abs=0.5" in repr(IndRNNCell(2, 3, nonlinearity="tanh", recurrent_max_abs=0.5))


def test_recurrent_dropout_masks_h_once_per_sequence():
    cell = IndRNNCell(3, 6)
    randomize(cell, 1)
    wrapped = RecurrentDropout(cell, p=0.5)
    x, h0 = torch.randn(5, 4, 3), torch.randn(4, 6)
    torch.manual_seed(7)
    mask = wrapped.recurrence(4).h_mask
    assert mask.shape == (4, 6) and set(mask.unique().tolist()) <= {0.0, 2.0} and (mask == 0).any()
    torch.manual_seed(7)
    out, _ = Recurrent(wrapped)(x, h0)
    h, expected = h0, []
    for t in range(5):  # the same mask at every step
        h = torch.relu(x[t] @ cell.weight_ih.T + cell.bias_ih + cell.weight_hh * (h * mask))
        expected.append(h)
    torch.testing.assert_close(out, torch.stack(expected))
    wrapped.eval()
    torch.testing.assert_close(Recurrent(wrapped)(x, h0)[0], Recurrent(cell)(x, h0)[0])


def test_weight_drop_drops_entries_of_u():
    cell = IndRNNCell(3, 8, recurrent_max_abs=0.9)
    randomize(cell, 2)
    wrapped = WeightDrop(cell, p=0.5)
    x, h0 = torch.randn(5, 4, 3), torch.randn(4, 8)
    torch.manual_seed(3)
    u = wrapped.recurrence(4).weight
    clamped = cell.weight_hh.clamp(-0.9, 0.9)
    kept = u != 0
    assert u.shape == (8,) and kept.any() and not kept.all()
    torch.testing.assert_close(u[kept], 2 * clamped[kept])  # DropConnect on the clamped u, scaled by 1/(1-p)
    torch.manual_seed(3)
    out, _ = Recurrent(wrapped)(x, h0)
    h, expected = h0, []
    for t in range(5):
        h = by_hand(cell, x[t], h, u=u)
        expected.append(h)
    torch.testing.assert_close(out, torch.stack(expected))
    wrapped.eval()
    torch.testing.assert_close(wrapped.recurrence(4).weight, clamped)


@pytest.mark.parametrize(
    ("kwargs", "error", "word"),
    [
        ({"nonlinearity": "sigmoid"}, ValueError, "nonlinearity"),
        ({"nonlinearity": None}, TypeError, "nonlinearity"),
        ({"hidden_size": 0}, ValueError, "hidden_size"),
        ({"hidden_size": 2.0}, TypeError, "hidden_size"),
        ({"input_size": -1}, ValueError, "input_size"),
        ({"recurrent_max_abs": 0.0}, ValueError, "recurrent_max_abs"),
        ({"recurrent_max_abs": -1.0}, ValueError, "recurrent_max_abs"),
        ({"recurrent_max_abs": math.inf}, ValueError, "recurrent_max_abs"),
        ({"recurrent_max_abs": math.nan}, ValueError, "recurrent_max_abs"),
        ({"recurrent_max_abs": "1"}, TypeError, "recurrent_max_abs"),
        ({"recurrent_max_abs": True}, TypeError, "recurrent_max_abs"),
    ],
)
def test_bad_arguments(kwargs, error, word):
    args = {"input_size": 3, "hidden_size": 4, **kwargs}
    with pytest.raises(error, match=word):
        IndRNNCell(**args)


def test_bad_input_and_state():
    cell = IndRNNCell(3, 4)
    with pytest.raises(ValueError, match="input_size"):
        cell(torch.randn(2, 5))
    with pytest.raises(ValueError, match="shape"):
        cell(torch.randn(2, 3), torch.randn(2, 5))
