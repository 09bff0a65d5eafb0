"""The test metrics of a decoding task's exported graphs (``export_test_metrics`` of its manifest), measured
in ONNX Runtime on the run's test split as the run's report measures them, for each precision written
(float32, and int8 with ``--quantize int8``):

* translation: ``test_loss`` / ``test_perplexity`` (teacher-forced: ``encoder.onnx``, then
  ``decoder_step.onnx`` on each reference token) and ``test_bleu_greedy`` / ``test_chrf_greedy`` (greedy
  decoding of every test source, scored as the run scores it);
* language model: ``test_loss`` / ``test_perplexity`` (``test_bpc`` for characters) over the run's test
  streams, the state carried over the whole stream (``prompt.onnx`` on its first token, then
  ``decoder_step.onnx`` per token);
* generation: ``test_loss`` / ``test_perplexity`` of the test texts (``prompt.onnx`` on ``<bos>`` with the
  condition, then ``decoder_step.onnx`` per token).

None where the run's test data is not on this machine.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from rnnkit.export.ort_decoding import State, log_softmax

IGNORE = -100  # rnnkit.data.batching.IGNORE_INDEX: a padded target
StepFn = Callable[[np.ndarray, State], tuple[np.ndarray, State]]


def teacher_forced_nll(logits: np.ndarray, state: State, step: StepFn, inputs: np.ndarray,
                       targets: np.ndarray) -> tuple[float, int]:  # fmt: skip
    """``(summed NLL in nats, tokens scored)`` of ``targets (B, T)`` (``IGNORE`` where padded): ``logits``
    predict column 0, then ``step(inputs[:, j], state)`` predicts column j for j >= 1."""
    total, count = 0.0, 0
    for j in range(targets.shape[1]):
        if j:
            logits, state = step(inputs[:, j].astype(np.int64), state)
        valid = targets[:, j] != IGNORE
        if valid.any():
            log_probs = log_softmax(logits[valid])
            picked = np.take_along_axis(log_probs, targets[valid, j][:, None].astype(np.int64), axis=1)
            total -= float(picked.astype(np.float64).sum())
            count += int(valid.sum())
    return total, count


def _loss_metrics(nll: float, count: int, char: bool = False) -> dict[str, float]:
    from rnnkit.metrics import bits_per_character, perplexity

    out = {"test_loss": nll / count, "test_perplexity": perplexity(nll, count)}
    if char:
        out["test_bpc"] = bits_per_character(nll, count)
    return out


def _test_data(load: Callable[[], Any]) -> Any:
    """The run's test batches, or None where its data is not on this machine (moved, or to download)."""
    try:
        return load()
    except (OSError, ValueError):
        return None


def _numpy(batch: dict[str, Any]) -> dict[str, np.ndarray]:
    return {k: v.numpy() if hasattr(v, "numpy") else np.asarray(v) for k, v in batch.items()}


def translation_metrics(task: Any, folder: Path, precision: str) -> dict[str, float] | None:
    from rnnkit.export.ort_decoding import OrtSeq2Seq
    from rnnkit.export.text_inputs import pad_ids
    from rnnkit.tasks.translation.data import DECODE_BATCH

    test_loader = _test_data(lambda: task.loaders()[2])
    if not test_loader:
        return None
    model = OrtSeq2Seq(folder, precision=precision)
    nll, count = 0.0, 0
    for batch in map(_numpy, test_loader):
        state = model.encode(batch["src"].astype(np.int64), batch["src_lengths"].astype(np.int64))
        tokens = batch["tgt_in"]
        logits, state = model.step(tokens[:, 0].astype(np.int64), state)
        got = teacher_forced_nll(logits, state, model.step, tokens, batch["tgt_out"])
        nll, count = nll + got[0], count + got[1]
    test = task.splits["test"]
    encoded = [task.encode_source(p.source) for p in test]
    order = sorted(range(len(encoded)), key=lambda k: len(encoded[k]))
    limit = task.data.max_output_length or task.longest_target + 10
    hypotheses = [""] * len(encoded)
    for start in range(0, len(order), DECODE_BATCH):
        chunk = order[start : start + DECODE_BATCH]
        src, lengths = pad_ids([encoded[k] for k in chunk])
        decoded = model.translate(src, lengths, max_length=limit, strategy="greedy")
        for row, k in enumerate(chunk):
            hypotheses[k] = task.decode_target(decoded.tokens[row, : int(decoded.lengths[row])].tolist())
    scores = task._scores(hypotheses, test)
    return {
        **_loss_metrics(nll, count),
        "test_bleu_greedy": scores["bleu"],
        "test_chrf_greedy": scores["chrf"],
    }


def language_model_metrics(task: Any, folder: Path, precision: str) -> dict[str, float] | None:
    from rnnkit.export.ort_decoding import OrtGenerator

    batches = _test_data(lambda: task.eval_batches("test"))
    if not batches:
        return None
    windows = [_numpy(b) for b in batches]  # the state carried over the windows: whole streams
    inputs = np.concatenate([w["inputs"] for w in windows], axis=1).astype(np.int64)
    targets = np.concatenate([w["targets"] for w in windows], axis=1)
    model = OrtGenerator(folder, precision=precision)
    logits, state = model.run_prompt(inputs[:, :1], np.ones(inputs.shape[0], dtype=np.int64))
    nll, count = teacher_forced_nll(logits, state, model.step, inputs, targets)
    return _loss_metrics(nll, count, char=task.data.tokenizer == "char")


def generation_metrics(task: Any, folder: Path, precision: str) -> dict[str, float] | None:
    from rnnkit.export.ort_decoding import OrtGenerator

    batches = _test_data(lambda: task.ordered_batches(task.examples()["test"]))
    if not batches:
        return None
    model, nll, count = OrtGenerator(folder, precision=precision), 0.0, 0
    for batch in map(_numpy, batches):
        inputs = batch["inputs"].astype(np.int64)
        conditioning = {k: batch[k] for k in ("condition", "labels") if k in batch}
        logits, state = model.run_prompt(
            inputs[:, :1], np.ones(inputs.shape[0], dtype=np.int64), **conditioning
        )
        got = teacher_forced_nll(logits, state, model.step, inputs, batch["targets"])
        nll, count = nll + got[0], count + got[1]
    return _loss_metrics(nll, count)


EVALUATIONS: dict[str, Callable[[Any, Path, str], dict[str, float] | None]] = {
    "translation": translation_metrics,
    "language_model": language_model_metrics,
    "generation": generation_metrics,
}


def export_metrics(task: Any, folder: Path, precisions: list[str]) -> dict[str, dict[str, float]]:
    """``{precision: test metrics}`` of the graphs in ``folder``; empty where the test data is not here."""
    found = {p: EVALUATIONS[type(task).name](task, folder, p) for p in precisions}
    return {p: metrics for p, metrics in found.items() if metrics is not None}


__all__ = ["export_metrics", "teacher_forced_nll"]
