"""The chatterbot corpus as a topic-classification dataset: the offline default of ``rnnkit train``.

The PyPI package ``chatterbot-corpus`` (BSD-3, 0.35 MB, no dependencies) holds short chat utterances in
YAML files, one file per topic and language (``data/korean/food.yml``, ``data/english/food.yml``, ...).
Every utterance becomes a :class:`TextExample` labelled with its file's topic. Only topics present in
every requested language are kept (English has ``coding`` and ``tech_support``, Korean does not), and an
utterance that appears under two topics is dropped, since no model could tell them apart.
"""

from __future__ import annotations

import importlib.resources
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path

from rnnkit.data.reading import DataError
from rnnkit.data.records import TextExample


def chatterbot_root() -> Path:
    """The ``data`` folder of the installed ``chatterbot-corpus`` package."""
    try:
        return Path(str(importlib.resources.files("chatterbot_corpus") / "data"))
    except ModuleNotFoundError as error:
        raise ImportError("the chatterbot corpus is not installed: pip install chatterbot-corpus") from error


def load_chatterbot(
    languages: Sequence[str] = ("korean", "english"), root: str | Path | None = None
) -> list[TextExample]:
    """Utterances labelled by topic, for the topics all ``languages`` share, in a fixed order.

    Args:
        languages: folder names of the corpus (``korean``, ``english``, ``japanese``, ...).
        root: the corpus ``data`` folder (default: the installed package's).

    Raises:
        DataError: a language folder is missing, or a file is not the corpus' YAML layout (names the file).

    Example:
        >>> examples = load_chatterbot(["korean"])
        >>> len({e.label for e in examples}) >= 10, all(e.text for e in examples)
        (True, True)
    """
    import yaml

    root = Path(root) if root is not None else chatterbot_root()
    per_language: dict[str, dict[str, list[str]]] = {}
    for language in languages:
        folder = root / language
        if not folder.is_dir():
            known = sorted(p.name for p in root.iterdir() if p.is_dir())
            raise DataError(
                f"{folder}: no such language in the chatterbot corpus (known: {', '.join(known)})"
            )
        topics: dict[str, list[str]] = {}
        for path in sorted(folder.glob("*.yml")):
            try:
                document = yaml.safe_load(path.read_text(encoding="utf-8"))
            except yaml.YAMLError as error:
                raise DataError(f"{path}: not valid YAML: {error}") from error
            conversations = document.get("conversations") if isinstance(document, dict) else None
            if not isinstance(conversations, list):
                raise DataError(f"{path}: expected a mapping with a 'conversations' list")
            topics[path.stem] = [
                str(u).strip() for turn in conversations for u in (turn or []) if str(u).strip()
            ]
        per_language[language] = topics
    shared = sorted(set.intersection(*(set(t) for t in per_language.values())))
    labels_of: dict[str, set[str]] = defaultdict(set)
    for topics in per_language.values():
        for topic in shared:
            for text in topics[topic]:
                labels_of[text].add(topic)
    examples, seen = [], set()
    for language in languages:
        for topic in shared:
            for text in per_language[language][topic]:
                if len(labels_of[text]) == 1 and (text, topic) not in seen:
                    seen.add((text, topic))
                    examples.append(TextExample(text, topic))
    return examples
