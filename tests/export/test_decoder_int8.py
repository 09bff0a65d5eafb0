"""``rnnkit export --quantize int8`` of the decoding tasks: an int8 copy of every graph (``*.int8.onnx``, its
weight matrices int8, Scan bodies included) listed and hashed in the manifest, test metrics of both precisions
measured in ONNX Runtime (the float32 ones equal to the run's), and the torch-free runtime decoding with it."""

import json
import shutil

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")

from rnnkit.cli.main import main, run  # noqa: E402
from rnnkit.export.folder import export_run  # noqa: E402
from rnnkit.export.manifest import ExportFolderError, sha256_of  # noqa: E402
from rnnkit.export.ort_decoding import OrtGenerator, OrtSeq2Seq, graph_file  # noqa: E402
from rnnkit.export.runtime import load_export  # noqa: E402
from tests.export.test_decoder_export import PROMPTS, SOURCES, _trained  # noqa: E402
from tests.export.test_generation_export import WORDS, _fit  # noqa: E402
from tests.export.test_int8 import initializers  # noqa: E402
from tests.export.test_torch_free import predict_without_torch  # noqa: E402

TRANSLATION_GRAPHS = ["encoder.onnx", "decoder_step.onnx"]
GENERATOR_GRAPHS = ["prompt.onnx", "decoder_step.onnx"]


@pytest.fixture(scope="module")
def translation(tmp_path_factory):
    root = tmp_path_factory.mktemp("translation_int8")
    run_dir = _trained(root, "translation", {"strategy": "greedy"})
    return run_dir, export_run(run_dir, root / "export", quantize="int8").folder


@pytest.fixture(scope="module")
def language_model(tmp_path_factory):
    root = tmp_path_factory.mktemp("language_model_int8")
    run_dir = _trained(
        root, "language_model", {"generation.strategy": "greedy", "generation.max_new_tokens": 9}
    )
    return run_dir, export_run(run_dir, root / "export", quantize="int8").folder


@pytest.fixture(scope="module")
def generation(tmp_path_factory):
    import random

    folder, rng = tmp_path_factory.mktemp("generation_int8"), random.Random(0)
    rows = [(f"a {rng.choice(WORDS[label])} film", label) for label in ("pos", "neg") for _ in range(30)]
    (folder / "train.csv").write_text("review,sentiment\n" + "".join(f"{t},{lab}\n" for t, lab in rows))
    data = {"train": str(folder / "train.csv"), "text_column": "review", "label_column": "sentiment",
            "generation": {"strategy": "greedy", "count": 2, "max_new_tokens": 12}}  # fmt: skip
    run_dir = _fit(folder, data, {"condition_mode": "every_step"})
    return run_dir, export_run(run_dir, folder / "export", quantize="int8").folder


def _manifest(folder):
    return json.loads((folder / "manifest.json").read_text(encoding="utf-8"))


@pytest.mark.parametrize(
    ("fixture", "graphs"),
    [
        ("translation", TRANSLATION_GRAPHS),
        ("language_model", GENERATOR_GRAPHS),
        ("generation", GENERATOR_GRAPHS),
    ],
)
def test_every_graph_has_an_int8_copy_listed_and_hashed_in_the_manifest(request, fixture, graphs):
    _, folder = request.getfixturevalue(fixture)
    manifest = _manifest(folder)
    int8 = [g.replace(".onnx", ".int8.onnx") for g in graphs]
    assert manifest["models"] == {"float32": graphs, "int8": int8}
    for name in graphs + int8:
        assert manifest["files"][name] == {
            "sha256": sha256_of(folder / name),
            "bytes": (folder / name).stat().st_size,
        }
    readme = (folder / "README.md").read_text(encoding="utf-8")
    assert all(f"`{name}`" in readme for name in int8) and "--int8" in readme


@pytest.mark.parametrize(
    ("fixture", "graphs"),
    [
        ("translation", TRANSLATION_GRAPHS),
        ("language_model", GENERATOR_GRAPHS),
        ("generation", GENERATOR_GRAPHS),
    ],
)
def test_every_weight_matrix_of_every_int8_graph_is_int8(request, fixture, graphs):
    _, folder = request.getfixturevalue(fixture)
    for name in graphs:
        float_matrices = [a for a in initializers(onnx.load(folder / name).graph) if a.ndim >= 2]
        assert float_matrices and all(a.dtype == np.float32 for a in float_matrices)
        quantized = onnx.load(folder / graph_file(name.removesuffix(".onnx"), "int8"))
        matrices = [a for a in initializers(quantized.graph) if a.ndim >= 2]
        assert matrices and all(a.dtype in (np.int8, np.uint8) for a in matrices), (
            name,
            [a.dtype for a in matrices],
        )
        assert 3 * sum(a.nbytes for a in matrices) <= sum(a.nbytes for a in float_matrices), (
            name
        )  # 1 byte, not 4
        bodies = [
            a.g for n in quantized.graph.node if n.op_type == "Scan" for a in n.attribute if a.name == "body"
        ]
        for body in bodies:  # the recurrent weights W_hh, inside the Scan loops
            assert "MatMulInteger" in {n.op_type for n in body.node}, name


