"""The series_classification task end to end: .ts files in, results, baselines, predict, evaluate, errors."""

import json
import os
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from rnnkit.cli.main import main
from rnnkit.config import ConfigError
from rnnkit.data.loaders_series import load_ts
from rnnkit.data.records import split_stratified
from rnnkit.tasks.runner import evaluate, fit, load_run, predict
from rnnkit.tasks.series_classification import (
    SeriesClassificationData,
    format_series,
    nearest_neighbour,
    parse_series,
    resample_series,
    sort_labels,
)

SHARED = Path(
    os.environ.get("RNNKIT_SHARED_DATA") or Path(__file__).resolve().parents[2].parent / "shared" / "data"
)
EXAMPLE = Path(__file__).resolve().parents[2] / "rnnkit" / "configs" / "japanese_vowels.yaml"
TINY = {"rnn": {"cell": "gru", "hidden_size": 8}, "pooling": "mean"}


def toy_series(rng, label, missing=False):
    """'rise': 5-8 steps going up in dimension 1; 'fall': 11-15 steps going down. Dimension 2 is noise."""
    length = int(rng.integers(5, 9) if label == "rise" else rng.integers(11, 16))
    ramp = np.linspace(-1.0, 1.0, length) * (1 if label == "rise" else -1)
    values = np.stack([3.0 + 2.0 * ramp, rng.normal(10.0, 4.0, length)], axis=1)
    values += rng.normal(0, 0.1, values.shape)
    cells = [[f"{v:.4f}" for v in column] for column in values.T]
    if missing:
        cells[1][2] = "?"
    return ":".join(",".join(c) for c in cells) + f":{label}"


def write_ts(path, rows, dims=2, labels="rise fall"):
    header = f"@problemName Toy\n@dimensions {dims}\n@equalLength false\n@classLabel true {labels}\n@data\n"
    path.write_text(header + "\n".join(rows) + "\n", encoding="utf-8")


def write_pair(folder, seed=0, n_train=20, n_test=10):
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    for name, n in (("TRAIN", n_train), ("TEST", n_test)):
        rows = [toy_series(rng, label, missing=k == 3) for k in range(n) for label in ("rise", "fall")]
        write_ts(folder / f"Toy_{name}.ts", rows)
    return folder / "Toy_TRAIN.ts"


def run_config(folder, path, **changes):
    config = {
        "task": "series_classification",
        "data": {"dataset": "ts", "path": str(path)},
        "model": TINY,
        "train": {"epochs": 12, "batch_size": 8, "lr": 0.02, "device": "cpu", "monitor": "val_loss"},
    }
    for section, values in changes.items():
        config[section] = {**config[section], **values}
    file = folder / "run.yaml"
    file.write_text(yaml.safe_dump(config), encoding="utf-8")
    return file


@pytest.fixture(scope="module")
def toy_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("series")
    train_file = write_pair(root / "data")
    result = fit(
        run_config(root, root / "data"), run_dir=root / "run", quiet=True
    )  # a folder holding the pair
    return result, train_file


# ----- the run ----------------------------------------------------------------------------------------
def test_a_toy_run_learns_and_reports_everything(toy_run):
    result, _ = toy_run
    run_dir = result.run_dir
    names = {p.name for p in run_dir.iterdir()}
    assert {"run.yaml", "task.json", "model", "results.json", "metrics.jsonl", "confusion_matrix.png",
            "learning_curves.png"} <= names  # fmt: skip
    results = json.loads((run_dir / "results.json").read_text())
    assert results["test_accuracy"] == 1.0 and results["test_macro_f1"] == 1.0
    assert results["baseline"] == {
        "name": "majority class (rise)",
        "test_accuracy": 0.5,
        "test_macro_f1": pytest.approx(1 / 3),
    }  # fmt: skip  (F1 0 and 2/3)
    assert results["sizes"] == {"train": 36, "val": 4, "test": 20}
    assert results["confusion_matrix"] == {
        "labels": ["fall", "rise"],
        "counts": [[10, 0], [0, 10]],
    }  # labels in string order: fall, rise
    assert len(results["samples"]) == 5
    for sample in results["samples"]:
        assert set(sample) == {"index", "input", "length", "label", "probability", "true"}
        assert sample["label"] == sample["true"] and 0.5 < sample["probability"] <= 1


