"""Recurrent(cell): a cell unrolled over time. This loop is the reference every fast path must match."""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from rnnkit.cells.base import RecurrentCell, State, hidden_of, map_state
from rnnkit.fused.dispatch import choose_loop
from rnnkit.fused.plan import plan_or_blockers, runtime_blockers
from rnnkit.fused.sequence import run_fused
from rnnkit.layers.masking import check_lengths, lengths_to_mask, reverse_padded

Internals = dict[str, Tensor]
"""Per-step values of one layer and direction, each ``(T, B, H)`` (or ``(B, T, H)`` when batch-first):
the gate activations by name (``i f g o`` for LSTM, ``r z n`` for GRU) plus the states ``h`` (and ``c``)."""


def state_field_names(template: State) -> tuple[str, ...]:
    """``("h",)`` for a tensor state, the NamedTuple's fields (``("h", "c")``) otherwise."""
    if isinstance(template, Tensor):
        return ("h",)
    return tuple(getattr(template, "_fields", [f"s{i}" for i in range(len(template))]))


class SequenceLayer(nn.Module):
    """What Recurrent, Bidirectional and Stacked share: argument checks, ``batch_first``, ``record``.

    Subclasses implement ``unroll`` on time-major input and convert their public state to and from a
    flat list with one state per direction (per layer for Stacked).
    """

    batch_first: bool
    input_size: int
    output_size: int
    directions: int

    def unroll(
        self, x: Tensor, states: list[State] | None, lengths: Tensor | None, record: bool = False
    ) -> tuple[Tensor, list[State], list[Internals | None]]:
        raise NotImplementedError

    def states_to_list(self, state: Any) -> list[State]:
        raise NotImplementedError

    def states_from_list(self, states: list[State]) -> Any:
        raise NotImplementedError

    def forward(self, input: Tensor, state: Any = None, lengths: Tensor | None = None) -> tuple[Tensor, Any]:
        """Run over ``input (T, B, I)`` (``(B, T, I)`` if batch_first); returns (outputs, final state).

        Padded outputs are zero and the final state is each sequence's state at its last valid step.
        """
        output, states, _ = self._run(input, state, lengths, record=False)
        return output, self.states_from_list(states)

    def record(
        self, input: Tensor, state: Any = None, lengths: Tensor | None = None
    ) -> tuple[Tensor, Any, list[Internals]]:
        """Like ``forward``, plus the per-step :data:`Internals` of every direction (and layer)."""
        output, states, internals = self._run(input, state, lengths, record=True)
        if self.batch_first:
            internals = [{k: v.transpose(0, 1) for k, v in d.items()} for d in internals]
        return output, self.states_from_list(states), internals

    def _run(self, input: Tensor, state: Any, lengths: Tensor | None, record: bool):
        name = type(self).__name__
        if not isinstance(input, Tensor):
            raise TypeError(f"{name}: input must be a Tensor, got {type(input).__name__}")
        if input.dim() != 3:
            raise ValueError(f"{name}: Expected input to be 3D (T, B, I) or (B, T, I), got {input.dim()}D")
        if input.size(-1) != self.input_size:
            raise ValueError(
                f"{name}: input.size(-1) must be equal to input_size. Expected {self.input_size}, "
                f"got {input.size(-1)}"
            )
        x = input.transpose(0, 1) if self.batch_first else input  # (T, B, I)
        if lengths is not None:
            lengths = check_lengths(lengths, x.size(1), x.size(0))
        states = None if state is None else self.states_to_list(state)
        output, states, internals = self.unroll(x, states, lengths, record)
        if self.batch_first:
            output = output.transpose(0, 1)
        return output, states, internals


