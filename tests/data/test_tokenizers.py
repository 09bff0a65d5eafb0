"""Tokenizers: Unicode normalisation (accents, Hangul jamo), Korean words and morphemes, subwords, save/load."""

from __future__ import annotations

import importlib.util
import itertools
import json
import sys
import unicodedata

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rnnkit.data.tokenizers import (
    CharTokenizer,
    MorphemeTokenizer,
    SubwordTokenizer,
    SyllableTokenizer,
    WordTokenizer,
    build_tokenizer,
    is_hangul,
    takes_lowercase,
    tokenizer_from_dict,
)


def nfd(text: str) -> str:
    return unicodedata.normalize("NFD", text)


CORPUS = [
    "영화가 정말 재밌어요!",
    "영화는 별로였어요.",
    "이 영화 정말 좋아요",
    "the cat sat on the mat",
    "the dog sat on the log",
    "café crème, s'il vous plaît",
] * 8

# text drawn from Hangul syllables and jamo, Latin with combining accents, digits, punctuation, emoji, spaces
TEXT = st.text(
    alphabet=st.one_of(
        st.characters(min_codepoint=0xAC00, max_codepoint=0xD7A3),
        st.characters(min_codepoint=0x1100, max_codepoint=0x11FF),
        st.sampled_from(list("abcXYZ019 .,!?'-\u0301\u0308\u00e9\u00fc")),
        st.sampled_from(
            ["\U0001f44d", "\U0001f3fd", "\u200d", "\U0001f4bb", "\U0001f1f0", "\U0001f1f7", "\ufe0f"]
        ),
    ),
    max_size=30,
)


# ----------------------------------------------------------------------------------------------- chars


def test_char_tokenizer_composes_nfd_accents_and_hangul_jamo():
    tok = CharTokenizer()
    assert tok.tokenize(nfd("Café")) == ["C", "a", "f", "é"]  # 'e' + U+0301 -> one 'é'
    jamo = nfd("한국어")
    assert len(jamo) == 8  # ᄒ ᅡ ᆫ ᄀ ᅮ ᆨ ᄋ ᅥ
    assert tok.tokenize(jamo) == ["한", "국", "어"]
    assert tok.tokenize("a b") == ["a", " ", "b"]  # spaces are tokens: a char LM needs them
    assert CharTokenizer(lowercase=True).tokenize("ÀB") == ["à", "b"]


@settings(max_examples=60, deadline=None)
@given(TEXT)
def test_char_tokenizer_inverts_to_nfc(text):
    tok = CharTokenizer()
    assert tok.detokenize(tok.tokenize(text)) == unicodedata.normalize("NFC", text)
    assert tok.tokenize(nfd(text)) == tok.tokenize(text)


# ----------------------------------------------------------------------------------------------- words


def test_word_tokenizer_keeps_korean_eojeol_and_splits_punctuation():
    assert WordTokenizer().tokenize("영화가 정말 재밌어요!") == ["영화가", "정말", "재밌어요", "!"]
    assert WordTokenizer().tokenize("ㅋㅋㅋ 진짜?!") == ["ㅋㅋㅋ", "진짜", "?", "!"]  # compatibility jamo


def test_word_tokenizer_nfd_input_gives_the_nfc_words():
    nfd_text = nfd("영화가 정말 재밌어요! Crème brûlée")
    assert nfd_text != unicodedata.normalize("NFC", nfd_text)
    assert WordTokenizer().tokenize(nfd_text) == ["영화가", "정말", "재밌어요", "!", "Crème", "brûlée"]
    assert WordTokenizer(lowercase=True).tokenize(nfd("CRÈME")) == ["crème"]


@pytest.mark.parametrize(
    "text, expected",
    [
        ("좋아요 👍🏽 최고", ["좋아요", "👍🏽", "최고"]),  # skin-tone modifier stays on its emoji
        ("dev 👩\u200d💻!", ["dev", "👩\u200d💻", "!"]),  # zero-width-joined emoji is one token
        ("한국 🇰🇷🇯🇵", ["한국", "🇰🇷", "🇯🇵"]),  # regional-indicator pairs are flags
        ("❤️ love", ["❤️", "love"]),  # variation selector 16 stays on its symbol
        ("हिन्दी भाषा", ["हिन्दी", "भाषा"]),  # combining vowel signs stay in the word
        ("don't stop, 3.14", ["don", "'", "t", "stop", ",", "3", ".", "14"]),
    ],
)
def test_word_tokenizer_unicode_clusters(text, expected):
    assert WordTokenizer().tokenize(text) == expected


@settings(max_examples=80, deadline=None)
@given(TEXT)
def test_word_tokens_cover_every_visible_character_in_order(text):
    tokens = WordTokenizer().tokenize(text)
    normalized = unicodedata.normalize("NFC", text)
    assert "".join(tokens) == "".join(normalized.split())
    assert all(token and not any(c.isspace() for c in token) for token in tokens)


