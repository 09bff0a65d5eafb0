"""One writer per run folder: ``run/.lock`` holds the pid, host and start time of the ``rnnkit train``
writing there.

The lock file is created with ``O_CREAT | O_EXCL`` (atomic: of two processes, one wins). A second process
finding it is refused with :class:`RunLockedError` naming the holder, unless the holder is a dead process
of this host (killed, say, by ``kill -9`` or a power loss): that stale lock is cleared, with a note on
stderr, and taken. A lock of another host (a shared file system) is never cleared: its pid means nothing here.

Example:
    >>> import tempfile; run = Path(tempfile.mkdtemp())
    >>> with run_lock(run):
    ...     holder = json.loads((run / LOCK).read_text())["pid"] == os.getpid()
    >>> holder, (run / LOCK).exists()
    (True, False)
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import sys
import time
from collections.abc import Iterator
from pathlib import Path

from rnnkit.errors import UserError

LOCK = ".lock"


class RunLockedError(UserError):
    """Another live process is writing into this run folder."""


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: alive
        return True
    return True


def acquire(run_dir: str | os.PathLike) -> Path:
    """Take the lock of ``run_dir`` (clearing a stale one); returns its path. Raises RunLockedError."""
    path = Path(run_dir) / LOCK
    path.parent.mkdir(parents=True, exist_ok=True)
    me = {"pid": os.getpid(), "host": socket.gethostname(), "started": time.time()}
    for _ in range(3):
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        except FileExistsError:
            try:
                holder = json.loads(path.read_text(encoding="utf-8"))
                pid, host = int(holder["pid"]), str(holder["host"])
            except (OSError, ValueError, KeyError, TypeError):
                holder, pid, host = None, None, None
            if holder is None and path.exists() and time.time() - path.stat().st_mtime < 5:
                time.sleep(0.2)  # being written right now
                continue
            if holder is not None and (host != me["host"] or _alive(pid)):
                started = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(float(holder.get("started", 0))))
                raise RunLockedError(
                    f"{run_dir}: another rnnkit is writing into this run folder (pid {pid} on {host}, since "
                    f"{started}); wait for it to finish, or stop it; if it is gone, delete {path}"
                ) from None
            path.unlink(missing_ok=True)  # a dead process's lock (or an unreadable one): stale
            what = (
                f"of pid {pid} on {host}, no longer running" if holder is not None else "that is unreadable"
            )
            print(f"rnnkit: {run_dir}: cleared a stale lock {what} ({path})", file=sys.stderr)
            continue
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(json.dumps(me) + "\n")
            handle.flush()
            os.fsync(handle.fileno())
        return path
    raise RunLockedError(f"{run_dir}: cannot take the lock {path}; delete it if no rnnkit is running there")


def release(path: Path) -> None:
    """Remove the lock if it is still ours."""
    try:
        if json.loads(path.read_text(encoding="utf-8")).get("pid") == os.getpid():
            path.unlink()
    except (OSError, ValueError):
        pass


@contextlib.contextmanager
def run_lock(run_dir: str | os.PathLike) -> Iterator[Path]:
    """Hold the lock of ``run_dir`` for the ``with`` block."""
    path = acquire(run_dir)
    try:
        yield path
    finally:
        release(path)
