"""``manifest.json`` of an export folder: what the model reads and returns, and a sha256 of every file.

Written by :mod:`rnnkit.export.folder`; read and checked by :mod:`rnnkit.export.runtime` before any file is
used, so a changed, truncated or swapped file is refused by name. Standard library only (no torch, no numpy).

Example:
    >>> import tempfile; folder = Path(tempfile.mkdtemp())
    >>> _ = (folder / "labels.json").write_text('["no", "yes"]')
    >>> write_manifest(folder, {"task": "classification"})["files"]["labels.json"]["bytes"]
    13
    >>> read_manifest(folder)["task"]
    'classification'
    >>> _ = (folder / "labels.json").write_text('["yes", "no"]')
    >>> read_manifest(folder)
    Traceback (most recent call last):
    ...
    rnnkit.export.manifest.ExportFolderError: ...labels.json: its sha256 is not the one manifest.json ...
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

from rnnkit.errors import UserError

MANIFEST = "manifest.json"
FORMAT, VERSION = "rnnkit.export", 1
MAX_MANIFEST_BYTES = 1 << 20


class ExportFolderError(UserError):
    """An export folder that is incomplete, changed since the export, or not one at all."""


class NotExportable(UserError):
    """A run whose task or model has no ONNX export; the message names the module and why."""


def is_export_folder(path: str | os.PathLike) -> bool:
    """Whether ``path`` is a folder with a ``manifest.json`` (an export folder, not a run folder)."""
    return (Path(path) / MANIFEST).is_file()


def sha256_of(path: Path) -> str:
    """The hex sha256 of a file, read in chunks."""
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        for chunk in iter(lambda: stream.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def write_manifest(folder: Path, fields: dict[str, Any]) -> dict[str, Any]:
    """Write ``manifest.json``: ``fields`` plus the format and the sha256 and size of every other file."""
    files = {
        path.name: {"sha256": sha256_of(path), "bytes": path.stat().st_size}
        for path in sorted(folder.iterdir())
        if path.is_file() and path.name != MANIFEST
    }
    manifest = {"format": FORMAT, "version": VERSION, **fields, "files": files}
    (folder / MANIFEST).write_text(
        json.dumps(manifest, indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
    )
    return manifest


def read_manifest(folder: str | os.PathLike) -> dict[str, Any]:
    """The manifest of ``folder`` after checking that every file it lists is there, of its size and sha256.

    Raises:
        ExportFolderError: no or a malformed manifest, or a file missing, changed or of another size.
    """
    folder = Path(folder)
    path = folder / MANIFEST
    if not path.is_file():
        raise ExportFolderError(
            f"{folder}: not an export folder (no {MANIFEST}); make one with `rnnkit export`"
        )
    if path.stat().st_size > MAX_MANIFEST_BYTES:
        raise ExportFolderError(f"{path}: {path.stat().st_size} bytes, too large for a manifest rnnkit wrote")
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise ExportFolderError(f"{path}: not valid JSON ({error}); export the run again") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise ExportFolderError(f"{path}: not an rnnkit export manifest (expected format {FORMAT!r})")
    if manifest.get("version") != VERSION:
        raise ExportFolderError(
            f"{path}: manifest version {manifest.get('version')!r}; this rnnkit reads version {VERSION}"
        )
    files = manifest.get("files")
    if not isinstance(files, dict) or not files:
        raise ExportFolderError(f"{path}: lists no files; export the run again")
    for name, record in files.items():
        _check_file(folder, name, record)
    return manifest


def _check_file(folder: Path, name: Any, record: Any) -> None:
    if not isinstance(name, str) or Path(name).name != name or name in ("", ".", ".."):
        raise ExportFolderError(f"{folder / MANIFEST}: file name {name!r} is not a plain name in the folder")
    path = folder / name
    if not path.is_file():
        raise ExportFolderError(f"{path}: missing (manifest.json lists it); copy the whole export folder")
    if not isinstance(record, dict) or "sha256" not in record or "bytes" not in record:
        raise ExportFolderError(f"{folder / MANIFEST}: the record of {name} has no sha256 and bytes")
    size = path.stat().st_size
    if size != record["bytes"]:
        raise ExportFolderError(
            f"{path}: {size} bytes, manifest.json records {record['bytes']}; the file was changed or "
            "truncated after the export: copy it again or export the run again"
        )
    if sha256_of(path) != record["sha256"]:
        raise ExportFolderError(
            f"{path}: its sha256 is not the one manifest.json records; the file was changed after the "
            "export: copy it again or export the run again"
        )
