"""Evaluation metrics for each task, as pure functions of lists, arrays or tensors (any device).

Classification: :func:`accuracy`, :func:`macro_f1`, :func:`classification_report`, :func:`confusion_matrix`.
Tagging: :func:`chunk_f1` (entity level, as CoNLL's ``conlleval``) on top of :func:`extract_chunks`.
Language models: :func:`perplexity`, :func:`bits_per_character`. Translation: :func:`bleu`, :func:`chrf`
(sacrebleu, ``pip install 'rnnkit[text]'``). Generated sequences: :func:`exact_match`, :func:`token_accuracy`.
Forecasting: :func:`mae`, :func:`rmse`, :func:`mape`, :func:`mase` and its baseline
:func:`seasonal_naive_forecast`.

A precision, recall or F1 whose denominator is zero (a class never predicted, say) counts as 0, as in
scikit-learn's default.
"""

from __future__ import annotations

import importlib
import math
import sys
from collections import Counter
from collections.abc import Hashable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:  # torch is imported by the caller that has tensors: the export runtime has none
    from torch import Tensor


def _is_tensor(value: Any) -> bool:
    """Whether ``value`` is a torch tensor (it can be one only where torch is already imported)."""
    torch = sys.modules.get("torch")
    return torch is not None and isinstance(value, torch.Tensor)


# ----------------------------------------------------------------------------------------- classification


def _labels(values: Any, name: str) -> list:
    if _is_tensor(values):
        return values.detach().reshape(-1).tolist()
    if isinstance(values, np.ndarray):
        return values.reshape(-1).tolist()
    if isinstance(values, str):
        raise TypeError(f"{name} must be a sequence of labels, got a str")
    return list(values)


def _pairs(y_true: Any, y_pred: Any, ignore_index: Hashable | None = None) -> tuple[list, list]:
    true, pred = _labels(y_true, "y_true"), _labels(y_pred, "y_pred")
    if len(true) != len(pred):
        raise ValueError(f"y_true and y_pred must have the same length, got {len(true)} and {len(pred)}")
    if ignore_index is not None:
        keep = [k for k, t in enumerate(true) if t != ignore_index]
        true, pred = [true[k] for k in keep], [pred[k] for k in keep]
    if not true:
        raise ValueError("no labels to score (empty input, or every target equals ignore_index)")
    return true, pred


def _f1(precision: float, recall: float) -> float:
    return 2 * precision * recall / (precision + recall) if precision + recall > 0 else 0.0


def _ratio(a: float, b: float) -> float:
    return a / b if b > 0 else 0.0


def accuracy(y_true: Any, y_pred: Any, ignore_index: Hashable | None = None) -> float:
    """Fraction of positions where ``y_pred == y_true``; tensors of any shape are flattened.

    ``ignore_index`` (e.g. -100 for padded tag targets) drops those positions first.

    Example:
        >>> accuracy([0, 1, 2, 2], [0, 2, 2, 2])
        0.75
        >>> import torch
        >>> accuracy(torch.tensor([[1, 2, -100]]), torch.tensor([[1, 0, 0]]), ignore_index=-100)
        0.5
    """
    true, pred = _pairs(y_true, y_pred, ignore_index)
    return sum(t == p for t, p in zip(true, pred)) / len(true)


