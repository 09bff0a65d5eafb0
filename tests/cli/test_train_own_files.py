"""``rnnkit train --task T --train FILE [--test FILE]``: no YAML for the common case; the config used is
written into the run, and trains again as it is."""

import json

import pytest
import yaml

from rnnkit.cli.main import main
from rnnkit.config import ConfigError

TINY = ["model.rnn.hidden_size=8", "model.embedding_dim=8", "train.batch_size=8", "train.lr=0.02"]


def reviews(path, rows):
    path.write_text(
        "review,sentiment\n" + "".join(f"{text},{label}\n" for text, label in rows), encoding="utf-8"
    )
    return str(path)


def sets(overrides):
    return [arg for override in overrides for arg in ("--set", override)]


def test_classification_from_a_train_and_a_test_csv(tmp_path, capsys):
    rows = [(f"good great fine {i}", "좋음") for i in range(30)] + [
        (f"bad awful poor {i}", "나쁨") for i in range(30)
    ]
    train = reviews(tmp_path / "train.csv", rows)
    test = reviews(tmp_path / "test.csv", [("great fine", "좋음"), ("awful poor", "나쁨")] * 3)
    run = tmp_path / "run"
    args = ["train", "--task", "classification", "--train", train, "--test", test, "--text-column", "review",
            "--label-column", "sentiment", "-o", str(run), "--quiet", *sets([*TINY, "train.epochs=12"])]  # fmt: skip
    assert main(args) == 0
    out = capsys.readouterr().out
    assert f"the config used is {run / 'run.yaml'}" in out
    results = json.loads((run / "results.json").read_text(encoding="utf-8"))
    assert results["sizes"] == {"train": 54, "val": 6, "test": 6}  # the test file whole; validation held out
    assert results["test_accuracy"] == 1.0
    assert results["confusion_matrix"]["labels"] == ["나쁨", "좋음"]
    saved = yaml.safe_load((run / "run.yaml").read_text(encoding="utf-8"))
    assert saved["data"]["train"] == train and saved["data"]["test"] == test
    assert saved["data"]["text_column"] == "review" and saved["name"] == "classification-train"
    # the saved config trains again as it is
    assert main(["train", str(run / "run.yaml"), "-o", str(tmp_path / "again"), "--quiet",
                 "--set", "train.max_steps=1"]) == 0  # fmt: skip


def test_tagging_from_conllu_files_and_print_config(tmp_path, capsys):
    sentence = "1\t나는\t나\tPRON\t_\t_\t2\tnsubj\t_\t_\n2\t간다\t가다\tVERB\t_\t_\t0\troot\t_\t_\n\n"
    train, test = tmp_path / "train.conllu", tmp_path / "test.conllu"
    train.write_text(sentence * 20, encoding="utf-8")
    test.write_text(sentence * 2, encoding="utf-8")
    base = ["train", "--task", "tagging", "--train", str(train), "--test", str(test)]
    assert main([*base, "--print-config"]) == 0
    printed = yaml.safe_load(capsys.readouterr().out)
    assert printed["task"] == "tagging" and printed["data"]["train"] == str(train)
    assert main([*base, "-o", str(tmp_path / "run"), "--quiet", *sets([*TINY, "train.epochs=15"])]) == 0
    results = json.loads((tmp_path / "run" / "results.json").read_text(encoding="utf-8"))
    assert results["test_accuracy"] == 1.0 and results["sizes"]["test"] == 2


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--train", "x.csv"], r"--train: goes with --task"),
        (["--task", "classification"], r"--task classification: needs --train FILE"),
        (["chatterbot", "--task", "classification", "--train", "x.csv"], r"give either a config"),
        (["--task", "series_classification", "--train", "{train}", "--text-column", "t"],
         r"--task series_classification: data: unknown key 'text_column' in SeriesClassificationData"),
        (["--task", "classification", "--train", "{missing}"], r"data.train: .*missing.csv: no such file"),
    ],
)  # fmt: skip
def test_bad_invocations_name_the_flag(tmp_path, args, message):
    train = reviews(tmp_path / "train.csv", [("a", "x"), ("b", "y")])
    args = [a.format(train=train, missing=tmp_path / "missing.csv") for a in args]
    with pytest.raises(ConfigError, match=message):
        main(["train", *args, "-o", str(tmp_path / "run")])
