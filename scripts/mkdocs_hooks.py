"""mkdocs hooks: write the generated pages before mkdocs reads ``docs/``.

``docs/reference/config.md`` comes from :func:`config_reference.render` (the config dataclasses); it is
ignored by git and rewritten only when its text changes, so ``mkdocs serve`` does not rebuild in a loop.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


def write_generated(docs_dir: Path) -> Path:
    """Write the config reference into ``docs_dir/reference/config.md``; returns its path."""
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    sys.path.insert(0, str(ROOT / "scripts"))
    try:
        from config_reference import render
    finally:
        sys.path.remove(str(ROOT / "scripts"))
    target = docs_dir / "reference" / "config.md"
    text = render()
    if not target.exists() or target.read_text(encoding="utf-8") != text:
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
    return target


def on_config(config: Any, **_: Any) -> Any:
    """mkdocs ``on_config``: generate the pages, then let mkdocs collect the files."""
    write_generated(Path(config["docs_dir"]))
    return config


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

    return LINK.sub(swap, markdown)
