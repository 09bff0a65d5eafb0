"""Forecasting baselines: Holt-Winters exponential smoothing (the seasonal-naive forecast is
:func:`rnnkit.metrics.seasonal_naive_forecast`)."""

from __future__ import annotations

from dataclasses import dataclass
from itertools import product
from typing import Any, Literal

import numpy as np

ALPHAS = (0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.99)
BETAS = (0.0, 0.01, 0.03, 0.05, 0.1, 0.2, 0.3)
GAMMAS = (0.0, 0.05, 0.1, 0.2, 0.3, 0.5, 0.7, 0.9)


def _smooth(y: np.ndarray, season: int, kind: str, params: np.ndarray, origins=(), horizon: int = 1):
    """Run G parameter sets ``params (G, 3)`` over ``y`` at once: ``(one-step MSE (G,), forecasts
    (G, len(origins), horizon))``, the forecast from origin o using ``y[:o]`` only."""
    alpha, beta, gamma = (params[:, k : k + 1] for k in range(3))  # (G, 1)
    mult, m = kind == "multiplicative", season
    level0 = y[:m].mean()
    trend0 = (y[m : 2 * m].mean() - level0) / m if m > 1 else y[1] - y[0]
    level, trend = np.full_like(alpha, level0), np.full_like(alpha, trend0)  # (G, 1)
    first = (y[:m] / level0 if mult else y[:m] - level0) if m > 1 else np.zeros(1)
    seas = np.tile(first, (len(params), 1))  # (G, m): slot j holds the latest s_t with t % m == j
    sse, steps, wanted = (
        np.zeros(len(params)),
        np.arange(1, horizon + 1),
        {o: k for k, o in enumerate(origins)},
    )
    out = np.empty((len(params), len(origins), horizon))
    with np.errstate(all="ignore"):
        for t in range(len(y) + 1):
            if t in wanted:  # ŷ_{t-1+h} = ℓ + h·b (+ or ×) s_{t-1+h-m}
                base, s = level + trend * steps, seas[:, (t - 1 + steps) % m]
                out[:, wanted[t]] = base * s if mult else base + s
            if t == len(y):
                break
            j = t % m
            pred = (level + trend)[:, 0] * seas[:, j] if mult else (level + trend)[:, 0] + seas[:, j]
            if t >= max(m, 2 if m == 1 else 0):  # the start values were fitted to the first season
                sse += (y[t] - pred) ** 2
            deseasoned = y[t] / seas[:, j : j + 1] if mult else y[t] - seas[:, j : j + 1]
            new = alpha * deseasoned + (1 - alpha) * (level + trend)
            trend = beta * (new - level) + (1 - beta) * trend
            seas[:, j] = (gamma * (y[t] / new if mult else y[t] - new) + (1 - gamma) * seas[:, j : j + 1])[
                :, 0
            ]
            level = new
    mse = sse / max(1, len(y) - max(m, 2))
    return np.where(np.isfinite(mse), mse, np.inf), out


