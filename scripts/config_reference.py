"""The config reference page, generated from the config dataclasses (never written by hand).

Every task registered in :data:`rnnkit.tasks.base.TASKS` contributes its ``data`` section
(``Task.data_config``) and its ``model`` section (``Task.model_config_class`` less ``Task.DERIVED``); the
``train`` section is :class:`rnnkit.training.config.TrainConfig`. Nested dataclasses (``model.rnn``,
``data.covariates``) get their own table. Each key's help is the text under its name in the class
docstring's ``Attributes:`` (or ``Fields:``) section.

Run ``python scripts/config_reference.py`` to print the page; the mkdocs hook writes it to
``docs/reference/config.md`` at build time.
"""

from __future__ import annotations

import dataclasses
import html
import inspect
import re
import sys
import typing
from typing import Any

SECTION = re.compile(r"^\s*(Attributes|Fields):\s*$")


def field_docs(cls: type) -> dict[str, str]:
    """Help text per field name from ``cls``'s docstring ``Attributes:`` / ``Fields:`` section.

    An entry ``a, b: text`` or ``a / b: text`` documents both fields.

    Example:
        >>> class C:
        ...     '''Doc.
        ...
        ...     Attributes:
        ...         x, y: the point,
        ...             on two lines.
        ...         z: depth.
        ...     '''
        >>> field_docs(C)
        {'x': 'the point, on two lines.', 'y': 'the point, on two lines.', 'z': 'depth.'}
    """
    doc = inspect.cleandoc(cls.__doc__ or "")
    lines, out, inside, indent = doc.splitlines(), {}, False, None
    names: list[str] = []
    for line in lines:
        if SECTION.match(line):
            inside, indent, names = True, None, []
            continue
        if not inside:
            continue
        if not line.strip():
            continue
        width = len(line) - len(line.lstrip())
        if indent is None:
            indent = width
        if width < indent:  # the section ended (e.g. "Example:")
            inside = False
            continue
        entry = re.match(r"^([\w\s,/]+?):\s+(.*)$", line.strip()) if width == indent else None
        if entry:
            names = [n for n in re.split(r"[,/\s]+", entry.group(1)) if n]
            for name in names:
                out[name] = entry.group(2).strip()
        elif names:
            for name in names:
                out[name] += " " + line.strip()
    return out


def type_name(annotation: Any) -> str:
    """A short readable type: ``int | None``, ``Literal['a', 'b']``, ``tuple[float, float]``."""
    text = annotation if isinstance(annotation, str) else getattr(annotation, "__name__", repr(annotation))
    if not isinstance(annotation, str) and typing.get_origin(annotation) is not None:
        text = repr(annotation)
    return re.sub(r"\btyping\.", "", str(text)).replace("NoneType", "None")


def default_text(f: dataclasses.Field) -> str:
    """The field's default as code, ``factory()`` results included; ``required`` when there is none."""
    if f.default is not dataclasses.MISSING:
        value = f.default
    elif f.default_factory is not dataclasses.MISSING:
        value = f.default_factory()
        if dataclasses.is_dataclass(value):
            return f"{type(value).__name__}()"
    else:
        return "required"
    return f"`{value!r}`"


def markdown(text: str) -> str:
    """Docstring markup as markdown: ``:class:`X``` and ````x```` become ```x```.

    Example:
        >>> markdown("see :class:`TrainConfig` and ``lr``")
        'see `TrainConfig` and `lr`'
    """
    return re.sub(r":\w+:`~?([^`]+)`", r"`\1`", text).replace("``", "`")


def code(text: str) -> str:
    """Inline code that may hold ``|`` inside a markdown table cell (a backslash would show in a code span).

    Example:
        >>> code("int | None")
        '<code>int &#124; None</code>'
    """
    return "<code>" + html.escape(text).replace("|", "&#124;") + "</code>"


def cell(text: str) -> str:
    """Text safe inside a markdown table cell."""
    return markdown(text).replace("|", "\\|").replace("\n", " ")


def table(cls: type, prefix: str, skip: tuple[str, ...] = ()) -> tuple[list[str], list[tuple[type, str]]]:
    """Markdown rows for ``cls`` under key ``prefix``, and the nested dataclasses to document after."""
    hints = typing.get_type_hints(cls)
    docs = field_docs(cls)
    rows = [f"### `{prefix}`: `{cls.__module__}.{cls.__qualname__}`", ""]
    summary = []  # the docstring's prose, up to its first section (Attributes:, Example:)
    for paragraph in inspect.cleandoc(cls.__doc__ or "").split("\n\n"):
        if re.match(r"^\w+:\s*$", paragraph.splitlines()[0]):
            break
        summary.append(markdown(paragraph.replace("\n", " ")))
    rows += ["\n\n".join(summary), "", "| key | type | default | meaning |", "|---|---|---|---|"]
    nested: list[tuple[type, str]] = []
    for f in dataclasses.fields(cls):
        if f.name.startswith("_") or f.name in skip:
            continue
        hint = hints.get(f.name, f.type)
        for arg in (hint, *typing.get_args(hint)):
            if isinstance(arg, type) and dataclasses.is_dataclass(arg):
                nested.append((arg, f"{prefix}.{f.name}"))
        rows.append(
            f"| `{prefix}.{f.name}` | {code(type_name(hint))} | {cell(default_text(f))} "
            f"| {cell(docs.get(f.name, ''))} |"
        )
    return [*rows, ""], nested


def render() -> str:
    """The whole page: the run file's top level, ``train``, then each task's ``data`` and ``model``."""
    from rnnkit.tasks.base import TASKS, RunConfig
    from rnnkit.training.config import TrainConfig

    out = [
        "# Config reference",
        "",
        "Generated at build time from the config dataclasses by `scripts/config_reference.py`: every key,",
        "its type, its default and the text of its class docstring. A run file has the top-level keys of",
        "`RunConfig`; `train` is the same for every task; `data` and `model` depend on `task`. Keys the",
        "data decide (vocabulary size, number of classes) are left out of a task's model section.",
        "",
        "## Every run",
        "",
    ]
    todo: list[tuple[type, str, tuple[str, ...]]] = [(RunConfig, "run", ("data", "model", "train"))]
    todo.append((TrainConfig, "train", ()))
    out += emit(todo)
    for name in sorted(TASKS):
        task = TASKS[name]
        out += [f"## Task `{name}`", ""]
        sections = [(task.data_config, "data", ())]
        model_cls = getattr(task, "model_config_class", None)
        if model_cls is not None:
            sections.append((model_cls, "model", tuple(task.DERIVED)))
        out += emit(sections)
    return "\n".join(out) + "\n"


def emit(todo: list[tuple[type, str, tuple[str, ...]]]) -> list[str]:
    """Tables for the given classes, each followed by the tables of its nested dataclasses."""
    out: list[str] = []
    while todo:
        cls, prefix, skip = todo.pop(0)
        rows, nested = table(cls, prefix, skip)
        out += rows
        todo[:0] = [(n, p, ()) for n, p in nested]
    return out


if __name__ == "__main__":
    sys.stdout.write(render())
