"""Series classification: the Task: encoding, model, loss, metrics, artefacts and prediction."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn
from torch.utils.data import DataLoader

from rnnkit.config import ConfigError
from rnnkit.data.batching import BucketBatchSampler, collate_classification, pad_batch
from rnnkit.data.records import SeriesExample
from rnnkit.metrics import (
    accuracy,
    classification_report,
    confusion_matrix,
    labelled_matrix,
    macro_f1,
)
from rnnkit.models.classifier import ClassifierConfig
from rnnkit.models.modes import eval_mode
from rnnkit.models.scaling import SeriesScaler
from rnnkit.plots.charts import plot_labelled_matrix
from rnnkit.tasks.base import CHARACTER_FIELDS, InputError, Task, register_task
from rnnkit.tasks.classification import ClassifierMethods
from rnnkit.tasks.series_classification.baseline import nearest_neighbour
from rnnkit.tasks.series_classification.data import (
    SeriesClassificationData,
    format_series,
    load_series_splits,
    parse_series,
    prepare_values,
    resample_series,
    sort_labels,
)


@register_task
class SeriesClassificationTask(ClassifierMethods, Task):
    """Many-to-one on feature vectors: a label per (multivariate, variable-length) series. The model section
    is a :class:`ClassifierConfig` without ``input_size``/``num_classes`` (the number of dimensions and of
    TRAIN labels) and without the token-input fields."""

    name = "series_classification"
    data_config = SeriesClassificationData

    # ----- data ---------------------------------------------------------------------------------------
    def _splits(self) -> dict[str, list[SeriesExample]]:
        if not hasattr(self, "splits"):
            self.splits = load_series_splits(self.data, self.where)
        return self.splits

    def prepare(self, run_dir: Path) -> None:
        splits = self._splits()
        self.labels = sort_labels({e.label for e in splits["train"] + splits["val"]})
        if len(self.labels) < 2:
            raise ValueError(f"data: classification needs at least 2 classes in TRAIN, got {self.labels}")
        self.num_features = splits["train"][0].values.shape[1]
        scaler = SeriesScaler(self.num_features).fit([torch.from_numpy(e.values) for e in splits["train"]])
        self.mean, self.std = scaler.shift.tolist(), scaler.scale.tolist()
        self.standardize = self.data.standardize
        self.save_state(run_dir)

    def state(self) -> dict[str, Any]:
        return {"labels": self.labels, "num_features": self.num_features, "mean": self.mean, "std": self.std,
                "standardize": self.standardize}  # fmt: skip

    def restore(self, state: dict[str, Any]) -> None:
        self.labels, self.num_features = list(state["labels"]), int(state["num_features"])
        self.mean, self.std = list(state["mean"]), list(state["std"])
        self.standardize = bool(state["standardize"])

    def transform(self, values: np.ndarray) -> np.ndarray:
        """A raw ``(T, N)`` series -> what the model reads (:func:`prepare_values`, saved statistics)."""
        return prepare_values(values, np.asarray(self.mean), np.asarray(self.std), self.standardize)

    def _dataset(self, examples: list[SeriesExample]) -> list[tuple[Tensor, int]]:
        index = {label: k for k, label in enumerate(self.labels)}
        unknown = sort_labels({e.label for e in examples} - set(index))
        if unknown:
            raise ValueError(f"labels {unknown[:5]} do not occur in the training data (known: {self.labels})")
        if examples[0].values.shape[1] != self.num_features:
            raise ValueError(
                f"data: the series have {examples[0].values.shape[1]} dimension(s), the model was trained on "
                f"{self.num_features}"
            )
        return [(torch.from_numpy(self.transform(e.values)), index[e.label]) for e in examples]

    def _loader(self, examples: list[SeriesExample], shuffle: bool) -> DataLoader | None:
        if not examples:
            return None
        items = self._dataset(examples)
        sampler = BucketBatchSampler(
            [len(x) for x, _ in items], self.train.batch_size, shuffle=shuffle, seed=self.train.seed
        )
        return DataLoader(items, batch_sampler=sampler, collate_fn=collate_classification)

    def loaders(self) -> tuple[Any, Any, Any]:
        splits = self._splits()
        return (
            self._loader(splits["train"], True),
            self._loader(splits["val"], False),
            self._loader(splits["test"], False),
        )

    # ----- model --------------------------------------------------------------------------------------
    model_config_class = ClassifierConfig
    DERIVED = ("input_size", "num_classes")

    @classmethod
    def placeholder_sizes(cls, data: Any) -> dict[str, Any]:
        return {"input_size": 1, "num_classes": 2, "vocab_size": None}

    @classmethod
    def unused_fields(cls, data: Any) -> tuple[str, ...]:
        token_only = ("vocab_size", "embedding_dim", "padding_idx", "freeze_embedding", "embedding_dropout",
                      "token_dropout", "unk_idx")  # fmt: skip
        return (*token_only, *CHARACTER_FIELDS)  # series are feature input

    @classmethod
    def check_model_section(cls, options: dict[str, Any], data: Any, where: str = "model") -> Any:
        if "vocab_size" in options:
            raise ConfigError(f"{where}.vocab_size: does not apply: series are feature input; remove it")
        return super().check_model_section(options, data, where)

    def model_config(self) -> ClassifierConfig:
        self.check_model_section(self.model_options, self.data, f"{self.where}: model")
        return self.build_model_config({"input_size": self.num_features, "num_classes": len(self.labels)})

    # ----- report -------------------------------------------------------------------------------------
    def baselines(self) -> dict[str, dict[str, Any]]:
        """Majority class and 1-NN (Euclidean, resampled to the longest TRAIN length), fitted on all of TRAIN
        (train + validation, as the UCR archive reports them) and scored on the test split."""
        splits = self._splits()
        reference, test = splits["train"] + splits["val"], splits["test"]
        truth = [e.label for e in test]
        majority = Counter(e.label for e in reference).most_common(1)[0][0]
        length = max(len(e) for e in reference)
        resampled = [
            resample_series([self.transform(e.values) for e in part], length) for part in (reference, test)
        ]
        nearest = nearest_neighbour(*(r.reshape(len(r), -1) for r in resampled))
        neighbour = [reference[i].label for i in nearest]

        def scores(name: str, guess: list[str]) -> dict[str, Any]:
            return {"name": name, "test_accuracy": accuracy(truth, guess),
                    "test_macro_f1": macro_f1(truth, guess, labels=self.labels)}  # fmt: skip

        return {
            "majority": scores(f"majority class ({majority})", [majority] * len(test)),
            "nearest_neighbour": scores(f"1-NN, Euclidean, series resampled to {length} steps", neighbour),
        }

    def report(self, model: nn.Module) -> dict[str, Any]:
        test = self._splits()["test"]
        eval_mode(model)
        with torch.no_grad():
            truth, guess, loss = self._predictions(model, self._loader(test, False))
        names = list(range(len(self.labels)))
        matrix = confusion_matrix(truth, guess, labels=names)
        per_class = classification_report(truth, guess, labels=names, names=self.labels)
        shown = list(range(0, len(test), max(1, len(test) // 5)))[:5]  # spread over the file
        samples = self.predict(model, [format_series(test[i].values) for i in shown])
        baselines = self.baselines()
        return {
            "test_loss": loss,
            "test_accuracy": accuracy(truth, guess),
            "test_macro_f1": macro_f1(truth, guess, labels=names),
            "baseline": baselines["majority"],
            "baseline_1nn": baselines["nearest_neighbour"],
            "sizes": {split: len(examples) for split, examples in self._splits().items()},
            "per_class": per_class,
            "confusion_matrix": labelled_matrix(matrix, self.labels),
            "samples": [
                {
                    "index": i,
                    "input": s["input"],  # as predict and inspect take it
                    "length": s["length"],
                    "label": s["label"],
                    "probability": s["probability"],
                    "true": test[i].label,
                }
                for i, s in zip(shown, samples)
            ],
        }

    def write_artifacts(self, model: nn.Module, folder: Path, results: dict[str, Any]) -> list[Path]:
        """``confusion_matrix.png`` of the test results."""
        return [plot_labelled_matrix(results["confusion_matrix"], folder / "confusion_matrix.png")]

    # ----- inputs and predict -------------------------------------------------------------------------
    def parse_inputs(self, inputs: list[str]) -> list[Tensor]:
        """Each input string (format: :func:`parse_series`; raw values) as a standardised ``(T, N)`` tensor.

        Raises:
            InputError: an input that is not a series of ``num_features`` numbers per step.
        """
        series = []
        for number, text in enumerate(inputs, 1):
            try:
                series.append(torch.from_numpy(self.transform(parse_series(text, self.num_features))))
            except (TypeError, ValueError) as error:
                raise InputError(number, str(error)) from None
        return series

    def encode_inputs(self, examples: list[Tensor]) -> dict[str, Tensor]:
        values, lengths = pad_batch(examples, pad_value=0.0)  # (B, T, N), (B,)
        return {"inputs": values, "lengths": lengths}

    @torch.no_grad()
    def inspection_example(
        self, model: nn.Module, text: str
    ) -> tuple[dict[str, Tensor], dict[str, list[str]], str]:
        """One series written as a string (:func:`parse_series`) as a batch of one, with the model's own
        label as its target; the steps are labelled by their raw value (one dimension) or their number.

        Raises:
            ValueError: the string is not a series of ``num_features`` numbers per step.
        """
        eval_mode(model)
        values = parse_series(text, self.num_features)
        series = torch.from_numpy(self.transform(values)).unsqueeze(0)  # (1, T, N)
        device = next(model.parameters()).device
        batch = {"inputs": series.to(device), "lengths": torch.tensor([series.size(1)], device=device)}
        probabilities = model(batch["inputs"], batch["lengths"]).softmax(-1)[0]
        best = int(probabilities.argmax())
        batch["targets"] = torch.tensor([best], device=device)
        steps = (
            [f"{v:.4g}" for v in values[:, 0]]
            if self.num_features == 1
            else [str(t + 1) for t in range(len(values))]
        )
        return batch, {"rnn": steps}, f"predicted: {self.labels[best]} (p = {probabilities[best]:.3f})"

    @torch.no_grad()
    def predict(self, model: nn.Module, inputs: list[str]) -> list[dict[str, Any]]:
        """The label of each series written as a string (format: :func:`parse_series`; raw values, the
        task standardises them). Returns ``{"input", "length", "label", "probability"}`` per input."""
        eval_mode(model)
        series = self.parse_inputs(inputs)
        results = []
        for start in range(0, len(series), 256):
            values, lengths = pad_batch(series[start : start + 256], pad_value=0.0)  # (B, T, N), (B,)
            probs = model.predict_proba(values.to(self.device), lengths.to(self.device)).cpu()
            for text, length, p in zip(inputs[start : start + 256], lengths.tolist(), probs):
                best = int(p.argmax())
                results.append({"input": text, "length": length, "label": self.labels[best],
                                "probability": round(float(p[best]), 4)})  # fmt: skip
        return results