def brute_force_1nn(train, test, length):
    """The 1-NN baseline written out: np.interp per series and dimension, a loop over pairs."""

    def resample(x):
        grid = np.linspace(0, len(x) - 1, length)
        return np.stack([np.interp(grid, np.arange(len(x)), x[:, n]) for n in range(x.shape[1])], 1).ravel()

    reference = [resample(x) for x, _ in train]
    guesses = []
    for x, _ in test:
        distances = [float(np.sum((resample(x) - r) ** 2)) for r in reference]
        guesses.append(train[int(np.argmin(distances))][1])
    return sum(g == y for g, (_, y) in zip(guesses, test)) / len(test)


def test_statistics_come_from_the_train_split_and_the_1nn_baseline_matches_a_brute_force(toy_run):
    result, train_file = toy_run
    state = json.loads((result.run_dir / "task.json").read_text())
    everything = load_ts(train_file)
    train, val = split_stratified(everything, 0.1, 0)  # the task's split: val_fraction 0.1, split_seed 0
    values = np.concatenate([e.values for e in train]).astype(np.float64)
    assert state["labels"] == ["fall", "rise"] and state["num_features"] == 2
    np.testing.assert_allclose(state["mean"], np.nanmean(values, 0), rtol=1e-6)
    np.testing.assert_allclose(state["std"], np.nanstd(values, 0), rtol=1e-6)
    mean, std = np.array(state["mean"]), np.array(state["std"])

    def scaled(e):
        return (np.where(np.isnan(e.values), mean, e.values) - mean) / std, e.label

    test = [scaled(e) for e in load_ts(train_file.with_name("Toy_TEST.ts"))]
    reference = [scaled(e) for e in train + val]  # the baselines use all of TRAIN
    length = max(len(e) for e in everything)
    expected = brute_force_1nn(reference, test, length)
    baseline = result.results["baseline_1nn"]
    assert baseline["test_accuracy"] == pytest.approx(expected)
    assert baseline["name"] == f"1-NN, Euclidean, series resampled to {length} steps"


def test_predict_standardises_raw_strings_and_padding_changes_nothing(toy_run):
    result, _ = toy_run
    task, model = load_run(result.run_dir)
    rise = "1,9;3,12;5,7"  # 3 steps of 2 dimensions, going up
    fall = ";".join(f"{5 - 0.3 * t},{10 + (-1) ** t}" for t in range(14))
    alone = predict(result.run_dir, [rise])[0]
    both = predict(result.run_dir, [fall, rise, "1, 9; 3, 12; 5, 7;"])  # spaces and a trailing ';'
    assert [r["label"] for r in both] == ["fall", "rise", "rise"]
    assert both[1] == alone and both[2]["probability"] == alone["probability"]
    assert alone["input"] == rise and alone["length"] == 3
    # the oracle: the model on the series standardised by hand with the saved statistics
    raw = torch.tensor([[1.0, 9.0], [3.0, 12.0], [5.0, 7.0]])
    scaled = (raw - torch.tensor(task.mean)) / torch.tensor(task.std)
    expected = model.predict_proba(scaled[None], torch.tensor([3]))[0]
    assert alone["probability"] == round(float(expected.max()), 4)
    with pytest.raises(ValueError, match=r"input 2: step 1 has 3 values, expected 2 \(one per dimension\)"):
        predict(result.run_dir, [rise, "1,2,3"])
    with pytest.raises(ValueError, match=r"input 1: step 2, dimension 1: expected a number or '\?'"):
        predict(result.run_dir, ["1,2;x,3"])


def test_evaluate_and_the_cli_on_a_trained_run(toy_run, tmp_path, capsys):
    result, _ = toy_run
    assert evaluate(result.run_dir)["test_accuracy"] == result.results["test_accuracy"]
    series = tmp_path / "series.txt"
    series.write_text(
        "0,10;2,10;4,10;6,10\n\n6,10;5,10;4,10;3,10;2,10;1,10;0,10;-1,10;-2,10;-3,10;-4,10;-5,10\n"
    )
    out = tmp_path / "out.jsonl"
    assert main(["predict", str(result.run_dir), "--input", str(series), "--output", str(out)]) == 0
    assert [json.loads(line)["label"] for line in out.read_text().splitlines()] == ["rise", "fall"]


