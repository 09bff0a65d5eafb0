"""What every tutorial script shares: its arguments, the output folder and how it reports numbers.

A tutorial runs at its full budget by default and at CI's budget with ``--small``; its figures go to
``--out`` (or the ``RNNKIT_TUTORIAL_OUT`` environment variable; default ``docs/tutorials/figures``, the
folder the pages embed), anything else it makes to ``<out>/runs``. Each number is printed as
``name = value`` and written to ``<out>/<tutorial>.json``. The real datasets are looked up by
:func:`shared_data`.
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")

FIGURES = Path(__file__).resolve().parent / "figures"
REPOSITORY = Path(__file__).resolve().parents[2]


def shared_data(folder: str, file: str) -> Path | None:
    """``<data>/<folder>`` when it holds ``file``, else None; ``<data>`` is ``$RNNKIT_SHARED_DATA`` or, unset,
    ``../shared/data`` beside the repository (where the tests look for the real datasets too)."""
    root = os.environ.get("RNNKIT_SHARED_DATA") or REPOSITORY.parent / "shared" / "data"
    path = Path(root, folder)
    return path if (path / file).is_file() else None


def parse(description: str, argv: list[str] | None = None) -> argparse.Namespace:
    """``--small`` (CI's budget) and ``--out FOLDER``; the folder exists afterwards."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--small", action="store_true", help="CI's budget: seconds, not minutes")
    parser.add_argument("--out", type=Path, default=Path(os.environ.get("RNNKIT_TUTORIAL_OUT", FIGURES)))
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    return args


class Report:
    """Prints ``name = value`` lines and keeps them for ``<out>/<name>.json``."""

    def __init__(self, name: str, out: Path, small: bool) -> None:
        self.name, self.out, self.values = name, out, {"budget": "small" if small else "full"}

    def __call__(self, key: str, value: Any) -> None:
        if isinstance(value, float):
            value = float(f"{value:.6g}")
        self.values[key] = value
        print(f"{key} = {value}", flush=True)

    def save(self) -> Path:
        path = self.out / f"{self.name}.json"
        lines = [f" {json.dumps(k)}: {json.dumps(v, ensure_ascii=False)}" for k, v in self.values.items()]
        path.write_text("{\n" + ",\n".join(lines) + "\n}\n", encoding="utf-8")  # one line per number
        return path


def work_folder(out: Path) -> Path:
    """``<out>/runs``: where a tutorial puts what it makes on the way (run folders, data slices, configs);
    git (``runs/``) and the site (``exclude_docs``) ignore it, so only the figures and numbers are kept."""
    folder = out / "runs"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def save(fig: Any, out: Path, name: str) -> Path:
    """Save a matplotlib figure as ``<out>/<name>.png`` and close it."""
    import matplotlib.pyplot as plt

    path = out / f"{name}.png"
    fig.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(fig)
    print(f"figure = {path}", flush=True)
    return path
