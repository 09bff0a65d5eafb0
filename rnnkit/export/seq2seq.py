"""Autoregressive models as separate ONNX graphs, so that decoding runs in ONNX Runtime one step at a time.

A :class:`~rnnkit.models.seq2seq.Seq2Seq` becomes ``encoder.onnx`` (the source once) and ``decoder_step.onnx``
(one target token, attention included); a :class:`~rnnkit.models.generator.SequenceGenerator` becomes
``prompt.onnx`` (the whole prompt, conditioning included) and ``decoder_step.onnx``. Each folder also gets
``decoding.json``, the special ids the search needs. :mod:`rnnkit.export.ort_decoding` drives the graphs with
greedy, beam and sampled decoding in NumPy.

Graph contract (every array is batch-first, so a beam reorders all of them with ``array[index]``):

* a recurrent state part is ``state_<part>`` ``(N, L, H)``: ``h`` (and ``c`` for an LSTM; ``(N, L, P)`` for
  ``h`` with ``proj_size``), float32; the decoder step also carries ``feed`` ``(N, Hd)`` under input feeding;
* ``decoder_step.onnx`` takes ``tokens`` ``(N,)`` int64, then every state input, then the inputs that do not
  change while decoding (``memory (N, S, Hk)``, ``keys (N, S, A)``, ``src_lengths (N,)`` int64 for Seq2Seq,
  ``condition_vector (N, C + E)`` for a generator conditioned at every step); it returns ``logits (N, V)``
  and ``next_<name>`` for each state input ``<name>``;
* ``encoder.onnx``: ``src (B, S)`` int64, ``src_lengths (B,)`` int64 in ``[1, S]`` -> the step's state and
  constant inputs (``state_*``, ``feed``, ``memory``, ``keys``); the ``src_lengths`` are the caller's own;
* ``prompt.onnx``: ``tokens (B, T)`` int64, ``lengths (B,)`` int64, ``condition (B, C)`` float32 and
  ``labels (B,)`` int64 when the model is conditioned -> ``logits (B, V)`` after each prompt's last valid
  token, the ``state_*`` after it, and ``condition_vector`` (fed at every step) when the model has one.

Batch, source length and prompt length are dynamic axes; the recurrent layers are ONNX ``Scan`` loops
(:mod:`rnnkit.export.recurrent`), so padded steps are masked exactly as in rnnkit.
"""

from __future__ import annotations

import copy
import io
import json
from pathlib import Path
from typing import Any

import onnx
import torch
from torch import Tensor, nn

from rnnkit.export.ort_decoding import DECODING_FILE, FORMAT_VERSION
from rnnkit.export.recurrent import scan_recurrent_layers, splice_scans
from rnnkit.layers.rnn_base import RNNBase
from rnnkit.models.generator import GeneratorState, SequenceGenerator
from rnnkit.models.seq2seq import DecoderState, Seq2Seq


def state_part_names(layer: RNNBase) -> list[str]:
    """The names of the state inputs of one recurrent layer: ``["state_h"]`` or ``["state_h", "state_c"]``."""
    parts = len(layer.recurrent_layers()[0].cell.state_sizes)
    return ["state_h", "state_c"][:parts]


def _to_parts(hx: Any) -> tuple[Tensor, ...]:
    """A torch-layout state ``(L, B, H)`` or ``(h, c)`` as batch-first parts ``(B, L, H)``."""
    parts = tuple(hx) if isinstance(hx, (tuple, list)) else (hx,)
    return tuple(p.transpose(0, 1) for p in parts)


def _from_parts(parts: tuple[Tensor, ...]) -> Any:
    """Batch-first parts ``(B, L, H)`` back in torch's layout ``(L, B, H)`` (a pair for an LSTM)."""
    hx = tuple(p.transpose(0, 1) for p in parts)
    return hx if len(hx) > 1 else hx[0]


def _initial_hidden(layer: RNNBase, like: Tensor) -> Any:
    """The state a layer starts from when given none (zeros, or its learned initial state), torch layout."""
    states = [r.initial_state(like.size(0), like.device, like.dtype) for r in layer.recurrent_layers()]
    if isinstance(states[0], Tensor):
        return torch.stack(states)
    return tuple(torch.stack([s[k] for s in states]) for k in range(len(states[0])))


class _Seq2SeqEncoder(nn.Module):
    """``(src, src_lengths) -> (*state parts, [feed], memory, keys)``: :meth:`Seq2Seq.encode`, batch-first."""

    def __init__(self, model: Seq2Seq) -> None:
        super().__init__()
        self.model = model

    def forward(self, src: Tensor, src_lengths: Tensor) -> tuple[Tensor, ...]:
        state = self.model.encode(src, src_lengths)
        hidden = _initial_hidden(self.model.decoder, state.memory) if state.hidden is None else state.hidden
        feed = () if state.feed is None else (state.feed,)
        return (*_to_parts(hidden), *feed, state.memory, state.keys)