def classification_report(
    y_true: Any,
    y_pred: Any,
    labels: Sequence[Hashable] | None = None,
    names: Sequence[str] | None = None,
    ignore_index: Hashable | None = None,
) -> dict[str, Any]:
    """Precision, recall, F1 and support per class, and their macro and support-weighted means.

    For class c: precision = TP / (TP + FP), recall = TP / (TP + FN), F1 = 2PR / (P + R), support = the
    number of true c. Macro = the plain mean over classes; weighted = the mean weighted by support.

    Args:
        labels: the classes to report, in order (default: every label in ``y_true`` or ``y_pred``, sorted).
            A subset is allowed; other labels still count as errors for the reported ones.
        names: display names for ``labels`` (the keys of ``"classes"``); default the labels themselves.
        ignore_index: a target value to drop first (padding).

    Returns:
        ``{"classes": {name: {"precision", "recall", "f1", "support"}}, "macro": {...}, "weighted": {...},
        "accuracy": float}`` (macro/weighted have precision, recall, f1, support = total support).

    Example:
        >>> report = classification_report([0, 0, 1, 1], [0, 1, 1, 1], names=["neg", "pos"])
        >>> report["classes"]["neg"]
        {'precision': 1.0, 'recall': 0.5, 'f1': 0.666..., 'support': 2}
        >>> round(report["macro"]["f1"], 4), report["accuracy"]
        (0.7333, 0.75)
    """
    true, pred = _pairs(y_true, y_pred, ignore_index)
    labels = sorted(set(true) | set(pred)) if labels is None else list(labels)
    if not labels or len(set(labels)) != len(labels):
        raise ValueError(f"labels must be distinct and non-empty, got {labels}")
    names = list(labels) if names is None else list(names)
    if len(names) != len(labels):
        raise ValueError(f"names must match labels one to one: {len(names)} names for {len(labels)} labels")
    n_true, n_pred = Counter(true), Counter(pred)
    n_hit = Counter(t for t, p in zip(true, pred) if t == p)
    classes = {}
    for label, name in zip(labels, names):
        precision, recall = _ratio(n_hit[label], n_pred[label]), _ratio(n_hit[label], n_true[label])
        classes[name] = {
            "precision": precision,
            "recall": recall,
            "f1": _f1(precision, recall),
            "support": n_true[label],
        }
    total = sum(c["support"] for c in classes.values())
    macro = {k: sum(c[k] for c in classes.values()) / len(classes) for k in ("precision", "recall", "f1")}
    weighted = {
        k: _ratio(sum(c[k] * c["support"] for c in classes.values()), total)
        for k in ("precision", "recall", "f1")
    }
    return {
        "classes": classes,
        "macro": {**macro, "support": total},
        "weighted": {**weighted, "support": total},
        "accuracy": sum(t == p for t, p in zip(true, pred)) / len(true),
    }


def macro_f1(
    y_true: Any, y_pred: Any, labels: Sequence[Hashable] | None = None, ignore_index: Hashable | None = None
) -> float:
    """Mean of the per-class F1: every class counts the same, however rare (:func:`classification_report`).

    Example:
        >>> round(macro_f1([0, 0, 1, 1], [0, 1, 1, 1]), 4)  # F1 2/3 and 4/5
        0.7333
    """
    return classification_report(y_true, y_pred, labels, ignore_index=ignore_index)["macro"]["f1"]


def labelled_matrix(matrix: list[list[int]], labels: Sequence[str]) -> dict[str, Any]:
    """A confusion matrix as results keep it: the class names beside the counts, so that a reader (or a
    plot) never has to know which id is which class. ``counts[i][j]``: true ``labels[i]`` predicted as
    ``labels[j]``.

    Example:
        >>> labelled_matrix([[3, 1], [0, 2]], ["neg", "pos"])
        {'labels': ['neg', 'pos'], 'counts': [[3, 1], [0, 2]]}
    """
    if len(matrix) != len(labels) or any(len(row) != len(labels) for row in matrix):
        raise ValueError(f"labelled_matrix: a {len(labels)}-label matrix must be {len(labels)}x{len(labels)}")
    return {"labels": [str(label) for label in labels], "counts": [list(row) for row in matrix]}


def confusion_matrix(y_true: Any, y_pred: Any, labels: Sequence[Hashable] | None = None) -> list[list[int]]:
    """``matrix[i][j]`` = how many items of true class ``labels[i]`` were predicted as ``labels[j]``.

    ``labels`` default to every label seen, sorted; a label outside ``labels`` raises ValueError.

    Example:
        >>> confusion_matrix(["a", "a", "b", "c"], ["a", "b", "b", "a"])
        [[1, 1, 0], [0, 1, 0], [1, 0, 0]]
    """
    true, pred = _pairs(y_true, y_pred)
    labels = sorted(set(true) | set(pred)) if labels is None else list(labels)
    index = {label: i for i, label in enumerate(labels)}
    missing = [v for v in (*true, *pred) if v not in index]
    if missing:
        raise ValueError(f"label {missing[0]!r} is not in labels {labels}")
    matrix = [[0] * len(labels) for _ in labels]
    for t, p in zip(true, pred):
        matrix[index[t]][index[p]] += 1
    return matrix


# ------------------------------------------------------------------------------------------------ tagging

_PREFIXES = {"IOB1": ("B", "I"), "IOB2": ("B", "I"), "IOBES": ("B", "I", "E", "S")}


