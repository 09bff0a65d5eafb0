"""The search space: which keys of a run config ``rnnkit tune`` changes, over which values, centred on the
config's own values (the default recipe's choices, or the keys the config gives).

A :class:`Param` is one dotted key (``model.rnn.hidden_size``, ``train.lr``, ``data.characters``) with a
list of choices or a float range; the config's value is always one of the choices (or inside the range),
and the first trial of every search is the config itself (:func:`centre`), so a search never ends worse
on validation than the run it started from. The spaces are in ``docs/tune.md``.

Example:
    >>> resolved = {"data": {}, "model": {"rnn": {"hidden_size": 100}, "dropout": 0.2},
    ...             "train": {"lr": 0.003}}
    >>> [p.key for p in generic_space(resolved)]
    ['model.rnn.hidden_size', 'model.dropout', 'train.lr']
    >>> centre(generic_space(resolved), resolved)
    {'model.rnn.hidden_size': 100, 'model.dropout': 0.2, 'train.lr': 0.003}
"""

from __future__ import annotations

import copy
import dataclasses
import importlib.util
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

Params = dict[str, Any]
_MISSING = object()


@dataclass(frozen=True)
class Param:
    """One searched key: ``choices`` (``kind="choice"``), or a range ``[low, high]`` sampled uniformly
    (``"float"``) or on a log scale (``"log"``); ``when``: sampled only if it holds for the values chosen
    before it (e.g. an embedding size only without pretrained vectors)."""

    key: str
    kind: Literal["choice", "float", "log"]
    choices: tuple[Any, ...] = ()
    low: float = 0.0
    high: float = 0.0
    when: Callable[[Params], bool] | None = None

    def around(self, value: Any) -> Param:
        """This parameter with ``value`` (the config's own) among its choices or inside its range.

        Example:
            >>> Param("model.rnn.hidden_size", "choice", (64, 128)).around(96).choices
            (64, 96, 128)
            >>> Param("train.lr", "log", low=1e-3, high=1e-2).around(2e-4).low
            0.0002
        """
        if value is _MISSING or (value is None and self.kind != "choice"):
            return self
        if self.kind == "choice":
            choices = tuple(dict.fromkeys([*self.choices, value]))
            if all(isinstance(c, (int, float)) and not isinstance(c, bool) for c in choices):
                choices = tuple(sorted(choices))
            return dataclasses.replace(self, choices=choices)
        return dataclasses.replace(self, low=min(self.low, value), high=max(self.high, value))

    def suggest(self, trial: Any) -> Any:
        """A value for an Optuna ``trial``."""
        if self.kind == "choice":
            return trial.suggest_categorical(self.key, list(self.choices))
        return trial.suggest_float(self.key, self.low, self.high, log=self.kind == "log")

    def describe(self) -> str:
        """``key: a | b | c`` or ``key: low .. high (log)``.

        Example:
            >>> Param("train.lr", "log", low=0.0003, high=0.01).describe()
            'train.lr: 0.0003 .. 0.01 (log)'
        """
        if self.kind == "choice":
            return f"{self.key}: " + " | ".join(str(c) for c in self.choices)
        return f"{self.key}: {self.low:g} .. {self.high:g}" + (" (log)" if self.kind == "log" else "")


def get_key(resolved: dict[str, Any], key: str, default: Any = _MISSING) -> Any:
    """The value of dotted ``key`` in a resolved config (``--print-config``'s mapping).

    Example:
        >>> get_key({"model": {"rnn": {"cell": "gru"}}}, "model.rnn.cell")
        'gru'
    """
    node: Any = resolved
    for part in key.split("."):
        if not isinstance(node, dict) or part not in node:
            return default
        node = node[part]
    return node


def sample(trial: Any, space: list[Param]) -> Params:
    """The values of one trial, in the order of ``space``, skipping those whose ``when`` fails."""
    params: Params = {}
    for param in space:
        if param.when is None or param.when(params):
            params[param.key] = param.suggest(trial)
    return params


def centre(space: list[Param], resolved: dict[str, Any]) -> Params:
    """The config's own values of the searched keys: the first trial of a search."""
    params: Params = {}
    for param in space:
        value = get_key(resolved, param.key)
        if value is not _MISSING and (param.when is None or param.when(params)):
            params[param.key] = value
    return params


