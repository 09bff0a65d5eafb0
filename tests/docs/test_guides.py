"""The user guide: a page per ``rnnkit`` command in English and Korean, each with its reference section
generated from the command's argparse parser, and every ``rnnkit`` example in them a valid command line."""

from __future__ import annotations

import argparse
import contextlib
import doctest
import io
import re
import shlex
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from rnnkit.cli.main import build_parser

ROOT = Path(__file__).resolve().parents[2]
GUIDE = ROOT / "docs" / "guide"
LANGUAGES = {"en": ".md", "ko": ".ko.md"}
BASH_BLOCK = re.compile(r"^```bash\n(.*?)^```", re.DOTALL | re.MULTILINE)
RUNS_RNNKIT = re.compile(r"\s*([A-Z_][A-Z0-9_]*=\S*\s+)*rnnkit(\s|$)")  # RNNKIT_KEY=x rnnkit ...

sys.path.insert(0, str(ROOT / "scripts"))
try:
    import cli_reference
finally:
    sys.path.remove(str(ROOT / "scripts"))

COMMANDS = list(cli_reference.subcommands())


def guide_pages() -> list[Path]:
    """Every page of the user guide, both languages."""
    return sorted(GUIDE.glob("*.md"))


def command_lines(markdown: str) -> Iterator[str]:
    """The lines of the page's ```bash blocks that run ``rnnkit``, with ``\\`` continuations joined and
    environment assignments (``RNNKIT_KEY=x rnnkit ...``) dropped."""
    for block in BASH_BLOCK.findall(markdown):
        for line in block.replace("\\\n", " ").splitlines():
            if RUNS_RNNKIT.match(line):
                words = shlex.split(line, comments=True)
                yield shlex.join(words[words.index("rnnkit") :])


def parse(line: str) -> argparse.Namespace | None:
    """``rnnkit``'s parser on ``line``: its namespace, None for ``--help``; a parse error fails the test."""
    stderr = io.StringIO()
    try:
        with contextlib.redirect_stderr(stderr), contextlib.redirect_stdout(io.StringIO()):
            return build_parser().parse_args(shlex.split(line)[1:])
    except SystemExit as exit:
        if exit.code == 0:
            return None
        pytest.fail(f"{line}\n{stderr.getvalue()}")


def test_the_registry_lists_the_commands_of_rnnkit_help() -> None:
    from rnnkit.cli.main import COMMANDS as MODULES

    assert len(COMMANDS) == len(MODULES)
    assert {"train", "evaluate", "predict", "inspect", "report", "serve", "tune"} <= set(COMMANDS)
    for name in COMMANDS:
        assert cli_reference.command_module(name).startswith("rnnkit.cli.")


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("name", COMMANDS)
def test_every_command_has_a_guide_page_with_its_generated_reference(name: str, language: str) -> None:
    page = GUIDE / f"{name}{LANGUAGES[language]}"
    assert page.is_file(), f"write {page.relative_to(ROOT)}: rnnkit {name} has no guide page in {language}"
    text = page.read_text(encoding="utf-8")
    assert f"<!-- cli-reference: {name} -->" in text, f"{page.name}: no reference marker"
    assert re.search(rf"^```bash\n(.*\n)*?rnnkit {name}\b", text, re.MULTILINE), f"{page.name}: no example"
    expanded = cli_reference.expand_markers(text, language, GUIDE)
    assert "cli-reference:" not in expanded
    assert f"usage: rnnkit {name}" in expanded
    assert ("사용법" in expanded) == (language == "ko")


@pytest.mark.parametrize("name", COMMANDS)
def test_the_reference_section_holds_every_argument_of_the_parser(name: str) -> None:
    parser = cli_reference.subcommands()[name]
    for language in LANGUAGES:
        section = cli_reference.render_command(name, language)
        for action in parser._actions:
            if action.help is argparse.SUPPRESS:
                continue
            names = action.option_strings or [cli_reference.value_text(action)]
            for flag in names:
                assert cli_reference.code(flag) in section, (name, flag)
            if action.option_strings and action.default not in (None, [], False, argparse.SUPPRESS):
                assert cli_reference.code(str(action.default)) in section, (name, action.dest)
            if action.choices:
                assert "{" + ",".join(map(str, action.choices)) + "}" in section, (name, action.dest)
    page = cli_reference.render_page()
    assert f"## `rnnkit {name}` {{ #rnnkit-{name} }}" in page


