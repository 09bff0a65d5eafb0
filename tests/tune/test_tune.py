"""rnnkit tune: tiny searches on CSV files the tests write; the test split is a folder while the search
runs, so any read of it raises."""

import json

import pytest

from rnnkit.cli.main import main
from rnnkit.errors import UserError
from rnnkit.tasks.base import load_run_config
from rnnkit.tasks.runner import predict
from rnnkit.tune.budget import parse_budget
from rnnkit.tune.study import finalize, search

pytest.importorskip("optuna")


def table(path, n, offset=0):
    rows = [(f"good great fine {i}" if i % 2 else f"bad awful poor {i}", "pos" if i % 2 else "neg")
            for i in range(offset, offset + n)]  # fmt: skip
    path.write_text("text,label\n" + "".join(f"{t},{l}\n" for t, l in rows), encoding="utf-8")


def config_file(tmp_path):
    table(tmp_path / "train.csv", 40)
    table(tmp_path / "validation.csv", 10, 100)
    cfg = tmp_path / "cfg.yaml"
    cfg.write_text(
        f"task: classification\nname: tiny\ndata: {{train: {tmp_path / 'train.csv'}, validation: "
        f"{tmp_path / 'validation.csv'}, test: {tmp_path / 'test.csv'}, embeddings: null, "
        "tfidf_baseline: false}\ntrain: {epochs: 2, device: cpu}\n",
        encoding="utf-8",
    )
    return cfg


KEEP = ("model.rnn.cell", "model.rnn.num_layers", "data.characters")


def test_search_never_reads_the_test_split_and_the_best_run_predicts(tmp_path):
    cfg = config_file(tmp_path)
    (tmp_path / "test.csv").mkdir()  # reading it raises (IsADirectoryError, or "no such file")
    config = load_run_config(cfg)
    result = search(config, 3, 60.0, tmp_path / "out", str(cfg), keep=KEEP, log=None)
    assert len(result.records) == 3 and result.best is not None
    assert result.budget.used() < 60.0 * 1.1
    (tmp_path / "test.csv").rmdir()
    table(tmp_path / "test.csv", 6, 200)
    results = finalize(result, log=None)
    assert results["sizes"] == {"train": 40, "val": 10, "test": 6}
    summary = json.loads((tmp_path / "out" / "tune.json").read_text(encoding="utf-8"))
    assert [t["number"] for t in summary["trials"]] == [0, 1, 2]
    assert summary["best"]["test"]["test_accuracy"] == results["test_accuracy"]
    assert not (tmp_path / "out" / ".trials").exists()
    assert predict(tmp_path / "out", ["good great"])[0]["label"] in ("pos", "neg")


def test_cli_respects_a_small_budget(tmp_path, capsys):
    cfg = config_file(tmp_path)
    table(tmp_path / "test.csv", 6, 200)
    out = tmp_path / "run"
    keep = [a for k in KEEP for a in ("--keep", k)]
    assert main(["tune", str(cfg), "--trials", "1000", "--budget", "12s", "-o", str(out), "-q", *keep]) == 0
    summary = json.loads((out / "tune.json").read_text(encoding="utf-8"))
    assert summary["seconds_used"] <= 12 * 1.1 and summary["stopped_by"] == "budget"
    assert "budget 12.0s: used" in capsys.readouterr().out
    assert (out / "results.json").is_file() and (out / "model").is_dir()


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--budget", "soon"], "expected a duration"),
        (["--trials", "0"], "--trials 0"),
    ],
)
def test_bad_arguments_are_user_errors(tmp_path, argv, message):
    cfg = config_file(tmp_path)
    with pytest.raises(UserError, match=message):
        main(["tune", str(cfg), *argv])


def test_a_missing_config_is_a_user_error(tmp_path):
    with pytest.raises(UserError, match="no such config"):
        main(["tune", str(tmp_path / "nope.yaml"), "--trials", "1", "--budget", "10s"])


def test_parse_budget_refuses_zero():
    with pytest.raises(UserError, match="more than zero"):
        parse_budget("0s")
