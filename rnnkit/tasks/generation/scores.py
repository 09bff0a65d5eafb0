r"""Generation: how the model's texts are scored: per-text likelihoods and caption metrics.

Each text is scored as it was trained, ``<bos> w_1 … w_n <eos>``, every token after ``<bos>`` predicted
from the condition and the tokens before it; per class c over its test texts::

    perplexity_c = exp( Σ_texts NLL / Σ_texts (n + 1) )        (NLL in nats, <eos> counted)

Captions (vector conditioning) are decoded and compared with the reference: exact match of the text,
position-wise token accuracy, corpus BLEU and chrF (sacrebleu).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from rnnkit.data.batching import IGNORE_INDEX, move_to_device
from rnnkit.metrics import bleu, chrf, exact_match, perplexity, token_accuracy


def model_inputs(batch: dict[str, Tensor]) -> dict[str, Tensor]:
    """What a conditioned :class:`SequenceGenerator` reads beside the tokens: ``labels`` or ``condition``.

    Example:
        >>> sorted(model_inputs({"inputs": 1, "labels": 2, "targets": 3}))
        ['labels']
    """
    return {key: batch[key] for key in ("labels", "condition") if key in batch}


def sequence_nll(model: nn.Module, batch: dict[str, Tensor]) -> Tensor:
    """``(B,)`` summed negative log-likelihood (nats) of each text's targets (``IGNORE_INDEX`` skipped)."""
    logits, _ = model(batch["inputs"], batch["lengths"], **model_inputs(batch))  # (B, T, V)
    nll = F.cross_entropy(logits.float().transpose(1, 2), batch["targets"], ignore_index=IGNORE_INDEX,
                          reduction="none")  # fmt: skip
    return nll.sum(dim=1)  # (B,)


@torch.no_grad()
def score_texts(model: nn.Module, loader: Iterable[dict[str, Tensor]], device: torch.device
                ) -> tuple[list[float], list[int], list[Any]]:  # fmt: skip
    """Per text of ``loader``: (summed NLL, tokens scored, its class id or None), in the loader's order."""
    nlls, counts, classes = [], [], []
    for batch in loader:
        batch = move_to_device(batch, device)
        nlls += sequence_nll(model, batch).double().cpu().tolist()
        counts += (batch["targets"] != IGNORE_INDEX).sum(dim=1).cpu().tolist()
        classes += batch["labels"].cpu().tolist() if "labels" in batch else [None] * batch["inputs"].size(0)
    return nlls, counts, classes


def perplexity_by_class(nlls: Sequence[float], counts: Sequence[int], classes: Sequence[int],
                        names: Sequence[str]) -> dict[str, dict[str, Any]]:  # fmt: skip
    """``{name: {"texts", "tokens", "perplexity"}}`` of the texts of each class id (``names[id]``).

    Example:
        >>> import math
        >>> by = perplexity_by_class([2 * math.log(4), math.log(2)], [2, 1], [0, 1], ["neg", "pos"])
        >>> round(by["neg"]["perplexity"], 6), by["pos"]["tokens"]
        (4.0, 1)
    """
    out = {}
    for k, name in enumerate(names):
        mine = [(n, c) for n, c, y in zip(nlls, counts, classes) if y == k]
        total, tokens = sum(n for n, _ in mine), sum(c for _, c in mine)
        out[name] = {"texts": len(mine), "tokens": tokens,
                     "perplexity": perplexity(total, tokens) if tokens else None}  # fmt: skip
    return out


def caption_scores(hypotheses: Sequence[Sequence[str]], references: Sequence[Sequence[str]],
                   detokenize: Any, tokenize: str) -> dict[str, float]:  # fmt: skip
    """Exact match (of the texts), token accuracy, BLEU and chrF of generated token lists against the
    references' tokens; BLEU with sacrebleu's ``tokenize`` (``"char"`` for character captions).

    Example:
        >>> hypotheses, references = [list("seven"), list("on")], [list("seven"), list("one")]
        >>> scores = caption_scores(hypotheses, references, "".join, "char")
        >>> scores["exact_match"], scores["token_accuracy"]
        (0.5, 0.875)
    """
    texts = [detokenize(h) for h in hypotheses]
    truth = [detokenize(r) for r in references]
    return {
        "exact_match": exact_match(texts, truth),
        "token_accuracy": token_accuracy(hypotheses, references),
        "bleu": bleu(texts, truth, tokenize=tokenize),
        "chrf": chrf(texts, truth),
    }
