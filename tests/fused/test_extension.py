"""The kernels' build lock: a build killed half-way must not make every later process wait forever."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import pytest

from rnnkit.fused import extension

fcntl = pytest.importorskip("fcntl", reason="the OS build lock uses fcntl (not on Windows)")

# A stand-in for a building process: takes rnnkit's OS lock, then writes torch's lock file as torch does,
# says so, and waits for its stdin to close (then cleans up, as a build that finishes would).
HOLDER = textwrap.dedent(
    """
    import fcntl, sys
    from pathlib import Path
    build_dir = Path(sys.argv[1])
    handle = open(build_dir / "rnnkit-build.lock", "a")
    fcntl.flock(handle, fcntl.LOCK_EX)
    (build_dir / "lock").touch()
    print("held", flush=True)
    sys.stdin.read()
    (build_dir / "lock").unlink()
    """
)


def start_holder(build_dir: Path) -> subprocess.Popen:
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(build_dir)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout.readline().strip() == "held"
    return holder


def test_a_lock_file_left_by_a_killed_build_is_removed(tmp_path, capsys):
    holder = start_holder(tmp_path)
    holder.send_signal(signal.SIGKILL)
    holder.wait(timeout=30)
    assert (tmp_path / "lock").exists()  # what a killed build leaves behind
    with extension.exclusive_build(tmp_path):
        assert not (tmp_path / "lock").exists()
    assert "left by an interrupted build" in capsys.readouterr().err


def test_a_live_build_is_waited_for_and_its_lock_kept(tmp_path):
    holder = start_holder(tmp_path)
    entered = threading.Event()

    def build() -> None:
        with extension.exclusive_build(tmp_path):
            entered.set()

    waiter = threading.Thread(target=build)
    waiter.start()
    try:
        assert not entered.wait(timeout=0.5), "entered while another process held the build"
        assert (tmp_path / "lock").exists(), "removed the lock of a build that is still running"
    finally:
        holder.stdin.close()
        holder.wait(timeout=30)
    waiter.join(timeout=30)
    assert entered.is_set()


def test_the_kernels_load_despite_a_stale_lock_in_their_build_directory():
    """The real thing, in a fresh process: before the fix this waited forever (and a CI run timed out)."""
    if extension.disabled_reason() is not None:
        pytest.skip(f"fused kernels unavailable: {extension.disabled_reason()}")
    from torch.utils import cpp_extension

    build_dir = Path(cpp_extension._get_build_directory(extension.extension_name(), verbose=False))
    (build_dir / "lock").touch()
    env = {**os.environ, "PYTHONWARNINGS": "error::RuntimeWarning"}
    done = subprocess.run(
        [sys.executable, "-c", "from rnnkit.fused import extension; assert extension.load() is not None"],
        capture_output=True,
        text=True,
        timeout=900,  # a first build takes minutes on 2 cores; a stale lock used to hang forever
        env=env,
    )
    assert done.returncode == 0, done.stderr
    assert not (build_dir / "lock").exists()
