"""benchmarks/accuracy.py --quick runs end to end (not timed, not scored), so the quality report cannot rot.

CI has no ../shared/data, so the test writes miniature stand-ins in each dataset's own file format; the
script's quick mode then takes its usual subset of them, trains every example config for an epoch, fits
the baselines and writes the table. The trained runs must work with ``rnnkit predict`` and ``evaluate``.
"""

from __future__ import annotations

import json
import math
import random
import subprocess
import sys
from pathlib import Path

import pytest

from rnnkit.cli.main import main

pytest.importorskip("sklearn", reason="the TF-IDF baseline needs scikit-learn (pip install 'rnnkit[bench]')")
pytest.importorskip("kiwipiepy", reason="the NSMC config tokenises morphemes (pip install 'rnnkit[korean]')")

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "accuracy.py"
GOOD = ["정말 재밌어요", "최고의 영화", "배우 연기가 좋아요", "감동적인 이야기"]
BAD = ["너무 지루해요", "최악의 영화", "연기가 어색해요", "시간이 아까워요"]
POSITIVE = ["a moving , funny film", "the best story of the year", "great acting and a warm heart"]
NEGATIVE = ["a dull , tired mess", "the worst plot of the year", "flat acting and a cold heart"]


def write_datasets(root: Path) -> Path:
    rng = random.Random(0)
    (root / "nsmc").mkdir(parents=True)
    for name, count in (("ratings_train.txt", 120), ("ratings_test.txt", 40)):
        rows = [f"{k}\t{rng.choice(GOOD if k % 2 else BAD)}\t{k % 2}" for k in range(count)]
        (root / "nsmc" / name).write_text("id\tdocument\tlabel\n" + "\n".join(rows) + "\n", encoding="utf-8")
    (root / "sst2").mkdir()
    for name, count in (("train", 120), ("dev", 30), ("test", 40)):
        rows = [f"{k % 2} {rng.choice(POSITIVE if k % 2 else NEGATIVE)}" for k in range(count)]
        (root / "sst2" / f"stsa.binary.{name}").write_text("\n".join(rows) + "\n", encoding="utf-8")
    phrases = [f"{k % 2}\t{rng.choice(POSITIVE if k % 2 else NEGATIVE)} {k}" for k in range(300)]
    (root / "sst2" / "glue_sst2_train_phrases.tsv").write_text(
        "label\tsentence\n" + "\n".join(phrases) + "\n"
    )
    (root / "mr").mkdir()
    for name, texts in (("pos", POSITIVE), ("neg", NEGATIVE)):
        lines = [f"{rng.choice(texts)} {k}" for k in range(100)]
        (root / "mr" / f"rt-polarity.{name}").write_text("\n".join(lines) + "\n", encoding="utf-8")
    (root / "ucr_uea_classification").mkdir()
    header = "@problemName JapaneseVowels\n@dimensions 2\n@equalLength false\n@classLabel true 1 2 3\n@data\n"
    for name, count in (("TRAIN", 90), ("TEST", 30)):
        rows = []
        for k in range(count):
            label, length = k % 3 + 1, rng.randint(7, 12)
            channels = [",".join(f"{math.sin(label * t / 3 + c) + rng.gauss(0, 0.1):.4f}" for t in range(length))
                        for c in range(2)]  # fmt: skip
            rows.append(":".join(channels) + f":{label}")
        (root / "ucr_uea_classification" / f"JapaneseVowels_{name}.ts").write_text(
            header + "\n".join(rows) + "\n"
        )
    (root / "conll2000").mkdir()
    sentence = [("He", "PRP", "B-NP"), ("reckons", "VBZ", "B-VP"), ("the", "DT", "B-NP"), ("deficit", "NN", "I-NP"),
                ("will", "MD", "B-VP"), ("narrow", "VB", "I-VP"), (".", ".", "O")]  # fmt: skip
    for name, count in (("train.txt", 80), ("test.txt", 20)):
        text = "\n\n".join("\n".join(" ".join(row) for row in sentence) for _ in range(count))
        (root / "conll2000" / name).write_text(text + "\n\n")
    (root / "airline_passengers").mkdir()
    months = [f'"{1949 + m // 12}-{m % 12 + 1:02d}",{int(100 * 1.01**m * (1 + 0.2 * math.sin(m / 12 * 6.283)))}'
              for m in range(144)]  # fmt: skip
    (root / "airline_passengers" / "airline-passengers.csv").write_text(
        '"Month","Passengers"\n' + "\n".join(months) + "\n"
    )
    (root / "tatoeba_eng_kor").mkdir()
    pairs = [
        ("Go.", "가."),
        ("Hi.", "안녕."),
        ("Run!", "뛰어!"),
        ("Thanks.", "고마워."),
        ("I know.", "알아."),
    ]
    lines = [
        f"{e}\t{k}\tCC-BY 2.0 (France) Attribution: tatoeba.org #{n}" for n in range(40) for e, k in pairs
    ]
    (root / "tatoeba_eng_kor" / "kor.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    (root / "tinyshakespeare").mkdir()
    verse = "ROMEO:\nBut soft, what light through yonder window breaks?\n\nJULIET:\nO Romeo, Romeo!\n\n"
    (root / "tinyshakespeare" / "input.txt").write_text(verse * 300, encoding="utf-8")
    return root


@pytest.fixture(scope="module")
def quick_report(tmp_path_factory):
    folder = tmp_path_factory.mktemp("accuracy")
    data = write_datasets(folder / "data")
    command = [sys.executable, str(SCRIPT), "--quick", "--data", str(data), "--runs", str(folder / "runs"),
               "--results", str(folder / "accuracy.json")]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return folder


def test_quick_report_trains_every_task_and_writes_the_table(quick_report):
    records = json.loads((quick_report / "accuracy.json").read_text(encoding="utf-8"))
    assert set(records) == {"nsmc", "sst2", "mr", "japanese_vowels", "conll2000", "airline_passengers",
                            "tatoeba_eng_kor", "digits_captions", "nsmc_generation", "tinyshakespeare"}  # fmt: skip
    for record in records.values():
        assert isinstance(record["value"], float) and math.isfinite(record["value"]), record
        assert record["baseline"]["value"] is not None, record
    assert records["nsmc"]["baseline"]["name"].startswith("TF-IDF")
    table = (quick_report / "accuracy.md").read_text(encoding="utf-8")
    assert table.count("\n| ") == 1 + 10 and "quick check" in table and "torch " in table
    assert "Samples of tatoeba_eng_kor" in table and "Samples of tinyshakespeare" in table
    assert "Samples of nsmc_generation" in table
    assert isinstance(records["tinyshakespeare"]["extra"]["val_bpc"], float)


def test_every_model_in_the_report_predicts_and_evaluates(quick_report, capsys):
    run = quick_report / "runs" / "sst2"
    assert main(["predict", str(run), "a warm and funny film"]) == 0
    assert '"label"' in capsys.readouterr().out
    assert main(["evaluate", str(run)]) == 0  # reads the run's own data: the quick subset kept beside it
    assert "test_accuracy" in capsys.readouterr().out


def test_unknown_task_is_refused():
    done = subprocess.run([sys.executable, str(SCRIPT), "--only", "imdb"], capture_output=True, text=True)
    assert done.returncode == 2 and "unknown tasks ['imdb']" in done.stderr


def test_the_report_shows_the_baseline_each_run_fitted_on_its_split(quick_report, tmp_path):
    records = json.loads((quick_report / "accuracy.json").read_text(encoding="utf-8"))
    for name in ("nsmc", "sst2", "mr"):
        results = json.loads((Path(records[name]["run_dir"]) / "results.json").read_text(encoding="utf-8"))
        fitted = results["baselines"]["tfidf_logistic_regression"]
        assert records[name]["baseline"]["value"] == fitted["test_accuracy"]

    sys.path.insert(0, str(SCRIPT.parent))
    try:
        from accuracy import text_baseline
    finally:
        sys.path.remove(str(SCRIPT.parent))
    from types import SimpleNamespace

    from rnnkit.data.records import TextExample

    rows = [TextExample(text, label) for text, label in [("good fun", "pos"), ("bad mess", "neg")] * 10]
    task = SimpleNamespace(splits={"train": rows, "val": rows[:4], "test": rows[:6]})
    first = text_baseline(task, {}, tmp_path)  # a run without the record: fitted here, cached per split
    (path,) = tmp_path.glob("*.json")
    path.write_text(json.dumps({**first, "test_accuracy": 0.123}), encoding="utf-8")
    assert text_baseline(task, {}, tmp_path)["test_accuracy"] == 0.123  # read back, not refitted
    task.splits["test"] = rows[:8]  # another split: fitted again, into a file of its own
    assert (
        text_baseline(task, {}, tmp_path)["test_accuracy"] == 1.0 and len(list(tmp_path.glob("*.json"))) == 2
    )


def test_the_default_recipe_report_runs_configs_of_task_and_data_only(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    rng = random.Random(1)
    (data / "banking77").mkdir()
    intents = {"card_arrival": "where is my new card", "top_up": "how do i top up my account"}
    rows = [f"{text} {k},{intent}" for k in range(60) for intent, text in [rng.choice(list(intents.items()))]]
    for name in ("train.csv", "test.csv"):
        (data / "banking77" / name).write_text("text,category\n" + "\n".join(rows) + "\n", encoding="utf-8")
    (data / "mr").mkdir()
    for name, texts in (("pos", POSITIVE), ("neg", NEGATIVE)):
        lines = [f"{rng.choice(texts)} {k}" for k in range(60)]
        (data / "mr" / f"rt-polarity.{name}").write_text("\n".join(lines) + "\n", encoding="utf-8")
    results = tmp_path / "recipe.json"
    command = [sys.executable, str(SCRIPT), "--recipe", "default", "--quick", "--only", "mr,banking77",
               "--data", str(data), "--runs", str(tmp_path / "runs"), "--results-recipe", str(results)]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    records = json.loads(results.read_text(encoding="utf-8"))
    assert set(records) == {"mr", "banking77"}
    for record in records.values():
        assert 0 <= record["accuracy"] <= 1 and record["tfidf"] is not None
        assert record["gap"] == round(record["accuracy"] - record["tfidf"], 4)
        assert (
            record["recipe"]["model.pooling"] == "max" and record["recipe"]["train.monitor"] == "val_accuracy"
        )
        saved = (Path(record["run_dir"]) / "run.yaml").read_text(encoding="utf-8")
        assert "recipe: default" in saved and "hidden_size" in saved  # the choices, as ordinary keys
    table = results.with_suffix(".md").read_text(encoding="utf-8")
    assert table.count("\n| ") == 1 + 7 and "not run yet" in table  # every set has its row
    done = subprocess.run([sys.executable, str(SCRIPT), "--recipe", "default", "--only", "imdb"],
                          capture_output=True, text=True)  # fmt: skip
    assert done.returncode == 2 and "unknown sets ['imdb']" in done.stderr
