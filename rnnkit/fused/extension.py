"""Build (once, cached) and load rnnkit's C++ kernels; ``None`` where they cannot be built.

The kernels are compiled on first use with ``torch.utils.cpp_extension`` for the machine at hand
(``-O3 -march=native``) and cached under torch's extension directory (``TORCH_EXTENSIONS_DIR``, by default
``~/.cache/torch_extensions``). Without a C++ compiler, or with ``RNNKIT_NO_EXTENSION=1``, rnnkit runs its
pure-PyTorch reference loop instead: slower, same results.

A build killed half-way (Ctrl-C, an out-of-memory kill, a machine that restarts) leaves torch's lock file
behind, and torch then makes every later process wait for it forever. rnnkit holds an OS lock around the
build, which dies with its holder, and clears such a stale file (see :func:`exclusive_build`).
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import os
import platform
import shutil
import sys
import warnings
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

SOURCES = ("module.cpp", "lstm.cpp", "gru.cpp", "rnn.cpp")
CSRC = Path(__file__).with_name("csrc")
FLAGS = ("-O3", "-march=native", "-fopenmp-simd", "-fno-math-errno", "-fno-trapping-math")


def disabled_reason() -> str | None:
    """Why the extension will not be used (None: it will be tried)."""
    if os.environ.get("RNNKIT_NO_EXTENSION", "") not in ("", "0"):
        return "RNNKIT_NO_EXTENSION is set"
    if shutil.which(os.environ.get("CXX", "c++")) is None:
        return "no C++ compiler found (set CXX or install g++)"
    from torch.utils import cpp_extension

    if not cpp_extension.is_ninja_available():
        return "ninja is not installed (pip install ninja)"
    return None


def extension_name() -> str:
    """A name unique to these sources, flags and CPU, so a changed kernel or machine rebuilds."""
    digest = hashlib.sha256()
    for name in (*sorted(p.name for p in CSRC.iterdir()), *FLAGS, platform.machine(), platform.processor()):
        digest.update(name.encode())
        path = CSRC / name
        if path.is_file():
            digest.update(path.read_bytes())
    return f"rnnkit_fused_{digest.hexdigest()[:12]}"


@contextlib.contextmanager
def exclusive_build(build_dir: Path) -> Iterator[None]:
    """Hold this build directory for one process at a time, and clear a lock file left by a killed build.

    torch's ``lock`` file is a plain file: it stays when its process is killed. The lock taken here is the
    operating system's (``flock``), released when its holder exits however it exits. Every rnnkit process
    takes it before torch's, so a ``lock`` file found while holding it belongs to a build that died.
    Without ``fcntl`` (Windows) only torch's own lock applies.
    """
    try:
        import fcntl
    except ImportError:
        yield
        return
    build_dir.mkdir(parents=True, exist_ok=True)
    with open(build_dir / "rnnkit-build.lock", "a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            print("rnnkit: waiting for another process building the fused kernels...", file=sys.stderr)
            fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            stale = build_dir / "lock"
            if stale.exists():
                stale.unlink()
                print(f"rnnkit: removed {stale}, left by an interrupted build", file=sys.stderr)
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def staged_sources(build_dir: Path) -> list[Path]:
    """The kernel sources copied into ``build_dir/src`` (only those that changed), so that every checkout
    and every installed copy of these sources compiles from the same paths: torch's build files name the
    source paths, and sources read from two checkouts in turn would rebuild the kernels each time."""
    staged = build_dir / "src"
    staged.mkdir(parents=True, exist_ok=True)
    for source in CSRC.iterdir():
        if source.is_file():
            target = staged / source.name
            if not target.is_file() or target.read_bytes() != source.read_bytes():
                shutil.copyfile(source, target)
    return [staged / name for name in SOURCES]


@functools.cache
def load() -> ModuleType | None:
    """The compiled kernels, building them on the first call of a process if needed; None if unavailable
    (with one warning saying why)."""
    reason = disabled_reason()
    if reason is not None:
        return None
    from torch.utils import cpp_extension

    name = extension_name()
    build_dir = Path(cpp_extension._get_build_directory(name, verbose=False))
    if not any(build_dir.glob(f"{name}*.so")):
        print(
            f"rnnkit: compiling the fused CPU kernels into {build_dir} (once, about a minute)...",
            file=sys.stderr,
        )
    try:
        with exclusive_build(build_dir):
            return cpp_extension.load(
                name=name,
                sources=[str(path) for path in staged_sources(build_dir)],
                extra_cflags=list(FLAGS),
                verbose=os.environ.get("RNNKIT_EXTENSION_VERBOSE", "") not in ("", "0"),
            )
    except Exception as error:  # a failed build must not break rnnkit: the reference loop still runs
        warnings.warn(
            f"rnnkit: the fused CPU kernels could not be built ({type(error).__name__}: {error}); "
            "running the reference loop instead",
            RuntimeWarning,
            stacklevel=2,
        )
        return None
