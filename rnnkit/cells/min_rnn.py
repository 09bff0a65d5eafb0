r"""minGRU and minLSTM (Feng et al. 2024, "Were RNNs All We Needed?"): gates from x_t alone.

Both cells compute ``h_t = a_t ⊙ h_{t-1} + b_t`` where ``a_t`` and ``b_t`` depend on ``x_t`` only. So a
layer needs no loop over time to train them: :func:`log_space_scan` solves the whole recurrence at once
(Heinsen 2023, "Efficient Parallelization of a Ubiquitous Sequential Computation"), with cumulative sums
whose depth is O(log T) on a parallel device instead of T dependent steps. The step-by-step ``step`` is
kept for generation and for :meth:`rnnkit.layers.unroll.Recurrent.record`; both use the same
equations and agree to rounding.

The candidate is the paper's log-space-friendly ``g``, positive everywhere so that ``log b_t`` exists::

    g(x) = x + 0.5      if x >= 0
           σ(x)         otherwise
"""

from __future__ import annotations

from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from rnnkit.cells.base import RecurrentCell, check_size


def g(x: Tensor) -> Tensor:
    """The paper's candidate activation: ``x + 0.5`` for ``x >= 0``, ``σ(x)`` below (continuous, > 0)."""
    return torch.where(x >= 0, x + 0.5, torch.sigmoid(x))


def log_g(x: Tensor) -> Tensor:
    """``log g(x)``, computed without forming ``g``: ``log(x + 0.5)`` or ``log σ(x)``."""
    # clamp: the unused branch of torch.where must stay finite, or its NaN gradient leaks through
    return torch.where(x >= 0, torch.log(x.clamp(min=0) + 0.5), F.logsigmoid(x))


def _accumulation_dtype(device: torch.device) -> torch.dtype:
    """float64 wherever the device has it: the scan's cumulative sums need its precision."""
    return torch.float32 if device.type == "mps" else torch.float64


def log_space_scan(
    log_a: Tensor, log_b: Tensor, h0: Tensor, mask: Tensor | None = None
) -> tuple[Tensor, Tensor]:
    r"""Solve ``h_t = a_t ⊙ h_{t-1} + b_t`` for every t at once, given ``log a_t`` and ``log b_t``.

    Heinsen's (2023) log-space scan, with the ``h_0`` term kept linear so that ``h_0`` may be negative::

        a*_t = Σ_{j<=t} log a_j
        h_t  = exp(a*_t) ⊙ h_0 + exp(a*_t + logcumsumexp_{j<=t}(log b_j - a*_j))

    Padded steps (``mask`` False) get ``a = 1, b = 0``, so the state stays as it was; ``log b = 0`` is
    written as a very negative finite number, not ``-inf``, which would make NaN gradients.

    Precision: ``a*_t + logcumsumexp(...)`` cancels two numbers of size ``|a*_t|``, so the relative error
    of ``h_t`` grows like ``|a*_t| · eps``: in float32, 1e-4 after 1000 steps at initialisation and 1e-3
    with saturated gates, against 1e-6 for the loop. So the log-space part is computed in float64
    (float32 where the device has no float64, as MPS) and ``h`` is returned in the input's dtype.

    Args:
        log_a: ``(T, B, H)``, ``log a_t`` (``<= 0`` for a contracting recurrence).
        log_b: ``(T, B, H)``, ``log b_t``.
        h0: ``(B, H)``, the initial state, any sign.
        mask: ``(T, B, 1)`` bool or None; False marks a padded step.

    Returns:
        ``h (T, B, H)`` (padded steps repeat the last valid state) and the final state ``h[-1] (B, H)``.

    Example:
        >>> a, b, h0 = torch.rand(5, 1, 2), torch.rand(5, 1, 2), -torch.ones(1, 2)
        >>> h, last = log_space_scan(a.log(), b.log(), h0)
        >>> ref = h0
        >>> for t in range(5):
        ...     ref = a[t] * ref + b[t]
        >>> torch.allclose(last, ref, atol=1e-6)
        True
    """
    dtype = log_b.dtype
    acc = _accumulation_dtype(log_b.device)
    log_a, log_b = log_a.to(acc), log_b.to(acc)
    if mask is not None:
        log_a = log_a.masked_fill(~mask, 0.0)  # a = 1: the state stays
        log_b = log_b.masked_fill(~mask, torch.finfo(acc).min / 4)  # b = 0, finite so gradients stay finite
    a_star = torch.cumsum(log_a, dim=0)  # (T, B, H): log Π_{j<=t} a_j
    log_h = a_star + torch.logcumsumexp(log_b - a_star, dim=0)  # log Σ_{j<=t} (Π_{j<k<=t} a_k) b_j
    h = torch.exp(a_star).to(dtype) * h0 + torch.exp(log_h).to(dtype)  # (T, B, H)
    return h, h[-1]