@pytest.mark.parametrize("seed", [1, 2])
def test_the_toy_task_is_learnt_with_other_seeds(tmp_path, seed):
    train_file = write_pair(tmp_path / "data", seed=seed)
    config = run_config(tmp_path, train_file, train={"seed": seed}, data={"split_seed": seed})
    result = fit(config, run_dir=tmp_path / "run", quiet=True)
    assert result.results["test_accuracy"] >= 0.95 > result.results["baseline"]["test_accuracy"]


# ----- the pieces -------------------------------------------------------------------------------------
@settings(max_examples=40, deadline=None)
@given(st.integers(1, 12), st.integers(1, 4), st.integers(0, 2**31 - 1))
def test_format_and_parse_round_trip(steps, dims, seed):
    rng = np.random.default_rng(seed)
    values = (rng.normal(0, 10.0 ** rng.integers(-3, 6), (steps, dims))).astype(np.float32)
    values[rng.random(values.shape) < 0.1] = np.nan
    np.testing.assert_array_equal(parse_series(format_series(values), dims), values)


def test_parse_series_formats_and_errors():
    assert parse_series("1,2,3", 1).tolist() == [[1.0], [2.0], [3.0]]
    assert parse_series("1;2;3", 1).tolist() == [[1.0], [2.0], [3.0]]
    assert parse_series(" 1e3 , -2 ", 2).tolist() == [[1000.0, -2.0]]  # one step of two dimensions
    assert np.isnan(parse_series("1,nan,?", 1)[1:]).all()
    for text, message in [
        ("", "empty series"),
        ("1,2;3", r"step 2 has 1 values, expected 2"),
        ("1;;2", r"step 2, dimension 1: expected a number or '\?', got ''"),
        ("1,inf", r"step 2, dimension 1: expected a finite number, got 'inf'"),
    ]:
        with pytest.raises(ValueError, match=message):
            parse_series(text, 2 if "," in text and ";" in text else 1)
    with pytest.raises(TypeError, match="expected a series as a string"):
        parse_series([1.0, 2.0], 1)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.integers(1, 9), min_size=1, max_size=5), st.integers(1, 12), st.integers(0, 2**31 - 1))
def test_resample_matches_np_interp(lengths, length, seed):
    rng = np.random.default_rng(seed)
    series = [rng.normal(size=(t, 2)) for t in lengths]
    out = resample_series(series, length)
    assert out.shape == (len(series), length, 2)
    for x, y in zip(series, out):
        grid = np.linspace(0, len(x) - 1, length) if length > 1 else np.zeros(1)
        for n in range(2):
            np.testing.assert_allclose(y[:, n], np.interp(grid, np.arange(len(x)), x[:, n]), atol=1e-12)


@settings(max_examples=40, deadline=None)
@given(st.integers(1, 8), st.integers(0, 6), st.integers(1, 4), st.integers(0, 2**31 - 1))
def test_nearest_neighbour_matches_a_loop_and_takes_the_first_on_ties(k, m, d, seed):
    rng = np.random.default_rng(seed)
    train, test = rng.integers(-2, 3, (k, d)).astype(float), rng.integers(-2, 3, (m, d)).astype(float)
    expected = []
    for x in test:
        distances = [float(((x - r) ** 2).sum()) for r in train]
        expected.append(distances.index(min(distances)))  # the first of equal distances
    assert nearest_neighbour(train, test, chunk=2).tolist() == expected


def test_labels_sort_numerically_when_they_are_numbers():
    assert sort_labels(["10", "9", "1"]) == ["1", "9", "10"]
    assert sort_labels(["b", "10", "a"]) == ["10", "a", "b"]