class Recurrent(SequenceLayer):
    """A cell unrolled over time: ``W_ih x_t`` for all t in one multiply, then a loop over the steps.

    Args:
        cell: any rnnkit cell (a user's own included) following the step protocol of
            :class:`rnnkit.cells.base.RecurrentCell`.
        reverse: run from the last valid step back to the first (only the valid prefix is reversed).
        batch_first: input and output as ``(B, T, ...)``.
        learn_initial_state: learn the initial state (one vector per state field, shared by the batch)
            instead of starting from zeros.
        impl: ``"auto"`` runs rnnkit's fused C++ kernel when it computes this cell (plain, layer-norm,
            peephole LSTM; GRU; RNN; with any of the regularisers) and the step-by-step loop otherwise;
            ``"fused"`` insists on the kernel (an error says why it cannot); ``"reference"`` always loops.
        recompute: keep only the states in training and recompute the gates in backward (one more GEMM
            per step; about 3x less activation memory for an LSTM). Fused path only.

    Shape: ``input (T, B, I)``, state as the cell's (``h`` or ``LSTMState(h, c)``), ``lengths (B,)``
    -> ``output (T, B, H_out)``, final state.

    Example:
        >>> from rnnkit import LSTMCell
        >>> layer = Recurrent(LSTMCell(8, 16), batch_first=True)
        >>> out, (h, c) = layer(torch.randn(4, 10, 8), lengths=torch.tensor([10, 3, 7, 1]))
        >>> out.shape, h.shape, bool(out[1, 3:].abs().sum() == 0)
        (torch.Size([4, 10, 16]), torch.Size([4, 16]), True)
    """

    directions = 1

    def __init__(
        self,
        cell: RecurrentCell,
        reverse: bool = False,
        batch_first: bool = False,
        learn_initial_state: bool = False,
        impl: str = "auto",
        recompute: bool = False,
    ) -> None:
        super().__init__()
        choose_loop(impl, [])  # validates the name early
        self.impl, self.recompute = impl, recompute
        if not isinstance(cell, RecurrentCell):
            raise TypeError(f"Recurrent expects an rnnkit cell (RecurrentCell), got {type(cell).__name__}")
        self.cell, self.reverse, self.batch_first = cell, reverse, batch_first
        self.input_size, self.output_size = cell.input_size, cell.output_size
        self.learn_initial_state = learn_initial_state
        template = cell.initial_state(1)
        self._field_names = state_field_names(template)
        self._state_type = None if isinstance(template, Tensor) else type(template)
        if learn_initial_state:
            values = [template] if self._state_type is None else list(template)
            for field, value in zip(self._field_names, values):
                self.register_parameter(f"initial_{field}", nn.Parameter(torch.zeros_like(value[0])))

    def initial_state(self, batch_size: int, device=None, dtype=None) -> State:
        """Zeros, or the learned initial state expanded to the batch."""
        if not self.learn_initial_state:
            return self.cell.initial_state(batch_size, device, dtype)
        parts = [getattr(self, f"initial_{f}").expand(batch_size, -1) for f in self._field_names]
        if self._state_type is None:
            return parts[0]
        return self._state_type(*parts) if hasattr(self._state_type, "_fields") else tuple(parts)

    def states_to_list(self, state: State) -> list[State]:
        return [state]

    def states_from_list(self, states: list[State]) -> State:
        return states[0]

    def unroll(
        self, x: Tensor, states: list[State] | None, lengths: Tensor | None, record: bool = False
    ) -> tuple[Tensor, list[State], list[Internals | None]]:
        steps, batch_size = x.shape[:2]
        if states is None:
            state = self.initial_state(batch_size, x.device, x.dtype)
        else:
            state = self.cell.check_state(states[0], batch_size)
        if self.reverse:
            x = reverse_padded(x, lengths)
        mask = (
            None if lengths is None else lengths_to_mask(lengths, steps, x.device).unsqueeze(-1)
        )  # (T, B, 1)
        scan = getattr(self.cell, "scan", None)
        plan = plan_or_blockers(self.cell)
        blockers = plan if isinstance(plan, list) else runtime_blockers(x)
        if (scan is None or record) and choose_loop(self.impl, blockers) == "fused":
            output, state, internals = run_fused(plan, self.cell, x, state, mask, record, self.recompute)
        else:
            xp = self.cell.project_input(x)  # (T, B, G): the input projection for all steps at once
            if scan is not None and not record:
                output, state = scan(xp, state, mask)
                internals = None
            else:
                output, state, internals = self._loop(xp, state, mask, record)
        if mask is not None:
            output = output * mask  # padded outputs are zero
        if self.reverse:
            output = reverse_padded(output, lengths)
            if internals is not None:
                internals = {k: reverse_padded(v, lengths) for k, v in internals.items()}
        return output, [state], [internals]

    def _loop(
        self, xp: Tensor, state: State, mask: Tensor | None, record: bool
    ) -> tuple[Tensor, State, Internals | None]:
        rec = self.cell.recurrence(xp.size(1))
        masks = [None] * xp.size(0) if mask is None else mask.unbind(0)
        outputs, gates_seq, states_seq = [], [], []
        # unbind, not xp[t]: indexing inside the loop makes backward O(T²) in memory traffic
        for xp_t, valid in zip(xp.unbind(0), masks):
            new_state, gates = self.cell.step(xp_t, state, rec)
            if valid is not None:  # past a sequence's end its state stays at its last valid step
                new_state = map_state(lambda new, old, m=valid: torch.where(m, new, old), new_state, state)
            state = new_state
            outputs.append(hidden_of(state))
            if record:
                gates_seq.append(gates)
                states_seq.append(state)
        output = torch.stack(outputs)  # (T, B, H_out)
        if not record:
            return output, state, None
        internals: Internals = {}
        for k, name in enumerate(getattr(gates_seq[0], "_fields", ())):
            internals[name] = torch.stack([g[k] for g in gates_seq])
        for k, name in enumerate(self._field_names):
            internals[name] = torch.stack([s if self._state_type is None else s[k] for s in states_seq])
        if mask is not None:
            internals = {k: v * mask for k, v in internals.items()}
        return output, state, internals

    def extra_repr(self) -> str:
        options = [f"reverse={self.reverse}"] if self.reverse else []
        if self.batch_first:
            options.append("batch_first=True")
        if self.learn_initial_state:
            options.append("learn_initial_state=True")
        if self.impl != "auto":
            options.append(f"impl={self.impl!r}")
        if self.recompute:
            options.append("recompute=True")
        return ", ".join(options)
