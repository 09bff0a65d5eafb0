"""Batches of variable-length sequences: padding, length bucketing and collate functions.

Every batch is batch-first and carries ``lengths (B,)``, which the layers and losses use so padding never
changes a result. Sequence *targets* are padded with ``IGNORE_INDEX`` (-100, the losses' ``ignore_index``),
so a padded step cannot count even where a loss is given no lengths; token *inputs* are padded with
``PAD`` (0, the embedding's ``padding_idx``).

Use with a ``DataLoader``::

    sampler = BucketBatchSampler([len(ids) for ids, _ in data], batch_size=32, seed=0)
    loader = DataLoader(data, batch_sampler=sampler, collate_fn=collate_classification)
    for epoch in range(epochs):
        sampler.set_epoch(epoch)
        for batch in loader: ...   # batch["inputs"], batch["lengths"], batch["targets"]
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import torch
from torch import Tensor
from torch.utils.data import Sampler

from rnnkit.data.vocab import BOS, EOS, PAD

IGNORE_INDEX = -100


def move_to_device(batch: Any, device: torch.device | str) -> Any:
    """``batch`` with every tensor in it (nested dicts, lists, tuples, NamedTuples) moved to ``device``.

    Example:
        >>> move_to_device({"x": torch.ones(1), "n": [torch.zeros(1), 3]}, "cpu")
        {'x': tensor([1.]), 'n': [tensor([0.]), 3]}
    """
    if isinstance(batch, Tensor):  # non_blocking only host -> GPU: a GPU -> host copy must be waited for
        return batch.to(device, non_blocking=torch.device(device).type == "cuda")
    if isinstance(batch, Mapping):
        return type(batch)({k: move_to_device(v, device) for k, v in batch.items()})
    if isinstance(batch, tuple) and hasattr(batch, "_fields"):  # NamedTuple
        return type(batch)(*(move_to_device(v, device) for v in batch))
    if isinstance(batch, (list, tuple)):
        return type(batch)(move_to_device(v, device) for v in batch)
    return batch


def pad_batch(sequences: Sequence[Sequence[int] | Tensor], pad_value: float = PAD) -> tuple[Tensor, Tensor]:
    """Stack variable-length sequences into one right-padded batch.

    Args:
        sequences: lists of ints (token ids) or tensors of shape ``(T_i,)`` or ``(T_i, F)``.
        pad_value: fills the steps after each sequence's end.

    Returns:
        ``padded`` ``(B, T)`` (or ``(B, T, F)``; lists give ``long``, tensors keep their dtype and device)
        with ``T = max T_i``, and ``lengths`` ``(B,)`` long on the same device.

    Example:
        >>> tokens, lengths = pad_batch([[5, 6, 7], [8]])
        >>> tokens, lengths
        (tensor([[5, 6, 7],
                [8, 0, 0]]), tensor([3, 1]))
        >>> pad_batch([torch.ones(2, 4), torch.ones(3, 4)])[0].shape
        torch.Size([2, 3, 4])
    """
    if isinstance(sequences, Tensor) or len(sequences) == 0:
        raise ValueError("pad_batch takes a non-empty list of sequences")
    tensors = []
    for k, seq in enumerate(sequences):
        tensor = seq if isinstance(seq, Tensor) else torch.as_tensor(list(seq), dtype=torch.long)
        if tensor.dim() not in (1, 2):
            raise ValueError(f"sequence {k} must have shape (T,) or (T, F), got {tuple(tensor.shape)}")
        tensors.append(tensor)
    first = tensors[0]
    for k, tensor in enumerate(tensors):
        if tensor.shape[1:] != first.shape[1:] or tensor.dtype != first.dtype:
            raise ValueError(
                f"sequences must share their feature shape and dtype: sequence 0 is {tuple(first.shape)} "
                f"{first.dtype}, sequence {k} is {tuple(tensor.shape)} {tensor.dtype}"
            )
    lengths = torch.tensor([t.size(0) for t in tensors], dtype=torch.long, device=first.device)
    steps = int(lengths.max())
    padded = first.new_full((len(tensors), steps, *first.shape[1:]), pad_value)  # (B, T) or (B, T, F)
    for b, tensor in enumerate(tensors):
        padded[b, : tensor.size(0)] = tensor
    return padded, lengths


def pad_words(sentences: Sequence[Sequence[Sequence[int]]], pad_value: int = PAD) -> Tensor:
    """Sentences of words of character ids -> ``(B, T, L)`` long, padded in both the words and the
    characters (``T`` the longest sentence, ``L`` the longest word).

    Example:
        >>> pad_words([[[5, 6, 7], [8]], [[9, 9]]]).tolist()
        [[[5, 6, 7], [8, 0, 0]], [[9, 9, 0], [0, 0, 0]]]
    """
    if len(sentences) == 0:
        raise ValueError("pad_words takes a non-empty list of sentences")
    steps = max(len(words) for words in sentences)
    width = max((len(word) for words in sentences for word in words), default=0)
    empty = [pad_value] * max(width, 1)
    padded = lambda word: [*word, *empty[len(word) :]]  # noqa: E731
    rows = [[padded(word) for word in words] + [empty] * (steps - len(words)) for words in sentences]
    return torch.tensor(rows, dtype=torch.long)


class BucketBatchSampler(Sampler[list[int]]):
    """Batches of indices whose sequences have similar lengths, to cut padding.

    Each epoch (``shuffle=True``): shuffle all indices, cut them into pools of ``batch_size * bucket_size``,
    sort each pool by length, cut it into batches, then shuffle the order of all batches. Batches mix only
    sequences of similar length, yet every epoch sees different batches in a different order. Only the
    last pool can leave a short batch, dropped when ``drop_last``. ``shuffle=False`` sorts all indices by
    length once (ties by index): the least padding, the same batches every time (for evaluation).

    The order depends only on ``seed`` and the epoch (``set_epoch``, as torch's ``DistributedSampler``),
    and each index appears exactly once per epoch (``drop_last=False``).

    Args:
        lengths: the length of every item of the dataset.
        batch_size: items per batch.
        shuffle: randomise pools and batch order per epoch.
        seed: base seed of the random order.
        bucket_size: batches per pool; larger pools give less padding and less randomness.
        drop_last: drop the one batch smaller than ``batch_size``, if any.

    Example:
        >>> sampler = BucketBatchSampler([5, 1, 4, 2, 3, 1], batch_size=2, shuffle=False)
        >>> list(sampler)
        [[1, 5], [3, 4], [2, 0]]
        >>> len(BucketBatchSampler([5, 1, 4], batch_size=2, drop_last=True))
        1
    """

    def __init__(
        self,
        lengths: Sequence[int],
        batch_size: int,
        shuffle: bool = True,
        seed: int = 0,
        bucket_size: int = 100,
        drop_last: bool = False,
    ) -> None:
        super().__init__()
        for name, value in (("batch_size", batch_size), ("bucket_size", bucket_size)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be an int >= 1, got {value!r}")
        lengths = [int(n) for n in (lengths.tolist() if isinstance(lengths, Tensor) else lengths)]
        negative = [n for n in lengths if n < 0]
        if negative:
            raise ValueError(f"lengths must be >= 0, got {negative[0]}")
        self.lengths = lengths
        self.batch_size = batch_size
        self.shuffle = bool(shuffle)
        self.seed = int(seed)
        self.bucket_size = bucket_size
        self.drop_last = bool(drop_last)
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        """Select the epoch whose order the next ``iter`` yields."""
        self.epoch = int(epoch)

    def __len__(self) -> int:
        n = len(self.lengths)
        return n // self.batch_size if self.drop_last else math.ceil(n / self.batch_size)

    def __iter__(self) -> Iterator[list[int]]:
        n, size = len(self.lengths), self.batch_size
        if not self.shuffle:
            order = sorted(range(n), key=lambda i: (self.lengths[i], i))
            batches = [order[i : i + size] for i in range(0, n, size)]
        else:
            generator = torch.Generator().manual_seed(self.seed + self.epoch)
            perm = torch.randperm(n, generator=generator).tolist()
            pool = (
                size * self.bucket_size
            )  # a multiple of batch_size: only the last pool can leave a remainder
            batches = []
            for start in range(0, n, pool):
                chunk = sorted(
                    perm[start : start + pool], key=lambda i: self.lengths[i]
                )  # stable: random ties
                batches += [chunk[i : i + size] for i in range(0, len(chunk), size)]
            batches = [batches[i] for i in torch.randperm(len(batches), generator=generator).tolist()]
        if self.drop_last:
            batches = [batch for batch in batches if len(batch) == size]
        return iter(batches)


def _split(item: Any, parts: int, name: str, k: int) -> tuple:
    if not isinstance(item, (tuple, list)) or len(item) != parts:
        raise ValueError(f"{name}: item {k} must be a pair, got {type(item).__name__} {item!r:.60}")
    return tuple(item)


def _seq(seq: Sequence[int] | Tensor) -> list[int]:
    return seq.tolist() if isinstance(seq, Tensor) else list(seq)


def collate_classification(batch: Sequence[tuple[Sequence[int] | Tensor, Any]]) -> dict[str, Tensor]:
    """``(ids, label)`` items -> ``{"inputs" (B, T), "lengths" (B,), "targets" (B,)}``.

    Labels are ints (class ids, -> long) or floats (regression, -> float).

    Example:
        >>> batch = collate_classification([([4, 5, 6], 1), ([7], 0)])
        >>> batch["inputs"].tolist(), batch["lengths"].tolist(), batch["targets"].tolist()
        ([[4, 5, 6], [7, 0, 0]], [3, 1], [1, 0])
    """
    pairs = [_split(item, 2, "collate_classification", k) for k, item in enumerate(batch)]
    inputs, lengths = pad_batch([ids for ids, _ in pairs])
    labels = [label.item() if isinstance(label, Tensor) else label for _, label in pairs]
    return {"inputs": inputs, "lengths": lengths, "targets": torch.as_tensor(labels)}


def collate_tagging(
    batch: Sequence[tuple[Sequence[int] | Tensor, Sequence[int] | Tensor]], target_pad: int = IGNORE_INDEX
) -> dict[str, Tensor]:
    """``(ids, tag_ids)`` items of equal length -> ``{"inputs", "lengths", "targets" (B, T)}``.

    ``target_pad``: the padded tag (default ``IGNORE_INDEX``, which ``masked_cross_entropy`` skips and
    ``crf_negative_log_likelihood`` accepts past each length).

    Example:
        >>> collate_tagging([([4, 5], [1, 2]), ([6], [3])])["targets"].tolist()
        [[1, 2], [3, -100]]
    """
    pairs = [_split(item, 2, "collate_tagging", k) for k, item in enumerate(batch)]
    for k, (ids, tags) in enumerate(pairs):
        if len(ids) != len(tags):
            raise ValueError(f"collate_tagging: item {k} has {len(ids)} tokens but {len(tags)} tags")
    inputs, lengths = pad_batch([ids for ids, _ in pairs])
    targets, _ = pad_batch([_seq(tags) for _, tags in pairs], pad_value=target_pad)
    return {"inputs": inputs, "lengths": lengths, "targets": targets}


def collate_pairs(
    batch: Sequence[tuple[Sequence[int] | Tensor, Sequence[int] | Tensor]], target_pad: int = IGNORE_INDEX
) -> dict[str, Tensor]:
    """``(src_ids, tgt_ids)`` items -> encoder input and teacher-forcing decoder input/output.

    ``tgt_in = [BOS] + tgt`` (padded with ``PAD``) and ``tgt_out = tgt + [EOS]`` (padded with ``target_pad``),
    so at step t the decoder reads ``tgt_in[t]`` and predicts ``tgt_out[t]``; ``tgt_lengths = len(tgt) + 1``.

    Example:
        >>> b = collate_pairs([([4, 5, 6], [7, 8]), ([9], [10])])
        >>> b["src"].tolist(), b["src_lengths"].tolist()
        ([[4, 5, 6], [9, 0, 0]], [3, 1])
        >>> b["tgt_in"].tolist(), b["tgt_out"].tolist(), b["tgt_lengths"].tolist()
        ([[2, 7, 8], [2, 10, 0]], [[7, 8, 3], [10, 3, -100]], [3, 2])
    """
    pairs = [_split(item, 2, "collate_pairs", k) for k, item in enumerate(batch)]
    src, src_lengths = pad_batch([src for src, _ in pairs])
    tgt_in, tgt_lengths = pad_batch([[BOS, *_seq(tgt)] for _, tgt in pairs])
    tgt_out, _ = pad_batch([[*_seq(tgt), EOS] for _, tgt in pairs], pad_value=target_pad)
    return {
        "src": src,
        "src_lengths": src_lengths,
        "tgt_in": tgt_in,
        "tgt_out": tgt_out,
        "tgt_lengths": tgt_lengths,
    }


def collate_language_model(
    batch: Sequence[Sequence[int] | Tensor],
    add_bos: bool = True,
    add_eos: bool = True,
    target_pad: int = IGNORE_INDEX,
) -> dict[str, Tensor]:
    """Token sequences -> next-token prediction: ``inputs = x[:-1]``, ``targets = x[1:]``.

    ``x`` is the sequence framed by ``BOS`` / ``EOS`` (each optional), so with both the model learns to
    start from ``<bos>`` and to stop; ``lengths = len(x) - 1``, which must be at least 1.

    Example:
        >>> b = collate_language_model([[4, 5], [6]])
        >>> b["inputs"].tolist(), b["targets"].tolist(), b["lengths"].tolist()
        ([[2, 4, 5], [2, 6, 0]], [[4, 5, 3], [6, 3, -100]], [3, 2])
    """
    if isinstance(batch, Tensor) or len(batch) == 0:
        raise ValueError("collate_language_model takes a non-empty list of sequences")
    framed = [[BOS] * add_bos + _seq(seq) + [EOS] * add_eos for seq in batch]
    for k, x in enumerate(framed):
        if len(x) < 2:
            raise ValueError(
                f"collate_language_model: item {k} has {len(x)} token(s) with bos/eos; needs >= 2"
            )
    inputs, lengths = pad_batch([x[:-1] for x in framed])
    targets, _ = pad_batch([x[1:] for x in framed], pad_value=target_pad)
    return {"inputs": inputs, "lengths": lengths, "targets": targets}
