"""Vocab: fixed specials, frequency/size limits with deterministic ties, encode/decode, JSON files."""

from __future__ import annotations

import json
import random

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from rnnkit.data.vocab import BOS, EOS, PAD, SPECIALS, UNK, Vocab, VocabError

CORPUS = [
    ["영화", "가", "정말", "재밌", "어요"],
    ["영화", "는", "별로", "였", "어요"],
    ["정말", "영화", "좋", "아요"],
]
# counts: 영화 3, 정말 2, 어요 2, then 1 each: 가 는 별로 아요 였 재밌 좋 (sorted by code point)


def test_special_ids_are_fixed():
    assert (PAD, UNK, BOS, EOS) == (0, 1, 2, 3)
    vocab = Vocab.build([])
    assert vocab.tokens == ["<pad>", "<unk>", "<bos>", "<eos>"] == list(SPECIALS)
    assert [vocab.token_to_id(t) for t in SPECIALS] == [0, 1, 2, 3]


def test_build_orders_by_frequency_then_token():
    vocab = Vocab.build(CORPUS)
    assert vocab.tokens[4:] == ["영화", "어요", "정말", "가", "는", "별로", "아요", "였", "재밌", "좋"]
    assert len(vocab) == 14


def test_build_limits():
    assert Vocab.build(CORPUS, min_freq=2).tokens[4:] == ["영화", "어요", "정말"]
    assert Vocab.build(CORPUS, max_size=6).tokens[4:] == ["영화", "어요"]  # max_size counts the specials
    assert len(Vocab.build(CORPUS, max_size=4)) == 4
    assert Vocab.build(CORPUS, max_size=100) == Vocab.build(CORPUS)


def test_specials_in_the_corpus_are_not_duplicated():
    vocab = Vocab.build([["<pad>", "a", "<eos>", "<eos>"]])
    assert vocab.tokens == [*SPECIALS, "a"]


@settings(max_examples=50, deadline=None)
@given(
    st.lists(st.lists(st.sampled_from("abcdefg"), max_size=8), max_size=8), st.randoms(use_true_random=False)
)
def test_build_ignores_corpus_order_and_counts_like_a_hand_count(token_lists, rng):
    shuffled = [list(tokens) for tokens in token_lists]
    rng.shuffle(shuffled)
    for tokens in shuffled:
        rng.shuffle(tokens)
    assert Vocab.build(shuffled) == Vocab.build(token_lists)
    counts = {}
    for tokens in token_lists:
        for token in tokens:
            counts[token] = counts.get(token, 0) + 1
    vocab = Vocab.build(token_lists, min_freq=2)
    assert set(vocab.tokens[4:]) == {t for t, n in counts.items() if n >= 2}
    frequencies = [counts[t] for t in vocab.tokens[4:]]
    assert frequencies == sorted(frequencies, reverse=True)


def test_encode_decode():
    vocab = Vocab.build(CORPUS)
    ids = vocab.encode(["영화", "가", "최고"], add_bos=True, add_eos=True)
    assert ids == [BOS, 4, 7, UNK, EOS]
    assert vocab.decode([*ids, PAD, PAD]) == ["영화", "가", "<unk>"]
    assert vocab.decode(ids, strip_specials=False) == ["<bos>", "영화", "가", "<unk>", "<eos>"]
    assert vocab.decode(torch.tensor(ids)) == ["영화", "가", "<unk>"]
    assert "영화" in vocab and "최고" not in vocab
    assert vocab.token_to_id("최고") == UNK and vocab.id_to_token(4) == "영화"


@settings(max_examples=50, deadline=None)
@given(st.lists(st.sampled_from(["영화", "가", "정말", "어요", "좋"]), max_size=12))
def test_decode_inverts_encode_for_known_tokens(tokens):
    vocab = Vocab.build(CORPUS)
    assert vocab.decode(vocab.encode(tokens, add_bos=True, add_eos=True)) == tokens


