"""Run folders written by an earlier rnnkit still predict, evaluate and inspect, with the same numbers.

``tests/fixtures/runs/chatterbot_v0`` was written by rnnkit at commit a5630f2 (before the task packages and
the one spelling of the model section): ``rnnkit train --set train.epochs=2 --set model.embedding_dim=8
--set model.channels=8 --set model.hidden_size=8``, keeping ``run.yaml`` (``preset: conv_lstm`` with its
old flat keys), ``task.json``, ``model/`` and ``results.json``; ``predictions_v0.json`` is what that
version's ``rnnkit.predict`` returned.
"""

import json
import shutil
from pathlib import Path

import pytest

import rnnkit
from rnnkit.cli.main import main
from rnnkit.tasks.runner import evaluate

OLD_RUN = Path(__file__).parent.parent / "fixtures" / "runs" / "chatterbot_v0"


@pytest.fixture
def old_run(tmp_path):
    return Path(shutil.copytree(OLD_RUN, tmp_path / "chatterbot_v0"))


def test_an_old_run_folder_predicts_what_it_predicted(old_run):
    recorded = json.loads((old_run / "predictions_v0.json").read_text(encoding="utf-8"))
    predictions = rnnkit.predict(old_run, recorded["inputs"])
    assert [p["label"] for p in predictions] == [p["label"] for p in recorded["predictions"]]
    for new, old in zip(predictions, recorded["predictions"]):
        assert new["probability"] == pytest.approx(old["probability"], abs=1e-4)


def test_an_old_run_folder_evaluates_to_its_own_test_accuracy(old_run, tmp_path):
    old = json.loads((old_run / "results.json").read_text(encoding="utf-8"))
    results = evaluate(old_run, output=tmp_path / "eval")
    assert results["test_accuracy"] == pytest.approx(old["test_accuracy"])
    assert (
        main(["inspect", str(old_run), "--text", "오늘 너무 슬퍼", "--out", str(tmp_path / "inspect")]) == 0
    )
    assert any((tmp_path / "inspect").iterdir())
