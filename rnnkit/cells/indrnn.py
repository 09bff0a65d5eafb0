"""The independently recurrent (IndRNN) cell."""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from rnnkit.cells.base import Recurrence, RecurrentCell, check_size

_ACTIVATIONS = {"relu": torch.relu, "tanh": torch.tanh}


class IndRNNCell(RecurrentCell):
    r"""One IndRNN step (Li et al. 2018, "Independently Recurrent Neural Network (IndRNN)").

        h_t = relu(W_ih x_t + b_ih + u ⊙ h_{t-1})      (or tanh with nonlinearity="tanh")

    The recurrent weight is a vector ``u`` (``weight_hh``, shape ``(H,)``), not a matrix: each unit only
    sees its own past, so the gradient through k steps is ``Π u_j σ'`` per unit, and bounding ``|u|``
    bounds it. With ``recurrent_max_abs=m`` the cell uses ``clamp(u, -m, m)`` (the paper's constraint,
    e.g. ``m = 2 ** (1 / T)`` for relu, so that ``|u|^T <= 2``); the parameter itself is left as trained
    and the gradient is clamp's (zero for the entries outside ``[-m, m]``). Units interact only through
    ``W_ih`` of the next layer, which is why IndRNNs are stacked deep.

    There is no ``b_hh``: ``b_ih`` is the only bias. Initialisation: ``W_ih, b_ih ~ U(-1/√H, 1/√H)``
    as torch's cells, ``u ~ U(0, 1)`` as in the paper.

    Args:
        input_size: I, features of ``x_t``.
        hidden_size: H, features of ``h_t``.
        bias: False drops ``b_ih``.
        nonlinearity: ``"relu"`` (the paper's) or ``"tanh"``.
        recurrent_max_abs: if given, a positive bound m on ``|u|`` applied in every step.

    Shape: ``x_t (B, I)`` or ``(I,)``, ``h (B, H)`` or None -> ``h_t (B, H)``.

    Example:
        >>> cell = IndRNNCell(8, 16, recurrent_max_abs=2 ** (1 / 100))
        >>> cell.weight_hh.shape
        torch.Size([16])
        >>> h = cell(torch.randn(4, 8))
        >>> h.shape, bool((h >= 0).all())
        (torch.Size([4, 16]), True)
    """

    gate_names = ()

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        bias: bool = True,
        nonlinearity: str = "relu",
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
        *,
        recurrent_max_abs: float | None = None,
    ) -> None:
        super().__init__()
        check_size("input_size", input_size, 0)
        check_size("hidden_size", hidden_size)
        if not isinstance(nonlinearity, str):
            raise TypeError(f"nonlinearity should be a str, got: {type(nonlinearity).__name__}")
        if nonlinearity not in _ACTIVATIONS:
            raise ValueError(f"Unknown nonlinearity {nonlinearity!r}. Select from 'relu' or 'tanh'.")
        if recurrent_max_abs is not None:
            if isinstance(recurrent_max_abs, bool) or not isinstance(recurrent_max_abs, (int, float)):
                raise TypeError(
                    f"recurrent_max_abs should be a positive number or None, "
                    f"got: {type(recurrent_max_abs).__name__}"
                )
            if not (recurrent_max_abs > 0 and math.isfinite(recurrent_max_abs)):
                raise ValueError(f"recurrent_max_abs must be a finite number > 0, got {recurrent_max_abs}")
        factory = {"device": device, "dtype": dtype}
        self.input_size, self.hidden_size, self.bias = input_size, hidden_size, bias
        self.nonlinearity, self.recurrent_max_abs = nonlinearity, recurrent_max_abs
        self.weight_ih = nn.Parameter(torch.empty(hidden_size, input_size, **factory))
        self.weight_hh = nn.Parameter(torch.empty(hidden_size, **factory))  # u, one weight per unit
        if bias:
            self.bias_ih = nn.Parameter(torch.empty(hidden_size, **factory))
        else:
            self.register_parameter("bias_ih", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """``W_ih, b_ih ~ U(-1/√H, 1/√H)`` (torch's), ``u ~ U(0, 1)`` (the paper's)."""
        bound = 1.0 / math.sqrt(self.hidden_size)
        nn.init.uniform_(self.weight_ih, -bound, bound)
        if self.bias_ih is not None:
            nn.init.uniform_(self.bias_ih, -bound, bound)
        nn.init.uniform_(self.weight_hh, 0.0, 1.0)

    def recurrence(self, batch_size: int) -> Recurrence:
        """``u`` (clamped to ``[-m, m]`` with ``recurrent_max_abs=m``) and no bias."""
        u = self.weight_hh
        if self.recurrent_max_abs is not None:
            u = u.clamp(-self.recurrent_max_abs, self.recurrent_max_abs)
        return Recurrence(u, None)

    def step(self, xp_t: Tensor, h: Tensor, rec: Recurrence) -> tuple[Tensor, tuple[()]]:
        h = _ACTIVATIONS[self.nonlinearity](xp_t + rec(h))  # rec(h) = u ⊙ h_{t-1}
        return h, ()

    def extra_repr(self) -> str:
        s = f"{self.input_size}, {self.hidden_size}"
        if not self.bias:
            s += ", bias=False"
        if self.nonlinearity != "relu":
            s += f", nonlinearity={self.nonlinearity!r}"
        if self.recurrent_max_abs is not None:
            s += f", recurrent_max_abs={self.recurrent_max_abs}"
        return s
