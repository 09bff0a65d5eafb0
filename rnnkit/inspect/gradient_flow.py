r"""Gradient flow through time: how much a step's state still matters at the end, and to the loss.

For one layer and direction with states ``s_1 ... s_T`` (``s_t = h_t``, or ``(h_t, c_t)`` for an LSTM) and
``h_T`` the hidden state at the last step the direction computes (the last valid step going forward, the
first one going backward), two norms per step t and per sequence:

    loss gradient   ‖dL/ds_t‖₂          the total derivative through every later step (and every later
                                        layer), with L the loss as given (a batch mean, as tasks compute it)
    Jacobian        ‖∂h_T/∂s_t‖_F      the Frobenius norm of the Jacobian of the last hidden state with
                                        respect to the state at t, every input held fixed

For an LSTM both take the whole state: ``‖dL/ds_t‖² = ‖dL/dh_t‖² + ‖dL/dc_t‖²`` and
``‖∂h_T/∂s_t‖_F² = ‖∂h_T/∂h_t‖_F² + ‖∂h_T/∂c_t‖_F²``, so the cell state's "constant error carousel" counts.
Plotted against the *distance* ``T - t`` (steps between t and the last step) on a log scale, they are the
vanishing-gradient picture (Bengio et al. 1994; Pascanu et al. 2013): a tanh RNN's curves fall
exponentially, an LSTM's or GRU's stay flat far longer.

Both come from zero *probes* added to each step's state (:func:`rnnkit.inspect.recording.record` with
``probe=True``): ``∂L/∂p_t = dL/ds_t``. For the Jacobian, with ``y = Σ_b u_b · h_T^b``,
``∂y/∂p_t^b = u_bᵀ J_b(t)`` for every t at once (sequences of a batch do not interact), and

    ‖J‖_F² = Σ_j ‖e_jᵀ J‖²            exact: one backward pass per unit j of h_T (``projections=None``)
    ‖J‖_F² = E_u ‖uᵀ J‖²,  u ~ N(0, I)  estimated: the mean over ``projections`` Gaussian vectors u
                                        (Hutchinson's estimator; relative error about √(2/K) for K of them)
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, nn

from rnnkit.inspect.recording import LayerCall, record
from rnnkit.layers.masking import reverse_padded

__all__ = ["FlowProfile", "FlowSummary", "gradient_flow", "summarise_flow"]

LossFn = Callable[[nn.Module, Any], Tensor]
"""``loss_fn(model, batch) -> scalar loss`` (a task's ``compute_loss`` is one)."""


@dataclass
class FlowProfile:
    """Gradient flow through one layer and direction of one call, for one batch.

    Attributes:
        call, label: which call (``"rnn"``) and which layer and direction (``"layer 0 reverse"``).
        loss_grad: ``(B, T)`` ‖dL/ds_t‖ in time order, zero past each length (float64, as ``jacobian``:
            norms span many decades).
        jacobian: ``(B, T)`` ‖∂h_T/∂s_t‖_F in time order, zero past each length; None if not computed.
        lengths: ``(B,)``.
        reverse: whether the direction runs backward (its last step is t = 0).
    """

    call: str
    label: str
    loss_grad: Tensor
    jacobian: Tensor | None
    lengths: Tensor
    reverse: bool

    def distances(self) -> Tensor:
        """``(B, T)`` long: steps from t to the direction's last step (``len-1-t``, or ``t`` backward); -1
        past each length."""
        steps = self.loss_grad.size(1)
        t = torch.arange(steps).unsqueeze(0)  # (1, T)
        lengths = self.lengths.unsqueeze(1)  # (B, 1)
        distance = t if self.reverse else lengths - 1 - t
        return torch.where(t < lengths, distance.expand(len(self.lengths), steps), torch.tensor(-1))

    def by_distance(self, values: Tensor) -> tuple[Tensor, Tensor]:
        """(sum, count) of ``values (B, T)`` per distance ``0 .. T-1``, over the sequences."""
        distance = self.distances().flatten()
        keep = distance >= 0
        size = self.loss_grad.size(1)
        total = torch.zeros(size, dtype=torch.float64).index_add_(
            0, distance[keep], values.flatten()[keep].double()
        )
        count = torch.zeros(size, dtype=torch.float64).index_add_(
            0, distance[keep], torch.ones(int(keep.sum())).double()
        )
        return total, count


@dataclass
class FlowSummary:
    """Mean gradient norms per distance over a dataset, for one layer and direction of one call.

    Attributes: ``call``, ``label``; ``loss_grad`` and ``jacobian``: ``(D,)`` mean norm at distance
    ``0 .. D-1`` over every step of every sequence that has one (NaN where none); ``count``: ``(D,)``
    how many steps each mean is over.
    """

    call: str
    label: str
    loss_grad: Tensor
    jacobian: Tensor | None
    count: Tensor


def gradient_flow(
    model: nn.Module,
    batch: Any,
    loss_fn: LossFn,
    projections: int | None = 8,
    jacobian: bool = True,
    generator: torch.Generator | None = None,
) -> list[FlowProfile]:
    """‖dL/ds_t‖ and ‖∂h_T/∂s_t‖_F for every step, sequence, call, layer and direction.

    The model runs in eval mode (no dropout; the mode is restored after) through the recorded reference
    loop; its parameters get no ``.grad`` (gradients are taken with ``torch.autograd.grad``).

    Args:
        model: a module holding rnnkit recurrent layers.
        batch: what ``loss_fn`` takes.
        loss_fn: ``(model, batch) -> scalar``.
        projections: Gaussian projections K for the Jacobian norm; None: exact (one pass per unit).
        jacobian: False skips the Jacobian (one backward pass in all).
        generator: for the Gaussian projections.

    Returns:
        one :class:`FlowProfile` per call, layer and direction, in call order then torch's order.

    Example:
        >>> import rnnkit
        >>> rnn = rnnkit.RNN(2, 4, batch_first=True)
        >>> x = torch.randn(3, 6, 2)
        >>> [flow] = gradient_flow(rnn, x, lambda m, x: m(x)[0][:, -1].pow(2).sum(), projections=None)
        >>> flow.jacobian.shape, round(flow.jacobian[0, -1].item() ** 2, 4)  # J = I at the last step: √H
        (torch.Size([3, 6]), 4.0)
    """
    if projections is not None and projections < 1:
        raise ValueError(f"gradient_flow: projections must be >= 1 or None (exact), got {projections}")
    was_training = model.training
    model.eval()
    try:
        with torch.enable_grad(), record(model, probe=True) as recording:
            loss = loss_fn(model, batch)
        if not isinstance(loss, Tensor) or loss.dim() != 0:
            raise ValueError("gradient_flow: loss_fn must return a scalar tensor")
        profiles = []
        for call in recording.calls:
            for k, label in enumerate(call.labels):
                squares = _squared_grads(loss, call.probes[k])  # (T, B), processing order
                loss_grad = _time_order(squares.sqrt(), call, k)  # (B, T) float64
                norms = _jacobian_norms(call, k, projections, generator) if jacobian else None
                profiles.append(
                    FlowProfile(call.name, label, loss_grad, norms, call.valid_lengths(), call.reverse[k])
                )
        return profiles
    finally:
        model.train(was_training)


def _squared_grads(output: Tensor, probes: list[tuple[Tensor, ...]]) -> Tensor:
    """``‖∂output/∂p_s‖²`` summed over the state's fields, for every step: ``(T, B)`` in processing order."""
    flat = [p for step in probes for p in step]
    grads = torch.autograd.grad(output, flat, retain_graph=True, allow_unused=True)
    squares = [torch.zeros(p.shape[:-1], device=p.device) if g is None else g.detach().double().pow(2).sum(-1)
               for g, p in zip(grads, flat)]  # fmt: skip
    fields = len(probes[0])
    return torch.stack([sum(squares[s * fields : (s + 1) * fields]) for s in range(len(probes))]).cpu()


def _time_order(values: Tensor, call: LayerCall, k: int) -> Tensor:
    """``(T, B)`` values in processing order -> ``(B, T)`` in time order."""
    if call.reverse[k]:
        values = reverse_padded(values, None if call.lengths is None else call.lengths.cpu())
    return values.transpose(0, 1)


def _final_hidden(call: LayerCall, k: int) -> Tensor:
    """``h_T`` of each sequence: the state at the direction's last step, ``(B, H)``."""
    h = call.internals[k]["h"]  # (B, T, H), time order
    if call.reverse[k]:
        return h[:, 0]
    last = (call.valid_lengths() - 1).to(h.device)
    return h[torch.arange(h.size(0), device=h.device), last]


def _jacobian_norms(
    call: LayerCall, k: int, projections: int | None, generator: torch.Generator | None
) -> Tensor:
    final = _final_hidden(call, k)  # (B, H)
    size = final.size(-1)
    squares = torch.zeros(call.steps, call.batch_size, dtype=torch.float64)
    count = size if projections is None else projections
    for j in range(count):
        if projections is None:
            u = torch.zeros_like(final)
            u[:, j] = 1.0
        else:
            u = torch.randn(final.shape, generator=generator, dtype=final.dtype).to(final.device)
        squares += _squared_grads((u * final).sum(), call.probes[k])  # ‖u_bᵀ J_b(s)‖²
    if projections is not None:
        squares /= projections
    return _time_order(squares.sqrt(), call, k)


def summarise_flow(
    model: nn.Module,
    batches: Iterable[Any],
    loss_fn: LossFn,
    projections: int | None = 4,
    jacobian: bool = True,
    max_batches: int | None = None,
    generator: torch.Generator | None = None,
) -> list[FlowSummary]:
    """:func:`gradient_flow` over a dataset: the mean norms per distance, per call, layer and direction.

    Example:
        >>> import rnnkit
        >>> gru = rnnkit.GRU(2, 4, batch_first=True)
        >>> batches = [torch.randn(3, 5, 2), torch.randn(2, 8, 2)]
        >>> [s] = summarise_flow(gru, batches, lambda m, x: m(x)[0][:, -1].sum())
        >>> s.count.tolist()  # 5 sequences have distances 0-4, 2 of them 5-7
        [5.0, 5.0, 5.0, 5.0, 5.0, 2.0, 2.0, 2.0]
    """
    totals: dict[tuple[str, str], list[Tensor | None]] = {}
    for n, batch in enumerate(batches):
        if max_batches is not None and n >= max_batches:
            break
        for p in gradient_flow(model, batch, loss_fn, projections, jacobian, generator):
            parts = [*p.by_distance(p.loss_grad), p.by_distance(p.jacobian)[0] if jacobian else None]
            key = (p.call, p.label)
            if key not in totals:
                totals[key] = parts
                continue
            totals[key] = [_add(a, b) for a, b in zip(totals[key], parts)]
    summaries = []
    for (call, label), (grad_sum, count, jac_sum) in totals.items():
        mean = grad_sum / count  # NaN where no step has that distance
        summaries.append(FlowSummary(call, label, mean, None if jac_sum is None else jac_sum / count, count))
    return summaries


def _add(a: Tensor | None, b: Tensor | None) -> Tensor | None:
    """Sum of two per-distance tensors of possibly different lengths."""
    if a is None or b is None:
        return None
    size = max(len(a), len(b))
    return nn.functional.pad(a, (0, size - len(a))) + nn.functional.pad(b, (0, size - len(b)))
