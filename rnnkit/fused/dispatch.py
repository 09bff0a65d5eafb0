"""choose_path: the one place that decides which implementation runs a layer."""

from __future__ import annotations

from collections.abc import Iterable

from rnnkit.cells.base import RecurrentCell
from rnnkit.cells.gru import GRUCell
from rnnkit.cells.lstm import LSTMCell
from rnnkit.cells.regularizers import CellWrapper
from rnnkit.cells.rnn import RNNCell

IMPLS = ("auto", "reference", "native", "fused")

FUSED_BEATS_NATIVE_ON_CPU = frozenset({("GRU", True), ("GRU", False), ("RNN_TANH", True), ("RNN_RELU", True)})
"""(mode, training) of the plain layers that run faster on rnnkit's fused CPU kernel than on torch's
(measured by benchmarks/speed.py); torch's oneDNN kernel stays faster for the plain LSTM and for RNN
inference."""


def native_blockers(mode: str | None, cells: Iterable[RecurrentCell]) -> list[str]:
    """Why torch's fused kernel cannot compute this layer (empty: it can, exactly).

    A regulariser that computes the identity right now (dropout in ``eval()``, probability 0) is looked
    through, so an evaluated AWD-LSTM runs on the fused kernel.
    """
    if mode is None:
        return ["torch has no fused kernel for this cell type"]
    reasons: list[str] = []
    for cell in cells:
        while isinstance(cell, CellWrapper) and cell.is_identity:
            cell = cell.cell
        if type(cell) not in (RNNCell, LSTMCell, GRUCell):
            reason = f"{type(cell).__name__} is not a plain RNN/LSTM/GRU cell"
        elif isinstance(cell, LSTMCell) and (cell.peephole or cell.coupled):
            reason = "peephole or coupled gates are not in torch's LSTM kernel"
        elif isinstance(cell, GRUCell) and not cell.reset_after:
            reason = "torch's GRU kernel computes only the reset_after=True form"
        else:
            continue
        if reason not in reasons:
            reasons.append(reason)
    return reasons


def choose_path(
    impl: str,
    blockers: list[str],
    record: bool = False,
    fused_blockers: list[str] | None = None,
    prefer_fused: bool = False,
) -> str:
    """Resolve ``impl`` ("auto" | "reference" | "native" | "fused") to the path that runs.

    ``blockers``: why torch's kernel cannot compute the layer; ``fused_blockers``: why rnnkit's fused kernel
    cannot (None: not asked, treated as blocked); ``prefer_fused``: the fused kernel is the faster of the two
    here. "auto" takes torch's kernel when it is exact and faster, else the fused kernel when it can, else
    torch's kernel, else the reference loop. Recording the gates blocks torch's kernel only.

    Raises:
        ValueError: unknown ``impl``, or ``impl="native"`` / ``"fused"`` for a layer that kernel cannot run.

    Example:
        >>> choose_path("auto", [])
        'native'
        >>> choose_path("auto", [], fused_blockers=[], prefer_fused=True)
        'fused'
        >>> choose_path("auto", ["peephole gates are not in torch's kernel"], fused_blockers=[])
        'fused'
        >>> choose_path("auto", ["peephole or coupled gates are not in torch's LSTM kernel"])
        'reference'
    """
    fused_blockers = ["not asked"] if fused_blockers is None else fused_blockers
    if impl not in IMPLS:
        raise ValueError(f"impl must be one of {IMPLS}, got {impl!r}")
    if record:
        blockers = [*blockers, "recording the gates needs the step-by-step reference loop"]
    if impl == "native" and blockers:
        raise ValueError(
            "impl='native' cannot run this layer: "
            + "; ".join(blockers)
            + ". Use impl='auto' (it picks the reference path here) or impl='reference'."
        )
    if impl == "fused" and fused_blockers:
        raise ValueError(
            "impl='fused' cannot run this layer: "
            + "; ".join(fused_blockers)
            + ". Use impl='auto' (it picks the fastest exact path) or impl='reference'."
        )
    if impl != "auto":
        return impl
    if not blockers and not (prefer_fused and not fused_blockers):
        return "native"
    return "reference" if fused_blockers else "fused"


LOOP_IMPLS = ("auto", "reference", "fused")


def choose_loop(impl: str, blockers: list[str]) -> str:
    """How a single :class:`rnnkit.layers.unroll.Recurrent` runs: "fused" (rnnkit's C++ kernel) or
    "reference" (the step-by-step loop over the cell). ``blockers``: why the kernel cannot run it.

    Raises:
        ValueError: unknown ``impl``, or ``impl="fused"`` where the kernel cannot run.

    Example:
        >>> choose_loop("auto", [])
        'fused'
        >>> choose_loop("auto", ["MyCell has no fused kernel"])
        'reference'
    """
    if impl not in LOOP_IMPLS:
        raise ValueError(f"impl must be one of {LOOP_IMPLS}, got {impl!r}")
    if impl == "fused" and blockers:
        raise ValueError(
            "impl='fused' cannot run this layer: " + "; ".join(blockers) + ". Use impl='auto' or 'reference'."
        )
    if impl == "auto":
        return "reference" if blockers else "fused"
    return impl
