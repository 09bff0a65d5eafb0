r"""Attention of a query over a padded sequence of keys: additive (Bahdanau) and multiplicative (Luong).

For a query ``q`` (B, Hq) and keys ``k_1 .. k_S`` (B, S, Hk), of which the first ``n`` are valid:

    additive   e_s = vᵀ tanh(W q + U k_s + b)     Bahdanau et al. 2015 ("concat" in Luong et al. 2015)
    general    e_s = qᵀ W k_s                      Luong et al. 2015
    dot        e_s = qᵀ k_s                        Luong et al. 2015 (needs Hq = Hk)

    a_s = exp(e_s) / Σ_{s' ≤ n} exp(e_{s'})  for s ≤ n,   a_s = 0 for s > n      (masked softmax)
    c   = Σ_s a_s k_s                                                             (context, B × Hk)

The keys are also the values, as in both papers. The part of the score that depends on the keys only
(``U k_s + b`` or ``W k_s``) is the same at every decoding step: :meth:`Attention.project_keys` computes it
once per source sequence and ``forward(..., projected_keys=...)`` reuses it.
"""

from __future__ import annotations

from typing import Literal

import torch
from torch import Tensor, nn

from rnnkit.cells.base import check_size
from rnnkit.layers.masking import check_lengths

AttentionKind = Literal["additive", "general", "dot"]
KINDS = ("additive", "general", "dot")


