"""What each task's export holds: the module traced to ONNX, its inputs and outputs, and the JSON files the
runtime needs to encode inputs and read outputs exactly as the run does.

:func:`export_plan` dispatches on the run's task; a task or model without an export is refused with a
:class:`~rnnkit.export.manifest.NotExportable` that names it and says why.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from rnnkit.export.manifest import NotExportable
from rnnkit.metrics import accuracy, macro_f1

Feeds = dict[str, np.ndarray]
RunSession = Callable[[Feeds], list[np.ndarray]]


@dataclass
class TensorSpec:
    """One input or output of the graph: its name, dtype and shape (a str is a dynamic axis's name)."""

    name: str
    dtype: str
    shape: list[int | str]
    description: str

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "dtype": self.dtype, "shape": self.shape, "description": self.description}


@dataclass
class ExportPlan:
    """A task's export: ``module(*example)`` is traced; ``files`` are written as JSON beside the model;
    ``evaluate(run)`` scores a session (``run(feeds) -> outputs``) on the run's test split (None: no
    test split here)."""

    module: nn.Module
    example: list[Tensor]
    inputs: list[TensorSpec]
    outputs: list[TensorSpec]
    files: dict[str, Any]
    evaluate: Callable[[RunSession], dict[str, float] | None]
    notes: list[str] = field(default_factory=list)

    def dynamic_axes(self) -> dict[str, dict[int, str]]:
        return {
            spec.name: {k: axis for k, axis in enumerate(spec.shape) if isinstance(axis, str)}
            for spec in [*self.inputs, *self.outputs]
        }


