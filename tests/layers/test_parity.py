"""rnnkit.RNN / LSTM / GRU against torch.nn's, on both paths: outputs, final states and the gradients of
every parameter, input and initial state, for layers 1-3, both directions, batch_first both ways, with
and without lengths or PackedSequence; shapes, lengths and dtypes drawn by hypothesis."""

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

import rnnkit
from tests.oracles import assert_same_outputs_and_grads

MODES = {
    "rnn_tanh": (rnnkit.RNN, nn.RNN, {}),
    "rnn_relu": (rnnkit.RNN, nn.RNN, {"nonlinearity": "relu"}),
    "lstm": (rnnkit.LSTM, nn.LSTM, {}),
    "lstm_proj": (rnnkit.LSTM, nn.LSTM, {"proj_size": 1}),
    "gru": (rnnkit.GRU, nn.GRU, {}),
}


@st.composite
def configurations(draw):
    batch, steps = draw(st.integers(1, 4)), draw(st.integers(1, 6))
    return {
        "batch": batch,
        "steps": steps,
        "input_size": draw(st.integers(1, 5)),
        "hidden_size": draw(st.integers(2, 6)),
        "num_layers": draw(st.integers(1, 3)),
        "bidirectional": draw(st.booleans()),
        "batch_first": draw(st.booleans()),
        "bias": draw(st.booleans()),
        "with_hx": draw(st.booleans()),
        "sequences": draw(st.sampled_from(["padded", "lengths", "packed"])),
        "lengths": draw(st.lists(st.integers(1, steps), min_size=batch, max_size=batch)),
        "dtype": draw(st.sampled_from([torch.float32, torch.float64])),
        "seed": draw(st.integers(0, 2**16)),
    }


def check_parity(mode: str, impl: str, cfg: dict) -> None:
    ours_type, torch_type, extra = MODES[mode]
    layer_args = dict(
        num_layers=cfg["num_layers"],
        bidirectional=cfg["bidirectional"],
        batch_first=cfg["batch_first"],
        bias=cfg["bias"],
        dtype=cfg["dtype"],
        **extra,
    )
    torch.manual_seed(cfg["seed"])
    oracle = torch_type(cfg["input_size"], cfg["hidden_size"], **layer_args)
    ours = ours_type(cfg["input_size"], cfg["hidden_size"], impl=impl, **layer_args)
    ours.load_state_dict(oracle.state_dict())
    is_lstm = torch_type is nn.LSTM
    directions = 2 if cfg["bidirectional"] else 1
    rows, batch, steps = cfg["num_layers"] * directions, cfg["batch"], cfg["steps"]
    lengths = torch.tensor(cfg["lengths"])

    def make_inputs():
        gen = torch.Generator().manual_seed(cfg["seed"])
        shape = (batch, steps) if cfg["batch_first"] else (steps, batch)
        inputs = [
            torch.randn(*shape, cfg["input_size"], generator=gen, dtype=cfg["dtype"], requires_grad=True)
        ]
        if cfg["with_hx"]:
            h_size = extra.get("proj_size") or cfg["hidden_size"]
            inputs.append(
                torch.randn(rows, batch, h_size, generator=gen, dtype=cfg["dtype"], requires_grad=True)
            )
            if is_lstm:
                inputs.append(
                    torch.randn(
                        rows, batch, cfg["hidden_size"], generator=gen, dtype=cfg["dtype"], requires_grad=True
                    )
                )
        return inputs

    def call(module, x, *hx):
        hx = (tuple(hx) if is_lstm else hx[0]) if hx else None
        if cfg["sequences"] == "packed":
            packed = pack_padded_sequence(x, lengths, cfg["batch_first"], enforce_sorted=False)
            return module(packed, hx)
        if cfg["sequences"] == "padded":
            return module(x, hx)
        if isinstance(module, rnnkit.RNNBase):
            return module(x, hx, lengths=lengths)
        output, h_n = module(pack_padded_sequence(x, lengths, cfg["batch_first"], enforce_sorted=False), hx)
        return pad_packed_sequence(output, cfg["batch_first"], total_length=steps)[0], h_n

    assert_same_outputs_and_grads(ours, oracle, call, make_inputs)


@pytest.mark.parametrize("mode", MODES)
@settings(max_examples=25, deadline=None)
@given(cfg=configurations())
def test_reference_path_matches_torch(mode, cfg):
    check_parity(mode, "reference", cfg)