class Attention(nn.Module):
    r"""Score every key against the query, take the masked softmax, return the weighted sum of the keys.

    Args:
        query_size: Hq, features of the query (a decoder state).
        key_size: Hk, features of each key (an encoder output).
        kind: "additive" (``vᵀ tanh(W q + U k + b)``), "general" (``qᵀ W k``) or "dot" (``qᵀ k``).
        attention_size: A, the size of ``W q`` and ``U k`` in additive attention (default Hq); only additive
            attention has it.

    Parameters: additive: ``query_proj.weight`` W (A, Hq), ``key_proj.weight`` U (A, Hk),
    ``key_proj.bias`` b (A,), ``v.weight`` vᵀ (1, A); general: ``key_proj.weight`` W (Hq, Hk); dot: none.

    Shape:
        query ``(B, Hq)``, or ``(B, T, Hq)`` for T queries over the same keys;
        keys ``(B, S, Hk)``; key_lengths ``(B,)`` integer in ``[1, S]``, or
        key_padding_mask ``(B, S)`` bool, True on padding (as ``torch.nn.MultiheadAttention``);
        -> context ``(B, Hk)`` / ``(B, T, Hk)``, weights ``(B, S)`` / ``(B, T, S)``.

    Example:
        >>> attention = Attention(8, 6, kind="additive")
        >>> keys, lengths = torch.randn(2, 5, 6), torch.tensor([5, 3])
        >>> context, weights = attention(torch.randn(2, 8), keys, lengths)
        >>> context.shape, weights.shape
        (torch.Size([2, 6]), torch.Size([2, 5]))
        >>> torch.allclose(weights.sum(-1), torch.ones(2)), weights[1, 3:].tolist()  # padding gets 0
        (True, [0.0, 0.0])
    """

    def __init__(
        self,
        query_size: int,
        key_size: int,
        kind: AttentionKind = "additive",
        attention_size: int | None = None,
    ) -> None:
        super().__init__()
        check_size("query_size", query_size)
        check_size("key_size", key_size)
        if kind not in KINDS:
            raise ValueError(f"Attention: kind must be one of {list(KINDS)}, got {kind!r}")
        if attention_size is not None and kind != "additive":
            raise ValueError(f"Attention: attention_size applies to kind='additive' only, got kind={kind!r}")
        if kind == "dot" and query_size != key_size:
            raise ValueError(
                f"Attention: kind='dot' needs query_size == key_size, got {query_size} and {key_size} "
                "(use kind='general' to learn a map between them)"
            )
        self.query_size, self.key_size, self.kind = query_size, key_size, kind
        self.query_proj = self.v = None
        if kind == "additive":
            self.attention_size = query_size if attention_size is None else attention_size
            check_size("attention_size", self.attention_size)
            self.query_proj = nn.Linear(query_size, self.attention_size, bias=False)
            self.key_proj = nn.Linear(key_size, self.attention_size)
            self.v = nn.Linear(self.attention_size, 1, bias=False)
        elif kind == "general":
            self.key_proj = nn.Linear(key_size, query_size, bias=False)
        else:
            self.key_proj = None

    def project_keys(self, keys: Tensor) -> Tensor:
        """The key-only part of the score, ``U k + b`` (additive), ``W k`` (general) or ``k`` (dot).

        Shape: ``keys (B, S, Hk)`` -> ``(B, S, A)``, ``(B, S, Hq)`` or ``(B, S, Hk)``.
        """
        self._check_keys(keys)
        return keys if self.key_proj is None else self.key_proj(keys)

    def forward(
        self,
        query: Tensor,
        keys: Tensor,
        key_lengths: Tensor | None = None,
        key_padding_mask: Tensor | None = None,
        projected_keys: Tensor | None = None,
    ) -> tuple[Tensor, Tensor]:
        """Context vector(s) and attention weights; see the class docstring for shapes.

        ``projected_keys`` is :meth:`project_keys` of the same ``keys``, to skip recomputing it.
        With neither ``key_lengths`` nor ``key_padding_mask`` every key is valid.
        """
        self._check_keys(keys)
        single = query.dim() == 2
        if query.dim() not in (2, 3) or query.size(0) != keys.size(0) or query.size(-1) != self.query_size:
            raise ValueError(
                f"Attention: query must have shape ({keys.size(0)}, {self.query_size}) or "
                f"({keys.size(0)}, T, {self.query_size}), got {tuple(query.shape)}"
            )
        valid = self._valid(keys, key_lengths, key_padding_mask)  # (B, S) or None
        if projected_keys is None:
            projected_keys = self.project_keys(keys)
        q = query.unsqueeze(1) if single else query  # (B, T, Hq)
        if self.kind == "additive":
            hidden = torch.tanh(self.query_proj(q).unsqueeze(2) + projected_keys.unsqueeze(1))  # (B, T, S, A)
            scores = self.v(hidden).squeeze(-1)  # (B, T, S)
        else:
            scores = torch.bmm(q, projected_keys.transpose(1, 2))  # (B, T, S)
        if valid is not None:
            scores = scores.masked_fill(~valid.unsqueeze(1), float("-inf"))
            keys = keys.masked_fill(~valid.unsqueeze(2), 0.0)  # so padding (even inf/nan) cannot leak in
        weights = torch.softmax(scores, dim=-1)  # exactly 0 where the score is -inf
        context = torch.bmm(weights, keys)  # (B, T, Hk)
        if single:
            return context.squeeze(1), weights.squeeze(1)
        return context, weights

    def _check_keys(self, keys: Tensor) -> None:
        if not isinstance(keys, Tensor):
            raise TypeError(f"Attention: keys must be a Tensor (B, S, Hk), got {type(keys).__name__}")
        if keys.dim() != 3 or keys.size(-1) != self.key_size:
            raise ValueError(
                f"Attention: keys must have shape (B, S, {self.key_size}), got {tuple(keys.shape)}"
            )

    @staticmethod
    def _valid(keys: Tensor, key_lengths: Tensor | None, key_padding_mask: Tensor | None) -> Tensor | None:
        """Boolean ``(B, S)``, True on the keys to attend to (None: all)."""
        batch, steps = keys.shape[:2]
        if key_lengths is not None and key_padding_mask is not None:
            raise ValueError("Attention: give key_lengths or key_padding_mask, not both")
        if key_lengths is not None:
            check_lengths(key_lengths, batch, steps)
            return torch.arange(steps, device=keys.device).unsqueeze(0) < key_lengths.to(
                keys.device
            ).unsqueeze(1)
        if key_padding_mask is not None:
            if key_padding_mask.dtype != torch.bool or key_padding_mask.shape != (batch, steps):
                raise ValueError(
                    f"Attention: key_padding_mask must be a bool tensor of shape ({batch}, {steps}), got "
                    f"{key_padding_mask.dtype} {tuple(key_padding_mask.shape)}"
                )
            valid = ~key_padding_mask.to(keys.device)
            if not bool(valid.any(dim=1).all()):
                raise ValueError(
                    "Attention: key_padding_mask masks every key of some sequence (nothing to attend)"
                )
            return valid
        return None
