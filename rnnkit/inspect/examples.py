"""Examples to inspect: batches of one, in the layout the task's own loaders make, with readable labels.

Two sources: the validation (or test) data of a run, for any task, and raw texts for the text tasks,
encoded exactly as ``rnnkit predict`` encodes them (the task's ``encode``). A raw text has no label: its
batch is completed with the model's own prediction as the target, so the loss of an inspected text is the
loss of what the model predicted (−log p(ŷ) for a classifier).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor, nn

from rnnkit.data.batching import collate_pairs
from rnnkit.data.vocab import EOS

__all__ = [
    "Example",
    "choose_readable",
    "group_labels",
    "split_batch",
    "text_examples",
    "validation_examples",
]

_LENGTH_OF = {"inputs": "lengths", "targets": "lengths", "chars": "lengths", "columns": "lengths",
              "src": "src_lengths", "tgt_in": "tgt_lengths", "tgt_out": "tgt_lengths"}  # fmt: skip
TEXT_TASKS = ("classification", "tagging", "translation", "language_model")


@dataclass
class Example:
    """One input: ``batch`` as the task's loaders make it (B = 1), ``tokens``: time-axis labels per recorded
    layer (``"rnn"``, ``"encoder"``, ``"decoder"``), and a line saying what the example is."""

    title: str
    batch: dict[str, Tensor]
    tokens: dict[str, list[str]] = field(default_factory=dict)
    note: str = ""


def split_batch(batch: dict[str, Tensor]) -> list[dict[str, Tensor]]:
    """A batch dict -> one dict per sequence, each sequence cut to its own length.

    Example:
        >>> from rnnkit.data.batching import collate_classification
        >>> batch = collate_classification([([4, 5, 6], 1), ([7], 0)])
        >>> [b["inputs"].tolist() for b in split_batch(batch)]
        [[[4, 5, 6]], [[7]]]
    """
    size = next(v for v in batch.values() if isinstance(v, Tensor)).size(0)
    singles = []
    for b in range(size):
        one = {k: v[b : b + 1] for k, v in batch.items() if isinstance(v, Tensor)}
        for key, length_key in _LENGTH_OF.items():
            if key in one and length_key in one and one[key].dim() >= 2:
                one[key] = one[key][:, : int(one[length_key][0])]
        singles.append(one)
    return singles


def _vocab_tokens(vocab: Any, ids: Tensor) -> list[str]:
    return [vocab.id_to_token(int(i)) for i in ids.reshape(-1)]


def batch_tokens(task: Any, batch: dict[str, Tensor]) -> dict[str, list[str]]:
    """Time-axis labels of a batch of one: its token ids read back through the task's vocabularies."""
    if "src" in batch and hasattr(task, "source_vocab"):
        return {"encoder": _vocab_tokens(task.source_vocab, batch["src"]),
                "decoder": _vocab_tokens(task.target_vocab, batch["tgt_in"])}  # fmt: skip
    inputs = batch.get("inputs")
    vocab = getattr(task, "vocab", None)
    if inputs is not None and vocab is not None and not inputs.is_floating_point():
        return {"rnn": _vocab_tokens(vocab, inputs)}
    return {}


def _describe(task: Any, batch: dict[str, Tensor]) -> str:
    labels, targets = getattr(task, "labels", None), batch.get("targets")
    if labels is not None and targets is not None and targets.dim() == 1:
        return f"true label: {labels[int(targets[0])]}"
    return ""


def _length(one: dict[str, Tensor]) -> int:
    for key in ("lengths", "src_lengths"):
        if key in one:
            return int(one[key][0])
    first = next(v for v in one.values() if isinstance(v, Tensor))
    return first.size(1) if first.dim() > 1 else 1


