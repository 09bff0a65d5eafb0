"""PNG/SVG plots of a run: learning curves, a confusion matrix, a forecast.

matplotlib is imported inside each function (CPU installs and ``import rnnkit`` stay free of it), and
only its object API is used (:mod:`rnnkit.plots.figure`). Each function writes its file atomically
(a crash leaves the old file or the new one) and returns its path; the format comes from the suffix,
``.png`` or ``.svg``.
"""

from __future__ import annotations

import itertools
import math
import os
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

__all__ = [
    "LearningCurves",
    "learning_curves",
    "plot_confusion_matrix",
    "plot_forecast",
    "plot_labelled_matrix",
    "plot_learning_curves",
]

from rnnkit.plots.figure import as_array, format_of, new_figure, save_figure, text_style

ANNOTATE_MAX_CLASSES = 20  # above this, cell numbers are unreadable: the colours alone tell
_NOT_METRICS = {"event", "step", "epoch", "time", "best"}  # the bookkeeping keys of an "eval" record


class LearningCurves(NamedTuple):
    """What :func:`plot_learning_curves` draws. Null values are NaN (a gap in the line).

    Attributes: ``steps`` and ``loss`` of the training records; ``eval_steps`` and ``metrics`` (name ->
    values at ``eval_steps``) of the evaluation records; ``resumed_at``: steps where the run was resumed.
    """

    steps: np.ndarray
    loss: np.ndarray
    eval_steps: np.ndarray
    metrics: dict[str, np.ndarray]
    resumed_at: list[int]


def _value(value: Any) -> float:
    return math.nan if value is None else float(value)


def _is_number(value: Any) -> bool:
    return value is None or (isinstance(value, (int, float)) and not isinstance(value, bool))


def learning_curves(
    records: Sequence[dict[str, Any]], metrics: Sequence[str] | None = None
) -> LearningCurves:
    """The series in :class:`~rnnkit.training.callbacks.JsonlLogger` records.

    Only the last run in the log counts: records before the last ``start`` record with ``resumed`` false
    belong to an earlier run written to the same file. A step logged twice (a resumed run redoing steps
    whose records were not dropped) keeps its last record.

    Args:
        records: dicts as from :func:`rnnkit.training.callbacks.read_jsonl`.
        metrics: evaluation metrics to keep (None: every numeric one, e.g. ``val_loss``, ``val_accuracy``).

    Raises:
        ValueError: a record is not a dict or has no step, or a requested metric is in no ``eval`` record.

    Example:
        >>> records = [
        ...     {"event": "start", "step": 0, "resumed": False},
        ...     {"event": "train", "step": 2, "loss": 0.9},
        ...     {"event": "eval", "step": 2, "val_loss": None, "val_accuracy": 0.5, "best": None},
        ... ]
        >>> curves = learning_curves(records)
        >>> curves.steps.tolist(), curves.loss.tolist(), curves.metrics
        ([2.0], [0.9], {'val_loss': array([nan]), 'val_accuracy': array([0.5])})
    """
    for index, record in enumerate(records):
        if not isinstance(record, dict) or not isinstance(record.get("step", 0), int):
            raise ValueError(f"records[{index}] must be a dict with an int 'step', got {record!r}")
    starts = [i for i, r in enumerate(records) if r.get("event") == "start" and not r.get("resumed")]
    records = records[starts[-1] :] if starts else records
    train: dict[int, float] = {}
    evals: dict[int, dict[str, Any]] = {}
    names: dict[str, None] = {}  # an ordered set: the first-seen order is the legend's
    resumed_at = []
    for record in records:
        event, step = record.get("event"), record.get("step", 0)
        if event == "start" and record.get("resumed"):
            resumed_at.append(step)
        elif event == "train" and _is_number(record.get("loss")):
            train[step] = _value(record.get("loss"))
        elif event == "eval":
            values = {k: v for k, v in record.items() if k not in _NOT_METRICS and _is_number(v)}
            evals[step] = values
            names.update(dict.fromkeys(values))
    if metrics is not None:
        unknown = [name for name in metrics if name not in names]
        if unknown:
            raise ValueError(f"metrics {unknown} are in no 'eval' record; the records have {list(names)}")
        names = dict.fromkeys(metrics)
    steps, eval_steps = sorted(train), sorted(evals)
    return LearningCurves(
        steps=np.array(steps, dtype=np.float64),
        loss=np.array([train[s] for s in steps], dtype=np.float64),
        eval_steps=np.array(eval_steps, dtype=np.float64),
        metrics={n: np.array([_value(evals[s].get(n)) for s in eval_steps], dtype=np.float64) for n in names},
        resumed_at=sorted(set(resumed_at)),
    )


