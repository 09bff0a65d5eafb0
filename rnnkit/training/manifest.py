"""``manifest.json``: the size and sha256 of every file of a checkpoint, checked before it is loaded.

A checkpoint truncated, bit-flipped or missing a file (a disk fault, a copy cut short) is found here,
before any of it is read, so a resume can fall back to the previous checkpoint. Names in a manifest are
plain file names: one that would point outside its folder (``../x``, ``/etc/x``) makes it invalid.

Example:
    >>> import tempfile; step = Path(tempfile.mkdtemp())
    >>> _ = (step / "trainer.json").write_text("{}")
    >>> write_manifest(step); verify_manifest(step)
    'verified'
    >>> _ = (step / "trainer.json").write_text("{ }")
    >>> verify_manifest(step)
    Traceback (most recent call last):
    ...
    rnnkit.training.manifest.CheckpointCorruptError: ...trainer.json: size 3 bytes, the manifest says 2 ...
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

from rnnkit.errors import UserError
from rnnkit.training.durable import durable_write_text

MANIFEST = "manifest.json"
MAX_JSON_BYTES = 64 * 2**20  # no JSON file of a run folder is near this; a bigger one is refused unread


class CheckpointCorruptError(UserError):
    """A checkpoint whose files do not match its manifest (or a file that cannot be what it claims)."""


def file_digest(path: Path) -> str:
    """The sha256 of a file, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(2**20):
            digest.update(block)
    return digest.hexdigest()


def write_manifest(directory: str | os.PathLike) -> None:
    """Write ``directory/manifest.json`` listing every other file of it (fsynced)."""
    directory = Path(directory)
    files = {
        p.name: {"size": p.stat().st_size, "sha256": file_digest(p)}
        for p in sorted(directory.iterdir())
        if p.is_file() and p.name != MANIFEST
    }
    durable_write_text(directory / MANIFEST, json.dumps({"format": 1, "files": files}, indent=1) + "\n")


def safe_name(directory: Path, name: object, where: str) -> Path:
    """``directory / name`` when ``name`` is a plain file name inside it, else CheckpointCorruptError.

    Example:
        >>> safe_name(Path("run"), "a.json", "m").as_posix()
        'run/a.json'
        >>> safe_name(Path("run"), "../a.json", "m")
        Traceback (most recent call last):
        ...
        rnnkit.training.manifest.CheckpointCorruptError: m: file name '../a.json' points outside run
    """
    if not isinstance(name, str) or not name or name in (".", "..") or "/" in name or "\\" in name:
        raise CheckpointCorruptError(f"{where}: file name {name!r} points outside {directory}")
    if "\0" in name or os.path.isabs(name):
        raise CheckpointCorruptError(f"{where}: file name {name!r} points outside {directory}")
    return directory / name


def read_json(path: Path, limit: int = MAX_JSON_BYTES) -> object:
    """``json.loads`` of a file, refused unread when larger than ``limit`` bytes."""
    size = path.stat().st_size
    if size > limit:
        raise CheckpointCorruptError(f"{path}: {size} bytes, more than the {limit} a JSON file here may have")
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, ValueError) as error:
        raise CheckpointCorruptError(f"{path}: not valid JSON ({error})") from error


def verify_manifest(directory: str | os.PathLike) -> str:
    """``"verified"`` when every file of the manifest has its size and sha256; ``"unverified"`` when the
    checkpoint has no manifest (written by rnnkit before manifests). Raises CheckpointCorruptError naming
    the first file that differs, is missing, or a manifest that cannot be read."""
    directory = Path(directory)
    path = directory / MANIFEST
    if not path.is_file():
        return "unverified"
    manifest = read_json(path, limit=2**20)
    files = manifest.get("files") if isinstance(manifest, dict) else None
    if not isinstance(files, dict) or not files:
        raise CheckpointCorruptError(f"{path}: no 'files' table")
    for name, entry in files.items():
        file = safe_name(directory, name, str(path))
        if not isinstance(entry, dict) or not isinstance(entry.get("size"), int):
            raise CheckpointCorruptError(f"{path}: entry {name!r} has no integer size")
        if not file.is_file():
            raise CheckpointCorruptError(f"{file}: missing (listed in {MANIFEST})")
        size = file.stat().st_size
        if size != entry["size"]:
            raise CheckpointCorruptError(
                f"{file}: size {size} bytes, the manifest says {entry['size']} (truncated or replaced)"
            )
        if file_digest(file) != entry.get("sha256"):
            raise CheckpointCorruptError(f"{file}: sha256 differs from the manifest (the bytes changed)")
    return "verified"


def check_safetensors(path: str | os.PathLike, max_header: int = 2**24) -> None:
    """Refuse a safetensors file whose header is absurd (longer than ``max_header`` bytes or than the file,
    not JSON, or with tensor offsets past its end) before anything is allocated from it."""
    path = Path(path)
    size = path.stat().st_size
    with open(path, "rb") as handle:
        head = handle.read(8)
        if len(head) < 8:
            raise CheckpointCorruptError(f"{path}: {size} bytes, too short for a safetensors file")
        length = int.from_bytes(head, "little")
        if length > max_header or 8 + length > size:
            raise CheckpointCorruptError(
                f"{path}: safetensors header of {length} bytes in a file of {size} "
                "(damaged, or not a safetensors file)"
            )
        try:
            header = json.loads(handle.read(length).decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as error:
            raise CheckpointCorruptError(f"{path}: safetensors header is not JSON ({error})") from error
    data = size - 8 - length
    for name, entry in header.items() if isinstance(header, dict) else ():
        offsets = entry.get("data_offsets") if isinstance(entry, dict) else None
        if name != "__metadata__" and (not isinstance(offsets, list) or max(offsets, default=0) > data):
            raise CheckpointCorruptError(f"{path}: tensor {name!r} lies past the end of the file")
