"""Covariates as the model reads them: gaps filled, categories as ids or one-hot columns, past-only and
known-future columns apart.

Each stream (past-only, known-future) becomes one array ``(T, width)``: its numeric columns first (in the
config's order), then its categorical ones, as one-hot 0/1 columns (numbers from then on, scaled with the
others) or as one column of ids each (``encoding: embedding``; the model embeds them). A category's id is
its place in the vocabulary of the training part plus one; 0 is the unknown category (unseen in training,
or missing). The vocabulary is saved with the run, so predict reads categories as training did.

Torch-free: the export runtime (:mod:`rnnkit.export.forecast_runtime`) encodes predict tables with it.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import numpy as np

from rnnkit.data.series_tables import SeriesFrame

if TYPE_CHECKING:  # the config of rnnkit.tasks.forecasting, whose package imports torch
    from rnnkit.tasks.forecasting.data import CovariateConfig


def fill_gaps(values: np.ndarray, how: str) -> np.ndarray:
    """``values (T,)`` with NaN filled: ``"interpolate"`` linearly in time (the ends take the nearest
    value), or ``"carry"`` the last value observed before (at the start, the first one observed).

    Example:
        >>> v = np.array([np.nan, 1.0, np.nan, 3.0, np.nan])
        >>> fill_gaps(v, "interpolate").tolist(), fill_gaps(v, "carry").tolist()
        ([1.0, 1.0, 2.0, 3.0, 3.0], [1.0, 1.0, 1.0, 3.0, 3.0])
    """
    values = np.array(values, dtype=np.float64)
    gaps = np.isnan(values)
    if not gaps.any() or gaps.all():
        return values
    steps = np.arange(len(values))
    if how == "interpolate":
        values[gaps] = np.interp(steps[gaps], steps[~gaps], values[~gaps])
        return values
    last = np.maximum.accumulate(np.where(gaps, 0, steps))  # index of the last observed step so far
    first = int(np.argmax(~gaps))
    last[:first] = first
    return values[last]


def _sorted(words: set[str]) -> list[str]:
    try:
        return sorted(words, key=lambda word: (float(word), word))
    except ValueError:
        return sorted(words)


class CovariateEncoder:
    """Encodes a :class:`SeriesFrame`'s covariates with the category vocabularies of the training part.

    Example:
        >>> from rnnkit.tasks.forecasting.data import CovariateConfig
        >>> config = CovariateConfig(past=("dew", "wind"), categorical=("wind",), encoding="one_hot")
        >>> train = SeriesFrame("y", ["0", "1", "2"], [1.0, 2.0, 3.0], {"dew": np.array([1.0, np.nan, 3.0])},
        ...                     {"wind": ["NE", "cv", None]})
        >>> encoder = CovariateEncoder.fit(config, [train])
        >>> encoder.vocab, encoder.columns("past")
        ({'wind': ['NE', 'cv']}, ['dew', 'wind=NE', 'wind=cv'])
        >>> encoder.encode(train, "interpolate")[0].tolist()
        [[1.0, 1.0, 0.0], [2.0, 0.0, 1.0], [3.0, 0.0, 0.0]]
    """

    def __init__(self, config: CovariateConfig, vocab: dict[str, list[str]]) -> None:
        self.config, self.vocab = config, {c: list(vocab[c]) for c in config.categorical}
        self.index = {c: {v: k + 1 for k, v in enumerate(words)} for c, words in self.vocab.items()}

    @classmethod
    def fit(cls, config: CovariateConfig, training: Iterable[SeriesFrame]) -> CovariateEncoder:
        """The vocabulary of each categorical column: the categories of the training parts, sorted (in
        numeric order when every category is a number: hours 0, 1, 2, ..., 23)."""
        seen: dict[str, set[str]] = {c: set() for c in config.categorical}
        for frame in training:
            for column in config.categorical:
                seen[column].update(c for c in frame.categorical[column] if c is not None)
        return cls(config, {c: _sorted(words) for c, words in seen.items()})

    def _parts(self, stream: str) -> tuple[list[str], list[str]]:
        names = self.config.past if stream == "past" else self.config.future
        return [c for c in names if c not in self.config.categorical], [
            c for c in names if c in self.config.categorical
        ]

    def columns(self, stream: str) -> list[str]:
        """The names of the encoded columns of ``"past"`` (past-only) or ``"future"`` (known-future)."""
        numeric, categorical = self._parts(stream)
        if self.config.encoding == "embedding":
            return numeric + categorical
        return numeric + [f"{c}={v}" for c in categorical for v in self.vocab[c]]

    def categories(self, stream: str) -> tuple[int, ...]:
        """The number of ids of each embedded column (its vocabulary and the unknown id); () for one-hot."""
        if self.config.encoding != "embedding":
            return ()
        return tuple(len(self.vocab[c]) + 1 for c in self._parts(stream)[1])

    def ids(self, column: str, cells: list[str | None]) -> np.ndarray:
        """Category ids of ``cells``: 1 + the vocabulary index, 0 for unknown or missing."""
        index = self.index[column]
        return np.array([index.get(c, 0) if c is not None else 0 for c in cells], dtype=np.int64)

    def unseen(self, frame: SeriesFrame) -> dict[str, list[str]]:
        """Categories of ``frame`` that the training part did not have (read as the unknown category)."""
        out = {}
        for column in self.config.categorical:
            new = sorted({c for c in frame.categorical[column] if c is not None} - set(self.index[column]))
            if new:
                out[column] = new
        return out

    def encode(self, frame: SeriesFrame, fill: str) -> tuple[np.ndarray | None, np.ndarray | None]:
        """``(past-only (T, P'), known-future (T, C'))`` of ``frame``, None for a stream without columns;
        numeric gaps filled by :func:`fill_gaps` with ``fill``."""
        return tuple(self._stream(frame, stream, fill) for stream in ("past", "future"))  # type: ignore

    def _stream(self, frame: SeriesFrame, stream: str, fill: str) -> np.ndarray | None:
        numeric, categorical = self._parts(stream)
        if not numeric and not categorical:
            return None
        columns = []
        for name in numeric:
            values = frame.numeric[name]
            if np.isnan(values).all():
                raise ValueError(f"data: series {frame.name!r}: covariate {name!r} has no values")
            columns.append(fill_gaps(values, fill))
        for name in categorical:
            ids = self.ids(name, frame.categorical[name])
            if self.config.encoding == "embedding":
                columns.append(ids.astype(np.float64))
            else:  # one 0/1 column per category; the unknown category is all zeros
                columns.extend((ids == k + 1).astype(np.float64) for k in range(len(self.vocab[name])))
        return np.stack(columns, axis=1)

    def state(self) -> dict[str, Any]:
        """What predict needs to encode as training did: the vocabularies (JSON)."""
        return {"categories": self.vocab}
