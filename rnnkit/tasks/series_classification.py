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

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn
from torch.utils.data import DataLoader

from rnnkit.config import ConfigError, from_dict
from rnnkit.data.batching import BucketBatchSampler, collate_classification, pad_batch
from rnnkit.data.records import SeriesExample, split_stratified
from rnnkit.models.classifier import ClassifierConfig
from rnnkit.models.scaling import SeriesScaler
from rnnkit.tasks.base import Task, register_task
from rnnkit.tasks.classification import ClassifierMethods
from rnnkit.training.metrics import accuracy, classification_report, confusion_matrix, macro_f1


@dataclass(frozen=True)
class SeriesClassificationData:
    """Where the series come from and how they are split and scaled.

    Attributes:
        dataset: a series-classification dataset of the catalog (``japanese_vowels``, ``gunpoint``,
            ``italy_power_demand``, ``basic_motions``: see ``rnnkit data list``), or ``"ts"`` for any
            ``NAME_TRAIN.ts`` / ``NAME_TEST.ts`` pair of UCR/UEA files given by ``path``.
        path: for a catalog dataset, a local folder holding its two ``.ts`` files (no download); for
            ``"ts"``, the ``NAME_TRAIN.ts`` file (its test file is ``NAME_TEST.ts`` beside it) or a folder
            holding exactly one such pair.
        test_path: the test ``.ts`` file, where it is not the ``_TEST.ts`` beside ``path`` (``"ts"`` only).
        val_fraction: the part of TRAIN held out for validation, stratified and seeded with ``split_seed``.
        standardize: scale each dimension by the training mean and standard deviation (False: raw values;
            missing values still become the training mean).
        offline: never download (None: the ``RNNKIT_OFFLINE`` environment variable decides).
    """

    dataset: str = "japanese_vowels"
    path: str | None = None
    test_path: str | None = None
    val_fraction: float = 0.1
    split_seed: int = 0
    standardize: bool = True
    offline: bool | None = None

    def __post_init__(self) -> None:
        if not 0.0 <= self.val_fraction < 1.0:
            raise ValueError(
                f"SeriesClassificationData.val_fraction must be in [0, 1), got {self.val_fraction}"
            )
        if self.dataset == "ts" and self.path is None:
            raise ValueError(
                "SeriesClassificationData: dataset='ts' needs path= (a NAME_TRAIN.ts file or folder)"
            )
        if self.test_path is not None and self.dataset != "ts":
            raise ValueError("SeriesClassificationData.test_path applies to dataset='ts' only")


def series_datasets() -> list[str]:
    """The catalog's series-classification datasets.

    Example:
        >>> "japanese_vowels" in series_datasets()
        True
    """
    from rnnkit.data.catalog import DATASETS

    return sorted(name for name, info in DATASETS.items() if info.task == "series classification")


def _ts_pair(data: SeriesClassificationData) -> tuple[Path, Path]:
    path = Path(data.path)
    if path.is_dir():
        found = sorted(path.glob("*_TRAIN.ts"))
        if len(found) != 1:
            raise FileNotFoundError(
                f"{path}: expected exactly one NAME_TRAIN.ts file in the folder, "
                f"found {[p.name for p in found]}"
            )
        path = found[0]
    if not path.is_file() or not path.name.endswith("_TRAIN.ts"):
        raise FileNotFoundError(f"{path}: expected an existing NAME_TRAIN.ts file (or a folder holding one)")
    test = (
        Path(data.test_path)
        if data.test_path
        else path.with_name(path.name[: -len("_TRAIN.ts")] + "_TEST.ts")
    )
    if not test.is_file():
        raise FileNotFoundError(f"{test}: no such test file for {path.name} (set data.test_path)")
    return path, test


def load_series_splits(
    data: SeriesClassificationData, where: str = "config"
) -> dict[str, list[SeriesExample]]:
    """``{"train", "val", "test"}`` series: TRAIN minus a stratified validation part, and TEST.

    Raises:
        ConfigError: an unknown dataset name.
        ValueError: series whose number of dimensions differs between (or within) the files.
    """
    from rnnkit.data.loaders_series import load_ts

    if data.dataset == "ts":
        train_path, test_path = _ts_pair(data)
        splits = {"train": load_ts(train_path), "test": load_ts(test_path)}
    elif data.dataset in series_datasets():
        from rnnkit.data.catalog import load_dataset

        splits = load_dataset(data.dataset, data.path, offline=data.offline)
    else:
        raise ConfigError(
            f"{where}: data: dataset {data.dataset!r} is not a series-classification dataset "
            f"(known: {', '.join(series_datasets())}, or 'ts' with path=NAME_TRAIN.ts)"
        )
    train, test = splits["train"], splits["test"]
    for name, examples in (("TRAIN", train), ("TEST", test)):
        if not examples:
            raise ValueError(f"data: the {name} file of {data.dataset!r} holds no series")
        dims = Counter(e.values.shape[1] for e in examples)
        if len(dims) > 1 or set(dims) != {train[0].values.shape[1]}:
            raise ValueError(
                f"data: every series must have the {train[0].values.shape[1]} dimension(s) of the first "
                f"TRAIN series; {name} has series with {sorted(dims)} dimensions"
            )
    val: list[SeriesExample] = []
    if data.val_fraction > 0:
        train, val = split_stratified(train, data.val_fraction, data.split_seed)
    return {"train": train, "val": val, "test": test}


