"""FusedPlan: what a cell (with its wrappers) asks of a fused kernel, or why no kernel can run it."""

from __future__ import annotations

from typing import NamedTuple

import torch

from rnnkit.cells.base import RecurrentCell
from rnnkit.cells.gru import GRUCell
from rnnkit.cells.layer_norm import LayerNormGRUCell, LayerNormLSTMCell
from rnnkit.cells.lstm import LSTMCell
from rnnkit.cells.regularizers import CellWrapper, RecurrentDropout, WeightDrop, Zoneout
from rnnkit.cells.rnn import RNNCell
from rnnkit.fused import extension

FAMILIES = {
    LSTMCell: "lstm",
    LayerNormLSTMCell: "lstm",
    GRUCell: "gru",
    LayerNormGRUCell: "gru",
    RNNCell: "rnn",
}


class FusedPlan(NamedTuple):
    """A cell the fused kernels can run: its family, the base cell, and the zoneout probabilities."""

    family: str  # "lstm" | "gru" | "rnn"
    cell: RecurrentCell  # the innermost cell
    zoneout: Zoneout | None


def plan_or_blockers(cell: RecurrentCell) -> FusedPlan | list[str]:
    """Analyse ``cell`` and its wrappers: a plan for the fused kernels, or the reasons they cannot run it.

    Example:
        >>> plan_or_blockers(LSTMCell(4, 8)).family
        'lstm'
        >>> plan_or_blockers(LSTMCell(4, 8, proj_size=2))
        ['LSTMCell with proj_size has no fused kernel']
    """
    reasons: list[str] = []
    zoneouts = []
    while isinstance(cell, CellWrapper):
        if isinstance(cell, Zoneout):
            zoneouts.append(cell)
        elif type(cell) not in (RecurrentDropout, WeightDrop):
            reasons.append(f"wrapper {type(cell).__name__} has no fused kernel")
        cell = cell.cell
    if len(zoneouts) > 1:
        reasons.append("more than one Zoneout wrapper")
    family = FAMILIES.get(type(cell))
    name = type(cell).__name__
    if family is None:
        reasons.append(f"{name} has no fused kernel (a user's own cell runs the reference loop)")
    elif family == "lstm" and cell.proj_size:
        reasons.append(f"{name} with proj_size has no fused kernel")
    elif family == "lstm" and cell.coupled:
        reasons.append(f"{name} with coupled gates has no fused kernel")
    elif family == "gru" and not cell.reset_after:
        reasons.append(f"{name} with reset_after=False has no fused kernel")
    elif isinstance(cell, LayerNormLSTMCell) and cell.ln_hh.eps != cell.ln_c.eps:
        reasons.append(f"{name}: its two layer norms have different eps")
    if reasons:
        return reasons
    return FusedPlan(family, cell, zoneouts[0] if zoneouts else None)


def runtime_blockers(x: torch.Tensor) -> list[str]:
    """Why the kernels cannot run on this input right now (device, dtype, extension)."""
    reasons = []
    if x.device.type != "cpu":
        reasons.append(f"the fused kernels run on CPU; input is on {x.device.type} (cuDNN runs plain layers)")
    if x.dtype not in (torch.float32, torch.float64):
        reasons.append(f"the fused kernels run float32/float64, not {x.dtype}")
    elif torch.is_autocast_enabled(x.device.type):
        reasons.append("autocast is on and the fused kernels run float32/float64 only")
    if not reasons and extension.load() is None:
        reasons.append(
            f"the C++ extension is unavailable ({extension.disabled_reason() or 'its build failed'})"
        )
    return reasons
