"""Text -> tokens: characters, words, words with Hangul as syllables, Korean morphemes and trained
subwords; Unicode-safe.

Every tokenizer NFC-normalises first, so the same text typed on different systems gives the same tokens: an
``e`` followed by a combining acute accent (NFD, as macOS file names store it) becomes ``é``, and Hangul
conjoining jamo (``ᄋ ᅧ ᆼ``) compose into syllables (``영``). A tokenizer saves itself as a plain
dict (``to_dict``; JSON-able, never pickled) and :func:`tokenizer_from_dict` rebuilds it, so a run
directory can hold the exact tokenizer its model was trained with.

The optional back-ends are imported only when used: ``kiwipiepy`` for :class:`MorphemeTokenizer`
(``pip install 'rnnkit[korean]'``) and HF ``tokenizers`` for :class:`SubwordTokenizer`
(``pip install 'rnnkit[text]'``).
"""

from __future__ import annotations

import functools
import importlib
import json
import re
import unicodedata
from collections.abc import Iterable
from typing import Any, ClassVar

from rnnkit.data.vocab import SPECIALS


def nfc(text: str) -> str:
    """NFC-normalise ``text`` (compose accents and Hangul jamo); reject non-strings with a TypeError.

    Example:
        >>> nfc("e\\u0301") == "é", nfc("\\u1100\\u1161") == "가"
        (True, True)
    """
    if not isinstance(text, str):
        raise TypeError(f"text must be a str, got {type(text).__name__}")
    return unicodedata.normalize("NFC", text)


class Tokenizer:
    """The protocol: ``tokenize(text) -> list[str]``, ``detokenize(tokens) -> str``, ``to_dict()``.

    Subclasses set ``kind`` (the name :func:`build_tokenizer` and :func:`tokenizer_from_dict` use) and list
    their constructor options in ``options``; ``to_dict`` writes ``{"kind": ..., **options}``.
    """

    kind: ClassVar[str] = ""
    options: ClassVar[tuple[str, ...]] = ()

    def tokenize(self, text: str) -> list[str]:
        raise NotImplementedError

    def detokenize(self, tokens: Iterable[str]) -> str:
        raise NotImplementedError(f"{type(self).__name__} cannot turn tokens back into text")

    def __call__(self, text: str) -> list[str]:
        return self.tokenize(text)

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, **{name: getattr(self, name) for name in self.options}}

    def __repr__(self) -> str:
        args = ", ".join(f"{name}={getattr(self, name)!r}" for name in self.options)
        return f"{type(self).__name__}({args})"


class CaseFoldingTokenizer(Tokenizer):
    """A tokenizer with one option, ``lowercase``: :meth:`normalized` is the NFC text, lower-cased when
    asked (the character, word and syllable tokenizers)."""

    options = ("lowercase",)

    def __init__(self, lowercase: bool = False) -> None:
        self.lowercase = bool(lowercase)

    def normalized(self, text: str) -> str:
        text = nfc(text)
        return text.lower() if self.lowercase else text


def takes_lowercase(kind: str) -> bool:
    """Whether the tokenizer ``kind`` has the ``lowercase`` option.

    Example:
        >>> takes_lowercase("syllable"), takes_lowercase("morpheme"), takes_lowercase("bpe")
        (True, False, False)
    """
    return "lowercase" in getattr(_SIMPLE.get(kind), "options", ())


class CharTokenizer(CaseFoldingTokenizer):
    """One token per Unicode code point after NFC (a Hangul syllable is one code point), spaces included.

    Example:
        >>> tok = CharTokenizer()
        >>> tok.tokenize("한국 e\\u0301")
        ['한', '국', ' ', 'é']
        >>> tok.detokenize(tok.tokenize("재밌어요!"))
        '재밌어요!'
    """

    kind = "char"

    def tokenize(self, text: str) -> list[str]:
        return list(self.normalized(text))

    def detokenize(self, tokens: Iterable[str]) -> str:
        return "".join(tokens)


