"""Regularisers that wrap any cell: recurrent dropout, zoneout and weight drop.

Each wrapper is itself a cell (it follows the step protocol), so wrappers nest and any layer unrolls them.
All three are inactive in ``eval()`` mode and draw their randomness from torch's generator, so a fixed
``torch.manual_seed`` makes them deterministic.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from rnnkit.cells.base import Recurrence, RecurrentCell, State, check_probability


class CellWrapper(RecurrentCell):
    """A cell that delegates the whole step protocol to ``self.cell``; subclasses change one part."""

    def __init__(self, cell: RecurrentCell) -> None:
        super().__init__()
        if not isinstance(cell, RecurrentCell):
            raise TypeError(
                f"{type(self).__name__} wraps an rnnkit cell (RecurrentCell), got {type(cell).__name__}"
            )
        self.cell = cell
        self.input_size, self.hidden_size, self.gate_names = (
            cell.input_size,
            cell.hidden_size,
            cell.gate_names,
        )

    @property
    def output_size(self) -> int:
        return self.cell.output_size

    @property
    def state_sizes(self) -> tuple[int, ...]:
        return self.cell.state_sizes

    @property
    def is_identity(self) -> bool:
        """True when the wrapper changes nothing right now (then fast paths may look through it)."""
        return False

    def reset_parameters(self) -> None:
        self.cell.reset_parameters()

    def initial_state(self, batch_size: int, device=None, dtype=None) -> State:
        return self.cell.initial_state(batch_size, device, dtype)

    def project_input(self, x: Tensor) -> Tensor:
        return self.cell.project_input(x)

    def recurrence(self, batch_size: int) -> Recurrence | None:
        return self.cell.recurrence(batch_size)

    def step(self, xp_t: Tensor, state: State, rec: Recurrence | None) -> tuple[State, tuple[Tensor, ...]]:
        return self.cell.step(xp_t, state, rec)

    def _require_recurrence(self) -> None:
        if self.cell.recurrence(1) is None:
            raise TypeError(
                f"{type(self).__name__} acts on the recurrent weights, and {type(self.cell).__name__} "
                "has none (its gates depend on x_t only); use Zoneout or dropout on the inputs instead"
            )


def base_cell(cell: RecurrentCell) -> RecurrentCell:
    """The innermost cell under any number of wrappers."""
    while isinstance(cell, CellWrapper):
        cell = cell.cell
    return cell


class RecurrentDropout(CellWrapper):
    r"""Variational recurrent dropout (Gal & Ghahramani 2016): one mask per sequence on ``h_{t-1}``.

        m ~ Bernoulli(1 - p) / (1 - p),  drawn once per sequence, shape (B, H)
        the cell then computes W_hh (h_{t-1} ⊙ m) wherever it multiplies h_{t-1} by W_hh

    The carried state itself is not dropped (GRU's ``z ⊙ h_{t-1}`` term and the LSTM's ``c`` stay intact),
    which is what Gal & Ghahramani do and what keeps long memories trainable (Semeniuta et al. 2016).
    A plain call of the cell (one step) draws a fresh mask; a layer draws one per sequence.

    Example:
        >>> from rnnkit import LSTMCell
        >>> cell = RecurrentDropout(LSTMCell(8, 16), p=0.25)
        >>> cell(torch.randn(4, 8)).h.shape
        torch.Size([4, 16])
    """

    def __init__(self, cell: RecurrentCell, p: float = 0.0) -> None:
        super().__init__(cell)
        check_probability("RecurrentDropout: p", p)
        self._require_recurrence()
        self.p = p

    @property
    def is_identity(self) -> bool:
        return not self.training or self.p == 0.0

    def recurrence(self, batch_size: int) -> Recurrence:
        rec = self.cell.recurrence(batch_size)
        if self.is_identity:
            return rec
        ones = rec.weight.new_ones(batch_size, self.output_size)
        mask = F.dropout(ones, self.p, training=True)  # scaled by 1/(1-p), zeros when p == 1
        return rec._replace(h_mask=mask if rec.h_mask is None else rec.h_mask * mask)

    def extra_repr(self) -> str:
        return f"p={self.p}"


class WeightDrop(CellWrapper):
    r"""DropConnect on the recurrent weights (Wan et al. 2013; Merity et al. 2018, AWD-LSTM).

        W̃_hh = W_hh ⊙ M / (1 - p),  M ~ Bernoulli(1 - p), drawn once per sequence (per forward call)

    The same dropped matrix is used at every step, so the regularisation acts on the recurrence itself
    without disturbing the state from step to step.

    Example:
        >>> from rnnkit import GRUCell
        >>> WeightDrop(GRUCell(8, 16), p=0.5)(torch.randn(4, 8)).shape
        torch.Size([4, 16])
    """

    def __init__(self, cell: RecurrentCell, p: float = 0.0) -> None:
        super().__init__(cell)
        check_probability("WeightDrop: p", p)
        self._require_recurrence()
        self.p = p

    @property
    def is_identity(self) -> bool:
        return not self.training or self.p == 0.0

    def recurrence(self, batch_size: int) -> Recurrence:
        rec = self.cell.recurrence(batch_size)
        if self.is_identity:
            return rec
        return rec._replace(weight=F.dropout(rec.weight, self.p, training=True))

    def extra_repr(self) -> str:
        return f"p={self.p}"


class Zoneout(CellWrapper):
    r"""Zoneout (Krueger et al. 2017): each unit keeps its previous value with probability p.

        training:  d_t ~ Bernoulli(p) per unit and step;  h_t = d_t ⊙ h_{t-1} + (1 - d_t) ⊙ h̃_t
        eval:      h_t = p h_{t-1} + (1 - p) h̃_t          (the expectation, as in the paper)

    where ``h̃_t`` is the wrapped cell's new value. ``h`` and ``c`` (LSTM) have their own probabilities.

    Random stream: the reference loop draws ``d_t`` step by step with torch's ``bernoulli_``; rnnkit's fused
    CPU kernels draw it inside the kernel from a counter-based generator (Philox4x32-10) keyed by one seed
    taken from torch's generator, so both are reproducible under ``torch.manual_seed`` and have the same
    distribution, but the two paths draw different masks
    (:func:`rnnkit.fused.sequence.zoneout_keep_mask` gives the kernels' mask).

    Args:
        cell: any cell whose state is ``h`` or ``(h, c)``.
        h: zoneout probability of the hidden state.
        c: zoneout probability of the cell state (LSTM-like cells only).

    Example:
        >>> from rnnkit import LSTMCell
        >>> Zoneout(LSTMCell(8, 16), h=0.1, c=0.05)(torch.randn(4, 8)).c.shape
        torch.Size([4, 16])
    """

    def __init__(self, cell: RecurrentCell, h: float = 0.0, c: float = 0.0) -> None:
        super().__init__(cell)
        check_probability("Zoneout: h", h)
        check_probability("Zoneout: c", c)
        n_fields = len(cell.state_sizes)
        if n_fields > 2:
            raise TypeError(f"Zoneout needs a state h or (h, c), {type(cell).__name__} has {n_fields} fields")
        if c and n_fields == 1:
            raise ValueError(f"Zoneout: c={c} given but {type(cell).__name__} has no cell state c")
        self.h, self.c = h, c

    @property
    def is_identity(self) -> bool:
        return self.h == 0.0 and self.c == 0.0  # in eval zoneout still mixes in h_{t-1}

    def _zoneout(self, old: Tensor, new: Tensor, p: float) -> Tensor:
        if p == 0.0:
            return new
        if not self.training:
            return torch.lerp(new, old, p)  # p h_{t-1} + (1 - p) h̃_t
        keep_old = torch.empty_like(new).bernoulli_(p).bool()
        return torch.where(keep_old, old, new)

    def step(self, xp_t: Tensor, state: State, rec: Recurrence | None) -> tuple[State, tuple[Tensor, ...]]:
        new, gates = self.cell.step(xp_t, state, rec)
        if isinstance(new, Tensor):
            return self._zoneout(state, new, self.h), gates
        h = self._zoneout(state[0], new[0], self.h)
        c = self._zoneout(state[1], new[1], self.c)
        return type(new)(h, c), gates

    def extra_repr(self) -> str:
        return f"h={self.h}, c={self.c}"
