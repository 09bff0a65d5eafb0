"""Examples to inspect: batches of one, in the layout the task's own loaders make, with readable labels.

Two sources: the validation (or test) data of a run, for any task, and raw texts for the text tasks,
encoded exactly as ``rnnkit predict`` encodes them (the task's ``encode``). A raw text has no label: its
batch is completed with the model's own prediction as the target, so the loss of an inspected text is the
loss of what the model predicted (−log p(ŷ) for a classifier).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from torch import Tensor, nn

from rnnkit.tasks.base import Task

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


def validation_examples(task: Task, count: int = 3, split: str = "val", scan: int = 5000) -> list[Example]:
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
            task.batch_tokens(candidates[i]),
            task.describe_example(candidates[i]),
        )
        for k, i in enumerate(chosen)
    ]


def text_examples(task: Task, model: nn.Module, texts: list[str]) -> list[Example]:
    """Raw texts as examples, encoded as the task's ``predict`` encodes them, labelled with the model's own
    prediction (there is no true label): :meth:`Task.inspection_example` of each.

    Raises:
        ValueError: the task does not take text (series tasks), or a text is too short for it, naming it.
    """
    examples = []
    for k, text in enumerate(texts):
        try:
            batch, tokens, note = task.inspection_example(model, text)
        except ValueError as error:
            raise ValueError(f"text {k + 1}: {error}") from None
        examples.append(Example(f"text {k + 1}", batch, tokens, note))
    return examples


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