def test_a_new_option_or_command_appears_with_no_page_edited() -> None:
    root = build_parser()
    cli_reference.subcommands(root)["train"].add_argument(
        "--brand-new", type=int, default=7, help="an option added after the guide was written"
    )
    extra = next(a for a in root._actions if isinstance(a, argparse._SubParsersAction))
    added = extra.add_parser("brand-new-command", help="a command added after the guide was written")
    added.add_argument("--level", choices=["a", "b"], default="a")
    section = cli_reference.render_command("train", "en", root=root)
    assert "| <code>--brand-new</code> | <code>BRAND_NEW</code> | <code>7</code> | an option added" in section
    page = cli_reference.render_page(root)
    assert "## `rnnkit brand-new-command` { #rnnkit-brand-new-command }" in page
    assert "<code>{a,b}</code> | <code>a</code>" in page
    table = cli_reference.commands_table("en", GUIDE, root)
    assert "| `rnnkit train` | train a model from a YAML run config | [guide](train.md) |" in table
    assert "[reference](../reference/cli.md#rnnkit-brand-new-command)" in table  # no guide page yet


def test_an_unknown_command_in_a_marker_fails_the_build() -> None:
    with pytest.raises(KeyError, match="no-such-command: not an rnnkit command"):
        cli_reference.expand_markers("<!-- cli-reference: no-such-command -->", "en")


def test_the_help_texts_are_escaped_for_a_table() -> None:
    section = cli_reference.render_command("train", "en")
    assert "run folder (default: runs/&lt;name&gt;)" in section  # <name> is text, not an HTML tag
    assert "| <code>config</code> |  | none |" in section  # optional positional
    assert "| <code>RUN</code> |  | required |" in cli_reference.render_command("evaluate", "en")


@pytest.mark.parametrize("page", guide_pages(), ids=lambda p: p.name)
def test_every_rnnkit_example_in_the_guide_parses(page: Path) -> None:
    lines = list(command_lines(page.read_text(encoding="utf-8")))
    assert lines, f"{page.name}: no rnnkit example in a ```bash block"
    for line in lines:
        args = parse(line)
        if args is not None and args.command in ("train", "tune") and getattr(args, "config", None):
            if not args.config.endswith((".yaml", ".yml", ".json")):  # an example config's name
                from rnnkit.cli.train import resolve_config

                assert resolve_config(args.config).is_file(), line


@pytest.mark.parametrize("page", sorted(GUIDE.glob("*.ko.md")), ids=lambda p: p.name)
def test_a_korean_page_is_korean_and_runs_the_commands_of_the_english_one(page: Path) -> None:
    korean = page.read_text(encoding="utf-8")
    english = page.with_name(page.name.replace(".ko.md", ".md")).read_text(encoding="utf-8")
    syllables = sum("\uac00" <= char <= "\ud7a3" for char in korean)
    assert syllables >= 150, f"{page.name} has only {syllables} Hangul syllables: is it really Korean?"
    assert list(command_lines(korean)) == list(command_lines(english))
    assert re.findall(r"^```yaml\n.*?^```", korean, re.DOTALL | re.MULTILINE) == re.findall(
        r"^```yaml\n.*?^```", english, re.DOTALL | re.MULTILINE
    )
    assert set(re.findall(r"\]\(([^)]+)\)", korean)) == set(re.findall(r"\]\(([^)]+)\)", english))


def test_the_doctests_of_the_generator_and_the_hook_pass() -> None:
    sys.path.insert(0, str(ROOT / "scripts"))
    try:
        import mkdocs_hooks
    finally:
        sys.path.remove(str(ROOT / "scripts"))
    for module in (cli_reference, mkdocs_hooks):
        outcome = doctest.testmod(module)
        assert outcome.attempted > 0 and outcome.failed == 0, module.__name__


@pytest.mark.parametrize("page", guide_pages(), ids=lambda p: p.name)
def test_every_run_config_in_the_guide_loads(page: Path, tmp_path: Path) -> None:
    from rnnkit.tasks.base import load_run_config

    for k, block in enumerate(
        re.findall(r"^```yaml\n(.*?)^```", page.read_text(encoding="utf-8"), re.DOTALL | re.M)
    ):
        path = tmp_path / f"config{k}.yaml"
        path.write_text(block, encoding="utf-8")
        assert load_run_config(path).task, (page.name, k)


def test_the_examples_in_help_parse_too() -> None:
    for parser in cli_reference.subcommands().values():
        for line in command_lines(f"```bash\n{parser.epilog or ''}\n```\n"):
            parse(line)


def test_the_guide_index_and_nav_titles_in_both_languages() -> None:
    for language, suffix in LANGUAGES.items():
        text = (GUIDE / f"index{suffix}").read_text(encoding="utf-8")
        assert cli_reference.COMMANDS_MARKER in text
        table = cli_reference.expand_markers(text, language, GUIDE)
        for name in COMMANDS:
            assert f"`rnnkit {name}`" in table
    config = (ROOT / "mkdocs.yml").read_text(encoding="utf-8")
    i18n = next(p["i18n"] for p in yaml.safe_load(config)["plugins"] if isinstance(p, dict) and "i18n" in p)
    titles = {lang["locale"]: lang.get("nav_translations", {}) for lang in i18n["languages"]}
    assert titles["en"]["Guide"] == "User guide"
    assert titles["ko"]["Guide"] == "사용자 안내서"