def _spans_decades(values: Iterable[np.ndarray]) -> bool:
    finite = np.concatenate([v[np.isfinite(v)] for v in values] or [np.empty(0)])
    return finite.size > 1 and finite.min() > 0 and finite.max() / finite.min() > 100


def plot_learning_curves(
    records: Sequence[dict[str, Any]], path: str | os.PathLike, metrics: Sequence[str] | None = None
) -> Path:
    """Training loss and validation metrics against the step, from a :class:`JsonlLogger` log.

    The top panel holds the losses: the training loss and every evaluation metric with "loss" in its
    name (log scale when they span more than two decades). A second panel, sharing the step axis, holds
    the other evaluation metrics (accuracy, F1, ...), if any. Dashed lines mark where the run was
    resumed; null values leave gaps. See :func:`learning_curves` for which records count.

    Args:
        records: the log's records (:func:`rnnkit.training.callbacks.read_jsonl`).
        path: the ``.png`` or ``.svg`` file to write.
        metrics: evaluation metrics to draw (None: all).

    Returns:
        ``Path(path)``.

    Raises:
        ValueError: a bad suffix, an unknown metric, or records with nothing to plot.

    Example:
        >>> import tempfile; out = Path(tempfile.mkdtemp()) / "curves.png"
        >>> records = [{"event": "train", "step": s, "loss": 1 / s} for s in (1, 2, 3)]
        >>> plot_learning_curves(records, out).read_bytes()[:4]
        b'\\x89PNG'
    """
    fmt = format_of(path)
    curves = learning_curves(records, metrics)
    if curves.steps.size == 0 and not curves.metrics:
        events = sorted({str(r.get("event")) for r in records})
        raise ValueError(f"records hold no 'train' loss and no 'eval' metric to plot; their events: {events}")
    losses = {n: v for n, v in curves.metrics.items() if "loss" in n.lower()}
    others = {n: v for n, v in curves.metrics.items() if n not in losses}
    has_train = curves.steps.size > 0
    panels = [(label, series) for label, series in (("loss", losses), ("metric", others)) if series]
    if has_train and not losses:
        panels.insert(0, ("loss", losses))
    with text_style(curves.metrics):
        figure = new_figure(8, 1.2 + 2.8 * len(panels))
        axes = figure.subplots(len(panels), 1, sharex=True, squeeze=False)[:, 0]
        if has_train:  # the loss panel is the first one
            marker = "." if curves.steps.size < 30 else ""
            axes[0].plot(curves.steps, curves.loss, color="C0", lw=1.2, marker=marker, label="train loss")
        colors = {name: f"C{i + 1}" for i, name in enumerate(curves.metrics)}  # C0 is the training loss
        for ax, (ylabel, series) in zip(axes, panels, strict=True):
            for name, values in series.items():
                ax.plot(curves.eval_steps, values, color=colors[name], marker="o", ms=3.5, lw=1.2, label=name)
            for i, step in enumerate(curves.resumed_at):
                ax.axvline(step, color="0.5", ls="--", lw=0.9, label="resumed" if i == 0 else None)
            ax.set_ylabel(ylabel)
            ax.grid(alpha=0.3)
            ax.legend(loc="best", fontsize=9)
        if panels[0][0] == "loss" and _spans_decades([curves.loss, *losses.values()]):
            axes[0].set_yscale("log")
        axes[-1].set_xlabel("step")
        axes[0].set_title("learning curves")
        return save_figure(figure, path, fmt)


# ----- confusion matrix ------------------------------------------------------------------------------
def plot_labelled_matrix(matrix: dict[str, Any], path: str | os.PathLike) -> Path:
    """:func:`plot_confusion_matrix` of a :func:`~rnnkit.metrics.labelled_matrix` (``labels`` and
    ``counts``, as ``results.json`` keeps it); returns ``path``."""
    plot_confusion_matrix(matrix["counts"], matrix["labels"], path)
    return Path(path)