class ClassifierProbabilities(nn.Module):
    """A :class:`~rnnkit.models.classifier.SequenceClassifier` returning class probabilities (softmax)."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, tokens: Tensor, lengths: Tensor, chars: Tensor | None = None) -> Tensor:
        return self.model(tokens, lengths, chars).softmax(dim=-1)


def classification_plan(task: Any, model: nn.Module) -> ExportPlan:
    """Text classification: ``tokens (B, T)``, ``lengths (B,)`` [, ``chars (B, T, L)``] -> probabilities."""
    config = model.config
    generator = torch.Generator().manual_seed(0)
    example = [torch.randint(1, config.vocab_size, (3, 9), generator=generator), torch.tensor([9, 4, 6])]
    inputs = [
        TensorSpec("tokens", "int64", ["batch", "time"], "token ids, 0-padded (preprocessing.json)"),
        TensorSpec("lengths", "int64", ["batch"], "valid tokens per text, in [1, time]"),
    ]
    if config.char_vocab_size is not None:
        example.append(torch.randint(0, config.char_vocab_size, (3, 9, 4), generator=generator))
        inputs.append(TensorSpec("chars", "int64", ["batch", "time", "chars"],
                                 "character ids of each token, 0-padded"))  # fmt: skip
    outputs = [
        TensorSpec("probabilities", "float32", ["batch", len(task.labels)], "softmax over labels.json")
    ]
    preprocessing = {
        "tokenizer": task.tokenizer.to_dict(),
        "vocab": task.vocab.to_dict(),
        "chars": None if task.chars is None else task.chars.to_dict(),
        "max_length": task.data.max_length,
        "max_word_length": task.data.max_word_length,
        "top_k": task.data.top_k,
    }

    def evaluate(run: RunSession) -> dict[str, float] | None:
        truth, guess = [], []
        for batch in _test_batches(task):
            feeds = {"tokens": batch["inputs"].numpy(), "lengths": batch["lengths"].numpy()}
            if "chars" in batch:
                feeds["chars"] = batch["chars"].numpy()
            truth += batch["targets"].tolist()
            guess += run(feeds)[0].argmax(-1).tolist()
        if not truth:
            return None
        labels = list(range(len(task.labels)))
        return {
            "test_accuracy": accuracy(truth, guess),
            "test_macro_f1": macro_f1(truth, guess, labels=labels),
        }

    return ExportPlan(ClassifierProbabilities(model), example, inputs, outputs,
                      {"preprocessing.json": preprocessing, "labels.json": list(task.labels)},
                      evaluate)  # fmt: skip


class TaggerEmissions(nn.Module):
    """A :class:`~rnnkit.models.tagger.SequenceTagger`'s emission scores from positional inputs (the names
    its export has: tokens, lengths, then chars and columns where the model reads them)."""

    def __init__(self, model: nn.Module, names: list[str]) -> None:
        super().__init__()
        self.model, self.names = model, names

    def forward(self, *inputs: Tensor) -> Tensor:
        named = dict(zip(self.names, inputs))
        return self.model(named["tokens"], named["lengths"], named.get("chars"), named.get("columns"))


def tagging_plan(task: Any, model: nn.Module) -> ExportPlan:
    """Tagging: ``tokens``, ``lengths`` [, ``chars``] [, ``columns``] -> ``emissions (B, T, K)``; with a CRF
    its constrained transition scores go to ``crf.json`` for the runtime's Viterbi decoding (numpy)."""
    from rnnkit.tasks.tagging.data import METRIC_SCHEME

    config = model.config
    generator = torch.Generator().manual_seed(0)
    example = [torch.randint(1, config.vocab_size, (3, 9), generator=generator), torch.tensor([9, 4, 6])]
    inputs = [
        TensorSpec("tokens", "int64", ["batch", "time"], "word ids, 0-padded (preprocessing.json)"),
        TensorSpec("lengths", "int64", ["batch"], "words per sentence, in [1, time]"),
    ]
    if config.char_vocab_size is not None:
        example.append(torch.randint(0, config.char_vocab_size, (3, 9, 4), generator=generator))
        inputs.append(TensorSpec("chars", "int64", ["batch", "time", "chars"],
                                 "character ids of each word, 0-padded"))  # fmt: skip
    if task.column_vocabs:
        sizes = [len(vocab) for vocab in task.column_vocabs]
        example.append(torch.stack([torch.randint(0, n, (3, 9), generator=generator) for n in sizes], dim=2))
        inputs.append(TensorSpec("columns", "int64", ["batch", "time", len(sizes)],
                                 "ids of each word's feature columns, 0-padded"))  # fmt: skip
    names = [spec.name for spec in inputs]
    meaning = "tag scores per word, 0 past each length; argmax, or Viterbi with crf.json"
    outputs = [TensorSpec("emissions", "float32", ["batch", "time", len(task.labels)], meaning)]
    data = task.data
    preprocessing = {
        "vocab": task.vocab.to_dict(),
        "chars": None if task.chars is None else task.chars.to_dict(),
        "columns": [vocab.to_dict() for vocab in task.column_vocabs],
        "feature_columns": list(data.feature_columns),
        "column_separator": data.column_separator,
        "split_punctuation": data.split_punctuation,
        "lowercase": data.lowercase,
        "suffix_backoff": data.suffix_backoff,
        "max_word_length": data.max_word_length,
        "chunk_scheme": None if task.scheme is None else METRIC_SCHEME[task.scheme],
    }
    files = {"preprocessing.json": preprocessing, "labels.json": list(task.labels)}
    notes = []
    if model.crf is not None:
        with torch.no_grad():
            transitions, start, end = (t.float().tolist() for t in model.crf.constrained_scores())
        files["crf.json"] = {"transitions": transitions, "start": start, "end": end}
        notes.append("crf.json: the CRF's transition scores (from, to), start and end scores, disallowed "
                     "transitions at -10000; tags are the Viterbi path over the emissions "
                     "(rnnkit.export.viterbi, numpy)")  # fmt: skip

    def evaluate(run: RunSession) -> dict[str, float] | None:
        from rnnkit.export.viterbi import decode_tags

        crf = files.get("crf.json")
        truth, guess = [], []
        for batch in _test_batches(task):
            feeds = {"tokens": batch["inputs"].numpy(), "lengths": batch["lengths"].numpy()}
            for name in ("chars", "columns"):
                if name in batch:
                    feeds[name] = batch[name].numpy()
            paths = decode_tags(run(feeds)[0], feeds["lengths"], crf)
            for n, gold, path in zip(batch["lengths"].tolist(), batch["targets"].tolist(), paths):
                truth += gold[:n]
                guess += path
        return None if not truth else {"test_accuracy": accuracy(truth, guess)}

    return ExportPlan(TaggerEmissions(model, names), example, inputs, outputs, files, evaluate, notes)


