"""Record what happens inside every recurrent layer of a model while it runs, without changing its outputs.

Inside ``with record(model) as recording:`` every rnnkit sequence layer of ``model`` (an :class:`RNNBase`
such as ``rnnkit.LSTM``, or a :class:`Recurrent` / :class:`Bidirectional` / :class:`Stacked`) runs through
its own ``record()``, which returns the internals along with the outputs. Each call of a layer appends
one :class:`LayerCall` holding, per layer and direction, the per-step values

    gates   i f g o (LSTM), r z n (GRU), z h_tilde (minGRU), ...: the activations, each (B, T, H)
    states  h (and c for the LSTM): the state after step t, each (B, T, H)

in time order (a backward direction's values are put back in input order) and batch-first, whatever the
layer's ``batch_first``. Past a sequence's length every value is zero.

The model's outputs are unchanged: ``record()`` computes the same function as the layer's ``forward`` (to
float rounding; ``check=True`` verifies it on every call, and ``tests/inspect`` asserts it). With
``probe=True`` each step's state also gets a zero-valued *probe* added, ``s_t + p_t`` with ``p_t = 0`` (on
``h_t`` and, for an LSTM, on ``c_t``), so that ``∂L/∂p_t`` is the total derivative ``dL/ds_t`` (see
:mod:`rnnkit.inspect.gradient_flow`); the probes live in the cell's ``step``, so probed layers run rnnkit's
step-by-step reference loop (``Recurrent.impl = "reference"`` for the call).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass, field

import torch
from torch import Tensor, nn

from rnnkit.cells.base import RecurrentCell, State
from rnnkit.layers.bidirectional import Bidirectional
from rnnkit.layers.rnn_base import RNNBase
from rnnkit.layers.stacked import Stacked
from rnnkit.layers.unroll import Recurrent, SequenceLayer

__all__ = ["LayerCall", "Recording", "record", "recordable_layers", "unrolled_cells"]


@dataclass
class LayerCall:
    """One call of one recurrent layer of the model.

    Attributes:
        name: the layer's path in the model (``"rnn"``, ``"encoder"``), with ``#k`` from its second call on.
        labels: one per layer and direction, in torch's order: ``"layer 0"``, ``"layer 0 reverse"``, ...
        internals: per layer and direction, name -> ``(B, T, H)`` tensor (see the module docstring).
        lengths: ``(B,)`` valid lengths (None: all ``T`` steps valid).
        reverse: per layer and direction, whether it runs from the last valid step back to the first.
        probes: with ``probe=True``, per layer and direction and per step the zero tensors added to the
            state's fields (``(p_h,)`` or ``(p_h, p_c)``, each ``(B, size)``), in *processing* order
            (``s = 0`` is the first step the direction computes).
    """

    name: str
    labels: list[str]
    internals: list[dict[str, Tensor]]
    lengths: Tensor | None
    reverse: list[bool]
    probes: list[list[tuple[Tensor, ...]]] = field(default_factory=list)

    @property
    def steps(self) -> int:
        """T, the number of steps of this call."""
        return next(iter(self.internals[0].values())).size(1)

    @property
    def batch_size(self) -> int:
        return next(iter(self.internals[0].values())).size(0)

    def valid_lengths(self) -> Tensor:
        """``lengths``, or T for every sequence when the call had none: ``(B,)`` long on the CPU."""
        if self.lengths is None:
            return torch.full((self.batch_size,), self.steps, dtype=torch.long)
        return self.lengths.detach().long().cpu()


@dataclass
class Recording:
    """Every :class:`LayerCall` made inside one ``with record(model)`` block, in call order."""

    calls: list[LayerCall] = field(default_factory=list)

    def __getitem__(self, name: str) -> LayerCall:
        """The call named ``name`` (``"rnn"``, ``"decoder#2"``)."""
        for call in self.calls:
            if call.name == name:
                return call
        raise KeyError(f"no recorded call named {name!r} (recorded: {[c.name for c in self.calls]})")


def recordable_layers(model: nn.Module) -> list[tuple[str, nn.Module]]:
    """The outermost rnnkit sequence layers inside ``model`` (the model itself if it is one), by path.

    Example:
        >>> import rnnkit
        >>> model = nn.Sequential(rnnkit.GRU(3, 4))
        >>> [name for name, _ in recordable_layers(model)]
        ['0']
    """
    found: list[tuple[str, nn.Module]] = []
    for name, module in model.named_modules():  # parents come before their children
        inside = any(outer == "" or name.startswith(outer + ".") for outer, _ in found)
        if isinstance(module, (RNNBase, SequenceLayer)) and not inside:
            found.append((name, module))
    return found


def unrolled_cells(layer: nn.Module) -> list[tuple[str, Recurrent]]:
    """The :class:`Recurrent` layers of a sequence layer in torch's order, each with its label."""
    if isinstance(layer, RNNBase):
        directions = 2 if layer.bidirectional else 1
        return [
            (f"layer {k // directions}" + (" reverse" if k % directions else ""), r)
            for k, r in enumerate(layer.recurrent_layers())
        ]
    levels = list(layer.layers) if isinstance(layer, Stacked) else [layer]
    found = []
    for depth, level in enumerate(levels):
        parts = [level.forward_layer, level.backward_layer] if isinstance(level, Bidirectional) else [level]
        found += [(f"layer {depth}" + (" reverse" if r.reverse else ""), r) for r in parts]
    return found


