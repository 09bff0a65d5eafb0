"""On a GPU: plain layers run cuDNN, variants run the reference loop on the GPU, and both agree with the CPU.

Skipped (with the reason printed) where no CUDA device is present, as in CI; run them on a machine with one:
``python -m pytest tests/cuda -rs``.
"""

import pytest
import torch

import rnnkit
from rnnkit.fused.dispatch import choose_path, native_blockers
from rnnkit.fused.plan import runtime_blockers
from rnnkit.fused.stream import Streamer

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device on this machine")

CUDA = torch.device("cuda")

PLAIN = [
    ("LSTM", {}),
    ("LSTM", {"num_layers": 2, "bidirectional": True}),
    ("LSTM", {"proj_size": 3}),
    ("GRU", {"num_layers": 2, "bidirectional": True}),
    ("RNN", {"nonlinearity": "relu"}),
]
VARIANTS = [
    ("LSTM", {"layer_norm": True}),
    ("LSTM", {"peephole": True, "num_layers": 2}),
    ("GRU", {"layer_norm": True, "bidirectional": True}),
    ("GRU", {"reset_after": False}),
    ("RNN", {"zoneout": 0.2}),
    ("LSTM", {"recurrent_dropout": 0.2}),
    ("LSTM", {"weight_drop": 0.2}),
]


def twin(mode: str, options: dict, dtype=torch.float64):
    """The same layer on CPU and on the GPU, with identical weights."""
    torch.manual_seed(0)
    cpu = getattr(rnnkit, mode)(5, 8, **options).to(dtype)
    gpu = getattr(rnnkit, mode)(5, 8, **options).to(dtype)
    gpu.load_state_dict(cpu.state_dict())
    return cpu, gpu.to(CUDA)


def assert_same_on_both(cpu, gpu, x, lengths=None, train=False):
    """Outputs, final states and every weight gradient agree between the CPU and the GPU layer."""
    cpu.train(train)
    gpu.train(train)
    results = []
    for layer, device in ((cpu, "cpu"), (gpu, CUDA)):
        inputs = x.to(device)
        if lengths is not None:
            inputs = torch.nn.utils.rnn.pack_padded_sequence(inputs, lengths, enforce_sorted=False)
        out, state = layer(inputs)
        if lengths is not None:
            out, _ = torch.nn.utils.rnn.pad_packed_sequence(out)
        first = state[0] if isinstance(state, tuple) else state
        (out.square().sum() + first.sum()).backward()
        results.append((out, first, [p.grad for p in layer.parameters()]))
    (out_c, h_c, g_c), (out_g, h_g, g_g) = results
    torch.testing.assert_close(out_g.cpu(), out_c)
    torch.testing.assert_close(h_g.cpu(), h_c)
    for a, b in zip(g_c, g_g, strict=True):
        torch.testing.assert_close(b.cpu(), a)


@pytest.mark.parametrize(("mode", "options"), PLAIN)
def test_plain_layers_run_cudnn_and_equal_the_cpu(mode, options):
    cpu, gpu = twin(mode, options)
    assert choose_path(gpu.impl, native_blockers(gpu.mode, gpu._cells())) == "native"
    assert_same_on_both(
        cpu, gpu, torch.randn(11, 4, 5, dtype=torch.float64), lengths=torch.tensor([11, 3, 7, 1])
    )


@pytest.mark.parametrize(("mode", "options"), VARIANTS)
def test_variants_run_the_reference_loop_on_the_gpu_and_equal_the_cpu(mode, options):
    cpu, gpu = twin(mode, options)
    x = torch.randn(9, 3, 5, dtype=torch.float64)
    if any(k in options for k in ("zoneout", "recurrent_dropout", "weight_drop")):
        assert_same_on_both(cpu, gpu, x)  # evaluation mode: the regularisers are identities
    else:
        assert_same_on_both(cpu, gpu, x, lengths=torch.tensor([9, 2, 5]), train=True)


def test_regularised_training_runs_on_the_gpu_with_masks_drawn_there():
    torch.manual_seed(0)
    layer = rnnkit.LSTM(5, 8, zoneout=0.3, recurrent_dropout=0.2, weight_drop=0.2).to(CUDA).train()
    out, _ = layer(torch.randn(6, 2, 5, device=CUDA))
    out.sum().backward()
    assert out.is_cuda and all(p.grad is not None and p.grad.is_cuda for p in layer.parameters())


def test_fused_cpu_kernels_step_aside_on_the_gpu_with_the_reason():
    assert any("cuDNN runs plain layers" in r for r in runtime_blockers(torch.zeros(1, device=CUDA)))
    layer = rnnkit.LSTM(5, 8, layer_norm=True, impl="auto").to(CUDA)
    out, _ = layer(torch.randn(4, 2, 5, device=CUDA))
    assert out.is_cuda


def test_recording_and_streaming_on_the_gpu():
    cpu, gpu = twin("GRU", {"num_layers": 2}, dtype=torch.float32)
    x = torch.randn(7, 2, 5)
    _, _, internals_cpu = cpu.record(x)
    _, _, internals_gpu = gpu.record(x.to(CUDA))
    for on_cpu, on_gpu in zip(internals_cpu, internals_gpu, strict=True):
        assert sorted(on_gpu) == sorted(on_cpu) == ["h", "n", "r", "z"]
        for name, value in on_cpu.items():
            torch.testing.assert_close(on_gpu[name].cpu(), value, rtol=1e-4, atol=1e-5)
    stream = Streamer(gpu, batch_size=2)
    steps = torch.stack([stream.step(x[t].to(CUDA)) for t in range(7)])
    torch.testing.assert_close(steps.cpu(), cpu(x)[0].detach(), rtol=1e-4, atol=1e-5)


def test_bfloat16_autocast_runs_plain_and_variant_layers():
    x = torch.randn(6, 2, 5, device=CUDA)
    for layer in (rnnkit.LSTM(5, 8).to(CUDA), rnnkit.LSTM(5, 8, layer_norm=True).to(CUDA)):
        with torch.autocast("cuda", dtype=torch.bfloat16):
            out, _ = layer(x)
        out.float().sum().backward()
        assert torch.isfinite(out.float()).all()


def test_a_run_trains_on_the_gpu_and_its_model_loads_on_the_cpu(tmp_path):
    from rnnkit.cli.main import main
    from rnnkit.tasks import predict

    run_dir = tmp_path / "run"
    overrides = ["train.epochs=2", "train.device=cuda", "model.rnn.hidden_size=16", "model.embedding_dim=16",
                 "model.conv.channels=16", "train.early_stopping_patience=null"]  # fmt: skip
    assert main(["train", "--quiet", "-o", str(run_dir), *[f"--set={o}" for o in overrides]]) == 0
    assert torch.cuda.max_memory_allocated() > 0  # the model really trained on the GPU
    results = predict(run_dir, ["hello there", "안녕하세요"], device="cpu")
    assert len(results) == 2 and all(0 < r["probability"] <= 1 for r in results)
