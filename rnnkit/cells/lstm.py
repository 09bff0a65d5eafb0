"""The LSTM cell, with torch's projection and the classic variants."""

from __future__ import annotations

from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from rnnkit.cells.base import LSTMState, Recurrence, RecurrentCell, check_size


class LSTMGates(NamedTuple):
    """Gate activations of one LSTM step, each ``(B, H)``."""

    i: Tensor
    f: Tensor
    g: Tensor
    o: Tensor


class LSTMCell(RecurrentCell):
    r"""One LSTM step; gate order i, f, g, o as in ``torch.nn.LSTMCell``.

        i_t = σ(W_ii x_t + b_ii + W_hi h_{t-1} + b_hi)      input gate
        f_t = σ(W_if x_t + b_if + W_hf h_{t-1} + b_hf)      forget gate
        g_t = tanh(W_ig x_t + b_ig + W_hg h_{t-1} + b_hg)   candidate
        o_t = σ(W_io x_t + b_io + W_ho h_{t-1} + b_ho)      output gate
        c_t = f_t ⊙ c_{t-1} + i_t ⊙ g_t
        h_t = o_t ⊙ tanh(c_t)

    Variants (all off by default, which is exactly ``torch.nn.LSTMCell``):

    * ``proj_size=P`` (Sak et al. 2014; torch.nn.LSTM's semantics): ``h_t = W_hr (o_t ⊙ tanh(c_t))``,
      so ``h`` has P features and ``W_hh`` is ``(4H, P)``.
    * ``peephole=True`` (Gers & Schmidhuber 2000): the gates also see the cell,
      ``i_t = σ(... + w_ci ⊙ c_{t-1})``, ``f_t = σ(... + w_cf ⊙ c_{t-1})``, ``o_t = σ(... + w_co ⊙ c_t)``.
    * ``coupled=True`` (coupled input-forget gate, CIFG; Greff et al. 2017): ``i_t = 1 - f_t``; the
      weights hold three gates (f, g, o) instead of four.
    * ``forget_bias=b`` (Gers et al. 2000; Jozefowicz et al. 2015): start with ``b_if + b_hf = b``
      (1.0 is the usual choice), so the cell remembers by default early in training.

    Args:
        input_size: I.
        hidden_size: H.
        bias: False drops ``b_ih`` and ``b_hh``.
        proj_size: P > 0 adds the projection ``weight_hr (P, H)``.
        peephole: add ``weight_ci, weight_cf, weight_co`` (each ``(H,)``).
        coupled: tie the input gate to the forget gate.
        forget_bias: initial value of the forget gate's total bias (None: torch's uniform init).

    Shape: ``x_t (B, I)`` or ``(I,)``, ``(h (B, P or H), c (B, H))`` or None -> ``LSTMState(h_t, c_t)``.

    Example:
        >>> cell = LSTMCell(8, 16)
        >>> h, c = cell(torch.randn(4, 8))
        >>> h.shape, c.shape
        (torch.Size([4, 16]), torch.Size([4, 16]))
        >>> LSTMCell(8, 16, proj_size=4)(torch.randn(4, 8)).h.shape
        torch.Size([4, 4])
    """

    gate_names = ("i", "f", "g", "o")

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        bias: bool = True,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
        *,
        proj_size: int = 0,
        peephole: bool = False,
        coupled: bool = False,
        forget_bias: float | None = None,
    ) -> None:
        super().__init__()
        check_size("input_size", input_size, 0)
        check_size("hidden_size", hidden_size)
        check_size("proj_size", proj_size, 0)
        if proj_size >= hidden_size:
            raise ValueError(
                f"proj_size has to be smaller than hidden_size, got {proj_size} >= {hidden_size}"
            )
        if forget_bias is not None and not bias:
            raise ValueError("forget_bias needs bias=True: there is no bias to initialise")
        factory = {"device": device, "dtype": dtype}
        self.input_size, self.hidden_size, self.bias = input_size, hidden_size, bias
        self.proj_size, self.peephole, self.coupled, self.forget_bias = (
            proj_size,
            peephole,
            coupled,
            forget_bias,
        )
        gates = (3 if coupled else 4) * hidden_size
        h_size = proj_size or hidden_size
        self.weight_ih = nn.Parameter(torch.empty(gates, input_size, **factory))
        self.weight_hh = nn.Parameter(torch.empty(gates, h_size, **factory))
        if bias:
            self.bias_ih = nn.Parameter(torch.empty(gates, **factory))
            self.bias_hh = nn.Parameter(torch.empty(gates, **factory))
        else:
            self.register_parameter("bias_ih", None)
            self.register_parameter("bias_hh", None)
        if proj_size:
            self.weight_hr = nn.Parameter(torch.empty(proj_size, hidden_size, **factory))
        else:
            self.register_parameter("weight_hr", None)
        if peephole:
            if not coupled:
                self.weight_ci = nn.Parameter(torch.empty(hidden_size, **factory))
            self.weight_cf = nn.Parameter(torch.empty(hidden_size, **factory))
            self.weight_co = nn.Parameter(torch.empty(hidden_size, **factory))
        self.reset_parameters()

    @property
    def output_size(self) -> int:
        return self.proj_size or self.hidden_size

    @property
    def state_sizes(self) -> tuple[int, ...]:
        return (self.output_size, self.hidden_size)

    def reset_parameters(self) -> None:
        super().reset_parameters()
        if self.forget_bias is not None:
            f = slice(0, self.hidden_size) if self.coupled else slice(self.hidden_size, 2 * self.hidden_size)
            with torch.no_grad():
                self.bias_ih[f].fill_(self.forget_bias)
                self.bias_hh[f].zero_()

    def initial_state(
        self, batch_size: int, device: torch.device | None = None, dtype: torch.dtype | None = None
    ) -> LSTMState:
        device = device if device is not None else self.weight_ih.device
        dtype = dtype if dtype is not None else self.weight_ih.dtype
        h = torch.zeros(batch_size, self.output_size, device=device, dtype=dtype)
        c = torch.zeros(batch_size, self.hidden_size, device=device, dtype=dtype)
        return LSTMState(h, c)

    def recurrent_term(self, h: Tensor, rec: Recurrence) -> Tensor:
        """``W_hh h_{t-1} + b_hh`` (the layer-norm cell normalises it)."""
        return rec(h)

    def cell_to_hidden(self, c: Tensor) -> Tensor:
        """``tanh(c_t)`` (the layer-norm cell normalises ``c_t`` first)."""
        return torch.tanh(c)

    def step(self, xp_t: Tensor, state: LSTMState, rec: Recurrence) -> tuple[LSTMState, LSTMGates]:
        h, c = state
        gates = xp_t + self.recurrent_term(h, rec)  # (B, 4H): W_ih x_t + b_ih + W_hh h_{t-1} + b_hh
        if self.coupled:
            f, g, o = gates.chunk(3, dim=-1)
            i = None
        else:
            i, f, g, o = gates.chunk(4, dim=-1)
        if self.peephole:
            f = f + self.weight_cf * c
            i = None if self.coupled else i + self.weight_ci * c
        f = torch.sigmoid(f)
        i = 1.0 - f if self.coupled else torch.sigmoid(i)
        g = torch.tanh(g)
        c = f * c + i * g
        if self.peephole:
            o = o + self.weight_co * c  # the output gate peeks at the new cell c_t
        o = torch.sigmoid(o)
        h = o * self.cell_to_hidden(c)
        if self.proj_size:
            h = F.linear(h, self.weight_hr)  # (B, P)
        return LSTMState(h, c), LSTMGates(i, f, g, o)

    def extra_repr(self) -> str:
        s = f"{self.input_size}, {self.hidden_size}"
        if not self.bias:
            s += ", bias=False"
        for name in ("proj_size", "peephole", "coupled", "forget_bias"):
            value = getattr(self, name)
            if value not in (0, False, None):
                s += f", {name}={value}"
        return s