def plot_confusion_matrix(
    matrix: Any,
    labels: Sequence[str],
    path: str | os.PathLike,
    normalize: bool = True,
    annotate: bool | None = None,
) -> Path:
    """An annotated heatmap of a confusion matrix: true classes on rows, predicted on columns.

    With ``normalize`` each row is divided by its sum (the recall of that class on the diagonal; a class
    never seen stays at 0). The figure grows with the number of classes K; above 20 classes the cell
    numbers are dropped and the labels turned upright, so 40 or more classes stay readable.

    Args:
        matrix: (K, K) counts, as a nested list, ndarray or tensor; ``matrix[i, j]``: examples of class i
            predicted as class j (as :func:`rnnkit.metrics` counts them).
        labels: K class names (any script: see the module doc on fonts).
        path: the ``.png`` or ``.svg`` file to write.
        normalize: divide rows by their sums; False shows the counts.
        annotate: write each cell's value (None: when K <= 20).

    Returns:
        ``Path(path)``.

    Raises:
        ValueError: a bad suffix, a matrix that is not square, negative or not finite, or a labels count
            other than K.

    Example:
        >>> import tempfile; out = Path(tempfile.mkdtemp()) / "cm.svg"
        >>> "<svg" in plot_confusion_matrix([[5, 1], [2, 7]], ["긍정", "부정"], out).read_text()
        True
    """
    fmt = format_of(path)
    counts = as_array(matrix, "matrix")
    if counts.ndim != 2 or counts.shape[0] != counts.shape[1] or counts.shape[0] == 0:
        raise ValueError(f"matrix must be square (K, K) with K >= 1, got shape {tuple(counts.shape)}")
    if not np.isfinite(counts).all() or (counts < 0).any():
        raise ValueError("matrix must hold finite non-negative counts, got negative, NaN or infinite entries")
    k, labels = counts.shape[0], [str(label) for label in labels]
    if len(labels) != k:
        raise ValueError(f"labels must name the {k} classes of a ({k}, {k}) matrix, got {len(labels)} labels")
    if normalize:
        sums = counts.sum(axis=1, keepdims=True)
        values = np.divide(counts, sums, out=np.zeros_like(counts), where=sums > 0)
    else:
        values = counts
    annotate = k <= ANNOTATE_MAX_CLASSES if annotate is None else annotate
    vmax = 1.0 if normalize else max(float(values.max()), 1.0)
    side = min(3.5 + 0.32 * k, 40.0)  # 0.32 in (23 pt) a class: room for "0.25" or an 8-pt label
    with text_style(labels):
        figure = new_figure(side + 1.2, side)
        ax = figure.subplots()
        image = ax.imshow(values, cmap="Blues", vmin=0.0, vmax=vmax, interpolation="nearest")
        scale = "fraction of the row" if normalize else "count"
        figure.colorbar(image, ax=ax, shrink=0.8, aspect=max(20, k), label=scale)
        font = 10 if k <= 10 else 8
        ticks = np.arange(k)
        ax.set_xticks(ticks, labels, fontsize=font, rotation=45 if k <= ANNOTATE_MAX_CLASSES else 90,
                      ha="right", rotation_mode="anchor")  # fmt: skip
        ax.set_yticks(ticks, labels, fontsize=font)
        ax.set_xlabel("predicted")
        ax.set_ylabel("true")
        ax.set_title("confusion matrix" + (" (rows normalised)" if normalize else ""))
        if annotate:
            for (i, j), value in np.ndenumerate(values):
                digits = ".2f" if normalize else ".0f" if float(value).is_integer() else ".3g"
                text = format(value, digits)
                color = "white" if value > vmax / 2 else "black"
                ax.text(j, i, text, ha="center", va="center", color=color, fontsize=font - 1)
        return save_figure(figure, path, fmt)


