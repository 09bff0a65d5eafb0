"""Series classification: the data config and how its examples are read and split."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np

from rnnkit.config import ConfigError
from rnnkit.data.reading import DataError
from rnnkit.data.records import SeriesExample, split_stratified
from rnnkit.data.series_text import parse_series, prepare_values  # noqa: F401 - their home before
from rnnkit.data.splits import complete_splits, own_files, read_own_files, replace_splits


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
        train, validation, test: your own files, used instead of ``dataset``: UCR/UEA ``.ts`` files, or
            tables (``.csv`` / ``.tsv`` / ``.jsonl``) with a ``label_column`` and a ``series_column`` holding
            each series as text (``1,2;3,4``: steps separated by ``;``, see :func:`parse_series`); without
            ``test`` (``validation``) that split is held out of ``train``, stratified and seeded.
        label_column, series_column: the columns of a table.
        test_fraction: held out of ``train`` for testing when no test file is given (own files only).
        val_fraction: the part of TRAIN held out for validation, stratified and seeded with ``split_seed``.
        standardize: scale each dimension by the training mean and standard deviation (False: raw values;
            missing values still become the training mean).
        encoding: how ``.ts`` files and tables (own files and ``dataset: ts``) are decoded:
            ``auto`` (detected per file, and logged: a byte-order mark, else UTF-8, else cp949 / EUC-KR
            for Korean bytes, else Latin-1) or any Python codec (``utf-8``, ``cp949``, ``utf-16``...).
        on_bad_rows: ``error`` (a bad row stops the run, naming its file and line) or ``skip`` (bad rows
            are left out, their count and first line numbers in a warning).
        offline: never download (None: the ``RNNKIT_OFFLINE`` environment variable decides).
    """

    dataset: str = "japanese_vowels"
    path: str | None = None
    test_path: str | None = None
    train: str | None = None
    validation: str | None = None
    test: str | None = None
    label_column: str = "label"
    series_column: str = "series"
    val_fraction: float = 0.1
    test_fraction: float = 0.2
    split_seed: int = 0
    standardize: bool = True
    offline: bool | None = None
    encoding: str = "auto"
    on_bad_rows: Literal["error", "skip"] = "error"

    def __post_init__(self) -> None:
        from rnnkit.data.encodings import check_data_keys

        check_data_keys(self.encoding, self.on_bad_rows)
        if not 0.0 <= self.val_fraction < 1.0:
            raise ValueError(
                f"SeriesClassificationData.val_fraction must be in [0, 1), got {self.val_fraction}"
            )
        if not 0.0 < self.test_fraction < 1.0:
            raise ValueError(
                f"SeriesClassificationData.test_fraction must be in (0, 1), got {self.test_fraction}"
            )
        if self.train is not None and (self.path is not None or self.test_path is not None):
            raise ValueError(
                "SeriesClassificationData: data.train (your own files) replaces path and test_path"
            )
        if self.dataset == "ts" and self.path is None and self.train is None:
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


def read_series_table(data: SeriesClassificationData, path: str) -> list[SeriesExample]:
    """The labelled series of a table: ``data.label_column`` and ``data.series_column`` (each series as text,
    :func:`parse_series`; the number of dimensions is that of the first row's first step).

    Raises:
        DataError: a series that cannot be read, naming ``file:line``.
    """
    from rnnkit.data.loaders_table import iter_table
    from rnnkit.data.reading import BadRows

    fmt = {".csv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl"}.get(Path(path).suffix.lower(), "tsv")
    examples, dims = [], None
    bad = BadRows(path, data.on_bad_rows)
    columns = [data.label_column, data.series_column]
    for number, row in iter_table(path, fmt, columns, data.encoding, bad):
        text = str(row[data.series_column])
        if dims is None:
            dims = len(text.strip().split(";")[0].split(",")) if ";" in text else 1
        try:
            values = parse_series(text, dims)
        except ValueError as error:
            bad.refuse(f"{path}:{number}: column {data.series_column!r}: {error}", number)
            continue
        examples.append(SeriesExample(values, str(row[data.label_column]).strip()))
    bad.report()
    return examples


def read_series_file(data: SeriesClassificationData, path: str) -> list[SeriesExample]:
    """``.ts`` files by the UCR/UEA reader, other files as tables (:func:`read_series_table`)."""
    from rnnkit.data.loaders_series import load_ts

    if Path(path).suffix.lower() == ".ts":
        return load_ts(path, data.encoding, data.on_bad_rows)
    return read_series_table(data, path)


def load_series_splits(
    data: SeriesClassificationData, where: str = "config"
) -> dict[str, list[SeriesExample]]:
    """``{"train", "val", "test"}`` series: the user's own files, or a dataset's TRAIN and TEST; what is
    missing is held out of TRAIN, stratified (:func:`complete_splits`).

    Raises:
        ConfigError: an unknown dataset name.
        ValueError: series whose number of dimensions differs between (or within) the files.
    """
    from rnnkit.data.loaders_series import load_ts

    files = own_files(data)
    if "train" in files:
        splits: dict[str, Any] = read_own_files(files, lambda path: read_series_file(data, path))
    elif data.dataset == "ts":
        train_path, test_path = _ts_pair(data)
        splits = {name: load_ts(p, data.encoding, data.on_bad_rows)
                  for name, p in (("train", train_path), ("test", test_path))}  # fmt: skip
    elif data.dataset in series_datasets():
        from rnnkit.data.catalog import load_dataset

        splits = load_dataset(data.dataset, data.path, offline=data.offline)
    else:
        raise ConfigError(
            f"{where}: data: dataset {data.dataset!r} is not a series-classification dataset "
            f"(known: {', '.join(series_datasets())}, or 'ts' with path=NAME_TRAIN.ts)"
        )
    if "train" not in files:
        splits = replace_splits(splits, files, lambda path: read_series_file(data, path))
    source = files.get("train", data.dataset)
    for name, examples in splits.items():
        if not examples:
            raise DataError(f"data: the {name} file of {source!r} holds no series")
    from rnnkit.tasks.classification.data import refuse_one_class

    refuse_one_class(splits["train"], files.get("train") or data.path or data.dataset, data.label_column)
    splits = complete_splits(splits, split_stratified, data.val_fraction, data.test_fraction, data.split_seed,
                             unit="series", where=f"{where}: data", val_seed=data.split_seed)  # fmt: skip
    first = splits["train"][0].values.shape[1]
    for name, examples in splits.items():
        dims = Counter(e.values.shape[1] for e in examples)
        if dims and set(dims) != {first}:
            raise DataError(
                f"data: every series must have the {first} dimension(s) of the first "
                f"TRAIN series; {name.upper()} has series with {sorted(dims)} dimensions"
            )
    return splits


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
