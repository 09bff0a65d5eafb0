"""Download a dataset file once: URL + pinned sha256 + cache folder, atomic, with a clear error when offline.

    fetch(DatasetFile(url, sha256, "nsmc/ratings_train.txt"))  ->  ~/.cache/rnnkit/nsmc/ratings_train.txt

- The cache folder is ``cache_dir``, else ``$RNNKIT_CACHE``, else ``~/.cache/rnnkit``.
- A cached file whose sha256 matches is used as is; otherwise the file is downloaded (urllib) into a temporary
  file beside the target, hashed while it streams, and renamed into place only if the hash matches, so an
  interrupted or corrupted download never leaves a file that looks complete.
- A file without a pinned sha256 is refused unless ``verify=False`` is passed: nothing is used unverified
  by accident.
- Offline (``offline=True``, ``$RNNKIT_OFFLINE=1``, or a failing network), :class:`DatasetUnavailable` says
  so, names the URL, and explains how to use a local copy instead.
- Archives (zip, tar, tar.gz) are extracted when the file asks for it, refusing members that would land
  outside the target folder (absolute paths, ``..``, links, devices).
"""

from __future__ import annotations

import hashlib
import http.client
import os
import re
import shutil
import stat
import tarfile
import tempfile
import urllib.error
import urllib.request
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from rnnkit.errors import UserError  # the CLI prints these in one line, with status 2

_ARCHIVE_SUFFIXES = (".tar.gz", ".tgz", ".tar.bz2", ".tar.xz", ".tar", ".zip")


class DatasetUnavailable(UserError, OSError):
    """A dataset file is not cached and cannot be downloaded (offline, unreachable server, HTTP error)."""


class ChecksumError(UserError, ValueError):
    """A downloaded file's sha256 differs from the pinned one; the message gives both."""


class UnpinnedFile(UserError, ValueError):
    """A file without a pinned sha256 was requested with ``verify=True``."""


class UnsafeArchive(UserError, ValueError):
    """An archive member would be written outside the extraction folder, or is a link or device."""


@dataclass(frozen=True)
class DatasetFile:
    """One file to download.

    Args:
        url: where the file lives (http, https).
        sha256: the hex digest of the file's bytes, or None when it could not be pinned (then ``fetch``
            needs ``verify=False``).
        filename: the path inside the cache folder, relative, e.g. ``"nsmc/ratings_train.txt"``.
        extract: an archive whose contents are needed: ``fetch`` returns the extracted folder.

    Example:
        >>> DatasetFile("https://example.org/a.txt", None, "../a.txt")
        Traceback (most recent call last):
        ...
        ValueError: DatasetFile: filename must be a relative path without '..', got '../a.txt'
    """

    url: str
    sha256: str | None
    filename: str
    extract: bool = False

    def __post_init__(self) -> None:
        name = PurePosixPath(self.filename)
        if not self.filename or name.is_absolute() or ".." in name.parts or "\\" in self.filename:
            raise ValueError(
                f"DatasetFile: filename must be a relative path without '..', got {self.filename!r}"
            )
        if self.sha256 is not None and not re.fullmatch(r"[0-9a-f]{64}", self.sha256):
            raise ValueError(
                f"DatasetFile: sha256 must be 64 lowercase hex digits or None, got {self.sha256!r}"
            )
        if self.extract and not self.filename.endswith(_ARCHIVE_SUFFIXES):
            raise ValueError(
                f"DatasetFile: extract=True needs an archive name {_ARCHIVE_SUFFIXES}, got {self.filename!r}"
            )


def default_cache_dir(cache_dir: str | os.PathLike | None = None) -> Path:
    """``cache_dir`` if given, else ``$RNNKIT_CACHE``, else ``~/.cache/rnnkit``."""
    if cache_dir is not None:
        return Path(cache_dir)
    return Path(os.environ.get("RNNKIT_CACHE") or Path.home() / ".cache" / "rnnkit")


def is_offline(offline: bool | None = None) -> bool:
    """``offline`` if given, else whether ``$RNNKIT_OFFLINE`` is 1/true/yes."""
    if offline is not None:
        return offline
    return os.environ.get("RNNKIT_OFFLINE", "").strip().lower() in ("1", "true", "yes")


