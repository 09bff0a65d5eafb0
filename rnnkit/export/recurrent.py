"""Recurrent layers in ONNX: each unrolled cell becomes one ``Scan`` whose body is rnnkit's own step.

torch.onnx's tracer unrolls a Python loop into T copies of the step, so the time axis would be fixed at
export. Here, while a model is traced (:func:`scan_recurrent_layers`), every :class:`~rnnkit.layers.unroll.
Recurrent` runs the input projection, the valid-prefix reversal and the output mask as usual (traced with a
dynamic T), and hands the loop to a placeholder op. :func:`splice_scans` then replaces each placeholder by
an ONNX ``Scan`` over time whose body is the cell's ``step`` traced alone, followed by the same masking as
the reference loop (``where(valid_t, new, old)``: past its length a sequence keeps its last valid state).
So any cell that follows the step protocol exports, the regularisers in their eval form included, and
variable lengths inside a batch are exact.
"""

from __future__ import annotations

import contextlib
import io
from collections.abc import Iterator

import onnx
import torch
from onnx import helper
from torch import Tensor, nn

from rnnkit.cells.base import LSTMState, RecurrentCell, hidden_of, map_state
from rnnkit.layers.masking import lengths_to_mask, reverse_padded
from rnnkit.layers.rnn_base import RNNBase
from rnnkit.layers.unroll import Recurrent

DOMAIN = "rnnkit.export"
PLACEHOLDER = "ScanPlaceholder"


class _Step(nn.Module):
    """One masked step of ``cell``: ``(*state, xp_t (B, G), valid_t (B, 1) bool) -> (*state', h_t)``."""

    def __init__(self, cell: RecurrentCell, state_type: type | None) -> None:
        super().__init__()
        self.cell, self.state_type = cell, state_type

    def forward(self, *args: Tensor) -> tuple[Tensor, ...]:
        *fields, xp_t, valid = args
        state = fields[0] if self.state_type is None else self.state_type(*fields)
        new, _ = self.cell.step(xp_t, state, self.cell.recurrence(xp_t.size(0)))
        new = map_state(lambda n, o: torch.where(valid, n, o), new, state)
        new_fields = [new] if isinstance(new, Tensor) else list(new)
        return (*new_fields, hidden_of(new) + 0.0)  # + 0: a separate output, not the state's alias


class _ScanOp(torch.autograd.Function):
    """Runs the reference loop (so tracing goes on with true values); exports as a placeholder node."""

    @staticmethod
    def forward(ctx, layer_id: int, *args: Tensor) -> tuple[Tensor, ...]:  # type: ignore[override]
        step = _ACTIVE[-1].steps[layer_id][0]
        *fields, xp, valid = args
        tracing = torch._C._get_tracing_state()
        torch._C._set_tracing_state(None)  # the loop is the placeholder's: untraced (it reads the weights)
        try:
            outputs = []
            for xp_t, valid_t in zip(xp.unbind(0), valid.unbind(0)):
                *fields, h = step(*fields, xp_t, valid_t)
                outputs.append(h)
            return (*fields, torch.stack(outputs))
        finally:
            torch._C._set_tracing_state(tracing)

    @staticmethod
    def symbolic(g, layer_id: int, *args):  # type: ignore[no-untyped-def]
        return g.op(f"{DOMAIN}::{PLACEHOLDER}", *args, layer_id_i=layer_id, outputs=len(args) - 1)


class _Tracing:
    """The steps of the recurrent layers met while one model is traced, by placeholder id."""

    def __init__(self) -> None:
        self.steps: list[tuple[_Step, list[int]]] = []  # (step, state sizes)

    def unroll(self, layer: Recurrent, x: Tensor, states, lengths: Tensor | None, record: bool = False):
        steps, batch_size = x.shape[:2]
        if states is None:
            state = layer.initial_state(batch_size, x.device, x.dtype)
        else:
            state = layer.cell.check_state(states[0], batch_size)
        if layer.reverse:
            x = reverse_padded(x, lengths)
        if lengths is None:
            valid = torch.ones_like(x[..., :1], dtype=torch.bool)  # (T, B, 1)
        else:
            valid = lengths_to_mask(lengths, steps, x.device).unsqueeze(-1)
        xp = layer.cell.project_input(x)  # (T, B, G)
        state_type = None if isinstance(state, Tensor) else type(state)
        fields = [state] if state_type is None else list(state)
        step = _Step(layer.cell, state_type)
        layer_id = len(self.steps)
        self.steps.append((step, [f.size(-1) for f in fields]))
        *final, output = _ScanOp.apply(layer_id, *fields, xp, valid)
        output = output * valid
        if layer.reverse:
            output = reverse_padded(output, lengths)
        new_state = final[0] if state_type is None else state_type(*final)
        return output, [new_state], [None]