def test_bad_arguments():
    vocab = Vocab.build(CORPUS)
    with pytest.raises(ValueError, match=r"token id must be in \[0, 14\), got 14"):
        vocab.decode([14])
    with pytest.raises(ValueError, match="1-D tensor"):
        vocab.decode(torch.zeros(2, 2, dtype=torch.long))
    with pytest.raises(TypeError, match="tokenize it first"):
        vocab.encode("영화가")
    with pytest.raises(TypeError, match=r"token_lists\[0\] must be a list of tokens"):
        Vocab.build(["영화가 정말"])
    with pytest.raises(ValueError, match="max_size must be >= 4"):
        Vocab.build(CORPUS, max_size=3)
    with pytest.raises(ValueError, match="min_freq must be an int >= 1"):
        Vocab.build(CORPUS, min_freq=0)
    with pytest.raises(VocabError, match="the first tokens must be the specials"):
        Vocab(["a", "b"])


def test_save_load_round_trip_is_utf8_json(tmp_path):
    vocab = Vocab.build(CORPUS)
    path = tmp_path / "run" / "vocab.json"
    vocab.save(path)
    text = path.read_text(encoding="utf-8")
    assert "영화" in text  # readable, not \\uXXXX escapes
    assert json.loads(text) == {"format": "rnnkit.vocab", "version": 1, "tokens": vocab.tokens}
    assert Vocab.load(path) == vocab
    Vocab.build(CORPUS[:1]).save(path)  # overwrite in place, no temp files left behind
    assert Vocab.load(path) == Vocab.build(CORPUS[:1])
    assert sorted(p.name for p in path.parent.iterdir()) == ["vocab.json"]
    assert Vocab.from_dict(vocab.to_dict()) == vocab


def _file(tmp_path, data) -> str:
    path = tmp_path / "vocab.json"
    path.write_text(data if isinstance(data, str) else json.dumps(data), encoding="utf-8")
    return path


GOOD = {"format": "rnnkit.vocab", "version": 1}


@pytest.mark.parametrize(
    "data, match",
    [
        ("{not json", "not valid JSON"),
        (["<pad>"], "expected a JSON object, got list"),
        ({"version": 1, "tokens": list(SPECIALS)}, "expected 'format': 'rnnkit.vocab', got None"),
        ({**GOOD, "version": 2, "tokens": list(SPECIALS)}, "unsupported version 2"),
        ({**GOOD}, "missing key 'tokens'"),
        ({**GOOD, "tokens": list(SPECIALS), "counts": {}}, "unknown key 'counts'"),
        ({**GOOD, "tokens": ["<pad>", "<unk>", "<bos>"]}, "first tokens must be the specials"),
        ({**GOOD, "tokens": ["<unk>", "<pad>", "<bos>", "<eos>", "a"]}, r"got \['<unk>', '<pad>'"),
        ({**GOOD, "tokens": ["a", *SPECIALS]}, "first tokens must be the specials"),
        ({**GOOD, "tokens": [*SPECIALS, "a", "b", "a"]}, "duplicate token 'a' at ids 4 and 6"),
        ({**GOOD, "tokens": [*SPECIALS, "<pad>"]}, "duplicate token '<pad>' at ids 0 and 4"),
        ({**GOOD, "tokens": [*SPECIALS, 5]}, "must be a list of strings"),
    ],
)
def test_load_malformed_file_names_file_and_problem(tmp_path, data, match):
    path = _file(tmp_path, data)
    with pytest.raises(ValueError, match=match) as info:
        Vocab.load(path)
    assert str(path) in str(info.value)
    assert isinstance(info.value, VocabError)


def test_vocab_is_usable_with_random_corpus():
    rng = random.Random(0)
    words = [f"w{i}" for i in range(50)]
    corpus = [[rng.choice(words[: rng.randint(1, 50)]) for _ in range(20)] for _ in range(30)]
    vocab = Vocab.build(corpus, max_size=20)
    ids = [vocab.encode(tokens) for tokens in corpus]
    assert max(max(row) for row in ids) == 19
    kept = set(vocab.tokens[4:])
    assert all(
        vocab.decode(row) == [t if t in kept else "<unk>" for t in tokens] for row, tokens in zip(ids, corpus)
    )
