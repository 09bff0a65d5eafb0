"""Every fused path equals the reference loop over the cell: outputs, final states and all gradients."""

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import rnnkit
from rnnkit.cells.layer_norm import LayerNormGRUCell, LayerNormLSTMCell
from rnnkit.cells.regularizers import RecurrentDropout, WeightDrop, Zoneout
from rnnkit.fused import extension
from rnnkit.fused.sequence import LSTMSequence, zoneout_keep_mask
from rnnkit.layers.unroll import Recurrent
from tests.oracles import assert_same_outputs_and_grads

pytestmark = pytest.mark.skipif(
    extension.load() is None, reason=f"fused kernels unavailable: {extension.disabled_reason()}"
)


def with_input_eps(cell, eps):
    """A layer-norm cell whose input-side norm has its own eps: the kernel then leaves that norm to ATen."""
    cell.ln_ih.eps = eps
    return cell


CELLS = {
    "lstm": lambda i, h: rnnkit.LSTMCell(i, h),
    "lstm_no_bias": lambda i, h: rnnkit.LSTMCell(i, h, bias=False),
    "lstm_peephole": lambda i, h: rnnkit.LSTMCell(i, h, peephole=True),
    "layer_norm_lstm": lambda i, h: LayerNormLSTMCell(i, h),
    "layer_norm_lstm_peephole": lambda i, h: LayerNormLSTMCell(i, h, peephole=True),
    "gru": lambda i, h: rnnkit.GRUCell(i, h),
    "gru_no_bias": lambda i, h: rnnkit.GRUCell(i, h, bias=False),
    "layer_norm_gru": lambda i, h: LayerNormGRUCell(i, h),
    "layer_norm_gru_input_eps": lambda i, h: with_input_eps(LayerNormGRUCell(i, h), 1e-3),
    "rnn_tanh": lambda i, h: rnnkit.RNNCell(i, h),
    "rnn_relu": lambda i, h: rnnkit.RNNCell(i, h, nonlinearity="relu"),
}
WRAPPERS = {
    "none": lambda c: c,
    "recurrent_dropout": lambda c: RecurrentDropout(c, 0.3),
    "weight_drop": lambda c: WeightDrop(c, 0.4),
    "zoneout_eval": lambda c: Zoneout(c, 0.3, 0.2 if len(c.state_sizes) == 2 else 0.0).eval(),
}


def perturbed(cell):
    """Random norms gains and peepholes too (they start at 1 / tiny), so their gradients matter."""
    with torch.no_grad():
        for p in cell.parameters():
            p.add_(torch.randn_like(p) * 0.2)
    return cell


def seeded(call):
    """Run ``call`` under a fixed seed so both paths draw the same dropout masks."""

    def run(module, *inputs):
        torch.manual_seed(1234)
        return call(module, *inputs)

    return run


@settings(max_examples=60, deadline=None)
@given(
    cell=st.sampled_from(sorted(CELLS)),
    wrapper=st.sampled_from(sorted(WRAPPERS)),
    steps=st.integers(1, 7),
    batch=st.integers(1, 4),
    with_lengths=st.booleans(),
    reverse=st.booleans(),
    recompute=st.booleans(),
    with_state=st.booleans(),
    seed=st.integers(0, 2**16),
)
def test_fused_recurrent_equals_reference_loop(
    cell, wrapper, steps, batch, with_lengths, reverse, recompute, with_state, seed
):
    torch.manual_seed(seed)
    base = perturbed(CELLS[cell](3, 5).double())
    wrapped = WRAPPERS[wrapper](base)
    fused = Recurrent(wrapped, reverse=reverse, impl="fused", recompute=recompute)
    reference = Recurrent(wrapped, reverse=reverse, impl="reference")
    lengths = torch.randint(1, steps + 1, (batch,)) if with_lengths else None
    x0 = torch.randn(steps, batch, 3, dtype=torch.float64)
    state0 = base.initial_state(batch)
    state0 = [s.normal_() for s in ([state0] if isinstance(state0, torch.Tensor) else state0)]

    def make_inputs():
        return [x0.clone().requires_grad_(), *(s.clone().requires_grad_() for s in state0)]

    def call(module, x, *state):
        given_state = None
        if with_state:
            given_state = state[0] if len(state) == 1 else type(base.initial_state(1))(*state)
        return module(x, given_state, lengths=lengths)

    # the reference module shares the cell: compare against a copy so gradients do not mix
    assert_same_outputs_and_grads(fused, reference, seeded(call), make_inputs)


