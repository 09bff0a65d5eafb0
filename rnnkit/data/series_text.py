"""Series written as text -> values, and values -> what a series classifier reads: numpy only (no torch),
shared by :mod:`rnnkit.tasks.series_classification` and its ONNX export's runtime (:mod:`rnnkit.export`)."""

from __future__ import annotations

import numpy as np


def prepare_values(
    values: np.ndarray, mean: np.ndarray, std: np.ndarray, standardize: bool = True
) -> np.ndarray:
    """A raw ``(T, N)`` series as the model sees it: NaN -> the training mean, then ``(x - mean) / std``.

    Example:
        >>> prepare_values(np.array([[1.0], [np.nan], [5.0]]), np.array([3.0]), np.array([2.0])).ravel()
        array([-1.,  0.,  1.], dtype=float32)
    """
    filled = np.where(np.isnan(values), mean, values)
    return ((filled - mean) / std if standardize else filled).astype(np.float32)


def parse_series(text: str, num_features: int) -> np.ndarray:
    """A series written as a string -> ``(T, N)`` float32 values (the input format of :meth:`predict`).

    Format: steps separated by ``;``, the N values of a step separated by ``,``. A series of one dimension
    may also be written ``v1,v2,...`` (no ``;``): each value is then a step. Without ``;`` and with N > 1,
    the string is one step of N values. ``?`` and ``nan`` are missing values; spaces are ignored.

    Raises:
        ValueError: an empty series or step, a step without N values, a value that is not a number, or an
            infinite value.

    Example:
        >>> parse_series("1, 2, 3", 1).ravel().tolist()
        [1.0, 2.0, 3.0]
        >>> parse_series("1,2;3,?;5,6", 2).tolist()
        [[1.0, 2.0], [3.0, nan], [5.0, 6.0]]
        >>> parse_series("1,2,3", 2)
        Traceback (most recent call last):
        ...
        ValueError: step 1 has 3 values, expected 2 (one per dimension); write steps separated by ';' ...
    """
    if not isinstance(text, str):
        raise TypeError(f"expected a series as a string such as '1,2;3,4', got {type(text).__name__}")
    text = text.strip().rstrip(";")
    if not text:
        raise ValueError("empty series: expected values such as '1,2,3' or '1,2;3,4'")
    if ";" in text or num_features > 1:
        steps = [step.split(",") for step in text.split(";")]
    else:
        steps = [[value] for value in text.split(",")]
    values = np.empty((len(steps), num_features), dtype=np.float32)
    for t, step in enumerate(steps):
        if len(step) != num_features:
            raise ValueError(
                f"step {t + 1} has {len(step)} values, expected {num_features} (one per dimension); "
                f"write steps separated by ';' and the values of a step separated by ',', e.g. "
                f"{';'.join([','.join(['0.5'] * num_features)] * 2)!r}"
            )
        for n, field in enumerate(step):
            values[t, n] = _number(field.strip(), t, n)
    return values


def _number(field: str, t: int, n: int) -> float:
    if field == "?":
        return float("nan")
    try:
        value = float(field)
    except ValueError:
        raise ValueError(
            f"step {t + 1}, dimension {n + 1}: expected a number or '?', got {field!r}"
        ) from None
    if np.isinf(value):
        raise ValueError(f"step {t + 1}, dimension {n + 1}: expected a finite number, got {field!r}")
    return value
