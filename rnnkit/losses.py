"""Every loss in one place. Models return predictions; these turn predictions and targets into a scalar.

Sequence losses take ``lengths (B,)`` (or a boolean ``mask (B, T)``) and average over the valid steps
only, so padding never changes a loss.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor


def valid_mask(
    lengths: Tensor | None, mask: Tensor | None, shape: torch.Size, device: torch.device
) -> Tensor | None:
    """A boolean ``(B, T)`` mask of valid steps from ``lengths`` or ``mask`` (None: all valid)."""
    if lengths is not None and mask is not None:
        raise ValueError("give lengths or mask, not both")
    if lengths is not None:
        steps = shape[1]
        return torch.arange(steps, device=device).unsqueeze(0) < lengths.to(device).unsqueeze(1)
    if mask is not None:
        if mask.shape != shape[:2]:
            raise ValueError(f"mask must have shape {tuple(shape[:2])}, got {tuple(mask.shape)}")
        return mask.to(device=device, dtype=torch.bool)
    return None


def masked_cross_entropy(
    logits: Tensor,
    targets: Tensor,
    lengths: Tensor | None = None,
    mask: Tensor | None = None,
    label_smoothing: float = 0.0,
    ignore_index: int = -100,
) -> Tensor:
    """Mean cross-entropy over valid positions.

    Args:
        logits: ``(B, C)`` for one label per sequence, or ``(B, T, C)`` for one per step.
        targets: ``(B,)`` or ``(B, T)`` class indices; ``ignore_index`` positions do not count.
        lengths / mask: which steps are valid (sequence targets only).
        label_smoothing: as ``torch.nn.functional.cross_entropy``.

    Example:
        >>> logits = torch.tensor([[[2.0, 0.0], [0.0, 2.0], [9.0, -9.0]]])
        >>> targets = torch.tensor([[0, 1, 1]])  # the third step is padding
        >>> round(masked_cross_entropy(logits, targets, lengths=torch.tensor([2])).item(), 4)
        0.1269
    """
    if logits.dim() == targets.dim() + 1 and logits.dim() == 3:
        valid = valid_mask(lengths, mask, targets.shape, targets.device)
        if valid is not None:
            targets = targets.masked_fill(~valid, ignore_index)
        logits, targets = logits.reshape(-1, logits.size(-1)), targets.reshape(-1)
    elif lengths is not None or mask is not None:
        raise ValueError("lengths/mask apply to sequence targets (B, T) with logits (B, T, C)")
    if logits.dim() != 2 or targets.shape != logits.shape[:1]:
        raise ValueError(f"logits (B, C) or (B, T, C) and targets (B,) or (B, T) expected, got "
                         f"{tuple(logits.shape)} and {tuple(targets.shape)}")  # fmt: skip
    return F.cross_entropy(logits, targets, ignore_index=ignore_index, label_smoothing=label_smoothing)


def _masked_mean(values: Tensor, valid: Tensor | None) -> Tensor:
    if valid is None:
        return values.mean()
    weights = valid.to(values.dtype).view(*valid.shape, *([1] * (values.dim() - valid.dim())))
    return (values * weights).sum() / (weights.expand_as(values).sum()).clamp(min=1)


def masked_mse(
    prediction: Tensor, target: Tensor, lengths: Tensor | None = None, mask: Tensor | None = None
) -> Tensor:
    """Mean squared error over valid steps (``(B, T, ...)`` with lengths/mask, or any shape without)."""
    valid = valid_mask(lengths, mask, prediction.shape, prediction.device)
    return _masked_mean((prediction - target) ** 2, valid)


def masked_mae(
    prediction: Tensor, target: Tensor, lengths: Tensor | None = None, mask: Tensor | None = None
) -> Tensor:
    """Mean absolute error over valid steps."""
    valid = valid_mask(lengths, mask, prediction.shape, prediction.device)
    return _masked_mean((prediction - target).abs(), valid)


def quantile_loss(prediction: Tensor, target: Tensor, quantiles: Sequence[float]) -> Tensor:
    """Pinball loss averaged over quantiles and positions (Koenker & Bassett 1978).

        L_q(y, ŷ) = max(q (y - ŷ), (q - 1) (y - ŷ))

    Args:
        prediction: ``(..., Q)``, one forecast per quantile.
        target: ``(...)``.
        quantiles: the Q levels in (0, 1), e.g. ``(0.1, 0.5, 0.9)``.

    Example:
        >>> quantile_loss(torch.tensor([[0.0, 0.0]]), torch.tensor([1.0]), (0.1, 0.9))
        tensor(0.5000)
    """
    levels = torch.as_tensor(quantiles, dtype=prediction.dtype, device=prediction.device)
    if prediction.size(-1) != levels.numel():
        raise ValueError(
            f"prediction has {prediction.size(-1)} quantile outputs, quantiles has {levels.numel()}"
        )
    if not bool(((levels > 0) & (levels < 1)).all()):
        raise ValueError(f"quantiles must lie in (0, 1), got {list(quantiles)}")
    error = target.unsqueeze(-1) - prediction
    return torch.maximum(levels * error, (levels - 1) * error).mean()


def crf_negative_log_likelihood(
    crf: torch.nn.Module, emissions: Tensor, tags: Tensor, lengths: Tensor | None, reduction: str = "mean"
) -> Tensor:
    """Negative log-likelihood ``-log p(tags | emissions) = log Z - s(emissions, tags)`` of a CRF head.

    Args:
        crf: a :class:`rnnkit.blocks.crf.LinearChainCRF` (the model's CRF head).
        emissions: ``(B, T, K)`` per-step tag scores (the tagger's output).
        tags: ``(B, T)`` gold tags; positions past each length are ignored (may hold -1 or -100).
        lengths: ``(B,)`` valid lengths, or None for all T steps.
        reduction: "mean" (over sequences), "token_mean" (sum over the batch / number of valid steps),
            "sum" or "none" (``(B,)``).

    Example:
        >>> from rnnkit.blocks.crf import LinearChainCRF
        >>> crf = LinearChainCRF(2)
        >>> loss = crf_negative_log_likelihood(crf, torch.zeros(1, 3, 2), torch.tensor([[0, 1, -1]]),
        ...                                    torch.tensor([2]))
        >>> bool(loss > 0)
        True
    """
    nll = -crf.log_likelihood(emissions, tags, lengths)
    if reduction == "none":
        return nll
    if reduction == "sum":
        return nll.sum()
    if reduction == "mean":
        return nll.mean()
    if reduction == "token_mean":
        steps = emissions.size(1) * emissions.size(0) if lengths is None else lengths.sum()
        return nll.sum() / steps
    raise ValueError(f"reduction must be 'mean', 'token_mean', 'sum' or 'none', got {reduction!r}")
