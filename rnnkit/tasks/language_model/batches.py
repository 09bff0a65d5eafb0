"""Language model: batches of a long text: training chunks and stateful evaluation streams."""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator
from typing import Literal

import torch
from torch import Tensor, nn
from torch.utils.data import Sampler

from rnnkit.data.batching import IGNORE_INDEX
from rnnkit.data.vocab import PAD
from rnnkit.losses import masked_cross_entropy
from rnnkit.training.seed import epoch_generator


class ChunkSampler(Sampler[list[int]]):
    """Batches of chunk starts in ``[0, num_tokens - bptt - 1]``: ``count`` random ones, or every
    ``stride``-th in a shuffled order. The draw depends only on ``seed`` and the epoch (``set_epoch``), as
    the trainer's exact resume needs.

    Example:
        >>> sampler = ChunkSampler(10, bptt=3, batch_size=2, mode="strided", stride=3)
        >>> len(sampler), sorted(s for batch in sampler for s in batch)
        (2, [0, 3, 6])
    """

    def __init__(
        self,
        num_tokens: int,
        bptt: int,
        batch_size: int,
        mode: Literal["random", "strided"] = "random",
        count: int | None = None,
        stride: int | None = None,
        seed: int = 0,
    ) -> None:
        super().__init__()
        self.last = num_tokens - bptt - 1  # the last start whose chunk (bptt + 1 tokens) fits
        if self.last < 0:
            raise ValueError(
                f"the training text has {num_tokens} tokens, fewer than bptt + 1 = {bptt + 1}: "
                f"lower data.bptt or give more text"
            )
        self.mode, self.batch_size, self.seed, self.epoch = mode, batch_size, seed, 0
        self.stride = stride or bptt
        if mode == "random":
            self.count = count or max(1, num_tokens // bptt)
        else:
            self.count = self.last // self.stride + 1

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    def __len__(self) -> int:
        return math.ceil(self.count / self.batch_size)

    def __iter__(self) -> Iterator[list[int]]:
        generator = epoch_generator(self.seed, self.epoch)
        if self.mode == "random":
            starts = torch.randint(0, self.last + 1, (self.count,), generator=generator)
        else:
            order = torch.randperm(self.count, generator=generator)
            starts = torch.arange(0, self.last + 1, self.stride)[order]
        starts = starts.tolist()
        return iter(starts[i : i + self.batch_size] for i in range(0, self.count, self.batch_size))


class _Chunks(torch.utils.data.Dataset):
    def __init__(self, ids: Tensor, bptt: int) -> None:
        self.ids, self.bptt = ids, bptt

    def __len__(self) -> int:
        return len(self.ids) - self.bptt

    def __getitem__(self, start: int) -> Tensor:
        return self.ids[start : start + self.bptt + 1]


def collate_chunks(chunks: list[Tensor]) -> dict[str, Tensor]:
    """Chunks of ``bptt + 1`` ids -> ``{"inputs" (B, bptt), "targets" (B, bptt), "lengths" (B,)}``.

    Example:
        >>> batch = collate_chunks([torch.tensor([5, 6, 7]), torch.tensor([8, 9, 10])])
        >>> batch["inputs"].tolist(), batch["targets"].tolist(), batch["lengths"].tolist()
        ([[5, 6], [8, 9]], [[6, 7], [9, 10]], [2, 2])
    """
    stacked = torch.stack(chunks)  # (B, bptt + 1)
    lengths = torch.full((stacked.size(0),), stacked.size(1) - 1, dtype=torch.long)
    return {"inputs": stacked[:, :-1], "targets": stacked[:, 1:], "lengths": lengths}


def stream_batches(ids: Tensor, streams: int, window: int) -> list[dict[str, Tensor]]:
    """Windows over ``streams`` contiguous parts of ``ids`` that score each token but the first once.

    Stream k's targets are the k-th of ``streams`` near-equal contiguous ranges of ``ids[1:]``, and its
    inputs the tokens just before them; window w holds columns ``[w * window, (w + 1) * window)`` of every
    stream, so carrying the recurrent state from window to window gives every target its whole stream as
    context. A stream that ends early is padded (input ``PAD``, target ``IGNORE_INDEX``, length >= 1) in
    the last window only.

    Example:
        >>> batches = stream_batches(torch.arange(10, 17), streams=2, window=2)
        >>> [b["inputs"].tolist() for b in batches], [b["targets"].tolist() for b in batches]
        ([[[10, 11], [13, 14]], [[12], [15]]], [[[11, 12], [14, 15]], [[13], [16]]])
    """
    scored = len(ids) - 1
    if scored < 1:
        raise ValueError(f"need at least 2 tokens to score one, got {len(ids)}")
    streams = min(streams, scored)
    sizes = [scored // streams + (k < scored % streams) for k in range(streams)]
    inputs = torch.full((streams, sizes[0]), PAD, dtype=torch.long)
    targets = torch.full((streams, sizes[0]), IGNORE_INDEX, dtype=torch.long)
    start = 0
    for k, size in enumerate(sizes):
        inputs[k, :size], targets[k, :size] = ids[start : start + size], ids[start + 1 : start + size + 1]
        start += size
    lengths = torch.tensor(sizes)
    return [
        {
            "inputs": inputs[:, w : w + window],
            "targets": targets[:, w : w + window],
            "lengths": (lengths - w).clamp(1, min(window, sizes[0] - w)),
        }
        for w in range(0, sizes[0], window)
    ]


def score_streams(model: nn.Module, batches: Iterable[dict[str, Tensor]]) -> tuple[float, int]:
    """``(summed NLL in nats, tokens scored)`` of a :class:`SequenceGenerator` over the windows of
    :func:`stream_batches`, in order, the recurrent state carried from each window to the next (so the
    result does not depend on the window size). Call it under ``torch.no_grad()`` in eval mode."""
    state, nll, count = None, torch.zeros((), dtype=torch.float64), 0
    for batch in batches:
        logits, state = model(batch["inputs"], batch["lengths"], state=state)
        valid = int((batch["targets"] != IGNORE_INDEX).sum())
        nll += masked_cross_entropy(logits.float(), batch["targets"]).detach().double().cpu() * valid
        count += valid
    return float(nll), count
