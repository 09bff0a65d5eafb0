"""Tags from an exported tagger's emission scores, in numpy: argmax per word, or the CRF's Viterbi path.

The same computation as :meth:`rnnkit.blocks.crf.LinearChainCRF.viterbi_decode` (float32, the constrained
scores saved in ``crf.json``), so the runtime's tags are the run's.

Example:
    >>> emissions = np.array([[[1.0, 0.0], [0.5, 0.0], [0.0, 0.0]]], dtype=np.float32)
    >>> decode_tags(emissions, np.array([2]), None)
    [[0, 0]]
    >>> crf = {"transitions": [[-5.0, 0.0], [0.0, 0.0]], "start": [0.0, 0.0], "end": [0.0, 0.0]}
    >>> decode_tags(emissions, np.array([2]), crf)  # 0 -> 0 costs 5: one step is better as tag 1
    [[0, 1]]
"""

from __future__ import annotations

from typing import Any

import numpy as np


def decode_tags(emissions: np.ndarray, lengths: np.ndarray, crf: dict[str, Any] | None) -> list[list[int]]:
    """Tag ids per sentence (``lengths[b]`` each) from ``emissions (B, T, K)``; ``crf``: ``crf.json``."""
    if crf is None:
        return [row[:n].tolist() for row, n in zip(emissions.argmax(axis=2), lengths.tolist())]
    return viterbi(emissions, lengths, crf)


def viterbi(emissions: np.ndarray, lengths: np.ndarray, crf: dict[str, Any]) -> list[list[int]]:
    """The best tag path of each sentence under the CRF's transition, start and end scores."""
    transitions = np.asarray(crf["transitions"], dtype=np.float32)  # (K_from, K_to)
    start, end = np.asarray(crf["start"], dtype=np.float32), np.asarray(crf["end"], dtype=np.float32)
    batch, steps, tags = emissions.shape
    valid = np.arange(steps)[None, :] < lengths[:, None]  # (B, T)
    keep = np.broadcast_to(np.arange(tags), (batch, tags))
    delta = start + emissions[:, 0]  # (B, K)
    pointers = []
    for t in range(1, steps):
        scores = delta[:, :, None] + transitions  # (B, K_from, K_to)
        best, argbest = scores.max(axis=1), scores.argmax(axis=1)
        step_valid = valid[:, t][:, None]
        delta = np.where(step_valid, best + emissions[:, t], delta)
        pointers.append(np.where(step_valid, argbest, keep))
    tag = (delta + end).argmax(axis=1)
    path = [tag]
    for argbest in reversed(pointers):
        tag = np.take_along_axis(argbest, tag[:, None], axis=1)[:, 0]
        path.append(tag)
    paths = np.stack(path[::-1], axis=1)  # (B, T)
    return [row[:n].tolist() for row, n in zip(paths, lengths.tolist())]
