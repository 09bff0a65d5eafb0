"""The records the loaders return: small frozen dataclasses, plus time-series windowing and data splits.

Labels stay strings (``"0"``, ``"pos"``, ``"B-NP"``): the caller builds the label map, so the same records
serve any model. Series values are never scaled here: scaling statistics belong to the model
(:class:`rnnkit.models.scaling.SeriesScaler`, fitted on the training part only and saved with the weights), so
loading never leaks validation or test statistics into training.
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol, TypeVar

import numpy as np


@dataclass(frozen=True)
class TextExample:
    """One text with its class label (sentiment, question type...)."""

    text: str
    label: str


@dataclass(frozen=True)
class TaggedSentence:
    """Tokens with one tag each (POS, chunk, NER); ``features`` keeps the file's other columns by name.

    Example:
        >>> s = TaggedSentence(("He", "reckons"), ("B-NP", "B-VP"), {"pos": ("PRP", "VBZ")})
        >>> len(s), s.features["pos"][1]
        (2, 'VBZ')
        >>> TaggedSentence(("a", "b"), ("X",))
        Traceback (most recent call last):
        ...
        ValueError: TaggedSentence: 2 tokens but 1 tags
    """

    tokens: tuple[str, ...]
    tags: tuple[str, ...]
    features: Mapping[str, tuple[str, ...]] = field(default_factory=dict, hash=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "tokens", tuple(self.tokens))
        object.__setattr__(self, "tags", tuple(self.tags))
        object.__setattr__(self, "features", {k: tuple(v) for k, v in self.features.items()})
        if len(self.tags) != len(self.tokens):
            raise ValueError(f"TaggedSentence: {len(self.tokens)} tokens but {len(self.tags)} tags")
        for name, values in self.features.items():
            if len(values) != len(self.tokens):
                raise ValueError(
                    f"TaggedSentence: {len(self.tokens)} tokens but {len(values)} {name!r} values"
                )

    def __len__(self) -> int:
        return len(self.tokens)


@dataclass(frozen=True)
class TextPair:
    """A source sentence and its translation; ``attribution`` keeps a licence line (Tatoeba's CC BY)."""

    source: str
    target: str
    attribution: str = ""


@dataclass(frozen=True, eq=False)
class SeriesExample:
    """A labelled multivariate series: ``values`` is ``(T, N)`` float32 (NaN marks a missing value).

    Example:
        >>> x = SeriesExample([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]], "1")
        >>> x.values.shape, x.values.dtype, len(x)
        ((3, 2), dtype('float32'), 3)
    """

    values: np.ndarray
    label: str

    def __post_init__(self) -> None:
        values = np.asarray(self.values, dtype=np.float32)
        if values.ndim == 1:
            values = values[:, None]
        if values.ndim != 2:
            raise ValueError(f"SeriesExample: values must be (T, N), got shape {values.shape}")
        object.__setattr__(self, "values", values)

    def __len__(self) -> int:
        return self.values.shape[0]

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, SeriesExample):
            return NotImplemented
        return self.label == other.label and np.array_equal(self.values, other.values, equal_nan=True)

    __hash__ = None  # type: ignore[assignment]