def choose_readable(lengths: list[int], count: int, shortest: int = 5, longest: int = 40) -> list[int]:
    """Indices of ``count`` examples worth drawing: lengths in ``[shortest, longest]`` where there are such
    (else all), spread evenly over the longer half of them, in their original order.

    Example:
        >>> choose_readable([1, 2, 8, 12, 30, 90, 6], 2)
        [3, 4]
    """
    pool = [k for k, n in enumerate(lengths) if shortest <= n <= longest] or list(range(len(lengths)))
    pool.sort(key=lambda k: (lengths[k], k))
    upper = pool[len(pool) // 2 :] if len(pool) >= 2 * count else pool
    if len(upper) <= count:
        return sorted(upper)
    picks = (
        {upper[round(j * (len(upper) - 1) / (count - 1))] for j in range(count)} if count > 1 else {upper[-1]}
    )
    return sorted(picks)


def validation_examples(task: Any, count: int = 3, split: str = "val", scan: int = 5000) -> list[Example]:
    """``count`` examples of a run's validation data (``split="test"``: its test data; the test data also
    when there is no validation data), of readable lengths (:func:`choose_readable`) among the first
    ``scan`` sequences."""
    _, val, test = task.loaders()
    loader = val if split == "val" and val is not None else test
    if loader is None:
        raise ValueError("the run has no validation or test data to take examples from")
    candidates: list[dict[str, Tensor]] = []
    for batch in loader:
        candidates += split_batch(batch)
        if len(candidates) >= scan:
            break
    chosen = choose_readable([_length(one) for one in candidates], count)
    name = "validation" if loader is val else "test"
    return [
        Example(
            f"{name} example {k + 1}",
            candidates[i],
            batch_tokens(task, candidates[i]),
            _describe(task, candidates[i]),
        )
        for k, i in enumerate(chosen)
    ]


@torch.no_grad()
def text_examples(task: Any, model: nn.Module, texts: list[str]) -> list[Example]:
    """Raw texts as examples, encoded as the task's ``predict`` encodes them, labelled with the model's own
    prediction (there is no true label).

    Raises:
        ValueError: the task does not take text (series tasks), or a text is too short for it.
    """
    model.eval()
    device = next(model.parameters()).device
    kind = getattr(task, "name", type(task).__name__)
    examples = []
    for k, text in enumerate(texts):
        if kind == "classification":
            batch = _to(task.batch([text]), device)
            logits = model(batch["inputs"], batch["lengths"], **task.model_extras(batch))
            probabilities = logits.softmax(-1)[0]
            best = int(probabilities.argmax())
            batch["targets"] = torch.tensor([best], device=device)
            shown = task.tokens(text)[: batch["inputs"].size(1)] or ["<unk>"]
            note = f"predicted: {task.labels[best]} (p = {probabilities[best]:.3f})"
            examples.append(Example(f"text {k + 1}", batch, {"rnn": shown}, note))
        elif kind == "tagging":
            words, columns = task.split_text(text)
            if not words:
                raise ValueError(f"text {k + 1} has no words to tag")
            batch = _to(task.batch([words], [columns]), device)
            tags = model.decode(batch["inputs"], batch["lengths"], **task.model_extras(batch))
            batch["targets"] = tags
            note = "predicted tags: " + " ".join(task.labels[int(t)] for t in tags[0])
            examples.append(Example(f"text {k + 1}", batch, {"rnn": words}, note))
        elif kind == "translation":
            src = task.encode_source(text)
            source = torch.tensor([src], device=device)
            decoded, _ = model.translate(source, torch.tensor([len(src)], device=device))
            out = decoded.tokens[0, : int(decoded.lengths[0])].tolist()
            out = out[:-1] if out and out[-1] == EOS else out
            batch = _to(collate_pairs([(src, out)]), device)
            note = f"translation: {task.decode_target(out)}"
            examples.append(Example(f"text {k + 1}", batch, batch_tokens(task, batch), note))
        elif kind == "language_model":
            ids = task.vocab.encode(task.tokenizer.tokenize(text))
            if len(ids) < 2:
                raise ValueError(f"text {k + 1}: a language model needs at least 2 tokens, got {len(ids)}")
            batch = {"inputs": torch.tensor([ids[:-1]], device=device),
                     "targets": torch.tensor([ids[1:]], device=device),
                     "lengths": torch.tensor([len(ids) - 1], device=device)}  # fmt: skip
            examples.append(
                Example(f"text {k + 1}", batch, batch_tokens(task, batch), "next-token prediction")
            )
        else:
            raise ValueError(
                f"--text works for the text tasks ({', '.join(TEXT_TASKS)}); a {kind} run takes no text: "
                f"use `rnnkit report RUN`, which inspects its validation examples"
            )
    return examples


def _to(batch: dict[str, Tensor], device: torch.device) -> dict[str, Tensor]:
    return {k: v.to(device) for k, v in batch.items()}


def group_labels(tokens: list[str], steps: int, pool: int | None = None) -> list[str]:
    """Labels for ``steps`` recurrent steps from ``tokens``: the tokens themselves when there is one per
    step; joined in windows of ``pool`` when a front-end pooled them (a Conv1D + MaxPool1D classifier);
    step numbers when neither fits.

    Example:
        >>> group_labels(["a", "b", "c", "d", "e"], 2, pool=4)
        ['a b c d', 'e']
        >>> group_labels(["a", "b"], 3)
        ['0', '1', '2']
    """
    if len(tokens) == steps:
        return list(tokens)
    if pool is not None and -(-len(tokens) // pool) == steps:
        return [" ".join(tokens[j * pool : (j + 1) * pool]) for j in range(steps)]
    return [str(t) for t in range(steps)]