@pytest.mark.parametrize("mode", MODES)
@settings(max_examples=8, deadline=None)
@given(cfg=configurations())
def test_native_path_matches_torch(mode, cfg):
    check_parity(mode, "native", cfg)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("impl", ["reference", "native"])
def test_unbatched_input_matches_torch(mode, impl):
    ours_type, torch_type, extra = MODES[mode]
    oracle = torch_type(3, 4, num_layers=2, bidirectional=True, **extra)
    ours = ours_type(3, 4, num_layers=2, bidirectional=True, impl=impl, **extra)
    ours.load_state_dict(oracle.state_dict())
    x = torch.randn(5, 3)
    out_a, h_a = ours(x)
    out_b, h_b = oracle(x)
    torch.testing.assert_close(out_a, out_b)
    torch.testing.assert_close(h_a, h_b)
    torch.testing.assert_close(ours(x, h_a)[0], oracle(x, h_b)[0])


@pytest.mark.parametrize("mode", MODES)
def test_same_initialisation_and_state_dict_as_torch(mode):
    ours_type, torch_type, extra = MODES[mode]
    torch.manual_seed(11)
    oracle = torch_type(3, 4, num_layers=3, bidirectional=True, **extra)
    torch.manual_seed(11)
    ours = ours_type(3, 4, num_layers=3, bidirectional=True, **extra)
    assert list(ours.state_dict()) == list(oracle.state_dict())
    for (name, a), b in zip(ours.state_dict().items(), oracle.state_dict().values()):
        torch.testing.assert_close(a, b, rtol=0, atol=0, msg=name)
    for name, p in oracle.named_parameters():
        assert getattr(ours, name).shape == p.shape
    assert [[p.shape for p in w] for w in ours.all_weights] == [
        [p.shape for p in w] for w in oracle.all_weights
    ]


@pytest.mark.parametrize("mode", MODES)
def test_weights_round_trip_through_torch(mode):
    ours_type, torch_type, extra = MODES[mode]
    ours = ours_type(3, 4, num_layers=2, bidirectional=True, **extra)
    oracle = torch_type(3, 4, num_layers=2, bidirectional=True, **extra)
    oracle.load_state_dict(ours.state_dict())
    back = ours_type(3, 4, num_layers=2, bidirectional=True, **extra)
    back.load_state_dict(oracle.state_dict())
    x = torch.randn(5, 2, 3)
    torch.testing.assert_close(back(x)[0], ours(x)[0], rtol=0, atol=0)
    torch.testing.assert_close(oracle(x)[0], ours(x)[0])


def test_flat_names_alias_the_cells_parameters():
    lstm = rnnkit.LSTM(3, 4, num_layers=2, bidirectional=True)
    assert lstm.weight_hh_l1_reverse is lstm.stack.layers[1].backward_layer.cell.weight_hh
    with torch.no_grad():
        lstm.bias_ih_l0.fill_(0.25)
    assert torch.all(lstm.state_dict()["bias_ih_l0"] == 0.25)
    with pytest.raises(AttributeError):
        _ = lstm.weight_ih_l2


def test_a_model_holding_a_layer_keeps_torch_keys():
    class Model(nn.Module):
        def __init__(self, rnn_type):
            super().__init__()
            self.embed = nn.Embedding(10, 3)
            self.rnn = rnn_type(3, 4, batch_first=True)
            self.head = nn.Linear(4, 2)

    ours, oracle = Model(rnnkit.LSTM), Model(nn.LSTM)
    assert list(ours.state_dict()) == list(oracle.state_dict())
    ours.load_state_dict(oracle.state_dict())
    tokens = torch.randint(0, 10, (2, 5))
    torch.testing.assert_close(ours.rnn(ours.embed(tokens))[0], oracle.rnn(oracle.embed(tokens))[0])


def test_variant_parameters_get_flat_names_too():
    lstm = rnnkit.LSTM(
        3, 4, bidirectional=True, layer_norm=True, peephole=True, learn_initial_state=True, zoneout=0.1
    )
    keys = set(lstm.state_dict())
    assert {
        "weight_ih_l0",
        "ln_ih_weight_l0",
        "ln_c_bias_l0_reverse",
        "weight_co_l0",
        "initial_h_l0",
        "initial_c_l0_reverse",
    } <= keys
    clone = rnnkit.LSTM(
        3, 4, bidirectional=True, layer_norm=True, peephole=True, learn_initial_state=True, zoneout=0.1
    )
    clone.load_state_dict(lstm.state_dict())
    for key, value in clone.state_dict().items():
        torch.testing.assert_close(value, lstm.state_dict()[key], rtol=0, atol=0)