def _split_tag(tag: str, scheme: str, where: str) -> tuple[str, str]:
    if not isinstance(tag, str):
        raise TypeError(f"{where}: tags must be strings like 'B-PER' or 'O', got {tag!r}")
    if tag == "O":
        return "O", ""
    prefix, sep, kind = tag.partition("-")
    if not sep or not kind or prefix not in _PREFIXES[scheme]:
        raise ValueError(
            f"{where}: tag {tag!r} is not valid {scheme} (expected 'O' or one of "
            f"{', '.join(p + '-TYPE' for p in _PREFIXES[scheme])})"
        )
    return prefix, kind


def extract_chunks(tags: Sequence[str], scheme: str = "IOB2") -> list[tuple[str, int, int]]:
    """The chunks of one tag sequence as ``(type, start, end)``, ``end`` exclusive, by conlleval's rules.

    A chunk starts at ``B-`` (or ``S-``), and also at an ``I-`` (or ``E-``) that does not continue a chunk
    of its type: ``O I-PER`` starts a PER chunk, ``B-PER I-LOC`` is a PER chunk then a LOC chunk. These
    lenient rules read IOB1 (``B-`` only between adjacent chunks of a type) and IOB2 alike.

    Example:
        >>> extract_chunks(["B-PER", "I-PER", "O", "I-LOC", "B-LOC", "I-ORG"])
        [('PER', 0, 2), ('LOC', 3, 4), ('LOC', 4, 5), ('ORG', 5, 6)]
    """
    if scheme not in _PREFIXES:
        raise ValueError(f"scheme must be one of {list(_PREFIXES)}, got {scheme!r}")
    chunks: list[tuple[str, int, int]] = []
    start, prev, prev_kind = None, "O", ""
    for i, tag in enumerate([*tags, "O"]):  # the sentinel closes a chunk open at the end
        prefix, kind = _split_tag(tag, scheme, f"tag {i}") if i < len(tags) else ("O", "")
        ends = prev in "ES" or (prev in "BI" and prefix in "BSO") or (prev != "O" and kind != prev_kind)
        starts = prefix in "BS" or (prev in "ESO" and prefix in "IE") or (prefix != "O" and kind != prev_kind)
        if ends and start is not None:
            chunks.append((prev_kind, start, i))
            start = None
        if starts:
            start = i
        prev, prev_kind = prefix, kind
    return chunks


def chunk_f1(true_tags: Sequence[Any], pred_tags: Sequence[Any], scheme: str = "IOB2") -> dict[str, Any]:
    """Entity-level precision, recall and F1, as CoNLL's ``conlleval``: a chunk counts only if its type,
    start and end all match.

    Args:
        true_tags / pred_tags: one tag sequence (``["B-PER", "O", ...]``) or a list of them (sentences).
        scheme: "IOB2", "IOB1" (read alike, see :func:`extract_chunks`) or "IOBES".

    Returns:
        ``{"precision", "recall", "f1", "true_chunks", "pred_chunks", "correct",
        "per_type": {type: {"precision", "recall", "f1", "support"}}}``.

    Example:
        >>> result = chunk_f1([["B-PER", "I-PER", "O", "B-LOC"]], [["B-PER", "I-PER", "O", "B-ORG"]])
        >>> result["precision"], result["recall"], result["f1"]
        (0.5, 0.5, 0.5)
    """
    if isinstance(true_tags, str) or isinstance(pred_tags, str):
        raise TypeError("tags must be sequences of tag strings, got a str")
    if true_tags and isinstance(true_tags[0], str):
        true_tags, pred_tags = [true_tags], [pred_tags]
    if len(true_tags) != len(pred_tags):
        raise ValueError(
            f"true_tags and pred_tags must have as many sentences, got {len(true_tags)} and {len(pred_tags)}"
        )
    true_chunks, pred_chunks = set(), set()
    for s, (true, pred) in enumerate(zip(true_tags, pred_tags)):
        if len(true) != len(pred):
            raise ValueError(f"sentence {s}: {len(true)} true tags but {len(pred)} predicted")
        true_chunks |= {(s, *chunk) for chunk in extract_chunks(true, scheme)}
        pred_chunks |= {(s, *chunk) for chunk in extract_chunks(pred, scheme)}
    correct = true_chunks & pred_chunks
    per_type = {}
    for kind in sorted({c[1] for c in true_chunks | pred_chunks}):
        n_true = sum(c[1] == kind for c in true_chunks)
        n_hit = sum(c[1] == kind for c in correct)
        precision = _ratio(n_hit, sum(c[1] == kind for c in pred_chunks))
        recall = _ratio(n_hit, n_true)
        per_type[kind] = {
            "precision": precision,
            "recall": recall,
            "f1": _f1(precision, recall),
            "support": n_true,
        }
    precision, recall = _ratio(len(correct), len(pred_chunks)), _ratio(len(correct), len(true_chunks))
    return {
        "precision": precision,
        "recall": recall,
        "f1": _f1(precision, recall),
        "true_chunks": len(true_chunks),
        "pred_chunks": len(pred_chunks),
        "correct": len(correct),
        "per_type": per_type,
    }