class MinGRUGates(NamedTuple):
    """Gate activations of one minGRU step, each ``(B, H)``."""

    z: Tensor
    h_tilde: Tensor


class MinLSTMGates(NamedTuple):
    """Gate activations of one minLSTM step, each ``(B, H)``: the normalised ``f'``, ``i'`` and ``h̃``."""

    f: Tensor
    i: Tensor
    h_tilde: Tensor


class _MinCell(RecurrentCell):
    """What minGRU and minLSTM share: only ``weight_ih`` and ``bias_ih``, no recurrence, a scan."""

    n_gates: int

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        bias: bool = True,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__()
        check_size("input_size", input_size, 0)
        check_size("hidden_size", hidden_size)
        factory = {"device": device, "dtype": dtype}
        self.input_size, self.hidden_size, self.bias = input_size, hidden_size, bias
        self.weight_ih = nn.Parameter(torch.empty(self.n_gates * hidden_size, input_size, **factory))
        if bias:
            self.bias_ih = nn.Parameter(torch.empty(self.n_gates * hidden_size, **factory))
        else:
            self.register_parameter("bias_ih", None)
        self.reset_parameters()

    def recurrence(self, batch_size: int) -> None:
        """None: the gates depend on ``x_t`` only, there is no recurrent weight."""
        return None

    def log_coefficients(self, xp: Tensor) -> tuple[Tensor, Tensor]:
        """``(log a, log b)`` of ``h_t = a_t ⊙ h_{t-1} + b_t`` from the projected input ``xp (..., G)``."""
        raise NotImplementedError

    def scan(self, xp: Tensor, state: Tensor, mask: Tensor | None) -> tuple[Tensor, Tensor]:
        """All steps at once from ``xp (T, B, G)``, ``h_0 (B, H)``, ``mask (T, B, 1)`` or None.

        Returns ``(h (T, B, H), h_T (B, H))``, equal to the loop over :meth:`step` (see
        :func:`log_space_scan`).
        """
        log_a, log_b = self.log_coefficients(xp)
        return log_space_scan(log_a, log_b, state, mask)

    def extra_repr(self) -> str:
        s = f"{self.input_size}, {self.hidden_size}"
        if not self.bias:
            s += ", bias=False"
        return s


class MinGRUCell(_MinCell):
    r"""One minGRU step (Feng et al. 2024, "Were RNNs All We Needed?").

        (k_z, k_h) = W_ih x_t + b_ih                weight_ih (2H, I): rows of z, then h̃
        z_t = σ(k_z)                                 update gate
        h̃_t = g(k_h)                                candidate, g as in the module docstring
        h_t = (1 - z_t) ⊙ h_{t-1} + z_t ⊙ h̃_t

    A GRU without the reset gate and without ``h_{t-1}`` in the gate or the candidate, so a layer
    trains it with the parallel scan :meth:`scan` (``log a_t = log σ(-k_z)``,
    ``log b_t = log σ(k_z) + log g(k_h)``); ``step`` is the same equation one step at a time.

    Args:
        input_size: I.
        hidden_size: H.
        bias: False drops ``b_ih``.

    Shape: ``x_t (B, I)`` or ``(I,)``, ``h (B, H)`` or None -> ``h_t (B, H)``.

    Example:
        >>> from rnnkit.layers.unroll import Recurrent
        >>> layer = Recurrent(MinGRUCell(8, 16))
        >>> x = torch.randn(50, 4, 8)
        >>> out, h = layer(x)  # the parallel scan
        >>> out_loop, h_loop, _ = layer.record(x)  # the step-by-step loop
        >>> out.shape, torch.allclose(out, out_loop, atol=1e-5), torch.allclose(h, h_loop, atol=1e-5)
        (torch.Size([50, 4, 16]), True, True)
    """

    n_gates = 2
    gate_names = ("z", "h_tilde")

    def step(self, xp_t: Tensor, h: Tensor, rec: None = None) -> tuple[Tensor, MinGRUGates]:
        k_z, k_h = xp_t.chunk(2, dim=-1)
        z = torch.sigmoid(k_z)
        h_tilde = g(k_h)
        h = (1 - z) * h + z * h_tilde
        return h, MinGRUGates(z, h_tilde)

    def log_coefficients(self, xp: Tensor) -> tuple[Tensor, Tensor]:
        k_z, k_h = xp.chunk(2, dim=-1)
        log_a = F.logsigmoid(-k_z)  # log(1 - z) = log σ(-k_z)
        log_b = F.logsigmoid(k_z) + log_g(k_h)  # log z + log h̃
        return log_a, log_b


