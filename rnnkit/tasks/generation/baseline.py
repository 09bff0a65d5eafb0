r"""Generation: the baselines its scores are reported beside.

Class conditioning: an interpolated Kneser-Ney n-gram model per class (Chen & Goodman 1999), over the same
token ids as the network, ``<eos>`` included, so perplexities compare event for event. With discount D,
c(h, w) the count of w after the context h (the last n-1 tokens, ``<bos>``-padded at the start):

    P(w | h) = max(c(h, w) − D, 0) / c(h)  +  D · N₁₊(h •) / c(h) · P(w | h′)     (h′: h less its first token)
    lower orders use continuation counts: c(h′, w) = N₁₊(• h′ w), the distinct tokens seen before h′ w
    P(w | ()) interpolates the same way with the uniform 1 / V over the V tokens that can occur

Vector conditioning: the caption of the nearest training vector (1-NN, Euclidean, on the features as the
model reads them) and the most frequent training caption.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence

import numpy as np
import torch
from torch import Tensor

from rnnkit.data.vocab import BOS, EOS, PAD


class KneserNey:
    """An interpolated Kneser-Ney n-gram model of token-id sequences (each scored with ``<eos>``).

    Args:
        sequences: token ids per text, without ``<bos>`` / ``<eos>`` (they are added).
        vocab_size: the vocabulary's size; every id but ``<pad>`` and ``<bos>`` can occur.
        order: n (2: bigram).
        discount: D, in (0, 1).

    Example:
        >>> model = KneserNey([[4, 5], [4, 5], [4, 6]], vocab_size=7, order=2)
        >>> # P(5|4) = (2 − D) / 3 + D · 2/3 · P(5), P(5) = (1 − D) / 5 + D · 4/5 · 1/5 (5 tokens can occur)
        >>> round(model.probability(5, (4,)), 3), round(model.probability(6, (4,)), 3)
        (0.502, 0.168)
        >>> round(float(model.distribution((4,)).sum()), 9)
        1.0
    """

    def __init__(self, sequences: Sequence[Sequence[int]], vocab_size: int, order: int = 2,
                 discount: float = 0.75) -> None:  # fmt: skip
        if order < 1:
            raise ValueError(f"KneserNey.order must be >= 1, got {order}")
        if not 0.0 < discount < 1.0:
            raise ValueError(f"KneserNey.discount must be in (0, 1), got {discount}")
        self.order, self.discount, self.vocab_size = order, discount, vocab_size
        self.support = np.ones(vocab_size, dtype=bool)
        self.support[[PAD, BOS]] = False
        highest: dict[tuple[int, ...], Counter] = defaultdict(Counter)
        for ids in sequences:
            padded = [BOS] * (order - 1) + list(ids) + [EOS]
            for t in range(order - 1, len(padded)):
                highest[tuple(padded[t - order + 1 : t])][padded[t]] += 1
        # counts[k]: context of k tokens -> Counter(next token); lower orders from continuation counts
        self.counts: list[dict[tuple[int, ...], Counter]] = [defaultdict(Counter) for _ in range(order)]
        self.counts[order - 1] = highest
        for k in range(order - 1, 0, -1):
            for context, nexts in self.counts[k].items():
                for w in nexts:
                    self.counts[k - 1][context[1:]][w] += 1  # one more distinct left neighbour of (h′, w)
        self.totals = [{h: (sum(c.values()), len(c)) for h, c in level.items()} for level in self.counts]
        self._cache: dict[tuple[int, ...], np.ndarray] = {}

    def probability(self, token: int, context: Sequence[int]) -> float:
        """P(token | context), the context's last ``order - 1`` tokens used (fewer: ``<bos>``-padded)."""
        history = self._history(context)
        p = 1.0 / int(self.support.sum())
        for k in range(self.order):  # from the empty context up
            h = history[len(history) - k :] if k else ()
            nexts = self.counts[k].get(h)
            if not nexts:
                continue
            total, types = self.totals[k][h]
            p = max(nexts.get(token, 0) - self.discount, 0.0) / total + self.discount * types / total * p
        return p

    def distribution(self, context: Sequence[int]) -> np.ndarray:
        """P(· | context) over the whole vocabulary, ``(V,)`` (zero for ``<pad>`` and ``<bos>``)."""
        history = self._history(context)
        if history in self._cache:
            return self._cache[history]
        p = self.support / self.support.sum()
        for k in range(self.order):
            h = history[len(history) - k :] if k else ()
            nexts = self.counts[k].get(h)
            if not nexts:
                continue
            total, types = self.totals[k][h]
            p = self.discount * types / total * p
            ids = np.fromiter(nexts.keys(), dtype=np.int64, count=len(nexts))
            p[ids] += np.maximum(np.fromiter(nexts.values(), dtype=np.float64, count=len(nexts))
                                 - self.discount, 0.0) / total  # fmt: skip
        if len(self._cache) < 50_000:
            self._cache[history] = p
        return p

    def _history(self, context: Sequence[int]) -> tuple[int, ...]:
        n = self.order - 1
        if n == 0:
            return ()
        history = [BOS] * n + list(context)
        return tuple(history[len(history) - n :])

    def nll(self, ids: Sequence[int]) -> tuple[float, int]:
        """``(summed −ln P in nats, tokens scored)`` of one text: its tokens, then ``<eos>``."""
        total, context = 0.0, []
        for token in [*ids, EOS]:
            total -= float(np.log(self.probability(token, context)))
            context.append(token)
        return total, len(ids) + 1

    def sample(self, count: int, max_tokens: int, temperature: float = 1.0, top_k: int | None = None,
               seed: int = 0) -> list[list[int]]:  # fmt: skip
        """``count`` texts drawn token by token until ``<eos>`` (not included) or ``max_tokens`` tokens,
        from ``P(·|h) ** (1 / temperature)`` restricted to the ``top_k`` most likely tokens, as the
        network's sampler does; reproducible with ``seed``."""
        from rnnkit.models.decoding import filter_logits

        generator = torch.Generator().manual_seed(seed)
        out = []
        for _ in range(count):
            ids: list[int] = []
            while len(ids) < max_tokens:
                with np.errstate(divide="ignore"):  # <pad> and <bos>: probability 0, logit -inf
                    logits = torch.from_numpy(np.log(self.distribution(ids))).unsqueeze(0)  # (1, V)
                probs = filter_logits(logits / temperature, top_k).softmax(-1)
                token = int(torch.multinomial(probs, 1, generator=generator))
                if token == EOS:
                    break
                ids.append(token)
            out.append(ids)
        return out


def nearest_neighbour_captions(train: Tensor, captions: Sequence[str], queries: Tensor,
                               chunk: int = 1024) -> list[str]:  # fmt: skip
    """The caption of each query's nearest training vector (Euclidean; ties: the first).

    Example:
        >>> train = torch.tensor([[0.0, 0.0], [5.0, 5.0]])
        >>> nearest_neighbour_captions(train, ["zero", "five"], torch.tensor([[4.0, 6.0], [1.0, 0.0]]))
        ['five', 'zero']
    """
    out = []
    for start in range(0, len(queries), chunk):
        nearest = torch.cdist(queries[start : start + chunk].double(), train.double()).argmin(dim=1)
        out += [captions[int(k)] for k in nearest]
    return out


def most_frequent_caption(captions: Sequence[str]) -> str:
    """The most frequent training caption (ties: the first seen).

    Example:
        >>> most_frequent_caption(["two", "one", "one", "two", "one"])
        'one'
    """
    return Counter(captions).most_common(1)[0][0]
