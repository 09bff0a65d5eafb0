"""Train / validation / test: the one place where a task's splits are completed.

A dataset (or the user's own files, ``data.train`` / ``data.validation`` / ``data.test``) gives some of the
three splits. What is missing is held out of the training data, seeded, and logged so the user sees it::

    test missing        -> test_fraction of the training data (seed)
    validation missing  -> val_fraction of the *whole* data (of what is left after the test split, when
                           that was held out too), seed + 1

How examples are held out is the task's choice: stratified by label for classification, by source sentence
for translation (every pair of one source on one side), at random for tagging.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

from rnnkit.config import ConfigError

T = TypeVar("T")
HoldOut = Callable[[list[T], float, int], tuple[list[T], list[T]]]
log = logging.getLogger("rnnkit")

VALIDATION_NAMES = ("validation", "dev", "val")


def complete_splits(
    given: Mapping[str, Sequence[T]],
    hold_out: HoldOut,
    val_fraction: float,
    test_fraction: float,
    seed: int,
    unit: str = "examples",
    where: str = "data",
    val_seed: int | None = None,
) -> dict[str, Sequence[T]]:
    """``{"train", "val", "test"}`` from the splits ``given`` (``train`` or ``all``; ``validation``, ``dev``
    or ``val``; ``test``), holding out what is missing with ``hold_out(items, fraction, seed)``, which
    returns ``(rest, held)``.

    The validation part is drawn with ``val_seed`` (default ``seed + 1``).

    Raises:
        ConfigError: no training data, or nothing left for training or testing, naming ``where``.

    Example:
        >>> def every_other(items, fraction, seed):
        ...     k = round(len(items) * fraction)
        ...     return items[k:], items[:k]
        >>> parts = complete_splits({"all": list(range(10))}, every_other, 0.2, 0.1, seed=0)
        >>> {name: len(part) for name, part in parts.items()}
        {'train': 7, 'val': 2, 'test': 1}
        >>> complete_splits({"train": [1, 2], "test": [3]}, every_other, 0.0, 0.1, seed=0)["test"]
        [3]
    """
    train = given.get("train", given.get("all"))
    if not train:
        raise ConfigError(f"{where}: no training {unit}")
    test = given.get("test")
    val = next((given[name] for name in VALIDATION_NAMES if given.get(name) is not None), None)
    fraction = val_fraction
    if test is None:
        if test_fraction <= 0:
            raise ConfigError(
                f"{where}: no test {unit}: give data.test (a file) or set data.test_fraction > 0"
            )
        train, test = hold_out(train, test_fraction, seed)
        log.info("%s: no test split given; held out %d %s (%g of the training data, seed %d)",
                 where, len(test), unit, test_fraction, seed)  # fmt: skip
        fraction = val_fraction / (1 - test_fraction)  # of what is left
    if val is None:
        if fraction > 0:
            val_seed = seed + 1 if val_seed is None else val_seed
            train, val = hold_out(train, fraction, val_seed)
            log.info("%s: no validation split given; held out %d %s (%g of the data, seed %d)",
                     where, len(val), unit, val_fraction, val_seed)  # fmt: skip
        else:
            val = train[:0]  # empty, of the training data's type
    if not train or not test:
        raise ConfigError(
            f"{where}: {len(train)} training and {len(test)} test {unit} are left; both need at least one "
            "(more data, or smaller val_fraction / test_fraction)"
        )
    return {"train": train, "val": val, "test": test}


def own_files(data: Any) -> dict[str, str]:
    """The user's own split files of a data config: ``{"train": path, "validation": path, "test": path}``
    for those set (``data.train``, ``data.validation``, ``data.test``).

    With ``data.train`` they are the whole data; without it, each given file replaces that split of the
    dataset (``rnnkit evaluate RUN --data test=new.csv`` scores a run on a new test file).

    Raises:
        ConfigError: a file that does not exist.

    Example:
        >>> from types import SimpleNamespace
        >>> own_files(SimpleNamespace(train=None, validation=None, test=None))
        {}
    """
    files = {name: getattr(data, name, None) for name in ("train", "validation", "test")}
    files = {name: path for name, path in files.items() if path is not None}
    for name, path in files.items():
        if not Path(path).is_file():
            raise ConfigError(f"data.{name}: {path}: no such file")
    return files


def read_own_files(files: Mapping[str, str], read: Callable[[str], T]) -> dict[str, T]:
    """``read`` of each of :func:`own_files`, keyed as :func:`complete_splits` takes them."""
    return {name: read(path) for name, path in files.items()}


def replace_splits(
    splits: Mapping[str, Any], files: Mapping[str, str], read: Callable[[str], T]
) -> dict[str, Any]:
    """A dataset's ``splits`` with those of the user's ``files`` (validation and test, no train) put in
    their place, logged.

    Example:
        >>> replace_splits({"train": [1, 2], "dev": [3], "test": [4]}, {"test": "new.csv"}, lambda p: [9])
        {'train': [1, 2], 'dev': [3], 'test': [9]}
    """
    out = dict(splits)
    for name, path in files.items():
        if name == "validation":
            for other in VALIDATION_NAMES:
                out.pop(other, None)
        out[name] = read(path)
        log.info("data.%s: %s replaces the dataset's %s split", name, path, name)
    return out