@settings(max_examples=20, deadline=None)
@given(
    mode=st.sampled_from(["LSTM", "GRU", "RNN"]),
    options=st.sampled_from(
        [{}, {"layer_norm": True}, {"recurrent_dropout": 0.2}, {"zoneout": 0.1}, {"weight_drop": 0.3}]
    ),
    steps=st.integers(1, 6),
    batch=st.integers(1, 3),
    batch_first=st.booleans(),
    seed=st.integers(0, 2**16),
)
def test_fused_multilayer_bidirectional_layers_equal_reference(
    mode, options, steps, batch, batch_first, seed
):
    if mode == "RNN" and options.get("layer_norm"):
        return  # no layer-norm RNN cell
    torch.manual_seed(seed)
    make = getattr(rnnkit, mode)
    common = {"num_layers": 2, "bidirectional": True, "batch_first": batch_first, "dtype": torch.float64}
    fused = make(3, 4, impl="fused", **common, **options)
    reference = make(3, 4, impl="reference", **common, **options)
    reference.load_state_dict(fused.state_dict())
    if "zoneout" in options:  # training-mode zoneout draws per step: compare its eval form here (and the
        fused.eval()  # training form with explicit masks in test_training_zoneout_masks_...)
        reference.eval()
    lengths = torch.randint(1, steps + 1, (batch,))
    shape = (batch, steps, 3) if batch_first else (steps, batch, 3)
    x0 = torch.randn(shape, dtype=torch.float64)

    def call(module, x):
        return module(x, lengths=lengths)

    assert_same_outputs_and_grads(fused, reference, seeded(call), lambda: [x0.clone().requires_grad_()])


@pytest.mark.parametrize("mode", ["LSTM", "GRU", "RNN"])
def test_fused_record_gives_the_reference_internals(mode):
    torch.manual_seed(0)
    fused = getattr(rnnkit, mode)(3, 4, num_layers=2, bidirectional=True, batch_first=True, impl="fused")
    reference = getattr(rnnkit, mode)(
        3, 4, num_layers=2, bidirectional=True, batch_first=True, impl="reference"
    )
    reference.load_state_dict(fused.state_dict())
    x, lengths = torch.randn(2, 6, 3), torch.tensor([6, 3])
    out_f, _, internals_f = fused.record(x, lengths=lengths)
    out_r, _, internals_r = reference.record(x, lengths=lengths)
    torch.testing.assert_close(out_f, out_r)
    assert [sorted(d) for d in internals_f] == [sorted(d) for d in internals_r]
    for d_f, d_r in zip(internals_f, internals_r):
        for name in d_f:
            torch.testing.assert_close(d_f[name], d_r[name], msg=name)


def zoneout_hand_loop(cell, x, keep_h, keep_c):
    """h_t = k^h ⊙ h_{t-1} + (1 - k^h) ⊙ h̃_t (and c), with given masks, step by step through the cell."""
    h = x.new_zeros(x.size(1), cell.hidden_size)
    c = torch.zeros_like(h)
    outputs = []
    for t in range(x.size(0)):
        new_h, new_c = cell(x[t], (h, c))
        h = keep_h[t] * h + (1 - keep_h[t]) * new_h
        c = keep_c[t] * c + (1 - keep_c[t]) * new_c
        outputs.append(h)
    return torch.stack(outputs), h, c


def test_training_zoneout_masks_in_the_kernel_follow_the_equations():
    """The kernel's keep masks, given explicitly, equal a hand loop with the same masks (training-mode
    zoneout draws them at random, so this is how both paths see the same draw)."""
    torch.manual_seed(0)
    cell = rnnkit.LSTMCell(3, 5).double()
    x = torch.randn(7, 2, 3, dtype=torch.float64)
    keep_h = torch.bernoulli(torch.full((7, 2, 5), 0.3, dtype=torch.float64))
    keep_c = torch.bernoulli(torch.full((7, 2, 5), 0.2, dtype=torch.float64))
    xs = [x.clone().requires_grad_() for _ in range(2)]
    xp = torch.matmul(xs[0], cell.weight_ih.t())
    zeros = torch.zeros(2, 5, dtype=torch.float64)
    bias = cell.bias_ih + cell.bias_hh
    out, h, c, _, _ = LSTMSequence.apply(
        xp,
        zeros,
        zeros,
        cell.weight_hh,
        None,
        None,
        bias,
        None,
        None,
        None,
        keep_h,
        keep_c,
        1e-5,
        False,
        False,
        True,
    )
    ref_out, ref_h, ref_c = zoneout_hand_loop(cell, xs[1], keep_h, keep_c)
    torch.testing.assert_close(out, ref_out)
    torch.testing.assert_close(c, ref_c)
    (out.sum() + c.sum()).backward()
    (ref_out.sum() + ref_c.sum()).backward()
    torch.testing.assert_close(xs[0].grad, xs[1].grad)


