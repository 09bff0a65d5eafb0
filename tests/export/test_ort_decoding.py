"""The NumPy searches of rnnkit.export.ort_decoding against rnnkit.models.decoding, on a table of logits (no
ONNX graph), and the module's promises: it loads without torch, and a bad folder names its file."""

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

pytest.importorskip("onnxruntime")

from rnnkit.export import ort_decoding
from rnnkit.export.ort_decoding import OrtSeq2Seq
from rnnkit.models import decoding


def table_step(table: torch.Tensor):
    """A step whose logits depend on the previous token and a per-row step counter: ``(N,) -> (N, V)``."""

    def torch_step(tokens, state):
        return table[state, tokens], state + 1

    def numpy_step(tokens, state):
        return table.numpy()[state, tokens], state + 1

    return torch_step, numpy_step


@pytest.mark.parametrize("seed", range(6))
def test_numpy_searches_equal_rnnkit_decoding(seed):
    generator = torch.Generator().manual_seed(seed)
    vocab, steps, eos = 7, 9, 3
    table = torch.randn(steps, vocab, vocab, generator=generator) * 2
    table[:, :, eos] += 0.8 * seed / 5
    torch_step, numpy_step = table_step(table)
    bos = torch.randint(4, vocab, (5,), generator=generator)
    start_t, start_n = torch.zeros(5, dtype=torch.long), np.zeros(5, dtype=np.int64)
    expected = decoding.greedy_decode(torch_step, start_t, bos, steps, eos)
    got = ort_decoding.greedy_decode(numpy_step, start_n, bos.numpy(), steps, eos)
    np.testing.assert_array_equal(got.tokens, expected.tokens.numpy())
    ended = bool((got.lengths < steps).any())
    for beam_size, alpha in [(2, 0.0), (3, 0.6), (5, 1.0)]:
        expected = decoding.beam_search(torch_step, start_t, bos, steps, beam_size, eos, alpha=alpha)
        got = ort_decoding.beam_search(numpy_step, start_n, bos.numpy(), steps, beam_size, eos, alpha=alpha)
        np.testing.assert_array_equal(got.tokens, expected.tokens.numpy())
        np.testing.assert_array_equal(got.lengths, expected.lengths.numpy())
        np.testing.assert_allclose(got.scores, expected.scores.numpy(), atol=1e-5)
        ended = ended or bool((got.lengths < steps).any())
    assert ended, "no sequence ended with EOS: the test would not check EOS handling"


@pytest.mark.parametrize(
    "top_k, top_p", [(1, None), (3, None), (None, 0.5), (None, 1.0), (4, 0.7), (50, 0.9)]
)
def test_numpy_filter_logits_equals_rnnkit(top_k, top_p):
    logits = torch.randn(6, 11, generator=torch.Generator().manual_seed(7)) * 3
    expected = decoding.filter_logits(logits, top_k, top_p).numpy()
    got = ort_decoding.filter_logits(logits.numpy(), top_k, top_p)
    np.testing.assert_array_equal(np.isinf(got), np.isinf(expected))
    np.testing.assert_allclose(got[~np.isinf(got)], expected[~np.isinf(expected)])


def test_sampling_follows_the_filtered_distribution():
    logits = np.log(np.array([[0.5, 0.3, 0.15, 0.05]], dtype=np.float32))
    rng = np.random.default_rng(0)
    draws = [
        ort_decoding.sample_decode(
            lambda t, s: (logits, s), None, np.zeros(1, np.int64), 1, top_p=0.7, rng=rng
        )
        for _ in range(2000)
    ]
    counts = np.bincount([int(d.tokens[0, 0]) for d in draws], minlength=4)
    assert counts[2] == counts[3] == 0  # outside the 0.7 nucleus
    assert abs(counts[0] / 2000 - 0.5 / 0.8) < 0.04


def test_ort_decoding_runs_without_torch():
    path = Path(ort_decoding.__file__)
    code = (
        "import importlib.util, sys\n"
        "sys.modules['torch'] = None  # any import of torch fails\n"
        f"spec = importlib.util.spec_from_file_location('ort_decoding', {str(path)!r})\n"
        "module = importlib.util.module_from_spec(spec)\n"
        "spec.loader.exec_module(module)\n"
        "print(module.greedy_decode.__name__)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "greedy_decode"


def test_missing_or_foreign_folder_names_the_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="decoding.json: not found"):
        OrtSeq2Seq(tmp_path)
    (tmp_path / "decoding.json").write_text('{"format": 1, "model": "seq2seq", "vocab_size": "x"}')
    with pytest.raises(ValueError, match="field 'vocab_size' must be an int"):
        OrtSeq2Seq(tmp_path)