# -------------------------------------------------------------------------------------- language models


def _count(value: Any, name: str) -> float:
    value = float(value.item() if _is_tensor(value) else value)
    if not value > 0 or math.isinf(value):
        raise ValueError(f"{name} must be a positive finite count, got {value}")
    return value


def perplexity(total_nll: float | Tensor, total_tokens: int | Tensor) -> float:
    """``exp(total_nll / total_tokens)``: the summed negative log-likelihood (nats) over the tokens scored.

    Sum the NLL over batches (``cross_entropy(..., reduction="sum")``) and divide once at the end: averaging
    per-batch perplexities would weight short batches too much. Overflow gives ``inf``.

    Example:
        >>> perplexity(total_nll=10 * math.log(4), total_tokens=10)  # uniform over 4 choices
        4.0...
    """
    mean = float(total_nll.item() if _is_tensor(total_nll) else total_nll) / _count(
        total_tokens, "total_tokens"
    )
    try:
        return math.exp(mean)
    except OverflowError:
        return math.inf


def bits_per_character(total_nll: float | Tensor, total_chars: int | Tensor) -> float:
    """``total_nll / total_chars / ln 2``: the mean NLL per character in bits (``log2`` of the perplexity).

    Example:
        >>> bits_per_character(total_nll=8 * math.log(2), total_chars=8)  # a fair coin per character
        1.0
    """
    nll = float(total_nll.item() if _is_tensor(total_nll) else total_nll)
    return nll / _count(total_chars, "total_chars") / math.log(2)


# ------------------------------------------------------------------------------------------- translation


def _sacrebleu_inputs(
    hypotheses: Sequence[str], references: Sequence[Any]
) -> tuple[list[str], list[list[str]]]:
    if isinstance(hypotheses, str) or isinstance(references, str):
        raise TypeError("hypotheses and references must be lists (one entry per sentence), got a str")
    hypotheses, references = list(hypotheses), list(references)
    if len(hypotheses) != len(references) or not hypotheses:
        raise ValueError(
            f"need one reference entry per hypothesis, got {len(hypotheses)} hypotheses and "
            f"{len(references)} references"
        )
    per_hyp = [[r] if isinstance(r, str) else list(r) for r in references]
    counts = {len(r) for r in per_hyp}
    if len(counts) != 1 or 0 in counts:
        raise ValueError(f"every hypothesis needs the same number (>= 1) of references, got {sorted(counts)}")
    return hypotheses, [
        list(stream) for stream in zip(*per_hyp)
    ]  # sacrebleu wants one list per reference set


def _sacrebleu() -> Any:
    try:
        return importlib.import_module("sacrebleu")
    except ImportError as error:
        raise ImportError(
            "bleu/chrf need the sacrebleu package: pip install 'rnnkit[text]' (or pip install sacrebleu)"
        ) from error


def bleu(
    hypotheses: Sequence[str], references: Sequence[Any], tokenize: str = "13a", lowercase: bool = False
) -> float:
    """Corpus BLEU (0-100) by sacrebleu: n-gram precisions up to 4 over the whole corpus, brevity penalty.

    Args:
        hypotheses: one detokenized output per sentence.
        references: per hypothesis, a reference string or a list of them (the same number for each).
        tokenize: sacrebleu's tokenizer: "13a" (default, WMT), "intl" (Unicode punctuation and symbols:
            suits Korean and other non-Latin scripts), "char" (characters: BLEU on Korean eojeols is harsh
            because one changed ending misses the whole word), "zh", "none". Report it with the score.

    Example:
        >>> bleu(["the cat sat on the mat"], ["the cat sat on the mat"])
        100.0...
    """
    hypotheses, streams = _sacrebleu_inputs(hypotheses, references)
    metric = _sacrebleu().metrics.BLEU(tokenize=tokenize, lowercase=lowercase)
    return float(metric.corpus_score(hypotheses, streams).score)


