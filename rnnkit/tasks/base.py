"""RunConfig (what to train: task, data, model, training) and the Task protocol every task follows.

A run config is one YAML file with four sections::

    task: classification
    data: {dataset: chatterbot, tokenizer: word}     # the task's DataConfig
    model: {preset: conv_lstm, bidirectional: true}  # the task's model options
    train: {epochs: 8, lr: 0.003}                    # rnnkit.training.TrainConfig

Each section is checked against its dataclass; an unknown or mistyped key is an error naming the file and
the key. ``--set train.lr=0.01`` style overrides are applied to the raw file before the check.
"""

from __future__ import annotations

import copy
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Literal

import torch
from torch import Tensor, nn

from rnnkit.config import ConfigError, from_dict
from rnnkit.errors import InputError, PredictOptionError, UserError  # noqa: F401 (re-exported: their old home)
from rnnkit.training.config import TrainConfig

TASKS: dict[str, type[Task]] = {}
# the model fields of character features (rnnkit.blocks.char_cnn), used with data.characters only
CHARACTER_FIELDS = ("char_vocab_size", "char_embedding_dim", "char_filters", "char_kernel_size")
# a raw input ready to inspect: (batch of one with targets, time-axis labels per layer, what was predicted)
InspectionInput = tuple[dict[str, Tensor], dict[str, list[str]], str]


def character_sizes(chars: Any, options: dict[str, Any], where: str) -> dict[str, int]:
    """The model section's part for character features: ``char_vocab_size`` from the data's character
    vocabulary ``chars``; with none (``data.characters`` off), ``char_*`` options are refused, naming the key.

    Example:
        >>> character_sizes(None, {"hidden_size": 8}, "run.yaml: model")
        {}
        >>> character_sizes(None, {"char_filters": 8}, "model")
        Traceback (most recent call last):
        ...
        rnnkit.config.ConfigError: model.char_filters: character features are off; set data.characters: true
    """
    if chars is not None:
        return {"char_vocab_size": len(chars)} if hasattr(chars, "__len__") else {}
    unused = sorted(k for k in options if k.startswith("char_"))
    if unused:
        raise ConfigError(f"{where}.{unused[0]}: character features are off; set data.characters: true")
    return {}


@dataclass(frozen=True)
class RunConfig:
    """One training run: ``task`` names a registered :class:`Task`; ``data`` and ``model`` are that task's
    options (checked by the task), ``train`` the :class:`TrainConfig`.

    ``recipe``: ``"auto"`` applies the task's default recipe (:meth:`Task.default_recipe`: settings chosen
    from the training data) when the config has no model section; ``"default"`` applies it to every key
    the config does not give; ``"none"`` never. A run's own ``run.yaml`` holds the recipe's choices as
    ordinary keys, so a resumed run does not choose again."""

    task: str
    data: dict[str, Any] = field(default_factory=dict)
    model: dict[str, Any] = field(default_factory=dict)
    train: TrainConfig = field(default_factory=TrainConfig)
    name: str | None = None
    recipe: Literal["auto", "default", "none"] = "auto"


def run_config_from_raw(raw: dict[str, Any], where: str) -> RunConfig:
    """A checked :class:`RunConfig` from a raw mapping (a parsed file with its overrides), remembering
    which ``train`` keys it gives (:func:`given_train_keys`): a recipe never changes those."""
    config = check_run_config(from_dict(RunConfig, raw, where), where)
    train = raw.get("train")
    object.__setattr__(config, "_given_train", frozenset(train) if isinstance(train, dict) else frozenset())
    return config


def given_train_keys(config: RunConfig) -> frozenset[str]:
    """The ``train`` keys the config's source gave; for a RunConfig made in code, the fields that differ
    from :class:`TrainConfig`'s defaults."""
    given = config.__dict__.get("_given_train")
    if given is not None:
        return given
    import dataclasses

    default = TrainConfig()
    return frozenset(
        f.name
        for f in dataclasses.fields(TrainConfig)
        if getattr(config.train, f.name) != getattr(default, f.name)
    )


