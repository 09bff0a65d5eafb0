"""Stateful(layer): carry the state from one call to the next (truncated BPTT, streaming)."""

from __future__ import annotations

from typing import Any

from torch import Tensor, nn

from rnnkit.layers.rnn_base import RNNBase


def _map_tensors(fn, value: Any) -> Any:
    if isinstance(value, Tensor):
        return fn(value)
    if isinstance(value, list):
        return [_map_tensors(fn, v) for v in value]
    parts = [_map_tensors(fn, v) for v in value]
    return type(value)(*parts) if hasattr(value, "_fields") else tuple(parts)


def _first_tensor(value: Any) -> Tensor:
    return value if isinstance(value, Tensor) else _first_tensor(value[0])


class Stateful(nn.Module):
    """Wrap a layer so each call starts from the state the previous call ended in.

    This is truncated backpropagation through time (Williams & Peng 1990): feed a long sequence in chunks;
    the state flows forward across chunks, gradients stop at chunk boundaries (the carried state is
    detached). With chunks of one step it is a streaming API. With ``lengths``, the carried state is each
    sequence's state at its last valid step.

    Args:
        layer: any rnnkit layer (``rnnkit.LSTM``, ``Recurrent``, ``Bidirectional``, ``Stacked``) or a
            ``torch.nn`` RNN/LSTM/GRU.
        detach: stop gradients at chunk boundaries (True: truncated BPTT). False keeps the whole graph.

    Example:
        >>> import torch, rnnkit
        >>> lstm = Stateful(rnnkit.LSTM(4, 8, batch_first=True))
        >>> long = torch.randn(2, 30, 4)
        >>> chunks = [lstm(chunk) for chunk in long.split(10, dim=1)]
        >>> whole, _ = lstm.layer(long)
        >>> torch.allclose(torch.cat(chunks, dim=1), whole, atol=1e-6)
        True
        >>> lstm.reset()  # next call starts from zeros again
    """

    def __init__(self, layer: nn.Module, detach: bool = True) -> None:
        super().__init__()
        self.layer, self.detach = layer, detach
        self.state: Any = None

    def _batch_axes(self) -> tuple[int, int]:
        """(batch axis of the input, batch axis of the state tensors)."""
        input_axis = 0 if getattr(self.layer, "batch_first", False) else 1
        torch_layout = isinstance(self.layer, (RNNBase, nn.RNNBase))  # states (L*D, B, H)
        return input_axis, 1 if torch_layout else 0

    def forward(self, input: Tensor, lengths: Tensor | None = None) -> Tensor:
        """Run one chunk from the carried state; returns the layer's output and keeps its final state."""
        input_axis, state_axis = self._batch_axes()
        if self.state is not None:
            carried = _first_tensor(self.state).size(state_axis)
            if input.dim() == 3 and input.size(input_axis) != carried:
                raise ValueError(
                    f"Stateful: this chunk has batch size {input.size(input_axis)} but the carried state has "
                    f"{carried}; call reset() before starting a new batch"
                )
        if lengths is None:
            output, state = self.layer(input, self.state)
        else:
            output, state = self.layer(input, self.state, lengths=lengths)
        self.state = _map_tensors(Tensor.detach, state) if self.detach else state
        return output

    def reset(self, done: Tensor | None = None) -> None:
        """Forget the carried state: all of it, or only the sequences where ``done (B,)`` is True
        (their state restarts at zero, e.g. when a stream ends and a new one takes its batch slot)."""
        if done is None or self.state is None:
            self.state = None
            return
        _, axis = self._batch_axes()
        keep = ~done.bool().to(_first_tensor(self.state).device)

        def zero_done(t: Tensor) -> Tensor:
            shape = [1] * t.dim()
            shape[axis] = -1
            return t * keep.view(shape).to(t.dtype)

        self.state = _map_tensors(zero_done, self.state)
