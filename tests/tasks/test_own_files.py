"""A user's own train / validation / test files, for every task: data.train, data.validation, data.test."""

import json
import logging

import pytest

from rnnkit.config import ConfigError, from_dict
from rnnkit.tasks.classification import ClassificationData
from rnnkit.tasks.classification import load_splits as classification_splits
from rnnkit.tasks.language_model import LanguageModelData, load_text_splits
from rnnkit.tasks.series_classification import SeriesClassificationData, load_series_splits
from rnnkit.tasks.tagging import TaggingData
from rnnkit.tasks.tagging import load_splits as tagging_splits
from rnnkit.tasks.translation import TranslationData
from rnnkit.tasks.translation import load_splits as translation_splits


def write(path, text):
    path.write_text(text, encoding="utf-8")
    return str(path)


def reviews(n, start=0):
    return "review,sentiment\n" + "".join(
        f"text number {i},{'pos' if i % 2 else 'neg'}\n" for i in range(start, start + n)
    )


def test_classification_reads_each_file_and_holds_out_only_what_is_missing(tmp_path, caplog):
    train = write(tmp_path / "train.csv", reviews(40))
    test = write(tmp_path / "test.csv", reviews(10, 100))
    columns = {"text_column": "review", "label_column": "sentiment"}
    with caplog.at_level(logging.INFO, logger="rnnkit"):
        splits = classification_splits(ClassificationData(train=train, test=test, **columns))
    assert [e.text for e in splits["test"]] == [f"text number {i}" for i in range(100, 110)]
    assert len(splits["train"]) == 36 and len(splits["val"]) == 4  # 10% of train, stratified
    assert {e.label for e in splits["val"]} == {"pos", "neg"}
    assert "no validation split given; held out 4 texts" in caplog.text
    assert "no test split" not in caplog.text

    val = write(tmp_path / "val.jsonl", "".join(json.dumps({"review": f"v{i}", "sentiment": "pos"}) + "\n"
                                                for i in range(3)))  # fmt: skip
    splits = classification_splits(ClassificationData(train=train, validation=val, test=test, **columns))
    assert [len(splits[k]) for k in ("train", "val", "test")] == [40, 3, 10]  # every file whole

    splits = classification_splits(ClassificationData(train=train, **columns))  # train only: both held out
    assert [len(splits[k]) for k in ("train", "val", "test")] == [32, 4, 4]


def test_own_files_errors_name_the_key(tmp_path):
    train = write(tmp_path / "train.csv", reviews(10))
    with pytest.raises(ConfigError, match=r"data.test: .*missing.csv: no such file"):
        classification_splits(ClassificationData(train=train, test=str(tmp_path / "missing.csv")))
    with pytest.raises(ConfigError, match="replaces dataset and path"):
        from_dict(ClassificationData, {"train": train, "dataset": "nsmc"}, "run.yaml: data")


def test_a_test_file_without_train_replaces_the_datasets_test_split(tmp_path, caplog):
    table = write(tmp_path / "all.csv", reviews(40))
    new_test = write(tmp_path / "new.csv", reviews(6))
    data = {"dataset": "table", "path": table, "text_column": "review", "label_column": "sentiment"}
    before = classification_splits(ClassificationData(**data))
    with caplog.at_level(logging.INFO, logger="rnnkit"):
        after = classification_splits(ClassificationData(**data, test=new_test))
    assert [e.text for e in after["test"]] == [f"text number {i}" for i in range(6)]  # the file, whole
    assert len(after["test"]) == 6 and len(before["test"]) == 4
    assert len(after["train"]) + len(after["val"]) == 40  # nothing held out for a test split it was given
    assert "data.test" in caplog.text and "replaces the dataset's test split" in caplog.text


CONLL = "He PRP B-NP\nruns VBZ B-VP\n\nShe PRP B-NP\nsleeps VBZ B-VP\n\n"
CONLLU = "# text = 나는 간다\n1\t나는\t나\tPRON\t_\t_\t2\tnsubj\t_\t_\n2\t간다\t가다\tVERB\t_\t_\t0\troot\t_\t_\n\n"


def test_tagging_reads_conll_conllu_and_tables_by_suffix(tmp_path):
    train = write(tmp_path / "train.txt", CONLL * 10)
    test = write(tmp_path / "test.txt", CONLL)
    splits = tagging_splits(TaggingData(train=train, test=test))
    assert [len(splits[k]) for k in ("train", "val", "test")] == [18, 2, 2]
    assert splits["test"][0].tags == ("B-NP", "B-VP")

    train_u, dev_u = write(tmp_path / "train.conllu", CONLLU * 5), write(tmp_path / "dev.conllu", CONLLU)
    splits = tagging_splits(TaggingData(train=train_u, validation=dev_u, test=dev_u))
    assert [len(splits[k]) for k in ("train", "val", "test")] == [5, 1, 1]
    assert splits["train"][0].tags == ("PRON", "VERB")

    table = write(tmp_path / "train.jsonl", "".join(
        json.dumps({"tokens": ["a", "b"], "tags": ["X", "Y"]}) + "\n" for _ in range(10)))  # fmt: skip
    splits = tagging_splits(TaggingData(train=table, test=table))
    assert splits["train"][0].tokens == ("a", "b") and splits["train"][0].tags == ("X", "Y")


def test_translation_reads_tables_and_pair_files(tmp_path):
    pairs = "".join(f"source {i}\ttarget {i}\n" for i in range(20))
    train = write(tmp_path / "train.txt", pairs)
    test = write(tmp_path / "test.csv", "source,target\nhello,안녕\n")
    splits = translation_splits(TranslationData(train=train, test=test))
    assert [(p.source, p.target) for p in splits["test"]] == [("hello", "안녕")]
    assert len(splits["train"]) + len(splits["val"]) == 20 and len(splits["val"]) == 2


def test_language_model_cuts_missing_parts_off_the_end_of_train(tmp_path):
    train = write(tmp_path / "train.txt", "abcdefghij" * 10)
    test = write(tmp_path / "test.txt", "the test text")
    splits = load_text_splits(LanguageModelData(train=train, test=test, val_fraction=0.1))
    assert splits["test"] == "the test text"
    assert splits["val"] == "abcdefghij" and len(splits["train"]) == 90  # the last 10% of train


def test_series_classification_reads_ts_and_tables(tmp_path):
    rows = "label,series\n" + "".join(f"{'up' if i % 2 else 'down'},\"1,{i};2,{i + 1};3,{i + 2}\"\n"
                                      for i in range(20))  # fmt: skip
    train = write(tmp_path / "train.csv", rows)
    splits = load_series_splits(SeriesClassificationData(train=train))
    assert [len(splits[k]) for k in ("train", "val", "test")] == [14, 2, 4]
    assert splits["train"][0].values.shape == (3, 2)
    bad = write(tmp_path / "bad.csv", 'label,series\nup,"1,2;3,x"\n')
    with pytest.raises(ValueError, match=r"bad.csv:2: column 'series': .*expected a number"):
        load_series_splits(SeriesClassificationData(train=bad, test=train))
