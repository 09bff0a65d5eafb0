"""The Elman RNN cell."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from rnnkit.cells.base import Recurrence, RecurrentCell, check_size

_ACTIVATIONS = {"tanh": torch.tanh, "relu": torch.relu}


class RNNCell(RecurrentCell):
    r"""One step of the vanilla (Elman) RNN, as ``torch.nn.RNNCell``.

        h_t = tanh(W_ih x_t + b_ih + W_hh h_{t-1} + b_hh)      (or relu with nonlinearity="relu")

    Repeated multiplication by ``W_hh`` (and by tanh' <= 1) is why its gradients vanish over long
    distances (Bengio et al. 1994); the LSTM and GRU cells exist to fix that.

    Args:
        input_size: I, features of ``x_t``.
        hidden_size: H, features of ``h_t``.
        bias: False drops ``b_ih`` and ``b_hh``.
        nonlinearity: ``"tanh"`` or ``"relu"``.

    Shape: ``x_t (B, I)`` or ``(I,)``, ``h (B, H)`` or None -> ``h_t (B, H)``, as ``torch.nn.RNNCell``.

    Example:
        >>> cell = RNNCell(8, 16)
        >>> cell(torch.randn(4, 8)).shape
        torch.Size([4, 16])
    """

    gate_names = ()

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        bias: bool = True,
        nonlinearity: str = "tanh",
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__()
        check_size("input_size", input_size, 0)
        check_size("hidden_size", hidden_size)
        if nonlinearity not in _ACTIVATIONS:
            raise ValueError(f"Unknown nonlinearity '{nonlinearity}'. Select from 'tanh' or 'relu'.")
        factory = {"device": device, "dtype": dtype}
        self.input_size, self.hidden_size, self.bias = input_size, hidden_size, bias
        self.nonlinearity = nonlinearity
        self.weight_ih = nn.Parameter(torch.empty(hidden_size, input_size, **factory))
        self.weight_hh = nn.Parameter(torch.empty(hidden_size, hidden_size, **factory))
        if bias:
            self.bias_ih = nn.Parameter(torch.empty(hidden_size, **factory))
            self.bias_hh = nn.Parameter(torch.empty(hidden_size, **factory))
        else:
            self.register_parameter("bias_ih", None)
            self.register_parameter("bias_hh", None)
        self.reset_parameters()

    def step(self, xp_t: Tensor, h: Tensor, rec: Recurrence) -> tuple[Tensor, tuple[()]]:
        h = _ACTIVATIONS[self.nonlinearity](xp_t + rec(h))
        return h, ()

    def extra_repr(self) -> str:
        s = f"{self.input_size}, {self.hidden_size}"
        if not self.bias:
            s += ", bias=False"
        if self.nonlinearity != "tanh":
            s += f", nonlinearity={self.nonlinearity!r}"
        return s