# ------------------------------------------------------------------------------------------- syllables


def test_syllable_tokenizer_splits_hangul_words_and_keeps_latin_words_whole():
    tok = SyllableTokenizer(lowercase=True)
    assert tok.tokenize("Who wrote Hamlet?") == ["who", "wrote", "hamlet", "?"]  # as WordTokenizer
    assert tok.tokenize("영화가  정말!") == ["영", "화", "가", " ", "정", "말", "!"]  # one space token
    assert tok.tokenize("나는 Python이 좋아") == [
        "나",
        "는",
        " ",
        "p",
        "y",
        "t",
        "h",
        "o",
        "n",
        "이",
        " ",
        "좋",
        "아",
    ]
    assert tok.tokenize("I love 서울") == ["i", "love", " ", "서", "울"]
    assert tok.tokenize("\u1112\u1161\u11ab") == ["한"]  # jamo compose first (NFC)
    assert tok.tokenize("") == [] and tok.tokenize("  ") == []


def test_hangul_letters_are_the_letters_unicode_names_hangul():
    letters = (chr(code) for code in range(sys.maxunicode + 1) if chr(code).isalpha())
    assert all(is_hangul(ch) == unicodedata.name(ch, "").startswith("HANGUL") for ch in letters)


def test_the_tokenizers_with_a_lowercase_option():
    assert [kind for kind in ("char", "word", "syllable", "morpheme", "bpe") if takes_lowercase(kind)] == [
        "char", "word", "syllable"]  # fmt: skip


@settings(max_examples=80, deadline=None)
@given(TEXT)
def test_syllable_tokens_are_the_word_tokens_with_hangul_words_spelt_out(text):
    tokens = SyllableTokenizer().tokenize(text)
    spelt = [t for w in WordTokenizer().tokenize(text) for t in (list(w) if any("\uac00" <= c <= "\ud7a3"
             or "\u1100" <= c <= "\u11ff" for c in w) else [w])]  # fmt: skip
    assert [t for t in tokens if t != " "] == spelt
    assert tokens[:1] != [" "] and tokens[-1:] != [" "]  # space tokens only between words
    assert all(a != " " or b != " " for a, b in itertools.pairwise(tokens))


@settings(max_examples=60, deadline=None)
@given(st.lists(st.text(st.characters(min_codepoint=0xAC00, max_codepoint=0xD7A3), min_size=1, max_size=5),
                min_size=1, max_size=6))  # fmt: skip
def test_syllable_tokens_of_korean_words_are_its_characters_and_rejoin_to_the_text(words):
    text = " ".join(words)
    tokens = SyllableTokenizer().tokenize(text)
    assert tokens == CharTokenizer().tokenize(text)  # on Korean words: what the character model reads
    assert SyllableTokenizer().detokenize(tokens) == text


# ------------------------------------------------------------------------------------------- morphemes


needs_kiwi = pytest.mark.skipif(
    importlib.util.find_spec("kiwipiepy") is None,
    reason="kiwipiepy (the extra rnnkit[korean]) is not installed",
)


@needs_kiwi
def test_morpheme_tokenizer_splits_korean_into_tagged_morphemes():
    tok = MorphemeTokenizer()
    assert tok.tokenize("영화가 정말 재밌어요!") == [
        "영화/NNG",
        "가/JKS",
        "정말/MAG",
        "재밌/VA",
        "어요/EF",
        "!/SF",
    ]
    assert MorphemeTokenizer(with_tags=False).tokenize("영화가 정말") == ["영화", "가", "정말"]
    assert MorphemeTokenizer(separator="_").tokenize("영화가")[:2] == ["영화_NNG", "가_JKS"]
    assert tok.tokenize(nfd("영화가 정말 재밌어요!")) == tok.tokenize("영화가 정말 재밌어요!")


@needs_kiwi
def test_morpheme_detokenize_rejoins_the_sentence():
    tok = MorphemeTokenizer()
    assert tok.detokenize(tok.tokenize("영화가 정말 재밌어요!")) == "영화가 정말 재밌어요!"
    with pytest.raises(NotImplementedError, match="needs tags"):
        MorphemeTokenizer(with_tags=False).detokenize(["영화"])
    with pytest.raises(ValueError, match="form/TAG"):
        tok.detokenize(["영화"])


def test_missing_optional_packages_name_the_pip_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "kiwipiepy", None)  # makes `import kiwipiepy` fail
    with pytest.raises(ImportError, match=r"rnnkit\[korean\]"):
        MorphemeTokenizer()
    monkeypatch.setitem(sys.modules, "tokenizers", None)
    with pytest.raises(ImportError, match=r"rnnkit\[text\]"):
        SubwordTokenizer.train(["a b"], vocab_size=10)