def chrf(hypotheses: Sequence[str], references: Sequence[Any], word_order: int = 0) -> float:
    """Corpus chrF (0-100) by sacrebleu: F-beta (beta=2) of character 1..6-gram precision and recall, spaces
    ignored; ``word_order=2`` gives chrF++. Needs no tokenizer, so it suits Korean as is.

    Example:
        >>> chrf(["영화가 재밌어요"], ["영화가 재밌어요"])
        100.0
    """
    hypotheses, streams = _sacrebleu_inputs(hypotheses, references)
    metric = _sacrebleu().metrics.CHRF(word_order=word_order)
    return float(metric.corpus_score(hypotheses, streams).score)


def exact_match(hypotheses: Sequence[Any], references: Sequence[Any]) -> float:
    """Fraction of outputs equal to their reference (strings, or token sequences compared as lists).

    Example:
        >>> exact_match(["seven", "one"], ["seven", "nine"])
        0.5
    """
    hypotheses, references = _same_length(hypotheses, references)
    hits = [_as_list(h) == _as_list(r) for h, r in zip(hypotheses, references)]
    return sum(hits) / len(hits)


def token_accuracy(hypotheses: Sequence[Sequence[Any]], references: Sequence[Sequence[Any]]) -> float:
    """Position-wise token accuracy of generated sequences: tokens equal to the reference's at the same
    position, over ``Σ max(len(hypothesis), len(reference))``, so a missing or extra token is an error.

    Example:
        >>> token_accuracy([list("seven"), list("on")], [list("seven"), list("one")])  # (5 + 2) / (5 + 3)
        0.875
    """
    hypotheses, references = _same_length(hypotheses, references)
    hits = total = 0
    for h, r in zip(hypotheses, references):
        h, r = _as_list(h), _as_list(r)
        hits += sum(a == b for a, b in zip(h, r))
        total += max(len(h), len(r))
    return hits / total if total else 1.0


def _as_list(sequence: Any) -> Any:
    return sequence if isinstance(sequence, str) else list(sequence)


def _same_length(hypotheses: Sequence[Any], references: Sequence[Any]) -> tuple[list, list]:
    hypotheses, references = list(hypotheses), list(references)
    if len(hypotheses) != len(references) or not hypotheses:
        raise ValueError(
            f"need one reference per output, got {len(hypotheses)} outputs and {len(references)} references"
        )
    return hypotheses, references


# ------------------------------------------------------------------------------------------- forecasting


def _array(values: Any, name: str) -> np.ndarray:
    if _is_tensor(values):
        values = values.detach().cpu().double().numpy()
    array = np.asarray(values, dtype=np.float64)
    if array.size == 0:
        raise ValueError(f"{name} is empty")
    return array


def _errors(y_true: Any, y_pred: Any) -> tuple[np.ndarray, np.ndarray]:
    true, pred = _array(y_true, "y_true"), _array(y_pred, "y_pred")
    if true.shape != pred.shape:
        raise ValueError(f"y_true and y_pred must have the same shape, got {true.shape} and {pred.shape}")
    return true, pred - true


def mae(y_true: Any, y_pred: Any) -> float:
    """Mean absolute error ``mean |ŷ - y|`` over all elements.

    Example:
        >>> mae([1.0, 2.0, 4.0], [2.0, 2.0, 1.0])
        1.333...
    """
    return float(np.abs(_errors(y_true, y_pred)[1]).mean())


def rmse(y_true: Any, y_pred: Any) -> float:
    """Root mean squared error ``sqrt(mean (ŷ - y)²)`` over all elements.

    Example:
        >>> rmse([0.0, 0.0], [3.0, 4.0])  # sqrt((9 + 16) / 2)
        3.535...
    """
    return float(np.sqrt((_errors(y_true, y_pred)[1] ** 2).mean()))


