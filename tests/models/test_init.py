"""Keras's initialisation (rnnkit.models.init): each parameter family as Keras starts it."""

from __future__ import annotations

import math

import pytest
import torch

from rnnkit.cells.lstm import LSTMCell
from rnnkit.models.classifier import ClassifierConfig, SequenceClassifier
from rnnkit.models.init import keras_init_
from rnnkit.models.io import load_model, save_model


def conv_lstm(cell: str = "lstm", init: str = "keras", **rnn) -> SequenceClassifier:
    config = ClassifierConfig.conv_lstm(60, 3, embedding_dim=12, channels=8, hidden_size=10)
    rnn_config = config.rnn.__class__(**{**config.rnn.__dict__, "cell": cell, "bidirectional": True, **rnn})
    return SequenceClassifier(config.__class__(**{**config.__dict__, "rnn": rnn_config, "init": init}))


def cells(model):
    return [m for m in model.modules() if hasattr(m, "weight_hh") and hasattr(m, "gate_names")]


@pytest.mark.parametrize("cell", ["lstm", "gru", "rnn"])
def test_every_family_starts_as_keras_starts_it(cell):
    torch.manual_seed(0)
    model = conv_lstm(cell)
    embedding = model.embedding.weight
    assert embedding.abs().max() <= 0.05 and embedding[0].abs().sum() == 0  # padding row stays zero
    assert embedding.std() < 0.04  # torch's N(0, 1) would be ~1
    for layer in (model.conv.convs[0], model.head):
        assert layer.bias.abs().sum() == 0
    found = cells(model)
    assert len(found) == 2  # both directions
    for c in found:
        h = c.hidden_size
        bound = math.sqrt(6 / (c.weight_ih.shape[0] + c.weight_ih.shape[1]))
        assert c.weight_ih.abs().max() <= bound + 1e-7
        for block in c.weight_hh.split(h):
            assert torch.allclose(block.T @ block, torch.eye(h), atol=1e-5)  # orthogonal per gate
        expected_ih = torch.zeros_like(c.bias_ih)
        if isinstance(c, LSTMCell):
            expected_ih[h : 2 * h] = 1.0  # gates i, f, g, o: the forget gate's bias is 1
        assert torch.equal(c.bias_ih, expected_ih) and c.bias_hh.abs().sum() == 0


def test_the_head_and_conv_are_glorot_uniform():
    torch.manual_seed(0)
    model = conv_lstm()
    head = model.head.weight  # (K, D): fan_in D, fan_out K
    assert head.abs().max() <= math.sqrt(6 / sum(head.shape)) + 1e-7
    conv = model.conv.convs[0].weight  # (out, in, k): fan_in in*k, fan_out out*k
    out, inp, k = conv.shape
    assert conv.abs().max() <= math.sqrt(6 / (inp * k + out * k)) + 1e-7
    assert conv.abs().max() > 0.5 * math.sqrt(6 / (inp * k + out * k))  # uniform over the whole range


def test_torch_init_is_the_default_and_keras_init_is_saved_with_the_model(tmp_path):
    torch.manual_seed(0)
    plain = conv_lstm(init="torch")
    assert plain.embedding.weight.std() > 0.5  # torch's N(0, 1)
    model = conv_lstm()
    save_model(model, tmp_path / "m")
    loaded = load_model(tmp_path / "m").eval()
    assert loaded.config.init == "keras"
    tokens = torch.randint(1, 60, (2, 7))
    assert torch.equal(loaded(tokens, torch.tensor([7, 3])), model.eval()(tokens, torch.tensor([7, 3])))


def test_a_coupled_lstm_gets_the_bias_on_its_one_forget_gate():
    cell = LSTMCell(4, 5, coupled=True)
    keras_init_(cell)
    assert torch.equal(cell.bias_ih[:5], torch.ones(5)) and cell.bias_ih[5:].abs().sum() == 0


def test_an_unknown_init_is_refused():
    with pytest.raises(ValueError, match="init must be one of"):
        ClassifierConfig(vocab_size=10, num_classes=2, init="jax")