_ACTIVE: list[_Tracing] = []  # the tracing in progress (the placeholder's forward finds its step there)


@contextlib.contextmanager
def scan_recurrent_layers(model: nn.Module) -> Iterator[_Tracing]:
    """While tracing ``model`` for ONNX, run its recurrent layers through the loop placeholders.

    Every :class:`RNNBase` is set to the reference path (torch's and rnnkit's fused kernels do not export)
    and restored afterwards.
    """
    tracing = _Tracing()
    _ACTIVE.append(tracing)
    layers = [m for m in model.modules() if isinstance(m, RNNBase)]
    saved = [layer.impl for layer in layers]
    original = Recurrent.unroll
    for layer in layers:
        layer.impl = "reference"
    Recurrent.unroll = lambda self, x, states, lengths, record=False: tracing.unroll(  # type: ignore[method-assign]
        self, x, states, lengths, record
    )
    try:
        yield tracing
    finally:
        Recurrent.unroll = original  # type: ignore[method-assign]
        _ACTIVE.remove(tracing)
        for layer, impl in zip(layers, saved):
            layer.impl = impl


def step_graph(step: _Step, sizes: list[int], input_size: int, opset: int, name: str) -> onnx.GraphProto:
    """The ONNX graph of one masked step, with a dynamic batch axis: the body of a ``Scan``."""
    batch = 2
    fields = [torch.zeros(batch, size) for size in sizes]
    example = (*fields, torch.zeros(batch, input_size), torch.ones(batch, 1, dtype=torch.bool))
    inputs = [f"{name}_s{k}" for k in range(len(sizes))] + [f"{name}_xp", f"{name}_valid"]
    outputs = [f"{name}_s{k}_out" for k in range(len(sizes))] + [f"{name}_h"]
    buffer = io.BytesIO()
    with torch.no_grad():
        torch.onnx.export(step, example, buffer, dynamo=False, opset_version=opset, input_names=inputs,
                          output_names=outputs, dynamic_axes={n: {0: "B"} for n in inputs + outputs},
                          do_constant_folding=True)  # fmt: skip
    graph = onnx.load_from_string(buffer.getvalue()).graph
    graph.name = name
    for node in graph.node:  # names unique across the whole model: bodies share one namespace with it
        node.name = f"{name}/{node.name}"
    _prefix_values(graph, name, keep=set(inputs + outputs))
    return graph


def _prefix_values(graph: onnx.GraphProto, prefix: str, keep: set[str]) -> None:
    """Rename the body's inner values and initialisers so that two bodies never share a name."""
    rename = {}
    for node in graph.node:
        for value in node.output:
            if value not in keep:
                rename[value] = f"{prefix}/{value}"
    for init in graph.initializer:
        rename[init.name] = f"{prefix}/{init.name}"
        init.name = rename[init.name]
    for node in graph.node:
        node.input[:] = [rename.get(v, v) for v in node.input]
        node.output[:] = [rename.get(v, v) for v in node.output]
    for info in graph.value_info:
        info.name = rename.get(info.name, info.name)


def splice_scans(model: onnx.ModelProto, tracing: _Tracing, opset: int) -> onnx.ModelProto:
    """Replace each placeholder of ``tracing`` in ``model`` by a ``Scan`` over its traced step."""
    graph = model.graph
    nodes = list(graph.node)
    del graph.node[:]
    for node in nodes:
        if node.domain != DOMAIN:
            graph.node.append(node)
            continue
        layer_id = next(a.i for a in node.attribute if a.name == "layer_id")
        step, sizes = tracing.steps[layer_id]
        xp_size = _input_width(step)
        body = step_graph(step, sizes, xp_size, opset, f"scan{layer_id}")
        scan = helper.make_node("Scan", list(node.input), list(node.output), name=f"scan{layer_id}",
                                body=body, num_scan_inputs=2)  # fmt: skip
        graph.node.append(scan)
    kept = [o for o in model.opset_import if o.domain != DOMAIN]
    del model.opset_import[:]
    model.opset_import.extend(kept)
    return model


def _input_width(step: _Step) -> int:
    """G, the width of the cell's projected input ``xp_t``."""
    with torch.no_grad():
        return int(step.cell.project_input(torch.zeros(1, step.cell.input_size)).size(-1))


__all__ = ["LSTMState", "scan_recurrent_layers", "splice_scans"]