def mape(y_true: Any, y_pred: Any, zeros: str = "raise") -> float:
    """Mean absolute percentage error ``100 · mean |ŷ - y| / |y|``, in percent (Hyndman & Koehler 2006).

    Undefined where ``y = 0``: ``zeros="raise"`` (default) raises ValueError, ``zeros="skip"`` leaves those
    points out (and raises if none is left). Near-zero targets blow it up; prefer :func:`mase` there.

    Example:
        >>> mape([100.0, 200.0], [110.0, 180.0])
        10.0
        >>> mape([0.0, 50.0], [1.0, 40.0], zeros="skip")
        20.0
    """
    if zeros not in ("raise", "skip"):
        raise ValueError(f"zeros must be 'raise' or 'skip', got {zeros!r}")
    true, error = _errors(y_true, y_pred)
    nonzero = true != 0
    if not nonzero.all():
        if zeros == "raise":
            raise ValueError(
                f"mape is undefined for zero targets: {int((~nonzero).sum())} of {true.size} "
                "are 0 (pass zeros='skip' to leave them out, or use mase)"
            )
        if not nonzero.any():
            raise ValueError("mape: every target is 0; nothing left to score")
    return float(100 * np.abs(error[nonzero] / true[nonzero]).mean())


def seasonal_naive_forecast(history: Any, horizon: int, season: int = 1) -> Any:
    """Repeat the last season: ``ŷ_{T+h} = y_{T+h-m·k}``, ``k = ⌊(h-1)/m⌋ + 1`` (season 1: the last value).

    Args:
        history: ``(T,)`` or ``(T, F)`` values, oldest first; needs ``T >= season``.
        horizon: steps to forecast. season: the period m (e.g. 24 for hourly data with a daily cycle).

    Returns:
        ``(horizon,)`` or ``(horizon, F)``: a tensor (same dtype and device) for a tensor, a numpy array for
        an array, a list otherwise.

    Example:
        >>> seasonal_naive_forecast([1, 2, 3, 10, 20, 30], horizon=4, season=3)
        [10, 20, 30, 10]
    """
    for name, value in (("horizon", horizon), ("season", season)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} must be an int >= 1, got {value!r}")
    steps = len(history)
    if steps < season:
        raise ValueError(f"history needs at least one season ({season} steps), got {steps}")
    index = [steps - season + h % season for h in range(horizon)]
    if _is_tensor(history) or isinstance(history, np.ndarray):
        return history[index]
    return [history[i] for i in index]


def mase(y_true: Any, y_pred: Any, y_train: Any, season: int = 1) -> float:
    """Mean absolute scaled error (Hyndman & Koehler 2006): MAE over the in-sample seasonal-naive MAE.

        scale = mean_{t=m+1..T} |y_t - y_{t-m}|          on the training series
        MASE  = mean |ŷ - y| / scale

    Below 1: better than the seasonal-naive forecast's one-step in-sample error. Scale-free and defined at
    zero targets, unlike :func:`mape`.

    Args:
        y_true, y_pred: same shape, any, e.g. ``(B, horizon)``; with a ``(T, F)`` ``y_train`` the last
            dimension is the F series, each scaled by its own history (the result is their mean).
        y_train: ``(T,)`` or ``(T, F)``, ``T > season``. season: the period m.

    Example:
        >>> mase([5.0, 6.0], [6.0, 6.0], y_train=[1.0, 2.0, 3.0, 4.0])  # MAE 0.5, naive in-sample MAE 1
        0.5
    """
    true, error = _errors(y_true, y_pred)
    train = _array(y_train, "y_train")
    if isinstance(season, bool) or not isinstance(season, int) or season < 1:
        raise ValueError(f"season must be an int >= 1, got {season!r}")
    if train.ndim not in (1, 2) or train.shape[0] <= season:
        raise ValueError(f"y_train must be (T,) or (T, F) with T > season={season}, got shape {train.shape}")
    scale = np.abs(train[season:] - train[:-season]).mean(axis=0)  # () or (F,)
    if train.ndim == 2 and true.shape[-1:] != scale.shape:
        raise ValueError(
            f"y_true's last dimension must be the {scale.shape[0]} series of y_train, got {true.shape}"
        )
    if np.any(scale == 0):
        raise ValueError("mase is undefined: the training series does not change over a season (scale 0)")
    return float((np.abs(error) / scale).mean())
