"""minGRU / minLSTM: the parallel scan against the step loop (values and gradients), gates, errors."""

import math
from unittest import mock

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from rnnkit.cells.min_rnn import MinGRUCell, MinLSTMCell, g, log_g, log_space_scan
from rnnkit.cells.regularizers import RecurrentDropout, WeightDrop, Zoneout
from rnnkit.layers.unroll import Recurrent

CELLS = [MinGRUCell, MinLSTMCell]
# float32: the log-space scan and the step loop round differently; with saturated gates (scale 3) their
# gradients differ by up to ~1.5e-5 (hypothesis found seed 65535), so float32 gets 5e-5
TOL = {torch.float32: {"rtol": 5e-5, "atol": 5e-5}, torch.float64: {"rtol": 1e-10, "atol": 1e-10}}
PARAM_NAMES = ["weight_ih", "bias_ih"]


def randomize(cell, seed: int, scale: float = 1.0) -> None:
    """Weights of size ~scale, so gates reach saturation and both branches of g are used."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in cell.parameters():
            p.copy_(scale * torch.randn(p.shape, generator=gen, dtype=p.dtype))


def hand_unroll(cell, x, h0, lengths, reverse):
    """Each sequence alone, truncated to its length, one ``cell(x_t, h)`` call per step (batch of 1)."""
    steps, batch = x.shape[:2]
    outputs, finals = [], []
    for b in range(batch):
        n = int(lengths[b])
        h = h0[b : b + 1]
        out = x.new_zeros(steps, h.size(1))
        for t in range(n - 1, -1, -1) if reverse else range(n):
            h = cell(x[t, b : b + 1], h)
            out[t] = h[0]
        outputs.append(out)
        finals.append(h)
    return torch.stack(outputs, 1), torch.cat(finals)


def outputs_and_grads(cell, fn, x, h0, seed=0):
    """``fn(x, h0) -> (output, h_n)`` and the gradients of a random projection of both."""
    cell.zero_grad(set_to_none=True)
    xs, hs = x.clone().requires_grad_(), h0.clone().requires_grad_()
    out, h_n = fn(xs, hs)
    gen = torch.Generator().manual_seed(seed)
    w_out = torch.randn(out.shape, generator=gen, dtype=torch.float64).to(out.dtype)  # same in any dtype
    w_h = torch.randn(h_n.shape, generator=gen, dtype=torch.float64).to(out.dtype)
    ((out * w_out).sum() + (h_n * w_h).sum()).backward()
    grads = {"x": xs.grad, "h0": hs.grad}
    grads.update({name: p.grad for name, p in cell.named_parameters()})
    return out.detach(), h_n.detach(), grads


def assert_scan_equals_loop(cell, x, h0, lengths, reverse, tol):
    layer = Recurrent(cell, reverse=reverse)
    with mock.patch.object(cell, "scan", wraps=cell.scan) as spy:
        ours = outputs_and_grads(cell, lambda xs, hs: layer(xs, hs, lengths=lengths), x, h0)
    assert spy.call_count == 1  # the layer did go through the scan
    full = torch.full((x.size(1),), x.size(0)) if lengths is None else lengths
    oracle = outputs_and_grads(cell, lambda xs, hs: hand_unroll(cell, xs, hs, full, reverse), x, h0)
    torch.testing.assert_close(ours[0], oracle[0], **tol, msg=lambda m: f"output: {m}")
    torch.testing.assert_close(ours[1], oracle[1], **tol, msg=lambda m: f"h_n: {m}")
    assert ours[2].keys() == oracle[2].keys()
    for name in oracle[2]:
        torch.testing.assert_close(
            ours[2][name], oracle[2][name], **tol, msg=lambda m, n=name: f"grad {n}: {m}"
        )


@pytest.mark.parametrize("cell_type", CELLS)
@settings(max_examples=25, deadline=None)
@given(
    data=st.data(),
    batch=st.integers(1, 4),
    steps=st.integers(1, 12),
    input_size=st.integers(1, 4),
    hidden_size=st.integers(1, 5),
    bias=st.booleans(),
    with_lengths=st.booleans(),
    reverse=st.booleans(),
    h0_sign=st.sampled_from([-1.0, 1.0, 0.0]),
    scale=st.sampled_from([0.5, 3.0]),
    dtype=st.sampled_from([torch.float32, torch.float64]),
    seed=st.integers(0, 2**16),
)
def test_scan_equals_step_loop(
    cell_type,
    data,
    batch,
    steps,
    input_size,
    hidden_size,
    bias,
    with_lengths,
    reverse,
    h0_sign,
    scale,
    dtype,
    seed,
):
    cell = cell_type(input_size, hidden_size, bias=bias, dtype=dtype)
    randomize(cell, seed, scale)
    lengths = None
    if with_lengths:
        lengths = torch.tensor(data.draw(st.lists(st.integers(1, steps), min_size=batch, max_size=batch)))
    gen = torch.Generator().manual_seed(seed + 1)
    x = torch.randn(steps, batch, input_size, generator=gen, dtype=dtype)
    h0 = h0_sign * torch.rand(batch, hidden_size, generator=gen, dtype=dtype) * 3  # negative h_0 too
    assert_scan_equals_loop(cell, x, h0, lengths, reverse, TOL[dtype])


@pytest.mark.parametrize("cell_type", CELLS)
def test_long_sequence_gradients_are_finite_and_match(cell_type):
    torch.manual_seed(0)
    cell = cell_type(3, 4)
    randomize(cell, 0, scale=4.0)  # saturated gates: |Σ log a| reaches thousands
    x = torch.randn(1000, 2, 3)
    h0 = -torch.rand(2, 4)
    lengths = torch.tensor([1000, 357])
    out, h_n, grads = outputs_and_grads(cell, lambda xs, hs: Recurrent(cell)(xs, hs, lengths=lengths), x, h0)
    assert torch.isfinite(out).all() and torch.isfinite(h_n).all()
    assert all(torch.isfinite(grad).all() for grad in grads.values())
    # the same in float64 through the loop (record), to float32 precision
    cell64 = cell_type(3, 4, dtype=torch.float64)
    cell64.load_state_dict(cell.state_dict())
    layer64 = Recurrent(cell64)
    ref = outputs_and_grads(
        cell64, lambda xs, hs: layer64.record(xs, hs, lengths=lengths)[:2], x.double(), h0.double()
    )
    torch.testing.assert_close(out, ref[0].float(), rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(h_n, ref[1].float(), rtol=1e-5, atol=1e-5)
    for name, grad in grads.items():
        torch.testing.assert_close(
            grad, ref[2][name].float(), rtol=1e-4, atol=1e-4, msg=lambda m, n=name: f"{n}: {m}"
        )


def expected_gates(cell, x):
    """The gates recomputed from the paper's equations, written out."""
    k = x @ cell.weight_ih.T + (0 if cell.bias_ih is None else cell.bias_ih)
    hidden = cell.hidden_size
    cand = k[..., -hidden:]
    h_tilde = torch.where(cand >= 0, cand + 0.5, 1 / (1 + torch.exp(-cand)))
    if isinstance(cell, MinGRUCell):
        z = 1 / (1 + torch.exp(-k[..., :hidden]))
        return {"z": z, "h_tilde": h_tilde}, 1 - z, z * h_tilde
    f = 1 / (1 + torch.exp(-k[..., :hidden]))
    i = 1 / (1 + torch.exp(-k[..., hidden : 2 * hidden]))
    f, i = f / (f + i), i / (f + i)
    return {"f": f, "i": i, "h_tilde": h_tilde}, f, i * h_tilde