class MinLSTMCell(_MinCell):
    r"""One minLSTM step (Feng et al. 2024, "Were RNNs All We Needed?"); the state is ``h`` alone.

        (k_f, k_i, k_h) = W_ih x_t + b_ih                   weight_ih (3H, I): rows of f, i, then h̃
        f_t = σ(k_f),  i_t = σ(k_i)                          forget and input gates
        f'_t = f_t / (f_t + i_t),  i'_t = i_t / (f_t + i_t)  normalised, so f'_t + i'_t = 1
        h̃_t = g(k_h)                                        candidate, g as in the module docstring
        h_t = f'_t ⊙ h_{t-1} + i'_t ⊙ h̃_t

    An LSTM without the output gate, the cell state, and ``h_{t-1}`` in the gates. The normalisation makes
    ``h_t`` a convex combination of ``h_{t-1}`` and ``h̃_t``, so its scale does not grow with t. The
    parallel scan :meth:`scan` uses ``log f' = log σ(log f - log i)`` and ``log i' = log σ(log i - log f)``;
    the step computes ``f' = σ(log f - log i)``, the same value without 0 / 0 when both gates underflow.
    :class:`MinLSTMGates` reports the normalised ``f'`` and ``i'``.

    Args:
        input_size: I.
        hidden_size: H.
        bias: False drops ``b_ih``.

    Shape: ``x_t (B, I)`` or ``(I,)``, ``h (B, H)`` or None -> ``h_t (B, H)``.

    Example:
        >>> from rnnkit.layers.unroll import Recurrent
        >>> layer = Recurrent(MinLSTMCell(8, 16), batch_first=True)
        >>> out, h = layer(torch.randn(4, 50, 8), lengths=torch.tensor([50, 3, 20, 1]))
        >>> out.shape, h.shape, bool(out[1, 3:].abs().sum() == 0)
        (torch.Size([4, 50, 16]), torch.Size([4, 16]), True)
    """

    n_gates = 3
    gate_names = ("f", "i", "h_tilde")

    def step(self, xp_t: Tensor, h: Tensor, rec: None = None) -> tuple[Tensor, MinLSTMGates]:
        k_f, k_i, k_h = xp_t.chunk(3, dim=-1)
        log_f, log_i = F.logsigmoid(k_f), F.logsigmoid(k_i)
        # f' = f / (f + i) = σ(log f - log i): the same value, without 0 / 0 when both gates underflow
        f = torch.sigmoid(log_f - log_i)
        i = torch.sigmoid(log_i - log_f)  # i' = i / (f + i)
        h_tilde = g(k_h)
        h = f * h + i * h_tilde
        return h, MinLSTMGates(f, i, h_tilde)

    def log_coefficients(self, xp: Tensor) -> tuple[Tensor, Tensor]:
        k_f, k_i, k_h = xp.chunk(3, dim=-1)
        log_f, log_i = F.logsigmoid(k_f), F.logsigmoid(k_i)
        log_a = F.logsigmoid(log_f - log_i)  # log f' = log f - log(f + i) = log σ(log f - log i)
        log_b = F.logsigmoid(log_i - log_f) + log_g(k_h)  # log i' + log h̃
        return log_a, log_b
