"""Language model: the baseline the model is scored beside."""

from __future__ import annotations

import math

import torch
from torch import Tensor

from rnnkit.data.vocab import BOS, EOS, PAD


def unigram_bits(counts: list[int], ids: Tensor | None = None) -> float:
    """Bits per token of a unigram model with these token counts: its entropy ``−Σ p log₂ p`` (``ids``
    None), or its cross-entropy on ``ids`` with add-one smoothing over the tokens that can occur (all but
    <pad>, <bos>, <eos>), so an unseen token costs finitely many bits.

    Example:
        >>> unigram_bits([0, 0, 0, 0, 2, 2])  # two equally frequent characters: one bit
        1.0
    """
    if ids is None:
        total = sum(counts)
        return -sum(c / total * math.log2(c / total) for c in counts if c)
    support = [k for k in range(len(counts)) if k not in (PAD, BOS, EOS)]
    smoothed = torch.zeros(len(counts), dtype=torch.float64)
    smoothed[support] = torch.tensor([counts[k] + 1.0 for k in support], dtype=torch.float64)
    log2p = (smoothed / smoothed.sum()).log2()
    return float(-log2p[ids].mean())