def series_classification_plan(task: Any, model: nn.Module) -> ExportPlan:
    """Series classification: standardised ``values (B, T, N)``, ``lengths (B,)`` -> ``probabilities``;
    the training statistics (mean, std) go to ``preprocessing.json``."""
    generator = torch.Generator().manual_seed(0)
    example = [torch.randn(3, 9, task.num_features, generator=generator), torch.tensor([9, 4, 6])]
    inputs = [
        TensorSpec("values", "float32", ["batch", "time", task.num_features],
                   "standardised values ((x - mean) / std, NaN -> 0), 0-padded"),
        TensorSpec("lengths", "int64", ["batch"], "steps per series, in [1, time]"),
    ]  # fmt: skip
    outputs = [
        TensorSpec("probabilities", "float32", ["batch", len(task.labels)], "softmax over labels.json")
    ]
    preprocessing = {"num_features": task.num_features, "mean": task.mean, "std": task.std,
                     "standardize": task.standardize}  # fmt: skip

    def evaluate(run: RunSession) -> dict[str, float] | None:
        truth, guess = [], []
        for batch in _test_batches(task):
            feeds = {"values": batch["inputs"].numpy(), "lengths": batch["lengths"].numpy()}
            truth += batch["targets"].tolist()
            guess += run(feeds)[0].argmax(-1).tolist()
        labels = list(range(len(task.labels)))
        return None if not truth else {"test_accuracy": accuracy(truth, guess),
                                       "test_macro_f1": macro_f1(truth, guess, labels=labels)}  # fmt: skip

    files = {"preprocessing.json": preprocessing, "labels.json": list(task.labels)}
    return ExportPlan(ClassifierProbabilities(model), example, inputs, outputs, files, evaluate)


class ForecastLevels(nn.Module):
    """A :class:`~rnnkit.models.forecaster.Forecaster` on model-level histories ``(B, T)`` (``log y`` with
    ``log_transform``, standardised by the series' shift and scale with ``series_column``) and the run's
    encoded covariates, with the run's ``window_level`` offset taken off and added back, as the task does:
    ``(B, H)`` forecasts, or ``(B, H, Q)`` quantiles, on the same level as ``history``."""

    def __init__(self, model: nn.Module, window_level: str, names: tuple[str, ...] = ()) -> None:
        super().__init__()
        self.model, self.window_level, self.names = model, window_level, names

    def forward(self, history: Tensor, *covariates: Tensor) -> Tensor:
        history = history.unsqueeze(-1)  # (B, T, 1)
        if self.window_level == "last":
            offset = history[:, -1:]
        elif self.window_level == "mean":
            offset = history.mean(dim=1, keepdim=True)
        else:
            offset = torch.zeros_like(history[:, :1])
        forecast = self.model(history - offset, **dict(zip(self.names, covariates)))  # (B, H, 1[, Q])
        if self.model.config.quantiles is not None:
            offset = offset.unsqueeze(-1)
        return (forecast + offset)[:, :, 0]


COVARIATE_INPUTS = {  # graph input (the model's argument of that name) -> (its steps, what it holds)
    "past_covariates": ("history", "the known-future covariates over the history"),
    "future_covariates": ("horizon", "the known-future covariates of the forecast steps"),
    "past_only_covariates": ("history", "the past-only covariates over the history"),
}


