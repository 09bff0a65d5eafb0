"""Pool a padded sequence of outputs ``(B, T, H)`` into one vector per sequence, over its valid steps only."""

from __future__ import annotations

from typing import Literal

import torch
from torch import Tensor, nn

from rnnkit.cells.base import check_size
from rnnkit.layers.masking import check_lengths

PoolingName = Literal["last", "mean", "max"]
POOLINGS = ("last", "mean", "max")


def valid_steps(outputs: Tensor, lengths: Tensor | None, name: str = "pool_sequence") -> Tensor:
    """The boolean ``(B, T)`` mask of valid steps of ``outputs (B, T, H)``, after checking both."""
    if not isinstance(outputs, Tensor) or not outputs.is_floating_point() or outputs.dim() != 3:
        got = f"{outputs.dim()}D {outputs.dtype}" if isinstance(outputs, Tensor) else type(outputs).__name__
        raise ValueError(f"{name}: expected outputs as a float tensor (B, T, H), got {got}")
    batch, steps, _ = outputs.shape
    if lengths is None:
        return torch.ones(batch, steps, dtype=torch.bool, device=outputs.device)
    lengths = check_lengths(lengths, batch, steps).to(outputs.device)
    return torch.arange(steps, device=outputs.device) < lengths.unsqueeze(1)


def pool_sequence(
    outputs: Tensor, lengths: Tensor | None = None, how: PoolingName = "last", directions: int = 1
) -> Tensor:
    """One vector per sequence from its valid steps; padded steps never change the result.

        last:  h_{n-1}                              n = the sequence's length
        mean:  (1/n) Σ_{t<n} h_t
        max:   max_{t<n} h_t                        per feature

    For a bidirectional layer (``directions=2``, outputs ``[forward | backward]`` along H as torch and
    rnnkit concatenate them), "last" takes the *final state of each direction*: the forward half at step
    ``n - 1`` and the backward half at step 0, where the backward pass over the valid prefix ends. This
    equals the last layer's ``h_n`` of an rnnkit layer run with ``lengths``.

    Args:
        outputs: ``(B, T, H)`` per-step outputs.
        lengths: ``(B,)`` valid lengths in ``[1, T]``; None: all ``T`` steps are valid.
        how: ``"last"``, ``"mean"`` or ``"max"``.
        directions: 1, or 2 when the outputs hold two directions (matters for "last" only).

    Returns:
        ``(B, H)``.

    Example:
        >>> out = torch.tensor([[[1.0, 10.0], [2.0, 20.0], [9.0, 90.0]]])  # T=3, one sequence of length 2
        >>> [pool_sequence(out, torch.tensor([2]), how).tolist() for how in ("last", "mean", "max")]
        [[[2.0, 20.0]], [[1.5, 15.0]], [[2.0, 20.0]]]
        >>> pool_sequence(out, torch.tensor([2]), "last", directions=2).tolist()  # forward: 1, backward: 0
        [[2.0, 10.0]]
    """
    valid = valid_steps(outputs, lengths)
    if how not in POOLINGS:
        raise ValueError(f"pool_sequence: how must be one of {list(POOLINGS)}, got {how!r}")
    if directions not in (1, 2) or outputs.size(-1) % directions:
        raise ValueError(
            f"pool_sequence: directions must be 1 or 2 and divide H={outputs.size(-1)}, got {directions!r}"
        )
    if how == "mean":
        weights = valid.to(outputs.dtype).unsqueeze(-1)  # (B, T, 1)
        return (outputs * weights).sum(1) / weights.sum(1)
    if how == "max":
        return outputs.masked_fill(~valid.unsqueeze(-1), float("-inf")).amax(1)
    last_step = valid.sum(1) - 1  # (B,)
    last = outputs[torch.arange(outputs.size(0), device=outputs.device), last_step]  # (B, H)
    if directions == 1:
        return last
    half = outputs.size(-1) // 2
    return torch.cat([last[:, :half], outputs[:, 0, half:]], dim=-1)


class AttentionPooling(nn.Module):
    r"""Additive attention pooling (Bahdanau et al. 2015 scores; Yang et al. 2016 "HAN"), masked.

        u_t = tanh(W h_t + b)                   W: (A, H)
        s_t = v · u_t                           v: (A,), one learned query
        α_t = exp(s_t) / Σ_{τ<n} exp(s_τ)      for t < n;  α_t = 0 on padding
        out = Σ_t α_t h_t

    Args:
        hidden_size: H, features of each step.
        attention_size: A, the scoring layer's width (default H).

    Shape: ``outputs (B, T, H)``, ``lengths (B,)`` or None -> ``(pooled (B, H), weights (B, T))``; each
    row of ``weights`` sums to 1 over the valid steps and is exactly 0 on padding.

    Example:
        >>> pool = AttentionPooling(8)
        >>> pooled, weights = pool(torch.randn(2, 5, 8), torch.tensor([5, 3]))
        >>> pooled.shape, torch.allclose(weights.sum(1), torch.ones(2)), weights[1, 3:].tolist()
        (torch.Size([2, 8]), True, [0.0, 0.0])
    """

    def __init__(self, hidden_size: int, attention_size: int | None = None) -> None:
        super().__init__()
        check_size("AttentionPooling: hidden_size", hidden_size)
        attention_size = hidden_size if attention_size is None else attention_size
        check_size("AttentionPooling: attention_size", attention_size)
        self.hidden_size, self.attention_size = hidden_size, attention_size
        self.project = nn.Linear(hidden_size, attention_size)  # W, b
        self.query = nn.Linear(attention_size, 1, bias=False)  # v

    def forward(self, outputs: Tensor, lengths: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """Pool ``outputs (B, T, H)``; returns ``(pooled (B, H), weights (B, T))``."""
        valid = valid_steps(outputs, lengths, "AttentionPooling")
        if outputs.size(-1) != self.hidden_size:
            raise ValueError(
                f"AttentionPooling: expected outputs with H={self.hidden_size} features, "
                f"got {outputs.size(-1)}"
            )
        scores = self.query(torch.tanh(self.project(outputs))).squeeze(-1)  # (B, T)
        weights = scores.masked_fill(~valid, float("-inf")).softmax(dim=1)  # exactly 0 on padding
        pooled = torch.einsum("bt,bth->bh", weights, outputs)
        return pooled, weights

    def extra_repr(self) -> str:
        return f"{self.hidden_size}, attention_size={self.attention_size}"
