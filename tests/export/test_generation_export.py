"""Generation runs (class labels, feature vectors) exported as prompt + decoder-step graphs: their texts are
the run's for greedy and beam decoding, inputs are parsed as the run parses them, torch is never imported."""

import random

import pytest
import yaml

pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")

from rnnkit.cli.main import run
from rnnkit.export.folder import export_run
from rnnkit.export.runtime import ExportInputError, load_export
from rnnkit.tasks import fit
from rnnkit.tasks.runner import predict
from tests.export.test_torch_free import predict_without_torch

WORDS = {"pos": ["good", "great", "fun"], "neg": ["bad", "dull", "boring"]}
QUICK = {"epochs": 2, "batch_size": 16, "lr": 0.02, "device": "cpu", "seed": 0}
SMALL = {"embedding_dim": 8, "rnn": {"cell": "gru", "hidden_size": 8}}


def _fit(folder, data, model):
    path = folder / "run.yaml"
    config = {"task": "generation", "data": data, "model": {**SMALL, **model}, "train": QUICK}
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    return fit(path, run_dir=folder / "run", quiet=True).run_dir


@pytest.fixture(scope="module")
def class_run(tmp_path_factory):
    folder, rng = tmp_path_factory.mktemp("gen_class"), random.Random(0)
    rows = [(f"a {rng.choice(WORDS[label])} film", label) for label in ("pos", "neg") for _ in range(30)]
    (folder / "train.csv").write_text("review,sentiment\n" + "".join(f"{t},{lab}\n" for t, lab in rows))
    data = {"train": str(folder / "train.csv"), "text_column": "review", "label_column": "sentiment",
            "generation": {"strategy": "beam", "beam_size": 3, "count": 2, "max_new_tokens": 12}}  # fmt: skip
    run_dir = _fit(folder, data, {"condition_mode": "every_step"})
    return run_dir, export_run(run_dir, folder / "export").folder


@pytest.fixture(scope="module")
def vector_run(tmp_path_factory):
    folder, rng = tmp_path_factory.mktemp("gen_vector"), random.Random(0)
    names = ["one", "two", "three"]
    lines = []
    for _ in range(60):
        k = rng.randrange(3)
        lines.append(f"{k + rng.random():.3f},{rng.random():.3f},{10 * k:.1f},{names[k]}\n")
    (folder / "train.csv").write_text("x,y,z,caption\n" + "".join(lines))
    data = {"train": str(folder / "train.csv"), "text_column": "caption", "feature_columns": ["x", "y", "z"],
            "generation": {"max_new_tokens": 8}}  # fmt: skip
    run_dir = _fit(folder, data, {"condition_mode": "init_state"})
    return run_dir, export_run(run_dir, folder / "export").folder


def test_class_conditioned_beam_texts_equal_the_runs_without_torch(class_run, tmp_path):
    run_dir, folder = class_run
    inputs = ["pos", "neg: a", " pos:a good "]
    from_run = predict(run_dir, inputs)
    assert len(from_run[0]["texts"]) == 2
    assert load_export(folder).predict(inputs) == from_run
    assert predict_without_torch(folder, inputs, tmp_path) == from_run
    exported = load_export(folder)
    exported.predictor.options["strategy"] = "greedy"
    assert exported.predict(inputs) == predict(run_dir, inputs, data_overrides=["generation.strategy=greedy"])


def test_sampled_texts_are_seeded(class_run):
    exported = load_export(class_run[1])
    exported.predictor.options.update(strategy="sample", count=3, seed=4)
    first = exported.predict(["pos", "neg"])
    assert exported.predict(["pos", "neg"]) == first and len(first[1]["texts"]) == 3


def test_vector_captions_equal_the_runs(vector_run, tmp_path):
    run_dir, folder = vector_run
    inputs = ["1.5, 0.2, 10", "[0.1, 0.9, 0]", "2.2 0.5 20: th"]
    from_run = predict(run_dir, inputs)
    assert load_export(folder).predict(inputs) == from_run
    assert predict_without_torch(folder, inputs, tmp_path) == from_run


def test_inputs_are_refused_as_the_run_refuses_them(class_run, vector_run, capsys):
    with pytest.raises(
        ExportInputError, match=r"input 2: expected a class label \(one of \['neg', 'pos'\]\)"
    ):
        load_export(class_run[1]).predict(["pos", "meh"])
    with pytest.raises(ExportInputError, match="input 1: expected 3 features, got 2"):
        load_export(vector_run[1]).predict(["1, 2"])
    assert run(["predict", str(vector_run[1]), "1, x, 3"]) == 2
    assert "argument 1: the features: expected numbers, got 'x'" in capsys.readouterr().err
