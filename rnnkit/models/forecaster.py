r"""Forecaster: a window of a (multivariate) time series in, a horizon of forecasts out.

Notation: N target series, C known covariates per step (given for the past and the horizon: calendar, ...),
P past-only covariates (observed up to the origin only: other measurements), H horizon, Q quantile levels,
S the RNN's context size (``RNNConfig.output_size``). A window is ``history (B, T, N)`` left-aligned and
padded at the end; ``lengths[b]`` says how many steps of window b are real, and its last real step
``L_b - 1`` is the forecast origin: the forecast covers steps ``L_b, ..., L_b + H - 1``. Padded steps never
change a result (they are zeroed before the RNN, so even NaN padding is harmless).

Two modes:

- ``"direct"`` (multi-output, MQ-RNN style, Wen et al. 2017): the RNN encodes ``[y_t, x_t, z_t]`` over the
  window (x known, z past-only covariates); its final state (top layer, both directions) is the context c,
  and one linear head maps ``[c, x_{L}, ..., x_{L+H-1}]`` (the known future covariates, flattened) to all
  H·N(·Q) outputs at once. Past-only covariates reach the forecast through c alone.
- ``"autoregressive"`` (DeepAR style, Salinas et al. 2020): a one-step model

      h_t = RNN([y_t, x_{t+1}], h_{t-1}),     ŷ_{t+1} = head(h_t)

  encodes the window, then is rolled out H steps, feeding back its own prediction (the point forecast,
  or the quantile nearest 0.5) with the next step's future covariate. The carried state makes the roll-out
  O(H) single-step calls. With ``targets`` given, the true values are fed back instead (teacher forcing),
  and the H - 1 steps run as one sequence call. A bidirectional RNN cannot be rolled out: rejected.
  In training, regularisers that draw their mask per call (recurrent dropout, weight drop) draw a new one
  for each roll-out step. Past-only covariates are unknown over the horizon, so a roll-out cannot feed
  them: rejected (use ``"direct"``).

Categorical covariates: the last ``len(known_categories)`` of the C known columns (and the last
``len(past_only_categories)`` of the P past-only ones) hold category ids ``0 .. size-1`` as numbers; each is
embedded (``category_embedding_dim`` values, learnt) instead of scaled, and the embeddings take its place in
the ``x`` (``z``) above. Numeric columns come first.

Scaling (:class:`~rnnkit.models.scaling.SeriesScaler`): one (shift, scale) per series and per numeric
covariate, fitted once on the training data with :meth:`Forecaster.fit_scaler` and stored as buffers, so
they are saved with the model. ``forward`` takes raw values and returns raw-scale forecasts; everything
in between is on the scaled level. With series of very different magnitudes, take the loss on the scaled
level: ``model.scaler.transform(forecast, feature_dim=-2)`` (or ``-1`` without quantiles) against the same
of the targets.

Quantiles never cross: the head predicts the centre quantile (nearest 0.5) and positive softplus steps
outwards, ``q_{j+1} = q_j + softplus(r_{j+1})``; unscaling multiplies by a positive scale, keeping the order.
Train them with :func:`rnnkit.losses.quantile_loss`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from itertools import pairwise
from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from rnnkit.layers.factory import RNNConfig, build_rnn
from rnnkit.layers.masking import check_lengths
from rnnkit.models.io import register_model
from rnnkit.models.scaling import SCALINGS, ScalingName, SeriesScaler

_MODES = ("direct", "autoregressive")


@dataclass(frozen=True)
class ForecasterConfig:
    """The forecaster's shape and parts.

    Args:
        num_series: N >= 1 target variables forecast jointly.
        num_covariates: C >= 0 covariates known for every past and future step (calendar features, ...).
        num_past_only_covariates: P >= 0 covariates observed up to the origin only (direct mode only).
        known_categories, past_only_categories: the number of categories of each categorical covariate, the
            last columns of the C known (P past-only) ones; their ids are embedded, not scaled.
        category_embedding_dim: the size of each category embedding.
        horizon: H >= 1 steps forecast from each origin.
        mode: ``"direct"`` (one head for all H steps) or ``"autoregressive"`` (one-step model rolled out).
        quantiles: increasing levels strictly inside (0, 1), e.g. ``(0.1, 0.5, 0.9)``; None: a point forecast.
        rnn: the recurrent encoder (any cell and variant; bidirectional only in direct mode).
        dropout: on the context before the head, in [0, 1).
        scaling: ``"standard"``, ``"minmax"`` or ``"none"`` (see :class:`SeriesScaler`).

    Example:
        >>> ForecasterConfig(num_series=2, horizon=0)
        Traceback (most recent call last):
        ...
        ValueError: ForecasterConfig.horizon must be an integer >= 1, got 0
    """

    num_series: int = 1
    num_covariates: int = 0
    num_past_only_covariates: int = 0
    known_categories: tuple[int, ...] = ()
    past_only_categories: tuple[int, ...] = ()
    category_embedding_dim: int = 4
    horizon: int = 1
    mode: Literal["direct", "autoregressive"] = "direct"
    quantiles: tuple[float, ...] | None = None
    rnn: RNNConfig = field(default_factory=RNNConfig)
    dropout: float = 0.0
    scaling: ScalingName = "standard"

    def __post_init__(self) -> None:
        for name, low in (("num_series", 1), ("num_covariates", 0), ("num_past_only_covariates", 0),
                          ("category_embedding_dim", 1), ("horizon", 1)):  # fmt: skip
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise ValueError(f"ForecasterConfig.{name} must be an integer >= {low}, got {value!r}")
        for name, total in (("known_categories", "num_covariates"),
                            ("past_only_categories", "num_past_only_covariates")):  # fmt: skip
            sizes = getattr(self, name)
            if not isinstance(sizes, (tuple, list)) or not all(
                isinstance(k, int) and not isinstance(k, bool) and k >= 1 for k in sizes
            ):
                raise ValueError(
                    f"ForecasterConfig.{name} must be a tuple of category counts >= 1, got {sizes!r}"
                )
            if len(sizes) > getattr(self, total):
                raise ValueError(
                    f"ForecasterConfig.{name}: {len(sizes)} categorical columns, but {total}="
                    f"{getattr(self, total)} (they are the last columns of those covariates)"
                )
            object.__setattr__(self, name, tuple(sizes))
        if self.mode == "autoregressive" and self.num_past_only_covariates:
            raise ValueError(
                "ForecasterConfig.num_past_only_covariates must be 0 with mode='autoregressive' (a "
                "roll-out feeds each step's covariates, and past-only ones are unknown over the horizon); "
                "use mode='direct'"
            )
        if self.mode not in _MODES:
            raise ValueError(f"ForecasterConfig.mode must be one of {list(_MODES)}, got {self.mode!r}")
        if self.scaling not in SCALINGS:
            raise ValueError(
                f"ForecasterConfig.scaling must be one of {list(SCALINGS)}, got {self.scaling!r}"
            )
        if not isinstance(self.rnn, RNNConfig):
            raise ValueError(f"ForecasterConfig.rnn must be an RNNConfig, got {type(self.rnn).__name__}")
        if self.mode == "autoregressive" and self.rnn.bidirectional:
            raise ValueError(
                "ForecasterConfig.rnn.bidirectional must be False with mode='autoregressive' (a one-step "
                "roll-out cannot run backwards over steps it has not predicted yet); use mode='direct'"
            )
        if isinstance(self.dropout, bool) or not isinstance(self.dropout, (int, float)):
            raise ValueError(f"ForecasterConfig.dropout must be a number in [0, 1), got {self.dropout!r}")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"ForecasterConfig.dropout must be in [0, 1), got {self.dropout!r}")
        if self.quantiles is not None:
            object.__setattr__(self, "quantiles", _check_quantiles(self.quantiles))

    @property
    def num_outputs(self) -> int:
        """Q, outputs per step and series (1 for a point forecast)."""
        return 1 if self.quantiles is None else len(self.quantiles)


def _check_quantiles(quantiles) -> tuple[float, ...]:
    where = "ForecasterConfig.quantiles"
    if not isinstance(quantiles, (tuple, list)) or not quantiles:
        raise ValueError(f"{where} must be a non-empty tuple of levels in (0, 1) or None, got {quantiles!r}")
    if not all(isinstance(q, (int, float)) and not isinstance(q, bool) for q in quantiles):
        raise ValueError(f"{where} must hold numbers, got {quantiles!r}")
    levels = tuple(float(q) for q in quantiles)
    if not all(0.0 < q < 1.0 for q in levels):
        raise ValueError(f"{where} must lie strictly inside (0, 1), got {list(levels)}")
    if any(a >= b for a, b in pairwise(levels)):
        raise ValueError(f"{where} must be sorted and unique (strictly increasing), got {list(levels)}")
    return levels


def non_crossing(raw: Tensor, center: int) -> Tensor:
    """Map unconstrained head outputs ``(..., Q)`` to increasing quantiles.

        q_c = r_c,   q_j = q_{j-1} + softplus(r_j) for j > c,   q_j = q_{j+1} - softplus(r_j) for j < c

    Example:
        >>> non_crossing(torch.tensor([0.0, 1.0, 0.0]), center=1)
        tensor([0.3069, 1.0000, 1.6931])
    """
    mid = raw[..., center : center + 1]
    up = mid + F.softplus(raw[..., center + 1 :]).cumsum(-1)
    down = mid - F.softplus(raw[..., :center]).flip(-1).cumsum(-1).flip(-1)
    return torch.cat([down, mid, up], dim=-1)


@register_model("forecaster")
class Forecaster(nn.Module):
    """Forecast H steps of N series from a window of their past (see the module docstring for the maths).

    Call :meth:`fit_scaler` once on the training series before training; then ``forward`` takes and
    returns raw values.

    Args:
        config: a :class:`ForecasterConfig`.

    Shape:
        ``history (B, T, N)``, ``lengths (B,)`` or None, ``past_covariates (B, T, C)``,
        ``future_covariates (B, H, C)``, ``targets (B, H, N)`` -> ``(B, H, N)``, or ``(B, H, N, Q)``
        with quantiles.

    Example:
        >>> config = ForecasterConfig(num_series=2, horizon=3, quantiles=(0.1, 0.5, 0.9),
        ...                           rnn=RNNConfig(cell="gru", hidden_size=16))
        >>> model = Forecaster(config).fit_scaler(torch.randn(500, 2) * 10 + 100)
        >>> history = torch.randn(4, 12, 2) * 10 + 100
        >>> forecast = model(history, lengths=torch.tensor([12, 9, 5, 12]))
        >>> forecast.shape
        torch.Size([4, 3, 2, 3])
        >>> bool((forecast.diff(dim=-1) >= 0).all())  # quantiles never cross
        True
    """

    config_class = ForecasterConfig

    def __init__(self, config: ForecasterConfig) -> None:
        super().__init__()
        if not isinstance(config, ForecasterConfig):
            raise TypeError(f"Forecaster: config must be a ForecasterConfig, got {type(config).__name__}")
        self.config = config
        n, c, h, q = config.num_series, config.num_covariates, config.horizon, config.num_outputs
        e = config.category_embedding_dim
        self.scaler = SeriesScaler(n, config.scaling)
        # numeric columns first, category ids last; a numeric part of 0 columns has no scaler
        known, past = (
            c - len(config.known_categories),
            config.num_past_only_covariates - len(config.past_only_categories),
        )
        self.covariate_scaler = SeriesScaler(known, config.scaling) if known else None
        self.past_only_scaler = SeriesScaler(past, config.scaling) if past else None
        self.known_embeddings = nn.ModuleList(nn.Embedding(k, e) for k in config.known_categories)
        self.past_only_embeddings = nn.ModuleList(nn.Embedding(k, e) for k in config.past_only_categories)
        known_width = known + e * len(config.known_categories)  # x_t as the RNN and the head see it
        past_width = past + e * len(config.past_only_categories)  # z_t
        self.rnn = build_rnn(config.rnn, n + known_width + past_width)
        self.dropout = nn.Dropout(config.dropout)
        context = self.rnn.output_size
        if config.mode == "direct":
            self.head = nn.Linear(context + h * known_width, h * n * q)
        else:
            self.head = nn.Linear(context, n * q)
        # the quantile fed back in the roll-out and anchoring the non-crossing map: the one nearest 0.5
        levels = config.quantiles or (0.5,)
        self.center = min(range(len(levels)), key=lambda j: abs(levels[j] - 0.5))

    @classmethod
    def from_config(cls, config: ForecasterConfig) -> Forecaster:
        """Alternate constructor."""
        return cls(config)

    @torch.no_grad()
    def fit_scaler(
        self,
        series: Tensor | list[Tensor],
        covariates: Tensor | list[Tensor] | None = None,
        past_only_covariates: Tensor | list[Tensor] | None = None,
    ) -> Forecaster:
        """Fit the scaling statistics on the training data, once, before training; returns the model.

        Args:
            series: training values ``(..., N)`` or a list of series ``(T_i, N)``; NaN entries are ignored.
            covariates: the same for the C known covariates; needed when some are numeric (unless
                ``scaling="none"``). Category id columns (the last ones) are left out of the scaling.
            past_only_covariates: the same for the P past-only covariates.
        """
        self.scaler.fit(series)
        cfg = self.config
        for name, scaler, values, total in (
            ("covariates", self.covariate_scaler, covariates, cfg.num_covariates),
            (
                "past_only_covariates",
                self.past_only_scaler,
                past_only_covariates,
                cfg.num_past_only_covariates,
            ),
        ):
            if scaler is not None and values is not None:
                parts = [values] if isinstance(values, Tensor) else list(values)
                scaler.fit([part[..., : scaler.num_features] for part in parts])
            elif scaler is not None and cfg.scaling != "none":
                raise ValueError(
                    f"Forecaster.fit_scaler: {total} {name.replace('_', '-')} columns, "
                    f"{scaler.num_features} of them numeric, so {name} (..., {total}) are needed to fit "
                    "their scaling"
                )
            elif total == 0 and values is not None:
                count = "num_covariates" if name == "covariates" else "num_past_only_covariates"
                raise ValueError(f"Forecaster.fit_scaler: got {name}, but {count}=0")
        return self

    def forward(
        self,
        history: Tensor,
        lengths: Tensor | None = None,
        past_covariates: Tensor | None = None,
        future_covariates: Tensor | None = None,
        targets: Tensor | None = None,
        past_only_covariates: Tensor | None = None,
    ) -> Tensor:
        """Forecast the H steps after each window's last valid step.

        Args:
            history: ``(B, T, N)`` raw values, left-aligned, padded at the end.
            lengths: ``(B,)`` valid steps per window (the origin is step ``lengths - 1``); None: all T.
            past_covariates: ``(B, T, C)`` covariates aligned with ``history`` (required iff C > 0).
            future_covariates: ``(B, H, C)`` covariates of the forecast steps (required iff C > 0).
            targets: ``(B, H, N)`` raw true values for teacher forcing (autoregressive mode only);
                the output is still the forecast of every step, each from the true values before it.
            past_only_covariates: ``(B, T, P)`` covariates observed up to the origin only (iff P > 0).

        Returns:
            Raw-scale forecasts ``(B, H, N)``, or ``(B, H, N, Q)`` with quantiles (increasing along Q).
        """
        cfg = self.config
        past, future, observed = self._check_inputs(
            history, lengths, past_covariates, future_covariates, targets, past_only_covariates
        )
        dtype = self.head.weight.dtype
        y = self.scaler.transform(history.to(dtype))  # (B, T, N)
        batch, steps = y.shape[:2]
        given = lengths  # None keeps the layer on its unpacked (faster) path
        lengths = torch.full((batch,), steps, device=y.device) if lengths is None else lengths.to(y.device)
        valid = torch.arange(steps, device=y.device) < lengths.unsqueeze(1)  # (B, T)
        if cfg.num_covariates:
            past = self._features(past, self.covariate_scaler, self.known_embeddings, dtype)
            future = self._features(future, self.covariate_scaler, self.known_embeddings, dtype)  # (B, H, ·)
            if cfg.mode == "autoregressive":  # step t sees x_{t+1}: shift by one, x_L at the origin
                origin = (torch.arange(steps, device=y.device) == (lengths - 1).unsqueeze(1)).unsqueeze(-1)
                nxt = torch.cat([past[:, 1:], future[:, :1]], dim=1)
                past = torch.where(origin, future[:, :1], nxt)
            y = torch.cat([y, past], dim=-1)  # (B, T, N + C')
        if cfg.num_past_only_covariates:
            observed = self._features(observed, self.past_only_scaler, self.past_only_embeddings, dtype)
            y = torch.cat([y, observed], dim=-1)  # (B, T, N + C' + P')
        x = torch.where(valid.unsqueeze(-1), y, torch.zeros((), dtype=dtype, device=y.device))
        _, state = self.rnn(x, lengths=given)
        if cfg.mode == "direct":
            out = self._direct(self._context(state), future)
        else:
            out = self._rollout(
                state, future, None if targets is None else self.scaler.transform(targets.to(dtype))
            )
        if cfg.quantiles is None:
            return self.scaler.inverse_transform(out.squeeze(-1))  # (B, H, N)
        return self.scaler.inverse_transform(out, feature_dim=-2)  # (B, H, N, Q)

    @staticmethod
    def _features(values: Tensor, scaler: SeriesScaler | None, embeddings: nn.ModuleList, dtype) -> Tensor:
        """Covariate columns ``(..., numeric + K)`` as the network reads them: the numeric ones scaled,
        each category id column replaced by its embedding (NaN ids, at padded steps, read as 0)."""
        numeric = values.size(-1) - len(embeddings)
        parts = [scaler.transform(values[..., :numeric].to(dtype))] if numeric else []
        for k, embedding in enumerate(embeddings):
            column = values[..., numeric + k]
            ids = torch.where(column.isnan(), torch.zeros_like(column), column).long()
            if bool(((ids < 0) | (ids >= embedding.num_embeddings)).any()):
                bad = ids[(ids < 0) | (ids >= embedding.num_embeddings)][0].item()
                raise ValueError(
                    f"Forecaster: categorical covariate {k} (column {numeric + k}) holds id {bad}; "
                    f"expected ids in [0, {embedding.num_embeddings})"
                )
            parts.append(embedding(ids).to(dtype))
        return torch.cat(parts, dim=-1)

    def _context(self, state) -> Tensor:
        """Top layer's final state, both directions: ``(B, S)``."""
        h = state[0] if isinstance(state, tuple) else state  # (L*D, B, hs); LSTM: (h_n, c_n)
        directions = 2 if self.config.rnn.bidirectional else 1
        return h[-directions:].transpose(0, 1).reshape(h.size(1), -1)

    def _outputs(self, raw: Tensor) -> Tensor:
        """Head output ``(..., N*Q)`` -> scaled forecast ``(..., N, Q)``, quantiles non-crossing."""
        raw = raw.unflatten(-1, (self.config.num_series, self.config.num_outputs))
        return raw if self.config.quantiles is None else non_crossing(raw, self.center)

    def _direct(self, context: Tensor, future: Tensor | None) -> Tensor:
        features = self.dropout(context)
        if future is not None:
            features = torch.cat([features, future.flatten(1)], dim=-1)  # (B, S + H*C)
        raw = self.head(features).unflatten(-1, (self.config.horizon, -1))  # (B, H, N*Q)
        return self._outputs(raw)

    def _rollout(self, state, future: Tensor | None, targets: Tensor | None) -> Tensor:
        horizon = self.config.horizon
        first = self._outputs(self.head(self.dropout(self._context(state))))  # (B, N, Q)
        if horizon == 1:
            return first.unsqueeze(1)
        if targets is not None:  # teacher forcing: all H - 1 remaining steps in one call
            inputs = targets[:, :-1]  # (B, H-1, N)
            if future is not None:
                inputs = torch.cat([inputs, future[:, 1:]], dim=-1)
            out, _ = self.rnn(inputs, hx=state)  # (B, H-1, S)
            rest = self._outputs(self.head(self.dropout(out)))  # (B, H-1, N, Q)
            return torch.cat([first.unsqueeze(1), rest], dim=1)
        steps = [first]
        for k in range(1, horizon):
            step = steps[-1][..., self.center]  # (B, N): the point / centre quantile fed back
            if future is not None:
                step = torch.cat([step, future[:, k]], dim=-1)
            out, state = self.rnn(step.unsqueeze(1), hx=state)  # (B, 1, S)
            steps.append(self._outputs(self.head(self.dropout(out[:, 0]))))
        return torch.stack(steps, dim=1)  # (B, H, N, Q)

    def _check_inputs(self, history, lengths, past, future, targets, observed) -> tuple:
        cfg = self.config
        self.scaler.check_fitted("Forecaster")
        if self.covariate_scaler is not None:
            self.covariate_scaler.check_fitted("Forecaster (covariates)")
        if self.past_only_scaler is not None:
            self.past_only_scaler.check_fitted("Forecaster (past-only covariates)")
        _check_tensor("history", history, (None, None, cfg.num_series), "(B, T, N)")
        batch, steps = history.shape[:2]
        if lengths is not None:
            check_lengths(lengths, batch, steps)
        c, p, h = cfg.num_covariates, cfg.num_past_only_covariates, cfg.horizon
        for name, value, shape, axes, count in (
            ("past_covariates", past, (batch, steps, c), "(B, T, C)", ("num_covariates", c)),
            ("future_covariates", future, (batch, h, c), "(B, H, C)", ("num_covariates", c)),
            (
                "past_only_covariates",
                observed,
                (batch, steps, p),
                "(B, T, P)",
                ("num_past_only_covariates", p),
            ),
        ):
            if count[1] and value is None:
                raise ValueError(f"Forecaster: {count[0]}={count[1]}, so {name} {axes} is required")
            if not count[1] and value is not None:
                raise ValueError(f"Forecaster: got {name}, but the model has {count[0]}=0")
            if value is not None:
                _check_tensor(name, value, shape, axes)
        if targets is not None:
            if cfg.mode != "autoregressive":
                raise ValueError("Forecaster: targets (teacher forcing) apply to mode='autoregressive' only")
            _check_tensor("targets", targets, (batch, h, cfg.num_series), "(B, H, N)")
        return past, future, observed

    def extra_repr(self) -> str:
        cfg = self.config
        return f"mode={cfg.mode!r}, horizon={cfg.horizon}, quantiles={cfg.quantiles}"


def _check_tensor(name: str, value, shape: tuple, axes: str) -> None:
    """Raise unless ``value`` is a floating tensor of ``shape`` (None: any size on that axis)."""
    if not isinstance(value, Tensor):
        raise TypeError(f"Forecaster: {name} must be a Tensor {axes}, got {type(value).__name__}")
    if not value.dtype.is_floating_point:
        raise TypeError(f"Forecaster: {name} must be a floating-point tensor, got dtype {value.dtype}")
    expected = tuple(value.size(k) if s is None else s for k, s in enumerate(shape[: value.dim()]))
    if value.dim() != len(shape) or tuple(value.shape) != expected or value.size(1) == 0:
        want = "(" + ", ".join("*" if s is None else str(s) for s in shape) + ")"
        raise ValueError(f"Forecaster: {name} must have shape {axes} = {want}, got {tuple(value.shape)}")
