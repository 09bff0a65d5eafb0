"""Shared checks: compare an rnnkit module with an oracle (torch.nn or a hand loop), outputs and grads."""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor, nn

TOLERANCES = {torch.float32: {"rtol": 1e-5, "atol": 1e-5}, torch.float64: {"rtol": 1e-10, "atol": 1e-10}}


def flatten(value) -> list[Tensor]:
    """All tensors in a (nested) tuple/list/NamedTuple, in order."""
    if isinstance(value, Tensor):
        return [value]
    if hasattr(value, "data") and hasattr(value, "batch_sizes"):  # PackedSequence
        return [value.data]
    return [t for item in value for t in flatten(item)]


def run_with_grads(
    module: nn.Module, call: Callable[[nn.Module], object], inputs: list[Tensor], seed: int = 0
) -> tuple[list[Tensor], dict[str, Tensor], list[Tensor]]:
    """Outputs of ``call(module)``, then backward of a fixed random projection of them.

    Returns (outputs, grads of parameters by state_dict name, grads of ``inputs``).
    """
    module.zero_grad(set_to_none=True)
    for x in inputs:
        x.grad = None
    outputs = flatten(call(module))
    generator = torch.Generator().manual_seed(seed)
    loss = sum(
        (out * torch.randn(out.shape, generator=generator, dtype=out.dtype).to(out.device)).sum()
        for out in outputs
    )
    loss.backward()
    names = {id(p): name for name, p in module.state_dict(keep_vars=True).items()}
    param_grads = {names[id(p)]: p.grad for p in module.parameters() if p.grad is not None}
    return [o.detach() for o in outputs], param_grads, [x.grad for x in inputs]


def assert_same_outputs_and_grads(
    ours: nn.Module,
    oracle: nn.Module,
    call: Callable[[nn.Module], object],
    make_inputs: Callable[[], list[Tensor]],
) -> None:
    """``call`` on both modules (fresh leaf inputs for each) gives equal outputs and gradients."""
    dtype = next(ours.parameters()).dtype
    tol = TOLERANCES[dtype]
    inputs_a, inputs_b = make_inputs(), make_inputs()
    out_a, pgrad_a, igrad_a = run_with_grads(ours, lambda m: call(m, *inputs_a), inputs_a)
    out_b, pgrad_b, igrad_b = run_with_grads(oracle, lambda m: call(m, *inputs_b), inputs_b)
    assert len(out_a) == len(out_b)
    for k, (a, b) in enumerate(zip(out_a, out_b)):
        torch.testing.assert_close(a, b, **tol, msg=lambda m, k=k: f"output {k}: {m}")
    assert pgrad_a.keys() == pgrad_b.keys()
    for name in pgrad_a:
        torch.testing.assert_close(
            pgrad_a[name], pgrad_b[name], **tol, msg=lambda m, n=name: f"grad {n}: {m}"
        )
    for k, (a, b) in enumerate(zip(igrad_a, igrad_b)):
        torch.testing.assert_close(a, b, **tol, msg=lambda m, k=k: f"input grad {k}: {m}")


def hand_loop(cell: nn.Module, x: Tensor, state=None, lengths: Tensor | None = None, reverse: bool = False):
    """The plainest possible unroll: one sequence at a time, truncated to its length, calling ``cell(x_t, s)``.

    ``x`` is ``(T, B, I)``; returns (outputs ``(T, B, H)`` with zero padding, list of final states per sequence).
    """
    steps, batch = x.shape[:2]
    lengths = lengths if lengths is not None else torch.full((batch,), steps)
    outputs = x.new_zeros(steps, batch, cell.output_size)
    finals = []
    for b in range(batch):
        n = int(lengths[b])
        s = None if state is None else _select(state, b)
        order = range(n - 1, -1, -1) if reverse else range(n)
        for t in order:
            s = cell(x[t, b : b + 1], s)
            outputs[t, b] = s[0][0] if isinstance(s, tuple) else s[0]
        finals.append(s)
    return outputs, finals


def _select(state, b: int):
    if isinstance(state, Tensor):
        return state[b : b + 1]
    return type(state)(*(s[b : b + 1] for s in state))


def stack_finals(finals: list) -> Tensor | tuple[Tensor, ...]:
    """Concatenate per-sequence final states (each with batch 1) along the batch."""
    if isinstance(finals[0], Tensor):
        return torch.cat(finals)
    return tuple(torch.cat([f[k] for f in finals]) for k in range(len(finals[0])))