@pytest.mark.parametrize(
    ("fixture", "keys"),
    [
        ("translation", {"test_loss", "test_perplexity", "test_bleu_greedy", "test_chrf_greedy"}),
        ("language_model", {"test_loss", "test_perplexity", "test_bpc"}),
        ("generation", {"test_loss", "test_perplexity"}),
    ],
)
def test_the_test_metrics_of_both_precisions_float32_equal_to_the_runs(request, fixture, keys):
    run_dir, folder = request.getfixturevalue(fixture)
    manifest = _manifest(folder)
    metrics, of_run = manifest["export_test_metrics"], manifest["run_test_metrics"]
    assert set(metrics) == {"float32", "int8"} and set(metrics["float32"]) == set(metrics["int8"]) == keys
    for key, value in metrics["float32"].items():  # the graphs in ONNX Runtime score as the run's torch model
        assert value == pytest.approx(of_run[key], rel=1e-4, abs=1e-4), key
    assert metrics["int8"]["test_loss"] == pytest.approx(metrics["float32"]["test_loss"], rel=0.05)
    readme = (folder / "README.md").read_text(encoding="utf-8")
    assert "of the exported graphs, in ONNX Runtime" in readme and '"int8"' in readme


def test_greedy_translation_from_the_int8_graphs_is_well_formed(translation):
    _, folder = translation
    runner = OrtSeq2Seq(folder, precision="int8")
    info = runner.info
    decoded = runner.translate([[5, 6, 7], [8], [6, 6, 5, 7]], max_length=12)
    assert decoded.tokens.shape[0] == 3 and decoded.tokens.shape[1] <= 12
    assert ((decoded.tokens >= 0) & (decoded.tokens < info["vocab_size"])).all()
    assert ((decoded.lengths >= 1) & (decoded.lengths <= 12)).all() and np.isfinite(decoded.scores).all()
    for row, n in zip(decoded.tokens, decoded.lengths):  # EOS ends a row, padding after it
        assert (row[n:] == info["pad_id"]).all() and (info["eos_id"] not in row[: n - 1].tolist())
    predictions = load_export(folder, "int8").predict(SOURCES)
    assert [p["text"] for p in predictions] == SOURCES
    assert all(isinstance(p["translation"], str) and p["log_prob"] <= 0 for p in predictions)


def test_greedy_continuations_from_the_int8_graphs_are_well_formed_without_torch(language_model, tmp_path):
    _, folder = language_model
    decoded = OrtGenerator(folder, precision="int8").generate([[5, 6], [7]], 9, stop_at_eos=False)
    assert decoded.tokens.shape == (2, 9) and (decoded.lengths == 9).all()
    predictions = load_export(folder, "int8").predict(PROMPTS)
    assert [p["prompt"] for p in predictions] == PROMPTS
    assert all(p["text"] == p["prompt"] + p["continuation"] for p in predictions)  # char tokens
    assert predict_without_torch(folder, [*PROMPTS, "--int8"], tmp_path) == predictions


def test_int8_class_conditioned_texts_are_well_formed(generation):
    _, folder = generation
    predictions = load_export(folder, "int8").predict(["pos", "neg: a"])
    assert [p["label"] for p in predictions] == ["pos", "neg"]
    assert all(len(p["texts"]) == 2 and all(isinstance(t, str) for t in p["texts"]) for p in predictions)
    assert predictions[1]["text"].startswith("a")


@pytest.mark.parametrize("name", ["decoder_step.int8.onnx", "encoder.int8.onnx"])
def test_a_changed_int8_graph_is_refused_by_name(translation, tmp_path, name):
    copy = shutil.copytree(translation[1], tmp_path / "copy")
    data = bytearray((copy / name).read_bytes())
    data[len(data) // 2] ^= 1
    (copy / name).write_bytes(bytes(data))
    for model in ("int8", "float32"):  # every file is checked, whichever precision is asked for
        with pytest.raises(
            ExportFolderError, match=rf"{name}: its sha256 is not the one manifest.json records"
        ):
            load_export(copy, model)
    assert run(["predict", str(copy), "one", "--int8"]) == 2


def test_the_cli_prints_both_precisions_sizes_and_metrics(language_model, capsys, tmp_path):
    run_dir, _ = language_model
    assert main(["export", str(run_dir), "-o", str(tmp_path / "out"), "--quantize", "int8"]) == 0
    printed = capsys.readouterr().out
    for line in ("  prompt.onnx:", "  prompt.int8.onnx:", "  decoder_step.int8.onnx:", "test split, float32:",
                 "test split, int8:", "int8 - float32: test_loss"):  # fmt: skip
        assert line in printed, printed
    assert main(["predict", str(tmp_path / "out"), "the", "--int8"]) == 0
    assert json.loads(capsys.readouterr().out)["text"].startswith("the")