@dataclass(frozen=True)
class HoltWinters:
    r"""Holt-Winters exponential smoothing, additive trend, additive or multiplicative seasonality (period m):

        ℓ_t = α (y_t - s_{t-m}) + (1 - α)(ℓ_{t-1} + b_{t-1})        (multiplicative: y_t / s_{t-m})
        b_t = β (ℓ_t - ℓ_{t-1}) + (1 - β) b_{t-1}
        s_t = γ (y_t - ℓ_t) + (1 - γ) s_{t-m}                        (multiplicative: y_t / ℓ_t)
        ŷ_{t+h} = ℓ_t + h b_t + s_{t+h-m}                            (multiplicative: (ℓ_t + h b_t) · s)

    Start: ℓ = the first season's mean, b = (2nd season's mean - 1st's) / m, s = the first season less
    (over) ℓ. With m = 1, or fewer than two seasons of data, Holt's linear trend (no seasonal term).
    :meth:`fit` picks (α, β, γ) from a small grid by the one-step in-sample MSE (``mse``).

    Example:
        >>> t = np.arange(96)
        >>> y = 100 + t + 10 * np.sin(2 * np.pi * t / 12)
        >>> hw = HoltWinters.fit(y[:72], season=12)
        >>> err = np.abs(hw.forecast(y, origins=[72, 84], horizon=12) - y[72:].reshape(2, 12)).max()
        >>> hw.seasonality, bool(err < 1.0)
        ('additive', True)
    """

    alpha: float
    beta: float
    gamma: float
    season: int
    seasonality: Literal["additive", "multiplicative", "none"]
    mse: float

    @classmethod
    def fit(cls, y: Any, season: int, seasonality: str = "auto") -> HoltWinters:
        """Grid-search the smoothing parameters on ``y`` (the training values only)."""
        y = np.asarray(y, dtype=np.float64)
        if len(y) < 3:
            raise ValueError(f"HoltWinters.fit needs at least 3 values, got {len(y)}")
        if season == 1 or len(y) < 2 * season:
            kinds, season = ["none"], 1
        elif seasonality == "auto":
            kinds = ["additive", "multiplicative"] if (y > 0).all() else ["additive"]
        else:
            kinds = [seasonality]
        best = None
        for kind in kinds:
            gammas = (0.0,) if kind == "none" else GAMMAS
            grid = np.array(list(product(ALPHAS, BETAS, gammas)))
            mse, _ = _smooth(y, season, kind, grid)
            k = int(mse.argmin())
            if best is None or mse[k] < best.mse:
                best = cls(*(float(v) for v in grid[k]), season, kind, float(mse[k]))
        return best

    def forecast(self, y: Any, origins: list[int], horizon: int) -> np.ndarray:
        """Forecasts ``(len(origins), horizon)``: from each origin o, the ``horizon`` values after ``y[:o]``
        (``y`` starts where the fitted series started; only values before each origin are used)."""
        params = np.array([[self.alpha, self.beta, self.gamma]])
        kind = "additive" if self.seasonality == "none" else self.seasonality
        return _smooth(np.asarray(y, dtype=np.float64), self.season, kind, params, origins, horizon)[1][0]

    def describe(self) -> str:
        name = "Holt (trend only)" if self.seasonality == "none" else f"Holt-Winters {self.seasonality}"
        return f"{name}, m={self.season}, alpha={self.alpha:g}, beta={self.beta:g}, gamma={self.gamma:g}"


# ----- ridge on lags and covariates ----------------------------------------------------------------------
RIDGE_ALPHAS = (1e-4, 1e-3, 1e-2, 1e-1, 1.0, 10.0)


def ridge_features(
    items: dict[str, np.ndarray], categories: dict[str, tuple[int, ...]] | None = None
) -> np.ndarray:
    """``(W, F)``: per window, its ``history`` levels (the lags), its past-only covariates over the same
    steps and its known-future covariates over the horizon, flattened (window items of
    :func:`rnnkit.tasks.forecasting.panel.gather`). Category id columns (the last ``len(categories[name])``
    of a stream, as the model reads them with ``encoding: embedding``) become one-hot columns: an id is no
    number to weigh.

    Example:
        >>> items = {"history": np.zeros((1, 2)), "future_covariates": np.array([[[0.5, 2.0]]])}
        >>> ridge_features(items, {"future_covariates": (3,)}).tolist()
        [[0.0, 0.0, 0.5, 0.0, 0.0, 1.0]]
    """
    parts = [items["history"].reshape(len(items["history"]), -1)]
    for name in ("past_only_covariates", "future_covariates"):
        if name in items:
            values, sizes = items[name], (categories or {}).get(name, ())
            numeric = values.shape[-1] - len(sizes)
            columns = [values[..., :numeric]]
            for k, size in enumerate(sizes):
                ids = values[..., numeric + k].astype(np.int64)
                columns.append((ids[..., None] == np.arange(size)).astype(np.float64))
            parts.append(np.concatenate(columns, axis=-1).reshape(len(values), -1))
    return np.concatenate(parts, axis=1).astype(np.float64)