def sort_labels(labels: Sequence[str] | set[str]) -> list[str]:
    """Labels in numeric order when every label is a number (``"2" < "10"``), else in string order.

    Example:
        >>> sort_labels({"10", "2", "1"}), sort_labels({"b", "a"})
        (['1', '2', '10'], ['a', 'b'])
    """
    try:
        return sorted(labels, key=lambda label: (float(label), label))
    except ValueError:
        return sorted(labels)


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


def format_series(values: np.ndarray) -> str:
    """``(T, N)`` values -> the string :func:`parse_series` reads back exactly (float32; NaN as ``?``).

    Example:
        >>> format_series(np.array([[1.5, np.nan], [0.1, 2.0]])), format_series(np.array([[1.0], [2.0]]))
        ('1.5,?;0.1,2.0', '1.0,2.0')
    """
    values = np.asarray(values, dtype=np.float32)
    values = values[:, None] if values.ndim == 1 else values
    cells = [[("?" if np.isnan(v) else str(v)) for v in row] for row in values]
    if values.shape[1] == 1:
        return ",".join(row[0] for row in cells)
    return ";".join(",".join(row) for row in cells)


def resample_series(series: Sequence[np.ndarray], length: int) -> np.ndarray:
    """Linearly resample each ``(T_i, N)`` series to ``length`` steps: ``(B, length, N)``.

    Step ``j`` of the result is the series at position ``j · (T_i - 1) / (length - 1)``, interpolated between
    its two neighbouring steps (first and last steps are kept; a series of one step stays constant).
    Vectorised: the series are padded once and read with one gather.

    Example:
        >>> resample_series([np.array([[0.0], [10.0]]), np.array([[1.0], [2.0], [4.0]])], 5)[..., 0]
        array([[ 0. ,  2.5,  5. ,  7.5, 10. ],
               [ 1. ,  1.5,  2. ,  3. ,  4. ]])
    """
    if isinstance(length, bool) or not isinstance(length, int) or length < 1:
        raise ValueError(f"resample_series: length must be an int >= 1, got {length!r}")
    lengths = np.array([len(s) for s in series])
    if len(series) == 0 or lengths.min() < 1:
        raise ValueError("resample_series: expected a non-empty list of series of at least one step")
    padded = np.zeros((len(series), lengths.max(), series[0].shape[1]))  # (B, T, N)
    for b, s in enumerate(series):
        padded[b, : len(s)] = s
    fraction = np.linspace(0.0, 1.0, length) if length > 1 else np.zeros(1)
    position = (lengths[:, None] - 1) * fraction[None, :]  # (B, L)
    low = np.floor(position).astype(int)
    high = np.minimum(low + 1, lengths[:, None] - 1)
    weight = (position - low)[..., None]  # (B, L, 1)
    take = lambda index: np.take_along_axis(padded, index[..., None], axis=1)  # noqa: E731  (B, L, N)
    return take(low) * (1.0 - weight) + take(high) * weight


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
    def model_config(self) -> ClassifierConfig:
        options = dict(self.model_options)
        where = f"{self.where}: model"
        derived = {"input_size", "num_classes"} & set(options)
        if derived:
            raise ConfigError(f"{where}: {sorted(derived)[0]!r} comes from the data; remove it")
        if "vocab_size" in options:
            raise ConfigError(f"{where}: 'vocab_size' does not apply: series are feature input; remove it")
        sizes = {"input_size": self.num_features, "num_classes": len(self.labels)}
        return from_dict(ClassifierConfig, {**options, **sizes}, where)

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

    def report(self, model: nn.Module, run_dir: Path) -> dict[str, Any]:
        test = self._splits()["test"]
        model.eval()
        with torch.no_grad():
            truth, guess, loss = self._predictions(model, self._loader(test, False))
        names = list(range(len(self.labels)))
        matrix = confusion_matrix(truth, guess, labels=names)
        from rnnkit.training.plots import plot_confusion_matrix

        plot_confusion_matrix(matrix, self.labels, run_dir / "confusion_matrix.png")
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
            "confusion_matrix": matrix,
            "samples": [
                {
                    "index": i,
                    "length": s["length"],
                    "label": s["label"],
                    "probability": s["probability"],
                    "true": test[i].label,
                }
                for i, s in zip(shown, samples)
            ],
        }

    # ----- predict ------------------------------------------------------------------------------------
    @torch.no_grad()
    def predict(self, model: nn.Module, inputs: list[str]) -> list[dict[str, Any]]:
        """The label of each series written as a string (format: :func:`parse_series`; raw values, the
        task standardises them). Returns ``{"input", "length", "label", "probability"}`` per input."""
        model.eval()
        series = []
        for k, text in enumerate(inputs):
            try:
                series.append(torch.from_numpy(self.transform(parse_series(text, self.num_features))))
            except (TypeError, ValueError) as error:
                raise type(error)(f"input {k + 1} of {len(inputs)}: {error}") from None
        results = []
        for start in range(0, len(series), 256):
            values, lengths = pad_batch(series[start : start + 256], pad_value=0.0)  # (B, T, N), (B,)
            probs = model.predict_proba(values.to(self.device), lengths.to(self.device)).cpu()
            for text, length, p in zip(inputs[start : start + 256], lengths.tolist(), probs):
                best = int(p.argmax())
                results.append({"input": text, "length": length, "label": self.labels[best],
                                "probability": round(float(p[best]), 4)})  # fmt: skip
        return results
