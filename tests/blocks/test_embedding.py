"""Embedding against torch.nn.Embedding; load_word_vectors against the files the tests write."""

from __future__ import annotations

import gzip
import unicodedata

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from rnnkit.blocks.embedding import Embedding, WordVectorsError, load_word_vectors
from tests.oracles import assert_same_outputs_and_grads

GLOVE = "the 0.5 -1.25 2.0\n사과 0.25 0.75 -0.5\n바나나 1.0 2.0 3.0\napple -0.125 0.0 4.5\n"
VOCAB = ["<pad>", "<unk>", "사과", "바나나", "the", "없는말"]  # <unk> and 없는말 are not in the file


def write(tmp_path, text: str, name: str = "vectors.txt"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


# ----- Embedding -------------------------------------------------------------------------------------
def test_matches_torch_embedding_outputs_and_grads():
    torch.manual_seed(0)
    ours = Embedding(7, 5, padding_idx=0)
    oracle = nn.Embedding(7, 5, padding_idx=0)
    oracle.load_state_dict(ours.state_dict())
    tokens = torch.tensor([[3, 0, 6, 3], [1, 2, 0, 0]])
    assert_same_outputs_and_grads(ours, oracle, lambda m: m(tokens), lambda: [])


def test_padding_row_is_zero_and_gets_no_gradient():
    emb = Embedding(6, 4, padding_idx=2)
    assert emb.weight[2].abs().sum() == 0
    emb(torch.tensor([[2, 1, 2, 5]])).sum().backward()
    assert emb.weight.grad[2].abs().sum() == 0
    assert emb.weight.grad[1].abs().sum() > 0


@pytest.mark.parametrize("dtype", [torch.uint8, torch.int16, torch.int32, torch.int64])
def test_any_integer_ids(dtype):
    emb = Embedding(9, 3)
    tokens = torch.tensor([[1, 8, 0]])
    torch.testing.assert_close(emb(tokens.to(dtype)), emb(tokens), rtol=0, atol=0)


def test_no_padding_row():
    emb = Embedding(4, 3, padding_idx=None)
    assert emb.weight[0].abs().sum() > 0


def test_freeze_keeps_the_table_fixed_but_in_the_state_dict():
    emb = Embedding(5, 3, freeze=True)
    assert emb.frozen and not emb.weight.requires_grad
    assert "weight" in emb.state_dict()
    out = emb(torch.tensor([[1, 2]]))
    assert not out.requires_grad


def test_dropout_only_in_training():
    torch.manual_seed(0)
    emb = Embedding(5, 64, dropout=0.5)
    tokens = torch.tensor([[1, 2, 3]])
    plain = torch.nn.functional.embedding(tokens, emb.weight)
    emb.eval()
    torch.testing.assert_close(emb(tokens), plain)
    emb.train()
    out = emb(torch.tensor([[1, 2, 3]]))
    dropped = out == 0
    assert 0.2 < dropped.float().mean() < 0.8
    torch.testing.assert_close(out[~dropped], 2 * plain[~dropped])


def test_from_pretrained_copies_vectors_zeroes_padding_and_freezes():
    vectors = torch.arange(12.0).reshape(4, 3) + 1
    emb = Embedding.from_pretrained(vectors)
    assert emb.frozen
    torch.testing.assert_close(emb.weight[1:], vectors[1:])
    assert emb.weight[0].abs().sum() == 0
    assert not Embedding.from_pretrained(vectors, freeze=False).frozen
    assert vectors[0].abs().sum() > 0  # the caller's tensor is not changed


@pytest.mark.parametrize(
    "make, error, match",
    [
        (lambda: Embedding(0, 3), ValueError, "vocab_size must be >= 1, got 0"),
        (lambda: Embedding(4, 3, padding_idx=4), ValueError, "padding_idx must be < vocab_size=4, got 4"),
        (lambda: Embedding(4, 3, dropout=1.5), ValueError, "dropout must be in"),
        (lambda: Embedding.from_pretrained(torch.ones(3)), ValueError, r"expected a float tensor \(V, dim\)"),
        (lambda: Embedding(4, 3).load_vectors(torch.ones(4, 2)), ValueError, r"shape \(4, 3\), got \(4, 2\)"),
        (lambda: Embedding(4, 3)(torch.tensor([[1.0]])), TypeError, "integer tensor of ids, got dtype"),
        (lambda: Embedding(4, 3)(torch.tensor([[1, 4]])), ValueError, r"must be in \[0, 4\), got 4"),
        (lambda: Embedding(4, 3)(torch.tensor([[-1, 2]])), ValueError, "got -1"),
    ],
)
def test_errors(make, error, match):
    with pytest.raises(error, match=match):
        make()


# ----- load_word_vectors -------------------------------------------------------------------------------
def test_glove_file_with_korean_words(tmp_path):
    path = write(tmp_path, GLOVE)
    vectors, found = load_word_vectors(path, VOCAB, generator=torch.Generator().manual_seed(0))
    assert found == 3 and vectors.shape == (6, 3) and vectors.dtype == torch.float32
    assert vectors[2].tolist() == [0.25, 0.75, -0.5]
    assert vectors[3].tolist() == [1.0, 2.0, 3.0]
    assert vectors[4].tolist() == [0.5, -1.25, 2.0]
    assert vectors[0].tolist() == [0.0, 0.0, 0.0]
    assert vectors[1].abs().sum() > 0 and vectors[5].abs().sum() > 0  # small random rows
    assert vectors[[1, 5]].abs().max() < 10


def test_random_rows_follow_the_generator(tmp_path):
    path = write(tmp_path, GLOVE)
    a, _ = load_word_vectors(path, VOCAB, generator=torch.Generator().manual_seed(1))
    b, _ = load_word_vectors(path, VOCAB, generator=torch.Generator().manual_seed(1))
    c, _ = load_word_vectors(path, VOCAB, generator=torch.Generator().manual_seed(2))
    torch.testing.assert_close(a, b, rtol=0, atol=0)
    assert not torch.equal(a[1], c[1])
    torch.testing.assert_close(a[2:5], c[2:5], rtol=0, atol=0)
    zero, _ = load_word_vectors(path, VOCAB, std=0.0)
    assert zero[[1, 5]].abs().sum() == 0


def test_word2vec_header_gives_the_same_table_as_glove(tmp_path):
    glove = write(tmp_path, GLOVE, "glove.txt")
    w2v = write(tmp_path, "4 3\n" + GLOVE, "w2v.txt")
    a, found_a = load_word_vectors(glove, VOCAB, generator=torch.Generator().manual_seed(0))
    b, found_b = load_word_vectors(w2v, VOCAB, 3, generator=torch.Generator().manual_seed(0))
    assert found_a == found_b == 3
    torch.testing.assert_close(a, b, rtol=0, atol=0)


def test_mapping_vocab_equals_list_vocab(tmp_path):
    path = write(tmp_path, GLOVE)
    as_list, _ = load_word_vectors(path, VOCAB, generator=torch.Generator().manual_seed(0))
    mapping = {word: i for i, word in enumerate(VOCAB)}
    as_dict, _ = load_word_vectors(path, mapping, generator=torch.Generator().manual_seed(0))
    torch.testing.assert_close(as_list, as_dict, rtol=0, atol=0)


def test_decomposed_hangul_in_the_file_matches(tmp_path):
    nfd = unicodedata.normalize("NFD", "사과")
    assert nfd != "사과"
    path = write(tmp_path, f"{nfd} 1.5 2.5\n")
    vectors, found = load_word_vectors(path, ["<pad>", "사과"])
    assert found == 1 and vectors[1].tolist() == [1.5, 2.5]


def test_first_occurrence_wins_and_words_with_spaces(tmp_path):
    path = write(tmp_path, "a 1 2\na 3 4\n. . . 5 6\n\n")
    vectors, found = load_word_vectors(path, ["<pad>", "a", ". . ."])
    assert found == 2
    assert vectors[1].tolist() == [1.0, 2.0] and vectors[2].tolist() == [5.0, 6.0]


def test_other_whitespace_belongs_to_the_word_and_line_endings(tmp_path):
    """Only ASCII spaces separate fields: U+00A0 and U+3000 are part of a word. word2vec's writer ends lines
    with a space; Windows files end them with CR LF."""
    path = tmp_path / "vectors.txt"
    path.write_bytes("2 2 \r\n\u00a0 1 2 \r\n사과\u3000배 3 4 \r\n".encode())
    vectors, found = load_word_vectors(path, ["<pad>", "\u00a0", "사과\u3000배"])
    assert found == 2 and vectors[1:].tolist() == [[1.0, 2.0], [3.0, 4.0]]


def test_gzip_and_byte_order_mark(tmp_path):
    path = tmp_path / "vectors.txt.gz"
    with gzip.open(path, "wt", encoding="utf-8") as f:
        f.write("\ufeff" + GLOVE)
    vectors, found = load_word_vectors(path, VOCAB)
    assert found == 3 and vectors[4].tolist() == [0.5, -1.25, 2.0]


def test_padding_word_in_the_file_stays_zero(tmp_path):
    path = write(tmp_path, "<pad> 1 1\nx 2 2\n")
    vectors, found = load_word_vectors(path, ["<pad>", "x"])
    assert found == 1 and vectors[0].tolist() == [0.0, 0.0]


def test_header_count_mismatch_warns(tmp_path):
    path = write(tmp_path, "10 3\n" + GLOVE)
    with pytest.warns(UserWarning, match="announces 10 vectors, read 4"):
        load_word_vectors(path, VOCAB)


def test_pretrained_embedding_from_a_file(tmp_path):
    vectors, _ = load_word_vectors(write(tmp_path, GLOVE), VOCAB)
    emb = Embedding.from_pretrained(vectors, freeze=True)
    out = emb(torch.tensor([[2, 4, 0]]))
    assert out[0, 0].tolist() == [0.25, 0.75, -0.5] and out[0, 2].tolist() == [0.0, 0.0, 0.0]


@pytest.mark.parametrize(
    "text, dim, where, match",
    [
        ("a 1 2\nb 1 2 3\n", None, ":2:", "expected a word and 2 values, got 3 values"),
        ("a 1 2\nb 1\n", None, ":2:", "expected a word and 2 values, got 1 values"),
        ("a 1 2\n", 3, ":1:", "expected a word and 3 values, got 2 values"),
        ("2 3\na 1 2 3\nb 1 2\n", None, ":3:", "expected a word and 3 values, got 2 values"),
        ("2 3\na 1 2 3\n", 4, ":1:", "the header says 3, expected dim=4"),
        ("a 1 2\n사과 1 x\n", None, ":2:", "expected numbers, got 'x'"),
        ("a 1 2\n사과 1 nan\n", None, ":2:", "values must be finite"),
        ("\n\n", None, ":2:", "no word vectors"),
        ("a\n", None, ":1:", "expected a word followed by its values"),
    ],
)
def test_malformed_files_name_file_and_line(tmp_path, text, dim, where, match):
    path = write(tmp_path, text)
    with pytest.raises(WordVectorsError, match=match) as info:
        load_word_vectors(path, ["<pad>", "a", "사과"], dim)
    assert str(info.value).startswith(f"{path}{where}")


def test_invalid_utf8_names_the_line(tmp_path):
    path = tmp_path / "latin1.txt"
    path.write_bytes(b"a 1 2\n" + "café 1 2\n".encode("latin-1"))
    with pytest.raises(WordVectorsError, match=f"{path}:2: not valid UTF-8"):
        load_word_vectors(path, ["<pad>", "a"])


@pytest.mark.parametrize(
    "vocab, error, match",
    [
        ("abc", TypeError, "mapping or a list of words, got str"),
        ([], ValueError, "vocab is empty"),
        ({"a": -1}, TypeError, "int indices >= 0"),
        ({"a": "0"}, TypeError, "int indices >= 0"),
    ],
)
def test_bad_vocabularies(tmp_path, vocab, error, match):
    with pytest.raises(error, match=match):
        load_word_vectors(write(tmp_path, GLOVE), vocab)


def test_bad_padding_index(tmp_path):
    with pytest.raises(ValueError, match=r"padding_idx must be in \[0, 2\), got 5"):
        load_word_vectors(write(tmp_path, GLOVE), ["a", "b"], padding_idx=5)


words = st.text(alphabet="abcxyz가나다라사과é", min_size=1, max_size=6)


@settings(max_examples=40, deadline=None)
@given(
    table=st.dictionaries(
        words, st.lists(st.integers(-64, 64), min_size=3, max_size=3), min_size=1, max_size=8
    ),
    extra=st.lists(words, max_size=4),
    header=st.booleans(),
    seed=st.integers(0, 2**16),
)
def test_reads_back_what_was_written(tmp_path_factory, table, extra, header, seed):
    """Oracle: a random table written in either format comes back exactly; other rows are random."""
    rows = [f"{word} {' '.join(str(v / 8) for v in values)}" for word, values in table.items()]
    text = (f"{len(rows)} 3\n" if header else "") + "\n".join(rows) + "\n"
    path = write(tmp_path_factory.mktemp("vectors"), text)
    vocab = ["<pad>", *table, *[w for w in extra if w not in table]]
    vocab = list(dict.fromkeys(vocab))
    vectors, found = load_word_vectors(path, vocab, generator=torch.Generator().manual_seed(seed))
    assert found == len([w for w in vocab[1:] if w in table])
    for i, word in enumerate(vocab):
        if i == 0:
            assert vectors[i].abs().sum() == 0
        elif word in table:
            assert vectors[i].tolist() == [v / 8 for v in table[word]]