@dataclass(frozen=True)
class RidgeBaseline:
    r"""A linear multivariate forecast: ridge regression of the next H levels on lagged levels and covariates.

        ŷ_{o+h} = b_h + Σ_k w_{h,k} f_k(o),   h = 1 .. H,   f = (x - mean) / std of the features
        w = argmin (1/n) Σ_windows ||y - ŷ||² + α ||w||²  =  (ZᵀZ/n + α I)⁻¹ Zᵀ(Y - Ȳ)/n

    Features (:func:`ridge_features`): the window's ``history`` levels (what the model reads: ``log y`` with
    ``log_transform``, per-series standardised with ``series_column``), the past-only covariates over those
    steps and the known-future covariates of the horizon. Fitted in closed form on every training window
    of every series (one eigendecomposition of ZᵀZ/n serves every α); α from :data:`RIDGE_ALPHAS` by the
    validation windows' MSE (0.01 without validation).

    Example:
        >>> rng = np.random.default_rng(0)
        >>> x = rng.normal(size=(200, 3, 1)); y = 2 * x[:, -1] + 0.5
        >>> ridge = RidgeBaseline.fit({"history": x[:150]}, y[:150], {"history": x[150:]}, y[150:])
        >>> ridge.alpha, bool(np.abs(ridge.predict({"history": x}) - y).max() < 0.01)
        (0.0001, True)
    """

    weights: np.ndarray  # (F, H)
    bias: np.ndarray  # (H,)
    mean: np.ndarray  # (F,)
    std: np.ndarray  # (F,)
    alpha: float
    categories: dict[str, tuple[int, ...]]

    @classmethod
    def fit(
        cls,
        train: dict[str, np.ndarray],
        targets: np.ndarray,
        val: dict[str, np.ndarray] | None = None,
        val_targets: np.ndarray | None = None,
        categories: dict[str, tuple[int, ...]] | None = None,
    ) -> RidgeBaseline:
        """Fit on training window items and their targets ``(W, H)``; choose α on the validation ones.
        ``categories``: the sizes of each stream's category id columns (:func:`ridge_features`)."""
        categories = dict(categories or {})
        x, y = (
            ridge_features(train, categories),
            np.asarray(targets, dtype=np.float64).reshape(len(targets), -1),
        )
        mean, std = x.mean(0), x.std(0)
        std = np.where(std > 1e-12, std, 1.0)
        z, y_mean = (x - mean) / std, y.mean(0)
        gram, cross = z.T @ z / len(z), z.T @ (y - y_mean) / len(z)  # (F, F), (F, H): one pass over the data
        eigenvalues, v = np.linalg.eigh(gram)  # Zᵀ Z / n = V diag(s² / n) Vᵀ
        projected = v.T @ cross
        candidates = []
        for alpha in RIDGE_ALPHAS if val is not None else (1e-2,):
            weights = v @ (projected / (np.maximum(eigenvalues, 0.0) + alpha)[:, None]) / std[:, None]
            candidates.append(cls(weights, y_mean - (mean @ weights), mean, std, alpha, categories))
        if val is None:
            return candidates[0]
        truth = np.asarray(val_targets, dtype=np.float64).reshape(len(val_targets), -1)
        errors = [float(((r.predict(val) - truth) ** 2).mean()) for r in candidates]
        return candidates[int(np.argmin(errors))]

    def predict(self, items: dict[str, np.ndarray]) -> np.ndarray:
        """Forecast levels ``(W, H)`` of window items (targets not needed)."""
        return ridge_features(items, self.categories) @ self.weights + self.bias

    def describe(self, lags: int, past: int, future: int) -> str:
        covariates = [f"{past} past-only" * bool(past), f"{future} known-future" * bool(future)]
        shown = " and ".join(c for c in covariates if c)
        extra = f" + {shown} covariate column(s)" if shown else ""
        return f"ridge on {lags} lags{extra}, alpha={self.alpha:g}"