@dataclass(frozen=True, eq=False)
class TimeSeries:
    """A regularly sampled series of N variables in time order: ``times[t]``, ``values[t]`` (T, N) float32.

    Values are raw; scale them in the model (``SeriesScaler`` fitted on the training split).

    Example:
        >>> s = TimeSeries([str(t) for t in range(10)], np.arange(10.0)[:, None], ["y"])
        >>> x, y = s.windows(history=3, horizon=2, stride=2)
        >>> x.shape, y.shape
        ((3, 3, 1), (3, 2, 1))
        >>> x[1, :, 0].tolist(), y[1, :, 0].tolist()
        ([2.0, 3.0, 4.0], [5.0, 6.0])
        >>> [len(part) for part in s.chronological_split(0.6, 0.2, 0.2)]
        [6, 2, 2]
    """

    times: list[str]
    values: np.ndarray
    columns: list[str]

    def __post_init__(self) -> None:
        values = np.asarray(self.values, dtype=np.float32)
        values = values[:, None] if values.ndim == 1 else values
        if values.ndim != 2:
            raise ValueError(f"TimeSeries: values must be (T, N), got shape {values.shape}")
        if len(self.times) != values.shape[0] or len(self.columns) != values.shape[1]:
            raise ValueError(
                f"TimeSeries: values {values.shape} need {values.shape[0]} times and {values.shape[1]} "
                f"column names, got {len(self.times)} and {len(self.columns)}"
            )
        object.__setattr__(self, "times", list(self.times))
        object.__setattr__(self, "columns", list(self.columns))
        object.__setattr__(self, "values", values)

    def __len__(self) -> int:
        return self.values.shape[0]

    def __getitem__(self, index: slice) -> TimeSeries:
        if not isinstance(index, slice) or index.step not in (None, 1):
            raise TypeError(f"TimeSeries: index with a contiguous slice (no step), got {index!r}")
        return TimeSeries(self.times[index], self.values[index], self.columns)

    def windows(
        self, history: int, horizon: int, stride: int = 1, target_columns: Sequence[str] | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Sliding (input, target) pairs: window w sees steps ``[w·s, w·s + history)`` and predicts the next
        ``horizon`` steps.

        Args:
            history: input steps per window (T_in >= 1).
            horizon: steps to predict after each window (>= 1).
            stride: steps between consecutive window starts.
            target_columns: the variables to predict (default: all N).

        Returns:
            inputs ``(W, history, N)`` and targets ``(W, horizon, K)``, float32 copies, with
            ``W = (T - history - horizon) // stride + 1``.

        Raises:
            ValueError: non-positive sizes, an unknown column, or a series shorter than history + horizon.
        """
        for name, value in (("history", history), ("horizon", horizon), ("stride", stride)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"windows: {name} must be an integer >= 1, got {value!r}")
        if len(self) < history + horizon:
            raise ValueError(
                f"windows: the series has {len(self)} steps, fewer than history {history} + horizon {horizon}"
            )
        targets = self.values if target_columns is None else self.values[:, self._indices(target_columns)]
        starts = np.arange(0, len(self) - history - horizon + 1, stride)
        steps_in = starts[:, None] + np.arange(history)  # (W, history)
        steps_out = starts[:, None] + history + np.arange(horizon)  # (W, horizon)
        return self.values[steps_in], targets[steps_out]

    def _indices(self, names: Sequence[str]) -> list[int]:
        unknown = [n for n in names if n not in self.columns]
        if unknown:
            raise ValueError(f"TimeSeries: unknown column(s) {unknown}; the columns are {self.columns}")
        return [self.columns.index(n) for n in names]

    def chronological_split(
        self, train: float | int = 0.7, val: float | int = 0.1, test: float | int = 0.2, context: int = 0
    ) -> tuple[TimeSeries, TimeSeries, TimeSeries]:
        """Cut the series into consecutive train / validation / test parts, in time order (no shuffling).

        Args:
            train, val, test: fractions summing to 1 (the train and validation sizes are rounded, the test
                part takes the rest), or step counts summing to ``len(self)``.
            context: also prepend this many preceding steps to the validation and test parts (set it to the
                window ``history``), so their windows predict every one of their own steps; those context
                steps are inputs only, never targets. 0 keeps the parts disjoint.

        Returns:
            ``(train, val, test)`` TimeSeries.

        Example:
            >>> s = TimeSeries([str(t) for t in range(10)], np.arange(10.0), ["y"])
            >>> tr, va, te = s.chronological_split(6, 2, 2, context=3)
            >>> te.times, va.values[:, 0].tolist()
            (['5', '6', '7', '8', '9'], [3.0, 4.0, 5.0, 6.0, 7.0])
        """
        sizes = (train, val, test)
        if all(isinstance(v, int) and not isinstance(v, bool) for v in sizes):
            if min(sizes) < 0 or sum(sizes) != len(self):
                raise ValueError(f"chronological_split: counts {sizes} must be >= 0 and sum to {len(self)}")
            n_train, n_val = train, val
        elif all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in sizes):
            if min(sizes) < 0 or abs(sum(sizes) - 1.0) > 1e-6:
                raise ValueError(f"chronological_split: fractions {sizes} must be >= 0 and sum to 1")
            n_train = round(train * len(self))
            n_val = min(round(val * len(self)), len(self) - n_train)
        else:
            raise TypeError(f"chronological_split: give three fractions or three counts, got {sizes}")
        if isinstance(context, bool) or not isinstance(context, int) or context < 0:
            raise ValueError(f"chronological_split: context must be an integer >= 0, got {context!r}")
        cut_val, cut_test = n_train, n_train + n_val
        return (
            self[0:cut_val],
            self[max(0, cut_val - context) : cut_test],
            self[max(0, cut_test - context) : len(self)],
        )


class _Labelled(Protocol):
    label: str


L = TypeVar("L", bound=_Labelled)


def split_stratified(
    examples: Sequence[L], test_fraction: float = 0.1, seed: int = 0
) -> tuple[list[L], list[L]]:
    """A fixed, seeded, stratified train/test split (e.g. MR's 90/10): each label keeps its proportion.

    Per label, ``round(n · test_fraction)`` examples chosen by ``random.Random(seed)`` go to test. Both parts
    keep the input order, so the split depends only on (examples, test_fraction, seed).

    Example:
        >>> data = [TextExample(str(i), "pos" if i < 6 else "neg") for i in range(10)]
        >>> train, test = split_stratified(data, test_fraction=0.5, seed=1)
        >>> len(train), sorted(e.label for e in test)
        (5, ['neg', 'neg', 'pos', 'pos', 'pos'])
    """
    if not 0.0 < test_fraction < 1.0:
        raise ValueError(f"split_stratified: test_fraction must be in (0, 1), got {test_fraction}")
    by_label: dict[str, list[int]] = {}
    for i, example in enumerate(examples):
        by_label.setdefault(example.label, []).append(i)
    rng = random.Random(seed)
    test_ids: set[int] = set()
    for label in sorted(by_label):
        ids = by_label[label]
        rng.shuffle(ids)
        test_ids.update(ids[: int(len(ids) * test_fraction + 0.5)])
    train = [e for i, e in enumerate(examples) if i not in test_ids]
    return train, [e for i, e in enumerate(examples) if i in test_ids]
