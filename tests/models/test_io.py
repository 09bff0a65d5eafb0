"""save_model / load_model: config.json + model.safetensors, strict and clear errors, no pickle."""

import json
from dataclasses import dataclass, field

import pytest
import torch
from safetensors.torch import save_file
from torch import nn

from rnnkit.config import ConfigError
from rnnkit.layers.factory import RNNConfig, build_rnn
from rnnkit.models.io import load_model, register_model, save_model


@dataclass(frozen=True)
class TinyConfig:
    input_size: int = 3
    rnn: RNNConfig = field(default_factory=lambda: RNNConfig(cell="gru", hidden_size=4))


@register_model("test-tiny")
class Tiny(nn.Module):
    config_class = TinyConfig

    def __init__(self, config: TinyConfig) -> None:
        super().__init__()
        self.config = config
        self.rnn = build_rnn(config.rnn, config.input_size)
        self.head = nn.Linear(self.rnn.output_size, 4)
        self.register_buffer("scale", torch.ones(4))

    def forward(self, x):
        return self.head(self.rnn(x)[0]) * self.scale


def test_round_trip_restores_config_weights_and_buffers(tmp_path):
    model = Tiny(TinyConfig(rnn=RNNConfig(cell="lstm", hidden_size=5, bidirectional=True, layer_norm=True)))
    with torch.no_grad():
        model.scale.fill_(2.5)
    save_model(model, tmp_path / "run", extra={"labels": ["a", "b"]})
    loaded = load_model(tmp_path / "run")
    assert type(loaded) is Tiny and loaded.config == model.config
    x = torch.randn(2, 6, 3)
    torch.testing.assert_close(loaded(x), model(x), rtol=0, atol=0)
    header = json.loads((tmp_path / "run" / "config.json").read_text())
    assert header["model"] == "test-tiny" and header["extra"] == {"labels": ["a", "b"]}


def test_weights_that_are_views_of_one_buffer_save_and_load(tmp_path):
    """On a GPU cuDNN keeps an RNN's weights as views into one flat buffer; saving must copy them out."""
    torch.manual_seed(0)
    model = Tiny(TinyConfig(rnn=RNNConfig(cell="lstm", hidden_size=5, num_layers=2)))
    weights = list(model.rnn.parameters())
    flat = torch.cat([w.detach().reshape(-1) for w in weights])
    offset = 0
    for w in weights:  # what torch._cudnn_rnn_flatten_weight does to the parameters
        w.data = flat[offset : offset + w.numel()].view_as(w)
        offset += w.numel()
    assert len({w.untyped_storage().data_ptr() for w in weights}) == 1
    save_model(model, tmp_path / "run")
    loaded = load_model(tmp_path / "run")
    x = torch.randn(2, 6, 3)
    torch.testing.assert_close(loaded(x), model(x), rtol=0, atol=0)


def test_missing_or_unexpected_tensors_are_named(tmp_path):
    model = Tiny(TinyConfig())
    save_model(model, tmp_path)
    state = {k: v.contiguous() for k, v in model.state_dict().items()}
    del state["head.bias"]
    state["head.extra"] = torch.zeros(2)
    save_file(state, str(tmp_path / "model.safetensors"))
    with pytest.raises(
        ValueError, match=r"missing tensors \['head.bias'\], unexpected tensors \['head.extra'\]"
    ):
        load_model(tmp_path)


def test_bad_headers_are_clear(tmp_path):
    with pytest.raises(FileNotFoundError, match="no saved model here"):
        load_model(tmp_path)
    (tmp_path / "config.json").write_text(json.dumps({"model": "nope", "config": {}}))
    with pytest.raises(ConfigError, match=r"unknown model 'nope'"):
        load_model(tmp_path)
    (tmp_path / "config.json").write_text(json.dumps({"model": "test-tiny", "config": {"input_sise": 3}}))
    with pytest.raises(ConfigError, match=r"config.json: unknown key 'input_sise' in TinyConfig"):
        load_model(tmp_path)
    with pytest.raises(TypeError, match="not a registered rnnkit model"):
        save_model(nn.Linear(2, 2), tmp_path)


def test_float64_models_come_back_as_float64(tmp_path):
    model = Tiny(TinyConfig()).double()
    save_model(model, tmp_path)
    loaded = load_model(tmp_path)
    assert next(loaded.parameters()).dtype == torch.float64
    x = torch.randn(2, 4, 3, dtype=torch.float64)
    torch.testing.assert_close(loaded(x), model(x), rtol=0, atol=0)
