"""Tiny subsets of the shared datasets, in their own file formats, for the quality report's ``--quick`` mode.

Each function copies some of the examples of every file in a dataset folder into another folder, keeping the
format (headers, ``.ts`` metadata, blank lines between CoNLL sentences), so the same loaders and configs run
on them. Examples are drawn at random (seed 0) rather than taken from the top, since some files are sorted
by class.
"""

from __future__ import annotations

import random
from pathlib import Path


def _sample(items: list[str], count: int) -> list[str]:
    """``count`` items drawn without replacement (seed 0), in their original order."""
    if len(items) <= count:
        return items
    return [items[k] for k in sorted(random.Random(0).sample(range(len(items)), count))]


def _lines(src: Path, dst: Path, count: int, header: int | str = 0) -> None:
    """``count`` lines of ``src`` after its header: ``header`` lines, or those up to the line ``header``."""
    lines = src.read_text(encoding="utf-8").splitlines(keepends=True)
    if isinstance(header, str):
        header = next(k for k, line in enumerate(lines) if line.strip().lower() == header) + 1
    dst.write_text("".join(lines[:header] + _sample(lines[header:], count)), encoding="utf-8")


def _conll(src: Path, dst: Path, count: int) -> None:
    sentences = [s for s in src.read_text(encoding="utf-8").split("\n\n") if s.strip()]
    dst.write_text("\n\n".join(_sample(sentences, count)) + "\n\n", encoding="utf-8")


def _characters(src: Path, dst: Path, count: int) -> None:
    dst.write_text(src.read_text(encoding="utf-8")[:count], encoding="utf-8")


def make_subset(src: Path, dst: Path, examples: int = 200) -> Path:
    """Write a subset of the dataset folder ``src`` (one of shared/data's) into ``dst``; returns ``dst``.

    Example:
        >>> import tempfile
        >>> root = Path(tempfile.mkdtemp())
        >>> (root / "mr").mkdir()
        >>> for name in ("pos", "neg"):
        ...     lines = "".join(f"{name} {k}\\n" for k in range(50))
        ...     _ = (root / "mr" / f"rt-polarity.{name}").write_text(lines)
        >>> small = make_subset(root / "mr", root / "mr-small", examples=5)
        >>> lines = (small / "rt-polarity.pos").read_text().splitlines()
        >>> len(lines), lines == sorted(lines, key=lambda line: int(line.split()[1]))
        (5, True)
    """
    dst.mkdir(parents=True, exist_ok=True)
    for file in sorted(src.iterdir()):
        target = dst / file.name
        if not file.is_file() or file.name.upper().startswith("README"):
            continue
        if file.suffix == ".ts":
            _lines(file, target, examples, header="@data")
        elif file.name.startswith("ratings_") or file.suffix == ".tsv":  # a header, then a row per line
            _lines(file, target, examples, header=1)
        elif file.parent.name.startswith("conll") or file.suffix == ".conllu":
            _conll(file, target, examples)
        elif file.name == "input.txt":  # tinyshakespeare: characters
            _characters(file, target, 60 * examples)
        elif file.suffix == ".csv":  # a time series: keep all of it (the split needs whole seasons)
            target.write_bytes(file.read_bytes())
        else:
            _lines(file, target, examples)
    return dst
