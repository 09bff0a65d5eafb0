"""One example in, every picture of it out: gates, cell states, gradient flow, saliency, attention.

:func:`inspect_example` is what ``rnnkit inspect`` and ``rnnkit report`` run for each example; the loss is
the task's own ``compute_loss`` (any task), so nothing here knows about a particular model beyond two
optional extras: saliency for token classifiers and attention for models that return attention weights.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from rnnkit.inspect.examples import Example, group_labels
from rnnkit.inspect.figures import FORMATS
from rnnkit.inspect.gradient_flow import gradient_flow
from rnnkit.inspect.plot_flow import plot_step_gradients
from rnnkit.inspect.plot_gates import plot_cell_trajectories, plot_gates
from rnnkit.inspect.plot_text import plot_attention, plot_saliency_text, saliency_html
from rnnkit.inspect.recording import LayerCall, record
from rnnkit.inspect.saliency import saliency, series_saliency

__all__ = [
    "Attention",
    "ExampleReport",
    "Picture",
    "attention_of",
    "call_steps",
    "front_end_pool",
    "inspect_example",
    "saliency_of",
    "sequence_values",
]

LossFn = Callable[[nn.Module, Any], Tensor]
MAX_PANELS = 4  # layers x directions drawn per call: a 2-layer bidirectional model has 4


@dataclass
class Picture:
    """One picture: a caption, its kind (``gates``, ``cells``, ``gradients``, ``jacobian``, ``saliency``,
    ``attention``) and the files (PNG first)."""

    caption: str
    kind: str
    files: list[Path]


@dataclass
class ExampleReport:
    """The pictures of one :class:`Example`, its loss and, for token classifiers, the saliency as HTML."""

    title: str
    note: str
    loss: float
    pictures: list[Picture] = field(default_factory=list)
    saliency_html: str = ""


def sequence_values(call: LayerCall, k: int, length: int) -> dict[str, Tensor]:
    """Gate activations and states of layer-and-direction ``k`` of a recorded call of a batch of one, each
    ``(T, H)`` for its ``length`` valid steps, on the CPU: the numbers the gate pictures draw."""
    return {name: values[0, :length].detach().cpu() for name, values in call.internals[k].items()}


def front_end_pool(model: nn.Module) -> int | None:
    """The pooling size of a model's convolutional front-end (it shortens the steps the RNN sees), or None."""
    return getattr(getattr(model, "conv", None), "pool_size", None)


def call_steps(call: LayerCall, example: Example, pool: int | None) -> tuple[int, list[str]]:
    """(valid steps, a label per step) of a recorded call of a batch of one: its tokens, joined in windows
    when a front-end pooled them (:func:`group_labels`)."""
    length = int(call.valid_lengths()[0])
    return length, group_labels(example.tokens.get(call.name.split("#")[0], []), length, pool)


def inspect_example(
    model: nn.Module,
    example: Example,
    loss_fn: LossFn,
    out_dir: str | os.PathLike,
    prefix: str = "example",
    formats: Sequence[str] = FORMATS,
    projections: int | None = 8,
) -> ExampleReport:
    """Record, measure and draw one example (a batch of one); pictures go to ``out_dir/<prefix>_*``.

    The model runs in eval mode. The recording is checked against the model's own outputs
    (``record(check=True)``): a difference raises ``RuntimeError``.

    Args:
        model: the trained model.
        example: from :mod:`rnnkit.inspect.examples`.
        loss_fn: ``(model, batch) -> loss`` (a task's ``compute_loss``).
        projections: Gaussian projections for ``‖∂h_T/∂s_t‖`` (None: exact).
    """
    out_dir = Path(out_dir)
    model.eval()
    with torch.no_grad(), record(model, check=True) as recording:
        loss = float(loss_fn(model, example.batch))
    flows = gradient_flow(model, example.batch, loss_fn, projections=projections)
    report = ExampleReport(example.title, example.note, loss)
    pool = front_end_pool(model)
    for call in recording.calls:
        if call.steps < 2:  # a decoder stepping token by token: nothing to see over time
            continue
        length, tokens = call_steps(call, example, pool)
        stem = f"{prefix}_{call.name.replace('.', '_').replace('#', '_')}"
        for k, label in enumerate(call.labels[:MAX_PANELS]):
            where = f"{call.name} {label}".strip()
            part = sequence_values(call, k, length)
            files = plot_gates(
                part, out_dir / f"{stem}_{k}_gates", tokens, f"{where}: gates", formats=formats
            )
            report.pictures.append(Picture(f"{where}: gate activations and hidden state", "gates", files))
            state = "cell state" if "c" in part else "hidden state"
            files = plot_cell_trajectories(
                part, out_dir / f"{stem}_{k}_cells", tokens, title=f"{where}: {state}", formats=formats
            )
            report.pictures.append(Picture(f"{where}: most active units over time", "cells", files))
        mine = [f for f in flows if f.call == call.name][:MAX_PANELS]
        if mine:
            grads = {f.label: f.loss_grad[0, :length] for f in mine}
            title = f"{call.name}: ‖dL/ds_t‖ per step"
            files = plot_step_gradients(grads, out_dir / f"{stem}_gradients", tokens, title, formats)
            report.pictures.append(
                Picture(
                    f"{call.name}: gradient of the loss w.r.t. each state s_t (h_t, and c_t for an LSTM)",
                    "gradients",
                    files,
                )
            )
            jac = {f.label: f.jacobian[0, :length] for f in mine if f.jacobian is not None}
            title = f"{call.name}: ‖∂h_T/∂s_t‖_F per step"
            files = plot_step_gradients(jac, out_dir / f"{stem}_jacobian", tokens, title, formats)
            report.pictures.append(
                Picture(
                    f"{call.name}: how much the state s_t still moves the last hidden state h_T",
                    "jacobian",
                    files,
                )
            )
    _saliency(model, example, out_dir, prefix, formats, report)
    _attention(model, example, out_dir, prefix, formats, report, pool)
    return report


