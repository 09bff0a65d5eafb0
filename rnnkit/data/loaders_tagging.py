"""Loaders for sequence tagging: CoNLL column files (CoNLL-2000 chunking, CoNLL-2003 NER) and CoNLL-U.

Both return :class:`TaggedSentence` s: ``tokens``, the chosen ``tags`` column, and every other column in
``features`` by name (e.g. the POS tags of CoNLL-2000 when tagging chunks).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Literal

from rnnkit.data.reading import BadRowPolicy, BadRows, read_lines, refuse_nothing
from rnnkit.data.records import TaggedSentence

CONLLU_COLUMNS = ("id", "form", "lemma", "upos", "xpos", "feats", "head", "deprel", "deps", "misc")


def load_conll(
    path: str | os.PathLike,
    columns: Sequence[str] = ("token", "pos", "chunk"),
    tags: str = "chunk",
    separator: str | None = None,
    encoding: str = "auto",
    on_bad_rows: BadRowPolicy = "error",
) -> list[TaggedSentence]:
    """A CoNLL column file: one token per line, columns separated by whitespace, a blank line between
    sentences; ``-DOCSTART-`` lines (CoNLL-2003) are document markers and skipped.

    Args:
        columns: the names of the columns, in order; the first is the token. The default fits CoNLL-2000
            (``word POS chunk``); CoNLL-2003 is ``("token", "pos", "chunk", "ner")``.
        tags: the column to use as tags (``"pos"`` turns CoNLL-2000 into POS tagging).
        separator: None splits on any whitespace; ``"\\t"`` for tab-separated files with spaces in tokens.

    Raises:
        ValueError: ``tags`` not among ``columns``.
        DataError: a line with another number of columns, naming ``file:line``.

    Example:
        >>> import tempfile, pathlib
        >>> p = pathlib.Path(tempfile.mkdtemp()) / "train.txt"
        >>> _ = p.write_text("He PRP B-NP\\nreckons VBZ B-VP\\n\\n. . O\\n", encoding="utf-8")
        >>> first, second = load_conll(p)
        >>> first.tokens, first.tags, first.features["pos"]
        (('He', 'reckons'), ('B-NP', 'B-VP'), ('PRP', 'VBZ'))
        >>> load_conll(p, tags="pos")[1].tags
        ('.',)
    """
    columns = tuple(columns)
    if tags not in columns[1:]:
        raise ValueError(
            f"load_conll: tags must name one of the columns after the token {columns[1:]}, got {tags!r}"
        )
    rows: list[list[str]] = []
    out = []
    bad, broken, lines = BadRows(path, on_bad_rows), False, 0
    for number, line in read_lines(path, encoding, bad=bad):
        lines += 1
        if not line.strip() or line.startswith("-DOCSTART-"):
            _flush(rows, columns, tags, out, broken)
            broken = False
            continue
        fields = line.split(separator)
        if len(fields) != len(columns):
            bad.refuse(f"{path}:{number}: expected {len(columns)} columns ({' '.join(columns)}), got "
                       f"{len(fields)}: {line[:80]!r}", number)  # fmt: skip
            broken = True
            continue
        rows.append(fields)
    _flush(rows, columns, tags, out, broken)
    bad.report()
    if not out:
        expected = f"one token per line ({' '.join(columns)}), a blank line between sentences"
        refuse_nothing(path, lines, expected, bad)
    return out


def _flush(
    rows: list[list[str]],
    columns: tuple[str, ...],
    tags: str,
    out: list[TaggedSentence],
    broken: bool = False,
) -> None:
    if broken:  # a bad line under on_bad_rows=skip: its sentence goes (its tags would not align)
        rows.clear()
    if rows:
        by_name = dict(zip(columns, zip(*rows)))
        features = {name: values for name, values in by_name.items() if name not in (columns[0], tags)}
        out.append(TaggedSentence(by_name[columns[0]], by_name[tags], features))
        rows.clear()


def load_conllu(
    path: str | os.PathLike,
    tags: Literal["upos", "xpos"] = "upos",
    encoding: str = "auto",
    on_bad_rows: BadRowPolicy = "error",
) -> list[TaggedSentence]:
    """A CoNLL-U file (Universal Dependencies): 10 TAB-separated columns per word, ``#`` comments, a blank
    line after each sentence. Tokens are the FORM column of the syntactic words; multi-word token lines
    (``1-2``) and empty nodes (``1.1``) are skipped, so tags align with words. ``features`` holds ``lemma``,
    the other POS column, ``feats``, ``head``, ``deprel``, ``deps`` and ``misc``.

    Args:
        tags: ``"upos"`` (17 universal tags) or ``"xpos"`` (treebank-specific, e.g. Korean ``NNP+JX``).

    Raises:
        DataError: a word line without 10 columns, or word ids not 1, 2, 3, ... in a sentence.

    Example:
        >>> import tempfile, pathlib
        >>> lines = ["# text = 잡스는", "1-2 잡스는 _ _ _ _ _ _ _ _", "1 잡스 잡스 PROPN NNP _ 0 root _ _",
        ...          "2 는 는 ADP JX _ 1 case _ _", ""]
        >>> p = pathlib.Path(tempfile.mkdtemp()) / "ko.conllu"
        >>> _ = p.write_text("\\n".join(line.replace(" ", "\\t") for line in lines), encoding="utf-8")
        >>> s = load_conllu(p)[0]
        >>> s.tokens, s.tags, s.features["xpos"]
        (('잡스', '는'), ('PROPN', 'ADP'), ('NNP', 'JX'))
    """
    if tags not in ("upos", "xpos"):
        raise ValueError(f"load_conllu: tags must be 'upos' or 'xpos', got {tags!r}")
    rows: list[list[str]] = []
    out: list[TaggedSentence] = []
    bad, broken, lines = BadRows(path, on_bad_rows), False, 0
    for number, line in read_lines(path, encoding, bad=bad):
        lines += 1
        if not line.strip():
            _flush_conllu(rows, tags, out, broken)
            broken = False
            continue
        if line.startswith("#") or broken:
            continue
        fields = line.split("\t")
        word_id = fields[0]
        if len(fields) != 10:
            bad.refuse(f"{path}:{number}: expected 10 tab-separated CoNLL-U columns (ID FORM LEMMA UPOS XPOS "
                       f"FEATS HEAD DEPREL DEPS MISC), got {len(fields)}", number)  # fmt: skip
            broken = True
        elif "-" in word_id or "." in word_id:  # multi-word token range or empty node
            continue
        elif word_id != str(len(rows) + 1):
            bad.refuse(f"{path}:{number}: expected word id {len(rows) + 1}, got {word_id!r}", number)
            broken = True
        else:
            rows.append(fields)
    _flush_conllu(rows, tags, out, broken)
    bad.report()
    if not out:
        refuse_nothing(path, lines, "10 tab-separated CoNLL-U columns per word, a blank line after each "
                       "sentence", bad)  # fmt: skip
    return out


def _flush_conllu(rows: list[list[str]], tags: str, out: list[TaggedSentence], broken: bool = False) -> None:
    if broken:
        rows.clear()
    if rows:
        by_name = dict(zip(CONLLU_COLUMNS, zip(*rows)))
        features = {name: values for name, values in by_name.items() if name not in ("id", "form", tags)}
        out.append(TaggedSentence(by_name["form"], by_name[tags], features))
        rows.clear()
