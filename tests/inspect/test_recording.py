"""Recording: the outputs do not change, and the recorded gates are the equations' values."""

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

import rnnkit
from rnnkit.inspect.recording import record, recordable_layers
from rnnkit.layers.factory import RNNConfig
from rnnkit.models import ClassifierConfig, SequenceClassifier
from rnnkit.models.seq2seq import Seq2Seq, Seq2SeqConfig

LAYERS = {
    "rnn": lambda i, h, **kw: rnnkit.RNN(i, h, **kw),
    "lstm": lambda i, h, **kw: rnnkit.LSTM(i, h, **kw),
    "gru": lambda i, h, **kw: rnnkit.GRU(i, h, **kw),
    "lnlstm": lambda i, h, **kw: rnnkit.LSTM(i, h, layer_norm=True, **kw),
    "indrnn": lambda i, h, **kw: rnnkit.IndRNN(i, h, **kw),
    "mingru": lambda i, h, **kw: rnnkit.MinGRU(i, h, **kw),
}


def lengths_strategy(batch: int, steps: int):
    return st.lists(st.integers(1, steps), min_size=batch, max_size=batch).map(torch.tensor)


@settings(max_examples=25, deadline=None)
@given(
    kind=st.sampled_from(sorted(LAYERS)),
    batch=st.integers(1, 4),
    steps=st.integers(1, 7),
    layers=st.integers(1, 2),
    bidirectional=st.booleans(),
    batch_first=st.booleans(),
    use_lengths=st.booleans(),
    data=st.data(),
)
def test_recording_changes_no_output(
    kind, batch, steps, layers, bidirectional, batch_first, use_lengths, data
):
    torch.manual_seed(0)
    layer = LAYERS[kind](3, 5, num_layers=layers, bidirectional=bidirectional, batch_first=batch_first).eval()
    x = torch.randn((batch, steps, 3) if batch_first else (steps, batch, 3))
    lengths = data.draw(lengths_strategy(batch, steps)) if use_lengths else None
    plain_out, plain_state = layer(x, lengths=lengths)
    with record(layer, check=True) as recording:
        out, state = layer(x, lengths=lengths)
    torch.testing.assert_close(out, plain_out, rtol=1e-5, atol=1e-6)
    for a, b in zip(
        state if isinstance(state, tuple) else (state,),
        plain_state if isinstance(plain_state, tuple) else (plain_state,),
    ):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)
    [call] = recording.calls
    directions = 2 if bidirectional else 1
    assert len(call.internals) == layers * directions
    for values in call.internals:
        for tensor in values.values():
            assert tensor.shape == (batch, steps, 5)  # batch-first whatever the layer's layout
    if lengths is not None:  # zero past each length
        valid = torch.arange(steps) < lengths.unsqueeze(1)
        for values in call.internals:
            assert all(bool((v[~valid] == 0).all()) for v in values.values())
    # the last layer's hidden states are the layer's output
    last = [call.internals[-directions + d]["h"] for d in range(directions)]
    expected = out if batch_first else out.transpose(0, 1)
    torch.testing.assert_close(torch.cat(last, -1), expected, rtol=1e-5, atol=1e-6)


def test_the_forward_methods_are_restored_after_the_block():
    model = SequenceClassifier(ClassifierConfig(vocab_size=20, num_classes=2, embedding_dim=4,
                                                rnn=RNNConfig(cell="gru", hidden_size=3)))  # fmt: skip
    with record(model):
        assert "forward" in model.rnn.__dict__
    assert "forward" not in model.rnn.__dict__
    with pytest.raises(ZeroDivisionError), record(model):
        raise ZeroDivisionError  # an error inside the block restores too
    assert "forward" not in model.rnn.__dict__


def test_only_the_outermost_layers_are_recorded_and_repeated_calls_are_numbered():
    stack = rnnkit.Stacked([rnnkit.Recurrent(rnnkit.GRUCell(3, 4)), rnnkit.Recurrent(rnnkit.GRUCell(4, 4))])
    model = nn.ModuleDict({"a": rnnkit.LSTM(3, 4), "b": stack})
    assert [name for name, _ in recordable_layers(model)] == ["a", "b"]
    x = torch.randn(5, 2, 3)
    with record(model) as recording:
        model["a"](x)
        model["a"](x)
        model["b"](x)
    assert [c.name for c in recording.calls] == ["a", "a#2", "b"]
    assert recording["b"].labels == ["layer 0", "layer 1"]
    with pytest.raises(ValueError, match="holds no rnnkit recurrent layer"), record(nn.Linear(2, 2)):
        pass


