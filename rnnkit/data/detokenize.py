"""Tokens back to text, as translation outputs are shown; standard library only (no torch), so that an export
folder (:mod:`rnnkit.export.decoder_runtime`) detokenises exactly as its run."""

from __future__ import annotations

import re
from collections.abc import Sequence

from rnnkit.data.tokenizers import MorphemeTokenizer, Tokenizer, WordTokenizer


def join_words(tokens: Sequence[str]) -> str:
    """Word tokens back to text: spaces between words, none before closing or after opening punctuation,
    none around an apostrophe inside a word.

    Example:
        >>> join_words(["i", "don", "'", "t", "know", "(", "yet", ")", "."])
        "i don't know (yet)."
        >>> join_words(["정말", "재밌어요", "!"])
        '정말 재밌어요!'
    """
    text = " ".join(tokens)
    text = re.sub(r" ([.,!?;:%)\]}…。、！？])", r"\1", text)
    text = re.sub(r"([(\[{]) ", r"\1", text)
    return re.sub(r"(\w) (['’]) (\w)", r"\1\2\3", text)


def detokenize(tokenizer: Tokenizer, tokens: Sequence[str]) -> str:
    """Tokens back to text: :func:`join_words` for word tokens, else the tokenizer's own ``detokenize``
    (``<unk>`` is kept visible; a morpheme without a tag is joined as a symbol)."""
    if isinstance(tokenizer, WordTokenizer):
        return join_words(tokens)
    if isinstance(tokenizer, MorphemeTokenizer) and tokenizer.with_tags:
        tokens = [t if tokenizer.separator in t[1:] else f"{t}{tokenizer.separator}SW" for t in tokens]
    try:
        return tokenizer.detokenize(tokens)
    except NotImplementedError:
        return " ".join(tokens)


__all__ = ["detokenize", "join_words"]