class _Seq2SeqStep(nn.Module):
    """``(tokens, *state parts, [feed], memory, keys, src_lengths) -> (logits, *next parts, [next feed])``."""

    def __init__(self, model: Seq2Seq, parts: int) -> None:
        super().__init__()
        self.model, self.parts = model, parts

    def forward(self, tokens: Tensor, *inputs: Tensor) -> tuple[Tensor, ...]:
        *recurrent, memory, keys, src_lengths = inputs
        feed = recurrent[self.parts] if self.model.config.input_feeding else None
        state = DecoderState(_from_parts(tuple(recurrent[: self.parts])), feed, memory, keys, src_lengths)
        logits, state = self.model.step(tokens, state)
        new_feed = () if state.feed is None else (state.feed,)
        return (logits, *_to_parts(state.hidden), *new_feed)


class _GeneratorPrompt(nn.Module):
    """``(tokens, lengths, [condition], [labels]) -> (last logits, *state parts, [condition vector])``."""

    def __init__(self, model: SequenceGenerator) -> None:
        super().__init__()
        self.model = model
        self.has_condition = model.config.condition_size is not None
        self.has_labels = model.config.num_classes is not None

    def forward(self, tokens: Tensor, lengths: Tensor, *conditioning: Tensor) -> tuple[Tensor, ...]:
        condition = conditioning[0] if self.has_condition else None
        labels = conditioning[-1] if self.has_labels else None
        logits, state = self.model(tokens, lengths, condition, labels)  # (B, T, V)
        last = (lengths - 1).view(-1, 1, 1).expand(-1, 1, logits.size(-1))
        vector = () if state.condition is None else (state.condition,)
        return (logits.gather(1, last).squeeze(1), *_to_parts(state.hx), *vector)


class _GeneratorStep(nn.Module):
    """``(tokens, *state parts, [condition vector]) -> (logits, *next state parts)``."""

    def __init__(self, model: SequenceGenerator, parts: int) -> None:
        super().__init__()
        self.model, self.parts = model, parts

    def forward(self, tokens: Tensor, *inputs: Tensor) -> tuple[Tensor, ...]:
        condition = inputs[self.parts] if len(inputs) > self.parts else None
        state = GeneratorState(_from_parts(tuple(inputs[: self.parts])), condition)
        logits, state = self.model.step(tokens, state)
        return (logits, *_to_parts(state.hx))


def _export_graph(
    module: nn.Module,
    example: tuple[Tensor, ...],
    path: Path,
    inputs: list[str],
    outputs: list[str],
    dynamic: dict[str, dict[int, str]],
    opset: int,
) -> Path:
    """Trace ``module`` with its recurrent layers as ``Scan`` loops, check the graph, write it to ``path``."""
    buffer = io.BytesIO()
    with scan_recurrent_layers(module) as tracing, torch.no_grad():
        torch.onnx.export(module, example, buffer, dynamo=False, opset_version=opset, input_names=inputs,
                          output_names=outputs, dynamic_axes=dynamic, do_constant_folding=True)  # fmt: skip
    graph = splice_scans(onnx.load_from_string(buffer.getvalue()), tracing, opset)
    onnx.checker.check_model(graph)
    onnx.save(graph, str(path))
    return path


def _write_decoding(out_dir: Path, kind: str, config: Any, **sizes: int | None) -> Path:
    """``decoding.json``: what the searches of :mod:`rnnkit.export.ort_decoding` need beside the graphs."""
    specials = {"bos_id": config.bos_id, "eos_id": config.eos_id, "pad_id": config.pad_id}
    info = {"format": FORMAT_VERSION, "model": kind, **sizes, **specials}
    path = out_dir / DECODING_FILE
    path.write_text(json.dumps(info, indent=2) + "\n", encoding="utf-8")
    return path


def _prepare(model: nn.Module, kind: type, out_dir: Path, opset: int) -> tuple[Any, Path]:
    """Check the arguments; return the model to trace (a CPU copy of one elsewhere) and the created folder."""
    if not isinstance(model, kind):
        raise TypeError(f"expected a {kind.__name__}, got {type(model).__name__}")
    if isinstance(opset, bool) or not isinstance(opset, int) or opset < 14:
        raise ValueError(f"opset must be an int >= 14, got {opset!r}")
    if any(p.device.type != "cpu" for p in model.parameters()):
        model = copy.deepcopy(model).cpu()  # the graphs are traced with CPU examples
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    return model, out_dir