@functools.lru_cache(maxsize=1)
def _word_pattern() -> re.Pattern[str]:
    """``word | symbol-cluster``; built once (scanning the Unicode tables takes ~0.1 s).

    Python's ``\\w`` does not match combining marks (categories Mn, Mc, Me), so ``\\w+`` would cut
    Hindi ``हिन्दी`` into ``ह``, ``न``, ``द``. A word here is ``\\w`` followed by word characters or marks,
    and a symbol keeps its marks, variation selectors, skin-tone modifiers and zero-width-joined parts
    (👍🏽, 👩‍💻) together; a pair of regional indicators is one flag (🇰🇷).
    """
    marks, start = [], None
    for cp in [*range(0x20000), *range(0xE0000, 0xE0200), 0x10FFFF]:  # marks live in planes 0, 1 and 14
        is_mark = cp != 0x10FFFF and unicodedata.category(chr(cp)).startswith("M")
        if is_mark and start is None:
            start = cp
        elif not is_mark and start is not None:
            marks.append(f"\\U{start:08x}-\\U{cp - 1:08x}")
            start = None
    mark = "".join(marks) + "\\U0001f3fb-\\U0001f3ff"  # + emoji skin-tone modifiers (category Sk)
    symbol = f"[^\\w\\s][{mark}]*"
    flag = "[\\U0001f1e6-\\U0001f1ff]{2}"
    return re.compile(f"\\w[\\w{mark}]*|{flag}|{symbol}(?:\\u200d{symbol})*")


class WordTokenizer(CaseFoldingTokenizer):
    """Words and punctuation: runs of letters/digits/marks, and every other visible character on its own.

    Korean: an eojeol (space-separated unit, e.g. ``영화가`` = noun + particle) stays one token; split it
    into morphemes with :class:`MorphemeTokenizer`. Punctuation is split off (``재밌어요!`` -> ``재밌어요``,
    ``!``); so are apostrophes and decimal points (``don't`` -> ``don``, ``'``, ``t``). ``detokenize``
    joins with single spaces: the original spacing is not kept.

    Example:
        >>> WordTokenizer().tokenize("영화가 정말 재밌어요! 👍🏽")
        ['영화가', '정말', '재밌어요', '!', '👍🏽']
        >>> WordTokenizer(lowercase=True).tokenize("Cafe\\u0301, NOW.")
        ['café', ',', 'now', '.']
    """

    kind = "word"

    def tokenize(self, text: str) -> list[str]:
        return _word_pattern().findall(self.normalized(text))

    def detokenize(self, tokens: Iterable[str]) -> str:
        return " ".join(tokens)


def _require(module: str, extra: str, user: str) -> Any:
    """Import an optional dependency, or say which pip extra installs it."""
    try:
        return importlib.import_module(module)
    except ImportError as error:
        raise ImportError(
            f"{user} needs the {module} package: pip install 'rnnkit[{extra}]' (or pip install {module})"
        ) from error


# Hangul's letters: jamo, compatibility jamo, jamo extended A, syllables, jamo extended B (the letters whose
# Unicode names begin with HANGUL)
_HANGUL_RANGES = ((0x1100, 0x11FF), (0x3130, 0x318F), (0xA960, 0xA97F), (0xAC00, 0xD7A3), (0xD7B0, 0xD7FF))


def is_hangul(ch: str) -> bool:
    """``ch`` is a Hangul syllable or jamo.

    Example:
        >>> is_hangul("한"), is_hangul("\u1100"), is_hangul("a"), is_hangul("漢")
        (True, True, False, False)
    """
    code = ord(ch)
    return any(low <= code <= high for low, high in _HANGUL_RANGES)


