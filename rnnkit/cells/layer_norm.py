"""Layer-normalised LSTM and GRU cells (Ba, Kiros & Hinton 2016, "Layer Normalization")."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from rnnkit.cells.base import Recurrence
from rnnkit.cells.gru import GRUCell
from rnnkit.cells.lstm import LSTMCell


class GateNorm(nn.Module):
    """Layer normalisation over each of ``groups`` blocks of ``size`` features, with a gain, no shift.

    The shift is left out on purpose: the cell's own biases ``b_ih`` and ``b_hh`` play that part.

    Example:
        >>> norm = GateNorm(groups=3, size=4)
        >>> y = norm(torch.randn(2, 12))
        >>> y.view(2, 3, 4).mean(-1).abs().max() < 1e-6
        tensor(True)
    """

    def __init__(self, groups: int, size: int, eps: float = 1e-5, **factory) -> None:
        super().__init__()
        self.groups, self.size, self.eps = groups, size, eps
        self.weight = nn.Parameter(torch.ones(groups, size, **factory))

    def reset_parameters(self) -> None:
        nn.init.ones_(self.weight)

    def forward(self, x: Tensor, groups: slice = slice(None)) -> Tensor:
        weight = self.weight[groups]  # (g, size)
        y = F.layer_norm(x.unflatten(-1, (weight.size(0), self.size)), (self.size,), eps=self.eps)
        return (y * weight).flatten(-2)

    def extra_repr(self) -> str:
        return f"groups={self.groups}, size={self.size}, eps={self.eps}"


def _add_bias(x: Tensor, bias: Tensor | None) -> Tensor:
    return x if bias is None else x + bias


class LayerNormLSTMCell(LSTMCell):
    r"""LSTM step with layer normalisation (Ba et al. 2016, eqs. 20-22; as in haste's LayerNormLSTM).

        (i, f, g, o) = LN(W_ih x_t; α_x) + LN(W_hh h_{t-1}; α_h) + b_ih + b_hh    (LN over all 4H together)
        c_t = σ(f) ⊙ c_{t-1} + σ(i) ⊙ tanh(g)
        h_t = σ(o) ⊙ tanh(LN(c_t; α_c, β_c))

    Normalising the summed inputs keeps the gates in their working range whatever the scale of ``x`` and
    ``h``, which speeds up and steadies training on long sequences. Takes every option of
    :class:`LSTMCell` (``proj_size``, ``peephole``, ``coupled``, ``forget_bias``).

    Example:
        >>> cell = LayerNormLSTMCell(8, 16)
        >>> cell(torch.randn(4, 8)).h.shape
        torch.Size([4, 16])
    """

    def __init__(
        self, input_size: int, hidden_size: int, bias: bool = True, device=None, dtype=None, **options
    ):
        super().__init__(input_size, hidden_size, bias, device, dtype, **options)
        factory = {"device": device, "dtype": dtype}
        gates = 3 if self.coupled else 4
        self.ln_ih = GateNorm(1, gates * hidden_size, **factory)
        self.ln_hh = GateNorm(1, gates * hidden_size, **factory)
        self.ln_c = nn.LayerNorm(hidden_size, **factory)

    def reset_parameters(self) -> None:
        super().reset_parameters()
        for norm in self.children():  # the norms (absent while LSTMCell.__init__ runs)
            norm.reset_parameters()

    def project_input(self, x: Tensor) -> Tensor:
        return _add_bias(self.ln_ih(F.linear(x, self.weight_ih)), self.bias_ih)

    def recurrence(self, batch_size: int) -> Recurrence:
        return Recurrence(self.weight_hh, None)  # b_hh is added after the norm

    def recurrent_term(self, h: Tensor, rec: Recurrence) -> Tensor:
        return _add_bias(self.ln_hh(rec(h)), self.bias_hh)

    def cell_to_hidden(self, c: Tensor) -> Tensor:
        return torch.tanh(self.ln_c(c))


class LayerNormGRUCell(GRUCell):
    r"""GRU step with layer normalisation of each gate's input and recurrent parts (Ba et al. 2016).

        (r, z, n)_x = LN(W_ih x_t) + b_ih,   (r, z, n)_h = LN(W_hh h_{t-1}) + b_hh   (LN per gate block)
        r_t = σ(r_x + r_h),  z_t = σ(z_x + z_h)
        n_t = tanh(n_x + r_t ⊙ n_h)                                       reset_after=True
        n_t = tanh(n_x + LN(W_hn (r_t ⊙ h_{t-1})) + b_hn)                  reset_after=False
        h_t = (1 - z_t) ⊙ n_t + z_t ⊙ h_{t-1}

    Each gate block is normalised on its own so that both GRU forms are defined (in the reset-before
    form the candidate's recurrent part is a separate multiply).

    Example:
        >>> LayerNormGRUCell(8, 16)(torch.randn(4, 8)).shape
        torch.Size([4, 16])
    """

    def __init__(
        self, input_size: int, hidden_size: int, bias: bool = True, device=None, dtype=None, **options
    ):
        super().__init__(input_size, hidden_size, bias, device, dtype, **options)
        factory = {"device": device, "dtype": dtype}
        self.ln_ih = GateNorm(3, hidden_size, **factory)
        self.ln_hh = GateNorm(3, hidden_size, **factory)

    def reset_parameters(self) -> None:
        super().reset_parameters()
        for norm in self.children():  # the norms (absent while GRUCell.__init__ runs)
            norm.reset_parameters()

    def project_input(self, x: Tensor) -> Tensor:
        return _add_bias(self.ln_ih(F.linear(x, self.weight_ih)), self.bias_ih)

    def recurrence(self, batch_size: int) -> Recurrence:
        return Recurrence(self.weight_hh, None)

    def recurrent_term(self, h: Tensor, rec: Recurrence, rows: slice | None = None) -> Tensor:
        rows = rows or slice(0, 3 * self.hidden_size)
        groups = slice(rows.start // self.hidden_size, rows.stop // self.hidden_size)
        bias = None if self.bias_hh is None else self.bias_hh[rows]
        return _add_bias(self.ln_hh(rec(h, rows), groups), bias)
