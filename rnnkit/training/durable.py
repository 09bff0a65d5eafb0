"""Durable files: fsync before and after each rename, and fault-injection points for the crash tests.

A rename (``os.replace``) is atomic for a killed process, but not for a power loss: until the file's
data and the directory entry are on disk, a crash can leave a renamed name pointing at nothing. So
:func:`durable_replace` fsyncs the source (file, or every file of a directory, and the directory itself),
renames, then fsyncs the parent directory (the rename itself), as SQLite and PostgreSQL do.

Fault injection: ``RNNKIT_FAULT_AT=<point>:<count>[:<action>]`` makes the ``count``-th call of
:func:`fault_point` named ``point`` in this process kill it with SIGKILL (action ``kill``, the default) or
raise ``OSError(ENOSPC)`` (action ``enospc``: a full disk). Several faults are separated by commas. The
points: ``step`` (in a training step, after the backward pass), ``eval`` (in an evaluation),
``checkpoint`` (between two files of a checkpoint being written), ``final_save`` (writing the final model
and results). Without the variable a point costs one dictionary lookup.

Example:
    >>> import tempfile; root = Path(tempfile.mkdtemp())
    >>> durable_write_text(root / "a.json", "{}")
    >>> (root / "a.json").read_text()
    '{}'
"""

from __future__ import annotations

import errno
import os
import signal
import tempfile
from collections import Counter
from pathlib import Path

FAULT_ENV = "RNNKIT_FAULT_AT"
_hits: Counter[str] = Counter()


def fault_point(name: str) -> None:
    """Kill this process, or raise ENOSPC, if ``RNNKIT_FAULT_AT`` says so for this call of ``name``."""
    spec = os.environ.get(FAULT_ENV)
    if not spec:
        return
    _hits[name] += 1
    for item in spec.split(","):
        point, _, rest = item.strip().partition(":")
        count, _, action = rest.partition(":")
        if point != name or not count.isdigit() or int(count) != _hits[name]:
            continue
        if action == "enospc":
            raise OSError(errno.ENOSPC, f"No space left on device (injected at {name}:{count})")
        os.kill(os.getpid(), signal.SIGKILL)


def fsync_path(path: str | os.PathLike) -> None:
    """fsync a file, or a directory (its entries); every file of a directory tree with ``fsync_tree``."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_tree(path: str | os.PathLike) -> None:
    """fsync every file under directory ``path``, then each directory, deepest first."""
    for root, _, files in sorted(os.walk(path), reverse=True):
        for name in files:
            fsync_path(os.path.join(root, name))
        fsync_path(root)


def durable_replace(source: str | os.PathLike, target: str | os.PathLike) -> None:
    """``os.replace(source, target)`` with the source fsynced first and the parent directory after."""
    if os.path.isdir(source):
        fsync_tree(source)
    else:
        fsync_path(source)
    os.replace(source, target)
    fsync_path(os.path.dirname(os.path.abspath(target)))


def durable_write_text(path: str | os.PathLike, text: str) -> None:
    """Write ``text`` to ``path`` so that a crash or power loss leaves either the old file or the new one."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        durable_replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
