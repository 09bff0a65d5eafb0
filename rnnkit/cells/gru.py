"""The GRU cell, in both of its published forms."""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import Tensor, nn

from rnnkit.cells.base import Recurrence, RecurrentCell, check_size


class GRUGates(NamedTuple):
    """Gate activations of one GRU step, each ``(B, H)``."""

    r: Tensor
    z: Tensor
    n: Tensor


class GRUCell(RecurrentCell):
    r"""One GRU step; gate order r, z, n as in ``torch.nn.GRUCell``.

    ``reset_after=True`` (the default) is torch's and cuDNN's form: the reset gate scales the *projected*
    hidden state, which lets all of ``W_hh h`` be computed in one matrix multiply::

        r_t = σ(W_ir x_t + b_ir + W_hr h_{t-1} + b_hr)          reset gate
        z_t = σ(W_iz x_t + b_iz + W_hz h_{t-1} + b_hz)          update gate
        n_t = tanh(W_in x_t + b_in + r_t ⊙ (W_hn h_{t-1} + b_hn))    candidate
        h_t = (1 - z_t) ⊙ n_t + z_t ⊙ h_{t-1}

    ``reset_after=False`` is the original paper's form (Cho et al. 2014; Keras' ``reset_after=False``):
    the reset gate scales ``h_{t-1}`` before the multiply::

        n_t = tanh(W_in x_t + b_in + W_hn (r_t ⊙ h_{t-1}) + b_hn)

    Both keep torch's parameter layout, so weights load either way (their outputs differ).

    Args:
        input_size: I.
        hidden_size: H.
        bias: False drops ``b_ih`` and ``b_hh``.
        reset_after: which form (see above).

    Shape: ``x_t (B, I)`` or ``(I,)``, ``h (B, H)`` or None -> ``h_t (B, H)``, as ``torch.nn.GRUCell``.

    Example:
        >>> cell = GRUCell(8, 16)
        >>> cell(torch.randn(4, 8)).shape
        torch.Size([4, 16])
    """

    gate_names = ("r", "z", "n")

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        bias: bool = True,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
        *,
        reset_after: bool = True,
    ) -> None:
        super().__init__()
        check_size("input_size", input_size, 0)
        check_size("hidden_size", hidden_size)
        factory = {"device": device, "dtype": dtype}
        self.input_size, self.hidden_size, self.bias, self.reset_after = (
            input_size,
            hidden_size,
            bias,
            reset_after,
        )
        self.weight_ih = nn.Parameter(torch.empty(3 * hidden_size, input_size, **factory))
        self.weight_hh = nn.Parameter(torch.empty(3 * hidden_size, hidden_size, **factory))
        if bias:
            self.bias_ih = nn.Parameter(torch.empty(3 * hidden_size, **factory))
            self.bias_hh = nn.Parameter(torch.empty(3 * hidden_size, **factory))
        else:
            self.register_parameter("bias_ih", None)
            self.register_parameter("bias_hh", None)
        self.reset_parameters()

    def recurrent_term(self, h: Tensor, rec: Recurrence, rows: slice | None = None) -> Tensor:
        """``W_hh h + b_hh`` for the selected gate rows (the layer-norm cell normalises it)."""
        return rec(h, rows)

    def step(self, xp_t: Tensor, h: Tensor, rec: Recurrence) -> tuple[Tensor, GRUGates]:
        H = self.hidden_size
        x_r, x_z, x_n = xp_t.chunk(3, dim=-1)
        if self.reset_after:
            h_r, h_z, h_n = self.recurrent_term(h, rec).chunk(3, dim=-1)
            r = torch.sigmoid(x_r + h_r)
            z = torch.sigmoid(x_z + h_z)
            n = torch.tanh(x_n + r * h_n)
        else:
            h_r, h_z = self.recurrent_term(h, rec, slice(0, 2 * H)).chunk(2, dim=-1)
            r = torch.sigmoid(x_r + h_r)
            z = torch.sigmoid(x_z + h_z)
            n = torch.tanh(x_n + self.recurrent_term(r * h, rec, slice(2 * H, 3 * H)))
        h = (1.0 - z) * n + z * h
        return h, GRUGates(r, z, n)

    def extra_repr(self) -> str:
        s = f"{self.input_size}, {self.hidden_size}"
        if not self.bias:
            s += ", bias=False"
        if not self.reset_after:
            s += ", reset_after=False"
        return s
