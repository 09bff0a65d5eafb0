"""SeriesScaler: per-variable affine scaling fitted once on training data and saved with the model.

    x' = (x - shift) / scale            transform
    x  = x' · scale + shift             inverse_transform

The statistics are global per variable (one ``shift`` and one ``scale`` for each of the N series, fitted on
the training data), not per window: a forecaster sees the same mapping in training and at inference, and
``shift``/``scale`` are buffers, so :func:`rnnkit.models.save_model` stores them with the weights.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import torch
from torch import Tensor, nn

ScalingName = Literal["standard", "minmax", "none"]
SCALINGS = ("standard", "minmax", "none")


class NotFittedError(RuntimeError):
    """A scaler (or a model holding one) used before its statistics were fitted."""


class SeriesScaler(nn.Module):
    """Scale each of ``num_features`` variables by statistics fitted on training data.

    Methods (``shift``, ``scale``), computed over every time step of every training series:

    - ``"standard"``: (mean, standard deviation), so the training data has mean 0 and variance 1;
    - ``"minmax"``: (min, max - min), so the training data spans [0, 1];
    - ``"none"``: (0, 1), the identity; it needs no fitting.

    A variable that is constant in the training data gets ``scale = 1`` (only shifted), as scikit-learn
    does, rather than a division by zero. NaN values in the training data are ignored (missing values or
    padding). ``scale`` is always positive, so the inverse is monotone: quantiles stay ordered.

    Args:
        num_features: N, the number of variables (the size of the feature axis).
        method: ``"standard"``, ``"minmax"`` or ``"none"``.

    Shape: ``transform``/``inverse_transform`` take any shape with N features on ``feature_dim``.

    Example:
        >>> scaler = SeriesScaler(2).fit(torch.tensor([[0.0, 10.0], [2.0, 30.0]]))
        >>> scaler.shift, scaler.scale
        (tensor([ 1., 20.]), tensor([ 1., 10.]))
        >>> scaler.transform(torch.tensor([[3.0, 40.0]]))
        tensor([[2., 2.]])
        >>> scaler.inverse_transform(torch.tensor([[2.0, 2.0]]))
        tensor([[ 3., 40.]])
    """

    def __init__(self, num_features: int, method: ScalingName = "standard") -> None:
        super().__init__()
        if isinstance(num_features, bool) or not isinstance(num_features, int) or num_features < 1:
            raise ValueError(f"SeriesScaler: num_features must be an integer >= 1, got {num_features!r}")
        if method not in SCALINGS:
            raise ValueError(f"SeriesScaler: method must be one of {list(SCALINGS)}, got {method!r}")
        self.num_features, self.method = num_features, method
        self.register_buffer("shift", torch.zeros(num_features))
        self.register_buffer("scale", torch.ones(num_features))
        self.register_buffer("fitted", torch.tensor(method == "none"))  # saved, so a loaded model knows

    @property
    def is_fitted(self) -> bool:
        """Whether ``transform`` may be used (always True for ``method="none"``)."""
        return bool(self.fitted)

    @torch.no_grad()
    def fit(self, data: Tensor | Sequence[Tensor]) -> SeriesScaler:
        """Fit ``shift`` and ``scale`` on training data; returns the scaler.

        Args:
            data: a tensor ``(..., N)`` (e.g. ``(T, N)`` or ``(B, T, N)``), or a sequence of such tensors
                (series of different lengths). Every entry except NaN counts.

        Raises:
            TypeError: ``data`` is not a tensor or a sequence of tensors.
            ValueError: a tensor without N features last, infinite values, or a variable with no values.
        """
        values = self._stack(data)  # (M, N), float64 for exact sums
        present = ~values.isnan()
        count = present.sum(0)
        if self.method == "none":
            return self
        if bool((count == 0).any()):
            empty = (count == 0).nonzero().flatten().tolist()
            raise ValueError(f"SeriesScaler.fit: no (non-NaN) values for feature(s) {empty}")
        if self.method == "standard":
            shift = values.nansum(0) / count
            spread = (((values - shift) ** 2).nan_to_num(0.0).sum(0) / count).sqrt()
        else:
            low = values.nan_to_num(float("inf")).amin(0)
            shift, spread = low, values.nan_to_num(float("-inf")).amax(0) - low
        spread = torch.where(spread > 1e-12 * shift.abs().clamp(min=1.0), spread, torch.ones_like(spread))
        self.shift.copy_(shift)
        self.scale.copy_(spread)
        self.fitted.fill_(True)
        return self

    def _stack(self, data: Tensor | Sequence[Tensor]) -> Tensor:
        parts = [data] if isinstance(data, Tensor) else data
        if not isinstance(parts, Sequence) or not parts or not all(isinstance(p, Tensor) for p in parts):
            raise TypeError(
                f"SeriesScaler.fit: data must be a tensor (..., N) or a non-empty sequence of them, "
                f"got {type(data).__name__}"
            )
        rows = []
        for part in parts:
            if part.dim() == 0 or part.size(-1) != self.num_features:
                raise ValueError(
                    f"SeriesScaler.fit: expected tensors with {self.num_features} features last (..., "
                    f"{self.num_features}), got shape {tuple(part.shape)}"
                )
            if not (part.dtype.is_floating_point or part.dtype in (torch.int32, torch.int64)):
                raise TypeError(f"SeriesScaler.fit: expected real values, got dtype {part.dtype}")
            rows.append(part.detach().to(self.shift.device, torch.float64).reshape(-1, self.num_features))
        values = torch.cat(rows)
        if bool(values.isinf().any()):
            raise ValueError("SeriesScaler.fit: data contains infinite values")
        return values

    def check_fitted(self, who: str = "SeriesScaler") -> None:
        """Raise :class:`NotFittedError` unless the statistics have been fitted (or loaded)."""
        if not self.is_fitted:
            raise NotFittedError(
                f"{who}: the {self.method!r} scaling is not fitted; fit it once on the training data "
                "before training or predicting (Forecaster.fit_scaler(series) or SeriesScaler.fit(series))"
            )

    def _stats(self, x: Tensor, feature_dim: int) -> tuple[Tensor, Tensor]:
        self.check_fitted()
        if not isinstance(x, Tensor):
            raise TypeError(f"SeriesScaler: expected a Tensor, got {type(x).__name__}")
        if x.dim() == 0 or not -x.dim() <= feature_dim < x.dim() or x.size(feature_dim) != self.num_features:
            raise ValueError(
                f"SeriesScaler: expected {self.num_features} features on dim {feature_dim}, "
                f"got shape {tuple(x.shape)}"
            )
        trailing = x.dim() - 1 - (feature_dim % x.dim())  # axes after the feature axis
        view = (self.num_features,) + (1,) * trailing
        return self.shift.to(x.dtype).view(view), self.scale.to(x.dtype).view(view)

    def transform(self, x: Tensor, feature_dim: int = -1) -> Tensor:
        """Raw values -> scaled values ``(x - shift) / scale``; ``feature_dim`` is the axis of the N
        variables (-2 for quantile forecasts ``(B, H, N, Q)``)."""
        shift, scale = self._stats(x, feature_dim)
        return (x - shift) / scale

    def inverse_transform(self, x: Tensor, feature_dim: int = -1) -> Tensor:
        """Scaled values -> raw values ``x · scale + shift``."""
        shift, scale = self._stats(x, feature_dim)
        return x * scale + shift

    def extra_repr(self) -> str:
        return f"{self.num_features}, method={self.method!r}"