def register_task(cls: type[Task]) -> type[Task]:
    """Class decorator: make a task available under ``cls.name`` in run configs."""
    TASKS[cls.name] = cls
    return cls


def apply_overrides(data: dict[str, Any], overrides: list[str], where: str = "--set") -> dict[str, Any]:
    """Return a copy of ``data`` with ``key.sub=value`` overrides applied (values parsed as YAML).

    Example:
        >>> apply_overrides({"train": {"lr": 0.1}}, ["train.lr=0.01", "model.rnn.cell=gru"])
        {'train': {'lr': 0.01}, 'model': {'rnn': {'cell': 'gru'}}}
    """
    import yaml

    data = copy.deepcopy(data)
    for item in overrides:
        key, sep, raw = item.partition("=")
        if not sep or not key:
            raise ConfigError(f"{where}: expected KEY=VALUE (e.g. train.lr=0.01), got {item!r}")
        node = data
        *parents, last = key.split(".")
        for part in parents:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise ConfigError(f"{where}: {key!r}: {part!r} is not a section")
        node[last] = yaml.safe_load(raw)
    return data


def load_run_config(path: str | os.PathLike, overrides: list[str] = ()) -> RunConfig:
    """Read a run config (YAML or JSON) and apply overrides; errors name the file and the key."""
    import yaml

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such config file")
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))  # JSON is YAML too
    except yaml.YAMLError as error:
        raise ConfigError(f"{path}: cannot parse: {error}") from error
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: expected a mapping with task, data, model and train sections")
    raw = apply_overrides(with_recipe(raw), list(overrides), where=f"{path} (--set)")
    return run_config_from_raw(raw, str(path))


def with_recipe(raw: dict[str, Any]) -> dict[str, Any]:
    """A raw config without a model section and without a ``recipe`` key asks for the default recipe;
    decided before ``--set`` overrides, so that ``--set model.rnn.cell=gru`` changes one key of it.

    Example:
        >>> with_recipe({"task": "classification", "data": {}})["recipe"]
        'default'
        >>> "recipe" in with_recipe({"task": "classification", "model": {"pooling": "max"}})
        False
    """
    if raw.get("model") or "recipe" in raw:
        return raw
    return {**raw, "recipe": "default"}


def check_run_config(config: RunConfig, where: str = "config") -> RunConfig:
    """Check every section of ``config`` before any data is read: the task's name, its data section and
    its model section (with the sizes the data decide left open). Errors name ``where`` and the key path.

    Example:
        >>> check_run_config(RunConfig("classification", model={"rnn": {"cell": "gur"}}), "run.yaml")
        Traceback (most recent call last):
        ...
        rnnkit.config.ConfigError: run.yaml: model: ClassifierConfig.rnn: RNNConfig.cell: expected one of ...
    """
    cls = task_class(config.task, where)  # an unknown task fails here, naming the file
    data = from_dict(cls.data_config, config.data, f"{where}: data")
    cls.check_model_section(config.model, data, f"{where}: model")
    return config


def resolved_run_config(config: RunConfig, where: str = "config") -> dict[str, Any]:
    """``config`` as a run will use it, every default filled in: what ``rnnkit train --print-config``
    shows. The model's sizes that come from the data are left out (they are not settings)."""
    from rnnkit.config import to_dict

    cls = task_class(config.task, where)
    data = from_dict(cls.data_config, config.data, f"{where}: data")
    resolved: dict[str, Any] = {"task": config.task}
    if config.name is not None:
        resolved["name"] = config.name
    resolved["data"] = to_dict(data)
    resolved["model"] = cls.resolved_model_section(config.model, data, f"{where}: model")
    resolved["train"] = to_dict(config.train)
    return resolved


def task_class(name: str, where: str = "config") -> type[Task]:
    import rnnkit.tasks  # noqa: F401  (registers the tasks)

    if name not in TASKS:
        raise ConfigError(f"{where}: unknown task {name!r} (known: {', '.join(sorted(TASKS))})")
    return TASKS[name]