def saliency_of(model: nn.Module, example: Example) -> tuple[list[str], Tensor] | None:
    """(tokens, gradient × input per token) of a classifier's predicted class for a batch of one (per step
    of a series classifier, on its values): what ``rnnkit inspect`` draws and the server's inspect answers;
    None for any other model or batch."""
    batch = example.batch
    if "inputs" not in batch or batch.get("targets") is None or batch["targets"].dim() != 1:
        return None
    if batch["inputs"].is_floating_point():  # a series classifier: gradient × input on the values
        if getattr(model, "embedding", None) is not None or batch["inputs"].dim() != 3:
            return None
        result = series_saliency(model, batch["inputs"], batch.get("lengths"))
    elif getattr(model, "embedding", None) is None:
        return None
    else:
        result = saliency(model, batch["inputs"], batch.get("lengths"), chars=batch.get("chars"))
    tokens = example.tokens.get("rnn") or [str(t) for t in range(batch["inputs"].size(1))]
    scores = result.scores[0, : len(tokens)]
    if len(tokens) != len(scores):
        return None
    return tokens, scores


def _saliency(
    model: nn.Module,
    example: Example,
    out_dir: Path,
    prefix: str,
    formats: Sequence[str],
    report: ExampleReport,
) -> None:
    """Gradient × input for a classifier returning ``(B, K)`` logits (of tokens or of series steps)."""
    found = saliency_of(model, example)
    if found is None:
        return
    tokens, scores = found
    files = plot_saliency_text(tokens, scores, out_dir / f"{prefix}_saliency", formats=formats)
    report.pictures.append(
        Picture("saliency of the predicted class (gradient × input per token)", "saliency", files)
    )
    report.saliency_html = saliency_html(tokens, scores)


@dataclass
class Attention:
    """The attention of a batch of one: ``weights`` ``(rows, columns)``, one row per output step (per target
    token of a seq2seq model; one row, ``"pooling"``, for a classifier's attention pooling), with the labels
    of the rows and columns where they fit (None otherwise)."""

    weights: Tensor
    rows: list[str] | None
    columns: list[str] | None
    caption: str


@torch.no_grad()
def attention_of(model: nn.Module, example: Example, pool: int | None = None) -> Attention | None:
    """The alignment matrix of a seq2seq model, or the attention pooling weights of a classifier (``pool``:
    the front-end's pooling size, to label pooled steps); None for a model without attention."""
    batch = example.batch
    if "src" in batch and "tgt_in" in batch:
        _, weights = model(batch["src"], batch.get("src_lengths"), batch["tgt_in"], batch.get("tgt_lengths"))
        source = example.tokens.get("encoder")
        target = example.tokens.get("decoder")
        target = None if target is None else [*target[1:], "</s>"]  # row t predicts tgt_out[t]
        caption = "attention: which source tokens each output token reads"
    elif getattr(model, "attention", None) is not None and hasattr(model, "encode") and "inputs" in batch:
        chars = {"chars": batch["chars"]} if "chars" in batch else {}
        _, pooled = model.encode(batch["inputs"], batch.get("lengths"), **chars)
        if pooled is None:
            return None
        weights = pooled.unsqueeze(1)  # (B, 1, T')
        source = group_labels(example.tokens.get("rnn", []), weights.size(-1), pool)
        target, caption = ["pooling"], "attention pooling: the weight of each step in the sequence vector"
    else:
        return None
    matrix = weights[0].detach().cpu()
    if source is not None and len(source) != matrix.size(1):
        source = None
    if target is not None and len(target) != matrix.size(0):
        target = None
    return Attention(matrix, target, source, caption)


def _attention(
    model: nn.Module,
    example: Example,
    out_dir: Path,
    prefix: str,
    formats: Sequence[str],
    report: ExampleReport,
    pool: int | None,
) -> None:
    """The alignment matrix of a seq2seq model, or the attention pooling weights of a classifier."""
    found = attention_of(model, example, pool)
    if found is None:
        return
    files = plot_attention(
        found.weights, out_dir / f"{prefix}_attention", found.columns, found.rows, "attention", formats
    )
    report.pictures.append(Picture(found.caption, "attention", files))
