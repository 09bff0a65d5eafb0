"""CoNLL column files and CoNLL-U: sentences, columns, skipped lines, errors naming file:line."""

from __future__ import annotations

import pytest

from rnnkit.data.datasets import DataError, TaggedSentence, load_conll, load_conllu

CONLL = """Confidence NN B-NP
in IN B-PP
the DT B-NP


pound NN I-NP
. . O
"""


def _write(path, text: str):
    path.write_text(text, encoding="utf-8")
    return path


def test_conll_sentences_tags_and_other_columns(tmp_path):
    path = _write(tmp_path / "train.txt", "\ufeff" + CONLL.replace("\n", "\r\n"))
    first, second = load_conll(path)  # two blank lines are one boundary; no blank line at the end is fine
    assert first == TaggedSentence(
        ("Confidence", "in", "the"), ("B-NP", "B-PP", "B-NP"), {"pos": ("NN", "IN", "DT")}
    )
    assert second.tokens == ("pound", ".") and second.tags == ("I-NP", "O")
    pos = load_conll(path, tags="pos")
    assert pos[0].tags == ("NN", "IN", "DT") and pos[0].features == {"chunk": ("B-NP", "B-PP", "B-NP")}


def test_conll2003_docstart_and_tab_separator(tmp_path):
    text = "-DOCSTART- -X- -X- O\n\nEU NNP B-NP B-ORG\nrejects VBZ B-VP O\n\n-DOCSTART- -X- -X- O\nPeter NNP B-NP B-PER\n"
    sentences = load_conll(
        _write(tmp_path / "eng.train", text), columns=("token", "pos", "chunk", "ner"), tags="ner"
    )
    assert [s.tags for s in sentences] == [("B-ORG", "O"), ("B-PER",)]
    tabbed = _write(tmp_path / "t.tsv", "New York\tNNP\tB-LOC\nis\tVBZ\tO\n")
    sentence = load_conll(tabbed, columns=("token", "pos", "ner"), tags="ner", separator="\t")[0]
    assert sentence.tokens == ("New York", "is")


def test_conll_errors(tmp_path):
    path = _write(tmp_path / "train.txt", CONLL + "oops NN\n")
    with pytest.raises(
        DataError, match=r"train\.txt:8: expected 3 columns \(token pos chunk\), got 2: 'oops NN'"
    ):
        load_conll(path)
    with pytest.raises(
        ValueError, match=r"tags must name one of the columns after the token \('pos', 'chunk'\), got 'ner'"
    ):
        load_conll(path, tags="ner")


CONLLU = """# sent_id = train-s1
# text = 잡스는 워즈니악에게
1-2\t잡스는\t_\t_\t_\t_\t_\t_\t_\t_
1\t잡스\t잡스\tPROPN\tNNP\t_\t3\tnsubj\t_\t_
2\t는\t는\tADP\tJX\t_\t1\tcase\t_\t_
2.1\t있\t있\tVERB\t_\t_\t_\t_\t0:root\t_
3\t워즈니악에게\t워즈니악+에게\tNOUN\tNNP+JKB\t_\t0\troot\t_\tSpaceAfter=No

# sent_id = train-s2
1\t.\t.\tPUNCT\tSF\t_\t0\troot\t_\t_
"""


def test_conllu_skips_comments_multiword_tokens_and_empty_nodes(tmp_path):
    first, second = load_conllu(_write(tmp_path / "ko.conllu", CONLLU))
    assert first.tokens == ("잡스", "는", "워즈니악에게")
    assert first.tags == ("PROPN", "ADP", "NOUN")
    assert first.features["xpos"] == ("NNP", "JX", "NNP+JKB") and first.features["head"] == ("3", "1", "0")
    assert set(first.features) == {"lemma", "xpos", "feats", "head", "deprel", "deps", "misc"}
    assert second == TaggedSentence((".",), ("PUNCT",), second.features)
    xpos = load_conllu(tmp_path / "ko.conllu", tags="xpos")[0]
    assert xpos.tags == ("NNP", "JX", "NNP+JKB") and xpos.features["upos"] == ("PROPN", "ADP", "NOUN")


def test_conllu_errors(tmp_path):
    path = _write(tmp_path / "ko.conllu", CONLLU.replace("2\t는\t는\tADP", "2\t는\tADP"))
    with pytest.raises(
        DataError, match=r"ko\.conllu:5: expected 10 tab-separated CoNLL-U columns \(ID FORM .*\), got 9"
    ):
        load_conllu(path)
    path = _write(tmp_path / "ko.conllu", CONLLU.replace("3\t워즈니악에게", "4\t워즈니악에게"))
    with pytest.raises(DataError, match=r"ko\.conllu:7: expected word id 3, got '4'"):
        load_conllu(path)
    with pytest.raises(ValueError, match="tags must be 'upos' or 'xpos', got 'deprel'"):
        load_conllu(path, tags="deprel")