def _covariate_inputs(task: Any, model: nn.Module) -> tuple[list[TensorSpec], list[Tensor]]:
    """The covariate inputs of the run's model (as its task's batches hold them) and example tensors."""
    config, d, generator = model.config, task.data, torch.Generator().manual_seed(1)
    encoder = task._encoder()
    known = (config.num_covariates, encoder.columns("future"), config.known_categories)
    widths = {"past_covariates": known, "future_covariates": known,
              "past_only_covariates": (config.num_past_only_covariates, encoder.columns("past"),
                                       config.past_only_categories)}  # fmt: skip
    specs, example = [], []
    for name, (steps, meaning) in COVARIATE_INPUTS.items():
        width, columns, categories = widths[name]
        if not width:
            continue
        length = d.history if steps == "history" else d.horizon
        numeric = width - len(categories)
        values = torch.randn(3, length, width, generator=generator)
        for k, size in enumerate(categories):
            values[..., numeric + k] = torch.randint(0, size, (3, length), generator=generator).float()
        ids = f"; the last {len(categories)} hold category ids (float, 0 = unknown)" if categories else ""
        specs.append(TensorSpec(name, "float32", ["batch", length, width],
                                f"{meaning}, columns {columns} (preprocessing.json){ids}"))  # fmt: skip
        example.append(values)
    return specs, example


def forecasting_plan(task: Any, model: nn.Module) -> ExportPlan:
    """Forecasting: ``history (B, T)`` [, ``past_covariates (B, T, C)``, ``future_covariates (B, H, C)``]
    [, ``past_only_covariates (B, T, P)``] -> ``forecast``; the model's scalers are in the graph; the
    log transform, the per-series scaling (``series_column``), the category vocabularies and the quantile
    levels in preprocessing.json, applied by the runtime."""
    from rnnkit.data.forecast_tables import TableSettings

    d = task.data
    config = model.config
    several = task.several
    shape: list[int | str] = ["batch", d.horizon] + (
        [] if config.quantiles is None else [len(config.quantiles)]
    )
    level = "their log with log_transform" + (", then (x - shift) / scale by the series' scaling in "
                                              "preprocessing.json" if several else "")  # fmt: skip
    covariates, covariate_example = _covariate_inputs(task, model)
    inputs = [TensorSpec("history", "float32", ["batch", d.history], f"the last `history` values ({level})"),
              *covariates]  # fmt: skip
    outputs = [TensorSpec("forecast", "float32", shape, "the next `horizon` values on the level of history "
                          "(undo the series' scaling, then exp with log_transform), per quantile level "
                          "with quantiles")]  # fmt: skip
    scaler = {name: buffer.tolist() for name, buffer in model.scaler.named_buffers()}
    state = getattr(task, "saved_state", {})
    encoder = task._encoder()
    preprocessing = {"history": d.history, "horizon": d.horizon, "log_transform": d.log_transform,
                     "window_level": d.window_level, "quantiles": config.quantiles, "center": model.center,
                     "scaler": scaler, "data": TableSettings.of(d).to_dict(),
                     "value_column": task.value_column,
                     "series_scaling": state.get("series_scaling") if several else None,
                     "categories": encoder.vocab,
                     "covariate_columns": {"past_only": encoder.columns("past"),
                                           "known_future": encoder.columns("future")}}  # fmt: skip
    names = tuple(spec.name for spec in covariates)

    def evaluate(run: RunSession) -> dict[str, float] | None:
        from rnnkit.metrics import mae, rmse

        truth, guess = [], []
        for batch in _test_batches(task):
            feeds = {"history": batch["history"][..., 0].numpy()}
            feeds.update({name: batch[name].numpy() for name in names})
            forecast = run(feeds)[0].astype(np.float64)
            point = forecast if config.quantiles is None else forecast[..., model.center]
            seen = (
                np.ones(point.shape, bool) if "observed" not in batch else batch["observed"][..., 0].numpy()
            )
            targets = batch["targets"][..., 0].double().numpy()
            if several:
                index = batch["series"].numpy()
                shift = np.array([task.series[k].shift for k in index])[:, None]
                scale = np.array([task.series[k].scale for k in index])[:, None]
                point, targets = point * scale + shift, targets * scale + shift
            raw = (np.exp(point), np.exp(targets)) if d.log_transform else (point, targets)
            guess.append(raw[0][seen])
            truth.append(raw[1][seen])
        if not truth:
            return None
        return {"test_mae": mae(np.concatenate(truth), np.concatenate(guess)),
                "test_rmse": rmse(np.concatenate(truth), np.concatenate(guess))}  # fmt: skip

    example = [torch.randn(3, d.history, generator=torch.Generator().manual_seed(0)), *covariate_example]
    notes = ["scaler in preprocessing.json: the statistics the model standardises with (also in the graph)"]
    if names:
        notes.append("covariates: each stream's numeric columns (gaps filled as data.missing says) then its "
                     "categorical ones, as one-hot 0/1 columns or, with encoding: embedding, one column of "
                     "ids each (1 + the place in preprocessing.json's categories, 0 for unknown or "
                     "missing)")  # fmt: skip
    if names or several:
        notes.append(
            "predict inputs are tables in the training columns (`rnnkit predict THIS_FOLDER next.csv`: "
            "each series' history, then its rows to forecast with the value blank), read into the inputs "
            "above as the run reads them (rnnkit.data.forecast_tables; settings in preprocessing.json)"
        )
    if several:
        notes.append("series_scaling in preprocessing.json: each training series' (shift, scale) of its "
                     "level; a series not in it is scaled by its own history's mean and standard "
                     "deviation")  # fmt: skip
    return ExportPlan(ForecastLevels(model, d.window_level, names), example, inputs, outputs,
                      {"preprocessing.json": preprocessing}, evaluate, notes)  # fmt: skip


