"""Stacked(layers): layers on top of each other, dropout between them."""

from __future__ import annotations

from collections.abc import Sequence

import torch.nn.functional as F
from torch import Tensor, nn

from rnnkit.cells.base import State, check_probability
from rnnkit.layers.unroll import Internals, SequenceLayer


class Stacked(SequenceLayer):
    """Feed each layer's output to the next; dropout on the outputs of every layer but the last (as torch).

    Args:
        layers: :class:`Recurrent` or :class:`Bidirectional` layers; each one's ``input_size`` must be
            the previous one's ``output_size``.
        dropout: probability of zeroing a feature between layers (training only).
        batch_first: input and output as ``(B, T, ...)``.

    Shape: ``input (T, B, I)`` -> ``output (T, B, H_out of the last layer)``; the state is a list with one
    state per layer and direction, in torch's order (layer 0 forward, layer 0 backward, layer 1, ...).

    Example:
        >>> import torch
        >>> from rnnkit import LSTMCell
        >>> from rnnkit.layers import Recurrent
        >>> stack = Stacked([Recurrent(LSTMCell(8, 16)), Recurrent(LSTMCell(16, 16))], dropout=0.1)
        >>> out, states = stack(torch.randn(5, 3, 8))
        >>> out.shape, len(states)
        (torch.Size([5, 3, 16]), 2)
    """

    def __init__(
        self, layers: Sequence[SequenceLayer], dropout: float = 0.0, batch_first: bool = False
    ) -> None:
        super().__init__()
        if len(layers) == 0:
            raise ValueError("Stacked needs at least one layer")
        check_probability("Stacked: dropout", dropout)
        for k in range(1, len(layers)):
            if layers[k].input_size != layers[k - 1].output_size:
                raise ValueError(
                    f"Stacked: layer {k} takes input_size {layers[k].input_size} but layer {k - 1} outputs "
                    f"{layers[k - 1].output_size} features"
                )
        self.layers = nn.ModuleList(layers)
        self.dropout, self.batch_first = dropout, batch_first
        self.input_size, self.output_size = layers[0].input_size, layers[-1].output_size
        self.directions = sum(layer.directions for layer in layers)

    def states_to_list(self, states: Sequence[State]) -> list[State]:
        if len(states) != self.directions:
            raise ValueError(
                f"Stacked: expected {self.directions} states (one per layer and direction), got {len(states)}"
            )
        return list(states)

    def states_from_list(self, states: list[State]) -> list[State]:
        return states

    def unroll(
        self, x: Tensor, states: list[State] | None, lengths: Tensor | None, record: bool = False
    ) -> tuple[Tensor, list[State], list[Internals | None]]:
        final_states: list[State] = []
        internals: list[Internals | None] = []
        first = 0
        for k, layer in enumerate(self.layers):
            given = None if states is None else states[first : first + layer.directions]
            first += layer.directions
            x, layer_states, layer_internals = layer.unroll(x, given, lengths, record)
            final_states += layer_states
            internals += layer_internals
            if self.dropout and k < len(self.layers) - 1:
                x = F.dropout(x, self.dropout, self.training)
        return x, final_states, internals

    def extra_repr(self) -> str:
        return f"dropout={self.dropout}" + (", batch_first=True" if self.batch_first else "")