class KernelMaskZoneout(Zoneout):
    """Training-mode zoneout in the reference loop, with the mask the kernels draw (the shared definition,
    :func:`zoneout_keep_mask`) instead of the loop's own bernoulli draw."""

    def __init__(self, cell, h, c, masks):
        super().__init__(cell, h, c)
        self.masks, self.calls = masks, 0

    def step(self, xp_t, state, rec):
        new, gates = self.cell.step(xp_t, state, rec)
        t = self.calls % self.masks[0].size(0)
        self.calls += 1
        if isinstance(new, torch.Tensor):
            return torch.where(self.masks[0][t].bool(), state, new), gates
        h = torch.where(self.masks[0][t].bool(), state[0], new[0])
        c = torch.where(self.masks[1][t].bool(), state[1], new[1])
        return type(new)(h, c), gates


ZONEOUT_CELLS = {
    k: CELLS[k] for k in ("lstm", "layer_norm_lstm_peephole", "gru", "layer_norm_gru", "rnn_tanh")
}


@settings(max_examples=30, deadline=None)
@given(
    cell=st.sampled_from(sorted(ZONEOUT_CELLS)),
    steps=st.integers(1, 7),
    batch=st.integers(1, 4),
    with_lengths=st.booleans(),
    reverse=st.booleans(),
    recompute=st.booleans(),
    seed=st.integers(0, 2**16),
)
def test_training_zoneout_drawn_in_the_kernel_equals_the_reference_loop_with_its_mask(
    cell, steps, batch, with_lengths, reverse, recompute, seed
):
    torch.manual_seed(seed)
    base = perturbed(ZONEOUT_CELLS[cell](3, 5).double())
    p_h, p_c = 0.3, (0.4 if len(base.state_sizes) == 2 else 0.0)
    fused = Recurrent(Zoneout(base, p_h, p_c).train(), reverse=reverse, impl="fused", recompute=recompute)
    torch.manual_seed(1234)  # what seeded() sets before each call: the fused path's seed is the next draw
    kernel_seed = int(torch.randint(0, 2**62, ()))
    masks = [zoneout_keep_mask(steps, batch, 5, p, kernel_seed, field) for field, p in enumerate((p_h, p_c))]
    reference = Recurrent(KernelMaskZoneout(base, p_h, p_c, masks).train(), reverse=reverse, impl="reference")
    lengths = torch.randint(1, steps + 1, (batch,)) if with_lengths else None
    x0 = torch.randn(steps, batch, 3, dtype=torch.float64)
    assert_same_outputs_and_grads(
        fused,
        reference,
        seeded(lambda module, x: module(x, lengths=lengths)),
        lambda: [x0.clone().requires_grad_()],
    )


def test_kernel_zoneout_masks_are_seeded_per_field_and_keep_about_p():
    first = zoneout_keep_mask(50, 8, 64, 0.3, 12345, 0)
    assert torch.equal(first, zoneout_keep_mask(50, 8, 64, 0.3, 12345, 0))
    assert not torch.equal(first, zoneout_keep_mask(50, 8, 64, 0.3, 12345, 1))
    assert not torch.equal(first, zoneout_keep_mask(50, 8, 64, 0.3, 54321, 0))
    assert set(first.unique().tolist()) == {0.0, 1.0}
    assert 0.28 < first.mean().item() < 0.32
    assert zoneout_keep_mask(3, 2, 5, 0.0, 1, 0).sum() == 0
    assert zoneout_keep_mask(3, 2, 5, 1.0, 1, 0).sum() == 30


