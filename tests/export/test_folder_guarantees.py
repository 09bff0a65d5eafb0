"""The export folder's guarantees: every file checked by its sha256, refusals that name what and why, the CLI."""

import json
import shutil

import pytest

pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")

from rnnkit.cli.main import main, run
from rnnkit.export.folder import export_run
from rnnkit.export.manifest import ExportFolderError, NotExportable
from rnnkit.export.runtime import load_export
from tests.export.runs import CHATTERBOT, make_run

MODEL = {"embedding_dim": 8, "rnn": {"cell": "gru", "hidden_size": 6}, "pooling": "max"}


@pytest.fixture(scope="module")
def small_run(tmp_path_factory):
    return make_run(tmp_path_factory.mktemp("runs") / "bot", "classification", {**CHATTERBOT, "tokenizer": "char"},
                    MODEL)  # fmt: skip


@pytest.fixture(scope="module")
def folder(small_run, tmp_path_factory):
    return export_run(small_run, tmp_path_factory.mktemp("exports") / "bot").folder


@pytest.mark.parametrize("name", ["model.onnx", "preprocessing.json", "labels.json"])
def test_a_changed_file_is_refused_by_name(folder, tmp_path, name):
    copy = shutil.copytree(folder, tmp_path / "copy")
    data = bytearray((copy / name).read_bytes())
    data[len(data) // 2] ^= 1  # one bit, same size
    (copy / name).write_bytes(bytes(data))
    with pytest.raises(ExportFolderError, match=rf"{name}: its sha256 is not the one manifest.json records"):
        load_export(copy)


def test_a_missing_or_truncated_file_and_a_foreign_manifest_are_refused(folder, tmp_path):
    copy = shutil.copytree(folder, tmp_path / "copy")
    (copy / "labels.json").unlink()
    with pytest.raises(ExportFolderError, match="labels.json: missing"):
        load_export(copy)
    shutil.copy(folder / "labels.json", copy / "labels.json")
    (copy / "model.onnx").write_bytes((folder / "model.onnx").read_bytes()[:100])
    with pytest.raises(ExportFolderError, match="model.onnx: 100 bytes, manifest.json records"):
        load_export(copy)
    shutil.copy(folder / "model.onnx", copy / "model.onnx")
    manifest = json.loads((copy / "manifest.json").read_text())
    manifest["files"]["../labels.json"] = manifest["files"].pop("labels.json")
    (copy / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(ExportFolderError, match="is not a plain name"):
        load_export(copy)


def test_the_cli_refuses_a_tampered_folder_in_one_line(folder, tmp_path, capsys):
    copy = shutil.copytree(folder, tmp_path / "copy")
    (copy / "labels.json").write_text(
        json.dumps(list(reversed(json.loads((copy / "labels.json").read_text()))))
    )
    assert run(["predict", str(copy), "hello"]) == 2
    err = capsys.readouterr().err
    assert "rnnkit predict: error:" in err and "labels.json" in err and "Traceback" not in err


def test_cli_export_prints_sizes_and_metrics_and_predict_reads_the_folder(small_run, tmp_path, capsys):
    out = tmp_path / "bot_onnx"
    assert main(["export", str(small_run), "--quantize", "int8", "--opset", "17", "-o", str(out)]) == 0
    printed = capsys.readouterr().out
    assert (
        "model.onnx:" in printed
        and "model_int8.onnx:" in printed
        and "int8 - float32: test_accuracy" in printed
    )
    assert (out / "model_int8.onnx").stat().st_size < (out / "model.onnx").stat().st_size
    assert main(["predict", str(small_run), "hello there", "오늘 기분이 좋아"]) == 0
    from_run = capsys.readouterr().out
    assert main(["predict", str(out), "hello there", "오늘 기분이 좋아"]) == 0
    assert capsys.readouterr().out == from_run
    assert main(["predict", str(out), "hello there", "--int8"]) == 0
    assert json.loads(capsys.readouterr().out)["label"]
    assert run(["export", str(small_run), "-o", str(out)]) == 2  # not over an export
    assert "exists and is not empty" in capsys.readouterr().err


def test_a_language_model_quantises_through_the_cli_and_an_unknown_kind_is_refused(tmp_path, capsys):
    (tmp_path / "text.txt").write_text("the cat sat on the mat. " * 40, encoding="utf-8")
    data = {"dataset": "text", "path": str(tmp_path / "text.txt"), "bptt": 8}
    lm = make_run(tmp_path / "lm", "language_model", data, {"embedding_dim": 4, "rnn": {"hidden_size": 4}})
    with pytest.raises(NotExportable, match=r"--quantize int4: known: int8"):
        export_run(lm, tmp_path / "out", quantize="int4")
    assert not (tmp_path / "out").exists()
    assert run(["export", str(lm), "--quantize", "int8", "-o", str(tmp_path / "out")]) == 0
    assert "decoder_step.int8.onnx:" in capsys.readouterr().out
    for model in ("float32", "int8"):
        assert load_export(tmp_path / "out", model).predict(["the"])[0]["text"].startswith("the")


def test_a_too_old_opset_is_refused(small_run, tmp_path):
    with pytest.raises(NotExportable, match="--opset 9: the export needs opset 14"):
        export_run(small_run, tmp_path / "out", opset=9)
