"""``--quantize int8``: every weight matrix becomes int8, the recurrent ones inside the Scan bodies included,
so a classifier whose weights dominate is at least 3x smaller, and it still predicts the float model's labels."""

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")

from onnx import numpy_helper  # noqa: E402

from rnnkit.export.folder import MODEL, MODEL_INT8, export_run  # noqa: E402
from rnnkit.export.runtime import load_export  # noqa: E402
from tests.export.runs import CHATTERBOT, make_run  # noqa: E402

TEXTS = ["what is your favorite food?", "오늘 기분이 좋아", "hi", "Tell me a joke about computers, please!",
         "do you like sports", "무엇을 도와드릴까요?"]  # fmt: skip
# The recurrent weights dominate: W_hh is 2 x (512, 128), against a (vocab, 16) embedding and 2 x (512, 16) W_ih.
MODEL_SECTION = {"embedding_dim": 16, "rnn": {"cell": "lstm", "hidden_size": 128, "bidirectional": True},
                 "pooling": "max"}  # fmt: skip


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    run = make_run(tmp_path_factory.mktemp("runs") / "bot", "classification", {**CHATTERBOT, "tokenizer": "char"},
                   MODEL_SECTION)  # fmt: skip
    return export_run(run, run / "export", quantize="int8").folder


def initializers(graph: onnx.GraphProto) -> list[np.ndarray]:
    """The initialisers of ``graph`` and of every graph inside its nodes (the Scan bodies)."""
    found = [numpy_helper.to_array(init) for init in graph.initializer]
    for node in graph.node:
        for attribute in node.attribute:
            if attribute.type == onnx.AttributeProto.GRAPH:
                found += initializers(attribute.g)
    return found


def test_every_weight_matrix_is_int8_scan_bodies_included(folder):
    model = onnx.load(folder / MODEL_INT8)
    bodies = [a.g for n in model.graph.node if n.op_type == "Scan" for a in n.attribute if a.name == "body"]
    assert len(bodies) == 2  # one per direction
    for body in bodies:
        assert {"DynamicQuantizeLinear", "MatMulInteger"} <= {n.op_type for n in body.node}
    matrices = [a for a in initializers(model.graph) if a.ndim >= 2]
    assert matrices and all(a.dtype in (np.int8, np.uint8) for a in matrices), [a.dtype for a in matrices]


def test_int8_weights_are_at_least_3x_smaller_and_the_labels_are_the_float_models(folder):
    float_bytes = sum(a.nbytes for a in initializers(onnx.load(folder / MODEL).graph))
    int8_bytes = sum(a.nbytes for a in initializers(onnx.load(folder / MODEL_INT8).graph))
    assert float_bytes >= 3 * int8_bytes, (float_bytes, int8_bytes)
    assert (folder / MODEL).stat().st_size >= 3 * (folder / MODEL_INT8).stat().st_size
    float_model, int8_model = load_export(folder, "float32"), load_export(folder, "int8")
    arrays = float_model.predictor.encoder.encode(TEXTS)
    expected = float_model.session.run(["probabilities"], arrays)[0]
    got = int8_model.session.run(["probabilities"], arrays)[0]
    assert (got.argmax(-1) == expected.argmax(-1)).all()
    assert np.abs(got - expected).max() <= 1e-3  # 7e-5 here; the untrained model's top-2 margins: >= 2e-4
