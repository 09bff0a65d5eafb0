"""Decoding for any autoregressive model: greedy, sampling (temperature, top-k, top-p) and beam search.

A model exposes one step, ``step(tokens (N,), state) -> (logits (N, V), state)``, and the decoders
drive it. ``state`` is any nest of tuples / lists / dicts of tensors; beam search reorders it with
``reorder(state, index)`` (default :func:`reorder_batch`: ``index_select`` on dim 0 of every tensor;
pass ``functools.partial(reorder_batch, dim=1)`` for torch's ``(L*D, B, H)`` RNN states).

Scores are the model's log-probabilities of the generated tokens (EOS included), summed: the quantity
beam search maximises. Sampling scores use the untempered distribution too, so they compare.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor

StepFn = Callable[[Tensor, Any], tuple[Tensor, Any]]
ReorderFn = Callable[[Any, Tensor], Any]


class Decoded(NamedTuple):
    """Decoded sequences: ``tokens (B, L)`` padded with ``pad`` after EOS, ``lengths (B,)`` counting EOS,
    and ``scores (B,)``, the summed log-probabilities."""

    tokens: Tensor
    lengths: Tensor
    scores: Tensor


def reorder_batch(state: Any, index: Tensor, dim: int = 0) -> Any:
    """``index_select(dim, index)`` on every tensor in a nest of tuples / lists / dicts (None passes).

    Example:
        >>> h = torch.arange(6.0).view(3, 2)
        >>> reorder_batch((h, {"mask": h > 2}), torch.tensor([2, 2, 0]))[0]
        tensor([[4., 5.],
                [4., 5.],
                [0., 1.]])
    """
    if state is None:
        return None
    if isinstance(state, Tensor):
        return state.index_select(dim, index.to(state.device))
    if isinstance(state, dict):
        return {k: reorder_batch(v, index, dim) for k, v in state.items()}
    parts = [reorder_batch(s, index, dim) for s in state]
    return type(state)(*parts) if hasattr(state, "_fields") else type(state)(parts)


def filter_logits(logits: Tensor, top_k: int | None = None, top_p: float | None = None) -> Tensor:
    """Keep the ``top_k`` most likely tokens and/or the smallest set whose probability reaches ``top_p``
    (nucleus sampling, Holtzman et al. 2020); the rest get ``-inf``. The most likely token always stays.

    Example:
        >>> filter_logits(torch.tensor([[1.0, 3.0, 2.0]]), top_k=2)
        tensor([[-inf, 3., 2.]])
        >>> filter_logits(torch.log(torch.tensor([[0.5, 0.3, 0.2]])), top_p=0.7).isinf().tolist()
        [[False, False, True]]
    """
    if top_k is not None:
        if top_k < 1:
            raise ValueError(f"top_k must be >= 1, got {top_k}")
        kth = logits.topk(min(top_k, logits.size(-1)), dim=-1).values[..., -1:]
        logits = logits.masked_fill(logits < kth, float("-inf"))
    if top_p is not None:
        if not 0.0 < top_p <= 1.0:
            raise ValueError(f"top_p must be in (0, 1], got {top_p}")
        sorted_logits, order = logits.sort(dim=-1, descending=True)
        cumulative = sorted_logits.softmax(-1).cumsum(-1)
        drop_sorted = cumulative - sorted_logits.softmax(-1) >= top_p  # mass before this token already >= p
        drop = drop_sorted.scatter(-1, order, drop_sorted)
        logits = logits.masked_fill(drop, float("-inf"))
    return logits


def _as_batch(bos: Tensor | int, batch_size: int | None, device: torch.device | None) -> Tensor:
    if isinstance(bos, Tensor):
        return bos
    if batch_size is None:
        raise ValueError("give bos as a (B,) tensor, or an int together with batch_size")
    return torch.full((batch_size,), bos, dtype=torch.long, device=device)


def _decode_loop(
    step: StepFn,
    state: Any,
    bos: Tensor,
    max_length: int,
    eos: int | None,
    pad: int,
    pick: Callable[[Tensor], Tensor],
) -> Decoded:
    if max_length < 1:
        raise ValueError(f"max_length must be >= 1, got {max_length}")
    tokens, scores = bos, torch.zeros(bos.size(0), device=bos.device)
    finished = torch.zeros(bos.size(0), dtype=torch.bool, device=bos.device)
    lengths = torch.zeros(bos.size(0), dtype=torch.long, device=bos.device)
    out = []
    for _ in range(max_length):
        logits, state = step(tokens, state)
        log_probs = F.log_softmax(logits.float(), dim=-1)
        tokens = pick(logits)
        scores = scores + torch.where(finished, 0.0, log_probs.gather(1, tokens.unsqueeze(1)).squeeze(1))
        tokens = tokens.masked_fill(finished, pad)
        lengths = lengths + (~finished).long()
        out.append(tokens)
        if eos is not None:
            finished = finished | (tokens == eos)
            if bool(finished.all()):
                break
    return Decoded(torch.stack(out, dim=1), lengths, scores)


def greedy_decode(
    step: StepFn, state: Any, bos: Tensor | int, max_length: int, eos: int | None = None, pad: int = 0,
    batch_size: int | None = None,
) -> Decoded:  # fmt: skip
    """Pick the most likely token at every step until EOS or ``max_length``."""
    bos = _as_batch(bos, batch_size, None)
    return _decode_loop(step, state, bos, max_length, eos, pad, lambda logits: logits.argmax(-1))


TINY = torch.finfo(torch.float32).tiny  # the smallest temperature a float32 division can take


def sample_decode(
    step: StepFn, state: Any, bos: Tensor | int, max_length: int, eos: int | None = None, pad: int = 0,
    temperature: float = 1.0, top_k: int | None = None, top_p: float | None = None,
    generator: torch.Generator | None = None, batch_size: int | None = None,
) -> Decoded:  # fmt: skip
    """Sample each token from ``softmax(logits / temperature)``, optionally restricted to the top-k
    tokens and/or the top-p nucleus. A ``generator`` with a fixed seed makes the result reproducible;
    ``top_k=1`` is greedy decoding."""
    if temperature <= 0:
        raise ValueError(f"temperature must be > 0 (use greedy_decode for argmax), got {temperature}")
    bos = _as_batch(bos, batch_size, None)

    def pick(logits: Tensor) -> Tensor:
        logits = logits.float()
        # shifted so that the largest is 0 before dividing (softmax does not see a shift), by a temperature
        # float32 holds: a tiny one cannot make inf - inf or 0 / 0 (nan); it samples the argmax
        logits = (logits - logits.amax(-1, keepdim=True)) / max(temperature, TINY)
        probs = filter_logits(logits, top_k, top_p).softmax(-1)
        if generator is not None and generator.device != probs.device:
            return torch.multinomial(probs.cpu(), 1, generator=generator).squeeze(1).to(probs.device)
        return torch.multinomial(probs, 1, generator=generator).squeeze(1)

    return _decode_loop(step, state, bos, max_length, eos, pad, pick)


def length_penalty(lengths: Tensor, alpha: float) -> Tensor:
    """GNMT's length normalisation ``((5 + |Y|) / 6) ** alpha`` (Wu et al. 2016); 1 when ``alpha = 0``."""
    return ((5.0 + lengths.float()) / 6.0) ** alpha


