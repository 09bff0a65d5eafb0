"""One dispatch point: plain layers run torch's kernel, variants run the loop, impossible requests raise."""

import pytest
import torch

import rnnkit
from rnnkit.fused.dispatch import choose_path, native_blockers


def path_of(layer) -> str:
    return choose_path(layer.impl, native_blockers(layer.mode, layer._cells()))


@pytest.mark.parametrize(
    ("make_layer", "expected"),
    [
        (lambda: rnnkit.LSTM(3, 4, num_layers=2, bidirectional=True, proj_size=2), "native"),
        (lambda: rnnkit.GRU(3, 4), "native"),
        (lambda: rnnkit.RNN(3, 4, nonlinearity="relu"), "native"),
        (lambda: rnnkit.LSTM(3, 4, forget_bias=1.0, learn_initial_state=True), "native"),
        (lambda: rnnkit.LSTM(3, 4, layer_norm=True), "reference"),
        (lambda: rnnkit.LSTM(3, 4, peephole=True), "reference"),
        (lambda: rnnkit.LSTM(3, 4, coupled=True), "reference"),
        (lambda: rnnkit.GRU(3, 4, reset_after=False), "reference"),
        (lambda: rnnkit.GRU(3, 4, recurrent_dropout=0.1), "reference"),
        (lambda: rnnkit.RNN(3, 4, zoneout=0.1), "reference"),
        (lambda: rnnkit.LSTM(3, 4, weight_drop=0.1), "reference"),
        (lambda: rnnkit.LSTM(3, 4, impl="reference"), "reference"),
    ],
)
def test_auto_picks_torchs_kernel_exactly_when_it_computes_the_layer(make_layer, expected):
    assert path_of(make_layer()) == expected


def test_native_kernel_really_runs_for_plain_layers():
    """The native path's output is bit-identical to torch.nn.LSTM's, the reference loop's is not."""
    torch.manual_seed(0)
    oracle = torch.nn.LSTM(16, 32)
    native = rnnkit.LSTM(16, 32)
    reference = rnnkit.LSTM(16, 32, impl="reference")
    native.load_state_dict(oracle.state_dict())
    reference.load_state_dict(oracle.state_dict())
    x = torch.randn(50, 8, 16)
    assert torch.equal(native(x)[0], oracle(x)[0])
    assert not torch.equal(reference(x)[0], oracle(x)[0])  # different summation order
    torch.testing.assert_close(reference(x)[0], oracle(x)[0])


def test_impossible_native_request_says_why_and_what_to_do():
    with pytest.raises(
        ValueError, match="impl='native' cannot run this layer: .*LayerNormLSTMCell.*Use impl='auto'"
    ):
        rnnkit.LSTM(3, 4, layer_norm=True, impl="native")(torch.randn(2, 1, 3))
    with pytest.raises(ValueError, match="torch's GRU kernel computes only the reset_after=True form"):
        rnnkit.GRU(3, 4, reset_after=False, impl="native")(torch.randn(2, 1, 3))
    with pytest.raises(ValueError, match="recording the gates needs the step-by-step reference loop"):
        rnnkit.GRU(3, 4, impl="native").record(torch.randn(2, 1, 3))


def test_inactive_regularisers_are_looked_through():
    layer = rnnkit.LSTM(3, 4, num_layers=2, recurrent_dropout=0.3, weight_drop=0.2)
    assert path_of(layer) == "reference"
    layer.eval()
    assert path_of(layer) == "native"
    torch.testing.assert_close(layer(torch.randn(5, 2, 3))[0].shape, torch.Size([5, 2, 4]))
    assert path_of(rnnkit.GRU(3, 4, zoneout=0.1).eval()) == "reference"  # eval zoneout still mixes states


def test_auto_record_uses_the_reference_loop():
    lstm = rnnkit.LSTM(3, 4)
    _, _, internals = lstm.record(torch.randn(5, 2, 3))
    assert internals[0]["i"].shape == (5, 2, 4)


