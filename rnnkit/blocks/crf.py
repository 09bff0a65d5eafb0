r"""Linear-chain conditional random field (Lafferty et al. 2001) over per-step emission scores.

Put on top of a BiLSTM it is the BiLSTM-CRF tagger of Lample et al. (2016): the network scores each tag at
each step (the emissions ``E``), the CRF adds a learned score for every pair of neighbouring tags (the
transitions ``A``) and for the first and last tag (``a_start``, ``a_end``). For a sequence of length n with
tags y_1 … y_n:

    s(E, y) = a_start[y_1] + Σ_{t=1..n} E[t, y_t] + Σ_{t=2..n} A[y_{t-1}, y_t] + a_end[y_n]
    p(y | E) = exp s(E, y) / Z(E),      log Z(E) = log Σ_{y'} exp s(E, y')    (K^n paths)

Forward algorithm (log space, O(n K²) instead of K^n):

    α_1(j) = a_start[j] + E[1, j]
    α_t(j) = E[t, j] + logsumexp_i (α_{t-1}(i) + A[i, j])
    log Z  = logsumexp_j (α_n(j) + a_end[j])

Viterbi decoding: the same recursion with max instead of logsumexp, keeping the argmax
ψ_t(j) = argmax_i (δ_{t-1}(i) + A[i, j]) and following it back from argmax_j (δ_n(j) + a_end[j]).

Everything is vectorised over the batch and loops only over time. Padding (steps at or past a sequence's
length) changes nothing: padded emissions are ignored, padded steps carry α and δ through unchanged and
their back-pointers are the identity.

Constraints: a boolean ``(K + 2, K + 2)`` mask of allowed transitions, row = from, column = to, where index
``K`` is START and ``K + 1`` is END (``mask[K, j]``: may a sequence begin with j; ``mask[i, K + 1]``: may it
end with i). A disallowed transition scores ``FORBIDDEN`` (a large negative number, not -inf, so that
gradients and log-likelihoods of forbidden paths stay finite) in the score, the partition function and
Viterbi. :func:`iob_constraints` builds the mask from IOB1 / IOB2 / BIOES tag names.
"""

from __future__ import annotations

from typing import Literal

import torch
from torch import Tensor, nn

from rnnkit.layers.masking import check_lengths

FORBIDDEN = -10000.0
"""Score of a disallowed transition: exp(-1e4) is 0 in float32 and float64, yet gradients stay finite."""

Scheme = Literal["IOB1", "IOB2", "BIOES"]
_PREFIXES = {"IOB1": "BI", "IOB2": "BI", "BIOES": "BIES"}


