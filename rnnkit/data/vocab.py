"""Token <-> id with fixed special tokens; saved as JSON (never pickled).

The first four ids are always the specials, in this order, so models and collate functions can rely on them:

    <pad> = 0   padding (``Embedding(padding_idx=0)``)
    <unk> = 1   any token not in the vocabulary
    <bos> = 2   beginning of sequence (decoder input, language-model prompt)
    <eos> = 3   end of sequence

File format: ``{"format": "rnnkit.vocab", "version": 1, "tokens": [token for id 0, 1, 2, ...]}``.
"""

from __future__ import annotations

import json
import os
import sys
from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rnnkit.config import atomic_write_text

PAD, UNK, BOS, EOS = 0, 1, 2, 3
SPECIALS = ("<pad>", "<unk>", "<bos>", "<eos>")
FORMAT, VERSION = "rnnkit.vocab", 1

if TYPE_CHECKING:  # torch is not imported here: an exported model's runtime tokenises without it
    from torch import Tensor


class VocabError(ValueError):
    """A vocabulary file or dict that is malformed; the message says where and what."""


class Vocab:
    """A list of tokens whose index is the id; ``SPECIALS`` take ids 0..3.

    Args:
        tokens: the tokens in id order, starting with ``SPECIALS``; no duplicates.

    Example:
        >>> vocab = Vocab.build([["영화", "가", "좋다"], ["영화", "별로"]], min_freq=1)
        >>> len(vocab), vocab.id_to_token(4)
        (8, '영화')
        >>> vocab.encode(["영화", "재밌다"], add_bos=True, add_eos=True)
        [2, 4, 1, 3]
        >>> vocab.decode([2, 4, 1, 3, 0, 0])
        ['영화', '<unk>']
    """

    def __init__(self, tokens: Sequence[str]) -> None:
        tokens = list(tokens)
        _check_tokens(tokens, "Vocab")
        self._tokens = tokens
        self._ids = {token: i for i, token in enumerate(tokens)}

    @classmethod
    def build(
        cls, token_lists: Iterable[Iterable[str]], max_size: int | None = None, min_freq: int = 1
    ) -> Vocab:
        """Count tokens and keep the most frequent; ties go to the token that sorts first (deterministic).

        Args:
            token_lists: tokenized texts, e.g. ``[tokenizer.tokenize(t) for t in texts]``.
            max_size: the largest ``len(vocab)``, the four specials included (None: no limit).
            min_freq: a token seen fewer times than this is left out (becomes ``<unk>``).
        """
        if max_size is not None and (isinstance(max_size, bool) or not isinstance(max_size, int)):
            raise TypeError(f"max_size must be an int or None, got {type(max_size).__name__}")
        if max_size is not None and max_size < len(SPECIALS):
            raise ValueError(f"max_size must be >= {len(SPECIALS)} (the specials), got {max_size}")
        if isinstance(min_freq, bool) or not isinstance(min_freq, int) or min_freq < 1:
            raise ValueError(f"min_freq must be an int >= 1, got {min_freq!r}")
        if isinstance(token_lists, str):
            raise TypeError("token_lists must be lists of tokens, got a str (tokenize the texts first)")
        counts: Counter[str] = Counter()
        for k, tokens in enumerate(token_lists):
            if isinstance(tokens, str):
                raise TypeError(f"token_lists[{k}] must be a list of tokens, got the str {tokens[:40]!r}")
            counts.update(tokens)
        for special in SPECIALS:
            counts.pop(special, None)
        ranked = sorted(
            (item for item in counts.items() if item[1] >= min_freq), key=lambda kv: (-kv[1], kv[0])
        )
        if max_size is not None:
            ranked = ranked[: max_size - len(SPECIALS)]
        return cls([*SPECIALS, *(token for token, _ in ranked)])

    def __len__(self) -> int:
        return len(self._tokens)

    def __contains__(self, token: object) -> bool:
        return token in self._ids

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Vocab) and self._tokens == other._tokens

    def __hash__(self) -> int:
        return hash(tuple(self._tokens))

    def __repr__(self) -> str:
        return f"Vocab(size={len(self)})"

    @property
    def tokens(self) -> list[str]:
        """All tokens in id order (a copy)."""
        return list(self._tokens)

    def token_to_id(self, token: str) -> int:
        """The id of ``token``, or ``UNK`` when it is not in the vocabulary."""
        return self._ids.get(token, UNK)

    def id_to_token(self, index: int) -> str:
        """The token with id ``index``; a ValueError outside ``[0, len(vocab))``."""
        if isinstance(index, bool) or not isinstance(index, int):
            index = int(index)  # numpy / 0-d tensor ints
        if not 0 <= index < len(self._tokens):
            raise ValueError(f"token id must be in [0, {len(self._tokens)}), got {index}")
        return self._tokens[index]

    def encode(self, tokens: Iterable[str], add_bos: bool = False, add_eos: bool = False) -> list[int]:
        """Ids of ``tokens`` (unknown ones -> ``UNK``), optionally framed by ``BOS`` / ``EOS``."""
        if isinstance(tokens, str):
            raise TypeError("encode takes a list of tokens, got a str (tokenize it first)")
        ids = [self._ids.get(token, UNK) for token in tokens]
        return [BOS] * add_bos + ids + [EOS] * add_eos

    def decode(self, ids: Iterable[int] | Tensor, strip_specials: bool = True) -> list[str]:
        """Tokens of ``ids`` (a list or a 1-D tensor); ``strip_specials`` drops ``<pad> <bos> <eos>``.

        ``<unk>`` is kept: it stands for a real token that was there.
        """
        torch = sys.modules.get("torch")  # ids can be a tensor only where torch is already imported
        if torch is not None and isinstance(ids, torch.Tensor):
            if ids.dim() != 1:
                raise ValueError(f"decode takes a 1-D tensor of ids, got shape {tuple(ids.shape)}")
            ids = ids.tolist()
        tokens = [self.id_to_token(i) for i in ids]
        if strip_specials:
            dropped = {SPECIALS[PAD], SPECIALS[BOS], SPECIALS[EOS]}
            tokens = [t for t in tokens if t not in dropped]
        return tokens

    def to_dict(self) -> dict[str, Any]:
        return {"format": FORMAT, "version": VERSION, "tokens": list(self._tokens)}

    @classmethod
    def from_dict(cls, data: Any, where: str = "vocab") -> Vocab:
        """Rebuild from :meth:`to_dict`; a :class:`VocabError` naming ``where`` if malformed."""
        if not isinstance(data, dict):
            raise VocabError(f"{where}: expected a JSON object, got {type(data).__name__}")
        if data.get("format") != FORMAT:
            raise VocabError(f"{where}: expected 'format': {FORMAT!r}, got {data.get('format')!r}")
        if data.get("version") != VERSION:
            raise VocabError(
                f"{where}: unsupported version {data.get('version')!r} (this rnnkit reads {VERSION})"
            )
        unknown = sorted(set(data) - {"format", "version", "tokens"})
        if unknown:
            raise VocabError(f"{where}: unknown key {unknown[0]!r} (known: format, tokens, version)")
        if "tokens" not in data:
            raise VocabError(f"{where}: missing key 'tokens'")
        _check_tokens(data["tokens"], where)
        return cls(data["tokens"])

    def save(self, path: str | os.PathLike) -> None:
        """Write JSON to ``path`` atomically (a crash leaves the old file or the new one)."""
        atomic_write_text(Path(path), json.dumps(self.to_dict(), ensure_ascii=False, indent=1) + "\n")

    @classmethod
    def load(cls, path: str | os.PathLike) -> Vocab:
        """Read a file written by :meth:`save`; a :class:`VocabError` naming the file if it is malformed."""
        path = Path(path)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError) as error:
            raise VocabError(f"{path}: not valid JSON: {error}") from error
        return cls.from_dict(data, str(path))


