"""The step protocol every rnnkit cell follows.

A cell computes one time step. To let a layer run it fast, a step is split in two:

* ``project_input(x)`` computes the input part ``W_ih x + b_ih`` for *all* steps in one matrix multiply
  (hoisted out of the time loop, as haste and fastrnns do);
* ``step(xp_t, state, rec)`` adds the recurrent part and applies the gates for one step.

``rec`` is the :class:`Recurrence` of one sequence: the recurrent weights together with what the
regularisers change in them (a recurrent-dropout mask on ``h``, a DropConnect'ed ``W_hh``). The layer asks
the cell for it once per sequence with ``cell.recurrence(batch_size)``, so a wrapper such as
:class:`rnnkit.RecurrentDropout` samples one mask per sequence, not one per step.

A state is a tensor ``h`` (RNN, GRU) or a NamedTuple whose first field is ``h`` (``LSTMState(h, c)``).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn

State = Tensor | tuple[Tensor, ...]


class LSTMState(NamedTuple):
    """The LSTM state: hidden ``h`` first (as torch returns it), cell ``c`` second."""

    h: Tensor
    c: Tensor


class Recurrence(NamedTuple):
    """The recurrent connection of one sequence: ``W_hh (h ⊙ mask) + b_hh``.

    ``weight`` is a matrix ``(G, H)``, or a vector ``(H,)`` for element-wise recurrences (IndRNN).
    ``rows`` selects a block of gates, e.g. GRU's candidate rows in its reset-before form.
    """

    weight: Tensor
    bias: Tensor | None
    h_mask: Tensor | None = None

    def __call__(self, h: Tensor, rows: slice | None = None) -> Tensor:
        if self.h_mask is not None:
            h = h * self.h_mask
        weight, bias = self.weight, self.bias
        if rows is not None:
            weight = weight[rows]
            bias = None if bias is None else bias[rows]
        if weight.dim() == 1:  # element-wise recurrent weight u: u ⊙ h
            return h * weight if bias is None else torch.addcmul(bias, h, weight)
        return F.linear(h, weight, bias)


def hidden_of(state: State) -> Tensor:
    """The output ``h`` of a state (the state itself, or its first field)."""
    return state if isinstance(state, Tensor) else state[0]


def map_state(fn: Callable[..., Tensor], *states: State) -> State:
    """Apply ``fn`` field by field to states of the same structure.

    Example:
        >>> s = LSTMState(torch.ones(1, 2), torch.zeros(1, 2))
        >>> map_state(lambda a, b: a + b, s, s).h
        tensor([[2., 2.]])
    """
    first = states[0]
    if isinstance(first, Tensor):
        return fn(*states)
    fields = [fn(*parts) for parts in zip(*states)]
    return type(first)(*fields) if hasattr(first, "_fields") else tuple(fields)


def check_size(name: str, value: int, minimum: int = 1) -> None:
    """Raise TypeError/ValueError unless ``value`` is an int >= minimum."""
    if not isinstance(value, int) or isinstance(value, bool):
        raise TypeError(f"{name} should be of type int, got: {type(value).__name__}")
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")


def check_probability(name: str, p: float) -> None:
    """Raise ValueError unless ``p`` is a number in [0, 1]."""
    if isinstance(p, bool) or not isinstance(p, (int, float)):
        raise TypeError(f"{name} should be a number in [0, 1], got: {type(p).__name__}")
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"{name} must be in [0, 1], got {p}")


class RecurrentCell(nn.Module):
    """Base class of rnnkit cells: the step protocol plus a ``torch.nn``-style one-step ``forward``.

    Subclasses set ``input_size``, ``hidden_size``, ``gate_names`` and implement :meth:`step`; cells
    with the usual ``weight_ih / bias_ih / weight_hh / bias_hh`` parameters inherit the rest. A user's own
    cell may override any of ``initial_state``, ``project_input``, ``recurrence`` and ``step``.
    """

    input_size: int
    hidden_size: int
    gate_names: tuple[str, ...] = ()

    @property
    def output_size(self) -> int:
        """Size of ``h``, the output of a step (``proj_size`` for a projected LSTM)."""
        return self.hidden_size

    @property
    def state_sizes(self) -> tuple[int, ...]:
        """Sizes of the state's fields: ``(H,)`` for a tensor state, ``(P, H)`` for ``LSTMState``."""
        return (self.output_size,)

    def reset_parameters(self) -> None:
        """torch.nn's initialisation: every parameter ~ U(-1/√H, 1/√H), in registration order."""
        bound = 1.0 / math.sqrt(self.hidden_size) if self.hidden_size > 0 else 0.0
        for weight in self.parameters(recurse=False):
            nn.init.uniform_(weight, -bound, bound)

    def initial_state(
        self, batch_size: int, device: torch.device | None = None, dtype: torch.dtype | None = None
    ) -> State:
        """Zeros, shaped like the state of ``batch_size`` sequences."""
        ref = next(self.parameters(), None)
        device = device if device is not None else (ref.device if ref is not None else None)
        dtype = dtype if dtype is not None else (ref.dtype if ref is not None else None)
        return torch.zeros(batch_size, self.hidden_size, device=device, dtype=dtype)

    def project_input(self, x: Tensor) -> Tensor:
        """``W_ih x + b_ih`` for any leading shape: ``(..., I) -> (..., G)``."""
        return F.linear(x, self.weight_ih, self.bias_ih)

    def recurrence(self, batch_size: int) -> Recurrence | None:
        """The recurrent weights of one sequence of ``batch_size`` (None: the cell has none)."""
        return Recurrence(self.weight_hh, self.bias_hh)

    def step(self, xp_t: Tensor, state: State, rec: Recurrence | None) -> tuple[State, tuple[Tensor, ...]]:
        """One step from the projected input ``xp_t (B, G)``: returns (new state, gate activations)."""
        raise NotImplementedError

    def forward(self, input: Tensor, hx: State | None = None) -> State:
        """One step on raw input ``(B, I)`` or ``(I,)``, as ``torch.nn.*Cell.forward``."""
        name = type(self).__name__
        if input.dim() not in (1, 2):
            raise ValueError(f"{name}: Expected input to be 1D or 2D, got {input.dim()}D instead")
        if input.size(-1) != self.input_size:
            raise ValueError(
                f"{name}: input.size(-1) must be equal to input_size. Expected {self.input_size}, "
                f"got {input.size(-1)}"
            )
        batched = input.dim() == 2
        if not batched:
            input = input.unsqueeze(0)
            if hx is not None:
                hx = map_state(lambda t: t.unsqueeze(0), hx)
        batch_size = input.size(0)
        if hx is None:
            hx = self.initial_state(batch_size, input.device, input.dtype)
        else:
            hx = self.check_state(hx, batch_size)
        state, _ = self.step(self.project_input(input), hx, self.recurrence(batch_size))
        return state if batched else map_state(lambda t: t.squeeze(0), state)

    def check_state(self, state: State, batch_size: int) -> State:
        """Validate a user-given state's structure and shapes; returns it in the cell's own type."""
        name = type(self).__name__
        template = self.initial_state(1)
        if isinstance(template, Tensor):
            if not isinstance(state, Tensor):
                raise TypeError(f"{name}: expected the state to be a Tensor h, got {type(state).__name__}")
            parts: tuple[Tensor, ...] = (state,)
        else:
            if isinstance(state, Tensor) or len(state) != len(template):
                raise TypeError(
                    f"{name}: expected the state to be a tuple of {len(template)} tensors "
                    f"{getattr(template, '_fields', '')}, got {type(state).__name__}"
                )
            parts = tuple(state)
            state = type(template)(*parts)
        for i, (part, size) in enumerate(zip(parts, self.state_sizes)):
            if tuple(part.shape) != (batch_size, size):
                raise ValueError(
                    f"{name}: state[{i}] should have shape {(batch_size, size)}, got {tuple(part.shape)}"
                )
        return state

    def extra_repr(self) -> str:
        return f"{self.input_size}, {self.hidden_size}"