# ----- forecast --------------------------------------------------------------------------------------
def plot_forecast(
    history: Any,
    actual: Any,
    forecast: Any,
    path: str | os.PathLike,
    quantiles: Sequence[float] | None = None,
    title: str | None = None,
) -> Path:
    """A series' history, what followed, and a forecast of it, with shaded quantile bands.

    History takes steps 0..T-1 and the horizon T..T+H-1. With quantiles, the line is the 0.5 quantile
    (or the one nearest to it) and each symmetric pair (first and last, second and second-last, ...)
    shades a band, the outer ones lighter.

    Args:
        history: (T,) observed values.
        actual: (H,) the values that came after, or None when they are not known.
        forecast: (H,) point forecast, or (H, Q) one column per quantile.
        path: the ``.png`` or ``.svg`` file to write.
        quantiles: Q increasing levels in (0, 1), one per forecast column; required for (H, Q).
        title: the figure's title (default "forecast").

    Returns:
        ``Path(path)``.

    Raises:
        ValueError: a bad suffix, a wrong number of dimensions, ``actual`` and ``forecast`` of different
            lengths, or quantiles that do not match the forecast's columns or are not increasing in (0, 1).

    Example:
        >>> import tempfile; out = Path(tempfile.mkdtemp()) / "forecast.png"
        >>> band = np.stack([np.zeros(3), np.ones(3), 2 * np.ones(3)], axis=1)  # (H, Q) = (3, 3)
        >>> plot_forecast(np.arange(10.0), [1, 1, 1], band, out, quantiles=(0.1, 0.5, 0.9)).name
        'forecast.png'
    """
    fmt = format_of(path)
    history, predicted = as_array(history, "history"), as_array(forecast, "forecast")
    if history.ndim != 1:
        raise ValueError(f"history must be 1-D (T,), got shape {tuple(history.shape)}")
    if predicted.ndim not in (1, 2) or predicted.shape[0] == 0:
        raise ValueError(f"forecast must be (H,) or (H, Q) with H >= 1, got shape {tuple(predicted.shape)}")
    horizon = predicted.shape[0]
    if actual is not None:
        actual = as_array(actual, "actual")
        if actual.shape != (horizon,):
            raise ValueError(f"actual must be (H,) = ({horizon},) like forecast, got {tuple(actual.shape)}")
    if predicted.ndim == 2 and quantiles is None:
        raise ValueError(f"forecast has {predicted.shape[1]} columns (H, Q): pass their quantiles")
    if quantiles is not None:
        levels = [float(q) for q in quantiles]
        columns = predicted.shape[1] if predicted.ndim == 2 else None
        if columns != len(levels):
            raise ValueError(
                f"quantiles must give one level per forecast column: {len(levels)} quantiles for a forecast "
                f"of shape {tuple(predicted.shape)} (expected (H, {len(levels)}))"
            )
        if not all(0 < q < 1 for q in levels) or any(a >= b for a, b in itertools.pairwise(levels)):
            raise ValueError(f"quantiles must be strictly increasing in (0, 1), got {tuple(levels)}")
    t = history.shape[0]
    past, future = np.arange(t), np.arange(t, t + horizon)
    with text_style([title or ""]):
        figure = new_figure(9, 4)
        ax = figure.subplots()
        ax.plot(past, history, color="C0", lw=1.3, label="history")
        if actual is not None:
            ax.plot(future, actual, color="black", lw=1.3, marker="." * (horizon < 60), label="actual")
        if quantiles is None:
            ax.plot(future, predicted, color="C1", lw=1.6, label="forecast")
        else:
            middle = min(range(len(levels)), key=lambda i: abs(levels[i] - 0.5))
            name = "median" if levels[middle] == 0.5 else f"q={levels[middle]:g}"
            for i in range(len(levels) // 2):
                low, high = predicted[:, i], predicted[:, -1 - i]
                label = f"{levels[i]:g}–{levels[-1 - i]:g}"
                ax.fill_between(future, low, high, color="C1", alpha=0.12 + 0.12 * i, lw=0, label=label)
            ax.plot(future, predicted[:, middle], color="C1", lw=1.6, label=f"forecast ({name})")
        ax.axvline(t - 0.5, color="0.5", ls=":", lw=1.0)
        ax.set_xlabel("step")
        ax.set_title(title or "forecast")
        ax.grid(alpha=0.3)
        ax.legend(loc="best", fontsize=9)
        return save_figure(figure, path, fmt)
