"""An exported tagger tags as its run: emissions in ONNX, argmax or the CRF's Viterbi path in numpy."""

import numpy as np
import pytest
import torch

pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")

from rnnkit.export.folder import export_run
from rnnkit.export.runtime import ExportInputError, load_export
from rnnkit.export.viterbi import viterbi
from rnnkit.tasks.runner import load_run, predict
from tests.export.runs import make_run
from tests.tasks.test_tagging import hinted_files, toy_files

SENTENCES = ["the big dog sees a cat in the park .", "a old man walk the red cat .", "", "run",
             "This unknown Sentence walks in THE parking lots ...", "the cat " * 20]  # fmt: skip
HINTED = ["foo/NN bar/VBD baz/RB", "bar/NNS", "qux/XX foo/VB"]


def chunk_run(folder):
    paths = toy_files(folder.parent)
    data = {"dataset": "conll", "path": str(paths["train"]), "val_path": str(paths["dev"]),
            "test_path": str(paths["test"]), "tag_column": "chunk", "characters": True}  # fmt: skip
    model = {"embedding_dim": 8, "char_filters": 4, "rnn": {"cell": "lstm", "hidden_size": 6, "bidirectional": True},
             "crf": True}  # fmt: skip
    return make_run(folder, "tagging", data, model), SENTENCES


def hinted_run(folder):
    paths = hinted_files(folder.parent)
    data = {"dataset": "conll", "path": str(paths["train"]), "val_path": str(paths["dev"]),
            "test_path": str(paths["test"]), "columns": ["token", "hint", "class"], "feature_columns": ["hint"]}  # fmt: skip
    model = {"embedding_dim": 8, "rnn": {"cell": "gru", "hidden_size": 6}}
    return make_run(folder, "tagging", data, model), HINTED


@pytest.fixture(scope="module", params=["crf-chars", "softmax-columns"])
def exported(request, tmp_path_factory):
    build = chunk_run if request.param == "crf-chars" else hinted_run
    run, sentences = build(tmp_path_factory.mktemp(request.param) / "run")
    return run, export_run(run, run / "export").folder, sentences


def test_tags_and_chunks_equal_the_runs(exported):
    run, folder, sentences = exported
    model = load_export(folder)
    for batch in (sentences, sentences[:1], sentences[::-1] * 3):
        assert model.predict(batch) == predict(run, batch)


def test_emissions_match_the_model_within_1e5(exported):
    run, folder, sentences = exported
    task, net = load_run(run, "cpu")
    model = load_export(folder)
    parsed = [model.predictor.encoder.split(s) for s in sentences if s]
    arrays = model.predictor.encoder.encode(parsed)
    batch = task.batch([w for w, _ in parsed], [c for _, c in parsed])
    for name, key in (
        ("tokens", "inputs"),
        ("lengths", "lengths"),
        ("chars", "chars"),
        ("columns", "columns"),
    ):
        if key in batch:
            assert np.array_equal(arrays[name], batch[key].numpy()), name
    with torch.no_grad():
        expected = net(batch["inputs"], batch["lengths"], **task.model_extras(batch)).numpy()
    assert np.abs(model.session.run(["emissions"], arrays)[0] - expected).max() <= 1e-5


def test_a_word_without_its_columns_names_the_input(exported):
    _, folder, sentences = exported
    if sentences is not HINTED:
        pytest.skip("the chunk tagger reads no feature columns")
    with pytest.raises(ExportInputError, match="input 2: this model also reads"):
        load_export(folder).predict(["foo/NN", "foo"])


def test_numpy_viterbi_is_the_crfs(tmp_path):
    from rnnkit.blocks.crf import LinearChainCRF, iob_constraints

    torch.manual_seed(0)
    labels = ["O", "B-NP", "I-NP", "B-VP", "I-VP"]
    crf = LinearChainCRF(5, iob_constraints(labels))
    torch.nn.init.normal_(crf.transitions)
    emissions, lengths = torch.randn(6, 11, 5), torch.tensor([11, 1, 5, 7, 11, 2])
    expected, _ = crf.viterbi_decode(emissions, lengths)
    with torch.no_grad():
        transitions, start, end = (t.tolist() for t in crf.constrained_scores())
    got = viterbi(
        emissions.numpy(), lengths.numpy(), {"transitions": transitions, "start": start, "end": end}
    )
    assert got == [row[:n] for row, n in zip(expected.tolist(), lengths.tolist())]


def test_tagging_predicts_with_torch_imports_refused(exported, tmp_path, capsys):
    import json
    import os
    import subprocess
    import sys

    from rnnkit.cli.main import main
    from tests.export.test_torch_free import BLOCK_TORCH, ROOT

    run, folder, sentences = exported
    script = tmp_path / "no_torch.py"
    script.write_text(BLOCK_TORCH)
    result = subprocess.run([sys.executable, str(script), "predict", str(folder), *filter(None, sentences)],
                            capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(ROOT)},
                            timeout=120)  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert main(["predict", str(run), *filter(None, sentences)]) == 0
    assert [json.loads(line) for line in result.stdout.splitlines()] == [
        json.loads(line) for line in capsys.readouterr().out.splitlines()
    ]
