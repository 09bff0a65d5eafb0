"""Token dropout (word dropout, Iyyer et al. 2015; Dai & Le 2015): in training, each real token of the input
is replaced by the unknown token with probability ``p``, so the model cannot lean on any single token and
learns what an unseen one looks like. Padding is never touched; in eval mode it is the identity.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn


def real_tokens(ids: Tensor, lengths: Tensor | None, padding_idx: int | None) -> Tensor:
    """``(B, T)`` True where ``ids`` holds a token: inside its sequence's length and not ``padding_idx``.

    Example:
        >>> real_tokens(torch.tensor([[5, 6, 0], [7, 0, 0]]), torch.tensor([3, 1]), 0).tolist()
        [[True, True, False], [True, False, False]]
    """
    real = torch.ones_like(ids, dtype=torch.bool)
    if lengths is not None:
        steps = torch.arange(ids.size(1), device=ids.device)
        real &= steps.unsqueeze(0) < lengths.to(ids.device).unsqueeze(1)
    if padding_idx is not None:
        real &= ids != padding_idx
    return real


class TokenDropout(nn.Module):
    """``(ids (B, T), lengths (B,) or None) -> (ids, dropped (B, T) bool)``: in training each real token
    becomes ``unk_idx`` with probability ``p`` (drawn from torch's global generator); in eval mode, or with
    ``p = 0``, ``ids`` come back as they are and nothing is dropped.

    Args:
        p: the probability, in [0, 1).
        unk_idx: the id a dropped token becomes.
        padding_idx: the padding id, never dropped (nor are the steps past each length); None: none.

    Example:
        >>> drop = TokenDropout(0.5, unk_idx=1, padding_idx=0).eval()
        >>> drop(torch.tensor([[5, 6, 0]]), torch.tensor([2]))[0].tolist()
        [[5, 6, 0]]
    """

    def __init__(self, p: float, unk_idx: int, padding_idx: int | None = 0) -> None:
        super().__init__()
        if isinstance(p, bool) or not isinstance(p, (int, float)) or not 0 <= p < 1:
            raise ValueError(f"TokenDropout: p must be in [0, 1), got {p!r}")
        self.p, self.unk_idx, self.padding_idx = float(p), unk_idx, padding_idx

    def forward(self, ids: Tensor, lengths: Tensor | None = None) -> tuple[Tensor, Tensor]:
        if not self.training or self.p == 0:
            return ids, torch.zeros_like(ids, dtype=torch.bool)
        coin = torch.rand(ids.shape, device=ids.device) < self.p
        dropped = coin & real_tokens(ids, lengths, self.padding_idx)
        return ids.masked_fill(dropped, self.unk_idx), dropped

    def extra_repr(self) -> str:
        return f"p={self.p}, unk_idx={self.unk_idx}, padding_idx={self.padding_idx}"
