"""Series classification: UCR/UEA ``.ts`` series in, a label per series out (many-to-one on features).

    TRAIN.ts ─┬─ train (stratified, seeded) ── fit mean/std per dimension ─┐
              └─ validation                                                 ├─ standardise ─ pad ─ classifier
    TEST.ts ────────────────────────────────────────────────────────────────┘

Each series is ``(T, N)``: T steps (which may differ between series) of N dimensions. Every value is
standardised per dimension, ``x' = (x - mean) / std``, with the mean and standard deviation of the
*training* split (saved in ``task.json``, applied in the loaders and in :meth:`predict`); a missing value
(``?`` in a ``.ts`` file) becomes the training mean (0 after standardisation). Batches are padded to
``(B, T, N)`` with ``lengths (B,)``, and the :class:`SequenceClassifier` takes the features directly
(``input_size = N``), so padding never changes a prediction.

The report puts the network next to two baselines fitted on all of TRAIN: the majority class, and the
classic UCR baseline, 1-nearest-neighbour with Euclidean distance on the series (standardised as above)
linearly resampled to one fixed length (the longest TRAIN series).

Inputs of ``predict`` (and of ``rnnkit predict``) are strings, one series each (see :func:`parse_series`):

- ``"0.1,0.5,0.9,1.2"``: a series of **one** dimension, its values in time order;
- ``"0.1,2.0;0.5,1.8;0.9,1.1"``: steps separated by ``;``, each step the N values of the dimensions
  separated by ``,`` (here 3 steps of N = 2). ``?`` or ``nan`` is a missing value; spaces are ignored.
"""

from __future__ import annotations

from rnnkit.tasks.series_classification.baseline import nearest_neighbour
from rnnkit.tasks.series_classification.data import (
    SeriesClassificationData,
    format_series,
    load_series_splits,
    parse_series,
    prepare_values,
    resample_series,
    series_datasets,
    sort_labels,
)
from rnnkit.tasks.series_classification.task import SeriesClassificationTask

__all__ = [
    "SeriesClassificationData",
    "SeriesClassificationTask",
    "format_series",
    "load_series_splits",
    "nearest_neighbour",
    "parse_series",
    "prepare_values",
    "resample_series",
    "series_datasets",
    "sort_labels",
]