def generic_space(resolved: dict[str, Any]) -> list[Param]:
    """Any task: the recurrent layer's size (half, as given, double), the dropout before the head and
    the learning rate (a third to three times the given one), for the keys its model section has."""
    space = []
    hidden = get_key(resolved, "model.rnn.hidden_size")
    if isinstance(hidden, int):
        space.append(Param("model.rnn.hidden_size", "choice", (max(8, hidden // 2), hidden, hidden * 2)))
    if isinstance(get_key(resolved, "model.dropout"), float):
        space.append(Param("model.dropout", "float", low=0.0, high=0.5))
    lr = get_key(resolved, "train.lr")
    space.append(Param("train.lr", "log", low=lr / 3, high=lr * 3))
    return [p.around(get_key(resolved, p.key)) for p in space]


def classification_space(resolved: dict[str, Any], stats: dict[str, Any] | None = None) -> list[Param]:
    """Text classification: tokens (words with or without each word's characters; for Korean also
    syllables, and morphemes where kiwipiepy is installed), pretrained vectors or not (and then the
    embedding's size), the recurrent cell, its size and layers, pooling, the two dropouts, learning rate,
    weight decay and batch size.
    ``stats``: the default recipe's measurements of the training split (its ``script``), where known."""
    data = resolved["data"]
    script = (stats or {}).get("script")
    vectors = data.get("embeddings")
    space = []
    if script == "korean":
        kiwi = importlib.util.find_spec("kiwipiepy") is not None
        space.append(
            Param("data.tokenizer", "choice", ("syllable", "word", *(("morpheme",) if kiwi else ())))
        )

    def whole_words(params: Params) -> bool:
        return params.get("data.tokenizer", data.get("tokenizer")) in ("word", "morpheme")

    if script == "korean" or data.get("tokenizer") in ("word", "morpheme"):
        space.append(Param("data.characters", "choice", (False, True), when=whole_words))
    if vectors is not None:
        space.append(Param("data.embeddings", "choice", (vectors, None)))

    def without_vectors(params: Params) -> bool:
        return params.get("data.embeddings", vectors) is None

    space += [
        Param("model.embedding_dim", "choice", (64, 128, 200, 300), when=without_vectors),
        Param("model.rnn.cell", "choice", ("lstm", "gru")),
        Param("model.rnn.hidden_size", "choice", (64, 128, 192, 256)),
        Param("model.rnn.num_layers", "choice", (1, 2)),
        Param("model.pooling", "choice", ("max", "mean", "last")),
        Param("model.embedding_dropout", "float", low=0.0, high=0.5),
        Param("model.dropout", "float", low=0.1, high=0.6),
        Param("train.lr", "log", low=3e-4, high=1e-2),
        Param("train.weight_decay", "log", low=1e-4, high=0.1),
        Param("train.batch_size", "choice", (16, 32, 64, 128)),
    ]  # fmt: skip
    return [p.around(get_key(resolved, p.key)) for p in space]


SPACES: dict[str, Callable[..., list[Param]]] = {"classification": classification_space}


def space_for(task: str, resolved: dict[str, Any], stats: dict[str, Any] | None = None) -> list[Param]:
    """The space of a task: its own (:data:`SPACES`), or :func:`generic_space`."""
    if task in SPACES:
        return SPACES[task](resolved, stats)
    return generic_space(resolved)


def with_params(config: Any, params: Params, where: str = "config") -> Any:
    """``config`` (a :class:`rnnkit.tasks.base.RunConfig`) with each dotted key of ``params`` set, checked,
    its recipe off (its choices are keys of the config already).

    Example:
        >>> from rnnkit.tasks.base import RunConfig
        >>> tuned = with_params(RunConfig("classification"), {"model.rnn.cell": "gru", "train.lr": 0.01})
        >>> tuned.model, tuned.train.lr, tuned.recipe
        ({'rnn': {'cell': 'gru'}}, 0.01, 'none')
    """
    from rnnkit.tasks.base import check_run_config

    sections = {"data": copy.deepcopy(config.data), "model": copy.deepcopy(config.model)}
    train = {}
    for key, value in params.items():
        section, *path = key.split(".")
        if section == "train":
            train[path[0]] = value
            continue
        node = sections[section]
        for part in path[:-1]:
            node = node.setdefault(part, {})
        node[path[-1]] = value
    train_config = dataclasses.replace(config.train, **train)
    tuned = dataclasses.replace(config, **sections, train=train_config, recipe="none")
    return check_run_config(tuned, where)
