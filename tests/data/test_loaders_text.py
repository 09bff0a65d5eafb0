"""Text loaders on small files the tests write: formats, encodings, errors naming file:line, empty texts."""

from __future__ import annotations

import warnings

import pytest

from rnnkit.data.datasets import (
    DataError,
    DataWarning,
    TextExample,
    TextPair,
    load_imdb,
    load_mr,
    load_nsmc,
    load_pairs,
    load_sst,
    load_text,
    load_trec,
    split_text,
)


def _write(path, text: str, encoding: str = "utf-8"):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(text.encode(encoding))
    return path


NSMC = 'id\tdocument\tlabel\n9976970\t아 더빙.. 진짜 짜증나네요 목소리\t0\n3819312\t"흠"...포스터보고 초딩영화줄\t1\n'


def test_nsmc_reads_documents_and_string_labels(tmp_path):
    path = _write(tmp_path / "ratings_train.txt", NSMC)
    assert load_nsmc(path) == [
        TextExample("아 더빙.. 진짜 짜증나네요 목소리", "0"),
        TextExample('"흠"...포스터보고 초딩영화줄', "1"),  # quotes are text, not CSV quoting
    ]


def test_nsmc_handles_bom_crlf_and_unicode_line_separators_inside_reviews(tmp_path):
    text = "\ufeff" + NSMC.replace("\n", "\r\n").replace("목소리", "목\x85소\u2028리")
    examples = load_nsmc(_write(tmp_path / "ratings_train.txt", text))
    assert examples[0].text == "아 더빙.. 진짜 짜증나네요 목\x85소\u2028리"
    assert len(examples) == 2


def test_nsmc_errors_name_file_line_expected_and_found(tmp_path):
    path = _write(tmp_path / "ratings_train.txt", NSMC + "123\tno label here\n")
    with pytest.raises(
        DataError,
        match=r"ratings_train\.txt:4: expected 3 tab-separated fields \(id, document, label\), got 2",
    ):
        load_nsmc(path)
    path = _write(tmp_path / "ratings_train.txt", NSMC + "123\tok\tpositive\n")
    with pytest.raises(DataError, match=r"ratings_train\.txt:4: expected label 0 or 1, got 'positive'"):
        load_nsmc(path)
    path = _write(tmp_path / "ratings_train.txt", NSMC.split("\n", 1)[1])
    with pytest.raises(
        DataError, match=r"ratings_train\.txt:1: expected the header 'id<TAB>document<TAB>label'"
    ):
        load_nsmc(path)
    _write(tmp_path / "bad.txt", b"id\tdocument\tlabel\n1\t\xed\x95\t0\n".decode("latin-1"), "latin-1")
    with pytest.raises(
        DataError, match=r"bad\.txt:2: not valid utf-8 \(byte 0xed at column 3\).*cp949 for Korean files"
    ):
        load_nsmc(tmp_path / "bad.txt", encoding="utf-8")


def test_empty_documents_are_skipped_with_a_counted_warning_or_raise(tmp_path):
    path = _write(tmp_path / "ratings_train.txt", NSMC + "1\t\t0\n2\t  \t1\n3\tfine\t1\n")
    with pytest.warns(DataWarning, match=r"skipped 2 example\(s\) with empty document \(lines 4, 5\)"):
        examples = load_nsmc(path)
    assert [e.text for e in examples][-1] == "fine" and len(examples) == 3
    with pytest.raises(DataError, match=r"ratings_train\.txt:4: empty document"):
        load_nsmc(path, empty="error")
    with pytest.raises(ValueError, match="empty must be 'skip' or 'error'"):
        load_nsmc(path, empty="keep")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no empty text: no warning
        load_nsmc(_write(tmp_path / "clean.txt", NSMC))


def _imdb_tree(root):
    reviews = {
        ("train", "pos", "10_9.txt"): "Great.<br /><br />Really.",
        ("train", "pos", "2_7.txt"): "Good",
        ("train", "neg", "0_3.txt"): "Bad",
        ("test", "neg", "5_1.txt"): "Awful",
        ("train", "unsup", "0_0.txt"): "Hmm",
    }
    for (split, label, name), text in reviews.items():
        _write(root / "aclImdb" / split / label / name, text)


def test_imdb_folder_layout_gives_splits_in_id_order(tmp_path):
    _imdb_tree(tmp_path)
    splits = load_imdb(tmp_path)  # the parent of aclImdb works, as does aclImdb itself
    assert splits == load_imdb(tmp_path / "aclImdb")
    assert splits["train"] == [
        TextExample("Bad", "neg"),
        TextExample("Good", "pos"),  # id 2 before id 10: numeric, not string order
        TextExample("Great.  Really.", "pos"),
    ]
    assert splits["test"] == [TextExample("Awful", "neg")]
    assert load_imdb(tmp_path, strip_br=False)["train"][2].text == "Great.<br /><br />Really."
    assert TextExample("Hmm", "unsup") in load_imdb(tmp_path, include_unsup=True)["train"]


def test_imdb_errors_and_csv_variant(tmp_path):
    _write(tmp_path / "aclImdb" / "train" / "pos" / "review.txt", "x")
    with pytest.raises(DataError, match=r"review\.txt: expected an IMDB review named <id>_<rating>\.txt"):
        load_imdb(tmp_path)
    with pytest.raises(DataError, match="expected the aclImdb layout"):
        load_imdb(tmp_path / "nothing")
    csv_path = _write(tmp_path / "IMDB Dataset.csv", 'review,sentiment\n"One, two<br />three",positive\n')
    assert load_imdb(csv_path) == [TextExample("One, two three", "positive")]


