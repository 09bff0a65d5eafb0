"""Inspection of one input as JSON: the numbers ``rnnkit inspect`` draws, through the same functions.

For one raw input (:meth:`Task.inspection_example`, the encoding ``predict`` uses) every recurrent layer
and direction gives each gate and state as a matrix, units × steps; for token classifiers the saliency,
for models with attention the attention rows (:mod:`rnnkit.inspect.inspection`).

A layer wider than ``max_units`` is summarised: the ``max_units`` units whose state (``c``, else ``h``)
varies most over the steps are shown, in index order, and ``summary`` says so.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from rnnkit.inspect.examples import Example
from rnnkit.inspect.inspection import attention_of, call_steps, front_end_pool, saliency_of, sequence_values
from rnnkit.inspect.recording import record
from rnnkit.tasks.base import Task

__all__ = ["choose_units", "inspect_input"]

DIGITS = 6  # values are rounded to 1e-6: well inside float32 noise of a recorded activation


def _rounded(matrix: Tensor) -> list[list[float]]:
    return [[round(float(v), DIGITS) for v in row] for row in matrix.tolist()]


def choose_units(values: dict[str, Tensor], max_units: int) -> tuple[list[int], str]:
    """The units to show of a layer's ``values`` (name -> ``(T, H)``) and a sentence saying which.

    Example:
        >>> h = torch.tensor([[0.0, 1.0, 0.0], [0.0, -1.0, 0.5]])
        >>> choose_units({"h": h}, 2)
        ([1, 2], 'the 2 of 3 units whose h varies most over the steps')
        >>> choose_units({"h": h}, 8)[1]
        'all 3 units'
    """
    state = values["c"] if "c" in values else values["h"]
    size = state.size(-1)
    if size <= max_units:
        return list(range(size)), f"all {size} units"
    spread = state.double().var(dim=0, unbiased=False) if state.size(0) > 1 else state.double().abs()[0]
    chosen = sorted(spread.topk(max_units).indices.tolist())
    name = "c" if "c" in values else "h"
    return chosen, f"the {max_units} of {size} units whose {name} varies most over the steps"


def inspect_input(task: Task, model: nn.Module, text: str, max_units: int) -> dict[str, Any]:
    """Gates, states, saliency and attention of ``model`` on one raw input, as JSON-able values.

    Raises:
        ValueError: the task takes no raw input to inspect, or this one is too short for it.
    """
    batch, tokens, note = task.inspection_example(model, text)
    example = Example("input", batch, tokens, note)
    model.eval()
    with torch.no_grad(), record(model, check=True) as recording:
        loss = float(task.compute_loss(model, batch))
    pool = front_end_pool(model)
    layers = []
    for call in recording.calls:
        if call.steps < 2:  # a decoder stepping token by token: nothing to see over time
            continue
        length, steps = call_steps(call, example, pool)
        for k, label in enumerate(call.labels):
            values = sequence_values(call, k, length)  # name -> (T, H)
            units, summary = choose_units(values, max_units)
            index = torch.tensor(units)
            layers.append(
                {
                    "call": call.name,
                    "label": label,
                    "reverse": call.reverse[k],
                    "steps": steps,
                    "size": next(iter(values.values())).size(-1),
                    "units": units,
                    "summary": summary,
                    "values": {name: _rounded(v[:, index].T) for name, v in values.items()},
                }
            )
    found = saliency_of(model, example)
    saliency = (
        None if found is None else {"tokens": found[0], "scores": [round(float(s), DIGITS) for s in found[1]]}
    )
    attention = attention_of(model, example, pool)
    if attention is not None:
        attention = {
            "rows": attention.rows,
            "columns": attention.columns,
            "weights": _rounded(attention.weights),
            "caption": attention.caption,
        }
    return {
        "input": text,
        "note": note,
        "loss": loss,
        "layers": layers,
        "saliency": saliency,
        "attention": attention,
    }
