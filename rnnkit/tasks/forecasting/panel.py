"""The series as the model sees them, and their windows.

Per series, from its raw values y (NaN where missing):

    filled   y with gaps filled (data.missing: "interpolate" linearly, "mask" carried forward)
    level    log(filled) with log_transform, then, with series_column, standardised by the mean and
             standard deviation of the series' own training part: (level - shift) / scale
    observed where y is not missing (all True unless data.missing is "mask")

The model reads ``level`` and the encoded covariates; forecasts come back through ``raw``. A window holds
``history`` steps of one series and the ``horizon`` after them: windows never cross series.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor
from torch.utils.data import Dataset

from rnnkit.data.forecast_tables import fill_rule, level_of, model_level, standardiser

__all__ = [
    "Series",
    "Windows",
    "fill_rule",
    "gather",
    "level_of",
    "model_level",
    "standardiser",
    "window_items",
]


@dataclass
class Series:
    """One series ready for windows (see the module docstring); ``shift`` / ``scale`` are its level scaling
    (0 / 1 without ``series_column``), ``past`` / ``known`` its encoded covariates ``(T, width)`` or None."""

    name: str
    times: list[str]
    raw: np.ndarray
    filled: np.ndarray
    level: np.ndarray
    observed: np.ndarray
    past: np.ndarray | None
    known: np.ndarray | None
    shift: float
    scale: float
    n_train: int
    n_fit: int
    rows: list[str]

    def __len__(self) -> int:
        return len(self.raw)

    def to_raw(self, level: np.ndarray, log_transform: bool) -> np.ndarray:
        """Model-level values back to the series' raw scale."""
        level = level * self.scale + self.shift if (self.shift, self.scale) != (0.0, 1.0) else level
        return np.exp(level) if log_transform else level


class Windows(Dataset):
    """Windows of several series as the batches the task's loss reads: ``history (T, 1)``, ``targets (H, 1)``
    and, where the run has them, ``past_covariates (T, C)`` / ``future_covariates (H, C)`` (known-future),
    ``past_only_covariates (T, P)``, ``observed (H, 1)`` (which targets count: ``missing: mask``) and
    ``series`` (the window's series, for its scaling)."""

    def __init__(self, items: dict[str, np.ndarray]) -> None:
        self.items: dict[str, Tensor] = {}
        for key, value in items.items():
            dtype = {"series": torch.long, "observed": torch.bool}.get(key, torch.float32)
            tensor = torch.as_tensor(value, dtype=dtype)
            self.items[key] = tensor.unsqueeze(-1) if key in ("history", "targets", "observed") else tensor

    @property
    def inputs(self) -> Tensor:
        return self.items["history"]

    @property
    def targets(self) -> Tensor:
        return self.items["targets"]

    def __len__(self) -> int:
        return len(self.items["history"])

    def __getitem__(self, index: int) -> dict[str, Tensor]:
        return {key: value[index] for key, value in self.items.items()}


def window_items(
    series: list[Series],
    part: str,
    history: int,
    horizon: int,
    stride: int,
    masked: bool,
    several: bool,
) -> dict[str, np.ndarray] | None:
    """The windows of ``part`` (``"train"``, ``"val"``, ``"test"``) of every series, stacked in series
    order: targets in the part, inputs reaching back before it (never into the future, never into
    another series). Training windows start every ``stride`` steps from each series' start; with
    ``masked``, a window none of whose targets was observed is left out. None: no window fits."""
    starts: list[tuple[int, int]] = []
    for k, s in enumerate(series):
        start, stop = {"train": (0, s.n_train), "val": (s.n_train, s.n_fit), "test": (s.n_fit, len(s))}[part]
        low = start - history if start else 0
        count = (stop - low - history - horizon) // stride + 1 if stop - low >= history + horizon else 0
        for w in range(count):
            begin = low + w * stride
            if masked and not s.observed[begin + history : begin + history + horizon].any():
                continue
            starts.append((k, begin))
    if not starts:
        return None
    return gather(series, starts, history, horizon, masked, several)


def gather(
    series: list[Series],
    starts: list[tuple[int, int]],
    history: int,
    horizon: int,
    masked: bool = False,
    several: bool = False,
    targets: bool = True,
) -> dict[str, np.ndarray]:
    """Window items (see :class:`Windows`) of the windows ``(series index, first step)``; without
    ``targets``, the inputs of a forecast from step ``first + history`` only (known-future covariates
    included: they must exist for the whole horizon)."""
    first = series[starts[0][0]]
    names = ["history"] + ["targets"] * targets + ["observed"] * (masked and targets)
    names += ["past_covariates", "future_covariates"] * (first.known is not None)
    names += ["past_only_covariates"] * (first.past is not None) + ["series"] * several
    pick: dict[str, list] = {name: [] for name in names}
    for k, begin in starts:
        s, inputs, after = (
            series[k],
            slice(begin, begin + history),
            slice(begin + history, begin + history + horizon),
        )
        pick["history"].append(s.level[inputs])
        for name, source, steps in (
            ("targets", s.level, after),
            ("observed", s.observed, after),
            ("past_covariates", s.known, inputs),
            ("future_covariates", s.known, after),
            ("past_only_covariates", s.past, inputs),
        ):
            if name in pick:
                pick[name].append(source[steps])
        if several:
            pick["series"].append(k)
    return {name: np.stack(values) if name != "series" else np.array(values) for name, values in pick.items()}