@pytest.mark.parametrize("mode", ["LSTM", "GRU", "RNN"])
def test_training_zoneout_in_the_kernel_is_reproducible_under_manual_seed(mode):
    layer = getattr(rnnkit, mode)(4, 16, zoneout=0.3, impl="fused", bidirectional=True).train()
    x = torch.randn(9, 3, 4)
    runs = []
    for _ in range(2):
        torch.manual_seed(7)
        runs.append(layer(x)[0])
    assert torch.equal(runs[0], runs[1])
    assert not torch.equal(runs[0], layer(x)[0])  # a fresh seed draws a fresh mask


def test_training_zoneout_keeps_about_p_of_the_units():
    torch.manual_seed(0)
    layer = rnnkit.GRU(4, 64, zoneout=0.3, impl="fused").train()
    out, _ = layer(torch.randn(50, 8, 4))
    kept = (out[1:] == out[:-1]).double().mean().item()
    assert 0.25 < kept < 0.35


@pytest.mark.parametrize("mode", ["LSTM", "GRU", "RNN"])
def test_fused_functions_pass_gradcheck(mode):
    torch.manual_seed(0)
    layer = getattr(rnnkit, mode)(2, 3, impl="fused", dtype=torch.float64)
    x = torch.randn(4, 2, 2, dtype=torch.float64, requires_grad=True)
    lengths = torch.tensor([4, 2])
    assert torch.autograd.gradcheck(lambda x: layer(x, lengths=lengths)[0], (x,))


def kept_for_backward(output: torch.Tensor) -> int:
    """Bytes the fused Function keeps for backward (its saved tensors and its own buffers)."""
    stack, seen = [output.grad_fn], set()
    while stack:
        node = stack.pop()
        if node is None or node in seen:
            continue
        seen.add(node)
        if hasattr(node, "saved"):
            kept = [t for t in (*node.saved, *node.saved_tensors) if t is not None]
            return sum(t.numel() * t.element_size() for t in kept)
        stack += [next_node for next_node, _ in node.next_functions]
    raise AssertionError("no fused Function in the graph")


def test_recompute_matches_and_keeps_fewer_activations():
    torch.manual_seed(0)
    layer = rnnkit.LSTM(8, 32, impl="fused")
    lean = rnnkit.LSTM(8, 32, impl="fused", recompute=True)
    lean.load_state_dict(layer.state_dict())
    x = torch.randn(40, 4, 8)
    out_full, out_lean = layer(x)[0], lean(x)[0]
    torch.testing.assert_close(out_full, out_lean)
    assert kept_for_backward(out_lean) < 0.6 * kept_for_backward(out_full)
    out_full.sum().backward()
    out_lean.sum().backward()
    for (name, a), b in zip(layer.named_parameters(), lean.parameters()):
        torch.testing.assert_close(a.grad, b.grad, msg=name)


def lstm_results(options: dict, impl: str, dtype: torch.dtype, state: dict) -> list[torch.Tensor]:
    """Outputs, final states and every gradient of a 2-layer bidirectional LSTM on a fixed batch."""
    module = rnnkit.LSTM(16, 32, num_layers=2, bidirectional=True, impl=impl, dtype=dtype, **options)
    module.load_state_dict(state)
    torch.manual_seed(1)
    x = torch.randn(30, 4, 16, dtype=dtype, requires_grad=True)
    out, (h, c) = module(x, lengths=torch.tensor([30, 12, 7, 25]))
    (out.square().sum() + h.sum() + c.sum()).backward()
    return [t.detach().double() for t in (out, h, c, x.grad, *(p.grad for p in module.parameters()))]


@pytest.mark.parametrize("options", [{}, {"layer_norm": True}, {"peephole": True}])
def test_float32_fused_error_is_of_the_order_of_float32_rounding(options):
    """Against the float64 reference, the float32 fused kernel (vectorised exp, ~2 ulp) errs no more than
    a few times what torch's own float32 ops err on the same layer."""
    torch.manual_seed(0)
    state = rnnkit.LSTM(16, 32, num_layers=2, bidirectional=True, **options).state_dict()
    truth = lstm_results(options, "reference", torch.float64, state)
    fused = lstm_results(options, "fused", torch.float32, state)
    reference = lstm_results(options, "reference", torch.float32, state)
    for k, (t, f, r) in enumerate(zip(truth, fused, reference)):
        fused_error, reference_error = (f - t).abs().max().item(), (r - t).abs().max().item()
        assert fused_error <= 5 * reference_error + 1e-6, (k, fused_error, reference_error)