def _probed_step(cell: RecurrentCell, probes: list[tuple[Tensor, ...]]):
    """``cell.step`` that adds fresh zero probes (requiring grad) to every field of the new state."""
    step = cell.step

    def probed(xp_t: Tensor, state: State, rec) -> tuple[State, tuple[Tensor, ...]]:
        new_state, gates = step(xp_t, state, rec)
        fields = [new_state] if isinstance(new_state, Tensor) else list(new_state)
        added = tuple(torch.zeros_like(f, requires_grad=True) for f in fields)
        probes.append(added)
        fields = [f + p for f, p in zip(fields, added)]  # the same values; ∂L/∂p is dL/ds_t
        if isinstance(new_state, Tensor):
            return fields[0], gates
        return type(new_state)(*fields), gates

    return probed


@contextlib.contextmanager
def record(model: nn.Module, probe: bool = False, check: bool = False) -> Iterator[Recording]:
    """Record every call of every rnnkit sequence layer of ``model`` made inside the ``with`` block.

    Args:
        model: any module holding rnnkit sequence layers (a model of :mod:`rnnkit.models`, a user's own,
            or a layer itself).
        probe: also add the zero probes of :attr:`LayerCall.probes` (for gradients; needs autograd on).
        check: also run each call the plain way (torch's fused kernel where it applies) and raise
            ``RuntimeError`` unless the recorded outputs and final states equal its (to float rounding;
            in eval mode: dropout makes two runs differ).

    Yields:
        the :class:`Recording`, filled as the layers run.

    Raises:
        ValueError: ``model`` holds no rnnkit sequence layer.

    Example:
        >>> import rnnkit
        >>> lstm = rnnkit.LSTM(3, 4, bidirectional=True, batch_first=True)
        >>> x = torch.randn(2, 5, 3)
        >>> with record(lstm) as recording:
        ...     out, _ = lstm(x, lengths=torch.tensor([5, 2]))
        >>> call = recording.calls[0]
        >>> call.name, call.labels, sorted(call.internals[1]), call.internals[1]["f"].shape
        ('', ['layer 0', 'layer 0 reverse'], ['c', 'f', 'g', 'h', 'i', 'o'], torch.Size([2, 5, 4]))
        >>> torch.allclose(out, lstm(x, lengths=torch.tensor([5, 2]))[0], atol=1e-6)
        True
    """
    layers = recordable_layers(model)
    if not layers:
        raise ValueError(f"record: {type(model).__name__} holds no rnnkit recurrent layer to record")
    recording = Recording()
    patched: list[tuple[nn.Module, str, object]] = []

    def patch(module: nn.Module, attribute: str, value: object) -> None:
        patched.append((module, attribute, module.__dict__.get(attribute)))
        module.__dict__[attribute] = value  # an instance attribute shadows the class's method

    for name, layer in layers:
        cells = unrolled_cells(layer)
        patch(layer, "forward", _recorded_forward(layer, name, cells, recording, probe, check))
    try:
        yield recording
    finally:
        for module, attribute, previous in reversed(patched):
            if previous is None:
                del module.__dict__[attribute]
            else:
                module.__dict__[attribute] = previous