# -------------------------------------------------------------------------------------------- subwords


@pytest.fixture(scope="module", params=["bpe", "unigram"])
def subword(request):
    return SubwordTokenizer.train(CORPUS, vocab_size=80, model=request.param)


def test_subword_reserves_specials_and_respects_vocab_size(subword):
    vocab = subword.hf_tokenizer.get_vocab()
    assert [vocab[t] for t in ("<pad>", "<unk>", "<bos>", "<eos>")] == [0, 1, 2, 3]
    assert len(CharTokenizer().tokenize("".join(CORPUS))) > subword.vocab_size
    assert 4 < subword.vocab_size <= 80


@pytest.mark.parametrize("text", ["영화가 정말 재밌어요!", "the cat sat on the log", "café, s'il vous plaît"])
def test_subword_detokenize_restores_seen_text(subword, text):
    tokens = subword.tokenize(text)
    assert subword.detokenize(tokens) == text
    assert subword.tokenize(nfd(text)) == tokens  # NFD input is normalised first


def test_subword_merges_frequent_pieces():
    bpe = SubwordTokenizer.train(CORPUS, vocab_size=120, model="bpe")
    assert bpe.tokenize("영화가 정말") == ["▁영화가", "▁정말"]  # frequent words become one piece
    text = " ".join(CORPUS[:6])
    counts = [
        len(SubwordTokenizer.train(CORPUS, vocab_size=n, model="bpe").tokenize(text)) for n in (60, 90, 120)
    ]
    assert counts[0] > counts[1] > counts[2]  # a larger vocabulary gives fewer, longer pieces


def test_subword_training_is_deterministic():
    a = SubwordTokenizer.train(CORPUS, vocab_size=60, model="bpe")
    b = SubwordTokenizer.train(CORPUS, vocab_size=60, model="bpe")
    assert a.to_dict() == b.to_dict()


def test_subword_bad_arguments():
    with pytest.raises(ValueError, match="model must be"):
        SubwordTokenizer.train(CORPUS, vocab_size=50, model="wordpiece")
    with pytest.raises(ValueError, match="vocab_size must be an int > 4"):
        SubwordTokenizer.train(CORPUS, vocab_size=4)
    with pytest.raises(TypeError, match="got a single str"):
        SubwordTokenizer.train("영화가 정말 재밌어요", vocab_size=50)


# -------------------------------------------------------------------------------------- build and save


@pytest.mark.parametrize(
    "name, options",
    [
        ("char", {}),
        ("word", {"lowercase": True}),
        ("syllable", {"lowercase": True}),
        pytest.param("morpheme", {"with_tags": True}, marks=needs_kiwi),
        pytest.param("morpheme", {"with_tags": False, "separator": "|"}, marks=needs_kiwi),
        ("bpe", {"texts": CORPUS, "vocab_size": 70}),
        ("unigram", {"texts": CORPUS, "vocab_size": 70}),
    ],
)
def test_tokenizer_round_trips_through_json(name, options):
    tokenizer = build_tokenizer(name, **options)
    assert tokenizer.to_dict()["kind"] == name
    restored = tokenizer_from_dict(json.loads(json.dumps(tokenizer.to_dict())))
    assert type(restored) is type(tokenizer)
    if name not in ("bpe", "unigram"):  # HF's JSON parser may move a unigram score by 1 ulp
        assert restored.to_dict() == tokenizer.to_dict()
    for text in ["영화가 정말 재밌어요!", "The cat sat."]:
        assert restored.tokenize(text) == tokenizer.tokenize(text)


def test_build_tokenizer_errors():
    with pytest.raises(ValueError, match="unknown tokenizer 'sentencepiece'.*'char'"):
        build_tokenizer("sentencepiece")
    with pytest.raises(TypeError, match="unknown option 'lower'"):
        build_tokenizer("word", lower=True)
    with pytest.raises(TypeError, match="needs texts= and vocab_size="):
        build_tokenizer("bpe", vocab_size=100)


@pytest.mark.parametrize(
    "data, match",
    [
        ({"lowercase": True}, "'kind' key"),
        ({"kind": "regex"}, "unknown kind 'regex'"),
        ({"kind": "word", "lowercas": True}, "unknown option 'lowercas'"),
        ({"kind": "bpe"}, "exactly the keys"),
        ({"kind": "bpe", "tokenizer": {"model": "nonsense"}}, "not a valid HF tokenizer"),
    ],
)
def test_tokenizer_from_bad_dict_raises(data, match):
    with pytest.raises(ValueError, match=match):
        tokenizer_from_dict(data)


def test_non_string_text_is_a_type_error():
    with pytest.raises(TypeError, match="text must be a str, got list"):
        WordTokenizer().tokenize(["a", "b"])
