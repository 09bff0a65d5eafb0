"""Translation and language model runs exported as decoder-step graphs: ``rnnkit predict EXPORT`` gives what
``rnnkit predict RUN`` gives (greedy and beam), a changed file is refused, and torch is never imported."""

import json
import os
import shutil
import subprocess

import pytest
import yaml

pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")

from rnnkit.cli.main import main, run
from rnnkit.export.folder import export_run
from rnnkit.export.manifest import ExportFolderError
from rnnkit.export.runtime import load_export
from rnnkit.tasks import fit
from rnnkit.tasks.runner import predict
from tests.export.test_torch_free import ROOT, predict_without_torch, venv_without_torch
from tests.serve.toy_runs import MAKERS

SOURCES = ["one two three", "five", "four four two one five", "", "six seven"]  # "six seven": unknown words
PROMPTS = ["the cat", "on the mat", "t"]


def _trained(root, task, changes):
    """A tiny run of ``task`` (tests/serve/toy_runs.py's data and config, ``changes`` set in its data)."""
    data_folder = root / f"{task}_data"
    data_folder.mkdir(parents=True)
    config_path = MAKERS[task](data_folder)
    config = yaml.safe_load(config_path.read_text(encoding="utf-8"))
    for key, value in changes.items():
        *parents, last = key.split(".")
        node = config["data"]
        for part in parents:
            node = node[part]
        node[last] = value
    config_path.write_text(yaml.safe_dump(config, allow_unicode=True), encoding="utf-8")
    return fit(config_path, run_dir=root / task, quiet=True).run_dir


@pytest.fixture(scope="module")
def translation(tmp_path_factory):
    root = tmp_path_factory.mktemp("translation")
    run_dir = _trained(root, "translation", {"strategy": "beam", "beam_size": 3})
    return run_dir, export_run(run_dir, root / "export").folder


@pytest.fixture(scope="module")
def language_model(tmp_path_factory):
    root = tmp_path_factory.mktemp("language_model")
    changes = {"generation.strategy": "greedy", "generation.max_new_tokens": 9}
    run_dir = _trained(root, "language_model", changes)
    return run_dir, export_run(run_dir, root / "export").folder


def test_a_translation_folder_holds_its_graphs_and_lists_them(translation):
    _, folder = translation
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["task"] == "translation" and manifest["models"] == {
        "float32": ["encoder.onnx", "decoder_step.onnx"]
    }
    assert set(manifest["files"]) == {"encoder.onnx", "decoder_step.onnx", "decoding.json", "preprocessing.json",
                                      "predict_options.json", "README.md"}  # fmt: skip
    assert manifest["graphs"]["encoder.onnx"]["inputs"][0] == {
        "name": "src",
        "dtype": "int64",
        "shape": ["N", "S"],
    }
    readme = (folder / "README.md").read_text()
    assert "decoder_step.onnx" in readme and "beam search" in readme


def test_translations_equal_the_runs_with_beam_and_greedy(translation):
    run_dir, folder = translation
    exported = load_export(folder)
    assert exported.predictor.options["strategy"] == "beam"
    assert exported.predict(SOURCES) == predict(run_dir, SOURCES)
    exported.predictor.options["strategy"] = "greedy"
    assert exported.predict(SOURCES) == predict(run_dir, SOURCES, data_overrides=["strategy=greedy"])


def test_the_cli_translates_as_the_run_without_torch(translation, capsys, tmp_path):
    run_dir, folder = translation
    assert main(["predict", str(run_dir), *SOURCES]) == 0
    from_run = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert predict_without_torch(folder, SOURCES, tmp_path) == from_run


def test_the_cli_exports_the_graphs_and_a_fresh_venv_without_torch_translates(translation, capsys, tmp_path):
    run_dir, _ = translation
    assert main(["export", str(run_dir), "-o", str(tmp_path / "out")]) == 0
    printed = capsys.readouterr().out
    assert "encoder.onnx:" in printed and "decoder_step.onnx:" in printed
    python = venv_without_torch(tmp_path)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("PYTHONHOME", None)
    result = subprocess.run([str(python), "-m", "rnnkit", "predict", str(tmp_path / "out"), *SOURCES],
                            capture_output=True, text=True, env=env, timeout=120)  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert [json.loads(line) for line in result.stdout.splitlines()] == predict(run_dir, SOURCES)


def test_continuations_equal_the_runs_greedy_without_torch(language_model, capsys, tmp_path):
    run_dir, folder = language_model
    from_run = predict(run_dir, PROMPTS)
    assert load_export(folder).predict(PROMPTS) == from_run
    assert predict_without_torch(folder, PROMPTS, tmp_path) == from_run
    assert main(["predict", str(folder), "the"]) == 0
    assert json.loads(capsys.readouterr().out)["text"].startswith("the")


def test_sampled_continuations_are_seeded(language_model):
    _, folder = language_model
    exported = load_export(folder)
    exported.predictor.options.update(strategy="sample", temperature=1.5, top_k=None, seed=3)
    first = exported.predict(PROMPTS)
    assert exported.predict(PROMPTS) == first
    assert all(p["text"] == p["prompt"] + p["continuation"] for p in first)  # char tokens: text = joined


def test_an_empty_prompt_is_refused_naming_the_input(language_model, capsys):
    _, folder = language_model
    assert run(["predict", str(folder), "the", ""]) == 2
    assert "argument 2" in capsys.readouterr().err


@pytest.mark.parametrize("name", ["decoder_step.onnx", "preprocessing.json", "predict_options.json"])
def test_a_changed_file_is_refused_by_name(translation, tmp_path, name):
    copy = shutil.copytree(translation[1], tmp_path / "copy")
    data = bytearray((copy / name).read_bytes())
    data[len(data) // 2] ^= 1
    (copy / name).write_bytes(bytes(data))
    with pytest.raises(ExportFolderError, match=rf"{name}: its sha256 is not the one manifest.json records"):
        load_export(copy)
    assert run(["predict", str(copy), "one"]) == 2


def test_a_float_only_folder_has_no_int8_graphs_saying_how_to_get_them(language_model):
    _, folder = language_model
    assert not list(folder.glob("*.int8.onnx"))
    with pytest.raises(ExportFolderError, match="has no int8 model .*export with --quantize int8"):
        load_export(folder, "int8")