def _recorded_forward(
    layer: nn.Module,
    name: str,
    cells: list[tuple[str, Recurrent]],
    recording: Recording,
    probe: bool,
    check: bool,
):
    def forward(input: Tensor, state=None, lengths: Tensor | None = None):
        probes: list[list[tuple[Tensor, ...]]] = [[] for _ in cells]
        saved: list[tuple[nn.Module, str, object]] = []
        if probe:
            for (_, recurrent), bucket in zip(cells, probes):
                # the probes live in the cell's step: the step-by-step loop must run, not a fused kernel
                saved.append((recurrent, "impl", recurrent.__dict__.get("impl")))
                recurrent.__dict__["impl"] = "reference"
                saved.append((recurrent.cell, "step", recurrent.cell.__dict__.get("step")))
                recurrent.cell.__dict__["step"] = _probed_step(recurrent.cell, bucket)
        try:
            output, final, internals = layer.record(input, state, lengths)
        finally:
            for module, attribute, previous in reversed(saved):
                if previous is None:
                    del module.__dict__[attribute]
                else:
                    module.__dict__[attribute] = previous
        if check:
            with torch.no_grad():
                _check_same(name, (output, final), type(layer).forward(layer, input, state, lengths))
        if not layer.batch_first:  # time-major (unbatched input too: (T, 1, H))
            internals = [{k: v.transpose(0, 1) for k, v in d.items()} for d in internals]
        taken = sum(c.name == name or c.name.startswith(name + "#") for c in recording.calls)
        recording.calls.append(
            LayerCall(
                name=name if taken == 0 else f"{name}#{taken + 1}",
                labels=[label for label, _ in cells],
                internals=internals,
                lengths=lengths,
                reverse=[r.reverse for _, r in cells],
                probes=probes if probe else [],
            )
        )
        return output, final

    return forward


def _check_same(name: str, recorded: object, plain: object) -> None:
    """Raise RuntimeError unless two (nested) results hold the same tensors, to float rounding."""
    got = _flatten(recorded)
    want = _flatten(plain)
    same = len(got) == len(want) and all(
        g.shape == w.shape and torch.allclose(g.detach(), w, *_tolerance(w)) for g, w in zip(got, want)
    )
    if not same:
        worst = max(
            ((g.detach() - w).abs().max().item() for g, w in zip(got, want) if g.shape == w.shape),
            default=None,
        )
        raise RuntimeError(
            f"record: recording changed the outputs of {name or 'the layer'!r} (largest difference {worst})"
        )


def _tolerance(value: Tensor) -> tuple[float, float]:
    """(rtol, atol) between the reference loop and the layer's own kernel for this device and dtype."""
    if value.dtype in (torch.float16, torch.bfloat16):
        return 2e-2, 2e-2
    if value.is_cuda and (torch.backends.cudnn.allow_tf32 or torch.backends.cuda.matmul.allow_tf32):
        return 5e-3, 5e-3  # cuDNN's RNN kernels multiply in TF32 (10-bit mantissa) by default
    return 1e-4, 1e-5


def _flatten(value: object) -> list[Tensor]:
    if isinstance(value, Tensor):
        return [value]
    if isinstance(value, (tuple, list)):
        return [t for part in value for t in _flatten(part)]
    return []