def _test_batches(task: Any) -> list[dict[str, Tensor]]:
    """The batches of the run's test split, or none where its data is not on this machine."""
    try:
        test = task.loaders()[2]
    except (OSError, ValueError):  # the data moved or needs a download: no test metrics, nothing else lost
        return []
    return [] if test is None else list(test)


PLANS: dict[str, Callable[[Any, nn.Module], ExportPlan]] = {
    "classification": classification_plan,
    "tagging": tagging_plan,
    "series_classification": series_classification_plan,
    "forecasting": forecasting_plan,
}

DECODED = ("translation", "language_model", "generation")  # several graphs: rnnkit.export.decoders


def export_plan(task: Any, model: nn.Module) -> ExportPlan:
    """The export of ``model`` trained for ``task``.

    Raises:
        NotExportable: the task, or a module of the model, has no ONNX export here; names it and why.
    """
    name = type(task).name
    if name in DECODED:
        raise NotExportable(f"task {name!r} has no single-graph plan: its decoder steps are exported by "
                            "rnnkit.export.decoders (rnnkit export RUN does it)")  # fmt: skip
    if name not in PLANS:
        raise NotExportable(f"task {name!r} has no ONNX export (exportable: {sorted(PLANS)})")
    check_modules(model)
    return PLANS[name](task, model)


def check_modules(model: nn.Module) -> None:
    """Refuse a model with a module whose computation the export does not reproduce (named, with why)."""
    from rnnkit.layers.stateful import Stateful

    for path, module in model.named_modules():
        if isinstance(module, Stateful):
            raise NotExportable(
                f"module {path or 'model'} ({type(module).__name__}): carries its state from one call to the "
                "next, which a stateless ONNX graph cannot; export the wrapped layer instead"
            )