# ----- errors -----------------------------------------------------------------------------------------
def test_config_errors_name_the_file_and_the_key(tmp_path):
    train_file = write_pair(tmp_path / "data", n_train=4, n_test=2)
    cases = [
        ({"model": {**TINY, "input_size": 3}}, r"model.input_size: comes from the data"),
        ({"model": {**TINY, "num_classes": 2}}, r"model.num_classes: comes from the data"),
        ({"model": {**TINY, "vocab_size": 10}}, r"model.vocab_size: does not apply"),
        ({"model": {**TINY, "embedding_dim": 10}}, r"embedding_dim applies to token input"),
        ({"model": {**TINY, "hiden": 10}}, r"run.yaml: model: unknown key 'hiden' in ClassifierConfig"),
        ({"data": {"paht": "x"}}, r"run.yaml: data: unknown key 'paht' in SeriesClassificationData"),
        ({"data": {"dataset": "nsmc"}}, r"dataset 'nsmc' is not a series-classification dataset \(known: "),
        ({"data": {"val_fraction": 1.5}}, r"val_fraction must be in \[0, 1\), got 1.5"),
        ({"data": {"dataset": "gunpoint", "test_path": "x"}}, r"test_path applies to dataset='ts' only"),
    ]
    for changes, message in cases:
        with pytest.raises(ConfigError, match=message):
            fit(run_config(tmp_path, train_file, **changes), run_dir=tmp_path / "run", quiet=True)
    with pytest.raises(ValueError, match="dataset='ts' needs path="):
        SeriesClassificationData(dataset="ts")


def test_data_errors_say_what_is_wrong(tmp_path):
    rng = np.random.default_rng(0)
    train_file = write_pair(tmp_path / "a", n_train=4, n_test=2)
    (tmp_path / "a" / "Toy_TEST.ts").unlink()
    with pytest.raises(FileNotFoundError, match=r"Toy_TEST.ts: no such test file for Toy_TRAIN.ts"):
        fit(run_config(tmp_path, train_file), run_dir=tmp_path / "run", quiet=True)
    with pytest.raises(FileNotFoundError, match="expected exactly one NAME_TRAIN.ts file in the folder"):
        fit(run_config(tmp_path, tmp_path), run_dir=tmp_path / "run", quiet=True)
    # a test file with another number of dimensions
    rows = [toy_series(rng, label) for _ in range(2) for label in ("rise", "fall")]
    write_ts(tmp_path / "a" / "Other_TEST.ts", [r.split(":", 1)[1] for r in rows], dims=1)
    config = run_config(tmp_path, train_file, data={"test_path": str(tmp_path / "a" / "Other_TEST.ts")})
    with pytest.raises(
        ValueError, match=r"2 dimension\(s\) of the first TRAIN series; TEST has series with \[1\]"
    ):
        fit(config, run_dir=tmp_path / "run", quiet=True)
    # a test label the training data never had
    write_ts(tmp_path / "a" / "New_TEST.ts", [rows[0].replace(":rise", ":flat")], labels="rise fall flat")
    config = run_config(tmp_path, train_file, data={"test_path": str(tmp_path / "a" / "New_TEST.ts")})
    with pytest.raises(ValueError, match=r"labels \['flat'\] do not occur in the training data"):
        fit(config, run_dir=tmp_path / "run", quiet=True)


# ----- real data ----------------------------------------------------------------------------------------
def test_the_example_config_on_japanese_vowels_shrunk(tmp_path):
    folder = SHARED / "ucr_uea_classification"
    if not (folder / "JapaneseVowels_TRAIN.ts").is_file():
        pytest.skip(f"real dataset japanese_vowels: {folder} not found (set RNNKIT_SHARED_DATA)")
    small = [f"data.path={folder}", "train.epochs=8", "train.lr=0.01", "model.rnn.hidden_size=16",
             "model.conv.channels=16"]  # fmt: skip
    result = fit(EXAMPLE, run_dir=tmp_path / "jv", overrides=small, quiet=True)
    results = result.results
    assert results["sizes"] == {"train": 243, "val": 27, "test": 370}
    assert results["baseline"]["test_accuracy"] == pytest.approx(31 / 370)  # speaker 1 (a tie of nine)
    assert results["baseline_1nn"]["test_accuracy"] == pytest.approx(355 / 370)
    assert (
        results["test_accuracy"] > 0.8
    )  # 0.89-0.91 over seeds 0-3 for 8 epochs of a tiny model; the full config reaches about 0.98
    assert len(json.loads((result.run_dir / "task.json").read_text())["mean"]) == 12