class SyllableTokenizer(CaseFoldingTokenizer):
    """Words for every script but Hangul, syllables for Hangul: the word tokens of :class:`WordTokenizer`,
    except that a word with Hangul in it becomes its characters, and a space token ``" "`` stands where
    white space separates such a word from its neighbour.

    Korean attaches particles and endings to its words (``영화가``, ``영화는``, ``영화를``), so whole words
    are sparse; syllables are few and shared (``영``, ``화``). On Korean text this reads what
    :class:`CharTokenizer` reads (the space tokens keep the word boundaries), while Latin words stay whole,
    as word vectors need them: for Korean, English and mixed texts alike.

    Example:
        >>> tok = SyllableTokenizer(lowercase=True)
        >>> tok.tokenize("영화가 정말 Good!")
        ['영', '화', '가', ' ', '정', '말', ' ', 'good', '!']
        >>> tok.detokenize(tok.tokenize("영화가 정말 재밌어요"))
        '영화가 정말 재밌어요'
    """

    kind = "syllable"

    def tokenize(self, text: str) -> list[str]:
        text = self.normalized(text)
        tokens: list[str] = []
        end, previous_hangul = 0, False
        for match in _word_pattern().finditer(text):
            word = match.group()
            hangul = any(is_hangul(ch) for ch in word)
            if tokens and match.start() > end and (hangul or previous_hangul):
                tokens.append(" ")
            tokens.extend(word if hangul else [word])
            end, previous_hangul = match.end(), hangul
        return tokens

    def detokenize(self, tokens: Iterable[str]) -> str:
        """Syllables rejoin into their words and space tokens become spaces; other tokens are joined with
        single spaces (the original spacing between them is not kept)."""
        out = ""
        for token in tokens:
            if token == " ":
                out += " "
            elif out and out[-1] != " " and not (is_hangul(token[0]) and is_hangul(out[-1])):
                out += " " + token
            else:
                out += token
        return out


@functools.lru_cache(maxsize=1)
def _kiwi() -> Any:
    """One ``kiwipiepy.Kiwi`` per process: loading its model takes seconds (on first use)."""
    return _require("kiwipiepy", "korean", "MorphemeTokenizer").Kiwi()


class MorphemeTokenizer(Tokenizer):
    """Korean morphemes by kiwipiepy (``Kiwi().tokenize``): ``form/TAG`` tokens, or forms only.

    Tags are Sejong-style (NNG common noun, JKS subject particle, VA adjective, EF final ending, SF
    period/!/?). With tags, ``detokenize`` re-attaches morphemes with ``Kiwi.join`` (spacing is Kiwi's
    guess); without them it cannot, since joining depends on the tags.

    Args:
        with_tags: emit ``form/TAG`` (True) or the surface form only (False).
        separator: between form and tag.

    Example:
        >>> import pytest; _ = pytest.importorskip("kiwipiepy")  # the optional extra rnnkit[korean]
        >>> MorphemeTokenizer().tokenize("영화가 정말 재밌어요!")
        ['영화/NNG', '가/JKS', '정말/MAG', '재밌/VA', '어요/EF', '!/SF']
        >>> MorphemeTokenizer(with_tags=False).tokenize("영화가 정말 재밌어요!")
        ['영화', '가', '정말', '재밌', '어요', '!']
    """

    kind = "morpheme"
    options = ("with_tags", "separator")

    def __init__(self, with_tags: bool = True, separator: str = "/") -> None:
        if not isinstance(separator, str) or not separator:
            raise ValueError(f"separator must be a non-empty string, got {separator!r}")
        _require("kiwipiepy", "korean", "MorphemeTokenizer")  # fail when built, not at the first text
        self.with_tags = bool(with_tags)
        self.separator = separator

    def tokenize(self, text: str) -> list[str]:
        morphemes = _kiwi().tokenize(nfc(text))
        if self.with_tags:
            return [f"{m.form}{self.separator}{m.tag}" for m in morphemes]
        return [m.form for m in morphemes]

    def detokenize(self, tokens: Iterable[str]) -> str:
        if not self.with_tags:
            raise NotImplementedError(
                "MorphemeTokenizer(with_tags=False) cannot detokenize: Kiwi.join needs tags"
            )
        pairs = []
        for token in tokens:
            form, sep, tag = token.rpartition(self.separator)
            if not sep or not form:
                raise ValueError(f"expected a 'form{self.separator}TAG' token, got {token!r}")
            pairs.append((form, tag))
        return _kiwi().join(pairs)


