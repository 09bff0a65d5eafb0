"""Checkpoints that resume a run exactly: safetensors for tensors, JSON for the rest, never pickle.

``save_checkpoint(run, ...)`` writes ``run/checkpoints/step-{N}/``::

    model.safetensors      the weights (rnnkit.models.io.save_weights: tied weights stored once)
    config.json            {"model", "config", "extra"} for a registered rnnkit model, so that
                           rnnkit.models.io.load_model(step_dir) rebuilds it
    optimizer.safetensors  every tensor of optimizer.state_dict(), as "state.<param index>.<name>"
    optimizer.json         the rest of it: param_groups and non-tensor state
    trainer.json           progress, schedule, python/numpy RNG states, extra (the caller's configs)
    trainer.safetensors    tensors inside the trainer state (the best weights), when there are any
    rng.safetensors        torch's CPU and CUDA RNG states (uint8)

    manifest.json          size and sha256 of each file above (rnnkit.training.manifest)

Atomicity and durability: everything goes into a hidden temp directory beside it; its files and the
directory are fsynced, it is renamed into place (``os.replace``) only when complete, and the parent
directory is fsynced (:func:`rnnkit.training.durable.durable_replace`); then ``checkpoints/latest.json``
is rewritten the same way to point at it; then all but the newest ``keep_last`` are removed. A save killed
or failing at any point (a full disk: :class:`CheckpointWriteError`) leaves the previous checkpoint and
``latest.json`` as they were.

Resuming (:func:`resume`) verifies the manifest first and, when the newest checkpoint is truncated,
bit-flipped or missing a file, falls back to the previous one, saying which and why. A checkpoint without a
manifest (an older rnnkit) is loaded as *unverified*, with a line saying so.
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import sys
import tempfile
from dataclasses import is_dataclass
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from rnnkit.config import to_dict
from rnnkit.errors import UserError
from rnnkit.training.durable import durable_replace, durable_write_text, fault_point, fsync_path
from rnnkit.training.manifest import (
    MANIFEST,
    CheckpointCorruptError,
    check_safetensors,
    read_json,
    safe_name,
    verify_manifest,
    write_manifest,
)
from rnnkit.training.seed import get_rng_state, set_rng_state

CHECKPOINTS, LATEST, FORMAT = "checkpoints", "latest.json", 1
_TENSOR = "__tensor__"


class CheckpointWriteError(UserError):
    """A checkpoint could not be written (disk full, no permission); the previous one is intact."""


def split_tensors(value: Any, prefix: str = "") -> tuple[Any, dict[str, Tensor]]:
    """``value`` with each tensor replaced by ``{"__tensor__": key}``, and the tensors by key.

    Keys are the dotted paths to the tensors. Tensors sharing memory are copied, as safetensors requires.

    Example:
        >>> plain, tensors = split_tensors({"state": {0: {"step": torch.tensor(3.0), "lr": 0.1}}})
        >>> plain, list(tensors)
        ({'state': {0: {'step': {'__tensor__': 'state.0.step'}, 'lr': 0.1}}}, ['state.0.step'])
    """
    tensors: dict[str, Tensor] = {}
    seen: set[int] = set()

    def walk(item: Any, path: str) -> Any:
        if isinstance(item, Tensor):
            if path in tensors:
                raise ValueError(f"two tensors would be saved under the key {path!r}")
            tensor = item.detach().cpu().contiguous()
            storage = tensor.untyped_storage().data_ptr() if tensor.numel() else None
            if storage in seen:
                tensor = tensor.clone()
            elif storage is not None:
                seen.add(storage)
            tensors[path] = tensor
            return {_TENSOR: path}
        if isinstance(item, dict):
            return {k: walk(v, f"{path}.{k}" if path else str(k)) for k, v in item.items()}
        if isinstance(item, (list, tuple)):
            return [walk(v, f"{path}.{i}" if path else str(i)) for i, v in enumerate(item)]
        return item

    return walk(value, prefix), tensors


def merge_tensors(value: Any, tensors: dict[str, Tensor]) -> Any:
    """The inverse of :func:`split_tensors` (tuples come back as lists)."""
    if isinstance(value, dict):
        if set(value) == {_TENSOR}:
            return tensors[value[_TENSOR]]
        return {k: merge_tensors(v, tensors) for k, v in value.items()}
    if isinstance(value, list):
        return [merge_tensors(v, tensors) for v in value]
    return value


def save_checkpoint(
    directory: str | os.PathLike,
    model: nn.Module,
    optimizer: torch.optim.Optimizer | None,
    scheduler: Any,
    trainer_state: dict[str, Any],
    extra: dict[str, Any] | None = None,
    keep_last: int | None = None,
    step: int | None = None,
) -> Path:
    """Write ``directory/checkpoints/step-{step}/`` atomically; returns its path.

    Args:
        directory: the run directory.
        model, optimizer, scheduler: saved as described in the module docstring; the scheduler needs
            ``state_dict()`` returning JSON (None: not saved).
        trainer_state: e.g. :meth:`rnnkit.training.trainer.Trainer.state_dict`; tensors go to safetensors.
        extra: JSON-able metadata (the configs that rebuild the run).
        keep_last: remove all but this many newest checkpoints (None: keep all).
        step: the directory's number; default ``trainer_state["progress"]["step"]`` (or ``["step"]``).

    Raises:
        TypeError: ``trainer_state``, ``extra`` or a state dict holds a value JSON cannot store (nothing
            is then written).
    """
    if keep_last is not None and keep_last < 1:
        raise ValueError(f"keep_last must be >= 1 or None, got {keep_last}")
    step = _step_of(trainer_state) if step is None else step
    root = Path(directory) / CHECKPOINTS
    try:
        return _save(root, step, model, optimizer, scheduler, trainer_state, extra, keep_last)
    except OSError as error:
        what = "the disk is full: free some space" if error.errno == errno.ENOSPC else "check the folder"
        previous = latest_checkpoint(directory)
        kept = f"the previous checkpoint {previous} is intact" if previous else "no earlier checkpoint"
        raise CheckpointWriteError(
            f"{root}: cannot write checkpoint step-{step} ({error.strerror or error}); {kept}; {what}, then "
            f"`rnnkit train --resume {directory}`"
        ) from error


def _save(root: Path, step: int, model, optimizer, scheduler, trainer_state, extra, keep_last) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    for stale in root.glob(".*.tmp"):  # left by a process killed while saving
        shutil.rmtree(stale, ignore_errors=True) if stale.is_dir() else stale.unlink(missing_ok=True)
    final = root / f"step-{step}"
    tmp = Path(tempfile.mkdtemp(prefix=f".step-{step}.", suffix=".tmp", dir=root))
    try:
        _write(tmp, model, optimizer, scheduler, trainer_state, extra, step)
        write_manifest(tmp)
        fault_point("checkpoint")
        if final.exists():  # the same step saved again (e.g. at the end of training): swap it out
            old = Path(tempfile.mkdtemp(prefix=f".old-{final.name}.", suffix=".tmp", dir=root))
            os.replace(final, old / final.name)
            durable_replace(tmp, final)
            shutil.rmtree(old, ignore_errors=True)
        else:
            durable_replace(tmp, final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    durable_write_text(root / LATEST, json.dumps({"step": step, "path": final.name}) + "\n")
    if keep_last is not None:
        for stale in _complete(root)[:-keep_last]:
            if stale != final:
                shutil.rmtree(stale, ignore_errors=True)
        fsync_path(root)
    return final


def _write(path: Path, model, optimizer, scheduler, trainer_state, extra, step: int) -> None:
    from safetensors.torch import save_file

    from rnnkit.models.io import CONFIG_FILE, WEIGHTS_FILE, save_weights

    # Serialise the JSON first: a value JSON cannot store fails here, before any file is written.
    trainer_json, trainer_tensors = split_tensors(trainer_state)
    rng_json, rng_tensors = get_rng_state()
    meta = {
        "format": FORMAT,
        "step": step,
        "trainer": trainer_json,
        "scheduler": scheduler.state_dict() if scheduler is not None else None,
        "rng": rng_json,
        "extra": extra or {},
    }
    meta_text = json.dumps(meta, indent=1) + "\n"
    save_weights(model, path / WEIGHTS_FILE)
    fault_point("checkpoint")
    name = getattr(type(model), "model_name", None)
    if name is not None and is_dataclass(getattr(model, "config", None)):
        header = {"model": name, "config": to_dict(model.config), "extra": extra or {}}
        (path / CONFIG_FILE).write_text(json.dumps(header, indent=2) + "\n", encoding="utf-8")
    if optimizer is not None:
        optimizer_json, optimizer_tensors = split_tensors(optimizer.state_dict())
        save_file(optimizer_tensors, str(path / "optimizer.safetensors"))
        fault_point("checkpoint")
        (path / "optimizer.json").write_text(json.dumps(optimizer_json) + "\n", encoding="utf-8")
    if trainer_tensors:
        save_file(trainer_tensors, str(path / "trainer.safetensors"))
    save_file(rng_tensors, str(path / "rng.safetensors"))
    (path / "trainer.json").write_text(meta_text, encoding="utf-8")  # last: marks the directory complete


def _step_of(trainer_state: dict[str, Any]) -> int:
    progress = trainer_state.get("progress", trainer_state)
    if not isinstance(progress, dict) or not isinstance(progress.get("step"), int):
        raise ValueError("save_checkpoint needs step=..., or a trainer_state with an integer 'step'")
    return progress["step"]


def _complete(root: Path) -> list[Path]:
    """The finished checkpoint directories under ``root`` (with a trainer.json, or a manifest that
    will say what is missing), oldest step first."""
    found = []
    for child in root.glob("step-*"):
        number = child.name[len("step-") :]
        finished = (child / "trainer.json").is_file() or (child / MANIFEST).is_file()
        if number.isdigit() and finished:
            found.append((int(number), child))
    return [path for _, path in sorted(found)]


def _pointed(root: Path) -> Path | None:
    try:
        name = read_json(root / LATEST, limit=2**16)["path"]  # type: ignore[index]
        return safe_name(root, name, str(root / LATEST))
    except (OSError, KeyError, TypeError, CheckpointCorruptError):
        return None


def latest_checkpoint(directory: str | os.PathLike) -> Path | None:
    """The checkpoint ``directory/checkpoints/latest.json`` points at (falling back to the highest complete
    ``step-N`` if that one is missing); None when the run has none. Nothing is verified here."""
    root = Path(directory) / CHECKPOINTS
    pointed = _pointed(root)
    if pointed is not None and (pointed / "trainer.json").is_file():
        return pointed
    complete = _complete(root) if root.is_dir() else []
    return complete[-1] if complete else None


def good_checkpoint(directory: str | os.PathLike) -> tuple[Path, str, list[str]]:
    """The newest checkpoint of run ``directory`` whose manifest checks: ``(path, "verified" or
    "unverified", notes)``, the notes saying which newer checkpoints were passed over and why.

    Raises:
        FileNotFoundError: the run has no checkpoint.
        CheckpointCorruptError: every checkpoint is damaged (each named with its reason).
    """
    root = Path(directory) / CHECKPOINTS
    candidates = list(reversed(_complete(root))) if root.is_dir() else []
    pointed = _pointed(root)
    if pointed is not None and pointed in candidates:
        candidates.remove(pointed)
        candidates.insert(0, pointed)
    if not candidates:
        raise FileNotFoundError(f"{directory}: no checkpoint here (expected {root / LATEST})")
    notes: list[str] = []
    for candidate in candidates:
        try:
            status = verify_manifest(candidate)
        except CheckpointCorruptError as error:
            notes.append(f"checkpoint {candidate} is damaged: {error}")
            continue
        if notes:
            notes.append(f"resuming from the previous checkpoint {candidate.name} instead")
        if status == "unverified":
            notes.append(
                f"checkpoint {candidate} has no {MANIFEST} (an older rnnkit wrote it): loaded unverified"
            )
        return candidate, status, notes
    raise CheckpointCorruptError(
        "no usable checkpoint: " + "; ".join(notes) + "; start the run again in a new folder"
    )


def checkpoint_path(path: str | os.PathLike) -> Path:
    """``path`` itself when it is a checkpoint directory, else the latest checkpoint of run ``path``."""
    path = Path(path)
    if (path / "trainer.json").is_file():
        return path
    found = latest_checkpoint(path)
    if found is None:
        raise FileNotFoundError(
            f"{path}: no checkpoint here (expected {path / CHECKPOINTS / LATEST} or a step directory)"
        )
    return found


def checkpoint_info(path: str | os.PathLike) -> dict[str, Any]:
    """``trainer.json`` of a checkpoint (or a run's latest): step, extra, schedule, progress; no tensors."""
    path = checkpoint_path(path)
    meta = read_json(path / "trainer.json")
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise ValueError(
            f"{path / 'trainer.json'}: checkpoint format {meta.get('format')!r}, expected {FORMAT}"
        )
    return {**meta, "path": str(path)}


def load_checkpoint(
    directory: str | os.PathLike,
    model: nn.Module,
    optimizer: torch.optim.Optimizer | None = None,
    scheduler: Any = None,
    restore_rng: bool = True,
) -> dict[str, Any]:
    """Load a checkpoint (a step directory, or a run's latest) into the given objects; returns the trainer
    state to hand to ``Trainer.load_state_dict``.

    Weights load onto the model's device, the optimizer state onto its parameters' devices; the global
    RNGs are restored unless ``restore_rng=False``.

    Raises:
        FileNotFoundError: no checkpoint there.
        ValueError: the weights do not match the model (names the missing and unexpected tensors).
    """
    from safetensors.torch import load_file, load_model

    from rnnkit.models.io import WEIGHTS_FILE

    meta = checkpoint_info(directory)
    path = Path(meta["path"])
    for file in path.glob("*.safetensors"):
        check_safetensors(file)  # an absurd header is refused before anything is allocated
    param = next(iter(model.parameters()), None)
    device = str(param.device) if param is not None else "cpu"
    missing, unexpected = load_model(model, str(path / WEIGHTS_FILE), strict=False, device=device)
    if missing or unexpected:
        raise ValueError(
            f"{path / WEIGHTS_FILE} does not match {type(model).__name__}: "
            f"missing tensors {sorted(missing)}, unexpected tensors {sorted(unexpected)}"
        )
    if optimizer is not None:
        plain = read_json(path / "optimizer.json")
        state = merge_tensors(plain, load_file(str(path / "optimizer.safetensors")))
        state["state"] = {int(k): v for k, v in state["state"].items()}  # JSON made the indices strings
        for group in state["param_groups"]:
            for key, value in group.items():
                if key != "params" and isinstance(value, list):
                    group[key] = tuple(value)  # betas
        optimizer.load_state_dict(state)
    if scheduler is not None and meta["scheduler"] is not None:
        scheduler.load_state_dict(meta["scheduler"])
    tensors = load_file(str(path / "trainer.safetensors")) if (path / "trainer.safetensors").is_file() else {}
    trainer_state = merge_tensors(meta["trainer"], tensors)
    if restore_rng:
        set_rng_state(meta["rng"], load_file(str(path / "rng.safetensors")))
    return trainer_state


def resume(trainer: Any, path: str | os.PathLike) -> Path:
    """Load the checkpoint at ``path`` (a step directory, or a run's newest verified one) into ``trainer``:
    model, optimizer, schedule, RNGs and progress. The next ``trainer.fit`` continues the run; returns the
    checkpoint's directory. Damaged newer checkpoints passed over, and an unverified one (no manifest), are
    each said in a line on stderr.

    Raises:
        FileNotFoundError: no checkpoint there.
        CheckpointCorruptError: the step directory given, or every checkpoint of the run, is damaged.
    """
    path = Path(path)
    if (path / "trainer.json").is_file():
        found, notes = path, []
        if verify_manifest(path) == "unverified":
            notes.append(f"checkpoint {path} has no {MANIFEST} (an older rnnkit wrote it): loaded unverified")
    else:
        found, _, notes = good_checkpoint(path)
    for note in notes:
        print(f"rnnkit: {note}", file=sys.stderr)
    state = load_checkpoint(found, trainer.model, trainer.optimizer, trainer.scheduler)
    trainer.load_state_dict(state)
    return found