@pytest.mark.parametrize("cell_type", CELLS)
@pytest.mark.parametrize("reverse", [False, True])
def test_record_gates_match_the_equations(cell_type, reverse):
    torch.manual_seed(1)
    cell = cell_type(3, 5, dtype=torch.float64)
    randomize(cell, 1, scale=2.0)
    x = torch.randn(6, 3, 3, dtype=torch.float64)
    h0 = torch.randn(3, 5, dtype=torch.float64)
    lengths = torch.tensor([6, 2, 4])
    layer = Recurrent(cell, reverse=reverse)
    out, h_n, [internals] = layer.record(x, h0, lengths=lengths)
    assert set(internals) == {*cell.gate_names, "h"}
    gates, a, b = expected_gates(cell, x)
    mask = (torch.arange(6).unsqueeze(1) < lengths).unsqueeze(-1)  # (T, B, 1)
    expected_h = torch.zeros_like(out)
    for j in range(3):
        h = h0[j]
        order = range(int(lengths[j]) - 1, -1, -1) if reverse else range(int(lengths[j]))
        for t in order:
            h = a[t, j] * h + b[t, j]
            expected_h[t, j] = h
        torch.testing.assert_close(h_n[j], h)
    for name, value in gates.items():
        torch.testing.assert_close(internals[name], value * mask, msg=lambda m, n=name: f"{n}: {m}")
    torch.testing.assert_close(internals["h"], expected_h)
    torch.testing.assert_close(out, expected_h)
    torch.testing.assert_close(layer(x, h0, lengths=lengths)[0], out)  # the scan agrees


