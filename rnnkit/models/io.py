"""Save and load models as ``config.json`` + ``model.safetensors``: no pickle, nothing executable.

Every model class registers itself with :func:`register_model` under a name; the saved config records
that name and the model's config dataclass, so :func:`load_model` rebuilds the model before loading its
weights. Both files are written atomically (temp file, then rename).
"""

from __future__ import annotations

import json
import os
from dataclasses import is_dataclass
from pathlib import Path
from typing import Any, TypeVar

import torch
from torch import nn

from rnnkit.config import ConfigError, atomic_write, atomic_write_text, from_dict, to_dict

CONFIG_FILE, WEIGHTS_FILE = "config.json", "model.safetensors"
MODELS: dict[str, type[nn.Module]] = {}
M = TypeVar("M", bound=type[nn.Module])


def register_model(name: str):
    """Class decorator: make a model class loadable by name. The class needs ``config_class`` (its
    config dataclass), a ``config`` attribute, and ``__init__(config)``."""

    def decorate(cls: M) -> M:
        if name in MODELS and MODELS[name] is not cls:
            raise ValueError(f"a model named {name!r} is already registered ({MODELS[name].__name__})")
        cls.model_name = name
        MODELS[name] = cls
        return cls

    return decorate


def save_model(model: nn.Module, directory: str | os.PathLike, extra: dict[str, Any] | None = None) -> Path:
    """Write ``directory/config.json`` and ``directory/model.safetensors``; returns the directory.

    ``extra`` holds JSON-able metadata to keep with the model (a vocabulary, label names, ...).
    """
    name = getattr(type(model), "model_name", None)
    if name is None or not is_dataclass(getattr(model, "config", None)):
        raise TypeError(f"{type(model).__name__} is not a registered rnnkit model (see register_model)")
    directory = Path(directory)
    header = {"model": name, "config": to_dict(model.config), "extra": extra or {}}
    atomic_write(directory / WEIGHTS_FILE, lambda tmp: save_weights(model, tmp))
    atomic_write_text(directory / CONFIG_FILE, json.dumps(header, indent=2) + "\n")
    return directory


def read_header(directory: str | os.PathLike) -> dict[str, Any]:
    """The saved ``config.json`` of a model directory, checked for its three keys."""
    path = Path(directory) / CONFIG_FILE
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no saved model here (expected {CONFIG_FILE} and {WEIGHTS_FILE})")
    try:
        header = json.loads(path.read_text(encoding="utf-8"))
    except ValueError as error:
        raise ConfigError(f"{path}: not valid JSON: {error}") from error
    if not isinstance(header, dict) or not {"model", "config"} <= set(header):
        raise ConfigError(f"{path}: expected the keys 'model' and 'config'")
    return header


def save_weights(model: nn.Module, path: str | os.PathLike) -> None:
    """Write the model's state dict to one safetensors file, each tied tensor once.

    Like ``safetensors.torch.save_model``, but it also saves weights that are views into a larger buffer,
    which is how cuDNN keeps an RNN's weights on a GPU (``flatten_parameters``): each such view is copied
    out, where ``save_model`` refuses the file. Tensors that are the same tensor under two names (tied
    weights) are stored once under the first name, and the metadata maps each dropped name to the kept one,
    as ``save_model`` does, so :func:`safetensors.torch.load_model` restores both.

    Example:
        >>> import tempfile
        >>> from safetensors.torch import load_file
        >>> tied = nn.Sequential(nn.Embedding(5, 3), nn.Linear(3, 5))
        >>> tied[1].weight = tied[0].weight
        >>> with tempfile.TemporaryDirectory() as folder:
        ...     save_weights(tied, f"{folder}/w.safetensors")
        ...     sorted(load_file(f"{folder}/w.safetensors"))
        ['0.weight', '1.bias']
    """
    from safetensors.torch import save_file

    kept: dict[tuple, str] = {}
    tensors: dict[str, torch.Tensor] = {}
    aliases: dict[str, str] = {}
    for name, tensor in model.state_dict().items():
        identity = (tensor.device, tensor.data_ptr(), tensor.dtype, tensor.shape, tensor.stride())
        if tensor.numel() > 0 and identity in kept:
            aliases[name] = kept[identity]
            continue
        kept[identity] = name
        tensor = tensor.detach()
        owns_its_storage = tensor.untyped_storage().nbytes() == tensor.numel() * tensor.element_size()
        tensors[name] = (
            tensor.contiguous() if owns_its_storage else tensor.clone(memory_format=torch.contiguous_format)
        )
    save_file(tensors, str(path), metadata={"format": "pt", **aliases})


def load_model(directory: str | os.PathLike, device: str | torch.device = "cpu") -> nn.Module:
    """Rebuild a model saved by :func:`save_model` and load its weights (strictly).

    Raises:
        ConfigError: unknown model name or a config that does not match the model's config class.
        ValueError: the weights file lacks tensors the model has, or has tensors it does not (names them).
    """
    from safetensors.torch import load_model as load_safetensors

    import rnnkit.models  # noqa: F401  (registers the model classes)

    directory = Path(directory)
    header = read_header(directory)
    cls = MODELS.get(header["model"])
    if cls is None:
        raise ConfigError(
            f"{directory / CONFIG_FILE}: unknown model {header['model']!r} (known: {sorted(MODELS)})"
        )
    config = from_dict(cls.config_class, header["config"], str(directory / CONFIG_FILE))
    model = cls(config)
    weights = directory / WEIGHTS_FILE
    if not weights.is_file():
        raise FileNotFoundError(f"{weights}: weights file missing")
    dtype = _floating_dtype(weights)
    if dtype is not None:  # a float64 model comes back as float64, not cut to the default dtype
        model = model.to(dtype)
    missing, unexpected = load_safetensors(model, weights, strict=False, device=str(device))
    if missing or unexpected:
        raise ValueError(
            f"{weights} does not match a {cls.__name__} built from its config: "
            f"missing tensors {sorted(missing)}, unexpected tensors {sorted(unexpected)}"
        )
    return model.to(device)


def _floating_dtype(weights: Path) -> torch.dtype | None:
    """The dtype of the first floating-point tensor stored in a safetensors file (None: there is none)."""
    from safetensors import safe_open

    with safe_open(str(weights), framework="pt") as handle:
        for name in handle.keys():
            stored = handle.get_slice(name).get_dtype()
            if stored in _FLOATING:
                return _FLOATING[stored]
    return None


_FLOATING = {"F64": torch.float64, "F32": torch.float32, "F16": torch.float16, "BF16": torch.bfloat16}
