"""Series classification: the baseline the model is scored beside."""

from __future__ import annotations

import numpy as np


def nearest_neighbour(train: np.ndarray, test: np.ndarray, chunk: int = 1024) -> np.ndarray:
    """For each test row, the index of the nearest train row in Euclidean distance (the first on ties).

    ``||a - b||² = ||a||² - 2 a·b + ||b||²`` for all pairs at once, ``chunk`` test rows at a time.

    Shape: ``train (K, D)``, ``test (M, D)`` -> ``(M,)`` indices into ``train``.

    Example:
        >>> nearest_neighbour(np.array([[0.0, 0.0], [5.0, 5.0]]), np.array([[4.0, 4.0], [1.0, -1.0]]))
        array([1, 0])
    """
    train, test = np.asarray(train, dtype=np.float64), np.asarray(test, dtype=np.float64)
    if train.ndim != 2 or test.ndim != 2 or train.shape[1] != test.shape[1] or len(train) == 0:
        raise ValueError(
            f"nearest_neighbour: expected (K, D) and (M, D) arrays, got {train.shape} and {test.shape}"
        )
    squares = (train**2).sum(1)
    out = [
        ((part**2).sum(1)[:, None] - 2.0 * part @ train.T + squares[None, :]).argmin(1)
        for part in np.array_split(test, max(1, -(-len(test) // chunk)))
    ]
    return np.concatenate(out) if out else np.zeros(0, dtype=int)
