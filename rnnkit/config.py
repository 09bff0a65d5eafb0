"""Typed configs: frozen dataclasses that round-trip through plain dicts, JSON and YAML.

The loader rejects unknown keys and wrong types and names the file and the field, so a typo in a YAML
file fails loudly instead of silently falling back to a default.
"""

from __future__ import annotations

import dataclasses
import json
import os
import tempfile
import types
import typing
from pathlib import Path
from typing import Any, TypeVar

from rnnkit.errors import UserError

T = TypeVar("T")


class ConfigError(UserError, ValueError):
    """A config file or dict that does not match its dataclass; the message names where and what."""


def to_dict(config: Any) -> dict[str, Any]:
    """A dataclass (nested ones included) as plain JSON-able values; tuples become lists.

    Example:
        >>> from rnnkit.layers.factory import RNNConfig
        >>> to_dict(RNNConfig(hidden_size=32))["hidden_size"]
        32
    """
    return {f.name: _plain(getattr(config, f.name)) for f in dataclasses.fields(config)}


def _plain(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return to_dict(value)
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


def from_dict(cls: type[T], data: Any, where: str = "config") -> T:
    """Build dataclass ``cls`` from ``data``, checking keys and types.

    Raises:
        ConfigError: unknown or missing keys, or a value of the wrong type; the message names ``where``
            (a file name, say) and the dotted field path.

    Example:
        >>> from rnnkit.layers.factory import RNNConfig
        >>> from_dict(RNNConfig, {"cell": "gru", "hidden_size": 8}).cell
        'gru'
        >>> from_dict(RNNConfig, {"hiden_size": 8}, where="model.yaml")
        Traceback (most recent call last):
        ...
        rnnkit.config.ConfigError: model.yaml: unknown key 'hiden_size' in RNNConfig (known: ...)
    """
    if not isinstance(data, dict):
        raise ConfigError(f"{where}: expected a mapping for {cls.__name__}, got {type(data).__name__}")
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = [k for k in data if k not in fields]
    if unknown:
        raise ConfigError(
            f"{where}: unknown key {unknown[0]!r} in {cls.__name__} (known: {', '.join(sorted(fields))})"
        )
    hints = typing.get_type_hints(cls)
    values = {}
    for name, field in fields.items():
        if name in data:
            values[name] = _convert(hints[name], data[name], f"{where}: {cls.__name__}.{name}")
        elif field.default is dataclasses.MISSING and field.default_factory is dataclasses.MISSING:
            raise ConfigError(f"{where}: missing key {name!r} in {cls.__name__}")
    try:
        return cls(**values)
    except (TypeError, ValueError) as error:
        raise ConfigError(f"{where}: {error}") from error


def _convert(hint: Any, value: Any, where: str) -> Any:
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if hint is Any:
        return value
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        errors = []
        for option in (a for a in args if a is not type(None)):
            try:
                return _convert(option, value, where)
            except ConfigError as error:
                errors.append(str(error))
        raise ConfigError(errors[0] if len(errors) == 1 else f"{where}: {value!r} matches none of {hint}")
    if origin is typing.Literal:
        if value not in args:
            raise ConfigError(f"{where}: expected one of {list(args)}, got {value!r}")
        return value
    if dataclasses.is_dataclass(hint):
        return from_dict(hint, value, where)  # errors keep the path: "run.yaml: data: Data.generation: ..."
    if origin in (tuple, list):
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{where}: expected a list, got {type(value).__name__} {value!r}")
        if origin is tuple and len(args) == 2 and args[1] is Ellipsis:
            return tuple(_convert(args[0], v, where) for v in value)
        if origin is tuple:
            if len(args) != len(value):
                raise ConfigError(f"{where}: expected {len(args)} values, got {len(value)}")
            return tuple(_convert(a, v, where) for a, v in zip(args, value))
        return [_convert(args[0], v, where) for v in value] if args else list(value)
    if origin is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"{where}: expected a mapping, got {type(value).__name__}")
        return dict(value)
    if hint is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if isinstance(hint, type) and not (
        isinstance(value, hint) and not (hint is int and isinstance(value, bool))
    ):
        raise ConfigError(f"{where}: expected {hint.__name__}, got {type(value).__name__} {value!r}")
    return value


def save_config(config: Any, path: str | os.PathLike) -> None:
    """Write ``config`` as JSON or YAML (by the file's extension), atomically (temp file, then rename)."""
    path = Path(path)
    data = to_dict(config)
    if path.suffix in (".yaml", ".yml"):
        import yaml

        text = yaml.safe_dump(data, sort_keys=False)
    else:
        text = json.dumps(data, indent=2) + "\n"
    atomic_write_text(path, text)


def load_config(cls: type[T], path: str | os.PathLike) -> T:
    """Read a JSON or YAML file into dataclass ``cls``; errors name the file and the field."""
    path = Path(path)
    text = path.read_text(encoding="utf-8")
    try:
        if path.suffix in (".yaml", ".yml"):
            import yaml

            data = yaml.safe_load(text)
        else:
            data = json.loads(text)
    except ValueError as error:  # json.JSONDecodeError and yaml.YAMLError's parser errors
        raise ConfigError(
            f"{path}: not valid {path.suffix.lstrip('.').upper() or 'JSON'}: {error}"
        ) from error
    except Exception as error:
        raise ConfigError(f"{path}: cannot parse: {error}") from error
    return from_dict(cls, data, str(path))


def atomic_write_text(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` so that a crash leaves either the old file or the new one."""
    atomic_write(path, lambda tmp: Path(tmp).write_text(text, encoding="utf-8"))


def atomic_write(path: str | os.PathLike, write: typing.Callable[[str], None]) -> None:
    """Call ``write(tmp_path)`` on a temp file beside ``path``, then rename it over ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        write(tmp)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