class LinearChainCRF(nn.Module):
    r"""A linear-chain CRF over ``num_tags`` tags: log-likelihood for training, Viterbi for decoding.

    See the module docstring for the equations. ``forward`` is :meth:`log_likelihood`.

    Args:
        num_tags: K, the number of tags.
        constraints: optional boolean ``(K + 2, K + 2)`` mask of allowed transitions (index K is START,
            K + 1 is END), e.g. from :func:`iob_constraints`. None allows every transition. Kept as a
            buffer, so it is saved with the model.

    Shape:
        emissions ``(B, T, K)``, tags ``(B, T)`` integer, lengths ``(B,)`` integer in ``[1, T]`` or None
        (all T steps valid).

    Example:
        >>> crf = LinearChainCRF(3, iob_constraints(["O", "B-PER", "I-PER"]))
        >>> emissions = torch.randn(2, 4, 3)
        >>> lengths = torch.tensor([4, 2])
        >>> crf.log_likelihood(emissions, torch.tensor([[1, 2, 2, 0], [0, 1, 0, 0]]), lengths).shape
        torch.Size([2])
        >>> paths, scores = crf.viterbi_decode(emissions, lengths)
        >>> paths[1, 2:].tolist()  # padding is -1
        [-1, -1]
        >>> crf.viterbi_decode(torch.tensor([[[0.0, 1.0, 5.0]]]))[0].tolist()  # I-PER cannot start
        [[1]]
    """

    def __init__(self, num_tags: int, constraints: Tensor | None = None) -> None:
        super().__init__()
        if isinstance(num_tags, bool) or not isinstance(num_tags, int) or num_tags < 1:
            raise ValueError(f"LinearChainCRF: num_tags must be a positive int, got {num_tags!r}")
        self.num_tags = num_tags
        size = num_tags + 2
        if constraints is None:
            constraints = torch.ones(size, size, dtype=torch.bool)
        elif not isinstance(constraints, Tensor) or constraints.dtype != torch.bool:
            raise TypeError(
                f"LinearChainCRF: constraints must be a bool Tensor, got "
                f"{getattr(constraints, 'dtype', type(constraints).__name__)}"
            )
        elif constraints.shape != (size, size):
            raise ValueError(
                f"LinearChainCRF: constraints must have shape (K + 2, K + 2) = ({size}, {size}) "
                f"(index K is START, K + 1 is END), got {tuple(constraints.shape)}"
            )
        self.register_buffer("constraints", constraints.clone())
        self.transitions = nn.Parameter(torch.empty(num_tags, num_tags))  # A[from, to]
        self.start_transitions = nn.Parameter(torch.empty(num_tags))
        self.end_transitions = nn.Parameter(torch.empty(num_tags))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Uniform(-0.1, 0.1) transition scores, as pytorch-crf."""
        for p in (self.transitions, self.start_transitions, self.end_transitions):
            nn.init.uniform_(p, -0.1, 0.1)

    def extra_repr(self) -> str:
        allowed = int(self.constraints[: self.num_tags + 1, : self.num_tags].sum())
        allowed += int(self.constraints[: self.num_tags, self.num_tags + 1].sum())
        total = (self.num_tags + 2) * self.num_tags
        return f"num_tags={self.num_tags}, allowed_transitions={allowed}/{total}"

    def constrained_scores(self) -> tuple[Tensor, Tensor, Tensor]:
        """``(A (K, K), a_start (K,), a_end (K,))`` with disallowed entries set to ``FORBIDDEN``."""
        k, allowed = self.num_tags, self.constraints
        return (
            self.transitions.masked_fill(~allowed[:k, :k], FORBIDDEN),
            self.start_transitions.masked_fill(~allowed[k, :k], FORBIDDEN),
            self.end_transitions.masked_fill(~allowed[:k, k + 1], FORBIDDEN),
        )

    def forward(self, emissions: Tensor, tags: Tensor, lengths: Tensor | None = None) -> Tensor:
        """Same as :meth:`log_likelihood`."""
        return self.log_likelihood(emissions, tags, lengths)

    def log_likelihood(self, emissions: Tensor, tags: Tensor, lengths: Tensor | None = None) -> Tensor:
        """``log p(tags | emissions) = s(E, y) - log Z(E)`` per sequence, shape ``(B,)``."""
        return self.score(emissions, tags, lengths) - self.log_partition(emissions, lengths)

    def score(self, emissions: Tensor, tags: Tensor, lengths: Tensor | None = None) -> Tensor:
        """``s(E, y)`` of the given tag paths, shape ``(B,)``; tags past a length are ignored (may be -1)."""
        emissions, mask, lengths = self._prepare(emissions, lengths)
        if not isinstance(tags, Tensor) or tags.dtype.is_floating_point or tags.dtype == torch.bool:
            raise TypeError(
                f"LinearChainCRF: tags must be an integer Tensor, got {getattr(tags, 'dtype', tags)}"
            )
        if tags.shape != mask.shape:
            raise ValueError(f"LinearChainCRF: tags must have shape (B, T) = {tuple(mask.shape)}, "
                             f"got {tuple(tags.shape)}")  # fmt: skip
        tags = tags.to(emissions.device).long()
        if bool((((tags < 0) | (tags >= self.num_tags)) & mask).any()):
            raise ValueError(f"LinearChainCRF: tags within each length must be in [0, {self.num_tags}), "
                             f"got values {sorted(set(tags[mask].tolist()))}")  # fmt: skip
        tags = tags.masked_fill(~mask, 0)
        trans, start, end = self.constrained_scores()
        emitted = emissions.gather(2, tags.unsqueeze(2)).squeeze(2)  # (B, T); padded emissions are 0
        pairs = trans[tags[:, :-1], tags[:, 1:]].masked_fill(~mask[:, 1:], 0.0)  # (B, T-1)
        last = tags.gather(1, (lengths - 1).unsqueeze(1)).squeeze(1)  # (B,)
        return start[tags[:, 0]] + emitted.sum(1) + pairs.sum(1) + end[last]

    def log_partition(self, emissions: Tensor, lengths: Tensor | None = None) -> Tensor:
        """``log Z(E)`` by the forward algorithm, shape ``(B,)``."""
        emissions, mask, _ = self._prepare(emissions, lengths)
        trans, start, end = self.constrained_scores()
        alpha = start + emissions[:, 0]  # (B, K)
        for t in range(1, emissions.size(1)):
            # (B, K_from, 1) + (K_from, K_to) -> logsumexp over from -> (B, K_to)
            step = torch.logsumexp(alpha.unsqueeze(2) + trans, dim=1) + emissions[:, t]
            alpha = torch.where(mask[:, t].unsqueeze(1), step, alpha)
        return torch.logsumexp(alpha + end, dim=1)

    def viterbi_decode(self, emissions: Tensor, lengths: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """The best tag path of each sequence and its score ``s(E, y*)``.

        Returns:
            ``(paths, scores)``: paths ``(B, T)`` long, -1 past each length (``paths[b, :n].tolist()`` is the
            list for sequence b), and scores ``(B,)``.
        """
        emissions, mask, _ = self._prepare(emissions, lengths)
        trans, start, end = self.constrained_scores()
        keep = torch.arange(self.num_tags, device=emissions.device).expand(emissions.size(0), -1)
        delta = start + emissions[:, 0]  # (B, K)
        pointers = []
        for t in range(1, emissions.size(1)):
            best, argbest = (delta.unsqueeze(2) + trans).max(dim=1)  # over "from": (B, K_to)
            valid = mask[:, t].unsqueeze(1)
            delta = torch.where(valid, best + emissions[:, t], delta)
            pointers.append(torch.where(valid, argbest, keep))  # identity on padding
        scores, tag = (delta + end).max(dim=1)
        path = [tag]
        for argbest in reversed(pointers):
            tag = argbest.gather(1, tag.unsqueeze(1)).squeeze(1)
            path.append(tag)
        paths = torch.stack(path[::-1], dim=1)  # (B, T)
        return paths.masked_fill(~mask, -1), scores

    def _prepare(self, emissions: Tensor, lengths: Tensor | None) -> tuple[Tensor, Tensor, Tensor]:
        """Check shapes; return emissions with padding zeroed, the ``(B, T)`` valid mask and lengths."""
        if not isinstance(emissions, Tensor) or not emissions.dtype.is_floating_point:
            raise TypeError(f"LinearChainCRF: emissions must be a float Tensor, got "
                            f"{getattr(emissions, 'dtype', type(emissions).__name__)}")  # fmt: skip
        if emissions.dim() != 3 or emissions.size(2) != self.num_tags or emissions.size(1) < 1:
            raise ValueError(f"LinearChainCRF: emissions must have shape (B, T >= 1, K={self.num_tags}), "
                             f"got {tuple(emissions.shape)}")  # fmt: skip
        batch, steps = emissions.shape[:2]
        if lengths is None:
            lengths = torch.full((batch,), steps, dtype=torch.long, device=emissions.device)
        lengths = check_lengths(lengths, batch, steps).to(emissions.device).long()
        mask = torch.arange(steps, device=emissions.device).unsqueeze(0) < lengths.unsqueeze(1)  # (B, T)
        # masked_fill, not multiply: a NaN or inf in the padding must not leak into results or gradients
        return emissions.masked_fill(~mask.unsqueeze(2), 0.0), mask, lengths


def iob_constraints(labels: list[str] | tuple[str, ...], scheme: Scheme = "IOB2") -> Tensor:
    """The ``(K + 2, K + 2)`` allowed-transition mask for IOB-style tag names (index K START, K + 1 END).

    Labels are ``"O"`` or ``"<prefix>-<type>"``; the prefixes are B, I (IOB1, IOB2) and B, I, E, S (BIOES).

    - IOB2 (BIO): a chunk starts with B-X and continues with I-X, so I-X may only follow B-X or I-X.
    - IOB1: a chunk starts with I-X; B-X only starts a chunk right after a chunk of the same type, so B-X
      may only follow B-X or I-X (and not begin a sentence); I-X may follow anything.
    - BIOES: B-X (I-X)* E-X or S-X; I-X and E-X only after B-X or I-X; a sentence ends after O, E or S.

    Example:
        >>> labels = ["O", "B-PER", "I-PER", "B-LOC", "I-LOC"]
        >>> allowed = iob_constraints(labels)
        >>> start, end = len(labels), len(labels) + 1
        >>> # O -> I-PER, B-PER -> I-LOC, START -> I-PER
        >>> bool(allowed[0, 2]), bool(allowed[1, 4]), bool(allowed[start, 2])
        (False, False, False)
        >>> bool(allowed[1, 2]), bool(allowed[2, 3]), bool(allowed[2, end])
        (True, True, True)
    """
    if scheme not in _PREFIXES:
        raise ValueError(f"iob_constraints: scheme must be one of {sorted(_PREFIXES)}, got {scheme!r}")
    if isinstance(labels, str) or len(labels) == 0:
        raise ValueError(f"iob_constraints: labels must be a non-empty list of tag names, got {labels!r}")
    if len(set(labels)) != len(labels):
        raise ValueError(f"iob_constraints: labels must be unique, got {list(labels)}")
    parsed = [_parse_label(label, index, scheme) for index, label in enumerate(labels)]
    k = len(labels)
    allowed = torch.zeros(k + 2, k + 2, dtype=torch.bool)
    for j, (to_prefix, _) in enumerate(parsed):
        allowed[k, j] = _may_start(to_prefix, scheme)
    for i, (from_prefix, from_type) in enumerate(parsed):
        allowed[i, k + 1] = _may_end(from_prefix, scheme)
        for j, (to_prefix, to_type) in enumerate(parsed):
            allowed[i, j] = _may_follow(from_prefix, from_type, to_prefix, to_type, scheme)
    return allowed


def _parse_label(label: str, index: int, scheme: str) -> tuple[str, str | None]:
    if label == "O":
        return "O", None
    prefix, dash, entity = label.partition("-") if isinstance(label, str) else ("", "", "")
    if not dash or prefix not in _PREFIXES[scheme] or not entity:
        expected = "|".join(_PREFIXES[scheme])
        raise ValueError(
            f"iob_constraints: label {label!r} at index {index} is not 'O' or '<{expected}>-<type>' "
            f"(scheme {scheme})"
        )
    return prefix, entity


def _may_start(prefix: str, scheme: str) -> bool:
    return {"IOB1": prefix in "OI", "IOB2": prefix in "OB", "BIOES": prefix in "OBS"}[scheme]


def _may_end(prefix: str, scheme: str) -> bool:
    return prefix in "OES" if scheme == "BIOES" else True


def _may_follow(from_prefix: str, from_type, to_prefix: str, to_type, scheme: str) -> bool:
    inside_same = from_prefix in "BI" and from_type == to_type
    if scheme == "IOB1":
        return to_prefix in "OI" or (to_prefix == "B" and inside_same)
    if scheme == "IOB2":
        return to_prefix in "OB" or (to_prefix == "I" and inside_same)
    if to_prefix in "OBS":  # BIOES: a new chunk or O only after a finished one
        return from_prefix in "OES"
    return inside_same  # I-X or E-X continue B-X / I-X
