"""The command-line reference, generated from the argparse parsers of ``rnnkit`` (never written by hand).

Every command that :data:`rnnkit.cli.main.COMMANDS` registers gets a section: its usage line, a table per
argument group (each argument's flags, value, default and help) and the examples of its ``--help``. A
command added to ``COMMANDS`` appears here with no other edit; an option added to a parser appears in its
table.

The mkdocs hook (``scripts/mkdocs_hooks.py``) writes :func:`render_page` to ``docs/reference/cli.md`` and
replaces ``<!-- cli-reference: NAME -->`` in a page by :func:`render_command` (labels in the page's
language), and ``<!-- cli-commands -->`` by :func:`commands_table`. Run ``python scripts/cli_reference.py``
to print the reference page.
"""

from __future__ import annotations

import argparse
import html
import re
import sys
from pathlib import Path
from typing import Any

WIDTH = 100  # the usage line's width, fixed so that the page does not depend on the terminal
MARKER = re.compile(r"<!--\s*cli-reference:\s*([\w-]+)\s*-->")
COMMANDS_MARKER = "<!-- cli-commands -->"

LABELS = {
    "en": {
        "usage": "Usage",
        "argument": "argument",
        "value": "value",
        "default": "default",
        "meaning": "meaning",
        "examples": "Examples from `--help`",
        "flag": "off (a flag)",
        "repeat": "none; repeatable",
        "none": "none",
        "required": "required",
        "command": "command",
        "purpose": "what it does",
        "guide": "guide",
        "reference": "reference",
        "generated": "Generated from the parser of `rnnkit {name}` (`{module}`) when the site is built.",
        "groups": {},
    },
    "ko": {
        "usage": "사용법",
        "argument": "인자",
        "value": "값",
        "default": "기본값",
        "meaning": "의미",
        "examples": "`--help`의 예시",
        "flag": "꺼짐 (플래그)",
        "repeat": "없음; 여러 번 줄 수 있음",
        "none": "없음",
        "required": "필수",
        "command": "명령",
        "purpose": "하는 일",
        "guide": "안내서",
        "reference": "레퍼런스",
        "generated": "사이트를 빌드할 때 `rnnkit {name}`의 argparse 파서(`{module}`)에서 생성됩니다.",
        "groups": {"positional arguments": "위치 인자", "options": "옵션"},
    },
}


def root_parser() -> argparse.ArgumentParser:
    """The parser of the ``rnnkit`` console script, as :func:`rnnkit.cli.main.main` builds it."""
    from rnnkit.cli.main import build_parser

    return build_parser()


def subcommands(parser: argparse.ArgumentParser | None = None) -> dict[str, argparse.ArgumentParser]:
    """Each command's name and parser, in the order of ``COMMANDS`` (the order of ``rnnkit --help``)."""
    parser = parser or root_parser()
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    raise RuntimeError("rnnkit's parser has no sub-commands")


def command_help(parser: argparse.ArgumentParser | None = None) -> dict[str, str]:
    """The one-line help of each command, as ``rnnkit --help`` lists it."""
    parser = parser or root_parser()
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return {choice.dest: choice.help or "" for choice in action._choices_actions}
    return {}


def command_module(name: str) -> str | None:
    """The module of ``COMMANDS`` that defines command ``name`` (``rnnkit.cli.train``); None if none does."""
    import importlib

    from rnnkit.cli.main import COMMANDS

    probe = argparse.ArgumentParser(add_help=False).add_subparsers()
    for command in COMMANDS:
        module = importlib.import_module(f"rnnkit.cli.{command}")
        module.add_parser(probe)
        if name in probe.choices:
            return module.__name__
    return None


def options(parser: argparse.ArgumentParser) -> list[argparse.Action]:
    """The parser's arguments a user gives (``--help`` included), in the order ``--help`` shows them."""
    return [action for action in parser._actions if action.help is not argparse.SUPPRESS]


def usage(parser: argparse.ArgumentParser) -> str:
    """The usage line(s) of ``--help``, wrapped at :data:`WIDTH` columns."""
    formatter = parser.formatter_class(prog=parser.prog, width=WIDTH)
    formatter.add_usage(parser.usage, parser._actions, parser._mutually_exclusive_groups)
    return formatter.format_help().strip()


def help_text(parser: argparse.ArgumentParser, action: argparse.Action) -> str:
    """An argument's help with ``%(default)s`` and the like filled in, as ``--help`` prints it."""
    if not action.help:
        return ""
    formatter = parser.formatter_class(prog=parser.prog, width=WIDTH)
    return " ".join(formatter._expand_help(action).split())


def value_text(action: argparse.Action) -> str:
    """What follows the flag: ``{png,svg,both}``, ``KEY=VALUE``, ``N``; empty for a flag."""
    if action.nargs == 0:
        return ""
    if action.choices is not None and not isinstance(action, argparse._SubParsersAction):
        return "{" + ",".join(str(choice) for choice in action.choices) + "}"
    if action.metavar is not None:
        return action.metavar if isinstance(action.metavar, str) else " ".join(action.metavar)
    return action.dest.upper() if action.option_strings else action.dest


def default_text(action: argparse.Action, labels: dict[str, Any]) -> str:
    """The argument's default as the page shows it (a flag is off; a repeatable option has none)."""
    if isinstance(action, (argparse._HelpAction, argparse._VersionAction)):
        return ""
    if action.nargs == 0:
        return labels["flag"]
    if action.required or (not action.option_strings and action.nargs in (None, "+", argparse.REMAINDER)):
        return labels["required"]
    if isinstance(action, argparse._AppendAction) and not action.default:
        return labels["repeat"]
    if action.default is None or action.default is argparse.SUPPRESS or action.default == []:
        return labels["none"]
    return code(str(action.default))