def _hf_tokenizers() -> Any:
    return _require("tokenizers", "text", "SubwordTokenizer")


class SubwordTokenizer(Tokenizer):
    """BPE or Unigram subwords trained on a corpus with HF ``tokenizers``, SentencePiece-style.

    NFC, then ``Metaspace``: a word-initial piece carries ``▁`` (the space), so ``detokenize`` restores the
    spacing. The special tokens ``<pad> <unk> <bos> <eos>`` are reserved; a character never seen in training
    becomes ``<unk>`` (BPE) or its own piece that a :class:`~rnnkit.data.vocab.Vocab` maps to ``<unk>``.
    Build it with :meth:`train`; ``to_dict`` stores the HF tokenizer's own JSON (``Tokenizer.to_str``).
    (Reloading may move a Unigram piece score by one unit in the last place, a quirk of the Rust JSON
    parser; the pieces a text splits into do not change.)

    Example:
        >>> texts = ["영화가 정말 재밌어요", "영화 정말 좋아요", "the cat sat on the mat"] * 10
        >>> tok = SubwordTokenizer.train(texts, vocab_size=60, model="bpe")
        >>> tok.tokenize("영화가 재밌어요")
        ['▁영화가', '▁재밌어요']
        >>> SubwordTokenizer.train(texts, vocab_size=60, model="unigram").tokenize("영화가 재밌어요")
        ['▁영화', '가', '▁', '재', '밌', '어', '요']
        >>> tok.detokenize(tok.tokenize("the cat sat"))
        'the cat sat'
    """

    options = ("model",)

    def __init__(self, hf_tokenizer: Any, model: str) -> None:
        if model not in ("bpe", "unigram"):
            raise ValueError(f"model must be 'bpe' or 'unigram', got {model!r}")
        self.hf_tokenizer = hf_tokenizer
        self.model = model

    @property
    def kind(self) -> str:  # type: ignore[override]
        return self.model

    @classmethod
    def train(
        cls, texts: Iterable[str], vocab_size: int, model: str = "bpe", min_frequency: int = 0
    ) -> SubwordTokenizer:
        """Learn a ``model`` ("bpe" | "unigram") vocabulary of at most ``vocab_size`` pieces from ``texts``.

        ``vocab_size`` counts the four specials; Unigram may stop below it on a small corpus.
        ``min_frequency`` (BPE only) is the fewest occurrences a merge needs.
        """
        if model not in ("bpe", "unigram"):
            raise ValueError(f"model must be 'bpe' or 'unigram', got {model!r}")
        if isinstance(texts, str):
            raise TypeError("texts must be an iterable of strings (one per text), got a single str")
        if isinstance(vocab_size, bool) or not isinstance(vocab_size, int) or vocab_size <= len(SPECIALS):
            raise ValueError(f"vocab_size must be an int > {len(SPECIALS)}, got {vocab_size!r}")
        hf = _hf_tokenizers()
        specials = list(SPECIALS)
        if model == "bpe":
            tokenizer = hf.Tokenizer(hf.models.BPE(unk_token="<unk>"))
            trainer = hf.trainers.BpeTrainer(
                vocab_size=vocab_size,
                min_frequency=min_frequency,
                special_tokens=specials,
                show_progress=False,
            )
        else:
            tokenizer = hf.Tokenizer(hf.models.Unigram())
            trainer = hf.trainers.UnigramTrainer(
                vocab_size=vocab_size, special_tokens=specials, unk_token="<unk>", show_progress=False
            )
        tokenizer.normalizer = hf.normalizers.NFC()
        tokenizer.pre_tokenizer = hf.pre_tokenizers.Metaspace()
        tokenizer.decoder = hf.decoders.Metaspace()
        tokenizer.train_from_iterator((nfc(text) for text in texts), trainer=trainer)
        return cls(tokenizer, model)

    @property
    def vocab_size(self) -> int:
        return self.hf_tokenizer.get_vocab_size()

    def tokenize(self, text: str) -> list[str]:
        return self.hf_tokenizer.encode(nfc(text), add_special_tokens=False).tokens

    def detokenize(self, tokens: Iterable[str]) -> str:
        return self.hf_tokenizer.decoder.decode(list(tokens))

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.model, "tokenizer": json.loads(self.hf_tokenizer.to_str())}

    def __repr__(self) -> str:
        return f"SubwordTokenizer(model={self.model!r}, vocab_size={self.vocab_size})"


