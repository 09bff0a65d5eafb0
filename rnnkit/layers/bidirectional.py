"""Bidirectional(forward, backward): two directions over the same sequence, outputs merged."""

from __future__ import annotations

import torch
from torch import Tensor

from rnnkit.cells.base import State
from rnnkit.layers.unroll import Internals, Recurrent, SequenceLayer

_MERGES = ("concat", "sum")


class Bidirectional(SequenceLayer):
    """Run ``forward_layer`` left to right and ``backward_layer`` right to left, then merge the outputs.

    The backward direction reverses only each sequence's valid prefix, so its final state is the state at
    the sequence's *first* step and padding never leaks into it (flax ``flip_sequences``; keras).

    Args:
        forward_layer: a :class:`Recurrent` with ``reverse=False``.
        backward_layer: a :class:`Recurrent` with ``reverse=True``.
        merge: ``"concat"`` (torch's layout: forward features first) or ``"sum"``.
        batch_first: input and output as ``(B, T, ...)``.

    Shape: ``input (T, B, I)`` -> ``output (T, B, 2 H_out)`` (concat), state ``(forward, backward)``.

    Example:
        >>> from rnnkit import GRUCell
        >>> bi = Bidirectional(Recurrent(GRUCell(8, 16)), Recurrent(GRUCell(8, 16), reverse=True))
        >>> out, (h_fwd, h_bwd) = bi(torch.randn(5, 3, 8))
        >>> out.shape, h_bwd.shape
        (torch.Size([5, 3, 32]), torch.Size([3, 16]))
    """

    directions = 2

    def __init__(
        self,
        forward_layer: Recurrent,
        backward_layer: Recurrent,
        merge: str = "concat",
        batch_first: bool = False,
    ) -> None:
        super().__init__()
        for name, layer, reverse in (
            ("forward_layer", forward_layer, False),
            ("backward_layer", backward_layer, True),
        ):
            if not isinstance(layer, Recurrent):
                raise TypeError(
                    f"Bidirectional: {name} must be a Recurrent layer, got {type(layer).__name__}"
                )
            if layer.reverse != reverse:
                raise ValueError(
                    f"Bidirectional: {name} must have reverse={reverse}, got reverse={layer.reverse}"
                )
        if forward_layer.input_size != backward_layer.input_size:
            raise ValueError(
                "Bidirectional: both directions must take the same input_size, got "
                f"{forward_layer.input_size} and {backward_layer.input_size}"
            )
        if merge not in _MERGES:
            raise ValueError(f"Bidirectional: merge must be one of {_MERGES}, got {merge!r}")
        if merge == "sum" and forward_layer.output_size != backward_layer.output_size:
            raise ValueError("Bidirectional: merge='sum' needs both directions to have the same output size")
        self.forward_layer, self.backward_layer = forward_layer, backward_layer
        self.merge, self.batch_first = merge, batch_first
        self.input_size = forward_layer.input_size
        out = forward_layer.output_size
        self.output_size = out + backward_layer.output_size if merge == "concat" else out

    def states_to_list(self, state: tuple[State, State]) -> list[State]:
        if not isinstance(state, (tuple, list)) or len(state) != 2:
            raise TypeError("Bidirectional: the state must be a pair (forward_state, backward_state)")
        return [state[0], state[1]]

    def states_from_list(self, states: list[State]) -> tuple[State, State]:
        return states[0], states[1]

    def unroll(
        self, x: Tensor, states: list[State] | None, lengths: Tensor | None, record: bool = False
    ) -> tuple[Tensor, list[State], list[Internals | None]]:
        out_f, state_f, rec_f = self.forward_layer.unroll(
            x, None if states is None else states[:1], lengths, record
        )
        out_b, state_b, rec_b = self.backward_layer.unroll(
            x, None if states is None else states[1:], lengths, record
        )
        output = torch.cat([out_f, out_b], dim=-1) if self.merge == "concat" else out_f + out_b
        return output, state_f + state_b, rec_f + rec_b

    def extra_repr(self) -> str:
        return f"merge={self.merge!r}" + (", batch_first=True" if self.batch_first else "")