def test_inter_layer_dropout_is_active_in_training_on_both_paths():
    for impl in ("native", "reference"):
        lstm = rnnkit.LSTM(3, 4, num_layers=2, dropout=0.5, impl=impl)
        x = torch.randn(5, 2, 3)
        assert not torch.equal(lstm(x)[0], lstm(x)[0])
        lstm.eval()
        assert torch.equal(lstm(x)[0], lstm(x)[0])


def fused_path_of(layer, x) -> str:
    from rnnkit.fused.dispatch import FUSED_BEATS_NATIVE_ON_CPU

    return choose_path(
        layer.impl,
        native_blockers(layer.mode, layer._cells()),
        fused_blockers=layer._fused_blockers(x),
        prefer_fused=(layer.mode, layer.training) in FUSED_BEATS_NATIVE_ON_CPU,
    )


@pytest.mark.parametrize(
    ("make_layer", "expected"),
    [
        (lambda: rnnkit.LSTM(3, 4), "native"),  # torch's oneDNN LSTM is the faster one on CPU
        (lambda: rnnkit.GRU(3, 4), "fused"),
        (lambda: rnnkit.RNN(3, 4, nonlinearity="relu"), "fused"),
        (lambda: rnnkit.LSTM(3, 4, layer_norm=True), "fused"),
        (lambda: rnnkit.LSTM(3, 4, peephole=True, zoneout=0.1, recurrent_dropout=0.2), "fused"),
        (lambda: rnnkit.GRU(3, 4, layer_norm=True, weight_drop=0.2), "fused"),
        (lambda: rnnkit.LSTM(3, 4, proj_size=2), "native"),
        (lambda: rnnkit.LSTM(3, 4, proj_size=2, layer_norm=True), "reference"),
        (lambda: rnnkit.LSTM(3, 4, coupled=True), "reference"),
        (lambda: rnnkit.GRU(3, 4, reset_after=False), "reference"),
        (lambda: rnnkit.GRU(3, 4, impl="reference"), "reference"),
        (lambda: rnnkit.LSTM(3, 4, impl="fused"), "fused"),
    ],
)
def test_auto_picks_the_fastest_exact_path_on_cpu(make_layer, expected):
    from rnnkit.fused import extension

    if extension.load() is None and expected == "fused":
        pytest.skip(f"fused kernels unavailable: {extension.disabled_reason()}")
    assert fused_path_of(make_layer(), torch.randn(2, 1, 3)) == expected


def test_fused_request_that_cannot_run_says_why():
    layer = rnnkit.LSTM(3, 4, coupled=True, impl="fused")
    with pytest.raises(ValueError, match="impl='fused' cannot run this layer: .*LSTMCell with coupled gates"):
        layer(torch.randn(2, 1, 3))
    with pytest.raises(ValueError, match="autocast is on"):
        with torch.autocast("cpu", dtype=torch.bfloat16):
            rnnkit.GRU(3, 4, impl="fused")(torch.randn(2, 1, 3))


def test_a_disabled_extension_falls_back_to_the_loop(monkeypatch):
    from rnnkit.fused import extension

    monkeypatch.setenv("RNNKIT_NO_EXTENSION", "1")
    assert extension.disabled_reason() == "RNNKIT_NO_EXTENSION is set"
    monkeypatch.setattr(extension, "load", lambda: None)
    layer = rnnkit.GRU(3, 4, layer_norm=True)
    reference = rnnkit.GRU(3, 4, layer_norm=True, impl="reference")
    reference.load_state_dict(layer.state_dict())
    x = torch.randn(5, 2, 3)
    torch.testing.assert_close(layer(x)[0], reference(x)[0])
    with pytest.raises(ValueError, match="the C\\+\\+ extension is unavailable"):
        rnnkit.GRU(3, 4, impl="fused")(x)


def test_rnn_inference_stays_on_torchs_kernel_and_gru_inference_on_ours():
    from rnnkit.fused import extension

    if extension.load() is None:
        pytest.skip(f"fused kernels unavailable: {extension.disabled_reason()}")
    x = torch.randn(2, 1, 3)
    assert fused_path_of(rnnkit.RNN(3, 4).eval(), x) == "native"
    assert fused_path_of(rnnkit.GRU(3, 4).eval(), x) == "fused"
