"""Parity of an exported classifier (Embedding -> Conv1D -> MaxPool1D -> BiLSTM) in ONNX Runtime."""

import io

import numpy as np
import pytest
import torch

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

from rnnkit.export.recurrent import scan_recurrent_layers, splice_scans  # noqa: E402
from rnnkit.layers.factory import RNNConfig  # noqa: E402
from rnnkit.models.classifier import ClassifierConfig, SequenceClassifier  # noqa: E402

CELLS = [
    RNNConfig(cell="lstm", hidden_size=5, bidirectional=True),
    RNNConfig(cell="gru", hidden_size=5, num_layers=2, reset_after=False),
    RNNConfig(cell="rnn", hidden_size=5, nonlinearity="relu", bidirectional=True),
]


def export(model, opset=17):
    tokens, lengths = torch.randint(1, 50, (3, 9)), torch.tensor([9, 4, 6])
    buffer = io.BytesIO()
    with scan_recurrent_layers(model) as tracing, torch.no_grad():
        torch.onnx.export(
            model,
            (tokens, lengths),
            buffer,
            dynamo=False,
            opset_version=opset,
            input_names=["tokens", "lengths"],
            output_names=["logits"],
            dynamic_axes={"tokens": {0: "B", 1: "T"}, "lengths": {0: "B"}, "logits": {0: "B"}},
        )
    exported = splice_scans(onnx.load_from_string(buffer.getvalue()), tracing, opset)
    onnx.checker.check_model(exported)
    return ort.InferenceSession(exported.SerializeToString())


@pytest.mark.filterwarnings("ignore")
@pytest.mark.parametrize("rnn", CELLS, ids=lambda c: c.cell)
def test_classifier_parity_at_other_batch_sizes_and_lengths(rnn):
    torch.manual_seed(0)
    config = ClassifierConfig.conv_lstm(50, 3, embedding_dim=8, channels=6, pool_size=2, rnn=rnn)
    model = SequenceClassifier(config).eval()
    session = export(model)
    for batch, steps in [(1, 1), (5, 13), (7, 30)]:
        tokens = torch.randint(1, 50, (batch, steps))
        lengths = torch.randint(1, steps + 1, (batch,))
        lengths[0] = steps
        with torch.no_grad():
            expected = model(tokens, lengths).numpy()
        got = session.run(None, {"tokens": tokens.numpy(), "lengths": lengths.numpy()})[0]
        assert np.abs(got - expected).max() <= 1e-5
        assert (got.argmax(-1) == expected.argmax(-1)).all()
