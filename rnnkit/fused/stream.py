"""Streamer: step a trained layer one input at a time, at batch 1 (or a few), as fast as the CPU allows."""

from __future__ import annotations

import torch
from torch import Tensor

from rnnkit.cells.gru import GRUCell
from rnnkit.cells.lstm import LSTMCell
from rnnkit.cells.regularizers import base_cell
from rnnkit.cells.rnn import RNNCell
from rnnkit.fused import extension


def _kernel_mode(cell) -> str | None:
    """The streaming kernel's name for a plain cell (None: the cell has no streaming kernel)."""
    if type(cell) is LSTMCell and not (cell.proj_size or cell.peephole or cell.coupled):
        return "lstm"
    if type(cell) is GRUCell and cell.reset_after:
        return "gru"
    if type(cell) is RNNCell:
        return f"rnn_{cell.nonlinearity}"
    return None


class Streamer:
    """One step per call of a unidirectional rnnkit layer (``rnnkit.LSTM/GRU/RNN``, any number of layers)
    with pre-packed weights, preallocated state, no autograd and no allocation per call.

    The layer's weights are copied when the Streamer is made (train, then stream). Plain LSTM, GRU and RNN
    cells on CPU in float32 run the C++ streaming kernel; anything else (variants, CUDA, no compiler)
    steps the layer's own cells under ``torch.inference_mode`` (same results, slower). Regularisers are
    ignored, as in ``eval()``.

    Args:
        layer: a unidirectional ``RNNBase`` layer.
        batch_size: sequences stepped together (1 for a live stream).

    Example:
        >>> import rnnkit
        >>> lstm = rnnkit.LSTM(4, 8, num_layers=2)
        >>> stream = Streamer(lstm)
        >>> h = stream.step(torch.randn(1, 4))
        >>> h.shape, stream.fast
        (torch.Size([1, 8]), True)
    """

    def __init__(self, layer, batch_size: int = 1) -> None:
        if getattr(layer, "bidirectional", False):
            raise ValueError("Streamer: a bidirectional layer needs the whole sequence; it cannot stream")
        if not hasattr(layer, "recurrent_layers"):
            raise TypeError(f"Streamer takes an rnnkit RNN/LSTM/GRU layer, got {type(layer).__name__}")
        self.cells = [base_cell(r.cell) for r in layer.recurrent_layers()]
        self.batch_size = batch_size
        self.input_size = layer.input_size
        self.hidden_size = getattr(layer, "proj_size", 0) or layer.hidden_size
        modes = [_kernel_mode(cell) for cell in self.cells]
        weight = self.cells[0].weight_ih
        kernels = extension.load() if weight.device.type == "cpu" and weight.dtype == torch.float32 else None
        self.fast = kernels is not None and all(m is not None for m in modes)
        if self.fast:
            self._stream = kernels.Stream(
                [
                    kernels.StreamLayer(mode, c.weight_ih, c.weight_hh, c.bias_ih, c.bias_hh, batch_size)
                    for mode, c in zip(modes, self.cells)
                ]
            )
        else:
            self.reset()

    def _check(self, x: Tensor, out: Tensor | None) -> None:
        """Refuse, in Python, what the kernel would refuse: its checks must never be the only ones."""
        if x.shape[-1:] != (self.input_size,) or x.numel() != self.batch_size * self.input_size:
            raise ValueError(
                f"Streamer.step: expected x of shape ({self.batch_size}, {self.input_size}), "
                f"got {tuple(x.shape)}"
            )
        if out is not None and (
            out.shape != (self.batch_size, self.hidden_size) or out.dtype != x.dtype or out.device != x.device
            or not out.is_contiguous()
        ):  # fmt: skip
            raise ValueError(
                f"Streamer.step: out must be a contiguous {x.dtype} tensor of shape "
                f"({self.batch_size}, {self.hidden_size}) on {x.device}, got {out.dtype} {tuple(out.shape)}"
            )
        if self.fast and (x.dtype != torch.float32 or x.device.type != "cpu"):
            raise ValueError(f"Streamer.step: this stream runs float32 on CPU, got {x.dtype} on {x.device}")

    @property
    def state(self) -> list:
        """The current state of every layer (``h`` or ``(h, c)``), copies."""
        if self.fast:
            layers = self._stream.layers
            pair = [isinstance(c, LSTMCell) for c in self.cells]
            return [(s.h.clone(), s.c.clone()) if p else s.h.clone() for s, p in zip(layers, pair)]
        return [tuple(t.clone() for t in s) if isinstance(s, tuple) else s.clone() for s in self._states]

    def reset(self) -> None:
        """Start a new stream from zero states."""
        if self.fast:
            self._stream.reset()
        else:
            self._states = [cell.initial_state(self.batch_size) for cell in self.cells]

    def step(self, x: Tensor, out: Tensor | None = None) -> Tensor:
        """Feed one step ``x (batch, I)``; returns the top layer's ``h (batch, H)``.

        With ``out`` the result is written there (no allocation at all); otherwise a new tensor.
        """
        self._check(x, out)
        if self.fast:
            return self._stream.step(x if x.is_contiguous() else x.contiguous(), out)
        with torch.inference_mode():
            value = x
            for k, cell in enumerate(self.cells):
                self._states[k] = cell(value, self._states[k])
                value = self._states[k] if isinstance(self._states[k], Tensor) else self._states[k][0]
            result = value.clone()
        if out is not None:
            out.copy_(result)
            return out
        return result
