"""README.ko.md keeps in step with README.md: the same ``##`` / ``###`` headings in the same order, and the
same fenced commands in each section.

Headings are translated, so each Korean heading carries the English one in a comment on the line above it
(``<!-- en: Train on your own files -->``); fenced blocks are copied verbatim. The generated tables of
README.md (between ``<!-- ... table: start -->`` and ``<!-- ... table: end -->``) are not compared: the
Korean README links to them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
MARKER = re.compile(r"^<!--\s*en:\s*(.*?)\s*-->\s*$")
HEADING = re.compile(r"^(#{2,3})\s+(.*?)\s*$")


@dataclass
class Section:
    """One ``##`` / ``###`` section: its level, its key (the English heading), the line it starts on and
    its fenced blocks (each with the line it starts on)."""

    level: int
    key: str
    title: str
    line: int
    blocks: list[tuple[str, int]] = field(default_factory=list)

    @property
    def name(self) -> str:
        return f"{'#' * self.level} {self.title}"


def sections(text: str, translated: bool) -> list[Section]:
    """The sections of a README; ``translated``: keys come from the ``<!-- en: ... -->`` line above."""
    out = [Section(1, "", "(top)", 1)]
    lines = text.splitlines()
    fence: list[str] | None = None
    generated = False
    for number, line in enumerate(lines, 1):
        if fence is not None:
            fence.append(line)
            if line.startswith("```"):
                out[-1].blocks.append(("\n".join(fence), number - len(fence) + 1))
                fence = None
            continue
        if re.match(r"^<!--.*table: start -->", line):
            generated = True
        elif re.match(r"^<!--.*table: end -->", line):
            generated = False
        elif generated:
            continue
        elif line.startswith("```"):
            fence = [line]
        elif match := HEADING.match(line):
            key = match.group(2)
            if translated:
                above = MARKER.match(lines[number - 2]) if number >= 2 else None
                key = above.group(1) if above else f"(no <!-- en: ... --> line above line {number})"
            out.append(Section(len(match.group(1)), key, match.group(2), number))
    return out


def differences(english: str, korean: str) -> list[str]:
    """What README.ko.md must change to match README.md, one sentence per difference (empty: in step)."""
    en, ko = sections(english, False), sections(korean, True)
    problems = []
    en_keys = [(s.level, s.key) for s in en]
    ko_keys = [(s.level, s.key) for s in ko]
    for k, s in enumerate(en):
        if (s.level, s.key) not in ko_keys:
            after = en[k - 1].name if k else "the top"
            problems.append(
                f"README.ko.md lacks the section {s.name!r} (README.md line {s.line}): add a Korean "
                f"{'#' * s.level} heading with the line '<!-- en: {s.key} -->' above it, after the section "
                f"that translates {after!r}"
            )
    for s in ko:
        if (s.level, s.key) not in en_keys:
            problems.append(
                f"README.ko.md line {s.line}: {s.name!r} (en: {s.key!r}) has no heading "
                f"{'#' * s.level + ' ' + s.key!r} in README.md"
            )
    common_en = [key for key in en_keys if key in ko_keys]
    common_ko = [key for key in ko_keys if key in en_keys]
    if common_en != common_ko:
        problems.append(
            "README.ko.md has its sections in another order than README.md: "
            f"README.md {[k for _, k in common_en]} vs README.ko.md {[k for _, k in common_ko]}"
        )
    by_key = {(s.level, s.key): s for s in ko}
    for s in en:
        mine = by_key.get((s.level, s.key))
        if mine is None:
            continue
        theirs = [block for block, _ in mine.blocks]
        for block, line in s.blocks:
            if block not in theirs:
                first = block.splitlines()[1] if block.count("\n") else block
                problems.append(
                    f"README.ko.md section {mine.name!r} (en: {s.name!r}, line {mine.line}) lacks the fenced "
                    f"block of README.md line {line} that starts {first!r}: copy it verbatim"
                )
        for block, line in mine.blocks:
            if block not in [b for b, _ in s.blocks]:
                first = block.splitlines()[1] if block.count("\n") else block
                problems.append(
                    f"README.ko.md line {line}: the fenced block starting {first!r} is not in README.md's "
                    f"section {s.name!r}: copy it from there or remove it"
                )
        if [b for b, _ in s.blocks] != theirs and not problems:
            problems.append(f"README.ko.md section {mine.name!r}: its fenced blocks are in another order")
    return problems


def test_readme_ko_in_step_with_readme() -> None:
    english = (ROOT / "README.md").read_text(encoding="utf-8")
    korean = (ROOT / "README.ko.md").read_text(encoding="utf-8")
    problems = differences(english, korean)
    assert not problems, "\n".join(problems)
    assert sum("\uac00" <= ch <= "\ud7a3" for ch in korean) > 3000  # it is a translation, not a copy


EN = "# t\n\n## Alpha\n\n```bash\nrnnkit train\n```\n\n## Export to ONNX\n\n```bash\nrnnkit export run\n```\n"
KO = "# t\n\n<!-- en: Alpha -->\n## 알파\n\n```bash\nrnnkit train\n```\n"


def test_a_missing_section_is_named_with_where_to_add_it() -> None:
    [problem] = differences(EN, KO)
    assert "lacks the section '## Export to ONNX' (README.md line 9)" in problem
    assert (
        "'<!-- en: Export to ONNX -->'" in problem
        and "after the section that translates '## Alpha'" in problem
    )


def test_a_missing_command_is_named() -> None:
    korean = KO + "\n<!-- en: Export to ONNX -->\n## ONNX로 내보내기\n\n```bash\nrnnkit export\n```\n"
    problems = differences(EN, korean)
    assert any(
        "lacks the fenced block of README.md line 11 that starts 'rnnkit export run'" in p for p in problems
    )
    assert any("'rnnkit export' is not in README.md's section '## Export to ONNX'" in p for p in problems)


def test_a_heading_without_its_english_marker_is_reported() -> None:
    problems = differences(EN, KO.replace("<!-- en: Alpha -->\n", ""))
    assert any("(no <!-- en: ... --> line above line 3)" in p for p in problems)


def test_generated_tables_are_not_compared() -> None:
    english = EN + "<!-- accuracy table: start -->\n```text\nsample\n```\n<!-- accuracy table: end -->\n"
    korean = KO + "\n<!-- en: Export to ONNX -->\n## ONNX\n\n```bash\nrnnkit export run\n```\n"
    assert differences(english, korean) == []
