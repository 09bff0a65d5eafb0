"""mkdocs hooks: write the generated pages before mkdocs reads ``docs/``, fill in the generated sections.

``docs/reference/config.md`` comes from :func:`config_reference.render` (the config dataclasses) and
``docs/reference/cli.md`` from :func:`cli_reference.render_page` (the argparse parsers of ``rnnkit``); both
are ignored by git and rewritten only when their text changes, so ``mkdocs serve`` does not rebuild in a
loop. In every page, ``<!-- cli-reference: NAME -->`` becomes the reference section of ``rnnkit NAME`` and
``<!-- cli-commands -->`` the table of commands (:func:`cli_reference.expand_markers`), with labels in the
page's language (``*.ko.md``: Korean).
"""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


def import_scripts() -> None:
    """Make the repository and ``scripts/`` importable (``config_reference``, ``cli_reference``)."""
    for path in (str(ROOT), str(ROOT / "scripts")):
        if path not in sys.path:
            sys.path.insert(0, path)


def write_if_changed(target: Path, text: str) -> Path:
    """Write ``text`` into ``target`` unless it holds that text already; returns ``target``."""
    if not target.exists() or target.read_text(encoding="utf-8") != text:
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
    return target


def write_generated(docs_dir: Path) -> list[Path]:
    """Write the config and command-line references into ``docs_dir/reference/``; returns their paths."""
    import_scripts()
    from cli_reference import render_page
    from config_reference import render

    return [
        write_if_changed(docs_dir / "reference" / "config.md", render()),
        write_if_changed(docs_dir / "reference" / "cli.md", render_page()),
    ]


def on_config(config: Any, **_: Any) -> Any:
    """mkdocs ``on_config``: generate the pages, then let mkdocs collect the files."""
    write_generated(Path(config["docs_dir"]))
    return config


def page_language(src_uri: str) -> str:
    """The language of a page from its file name (``guide/train.ko.md``: ko; else en).

    Example:
        >>> page_language("guide/train.ko.md"), page_language("guide/train.md")
        ('ko', 'en')
    """
    return "ko" if src_uri.endswith(".ko.md") else "en"


LINK = re.compile(r"(\]\()([^)\s#]+)")
OUTSIDE = "repo"  # repository files a page links to (../benchmarks/...) are published under this folder


def published_uri(target: Path) -> str:
    """Where a repository file is published; markdown as ``.md.txt`` so it is served as text, not a page."""
    uri = f"{OUTSIDE}/{target.relative_to(ROOT).as_posix()}"
    return uri + ".txt" if uri.endswith(".md") else uri


def outside_target(page_src: str, link: str, docs_dir: Path) -> Path | None:
    """The repository file a relative link of a page points to when it lies outside ``docs_dir``."""
    if "://" in link or link.startswith(("/", "mailto:")):
        return None
    target = ((docs_dir / page_src).parent / link).resolve()
    if target.is_relative_to(docs_dir.resolve()) or not target.is_relative_to(ROOT) or not target.is_file():
        return None
    return target


def on_files(files: Any, config: Any, **_: Any) -> Any:
    """mkdocs ``on_files``: publish the repository files that pages link to outside ``docs/``."""
    from mkdocs.structure.files import File

    docs_dir = Path(config["docs_dir"])
    for page in list(files.documentation_pages()):
        text = Path(page.abs_src_path).read_text(encoding="utf-8")
        for _, link in LINK.findall(text):
            target = outside_target(page.src_uri, link, docs_dir)
            uri = published_uri(target) if target else None
            if uri and files.get_file_from_path(uri) is None:
                files.append(File.generated(config, uri, abs_src_path=str(target)))
    return files


def on_page_markdown(markdown: str, page: Any, config: Any, **_: Any) -> str:
    """mkdocs ``on_page_markdown``: point links outside ``docs/`` at their published copies."""
    docs_dir = Path(config["docs_dir"])
    depth = page.file.src_uri.count("/")

    def swap(match: re.Match) -> str:
        target = outside_target(page.file.src_uri, match.group(2), docs_dir)
        if target is None:
            return match.group(0)
        return f"{match.group(1)}{'../' * depth}{published_uri(target)}"

    import_scripts()
    from cli_reference import expand_markers

    source = Path(page.file.abs_src_path)
    markdown = expand_markers(markdown, page_language(page.file.src_uri), source.parent)
    return LINK.sub(swap, markdown)