@pytest.mark.parametrize("cell_type", CELLS)
def test_gradcheck_scan(cell_type):
    cell = cell_type(2, 3, dtype=torch.float64)
    gen = torch.Generator().manual_seed(0)
    xp = (2 * torch.randn(4, 2, cell.n_gates * 3, generator=gen, dtype=torch.float64)).requires_grad_()
    h0 = (-torch.rand(2, 3, generator=gen, dtype=torch.float64)).requires_grad_()
    mask = (torch.arange(4).unsqueeze(1) < torch.tensor([4, 2])).unsqueeze(-1)
    assert torch.autograd.gradcheck(lambda xp, h0: cell.scan(xp, h0, mask), (xp, h0))
    assert torch.autograd.gradcheck(lambda xp, h0: cell.scan(xp, h0, None), (xp, h0))


def test_log_space_scan_against_a_loop():
    gen = torch.Generator().manual_seed(0)
    a = torch.rand(7, 3, 2, generator=gen, dtype=torch.float64)
    b = torch.rand(7, 3, 2, generator=gen, dtype=torch.float64)
    h0 = torch.randn(3, 2, generator=gen, dtype=torch.float64)
    mask = (torch.arange(7).unsqueeze(1) < torch.tensor([7, 1, 4])).unsqueeze(-1)
    h, last = log_space_scan(a.log(), b.log(), h0, mask)
    ref, refs = h0, []
    for t in range(7):
        ref = torch.where(mask[t], a[t] * ref + b[t], ref)  # padded steps keep the state
        refs.append(ref)
    torch.testing.assert_close(h, torch.stack(refs))
    torch.testing.assert_close(last, ref)
    h16, _ = log_space_scan(a.log().half(), b.log().half(), h0.half(), mask)
    assert h16.dtype == torch.float16
    torch.testing.assert_close(h16.double(), torch.stack(refs), rtol=1e-2, atol=1e-2)


def test_g_and_log_g():
    x = torch.tensor(
        [-800.0, -30.0, -1.0, -1e-3, 0.0, 1e-3, 1.0, 30.0], dtype=torch.float64, requires_grad=True
    )
    expected = torch.cat([torch.sigmoid(x[:4]), x[4:] + 0.5])
    torch.testing.assert_close(g(x), expected)
    torch.testing.assert_close(log_g(x)[1:], expected[1:].log())
    torch.testing.assert_close(log_g(x)[0], x[0].detach())  # log σ(x) ≈ x far left, where σ(x) underflows
    assert (g(x[1:]) > 0).all()  # (σ(-800) underflows to 0 in float64; log_g does not need it)
    (grad,) = torch.autograd.grad(log_g(x).sum(), x)
    assert torch.isfinite(grad).all()


@pytest.mark.parametrize(("cell_type", "gates"), [(MinGRUCell, 2), (MinLSTMCell, 3)])
def test_parameters_and_init(cell_type, gates):
    torch.manual_seed(0)
    cell = cell_type(5, 16)
    assert [(n, tuple(p.shape)) for n, p in cell.named_parameters()] == [
        ("weight_ih", (gates * 16, 5)),
        ("bias_ih", (gates * 16,)),
    ]
    assert all(p.abs().max() <= 1 / math.sqrt(16) for p in cell.parameters())
    assert cell.recurrence(4) is None
    assert [n for n, _ in cell_type(5, 16, bias=False).named_parameters()] == ["weight_ih"]
    assert cell(torch.randn(5)).shape == (16,)


@pytest.mark.parametrize("cell_type", CELLS)
@pytest.mark.parametrize("wrapper", [RecurrentDropout, WeightDrop])
def test_regularisers_of_recurrent_weights_refuse(cell_type, wrapper):
    with pytest.raises(TypeError, match="recurrent weights"):
        wrapper(cell_type(3, 4), p=0.3)


@pytest.mark.parametrize("cell_type", CELLS)
def test_zoneout_runs_through_the_loop(cell_type):
    cell = cell_type(3, 4)
    wrapped = Zoneout(cell, h=0.3).eval()
    x, h0 = torch.randn(5, 2, 3), torch.randn(2, 4)
    out, _ = Recurrent(wrapped)(x, h0)
    h, expected = h0, []
    for t in range(5):
        h = 0.3 * h + 0.7 * cell(x[t], h)
        expected.append(h)
    torch.testing.assert_close(out, torch.stack(expected))


@pytest.mark.parametrize("cell_type", CELLS)
@pytest.mark.parametrize(
    ("kwargs", "error", "word"),
    [
        ({"hidden_size": 0}, ValueError, "hidden_size"),
        ({"hidden_size": "4"}, TypeError, "hidden_size"),
        ({"input_size": -2}, ValueError, "input_size"),
    ],
)
def test_bad_arguments(cell_type, kwargs, error, word):
    with pytest.raises(error, match=word):
        cell_type(**{"input_size": 3, "hidden_size": 4, **kwargs})