def test_check_raises_when_recording_would_change_the_outputs(monkeypatch):
    lstm = rnnkit.LSTM(3, 4).eval()
    real = type(lstm).record

    def wrong(self, *args, **kwargs):
        out, state, internals = real(self, *args, **kwargs)
        return out + 1e-3, state, internals

    monkeypatch.setattr(type(lstm), "record", wrong)
    with pytest.raises(RuntimeError, match="changed the outputs"), record(lstm, check=True):
        lstm(torch.randn(4, 2, 3))


def test_models_give_the_same_outputs_recorded():
    torch.manual_seed(0)
    config = ClassifierConfig.conv_lstm(30, 3, embedding_dim=8, channels=6, hidden_size=5, bidirectional=True,
                                        pooling="attention", pool_size=2)  # fmt: skip
    classifier = SequenceClassifier(config).eval()
    tokens, lengths = torch.randint(1, 30, (3, 9)), torch.tensor([9, 4, 1])
    with record(classifier, check=True) as recording:
        recorded = classifier(tokens, lengths)
    torch.testing.assert_close(recorded, classifier(tokens, lengths), rtol=1e-5, atol=1e-6)
    assert recording["rnn"].steps == 5 and recording["rnn"].lengths.tolist() == [5, 2, 1]  # pooled by 2

    seq2seq = Seq2Seq(Seq2SeqConfig(src_vocab_size=12, tgt_vocab_size=12, embedding_dim=6,
                                    encoder=RNNConfig(cell="gru", hidden_size=4, bidirectional=True),
                                    decoder=RNNConfig(cell="lstm", hidden_size=8))).eval()  # fmt: skip
    src, tgt = torch.randint(4, 12, (2, 5)), torch.randint(4, 12, (2, 4))
    with record(seq2seq, check=True) as recording:
        logits, weights = seq2seq(src, torch.tensor([5, 3]), tgt, torch.tensor([4, 2]))
    plain_logits, plain_weights = seq2seq(src, torch.tensor([5, 3]), tgt, torch.tensor([4, 2]))
    torch.testing.assert_close(logits, plain_logits, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(weights, plain_weights, rtol=1e-5, atol=1e-6)
    assert {c.name for c in recording.calls} >= {"encoder", "decoder"}


def sigmoid(v):
    return 1 / (1 + torch.exp(-v))


def test_lstm_gates_equal_the_equations_by_hand():
    torch.manual_seed(1)
    H = 4
    lstm = rnnkit.LSTM(3, H, batch_first=True, bidirectional=True).double()
    x = torch.randn(2, 6, 3, dtype=torch.float64)
    lengths = torch.tensor([6, 3])
    with record(lstm) as recording:
        lstm(x, lengths=lengths)
    for k, suffix in enumerate(["_l0", "_l0_reverse"]):
        W_ih, W_hh = getattr(lstm, "weight_ih" + suffix), getattr(lstm, "weight_hh" + suffix)
        b = getattr(lstm, "bias_ih" + suffix) + getattr(lstm, "bias_hh" + suffix)
        got = recording.calls[0].internals[k]
        for n, length in enumerate(lengths.tolist()):
            h, c = torch.zeros(H, dtype=torch.float64), torch.zeros(H, dtype=torch.float64)
            steps = range(length) if k == 0 else reversed(range(length))
            for t in steps:
                a = W_ih @ x[n, t] + W_hh @ h + b
                i, f = sigmoid(a[:H]), sigmoid(a[H : 2 * H])
                g, o = torch.tanh(a[2 * H : 3 * H]), sigmoid(a[3 * H :])
                c = f * c + i * g
                h = o * torch.tanh(c)
                for name, value in zip("ifgohc", (i, f, g, o, h, c)):
                    torch.testing.assert_close(got[name][n, t], value, rtol=1e-10, atol=1e-12)


def test_gru_gates_equal_the_equations_by_hand():
    torch.manual_seed(2)
    H = 5
    gru = rnnkit.GRU(2, H).double()  # time-major
    x = torch.randn(7, 3, 2, dtype=torch.float64)
    with record(gru) as recording:
        gru(x)
    got = recording.calls[0].internals[0]
    W_ih, W_hh, b_ih, b_hh = gru.weight_ih_l0, gru.weight_hh_l0, gru.bias_ih_l0, gru.bias_hh_l0
    for n in range(3):
        h = torch.zeros(H, dtype=torch.float64)
        for t in range(7):
            gi, gh = W_ih @ x[t, n] + b_ih, W_hh @ h + b_hh
            r = sigmoid(gi[:H] + gh[:H])
            z = sigmoid(gi[H : 2 * H] + gh[H : 2 * H])
            cand = torch.tanh(gi[2 * H :] + r * gh[2 * H :])
            h = (1 - z) * cand + z * h
            for name, value in zip("rznh", (r, z, cand, h)):
                torch.testing.assert_close(got[name][n, t], value, rtol=1e-10, atol=1e-12)