def code(text: str) -> str:
    """Inline code that may hold ``|`` or ``<`` inside a markdown table cell.

    Example:
        >>> code("runs/<name> | x")
        '<code>runs/&lt;name&gt; &#124; x</code>'
    """
    return "<code>" + html.escape(text).replace("|", "&#124;") + "</code>"


def cell(text: str) -> str:
    """Plain text safe inside a markdown table cell (``<name>`` stays text, ``|`` splits nothing).

    Example:
        >>> cell("default: runs/<name> | none")
        'default: runs/&lt;name&gt; &#124; none'
    """
    return html.escape(text, quote=False).replace("|", "&#124;").replace("*", "&#42;")


def argument_name(action: argparse.Action) -> str:
    """The argument as typed: ``--output``, ``-o`` for an option; its metavar or name for a positional."""
    if action.option_strings:
        return ", ".join(code(flag) for flag in action.option_strings)
    return code(value_text(action))


def argument_table(
    parser: argparse.ArgumentParser, actions: list[argparse.Action], labels: dict[str, Any]
) -> list[str]:
    """The markdown table of ``actions``: argument, value, default, meaning."""
    rows = [
        f"| {labels['argument']} | {labels['value']} | {labels['default']} | {labels['meaning']} |",
        "|---|---|---|---|",
    ]
    for action in actions:
        value = value_text(action) if action.option_strings else ""
        rows.append(
            f"| {argument_name(action)} | {code(value) if value else ''} | {default_text(action, labels)} "
            f"| {cell(help_text(parser, action))} |"
        )
    return rows


def groups(parser: argparse.ArgumentParser) -> list[tuple[str, list[argparse.Action]]]:
    """The parser's argument groups that hold arguments, with their titles, as ``--help`` orders them."""
    shown = set(map(id, options(parser)))
    out = []
    for group in parser._action_groups:
        actions = [action for action in group._group_actions if id(action) in shown]
        if actions:
            out.append((group.title or "", actions))
    return out


def render_command(
    name: str, language: str = "en", level: int = 2, root: argparse.ArgumentParser | None = None
) -> str:
    """The reference section of ``rnnkit NAME``: usage, a table per argument group, ``--help``'s examples.

    ``level`` is the markdown level of the section's headings; the labels are in ``language`` (en, ko),
    the help texts as the code has them; ``root``: the ``rnnkit`` parser (default: :func:`root_parser`).
    """
    parsers = subcommands(root)
    if name not in parsers:
        raise KeyError(f"{name}: not an rnnkit command (commands: {', '.join(parsers)})")
    parser, labels, hashes = parsers[name], LABELS[language], "#" * level
    out = [labels["generated"].format(name=name, module=command_module(name) or "rnnkit.cli"), ""]
    if parser.description:
        out += [parser.description, ""]
    out += [f"{hashes} {labels['usage']}: `rnnkit {name}`", "", "```text", usage(parser), "```", ""]
    for title, actions in groups(parser):
        out += [f"**{labels['groups'].get(title, title)}**", "", *argument_table(parser, actions, labels), ""]
    if parser.epilog:
        heading = f"{hashes} {labels['examples']}: `rnnkit {name}`"
        out += [heading, "", "```text", parser.epilog.strip(), "```", ""]
    return "\n".join(out)


def commands_table(
    language: str = "en", guides: Path | None = None, root: argparse.ArgumentParser | None = None
) -> str:
    """A table of every command with its one-line help, linking its guide page (``guides/NAME.md``) where
    there is one, else its section of the reference page (links relative to a page in ``docs/guide/``)."""
    labels = LABELS[language]
    rows = [f"| {labels['command']} | {labels['purpose']} | |", "|---|---|---|"]
    for name, purpose in command_help(root).items():
        if guides is None or (guides / f"{name}.md").is_file():
            link = f"[{labels['guide']}]({name}.md)"
        else:
            link = f"[{labels['reference']}](../reference/cli.md#rnnkit-{name})"
        rows.append(f"| `rnnkit {name}` | {cell(purpose)} | {link} |")
    return "\n".join(rows) + "\n"


def render_page(root: argparse.ArgumentParser | None = None) -> str:
    """The whole reference page: ``rnnkit`` itself, then every command (``root``: the ``rnnkit`` parser,
    default :func:`root_parser`)."""
    parser = root or root_parser()
    out = [
        "# Command-line reference",
        "",
        "Generated at build time from the argparse parsers by `scripts/cli_reference.py`: every command of",
        "`rnnkit`, its usage, each argument with its default and help, and the examples of its `--help`.",
        "The [user guide](../guide/index.md) explains each command with examples.",
        "",
        "## `rnnkit`",
        "",
        "```text",
        usage(parser),
        "```",
        "",
        *argument_table(parser, [a for a in options(parser) if a.option_strings], LABELS["en"]),
        "",
    ]
    for name in subcommands(parser):
        out += [f"## `rnnkit {name}` {{ #rnnkit-{name} }}", "", render_command(name, "en", 3, parser)]
    return "\n".join(out)


def expand_markers(markdown: str, language: str, guides: Path | None = None) -> str:
    """``markdown`` with each ``<!-- cli-reference: NAME -->`` replaced by NAME's section and
    ``<!-- cli-commands -->`` by the commands table."""
    markdown = MARKER.sub(lambda match: render_command(match.group(1), language, level=3), markdown)
    if COMMANDS_MARKER in markdown:
        markdown = markdown.replace(COMMANDS_MARKER, commands_table(language, guides))
    return markdown


if __name__ == "__main__":
    root = Path(__file__).resolve().parent.parent
    if str(root) not in sys.path:
        sys.path.insert(0, str(root))
    sys.stdout.write(render_page())