def beam_search(
    step: StepFn, state: Any, bos: Tensor | int, max_length: int, beam_size: int, eos: int, pad: int = 0,
    alpha: float = 0.0, reorder: ReorderFn = reorder_batch, batch_size: int | None = None,
) -> Decoded:  # fmt: skip
    """Keep the ``beam_size`` best prefixes at every step; return each input's best finished sequence
    by ``score / length_penalty(length, alpha)``.

    Finished hypotheses stay in the beam, extended only by padding at no cost. The greedy sequence is
    decoded too and returned where it scores better, so a wider beam never does worse than greedy
    (plain beam search can prune the greedy prefix); ``beam_size=1`` is exactly greedy decoding.

    Args:
        step: the model's step function, see the module docstring.
        state: the state for a batch of B inputs; it is expanded to ``B * beam_size`` rows with ``reorder``.
        bos: ``(B,)`` start tokens, or an int with ``batch_size``.
        max_length: most tokens to generate (EOS included).
        beam_size: K >= 1.
        eos: the end token; pad: what fills the tokens after it.
        alpha: length-normalisation strength (0: raw log-probability, which favours short outputs).
        reorder: how to select rows of ``state`` by a ``(N,)`` index.
    """
    if beam_size < 1:
        raise ValueError(f"beam_size must be >= 1, got {beam_size}")
    bos = _as_batch(bos, batch_size, None)
    greedy = greedy_decode(step, state, bos, max_length, eos, pad)
    if beam_size == 1:
        return greedy
    B, K, device = bos.size(0), beam_size, bos.device
    state = reorder(state, torch.arange(B, device=device).repeat_interleave(K))
    tokens = bos.repeat_interleave(K)  # (B*K,)
    scores = torch.full((B, K), float("-inf"), device=device)
    scores[:, 0] = 0.0  # all beams start identical: keep one alive so the first step does not repeat it
    finished = torch.zeros(B, K, dtype=torch.bool, device=device)
    lengths = torch.zeros(B, K, dtype=torch.long, device=device)
    history, pointers = [], []
    for _ in range(max_length):
        logits, state = step(tokens, state)
        log_probs = F.log_softmax(logits.float(), dim=-1).view(B, K, -1)  # (B, K, V)
        vocab = log_probs.size(-1)
        pad_only = torch.full_like(log_probs[0, 0], float("-inf")).index_fill(
            0, torch.tensor([pad], device=device), 0.0
        )
        log_probs = torch.where(finished.unsqueeze(-1), pad_only, log_probs)
        candidates = (scores.unsqueeze(-1) + log_probs).view(B, K * vocab)
        scores, flat = candidates.topk(K, dim=1)  # (B, K)
        beam, token = flat // vocab, flat % vocab
        was_finished = finished.gather(1, beam)
        lengths = lengths.gather(1, beam) + (~was_finished).long()
        finished = was_finished | (token == eos)
        history.append(token)
        pointers.append(beam)
        rows = (beam + torch.arange(B, device=device).unsqueeze(1) * K).view(-1)
        state, tokens = reorder(state, rows), token.view(-1)
        if bool(finished.all()):
            break
    normalised = scores / length_penalty(lengths, alpha)
    best = normalised.argmax(dim=1)  # (B,)
    out, index = [], best
    for token, beam in zip(reversed(history), reversed(pointers)):  # follow the back-pointers
        out.append(token.gather(1, index.unsqueeze(1)).squeeze(1))
        index = beam.gather(1, index.unsqueeze(1)).squeeze(1)
    beam_tokens = torch.stack(out[::-1], dim=1)
    beam_lengths = lengths.gather(1, best.unsqueeze(1)).squeeze(1)
    beam_scores = scores.gather(1, best.unsqueeze(1)).squeeze(1)
    return _prefer_greedy(Decoded(beam_tokens, beam_lengths, beam_scores), greedy, alpha, pad)


def _prefer_greedy(beam: Decoded, greedy: Decoded, alpha: float, pad: int) -> Decoded:
    """Per input, the better of the beam result and the greedy result (by normalised score)."""
    take_greedy = greedy.scores / length_penalty(greedy.lengths, alpha) > beam.scores / length_penalty(
        beam.lengths, alpha
    )
    width = max(beam.tokens.size(1), greedy.tokens.size(1))
    beam_tokens = F.pad(beam.tokens, (0, width - beam.tokens.size(1)), value=pad)
    greedy_tokens = F.pad(greedy.tokens, (0, width - greedy.tokens.size(1)), value=pad)
    return Decoded(
        torch.where(take_greedy.unsqueeze(1), greedy_tokens, beam_tokens),
        torch.where(take_greedy, greedy.lengths, beam.lengths),
        torch.where(take_greedy, greedy.scores, beam.scores),
    )