def character_vocab(words: Iterable[str]) -> Vocab:
    """A vocabulary of every character of ``words`` (most frequent first): the ids a CharCNN reads.

    Example:
        >>> character_vocab(["abba", "cab"]).tokens[len(SPECIALS):]
        ['a', 'b', 'c']
    """
    return Vocab.build(list(word) for word in words)


def encode_characters(vocab: Vocab, words: Iterable[str], max_length: int) -> list[list[int]]:
    """Each word's character ids: its first ``max_length`` characters, unknown ones ``<unk>``.

    Example:
        >>> encode_characters(character_vocab(["abc"]), ["cab", "abx"], max_length=2)
        [[6, 4], [4, 5]]
    """
    return [vocab.encode(list(word[:max_length])) for word in words]


def _check_tokens(tokens: Any, where: str) -> None:
    if not isinstance(tokens, list) or not all(isinstance(t, str) for t in tokens):
        raise VocabError(f"{where}: 'tokens' must be a list of strings")
    if tuple(tokens[: len(SPECIALS)]) != SPECIALS:
        raise VocabError(
            f"{where}: the first tokens must be the specials {list(SPECIALS)} (ids 0..3), "
            f"got {tokens[: len(SPECIALS)]}"
        )
    seen: dict[str, int] = {}
    for i, token in enumerate(tokens):
        if token in seen:
            raise VocabError(f"{where}: duplicate token {token!r} at ids {seen[token]} and {i}")
        seen[token] = i