def sha256_file(path: str | os.PathLike) -> str:
    """Hex sha256 of a file, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


def cache_path(file: DatasetFile, cache_dir: str | os.PathLike | None = None) -> Path:
    """Where ``fetch`` keeps ``file`` (before extraction)."""
    return default_cache_dir(cache_dir) / file.filename


def fetch(
    file: DatasetFile,
    cache_dir: str | os.PathLike | None = None,
    offline: bool | None = None,
    verify: bool = True,
    hint: str | None = None,
    timeout: float = 60.0,
) -> Path:
    """The local path of ``file``: from the cache if its hash matches, else downloaded now.

    Args:
        file: what to get. cache_dir: see :func:`default_cache_dir`. offline: see :func:`is_offline`.
        verify: check the sha256; ``False`` is needed (and must be explicit) for files without a pinned hash.
        hint: how to use a local copy instead, added to the offline message (e.g. the loader to call).
        timeout: seconds to wait for the server.

    Returns:
        the cached file, or for ``extract=True`` the folder it was extracted to.

    Raises:
        UnpinnedFile: no pinned sha256 and ``verify=True``.
        ChecksumError: the download's sha256 is not the pinned one (the download is deleted).
        DatasetUnavailable: not cached (or stale) and offline, unreachable, or answered with an HTTP error.
        UnsafeArchive: an archive member that would escape the extraction folder.
    """
    target = cache_path(file, cache_dir)
    if verify and file.sha256 is None:
        raise UnpinnedFile(
            f"{file.url}: no sha256 is pinned for this file (the canonical copy could not be hashed when the "
            "catalog was written), so its content cannot be checked. Pass verify=False to use it unverified "
            f"(only if you trust the source), or {hint or 'load a local copy with the dataset loader'}."
        )
    fresh = not _usable(target, file.sha256 if verify else None)
    if fresh and is_offline(offline):
        stale = ""
        if target.exists():
            stale = f"; the cached {target} has sha256 {sha256_file(target)}, expected {file.sha256}"
        raise DatasetUnavailable(
            f"cannot download {file.url}: offline mode is on (offline=True or $RNNKIT_OFFLINE){stale}. "
            f"{_local_copy(target, hint)}"
        )
    if fresh:  # not cached, or a stale/corrupted copy: download it
        _download(file, target, verify, hint, timeout)
    return _extracted(target, fresh) if file.extract else target


def _usable(target: Path, sha256: str | None) -> bool:
    return target.is_file() and (sha256 is None or sha256_file(target) == sha256)


def _local_copy(target: Path, hint: str | None) -> str:
    how = hint or "pass the file's path to the dataset's loader function (or --data PATH on the command line)"
    return f"To use a local copy instead: {how}; or place the file at {target}."


def _download(file: DatasetFile, target: Path, verify: bool, hint: str | None, timeout: float) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".part", dir=target.parent)
    digest = hashlib.sha256()
    try:
        with os.fdopen(fd, "wb") as out:
            try:
                request = urllib.request.Request(file.url, headers={"User-Agent": "rnnkit"})
                with urllib.request.urlopen(request, timeout=timeout) as response:
                    while block := response.read(1 << 20):
                        digest.update(block)
                        out.write(block)
            except urllib.error.HTTPError as error:
                raise DatasetUnavailable(
                    f"cannot download {file.url}: the server answered HTTP {error.code} {error.reason}. "
                    f"{_local_copy(target, hint)}"
                ) from None
            except (urllib.error.URLError, TimeoutError, ConnectionError, http.client.HTTPException) as error:
                reason = getattr(error, "reason", error)
                raise DatasetUnavailable(
                    f"cannot download {file.url}: this machine seems to be offline, or the server is "
                    f"unreachable ({reason}). {_local_copy(target, hint)}"
                ) from None
        got = digest.hexdigest()
        if verify and got != file.sha256:
            raise ChecksumError(
                f"{file.url}: sha256 mismatch: expected {file.sha256}, got {got}; the download was deleted "
                "(the file changed upstream, or the transfer was corrupted)"
            )
        os.replace(tmp, target)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def _extracted(archive: Path, fresh: bool) -> Path:
    name = archive.name
    folder = archive.with_name(name[: -len(next(s for s in _ARCHIVE_SUFFIXES if name.endswith(s)))])
    if folder.is_dir() and fresh:  # extracted from an older download: replace it
        shutil.rmtree(folder)
    if not folder.is_dir():
        extract_archive(archive, folder)
    return folder


def extract_archive(archive: str | os.PathLike, dest: str | os.PathLike) -> Path:
    """Extract a zip or tar(.gz/.bz2/.xz) archive into the new folder ``dest``, atomically and safely.

    Raises:
        UnsafeArchive: a member with an absolute path or ``..``, a link, or a device (nothing is written).
        ValueError: neither zip nor tar.
    """
    archive, dest = Path(archive), Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{dest.name}.", dir=dest.parent))
    try:
        if zipfile.is_zipfile(archive):
            with zipfile.ZipFile(archive) as zf:
                for info in zf.infolist():
                    _check_member(archive, info.filename, stat.S_ISLNK(info.external_attr >> 16))
                zf.extractall(tmp)
        elif tarfile.is_tarfile(archive):
            with tarfile.open(archive, "r:*") as tf:
                members = tf.getmembers()
                for member in members:
                    _check_member(archive, member.name, not (member.isfile() or member.isdir()))
                if hasattr(tarfile, "data_filter"):  # Python >= 3.11.4 / 3.12: belt and braces
                    tf.extractall(tmp, members, filter="data")
                else:
                    tf.extractall(tmp, members)
        else:
            raise ValueError(f"{archive}: not a zip or tar archive")
        os.replace(tmp, dest)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp)
    return dest


def _check_member(archive: Path, name: str, special: bool) -> None:
    parts = PurePosixPath(name.replace("\\", "/")).parts
    if name.startswith(("/", "\\")) or ".." in parts or (parts and ":" in parts[0]):
        raise UnsafeArchive(
            f"{archive}: member {name!r} would be extracted outside the target folder; refused"
        )
    if special:
        raise UnsafeArchive(f"{archive}: member {name!r} is a link or a device; refused")
