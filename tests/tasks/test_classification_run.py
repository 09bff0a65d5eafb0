"""The main job end to end on real (small) data: train, results, predict, evaluate, resume, errors."""

import json

import pytest
import yaml

from rnnkit.cli.main import main
from rnnkit.config import ConfigError
from rnnkit.data.chatterbot import load_chatterbot
from rnnkit.tasks import fit, load_run_config, predict
from rnnkit.tasks.runner import evaluate
from rnnkit.training.callbacks import read_jsonl

SMALL = [
    "train.epochs=3",
    "train.early_stopping_patience=null",
    "model.rnn.hidden_size=16",
    "model.conv.channels=16",
    "model.embedding_dim=16",
]


def write_table(path, rows):
    path.write_text("text\tlabel\n" + "".join(f"{t}\t{l}\n" for t, l in rows), encoding="utf-8")


@pytest.fixture(scope="module")
def chatterbot_run(tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("runs") / "bot"
    assert main(["train", "--quiet", "-o", str(run_dir), *[f"--set={o}" for o in SMALL]]) == 0
    return run_dir


def test_default_training_writes_a_complete_run_folder(chatterbot_run, capsys):
    names = {p.name for p in chatterbot_run.iterdir()}
    assert {"run.yaml", "task.json", "model", "checkpoints", "metrics.jsonl", "results.json",
            "learning_curves.png", "confusion_matrix.png"} <= names  # fmt: skip
    results = json.loads((chatterbot_run / "results.json").read_text())
    assert results["test_accuracy"] > results["baseline"]["test_accuracy"]  # beats the majority class
    if "tfidf_logistic_regression" in results["baselines"]:  # with scikit-learn: fitted on the same split
        assert (
            results["baselines"]["tfidf_logistic_regression"]["test_accuracy"]
            > results["baseline"]["test_accuracy"]
        )
    assert len(results["samples"]) == 5 and set(results["samples"][0]) == {
        "text",
        "label",
        "probability",
        "true",
    }
    assert any(r.get("event") == "eval" for r in read_jsonl(chatterbot_run / "metrics.jsonl"))
    assert yaml.safe_load((chatterbot_run / "run.yaml").read_text())["train"]["epochs"] == 3


def test_predict_and_evaluate_a_trained_run(chatterbot_run, capsys, tmp_path):
    labels = {e.label for e in load_chatterbot()}
    results = predict(chatterbot_run, ["오늘 기분이 좋아", "what is an ai?"])
    assert [r["text"] for r in results] == ["오늘 기분이 좋아", "what is an ai?"]
    assert all(r["label"] in labels and 0 < r["probability"] <= 1 for r in results)
    texts = tmp_path / "texts.txt"
    texts.write_text("hello there\n\n안녕하세요\n", encoding="utf-8")
    assert (
        main(["predict", str(chatterbot_run), "--input", str(texts), "--output", str(tmp_path / "out.jsonl")])
        == 0
    )
    lines = (tmp_path / "out.jsonl").read_text(encoding="utf-8").splitlines()
    assert [json.loads(line)["text"] for line in lines] == ["hello there", "안녕하세요"]
    report = evaluate(chatterbot_run)
    saved = json.loads((chatterbot_run / "results.json").read_text())
    assert report["test_accuracy"] == pytest.approx(saved["test_accuracy"])
    assert main(["evaluate", str(chatterbot_run)]) == 0
    assert "test_accuracy" in capsys.readouterr().out


def folder_digest(folder):
    """sha256 of every file's path and bytes under ``folder``, and of its modification time."""
    import hashlib

    digest = hashlib.sha256()
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        digest.update(f"{path.relative_to(folder)}:{path.stat().st_mtime_ns}".encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def test_evaluate_leaves_the_run_folder_unchanged_and_writes_only_where_told(chatterbot_run, tmp_path):
    before = folder_digest(chatterbot_run)
    evaluate(chatterbot_run)
    assert main(["evaluate", str(chatterbot_run)]) == 0
    out = tmp_path / "eval"
    assert main(["evaluate", str(chatterbot_run), "--output", str(out)]) == 0
    assert folder_digest(chatterbot_run) == before
    assert {p.name for p in out.iterdir()} == {"results.json", "confusion_matrix.png"}
    written = json.loads((out / "results.json").read_text(encoding="utf-8"))
    assert (
        written["test_accuracy"] == json.loads((chatterbot_run / "results.json").read_text())["test_accuracy"]
    )
    with pytest.raises(ValueError, match="is the run folder itself"):
        evaluate(chatterbot_run, output=chatterbot_run)


def test_evaluate_on_a_new_test_file(chatterbot_run, tmp_path):
    new = tmp_path / "new.csv"
    new.write_text("text,label\n오늘 너무 슬퍼,emotion\nwhat is your favorite food?,food\n", encoding="utf-8")
    before = folder_digest(chatterbot_run)
    evaluate(chatterbot_run, data_overrides=[f"test={new}"], output=tmp_path / "eval")
    counts = json.loads((tmp_path / "eval" / "results.json").read_text(encoding="utf-8"))["confusion_matrix"]
    assert sum(map(sum, counts["counts"])) == 2  # scored on the two rows of the new file
    assert folder_digest(chatterbot_run) == before


def test_results_name_classes_by_their_labels(chatterbot_run):
    results = json.loads((chatterbot_run / "results.json").read_text(encoding="utf-8"))
    labels = sorted({e.label for e in load_chatterbot()})
    assert results["confusion_matrix"]["labels"] == labels
    counts = results["confusion_matrix"]["counts"]
    assert len(counts) == len(labels) and sum(map(sum, counts)) == results["sizes"]["test"]
    assert set(results["per_class"]["classes"]) == set(labels)


def test_a_table_dataset_with_its_own_labels(tmp_path):
    rows = [(f"good great fine {i}", "pos") for i in range(40)] + [
        (f"bad awful poor {i}", "neg") for i in range(40)
    ]
    write_table(tmp_path / "data.tsv", rows)
    config = tmp_path / "run.yaml"
    config.write_text(yaml.safe_dump({
        "task": "classification",
        "data": {"dataset": "table", "path": str(tmp_path / "data.tsv"), "tokenizer": "word"},
        "model": {"rnn": {"cell": "gru", "hidden_size": 8}, "embedding_dim": 8, "pooling": "mean"},
        "train": {"epochs": 15, "batch_size": 8, "lr": 0.02},
    }))  # fmt: skip
    result = fit(config, run_dir=tmp_path / "run", quiet=True)
    assert result.results["test_accuracy"] == 1.0
    assert [r["label"] for r in predict(tmp_path / "run", ["great", "awful"])] == ["pos", "neg"]


def spelled_rows(stems, seed):
    """Texts of made-up words whose ending tells the label ("-ly" words: pos, "-ox" words: neg)."""
    import random

    rng = random.Random(seed)
    rows = []
    for k in range(len(stems) // 3):
        label = rng.choice(["pos", "neg"])
        ending = "ly" if label == "pos" else "ox"
        rows.append((" ".join(stem + ending for stem in stems[3 * k : 3 * k + 3]), label))
    return rows


def test_character_features_read_words_never_seen_in_training(tmp_path, capsys):
    import random

    rng = random.Random(0)
    stems = sorted({"".join(rng.choice("bcdfghjkmnprstvwz") for _ in range(5)) for _ in range(3000)})
    rng.shuffle(stems)
    write_table(tmp_path / "train.tsv", spelled_rows(stems[:900], 1))
    write_table(tmp_path / "test.tsv", spelled_rows(stems[900:1200], 2))  # other stems: unknown words

    def run(name, characters):
        config = tmp_path / f"{name}.yaml"
        config.write_text(yaml.safe_dump({
            "task": "classification",
            "data": {"dataset": "table", "path": str(tmp_path / "train.tsv"), "tokenizer": "word",
                     "characters": characters, "test_fraction": 0.1},
            "model": {"rnn": {"cell": "gru", "hidden_size": 8}, "embedding_dim": 8, "pooling": "max",
                      **({"char_filters": 8, "char_embedding_dim": 8} if characters else {})},
            "train": {"epochs": 8, "batch_size": 16, "lr": 0.01, "seed": 0},
        }))  # fmt: skip
        return fit(config, run_dir=tmp_path / name, quiet=True)

    texts = [text for text, _ in spelled_rows(stems[900:1200], 2)]
    truth = [label for _, label in spelled_rows(stems[900:1200], 2)]
    plain = run("plain", characters=False)
    plain_accuracy = sum(r["label"] == t for r, t in zip(predict(plain.run_dir, texts), truth)) / len(truth)
    chars = run("chars", characters=True)
    predicted = predict(chars.run_dir, texts)
    accuracy = sum(r["label"] == t for r, t in zip(predicted, truth)) / len(truth)
    assert plain_accuracy < 0.7 and accuracy > 0.95  # unseen words: only their spelling tells
    assert evaluate(chars.run_dir)["test_accuracy"] == pytest.approx(chars.results["test_accuracy"])
    out = tmp_path / "inspected"
    assert main(["inspect", str(chars.run_dir), "--text", texts[0], "--out", str(out)]) == 0
    html = (out / "index.html").read_text(encoding="utf-8")
    assert "saliency" in html and f"predicted: {truth[0]}" in capsys.readouterr().out + html


@pytest.mark.parametrize("levers", [[], ["train.ema_decay=0.9", "model.token_dropout=0.2"]])
def test_a_killed_run_resumes_to_the_same_result(tmp_path, levers):
    rows = [(f"{'x' * (i % 5 + 1)} {i % 3}", f"c{i % 3}") for i in range(60)]
    write_table(tmp_path / "data.tsv", rows)
    base = tmp_path / "run.yaml"
    base.write_text(yaml.safe_dump({
        "task": "classification",
        "data": {"dataset": "table", "path": str(tmp_path / "data.tsv"), "tokenizer": "char"},
        "model": {"rnn": {"cell": "lstm", "hidden_size": 8}, "embedding_dim": 8, "dropout": 0.2},
        "train": {"epochs": 4, "batch_size": 8, "lr": 0.01, "device": "cpu", "restore_best": False},
    }))  # fmt: skip
    straight = fit(base, run_dir=tmp_path / "straight", quiet=True, overrides=levers)
    fit(
        base, run_dir=tmp_path / "killed", quiet=True, overrides=["train.max_steps=9", *levers]
    )  # stops mid-epoch 2, as a kill would (restore_best is off: the final evaluation it adds changes nothing)
    resumed = fit(
        None, run_dir=tmp_path / "killed", resume_run=True, quiet=True, overrides=["train.max_steps=null"]
    )
    for a, b in zip(straight.model.state_dict().values(), resumed.model.state_dict().values()):
        assert (a == b).all()
    assert resumed.results["test_accuracy"] == straight.results["test_accuracy"]


def test_config_errors_name_the_file_and_the_key(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("task: classification\ndata: {tokeniser: char}\n")
    with pytest.raises(ConfigError, match=r"bad.yaml: data: unknown key 'tokeniser' in ClassificationData"):
        fit(bad, run_dir=tmp_path / "run", quiet=True)
    bad.write_text("task: classification\ntrain: {lr: fast}\n")
    with pytest.raises(
        ConfigError, match=r"bad.yaml: RunConfig.train: TrainConfig.lr: expected float, got str 'fast'"
    ):
        load_run_config(bad)
    bad.write_text("task: clasification\n")
    with pytest.raises(ConfigError, match=r"bad.yaml: unknown task 'clasification' \(known: classification"):
        load_run_config(bad)
    bad.write_text("task: classification\nmodel: {vocab_size: 10}\n")
    with pytest.raises(ConfigError, match=r"model.vocab_size: comes from the data"):
        fit(bad, run_dir=tmp_path / "run2", quiet=True, overrides=["data.languages=[korean]"])
    with pytest.raises(ConfigError, match=r"expected KEY=VALUE"):
        load_run_config(bad, ["train.lr"])


def test_cli_errors_and_help(tmp_path, capsys):
    assert main(["predict", str(tmp_path)]) == 2
    assert "give texts as arguments" in capsys.readouterr().err
    assert main(["predict", str(tmp_path), "hello"]) == 2
    assert "not a run folder" in capsys.readouterr().err
    with pytest.raises(FileNotFoundError, match="no such config file, nor an example config"):
        main(["train", "no_such_config"])
    for command in ("train", "evaluate", "predict", "data"):
        with pytest.raises(SystemExit):
            main([command, "--help"])
        assert "examples:" in capsys.readouterr().out
    assert main(["data", "list"]) == 0
    out = capsys.readouterr().out
    assert "chatterbot" in out and "nsmc" in out
    assert main(["data", "describe", "sst2"]) == 0
    assert "sha256" in capsys.readouterr().out.lower()


def test_a_finished_run_is_never_overwritten(chatterbot_run):
    with pytest.raises(FileExistsError, match="already holds a run; resume it with"):
        fit(chatterbot_run / "run.yaml", run_dir=chatterbot_run, quiet=True)


def test_a_train_table_replaces_the_training_split_but_never_with_test_texts(tmp_path):
    from rnnkit.data.reading import DataWarning
    from rnnkit.tasks.classification import ClassificationData, load_splits

    for name, rows in (
        ("train", ["1 a fine film", "0 a dull film"]),
        ("dev", ["1 fine"]),
        ("test", ["0 dull ."]),
    ):
        (tmp_path / f"stsa.binary.{name}").write_text("\n".join(rows) + "\n", encoding="utf-8")
    (tmp_path / "phrases.tsv").write_text("label\tsentence\n1\ta fine\n0\tdull\n0\tdull .\n1\tfine film\n")
    data = ClassificationData(
        dataset="sst2", path=str(tmp_path), train_table="phrases.tsv", text_column="sentence"
    )
    with pytest.warns(DataWarning, match="1 training rows are also validation or test texts"):
        splits = load_splits(data)
    assert [(e.text, e.label) for e in splits["train"]] == [
        ("a fine", "1"),
        ("dull", "0"),
        ("fine film", "1"),
    ]
    assert [e.text for e in splits["test"]] == ["dull ."] and [e.text for e in splits["val"]] == ["fine"]
    with pytest.raises(FileNotFoundError, match="missing.tsv"):
        load_splits(ClassificationData(dataset="sst2", path=str(tmp_path), train_table="missing.tsv"))


def test_character_options_without_characters_name_the_key(tmp_path):
    write_table(tmp_path / "data.tsv", [("good", "pos"), ("bad", "neg")] * 20)
    config = tmp_path / "bad.yaml"
    config.write_text(yaml.safe_dump({
        "task": "classification", "data": {"dataset": "table", "path": str(tmp_path / "data.tsv")},
        "model": {"char_filters": 8},
    }))  # fmt: skip
    with pytest.raises(ConfigError, match=r"bad.yaml: model.char_filters: character features are off"):
        fit(config, run_dir=tmp_path / "run", quiet=True)
