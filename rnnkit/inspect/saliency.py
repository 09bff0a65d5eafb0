r"""Per-token saliency of a text classifier: gradient × input on the embedding output (and, for a series
classifier, on the values themselves: :func:`series_saliency`).

For the logit ``y_k`` of class k (by default the predicted one) and the embedded tokens ``e_t ∈ R^E``:

    s_t = Σ_e (∂y_k/∂e_{t,e}) · e_{t,e}          (Simonyan et al. 2014; Shrikumar et al. 2017)

``s_t > 0``: token t pushes the model towards class k; ``s_t < 0``: away from it. It is the first-order
Taylor estimate of how much ``y_k`` would change were ``e_t`` replaced by zeros (the padding embedding). It is
taken on the embedding's *output*, so it works with a frozen embedding and with any front-end after it (a
convolution and pooling that shorten the sequence still give one score per token).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

__all__ = ["Saliency", "saliency", "series_saliency"]


@dataclass
class Saliency:
    """Scores of one batch.

    Attributes:
        scores: ``(B, T)`` gradient × input per token, zero past each length.
        target: ``(B,)`` the class whose logit was explained.
        probabilities: ``(B, K)`` the model's class probabilities.
    """

    scores: Tensor
    target: Tensor
    probabilities: Tensor


def saliency(
    model: nn.Module,
    inputs: Tensor,
    lengths: Tensor | None = None,
    target: Tensor | None = None,
    embedding: nn.Module | None = None,
    chars: Tensor | None = None,
) -> Saliency:
    """Gradient × input of a classifier's logit with respect to each embedded token.

    The model runs in eval mode (restored after) and its parameters get no ``.grad``.

    Args:
        model: ``model(inputs, lengths) -> logits (B, K)``, e.g. a :class:`rnnkit.models.SequenceClassifier`.
        inputs: ``(B, T)`` token ids.
        lengths: ``(B,)`` or None.
        target: ``(B,)`` the class to explain per sequence (None: the predicted class).
        embedding: the module whose output is ``e`` (default: ``model.embedding``).
        chars: ``(B, T, L)`` character ids, for a model with character features (passed on as
            ``model(inputs, lengths, chars=chars)``); the scores are those of the token embeddings.

    Raises:
        ValueError: no embedding module, or the model does not return ``(B, K)`` logits.

    Example:
        >>> from rnnkit.models import ClassifierConfig, SequenceClassifier
        >>> from rnnkit.layers.factory import RNNConfig
        >>> model = SequenceClassifier(ClassifierConfig(vocab_size=20, num_classes=3, embedding_dim=4,
        ...                                             rnn=RNNConfig(cell="gru", hidden_size=5)))
        >>> result = saliency(model, torch.tensor([[3, 4, 5], [6, 7, 0]]), torch.tensor([3, 2]))
        >>> result.scores.shape, result.scores[1, 2].item()
        (torch.Size([2, 3]), 0.0)
    """
    embedding = getattr(model, "embedding", None) if embedding is None else embedding
    if not isinstance(embedding, nn.Module):
        raise ValueError(
            f"saliency: {type(model).__name__} has no token embedding (model.embedding); pass embedding="
        )
    captured: list[Tensor] = []

    def hook(module: nn.Module, args: tuple, output: Tensor) -> Tensor:
        leaf = output.detach().requires_grad_(True)  # a leaf: works with a frozen embedding too
        captured.append(leaf)
        return leaf

    was_training = model.training
    model.eval()
    handle = embedding.register_forward_hook(hook)
    try:
        with torch.enable_grad():
            logits = model(inputs, lengths) if chars is None else model(inputs, lengths, chars=chars)
            if not isinstance(logits, Tensor) or logits.dim() != 2:
                raise ValueError("saliency: the model must return logits of shape (B, K)")
            chosen = logits.argmax(-1) if target is None else target.to(logits.device).long()
            score = logits.gather(1, chosen.unsqueeze(1)).sum()  # Σ_b y_{b, k_b}: sequences are independent
            (grad,) = torch.autograd.grad(score, captured[0])
    finally:
        handle.remove()
        model.train(was_training)
    scores = (grad * captured[0]).sum(-1).detach()  # (B, T)
    if lengths is not None:
        valid = torch.arange(scores.size(1), device=scores.device) < lengths.to(scores.device).unsqueeze(1)
        scores = scores * valid
    return Saliency(scores.cpu(), chosen.detach().cpu(), logits.detach().softmax(-1).cpu())


def series_saliency(
    model: nn.Module, inputs: Tensor, lengths: Tensor | None = None, target: Tensor | None = None
) -> Saliency:
    r"""Gradient × input of a series classifier's logit with respect to each step's values.

    For standardised values ``x_t ∈ R^N`` (what the model reads) and the logit ``y_k``:
    ``s_t = Σ_n (∂y_k/∂x_{t,n}) · x_{t,n}``, the first-order estimate of the change in ``y_k`` were step t
    replaced by the training mean (zeros). The model runs in eval mode (restored after); its parameters
    get no ``.grad``.

    Args:
        model: ``model(inputs, lengths) -> logits (B, K)`` reading float values.
        inputs: ``(B, T, N)`` values as the model reads them.
        lengths: ``(B,)`` or None.
        target: ``(B,)`` the class to explain (None: the predicted class).

    Raises:
        ValueError: the inputs are not float values, or the model does not return ``(B, K)`` logits.

    Example:
        >>> from rnnkit.models import ClassifierConfig, SequenceClassifier
        >>> from rnnkit.layers.factory import RNNConfig
        >>> model = SequenceClassifier(ClassifierConfig(num_classes=2, input_size=3,
        ...                                             rnn=RNNConfig(cell="lstm", hidden_size=4)))
        >>> result = series_saliency(model, torch.randn(2, 5, 3), torch.tensor([5, 3]))
        >>> result.scores.shape, result.scores[1, 4].item()
        (torch.Size([2, 5]), 0.0)
    """
    if not inputs.is_floating_point():
        raise ValueError("series_saliency: expected float values (B, T, N), got token ids")
    was_training = model.training
    model.eval()
    try:
        with torch.enable_grad():
            leaf = inputs.detach().requires_grad_(True)
            logits = model(leaf, lengths)
            if not isinstance(logits, Tensor) or logits.dim() != 2:
                raise ValueError("series_saliency: the model must return logits of shape (B, K)")
            chosen = logits.argmax(-1) if target is None else target.to(logits.device).long()
            (grad,) = torch.autograd.grad(logits.gather(1, chosen.unsqueeze(1)).sum(), leaf)
    finally:
        model.train(was_training)
    scores = (grad * leaf).sum(-1).detach()  # (B, T)
    if lengths is not None:
        valid = torch.arange(scores.size(1), device=scores.device) < lengths.to(scores.device).unsqueeze(1)
        scores = scores * valid
    return Saliency(scores.cpu(), chosen.detach().cpu(), logits.detach().softmax(-1).cpu())