def export_seq2seq(model: Seq2Seq, out_dir: Path, opset: int = 17) -> dict[str, Path]:
    """Write ``encoder.onnx``, ``decoder_step.onnx`` and ``decoding.json`` of ``model`` into ``out_dir``.

    The graphs follow the contract of this module's docstring; the model is exported in eval mode (its mode
    is restored after; a model on another device is copied to the CPU). ``out_dir`` is created if needed.
    Returns ``{"encoder": ..., "decoder_step": ..., "decoding": ...}``, the paths written.
    """
    model, out_dir = _prepare(model, Seq2Seq, out_dir, opset)
    c, was_training = model.config, model.training
    model.eval()
    try:
        parts = state_part_names(model.decoder)
        recurrent = parts + (["feed"] if c.input_feeding else [])
        constant = ["memory", "keys", "src_lengths"]
        batch, steps = 3, 7
        src = torch.randint(0, c.src_vocab_size, (batch, steps))
        src_lengths = torch.tensor([steps, 2, 5])
        encoder = _Seq2SeqEncoder(model)
        with torch.no_grad():
            encoded = encoder(src, src_lengths)
        by_batch = {0: "N"}
        encoder_path = _export_graph(
            encoder, (src, src_lengths), out_dir / "encoder.onnx", ["src", "src_lengths"],
            recurrent + constant[:2],
            {"src": {0: "N", 1: "S"}, "src_lengths": by_batch, **{n: by_batch for n in recurrent},
             "memory": {0: "N", 1: "S"}, "keys": {0: "N", 1: "S"}}, opset,
        )  # fmt: skip
        tokens = torch.full((batch,), c.bos_id, dtype=torch.long)
        step_inputs = ["tokens", *recurrent, *constant]
        step_outputs = ["logits", *(f"next_{n}" for n in recurrent)]
        dynamic = {n: by_batch for n in ["tokens", *recurrent, "src_lengths", *step_outputs]}
        dynamic.update(memory={0: "N", 1: "S"}, keys={0: "N", 1: "S"})
        step_path = _export_graph(
            _Seq2SeqStep(model, len(parts)), (tokens, *encoded, src_lengths), out_dir / "decoder_step.onnx",
            step_inputs, step_outputs, dynamic, opset,
        )  # fmt: skip
    finally:
        model.train(was_training)
    decoding = _write_decoding(
        out_dir, "seq2seq", c, vocab_size=c.tgt_vocab_size, src_vocab_size=c.src_vocab_size
    )
    return {"encoder": encoder_path, "decoder_step": step_path, "decoding": decoding}


def export_generator(model: SequenceGenerator, out_dir: Path, opset: int = 17) -> dict[str, Path]:
    """Write ``prompt.onnx``, ``decoder_step.onnx`` and ``decoding.json`` of ``model`` into ``out_dir``.

    The graphs follow the contract of this module's docstring; the model is exported in eval mode (its mode
    is restored after; a model on another device is copied to the CPU). ``out_dir`` is created if needed.
    Returns ``{"prompt": ..., "decoder_step": ..., "decoding": ...}``, the paths written.
    """
    model, out_dir = _prepare(model, SequenceGenerator, out_dir, opset)
    c, was_training = model.config, model.training
    model.eval()
    try:
        parts = state_part_names(model.rnn)
        batch, steps = 3, 6
        tokens = torch.randint(0, c.vocab_size, (batch, steps))
        lengths = torch.tensor([steps, 2, 4])
        conditioning, names = [], []
        if c.condition_size is not None:
            conditioning.append(torch.randn(batch, c.condition_size))
            names.append("condition")
        if c.num_classes is not None:
            conditioning.append(torch.arange(batch) % c.num_classes)
            names.append("labels")
        vector = ["condition_vector"] if c.state_condition_size and c.condition_mode == "every_step" else []
        prompt = _GeneratorPrompt(model)
        with torch.no_grad():
            prompted = prompt(tokens, lengths, *conditioning)
        by_batch = {0: "N"}
        prompt_outputs = ["logits", *parts, *vector]
        prompt_path = _export_graph(
            prompt, (tokens, lengths, *conditioning), out_dir / "prompt.onnx",
            ["tokens", "lengths", *names], prompt_outputs,
            {"tokens": {0: "N", 1: "T"}, **{n: by_batch for n in ["lengths", *names, *prompt_outputs]}},
            opset,
        )  # fmt: skip
        step_inputs = ["tokens", *parts, *vector]
        step_outputs = ["logits", *(f"next_{n}" for n in parts)]
        step_path = _export_graph(
            _GeneratorStep(model, len(parts)), (tokens[:, 0], *prompted[1:]), out_dir / "decoder_step.onnx",
            step_inputs, step_outputs, {n: by_batch for n in step_inputs + step_outputs}, opset,
        )  # fmt: skip
    finally:
        model.train(was_training)
    decoding = _write_decoding(
        out_dir, "generator", c, vocab_size=c.vocab_size, condition_size=c.condition_size,
        num_classes=c.num_classes,
    )  # fmt: skip
    return {"prompt": prompt_path, "decoder_step": step_path, "decoding": decoding}


__all__ = ["DECODING_FILE", "export_generator", "export_seq2seq", "state_part_names"]