def nest_flat_keys(options: dict[str, Any], sections: dict[str, tuple[str, ...]]) -> dict[str, Any]:
    """``options`` with the flat keys named in ``sections`` moved into those sections (an older spelling).

    Example:
        >>> flat = {"hidden_size": 8, "rnn": {"cell": "gru"}, "dropout": 0.1}
        >>> nest_flat_keys(flat, {"rnn": ("hidden_size",)})
        {'rnn': {'cell': 'gru', 'hidden_size': 8}, 'dropout': 0.1}
    """
    out = {key: value for key, value in options.items() if not any(key in keys for keys in sections.values())}
    for section, keys in sections.items():
        moved = {key: options[key] for key in keys if key in options}
        if moved:
            out[section] = merge_sections(out.get(section) or {}, moved)
    return out


def merge_sections(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """``override`` over ``base``, section by section (nested mappings merge; other values replace).

    Example:
        >>> preset = {"rnn": {"cell": "lstm", "hidden_size": 70}, "dropout": 0.1}
        >>> merge_sections(preset, {"rnn": {"cell": "gru"}})
        {'rnn': {'cell': 'gru', 'hidden_size': 70}, 'dropout': 0.1}
    """
    merged = copy.deepcopy(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = merge_sections(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


class Task:
    """How one kind of problem is trained, evaluated and used. Subclasses set ``name``, ``data_config``
    (a dataclass) and implement the methods; the runner (:mod:`rnnkit.tasks.runner`), inspection, the
    server and the exporter use only the methods below, never a task's name or its internals.

    Lifecycle: ``prepare(run_dir)`` on a fresh run (read data, fit tokenizer/vocabulary/labels, save them
    with ``save_state``), or ``load_state(run_dir)`` to resume / predict; then ``build_model``, the loaders,
    ``compute_loss`` and ``evaluate`` during training; ``report`` on the test data (pure: it returns the
    results and writes nothing) and ``write_artifacts`` into a folder it is given (plots, samples).

    Use on new inputs, one raw string each (a text, a sentence, a series)::

        examples = task.parse_inputs(raw)          # InputError names the input that cannot be read
        batch = task.encode_inputs(examples)       # one padded batch, as the model reads it
        task.batch_tokens(one)                     # the time-axis labels of a batch of one (pictures)
        task.predict(model, raw)                   # a JSON-able dict per input
        task.inspection_example(model, raw[0])     # (batch of one with targets, tokens, note): inspection
    """

    name: ClassVar[str]
    data_config: ClassVar[type]
    STATE_FILE: ClassVar[str] = "task.json"
    # the model section: the fields of ``model_config_class`` less ``DERIVED`` (sizes the data decide)
    model_config_class: ClassVar[type]
    DERIVED: ClassVar[tuple[str, ...]] = ()
    # fields the task sets from the data unless the model section gives them (left out of --print-config)
    DATA_DEFAULTS: ClassVar[tuple[str, ...]] = ()
    # preset name -> defaults in the model section's own spelling; the section's keys override them
    PRESETS: ClassVar[dict[str, dict[str, Any]]] = {}

    def __init__(
        self, data: Any, model_options: dict[str, Any], train: TrainConfig, where: str = "config"
    ) -> None:
        self.data, self.model_options, self.train, self.where = data, dict(model_options), train, where

    @classmethod
    def from_run_config(cls, config: RunConfig, where: str = "config") -> Task:
        data = from_dict(cls.data_config, config.data, f"{where}: data")
        return cls(data, config.model, config.train, where)

    # ----- the default recipe -------------------------------------------------------------------------
    @classmethod
    def default_recipe(cls, config: RunConfig, where: str = "config") -> tuple[RunConfig, list[Any]]:
        """``config`` with the settings the task chooses from its training data for the keys the config
        does not give (see :attr:`RunConfig.recipe`), and the choices made (each with ``key``, ``value``
        and ``reason``). The default: no recipe, ``config`` unchanged."""
        return config, []

    # ----- the model section --------------------------------------------------------------------------
    @classmethod
    def legacy_preset_keys(cls, preset: str, options: dict[str, Any]) -> dict[str, Any]:
        """A preset's options in an older spelling, rewritten into the model section's (default: as given)."""
        return options

    @classmethod
    def expand_model_section(cls, options: dict[str, Any], where: str = "model") -> dict[str, Any]:
        """The model section with its preset (if any) expanded: the preset's defaults, then the section's
        own keys over them. A key the data decide (``DERIVED``) is refused, naming it.

        Raises:
            ConfigError: an unknown preset or a derived key, naming ``where`` and the key.
        """
        options = dict(options)
        preset = options.pop("preset", None)
        if preset is not None:
            if preset not in cls.PRESETS:
                known = ", ".join(sorted(cls.PRESETS)) or "none for this task"
                raise ConfigError(f"{where}.preset: unknown preset {preset!r} (known: {known})")
            options = merge_sections(cls.PRESETS[preset], cls.legacy_preset_keys(preset, options))
        derived = [name for name in cls.DERIVED if name in options]
        if derived:
            raise ConfigError(f"{where}.{derived[0]}: comes from the data; remove it")
        return options

    @classmethod
    def placeholder_sizes(cls, data: Any) -> dict[str, Any]:
        """Stand-ins for the ``DERIVED`` sizes, so that the model section can be checked before any data is
        read (:meth:`check_model_section`); the real ones come from the data in ``model_config``."""
        return {}

    @classmethod
    def unused_fields(cls, data: Any) -> tuple[str, ...]:
        """Fields of ``model_config_class`` that this data leaves unused (character options without
        ``data.characters``, say): left out of :meth:`resolved_model_section` unless given."""
        return ()

    @classmethod
    def check_model_section(cls, options: dict[str, Any], data: Any, where: str = "model") -> Any:
        """The model section as a ``model_config_class`` with placeholder sizes: every key, type and value
        checked, no data read. Errors name ``where`` and the key path."""
        expanded = cls.expand_model_section(options, where)
        return from_dict(cls.model_config_class, {**expanded, **cls.placeholder_sizes(data)}, where)

    @classmethod
    def resolved_model_section(
        cls, options: dict[str, Any], data: Any, where: str = "model"
    ) -> dict[str, Any]:
        """The model section as the run will use it: preset expanded, every default filled in, the sizes
        that come from the data left out (``--print-config``)."""
        from rnnkit.config import to_dict

        resolved = to_dict(cls.check_model_section(options, data, where))
        given = cls.expand_model_section(options, where)
        optional = (*cls.DATA_DEFAULTS, *cls.unused_fields(data))
        hidden = set(cls.DERIVED) | {name for name in optional if name not in given}
        return {key: value for key, value in resolved.items() if key not in hidden}

    def build_model_config(self, sizes: dict[str, Any]) -> Any:
        """The ``model_config_class`` of the model section with the ``sizes`` the data decided."""
        where = f"{self.where}: model"
        return from_dict(
            self.model_config_class, {**self.expand_model_section(self.model_options, where), **sizes}, where
        )

    # ----- to implement -------------------------------------------------------------------------------
    def prepare(self, run_dir: Path) -> None:
        raise NotImplementedError

    def state(self) -> dict[str, Any]:
        """JSON-able state that ``load_state`` needs (vocabulary, labels, tokenizer)."""
        raise NotImplementedError

    def restore(self, state: dict[str, Any]) -> None:
        raise NotImplementedError

    def build_model(self) -> nn.Module:
        raise NotImplementedError

    def loaders(self) -> tuple[Any, Any, Any]:
        """(train, validation, test) iterables of batches; validation/test may be None."""
        raise NotImplementedError

    def compute_loss(self, model: nn.Module, batch: Any) -> Tensor:
        raise NotImplementedError

    def evaluate(self, model: nn.Module, loader: Any) -> dict[str, float]:
        """Validation metrics (``val_*``) of ``model`` over ``loader``; writes nothing."""
        raise NotImplementedError

    # ----- several processes: optional, with defaults -------------------------------------------------
    def loss_units(self, batch: Any) -> int:
        """How many terms :meth:`compute_loss` averages over in ``batch``: its examples by default; a task
        whose loss is a mean over tokens returns its tokens. A global batch split over processes or
        micro-batches weighs each part by its units, so that the step equals the one-process step
        (:mod:`rnnkit.training.data_parallel`)."""
        from rnnkit.training.trainer import batch_size_of

        return batch_size_of(batch)

    def evaluate_batch(self, model: nn.Module, batch: Any) -> Any:
        """The record of one validation batch that :meth:`merge_evaluation` turns into metrics, for tasks
        whose evaluation is a merge of independent batches. A task that implements the pair has its
        evaluation sharded over the processes of a job, with metrics equal to the 1-process ones
        (:class:`rnnkit.training.data_parallel.ShardedEvaluation`); others are evaluated whole by every
        process."""
        raise NotImplementedError

    def merge_evaluation(self, records: list[Any]) -> dict[str, float]:
        """Metrics from the :meth:`evaluate_batch` records of all batches, in the loader's order."""
        raise NotImplementedError

    @classmethod
    def shards_evaluation(cls) -> bool:
        """Whether this task implements :meth:`evaluate_batch` and :meth:`merge_evaluation`."""
        own = cls.evaluate_batch is not Task.evaluate_batch
        return own and cls.merge_evaluation is not Task.merge_evaluation

    def report(self, model: nn.Module) -> dict[str, Any]:
        """Test metrics, baselines beside them, split sizes and a few predictions, as JSON-able values;
        classes, tags and series are named by their labels. Writes nothing."""
        raise NotImplementedError

    def write_artifacts(self, model: nn.Module, folder: Path, results: dict[str, Any]) -> list[Path]:
        """Write the task's pictures and samples of ``results`` (what :meth:`report` returned) into
        ``folder``; returns the files written. The default writes nothing."""
        return []

    def predict(self, model: nn.Module, inputs: list[str]) -> list[dict[str, Any]]:
        raise NotImplementedError

    # ----- per-request options of predict: data keys a caller may change for one call ----------------
    # dotted key of the data section -> what it changes (e.g. "generation.temperature"); empty: none
    PREDICT_OPTIONS: ClassVar[dict[str, str]] = {}

    def with_predict_options(self, options: dict[str, Any] | None) -> Task:
        """This task with ``options`` (keys of :attr:`PREDICT_OPTIONS`, dotted) set in its data section,
        for one call of :meth:`predict` (``rnnkit serve``'s per-request options); ``self`` when there are
        none. The tokenizer, vocabulary and model are shared, not copied.

        Raises:
            PredictOptionError: an option this task does not take, or a value its data section refuses;
                ``field`` names it.
        """
        if not options:
            return self
        from rnnkit.config import to_dict

        known = ", ".join(sorted(self.PREDICT_OPTIONS)) or "none for this task"
        for key in options:
            if key not in self.PREDICT_OPTIONS:
                raise PredictOptionError(key, f"unknown option for {self.name} (known: {known})")
        data = to_dict(self.data)
        for key, value in options.items():
            *parents, last = key.split(".")
            node = data
            for part in parents:
                node = node[part]
            node[last] = value
        try:
            changed = from_dict(type(self.data), data, "options")
        except (ConfigError, ValueError, TypeError) as error:
            raise PredictOptionError(", ".join(options), str(error).removeprefix("options: ")) from None
        copy_ = copy.copy(self)
        copy_.data = changed
        return copy_

    # ----- inputs: overridden where a raw input is more than a text -----------------------------------
    def parse_inputs(self, inputs: list[str]) -> list[Any]:
        """Raw inputs (one string each) as the examples :meth:`encode_inputs` takes; the default: the texts.

        Raises:
            InputError: an input the task cannot read, naming its place among the inputs.
        """
        return list(inputs)

    def encode_inputs(self, examples: list[Any]) -> dict[str, Tensor]:
        """Examples (:meth:`parse_inputs`) as one padded batch on the CPU, the way the model reads them."""
        raise NotImplementedError(f"the {self.name} task does not encode raw inputs")

    def batch_tokens(self, batch: dict[str, Tensor]) -> dict[str, list[str]]:
        """Time-axis labels of a batch of one, per recorded layer (``"rnn"``; ``"encoder"`` and ``"decoder"``
        for seq2seq): its token ids read back through the task's vocabulary; ``{}`` where steps have no
        names (series)."""
        inputs, vocab = batch.get("inputs"), getattr(self, "vocab", None)
        if inputs is None or vocab is None or inputs.is_floating_point():
            return {}
        return {"rnn": [vocab.id_to_token(int(i)) for i in inputs.reshape(-1)]}

    def describe_example(self, batch: dict[str, Tensor]) -> str:
        """A line saying what a batch of one from the task's loaders is (its true label, where it has one)."""
        labels, targets = getattr(self, "labels", None), batch.get("targets")
        if labels is not None and targets is not None and targets.dim() == 1:
            return f"true label: {labels[int(targets[0])]}"
        return ""

    def inspection_example(
        self, model: nn.Module, text: str
    ) -> tuple[dict[str, Tensor], dict[str, list[str]], str]:
        """One raw input as a batch of one on the model's device, encoded as :meth:`predict` encodes it, with
        the model's own prediction as its targets (a raw input has no true label), its time-axis labels and
        a line saying what the model predicted.

        Raises:
            ValueError: the task takes no raw input to inspect, or this one is too short for it.
        """
        raise ValueError(
            f"a {self.name} run takes no text to inspect: use `rnnkit report RUN`, which inspects its "
            "validation examples"
        )

    # ----- shared -------------------------------------------------------------------------------------
    EXTRA_INPUTS: ClassVar[tuple[str, ...]] = ("chars", "columns")

    @classmethod
    def model_extras(cls, batch: dict[str, Any]) -> dict[str, Any]:
        """What a model reads beside ``inputs`` and ``lengths``: the batch's ``chars`` (each token's
        character ids) and ``columns`` (extra token columns), where present, as keyword arguments.

        Example:
            >>> sorted(Task.model_extras({"inputs": 1, "lengths": 2, "chars": 3, "targets": 4}))
            ['chars']
        """
        return {key: batch[key] for key in cls.EXTRA_INPUTS if key in batch}

    def save_state(self, run_dir: Path) -> None:
        import json

        from rnnkit.config import atomic_write_text

        atomic_write_text(run_dir / self.STATE_FILE, json.dumps(self.state(), ensure_ascii=False) + "\n")

    def load_state(self, run_dir: Path) -> None:
        import json

        from rnnkit.errors import RunFolderError

        path = run_dir / self.STATE_FILE
        if not path.is_file():
            raise RunFolderError(f"{path}: missing; is {run_dir} a run folder made by `rnnkit train`?")
        damaged = f"{path}: damaged, or not the task state `rnnkit train` writes"
        try:
            state = json.loads(path.read_text(encoding="utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as error:
            raise RunFolderError(f"{damaged} (not JSON: {error}); train the run again") from None
        if not isinstance(state, dict):
            kind = type(state).__name__
            raise RunFolderError(f"{damaged} (a JSON {kind}, not an object); train the run again")
        try:
            self.restore(state)
        except (KeyError, TypeError, IndexError, AttributeError) as error:
            reason = f"{type(error).__name__}: {error}"
            raise RunFolderError(f"{damaged} ({reason}); train the run again") from None

    @property
    def device(self) -> torch.device:
        from rnnkit.training.trainer import resolve_device

        return resolve_device(self.train.device)