def test_mr_reads_utf8_and_latin1_originals_alike(tmp_path):
    pos, neg = (
        "the rock is destined . \n\x91chaykin\x92 is priceless\n",
        "simplistic , silly\x85and tedious . \n",
    )
    _write(tmp_path / "nltk" / "rt-polarity.pos", pos)
    _write(tmp_path / "nltk" / "rt-polarity.neg", neg.replace("\x85", " "))  # NLTK replaced NEL by a space
    _write(tmp_path / "cornell" / "rt-polaritydata" / "rt-polarity.pos", pos.replace("\n", "\r\n"), "latin-1")
    _write(tmp_path / "cornell" / "rt-polaritydata" / "rt-polarity.neg", neg.replace("\n", "\r\n"), "latin-1")
    examples = load_mr(tmp_path / "nltk")
    assert load_mr(tmp_path / "cornell") == examples  # found one folder down, DOS endings, Latin-1, NEL
    assert [e.label for e in examples] == ["pos", "pos", "neg"]
    assert (
        examples[1].text == "\x91chaykin\x92 is priceless"
        and examples[2].text == "simplistic , silly and tedious . "
    )
    with pytest.raises(DataError, match=r"rt-polarity\.pos:2: not valid utf-8 \(byte 0x91 at column 1\)"):
        load_mr(tmp_path / "cornell", encoding="utf-8")
    with pytest.raises(DataError, match=r"expected exactly one rt-polarity\.pos under it, found 2"):
        load_mr(tmp_path)


def test_sst_line_format(tmp_path):
    path = _write(tmp_path / "stsa.binary.dev", "1 one long film\n0 a mess .\n4 fine-grained label\n")
    assert load_sst(path) == [
        TextExample("one long film", "1"),
        TextExample("a mess .", "0"),
        TextExample("fine-grained label", "4"),
    ]
    bad = _write(tmp_path / "stsa.binary.test", "1 ok\npositive great\n")
    with pytest.raises(
        DataError, match=r"stsa\.binary\.test:2: expected '<integer label> <sentence>', got 'positive great'"
    ):
        load_sst(bad)
    with pytest.warns(DataWarning, match=r"skipped 1 example\(s\) with empty sentence \(lines 2\)"):
        assert len(load_sst(_write(tmp_path / "e", "1 ok\n0 \n"))) == 1


def test_trec_coarse_and_fine_labels_and_latin1(tmp_path):
    path = _write(
        tmp_path / "train_5500.label",
        "DESC:manner How did serfdom develop ?\nLOC:city Where is Caf\xe9 ?\n",
        "latin-1",
    )
    assert load_trec(path) == [
        TextExample("How did serfdom develop ?", "DESC"),
        TextExample("Where is Café ?", "LOC"),
    ]
    assert [e.label for e in load_trec(path, fine=True)] == ["DESC:manner", "LOC:city"]
    bad = _write(tmp_path / "TREC_10.label", "DESC:manner ok ?\nDESC what ?\n")
    with pytest.raises(
        DataError, match=r"TREC_10\.label:2: expected 'COARSE:fine question', got 'DESC what \?'"
    ):
        load_trec(bad)


def test_pairs_keep_attribution_and_reverse(tmp_path):
    path = _write(
        tmp_path / "kor.txt",
        "Go.\t가.\tCC-BY 2.0 (France) Attribution: tatoeba.org #2877272 (CM)\nHi.\t안녕.\n",
    )
    pairs = load_pairs(path)
    assert pairs == [
        TextPair("Go.", "가.", "CC-BY 2.0 (France) Attribution: tatoeba.org #2877272 (CM)"),
        TextPair("Hi.", "안녕."),
    ]
    assert [(p.source, p.target) for p in load_pairs(path, reverse=True)] == [
        ("가.", "Go."),
        ("안녕.", "Hi."),
    ]
    for line, got in (("only one\n", 1), ("a\tb\tc\td\n", 4)):
        with pytest.raises(
            DataError,
            match=rf"kor\.txt:2: expected 2 or 3 tab-separated fields \(source, target\[, attribution\]\), got {got}",
        ):
            load_pairs(_write(tmp_path / "kor.txt", "Go.\t가.\n" + line))
    with pytest.warns(DataWarning, match=r"skipped 1 example\(s\) with empty sentence"):
        assert load_pairs(_write(tmp_path / "e.txt", "Go.\t\nHi.\t안녕.\n")) == [TextPair("Hi.", "안녕.")]


def test_plain_text_and_its_split(tmp_path):
    path = _write(tmp_path / "input.txt", "\ufeffFirst Citizen:\r\nBefore we proceed\x85\n")
    text = load_text(path)
    assert text == "First Citizen:\nBefore we proceed\x85\n"
    train, val = split_text(text, 0.25)
    assert train + val == text and len(val) == round(len(text) * 0.25)
    _write(
        tmp_path / "bad.txt",
        "line one\nline two \udcff".encode("utf-8", "surrogateescape").decode("latin-1"),
        "latin-1",
    )
    with pytest.raises(DataError, match=r"bad\.txt:2: not valid utf-8 \(byte 0xff at column 10\)"):
        load_text(tmp_path / "bad.txt", encoding="utf-8")
    assert load_text(tmp_path / "bad.txt", encoding="auto").endswith("two ÿ")
    with pytest.raises(ValueError, match=r"val_fraction must be in \(0, 1\)"):
        split_text(text, 0.0)