_SIMPLE = {cls.kind: cls for cls in (CharTokenizer, WordTokenizer, SyllableTokenizer, MorphemeTokenizer)}
TOKENIZER_KINDS = (*_SIMPLE, "bpe", "unigram")


def build_tokenizer(name: str, **options: Any) -> Tokenizer:
    """A tokenizer by name: "char", "word", "morpheme" take their constructor options; "bpe" and "unigram"
    train on ``texts=`` with ``vocab_size=`` (and optional ``min_frequency=``).

    Example:
        >>> build_tokenizer("word", lowercase=True)
        WordTokenizer(lowercase=True)
        >>> build_tokenizer("bpe", texts=["a b c"] * 3, vocab_size=10)
        SubwordTokenizer(model='bpe', vocab_size=10)
    """
    if name in _SIMPLE:
        cls = _SIMPLE[name]
        unknown = sorted(set(options) - set(cls.options))
        if unknown:
            raise TypeError(
                f"tokenizer {name!r} got unknown option {unknown[0]!r} (known: {list(cls.options)})"
            )
        return cls(**options)
    if name in ("bpe", "unigram"):
        if "texts" not in options or "vocab_size" not in options:
            raise TypeError(f"tokenizer {name!r} needs texts= and vocab_size= to train on")
        return SubwordTokenizer.train(model=name, **options)
    raise ValueError(f"unknown tokenizer {name!r}; expected one of {list(TOKENIZER_KINDS)}")


def tokenizer_from_dict(data: dict[str, Any]) -> Tokenizer:
    """Rebuild a tokenizer from :meth:`Tokenizer.to_dict`'s output (e.g. read back from JSON).

    Example:
        >>> tokenizer_from_dict(WordTokenizer(lowercase=True).to_dict())
        WordTokenizer(lowercase=True)
    """
    if not isinstance(data, dict) or "kind" not in data:
        raise ValueError(f"tokenizer dict must be a mapping with a 'kind' key, got {data!r:.80}")
    kind, options = data["kind"], {k: v for k, v in data.items() if k != "kind"}
    if kind in _SIMPLE:
        try:
            return build_tokenizer(kind, **options)
        except TypeError as error:
            raise ValueError(f"tokenizer dict: {error}") from error
    if kind in ("bpe", "unigram"):
        if set(options) != {"tokenizer"}:
            raise ValueError(f"{kind} tokenizer dict must have exactly the keys 'kind' and 'tokenizer'")
        hf = _hf_tokenizers()
        try:
            hf_tokenizer = hf.Tokenizer.from_str(json.dumps(options["tokenizer"]))
        except Exception as error:  # the HF parser raises its own exception types
            raise ValueError(f"{kind} tokenizer dict: not a valid HF tokenizer: {error}") from error
        return SubwordTokenizer(hf_tokenizer, kind)
    raise ValueError(f"tokenizer dict: unknown kind {kind!r}; expected one of {list(TOKENIZER_KINDS)}")
